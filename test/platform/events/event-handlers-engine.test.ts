// The event handlers' engine (issue 14, slice 2) with the clock moved, on SQLite and PostgreSQL:
// events written by the database triggers in the transaction of each change (status, speed class,
// session, IMEI refusal), daily traffic from real accounting records, actions that change the SIM,
// scheduled actions at the next UTC day, re-arming, ignore and inactive handlers, runOnceAmongTarget,
// leases taken over after a worker died (between firing and action, and after the change before its
// record), retries with backoff into `dead`, two engines over one database firing each SIM once, and
// the engine's memory of fired rule states (skips, with the database guard still the authority), and
// a group's total traffic, and claimed runs not started once their lease has nearly ended.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { admit } from '../../../src/platform/aaa/admission.js';
import { EventEngine } from '../../../src/platform/events/engine.js';
import { openStore } from '../../../src/platform/store/database.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi, type TestSim } from '../aaa/fixture.js';

const DAY = 86_400_000;
const MIB = 1_048_576;
// 10:00 UTC, so "the next UTC day" is 14 hours away.
const T0 = Date.UTC(2026, 5, 10, 10, 0, 0);
const clock = new ManualClock(T0);
let api: TestApi;
let op: string;

beforeAll(async () => {
  api = await startTestApi({ clock });
  op = api.operator.operatorId;
});
afterAll(() => api.close());

