// The threat: a TOTP code observed (shoulder, phishing proxy, log) and replayed, possibly to two
// API instances at once; and a verifier that disagrees with the RFC. Vectors: RFC 6238 Appendix B
// (SHA-1, the 6 low digits of the 8-digit values).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backupCodeHash,
  generateBackupCodes,
  looksLikeBackupCode,
} from '../../../src/platform/mfa/backup-codes.js';
import {
  base32Encode,
  generateTotpSecret,
  matchTotp,
  totpCode,
  totpUri,
  verifyTotp,
} from '../../../src/platform/mfa/totp.js';
import { openStore, type Store } from '../../../src/platform/store/database.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

const RFC_SECRET = base32Encode(new TextEncoder().encode('12345678901234567890'));
const RFC_6238_SHA1 = [
  [59, '287082'],
  [1111111109, '081804'],
  [1111111111, '050471'],
  [1234567890, '005924'],
  [2000000000, '279037'],
  [20000000000, '353130'],
] as const;

let db: TestDatabase;
let second: Store;
beforeAll(async () => {
  db = await openTestDatabase();
  second = await openStore(db.url);
});
afterAll(async () => {
  await second.close();
  await db.cleanup();
});

describe('TOTP', () => {
  it('matches the RFC 6238 Appendix B vectors', () => {
    expect(RFC_SECRET).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    for (const [seconds, code] of RFC_6238_SHA1) {
      expect(totpCode(RFC_SECRET, seconds * 1000), String(seconds)).toBe(code);
      expect(matchTotp(RFC_SECRET, code, seconds * 1000)).toBe(Math.floor(seconds / 30));
    }
  });

  it('accepts ±1 step and nothing further', () => {
    const t = 1_234_567_890_000;
    const step = Math.floor(t / 30_000);
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, t - 30_000), t)).toBe(step - 1);
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, t + 30_000), t)).toBe(step + 1);
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, t - 60_000), t)).toBeUndefined();
    expect(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, t + 60_000), t)).toBeUndefined();
  });

  it('never throws on garbage codes or secrets', () => {
    for (const code of ['', '12345', '1234567', 'abcdef', '12 456', '١٢٣٤٥٦', '-12345']) {
      expect(matchTotp(RFC_SECRET, code, 0)).toBeUndefined();
    }
    for (const secret of ['', '!!!', 'A', '0189']) expect(matchTotp(secret, '123456', 0)).toBeUndefined();
  });

  it('a code is accepted once, even by two instances racing', async () => {
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const now = Date.UTC(2026, 0, 1, 0, 0, 15);
    const code = totpCode(secret, now);
    const input = { scope: 'totp:test', key: 'OP0000000001:race', secret, code, now };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => verifyTotp(i % 2 ? second.db : db.store.db, input)),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === 'replayed')).toHaveLength(19);
    // The previous step's code is burnt by the accepted one; the next step's is fresh.
    expect(await verifyTotp(db.store.db, { ...input, code: totpCode(secret, now - 30_000) })).toEqual({
      ok: false,
      reason: 'replayed',
    });
    expect(await verifyTotp(db.store.db, { ...input, code: totpCode(secret, now + 30_000) })).toMatchObject({
      ok: true,
    });
    expect(
      await verifyTotp(db.store.db, { ...input, code: '000000' === code ? '000001' : '000000' }),
    ).toEqual({ ok: false, reason: 'invalid' });
    // Replay records are per key: another account's use of the same code is independent.
    expect(await verifyTotp(db.store.db, { ...input, key: 'OP0000000001:other' })).toMatchObject({
      ok: true,
    });
  });

  it('builds the otpauth URI authenticator apps read', () => {
    const uri = totpUri({ issuer: 'simtrust', account: 'ops@example.com', secret: 'JBSWY3DPEHPK3PXP' });
    expect(uri).toBe(
      'otpauth://totp/simtrust:ops%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=simtrust&algorithm=SHA1&digits=6&period=30',
    );
  });
});

describe('backup codes', () => {
  it('are 10 distinct 80-bit codes, hashed for storage, accepted in any case and grouping', () => {
    const { codes, hashes } = generateBackupCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
    const first = codes[0] as string;
    expect(hashes[0]).toBe(backupCodeHash(first.toUpperCase().replaceAll('-', ' ')));
    expect(hashes[0]).not.toContain(first.replaceAll('-', ''));
    expect(looksLikeBackupCode(first)).toBe(true);
    expect(looksLikeBackupCode('123456')).toBe(false);
  });
});
