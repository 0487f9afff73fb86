// SimSubscriptionStatusRule fed by the eSIM operation outcome (issue 14: "the security events the
// other capabilities raise (anti-theft alerts, eSIM operation outcome)"; issue 15: every failure
// reaches the operator). Threat: a profile swapped or deleted on a SIM (the operator's own mistake or
// a stolen credential) goes unseen until someone opens the console; the handler acts as soon as the
// operation starts, finishes or fails. The operations run through the real operator API, the real
// SM-SR and the software eUICC (esim/operations/fixture.ts); the trigger of migration 0017 writes the
// event in the transaction that starts or ends the operation. SQLite and PostgreSQL.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EsimOperationView } from '../../../src/platform/esim/operations/operations-service.js';
import { ICCID } from '../../card/fixture.js';
import { testDialect } from '../../helpers/database.js';
import { EID, type OpsBench, opsBench, SECOND_PROFILE } from '../esim/operations/fixture.js';

const SECOND = SECOND_PROFILE.identity.iccid;
let b: OpsBench;

beforeEach(async () => {
  b = await opsBench();
});
afterEach(() => b.close());

const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');

async function register(): Promise<void> {
  const res = await b.api.call({
    method: 'POST',
    url: '/v1/esim/euiccs',
    payload: { registerEisRequest: b.registerEisRequest(), eumCertificate: b.pki.eum.pem },
  });
  expect(res.statusCode, res.body).toBe(201);
  expect(await b.attach()).toBe(1);
  const stock = await b.api.call({
    method: 'POST',
    url: '/v1/sims',
    payload: {
      iccid: SECOND,
      imsi: SECOND_PROFILE.identity.imsi,
      ki: hex(SECOND_PROFILE.ki),
      opc: hex(SECOND_PROFILE.opc),
    },
  });
  expect(stock.statusCode, stock.body).toBe(201);
}

