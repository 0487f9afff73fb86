// Signing keys: per operator (issue 11), sealed at rest under the operator, one current key per
// operator and algorithm, and a rotation timeline that keeps every token verifiable (published
// before it signs, kept until its last token has expired).

import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { SimtrustError } from '../../../src/lib/errors.js';
import { listAudit } from '../../../src/platform/audit/audit-log.js';
import {
  CLOCK_TOLERANCE_MS,
  compatKidOf,
  PLATFORM_KEY_OWNER,
  ROTATE_OPERATION,
  SigningKeys,
} from '../../../src/platform/endorse/signing-keys.js';
import { createOperator } from '../../../src/platform/iam/operators.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

const LEAD_MS = 600_000;
const DAY_MS = 86_400_000;

let db: TestDatabase;
let keyRing: KeyRing;
let clock: ManualClock;
let keys: SigningKeys;
let A: string;
let B: string;

const newOperator = async () =>
  (
    await createOperator(db.store, clock, {
      email: `keys-${randomBytes(4).toString('hex')}@example.com`,
      password: randomBytes(12).toString('hex'),
    })
  ).operatorId;
const ctx = (operatorId: string) => systemContext(operatorId, ROTATE_OPERATION, 'test');
const rotations = async (operatorId: string) =>
  (await listAudit(db.store.db, operatorId, { operationId: ROTATE_OPERATION, limit: 50 })).records;

beforeEach(async () => {
  db = await openTestDatabase();
  keyRing = await KeyRing.open(db.store, randomBytes(32));
  clock = new ManualClock(Date.UTC(2026, 0, 1));
  keys = new SigningKeys(db.store, keyRing, clock, { publishLeadMs: LEAD_MS, rotationMs: 90 * DAY_MS });
  A = await newOperator();
  B = await newOperator();
});
afterEach(() => db.cleanup());

