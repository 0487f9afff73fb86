// Password hashing with scrypt (RFC 7914). Parameters: N = 2^15, r = 8, p = 1, 16-byte random salt,
// 32-byte key — the OWASP Password Storage Cheat Sheet's scrypt recommendation (≈ 32 MiB, ~60 ms
// here). The encoded form records the parameters, so they can be raised later without breaking old
// hashes: `scrypt$<logN>$<r>$<p>$<salt b64>$<hash b64>`.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { SimtrustError } from '../../lib/errors.js';

const LOG_N = 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFKC'),
      salt,
      KEY_BYTES,
      { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, LOG_N, R, P);
  return ['scrypt', LOG_N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const [scheme, logN, r, p, salt, hash] = encoded.split('$');
  if (scheme !== 'scrypt' || !logN || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), Number(logN), Number(r), Number(p));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * A hash of a random password, verified when the account does not exist so that an unknown email
 * costs the same time as a wrong password (no account enumeration by timing).
 */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  return dummyHash;
}

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/** NIST SP 800-63B §5.1.1.2: a minimum length, a generous maximum, no composition rules. */
export function checkPasswordPolicy(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new SimtrustError(
      'ERR_BAD_REQUEST',
      `a password must have at least ${MIN_PASSWORD_LENGTH} characters`,
    );
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new SimtrustError(
      'ERR_BAD_REQUEST',
      `a password may have at most ${MAX_PASSWORD_LENGTH} characters`,
    );
  }
}
