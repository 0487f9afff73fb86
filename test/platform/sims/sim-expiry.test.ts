// SIM expiry (setSimExpiryTime / unsetSimExpiryTime) on SQLite and PostgreSQL: the API's checks
// (time in the past, unknown action, terminate on a protected SIM; fast-check hostile bodies never
// answer 500 and are accepted only when valid), and the expiry carried out with the clock moved past
// it — the action applied once through the lifecycle (history, audit, the listeners that send the
// Disconnect), the expiry cleared, SimExpiredRule/SubscriberExpiredRule fired once (runOnceAmongTarget
// once for a group), two expiry workers racing expiring each SIM once, and a crash before the commit
// leaving everything as it was (then expired once).

import fc from 'fast-check';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import type { DynamicOutcome, SessionControl } from '../../../src/platform/aaa/dynamic-requests.js';
import { SimExpiry } from '../../../src/platform/sims/expiry.js';
import { LIFECYCLE_ACTIONS } from '../../../src/platform/sims/lifecycle.js';
import { SIM_STATUSES } from '../../../src/platform/sims/model.js';
import type { SimChange } from '../../../src/platform/sims/sim-service.js';
import { openStore } from '../../../src/platform/store/database.js';
import { startSimExpiryJob } from '../../../src/servers/sim-expiry-job.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi, type TestSim } from '../aaa/fixture.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 10, 10, 0, 0);
const clock = new ManualClock(T0);
let api: TestApi;
let op: string;

beforeAll(async () => {
  api = await startTestApi({ clock });
  op = api.operator.operatorId;
});
afterAll(() => api.close());

// Tokens expire by the platform clock, which these tests move ahead: log in again when needed.
let token: { value: string; at: number } | undefined;
async function call(options: Parameters<TestApi['call']>[0]) {
  if (token === undefined || Math.abs(clock.now() - token.at) > HOUR) {
    const res = await api.call({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { email: api.operator.email, password: api.operator.password },
    });
    token = { value: res.json().token, at: clock.now() };
  }
  return api.call({ token: token.value, ...options });
}
const post = (url: string, payload?: unknown) =>
  call({ method: 'POST', url, ...(payload !== undefined ? { payload: payload as object } : {}) });
const setExpiry = (s: TestSim, body: unknown) => post(`/v1/sims/${s.simId}/set_expiry_time`, body);
const sim = (s: TestSim) => api.platform.sims.get(op, s.simId);

