// Access management, assembled: the services of this folder wired together, plus the root
// account's own operations (password change, token revocation, a fresh token). Hangs off the
// Platform as `platform.access`.

import type { Config } from '../../config/defaults.js';
import type { Clock } from '../../lib/clock.js';
import { writeAudit } from '../audit/audit-log.js';
import type { KeyRing } from '../secrets/key-ring.js';
import type { Store } from '../store/database.js';
import { AccountMfaService } from './account-mfa.js';
import { AuthKeyService } from './auth-keys.js';
import { AttemptGuard, checkAccountPassword } from './credentials.js';
import { LoginService } from './login.js';
import { checkPasswordPolicy, hashPassword } from './passwords.js';
import { PermissionService } from './permissions.js';
import type { AuditContext } from './principal.js';
import { RoleService } from './roles.js';
import { type IssuedToken, issueToken, revokeTokens } from './tokens.js';
import { UserService } from './users.js';

export class AccessManagement {
  readonly guard: AttemptGuard;
  readonly users: UserService;
  readonly permissions: PermissionService;
  readonly roles: RoleService;
  readonly authKeys: AuthKeyService;
  readonly mfa: AccountMfaService;
  readonly login: LoginService;

  constructor(
    private readonly store: Store,
    keyRing: KeyRing,
    private readonly clock: Clock,
    config: Config,
  ) {
    this.guard = new AttemptGuard(store.db, clock, config);
    this.users = new UserService(store, clock, this.guard);
    this.permissions = new PermissionService(store, clock, this.users);
    this.roles = new RoleService(store, clock, this.users, this.permissions);
    this.authKeys = new AuthKeyService(store, clock, this.users);
    this.mfa = new AccountMfaService(store, keyRing, clock, config, this.users, this.guard);
    this.login = new LoginService(store, clock, config, this.guard, this.authKeys, this.mfa);
  }

  /** Root password change: needs the current password; every root token is revoked. */
  async changeOperatorPassword(
    ctx: AuditContext,
    currentPassword: string,
    newPassword: string,
  ): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    checkPasswordPolicy(newPassword);
    await checkAccountPassword(this.store.db, this.guard, { operatorId }, currentPassword, ctx.sourceIp);
    const hash = await hashPassword(newPassword);
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await trx
        .updateTable('operators')
        .set({ password_hash: hash, updated_at: now })
        .where('operator_id', '=', operatorId)
        .execute();
      const revoked = await revokeTokens(trx, operatorId, { root: true });
      await writeAudit(trx, { context: ctx, result: 'success', detail: { revokedTokens: revoked }, at: now });
    });
  }

  /** Revokes every root token (password and root-key logins). */
  async revokeOperatorTokens(ctx: AuditContext): Promise<number> {
    const now = this.clock.now();
    return this.store.transaction(async (trx) => {
      const revoked = await revokeTokens(trx, ctx.principal.operatorId, { root: true });
      await writeAudit(trx, { context: ctx, result: 'success', detail: { revokedTokens: revoked }, at: now });
      return revoked;
    });
  }

  /** A new token for the caller, with its own lifetime (SORACOM generateAuthToken). */
  async generateToken(ctx: AuditContext, timeoutSeconds: number): Promise<IssuedToken> {
    const now = this.clock.now();
    return this.store.transaction(async (trx) => {
      const issued = await issueToken(trx, this.clock, ctx.principal, timeoutSeconds);
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { tokenTimeoutSeconds: timeoutSeconds },
        at: now,
      });
      return issued;
    });
  }
}
