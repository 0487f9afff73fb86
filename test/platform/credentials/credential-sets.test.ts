// Credential sets on SQLite and PostgreSQL. The threats: a secret leaving the platform (in a view,
// an error, the audit log or the database in clear), one operator reaching another's set (listing,
// changing or — on the entry points' hot path — resolving it, also through a hostile `#{imsi}`
// reference or IMSI), and a changed or deleted set still being used from the cache.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { SimtrustError } from '../../../src/lib/errors.js';
import {
  CredentialService,
  credentialsIdFor,
  isCredentialsReference,
} from '../../../src/platform/credentials/credential-sets.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { issueTlsIdentity, type TlsIdentity } from '../../servers/esim/tls-fixtures.js';

const A = 'OP0000000001';
const B = 'OP0000000002';
const ctxA = systemContext(A, 'Credential:test', 'test');
const ctxB = systemContext(B, 'Credential:test', 'test');
const T0 = Date.UTC(2026, 5, 1);

let db: TestDatabase;
let keyRing: KeyRing;
let clock: ManualClock;
let service: CredentialService;
let identity: TlsIdentity;
let other: TlsIdentity;

beforeAll(async () => {
  db = await openTestDatabase();
  keyRing = await KeyRing.open(db.store, randomBytes(32));
  clock = new ManualClock(T0);
  service = new CredentialService(db.store, keyRing, clock);
  identity = await issueTlsIdentity('device-1');
  other = await issueTlsIdentity('someone-else');
});
afterAll(async () => {
  await service.drained();
  await db.cleanup();
});

/** Every code path's error: a SimtrustError with `code`. */
async function refused(promise: Promise<unknown>, code: string): Promise<SimtrustError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(SimtrustError);
  expect((error as SimtrustError).code).toBe(code);
  return error as SimtrustError;
}

const expectNoSecret = (value: unknown, secrets: readonly string[]) => {
  const text = JSON.stringify(value);
  for (const s of secrets) expect(text.includes(s), `leaks ${s.slice(0, 20)}`).toBe(false);
};

