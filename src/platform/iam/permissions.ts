// Permissions: saving the three sources (a user's direct permission, roles — roles.ts — and the
// operator's default permissions), and deciding a request. Every document is compiled when saved
// (a syntax error is refused with its position) and again, through a small cache, when a request
// is decided, so what was checked at save time is exactly what runs.
//
// Root (by password or a root auth key) has every permission. A sub-user — by password or one of
// their keys — has what the pooled statements allow and no deny forbids (policy/decide.ts).
// Unlike SORACOM, changes take effect on the next request, not the next login: a revocation
// must not wait for a token to expire.

import { sql } from 'kysely';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { Executor, Store } from '../store/database.js';
import type { ConditionContext } from './policy/condition.js';
import { type Decision, decide, type Explanation, type PolicySource } from './policy/decide.js';
import { compilePolicy, describePolicyError, type Policy } from './policy/policy.js';
import { type AuditContext, isRootPrincipal, type Principal } from './principal.js';
import { principalOfToken, type TokenRow, tokenHash } from './tokens.js';
import type { UserService } from './users.js';

/** Compiled documents by their text; bounded so that many distinct policies cannot grow memory. */
const CACHE_LIMIT = 2000;

const DENY_ALL: Policy = (() => {
  const p = compilePolicy('{"statements":[{"effect":"deny","api":"*"}]}');
  if (!p.ok) throw new Error('the deny-all policy must compile');
  return p.value;
})();

export interface RequestFacts {
  readonly operation: string;
  readonly sourceIp?: string | undefined;
  readonly method?: string | undefined;
  readonly pathVariables?: Readonly<Record<string, string>> | undefined;
  /** Unix ms; the platform clock when absent. */
  readonly now?: number | undefined;
}

