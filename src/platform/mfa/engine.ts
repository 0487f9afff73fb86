// The MFA engine: one implementation of second-factor checks for the gateway and for platform login.
// It owns login transactions (the state between "password right" and "second factor right"), SMS
// one-time codes, the attempt limits around them, and the audit record of every step.
//
// SMS OTP rules (defaults in src/config/defaults.ts, each with the standard it follows):
// - the code: mfaOtpLength digits from the CSPRNG (crypto.randomInt), valid mfaOtpTtlSeconds, stored
//   only as HMAC(otp key, transaction ‖ subject ‖ generation ‖ code) — so a code from another login,
//   another user or an earlier send never matches, and a database copy cannot be brute-forced
//   offline without the sealed key (ASVS 6.5.2, 6.6.2);
// - single use: consumed by one atomic delete (ASVS 6.5.1; concurrent submits: one wins);
// - at most mfaOtpMaxGuesses guesses per code, counted atomically, then the code is deleted (dead);
// - expiry is checked before anything else, comparison is constant-time (dasniko's Keycloak
//   authenticator did neither: shared/reference/mfa-stk.md A1.2);
// - a new code no sooner than mfaSmsResendSeconds after the last, and at most mfaSmsMaxPerWindow per
//   user and per phone number per mfaSmsWindowSeconds (SMS pumping);
// - consecutive failures (password or code) per account lock it for mfaLockBaseSeconds, doubling per
//   further failure up to mfaLockMaxSeconds (NIST SP 800-63B §5.2.2); a success clears the count;
// - mfaAddressMaxAttempts attempts per source address per minute across accounts (ASVS 6.3.1).
// Every counter is one atomic SQL statement (store/atomic.ts), so limits hold across instances.

import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { Config } from '../../config/defaults.js';
import { constantTimeEqualText } from '../../crypto/constant-time.js';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { formatDuration } from '../../lib/i18n-format.js';
import { type AuditResult, writeAudit } from '../audit/audit-log.js';
import type { Principal } from '../iam/principal.js';
import {
  consumeOnce,
  incrementCounter,
  markUsedOnce,
  putOnce,
  readCounter,
  resetCounter,
} from '../store/atomic.js';
import type { Store } from '../store/database.js';
import type { MfaTransactionsTable } from '../store/schema.js';
import type { MfaKeys } from './keys.js';
import { maskPhone } from './phone.js';
import type { SmsDispatcher, SmsRecord } from './sms-providers/dispatcher.js';
import { fillTemplate } from './sms-providers/provider.js';
import { FACTORS, type Factor, type Subject, type SubjectSource } from './subject.js';

export type MfaSettings = Pick<
  Config,
  | 'mfaOtpLength'
  | 'mfaOtpTtlSeconds'
  | 'mfaOtpMaxGuesses'
  | 'mfaTransactionTtlSeconds'
  | 'mfaSmsResendSeconds'
  | 'mfaSmsMaxPerWindow'
  | 'mfaSmsWindowSeconds'
  | 'mfaLockThreshold'
  | 'mfaLockBaseSeconds'
  | 'mfaLockMaxSeconds'
  | 'mfaAddressMaxAttempts'
  | 'smsTemplate'
>;

/** The request facts each step's audit record keeps. */
export interface StepContext {
  readonly sourceIp?: string | undefined;
  readonly requestId?: string | undefined;
  /** Operation id prefix of the caller: `Gateway` or `Auth`. */
  readonly surface?: string | undefined;
}

export interface LoginTransaction {
  /** SHA-256 of the transaction id; the id itself is only in the browser's cookie or the API answer. */
  readonly hash: string;
  readonly operatorId: string;
  readonly application: string;
  readonly subject: string;
  readonly userId: string;
  readonly factors: readonly Factor[];
  readonly factor: Factor | null;
  readonly returnTo: string;
  readonly codeGeneration: number;
  readonly messageId: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
}

