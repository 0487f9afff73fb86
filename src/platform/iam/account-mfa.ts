// MFA of platform accounts, root and sub-users (SORACOM enableMFA/verifyMFA/getMFAStatus/revokeMFA,
// reference/soracom.md §3.4): enable → a TOTP secret (sealed at rest) and its otpauth URI, status
// UNCONFIRMED; verify with a first code → ACTIVE, and single-use backup codes (hashed at rest) are
// returned once; revoke needs the caller's password. While ACTIVE, a password login also needs
// `mfaOTPCode`: a TOTP code (single use, ±1 step) or a backup code. Every code check is guarded by
// the brute-force limits (credentials.ts).

import type { Config } from '../../config/defaults.js';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import { backupCodeHash, generateBackupCodes, looksLikeBackupCode } from '../mfa/backup-codes.js';
import { generateTotpSecret, totpUri, verifyTotp } from '../mfa/totp.js';
import type { KeyRing } from '../secrets/key-ring.js';
import type { Executor, Store } from '../store/database.js';
import {
  type Account,
  type AttemptGuard,
  accountColumn,
  accountOf,
  checkAccountPassword,
  describeAccount,
  mfaKey,
} from './credentials.js';
import { getOperator } from './operators.js';
import type { AuditContext } from './principal.js';
import type { MfaStatus, UserService } from './users.js';

/** Replay records of platform-login TOTP codes (mfa/totp.ts). */
const TOTP_SCOPE = 'totp:platform';

const secretContext = (a: Account) => `account-mfa:${a.operatorId}:${accountColumn(a)}`;

