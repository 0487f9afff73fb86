// Event handlers react to the outcome of a switch (issue 16: "event handlers can react to its
// outcome"): the switch is an eSIM operation of kind `switch`, so the triggers of migration 0017 write
// its start and end as `esim-operation` events, and SimSubscriptionStatusRule with the simtrust
// property operationKind = switch fires for switches only. Threat: a SIM that left for another
// operator keeps being served and billed as before because nobody heard of it — or a handler meant
// for switches acting on every profile download. Two deployments in process; SQLite or PostgreSQL.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EsimOperationView } from '../../../../src/platform/esim/operations/operations-service.js';
import { createTestPki, type TestPki } from '../../../helpers/esim-pki.js';
import { EID, PROFILE_B, PROFILE_TYPE, SMDP2_ID, SMSR2_ID, type SwitchRig, switchRig } from './fixture.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});
let s: SwitchRig | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe('SimSubscriptionStatusRule with operationKind switch', () => {
  it('fires when the switch finishes, not for other kinds or other outcomes; its action runs on the handed-over SIM', async () => {
    const r = await switchRig(pki);
    s = r;
    const handler = async (name: string, properties: Record<string, string>, speedClass: string) => {
      const res = await r.op1.call({
        method: 'POST',
        url: '/v1/event_handlers',
        payload: {
          name,
          status: 'active',
          targetSimId: EID,
          ruleConfig: {
            type: 'SimSubscriptionStatusRule',
            properties: { inactiveTimeoutDateConst: 'IMMEDIATELY', ...properties },
          },
          actionConfigList: [
            {
              type: 'ChangeSpeedClassAction',
              properties: { speedClass, executionDateTimeConst: 'IMMEDIATELY' },
            },
          ],
        },
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().handlerId as string;
    };
    const executions = async (id: string) =>
      (await r.op1.call({ method: 'GET', url: `/v1/event_handlers/${id}/executions` })).json() as Array<{
        detail: Record<string, unknown>;
        actions: Array<{ type: string; status: string }>;
      }>;

    const switched = await handler(
      'switched away',
      { targetOtaStatus: 'finished', operationKind: 'switch' },
      's1.minimum',
    );
    const switchFailed = await handler(
      'switch failed',
      { targetOtaStatus: 'failed', operationKind: 'switch' },
      's1.fast',
    );
    const downloaded = await handler(
      'downloaded',
      { targetOtaStatus: 'finished', operationKind: 'download' },
      's1.fast',
    );
    // Same action as `switched` (actions of one tick run in no set order; the SIM ends as both say).
    const anyStart = await handler('any start', { targetOtaStatus: 'started' }, 's1.minimum');
    const bad = await r.op1.call({
      method: 'POST',
      url: '/v1/event_handlers',
      payload: {
        name: 'bad',
        status: 'active',
        targetSimId: EID,
        ruleConfig: {
          type: 'SimSubscriptionStatusRule',
          properties: {
            targetOtaStatus: 'finished',
            operationKind: 'carrier',
            inactiveTimeoutDateConst: 'NEVER',
          },
        },
        actionConfigList: [
          {
            type: 'ChangeSpeedClassAction',
            properties: { speedClass: 's1.slow', executionDateTimeConst: 'IMMEDIATELY' },
          },
        ],
      },
    });
    expect(bad.statusCode).toBe(400);

    const res = await r.op1.call({
      method: 'POST',
      url: `/v1/sims/${EID}/switch_operator`,
      payload: { targetSmsrId: SMSR2_ID, targetSmdpId: SMDP2_ID, profileType: PROFILE_TYPE },
    });
    expect(res.statusCode, res.body).toBe(202);
    const id = (res.json() as EsimOperationView).operationId;
    const op = await r.ended(id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');

    const fired = await r.op1.platform.events.tick({ traffic: false });
    expect(fired.firings).toBe(2); // started (any kind), finished (switch)
    const [run] = await executions(switched);
    expect(run).toMatchObject({
      detail: {
        event: 'esim-operation',
        otaStatus: 'finished',
        operationKind: 'switch',
        operationId: id,
        eid: EID,
        iccid: PROFILE_B.identity.iccid,
        result: { status: 'EXECUTED_SUCCESS' },
      },
      actions: [{ type: 'ChangeSpeedClassAction', status: 'succeeded' }],
    });
    expect((await executions(anyStart))[0]?.detail).toMatchObject({
      otaStatus: 'started',
      operationKind: 'switch',
    });
    expect(await executions(switchFailed)).toEqual([]);
    expect(await executions(downloaded)).toEqual([]);
    // The SIM that left shows the handler's action (and stays readable here).
    const sim = (await r.op1.call({ method: 'GET', url: `/v1/sims/${EID}` })).json();
    expect(sim).toMatchObject({ speedClass: 's1.minimum', handedOver: { smsrId: SMSR2_ID } });
  }, 240_000);
});
