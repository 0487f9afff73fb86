// The threat: Ki/OPc (the keys that make a SIM a SIM) leaking through an API answer, an error or a
// log line. This walks every route of the OpenAPI document (so a new route is swept without
// editing this test), with good and bad input, and searches every response and every log line for
// the keys of the imported SIMs in hex, upper-case hex, base64 and base64url.

import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED_PATHS } from '../../../src/servers/logger.js';
import { startTestApi, type TestApi, vendorCsv } from '../../helpers/app.js';

let api: TestApi;
let logs = '';
const secrets: string[] = [];
let rows: ReturnType<typeof vendorCsv>['rows'];

function encodings(hex: string): string[] {
  const bytes = Buffer.from(hex, 'hex');
  return [hex, hex.toUpperCase(), bytes.toString('base64'), bytes.toString('base64url')];
}

/** Plausible values for each path variable. */
const pathValues = (groupId: string): Record<string, string> => ({
  sim_id: rows[0]!.iccid,
  group_id: groupId,
  tag_name: 'site',
  namespace: 'Endorse',
});

/** Sample bodies by operationId; routes without an entry are called with `{}` (and get a 400). */
const bodies = (): Record<string, unknown> => ({
  createSim: { imsi: '001019000000001', ki: rows[1]!.ki, opc: rows[1]!.opc },
  updateSimSpeedClass: { speedClass: 's1.fast' },
  putSimTags: [{ tagName: 'site', tagValue: 'tokyo' }],
  putGroupTags: [{ tagName: 'site', tagValue: 'tokyo' }],
  setSimGroup: { groupId: 'missing' },
  setSimImeiLock: { imei: '490154203237518' },
  putConfigurationParameters: [{ key: 'enabled', value: true }],
  createGroup: { tags: { name: 'g' } },
  auth: { email: 'nobody@example.com', password: rows[0]!.ki },
});

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs += chunk.toString();
      done();
    },
  });
  api = await startTestApi({
    logger: pino({ level: 'trace', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink),
  });
  const csv = vendorCsv(20);
  rows = csv.rows;
  for (const r of rows) secrets.push(...encodings(r.ki), ...encodings(r.opc));
  const res = await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: csv.csv,
  });
  expect(res.statusCode).toBe(200);
});
afterAll(() => api.close());

describe('no Ki/OPc in any response or log line', () => {
  it('walks every route with good and bad input', async () => {
    const group = (
      await api.call({ method: 'POST', url: '/v1/groups', payload: { tags: { name: 'sweep' } } })
    ).json();
    const doc = (await api.call({ method: 'GET', url: '/openapi.json', token: null })).json() as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const values = pathValues(group.groupId);
    const sample = bodies();
    const responses: string[] = [];
    let calls = 0;
    for (const [template, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const url = template.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? 'x');
        const variants: Array<{ payload?: unknown; headers?: Record<string, string> }> =
          op.operationId === 'importSims'
            ? [
                { payload: csv(rows), headers: { 'content-type': 'text/csv' } },
                {
                  payload: csv(rows).replace(/,([0-9a-f]{32})\n/, ',$1x\n'),
                  headers: { 'content-type': 'text/csv' },
                },
                {
                  payload: csv(rows),
                  headers: { 'content-type': 'text/csv', accept: 'application/x-ndjson' },
                },
              ]
            : method === 'get' || method === 'delete'
              ? [{}]
              : [
                  { payload: sample[op.operationId] ?? {} },
                  { payload: { ki: rows[2]!.ki, opc: rows[2]!.opc } },
                ];
        for (const v of variants) {
          const res = await api.call({ method: method.toUpperCase() as 'GET', url, ...(v as object) });
          responses.push(`${method} ${url} ${res.statusCode} ${JSON.stringify(res.headers)} ${res.body}`);
          calls++;
        }
      }
    }
    expect(calls).toBeGreaterThan(35);
    // The SIM list and every SIM itself, with all pages.
    for (const r of rows)
      responses.push((await api.call({ method: 'GET', url: `/v1/sims/${r.iccid}` })).body);
    responses.push((await api.call({ method: 'GET', url: '/v1/audit_logs?limit=100' })).body);
    const everything = `${responses.join('\n')}\n${logs}`;
    expect(logs.length).toBeGreaterThan(1000);
    const leaked = secrets.filter((s) => everything.includes(s));
    expect(leaked).toEqual([]);
  });
});

function csv(r: typeof rows): string {
  return `iccid,imsi,ki,opc\n${r.map((x) => `${x.iccid},${x.imsi},${x.ki},${x.opc}`).join('\n')}\n`;
}
