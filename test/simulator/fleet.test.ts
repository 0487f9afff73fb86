// The simulated fleet against the platform's real listeners (RADIUS auth/accounting with CoA, GSUP):
// devices authenticate over GSUP with their cards, open sessions through the packet gateway, send
// traffic from their session address, move cells, get a Disconnect when their SIM is suspended and a
// CoA when its speed class changes, and an IMEI-locked SIM in the wrong device is refused. The
// simulator speaks only protocols; the test uses the platform to set up and to look.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysOf } from '../../src/card/card-file.js';
import { toHex } from '../../src/lib/hex.js';
import { createOperator } from '../../src/platform/iam/operators.js';
import { systemContext } from '../../src/platform/iam/principal.js';
import { openPlatform, type Platform } from '../../src/platform/platform.js';
import { GsupServer } from '../../src/servers/gsup/server.js';
import { type RunningRadius, startRadius } from '../../src/servers/radius/index.js';
import { newCards, simulatedImei } from '../../src/simulator/cards.js';
import { Fleet, type FleetEvent, summaryLine } from '../../src/simulator/fleet.js';
import { testConfig } from '../helpers/app.js';
import { openTestDatabase, type TestDatabase } from '../helpers/database.js';

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('simulated fleet', () => {
  let db: TestDatabase;
  let platform: Platform;
  let radius: RunningRadius;
  let gsup: GsupServer;
  let fleet: Fleet;
  let operatorId: string;
  const events: FleetEvent[] = [];
  const cards = newCards(4);
  const nasAddress = `127.0.${10 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}`;
  const secret = randomBytes(12).toString('hex');
  const lockedImei = simulatedImei(999_999);

  beforeAll(async () => {
    db = await openTestDatabase();
    const masterKey = randomBytes(32);
    platform = await openPlatform(
      testConfig({ databaseUrl: db.url, masterKey, radiusDynamicAuthorizationTimeoutMs: 300 }),
      {
        masterKey,
        store: db.store,
      },
    );
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
      email: 'fleet@example.com',
      password: 'fleet password 1',
    });
    operatorId = operator.operatorId;
    const ctx = systemContext(operatorId, 'Sim:createSim', 'test');
    for (const card of cards) {
      const keys = keysOf(card.file);
      await platform.sims.create(ctx, {
        iccid: card.file.iccid,
        imsi: card.file.imsi,
        ki: toHex(keys.ki),
        opc: toHex(keys.opc),
      });
    }
    // The fourth SIM is locked to a device the fleet does not have.
    await platform.sims.setImeiLock(ctx, cards[3]?.file.iccid ?? '', lockedImei);
    fleet = await Fleet.open({
      devices: cards.map((card, i) => ({
        card,
        imei: simulatedImei(i + 1),
        cell: { mcc: '001', mnc: '01', tac: 100, eci: 0x1000 + i },
        heavy: i === 0,
      })),
      gsup: { host: '127.0.0.1', port: gsup.port },
      radius: { host: '127.0.0.1', authPort: radius.authPort, acctPort: radius.acctPort, secret },
      nasAddress,
      interimSeconds: 1,
      retrySeconds: 120,
      moveEverySeconds: 2,
      attachSpreadMs: 100,
      log: (e) => events.push(e),
    });
    await platform.aaa.radiusClients.create(systemContext(operatorId, 'Radius:createClient', 'test'), {
      address: nasAddress,
      secret,
      coaPort: fleet.coaPort,
      name: 'simulator',
    });
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

  const sessions = () =>
    db.store.db.selectFrom('sim_sessions').selectAll().where('status', '=', 'online').execute();

  it('attaches the devices and refuses the IMEI-locked SIM in another device', async () => {
    // The fleet counts a device attached when its Access-Accept arrives; its session row and the
    // refusal row are written as the accounting and the refusal are processed, so wait for those too.
    await until(
      'three attached and one refused',
      async () =>
        fleet.summary().attached === 3 &&
        fleet.summary().rejected >= 1 &&
        (await sessions()).length === 3 &&
        (
          await db.store.db
            .selectFrom('aaa_refusals')
            .select('code')
            .where('code', '=', 'IMEI_MISMATCH')
            .execute()
        ).length > 0,
    );
    const refused = fleet.state().find((d) => d.imsi === cards[3]?.file.imsi);
    expect(refused?.lastRefusal).toMatch(/IMEI/);
    const refusals = await db.store.db.selectFrom('aaa_refusals').select(['code', 'sim_id']).execute();
    expect(refusals).toContainEqual({ code: 'IMEI_MISMATCH', sim_id: cards[3]?.file.iccid });
    const online = await sessions();
    expect(online).toHaveLength(3);
    for (const s of online) {
      expect(s.ue_ip).toMatch(/^127\.64\./);
      expect(s.imei).toMatch(/^\d{15}$/);
      expect(JSON.parse(s.cell ?? '{}')).toMatchObject({ mcc: '001', mnc: '01', tac: 100 });
    }
    // The devices really send from their session address.
    expect(
      events
        .filter((e) => e.kind === 'attached')
        .every((e) => e.kind === 'attached' && e.boundTo === e.address),
    ).toBe(true);
    expect(summaryLine(fleet.summary())).toMatch(/attached 3 \| rejected \d+ \| sessions 3/);
  });

  it('reports traffic in Interim-Updates, and cell changes', async () => {
    await until('traffic counted', async () =>
      (await sessions()).some((s) => Number(s.input_octets) > 10_000),
    );
    const heavy = (await sessions()).find((s) => s.imsi === cards[0]?.file.imsi);
    expect(Number(heavy?.output_octets)).toBeGreaterThan(0);
    // A fixed device reselects between its home cell and one neighbour (docs/simulator.md).
    const home = new Map(cards.map((c, i) => [c.file.imsi, 0x1000 + i]));
    await until('a cell change to the neighbour recorded', async () =>
      (await sessions()).some(
        (s) => (JSON.parse(s.cell ?? '{}') as { eci?: number }).eci === (home.get(s.imsi) ?? -2) + 1,
      ),
    );
  });

  it('a speed class change reaches the device as CoA; a suspension as Disconnect', async () => {
    const ctx = systemContext(operatorId, 'Sim:updateSpeedClass', 'test');
    await platform.sims.updateSpeedClass(ctx, cards[1]?.file.iccid ?? '', 's1.minimum');
    await until('CoA received', () => fleet.summary().rateChanges === 1);
    await platform.sims.transition(ctx, cards[2]?.file.iccid ?? '', 'suspend');
    await until(
      'Disconnect received',
      () => fleet.summary().disconnects === 1 && fleet.summary().attached === 2,
    );
    await until('session ended', async () => !(await sessions()).some((s) => s.imsi === cards[2]?.file.imsi));
  });

  it('sends Stop for every session when the fleet stops', async () => {
    await fleet.stop();
    await until('no session online', async () => (await sessions()).length === 0);
  });
});
