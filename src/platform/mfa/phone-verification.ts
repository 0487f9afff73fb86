// Proving a phone number before SMS codes may log anyone in with it (OWASP ASVS 6.6.1; NIST SP
// 800-63B §5.1.3.3 — the number must be tied to the user's device): a code is sent to the number
// and typed back through the same engine, with the same limits, as a login code. The verification
// id is a login transaction of its own (application `(phone-verification)`), so a login code never
// verifies a number and a verification code never logs anyone in.

import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import type { MfaEngine, StepContext } from './engine.js';
import type { SmsRecord } from './sms-providers/dispatcher.js';
import type { SubjectSource } from './subject.js';

export const PHONE_VERIFICATION = '(phone-verification)';

export async function startPhoneVerification(
  engine: MfaEngine,
  source: SubjectSource,
  subjectKey: string,
  ctx: StepContext,
): Promise<{ verificationId: string; message: SmsRecord }> {
  const subject = await source.load(subjectKey);
  if (subject?.phone === undefined) throw new SimtrustError('ERR_BAD_REQUEST', 'no phone number to verify');
  await engine.limitAddress(ctx.sourceIp);
  const { id, transaction } = await engine.begin({
    subject,
    application: PHONE_VERIFICATION,
    factors: ['sms-otp'],
    returnTo: '',
    sourceIp: ctx.sourceIp,
  });
  const message = await engine.sendSmsCode(transaction, subject, ctx, {
    allowUnverified: true,
    purpose: 'phone-verification',
  });
  return { verificationId: id, message };
}

export async function confirmPhoneVerification(
  engine: MfaEngine,
  source: SubjectSource,
  clock: Clock,
  subjectKey: string,
  input: { verificationId: string; code: string },
  ctx: StepContext,
): Promise<void> {
  const t = await engine.transaction(input.verificationId);
  const subject = await source.load(subjectKey);
  if (
    t === undefined ||
    t.application !== PHONE_VERIFICATION ||
    t.subject !== subjectKey ||
    subject === undefined
  ) {
    throw new SimtrustError('ERR_MFA_TRANSACTION', 'unknown or expired verification; start it again');
  }
  await engine.verifySmsCode(t, subject, input.code, ctx);
  await engine.complete(t);
  await source.markPhoneVerified(subject, clock.now());
}