describe('signing keys', () => {
  it('creates one current key per algorithm, once, however many instances start together', async () => {
    const other = new SigningKeys(db.store, keyRing, clock, { publishLeadMs: LEAD_MS, rotationMs: 0 });
    await Promise.all([keys.ensure(A), other.ensure(A), keys.ensure(A)]);
    const list = await keys.list(A);
    expect(list.map((k) => k.alg).sort()).toEqual(['ES256', 'EdDSA', 'RS256']);
    expect(list.every((k) => k.state === 'current' && k.compatKid === compatKidOf(k.kid))).toBe(true);
    expect(list[0]?.compatKid).toMatch(/^v1-[0-9a-f]{32}-x509\.pem$/);
    const jwks = await keys.jwks(A);
    // Each key twice: under its thumbprint kid and its SORACOM-form kid.
    expect(jwks.keys).toHaveLength(6);
  });

  it('lists the keys an operator is going to sign with before its first token', async () => {
    const list = await keys.list(A);
    expect(list.map((k) => k.alg).sort()).toEqual(['ES256', 'EdDSA', 'RS256']);
    expect(list.every((k) => k.state === 'current')).toBe(true);
  });

  it('keeps private keys sealed at rest and out of the JWKS', async () => {
    // Threat: a database dump or a JWKS reader obtains a signing key and mints tokens.
    await keys.ensure(A);
    const rows = await db.store.db.selectFrom('endorse_signing_keys').selectAll().execute();
    for (const row of rows) {
      expect(row.private_key.startsWith('s1.')).toBe(true);
      expect(row.private_key).not.toContain('PRIVATE KEY');
      expect(JSON.parse(row.public_jwk)).not.toHaveProperty('d');
    }
    const text = JSON.stringify(await keys.jwks(A));
    expect(text).not.toMatch(/"d"|"p"|"q"|"dp"|"dq"|"qi"/);
    // A sealed key copied to another row does not open (the kid is the sealing context).
    const [a, b] = rows;
    expect(keyRing.tryOpen(a!.private_key, `endorse-signing-key:${A}:${b!.kid}`)).toBeUndefined();
    // Nor under another operator (the operator is part of the sealing context), nor under the
    // context keys had before issue 11.
    expect(keyRing.tryOpen(a!.private_key, `endorse-signing-key:${A}:${a!.kid}`)).toBeDefined();
    expect(keyRing.tryOpen(a!.private_key, `endorse-signing-key:${B}:${a!.kid}`)).toBeUndefined();
    expect(keyRing.tryOpen(a!.private_key, `endorse-signing-key:${a!.kid}`)).toBeUndefined();
  });

  it('rotation: the successor is published before it signs; the old key stays until its last token expires', async () => {
    await keys.ensure(A);
    const before = await keys.current(A, 'RS256');
    const [successor] = await keys.rotate(A, { algorithms: ['RS256'], ctx: ctx(A) });
    expect(successor?.state).toBe('pending');
    const published = () => keys.jwks(A).then((j) => j.keys.map((k) => k.kid));
    // Published now, not yet signing.
    expect(await published()).toContain(successor!.kid);
    expect((await keys.current(A, 'RS256')).kid).toBe(before.kid);
    // A second rotation while one is pending is refused.
    await expect(keys.rotate(A, { algorithms: ['RS256'], ctx: ctx(A) })).rejects.toMatchObject({
      code: 'ERR_ENDORSE_KEY_PENDING',
    });

    clock.advance(LEAD_MS);
    expect((await keys.current(A, 'RS256')).kid).toBe(successor!.kid);
    const list = await keys.list(A);
    const old = list.find((k) => k.kid === before.kid);
    expect(old?.state).toBe('retired');
    expect(old?.unpublishTime).toBe(successor!.activatesTime + DAY_MS + CLOCK_TOLERANCE_MS);
    // Still published while a token it signed (up to a day's lifetime) may be valid…
    clock.advance(DAY_MS);
    expect(await published()).toContain(before.kid);
    expect(await keys.certificate(A, before.compatKid)).toContain('BEGIN CERTIFICATE');
    // …and gone afterwards; the schedule then deletes the row.
    clock.advance(CLOCK_TOLERANCE_MS);
    expect(await published()).not.toContain(before.kid);
    await expect(keys.certificate(A, before.kid)).rejects.toBeInstanceOf(SimtrustError);
    expect((await keys.runSchedule()).deleted).toBe(1);
  });

  it('two rotations racing for the same key create one successor', async () => {
    await keys.ensure(A);
    const other = new SigningKeys(db.store, keyRing, clock, { publishLeadMs: LEAD_MS, rotationMs: 0 });
    const results = await Promise.allSettled([
      keys.rotate(A, { algorithms: ['ES256'], ctx: ctx(A) }),
      other.rotate(A, { algorithms: ['ES256'], ctx: ctx(A) }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const pending = (await keys.list(A)).filter((k) => k.alg === 'ES256' && k.state === 'pending');
    expect(pending).toHaveLength(1);
  });

  it('the schedule rotates keys older than the rotation period, and only those', async () => {
    await keys.ensure(A);
    expect((await keys.runSchedule()).rotated).toEqual([]);
    clock.advance(90 * DAY_MS);
    expect((await keys.runSchedule()).rotated).toEqual([
      { operatorId: A, algorithms: ['RS256', 'ES256', 'EdDSA'] },
    ]);
    // Recorded in the operator's own audit log, as the schedule's action.
    const [record] = await rotations(A);
    expect(record?.actor).toMatchObject({ kind: 'system', id: 'endorse-key-schedule' });
    expect(await rotations(B)).toEqual([]);
    // The successors are pending: running again does not stack more.
    expect((await keys.runSchedule()).rotated).toEqual([]);
    expect((await keys.list(A)).filter((k) => k.state === 'pending')).toHaveLength(3);
  });
});

describe('issue 11: signing keys per operator', () => {
  it("B's rotation does not touch A's keys, JWKS or pending state, and is only in B's audit log", async () => {
    // Threat: one tenant rotates the keys another relies on (the other's emergency rotation then
    // fails with ERR_ENDORSE_KEY_PENDING, and its audit log does not show why).
    await Promise.all([keys.ensure(A), keys.ensure(B)]);
    const aBefore = await keys.list(A);
    const aJwks = await keys.jwks(A);
    const bKids = (await keys.list(B)).map((k) => k.kid);
    expect(aBefore.map((k) => k.kid).some((kid) => bKids.includes(kid))).toBe(false);

    const created = await keys.rotate(B, { ctx: ctx(B) });
    expect(created.map((k) => k.state)).toEqual(['pending', 'pending', 'pending']);
    expect(await keys.list(A)).toEqual(aBefore);
    expect(await keys.jwks(A)).toEqual(aJwks);
    const inB = (await keys.jwks(B)).keys.map((k) => k.kid);
    for (const k of created) expect(inB).toContain(k.kid);
    for (const k of created) expect(aJwks.keys.map((j) => j.kid)).not.toContain(k.kid);

    // A's emergency rotation still works, and activates at once.
    const [emergency] = await keys.rotate(A, { algorithms: ['RS256'], activateInMs: 0, ctx: ctx(A) });
    expect(emergency?.state).toBe('current');
    expect((await keys.current(A, 'RS256')).kid).toBe(emergency?.kid);

    expect((await rotations(B)).map((r) => r.detail.kids)).toEqual([created.map((k) => k.kid)]);
    expect((await rotations(A)).map((r) => r.detail.kids)).toEqual([[emergency?.kid]]);
  });

  it('a rotation refused while a successor is pending creates nothing and records nothing', async () => {
    await keys.rotate(A, { algorithms: ['ES256'], ctx: ctx(A) });
    const before = await keys.list(A);
    await expect(keys.rotate(A, { ctx: ctx(A) })).rejects.toMatchObject({ code: 'ERR_ENDORSE_KEY_PENDING' });
    expect(await keys.list(A)).toEqual(before);
    expect(await rotations(A)).toHaveLength(1);
  });

  it('makes no keys for an operator that does not exist', async () => {
    // Threat: public JWKS requests for made-up operator ids fill the key table.
    for (const id of ['OP0000000000', `${A}x`, '', "' or 1=1 --"]) {
      await expect(keys.jwks(id)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
      await expect(keys.current(id, 'RS256')).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' });
    }
    expect(await db.store.db.selectFrom('endorse_signing_keys').selectAll().execute()).toEqual([]);
  });

  it("the platform's own key set (the gateway's assertions) is apart from every operator's", async () => {
    const platformKey = await keys.current(PLATFORM_KEY_OWNER, 'ES256');
    const a = await keys.jwks(A);
    expect(a.keys.map((k) => k.kid)).not.toContain(platformKey.kid);
    expect((await keys.jwks(PLATFORM_KEY_OWNER)).keys.map((k) => k.kid)).toContain(platformKey.kid);
    await expect(keys.certificate(A, platformKey.kid)).rejects.toMatchObject({
      code: 'ERR_ENDORSE_KEY_NOT_FOUND',
    });
  });
});
