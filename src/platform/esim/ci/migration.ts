// Migration 0012-esim-pki (issue 15): the eSIM PKI's tables. Registered in store/migrations.ts.
//
//   esim_cis           CI roots this deployment trusts: the one it created (with its private key,
//                      sealed) and any imported without a key (production: the GSMA CI is external)
//   esim_certificates  certificates the CI and EUMs issued: EUM (X.509, PEM), SM-DP and SM-SR (GP
//                      7F21, hex) with their private keys sealed, and eUICC ECASD certificates (GP,
//                      no private key: that stays on the card)

import type { Kysely } from 'kysely';
import type { Dialect } from '../../store/database.js';

export async function esimPkiMigration(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('esim_cis')
    .addColumn('ci_id', 'text', (c) => c.primaryKey())
    .addColumn('key_id', 'text', (c) => c.notNull().unique())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('certificate', 'text', (c) => c.notNull())
    .addColumn('private_key', 'text')
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('not_before', 'bigint', (c) => c.notNull())
    .addColumn('not_after', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await s
    .createTable('esim_certificates')
    .addColumn('cert_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('certificate', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('issuer_key_id', 'text', (c) => c.notNull())
    .addColumn('serial', 'text', (c) => c.notNull())
    .addColumn('private_key', 'text')
    .addColumn('not_before', 'bigint', (c) => c.notNull())
    .addColumn('not_after', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createIndex('esim_certificates_operator')
    .on('esim_certificates')
    .columns(['operator_id', 'role', 'created_at'])
    .execute();
  await s.createIndex('esim_certificates_subject').on('esim_certificates').columns(['subject']).execute();
}