async function handler(body: Record<string, unknown>): Promise<string> {
  const res = await post('/v1/event_handlers', { name: 'expiry', status: 'active', ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().handlerId;
}
async function firings(handlerId: string) {
  return api.db.store.db
    .selectFrom('event_firings')
    .select(['sim_id', 'rule_type', 'detail'])
    .where('handler_id', '=', handlerId)
    .orderBy('id')
    .execute();
}
async function expiryAudits(simId: string) {
  return (
    await api.db.store.db
      .selectFrom('audit_logs')
      .select(['operation_id', 'result', 'detail'])
      .where('operator_id', '=', op)
      .where('operation_id', '=', 'Sim:expireSim')
      .execute()
  ).filter((a) => (JSON.parse(a.detail) as { simId: string }).simId === simId);
}
async function history(simId: string) {
  return api.db.store.db
    .selectFrom('sim_status_history')
    .select(['status', 'operation'])
    .where('sim_id', '=', simId)
    .orderBy('id')
    .execute();
}

describe(`SIM expiry API (${testDialect})`, () => {
  it('sets and unsets the expiry in the SIM JSON, audited; refuses a past time, an unknown action, terminate on a protected SIM', async () => {
    clock.set(T0);
    const s = await createSim(api);
    let res = await setExpiry(s, { expiryTime: T0 + HOUR, expiryAction: 'suspend' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ simId: s.simId, expiryTime: T0 + HOUR, expiryAction: 'suspend' });
    expect((await call({ method: 'GET', url: `/v1/sims/${s.simId}` })).json()).toMatchObject({
      expiryTime: T0 + HOUR,
      expiryAction: 'suspend',
    });
    // No action: doNothing (the SIM only raises the expiry rules).
    res = await setExpiry(s, { expiryTime: T0 + 2 * HOUR });
    expect(res.json()).toMatchObject({ expiryTime: T0 + 2 * HOUR, expiryAction: 'doNothing' });

    res = await setExpiry(s, { expiryTime: T0 - 1, expiryAction: 'suspend' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'ERR_VALIDATION' });
    expect(res.json().message).toContain('not in the future');
    res = await setExpiry(s, { expiryTime: T0, expiryAction: 'suspend' });
    expect(res.statusCode).toBe(400);
    res = await setExpiry(s, { expiryTime: T0 + HOUR, expiryAction: 'explode' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'ERR_VALIDATION' });
    res = await setExpiry(s, { expiryAction: 'suspend' });
    expect(res.statusCode).toBe(400);
    res = await setExpiry(s, { expiryTime: T0 + HOUR, expiryAction: 'terminate' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'ERR_TERMINATION_PROTECTED' });
    expect(res.json().message).toContain('enable_termination');
    // The refusals changed nothing.
    expect(await sim(s)).toMatchObject({ expiryTime: T0 + 2 * HOUR, expiryAction: 'doNothing' });
    expect((await post(`/v1/sims/${s.simId}/enable_termination`)).statusCode).toBe(200);
    res = await setExpiry(s, { expiryTime: T0 + HOUR, expiryAction: 'terminate' });
    expect(res.statusCode, res.body).toBe(200);

    res = await post(`/v1/sims/${s.simId}/unset_expiry_time`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ expiryTime: null, expiryAction: null });
    // Idempotent.
    expect((await post(`/v1/sims/${s.simId}/unset_expiry_time`)).statusCode).toBe(200);
    const audit = await api.db.store.db
      .selectFrom('audit_logs')
      .select(['operation_id', 'detail'])
      .where('operator_id', '=', op)
      .where('operation_id', 'in', ['Sim:setSimExpiryTime', 'Sim:unsetSimExpiryTime'])
      .where('result', '=', 'success')
      .orderBy('id')
      .execute();
    expect(audit.map((a) => a.operation_id)).toEqual([
      'Sim:setSimExpiryTime',
      'Sim:setSimExpiryTime',
      'Sim:setSimExpiryTime',
      'Sim:unsetSimExpiryTime',
      'Sim:unsetSimExpiryTime',
    ]);
    expect(JSON.parse(audit[0]?.detail ?? '{}')).toMatchObject({
      expiryTime: T0 + HOUR,
      expiryAction: 'suspend',
    });

    expect(
      (await post('/v1/sims/8981100000000000000/set_expiry_time', { expiryTime: T0 + HOUR })).statusCode,
    ).toBe(404);
    // Another operator cannot see or set it.
    const other = await api.newOperator();
    res = await api.call({
      method: 'POST',
      url: `/v1/sims/${s.simId}/set_expiry_time`,
      token: other.token,
      payload: { expiryTime: T0 + HOUR },
    });
    expect(res.statusCode).toBe(404);
  });

  it('hostile bodies: never a 500, and accepted only when the time is a future integer and the action known', async () => {
    clock.set(T0);
    const s = await createSim(api);
    const actions = ['doNothing', 'deleteSession', 'deactivate', 'suspend'];
    const time = fc.oneof(
      fc.integer({ min: T0 + 1, max: T0 + 10 * 365 * 24 * HOUR }),
      fc.integer({ min: -1e15, max: T0 }),
      fc.double(),
      fc.constantFrom(Number.MAX_SAFE_INTEGER, 253_402_300_800_000, 1e300),
      fc.string(),
      fc.constant(null),
      fc.boolean(),
      fc.array(fc.integer(), { maxLength: 2 }),
    );
    const action = fc.oneof(
      fc.constantFrom(...actions),
      fc.string(),
      fc.constantFrom('__proto__', 'constructor', 'SUSPEND', 'suspend ', ''),
      fc.constant(null),
      fc.integer(),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({ expiryTime: time, expiryAction: action, extra: fc.jsonValue() }, { requiredKeys: [] }),
        async (body) => {
          const res = await setExpiry(s, body);
          expect(res.statusCode, res.body).toBeLessThan(500);
          const valid =
            !('extra' in body) &&
            Number.isSafeInteger(body.expiryTime) &&
            (body.expiryTime as number) > T0 &&
            (body.expiryTime as number) <= 253_402_300_799_999 &&
            (!('expiryAction' in body) || actions.includes(body.expiryAction as string));
          // A valid body is taken as given; anything else is a 400, or what the schema's type
          // coercion (JSON "123" → 123, as for every route) makes of it — which is checked again.
          if (valid) {
            expect(res.statusCode, res.body).toBe(200);
            expect(res.json()).toMatchObject({
              expiryTime: body.expiryTime,
              expiryAction: 'expiryAction' in body ? body.expiryAction : 'doNothing',
            });
          } else expect([200, 400], res.body).toContain(res.statusCode);
          if (res.statusCode === 200) {
            const view = res.json() as { expiryTime: number; expiryAction: string };
            expect(Number.isSafeInteger(view.expiryTime) && view.expiryTime > T0).toBe(true);
            expect(view.expiryTime).toBeLessThanOrEqual(253_402_300_799_999);
            expect(actions).toContain(view.expiryAction);
          } else expect(res.json().code, res.body).toBe('ERR_VALIDATION');
        },
      ),
      { numRuns: 150 },
    );
    // Leaves no expiry behind for the tests of the job.
    expect((await post(`/v1/sims/${s.simId}/unset_expiry_time`)).statusCode).toBe(200);
  });
});