describe('the API side: create, list, update, delete', () => {
  it('creates each required type and shows no secret in the view, the row or the audit log', async () => {
    const psk = `psk-${randomBytes(12).toString('hex')}`;
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const token = `tok-${randomBytes(12).toString('hex')}`;
    const views = [
      await service.create(ctxA, 'beam-psk', {
        type: 'psk',
        description: 'signing',
        credentials: { key: psk },
      }),
      await service.create(ctxA, 'mqtt-login', {
        type: 'username-password-credentials',
        credentials: { username: 'device-user', password },
      }),
      await service.create(ctxA, 'api', { type: 'api-token-credentials', credentials: { token } }),
      await service.create(ctxA, 'client-cert', {
        type: 'x509',
        credentials: { cert: identity.certificatePem, key: identity.keyPem, ca: other.certificatePem },
      }),
      await service.create(ctxA, 'signer', {
        type: 'private-key-pem',
        credentials: { privateKey: identity.keyPem },
      }),
    ];
    const secrets = [
      psk,
      password,
      token,
      identity.keyPem.split('\n')[1]!,
      identity.certificatePem.split('\n')[1]!,
    ];
    expectNoSecret(views, secrets);
    expect(views[0]).toEqual({
      credentialsId: 'beam-psk',
      type: 'psk',
      description: 'signing',
      credentials: {},
      createDateTime: T0,
      updateDateTime: T0,
    });
    // The user name is not a secret and tells two sets apart; the password is.
    expect(views[1]?.credentials).toEqual({ username: 'device-user' });
    expect(views[3]?.credentials).toEqual({});

    const listed = await service.list(A);
    expect(listed.map((v) => v.credentialsId)).toEqual([
      'api',
      'beam-psk',
      'client-cert',
      'mqtt-login',
      'signer',
    ]);
    expectNoSecret(listed, secrets);

    const rows = await db.store.db.selectFrom('credential_sets').selectAll().execute();
    expectNoSecret(rows, secrets);
    const audit = await db.store.db
      .selectFrom('audit_logs')
      .selectAll()
      .where('operator_id', '=', A)
      .execute();
    expect(audit.length).toBeGreaterThanOrEqual(5);
    expectNoSecret(audit, secrets);
  });

  it('keeps tenants apart: B neither lists, reads, changes nor deletes A’s set, and may use the same id', async () => {
    expect(await service.list(B)).toEqual([]);
    await refused(service.get(B, 'beam-psk'), 'ERR_CREDENTIALS_NOT_FOUND');
    await refused(service.update(ctxB, 'beam-psk', { description: 'mine now' }), 'ERR_CREDENTIALS_NOT_FOUND');
    await refused(service.delete(ctxB, 'beam-psk'), 'ERR_CREDENTIALS_NOT_FOUND');
    await service.create(ctxB, 'beam-psk', { type: 'psk', credentials: { key: 'b-key' } });
    expect((await service.get(A, 'beam-psk')).description).toBe('signing');
    expect((await service.resolve(B, 'beam-psk', { imsi: '001010000000001' })) as unknown).toEqual({
      type: 'psk',
      key: 'b-key',
    });
    await service.delete(ctxB, 'beam-psk');
  });

  it('a sealed value copied to another row or operator does not open', async () => {
    await service.create(ctxB, 'copy-target', { type: 'psk', credentials: { key: 'b-own-key' } });
    const source = await db.store.db
      .selectFrom('credential_sets')
      .select('credentials')
      .where('operator_id', '=', A)
      .where('credentials_id', '=', 'beam-psk')
      .executeTakeFirstOrThrow();
    await db.store.db
      .updateTable('credential_sets')
      .set({ credentials: source.credentials })
      .where('operator_id', '=', B)
      .where('credentials_id', '=', 'copy-target')
      .execute();
    const fresh = new CredentialService(db.store, keyRing, clock);
    const error = await refused(fresh.resolve(B, 'copy-target', { imsi: '001010000000001' }), 'ERR_DECRYPT');
    expect(error.message).not.toContain('psk-');
    await service.delete(ctxB, 'copy-target');
  });

  it('refuses a second set with the same id, also when two creates race', async () => {
    await refused(
      service.create(ctxA, 'beam-psk', { type: 'psk', credentials: { key: 'again' } }),
      'ERR_CREDENTIALS_EXISTS',
    );
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        service.create(ctxA, 'raced', { type: 'psk', credentials: { key: `k${i}` } }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes)
      if (o.status === 'rejected') expect((o.reason as SimtrustError).code).toBe('ERR_CREDENTIALS_EXISTS');
    await service.delete(ctxA, 'raced');
  });

  it('validates each type with an error naming the field and never the value', async () => {
    const secret = `hush-${randomBytes(8).toString('hex')}`;
    const cases: Array<[string, { type: string; credentials: Record<string, unknown> }, string]> = [
      ['no such type', { type: 'magic', credentials: { key: secret } }, 'type'],
      ['unknown field', { type: 'psk', credentials: { key: secret, extra: secret } }, 'credentials'],
      [
        'missing field',
        { type: 'username-password-credentials', credentials: { username: secret } },
        'password',
      ],
      ['empty value', { type: 'psk', credentials: { key: '' } }, 'key'],
      ['not text', { type: 'psk', credentials: { key: 42 } }, 'key'],
      ['too long', { type: 'api-token-credentials', credentials: { token: 'x'.repeat(4097) } }, 'token'],
      ['not PEM', { type: 'x509', credentials: { cert: secret, key: identity.keyPem } }, 'cert'],
      [
        'key in the cert field',
        { type: 'x509', credentials: { cert: identity.keyPem, key: identity.keyPem } },
        'cert',
      ],
      [
        'garbage certificate',
        {
          type: 'x509',
          credentials: {
            cert: `-----BEGIN CERTIFICATE-----\n${Buffer.from(secret).toString('base64')}\n-----END CERTIFICATE-----\n`,
            key: identity.keyPem,
          },
        },
        'cert',
      ],
      [
        'text around the PEM',
        {
          type: 'x509',
          credentials: { cert: `${secret}\n${identity.certificatePem}`, key: identity.keyPem },
        },
        'cert',
      ],
      [
        'key of another certificate',
        { type: 'x509', credentials: { cert: identity.certificatePem, key: other.keyPem } },
        'key',
      ],
      [
        'encrypted key',
        {
          type: 'private-key-pem',
          credentials: {
            privateKey: `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${Buffer.from(secret).toString('base64')}\n-----END ENCRYPTED PRIVATE KEY-----\n`,
          },
        },
        'privateKey',
      ],
      [
        'unreadable key',
        {
          type: 'private-key-pem',
          credentials: {
            privateKey: `-----BEGIN PRIVATE KEY-----\n${Buffer.from(secret).toString('base64')}\n-----END PRIVATE KEY-----\n`,
          },
        },
        'privateKey',
      ],
      [
        'two keys',
        { type: 'private-key-pem', credentials: { privateKey: identity.keyPem + other.keyPem } },
        'privateKey',
      ],
      [
        'bad CA',
        { type: 'x509', credentials: { cert: identity.certificatePem, key: identity.keyPem, ca: secret } },
        'ca',
      ],
    ];
    for (const [label, input, field] of cases) {
      const error = await refused(service.create(ctxA, 'refused-set', input), 'ERR_CREDENTIALS_INVALID');
      expect(error.details?.field, label).toBe(field);
      expect(error.message.includes(secret), `${label}: ${error.message}`).toBe(false);
      expect(error.message.includes('MII'), `${label}: ${error.message}`).toBe(false);
    }
    await refused(
      service.create(ctxA, '../etc', { type: 'psk', credentials: { key: 'k' } }),
      'ERR_CREDENTIALS_INVALID',
    );
    await refused(
      service.create(ctxA, 'device-#{imsi}', { type: 'psk', credentials: { key: 'k' } }),
      'ERR_CREDENTIALS_INVALID',
    );
    expect((await service.list(A)).some((v) => v.credentialsId === 'refused-set')).toBe(false);
  });

  it('updates the description alone, replaces the credentials, and needs credentials for a new type', async () => {
    clock.advance(1000);
    const described = await service.update(ctxA, 'mqtt-login', { description: 'broker login' });
    expect(described).toMatchObject({
      description: 'broker login',
      credentials: { username: 'device-user' },
    });
    expect(described.updateDateTime).toBe(T0 + 1000);
    expect(described.createDateTime).toBe(T0);
    await refused(service.update(ctxA, 'mqtt-login', { type: 'psk' }), 'ERR_CREDENTIALS_INVALID');
    await refused(service.update(ctxA, 'mqtt-login', {}), 'ERR_CREDENTIALS_INVALID');
    const retyped = await service.update(ctxA, 'mqtt-login', {
      type: 'psk',
      credentials: { key: 'now-a-psk' },
    });
    expect(retyped).toMatchObject({ type: 'psk', credentials: {}, description: 'broker login' });
    expect((await service.resolve(A, 'mqtt-login', { imsi: '001010000000001' })) as unknown).toEqual({
      type: 'psk',
      key: 'now-a-psk',
    });
  });
});