async function handler(
  target: { targetSimId: string } | { targetOperatorId: string },
  properties: Record<string, string>,
): Promise<string> {
  const res = await b.api.call({
    method: 'POST',
    url: '/v1/event_handlers',
    payload: {
      name: `eSIM ${properties.targetOtaStatus}`,
      status: 'active',
      ...target,
      ruleConfig: { type: 'SimSubscriptionStatusRule', properties },
      actionConfigList: [
        {
          type: 'ChangeSpeedClassAction',
          properties: { speedClass: 's1.slow', executionDateTimeConst: 'IMMEDIATELY' },
        },
      ],
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().handlerId;
}

async function executions(handlerId: string) {
  const res = await b.api.call({ method: 'GET', url: `/v1/event_handlers/${handlerId}/executions` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Array<{
    ruleType: string;
    simId: string;
    detail: Record<string, unknown>;
    actions: Array<{ type: string; status: string }>;
  }>;
}

async function finished(res: { statusCode: number; body: string; json(): unknown }) {
  expect(res.statusCode, res.body).toBe(202);
  const op = res.json() as EsimOperationView;
  await b.api.platform.esimOperations.settled(op.operationId);
  return op.operationId;
}

const tick = () => b.api.platform.events.tick({ traffic: false });

describe(`SimSubscriptionStatusRule on eSIM operations (${testDialect})`, () => {
  it('fires on started, finished and failed, with runOnceAmongTarget and re-arming as the other rules', async () => {
    await register();
    const op = b.api.operator.operatorId;
    const started = await handler(
      { targetSimId: EID },
      { targetOtaStatus: 'started', inactiveTimeoutDateConst: 'IMMEDIATELY' },
    );
    const done = await handler(
      { targetSimId: EID },
      { targetOtaStatus: 'finished', inactiveTimeoutDateConst: 'NEVER' },
    );
    const failed = await handler(
      { targetSimId: EID },
      { targetOtaStatus: 'failed', inactiveTimeoutDateConst: 'IMMEDIATELY' },
    );
    const onceAmong = await handler(
      { targetOperatorId: op },
      { targetOtaStatus: 'started', inactiveTimeoutDateConst: 'NEVER', runOnceAmongTarget: 'true' },
    );
    const perSim = await handler(
      { targetOperatorId: op },
      { targetOtaStatus: 'started', inactiveTimeoutDateConst: 'IMMEDIATELY' },
    );

    // 1. A download that succeeds: started, then finished.
    const download = await finished(
      await b.api.call({
        method: 'POST',
        url: `/v1/sims/${EID}/profiles`,
        payload: { iccid: SECOND, profileType: 'simtrust-usim', enable: false },
      }),
    );
    const outbox = await b.api.platform.store.db
      .selectFrom('event_outbox')
      .select(['kind', 'detail'])
      .where('sim_id', '=', EID)
      .orderBy('id')
      .execute();
    expect(outbox.map((e) => [e.kind, JSON.parse(e.detail).otaStatus])).toEqual([
      ['esim-operation', 'started'],
      ['esim-operation', 'finished'],
    ]);
    expect((await tick()).firings).toBe(4);
    const [fin] = await executions(done);
    expect(fin).toMatchObject({
      ruleType: 'SimSubscriptionStatusRule',
      simId: EID,
      detail: {
        event: 'esim-operation',
        otaStatus: 'finished',
        operationId: download,
        operationKind: 'download',
        eid: EID,
        iccid: SECOND,
        result: { status: 'EXECUTED_SUCCESS' },
      },
      actions: [{ type: 'ChangeSpeedClassAction', status: 'succeeded' }],
    });
    expect((await b.api.platform.sims.get(op, EID)).speedClass).toBe('s1.slow');
    expect(await executions(failed)).toEqual([]);

    // 2. An operation the SM-SR refuses (the bootstrap profile is enabled already): started, failed.
    const refused = await finished(
      await b.api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${ICCID}/enable` }),
    );
    expect((await tick()).firings).toBe(3); // started (re-armed at once), failed, per-SIM started
    const [fail] = await executions(failed);
    expect(fail?.detail).toMatchObject({
      otaStatus: 'failed',
      operationId: refused,
      operationKind: 'enable',
      result: { status: 'FAILED' },
    });
    expect(fail?.detail.result).toHaveProperty('subject');

    // 3. A profile change that succeeds: `finished` does not fire again (NEVER re-armed).
    const enabling = await b.api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${SECOND}/enable` });
    expect(enabling.statusCode, enabling.body).toBe(202);
    await b.awaitingNotification('EnableProfile');
    expect(await b.attach()).toBe(1);
    await finished(enabling);
    expect((await tick()).firings).toBe(2); // started, per-SIM started

    // 4. An operation on another SIM of the operator: the per-SIM operator handler fires for it, the
    // runOnceAmongTarget one has fired once among its target and does not.
    const other = await b.api.call({ method: 'GET', url: '/v1/sims' });
    const otherSim = (other.json() as Array<{ simId: string }>).find((s) => s.simId !== EID)?.simId ?? '';
    const now = Date.now();
    await b.api.platform.store.db
      .insertInto('esim_operations')
      .values({
        operation_id: 'esop-00000000-0000-4000-8000-000000000001',
        operator_id: op,
        sim_id: otherSim,
        eid: '89049032000000000000000000000999',
        iccid: SECOND,
        kind: 'delete',
        profile_type: null,
        enable: 0,
        active_sim_id: otherSim,
        status: 'running',
        result: null,
        created_at: now,
        updated_at: now,
        ended_at: null,
      })
      .execute();
    expect((await tick()).firings).toBe(1);

    const count = async (id: string) => (await executions(id)).length;
    expect(await count(started)).toBe(3);
    expect(await count(done)).toBe(1);
    expect(await count(failed)).toBe(1);
    expect(await count(onceAmong)).toBe(1);
    const per = await executions(perSim);
    expect(per.map((e) => e.simId).sort()).toEqual([EID, EID, EID, otherSim].sort());
  });

  it('an operator without an active handler gets no events', async () => {
    await register();
    await finished(await b.api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${ICCID}/enable` }));
    const rows = await b.api.platform.store.db.selectFrom('event_outbox').select('id').execute();
    expect(rows).toEqual([]);
  });
});
