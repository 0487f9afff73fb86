// SMS one-time codes as the second factor of the platform's own accounts (root and sub-users),
// through the same engine as the gateway. An account enrols a phone number (`PUT /v1/mfa/sms`), which
// becomes active once a code sent to it is typed back. From then on a password login (POST
// /v1/auth) without a code sends one and answers ERR_MFA_SMS_REQUIRED with the login transaction in
// the `X-Simtrust-Mfa-Transaction` header; the client repeats the login with `mfaTransactionId` and
// `mfaOTPCode`. An account with TOTP active uses TOTP (access management) instead.

import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { AccountMfaService } from '../iam/account-mfa.js';
import type { Account } from '../iam/credentials.js';
import type { AuditContext } from '../iam/principal.js';
import type { Store } from '../store/database.js';
import type { MfaEngine } from './engine.js';
import { maskPhone, parseE164 } from './phone.js';
import { confirmPhoneVerification, startPhoneVerification } from './phone-verification.js';
import {
  enrollmentPrincipal,
  platformSource,
  platformSubjectKey,
  smsEnrollment,
} from './platform-subjects.js';
import type { SubjectSource } from './subject.js';

export const PLATFORM_LOGIN_APPLICATION = '(platform-login)';

export type SmsMfaStatus = 'INACTIVE' | 'UNVERIFIED' | 'ACTIVE';

export interface SmsMfaView {
  readonly status: SmsMfaStatus;
  readonly phoneNumber: string | null;
}

export interface SmsLoginRequest {
  readonly mfaTransactionId?: string | undefined;
  readonly mfaOTPCode?: string | undefined;
}

export class PlatformSmsMfa {
  private readonly source: SubjectSource;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly engine: MfaEngine,
    accountMfa: AccountMfaService,
  ) {
    this.source = platformSource(store.db, accountMfa);
  }

  private async keyOf(account: Account): Promise<string> {
    if (account.userName !== undefined) return platformSubjectKey(account);
    const root = await this.store.db
      .selectFrom('operators')
      .select('email')
      .where('operator_id', '=', account.operatorId)
      .executeTakeFirst();
    return platformSubjectKey(account, root?.email);
  }

  async status(account: Account): Promise<SmsMfaView> {
    const e = await smsEnrollment(this.store.db, account);
    return {
      status: e === undefined ? 'INACTIVE' : e.verified ? 'ACTIVE' : 'UNVERIFIED',
      phoneNumber: e?.number ?? null,
    };
  }

  /** SMS codes are this account's second factor (a verified number is enrolled). */
  async required(account: Account): Promise<boolean> {
    return (await smsEnrollment(this.store.db, account))?.verified === true;
  }

  /** Enrols (or replaces) the number, unverified, and sends it a code to confirm it. */
  async enroll(
    ctx: AuditContext,
    account: Account,
    phoneNumber: string,
  ): Promise<{ verificationId: string; messageId: string; status: string }> {
    const parsed = parseE164(phoneNumber);
    if (!parsed.ok) throw new SimtrustError('ERR_PHONE_NUMBER', `phoneNumber: ${parsed.error.message}`);
    const now = this.clock.now();
    await this.store.transaction(async (trx) => {
      await trx
        .deleteFrom('mfa_sms_enrollments')
        .where('operator_id', '=', account.operatorId)
        .where('principal', '=', enrollmentPrincipal(account))
        .execute();
      await trx
        .insertInto('mfa_sms_enrollments')
        .values({
          operator_id: account.operatorId,
          principal: enrollmentPrincipal(account),
          phone_number: parsed.value,
          verified_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { to: maskPhone(parsed.value) },
        at: now,
      });
    });
    const started = await startPhoneVerification(this.engine, this.source, await this.keyOf(account), {
      sourceIp: ctx.sourceIp,
      requestId: ctx.requestId,
      surface: 'Mfa',
    });
    return {
      verificationId: started.verificationId,
      messageId: started.message.messageId,
      status: started.message.status,
    };
  }

  async verify(
    ctx: AuditContext,
    account: Account,
    verificationId: string,
    code: string,
  ): Promise<SmsMfaView> {
    await confirmPhoneVerification(
      this.engine,
      this.source,
      this.clock,
      await this.keyOf(account),
      { verificationId, code },
      { sourceIp: ctx.sourceIp, requestId: ctx.requestId, surface: 'Mfa' },
    );
    await writeAudit(this.store.db, {
      context: ctx,
      result: 'success',
      detail: { status: 'ACTIVE' },
      at: this.clock.now(),
    });
    return this.status(account);
  }

  /** Turns SMS codes off (the caller has re-entered their password). */
  async remove(ctx: AuditContext, account: Account): Promise<void> {
    await this.store.transaction(async (trx) => {
      await trx
        .deleteFrom('mfa_sms_enrollments')
        .where('operator_id', '=', account.operatorId)
        .where('principal', '=', enrollmentPrincipal(account))
        .execute();
      await writeAudit(trx, { context: ctx, result: 'success', at: this.clock.now() });
    });
  }

  /**
   * The second factor of a password login. Without a transaction: a code is sent and
   * ERR_MFA_SMS_REQUIRED carries the transaction id (details.mfaTransactionId). With one: the code
   * is checked (all the engine's limits) and the transaction finished; returns `sms`.
   */
  async checkLogin(
    account: Account,
    request: SmsLoginRequest,
    meta: { sourceIp?: string | undefined; requestId?: string | undefined },
  ): Promise<'sms'> {
    const key = await this.keyOf(account);
    const subject = await this.source.load(key);
    if (subject === undefined) throw new SimtrustError('ERR_INVALID_CREDENTIALS', 'invalid credentials');
    const ctx = { sourceIp: meta.sourceIp, requestId: meta.requestId, surface: 'Auth' };
    if (request.mfaTransactionId === undefined || request.mfaTransactionId === '') {
      const { id, transaction } = await this.engine.begin({
        subject,
        application: PLATFORM_LOGIN_APPLICATION,
        factors: ['sms-otp'],
        returnTo: '',
        sourceIp: meta.sourceIp,
      });
      const record = await this.engine.sendSmsCode(transaction, subject, ctx, { purpose: 'platform-login' });
      throw new SimtrustError(
        'ERR_MFA_SMS_REQUIRED',
        `a code was sent by SMS to ${maskPhone(record.phoneNumber)}: repeat the login with mfaTransactionId (X-Simtrust-Mfa-Transaction) and mfaOTPCode`,
        { details: { mfaTransactionId: id } },
      );
    }
    const t = await this.engine.transaction(request.mfaTransactionId);
    if (t === undefined || t.application !== PLATFORM_LOGIN_APPLICATION || t.subject !== key) {
      throw new SimtrustError('ERR_MFA_TRANSACTION', 'unknown or expired mfaTransactionId; log in again');
    }
    await this.engine.verifySmsCode(t, subject, request.mfaOTPCode ?? '', ctx);
    await this.engine.complete(t);
    return 'sms';
  }
}
