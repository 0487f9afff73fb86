// The simulator's SMS network (src/simulator/sms-network.ts) between the lab SMSC and the fleet, with
// the platform's real OTA link, GSUP and RADIUS: anti-theft cards imported with their OTA columns
// (one key set shared by card and platform), then a device stolen (carried through far cells) and a
// SIM moved into another device are blocked by their SIM, refused by the network, and their alerts
// reach the API; a device reselecting between its two cells never blocks; an unblock goes to the card
// as SMS-PP and its PoR comes back. Threats: normal movement blocking fixed devices, alerts lost on
// the way, MT SMS not reaching a blocked (quarantined) card. SQLite and PostgreSQL.

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateMemoryTlv } from '../../src/lib/anti-theft-encoding.js';
import { systemContext } from '../../src/platform/iam/principal.js';
import { OtaInbound } from '../../src/platform/ota/ota-inbound.js';
import { type KeptLink, keepOtaLink } from '../../src/platform/ota/ota-smpp.js';
import { GsupServer } from '../../src/servers/gsup/server.js';
import { type RunningRadius, startRadius } from '../../src/servers/radius/index.js';
import { Smsc } from '../../src/servers/smpp/smsc.js';
import { importCsv, newCards, type SimulatedCard, simulatedImei } from '../../src/simulator/cards.js';
import { Fleet, type FleetEvent, farCell, swappedImei } from '../../src/simulator/fleet.js';
import { SmsNetwork } from '../../src/simulator/sms-network.js';
import { startTestApi, type TestApi } from '../helpers/app.js';
import { testDialect } from '../helpers/database.js';

const PLATFORM_NUMBER = '8170000913';

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 30_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** The anti-theft applet's mode on the card (its memory, read from the card's snapshot). */
function appletMode(card: SimulatedCard): string | undefined {
  const bytes = card.uicc.snapshot().toolkit?.appletData.get('anti-theft');
  if (bytes === undefined) return undefined;
  const s = StateMemoryTlv.decode(bytes);
  return s.ok ? s.value.mode : undefined;
}

