// The dead-letter retry of event handler action runs (simtrust extension, STYLE §15), on SQLite and
// PostgreSQL: a run that failed (the lifecycle refused its move) or died (transient failures until
// maxAttempts) is set back to pending with its attempts reset by
// POST …/executions/{execution_id}/actions/{action_index}/retry, audited, and the engine then runs it
// once; other states, unknown executions and another operator's handler are refused.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { EventEngine } from '../../../src/platform/events/engine.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi } from '../aaa/fixture.js';

const T0 = Date.UTC(2026, 5, 10, 10, 0, 0);
const clock = new ManualClock(T0);
let api: TestApi;
let op: string;

beforeAll(async () => {
  api = await startTestApi({ clock });
  op = api.operator.operatorId;
});
afterAll(() => api.close());

const post = (url: string, payload?: object) =>
  api.call({ method: 'POST', url, ...(payload ? { payload } : {}) });
const retry = (handlerId: string, executionId: number | string, index: number | string) =>
  post(`/v1/event_handlers/${handlerId}/executions/${executionId}/actions/${index}/retry`);

type Execution = {
  executionId: number;
  actions: Array<{
    actionIndex: number;
    status: string;
    attempts: number;
    result: Record<string, unknown> | null;
  }>;
};
async function executions(handlerId: string): Promise<Execution[]> {
  const res = await api.call({ method: 'GET', url: `/v1/event_handlers/${handlerId}/executions` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

/** A handler on the SIM firing when it becomes active, with the given actions. */
async function onActivation(
  simId: string,
  actions: Array<{ type: string; properties: Record<string, string> }>,
) {
  const res = await post('/v1/event_handlers', {
    name: 'retry',
    status: 'active',
    targetSimId: simId,
    ruleConfig: {
      type: 'SimStatusAttributeRule',
      properties: { targetStatus: 'active', inactiveTimeoutDateConst: 'IMMEDIATELY' },
    },
    actionConfigList: actions,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().handlerId as string;
}
const now = { executionDateTimeConst: 'IMMEDIATELY' };

describe(`event handler action retry (${testDialect})`, () => {
  it('a failed run (the lifecycle refused it) runs again after a retry, once the SIM allows it', async () => {
    const s = await createSim(api);
    // Standby is only allowed from ready or inactive: on an active SIM the action fails.
    const id = await onActivation(s.simId, [{ type: 'StandbyAction', properties: now }]);
    expect((await post(`/v1/sims/${s.simId}/activate`)).statusCode).toBe(200);
    await api.platform.events.tick();
    let [e] = await executions(id);
    expect(e?.actions[0]).toMatchObject({
      status: 'failed',
      attempts: 1,
      result: { code: 'ERR_INVALID_TRANSITION' },
    });
    const executionId = e?.executionId as number;

    // The SIM is made inactive (which allows standby); the run is retried and now succeeds, once.
    expect((await post(`/v1/sims/${s.simId}/deactivate`)).statusCode).toBe(200);
    clock.advance(1000);
    const res = await retry(id, executionId, 0);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      actionIndex: 0,
      status: 'pending',
      attempts: 0,
      scheduledTime: clock.now(),
    });
    await api.platform.events.tick();
    await api.platform.events.tick();
    [e] = await executions(id);
    expect(e?.actions[0]).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect((await api.platform.sims.get(op, s.simId)).status).toBe('standby');
    // Succeeded is final.
    const again = await retry(id, executionId, 0);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'ERR_EVENT_ACTION_NOT_RETRYABLE' });
    expect(again.json().message).toContain('succeeded');

    const audit = await api.db.store.db
      .selectFrom('audit_logs')
      .select(['operation_id', 'result', 'detail'])
      .where('operator_id', '=', op)
      .where('operation_id', '=', 'EventHandler:retryEventHandlerAction')
      .where('result', '=', 'success')
      .orderBy('id')
      .execute();
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]?.detail ?? '{}')).toMatchObject({
      handlerId: id,
      executionId,
      actionIndex: 0,
      previousStatus: 'failed',
      previousAttempts: 1,
      previousResult: { code: 'ERR_INVALID_TRANSITION' },
    });
  });

  it('a dead run (transient failures up to maxAttempts) is listed as dead, and a retry runs it to success', async () => {
    const s = await createSim(api);
    const id = await onActivation(s.simId, [
      { type: 'ChangeSpeedClassAction', properties: { speedClass: 's1.slow', ...now } },
    ]);
    expect((await post(`/v1/sims/${s.simId}/activate`)).statusCode).toBe(200);
    // An engine whose speed class executor fails transiently (as an unreachable database or server
    // would), with one attempt: the run is dead at once.
    const flaky = new EventEngine(api.db.store, clock, api.platform.sims, { maxAttempts: 1 });
    flaky.useExecutor('ChangeSpeedClassAction', async () => {
      throw new Error('connection reset');
    });
    await flaky.tick({ traffic: false });
    let [e] = await executions(id);
    expect(e?.actions[0]).toMatchObject({
      status: 'dead',
      attempts: 1,
      result: { error: 'connection reset' },
    });

    // Nothing runs a dead run by itself.
    clock.advance(600_000);
    await api.platform.events.tick();
    [e] = await executions(id);
    expect(e?.actions[0]?.status).toBe('dead');

    expect((await retry(id, e?.executionId as number, 0)).statusCode).toBe(200);
    // Pending now: a second retry is refused (it is still being tried).
    const pending = await retry(id, e?.executionId as number, 0);
    expect(pending.statusCode).toBe(409);
    expect(pending.json().message).toContain('still being tried');
    await api.platform.events.tick();
    [e] = await executions(id);
    expect(e?.actions[0]).toMatchObject({ status: 'succeeded', attempts: 1, result: { to: 's1.slow' } });
    expect((await api.platform.sims.get(op, s.simId)).speedClass).toBe('s1.slow');
  });

  it('unknown executions and action indexes answer 404 or 400; another operator gets 404', async () => {
    const s = await createSim(api);
    const id = await onActivation(s.simId, [{ type: 'StandbyAction', properties: now }]);
    expect((await post(`/v1/sims/${s.simId}/activate`)).statusCode).toBe(200);
    await api.platform.events.tick();
    const [e] = await executions(id);
    const executionId = e?.executionId as number;
    let res = await retry(id, executionId, 1);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'ERR_EVENT_EXECUTION_NOT_FOUND' });
    res = await retry(id, executionId + 1_000_000, 0);
    expect(res.statusCode).toBe(404);
    expect((await retry(id, executionId, 5)).statusCode).toBe(400);
    expect((await retry(id, 'x', 0)).statusCode).toBe(400);
    expect((await retry(id, 0, 0)).statusCode).toBe(400);
    res = await retry('00000000-0000-4000-8000-000000000000', executionId, 0);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'ERR_EVENT_HANDLER_NOT_FOUND' });
    const other = await api.newOperator();
    res = await api.call({
      method: 'POST',
      url: `/v1/event_handlers/${id}/executions/${executionId}/actions/0/retry`,
      token: other.token,
    });
    expect(res.statusCode).toBe(404);
    // The failed run is untouched by all of this.
    expect((await executions(id))[0]?.actions[0]).toMatchObject({ status: 'failed', attempts: 1 });
  });
});