export class PermissionService {
  private readonly cache = new Map<string, Policy>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly users: UserService,
  ) {}

  /** Compiles or throws ERR_INVALID_POLICY with the position of the defect. */
  validate(what: string, text: string): Policy {
    const compiled = compilePolicy(text);
    if (!compiled.ok)
      throw new SimtrustError('ERR_INVALID_POLICY', describePolicyError(what, compiled.error));
    return compiled.value;
  }

  async getUserPermission(operatorId: string, userName: string): Promise<string | null> {
    return (await this.users.require(this.store.db, operatorId, userName)).permission;
  }

  async setUserPermission(ctx: AuditContext, userName: string, permission: string | null): Promise<void> {
    if (permission !== null) this.validate('the permission', permission);
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await this.users.require(trx, operatorId, userName);
      await trx
        .updateTable('users')
        .set({ permission, updated_at: now })
        .where('operator_id', '=', operatorId)
        .where('user_name', '=', userName)
        .execute();
      await writeAudit(trx, { context: ctx, result: 'success', detail: { userName, permission }, at: now });
    });
  }

  async getDefaultPermissions(operatorId: string): Promise<string | null> {
    const row = await this.store.db
      .selectFrom('default_permissions')
      .select('permission')
      .where('operator_id', '=', operatorId)
      .executeTakeFirst();
    return row?.permission ?? null;
  }

  async setDefaultPermissions(ctx: AuditContext, permission: string | null): Promise<void> {
    if (permission !== null) this.validate('the default permissions', permission);
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await trx.deleteFrom('default_permissions').where('operator_id', '=', operatorId).execute();
      if (permission !== null) {
        await trx
          .insertInto('default_permissions')
          .values({ operator_id: operatorId, permission, updated_at: now })
          .execute();
      }
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { permissions: permission },
        at: now,
      });
    });
  }

  /**
   * Decides a request of `principal` (the HTTP layer calls this before every handler), with the
   * sources already loaded by `resolveToken`, or loading them.
   */
  async authorize(
    principal: Principal,
    facts: RequestFacts,
    loaded?: readonly PolicySource[],
  ): Promise<Decision> {
    if (isRootPrincipal(principal)) return { allowed: true, reason: 'root' };
    const sources =
      loaded ?? (await this.sources(this.store.db, principal.operatorId, principal.userName as string));
    return decide(sources, facts.operation, this.context(principal.userName, facts));
  }

  /**
   * A bearer token's principal and, for a sub-user, the policy sources of its decision — in one
   * round trip, so that a user's request costs the database no more trips than root's. Undefined
   * for an unknown, expired or mismatched token (tokens.ts, principalOfToken).
   */
  async resolveToken(given: {
    token: string;
    apiKey?: string | undefined;
  }): Promise<{ principal: Principal; sources: PolicySource[] } | undefined> {
    const hash = tokenHash(given.token);
    const rows = await sql<TokenRow & { part: string; permission: string | null }>`
      select 'token' as part, t.operator_id, t.user_name, t.auth_key_id, t.expires_at, t.api_key, o.email,
             null as permission
        from api_tokens t inner join operators o on o.operator_id = t.operator_id
        where t.token_hash = ${hash}
      union all
      select 'user', null, null, null, null, null, null, u.permission
        from api_tokens t inner join users u on u.operator_id = t.operator_id and u.user_name = t.user_name
        where t.token_hash = ${hash} and u.permission is not null
      union all
      select 'role:' || r.role_id, null, null, null, null, null, null, r.permission
        from api_tokens t
        inner join user_roles ur on ur.operator_id = t.operator_id and ur.user_name = t.user_name
        inner join roles r on r.operator_id = ur.operator_id and r.role_id = ur.role_id
        where t.token_hash = ${hash}
      union all
      select 'default', null, null, null, null, null, null, d.permission
        from api_tokens t inner join default_permissions d on d.operator_id = t.operator_id
        where t.token_hash = ${hash} and t.user_name is not null`.execute(this.store.db);
    const principal = principalOfToken(
      rows.rows.find((r) => r.part === 'token'),
      this.clock.now(),
      given.apiKey,
    );
    if (principal === undefined) return undefined;
    const sources = rows.rows
      .filter((r) => r.part !== 'token')
      .map((r) => ({ source: r.part, policy: this.compiled(r.permission ?? '') ?? DENY_ALL }));
    return { principal, sources };
  }

  /** What `authorize` would answer for `userName`, with every statement it looked at. */
  async simulate(operatorId: string, userName: string, facts: RequestFacts): Promise<Explanation> {
    await this.users.require(this.store.db, operatorId, userName);
    const sources = await this.sources(this.store.db, operatorId, userName);
    return decide(sources, facts.operation, this.context(userName, facts), true);
  }

  private context(userName: string | undefined, facts: RequestFacts): ConditionContext {
    return {
      now: facts.now ?? this.clock.now(),
      sourceIp: facts.sourceIp,
      method: facts.method,
      pathVariables: facts.pathVariables ?? {},
      userName,
    };
  }

  /** The user's permission, their roles' and the operator's defaults, in one round trip (simulate). */
  async sources(db: Executor, operatorId: string, userName: string): Promise<PolicySource[]> {
    const rows = await sql<{ source: string; permission: string }>`
      select 'user' as source, permission from users
        where operator_id = ${operatorId} and user_name = ${userName} and permission is not null
      union all
      select 'role:' || roles.role_id as source, roles.permission from user_roles
        inner join roles on roles.operator_id = user_roles.operator_id and roles.role_id = user_roles.role_id
        where user_roles.operator_id = ${operatorId} and user_roles.user_name = ${userName}
      union all
      select 'default' as source, permission from default_permissions where operator_id = ${operatorId}`.execute(
      db,
    );
    const out: PolicySource[] = [];
    for (const row of rows.rows) {
      // Saved documents were validated; one that no longer compiles (a hand-edited row) fails closed.
      out.push({ source: row.source, policy: this.compiled(row.permission) ?? DENY_ALL });
    }
    return out;
  }

  private compiled(text: string): Policy | undefined {
    const hit = this.cache.get(text);
    if (hit !== undefined) return hit;
    const compiled = compilePolicy(text);
    if (!compiled.ok) return undefined;
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(text, compiled.value);
    return compiled.value;
  }
}
