// The threat: text the database cannot hold. PostgreSQL `text` refuses U+0000, so a NUL in a tag
// name, a list filter, a page key or a body member reached the database and answered 500 there (and
// only there: SQLite stored it). A lone UTF-16 surrogate was stored as U+FFFD, a different value
// from the one written. fast-check puts either into every kind of text input: both stores answer
// 400 ERR_VALIDATION naming the place, and the same text without it is no error of that kind.

import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestApi, vendorCsv } from '../../helpers/app.js';

const api = await startTestApi({ config: { apiRateLimitPerAddress: 0, apiRateLimitPerToken: 0 } });
afterAll(() => api.close());

const { csv, rows } = vendorCsv(1, { start: 5100 });
await api.call({
  method: 'POST',
  url: '/v1/sims/import',
  headers: { 'content-type': 'text/csv' },
  payload: csv,
});
const simId = rows[0]!.iccid;
const groupId = (await api.call({ method: 'POST', url: '/v1/groups', payload: {} })).json().groupId as string;

/** A printable string with NUL (or, where JSON carries it, a lone surrogate) inserted somewhere. */
const poisoned = (inUrl: boolean) =>
  fc
    .tuple(
      fc.string({ minLength: 0, maxLength: 20 }),
      fc.nat(),
      inUrl
        ? fc.constantFrom('\u0000', 'a\u0000', '\u0000\u0000')
        : fc.constantFrom('\u0000', '\ud800', '\udfff', 'a\u0000', '\udc00\ud800'),
    )
    .map(([text, at, bad]) => {
      const p = at % (text.length + 1);
      return { clean: text, bad: text.slice(0, p) + bad + text.slice(p) };
    });

type Send = (text: string) => {
  method: 'GET' | 'PUT' | 'POST';
  url: string;
  payload?: InjectOptions['payload'];
};
// A URL cannot carry a lone surrogate (it has no UTF-8 form): those inputs get NUL only.

const INPUTS: ReadonlyArray<readonly [string, Send]> = [
  [
    'SIM tag name',
    (t) => ({ method: 'PUT', url: `/v1/sims/${simId}/tags`, payload: [{ tagName: `n${t}`, tagValue: 'v' }] }),
  ],
  [
    'SIM tag value',
    (t) => ({ method: 'PUT', url: `/v1/sims/${simId}/tags`, payload: [{ tagName: 'n', tagValue: t }] }),
  ],
  ['tag filter', (t) => ({ method: 'GET', url: `/v1/sims?tag_name=n${encodeURIComponent(t)}` })],
  ['group filter', (t) => ({ method: 'GET', url: `/v1/sims?group_id=g${encodeURIComponent(t)}` })],
  ['page key', (t) => ({ method: 'GET', url: `/v1/groups?last_evaluated_key=k${encodeURIComponent(t)}` })],
  [
    'group tag member name',
    (t) => ({ method: 'POST', url: '/v1/groups', payload: { tags: { [`n${t}`]: 'v' } } }),
  ],
  [
    'configuration value',
    (t) => ({
      method: 'PUT',
      url: `/v1/groups/${groupId}/configuration/Plain`,
      payload: [{ key: 'k', value: { deep: [t] } }],
    }),
  ],
  ['path variable', (t) => ({ method: 'GET', url: `/v1/groups/${encodeURIComponent(`g${t}`)}` })],
];

describe('issue 11: NUL and lone surrogates are refused before they reach the store', () => {
  it('a NUL in a CSV field is a row error with its line, on both stores', async () => {
    for (const count of [1, 3]) {
      const { rows: lines } = vendorCsv(count, { start: 5200 + count * 10 });
      const body = lines
        .map((r, i) => `${r.iccid},${r.imsi},${r.ki},${r.opc},${i === 0 ? 'site=a\u0000b' : 'site=x'}`)
        .join('\n');
      const res = await api.call({
        method: 'POST',
        url: '/v1/sims/import',
        headers: { 'content-type': 'text/csv' },
        payload: `iccid,imsi,ki,opc,tags\n${body}\n`,
      });
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json()).toMatchObject({ rows: count, created: count - 1, rejected: 1 });
      expect(res.json().errors).toEqual([
        {
          line: 2,
          code: 'ERR_IMPORT_ROW',
          reason: 'the line contains a NUL character (U+0000), which cannot be stored; remove it',
          iccid: lines[0]!.iccid,
        },
      ]);
    }
  });

  it('bytes that are not UTF-8 in a query or a path are no 5xx', async () => {
    for (const bytes of ['%ED%A0%80', '%FF', '%C0%80', '%E0%80%80']) {
      for (const url of [
        `/v1/sims?tag_name=${bytes}`,
        `/v1/groups/${bytes}`,
        `/v1/sims/${simId}/tags/${bytes}`,
      ]) {
        const res = await api.call({ method: 'GET', url });
        expect(res.statusCode, `${url} ${res.body}`).toBeLessThan(500);
      }
    }
  });

  for (const [name, send] of INPUTS) {
    it(name, async () => {
      await fc.assert(
        fc.asyncProperty(poisoned(!('payload' in send('x'))), async ({ clean, bad }) => {
          const refused = await api.call(send(bad));
          const label = `${name} ${JSON.stringify(bad)} → ${refused.statusCode} ${refused.body.slice(0, 200)}`;
          expect(refused.statusCode, label).toBe(400);
          expect(refused.json().code, label).toBe('ERR_VALIDATION');
          expect(refused.json().message, label).toContain(
            'NUL character (U+0000) or a lone UTF-16 surrogate',
          );
          const accepted = await api.call(send(clean));
          expect(accepted.statusCode, `${name} ${JSON.stringify(clean)}: ${accepted.body}`).toBeLessThan(500);
          expect(accepted.body).not.toContain('U+0000');
        }),
        { numRuns: 15 },
      );
    });
  }
});
