// The demo fleet of `simtrust up --demo` (docs/simulator.md): simulated devices carrying the first
// demo SIMs, whose keys the demo seeding wrote to data/demo-fleet/cards.csv. It runs in the `up`
// process but reaches the platform only over GSUP and RADIUS like any simulator; the CLI, where the
// platform and the simulator are composed, registers its packet gateway as a NAS client of the demo
// operator (127.0.0.10) with the CoA port it got.
//
// Anti-theft (docs/anti-theft.md): the demo starts the lab SMSC on a free loopback port before the
// platform, and the platform's OTA link binds to it (startDemoSmsc). The SMSC reaches the fleet's
// cards through the simulator's SmsNetwork. Of the anti-theft devices, one has its SIM moved into
// another device and one is stolen shortly after the start (demoTheftSeconds): both SIMs block
// themselves and their alerts reach the API. The anti-theft cards' state (applet memory, OTA
// counters, EF.IMSI) is kept in data/demo-fleet/cards/<iccid>.json (mode 0600) across restarts, as a
// real card keeps its memory.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { readCardFile, withState, writeCardFile } from '../card/card-file.js';
import type { Config } from '../config/defaults.js';
import { demoFleetCardsFile } from '../platform/demo.js';
import { systemContext } from '../platform/iam/principal.js';
import type { Platform } from '../platform/platform.js';
import { ensurePrivateDir } from '../platform/private-files.js';
import { type SimDataMessage, Smsc } from '../servers/smpp/smsc.js';
import { cardsFromCsv, type SimulatedCard, simulatedCard } from '../simulator/cards.js';
import { Fleet, type FleetSummary, swappedImei } from '../simulator/fleet.js';
import { SmsNetwork } from '../simulator/sms-network.js';

/** The demo packet gateway's address (loopback, apart from the platform's own 127.0.0.1). */
export const DEMO_NAS_ADDRESS = '127.0.0.10';

/** The platform's OTA number in the demo (otaSmppSourceAddr): where the demo applets send alerts. */
export const DEMO_OTA_NUMBER = '819000000999';

export interface RunningDemoFleet {
  readonly devices: number;
  /** The anti-theft SIMs: the one moved into another device and the stolen one (when there are). */
  readonly antiTheft: { readonly moved?: string; readonly stolen?: string; readonly all: readonly string[] };
  summary(): FleetSummary;
  stop(): Promise<void>;
}

/** The lab SMSC of the demo, started before the platform so its OTA link can bind to it. */
export interface DemoSmsc {
  readonly smsc: Smsc;
  /** Settings that point the platform's OTA link at it. */
  readonly config: Pick<Config, 'otaSmppUrl' | 'otaSmppSystemId' | 'otaSmppPassword' | 'otaSmppSourceAddr'>;
  /** Where MT SIM data goes once the fleet runs. */
  use(network: SmsNetwork): void;
}

/** Starts the lab SMSC on a free loopback port with a fresh bind password (demo mode only). */
export async function startDemoSmsc(config: Config): Promise<DemoSmsc> {
  const password = randomBytes(18).toString('base64url');
  let network: SmsNetwork | undefined;
  const smsc = await Smsc.start({
    host: '127.0.0.1',
    port: 0,
    accounts: { [config.otaSmppSystemId]: password },
    receipt: false,
    onSimData: (m: SimDataMessage) => network?.onSimData(m),
  });
  return {
    smsc,
    config: {
      otaSmppUrl: smsc.url,
      otaSmppSystemId: config.otaSmppSystemId,
      otaSmppPassword: password,
      otaSmppSourceAddr: config.otaSmppSourceAddr ?? DEMO_OTA_NUMBER,
    },
    use: (n) => {
      network = n;
    },
  };
}

const cardStateFile = (dataDir: string, iccid: string) =>
  join(dataDir, 'demo-fleet', 'cards', `${iccid}.json`);

/** An anti-theft card as it was at the last stop, or as the CSV makes it the first time. */
function withSavedState(dataDir: string, card: SimulatedCard): SimulatedCard {
  if (card.file.applets === undefined) return card;
  const saved = readCardFile(cardStateFile(dataDir, card.file.iccid));
  return saved.ok && saved.value.imsi === card.file.imsi
    ? simulatedCard(saved.value, { ...card.extra })
    : card;
}

