// Constant-time comparison for every MAC, RES, OTP and secret the project checks. A plain `===` or
// early-exit loop leaks, through response timing, how many leading bytes of a guess were right.

import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * True when `a` and `b` hold the same bytes. Runs in time independent of the contents; the lengths
 * are treated as public (MACs and RES have fixed, known lengths), so different lengths return false
 * at once.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/**
 * Equality of two strings whose length may itself be secret (passwords, OTPs typed by a user,
 * bearer secrets): both sides are hashed with SHA-256 first, so neither the contents nor the length
 * of the expected value shows in the timing.
 */
export function constantTimeEqualText(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}