const SCOPE = {
  address: 'mfa.address',
  failures: 'mfa.failures',
  lock: 'mfa.lock',
  resendGap: 'mfa.sms-gap',
  perUser: 'mfa.sms-user',
  perPhone: 'mfa.sms-phone',
  guesses: 'mfa.sms-guesses',
  code: 'mfa.sms-code',
} as const;

/** Consecutive failures are forgotten a day after the first of them. */
const FAILURE_MEMORY_MS = 24 * 3600_000;

export const transactionHash = (id: string) => createHash('sha256').update(id).digest('base64url');

const retryAfter = (expiresAt: number, now: number) => Math.max(1, Math.ceil((expiresAt - now) / 1000));

export function tooManyAttempts(message: string, retryAfterSeconds: number): SimtrustError {
  return new SimtrustError('ERR_TOO_MANY_ATTEMPTS', message, { details: { retryAfterSeconds } });
}

export class MfaEngine {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly settings: MfaSettings,
    private readonly keys: MfaKeys,
    readonly sms: SmsDispatcher,
  ) {}

  // ------------------------------------------------------------------ audit

  async audit(
    who: { operatorId: string; principal: Principal },
    operation: string,
    result: AuditResult,
    ctx: StepContext,
    detail: Record<string, unknown>,
  ): Promise<void> {
    await writeAudit(this.store.db, {
      context: {
        principal: who.principal,
        operationId: `${ctx.surface ?? 'Mfa'}:${operation}`,
        sourceIp: ctx.sourceIp,
        requestId: ctx.requestId,
      },
      result,
      detail,
      at: this.clock.now(),
    });
  }

  /** The CSRF token of a form for a browser's CSRF secret (HMAC under the shared csrf key). */
  csrfToken(secret: string): Promise<string> {
    return this.keys.hmac('csrf', secret);
  }

  // ------------------------------------------------------------------ limits

  /** ASVS 6.3.1: attempts per source address per minute, across all accounts. */
  async limitAddress(sourceIp: string | undefined): Promise<void> {
    if (sourceIp === undefined) return;
    const now = this.clock.now();
    const o = { scope: SCOPE.address, key: sourceIp, now, windowMs: 60_000 };
    if (await incrementCounter(this.store.db, { ...o, max: this.settings.mfaAddressMaxAttempts })) return;
    const c = await readCounter(this.store.db, o.scope, o.key, now);
    throw tooManyAttempts(
      'too many attempts from this address',
      retryAfter(c?.expiresAt ?? now + 60_000, now),
    );
  }

  /** Refuses while the account is locked; the error carries the seconds left. */
  async assertNotLocked(subjectKey: string): Promise<void> {
    const now = this.clock.now();
    const lock = await readCounter(this.store.db, SCOPE.lock, subjectKey, now);
    if (lock !== undefined) {
      throw tooManyAttempts('the account is locked after repeated failures', retryAfter(lock.expiresAt, now));
    }
  }

  /** Counts a failed password or code; at the threshold the account locks with a doubling wait. */
  async recordFailure(subjectKey: string): Promise<{ lockedForSeconds: number | undefined }> {
    const now = this.clock.now();
    const s = this.settings;
    const failures = await incrementCounter(this.store.db, {
      scope: SCOPE.failures,
      key: subjectKey,
      now,
      windowMs: FAILURE_MEMORY_MS,
    });
    const count = failures?.value ?? 0;
    if (count < s.mfaLockThreshold) return { lockedForSeconds: undefined };
    const seconds = Math.min(
      s.mfaLockMaxSeconds,
      s.mfaLockBaseSeconds * 2 ** Math.min(count - s.mfaLockThreshold, 30),
    );
    await incrementCounter(this.store.db, {
      scope: SCOPE.lock,
      key: subjectKey,
      now,
      windowMs: seconds * 1000,
    });
    return { lockedForSeconds: seconds };
  }

  async clearFailures(subjectKey: string): Promise<void> {
    await resetCounter(this.store.db, SCOPE.failures, subjectKey);
  }

  // ------------------------------------------------------------------ transactions

  /** Starts the second-factor part of a login; the returned id goes to the browser (cookie) or client. */
  async begin(input: {
    subject: Subject;
    application: string;
    factors: readonly Factor[];
    returnTo: string;
    sourceIp?: string | undefined;
  }): Promise<{ id: string; transaction: LoginTransaction }> {
    const id = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const row = {
      transaction_hash: transactionHash(id),
      operator_id: input.subject.operatorId,
      application: input.application,
      subject: input.subject.key,
      user_id: input.subject.userId,
      factors: JSON.stringify(input.factors),
      factor: input.factors.length === 1 ? (input.factors[0] ?? null) : null,
      state: 'factor',
      return_to: input.returnTo,
      code_generation: 0,
      message_id: null,
      source_ip: input.sourceIp ?? null,
      created_at: now,
      expires_at: now + this.settings.mfaTransactionTtlSeconds * 1000,
    };
    await this.store.db.insertInto('mfa_transactions').values(row).execute();
    return { id, transaction: toTransaction(row) };
  }

  /** A live transaction waiting for its second factor, or undefined (unknown, expired, finished). */
  async transaction(id: string | undefined): Promise<LoginTransaction | undefined> {
    if (id === undefined || id === '' || id.length > 100) return undefined;
    const row = await this.store.db
      .selectFrom('mfa_transactions')
      .selectAll()
      .where('transaction_hash', '=', transactionHash(id))
      .where('state', '=', 'factor')
      .where('expires_at', '>', this.clock.now())
      .executeTakeFirst();
    return row && toTransaction(row);
  }

  async choose(t: LoginTransaction, factor: Factor): Promise<LoginTransaction> {
    if (!t.factors.includes(factor)) {
      throw new SimtrustError('ERR_BAD_REQUEST', `this login does not offer ${factor}`);
    }
    await this.store.db
      .updateTable('mfa_transactions')
      .set({ factor })
      .where('transaction_hash', '=', t.hash)
      .execute();
    return { ...t, factor };
  }

  /**
   * Finishes a transaction exactly once (one conditional UPDATE): a second completion — a replayed
   * code, a double submit — finds it no longer waiting and fails.
   */
  async complete(t: LoginTransaction): Promise<void> {
    const r = await this.store.db
      .updateTable('mfa_transactions')
      .set({ state: 'done' })
      .where('transaction_hash', '=', t.hash)
      .where('state', '=', 'factor')
      .where('expires_at', '>', this.clock.now())
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) {
      throw new SimtrustError('ERR_MFA_TRANSACTION', 'this login is finished or expired; start again');
    }
    await this.killCode(t);
  }

  /** Housekeeping: removes transactions that ended more than a day ago. */
  async purge(): Promise<number> {
    const r = await this.store.db
      .deleteFrom('mfa_transactions')
      .where('expires_at', '<', this.clock.now() - 24 * 3600_000)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  // ------------------------------------------------------------------ SMS one-time codes

  private codeMac(t: LoginTransaction, generation: number, code: string): Promise<string> {
    return this.keys.hmac('otp', t.hash, t.subject, String(generation), code);
  }

  /**
   * Sends a new code for the transaction (first send or resend). `allowUnverified` is for the
   * phone-verification flow only: login codes go to verified numbers (ASVS 6.6.1).
   */
  async sendSmsCode(
    t: LoginTransaction,
    subject: Subject,
    ctx: StepContext,
    options: { allowUnverified?: boolean; phone?: string; purpose?: string } = {},
  ): Promise<SmsRecord> {
    const now = this.clock.now();
    const s = this.settings;
    const phone = options.phone ?? subject.phone?.number;
    const detail = { application: t.application, userId: t.userId, factor: 'sms-otp' };
    const refuse = async (e: SimtrustError, reason: string) => {
      await this.audit(subject, 'sendSmsCode', 'denied', ctx, { ...detail, reason });
      return e;
    };
    if (phone === undefined || (!options.allowUnverified && subject.phone?.verified !== true)) {
      throw await refuse(
        new SimtrustError('ERR_PHONE_NOT_VERIFIED', 'no verified phone number for this user'),
        'phone not verified',
      );
    }
    const gap = { scope: SCOPE.resendGap, key: t.hash, now, windowMs: s.mfaSmsResendSeconds * 1000 };
    if (!(await incrementCounter(this.store.db, { ...gap, max: 1 }))) {
      const c = await readCounter(this.store.db, gap.scope, gap.key, now);
      throw await refuse(
        new SimtrustError('ERR_SMS_RESEND_TOO_SOON', 'wait before asking for another code', {
          details: { retryAfterSeconds: retryAfter(c?.expiresAt ?? now, now) },
        }),
        'resend too soon',
      );
    }
    for (const [scope, key, what] of [
      [SCOPE.perUser, subject.key, 'user'],
      [SCOPE.perPhone, phone, 'phone number'],
    ] as const) {
      const window = { scope, key, now, windowMs: s.mfaSmsWindowSeconds * 1000 };
      if (!(await incrementCounter(this.store.db, { ...window, max: s.mfaSmsMaxPerWindow }))) {
        const c = await readCounter(this.store.db, scope, key, now);
        throw await refuse(
          new SimtrustError('ERR_SMS_LIMIT', `too many SMS codes for this ${what}`, {
            details: { retryAfterSeconds: retryAfter(c?.expiresAt ?? now, now) },
          }),
          `sms limit per ${what}`,
        );
      }
    }
    const bumped = await this.store.db
      .updateTable('mfa_transactions')
      .set((eb) => ({ code_generation: eb('code_generation', '+', 1) }))
      .where('transaction_hash', '=', t.hash)
      .returning('code_generation')
      .executeTakeFirstOrThrow();
    const generation = Number(bumped.code_generation);
    const code = String(randomInt(0, 10 ** s.mfaOtpLength)).padStart(s.mfaOtpLength, '0');
    // The previous code of this login stops working the moment a new one exists.
    await this.killCode(t);
    await putOnce(this.store.db, {
      scope: SCOPE.code,
      key: t.hash,
      value: `${generation}:${await this.codeMac(t, generation, code)}`,
      expiresAt: now + s.mfaOtpTtlSeconds * 1000,
      now,
    });
    const text = fillTemplate(s.smsTemplate, {
      code,
      validity: formatDuration('en', s.mfaOtpTtlSeconds),
      seconds: String(s.mfaOtpTtlSeconds),
      // For templates written before {validity}: whole minutes, rounded up.
      minutes: String(Math.ceil(s.mfaOtpTtlSeconds / 60)),
    });
    let record: SmsRecord;
    try {
      record = await this.sms.send({
        operatorId: subject.operatorId,
        purpose: options.purpose ?? 'login-otp',
        subject: subject.key,
        to: phone,
        text,
      });
    } catch (e) {
      await this.killCode(t);
      const details = e instanceof SimtrustError ? e.details : undefined;
      await this.audit(subject, 'sendSmsCode', 'failure', ctx, {
        ...detail,
        to: maskPhone(phone),
        reason: e instanceof SimtrustError ? e.code : 'error',
        ...(details ?? {}),
      });
      throw e;
    }
    await this.store.db
      .updateTable('mfa_transactions')
      .set({ message_id: record.messageId })
      .where('transaction_hash', '=', t.hash)
      .execute();
    await this.audit(subject, 'sendSmsCode', 'success', ctx, {
      ...detail,
      to: maskPhone(phone),
      messageId: record.messageId,
      provider: record.provider,
      generation,
    });
    return record;
  }

  /**
   * Checks a typed code. Success consumes it (the caller then completes the transaction); failure
   * throws ERR_OTP_EXPIRED (no live code), ERR_OTP_INVALID (wrong, guesses left in details) or
   * ERR_OTP_DEAD (guesses used up: the code is deleted), or ERR_TOO_MANY_ATTEMPTS (locked).
   */
  async verifySmsCode(t: LoginTransaction, subject: Subject, code: string, ctx: StepContext): Promise<void> {
    const s = this.settings;
    const detail = { application: t.application, userId: t.userId, factor: 'sms-otp' };
    await this.limitAddress(ctx.sourceIp);
    await this.assertLockedAudited(subject, 'verifySmsCode', ctx, detail);
    const now = this.clock.now();
    const stored = await this.store.db
      .selectFrom('one_time_values')
      .select('value')
      .where('scope', '=', SCOPE.code)
      .where('key', '=', t.hash)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (stored === undefined) {
      await this.audit(subject, 'verifySmsCode', 'failure', ctx, { ...detail, reason: 'expired' });
      throw new SimtrustError(
        'ERR_OTP_EXPIRED',
        'the code has expired or was already used; request a new one',
      );
    }
    const [generationText, mac] = stored.value.split(':');
    const generation = Number(generationText);
    const guesses = await incrementCounter(this.store.db, {
      scope: SCOPE.guesses,
      key: `${t.hash}:${generation}`,
      now,
      windowMs: s.mfaOtpTtlSeconds * 1000,
      max: s.mfaOtpMaxGuesses,
    });
    if (guesses === undefined) {
      await this.killCode(t);
      await this.audit(subject, 'verifySmsCode', 'denied', ctx, { ...detail, reason: 'code dead' });
      throw new SimtrustError('ERR_OTP_DEAD', 'too many wrong guesses; this code no longer works');
    }
    const candidate =
      /^\d+$/.test(code) && code.length === s.mfaOtpLength ? await this.codeMac(t, generation, code) : '';
    if (!constantTimeEqualText(candidate, mac ?? '')) {
      const { lockedForSeconds } = await this.recordFailure(subject.key);
      const left = s.mfaOtpMaxGuesses - guesses.value;
      if (left <= 0) await this.killCode(t);
      await this.audit(subject, 'verifySmsCode', 'failure', ctx, {
        ...detail,
        reason: left <= 0 ? 'wrong code; code dead' : 'wrong code',
        guessesLeft: left,
        ...(lockedForSeconds === undefined ? {} : { lockedForSeconds }),
      });
      if (left <= 0)
        throw new SimtrustError('ERR_OTP_DEAD', 'too many wrong guesses; this code no longer works');
      throw new SimtrustError('ERR_OTP_INVALID', 'the code is wrong', { details: { guessesLeft: left } });
    }
    // Single use: of racing submits of the right code exactly one consumes it.
    if ((await consumeOnce(this.store.db, SCOPE.code, t.hash, now)) !== stored.value) {
      await this.audit(subject, 'verifySmsCode', 'failure', ctx, { ...detail, reason: 'already used' });
      throw new SimtrustError('ERR_OTP_EXPIRED', 'the code was already used');
    }
    await this.clearFailures(subject.key);
    await this.audit(subject, 'verifySmsCode', 'success', ctx, detail);
  }

  private async killCode(t: LoginTransaction): Promise<void> {
    await this.store.db
      .deleteFrom('one_time_values')
      .where('scope', '=', SCOPE.code)
      .where('key', '=', t.hash)
      .execute();
  }

  private async assertLockedAudited(
    subject: Subject,
    operation: string,
    ctx: StepContext,
    detail: Record<string, unknown>,
  ): Promise<void> {
    try {
      await this.assertNotLocked(subject.key);
    } catch (e) {
      await this.audit(subject, operation, 'denied', ctx, { ...detail, reason: 'account locked' });
      throw e;
    }
  }

  // ------------------------------------------------------------------ TOTP

  /**
   * RFC 6238 through the access-management TOTP (single use per time step, ±1 step), checked by the
   * subject's store; failures count towards the lock like SMS codes.
   */
  async verifyTotpCode(
    t: LoginTransaction,
    subject: Subject,
    source: SubjectSource,
    code: string,
    ctx: StepContext,
  ): Promise<void> {
    const detail = { application: t.application, userId: t.userId, factor: 'totp' };
    await this.limitAddress(ctx.sourceIp);
    await this.assertLockedAudited(subject, 'verifyTotp', ctx, detail);
    const check = await source.checkTotp(subject, code.trim(), this.clock.now());
    if (!check.ok) {
      const { lockedForSeconds } = await this.recordFailure(subject.key);
      await this.audit(subject, 'verifyTotp', 'failure', ctx, {
        ...detail,
        reason: check.reason,
        ...(lockedForSeconds === undefined ? {} : { lockedForSeconds }),
      });
      throw new SimtrustError(
        'ERR_INVALID_MFA_CODE',
        check.reason === 'replayed'
          ? 'this code was already used; wait for the next one'
          : 'the code is wrong',
      );
    }
    await this.clearFailures(subject.key);
    await this.audit(subject, 'verifyTotp', 'success', ctx, detail);
  }

  // ------------------------------------------------------------------ SIM token

  /**
   * The SIM-token factor, after the caller has verified the token's signature, issuer, audience and
   * lifetime with the platform's keys: the token's IMSI (and IMEI, when one is registered) must be
   * the user's registered SIM, and a token is accepted once (its jti, until it expires).
   */
  async acceptSimToken(
    t: LoginTransaction,
    subject: Subject,
    token: { imsi?: string | undefined; imei?: string | undefined; jti: string; exp: number },
    ctx: StepContext,
  ): Promise<void> {
    const detail = { application: t.application, userId: t.userId, factor: 'sim-token' };
    await this.limitAddress(ctx.sourceIp);
    await this.assertLockedAudited(subject, 'verifySimToken', ctx, detail);
    const sim = subject.sim;
    // IMEI and IMEISV share their first 14 digits (TAC + serial number, TS 23.003 §6.2).
    const sameDevice = (a: string | undefined, b: string) =>
      a !== undefined && a.slice(0, 14) === b.slice(0, 14);
    const matches =
      sim !== undefined &&
      token.imsi === sim.imsi &&
      (sim.imei === undefined || sameDevice(token.imei, sim.imei));
    if (!matches) {
      const { lockedForSeconds } = await this.recordFailure(subject.key);
      await this.audit(subject, 'verifySimToken', 'failure', ctx, {
        ...detail,
        reason: token.imsi === sim?.imsi ? 'imei mismatch' : 'imsi mismatch',
        ...(lockedForSeconds === undefined ? {} : { lockedForSeconds }),
      });
      throw new SimtrustError('ERR_SIM_TOKEN_MISMATCH', 'the token is for another SIM or device');
    }
    const now = this.clock.now();
    if (!(await markUsedOnce(this.store.db, 'mfa.sim-token', token.jti, token.exp * 1000 + 300_000, now))) {
      await this.audit(subject, 'verifySimToken', 'failure', ctx, { ...detail, reason: 'token replayed' });
      throw new SimtrustError('ERR_SIM_TOKEN_INVALID', 'this token was already used');
    }
    await this.clearFailures(subject.key);
    await this.audit(subject, 'verifySimToken', 'success', ctx, detail);
  }
}

function toTransaction(r: Omit<MfaTransactionsTable, 'state' | 'source_ip'>): LoginTransaction {
  const factors = (JSON.parse(r.factors) as string[]).filter((f): f is Factor =>
    (FACTORS as readonly string[]).includes(f),
  );
  return {
    hash: r.transaction_hash,
    operatorId: r.operator_id,
    application: r.application,
    subject: r.subject,
    userId: r.user_id,
    factors,
    factor: factors.find((f) => f === r.factor) ?? null,
    returnTo: r.return_to,
    codeGeneration: Number(r.code_generation),
    messageId: r.message_id,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
  };
}
