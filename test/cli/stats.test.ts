// `simtrust stats beam|funnel|funk get|export` and `simtrust files get-exported` against a running
// server (SQLite or PostgreSQL): a subscriber's usage as a table, the operator's export downloaded to
// a file (sync) or fetched later by its id (async), and usage errors that say what to do.

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/platform/store/database.js';
import { vendorCsv } from '../helpers/app.js';
import { runCli, type ServerProcess, seedOperator, startServeProcess } from '../helpers/cli.js';
import { freshDatabaseUrl, testDialect } from '../helpers/database.js';

let db: { url: string; drop: () => Promise<void> };
let server: ServerProcess;
let env: Record<string, string>;
let dataDir: string;
const sim = vendorCsv(1, { start: 4242 }).rows[0]!;
const DAY0 = Date.UTC(2026, 2, 10);

beforeAll(async () => {
  db = freshDatabaseUrl();
  dataDir = mkdtempSync(join(tmpdir(), 'simtrust-cli-stats-'));
  server = await startServeProcess({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_DATA_DIR: dataDir,
    SIMTRUST_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
  });
  await seedOperator(db.url, 'cli-stats@example.com', 'cli-stats-password');
  env = {
    SIMTRUST_ENDPOINT: server.apiUrl,
    SIMTRUST_EMAIL: 'cli-stats@example.com',
    SIMTRUST_PASSWORD: 'cli-stats-password',
  };
  const login = await fetch(`${server.apiUrl}/v1/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: env.SIMTRUST_EMAIL, password: env.SIMTRUST_PASSWORD }),
  });
  const { token, operatorId } = (await login.json()) as { token: string; operatorId: string };
  const imported = await fetch(`${server.apiUrl}/v1/sims/import`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv', authorization: `Bearer ${token}` },
    body: `iccid,imsi,ki,opc\n${sim.iccid},${sim.imsi},${sim.ki},${sim.opc}\n`,
  });
  expect(imported.status).toBe(200);
  // Usage as the entry points' flush writes it.
  const store = await openStore(db.url, { migrate: false });
  try {
    for (const [period, start] of [
      ['hour', DAY0 + 9 * 3_600_000],
      ['day', DAY0],
    ] as const)
      await store.db
        .insertInto('beam_usage')
        .values({
          operator_id: operatorId,
          imsi: sim.imsi,
          service: 'beam',
          entry_point: 'http',
          destination: 'https',
          period,
          bucket_start: start,
          sim_id: sim.iccid,
          requests: 5,
          delivered: 4,
          refused: 0,
          failed: 1,
          bytes_up: 500,
          bytes_down: 50,
        })
        .execute();
  } finally {
    await store.close();
  }
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe(`simtrust stats (${testDialect})`, () => {
  it('shows a subscriber’s usage as a table and as SORACOM’s JSON', async () => {
    const table = await runCli(
      [
        'stats',
        'beam',
        'get',
        '--imsi',
        sim.imsi,
        '--from',
        '2026-03-10',
        '--to',
        '2026-03-11',
        '--output',
        'table',
      ],
      env,
    );
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/20260310\s+inHttp\s+5\s+500\s+50\s+0\s+1/);
    expect(table.stdout).toMatch(/20260310\s+outHttps\s+4/);
    const json = await runCli(
      [
        'stats',
        'beam',
        'get',
        '--imsi',
        sim.imsi,
        '--from',
        String(DAY0 / 1000),
        '--to',
        '2026-03-11T00:00:00Z',
        '--period',
        'hour',
      ],
      env,
    );
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      {
        date: '2026031009',
        unixtime: (DAY0 + 9 * 3_600_000) / 1000,
        beamStatsMap: {
          inHttp: {
            count: 5,
            uploadByteSizeTotal: 500,
            downloadByteSizeTotal: 50,
            refusedCount: 0,
            failedCount: 1,
          },
          outHttps: { count: 4 },
        },
      },
    ]);
  });

  it('exports to a file (sync) and by id (async)', async () => {
    const out = join(dataDir, 'beam.csv');
    const sync = await runCli(
      ['stats', 'beam', 'export', '--from', '2026-03-01', '--to', '2026-03-31', '--out', out],
      env,
    );
    expect(sync.code, sync.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const lines = readFileSync(out, 'utf8').trim().split('\r\n');
    expect(lines).toEqual([
      'imsi,date,soracomBeamType,count,simId,uploadByteSizeTotal,downloadByteSizeTotal,refusedCount,failedCount',
      `${sim.imsi},20260310,beam_inHttp,5,${sim.iccid},500,50,0,1`,
      `${sim.imsi},20260310,beam_outHttps,4,${sim.iccid},,,,`,
    ]);

    const started = await runCli(
      [
        'stats',
        'beam',
        'export',
        '--from',
        '2026-03-01',
        '--to',
        '2026-03-31',
        '--period',
        'month',
        '--async',
      ],
      env,
    );
    expect(started.code, started.stderr).toBe(0);
    const { exportedFileId } = JSON.parse(started.stdout) as { exportedFileId: string };
    expect(exportedFileId).toMatch(/^ef-[0-9a-f]{24}$/);
    // The export runs in the server; wait for it (state from the API), with a deadline.
    const deadline = Date.now() + 30_000;
    let state = { status: 'processing' };
    while (state.status === 'processing') {
      expect(Date.now() < deadline, 'the async export finished within 30 s').toBe(true);
      const r = await runCli(['files', 'get-exported', exportedFileId], env);
      expect(r.code, r.stderr).toBe(0);
      state = JSON.parse(r.stdout);
    }
    expect(state.status).toBe('exported');
    const monthly = join(dataDir, 'monthly.csv');
    const got = await runCli(['files', 'get-exported', exportedFileId, '--out', monthly], env);
    expect(got.code, got.stderr).toBe(0);
    expect(readFileSync(monthly, 'utf8')).toContain(`${sim.imsi},202603,beam_inHttp,5,`);
  });

  it('says what to do with bad arguments', async () => {
    const badTime = await runCli(
      ['stats', 'funnel', 'get', '--imsi', sim.imsi, '--from', 'yesterday', '--to', '2026-03-11'],
      env,
    );
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toMatch(/--from takes Unix seconds or an ISO 8601 date/);
    const both = await runCli(
      ['stats', 'funk', 'export', '--from', '2026-03-01', '--to', '2026-03-02', '--async', '--out', 'x.csv'],
      env,
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/simtrust files get-exported/);
    const range = await runCli(
      [
        'stats',
        'beam',
        'get',
        '--imsi',
        sim.imsi,
        '--from',
        '2020-01-01',
        '--to',
        '2026-01-01',
        '--period',
        'hour',
      ],
      env,
    );
    expect(range.code).toBe(1);
    expect(range.stderr).toMatch(/too long for period=hour/);
  });
});
