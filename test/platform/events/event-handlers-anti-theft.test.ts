// SimAntiTheftRule (simtrust's extension, issue 14): the anti-theft applet's events as a rule source.
// Threat: a SIM moved into a thief's device keeps working until someone reads the alert; the handler
// suspends it as soon as the alert is recorded. The alert travels the real OTA inbound path: the
// software card sends its secured SMS-SUBMIT, the lab SMSC delivers it as deliver_sm to the
// platform's OTA link, the platform verifies it and records it (anti_theft_alerts), and the database
// trigger of migration 0010 writes the event in that transaction. SQLite and PostgreSQL.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../../src/platform/iam/principal.js';
import type { OtaSmppLink } from '../../../src/platform/ota/ota-smpp.js';
import { cell, device, IMEI, OTHER_IMEI } from '../../card/toolkit/fixture.js';
import {
  type AntiTheftSim,
  connectOtaLink,
  createAntiTheftSim,
  LabNetwork,
  type OutcomeQueue,
} from '../../helpers/anti-theft.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { testDialect } from '../../helpers/database.js';

let api: TestApi;
let op: string;
let network: LabNetwork;
let link: OtaSmppLink;
let outcomes: OutcomeQueue;
let token: string;

beforeAll(async () => {
  api = await startTestApi();
  op = api.operator.operatorId;
  network = await LabNetwork.start();
  ({ link, outcomes } = await connectOtaLink(network, api.platform.store, api.platform.ota));
  const res = await api.call({
    method: 'POST',
    url: '/v1/auth',
    token: null,
    payload: { email: api.operator.email, password: api.operator.password },
  });
  token = res.json().token;
});
afterAll(async () => {
  await link?.close();
  await network?.close();
  await api?.close();
});

const call = (options: Parameters<TestApi['call']>[0]) => api.call({ token, ...options });

async function handler(targetSimId: string, targetEvent: string, name: string): Promise<string> {
  const res = await call({
    method: 'POST',
    url: '/v1/event_handlers',
    payload: {
      name,
      status: 'active',
      targetSimId,
      ruleConfig: {
        type: 'SimAntiTheftRule',
        properties: { targetEvent, inactiveTimeoutDateConst: 'IMMEDIATELY' },
      },
      actionConfigList: [{ type: 'SuspendAction', properties: { executionDateTimeConst: 'IMMEDIATELY' } }],
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().handlerId;
}

async function executions(handlerId: string) {
  const res = await call({ method: 'GET', url: `/v1/event_handlers/${handlerId}/executions` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as Array<{
    ruleType: string;
    simId: string;
    detail: Record<string, unknown>;
    actions: Array<{ type: string; status: string; result: Record<string, unknown> | null }>;
  }>;
}

/** The card armed in its own device, then moved into another one: it blocks itself and alerts. */
function theftAlert(sim: AntiTheftSim): Uint8Array {
  const uicc = sim.card.uicc;
  device(uicc, IMEI, cell(1)).modem.boot();
  device(uicc, IMEI, cell(1)).modem.boot();
  const thief = device(uicc, OTHER_IMEI, cell(1));
  thief.modem.boot();
  expect(thief.sms).toHaveLength(1);
  return thief.sms[0] as Uint8Array;
}

describe(`SimAntiTheftRule (${testDialect})`, () => {
  it('an IMEI alert received over OTA SMS fires the handler, whose action suspends the SIM', async () => {
    const sim = await createAntiTheftSim(api.platform, op, 1);
    await api.platform.sims.transition(systemContext(op, 'Sim:activateSim', 'test'), sim.simId, 'activate');
    const onImei = await handler(sim.simId, 'ANTITHEFT_IMEI_BLOCKED', 'stolen → suspend');
    // Another event of the same SIM's applet: must not fire on this alert.
    const onCell = await handler(sim.simId, 'ANTITHEFT_CELL_BLOCKED', 'moved away → suspend');

    network.fromCard(sim.msisdn, theftAlert(sim));
    expect(await outcomes.next('the alert to be verified')).toMatchObject({
      kind: 'alert',
      event: 'ANTITHEFT_IMEI_BLOCKED',
    });
    // The alert and its event were written in one transaction.
    const outbox = await api.platform.store.db
      .selectFrom('event_outbox')
      .select(['kind', 'detail'])
      .where('sim_id', '=', sim.simId)
      .execute();
    expect(outbox).toHaveLength(1);
    expect(outbox[0]?.kind).toBe('anti-theft');

    const counts = await api.platform.events.tick({ traffic: false });
    expect(counts.firings).toBe(1);
    expect((await api.platform.sims.get(op, sim.simId)).status).toBe('suspended');
    const [e] = await executions(onImei);
    expect(e).toMatchObject({
      ruleType: 'SimAntiTheftRule',
      simId: sim.simId,
      detail: { event: 'anti-theft', antiTheftEvent: 'ANTITHEFT_IMEI_BLOCKED', imei: OTHER_IMEI },
      actions: [{ type: 'SuspendAction', status: 'succeeded', result: { from: 'active', to: 'suspended' } }],
    });
    expect(await executions(onCell)).toEqual([]);
    // The audit log names the handler as the principal of the suspension.
    const audit = await api.platform.store.db
      .selectFrom('audit_logs')
      .selectAll()
      .where('operator_id', '=', op)
      .where('operation_id', '=', 'EventHandler:SuspendAction')
      .execute();
    expect(audit.length).toBeGreaterThanOrEqual(1);
  });

  it('location reports and operators without an active handler write no events', async () => {
    const sim = await createAntiTheftSim(api.platform, op, 2);
    const db = api.platform.store.db;
    const alert = (event: string, counter: number) =>
      db
        .insertInto('anti_theft_alerts')
        .values({
          operator_id: op,
          sim_id: sim.simId,
          event,
          reason: 'none',
          imei: null,
          cell: null,
          counter,
          at: Date.now(),
        })
        .execute();
    // Location reports come often and no rule watches them.
    await alert('ANTITHEFT_LOCAL_INFO', 1);
    // Only the operator's active handlers make the trigger write: none for another operator.
    await db
      .insertInto('anti_theft_alerts')
      .values({
        operator_id: 'OP-WITHOUT-HANDLERS',
        sim_id: sim.simId,
        event: 'ANTITHEFT_CELL_BLOCKED',
        reason: 'cell_not_registered',
        imei: null,
        cell: null,
        counter: 2,
        at: Date.now(),
      })
      .execute();
    const rows = await db.selectFrom('event_outbox').select('id').where('sim_id', '=', sim.simId).execute();
    expect(rows).toEqual([]);
    await alert('ANTITHEFT_UNBLOCKED', 3);
    const unblocked = await db
      .selectFrom('event_outbox')
      .select(['kind', 'detail'])
      .where('sim_id', '=', sim.simId)
      .execute();
    expect(unblocked).toHaveLength(1);
    expect(JSON.parse(unblocked[0]?.detail ?? '{}')).toMatchObject({ antiTheftEvent: 'ANTITHEFT_UNBLOCKED' });
  });
});
