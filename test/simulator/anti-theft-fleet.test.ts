// The simulated fleet's swap schedule (`swap`, `swapAfterSeconds`) with an anti-theft SIM, against the
// platform's real GSUP and RADIUS listeners: the device's modem runs the toolkit loop at power on;
// when the SIM is moved into another device the applet blocks at that boot (EF.IMSI → quarantine
// IMSI, REFRESH), the device re-reads EF.IMSI and attaches with the quarantine identity, which the
// HLR authenticates but refuses a data session (PS UpdateLocation) and records on the SIM; the card's
// secured alert SMS is handed to the fleet's SMS callback. The whole flow through the API and the
// SMSC is test/e2e/anti-theft.test.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertTlv } from '../../src/lib/anti-theft-encoding.js';
import { simulatedImei } from '../../src/simulator/cards.js';
import { Fleet, type FleetEvent } from '../../src/simulator/fleet.js';
import { openSecured, packetOfSubmits } from '../card/toolkit/fixture.js';
import {
  type AntiTheftSim,
  type CoreNetwork,
  createAntiTheftSim,
  startCoreNetwork,
  waitFor,
} from '../helpers/anti-theft.js';
import { startTestApi, type TestApi } from '../helpers/app.js';

describe('simulated fleet with an anti-theft SIM', () => {
  let api: TestApi;
  let core: CoreNetwork;
  let fleet: Fleet;
  let sim: AntiTheftSim;
  const events: FleetEvent[] = [];
  const sms: { imsi: string; tpdu: Uint8Array }[] = [];

  beforeAll(async () => {
    api = await startTestApi();
    core = await startCoreNetwork(api.platform, api.operator.operatorId);
    sim = await createAntiTheftSim(api.platform, api.operator.operatorId, 1);
    fleet = await Fleet.open({
      devices: [
        { card: sim.card, imei: simulatedImei(1), cell: { mcc: '001', mnc: '01', tac: 100, eci: 0x2000 } },
      ],
      ...core.fleet,
      retrySeconds: 120,
      swap: 1,
      swapAfterSeconds: 1,
      attachSpreadMs: 0,
      log: (e) => events.push(e),
      onCardSms: (from, tpdu) => sms.push({ imsi: from, tpdu }),
    });
    await core.admit(fleet);
    fleet.start();
  });

  afterAll(async () => {
    await fleet?.stop();
    await core?.close();
    await api?.close();
  });

  it('attaches, then in another device is blocked by its SIM and refused by the network, with an alert', async () => {
    await waitFor(
      'the first attach',
      () => events,
      (e) => e.some((x) => x.kind === 'attached'),
    );
    await waitFor(
      'the swapped device refused with its quarantine IMSI',
      () => events,
      (e) => e.some((x) => x.kind === 'rejected' && x.imsi === sim.quarantineImsi),
    );
    expect(events).toContainEqual({ kind: 'refreshed', imsi: sim.quarantineImsi, previousImsi: sim.imsi });
    expect(fleet.deviceState(sim.imsi)).toMatchObject({
      imsi: sim.quarantineImsi,
      attached: false,
      lastRefusal: 'UpdateLocation refused: GPRS-Not-Allowed',
    });
    const refusals = await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/events/refusals` });
    expect(refusals.json()).toContainEqual(
      expect.objectContaining({ code: 'ANTI_THEFT_BLOCKED', imsi: sim.quarantineImsi, access: 'gsup' }),
    );
    const { packet, udh } = packetOfSubmits(sms.map((s) => s.tpdu));
    const alert = AlertTlv.decode(openSecured(packet, udh).data);
    expect(alert.ok && alert.value.reason).toBe('imei_mismatch');
  });
});