export class AccountMfaService {
  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
    private readonly config: Config,
    private readonly users: UserService,
    private readonly guard: AttemptGuard,
  ) {}

  async status(account: Account): Promise<MfaStatus> {
    await this.requireAccount(this.store.db, account);
    return (await this.row(this.store.db, account))?.status ?? 'INACTIVE';
  }

  async enable(ctx: AuditContext, account: Account): Promise<{ totpUri: string }> {
    const now = this.clock.now();
    const secret = generateTotpSecret();
    const label =
      account.userName === undefined
        ? (await getOperator(this.store.db, account.operatorId)).email
        : `${account.userName}@${account.operatorId}`;
    await this.store.transaction(async (trx) => {
      await this.requireAccount(trx, account);
      const existing = await this.row(trx, account);
      if (existing?.status === 'ACTIVE') {
        throw new SimtrustError(
          'ERR_MFA_STATE',
          `MFA of ${describeAccount(account)} is active; revoke it first`,
        );
      }
      const sealed = this.keyRing.seal(Buffer.from(secret, 'utf8'), secretContext(account));
      await this.own(trx, 'account_mfa', account).execute();
      await trx
        .insertInto('account_mfa')
        .values({
          operator_id: account.operatorId,
          user_name: accountColumn(account),
          status: 'UNCONFIRMED',
          secret: sealed,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { account: describeAccount(account), status: 'UNCONFIRMED' },
        at: now,
      });
    });
    return { totpUri: totpUri({ issuer: this.config.mfaTotpIssuer, account: label, secret }) };
  }

  /** Confirms enrolment with a first code; returns the backup codes (shown this once). */
  async verify(ctx: AuditContext, account: Account, code: string): Promise<{ backupCodes: string[] }> {
    const row = await this.row(this.store.db, account);
    await this.requireAccount(this.store.db, account);
    if (row?.status !== 'UNCONFIRMED') {
      throw new SimtrustError(
        'ERR_MFA_STATE',
        `MFA of ${describeAccount(account)} is not waiting for verification; enable it first`,
      );
    }
    const ticket = await this.guard.admit('mfa', mfaKey(account), ctx.sourceIp);
    if (!(await this.totpAccepted(row.secret, account, code)))
      throw new SimtrustError('ERR_INVALID_MFA_CODE', 'the MFA code is wrong, expired or already used');
    await ticket.succeeded();
    const { codes, hashes } = generateBackupCodes();
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await trx
        .updateTable('account_mfa')
        .set({ status: 'ACTIVE', updated_at: now })
        .where('operator_id', '=', account.operatorId)
        .where('user_name', '=', accountColumn(account))
        .execute();
      await this.own(trx, 'mfa_backup_codes', account).execute();
      await trx
        .insertInto('mfa_backup_codes')
        .values(
          hashes.map((code_hash) => ({
            operator_id: account.operatorId,
            user_name: accountColumn(account),
            code_hash,
            created_at: now,
          })),
        )
        .execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { account: describeAccount(account), status: 'ACTIVE', backupCodes: codes.length },
        at: now,
      });
    });
    return { backupCodes: codes };
  }

  /** Turns MFA off; `password` is the caller's own (re-authentication of whoever asks). */
  async revoke(ctx: AuditContext, account: Account, password: string): Promise<void> {
    await this.requireAccount(this.store.db, account);
    await checkAccountPassword(this.store.db, this.guard, accountOf(ctx.principal), password, ctx.sourceIp);
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      const existing = await this.row(trx, account);
      await this.own(trx, 'account_mfa', account).execute();
      await this.own(trx, 'mfa_backup_codes', account).execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { account: describeAccount(account), previousStatus: existing?.status ?? 'INACTIVE' },
        at: now,
      });
    });
  }

  /** Whether a password login of `account` needs a second factor. */
  async required(account: Account): Promise<boolean> {
    return (await this.row(this.store.db, account))?.status === 'ACTIVE';
  }

  /**
   * The second factor of a login: a TOTP code (single use) or a backup code (consumed). Throws
   * ERR_INVALID_MFA_CODE or ERR_TOO_MANY_ATTEMPTS; returns which kind of code was used.
   */
  async checkLoginCode(
    account: Account,
    code: string,
    sourceIp: string | undefined,
  ): Promise<'totp' | 'backup-code'> {
    const ticket = await this.guard.admit('mfa', mfaKey(account), sourceIp);
    const row = await this.row(this.store.db, account);
    let used: 'totp' | 'backup-code' | undefined;
    if (row?.status === 'ACTIVE') {
      if (/^\d{6}$/.test(code)) {
        if (await this.totpAccepted(row.secret, account, code)) used = 'totp';
      } else if (looksLikeBackupCode(code)) {
        // One statement: of racing uses of the same code exactly one deletes the row.
        const r = await this.own(this.store.db, 'mfa_backup_codes', account)
          .where('code_hash', '=', backupCodeHash(code))
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 1) used = 'backup-code';
      }
    }
    if (used === undefined)
      throw new SimtrustError('ERR_INVALID_MFA_CODE', 'the MFA code is wrong, expired or already used');
    await ticket.succeeded();
    return used;
  }

  /** Whether `code` is the account's current TOTP code, not used before (RFC 6238, one step each way). */
  private async totpAccepted(sealedSecret: string, account: Account, code: string): Promise<boolean> {
    const secret = this.keyRing.open(sealedSecret, secretContext(account)).toString('utf8');
    const check = await verifyTotp(this.store.db, {
      scope: TOTP_SCOPE,
      key: mfaKey(account),
      secret,
      code,
      now: this.clock.now(),
    });
    return check.ok;
  }

  private row(db: Executor, account: Account) {
    return db
      .selectFrom('account_mfa')
      .select(['status', 'secret'])
      .where('operator_id', '=', account.operatorId)
      .where('user_name', '=', accountColumn(account))
      .executeTakeFirst() as Promise<{ status: MfaStatus; secret: string } | undefined>;
  }

  private own(db: Executor, table: 'account_mfa' | 'mfa_backup_codes', account: Account) {
    return db
      .deleteFrom(table)
      .where('operator_id', '=', account.operatorId)
      .where('user_name', '=', accountColumn(account));
  }

  private async requireAccount(db: Executor, account: Account): Promise<void> {
    if (account.userName !== undefined) await this.users.require(db, account.operatorId, account.userName);
  }
}
