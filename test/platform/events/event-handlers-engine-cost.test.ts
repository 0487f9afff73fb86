// What keeps the event handlers' engine cheap beside accounting (issue 14's benchmark, docs/event-
// handlers.md §Benchmark), and that it keeps its guarantees while doing so, on SQLite and PostgreSQL:
//
// - usage in memory: the accounting writer hands each committed batch's per-SIM deltas to the engine,
//   which adds them to a baseline it read once per SIM (again after USAGE_REREAD_MS) instead of
//   reading the usage of every noted SIM at every evaluation. The threat: a SIM firing on figures that
//   are not the database's (too high: a delta counted twice) — a SIM over a limit in memory is read
//   from the database before it fires, and fires only on what is stored. Usage written by another
//   process is seen once the baseline is read again (or by the full sweep).
// - runs due at once inserted claimed: a tick that fires runs them without claiming them (no claim
//   statement returns them), at attempt 1 under a lease from the firing; another engine leaves them
//   alone until that lease ends and then takes them over, once. A mass firing claims one claim batch
//   (actionBatch) that way and leaves the rest pending, for every instance to share. Such a run
//   reaches its executor with the same facts as a claimed one (id, idempotency key, IMSI, firing).
//
// The engine under test is its own instance with usageInMemory on both databases (the platform's
// default is on SQLite only), fed by the platform's accounting writer.

import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { type ActionRun, EventEngine } from '../../../src/platform/events/engine.js';
import type { Store } from '../../../src/platform/store/database.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi, type TestSim } from '../aaa/fixture.js';

const MIB = 1_048_576;
// 10:00 UTC.
const T0 = Date.UTC(2026, 7, 3, 10, 0, 0);
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

