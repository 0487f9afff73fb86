// The simulated fleet's swap schedule (`swap`, `swapAfterSeconds`) with an anti-theft SIM, against the
// platform's real GSUP and RADIUS listeners: the device's modem runs the toolkit loop at power on;
// when the SIM is moved into another device the applet blocks at that boot (EF.IMSI → quarantine
// IMSI, REFRESH), the device re-reads EF.IMSI and attaches with the quarantine identity, which the
// HLR authenticates but refuses a data session (PS UpdateLocation) and records on the SIM; the card's
// secured alert SMS is handed to the fleet's SMS callback. The whole flow through the API and the
// SMSC is test/e2e/anti-theft.test.ts.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertTlv } from '../../src/lib/anti-theft-encoding.js';
import { systemContext } from '../../src/platform/iam/principal.js';
import { GsupServer } from '../../src/servers/gsup/server.js';
import { type RunningRadius, startRadius } from '../../src/servers/radius/index.js';
import { simulatedImei } from '../../src/simulator/cards.js';
import { Fleet, type FleetEvent } from '../../src/simulator/fleet.js';
import { openSecured, packetOfSubmits } from '../card/toolkit/fixture.js';
import { type AntiTheftSim, createAntiTheftSim, waitFor } from '../helpers/anti-theft.js';
import { startTestApi, type TestApi } from '../helpers/app.js';

describe('simulated fleet with an anti-theft SIM', () => {
  let api: TestApi;
  let radius: RunningRadius;
  let gsup: GsupServer;
  let fleet: Fleet;
  let sim: AntiTheftSim;
  const events: FleetEvent[] = [];
  const sms: { imsi: string; tpdu: Uint8Array }[] = [];
  const nasAddress = `127.0.${10 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}`;
  const secret = randomBytes(12).toString('hex');

  beforeAll(async () => {
    api = await startTestApi();
    const logger = pino({ level: 'silent' });
    radius = await startRadius({
      platform: api.platform,
      logger,
      host: '127.0.0.1',
      authPort: 0,
      acctPort: 0,
    });
    gsup = await GsupServer.start({
      db: api.platform.store.db,
      auc: api.platform.auc,
      host: '127.0.0.1',
      port: 0,
      logger,
    });
    sim = await createAntiTheftSim(api.platform, api.operator.operatorId, 1);
    fleet = await Fleet.open({
      devices: [
        { card: sim.card, imei: simulatedImei(1), cell: { mcc: '001', mnc: '01', tac: 100, eci: 0x2000 } },
      ],
      gsup: { host: '127.0.0.1', port: gsup.port },
      radius: { host: '127.0.0.1', authPort: radius.authPort, acctPort: radius.acctPort, secret },
      nasAddress,
      retrySeconds: 120,
      swap: 1,
      swapAfterSeconds: 1,
      attachSpreadMs: 0,
      log: (e) => events.push(e),
      onCardSms: (from, tpdu) => sms.push({ imsi: from, tpdu }),
    });
    await api.platform.aaa.radiusClients.create(
      systemContext(api.operator.operatorId, 'Radius:createClient', 'test'),
      { address: nasAddress, secret, coaPort: fleet.coaPort, name: 'simulator' },
    );
    await radius.server.clients.reload();
    fleet.start();
  });

  afterAll(async () => {
    await fleet?.stop();
    await gsup?.close();
    await radius?.close();
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
