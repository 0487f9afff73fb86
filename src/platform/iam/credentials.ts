// Accounts (root or a sub-user of an operator) and the guarded checks of the secrets they type:
// every password, MFA code and auth-key secret check goes through AttemptGuard, which counts it
// per account and per source address (login-throttle.ts) before the secret is looked at.

import { createHash } from 'node:crypto';
import type { Config } from '../../config/defaults.js';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import type { Executor } from '../store/database.js';
import { admitAttempt, attemptSucceeded, releaseAttempt, type ThrottlePolicy } from './login-throttle.js';
import { operatorLogin } from './operators.js';
import { dummyPasswordHash, verifyPassword } from './passwords.js';
import type { Principal } from './principal.js';

/** Root when `userName` is undefined. */
export interface Account {
  readonly operatorId: string;
  readonly userName?: string | undefined;
}

/** `user_name` value of the root account in tables where it is part of a key. */
export const ROOT_ACCOUNT = '';

export const accountColumn = (a: Account) => a.userName ?? ROOT_ACCOUNT;
export const accountOf = (p: Principal): Account => ({ operatorId: p.operatorId, userName: p.userName });
export const describeAccount = (a: Account) => (a.userName === undefined ? 'root' : `user ${a.userName}`);

export type AttemptKind = 'password' | 'mfa' | 'authKey';

const SCOPES: Readonly<Record<AttemptKind | 'address', string>> = {
  password: 'iam:password',
  mfa: 'iam:mfa',
  authKey: 'iam:auth-key',
  address: 'iam:address',
};

export interface AttemptTicket {
  /** The secret was right: end the account's streak, give back the address's reservation. */
  succeeded(): Promise<void>;
}

export function throttlePolicies(config: Config): { account: ThrottlePolicy; address: ThrottlePolicy } {
  const common = {
    backoffBaseMs: config.loginBackoffBaseSeconds * 1000,
    backoffMaxMs: config.loginBackoffMaxSeconds * 1000,
    memoryMs: config.loginFailureMemorySeconds * 1000,
  };
  return {
    account: { ...common, maxFailures: config.loginMaxFailures },
    address: { ...common, maxFailures: config.loginMaxFailuresPerAddress },
  };
}

export class AttemptGuard {
  private readonly policies: { account: ThrottlePolicy; address: ThrottlePolicy };

  constructor(
    private readonly db: Executor,
    private readonly clock: Clock,
    config: Config,
  ) {
    this.policies = throttlePolicies(config);
  }

  /**
   * Admits one attempt at `kind` for `key` (an account, a key id) from `sourceIp`, or throws
   * ERR_TOO_MANY_ATTEMPTS with the wait. Call before looking at the secret.
   */
  async admit(kind: AttemptKind, account: string, sourceIp: string | undefined): Promise<AttemptTicket> {
    const now = this.clock.now();
    // Stored hashed: the identifier is what the caller typed, which may be a mistyped secret.
    const key = createHash('sha256').update(account).digest('base64url');
    const tooMany = (retryAfterMs: number, what: string) =>
      new SimtrustError(
        'ERR_TOO_MANY_ATTEMPTS',
        `too many failed attempts ${what}; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
        { details: { retryAfterSeconds: Math.ceil(retryAfterMs / 1000) } },
      );
    if (sourceIp !== undefined) {
      const byAddress = await admitAttempt(this.db, {
        scope: SCOPES.address,
        key: sourceIp,
        now,
        policy: this.policies.address,
      });
      if (!byAddress.admitted) throw tooMany(byAddress.retryAfterMs, 'from this address');
    }
    const byAccount = await admitAttempt(this.db, {
      scope: SCOPES[kind],
      key,
      now,
      policy: this.policies.account,
    });
    if (!byAccount.admitted) {
      if (sourceIp !== undefined) await releaseAttempt(this.db, SCOPES.address, sourceIp);
      throw tooMany(byAccount.retryAfterMs, 'for this account');
    }
    return {
      succeeded: async () => {
        await attemptSucceeded(this.db, { scope: SCOPES[kind], key, mode: 'reset' });
        if (sourceIp !== undefined) {
          await attemptSucceeded(this.db, { scope: SCOPES.address, key: sourceIp, mode: 'release' });
        }
      },
    };
  }
}

/** The throttling key of an account's password (root by email, as root logs in by email). */
export const passwordKey = (a: Account, rootEmail?: string) =>
  a.userName === undefined ? `root:${rootEmail ?? a.operatorId}` : `user:${a.operatorId}/${a.userName}`;

export const mfaKey = (a: Account) => `${a.operatorId}/${accountColumn(a)}`;

/** The stored password hash of an account (undefined: no such account, or no password). */
export async function passwordHashOf(db: Executor, a: Account): Promise<string | undefined> {
  if (a.userName === undefined) return (await operatorLogin(db, { operatorId: a.operatorId }))?.passwordHash;
  const row = await db
    .selectFrom('users')
    .select('password_hash')
    .where('operator_id', '=', a.operatorId)
    .where('user_name', '=', a.userName)
    .executeTakeFirst();
  return row?.password_hash ?? undefined;
}

/**
 * Re-authentication with the account's password (password change, MFA revoke): guarded like a
 * login; a wrong password is ERR_INVALID_CREDENTIALS. Unknown accounts cost the same scrypt time.
 */
export async function checkAccountPassword(
  db: Executor,
  guard: AttemptGuard,
  account: Account,
  password: string,
  sourceIp: string | undefined,
): Promise<void> {
  const rootEmail =
    account.userName === undefined
      ? (await operatorLogin(db, { operatorId: account.operatorId }))?.email
      : undefined;
  const ticket = await guard.admit('password', passwordKey(account, rootEmail), sourceIp);
  const hash = await passwordHashOf(db, account);
  const valid = await verifyPassword(password, hash ?? (await dummyPasswordHash()));
  if (!valid || hash === undefined) {
    throw new SimtrustError('ERR_INVALID_CREDENTIALS', 'the password is wrong');
  }
  await ticket.succeeded();
}