describe('resolve: the entry points’ hot path', () => {
  it('returns the decrypted set by type, frozen', async () => {
    const x509 = await service.resolve(A, 'client-cert', { imsi: '001010000000001' });
    expect(x509).toEqual({
      type: 'x509',
      cert: identity.certificatePem,
      key: identity.keyPem,
      ca: other.certificatePem,
    });
    expect(Object.isFrozen(x509)).toBe(true);
    const login = await service.resolve(A, 'api', { imsi: '001010000000001' });
    expect(login.type).toBe('api-token-credentials');
  });

  it('puts the SIM’s IMSI for #{imsi} and finds only that SIM’s set', async () => {
    await service.create(ctxA, 'device-001010000000001', { type: 'psk', credentials: { key: 'sim-1' } });
    await service.create(ctxA, 'device-001010000000002', { type: 'psk', credentials: { key: 'sim-2' } });
    expect(await service.resolve(A, 'device-#{imsi}', { imsi: '001010000000001' })).toEqual({
      type: 'psk',
      key: 'sim-1',
    });
    expect(await service.resolve(A, 'device-#{imsi}', { imsi: '001010000000002' })).toEqual({
      type: 'psk',
      key: 'sim-2',
    });
    const missing = await refused(
      service.resolve(A, 'device-#{imsi}', { imsi: '001010000000003' }),
      'ERR_CREDENTIALS_NOT_FOUND',
    );
    expect(missing.message).toContain('device-001010000000003');
    await refused(service.resolve(A, 'device-#{imsi}', { imsi: '../beam-psk' }), 'ERR_CREDENTIALS_NOT_FOUND');
    await refused(
      service.resolve(B, 'device-#{imsi}', { imsi: '001010000000001' }),
      'ERR_CREDENTIALS_NOT_FOUND',
    );
  });

  it('sees a change or a deletion made in this process at once', async () => {
    await service.create(ctxA, 'rotating', { type: 'psk', credentials: { key: 'v1' } });
    expect(await service.resolve(A, 'rotating', { imsi: '001010000000001' })).toMatchObject({ key: 'v1' });
    await service.update(ctxA, 'rotating', { credentials: { key: 'v2' } });
    expect(await service.resolve(A, 'rotating', { imsi: '001010000000001' })).toMatchObject({ key: 'v2' });
    await service.delete(ctxA, 'rotating');
    await refused(service.resolve(A, 'rotating', { imsi: '001010000000001' }), 'ERR_CREDENTIALS_NOT_FOUND');
    // A miss is cached too; creating the set ends it.
    await service.create(ctxA, 'rotating', { type: 'psk', credentials: { key: 'v3' } });
    expect(await service.resolve(A, 'rotating', { imsi: '001010000000001' })).toMatchObject({ key: 'v3' });
  });

  it('another instance serves its cached copy for at most the cache lifetime', async () => {
    const elsewhere = new CredentialService(db.store, keyRing, clock, { cacheMs: 30_000 });
    expect(await elsewhere.resolve(A, 'rotating', { imsi: '001010000000001' })).toMatchObject({ key: 'v3' });
    await service.update(ctxA, 'rotating', { credentials: { key: 'v4' } });
    expect(await elsewhere.resolve(A, 'rotating', { imsi: '001010000000001' })).toMatchObject({ key: 'v3' });
    clock.advance(30_000);
    expect(await elsewhere.resolve(A, 'rotating', { imsi: '001010000000001' })).toMatchObject({ key: 'v4' });
    await elsewhere.drained();
  });

  it('keeps at most cacheEntries sets in memory', async () => {
    const small = new CredentialService(db.store, keyRing, clock, { cacheEntries: 2 });
    for (const id of ['api', 'beam-psk', 'signer', 'client-cert'])
      await small.resolve(A, id, { imsi: '001010000000001' });
    expect((small as unknown as { cache: Map<string, unknown> }).cache.size).toBe(2);
    await small.drained();
  });

  it('writes lastUsedDateTime at most once a minute per set', async () => {
    const lastUsed = async () => (await service.get(A, 'signer')).lastUsedDateTime;
    clock.set(T0 + 10 * 60_000);
    const first = clock.now();
    await service.resolve(A, 'signer', { imsi: '001010000000001' });
    await service.drained();
    expect(await lastUsed()).toBe(first);
    clock.advance(59_000);
    await service.resolve(A, 'signer', { imsi: '001010000000001' });
    await service.drained();
    expect(await lastUsed()).toBe(first);
    clock.advance(1_000);
    await service.resolve(A, 'signer', { imsi: '001010000000001' });
    await service.drained();
    expect(await lastUsed()).toBe(first + 60_000);
    // Another instance that used it within the minute does not write again.
    const elsewhere = new CredentialService(db.store, keyRing, clock);
    clock.advance(30_000);
    await elsewhere.resolve(A, 'signer', { imsi: '001010000000001' });
    await elsewhere.drained();
    expect(await lastUsed()).toBe(first + 60_000);
  });

  it('many devices asking at once cost one load', async () => {
    const fresh = new CredentialService(db.store, keyRing, clock);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => fresh.resolve(A, 'beam-psk', { imsi: '001010000000001' })),
    );
    expect(new Set(results).size).toBe(1);
    await fresh.drained();
  });

  it('property: hostile references and IMSIs resolve only the exact id they name, of the caller’s operator', async () => {
    // Sets of B that a confused substitution could reach.
    await service.create(ctxB, 'device-001010000000001', { type: 'psk', credentials: { key: 'b-sim-1' } });
    await service.create(ctxB, 'b-only', { type: 'psk', credentials: { key: 'b-only' } });
    const ids = new Map<string, string>(
      (await service.list(A)).map((v) => [v.credentialsId, v.type] as [string, string]),
    );
    const fragments = fc.constantFrom(
      '#{imsi}',
      '#{IMSI}',
      '#{imei}',
      '#{',
      '}',
      'device-',
      'b-only',
      'beam-psk',
      '/',
      '..',
      '%2e',
      '\u0000',
      ':',
      'OP0000000002',
      '"',
      '\n',
    );
    const reference = fc.oneof(
      fc.array(fc.oneof(fragments, fc.string({ maxLength: 4 })), { maxLength: 5 }).map((p) => p.join('')),
      fc.constantFrom(...ids.keys(), 'device-#{imsi}'),
    );
    const imsi = fc.oneof(
      fc.constantFrom('001010000000001', '001010000000002', '', '0', '../b-only', '001010000000001/', '1e5'),
      fc.string({ maxLength: 20 }),
      fc.stringMatching(/^[0-9]{1,16}$/),
    );
    await fc.assert(
      fc.asyncProperty(reference, imsi, async (ref, simImsi) => {
        const expectedId = credentialsIdFor(ref, simImsi);
        try {
          const resolved = await service.resolve(A, ref, { imsi: simImsi });
          // Only ever the set the substitution names exactly, and one of A's.
          expect(expectedId).toBeDefined();
          expect(ids.has(expectedId!)).toBe(true);
          expect(resolved.type).toBe(ids.get(expectedId!));
          expect(JSON.stringify(resolved).includes('b-')).toBe(false);
          if (ref.includes('#{imsi}')) expect(expectedId).toBe(ref.replaceAll('#{imsi}', simImsi));
          else expect(expectedId).toBe(ref);
        } catch (e) {
          expect((e as SimtrustError).code).toBe('ERR_CREDENTIALS_NOT_FOUND');
          if (expectedId !== undefined) expect(ids.has(expectedId)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('accepts as a group-configuration reference exactly what can name a set', () => {
    expect(isCredentialsReference('device-#{imsi}')).toBe(true);
    expect(isCredentialsReference('beam-psk')).toBe(true);
    expect(isCredentialsReference('#{imsi}')).toBe(true);
    expect(isCredentialsReference('device-#{imei}')).toBe(false);
    expect(isCredentialsReference('../x')).toBe(false);
    expect(isCredentialsReference('')).toBe(false);
    expect(credentialsIdFor('a-#{imsi}-#{imsi}', '001010000000001')).toBe(
      'a-001010000000001-001010000000001',
    );
  });
});