describe(`SIM expiry carried out (${testDialect})`, () => {
  it('past its time a SIM is suspended once, through the lifecycle, its expiry cleared; SimExpiredRule fires once', async () => {
    clock.set(T0);
    const s = await createSim(api);
    expect((await post(`/v1/sims/${s.simId}/activate`)).statusCode).toBe(200);
    const id = await handler({
      targetSimId: s.simId,
      ruleConfig: { type: 'SimExpiredRule', properties: { inactiveTimeoutDateConst: 'IMMEDIATELY' } },
      actionConfigList: [
        {
          type: 'ChangeSpeedClassAction',
          properties: { speedClass: 's1.minimum', executionDateTimeConst: 'IMMEDIATELY' },
        },
      ],
    });
    expect((await setExpiry(s, { expiryTime: T0 + HOUR, expiryAction: 'suspend' })).statusCode).toBe(200);
    const changes: SimChange[] = [];
    api.platform.sims.onChange((c) => changes.push(c));

    // Not yet due: nothing happens, however often the job runs.
    clock.set(T0 + HOUR - 1);
    expect(await api.platform.expiry.runDue()).toEqual([]);
    expect((await sim(s)).status).toBe('active');

    clock.set(T0 + HOUR + 5);
    const outcomes = await api.platform.expiry.runDue();
    expect(outcomes.filter((o) => o.simId === s.simId)).toEqual([
      {
        operatorId: op,
        simId: s.simId,
        expiryTime: T0 + HOUR,
        expiryAction: 'suspend',
        result: 'applied',
      },
    ]);
    expect(await sim(s)).toMatchObject({ status: 'suspended', expiryTime: null, expiryAction: null });
    // The listeners (the RADIUS server's Disconnect) heard the move after the commit.
    expect(
      changes
        .filter((c) => c.simId === s.simId)
        .map((c) => [c.operationId, c.previous.status, c.current.status]),
    ).toEqual([['Sim:expireSim', 'active', 'suspended']]);
    expect((await history(s.simId)).at(-1)).toEqual({ status: 'suspended', operation: 'Sim:expireSim' });
    // Again: nothing is due any more.
    expect(await api.platform.expiry.runDue()).toEqual([]);
    await api.platform.events.tick();
    await api.platform.events.tick();
    const fired = await firings(id);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ sim_id: s.simId, rule_type: 'SimExpiredRule' });
    expect(JSON.parse(fired[0]?.detail ?? '{}')).toMatchObject({
      event: 'expiry',
      expiryTime: T0 + HOUR,
      expiryAction: 'suspend',
      result: 'applied',
      imsi: s.imsi,
    });
    expect((await sim(s)).speedClass).toBe('s1.minimum');
    expect(await history(s.simId)).toHaveLength(3);
    const audits = await expiryAudits(s.simId);
    expect(audits).toHaveLength(1);
    expect(audits[0]?.result).toBe('success');
  });

  it('SubscriberExpiredRule on the IMSI fires; runOnceAmongTarget on a group fires once for two SIMs expiring', async () => {
    clock.set(T0 + 10 * HOUR);
    const g = (await post('/v1/groups', {})).json().groupId as string;
    const a = await createSim(api, { groupId: g });
    const b = await createSim(api, { groupId: g });
    const byImsi = await handler({
      targetImsi: a.imsi,
      ruleConfig: { type: 'SubscriberExpiredRule', properties: { inactiveTimeoutDateConst: 'NEVER' } },
      actionConfigList: [
        {
          type: 'ChangeSpeedClassAction',
          properties: { speedClass: 's1.slow', executionDateTimeConst: 'IMMEDIATELY' },
        },
      ],
    });
    const once = await handler({
      targetGroupId: g,
      ruleConfig: {
        type: 'SimExpiredRule',
        properties: { inactiveTimeoutDateConst: 'NEVER', runOnceAmongTarget: 'true' },
      },
      actionConfigList: [
        {
          type: 'ChangeSpeedClassAction',
          properties: { speedClass: 's1.fast', executionDateTimeConst: 'NEVER' },
        },
      ],
    });
    for (const s of [a, b]) expect((await setExpiry(s, { expiryTime: T0 + 11 * HOUR })).statusCode).toBe(200);
    clock.set(T0 + 12 * HOUR);
    const outcomes = (await api.platform.expiry.runDue()).filter(
      (o) => o.simId === a.simId || o.simId === b.simId,
    );
    expect(outcomes.map((o) => [o.expiryAction, o.result])).toEqual([
      ['doNothing', 'unchanged'],
      ['doNothing', 'unchanged'],
    ]);
    await api.platform.events.tick();
    expect(await firings(byImsi)).toHaveLength(1);
    expect((await sim(a)).speedClass).toBe('s1.slow');
    expect((await sim(a)).status).toBe('ready');
    expect(await firings(once)).toHaveLength(1);
  });

  it('deleteSession asks the session control to end the sessions; a refused move is recorded and the rule still fires', async () => {
    clock.set(T0 + 20 * HOUR);
    const asked: string[] = [];
    const control: SessionControl = {
      disconnect: async (_operatorId, simId): Promise<DynamicOutcome[]> => {
        asked.push(simId);
        return [];
      },
      changeRate: async () => [],
    };
    const previous = api.platform.aaa.sessionControl;
    api.platform.aaa.attachSessionControl(control);
    try {
      const a = await createSim(api);
      const b = await createSim(api);
      const id = await handler({
        targetSimId: b.simId,
        ruleConfig: { type: 'SimExpiredRule', properties: { inactiveTimeoutDateConst: 'IMMEDIATELY' } },
        actionConfigList: [
          {
            type: 'ChangeSpeedClassAction',
            properties: { speedClass: 's1.slow', executionDateTimeConst: 'NEVER' },
          },
        ],
      });
      expect(
        (await setExpiry(a, { expiryTime: T0 + 21 * HOUR, expiryAction: 'deleteSession' })).statusCode,
      ).toBe(200);
      // b is ready: suspend (active → suspended) is refused by the lifecycle when the time comes.
      expect((await setExpiry(b, { expiryTime: T0 + 21 * HOUR, expiryAction: 'suspend' })).statusCode).toBe(
        200,
      );
      clock.set(T0 + 22 * HOUR);
      const outcomes = await api.platform.expiry.runDue();
      expect(outcomes.find((o) => o.simId === a.simId)).toMatchObject({ result: 'applied' });
      expect(outcomes.find((o) => o.simId === b.simId)).toMatchObject({
        result: 'skipped',
        reason: expect.stringContaining('ERR_INVALID_TRANSITION'),
      });
      expect(asked).toEqual([a.simId]);
      expect(await sim(b)).toMatchObject({ status: 'ready', expiryTime: null });
      expect((await expiryAudits(b.simId)).map((x) => x.result)).toEqual(['failure']);
      await api.platform.events.tick();
      expect(await firings(id)).toHaveLength(1);
    } finally {
      api.platform.aaa.attachSessionControl(previous);
    }
  });

  it('a crash before the commit leaves every SIM of the batch as it was; the next run expires each once', async () => {
    clock.set(T0 + 30 * HOUR);
    const sims: TestSim[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await createSim(api);
      expect((await post(`/v1/sims/${s.simId}/activate`)).statusCode).toBe(200);
      expect(
        (await setExpiry(s, { expiryTime: T0 + 31 * HOUR, expiryAction: 'deactivate' })).statusCode,
      ).toBe(200);
      sims.push(s);
    }
    await handler({
      targetSimId: sims[0]?.simId,
      ruleConfig: { type: 'SimExpiredRule', properties: { inactiveTimeoutDateConst: 'IMMEDIATELY' } },
      actionConfigList: [
        {
          type: 'ChangeSpeedClassAction',
          properties: { speedClass: 's1.slow', executionDateTimeConst: 'NEVER' },
        },
      ],
    });
    clock.set(T0 + 32 * HOUR);
    const crashing = new SimExpiry(api.db.store, clock, api.platform.sims, {
      beforeCommit: async () => {
        throw new Error('process killed');
      },
    });
    await expect(crashing.runDue()).rejects.toThrow('process killed');
    for (const s of sims) {
      expect(await sim(s)).toMatchObject({
        status: 'active',
        expiryTime: T0 + 31 * HOUR,
        expiryAction: 'deactivate',
      });
      expect(await expiryAudits(s.simId)).toEqual([]);
    }
    const outbox = await api.db.store.db
      .selectFrom('event_outbox')
      .select('sim_id')
      .where('kind', '=', 'expiry')
      .execute();
    expect(outbox).toEqual([]);
    await api.platform.expiry.runDue();
    await api.platform.expiry.runDue();
    for (const s of sims) {
      expect(await sim(s)).toMatchObject({ status: 'inactive', expiryTime: null });
      expect(await expiryAudits(s.simId)).toHaveLength(1);
      expect((await history(s.simId)).filter((h) => h.operation === 'Sim:expireSim')).toHaveLength(1);
    }
  });

  it('the job (as serve starts it) expires what is due at its first run and counts it by action and result', async () => {
    clock.set(T0 + 35 * HOUR);
    const s = await createSim(api);
    expect((await post(`/v1/sims/${s.simId}/activate`)).statusCode).toBe(200);
    expect((await setExpiry(s, { expiryTime: T0 + 36 * HOUR, expiryAction: 'suspend' })).statusCode).toBe(
      200,
    );
    clock.set(T0 + 36 * HOUR);
    const metrics = new Registry();
    const job = startSimExpiryJob(api.platform, pino({ level: 'silent' }), metrics);
    // The job runs once at start; stop waits for that run to end.
    await job.stop();
    expect(await sim(s)).toMatchObject({ status: 'suspended', expiryTime: null });
    const text = await metrics.metrics();
    expect(text).toContain('simtrust_sim_expiries_total{action="suspend",result="applied"} 1');
  });

  it('two expiry workers racing over one database expire each of 120 SIMs once', async () => {
    clock.set(T0 + 40 * HOUR);
    const sims: TestSim[] = [];
    for (let i = 0; i < 120; i++) {
      const s = await createSim(api);
      await api.platform.sims.transition(
        { principal: { operatorId: op, kind: 'system', id: 'test' }, operationId: 'Sim:activateSim' },
        s.simId,
        'activate',
      );
      await api.platform.sims.setExpiry(
        { principal: { operatorId: op, kind: 'system', id: 'test' }, operationId: 'Sim:setSimExpiryTime' },
        s.simId,
        { expiryTime: T0 + 41 * HOUR, expiryAction: 'suspend' },
      );
      sims.push(s);
    }
    clock.set(T0 + 42 * HOUR);
    // PostgreSQL: a second pool, as a second instance has (FOR UPDATE SKIP LOCKED). SQLite: the same
    // file through the same connection (BEGIN IMMEDIATE serialises them).
    const second =
      testDialect === 'postgres' ? await openStore(api.db.url, { migrate: false }) : api.db.store;
    try {
      const w1 = new SimExpiry(api.db.store, clock, api.platform.sims, { batch: 7 });
      const w2 = new SimExpiry(second, clock, api.platform.sims, { batch: 7 });
      const results = await Promise.all([w1.runDue(), w2.runDue(), w1.runDue(), w2.runDue()]);
      const expired = results.flat().map((o) => o.simId);
      const ours = new Set(sims.map((s) => s.simId));
      const mine = expired.filter((id) => ours.has(id));
      expect(mine).toHaveLength(120);
      expect(new Set(mine).size).toBe(120);
    } finally {
      if (second !== api.db.store) await second.close();
    }
    const rows = await api.db.store.db
      .selectFrom('sim_status_history')
      .select((eb) => ['sim_id', eb.fn.countAll<number>().as('n')])
      .where(
        'sim_id',
        'in',
        sims.map((s) => s.simId),
      )
      .where('operation', '=', 'Sim:expireSim')
      .groupBy('sim_id')
      .execute();
    expect(rows).toHaveLength(120);
    expect(rows.every((r) => Number(r.n) === 1)).toBe(true);
    for (const s of sims.slice(0, 5))
      expect(await sim(s)).toMatchObject({ status: 'suspended', expiryTime: null });
  });
});