async function handler(body: Record<string, unknown>): Promise<string> {
  const res = await call({
    method: 'POST',
    url: '/v1/event_handlers',
    payload: { name: 'h', status: 'active', ...body },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().handlerId;
}

async function remove(handlerId: string): Promise<void> {
  const res = await call({ method: 'DELETE', url: `/v1/event_handlers/${handlerId}` });
  expect(res.statusCode, res.body).toBe(204);
}

async function firings(handlerId: string) {
  return (
    await api.db.store.db
      .selectFrom('event_firings')
      .select(['sim_id', 'detail'])
      .where('handler_id', '=', handlerId)
      .orderBy('id')
      .execute()
  ).map((f) => ({ simId: f.sim_id, detail: JSON.parse(f.detail) as Record<string, unknown> }));
}

async function runs(handlerId: string) {
  return api.db.store.db
    .selectFrom('event_action_runs')
    .select(['sim_id', 'status', 'attempts'])
    .where('handler_id', '=', handlerId)
    .orderBy('id')
    .execute();
}

/** An engine with usage in memory, fed by the platform's accounting writer like serve's. */
function memoryEngine(options: { store?: Store; leaseMs?: number } = {}): {
  engine: EventEngine;
  stop: () => void;
} {
  const engine = new EventEngine(options.store ?? api.db.store, clock, api.platform.sims, {
    usageInMemory: true,
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
  });
  const stop = api.platform.aaa.accounting.onCommitted((_records, usage) => engine.noteAccounting(usage));
  return { engine, stop };
}

let acct = 0;
function session(s: TestSim) {
  const id = `cost-${++acct}`;
  const base = { nasAddress: '127.0.0.1', operatorId: op, acctSessionId: id, imsi: s.imsi };
  return {
    start: () => api.platform.aaa.accounting.record({ ...base, kind: 'start', time: clock.now() }),
    interim: (octets: number) =>
      api.platform.aaa.accounting.record({
        ...base,
        kind: 'interim',
        time: clock.now(),
        inputOctets: octets,
        outputOctets: 0,
      }),
  };
}

const dailyLimit = (limitMiB: number, actionConfigList: unknown[]) => ({
  ruleConfig: {
    type: 'SubscriberDailyTrafficRule',
    properties: {
      limitTotalTrafficMegaByte: String(limitMiB),
      inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY',
    },
  },
  actionConfigList,
});
const never = [{ type: 'StandbyAction', properties: { executionDateTimeConst: 'NEVER' } }];

/** Counts the rows the engine's claim statement returned (a raw `update … set status = 'running'`). */
class ClaimCounter implements KyselyPlugin {
  claimed = 0;
  private readonly claims = new WeakSet<object>();
  transformQuery(args: PluginTransformQueryArgs) {
    const node = args.node as { kind: string; sqlFragments?: readonly string[] };
    if (node.kind === 'RawNode' && (node.sqlFragments ?? []).join('?').includes("set status = 'running'"))
      this.claims.add(args.queryId);
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<Record<string, unknown>>> {
    if (this.claims.has(args.queryId)) this.claimed += args.result.rows.length;
    return args.result;
  }
}

describe(`event handler engine cost (${testDialect})`, () => {
  it('decides from the deltas accounting hands over: a crossing fires on the stored usage; another process’s usage counts once read again', async () => {
    clock.set(T0);
    const [a, b] = [await createSim(api), await createSim(api)];
    const { engine, stop } = memoryEngine();
    try {
      const id = await handler({ targetOperatorId: op, ...dailyLimit(2, never) });
      const [sa, sb] = [session(a), session(b)];
      await sa.start();
      await sb.start();
      // The baselines are read at the first evaluation of each SIM.
      await sa.interim(MIB);
      await sb.interim(MIB);
      expect((await engine.tick({ traffic: 'changed' })).firings).toBe(0);
      // A crosses through accounting: decided from memory, confirmed by the database, fired on it.
      await sa.interim(2 * MIB + 1);
      expect(engine.usagePending).toBe(true);
      expect((await engine.tick({ traffic: 'changed' })).firings).toBe(1);
      expect(await firings(id)).toEqual([
        { simId: a.simId, detail: expect.objectContaining({ usageBytes: 2 * MIB + 1, limitBytes: 2 * MIB }) },
      ]);
      // B's usage grows behind this engine's back (another process wrote it): the figures in memory
      // are a lower bound, so B's next small Interim does not fire it yet…
      await api.db.store.db
        .insertInto('sim_usage')
        .values({
          operator_id: op,
          sim_id: b.simId,
          period: 'day',
          bucket_start: Date.UTC(2026, 7, 3),
          // Beside the row accounting wrote (another speed class): the sums take every class.
          speed_class: 's1.fast',
          upload_bytes: 0,
          download_bytes: 2 * MIB,
          upload_packets: 0,
          download_packets: 0,
        })
        .execute();
      await sb.interim(MIB + 10);
      expect((await engine.tick({ traffic: 'changed' })).firings).toBe(0);
      // …until its baseline is read again (10 s later), which sees the stored total.
      clock.advance(10_000);
      await sb.interim(MIB + 20);
      expect((await engine.tick({ traffic: 'changed' })).firings).toBe(1);
      expect((await firings(id)).at(-1)).toEqual({
        simId: b.simId,
        detail: expect.objectContaining({ usageBytes: 3 * MIB + 20 }),
      });
      await remove(id);
    } finally {
      stop();
    }
  });

  it('figures in memory that are too high do not fire: the database decides', async () => {
    clock.set(T0 + 3_600_000);
    const s = await createSim(api);
    const { engine, stop } = memoryEngine();
    try {
      const id = await handler({ targetSimId: s.simId, ...dailyLimit(1, never) });
      const sess = session(s);
      await sess.start();
      await sess.interim(MIB / 2);
      expect((await engine.tick({ traffic: 'changed' })).firings).toBe(0);
      // A delta that is not in the database (as one counted twice would be): 5 MiB more in memory.
      engine.noteAccounting([{ operatorId: op, simId: s.simId, day: Date.UTC(2026, 7, 3), bytes: 5 * MIB }]);
      expect((await engine.tick({ traffic: 'changed' })).firings).toBe(0);
      expect(await firings(id)).toEqual([]);
      // The next real crossing fires, on the stored usage.
      await sess.interim(MIB / 2 + 100);
      expect((await engine.tick({ traffic: 'changed' })).firings).toBe(0);
      await sess.interim(MIB + 1);
      expect((await engine.tick({ traffic: 'changed' })).firings).toBe(1);
      expect((await firings(id))[0]?.detail).toMatchObject({ usageBytes: MIB + 1 });
    } finally {
      stop();
    }
  });

  it('a new UTC day starts from the stored usage of that day, whatever the engine knew of the day before', async () => {
    clock.set(T0 + 2 * 3_600_000);
    const s = await createSim(api);
    const { engine, stop } = memoryEngine();
    try {
      const id = await handler({ targetSimId: s.simId, ...dailyLimit(3, never) });
      const sess = session(s);
      await sess.start();
      await sess.interim(2 * MIB);
      expect((await engine.tick({ traffic: 'changed' })).firings).toBe(0);
      // 00:00:01 UTC the next day: 2 MiB more today is under the daily 3 MiB (4 MiB over two days).
      clock.set(Date.UTC(2026, 7, 4, 0, 0, 1));
      await sess.interim(4 * MIB);
      expect((await engine.tick({ traffic: 'changed' })).firings).toBe(0);
      await sess.interim(5 * MIB + 1);
      expect((await engine.tick({ traffic: 'changed' })).firings).toBe(1);
      expect((await firings(id))[0]?.detail).toMatchObject({ usageBytes: 3 * MIB + 1 });
    } finally {
      stop();
    }
  });

  it('a tick runs the runs it fired due at once without claiming them; another engine leaves them until their lease ends', async () => {
    clock.set(Date.UTC(2026, 7, 5, 10));
    const sims = await Promise.all(Array.from({ length: 20 }, () => createSim(api)));
    const id = await handler({
      targetOperatorId: op,
      ...dailyLimit(1, [{ type: 'StandbyAction', properties: { executionDateTimeConst: 'IMMEDIATELY' } }]),
    });
    for (const s of sims) {
      const sess = session(s);
      await sess.start();
      await sess.interim(2 * MIB);
    }
    // Engine A fires all 20 and runs them in the same tick; its claim statement returns none of them.
    const counter = new ClaimCounter();
    const store: Store = { ...api.db.store, db: api.db.store.db.withPlugin(counter) };
    const { engine: a, stop } = memoryEngine({ store, leaseMs: 60_000 });
    const ran: Array<{ simId: string | null; attempt: number }> = [];
    let hang = false;
    a.useExecutor('StandbyAction', async (run) => {
      ran.push({ simId: run.simId, attempt: run.attempt });
      // The last few never finish (the process "dies" with them running).
      if (hang) return new Promise<never>(() => undefined);
      if (ran.length === 17) hang = true;
      return { outcome: 'succeeded', detail: {} };
    });
    try {
      // A was not listening when the usage was recorded: it is told now.
      for (const s of sims)
        a.noteAccounting([{ operatorId: op, simId: s.simId, day: Date.UTC(2026, 7, 5), bytes: 0 }]);
      void a.tick({ traffic: 'changed' });
      await expect.poll(() => ran.length).toBe(20);
      expect(counter.claimed).toBe(0);
      expect(ran.every((r) => r.attempt === 1)).toBe(true);
      expect(new Set(ran.map((r) => r.simId)).size).toBe(20);
      await expect.poll(async () => (await runs(id)).filter((r) => r.status === 'succeeded').length).toBe(17);
      expect((await runs(id)).filter((r) => r.status === 'running').map((r) => r.attempts)).toEqual([
        1, 1, 1,
      ]);
      // Engine B, within the lease: nothing for it. After the lease: it takes the three over, once.
      const b = new EventEngine(api.db.store, clock, api.platform.sims, { leaseMs: 60_000 });
      const tookOver: string[] = [];
      b.useExecutor('StandbyAction', async (run) => {
        tookOver.push(run.simId as string);
        return { outcome: 'succeeded', detail: {} };
      });
      expect((await b.tick({ traffic: false })).runs).toEqual({});
      clock.advance(60_001);
      expect((await b.tick({ traffic: false })).runs).toEqual({ succeeded: 3 });
      expect((await b.tick({ traffic: false })).runs).toEqual({});
      expect(tookOver.sort()).toEqual(
        ran
          .slice(17)
          .map((r) => r.simId as string)
          .sort(),
      );
      expect((await runs(id)).map((r) => [r.status, r.attempts]).sort()).toEqual([
        ...Array.from({ length: 17 }, () => ['succeeded', 1]),
        ...Array.from({ length: 3 }, () => ['succeeded', 2]),
      ]);
      expect(await firings(id)).toHaveLength(20);
      await remove(id);
    } finally {
      stop();
    }
  });

  it('a mass firing claims at most a claim batch at firing; the rest is left pending for any instance to claim', async () => {
    clock.set(Date.UTC(2026, 7, 7, 10));
    const sims = await Promise.all(Array.from({ length: 12 }, () => createSim(api)));
    const id = await handler({
      targetOperatorId: op,
      ...dailyLimit(1, [{ type: 'StandbyAction', properties: { executionDateTimeConst: 'IMMEDIATELY' } }]),
    });
    const counter = new ClaimCounter();
    const store: Store = { ...api.db.store, db: api.db.store.db.withPlugin(counter) };
    const engine = new EventEngine(store, clock, api.platform.sims, { usageInMemory: true, actionBatch: 5 });
    const stop = api.platform.aaa.accounting.onCommitted((_records, usage) => engine.noteAccounting(usage));
    const ran: string[] = [];
    engine.useExecutor('StandbyAction', async (run) => {
      ran.push(run.simId as string);
      return { outcome: 'succeeded', detail: {} };
    });
    try {
      for (const s of sims) {
        const sess = session(s);
        await sess.start();
        await sess.interim(2 * MIB);
      }
      expect((await engine.tick({ traffic: 'changed' })).runs).toEqual({ succeeded: 12 });
      expect(counter.claimed).toBe(7);
      expect(new Set(ran).size).toBe(12);
      expect((await runs(id)).map((r) => [r.status, r.attempts])).toEqual(
        Array.from({ length: 12 }, () => ['succeeded', 1]),
      );
      await remove(id);
    } finally {
      stop();
    }
  });

  it('a run claimed at its firing is executed with the same facts as one the claim statement returns', async () => {
    // The threat: a run inserted claimed (built from the firing statement's answer, one statement on
    // PostgreSQL) reaching its executor with another id, key or template variables than the row —
    // a web request signed with the wrong idempotency key, an IMSI of another SIM.
    clock.set(Date.UTC(2026, 7, 8, 10));
    const sims = await Promise.all(Array.from({ length: 3 }, () => createSim(api)));
    const id = await handler({
      targetOperatorId: op,
      ...dailyLimit(1, [
        { type: 'StandbyAction', properties: { executionDateTimeConst: 'NEVER' } },
        { type: 'StandbyAction', properties: { executionDateTimeConst: 'IMMEDIATELY' } },
      ]),
    });
    const counter = new ClaimCounter();
    const store: Store = { ...api.db.store, db: api.db.store.db.withPlugin(counter) };
    // One run claimed at the firing, the two others by the claim statement.
    const engine = new EventEngine(store, clock, api.platform.sims, { usageInMemory: true, actionBatch: 1 });
    const stop = api.platform.aaa.accounting.onCommitted((_records, usage) => engine.noteAccounting(usage));
    const seen: ActionRun[] = [];
    engine.useExecutor('StandbyAction', async (run) => {
      seen.push(run);
      return { outcome: 'succeeded', detail: {} };
    });
    try {
      for (const s of sims) {
        const sess = session(s);
        await sess.start();
        await sess.interim(2 * MIB);
      }
      expect((await engine.tick({ traffic: 'changed' })).runs).toEqual({ succeeded: 3 });
      expect(counter.claimed).toBe(2);
      const rows = await api.db.store.db
        .selectFrom('event_action_runs as r')
        .innerJoin('event_firings as f', 'f.id', 'r.firing_id')
        .select([
          'r.id',
          'r.firing_id',
          'r.sim_id',
          'r.action_index',
          'r.idempotency_key',
          'r.status',
          'f.detail',
          'f.at',
        ])
        .where('r.handler_id', '=', id)
        .orderBy('r.id')
        .execute();
      // Each firing: the NEVER action skipped, the IMMEDIATELY one run once.
      expect(rows.map((r) => [r.action_index, r.status])).toEqual(
        sims.flatMap(() => [
          [0, 'skipped'],
          [1, 'succeeded'],
        ]),
      );
      const imsiOf = new Map(sims.map((s) => [s.simId, s.imsi]));
      const facts = (r: ActionRun) => ({
        id: r.id,
        simId: r.simId,
        key: r.idempotencyKey,
        attempt: r.attempt,
        variables: r.variables,
        firing: r.firing,
      });
      expect(seen.map(facts).sort((a, b) => a.id - b.id)).toEqual(
        rows
          .filter((r) => r.status === 'succeeded')
          .map((r) => ({
            id: Number(r.id),
            simId: r.sim_id,
            key: r.idempotency_key,
            attempt: 1,
            variables: {
              handlerId: id,
              ruleType: 'SubscriberDailyTrafficRule',
              simId: r.sim_id,
              imsi: imsiOf.get(r.sim_id as string),
            },
            firing: {
              ruleType: 'SubscriberDailyTrafficRule',
              detail: JSON.parse(r.detail),
              at: Number(r.at),
            },
          })),
      );
      // The key names the handler, the SIM, the run's own firing and the action.
      for (const r of rows)
        expect(r.idempotency_key).toBe(`${id}:${r.sim_id}:${Number(r.firing_id)}:${r.action_index}`);
      await remove(id);
    } finally {
      stop();
    }
  });

  it('runs fired outside a tick (evaluateOutbox, evaluateTraffic) are left pending for whoever claims them', async () => {
    clock.set(Date.UTC(2026, 7, 6, 10));
    const s = await createSim(api);
    const id = await handler({
      targetSimId: s.simId,
      ...dailyLimit(1, [{ type: 'StandbyAction', properties: { executionDateTimeConst: 'IMMEDIATELY' } }]),
    });
    const { engine, stop } = memoryEngine();
    try {
      const sess = session(s);
      await sess.start();
      await sess.interim(2 * MIB);
      expect(await engine.evaluateTraffic('changed')).toBe(1);
      expect((await runs(id)).map((r) => [r.status, r.attempts])).toEqual([['pending', 0]]);
    } finally {
      stop();
    }
  });
});
