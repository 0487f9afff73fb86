// Threat: request data that becomes a key or a lookup in the EventHandler API — handler ids, IMSIs
// and SIM ids in paths, targets and property names in bodies — used to reach another operator's
// resources, to smuggle prototype keys (`__proto__`, `constructor`) into stored configuration, or
// to crash a route (500). Property-based (fast-check): whatever is sent, the answer is a 2xx for a
// valid request or a 400/404 with an error code, nothing of the other operator is touched, and a
// stored handler reads back exactly as accepted. Runs on SQLite and PostgreSQL.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi, vendorCsv } from '../../helpers/app.js';

let api: TestApi;
let mySim: string;
let other: { operatorId: string; token: string };
let theirSim: string;
let theirImsi: string;
let theirGroup: string;
let theirHandler: string;

const hostile = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.constantFrom(
    '__proto__',
    'constructor',
    'toString',
    '..',
    '../sims',
    '%2e%2e',
    '*',
    "' or 1=1 --",
    '\u0000',
    '440100000009999',
    '0'.repeat(15),
    'x'.repeat(65),
  ),
  fc.stringMatching(/^[0-9]{1,20}$/),
);

async function importOne(token: string | undefined, start: number) {
  const { rows } = vendorCsv(1, { start });
  const r = rows[0] as { iccid: string; imsi: string; ki: string; opc: string };
  const res = await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: `iccid,imsi,ki,opc\n${r.iccid},${r.imsi},${r.ki},${r.opc}\n`,
    ...(token === undefined ? {} : { token }),
  });
  expect(res.statusCode, res.body).toBe(200);
  return r;
}

const mail = {
  type: 'SendMailToOperatorAction',
  properties: { title: 't', message: 'm', executionDateTimeConst: 'IMMEDIATELY' },
};
const rule = {
  type: 'SimDailyTotalTrafficRule',
  properties: { limitTotalTrafficMegaByte: '1', inactiveTimeoutDateConst: 'NEVER' },
};

beforeAll(async () => {
  api = await startTestApi();
  mySim = (await importOne(undefined, 0)).iccid;
  other = await api.newOperator();
  const theirs = await importOne(other.token, 900);
  theirSim = theirs.iccid;
  theirImsi = theirs.imsi;
  theirGroup = (await api.call({ method: 'POST', url: '/v1/groups', payload: {}, token: other.token })).json()
    .groupId;
  const h = await api.call({
    method: 'POST',
    url: '/v1/event_handlers',
    token: other.token,
    payload: {
      name: 'theirs',
      status: 'active',
      targetSimId: theirSim,
      ruleConfig: rule,
      actionConfigList: [mail],
    },
  });
  expect(h.statusCode, h.body).toBe(201);
  theirHandler = h.json().handlerId;
});
afterAll(() => api.close());

async function theirStateUnchanged() {
  const ignores = await api.db.store.db.selectFrom('event_handler_ignores').selectAll().execute();
  expect(ignores).toEqual([]);
  const got = await api.call({
    method: 'GET',
    url: `/v1/event_handlers/${theirHandler}`,
    token: other.token,
  });
  expect(got.statusCode).toBe(200);
  expect(got.json().name).toBe('theirs');
}

const expectError = (res: { statusCode: number; json(): unknown }, allowed: number[]) => {
  expect(allowed, `status ${res.statusCode}`).toContain(res.statusCode);
  expect(res.json()).toMatchObject({ code: expect.stringMatching(/^ERR_/), message: expect.any(String) });
};

describe('hostile path parameters', () => {
  it('handler ids, IMSIs and SIM ids from anywhere answer 400/404, never reaching the other operator', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(hostile, fc.constant(theirHandler)),
        fc.oneof(hostile, fc.constant(theirImsi), fc.constant(theirSim)),
        async (handlerId, id) => {
          const h = encodeURIComponent(handlerId);
          const i = encodeURIComponent(id);
          for (const [method, url] of [
            ['GET', `/v1/event_handlers/${h}`],
            ['DELETE', `/v1/event_handlers/${h}`],
            ['POST', `/v1/event_handlers/${h}/subscribers/${i}/ignore`],
            ['DELETE', `/v1/event_handlers/${h}/subscribers/${i}/ignore`],
            ['POST', `/v1/event_handlers/${h}/sims/${i}/ignore`],
            ['DELETE', `/v1/event_handlers/${h}/sims/${i}/ignore`],
            ['GET', `/v1/event_handlers/subscribers/${i}`],
            ['GET', `/v1/event_handlers/sims/${i}`],
          ] as const) {
            const res = await api.call({ method, url });
            expectError(res, [400, 404]);
          }
        },
      ),
      { numRuns: 60 },
    );
    await theirStateUnchanged();
  });
});

describe('hostile bodies', () => {
  it('targets of any text, or of the other operator, are refused and nothing is stored', async () => {
    const field = fc.constantFrom('targetImsi', 'targetSimId', 'targetGroupId', 'targetOperatorId');
    await fc.assert(
      fc.asyncProperty(
        field,
        fc.oneof(hostile, fc.constantFrom(theirSim, theirImsi, theirGroup, other.operatorId)),
        async (f, value) => {
          const res = await api.call({
            method: 'POST',
            url: '/v1/event_handlers',
            payload: { name: 'h', status: 'active', [f]: value, ruleConfig: rule, actionConfigList: [mail] },
          });
          expectError(res, [400, 404]);
        },
      ),
      { numRuns: 150 },
    );
    const mine = await api.db.store.db
      .selectFrom('event_handlers')
      .select('handler_id')
      .where('operator_id', '=', api.operator.operatorId)
      .execute();
    expect(mine).toEqual([]);
    await theirStateUnchanged();
  });

  it('property names and values of any text are refused or stored exactly; never a 500', async () => {
    const names = fc.oneof(
      fc.constantFrom(
        '__proto__',
        'constructor',
        'hasOwnProperty',
        'limitTotalTrafficMegaByte',
        'inactiveTimeoutDateConst',
        'inactiveTimeoutOffsetMinutes',
        'runOnceAmongTarget',
      ),
      fc.string({ maxLength: 70 }),
    );
    const values = fc.oneof(
      fc.constantFrom('1', '0', '2147483647', 'NEVER', 'AFTER_ONE_DAY', 'true', '', '1e3', ' 1', '01'),
      fc.string({ maxLength: 30 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(names, values, { maxKeys: 5 }), async (extra) => {
        const properties = { ...rule.properties, ...extra };
        const res = await api.call({
          method: 'POST',
          url: '/v1/event_handlers',
          payload: {
            name: 'h',
            status: 'active',
            targetSimId: mySim,
            ruleConfig: { type: rule.type, properties },
            actionConfigList: [mail],
          },
        });
        if (res.statusCode === 201) {
          const h = res.json();
          expect(Object.keys(h.ruleConfig.properties).sort()).toEqual(Object.keys(properties).sort());
          for (const [k, v] of Object.entries(properties)) expect(h.ruleConfig.properties[k]).toBe(v);
          const got = await api.call({ method: 'GET', url: `/v1/event_handlers/${h.handlerId}` });
          expect(got.json()).toEqual(h);
          expect(
            (await api.call({ method: 'DELETE', url: `/v1/event_handlers/${h.handlerId}` })).statusCode,
          ).toBe(204);
        } else {
          expectError(res, [400]);
        }
      }),
      { numRuns: 200 },
    );
    await theirStateUnchanged();
  });
});
