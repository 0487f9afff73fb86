// POST /v1/auth, as a table of small steps (SORACOM AuthRequest, reference/soracom.md §3.3):
//
//   identify      which account the request names: root by email, a user by operator id + name,
//                 or an auth key by id — and where a failure is audited
//   admit         brute-force limits per account and per source address (429 + Retry-After)
//   check secret  scrypt for passwords, SHA-256 for key secrets; an unknown account costs the same
//   console login a user whose password login is turned off may only use keys
//   second factor with MFA active, `mfaOTPCode` (TOTP or a backup code) is required
//   issue         a random token, stored hashed, with the audit record in the same transaction
//
// Every attempt — success, wrong secret, missing or wrong MFA code, throttled — leaves one audit
// record. An attempt that names no existing operator is recorded under PLATFORM_AUDIT_OPERATOR,
// which no tenant can read.

import type { Config } from '../../config/defaults.js';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { type AuditResult, writeAudit } from '../audit/audit-log.js';
import type { Executor, Store } from '../store/database.js';
import type { AccountMfaService } from './account-mfa.js';
import type { AuthKeyService } from './auth-keys.js';
import { type Account, type AttemptGuard, type AttemptKind, passwordKey } from './credentials.js';
import { normaliseOperatorEmail, operatorLogin } from './operators.js';
import { dummyPasswordHash, verifyPassword } from './passwords.js';
import { type AuditContext, PLATFORM_AUDIT_OPERATOR, type Principal } from './principal.js';
import {
  type IssuedToken,
  issueToken,
  MAX_TOKEN_TIMEOUT_SECONDS,
  MIN_TOKEN_TIMEOUT_SECONDS,
} from './tokens.js';

export type LoginCredentials =
  | { readonly email: string; readonly password: string }
  | { readonly operatorId: string; readonly userName: string; readonly password: string }
  | { readonly authKeyId: string; readonly authKey: string };

export type LoginRequest = LoginCredentials & {
  readonly mfaOTPCode?: string | undefined;
  /** The login transaction of an SMS code (issue 7), from the X-Simtrust-Mfa-Transaction header. */
  readonly mfaTransactionId?: string | undefined;
  readonly tokenTimeoutSeconds?: number | undefined;
};

export interface LoginMeta {
  readonly sourceIp?: string | undefined;
  readonly requestId?: string | undefined;
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

/** What identify() learns: whom the attempt is against, before any secret is checked. */
interface Attempt {
  readonly method: 'password' | 'authKey';
  readonly kind: AttemptKind;
  readonly throttleKey: string;
  /** The principal the attempt would become (its operator may not exist). */
  readonly principal: Principal;
  readonly operatorExists: boolean;
}

/** SMS one-time codes as second factor (issue 7: platform/mfa/platform-sms.ts), wired by openPlatform. */
export interface SmsSecondFactor {
  required(account: Account): Promise<boolean>;
  checkLogin(
    account: Account,
    request: { mfaTransactionId?: string | undefined; mfaOTPCode?: string | undefined },
    meta: LoginMeta,
  ): Promise<'sms'>;
}

export class LoginService {
  private sms: SmsSecondFactor | undefined;

  useSmsSecondFactor(sms: SmsSecondFactor): void {
    this.sms = sms;
  }

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly config: Config,
    private readonly guard: AttemptGuard,
    private readonly authKeys: AuthKeyService,
    private readonly mfa: AccountMfaService,
  ) {}

  async login(request: LoginRequest, meta: LoginMeta): Promise<IssuedToken> {
    const attempt = await this.identify(request);
    const fail = async (e: SimtrustError, result: AuditResult, reason: string): Promise<never> => {
      await this.audit(attempt, meta, result, e.status, { reason });
      throw e;
    };

    let ticket: Awaited<ReturnType<AttemptGuard['admit']>>;
    try {
      ticket = await this.guard.admit(attempt.kind, attempt.throttleKey, meta.sourceIp);
    } catch (e) {
      if (e instanceof SimtrustError) return fail(e, 'denied', 'throttled');
      throw e;
    }

    const principal = await this.checkSecret(request, attempt);
    if (principal === undefined) {
      const message = attempt.method === 'authKey' ? 'invalid auth key' : 'invalid credentials';
      return fail(new SimtrustError('ERR_INVALID_CREDENTIALS', message), 'failure', 'invalid-credentials');
    }
    await ticket.succeeded();

    const account: Account = { operatorId: principal.operatorId, userName: principal.userName };
    let secondFactor: string | undefined;
    if (attempt.method === 'password') {
      if (principal.kind === 'user' && !(await this.consoleLoginAllowed(account))) {
        return fail(
          new SimtrustError(
            'ERR_CONSOLE_LOGIN_DISABLED',
            'password login is turned off for this user; use an auth key',
          ),
          'failure',
          'console-login-disabled',
        );
      }
      if (await this.mfa.required(account)) {
        if (request.mfaOTPCode === undefined || request.mfaOTPCode === '') {
          return fail(
            new SimtrustError('ERR_MFA_REQUIRED', 'MFA is active for this account: send mfaOTPCode'),
            'failure',
            'mfa-required',
          );
        }
        try {
          secondFactor = await this.mfa.checkLoginCode(account, request.mfaOTPCode, meta.sourceIp);
        } catch (e) {
          if (e instanceof SimtrustError) {
            return fail(
              e,
              e.code === 'ERR_TOO_MANY_ATTEMPTS' ? 'denied' : 'failure',
              e.code === 'ERR_TOO_MANY_ATTEMPTS' ? 'mfa-throttled' : 'mfa-invalid',
            );
          }
          throw e;
        }
      } else if (this.sms !== undefined && (await this.sms.required(account))) {
        // Issue 7: SMS one-time codes through the MFA engine (platform/mfa/platform-sms.ts).
        try {
          secondFactor = await this.sms.checkLogin(account, request, meta);
        } catch (e) {
          if (e instanceof SimtrustError) {
            const throttled = e.code === 'ERR_TOO_MANY_ATTEMPTS';
            return fail(
              e,
              throttled ? 'denied' : 'failure',
              throttled
                ? 'mfa-throttled'
                : e.code === 'ERR_MFA_SMS_REQUIRED'
                  ? 'mfa-required'
                  : 'mfa-invalid',
            );
          }
          throw e;
        }
      }
    }

    const timeout = Math.min(
      Math.max(request.tokenTimeoutSeconds ?? this.config.apiTokenTimeoutSeconds, MIN_TOKEN_TIMEOUT_SECONDS),
      MAX_TOKEN_TIMEOUT_SECONDS,
    );
    const now = this.clock.now();
    return this.store.transaction(async (trx) => {
      const issued = await issueToken(trx, this.clock, principal, timeout);
      if (principal.authKeyId !== undefined) await this.authKeys.touch(trx, principal.authKeyId, now);
      await this.audit(
        { ...attempt, principal, operatorExists: true },
        meta,
        'success',
        200,
        {
          method: attempt.method,
          ...(secondFactor === undefined ? {} : { mfa: secondFactor }),
          tokenTimeoutSeconds: timeout,
        },
        trx,
      );
      return issued;
    });
  }

