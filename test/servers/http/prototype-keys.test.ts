// The threat: request data used as a key of a plain object. `obj[name]` with name `constructor`,
// `toString` or `valueOf` finds Object.prototype's members (issue 11: configuration namespaces with
// those names answered 500); `obj[name] = value` with `__proto__` changes a prototype instead of
// storing a key, and on a shared object pollutes every object of the process.
//
// fast-check sends prototype-named keys (and arbitrary strings) into every object-keyed input of the
// API: group tags and configuration (namespaces, keys, the validated Endorse and SoracomAir
// namespaces), SIM tags (create, PUT, the CSV `tags` column, filters), policies (statement keys,
// condition names, simulated path variables), query parameter names and request headers. Every
// answer is below 500, Object.prototype is untouched, and a key that was accepted comes back as the
// key it was.

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestApi, vendorCsv } from '../../helpers/app.js';

const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
] as const;

/** Mostly prototype names, sometimes with a twist, sometimes any string. */
const hostileKey = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
  { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS).map((k) => `${k}.prototype`) },
  { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 24 }) },
);

const api = await startTestApi({ config: { apiRateLimitPerAddress: 0, apiRateLimitPerToken: 0 } });
afterAll(() => api.close());

const A = api.operator.operatorId;
const { csv, rows } = vendorCsv(1, { start: 4200 });
await api.call({
  method: 'POST',
  url: '/v1/sims/import',
  headers: { 'content-type': 'text/csv' },
  payload: csv,
});
const simId = rows[0]!.iccid;
const groupId = (await api.call({ method: 'POST', url: '/v1/groups', payload: {} })).json().groupId as string;
await api.call({ method: 'POST', url: `/v1/operators/${A}/users/proto-user`, payload: {} });

const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
const objectBefore = Object.getOwnPropertyNames(Object).sort();

/** A JSON text with `key` as a real member name (an object literal would set the prototype instead). */
const member = (key: string, value: unknown) => `{${JSON.stringify(key)}:${JSON.stringify(value)}}`;

function expectSafe(res: { statusCode: number; body: string }, label: string): void {
  expect(res.statusCode, `${label} → ${res.body.slice(0, 300)}`).toBeLessThan(500);
  expect(Object.getOwnPropertyNames(Object.prototype).sort(), label).toEqual(prototypeBefore);
  expect(Object.getOwnPropertyNames(Object).sort(), label).toEqual(objectBefore);
  expect(({} as Record<string, unknown>).polluted, label).toBeUndefined();
}

/** The key came back as an own member holding what was sent. */
function expectKept(map: Record<string, unknown>, key: string, value: unknown, label: string): void {
  expect(Object.hasOwn(map, key), `${label}: ${JSON.stringify(map)}`).toBe(true);
  expect(map[key], label).toEqual(value);
}

const NAMESPACE = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
const RUNS = { numRuns: 40 };

