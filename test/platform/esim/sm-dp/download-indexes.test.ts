// The SM-DP's look-ups before a download starts go through an index on both databases. Threat: with
// every download ever made in the table, ES2.DownloadProfile's "was this ICCID downloaded" check read
// every successful download (the status index) — each new download slower than the last.

import { CompiledQuery, sql } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../../../helpers/database.js';

let db: TestDatabase;
beforeEach(async () => {
  db = await openTestDatabase();
});
afterEach(() => db.cleanup());

it("DownloadProfile's check of an ICCID already downloaded uses the ICCID index", async () => {
  const store = db.store;
  const q = store.db
    .selectFrom('esim_dp_downloads')
    .select('download_id')
    .where('iccid', '=', '8944007720000000017')
    .where('status', 'in', ['EXECUTED_SUCCESS', 'EXECUTED_WITHWARNING'])
    .compile();
  if (store.dialect === 'sqlite') {
    const plan = await store.db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]),
    );
    expect(plan.rows.map((r) => r.detail).join(' | ')).toContain(
      'USING INDEX esim_dp_downloads_iccid (iccid=?)',
    );
  } else {
    const indexes = await sql<{
      indexdef: string;
    }>`select indexdef from pg_indexes where tablename = 'esim_dp_downloads' and schemaname = current_schema()`.execute(
      store.db,
    );
    expect(indexes.rows.map((r) => r.indexdef).join(' | ')).toMatch(/esim_dp_downloads_iccid .*\(iccid\)/);
  }
});
