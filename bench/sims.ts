// npm run bench -- sims [--count N] [--db sqlite|postgres]
//
// 1. Import of N SIMs (default 1,000,000) through the platform's CSV importer — parsing, validation,
//    Luhn checks, duplicate detection and Ki/OPc envelope encryption — against a raw batched INSERT
//    of the same rows (same tables, plaintext keys, no checks) on the same database in the same run.
//    Target: ≥ 50% of the raw rate.
// 2. GET /v1/sims?limit=100 on that N-SIM database from a separate server process: the maximum req/s
//    (10 connections) and p50/p99 at half that rate, for several filters, page 1 against page 5,000
//    (keyset), and the ratio to a trivial authenticated route (GET /v1/auth/session) on the same
//    server. Target: p99 ≤ 20 ms on SQLite.

import { randomBytes } from 'node:crypto';
import type { Store } from '../src/platform/store/database.js';
import {
  BATCH,
  type BenchDialect,
  batchRows,
  flag,
  fmt,
  freshDatabase,
  groupOf,
  importBenchSims,
  loadProfile,
  p99Cell,
  prepareBenchOperator,
  startServer,
  table,
} from './_support.js';

async function rawInsert(store: Store, operatorId: string, groupId: string, count: number): Promise<number> {
  const started = performance.now();
  for (let start = 0; start < count; start += BATCH) {
    const rows = batchRows(start, Math.min(BATCH, count - start));
    const now = Date.now();
    await store.transaction(async (trx) => {
      await trx
        .insertInto('sims')
        .values(
          rows.map((r, j) => ({
            sim_id: r.iccid,
            operator_id: operatorId,
            type: 'uicc',
            status: 'ready',
            speed_class: 's1.standard',
            group_id: groupOf(start + j) ? groupId : null,
            imei_lock: null,
            imei_lock_anonymous: 0,
            termination_enabled: 0,
            serial_number: null,
            created_at: now,
            updated_at: now,
          })),
        )
        .execute();
      await trx
        .insertInto('sim_profiles')
        .values(
          rows.map((r) => ({
            iccid: r.iccid,
            sim_id: r.iccid,
            operator_id: operatorId,
            imsi: r.imsi,
            msisdn: null,
            secrets: r.ki + r.opc,
            amf: '8000',
            sqn: 0,
            ind_bits: 5,
            is_primary: 1,
            created_at: now,
          })),
        )
        .execute();
      await trx
        .insertInto('sim_tags')
        .values(
          rows.map((r, j) => ({
            sim_id: r.iccid,
            name: 'batch',
            value: String((start + j) % 10),
            operator_id: operatorId,
          })),
        )
        .execute();
      await trx
        .insertInto('sim_status_history')
        .values(
          rows.map((r) => ({
            sim_id: r.iccid,
            operator_id: operatorId,
            previous_status: null,
            status: 'ready',
            operation: 'Sim:importSims',
            actor: 'bench',
            at: now,
          })),
        )
        .execute();
    });
  }
  return count / ((performance.now() - started) / 1000);
}

async function benchDatabase(dialect: BenchDialect, count: number) {
  const masterKey = randomBytes(32);
  console.log(`\n-- ${dialect}: ${fmt(count)} SIMs`);

  // Raw reference: same rows, same tables, plaintext, no checks.
  const rawDb = await freshDatabase(dialect);
  const raw = await prepareBenchOperator(rawDb.url, masterKey);
  const rawRate = await rawInsert(raw.store, raw.operatorId, raw.groupId, count);
  await raw.store.close();
  await rawDb.drop();
  console.log(`raw batched INSERT: ${fmt(rawRate)} SIMs/s`);

  const db = await freshDatabase(dialect);
  const p = await prepareBenchOperator(db.url, masterKey);
  const importRate = await importBenchSims(p, count);
  console.log(
    `platform import:    ${fmt(importRate)} SIMs/s = ${fmt((100 * importRate) / rawRate, 1)}% of raw (target ≥ 50%)`,
  );

  // Listing, from a separate server process on the same database.
  const deepKey = await p.store.db
    .selectFrom('sims')
    .select('sim_id')
    .orderBy('sim_id')
    .offset(Math.min(4999 * 100, count - 101) - 1)
    .limit(1)
    .executeTakeFirstOrThrow();
  const groupDeepKey = await p.store.db
    .selectFrom('sims')
    .select('sim_id')
    .where('group_id', '=', p.groupId)
    .orderBy('sim_id')
    .offset(Math.min(1999 * 100, Math.floor(count / 4) - 101) - 1)
    .limit(1)
    .executeTakeFirstOrThrow();
  await p.store.close();

  const server = await startServer({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: masterKey.toString('base64'),
  });
  try {
    const auth = (await (
      await fetch(`${server.url}/v1/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: p.email, password: p.password }),
      })
    ).json()) as { token: string };
    const headers = { authorization: `Bearer ${auth.token}` };
    const cases: Array<[string, string]> = [
      ['trivial authenticated route (reference)', '/v1/auth/session'],
      ['list, no filter, page 1', '/v1/sims?limit=100'],
      ['list, no filter, page 5,000', `/v1/sims?limit=100&last_evaluated_key=${deepKey.sim_id}`],
      ['list, group filter, page 1', `/v1/sims?limit=100&group_id=${p.groupId}`],
      [
        'list, group filter, page 2,000',
        `/v1/sims?limit=100&group_id=${p.groupId}&last_evaluated_key=${groupDeepKey.sim_id}`,
      ],
      ['list, tag batch=7, page 1', '/v1/sims?limit=100&tag_name=batch&tag_value=7'],
      ['list, status ready + group, page 1', `/v1/sims?limit=100&status_filter=ready&group_id=${p.groupId}`],
    ];
    const rows: Array<Record<string, string | number>> = [];
    let reference = 0;
    for (const [name, path] of cases) {
      const r = await loadProfile(`${server.url}${path}`, headers);
      if (reference === 0) reference = r.maxRps;
      rows.push({
        case: name,
        'max req/s': fmt(r.maxRps),
        'p50 ms @½max': r.p50,
        'p99 ms @½max': p99Cell(r),
        'vs trivial': `${fmt((100 * r.maxRps) / reference, 1)}%`,
        errors: r.errors,
      });
    }
    table(rows);
  } finally {
    await server.stop();
    await db.drop();
  }
  return { dialect, rawRate, importRate };
}

export async function run(args: string[]): Promise<void> {
  const count = Number(flag(args, '--count') ?? 1_000_000);
  const only = flag(args, '--db') as BenchDialect | undefined;
  const dialects: BenchDialect[] = only ? [only] : ['sqlite', 'postgres'];
  const results = [];
  for (const dialect of dialects) results.push(await benchDatabase(dialect, count));
  console.log('\nimport summary');
  table(
    results.map((r) => ({
      database: r.dialect,
      'raw SIMs/s': fmt(r.rawRate),
      'import SIMs/s': fmt(r.importRate),
      'import / raw': `${fmt((100 * r.importRate) / r.rawRate, 1)}%`,
    })),
  );
}