describe(`bulk lifecycle moves (${testDialect})`, () => {
  it('transitionManyWithin answers every status × action × protection as transition does, in one call', async () => {
    clock.set(T0 + 50 * HOUR);
    const ctx = {
      principal: { operatorId: op, kind: 'system' as const, id: 'test' },
      operationId: 'Sim:test',
    };
    const cases: Array<{ status: string; action: (typeof LIFECYCLE_ACTIONS)[number]; enabled: 0 | 1 }> = [];
    for (const status of SIM_STATUSES)
      for (const action of LIFECYCLE_ACTIONS)
        for (const enabled of [0, 1] as const) cases.push({ status, action, enabled });
    const pairs: Array<{ single: TestSim; bulk: TestSim }> = [];
    for (const c of cases) {
      const pair = { single: await createSim(api), bulk: await createSim(api) };
      await api.db.store.db
        .updateTable('sims')
        .set({ status: c.status, termination_enabled: c.enabled })
        .where('sim_id', 'in', [pair.single.simId, pair.bulk.simId])
        .execute();
      pairs.push(pair);
    }
    const single = await Promise.all(
      cases.map(async (c, i) => {
        try {
          return (
            await api.platform.sims.transition(ctx, (pairs[i] as { single: TestSim }).single.simId, c.action)
          ).status;
        } catch (e) {
          return (e as { code: string }).code;
        }
      }),
    );
    const rows = await api.db.store.db
      .selectFrom('sims')
      .selectAll()
      .where(
        'sim_id',
        'in',
        pairs.map((p) => p.bulk.simId),
      )
      .execute();
    const byId = new Map(rows.map((r) => [r.sim_id, r]));
    const made = await api.db.store.transaction((trx) =>
      api.platform.sims.transitionManyWithin(
        trx,
        () => ctx,
        cases.map((c, i) => ({
          sim: byId.get((pairs[i] as { bulk: TestSim }).bulk.simId)!,
          action: c.action,
        })),
        clock.now(),
      ),
    );
    const bulk = cases.map((_, i) => {
      const m = made.get((pairs[i] as { bulk: TestSim }).bulk.simId);
      return m === undefined ? 'missing' : 'code' in m ? m.code : m.to;
    });
    expect(bulk).toEqual(single);
    // Both the allowed and the refused kinds occur, and the history has a row per move made.
    expect(single.filter((x) => x.startsWith('ERR_')).length).toBeGreaterThan(10);
    expect(single.filter((x) => !x.startsWith('ERR_')).length).toBeGreaterThan(10);
    for (const [i, p] of pairs.entries()) {
      const moved = !(single[i] as string).startsWith('ERR_');
      expect((await sim(p.bulk)).status).toBe(moved ? single[i] : cases[i]?.status);
      expect(await history(p.bulk.simId)).toHaveLength(moved ? 2 : 1);
    }
  });
});
