// Sub-users of an operator (SORACOM SAM users, reference/soracom.md §3.1): a name, a description, an
// optional password (scrypt, passwords.ts), whether password ("console") login is allowed, a direct
// permission, attached roles, auth keys and MFA. A new user can do nothing until granted.

import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { Executor, Store } from '../store/database.js';
import type { UsersTable } from '../store/schema.js';
import { type AttemptGuard, checkAccountPassword } from './credentials.js';
import { checkPasswordPolicy, hashPassword } from './passwords.js';
import type { AuditContext } from './principal.js';
import { revokeTokens } from './tokens.js';

/** SORACOM's user-name alphabet; `default_permissions` is taken by the default-permissions path. */
export const USER_NAME_PATTERN = '^[A-Za-z0-9@+=._-]{1,100}$';
const USER_NAME_RE = new RegExp(USER_NAME_PATTERN);
const RESERVED_NAMES = new Set(['default_permissions']);

export type MfaStatus = 'ACTIVE' | 'INACTIVE' | 'UNCONFIRMED';

export interface AuthKeyView {
  readonly authKeyId: string;
  readonly createdTime: number;
  readonly lastUsedTime: number | null;
}

export interface UserDetail {
  readonly operatorId: string;
  readonly userName: string;
  readonly description: string;
  readonly hasPassword: boolean;
  readonly consoleLogin: boolean;
  /** The direct permission document as saved, or null. */
  readonly permission: string | null;
  readonly roleList: ReadonlyArray<{ readonly roleId: string; readonly attachedTime: number }>;
  readonly authKeyList: readonly AuthKeyView[];
  readonly mfaStatus: MfaStatus;
  readonly createdTime: number;
  readonly lastModifiedTime: number;
}

export interface UserInput {
  readonly description?: string | undefined;
  readonly consoleLogin?: boolean | undefined;
}

