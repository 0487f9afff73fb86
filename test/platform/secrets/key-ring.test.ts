// Envelope encryption: secrets sealed under a data key, data keys wrapped by the master key. The
// threats: a copied database without the master key, a sealed value moved to another row, a
// tampered row, and a master-key rotation that loses data.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing, masterKeyId, rotateMasterKey } from '../../../src/platform/secrets/key-ring.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await openTestDatabase();
});
afterAll(() => t.cleanup());

describe('key ring', () => {
  const master = randomBytes(32);
  const secret = randomBytes(32);

  it('seals and opens, bound to its context', async () => {
    const ring = await KeyRing.open(t.store, master);
    const sealed = ring.seal(secret, 'sim-profile:1');
    expect(sealed).toMatch(/^s1\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(secret.toString('hex'));
    expect(ring.open(sealed, 'sim-profile:1')).toEqual(secret);
    expect(ring.tryOpen(sealed, 'sim-profile:2')).toBeUndefined();
    expect(() => ring.open(sealed, 'sim-profile:2')).toThrow(/does not open/);
    // Two seals of the same value differ (random IV).
    expect(ring.seal(secret, 'x')).not.toBe(ring.seal(secret, 'x'));
  });

  it('detects tampering', async () => {
    const ring = await KeyRing.open(t.store, master);
    const sealed = ring.seal(secret, 'ctx');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    expect(ring.tryOpen(`s1.${raw.toString('base64url')}`, 'ctx')).toBeUndefined();
    for (const junk of ['', 's1.', 's1.AAAA', 'plain', 's2.abc'])
      expect(ring.tryOpen(junk, 'ctx')).toBeUndefined();
  });

  it('refuses a wrong master key with a message naming both key ids', async () => {
    const wrong = randomBytes(32);
    await expect(KeyRing.open(t.store, wrong)).rejects.toThrow(masterKeyId(master));
    await expect(KeyRing.open(t.store, wrong)).rejects.toMatchObject({ code: 'ERR_MASTER_KEY' });
  });

  it('rotation re-wraps data keys: old secrets open under the new key, the old key no longer works', async () => {
    const ring = await KeyRing.open(t.store, master);
    const sealed = ring.seal(secret, 'rotate');
    const next = randomBytes(32);
    expect(await rotateMasterKey(t.store, master, next)).toBe(1);
    const rotated = await KeyRing.open(t.store, next);
    expect(rotated.open(sealed, 'rotate')).toEqual(secret);
    await expect(KeyRing.open(t.store, master)).rejects.toMatchObject({ code: 'ERR_MASTER_KEY' });
    // Rotating again from the wrong key changes nothing.
    await expect(rotateMasterKey(t.store, master, randomBytes(32))).rejects.toMatchObject({
      code: 'ERR_MASTER_KEY',
    });
    expect((await KeyRing.open(t.store, next)).open(sealed, 'rotate')).toEqual(secret);
  });
});
