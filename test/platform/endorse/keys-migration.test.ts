// Issue 11: migration 0007 moves the platform-wide signing keys of issue 6 to the operator that used
// them (the oldest operator with Endorse enabled on a group, else the oldest operator), and the
// platform reseals them under that operator when it first reads them. Every other operator gets
// fresh keys of its own.

import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { Migrator, sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { publicJwk } from '../../../src/platform/endorse/rfc-7515-jws.js';
import { compatKidOf, SigningKeys } from '../../../src/platform/endorse/signing-keys.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import {
  migrateToLatest,
  openStore,
  parsePostgresUrl,
  type Store,
} from '../../../src/platform/store/database.js';
import { migrationProvider } from '../../../src/platform/store/migrations.js';
import { freshDatabaseUrl, testDialect } from '../../helpers/database.js';

const T0 = Date.UTC(2026, 0, 1);
const opened: Array<{ store: Store; drop: () => Promise<void> }> = [];

afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.store.close();
    await o.drop();
  }
});

/** A store migrated up to issue 6's schema (0006), as a site upgrading to issue 11 has it. */
async function storeBefore0007(): Promise<Store> {
  const { url, drop } = freshDatabaseUrl();
  if (testDialect === 'postgres') {
    const { connectionString, schema } = parsePostgresUrl(url);
    const admin = new pg.Client({ connectionString });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`).finally(() => admin.end());
  }
  const store = await openStore(url, { migrate: false });
  opened.push({ store, drop });
  const migrator = new Migrator({
    db: store.db,
    provider: migrationProvider(store.dialect),
    ...(store.schema ? { migrationTableSchema: store.schema } : {}),
  });
  const { error } = await migrator.migrateTo('0006-mfa-gateway');
  if (error) throw error;
  return store;
}

async function addOperator(store: Store, operatorId: string, createdAt: number, endorse?: boolean) {
  await sql`insert into operators (operator_id, email, password_hash, created_at, updated_at)
    values (${operatorId}, ${`${operatorId}@example.com`}, 'x', ${createdAt}, ${createdAt})`.execute(
    store.db,
  );
  if (endorse === undefined) return;
  const groupId = `g-${operatorId}`;
  await sql`insert into groups (group_id, operator_id, created_at, updated_at)
    values (${groupId}, ${operatorId}, ${createdAt}, ${createdAt})`.execute(store.db);
  await sql`insert into group_configuration (group_id, namespace, key, value)
    values (${groupId}, 'Endorse', 'enabled', ${JSON.stringify(endorse)})`.execute(store.db);
}

/** An ES256 key as issue 6 stored it: no operator, sealed under `endorse-signing-key:<kid>`. */
async function legacyKey(store: Store, keyRing: KeyRing): Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `legacy-${randomBytes(6).toString('hex')}`;
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  await sql`insert into endorse_signing_keys
      (kid, compat_kid, alg, public_jwk, certificate, private_key, created_at, activates_at, unpublish_at)
    values (${kid}, ${compatKidOf(kid)}, 'ES256', ${JSON.stringify(publicJwk(publicKey))},
      '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----',
      ${keyRing.seal(pkcs8, `endorse-signing-key:${kid}`)}, ${T0}, ${T0}, null)`.execute(store.db);
  return kid;
}

const owners = async (store: Store) =>
  (
    await store.db.selectFrom('endorse_signing_keys').select(['kid', 'operator_id', 'seal_version']).execute()
  ).map((r) => ({ ...r, seal_version: Number(r.seal_version) }));

describe('issue 11: migration 0007 assigns the shared keys to one operator', () => {
  it('gives them to the oldest operator with Endorse enabled; the others get fresh keys', async () => {
    const store = await storeBefore0007();
    const keyRing = await KeyRing.open(store, randomBytes(32));
    await addOperator(store, 'OP0000000001', T0 - 3000); // oldest, no Endorse
    await addOperator(store, 'OP0000000002', T0 - 2000, false); // Endorse configured but off
    await addOperator(store, 'OP0000000003', T0 - 1000, true); // the one that issued tokens
    await addOperator(store, 'OP0000000004', T0, true);
    const kid = await legacyKey(store, keyRing);

    await migrateToLatest(store);
    expect(await owners(store)).toEqual([{ kid, operator_id: 'OP0000000003', seal_version: 1 }]);

    const keys = new SigningKeys(store, keyRing, new ManualClock(T0 + 1000), {
      publishLeadMs: 600_000,
      rotationMs: 0,
    });
    // The owner keeps signing with the same key, so its verifiers' cached JWKS stay valid…
    const current = await keys.current('OP0000000003', 'ES256');
    expect(current.kid).toBe(kid);
    expect(createPublicKey(current.privateKey).asymmetricKeyType).toBe('ec');
    // …and the key is now sealed under its operator: the old context no longer opens it.
    const row = (await owners(store)).find((r) => r.kid === kid);
    expect(row?.seal_version).toBe(2);
    const sealed = await store.db
      .selectFrom('endorse_signing_keys')
      .select('private_key')
      .where('kid', '=', kid)
      .executeTakeFirstOrThrow();
    expect(keyRing.tryOpen(sealed.private_key, `endorse-signing-key:${kid}`)).toBeUndefined();
    expect(keyRing.tryOpen(sealed.private_key, `endorse-signing-key:OP0000000003:${kid}`)).toBeDefined();
    // Every other operator signs and publishes keys of its own.
    for (const other of ['OP0000000001', 'OP0000000002', 'OP0000000004']) {
      expect((await keys.current(other, 'ES256')).kid).not.toBe(kid);
      expect((await keys.jwks(other)).keys.map((k) => k.kid)).not.toContain(kid);
    }
    expect((await keys.jwks('OP0000000003')).keys.map((k) => k.kid)).toContain(kid);
  });

  it('gives them to the oldest operator when none has Endorse enabled', async () => {
    const store = await storeBefore0007();
    const keyRing = await KeyRing.open(store, randomBytes(32));
    await addOperator(store, 'OP0000000009', T0);
    await addOperator(store, 'OP0000000008', T0 - 1000);
    const kid = await legacyKey(store, keyRing);
    await migrateToLatest(store);
    expect(await owners(store)).toEqual([{ kid, operator_id: 'OP0000000008', seal_version: 1 }]);
  });

  it('drops them on a site without operators (nothing can have been signed for anyone)', async () => {
    const store = await storeBefore0007();
    const keyRing = await KeyRing.open(store, randomBytes(32));
    await legacyKey(store, keyRing);
    await migrateToLatest(store);
    expect(await owners(store)).toEqual([]);
  });
});