export class UserService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly guard: AttemptGuard,
  ) {}

  async create(ctx: AuditContext, userName: string, input: UserInput): Promise<UserDetail> {
    if (!USER_NAME_RE.test(userName) || RESERVED_NAMES.has(userName)) {
      throw new SimtrustError(
        'ERR_VALIDATION',
        `"${userName}" is not a valid user name (${USER_NAME_PATTERN})`,
      );
    }
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    return this.store.transaction(async (trx) => {
      const existing = await this.find(trx, operatorId, userName);
      if (existing) throw new SimtrustError('ERR_CONFLICT', `user ${userName} already exists`);
      await trx
        .insertInto('users')
        .values({
          operator_id: operatorId,
          user_name: userName,
          description: input.description ?? '',
          password_hash: null,
          console_login: input.consoleLogin === false ? 0 : 1,
          permission: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await writeAudit(trx, { context: ctx, result: 'success', detail: { userName }, at: now });
      return this.get(operatorId, userName, trx);
    });
  }

  async get(operatorId: string, userName: string, db: Executor = this.store.db): Promise<UserDetail> {
    const row = await this.require(db, operatorId, userName);
    const [view] = await this.views(db, operatorId, [row]);
    return view as UserDetail;
  }

  async list(
    operatorId: string,
    page: { limit: number; after?: string | undefined },
  ): Promise<{ items: UserDetail[]; nextKey: string | undefined }> {
    let q = this.store.db.selectFrom('users').selectAll().where('operator_id', '=', operatorId);
    if (page.after !== undefined) q = q.where('user_name', '>', page.after);
    const rows = await q
      .orderBy('user_name')
      .limit(page.limit + 1)
      .execute();
    const items = await this.views(this.store.db, operatorId, rows.slice(0, page.limit));
    return { items, nextKey: rows.length > page.limit ? items.at(-1)?.userName : undefined };
  }

  async update(ctx: AuditContext, userName: string, input: UserInput): Promise<UserDetail> {
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    return this.store.transaction(async (trx) => {
      await this.require(trx, operatorId, userName);
      await trx
        .updateTable('users')
        .set({
          ...(input.description === undefined ? {} : { description: input.description }),
          ...(input.consoleLogin === undefined ? {} : { console_login: input.consoleLogin ? 1 : 0 }),
          updated_at: now,
        })
        .where('operator_id', '=', operatorId)
        .where('user_name', '=', userName)
        .execute();
      // Turning console login off ends the password sessions already open.
      const revoked =
        input.consoleLogin === false
          ? await revokeTokens(trx, operatorId, { userName, passwordOnly: true })
          : 0;
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { userName, ...input, revokedTokens: revoked },
        at: now,
      });
      return this.get(operatorId, userName, trx);
    });
  }

  /** Deletes the user with everything that hangs off it: tokens, keys, roles, MFA. */
  async delete(ctx: AuditContext, userName: string): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await this.require(trx, operatorId, userName);
      await revokeTokens(trx, operatorId, { userName });
      for (const table of ['auth_keys', 'user_roles', 'account_mfa', 'mfa_backup_codes', 'users'] as const) {
        await trx
          .deleteFrom(table)
          .where('operator_id', '=', operatorId)
          .where('user_name', '=', userName)
          .execute();
      }
      await writeAudit(trx, { context: ctx, result: 'success', detail: { userName }, at: now });
    });
  }

  async hasPassword(operatorId: string, userName: string): Promise<boolean> {
    return (await this.require(this.store.db, operatorId, userName)).password_hash !== null;
  }

  /** Sets a first password (or a new one after deletePassword) — an administrator's reset path. */
  async createPassword(ctx: AuditContext, userName: string, password: string): Promise<void> {
    checkPasswordPolicy(password);
    const hash = await hashPassword(password);
    await this.writePassword(ctx, userName, hash, { mustBeAbsent: true });
  }

  /** Changes the password knowing the current one; every token of the user is revoked. */
  async updatePassword(ctx: AuditContext, userName: string, currentPassword: string, newPassword: string) {
    const operatorId = ctx.principal.operatorId;
    await this.require(this.store.db, operatorId, userName);
    checkPasswordPolicy(newPassword);
    await checkAccountPassword(
      this.store.db,
      this.guard,
      { operatorId, userName },
      currentPassword,
      ctx.sourceIp,
    );
    await this.writePassword(ctx, userName, await hashPassword(newPassword), { mustBeAbsent: false });
  }

  async deletePassword(ctx: AuditContext, userName: string): Promise<void> {
    await this.writePassword(ctx, userName, null, { mustBeAbsent: false });
  }

  async revokeTokens(ctx: AuditContext, userName: string): Promise<number> {
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    return this.store.transaction(async (trx) => {
      await this.require(trx, operatorId, userName);
      const revoked = await revokeTokens(trx, operatorId, { userName });
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { userName, revokedTokens: revoked },
        at: now,
      });
      return revoked;
    });
  }

  async require(db: Executor, operatorId: string, userName: string) {
    const row = await this.find(db, operatorId, userName);
    if (!row) throw new SimtrustError('ERR_USER_NOT_FOUND', `no user ${userName}`);
    return row;
  }

  private find(db: Executor, operatorId: string, userName: string) {
    return db
      .selectFrom('users')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('user_name', '=', userName)
      .executeTakeFirst();
  }

  private async writePassword(
    ctx: AuditContext,
    userName: string,
    hash: string | null,
    o: { mustBeAbsent: boolean },
  ): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      const row = await this.require(trx, operatorId, userName);
      if (o.mustBeAbsent && row.password_hash !== null) {
        throw new SimtrustError(
          'ERR_CONFLICT',
          `user ${userName} already has a password; change it with PUT`,
        );
      }
      await trx
        .updateTable('users')
        .set({ password_hash: hash, updated_at: now })
        .where('operator_id', '=', operatorId)
        .where('user_name', '=', userName)
        .execute();
      // A password change (or removal) ends every session of the user, keys included: whoever
      // held the old password may have minted tokens and keys' tokens alike.
      const revoked = await revokeTokens(trx, operatorId, { userName });
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { userName, hasPassword: hash !== null, revokedTokens: revoked },
        at: now,
      });
    });
  }

  private async views(
    db: Executor,
    operatorId: string,
    rows: ReadonlyArray<Omit<UsersTable, 'operator_id'>>,
  ): Promise<UserDetail[]> {
    if (rows.length === 0) return [];
    const names = rows.map((r) => r.user_name);
    const [roles, keys, mfa] = await Promise.all([
      db
        .selectFrom('user_roles')
        .select(['user_name', 'role_id', 'attached_at'])
        .where('operator_id', '=', operatorId)
        .where('user_name', 'in', names)
        .orderBy('role_id')
        .execute(),
      db
        .selectFrom('auth_keys')
        .select(['user_name', 'auth_key_id', 'created_at', 'last_used_at'])
        .where('operator_id', '=', operatorId)
        .where('user_name', 'in', names)
        .orderBy('created_at')
        .execute(),
      db
        .selectFrom('account_mfa')
        .select(['user_name', 'status'])
        .where('operator_id', '=', operatorId)
        .where('user_name', 'in', names)
        .execute(),
    ]);
    return rows.map((r) => ({
      operatorId,
      userName: r.user_name,
      description: r.description,
      hasPassword: r.password_hash !== null,
      consoleLogin: r.console_login === 1,
      permission: r.permission,
      roleList: roles
        .filter((x) => x.user_name === r.user_name)
        .map((x) => ({ roleId: x.role_id, attachedTime: x.attached_at })),
      authKeyList: keys
        .filter((x) => x.user_name === r.user_name)
        .map((x) => ({ authKeyId: x.auth_key_id, createdTime: x.created_at, lastUsedTime: x.last_used_at })),
      mfaStatus:
        (mfa.find((x) => x.user_name === r.user_name)?.status as MfaStatus | undefined) ?? 'INACTIVE',
      createdTime: r.created_at,
      lastModifiedTime: r.updated_at,
    }));
  }
}
