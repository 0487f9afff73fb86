// Who is logging in, as the MFA engine sees it, whatever store the user lives in: a directory of
// application users (platform/directories) or the platform's own root and sub-users. A subject
// knows which second factors it has enrolled; the store behind it (a SubjectSource) checks the
// password and opens the TOTP secret.

import type { Principal } from '../iam/principal.js';
import type { TotpCheck } from './totp.js';

export const FACTORS = ['sms-otp', 'totp', 'sim-token'] as const;
export type Factor = (typeof FACTORS)[number];

/** RFC 8176 authentication method reference values, for the session and the upstream assertion. */
export const FACTOR_AMR: Readonly<Record<Factor, string>> = {
  'sms-otp': 'sms',
  totp: 'otp',
  // RFC 8176 §2 `hwk`: proof of possession of a hardware-secured key — the SIM's Ki.
  'sim-token': 'hwk',
};

export interface Subject {
  /** `dir:<directoryId>:<userId>` or `op:<operatorId>:root` / `op:<operatorId>:user:<name>`. */
  readonly key: string;
  readonly kind: 'directory' | 'platform';
  readonly operatorId: string;
  /** The name the upstream application sees (X-Simtrust-User). */
  readonly userId: string;
  readonly displayName: string | undefined;
  readonly groups: readonly string[];
  readonly phone: { readonly number: string; readonly verified: boolean } | undefined;
  readonly hasTotp: boolean;
  readonly sim: { readonly imsi: string; readonly imei: string | undefined } | undefined;
  /** Who the audit log names for this subject's steps. */
  readonly principal: Principal;
}

export interface SubjectSource {
  /** Which store this is, e.g. `directory:dir-…` or `platform`. */
  readonly id: string;
  /** Operator whose audit log records attempts against this source, when it is one operator's. */
  readonly operatorId: string | undefined;
  /** The subject key a login name would have, existing or not (for counters of unknown users). */
  keyFor(login: string): string;
  /** The subject when the password is right; equal time for unknown users and wrong passwords. */
  authenticate(login: string, password: string): Promise<Subject | undefined>;
  load(key: string): Promise<Subject | undefined>;
  /**
   * Checks a TOTP code of the subject (RFC 6238, single use per time step) with the store's secret;
   * the engine does the counting, locking and auditing around it.
   */
  checkTotp(subject: Subject, code: string, now: number): Promise<TotpCheck>;
  markPhoneVerified(subject: Subject, at: number): Promise<void>;
}

/** Which factors a subject can use now (the policy's list narrowed to what is enrolled). */
export function enrolledFactors(subject: Subject, allowed: readonly Factor[]): Factor[] {
  return allowed.filter((f) =>
    f === 'sms-otp'
      ? subject.phone?.verified === true
      : f === 'totp'
        ? subject.hasTotp
        : subject.sim !== undefined,
  );
}

export interface PolicyRule {
  /** The rule applies to users in any of these groups; absent: to everyone. */
  readonly groups?: readonly string[] | undefined;
  /** Second factors it accepts; with several the user chooses among the enrolled ones. */
  readonly factors: readonly Factor[];
}

/** The first rule that applies names the factors (an application without rules accepts all three). */
export function policyFactors(
  policy: readonly PolicyRule[],
  subject: Pick<Subject, 'groups'>,
): readonly Factor[] {
  if (policy.length === 0) return FACTORS;
  const rule = policy.find((r) => r.groups === undefined || r.groups.some((g) => subject.groups.includes(g)));
  return rule?.factors ?? [];
}
