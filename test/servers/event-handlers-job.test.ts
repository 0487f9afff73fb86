// The event handlers' schedule (servers/event-handlers-job.ts), as `simtrust serve` runs it, on SQLite
// and PostgreSQL. The threat: a crossing whose action waits for the actions of the crossings before
// it — with one lane, an evaluation could not start while the previous tick's runs executed, so one
// slow web hook (up to its timeout) held up every later crossing of every handler (issue 14's
// latency: crossing → first attempt at p99 ≤ 1 s). Evaluations and action runs are two lanes: a
// second crossing is evaluated, fired and started while the first one's action still runs.

import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEventHandlersJob } from '../../src/servers/event-handlers-job.js';
import { testDialect } from '../helpers/database.js';
import { createSim, startTestApi, type TestApi, type TestSim } from '../platform/aaa/fixture.js';

const MIB = 1_048_576;
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

/** A session of `s` that crosses `mib` MiB today at its first Interim-Update. */
async function cross(s: TestSim, mib: number): Promise<void> {
  const base = {
    nasAddress: '127.0.0.1',
    operatorId: api.operator.operatorId,
    acctSessionId: `job-${s.simId}`,
    imsi: s.imsi,
  };
  await api.platform.aaa.accounting.record({ ...base, kind: 'start', time: Date.now() });
  await api.platform.aaa.accounting.record({
    ...base,
    kind: 'interim',
    time: Date.now(),
    inputOctets: mib * MIB,
    outputOctets: 0,
  });
}

describe(`event handlers job (${testDialect})`, () => {
  it('starts the action of a crossing while the action of the crossing before it still runs', async () => {
    const [first, second] = [await createSim(api), await createSim(api)];
    const res = await api.call({
      method: 'POST',
      url: '/v1/event_handlers',
      payload: {
        name: 'over 1 MiB today',
        status: 'active',
        targetOperatorId: api.operator.operatorId,
        ruleConfig: {
          type: 'SubscriberDailyTrafficRule',
          properties: { limitTotalTrafficMegaByte: '1', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
        },
        actionConfigList: [{ type: 'StandbyAction', properties: { executionDateTimeConst: 'IMMEDIATELY' } }],
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    // The first SIM's action hangs until released, as a slow web hook would.
    let release: () => void = () => undefined;
    const hanging = new Promise<void>((r) => {
      release = r;
    });
    const started: string[] = [];
    api.platform.events.useExecutor('StandbyAction', async (run) => {
      started.push(run.simId as string);
      if (run.simId === first?.simId) await hanging;
      return { outcome: 'succeeded', detail: {} };
    });
    const metrics = new Registry();
    const job = startEventHandlersJob(api.platform, pino({ level: 'silent' }), metrics);
    try {
      await cross(first as TestSim, 2);
      await expect.poll(() => started, { timeout: 30_000 }).toEqual([first?.simId]);
      await cross(second as TestSim, 2);
      // Started although the first run has not ended.
      await expect.poll(() => started, { timeout: 30_000 }).toEqual([first?.simId, second?.simId]);
      // Counted as it ended, while the other still runs.
      await expect
        .poll(
          async () =>
            (await metrics.getSingleMetricAsString('simtrust_event_action_runs_total')).includes(
              'outcome="succeeded"} 1',
            ),
          {
            timeout: 30_000,
          },
        )
        .toBe(true);
    } finally {
      release();
      await job.stop();
    }
    // stop() waited for the hanging run: both recorded, each once.
    const runs = await api.db.store.db
      .selectFrom('event_action_runs')
      .select(['sim_id', 'status', 'attempts'])
      .orderBy('sim_id')
      .execute();
    expect(runs.map((r) => [r.sim_id, r.status, r.attempts])).toEqual(
      [first?.simId, second?.simId].sort().map((simId) => [simId, 'succeeded', 1]),
    );
    expect(await metrics.getSingleMetricAsString('simtrust_event_action_runs_total')).toContain(
      'outcome="succeeded"} 2',
    );
  });
});
