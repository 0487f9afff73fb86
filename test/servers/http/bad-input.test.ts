// Malformed bodies, unknown fields, oversize inputs and bad CSV lines get a 4xx with a code —
// never a 500 — and lose nothing: the good rows of a CSV are imported, the bad ones named.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi, vendorCsv } from '../../helpers/app.js';

let api: TestApi;
let simId: string;

beforeAll(async () => {
  api = await startTestApi({ config: { httpBodyLimitBytes: 4096, importMaxBytes: 64 * 1024 } });
  const { csv, rows } = vendorCsv(2);
  await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: csv,
  });
  simId = rows[0]!.iccid;
});
afterAll(() => api.close());

const csvImport = (payload: string | Buffer) =>
  api.call({ method: 'POST', url: '/v1/sims/import', headers: { 'content-type': 'text/csv' }, payload });

function expect4xx(res: { statusCode: number; json(): unknown; body: string }, status: number, code: string) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.json()).toMatchObject({ code });
  expect(typeof (res.json() as { message: unknown }).message).toBe('string');
}

describe('bad input', () => {
  it('malformed JSON → 400 ERR_MALFORMED_BODY', async () => {
    const res = await api.call({
      method: 'POST',
      url: '/v1/groups',
      headers: { 'content-type': 'application/json' },
      payload: '{"tags": {',
    });
    expect4xx(res, 400, 'ERR_MALFORMED_BODY');
  });

  it('issue 11: JSON content type with an empty body is no body — accepted where none is taken', async () => {
    const json = { 'content-type': 'application/json' };
    const standby = await api.call({
      method: 'POST',
      url: `/v1/sims/${simId}/set_to_standby`,
      headers: json,
    });
    expect(standby.statusCode, standby.body).toBe(200);
    expect(standby.json().status).toBe('standby');
    const unset = await api.call({ method: 'POST', url: `/v1/sims/${simId}/unset_group`, headers: json });
    expect(unset.statusCode, unset.body).toBe(200);
    // A route that needs a body says so, as a validation error (the body is absent, not malformed).
    const res = await api.call({
      method: 'POST',
      url: `/v1/sims/${simId}/update_speed_class`,
      headers: json,
    });
    expect4xx(res, 400, 'ERR_VALIDATION');
    expect(res.json().message).toContain('needs a JSON body');
    // Whitespace is not an empty body: it is not JSON.
    expect4xx(
      await api.call({ method: 'POST', url: `/v1/sims/${simId}/activate`, headers: json, payload: ' ' }),
      400,
      'ERR_MALFORMED_BODY',
    );
  });

  it('a __proto__ member in a JSON body → 400 ERR_VALIDATION naming the key to rename', async () => {
    for (const payload of ['{"tags":{"__proto__":"x"}}', '{"constructor":{"prototype":{"x":1}}}']) {
      const res = await api.call({
        method: 'POST',
        url: '/v1/groups',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      expect4xx(res, 400, 'ERR_VALIDATION');
      expect(res.json().message).toContain('rename the key');
    }
  });

  it('unknown fields → 400 ERR_VALIDATION (not silently dropped)', async () => {
    const res = await api.call({
      method: 'POST',
      url: `/v1/sims/${simId}/update_speed_class`,
      payload: { speedClass: 's1.fast', ki: '00' },
    });
    expect4xx(res, 400, 'ERR_VALIDATION');
    expect(res.json().message).toContain('additional properties');
  });

  it('wrong types and enum values → 400 ERR_VALIDATION', async () => {
    expect4xx(
      await api.call({
        method: 'POST',
        url: `/v1/sims/${simId}/update_speed_class`,
        payload: { speedClass: 'warp' },
      }),
      400,
      'ERR_VALIDATION',
    );
    expect4xx(
      await api.call({ method: 'PUT', url: `/v1/sims/${simId}/tags`, payload: { tagName: 'x' } }),
      400,
      'ERR_VALIDATION',
    );
    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'imsi_prefix=12ab', 'bogus=1']) {
      expect4xx(await api.call({ method: 'GET', url: `/v1/sims?${q}` }), 400, 'ERR_VALIDATION');
    }
  });

  it('wrong media type → 415', async () => {
    const res = await api.call({
      method: 'POST',
      url: '/v1/groups',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect4xx(res, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE');
    const json = await api.call({ method: 'POST', url: '/v1/sims/import', payload: { iccid: '1' } });
    expect4xx(json, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('oversize JSON body → 413', async () => {
    const res = await api.call({
      method: 'POST',
      url: '/v1/groups',
      payload: { tags: { big: 'x'.repeat(8000) } },
    });
    expect4xx(res, 413, 'ERR_PAYLOAD_TOO_LARGE');
  });

  it('oversize CSV → 413, and what was read before the limit is kept whole', async () => {
    const { csv } = vendorCsv(2000, { start: 10_000 });
    const res = await csvImport(csv);
    expect4xx(res, 413, 'ERR_PAYLOAD_TOO_LARGE');
    const profiles = await api.db.store.db.selectFrom('sim_profiles').select('iccid').execute();
    const sims = await api.db.store.db.selectFrom('sims').select('sim_id').execute();
    expect(profiles.length).toBe(sims.length);
  });

  it('unknown route → 404 ERR_ROUTE_NOT_FOUND; bad path variable → 400', async () => {
    expect4xx(await api.call({ method: 'GET', url: '/v1/nothing' }), 404, 'ERR_ROUTE_NOT_FOUND');
    expect4xx(
      await api.call({ method: 'GET', url: `/v1/sims/${encodeURIComponent('bad id;')}` }),
      400,
      'ERR_VALIDATION',
    );
  });

  it('a bad CSV header → 400 ERR_IMPORT_HEADER naming the problem', async () => {
    let res = await csvImport('iccid,imsi,ki\n');
    expect4xx(res, 400, 'ERR_IMPORT_HEADER');
    expect(res.json().message).toContain('needs opc or op');
    res = await csvImport('iccid,imsi,ki,opc,colour\n');
    expect(res.json().message).toContain('unknown colour');
    expect4xx(await csvImport(''), 400, 'ERR_IMPORT_HEADER');
    expect4xx(await csvImport(randomBytes(300)), 400, 'ERR_IMPORT_HEADER');
  });

  it('bad CSV lines → 422 with line and reason; the good lines are imported', async () => {
    const { rows } = vendorCsv(4, { start: 500 });
    const [a, b, c, d] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
    const badLuhn = `${a.iccid.slice(0, -1)}${(Number(a.iccid.at(-1)) + 1) % 10}`;
    const lines = [
      'iccid,imsi,msisdn,ki,opc',
      `${badLuhn},${a.imsi},,${a.ki},${a.opc}`, // line 2: bad check digit
      `${b.iccid},${b.imsi},,${b.ki.slice(2)},${b.opc}`, // line 3: Ki too short
      `${c.iccid},${c.imsi},,${c.ki},${c.opc}`, // line 4: good
      `${d.iccid},${c.imsi},,${d.ki},${d.opc}`, // line 5: duplicate IMSI
      `${b.iccid},${b.imsi},,${b.ki},zz${b.opc.slice(2)}`, // line 6: OPc not hex
      `${d.iccid},${d.imsi},,${d.ki}`, // line 7: too few fields
      `${d.iccid},"unterminated,,${d.ki},${d.opc}`, // line 8: broken quoting (a stray quote runs to the end)
    ];
    const res = await csvImport(`${lines.join('\n')}\n`);
    expect(res.statusCode, res.body).toBe(422);
    const body = res.json();
    expect(body).toMatchObject({ code: 'ERR_IMPORT_ROW', created: 1, rejected: 6 });
    const byLine = Object.fromEntries(
      body.errors.map((e: { line: number; reason: string }) => [e.line, e.reason]),
    );
    expect(byLine[2]).toContain('Luhn');
    expect(byLine[3]).toContain('ki must be 32 hex digits');
    expect(byLine[5]).toContain('duplicate IMSI (first on line 4)');
    expect(byLine[6]).toContain('opc must be 32 hex digits');
    expect(byLine[7]).toContain('Invalid Record Length: expect 5, got 4');
    expect(byLine[8]).toContain('unparsable CSV');
    // No reason echoes key material.
    for (const r of rows) for (const k of [r.ki, r.opc]) expect(res.body).not.toContain(k.slice(2));
    expect((await api.call({ method: 'GET', url: `/v1/sims/${c.iccid}` })).statusCode).toBe(200);
    expect((await api.call({ method: 'GET', url: `/v1/sims/${d.iccid}` })).statusCode).toBe(404);
  });

  it('fuzz: random bodies to every mutating route never produce a 500', async () => {
    const routes = [
      ['POST', '/v1/auth'],
      ['POST', '/v1/sims'],
      ['POST', '/v1/groups'],
      ['PUT', `/v1/sims/${simId}/tags`],
      ['POST', `/v1/sims/${simId}/update_speed_class`],
      ['POST', `/v1/sims/${simId}/set_imei_lock`],
      ['POST', `/v1/sims/${simId}/set_group`],
      ['POST', '/v1/sims/import'],
    ] as const;
    const samples = [
      () => randomBytes(Math.floor(Math.random() * 200)),
      () => JSON.stringify(randomValue(3)),
      () => '{"a":'.repeat(50),
      () => '\u0000\uffff',
    ];
    for (let i = 0; i < 300; i++) {
      const [method, url] = routes[i % routes.length]!;
      const sample = samples[i % samples.length]!();
      const type = ['application/json', 'text/csv', 'application/x-www-form-urlencoded'][i % 3]!;
      const res = await api.call({ method, url, headers: { 'content-type': type }, payload: sample });
      expect(res.statusCode, `${method} ${url} ${res.body}`).toBeLessThan(500);
      expect(res.json().code ?? 'ok').toMatch(/^(ERR_|ok)/);
    }
  });
});

function randomValue(depth: number): unknown {
  const pick = Math.floor(Math.random() * (depth > 0 ? 7 : 5));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return Math.random() * 1e6;
    case 2:
      return randomBytes(8).toString('hex');
    case 3:
      return Math.random() > 0.5;
    case 4:
      return '';
    case 5:
      return Array.from({ length: 3 }, () => randomValue(depth - 1));
    default:
      return Object.fromEntries(
        Array.from({ length: 3 }, (_, i) => [
          ['speedClass', 'imei', 'tags', `k${i}`][i % 4]!,
          randomValue(depth - 1),
        ]),
      );
  }
}
