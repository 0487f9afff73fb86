// Acceptance: 10,000 SIMs imported through the CLI; GET /v1/sims?limit=100 pages through them and
// sees each exactly once; filters combine; a second import changes nothing. Runs on SQLite and
// (npm run test:pg) on PostgreSQL.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi, vendorCsv } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';

const COUNT = 10_000;
let api: TestApi;
let endpoint: string;
let file: string;
let rows: ReturnType<typeof vendorCsv>['rows'];

beforeAll(async () => {
  api = await startTestApi();
  endpoint = await api.app.listen({ host: '127.0.0.1', port: 0 });
  const csv = vendorCsv(COUNT);
  rows = csv.rows;
  // Tags and groups make the filters meaningful: every 10th SIM is in the "fleet" group.
  const group = (
    await api.call({ method: 'POST', url: '/v1/groups', payload: { tags: { name: 'fleet' } } })
  ).json();
  const lines = rows.map(
    (r, i) => `${r.iccid},${r.imsi},,${r.ki},${r.opc},${i % 10 === 0 ? 'fleet' : ''},batch=${i % 4}`,
  );
  file = join(mkdtempSync(join(tmpdir(), 'simtrust-import-')), 'vendor.csv');
  writeFileSync(file, `iccid,imsi,msisdn,ki,opc,group,tags\n${lines.join('\n')}\n`);
  expect(group.groupId).toBeTruthy();
});
afterAll(() => api.close());

const cliEnv = () => ({ SIMTRUST_ENDPOINT: endpoint, SIMTRUST_TOKEN: api.operator.token });

describe(`${COUNT} SIMs through the CLI`, () => {
  it('imports them all and reports a summary', async () => {
    const result = await runCli(['sims', 'import', file], cliEnv());
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      rows: COUNT,
      created: COUNT,
      unchanged: 0,
      rejected: 0,
      errors: [],
    });
  });

  it('pages through GET /v1/sims?limit=100 seeing each SIM exactly once', async () => {
    const seen = new Map<string, number>();
    let key: string | undefined;
    let pages = 0;
    do {
      const res = await api.call({
        method: 'GET',
        url: `/v1/sims?limit=100${key ? `&last_evaluated_key=${key}` : ''}`,
      });
      expect(res.statusCode).toBe(200);
      const page = res.json() as Array<{ simId: string }>;
      expect(page.length).toBeLessThanOrEqual(100);
      for (const s of page) seen.set(s.simId, (seen.get(s.simId) ?? 0) + 1);
      key = res.headers['x-soracom-next-key'] as string | undefined;
      pages++;
    } while (key);
    expect(pages).toBe(COUNT / 100);
    expect(seen.size).toBe(COUNT);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(rows.every((r) => seen.has(r.iccid))).toBe(true);
  });

  it('filters combine (group × tag × status × IMSI prefix) and page correctly', async () => {
    for (const r of rows.slice(0, 200))
      await api.call({ method: 'POST', url: `/v1/sims/${r.iccid}/activate` });
    const groups = (
      await api.call({ method: 'GET', url: '/v1/groups?tag_name=name&tag_value=fleet' })
    ).json();
    const groupId = groups[0].groupId as string;
    const expected = rows
      .filter((_, i) => i < 200 && i % 10 === 0 && i % 4 === 2)
      .map((r) => r.iccid)
      .sort();
    const got: string[] = [];
    let key: string | undefined;
    do {
      const q = `group_id=${groupId}&tag_name=batch&tag_value=2&status_filter=active&imsi_prefix=44010&limit=3`;
      const res = await api.call({
        method: 'GET',
        url: `/v1/sims?${q}${key ? `&last_evaluated_key=${key}` : ''}`,
      });
      got.push(...(res.json() as Array<{ simId: string }>).map((s) => s.simId));
      key = res.headers['x-soracom-next-key'] as string | undefined;
    } while (key);
    expect(got).toEqual(expected);
    const cli = await runCli(
      [
        'sims',
        'list',
        '--group-id',
        groupId,
        '--tag-name',
        'batch',
        '--tag-value',
        '2',
        '--status',
        'active',
        '--fetch-all',
        '--limit',
        '7',
        '--output',
        'csv',
      ],
      cliEnv(),
    );
    expect(cli.code, cli.stderr).toBe(0);
    const csvIds = cli.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[0]);
    expect(csvIds).toEqual(expected);
  });

  it('a second import of the same file changes nothing', async () => {
    const before = await api.db.store.db
      .selectFrom('audit_logs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const result = await runCli(['sims', 'import', file], cliEnv());
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      rows: COUNT,
      created: 0,
      unchanged: COUNT,
      rejected: 0,
    });
    const count = await api.db.store.db
      .selectFrom('sims')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(COUNT);
    const after = await api.db.store.db
      .selectFrom('audit_logs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });
});
