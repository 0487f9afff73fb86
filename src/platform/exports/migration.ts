// Migration 0022 (issue 17, reused by issue 19): exported files — one row per export job (SORACOM's
// exportedFileId), its kind and parameters (so an export a crashed process left half-done is run
// again by another), its state, the file's name and size once written (dataDir/exports), the hash of
// the current download token, and when the row and file go. Registered in store/migrations.ts.

import type { Kysely } from 'kysely';
import type { Dialect } from '../store/database.js';

export async function exportsMigration(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('exported_files')
    .addColumn('file_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    // e.g. beam-stats, funnel-stats, funk-stats (exports/export-service.ts registry)
    .addColumn('kind', 'text', (c) => c.notNull())
    // JSON of the kind's parameters (from, to, period)
    .addColumn('params', 'text', (c) => c.notNull())
    // processing | exported | failed
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('file_name', 'text', (c) => c.notNull())
    .addColumn('rows', 'bigint')
    .addColumn('bytes', 'bigint')
    .addColumn('error', 'text')
    // A process working on it holds it until then; later, another may take it over.
    .addColumn('claimed_until', 'bigint')
    .addColumn('download_token_hash', 'text')
    .addColumn('download_expires_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createIndex('exported_files_operator')
    .on('exported_files')
    .columns(['operator_id', 'created_at'])
    .execute();
  await s
    .createIndex('exported_files_claim')
    .on('exported_files')
    .columns(['status', 'claimed_until'])
    .execute();
  await s.createIndex('exported_files_expiry').on('exported_files').columns(['expires_at']).execute();
}