// Tokens expire by the platform clock, which these tests move days ahead: log in again when needed.
let token: { value: string; at: number } | undefined;
async function call(options: Parameters<TestApi['call']>[0]) {
  if (token === undefined || Math.abs(clock.now() - token.at) > 3_600_000) {
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

const at = (extra: Record<string, string> = {}) => ({ executionDateTimeConst: 'IMMEDIATELY', ...extra });

async function handler(body: Record<string, unknown>): Promise<string> {
  const res = await call({
    method: 'POST',
    url: '/v1/event_handlers',
    payload: { name: 'h', status: 'active', ...body },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().handlerId;
}

async function group(): Promise<string> {
  return (await call({ method: 'POST', url: '/v1/groups', payload: {} })).json().groupId;
}

const sim = (s: TestSim) => api.platform.sims.get(op, s.simId);
const post = (url: string, payload?: object) =>
  call({ method: 'POST', url, ...(payload ? { payload } : {}) });

type Execution = {
  executionId: number;
  simId: string | null;
  ruleType: string;
  detail: Record<string, unknown>;
  actions: Array<{
    type: string;
    status: string;
    scheduledTime: number;
    attempts: number;
    result: Record<string, unknown> | null;
  }>;
};
async function executions(handlerId: string, query = ''): Promise<Execution[]> {
  const res = await call({ method: 'GET', url: `/v1/event_handlers/${handlerId}/executions${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

let acct = 0;
/** A session through the real accounting path (Start, then Interims with cumulative octets). */
function session(s: TestSim, imei?: string) {
  const id = `eh-${++acct}`;
  const base = { nasAddress: '127.0.0.1', operatorId: op, acctSessionId: id, imsi: s.imsi };
  return {
    start: () =>
      api.platform.aaa.accounting.record({
        ...base,
        kind: 'start',
        time: clock.now(),
        ...(imei ? { imei } : {}),
        ueIp: `127.70.${acct >> 8}.${acct & 255}`,
      }),
    interim: (octets: number) =>
      api.platform.aaa.accounting.record({
        ...base,
        kind: 'interim',
        time: clock.now(),
        inputOctets: octets,
        outputOctets: 0,
      }),
    stop: (octets: number) =>
      api.platform.aaa.accounting.record({
        ...base,
        kind: 'stop',
        time: clock.now(),
        inputOctets: octets,
        outputOctets: 0,
      }),
  };
}

describe(`event handler engine (${testDialect})`, () => {
  it('a status change fires once: the speed class now, re-activation at the next UTC day', async () => {
    clock.set(T0);
    const g = await group();
    const s = await createSim(api, { groupId: g });
    const id = await handler({
      targetGroupId: g,
      ruleConfig: {
        type: 'SimStatusAttributeRule',
        properties: {
          sourceStatus: 'active',
          targetStatus: 'suspended',
          inactiveTimeoutDateConst: 'IMMEDIATELY',
        },
      },
      actionConfigList: [
        { type: 'ChangeSpeedClassAction', properties: at({ speedClass: 's1.minimum' }) },
        { type: 'ActivationAction', properties: { executionDateTimeConst: 'BEGINNING_OF_NEXT_DAY' } },
      ],
    });
    expect((await post(`/v1/sims/${s.simId}/activate`)).statusCode).toBe(200);
    expect((await post(`/v1/sims/${s.simId}/suspend`)).statusCode).toBe(200);
    const counts = await api.platform.events.tick();
    expect(counts.firings).toBe(1);
    expect(await sim(s)).toMatchObject({ status: 'suspended', speedClass: 's1.minimum' });
    let [e] = await executions(id);
    expect(e).toMatchObject({
      simId: s.simId,
      ruleType: 'SimStatusAttributeRule',
      detail: { from: 'active', to: 'suspended' },
    });
    expect(e?.actions.map((a) => [a.type, a.status])).toEqual([
      ['ChangeSpeedClassAction', 'succeeded'],
      ['ActivationAction', 'pending'],
    ]);
    expect(e?.actions[1]?.scheduledTime).toBe(Date.UTC(2026, 5, 11));

    // Nothing more happens before midnight UTC, however often the engine runs.
    clock.set(Date.UTC(2026, 5, 10, 23, 59, 59));
    expect((await api.platform.events.tick()).firings).toBe(0);
    expect((await sim(s)).status).toBe('suspended');
    clock.set(Date.UTC(2026, 5, 11));
    await api.platform.events.tick();
    expect((await sim(s)).status).toBe('active');
    await api.platform.events.tick();
    [e] = await executions(id);
    expect(e?.actions.map((a) => a.status)).toEqual(['succeeded', 'succeeded']);
    expect(e?.actions[1]?.result).toEqual({ from: 'suspended', to: 'active' });
    expect(await executions(id)).toHaveLength(1);
    // The changes are audited as the engine's, naming the handler.
    const audit = await api.db.store.db
      .selectFrom('audit_logs')
      .select(['operation_id', 'actor_kind', 'actor_id'])
      .where('operator_id', '=', op)
      .where('actor_id', '=', `event-handler:${id}`)
      .orderBy('id')
      .execute();
    expect(audit.map((a) => a.operation_id)).toEqual([
      'EventHandler:ChangeSpeedClassAction',
      'EventHandler:ActivationAction',
    ]);
    // IMMEDIATELY re-arms: a second suspension fires again.
    await post(`/v1/sims/${s.simId}/suspend`);
    expect((await api.platform.events.tick()).firings).toBe(1);
    expect(await executions(id)).toHaveLength(2);
  });

  it('daily traffic over the limit (from accounting) fires once per UTC day; the restore runs once at midnight', async () => {
    clock.set(T0);
    const s = await createSim(api);
    const id = await handler({
      targetImsi: s.imsi,
      ruleConfig: {
        type: 'SubscriberDailyTrafficRule',
        properties: { limitTotalTrafficMegaByte: '1', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
      },
      actionConfigList: [
        { type: 'ChangeSpeedClassAction', properties: at({ speedClass: 's1.slow' }) },
        {
          type: 'ChangeSpeedClassAction',
          properties: { speedClass: 's1.standard', executionDateTimeConst: 'BEGINNING_OF_NEXT_DAY' },
        },
      ],
    });
    const sess = session(s, '353432191080009');
    expect(await sess.start()).toBe('recorded');
    await sess.interim(MIB);
    expect((await api.platform.events.tick()).firings).toBe(0);
    clock.advance(60_000);
    await sess.interim(MIB + 1);
    expect((await api.platform.events.tick()).firings).toBe(1);
    expect((await sim(s)).speedClass).toBe('s1.slow');
    clock.advance(60_000);
    await sess.interim(5 * MIB);
    expect((await api.platform.events.tick()).firings).toBe(0);
    const [e] = await executions(id);
    expect(e?.detail).toMatchObject({ usageBytes: MIB + 1, limitBytes: MIB });

    clock.set(Date.UTC(2026, 5, 11, 0, 0, 1));
    expect((await api.platform.events.tick()).firings).toBe(0);
    expect((await sim(s)).speedClass).toBe('s1.standard');
    // The new day's own usage crosses the limit again: a second firing.
    await sess.interim(7 * MIB);
    expect((await api.platform.events.tick()).firings).toBe(1);
    expect((await sim(s)).speedClass).toBe('s1.slow');
    const all = await executions(id);
    expect(all).toHaveLength(2);
    expect(all.map((x) => x.actions.map((a) => a.status))).toEqual([
      ['succeeded', 'pending'],
      ['succeeded', 'succeeded'],
    ]);
  });

  it('a session with an IMEI locks the SIM to it; an IMEI refusal suspends the SIM', async () => {
    clock.set(T0 + DAY * 3);
    const s = await createSim(api);
    await post(`/v1/sims/${s.simId}/activate`);
    const lock = await handler({
      targetSimId: s.simId,
      ruleConfig: {
        type: 'SubscriberSessionStatusRule',
        properties: { sessionStatus: 'Created', hasImei: 'true', inactiveTimeoutDateConst: 'NEVER' },
      },
      actionConfigList: [{ type: 'ImeiLockAction', properties: at() }],
    });
    const suspend = await handler({
      targetSimId: s.simId,
      ruleConfig: { type: 'SimImeiMismatchedRule', properties: { inactiveTimeoutDateConst: 'NEVER' } },
      actionConfigList: [{ type: 'SuspendAction', properties: at() }],
    });
    await session(s, '353432191080017').start();
    await api.platform.events.tick();
    expect((await sim(s)).imeiLock).toMatchObject({ imei: '353432191080017' });
    expect(await executions(lock)).toHaveLength(1);

    const refused = await admit(api.db.store.db, {
      imsi: s.imsi,
      imeisv: '3534321910800250',
      access: 'packet-gateway',
      operatorId: op,
      now: clock.now(),
    });
    expect(refused.ok).toBe(false);
    await api.platform.events.tick();
    expect((await sim(s)).status).toBe('suspended');
    const [e] = await executions(suspend);
    expect(e).toMatchObject({ ruleType: 'SimImeiMismatchedRule', detail: { imsi: s.imsi } });
    // NEVER: a second refusal does not fire again.
    await admit(api.db.store.db, {
      imsi: s.imsi,
      imeisv: '3534321910800250',
      access: 'packet-gateway',
      operatorId: op,
      now: clock.now(),
    });
    await api.platform.events.tick();
    expect(await executions(suspend)).toHaveLength(1);
  });

  it('ignored SIMs and inactive handlers do not fire; runOnceAmongTarget fires once for a group', async () => {
    clock.set(T0 + DAY * 5);
    const g = await group();
    const [a, b, c] = [
      await createSim(api, { groupId: g }),
      await createSim(api, { groupId: g }),
      await createSim(api, { groupId: g }),
    ] as TestSim[];
    const rule = (runOnce: string) => ({
      type: 'SimSpeedClassAttributeRule',
      properties: {
        targetSpeedClass: 's1.fast',
        inactiveTimeoutDateConst: 'NEVER',
        runOnceAmongTarget: runOnce,
      },
    });
    const mail = [{ type: 'StandbyAction', properties: { executionDateTimeConst: 'NEVER' } }];
    const perSim = await handler({ targetGroupId: g, ruleConfig: rule('false'), actionConfigList: mail });
    const once = await handler({ targetGroupId: g, ruleConfig: rule('true'), actionConfigList: mail });
    const inactive = await handler({
      targetGroupId: g,
      status: 'inactive',
      ruleConfig: rule('false'),
      actionConfigList: mail,
    });
    expect((await post(`/v1/event_handlers/${perSim}/sims/${b?.simId}/ignore`)).statusCode).toBe(200);
    for (const s of [a, b, c] as TestSim[]) {
      await post(`/v1/sims/${s.simId}/update_speed_class`, { speedClass: 's1.fast' });
    }
    await api.platform.events.tick();
    expect((await executions(perSim)).map((e) => e.simId).sort()).toEqual([a?.simId, c?.simId].sort());
    expect(await executions(once)).toHaveLength(1);
    expect(await executions(inactive)).toEqual([]);
    // NEVER as execution time: the run is recorded as skipped.
    expect((await executions(once))[0]?.actions[0]?.status).toBe('skipped');
    // The per-SIM filter of the history.
    expect((await executions(perSim, `?sim_id=${a?.simId}`)).map((e) => e.simId)).toEqual([a?.simId]);
  });

  it('a run whose worker died is taken over after its lease, and a change made before the crash is not made twice', async () => {
    clock.set(T0 + DAY * 7);
    const s = await createSim(api);
    await post(`/v1/sims/${s.simId}/activate`);
    const id = await handler({
      targetSimId: s.simId,
      ruleConfig: {
        type: 'SimStatusAttributeRule',
        properties: { targetStatus: 'inactive', inactiveTimeoutDateConst: 'NEVER' },
      },
      actionConfigList: [
        { type: 'ChangeSpeedClassAction', properties: at({ speedClass: 's1.minimum' }) },
        { type: 'SuspendAction', properties: at() },
      ],
    });
    // Worker A: makes the speed change and then "dies" before recording it; never finishes the second.
    const dead = new EventEngine(api.db.store, clock, api.platform.sims);
    const hang = new Promise<never>(() => undefined);
    dead.useExecutor('ChangeSpeedClassAction', async (run) => {
      await api.platform.sims.updateSpeedClass(
        {
          principal: { operatorId: op, kind: 'system', id: 'dying-worker' },
          operationId: 'EventHandler:ChangeSpeedClassAction',
        },
        run.simId as string,
        's1.minimum',
      );
      return hang;
    });
    dead.useExecutor('SuspendAction', () => hang);
    await post(`/v1/sims/${s.simId}/deactivate`);
    expect((await dead.evaluateOutbox()).firings).toBe(1);
    void dead.runDueActions();
    await expect
      .poll(async () => (await executions(id))[0]?.actions.map((a) => a.status))
      .toEqual(['running', 'running']);

    // Within the lease nobody else takes the runs.
    clock.advance(30_000);
    await api.platform.events.tick();
    expect((await executions(id))[0]?.actions.map((a) => a.status)).toEqual(['running', 'running']);
    // After it, the live engine takes them over: the speed class is already set (recorded as such),
    // and the SIM is suspended... from inactive, which the lifecycle refuses: a clear failure.
    clock.advance(31_000);
    await api.platform.events.tick();
    const [e] = await executions(id);
    expect(e?.actions.map((a) => [a.status, a.attempts])).toEqual([
      ['succeeded', 2],
      ['failed', 2],
    ]);
    expect(e?.actions[0]?.result).toEqual({ speedClass: 's1.minimum', unchanged: true });
    expect(e?.actions[1]?.result).toMatchObject({ code: 'ERR_INVALID_TRANSITION' });
    const changes = await api.db.store.db
      .selectFrom('audit_logs')
      .select('operation_id')
      .where('operator_id', '=', op)
      .where('operation_id', '=', 'EventHandler:ChangeSpeedClassAction')
      .where('detail', 'like', `%${s.simId}%`)
      .execute();
    expect(changes).toHaveLength(1);
  });

  it('a transient failure is retried with exponential backoff, then the run is dead', async () => {
    clock.set(T0 + DAY * 9);
    const s = await createSim(api);
    const engine = new EventEngine(api.db.store, clock, api.platform.sims, {
      maxAttempts: 3,
      retryBaseMs: 1000,
    });
    let calls = 0;
    engine.useExecutor('StandbyAction', async () => {
      calls++;
      throw new Error('connection reset');
    });
    const id = await handler({
      targetSimId: s.simId,
      ruleConfig: {
        type: 'SimSpeedClassAttributeRule',
        properties: { targetSpeedClass: 's1.slow', inactiveTimeoutDateConst: 'NEVER' },
      },
      actionConfigList: [{ type: 'StandbyAction', properties: at() }],
    });
    await post(`/v1/sims/${s.simId}/update_speed_class`, { speedClass: 's1.slow' });
    await engine.tick({ traffic: false });
    let run = (await executions(id))[0]?.actions[0];
    expect(run).toMatchObject({
      status: 'pending',
      attempts: 1,
      scheduledTime: clock.now() + 1000,
      result: { error: 'connection reset' },
    });
    clock.advance(999);
    await engine.tick({ traffic: false });
    expect(calls).toBe(1);
    clock.advance(1);
    await engine.tick({ traffic: false });
    run = (await executions(id))[0]?.actions[0];
    expect(run).toMatchObject({ status: 'pending', attempts: 2, scheduledTime: clock.now() + 2000 });
    clock.advance(2000);
    await engine.tick({ traffic: false });
    run = (await executions(id))[0]?.actions[0];
    expect(run).toMatchObject({ status: 'dead', attempts: 3 });
    clock.advance(3_600_000);
    await engine.tick({ traffic: false });
    expect(calls).toBe(3);
  });

  it('two engines over one database fire each of 300 SIMs crossing a limit once, and run each action once', async () => {
    clock.set(T0 + DAY * 11);
    const g = await group();
    const sims: TestSim[] = [];
    for (let i = 0; i < 300; i++) sims.push(await createSim(api, { groupId: g }));
    const id = await handler({
      targetGroupId: g,
      ruleConfig: {
        type: 'SimDailyTotalTrafficRule',
        properties: { limitTotalTrafficMegaByte: '1', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
      },
      actionConfigList: [{ type: 'ChangeSpeedClassAction', properties: at({ speedClass: 's1.minimum' }) }],
    });
    await Promise.all(
      sims.map(async (s) => {
        const sess = session(s);
        await sess.start();
        await sess.interim(2 * MIB);
      }),
    );
    // PostgreSQL: a second pool, as a second instance has. SQLite: the same file through the same
    // connection (better-sqlite3 is synchronous: two connections in one process would block the event
    // loop on each other's lock; separate processes are covered by the CLI/server tests).
    const second =
      testDialect === 'postgres' ? await openStore(api.db.url, { migrate: false }) : api.db.store;
    try {
      const other = new EventEngine(second, clock, api.platform.sims);
      await Promise.all([api.platform.events.tick(), other.tick(), api.platform.events.tick(), other.tick()]);
      await Promise.all([api.platform.events.tick(), other.tick()]);
    } finally {
      if (second !== api.db.store) await second.close();
    }
    const firings = await api.db.store.db
      .selectFrom('event_firings')
      .select(['sim_id'])
      .where('handler_id', '=', id)
      .execute();
    expect(firings).toHaveLength(300);
    expect(new Set(firings.map((f) => f.sim_id)).size).toBe(300);
    const runs = await api.db.store.db
      .selectFrom('event_action_runs')
      .select(['status', 'attempts', 'idempotency_key'])
      .where('handler_id', '=', id)
      .execute();
    expect(runs).toHaveLength(300);
    expect(runs.every((r) => r.status === 'succeeded' && r.attempts === 1)).toBe(true);
    const changed = await api.db.store.db
      .selectFrom('sims')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('group_id', '=', g)
      .where('speed_class', '=', 's1.minimum')
      .executeTakeFirstOrThrow();
    expect(Number(changed.n)).toBe(300);
  });

  it('usage accounting just committed is evaluated by a tick of the changed SIMs; usage it did not note waits for the full sweep', async () => {
    clock.set(T0 + DAY * 13);
    const g = await group();
    const [a, b] = [await createSim(api, { groupId: g }), await createSim(api, { groupId: g })] as TestSim[];
    const id = await handler({
      targetGroupId: g,
      ruleConfig: {
        type: 'SimDailyTotalTrafficRule',
        properties: { limitTotalTrafficMegaByte: '1', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
      },
      actionConfigList: [{ type: 'ChangeSpeedClassAction', properties: at({ speedClass: 's1.minimum' }) }],
    });
    // Nothing noted yet (earlier tests' notes are taken by a first changed tick): nothing to evaluate.
    await api.platform.events.tick({ traffic: 'changed' });
    expect(api.platform.events.usagePending).toBe(false);
    const woken: number[] = [];
    const unsubscribe = api.platform.events.onUsage(() => woken.push(1));
    try {
      const sess = session(a as TestSim);
      await sess.start();
      await sess.interim(2 * MIB);
      expect(woken.length).toBeGreaterThan(0);
      expect(api.platform.events.usagePending).toBe(true);
    } finally {
      unsubscribe();
    }
    // B's usage is written behind the accounting writer's back: not noted.
    await api.db.store.db
      .insertInto('sim_usage')
      .values({
        operator_id: op,
        sim_id: (b as TestSim).simId,
        period: 'day',
        bucket_start: Date.UTC(2026, 5, 10 + 13),
        speed_class: 's1.standard',
        upload_bytes: 0,
        download_bytes: 2 * MIB,
        upload_packets: 0,
        download_packets: 0,
      })
      .execute();
    expect((await api.platform.events.tick({ traffic: 'changed' })).firings).toBe(1);
    expect((await sim(a as TestSim)).speedClass).toBe('s1.minimum');
    expect((await sim(b as TestSim)).speedClass).not.toBe('s1.minimum');
    expect(api.platform.events.usagePending).toBe(false);
    // The full sweep finds B, and A is not fired twice.
    expect((await api.platform.events.tick()).firings).toBe(1);
    expect((await executions(id)).map((e) => e.simId).sort()).toEqual([a?.simId, b?.simId].sort());
  });

  it('remembers the rule states it fired: a SIM fired today is not fired again, by this engine (memory) or a fresh one (the database), until it re-arms', async () => {
    clock.set(T0 + DAY * 15);
    const g = await group();
    const [a, b] = [await createSim(api, { groupId: g }), await createSim(api, { groupId: g })] as TestSim[];
    const id = await handler({
      targetGroupId: g,
      ruleConfig: {
        type: 'SimDailyTotalTrafficRule',
        properties: { limitTotalTrafficMegaByte: '1', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
      },
      actionConfigList: [{ type: 'StandbyAction', properties: { executionDateTimeConst: 'NEVER' } }],
    });
    await api.platform.events.tick({ traffic: 'changed' });
    const sa = session(a as TestSim);
    const sb = session(b as TestSim);
    for (const s of [sa, sb]) await s.start();
    await sa.interim(2 * MIB);
    await sb.interim(MIB / 2);
    // Both SIMs evaluated (one handler each), A over the limit.
    expect(await api.platform.events.tick({ traffic: 'changed' })).toMatchObject({
      firings: 1,
      evaluations: 2,
    });
    // A's state row is taken away behind the engine's back: this engine remembers A fired today and
    // leaves it out; B, still under the limit, crosses now and fires.
    await api.db.store.db.deleteFrom('event_rule_states').where('handler_id', '=', id).execute();
    await sa.interim(3 * MIB);
    await sb.interim(2 * MIB);
    expect((await api.platform.events.tick({ traffic: 'changed' })).firings).toBe(1);
    expect((await executions(id)).map((e) => e.simId).sort()).toEqual([a?.simId, b?.simId].sort());
    // A fresh engine remembers nothing: the database guard decides — B's state (just written) holds,
    // A's (deleted above) does not, so only A fires again. The guard, not the memory, is the authority.
    clock.advance(1000);
    const fresh = new EventEngine(api.db.store, clock, api.platform.sims);
    fresh.noteUsage(op, [(a as TestSim).imsi, (b as TestSim).imsi]);
    expect(await fresh.evaluateTraffic('changed')).toBe(1);
    // Re-armed at the next UTC day: the new day's usage fires both again, in the remembering engine.
    clock.set(T0 + DAY * 16 + 1000);
    await sa.interim(6 * MIB);
    await sb.interim(5 * MIB);
    expect((await api.platform.events.tick({ traffic: 'changed' })).firings).toBe(2);
    expect(await executions(id)).toHaveLength(5);
  });

  it("a group's daily total over the limit fires once for the group, from the tick of the SIMs just recorded", async () => {
    clock.set(T0 + DAY * 17);
    const g = await group();
    const [a, b] = [await createSim(api, { groupId: g }), await createSim(api, { groupId: g })] as TestSim[];
    const outside = await createSim(api);
    const id = await handler({
      targetGroupId: g,
      ruleConfig: {
        type: 'DailyTotalTrafficRule',
        properties: { limitTotalTrafficMegaByte: '3', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
      },
      actionConfigList: [
        {
          type: 'SendMailToOperatorAction',
          properties: { title: 't', message: 'm', executionDateTimeConst: 'NEVER' },
        },
      ],
    });
    await api.platform.events.tick({ traffic: 'changed' });
    const [sa, sb, so] = [session(a as TestSim), session(b as TestSim), session(outside)];
    for (const s of [sa, sb, so]) await s.start();
    // 2 + 1 MiB in the group: not over 3 MiB; the SIM outside the group does not count.
    await sa.interim(2 * MIB);
    await sb.interim(MIB);
    await so.interim(10 * MIB);
    expect((await api.platform.events.tick({ traffic: 'changed' })).firings).toBe(0);
    await sb.interim(MIB + 1);
    expect((await api.platform.events.tick({ traffic: 'changed' })).firings).toBe(1);
    await sa.interim(5 * MIB);
    expect((await api.platform.events.tick({ traffic: 'changed' })).firings).toBe(0);
    expect((await api.platform.events.tick()).firings).toBe(0);
    const [e] = await executions(id);
    expect(e).toMatchObject({ simId: null, detail: { usageBytes: 3 * MIB + 1 } });
  });

  it('a claimed run that waited in the queue until its lease nearly ended is not started; it is taken over after the lease', async () => {
    clock.set(T0 + DAY * 19);
    const g = await group();
    const [a, b] = [await createSim(api, { groupId: g }), await createSim(api, { groupId: g })] as TestSim[];
    const id = await handler({
      targetGroupId: g,
      ruleConfig: {
        type: 'SimSpeedClassAttributeRule',
        properties: { targetSpeedClass: 's1.fast', inactiveTimeoutDateConst: 'NEVER' },
      },
      actionConfigList: [{ type: 'StandbyAction', properties: at() }],
    });
    // One run at a time, a 1 s lease; the first run takes 800 ms (the clock moved by it).
    const engine = new EventEngine(api.db.store, clock, api.platform.sims, { concurrency: 1, leaseMs: 1000 });
    const started: string[] = [];
    engine.useExecutor('StandbyAction', async (run) => {
      started.push(run.simId as string);
      if (started.length === 1) clock.advance(800);
      return { outcome: 'succeeded', detail: {} };
    });
    for (const s of [a, b] as TestSim[])
      await post(`/v1/sims/${s.simId}/update_speed_class`, { speedClass: 's1.fast' });
    expect((await engine.evaluateOutbox()).firings).toBe(2);
    // The second run's lease has 200 ms left when its turn comes (less than a quarter): not started.
    expect(await engine.runDueActions()).toEqual({ succeeded: 1 });
    expect(started).toHaveLength(1);
    expect((await executions(id)).flatMap((e) => e.actions.map((x) => x.status)).sort()).toEqual([
      'running',
      'succeeded',
    ]);
    // Within its lease nobody takes it; after it, it is claimed again and runs (a second attempt).
    expect(await engine.runDueActions()).toEqual({});
    clock.advance(201);
    expect(await engine.runDueActions()).toEqual({ succeeded: 1 });
    expect(started.sort()).toEqual([a?.simId, b?.simId].sort());
    const runs = (await executions(id)).flatMap((e) => e.actions);
    expect(runs.map((x) => [x.status, x.attempts]).sort()).toEqual([
      ['succeeded', 1],
      ['succeeded', 2],
    ]);
  });

  it("answers 404 for another operator's handler history", async () => {
    const s = await createSim(api);
    const id = await handler({
      targetSimId: s.simId,
      ruleConfig: { type: 'SimExpiredRule', properties: { inactiveTimeoutDateConst: 'NEVER' } },
      actionConfigList: [{ type: 'SuspendAction', properties: at() }],
    });
    const other = await api.newOperator();
    const res = await api.call({
      method: 'GET',
      url: `/v1/event_handlers/${id}/executions`,
      token: other.token,
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('ERR_EVENT_HANDLER_NOT_FOUND');
  });
});