describe(`the simulator's SMSC wiring with anti-theft devices on ${testDialect}`, () => {
  let api: TestApi;
  let radius: RunningRadius;
  let gsup: GsupServer;
  let smsc: Smsc;
  let link: KeptLink;
  let network: SmsNetwork;
  let fleet: Fleet;
  const events: FleetEvent[] = [];
  const prefix = `0010188${String(process.pid % 10_000).padStart(4, '0')}`;
  const cards = newCards(3, {
    imsiPrefix: prefix,
    antiTheft: { count: 3, alertDestination: PLATFORM_NUMBER, learningSeconds: 2 },
  });
  const [stolen, swapped, fixed] = cards as [SimulatedCard, SimulatedCard, SimulatedCard];
  const imsiOf = (c: SimulatedCard) => c.file.imsi;

  beforeAll(async () => {
    api = await startTestApi();
    const { platform } = api;
    const logger = pino({ level: 'silent' });
    radius = await startRadius({ platform, logger, host: '127.0.0.1', authPort: 0, acctPort: 0 });
    gsup = await GsupServer.start({
      db: platform.store.db,
      auc: platform.auc,
      host: '127.0.0.1',
      port: 0,
      logger,
    });
    // The platform's side of the cards comes from the same CSV: profile and OTA columns.
    const summary = await platform.importer.importCsv(
      systemContext(api.operator.operatorId, 'Sim:importSims', 'test'),
      Readable.from([Buffer.from(importCsv(cards))]),
    );
    expect(summary).toMatchObject({ created: 3, rejected: 0 });

    network = new SmsNetwork({
      systemId: 'ota',
      subscribers: cards.map((c) => ({ imsi: c.file.imsi, msisdn: c.file.msisdn })),
      retryMs: 100,
    });
    smsc = await Smsc.start({ accounts: { ota: 'ota-password' }, onSimData: network.onSimData });
    const bound = new Promise<void>((resolve) => {
      link = keepOtaLink(
        { url: smsc.url, systemId: 'ota', password: 'ota-password', sourceAddr: PLATFORM_NUMBER },
        platform.ota,
        new OtaInbound(platform.store, platform.ota),
        (e) => e.kind === 'bound' && resolve(),
      );
    });
    const nasAddress = `127.0.${10 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}`;
    const secret = randomBytes(12).toString('hex');
    fleet = await Fleet.open({
      devices: cards.map((card, i) => ({
        card,
        imei: simulatedImei(900 + i),
        cell: { mcc: '001', mnc: '01', tac: 0x30 + i, eci: 0x3000 + 16 * i },
      })),
      gsup: { host: '127.0.0.1', port: gsup.port },
      radius: { host: '127.0.0.1', authPort: radius.authPort, acctPort: radius.acctPort, secret },
      nasAddress,
      retrySeconds: 300,
      moveEverySeconds: 1,
      stealStepSeconds: 0.3,
      attachSpreadMs: 0,
      log: (e) => events.push(e),
      onCardSms: network.onCardSms,
    });
    network.connect(fleet, smsc);
    await platform.aaa.radiusClients.create(
      systemContext(api.operator.operatorId, 'Radius:createClient', 'test'),
      { address: nasAddress, secret, coaPort: fleet.coaPort, name: 'simulator' },
    );
    await radius.server.clients.reload();
    await bound;
    fleet.start();
  });

  afterAll(async () => {
    await fleet?.stop();
    network?.close();
    await link?.close();
    await smsc?.close();
    await gsup?.close();
    await radius?.close();
    await api?.close();
  });

  const antiTheftEvents = async (card: SimulatedCard): Promise<string[]> => {
    const r = await api.call({ method: 'GET', url: `/v1/sims/${card.file.iccid}/events/anti_theft` });
    expect(r.statusCode, r.body).toBe(200);
    return (r.json() as Array<{ event: string }>).map((e) => e.event);
  };

  it('stolen and moved SIMs block themselves, are refused, and their alerts reach the API; reselection never blocks', async () => {
    await until('every device attached', () => cards.every((c) => fleet.deviceState(imsiOf(c)).attached));
    await until('every applet armed after its learning period', () =>
      cards.every((c) => appletMode(c) === 'armed'),
    );
    const movesBefore = events.filter((e) => e.kind === 'moved' && e.imsi === imsiOf(fixed)).length;

    await fleet.stealDevice(imsiOf(stolen));
    expect(fleet.deviceState(imsiOf(stolen)).cell).toEqual(
      farCell({ mcc: '001', mnc: '01', tac: 0x30, eci: 0x3000 }, 4),
    );
    await fleet.moveCardInto(imsiOf(swapped), swappedImei(imsiOf(swapped)));

    await until('the stolen SIM’s alert in the API', async () =>
      (await antiTheftEvents(stolen)).includes('ANTITHEFT_CELL_BLOCKED'),
    );
    await until('the moved SIM’s alert in the API', async () =>
      (await antiTheftEvents(swapped)).includes('ANTITHEFT_IMEI_BLOCKED'),
    );
    for (const c of [stolen, swapped]) {
      await until('the blocked device refused by the network', () => {
        const s = fleet.deviceState(imsiOf(c));
        return s.blocked && !s.attached && s.lastRefusal !== undefined;
      });
      expect(appletMode(c)).toBe('blocked');
      const view = await api.call({ method: 'GET', url: `/v1/sims/${c.file.iccid}/anti_theft` });
      expect(view.json().lastAlert).toBeTruthy();
    }
    expect(fleet.summary().blocked).toBe(2);

    // The fixed device went on reselecting between its two cells the whole time: never blocked.
    await until(
      'the fixed device reselected several more times',
      () => events.filter((e) => e.kind === 'moved' && e.imsi === imsiOf(fixed)).length >= movesBefore + 4,
    );
    expect(fleet.deviceState(imsiOf(fixed))).toMatchObject({ blocked: false, attached: true });
    expect(appletMode(fixed)).toBe('armed');
    expect(await antiTheftEvents(fixed)).toEqual([]);
    // moveDevice: a reselection by hand, to the neighbour; an unknown IMSI is an error that says so.
    const neighbourCell = { mcc: '001', mnc: '01', tac: 0x32, eci: 0x3021 };
    fleet.moveDevice(imsiOf(fixed), neighbourCell);
    expect(fleet.deviceState(imsiOf(fixed))).toMatchObject({ cell: neighbourCell, blocked: false });
    expect(() => fleet.moveDevice('001019999999999', neighbourCell)).toThrow(/no simulated device/);
  });

  it('an unblock reaches the blocked card by SMS-PP (MSISDN → card) and its PoR comes back', async () => {
    const mtBefore = network.stats.mt;
    const r = await api.call({ method: 'POST', url: `/v1/sims/${stolen.file.iccid}/anti_theft/unblock` });
    expect(r.statusCode, r.body).toBe(202);
    await until('ANTITHEFT_UNBLOCKED in the API', async () =>
      (await antiTheftEvents(stolen)).includes('ANTITHEFT_UNBLOCKED'),
    );
    expect(network.stats.mt).toBeGreaterThan(mtBefore);
    await until('the card back on its own IMSI', () => !fleet.deviceState(imsiOf(stolen)).blocked);
    expect(appletMode(stolen)).toBe('armed');
  });
});
