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
import { Readable } from 'node:stream';
import { systemClock } from '../src/lib/clock.js';
import { luhnCheckDigit } from '../src/lib/luhn.js';
import { createOperator } from '../src/platform/iam/operators.js';
import { systemContext } from '../src/platform/iam/principal.js';
import { KeyRing } from '../src/platform/secrets/key-ring.js';
import { SimImporter } from '../src/platform/sims/csv-import.js';
import { GroupService } from '../src/platform/sims/groups.js';
import { openStore, type Store } from '../src/platform/store/database.js';
import {
  type BenchDialect,
  flag,
  fmt,
  freshDatabase,
  loadProfile,
  p99Cell,
  startServer,
  table,
} from './_support.js';

const BATCH = 1000;

interface Row {
  iccid: string;
  imsi: string;
  ki: string;
  opc: string;
}

/** Deterministic identities, random keys; generated a batch at a time. */
function batchRows(start: number, n: number): Row[] {
  const keys = randomBytes(32 * n).toString('hex');
  const rows: Row[] = [];
  for (let j = 0; j < n; j++) {
    const i = start + j;
    const body = `894410${String(i).padStart(12, '0')}`;
    rows.push({
      iccid: body + luhnCheckDigit(body),
      imsi: `44011${String(i).padStart(10, '0')}`,
      ki: keys.slice(j * 64, j * 64 + 32),
      opc: keys.slice(j * 64 + 32, j * 64 + 64),
    });
  }
  return rows;
}

const groupOf = (i: number) => (i % 4 === 0 ? 'bench-a' : '');
const tagOf = (i: number) => `batch=${i % 10}`;

function csvStream(count: number): Readable {
  let next = 0;
  return new Readable({
    read() {
      if (next === 0) this.push('iccid,imsi,msisdn,ki,opc,group,tags\n');
      if (next >= count) return void this.push(null);
      const n = Math.min(BATCH, count - next);
      const rows = batchRows(next, n);
      this.push(
        `${rows.map((r, j) => `${r.iccid},${r.imsi},,${r.ki},${r.opc},${groupOf(next + j)},${tagOf(next + j)}`).join('\n')}\n`,
      );
      next += n;
    },
  });
}

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

async function prepare(url: string, masterKey: Buffer) {
  const store = await openStore(url, { poolSize: 4 });
  const email = `bench-${randomBytes(3).toString('hex')}@example.com`;
  const password = 'bench-password';
  const operator = await createOperator(store, systemClock, { email, password });
  const groups = new GroupService(store, systemClock);
  const group = await groups.create(systemContext(operator.operatorId, 'Group:createGroup', 'bench'), {
    tags: { name: 'bench-a' },
  });
  const keyRing = await KeyRing.open(store, masterKey);
  return { store, operatorId: operator.operatorId, groupId: group.groupId, keyRing, email, password };
}

async function benchDatabase(dialect: BenchDialect, count: number) {
  const masterKey = randomBytes(32);
  console.log(`\n-- ${dialect}: ${fmt(count)} SIMs`);

  // Raw reference: same rows, same tables, plaintext, no checks.
  const rawDb = await freshDatabase(dialect);
  const raw = await prepare(rawDb.url, masterKey);
  const rawRate = await rawInsert(raw.store, raw.operatorId, raw.groupId, count);
  await raw.store.close();
  await rawDb.drop();
  console.log(`raw batched INSERT: ${fmt(rawRate)} SIMs/s`);

  const db = await freshDatabase(dialect);
  const p = await prepare(db.url, masterKey);
  const importer = new SimImporter(p.store, p.keyRing, systemClock);
  const started = performance.now();
  let lastReport = started;
  const summary = await importer.importCsv(
    systemContext(p.operatorId, 'Sim:importSims', 'bench'),
    csvStream(count),
    {
      onProgress: (progress) => {
        if (performance.now() - lastReport > 5000) {
          lastReport = performance.now();
          process.stdout.write(`  … ${fmt(progress.rows)} rows\n`);
        }
      },
    },
  );
  const importRate = count / ((performance.now() - started) / 1000);
  if (summary.created !== count)
    throw new Error(
      `import created ${summary.created} of ${count}: ${JSON.stringify(summary.errors.slice(0, 3))}`,
    );
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
