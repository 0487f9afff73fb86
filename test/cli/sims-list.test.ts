// `simtrust sims list` searches by the leading digits of an IMSI, ICCID or MSISDN (--imsi-prefix,
// --iccid-prefix, --msisdn-prefix), as the console's search box does. The MSISDN may be typed as it
// is read out ("+81 90-0000-001"). Threat: an option's text becoming more than its one query value
// (a "&" or "=" smuggling another filter in): whatever is typed is one value, either refused by the
// API with ERR_VALIDATION or matching exactly the SIMs whose field starts with it. The real bin
// against the API in this process, on SQLite and (npm run test:pg) PostgreSQL.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { msisdnPrefix } from '../../src/cli/commands/sims.js';
import { startTestApi, type TestApi, vendorCsv } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';

const COUNT = 30;
const START = 731_000;
let api: TestApi;
let endpoint: string;
let rows: Array<{ iccid: string; imsi: string; msisdn: string }>;

beforeAll(async () => {
  api = await startTestApi();
  endpoint = await api.app.listen({ host: '127.0.0.1', port: 0 });
  const made = vendorCsv(COUNT, { start: START });
  const imported = await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: made.csv,
  });
  expect(imported.statusCode, imported.body).toBe(200);
  // vendorCsv's MSISDN column: 8190 and the row number in 8 digits.
  rows = made.rows.map((r, i) => ({ ...r, msisdn: `8190${String(START + i).padStart(8, '0')}` }));
});
afterAll(() => api.close());

const env = () => ({ SIMTRUST_ENDPOINT: endpoint, SIMTRUST_TOKEN: api.operator.token });
type Field = 'imsi' | 'iccid' | 'msisdn';

/** The SIM ids the CLI lists for one search, every page (pages of 7, so paging is crossed). */
async function listed(field: Field, prefix: string) {
  const r = await runCli(
    ['sims', 'list', `--${field}-prefix`, prefix, '--fetch-all', '--limit', '7', '--output', 'csv'],
    env(),
  );
  const ids = r.stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')[0] ?? '')
    .filter((id) => id !== '');
  return { code: r.code, stderr: r.stderr, ids };
}
const expected = (field: Field, prefix: string) =>
  rows
    .filter((r) => r[field].startsWith(prefix))
    .map((r) => r.iccid)
    .sort();

describe('simtrust sims list by leading digits', () => {
  it('--msisdn-prefix finds the MSISDNs that start with it, typed as read out', async () => {
    // 8190 0073 101x: rows 10–19 of this batch.
    const block = await listed('msisdn', '+81 90-0073-101');
    expect(block.code, block.stderr).toBe(0);
    expect(block.ids).toEqual(expected('msisdn', '819000731010'.slice(0, 11)));
    expect(block.ids).toHaveLength(10);
    const one = await listed('msisdn', rows[3]!.msisdn);
    expect(one.ids).toEqual([rows[3]!.iccid]);
    const none = await listed('msisdn', '819099');
    expect(none.code, none.stderr).toBe(0);
    expect(none.ids).toEqual([]);
  });

  it('--imsi-prefix and --iccid-prefix do the same for the IMSI and the ICCID', async () => {
    const imsi = await listed('imsi', rows[25]!.imsi.slice(0, 14));
    expect(imsi.code, imsi.stderr).toBe(0);
    expect(imsi.ids).toEqual(expected('imsi', rows[25]!.imsi.slice(0, 14)));
    expect(imsi.ids.length).toBeGreaterThan(1);
    const iccid = await listed('iccid', rows[7]!.iccid);
    expect(iccid.ids).toEqual([rows[7]!.iccid]);
  });

  it('a typed value is one filter value: refused (ERR_VALIDATION) or exactly the SIMs it starts', async () => {
    const field = fc.constantFrom<Field>('msisdn', 'imsi', 'iccid');
    const typed = fc.oneof(
      // A real value cut anywhere, maybe with separators as people type them.
      fc
        .record({
          row: fc.nat(COUNT - 1),
          cut: fc.integer({ min: 1, max: 20 }),
          sep: fc.constantFrom('', ' ', '-'),
        })
        .map(({ row, cut, sep }) => ({ row, cut, sep })),
      // Hostile text: query syntax, other filters, non-ASCII digits.
      fc.oneof(
        fc.constantFrom('1&imsi_prefix=4', '8190%26x=1', '١٢٣', '+', '--', '44010\n1', '4'.repeat(30)),
        fc.string({ minLength: 1, maxLength: 12 }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(field, typed, async (f, t) => {
        const text =
          typeof t === 'string' ? t : rows[t.row]![f].slice(0, t.cut).replace(/^(\d{2})(\d)/, `$1${t.sep}$2`);
        // Commander reads a leading "-" as an option: such text is not a value the user can pass.
        fc.pre(!text.startsWith('-'));
        const sent = f === 'msisdn' ? (msisdnPrefix(text) ?? '') : text;
        const valid =
          f === 'msisdn'
            ? /^\+?[0-9]{1,15}$/.test(sent)
            : new RegExp(`^[0-9]{1,${f === 'imsi' ? 15 : 20}}$`).test(sent);
        const r = await listed(f, text);
        if (!valid) {
          expect(r.code, text).not.toBe(0);
          expect(r.stderr).toContain('ERR_VALIDATION');
          return;
        }
        expect(r.code, r.stderr).toBe(0);
        expect(r.ids.sort()).toEqual(expected(f, sent.replace(/^\+/, '')));
      }),
      { numRuns: 12 },
    );
  }, 120_000);

  it('msisdnPrefix drops what people type between digits and nothing else', () => {
    expect(msisdnPrefix('+81 90-1234-5678')).toBe('+819012345678');
    expect(msisdnPrefix('(090) 1234.5678')).toBe('09012345678');
    expect(msisdnPrefix(undefined)).toBeUndefined();
    fc.assert(
      fc.property(fc.string(), (s) => {
        const out = msisdnPrefix(s) ?? '';
        expect(out).not.toMatch(/[\s\-.()]/);
        // Every other character survives, in order.
        expect(out).toBe([...s].filter((c) => !/[\s\-.()]/.test(c)).join(''));
      }),
    );
  });
});
