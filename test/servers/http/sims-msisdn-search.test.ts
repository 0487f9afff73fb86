// GET /v1/sims?msisdn_prefix= (issue 12, the console's MSISDN search). The threat: a search value is
// request data that becomes a bound of an SQL range, so a hostile value (SQL, wildcards, Unicode
// digits, overlong, control characters) must be refused with 400 ERR_VALIDATION or match exactly the
// SIMs whose MSISDN starts with its digits — never another operator's SIM, never a 500.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi, vendorCsv } from '../../helpers/app.js';

let api: TestApi;
// vendorCsv gives row i the MSISDN 8190 + i on 8 digits (start 700 → 81900000700…).
const START = 700;
const COUNT = 40;
const msisdns = Array.from({ length: COUNT }, (_, i) => `8190${String(START + i).padStart(8, '0')}`);
let simOf: Map<string, string>;

type Sim = { simId: string; profiles: Record<string, { subscribers: Record<string, { msisdn: string }> }> };

beforeAll(async () => {
  api = await startTestApi();
  const { csv, rows } = vendorCsv(COUNT, { start: START });
  const res = await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: csv,
  });
  expect(res.statusCode, res.body).toBe(200);
  simOf = new Map(rows.map((r, i) => [msisdns[i] as string, r.iccid]));
  // Another operator's SIMs share the MSISDN range: a search must never show them.
  const other = await api.newOperator();
  const theirs = vendorCsv(5, { start: 900 });
  const imported = await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    token: other.token,
    headers: { 'content-type': 'text/csv' },
    payload: theirs.csv,
  });
  expect(imported.statusCode, imported.body).toBe(200);
});
afterAll(() => api.close());

/** Every page of a search, following x-soracom-next-key. */
async function search(value: string, limit = 7): Promise<{ status: number; ids: string[]; code?: string }> {
  const ids: string[] = [];
  let key: string | undefined;
  do {
    const q = new URLSearchParams({ msisdn_prefix: value, limit: String(limit) });
    if (key) q.set('last_evaluated_key', key);
    const res = await api.call({ method: 'GET', url: `/v1/sims?${q}` });
    if (res.statusCode !== 200) return { status: res.statusCode, ids, code: res.json().code };
    ids.push(...(res.json() as Sim[]).map((s) => s.simId));
    key = res.headers['x-soracom-next-key'] as string | undefined;
  } while (key);
  return { status: 200, ids };
}

const expected = (digits: string) =>
  msisdns
    .filter((m) => m.startsWith(digits))
    .map((m) => simOf.get(m) as string)
    .sort();

describe('GET /v1/sims?msisdn_prefix=', () => {
  it('finds one SIM by its whole MSISDN, with or without "+", and pages a prefix in sim_id order', async () => {
    const one = await search(msisdns[13] as string);
    expect(one).toEqual({ status: 200, ids: [simOf.get(msisdns[13] as string)] });
    expect(await search(`+${msisdns[13]}`)).toEqual(one);
    const res = await api.call({ method: 'GET', url: `/v1/sims?msisdn_prefix=${msisdns[13]}` });
    const sim = (res.json() as Sim[])[0] as Sim;
    const subscriber = Object.values(Object.values(sim.profiles)[0]?.subscribers ?? {})[0];
    expect(subscriber?.msisdn).toBe(msisdns[13]);

    const prefix = (msisdns[20] as string).slice(0, 11); // 8190000072 → 10 SIMs (720–729)
    const page = await search(prefix, 3);
    expect(page.ids).toEqual(expected(prefix));
    expect(page.ids).toHaveLength(10);
    // Combined with another filter, both apply.
    await api.call({ method: 'POST', url: `/v1/sims/${simOf.get(msisdns[21] as string)}/activate` });
    const q = await api.call({
      method: 'GET',
      url: `/v1/sims?msisdn_prefix=${prefix}&status_filter=active`,
    });
    expect((q.json() as Sim[]).map((s) => s.simId)).toEqual([simOf.get(msisdns[21] as string)]);
  });

  it('an MSISDN of another operator finds nothing', async () => {
    expect(await search('819000000900')).toEqual({ status: 200, ids: [] });
  });

  it('property: any hostile value is a 400 ERR_VALIDATION or exactly the SIMs with those leading digits', async () => {
    const hostile = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom(
        "' OR 1=1 --",
        '%',
        '_',
        '8190%',
        '8190_',
        '81\u0000',
        '８１９０', // full-width digits
        '٨١٩٠', // Arabic-Indic digits
        '+',
        '++8190',
        ' 8190',
        '8190 ',
        '1'.repeat(16),
        '9'.repeat(15),
        '',
      ),
      // Real prefixes of the fleet, with and without "+", to check the positive side too.
      fc
        .tuple(fc.constantFrom(...msisdns), fc.integer({ min: 1, max: 12 }), fc.boolean())
        .map(([m, n, plus]) => `${plus ? '+' : ''}${m.slice(0, n)}`),
    );
    await fc.assert(
      fc.asyncProperty(hostile, async (value) => {
        const r = await search(value, 25);
        const digits = /^\+?([0-9]{1,15})$/.exec(value)?.[1];
        // An empty value is refused too (as for imsi_prefix): leave the parameter out to list all.
        if (digits === undefined) {
          expect(r).toMatchObject({ status: 400, code: 'ERR_VALIDATION' });
        } else {
          expect(r.status).toBe(200);
          expect(r.ids).toEqual(expected(digits));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a prefix shared by 1,000 profiles or more walks the SIMs instead of the index: the same answer', async () => {
    // SimService.list reads a prefix's profiles first only when they are few (under 1,000).
    const { csv, rows } = vendorCsv(1_100, { start: 1_000 });
    const res = await api.call({
      method: 'POST',
      url: '/v1/sims/import',
      headers: { 'content-type': 'text/csv' },
      payload: csv,
    });
    expect(res.json()).toMatchObject({ created: 1_100 });
    const many = new Map(rows.map((r, i) => [`8190${String(1_000 + i).padStart(8, '0')}`, r.iccid]));
    const all = new Map([...simOf, ...many]);
    const expectedOf = (digits: string) =>
      [...all]
        .filter(([m]) => m.startsWith(digits))
        .map(([, id]) => id)
        .sort();
    for (const prefix of ['8190000', '81900001', '819000015', '819000001234', '+8190000007']) {
      const digits = prefix.replace('+', '');
      const r = await search(prefix, 100);
      expect(r.status).toBe(200);
      expect(r.ids, prefix).toEqual(expectedOf(digits));
    }
    expect(expectedOf('8190000')).toHaveLength(1_140);
  });
});