  private async identify(request: LoginRequest): Promise<Attempt> {
    if ('authKeyId' in request) {
      const operatorId = await this.authKeys.operatorOf(request.authKeyId);
      return {
        method: 'authKey',
        kind: 'authKey',
        throttleKey: request.authKeyId,
        principal: {
          operatorId: operatorId ?? PLATFORM_AUDIT_OPERATOR,
          kind: 'authKey',
          id: request.authKeyId,
          authKeyId: request.authKeyId,
        },
        operatorExists: operatorId !== undefined,
      };
    }
    if ('email' in request) {
      const email = normaliseOperatorEmail(request.email);
      const root = await operatorLogin(this.store.db, { email });
      return {
        method: 'password',
        kind: 'password',
        throttleKey: passwordKey({ operatorId: root?.operatorId ?? '' }, email),
        // A password typed into the email field must not land in the audit log.
        principal: {
          operatorId: root?.operatorId ?? PLATFORM_AUDIT_OPERATOR,
          kind: 'root',
          id: EMAIL_RE.test(email) ? email : '(not an email address)',
        },
        operatorExists: root !== undefined,
      };
    }
    const exists = await this.store.db
      .selectFrom('operators')
      .select('operator_id')
      .where('operator_id', '=', request.operatorId)
      .executeTakeFirst();
    return {
      method: 'password',
      kind: 'password',
      throttleKey: passwordKey({ operatorId: request.operatorId, userName: request.userName }),
      principal: {
        operatorId: exists ? request.operatorId : PLATFORM_AUDIT_OPERATOR,
        kind: 'user',
        id: request.userName,
        userName: request.userName,
      },
      operatorExists: exists !== undefined,
    };
  }

  /** The principal when the secret is right; the same work when the account does not exist. */
  private async checkSecret(request: LoginRequest, attempt: Attempt): Promise<Principal | undefined> {
    if ('authKeyId' in request) {
      const owner = await this.authKeys.verify(request.authKeyId, request.authKey);
      return (
        owner && {
          operatorId: owner.operatorId,
          kind: 'authKey',
          id: owner.authKeyId,
          userName: owner.userName,
          authKeyId: owner.authKeyId,
        }
      );
    }
    let hash: string | undefined;
    if ('email' in request) {
      hash = attempt.operatorExists
        ? (await operatorLogin(this.store.db, { email: request.email }))?.passwordHash
        : undefined;
    } else if (attempt.operatorExists) {
      const row = await this.store.db
        .selectFrom('users')
        .select('password_hash')
        .where('operator_id', '=', request.operatorId)
        .where('user_name', '=', request.userName)
        .executeTakeFirst();
      hash = row?.password_hash ?? undefined;
    }
    const valid = await verifyPassword(request.password, hash ?? (await dummyPasswordHash()));
    return valid && hash !== undefined ? attempt.principal : undefined;
  }

  private async consoleLoginAllowed(account: Account): Promise<boolean> {
    const row = await this.store.db
      .selectFrom('users')
      .select('console_login')
      .where('operator_id', '=', account.operatorId)
      .where('user_name', '=', account.userName ?? '')
      .executeTakeFirst();
    return row?.console_login === 1;
  }

  private async audit(
    attempt: Attempt,
    meta: LoginMeta,
    result: AuditResult,
    statusCode: number,
    detail: Record<string, unknown>,
    db: Executor = this.store.db,
  ): Promise<void> {
    const context: AuditContext = {
      principal: attempt.principal,
      operationId: 'Auth:auth',
      sourceIp: meta.sourceIp,
      requestId: meta.requestId,
      method: 'POST',
      path: '/v1/auth',
    };
    await writeAudit(db, {
      context,
      result,
      statusCode,
      detail: { method: attempt.method, ...detail },
      at: this.clock.now(),
    });
  }
}
