// The simulated fleet with an anti-theft SIM, against the platform's real GSUP and RADIUS listeners:
// the device's modem runs the toolkit loop at power on; when the SIM is moved into another device the
// applet blocks at that boot (EF.IMSI → quarantine IMSI, REFRESH), the device re-reads EF.IMSI and
// attaches with the quarantine identity — which this platform does not know yet (the platform side
// of issue 13 comes later), so the network refuses it — and the card's secured alert SMS is handed
// to the fleet's SMS callback.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysOf, newCardFile } from '../../src/card/card-file.js';
import { AlertTlv } from '../../src/lib/anti-theft-encoding.js';
import { toHex } from '../../src/lib/hex.js';
import { createOperator } from '../../src/platform/iam/operators.js';
import { systemContext } from '../../src/platform/iam/principal.js';
import { openPlatform, type Platform } from '../../src/platform/platform.js';
import { GsupServer } from '../../src/servers/gsup/server.js';
import { type RunningRadius, startRadius } from '../../src/servers/radius/index.js';
import { simulatedCard, simulatedImei } from '../../src/simulator/cards.js';
import { Fleet, type FleetEvent } from '../../src/simulator/fleet.js';
import { antiTheftCardFile, openSecured, packetOfSubmits, QUARANTINE_IMSI } from '../card/toolkit/fixture.js';
import { testConfig } from '../helpers/app.js';
import { openTestDatabase, type TestDatabase } from '../helpers/database.js';

const until = async (what: string, check: () => boolean, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('simulated fleet with an anti-theft SIM', () => {
  let db: TestDatabase;
  let platform: Platform;
  let radius: RunningRadius;
  let gsup: GsupServer;
  let fleet: Fleet;
  const events: FleetEvent[] = [];
  const sms: { imsi: string; tpdu: Uint8Array }[] = [];
  const imsi = `0010177${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
  const base = antiTheftCardFile();
  const card = simulatedCard(
    newCardFile({ imsi, ...(base.ota ? { ota: base.ota } : {}), applets: base.applets ?? [] }),
  );
  const nasAddress = `127.0.${10 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}`;
  const secret = randomBytes(12).toString('hex');

  beforeAll(async () => {
    db = await openTestDatabase();
    const masterKey = randomBytes(32);
    platform = await openPlatform(testConfig({ databaseUrl: db.url, masterKey }), {
      masterKey,
      store: db.store,
    });
    radius = await startRadius({
      platform,
      logger: pino({ level: 'silent' }),
      host: '127.0.0.1',
      authPort: 0,
      acctPort: 0,
    });
    gsup = await GsupServer.start({
      db: db.store.db,
      auc: platform.auc,
      host: '127.0.0.1',
      port: 0,
      logger: pino({ level: 'silent' }),
    });
    const operator = await createOperator(db.store, platform.clock, {
      email: 'anti-theft-fleet@example.com',
      password: 'fleet password 1',
    });
    const keys = keysOf(card.file);
    await platform.sims.create(systemContext(operator.operatorId, 'Sim:createSim', 'test'), {
      iccid: card.file.iccid,
      imsi,
      ki: toHex(keys.ki),
      opc: toHex(keys.opc),
    });
    fleet = await Fleet.open({
      devices: [{ card, imei: simulatedImei(1), cell: { mcc: '001', mnc: '01', tac: 100, eci: 0x2000 } }],
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
    await platform.aaa.radiusClients.create(
      systemContext(operator.operatorId, 'Radius:createClient', 'test'),
      {
        address: nasAddress,
        secret,
        coaPort: fleet.coaPort,
        name: 'simulator',
      },
    );
    await radius.server.clients.reload();
    fleet.start();
  });

  afterAll(async () => {
    await fleet?.stop();
    await gsup?.close();
    await radius?.close();
    await platform?.close();
    await db?.cleanup();
  });

  it('attaches, then in another device is blocked by its SIM and refused by the network, with an alert', async () => {
    await until('the first attach', () => events.some((e) => e.kind === 'attached'));
    await until('the swapped device refused', () =>
      events.some((e) => e.kind === 'rejected' && e.imsi === QUARANTINE_IMSI),
    );
    expect(events).toContainEqual({ kind: 'refreshed', imsi: QUARANTINE_IMSI, previousImsi: imsi });
    expect(fleet.state()[0]).toMatchObject({ imsi: QUARANTINE_IMSI });
    const { packet, udh } = packetOfSubmits(sms.map((s) => s.tpdu));
    const alert = AlertTlv.decode(openSecured(packet, udh).data);
    expect(alert.ok && alert.value.reason).toBe('imei_mismatch');
  });
});
