// TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps, T0 = 0) with replay protection, shared by
// platform login (iam/) and the MFA gateway. The HOTP/TOTP arithmetic comes from otplib, which is
// tested against the RFC 4226/6238 vectors, compares in constant time and reports the time step a
// code matched; this module adds what a library cannot: the single-use rule across every instance.
//
// Window: ±1 step (RFC 6238 §5.2 recommends at most one step of network delay; we also allow one
// step of clock skew ahead). Replay: RFC 6238 §5.2 — "the verifier MUST NOT accept the second
// attempt of the OTP after the successful validation has been issued for the first OTP". Each
// accepted (key, step) is recorded with markUsedOnce, one atomic statement, so two instances racing
// on the same code accept it once. The two steps before an accepted one are burnt as well, so an
// older code cannot be played after a newer one.

import { randomBytes } from 'node:crypto';
import { generateSync, verifySync } from 'otplib';
import { markUsedOnce } from '../store/atomic.js';
import type { Executor } from '../store/database.js';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one. */
export const TOTP_WINDOW_STEPS = 1;
/** RFC 4226 §4 R6: at least 128 bits; 160 bits is the HMAC-SHA-1 block-friendly size authenticators expect. */
const SECRET_BYTES = 20;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 §6 base32 without padding, as otpauth URIs and `oathtool -b` expect. */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** A new random TOTP secret, base32. */
export function generateTotpSecret(): string {
  return base32Encode(randomBytes(SECRET_BYTES));
}

/**
 * The otpauth:// URI authenticator apps read from a QR code (Google Authenticator Key URI Format):
 * `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
 */
export function totpUri(o: { issuer: string; account: string; secret: string }): string {
  const label = `${encodeURIComponent(o.issuer)}:${encodeURIComponent(o.account)}`;
  const query = new URLSearchParams({
    secret: o.secret,
    issuer: o.issuer,
    algorithm: 'SHA1',
    digits: String(TOTP_DIGITS),
    period: String(TOTP_PERIOD_SECONDS),
  });
  return `otpauth://totp/${label}?${query}`;
}

/** The code for `now` (Unix ms); for tests, demos and the simulator. */
export function totpCode(secret: string, now: number): string {
  return generateSync({
    secret,
    epoch: Math.floor(now / 1000),
    period: TOTP_PERIOD_SECONDS,
    digits: TOTP_DIGITS,
  });
}

export type TotpCheck =
  | { readonly ok: true; readonly step: number }
  | { readonly ok: false; readonly reason: 'invalid' | 'replayed' };

/** Pure check without replay protection: the matched step, or undefined. Never throws. */
export function matchTotp(secret: string, code: string, now: number): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  try {
    const r = verifySync({
      secret,
      token: code,
      epoch: Math.floor(now / 1000),
      period: TOTP_PERIOD_SECONDS,
      digits: TOTP_DIGITS,
      epochTolerance: TOTP_WINDOW_STEPS * TOTP_PERIOD_SECONDS,
    });
    // verifySync returns the TOTP result (with timeStep) when called with epoch/period.
    return r.valid && 'timeStep' in r ? r.timeStep : undefined;
  } catch {
    // A malformed stored secret is a refusal, never an exception past the verifier.
    return undefined;
  }
}

export interface VerifyTotpInput {
  /** Namespace of the replay records, e.g. `totp:platform` or `totp:gateway`. */
  readonly scope: string;
  /** Whose codes these are, e.g. `OP0012345678:alice`. */
  readonly key: string;
  /** Base32 secret (opened from its sealed form by the caller). */
  readonly secret: string;
  readonly code: string;
  /** Unix ms. */
  readonly now: number;
}

/** Verifies a code and consumes it: a second use of the same code (any instance) is `replayed`. */
export async function verifyTotp(db: Executor, input: VerifyTotpInput): Promise<TotpCheck> {
  const step = matchTotp(input.secret, input.code, input.now);
  if (step === undefined) return { ok: false, reason: 'invalid' };
  // A code of step s is acceptable until the window has moved past it.
  const expiry = (s: number) => (s + TOTP_WINDOW_STEPS + 1) * TOTP_PERIOD_SECONDS * 1000;
  const fresh = await markUsedOnce(db, input.scope, `${input.key}:${step}`, expiry(step), input.now);
  if (!fresh) return { ok: false, reason: 'replayed' };
  for (let back = 1; back <= 2 * TOTP_WINDOW_STEPS; back++) {
    await markUsedOnce(db, input.scope, `${input.key}:${step - back}`, expiry(step - back), input.now);
  }
  return { ok: true, step };
}