describe('issue 11: prototype-named keys never make a 5xx or pollute a prototype', () => {
  it('regression: configuration namespaces constructor, toString, valueOf, hasOwnProperty', async () => {
    for (const ns of ['constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
      const res = await api.call({
        method: 'PUT',
        url: `/v1/groups/${groupId}/configuration/${ns}`,
        payload: [{ key: 'k', value: 1 }],
      });
      expect(res.statusCode, res.body).toBe(200);
      expectKept(res.json().configuration, ns, { k: 1 }, ns);
    }
  });

  it('group configuration: namespaces and keys, validated namespaces included', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileKey,
        fc.constantFrom('Endorse', 'SoracomEndorse', 'SoracomAir', 'Plain', null),
        async (key, fixed) => {
          const ns = fixed ?? key;
          const url = `/v1/groups/${groupId}/configuration/${encodeURIComponent(ns)}`;
          const put = await api.call({ method: 'PUT', url, payload: [{ key, value: 'v' }] });
          expectSafe(put, `PUT ${url} ${key}`);
          if (put.statusCode === 200) {
            const stored = ns === 'SoracomEndorse' ? 'Endorse' : ns;
            expectKept(put.json().configuration[stored], key, 'v', `PUT ${url} ${key}`);
            const got = await api.call({ method: 'GET', url: `/v1/groups/${groupId}` });
            expectKept(got.json().configuration[stored], key, 'v', `GET after ${key}`);
          } else if (NAMESPACE.test(ns) && fixed !== 'Endorse' && fixed !== 'SoracomEndorse') {
            throw new Error(`${url} refused ${JSON.stringify(key)}: ${put.body}`);
          }
          expectSafe(await api.call({ method: 'DELETE', url }), `DELETE ${url}`);
        },
      ),
      RUNS,
    );
  });

  it('group creation: tags and configuration objects', async () => {
    await fc.assert(
      fc.asyncProperty(hostileKey, async (key) => {
        for (const payload of [
          `{"tags":${member(key, 'v')}}`,
          `{"configuration":{"SoracomAir":${member(key, 1)}}}`,
          NAMESPACE.test(key) ? `{"configuration":{${JSON.stringify(key)}:{"k":1}}}` : '{}',
        ]) {
          const res = await api.call({
            method: 'POST',
            url: '/v1/groups',
            headers: { 'content-type': 'application/json' },
            payload,
          });
          expectSafe(res, `POST /v1/groups ${payload}`);
          // A `__proto__` member is refused by the JSON parser; anything else is kept.
          if (res.statusCode !== 201) expect(res.json().code, payload).toBe('ERR_VALIDATION');
          else await api.call({ method: 'DELETE', url: `/v1/groups/${res.json().groupId}` });
        }
      }),
      RUNS,
    );
  });

  it('group and SIM tags: PUT, filter, DELETE', async () => {
    await fc.assert(
      fc.asyncProperty(hostileKey, fc.constantFrom('sims', 'groups'), async (key, kind) => {
        const id = kind === 'sims' ? simId : groupId;
        const put = await api.call({
          method: 'PUT',
          url: `/v1/${kind}/${id}/tags`,
          payload: [{ tagName: key, tagValue: 'v' }],
        });
        expectSafe(put, `PUT ${kind} tag ${key}`);
        expect(put.statusCode).toBe(200);
        expectKept(put.json().tags, key, 'v', `PUT ${kind} tag ${key}`);
        const list = await api.call({
          method: 'GET',
          url: `/v1/${kind}?tag_name=${encodeURIComponent(key)}&tag_value=v`,
        });
        expectSafe(list, `GET ${kind}?tag_name=${key}`);
        expect(list.json().map((x: { simId?: string; groupId?: string }) => x.simId ?? x.groupId)).toContain(
          id,
        );
        const del = await api.call({
          method: 'DELETE',
          url: `/v1/${kind}/${id}/tags/${encodeURIComponent(key)}`,
        });
        expectSafe(del, `DELETE ${kind} tag ${key}`);
      }),
      RUNS,
    );
  });

  it('SIM creation and the CSV tags column', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(hostileKey, async (key) => {
        n++;
        const imsi = `00101${String(700_000_000 + n).padStart(10, '0')}`;
        const body = `{"imsi":"${imsi}","ki":"${'11'.repeat(16)}","opc":"${'22'.repeat(16)}","tags":${member(key, 'v')}}`;
        const created = await api.call({
          method: 'POST',
          url: '/v1/sims',
          headers: { 'content-type': 'application/json' },
          payload: body,
        });
        expectSafe(created, `POST /v1/sims tags ${key}`);
        if (created.statusCode === 201) expectKept(created.json().tags, key, 'v', `POST /v1/sims ${key}`);
        else expect(created.json().code).toBe('ERR_VALIDATION');

        const line = vendorCsv(1, { start: 800_000 + n }).rows[0]!;
        const csvTag = key.replaceAll(/[;=",\r\n]/g, '');
        const imported = await api.call({
          method: 'POST',
          url: '/v1/sims/import',
          headers: { 'content-type': 'text/csv' },
          payload: `iccid,imsi,ki,opc,tags\n${line.iccid},${line.imsi},${line.ki},${line.opc},"${csvTag}=v"\n`,
        });
        expectSafe(imported, `import tags ${csvTag}`);
        if (imported.statusCode === 200 && csvTag.trim() !== '') {
          const sim = await api.call({ method: 'GET', url: `/v1/sims/${line.iccid}` });
          expectKept(sim.json().tags, csvTag.trim(), 'v', `imported tag ${csvTag}`);
        }
      }),
      RUNS,
    );
  });

  it('policies: statement members, condition names, simulated path variables', async () => {
    await fc.assert(
      fc.asyncProperty(hostileKey, async (key) => {
        const documents = [
          `{"statements":[{"effect":"allow","api":["Sim:listSims"],${JSON.stringify(key)}:"x"}]}`,
          `{"statements":[{"effect":"allow","api":["Sim:listSims"],"condition":${JSON.stringify(`${key} == 'x'`)}}]}`,
          `{"statements":[{"effect":"allow","api":["Sim:getSim"],"condition":${JSON.stringify(`pathVariable('${key}') == 'x'`)}}]}`,
        ];
        for (const permission of documents) {
          const res = await api.call({
            method: 'PUT',
            url: `/v1/operators/${A}/users/proto-user/permission`,
            payload: { permission },
          });
          expectSafe(res, `permission ${permission}`);
          const simulated = await api.call({
            method: 'GET',
            url: `/v1/operators/${A}/users/proto-user/permission/simulate?api=Sim:getSim&path_variable=${encodeURIComponent(`${/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : 'sim_id'}=x`)}`,
          });
          expectSafe(simulated, `simulate ${key}`);
        }
      }),
      RUNS,
    );
  });

  it('query parameter names and request headers', async () => {
    await fc.assert(
      fc.asyncProperty(hostileKey, async (key) => {
        const query = await api.call({ method: 'GET', url: `/v1/sims?${encodeURIComponent(key)}=1` });
        expectSafe(query, `GET /v1/sims?${key}=1`);
        expect(query.statusCode).toBe(400);
        if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) {
          const headed = await api.call({
            method: 'GET',
            url: '/v1/sims?limit=1',
            headers: Object.fromEntries([[key, 'x']]),
          });
          expectSafe(headed, `header ${key}`);
          expect(headed.statusCode).toBe(200);
        }
      }),
      RUNS,
    );
  });
});
