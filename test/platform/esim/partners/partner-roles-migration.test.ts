// Migration 0019-esim-partner-roles on both databases: the partners a site registered before it keep
// their rows (SQLite rebuilds the table), and afterwards one certificate may be registered in a
// second role at its endpoint — while a second partner in the same role still may not have it.
// Threat: an upgrade that drops or duplicates partners (a listener admitting nobody, or two parties
// behind one certificate in one role).

import { Migrator } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../../src/lib/clock.js';
import { SimtrustError } from '../../../../src/lib/errors.js';
import { EsimPartners } from '../../../../src/platform/esim/partners/partners-registry.js';
import {
  migrateToLatest,
  openStore,
  parsePostgresUrl,
  type Store,
} from '../../../../src/platform/store/database.js';
import { MIGRATIONS, migrationProvider } from '../../../../src/platform/store/migrations.js';
import { freshDatabaseUrl, testDialect } from '../../../helpers/database.js';
import { issueTlsIdentity } from '../../../servers/esim/tls-fixtures.js';

const OP = 'OP0000000001';
const SMSR = '1.3.6.1.4.1.99999.1.2';
const MNO = '1.3.6.1.4.1.99999.3.1';
const opened: Array<{ store: Store; drop: () => Promise<void> }> = [];

afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.store.close();
    await o.drop();
  }
});

/** A store migrated up to the migration before 0019, as a site upgrading has it. */
async function storeBefore0019(): Promise<Store> {
  const { url, drop } = freshDatabaseUrl();
  if (testDialect === 'postgres') {
    const { connectionString, schema } = parsePostgresUrl(url);
    const admin = new pg.Client({ connectionString });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`).finally(() => admin.end());
  }
  const store = await openStore(url, { migrate: false });
  opened.push({ store, drop });
  const index = MIGRATIONS.findIndex(([name]) => name === '0019-esim-partner-roles');
  const before = MIGRATIONS[index - 1]?.[0];
  if (before === undefined) throw new Error('no migration before 0019');
  const migrator = new Migrator({
    db: store.db,
    provider: migrationProvider(store.dialect),
    ...(store.schema ? { migrationTableSchema: store.schema } : {}),
  });
  const { error } = await migrator.migrateTo(before);
  if (error) throw error;
  return store;
}

describe(`migration 0019-esim-partner-roles (${testDialect})`, () => {
  it('keeps the registered partners; then one certificate may take a second role at its endpoint, not a second entity in a role', async () => {
    const store = await storeBefore0019();
    const partners = new EsimPartners(store, systemClock);
    const deployment = await issueTlsIdentity('deployment.other');
    const endpoint = 'https://other.example.test:8443/esim/soap';
    const sr = await partners.add({
      operatorId: OP,
      entityId: SMSR,
      role: 'sm-sr',
      endpoint,
      certificatePem: deployment.certificatePem,
    });
    // Before: the same certificate in another role is refused by the old constraint's check.
    await expect(
      partners.add({
        operatorId: OP,
        entityId: MNO,
        role: 'operator',
        endpoint,
        certificatePem: deployment.certificatePem,
      }),
    ).rejects.toBeInstanceOf(SimtrustError);

    await migrateToLatest(store);
    expect(await partners.list(OP)).toEqual([sr]);
    const op = await partners.add({
      operatorId: OP,
      entityId: MNO,
      role: 'operator',
      endpoint,
      certificatePem: deployment.certificatePem,
    });
    expect(op.fingerprint).toBe(sr.fingerprint);
    expect((await partners.list(OP)).map((p) => p.role)).toEqual(['sm-sr', 'operator']);
    // The database itself still refuses a second partner with this certificate in a role.
    await expect(
      store.db
        .insertInto('esim_partners')
        .values({
          partner_id: 'EP-0000000000000001',
          operator_id: OP,
          entity_id: '1.3.6.1.4.1.99999.3.2',
          role: 'operator',
          endpoint,
          certificate: op.certificate,
          fingerprint: op.fingerprint,
          not_after: op.notAfter,
          created_at: 0,
        })
        .execute(),
    ).rejects.toThrow(/unique|duplicate/i);
  });
});
