// Signing keys: sealed at rest, one current key per algorithm, and a rotation timeline that keeps
// every token verifiable (published before it signs, kept until its last token has expired).

import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { SimtrustError } from '../../../src/lib/errors.js';
import { CLOCK_TOLERANCE_MS, compatKidOf, SigningKeys } from '../../../src/platform/endorse/signing-keys.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

const LEAD_MS = 600_000;
const DAY_MS = 86_400_000;

let db: TestDatabase;
let keyRing: KeyRing;
let clock: ManualClock;
let keys: SigningKeys;

beforeEach(async () => {
  db = await openTestDatabase();
  keyRing = await KeyRing.open(db.store, randomBytes(32));
  clock = new ManualClock(Date.UTC(2026, 0, 1));
  keys = new SigningKeys(db.store, keyRing, clock, { publishLeadMs: LEAD_MS, rotationMs: 90 * DAY_MS });
});
afterEach(() => db.cleanup());

describe('signing keys', () => {
  it('creates one current key per algorithm, once, however many instances start together', async () => {
    const other = new SigningKeys(db.store, keyRing, clock, { publishLeadMs: LEAD_MS, rotationMs: 0 });
    await Promise.all([keys.ensure(), other.ensure(), keys.ensure()]);
    const list = await keys.list();
    expect(list.map((k) => k.alg).sort()).toEqual(['ES256', 'EdDSA', 'RS256']);
    expect(list.every((k) => k.state === 'current' && k.compatKid === compatKidOf(k.kid))).toBe(true);
    expect(list[0]?.compatKid).toMatch(/^v1-[0-9a-f]{32}-x509\.pem$/);
    const jwks = await keys.jwks();
    // Each key twice: under its thumbprint kid and its SORACOM-form kid.
    expect(jwks.keys).toHaveLength(6);
  });

  it('keeps private keys sealed at rest and out of the JWKS', async () => {
    // Threat: a database dump or a JWKS reader obtains a signing key and mints tokens.
    await keys.ensure();
    const rows = await db.store.db.selectFrom('endorse_signing_keys').selectAll().execute();
    for (const row of rows) {
      expect(row.private_key.startsWith('s1.')).toBe(true);
      expect(row.private_key).not.toContain('PRIVATE KEY');
      expect(JSON.parse(row.public_jwk)).not.toHaveProperty('d');
    }
    const text = JSON.stringify(await keys.jwks());
    expect(text).not.toMatch(/"d"|"p"|"q"|"dp"|"dq"|"qi"/);
    // A sealed key copied to another row does not open (the kid is the sealing context).
    const [a, b] = rows;
    expect(keyRing.tryOpen(a!.private_key, `endorse-signing-key:${b!.kid}`)).toBeUndefined();
  });

  it('rotation: the successor is published before it signs; the old key stays until its last token expires', async () => {
    await keys.ensure();
    const before = await keys.current('RS256');
    const [successor] = await keys.rotate(['RS256']);
    expect(successor?.state).toBe('pending');
    const published = () => keys.jwks().then((j) => j.keys.map((k) => k.kid));
    // Published now, not yet signing.
    expect(await published()).toContain(successor!.kid);
    expect((await keys.current('RS256')).kid).toBe(before.kid);
    // A second rotation while one is pending is refused.
    await expect(keys.rotate(['RS256'])).rejects.toMatchObject({ code: 'ERR_ENDORSE_KEY_PENDING' });

    clock.advance(LEAD_MS);
    expect((await keys.current('RS256')).kid).toBe(successor!.kid);
    const list = await keys.list();
    const old = list.find((k) => k.kid === before.kid);
    expect(old?.state).toBe('retired');
    expect(old?.unpublishTime).toBe(successor!.activatesTime + DAY_MS + CLOCK_TOLERANCE_MS);
    // Still published while a token it signed (up to a day's lifetime) may be valid…
    clock.advance(DAY_MS);
    expect(await published()).toContain(before.kid);
    expect(await keys.certificate(before.compatKid)).toContain('BEGIN CERTIFICATE');
    // …and gone afterwards; the schedule then deletes the row.
    clock.advance(CLOCK_TOLERANCE_MS);
    expect(await published()).not.toContain(before.kid);
    await expect(keys.certificate(before.kid)).rejects.toBeInstanceOf(SimtrustError);
    expect((await keys.runSchedule()).deleted).toBe(1);
  });

  it('two rotations racing for the same key create one successor', async () => {
    await keys.ensure();
    const other = new SigningKeys(db.store, keyRing, clock, { publishLeadMs: LEAD_MS, rotationMs: 0 });
    const results = await Promise.allSettled([keys.rotate(['ES256']), other.rotate(['ES256'])]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const pending = (await keys.list()).filter((k) => k.alg === 'ES256' && k.state === 'pending');
    expect(pending).toHaveLength(1);
  });

  it('the schedule rotates keys older than the rotation period, and only those', async () => {
    await keys.ensure();
    expect((await keys.runSchedule()).rotated).toEqual([]);
    clock.advance(90 * DAY_MS);
    expect((await keys.runSchedule()).rotated.sort()).toEqual(['ES256', 'EdDSA', 'RS256']);
    // The successors are pending: running again does not stack more.
    expect((await keys.runSchedule()).rotated).toEqual([]);
    expect((await keys.list()).filter((k) => k.state === 'pending')).toHaveLength(3);
  });
});
