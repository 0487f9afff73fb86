// PUT /v1/sims/{sim_id}/anti_theft and POST …/anti_theft/unblock end to end: app.inject() → OTA
// command → the platform's SMPP link (TCP) → lab SMSC → SMS-PP into the real software card → PoR
// back as deliver_sm, verified → GET shows it applied. Threats: commands sent without a link
// silently lost, hostile request bodies reaching the card or crashing the route, another operator
// configuring a SIM. SQLite and PostgreSQL.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnCheckDigit } from '../../../src/lib/luhn.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import type { OtaSmppLink } from '../../../src/platform/ota/ota-smpp.js';
import {
  appletState,
  cell,
  type Device,
  device,
  IMEI,
  newCard,
  OTHER_IMEI,
} from '../../card/toolkit/fixture.js';
import {
  connectOtaLink,
  LabNetwork,
  type OutcomeQueue,
  provisionAntiTheft,
} from '../../helpers/anti-theft.js';
import { testDialect } from '../../helpers/database.js';
import { startTestApi, type TestApi } from '../../platform/aaa/fixture.js';

const MSISDN = '819012340777';
let api: TestApi;
let network: LabNetwork;
let link: OtaSmppLink;
let outcomes: OutcomeQueue;
let current: Device;
let simId: string;

beforeAll(async () => {
  api = await startTestApi();
  const body = `898110077${String(process.pid % 10_000_000_000).padStart(9, '0')}`.slice(0, 18);
  const view = await api.platform.sims.create(
    systemContext(api.operator.operatorId, 'Sim:createSim', 'test'),
    {
      iccid: body + luhnCheckDigit(body),
      imsi: `0010177${String(process.pid).padStart(8, '0')}`.slice(0, 15),
      msisdn: MSISDN,
      ki: randomBytes(16).toString('hex'),
      opc: randomBytes(16).toString('hex'),
    },
  );
  simId = view.simId;
  await provisionAntiTheft(
    api.platform.ota,
    api.platform.store.db,
    api.operator.operatorId,
    simId,
    '001019999000777',
  );
  network = await LabNetwork.start();
  network.routeDevice(MSISDN, () => current);
});
afterAll(async () => {
  api.platform.ota.useLink(undefined);
  await link?.close();
  await network?.close();
  await api.close();
});

describe(`anti-theft configuration over OTA on ${testDialect}`, () => {
  it('without an SMPP link: 503 that says what to configure, and nothing recorded', async () => {
    const r = await api.call({ method: 'POST', url: `/v1/sims/${simId}/anti_theft/unblock` });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ code: 'ERR_OTA_UNAVAILABLE' });
    expect(r.json().message).toMatch(/otaSmppUrl/);
    const view = (await api.call({ method: 'GET', url: `/v1/sims/${simId}/anti_theft` })).json();
    expect(view.pendingCommands).toEqual([]);
  });

  it('PUT adds a cell over OTA; the PoR settles it; a stolen SIM is unblocked with POST …/unblock', async () => {
    ({ link, outcomes } = await connectOtaLink(network, api.platform.store, api.platform.ota));
    api.platform.ota.useLink(link);
    const card = newCard();
    device(card, IMEI, cell(1)).modem.boot();
    current = device(card, IMEI, cell(1));
    current.modem.boot();
    const { accessTechnology: _, ...home } = cell(1);
    const added = { mcc: '440', mnc: '10', areaCode: 0x1a2b, cellIdentity: '0000009F' };

    const put = await api.call({
      method: 'PUT',
      url: `/v1/sims/${simId}/anti_theft`,
      payload: { cells: [home, added], tolerance: { strikes: 2, windowSeconds: 600 } },
    });
    expect(put.statusCode).toBe(202);
    expect(put.json().command).toMatchObject({ status: 'pending' });
    expect(await outcomes.next()).toMatchObject({ kind: 'por', status: 'applied' });
    expect(appletState(card)).toMatchObject({ tolerance: { strikes: 2, windowSeconds: 600 } });
    const shown = (await api.call({ method: 'GET', url: `/v1/sims/${simId}/anti_theft` })).json();
    expect(shown.reported.cells).toEqual([home, added]);
    expect(shown.desired).toEqual({ cells: [home, added], tolerance: { strikes: 2, windowSeconds: 600 } });
    expect(shown.lastPor).toMatchObject({ id: put.json().command.id, status: 'applied' });

    // Moved into another device: blocked, alert in the events.
    current = current.moveCardTo(OTHER_IMEI, cell(1));
    current.modem.boot();
    network.forward(MSISDN, current);
    expect(await outcomes.next()).toMatchObject({ kind: 'alert', event: 'ANTITHEFT_IMEI_BLOCKED' });
    expect(appletState(card).mode).toBe('blocked');

    const unblock = await api.call({ method: 'POST', url: `/v1/sims/${simId}/anti_theft/unblock` });
    expect(unblock.statusCode).toBe(202);
    expect(await outcomes.next()).toMatchObject({ kind: 'por', status: 'applied' });
    expect(appletState(card).mode).not.toBe('blocked');
    const events = (await api.call({ method: 'GET', url: `/v1/sims/${simId}/events/anti_theft` })).json();
    expect(events.map((e: { event: string }) => e.event)).toEqual([
      'ANTITHEFT_UNBLOCKED',
      'ANTITHEFT_IMEI_BLOCKED',
    ]);
    const audit = await api.platform.store.db
      .selectFrom('audit_logs')
      .select('operation_id')
      .where('operation_id', 'in', ['Sim:putSimAntiTheft', 'Sim:unblockSimAntiTheft'])
      .where('result', '=', 'success')
      .execute();
    expect(audit.map((a) => a.operation_id).sort()).toEqual([
      'Sim:putSimAntiTheft',
      'Sim:unblockSimAntiTheft',
    ]);
  });

  it('property: hostile PUT bodies and another operator never reach the card or fail with 5xx', async () => {
    // Threat: request data becoming OTA command values (IMEIs, cells, numbers) and a lookup key
    // (sim_id) — nothing the applet would refuse may be sent, and no other operator may send.
    const other = await api.newOperator();
    const pendingBefore = (await api.call({ method: 'GET', url: `/v1/sims/${simId}/anti_theft` })).json()
      .pendingCommands.length;
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            imeis: fc.array(fc.oneof(fc.string(), fc.stringMatching(/^[0-9]{14,16}$/)), { maxLength: 6 }),
            cells: fc.array(
              fc.record({
                mcc: fc.oneof(fc.string(), fc.stringMatching(/^[0-9]{3}$/)),
                mnc: fc.string(),
                areaCode: fc.oneof(fc.integer(), fc.double()),
                cellIdentity: fc.oneof(fc.string(), fc.stringMatching(/^[0-9A-F]{3,9}$/)),
              }),
              { maxLength: 12 },
            ),
            alertDestination: fc.oneof(fc.string(), fc.constant('1'.repeat(21))),
            extra: fc.anything(),
          },
          { requiredKeys: [] },
        ),
        async (payload) => {
          const r = await api.call({
            method: 'PUT',
            url: `/v1/sims/${simId}/anti_theft`,
            payload,
            token: other.token,
          });
          expect([400, 404]).toContain(r.statusCode);
        },
      ),
      { numRuns: 150 },
    );
    const after = (await api.call({ method: 'GET', url: `/v1/sims/${simId}/anti_theft` })).json();
    expect(after.pendingCommands).toHaveLength(pendingBefore);
  });
});