export async function startDemoFleet(o: {
  platform: Platform;
  operatorId: string;
  gsupPort: number;
  radius: { authPort: number; acctPort: number };
  logger: Logger;
  /** The demo SMSC: anti-theft cards get their SMS through it. */
  sms?: DemoSmsc;
}): Promise<RunningDemoFleet | undefined> {
  const { config } = o.platform;
  const file = demoFleetCardsFile(config.dataDir);
  if (!existsSync(file)) {
    o.logger.warn(
      { file },
      'demo fleet: no card file (data made by an older version); delete the data directory to recreate it',
    );
    return undefined;
  }
  // The applets learn their cells for the first third of demoTheftSeconds.
  const theft = config.demoTheftSeconds;
  const parsed = cardsFromCsv(readFileSync(file, 'utf8'), {
    alertDestination: config.otaSmppSourceAddr ?? DEMO_OTA_NUMBER,
    learningSeconds: Math.max(1, Math.floor(theft / 3)),
  });
  if (!parsed.ok) {
    o.logger.error({ file, code: parsed.error.code }, `demo fleet: ${parsed.error.message}`);
    return undefined;
  }
  const cards = parsed.value.map((c) => withSavedState(config.dataDir, c));
  const antiTheft = cards.filter((c) => c.file.applets !== undefined);
  const ctx = systemContext(o.operatorId, 'Radius:demoFleet', 'demo');
  const service = o.platform.aaa.radiusClients;
  const known = (await service.loadAll()).clients.find((c) => c.address === `${DEMO_NAS_ADDRESS}/32`);
  const secret = known?.secret.toString() ?? randomBytes(18).toString('base64url');
  const fleetLog = o.logger.child({ component: 'demo-fleet' });
  const network = new SmsNetwork({
    systemId: config.otaSmppSystemId,
    subscribers: cards.map((c) => ({ imsi: c.file.imsi, msisdn: c.file.msisdn })),
  });
  const fleet = await Fleet.open({
    devices: cards.map((card, i) => ({
      card,
      imei: card.extra.imei ?? '',
      cell: { mcc: '001', mnc: '01', tac: 0x10 + (i % 4), eci: 0x1a2b00 + 2 * i },
      heavy: i === 0,
    })),
    gsup: { host: config.gsupHost, port: o.gsupPort },
    radius: { host: config.radiusHost, authPort: o.radius.authPort, acctPort: o.radius.acctPort, secret },
    nasAddress: DEMO_NAS_ADDRESS,
    interimSeconds: 30,
    retrySeconds: 60,
    moveEverySeconds: 300,
    attachSpreadMs: 3000,
    onCardSms: network.onCardSms,
    log: (event) => {
      if (event.kind === 'rejected') fleetLog.warn({ event }, `demo device refused: ${event.reason}`);
      else if (event.kind === 'refreshed')
        fleetLog.warn({ event }, 'demo device: its SIM switched identity (anti-theft block or unblock)');
      else if (event.kind !== 'moved') fleetLog.info({ event }, `demo device ${event.kind}`);
    },
  });
  if (o.sms) {
    o.sms.use(network);
    network.connect(fleet, o.sms.smsc);
  }
  try {
    if (known === undefined) {
      await service.create(ctx, {
        address: DEMO_NAS_ADDRESS,
        secret,
        coaPort: fleet.coaPort,
        name: 'demo-fleet packet gateway',
      });
    } else {
      await service.update(ctx, known.clientId, { coaPort: fleet.coaPort });
    }
  } catch (e) {
    await fleet.stop();
    throw e;
  }
  fleet.start();

  // The show: one SIM moved into another device, one device stolen.
  const [moved, stolen] = antiTheft;
  const timers: NodeJS.Timeout[] = [];
  const later = (seconds: number, run: () => Promise<void>) =>
    timers.push(
      setTimeout(
        () => void run().catch((e) => fleetLog.error({ err: e }, 'demo fleet: scripted event failed')),
        seconds * 1000,
      ),
    );
  if (moved)
    later(Math.max(1, Math.floor(theft / 3)), async () => {
      fleetLog.warn({ iccid: moved.file.iccid }, 'demo: this SIM is moved into another device');
      await fleet.moveCardInto(moved.file.imsi, swappedImei(moved.file.imsi));
    });
  if (stolen)
    later(theft, async () => {
      fleetLog.warn({ iccid: stolen.file.iccid }, 'demo: this device is stolen (carried through far cells)');
      await fleet.stealDevice(stolen.file.imsi);
    });

  // Anti-theft cards keep their memory across restarts (written when it changed).
  const versions = new Map(antiTheft.map((c) => [c.file.iccid, c.uicc.version]));
  const save = () => {
    for (const c of antiTheft) {
      if (versions.get(c.file.iccid) === c.uicc.version) continue;
      try {
        ensurePrivateDir(join(config.dataDir, 'demo-fleet', 'cards'));
        writeCardFile(cardStateFile(config.dataDir, c.file.iccid), withState(c.file, c.uicc));
        versions.set(c.file.iccid, c.uicc.version);
      } catch (e) {
        fleetLog.warn({ iccid: c.file.iccid, err: (e as Error).message }, 'demo fleet: card state not saved');
      }
    }
  };
  if (antiTheft.length > 0) timers.push(setInterval(save, 5000));

  return {
    devices: cards.length,
    antiTheft: {
      ...(moved ? { moved: moved.file.iccid } : {}),
      ...(stolen ? { stolen: stolen.file.iccid } : {}),
      all: antiTheft.map((c) => c.file.iccid),
    },
    summary: () => fleet.summary(),
    stop: async () => {
      for (const t of timers) clearTimeout(t);
      await fleet.stop();
      network.close();
      save();
    },
  };
}
