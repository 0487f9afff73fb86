// MFA backup (recovery) codes: shown once when MFA is activated, each usable once instead of a TOTP
// code. 80 random bits each (16 base32 characters, grouped `abcd-efgh-ijkl-mnop`), so a SHA-256
// of the normalised code is enough at rest (no offline guessing of 2^80); a lookup by hash reveals
// nothing through timing about the other codes.

import { createHash, randomBytes } from 'node:crypto';
import { base32Encode } from './totp.js';

export const BACKUP_CODE_COUNT = 10;

/** Accepts any case and any grouping with dashes or spaces. */
export function normaliseBackupCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

export const looksLikeBackupCode = (code: string) => /^[a-z2-7]{16}$/.test(normaliseBackupCode(code));

export function backupCodeHash(code: string): string {
  return createHash('sha256').update(normaliseBackupCode(code)).digest('hex');
}

/** Fresh codes and their hashes (store only the hashes). */
export function generateBackupCodes(count = BACKUP_CODE_COUNT): { codes: string[]; hashes: string[] } {
  const codes: string[] = [];
  for (let i = 0; i < count; i++) {
    const raw = base32Encode(randomBytes(10)).toLowerCase();
    codes.push(raw.match(/.{4}/g)?.join('-') ?? raw);
  }
  return { codes, hashes: codes.map(backupCodeHash) };
}
