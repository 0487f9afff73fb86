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
//
// eSIM (docs/esim.md, Demo): with the deployment's SM-SR and SM-DP running, one more device carries
// an eUICC (a card file as `simtrust card new --euicc` makes it, data/demo-fleet/euicc.json, mode 0600,
// kept across restarts) whose EIS the demo registered at the SM-SR: profile A enabled and attached;
// profile B waits in the inventory for the operator to download (console SIM page or CLI). The SM-SR
// reaches the card by SMS through the lab SMSC and over HTTPS: the push opens a BIP channel from the
// simulated modem to the SCP81 listener.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type CardFile, readCardFile, withState, writeCardFile } from '../card/card-file.js';
import type { Config } from '../config/defaults.js';
import { demoFleetCardsFile, demoIccid, demoImei, demoImsi } from '../platform/demo.js';
import { systemContext } from '../platform/iam/principal.js';
import type { Platform } from '../platform/platform.js';
import { ensurePrivateDir, ensurePrivateFile } from '../platform/private-files.js';
import { mnoIdOf, type RunningEsim } from '../servers/esim/esim-runtime.js';
import { type SimDataMessage, Smsc } from '../servers/smpp/smsc.js';
import { cardsFromCsv, type SimulatedCard, simulatedCard } from '../simulator/cards.js';
import { Fleet, type FleetSummary, swappedImei } from '../simulator/fleet.js';
import { SmsNetwork } from '../simulator/sms-network.js';
import { type DemoProfile, issueDemoEuicc } from './demo-euicc.js';

/** The demo packet gateway's address (loopback, apart from the platform's own 127.0.0.1). */
export const DEMO_NAS_ADDRESS = '127.0.0.10';

/** The platform's OTA number in the demo (otaSmppSourceAddr): where the demo applets send alerts. */
export const DEMO_OTA_NUMBER = '819000000999';

export interface RunningDemoFleet {
  readonly devices: number;
  /** The demo eUICC: its EID, profile A (enabled) and profile B (to download). */
  readonly euicc?: { readonly eid: string; readonly profileA: string; readonly profileB: string };
  /** The anti-theft SIMs: the one moved into another device and the stolen one (when there are). */
  readonly antiTheft: { readonly moved?: string; readonly stolen?: string; readonly all: readonly string[] };
  summary(): FleetSummary;
  /** The session address of the device with this card IMSI while it is attached (demo data flow). */
  deviceAddress(imsi: string): string | undefined;
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
  /** This deployment's SM-SR and SM-DP: the demo adds its eUICC device. */
  esim?: RunningEsim;
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
  const euicc =
    o.esim === undefined || o.sms === undefined
      ? undefined
      : await demoEuicc(o.platform, o.operatorId, o.esim, fleetLogOf(o.logger)).catch((e: unknown) => {
          fleetLogOf(o.logger).error({ err: e }, 'demo eUICC: not started');
          return undefined;
        });
  if (euicc) cards.push(euicc.card);
  const antiTheft = cards.filter((c) => c.file.applets !== undefined);
  const ctx = systemContext(o.operatorId, 'Radius:demoFleet', 'demo');
  const service = o.platform.aaa.radiusClients;
  const known = (await service.loadAll()).clients.find((c) => c.address === `${DEMO_NAS_ADDRESS}/32`);
  const secret = known?.secret.toString() ?? randomBytes(18).toString('base64url');
  const fleetLog = o.logger.child({ component: 'demo-fleet' });
  const network = new SmsNetwork({
    systemId: config.otaSmppSystemId,
    subscribers: [
      ...cards.map((c) => ({ imsi: c.file.imsi, msisdn: c.file.msisdn })),
      // The eUICC's profile B: once enabled, SMS to its MSISDN reach the same card.
      ...(euicc ? [{ imsi: euicc.b.imsi, msisdn: euicc.b.msisdn, card: euicc.card.file.imsi }] : []),
    ],
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
    // The eUICC opens its SCP81 session to the SM-SR over BIP (a TCP channel from this process).
    ...(euicc ? { bip: {} } : {}),
    log: (event) => {
      if (event.kind === 'rejected') fleetLog.warn({ event }, `demo device refused: ${event.reason}`);
      else if (event.kind === 'refreshed')
        fleetLog.warn(
          { event },
          'demo device: its SIM switched identity (anti-theft block or unblock, or an eSIM profile switch)',
        );
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
  let euiccVersion = euicc?.card.uicc.version;
  const save = () => {
    if (euicc && euicc.card.uicc.version !== euiccVersion) {
      try {
        writeCardFile(euiccCardFile(config.dataDir), withState(euicc.card.file, euicc.card.uicc));
        euiccVersion = euicc.card.uicc.version;
      } catch (e) {
        fleetLog.warn({ err: (e as Error).message }, 'demo fleet: eUICC state not saved');
      }
    }
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
  if (antiTheft.length > 0 || euicc) timers.push(setInterval(save, 5000));

  return {
    // The fleet of demo SIMs; the eUICC device comes on top (`euicc`).
    devices: cards.length - (euicc ? 1 : 0),
    ...(euicc ? { euicc: { eid: euicc.eid, profileA: euicc.card.file.iccid, profileB: euicc.b.iccid } } : {}),
    antiTheft: {
      ...(moved ? { moved: moved.file.iccid } : {}),
      ...(stolen ? { stolen: stolen.file.iccid } : {}),
      all: antiTheft.map((c) => c.file.iccid),
    },
    summary: () => fleet.summary(),
    deviceAddress: (imsi) => fleet.state().find((d) => d.cardImsi === imsi)?.address,
    stop: async () => {
      for (const t of timers) clearTimeout(t);
      await fleet.stop();
      network.close();
      save();
    },
  };
}

const fleetLogOf = (logger: Logger) => logger.child({ component: 'demo-fleet' });

/** The demo eUICC's card file (its keys and memory; demo only, mode 0600). */
export const euiccCardFile = (dataDir: string) => join(dataDir, 'demo-fleet', 'euicc.json');

/** SIMs the demo eUICC adds to the demo operator's inventory: the eUICC (EID) and its profiles A and B. */
export const DEMO_EUICC_SIMS = 3;

/** Demo serials of the eUICC's profiles, apart from the fleet's 1…demoSimCount. */
const EUICC_SERIALS = { a: 900_001, b: 900_002 } as const;

const demoProfileOf = (serial: number): Omit<DemoProfile, 'ki' | 'opc'> => ({
  iccid: demoIccid(serial),
  imsi: demoImsi(serial),
  msisdn: `81900${String(serial).padStart(7, '0')}`,
});

/**
 * The demo eUICC: the saved card file, or — the first time — profiles A and B in the inventory (keys
 * random, sealed there and kept in the card file only), a new eUICC running A, its EIS registered at
 * this deployment's SM-SR (the operator layer's RegisterEIS, as POST /v1/esim/euiccs does).
 */
async function demoEuicc(
  platform: Platform,
  operatorId: string,
  esim: RunningEsim,
  log: Logger,
): Promise<{ card: SimulatedCard; eid: string; b: Omit<DemoProfile, 'ki' | 'opc'> } | undefined> {
  const { config } = platform;
  const path = euiccCardFile(config.dataDir);
  const b = demoProfileOf(EUICC_SERIALS.b);
  const imei = demoImei(EUICC_SERIALS.a);
  if (existsSync(path)) {
    const saved = readCardFile(path);
    if (!saved.ok || saved.value.euicc === undefined) {
      log.warn({ path }, 'demo eUICC: the card file does not read; delete the data directory to recreate it');
      return undefined;
    }
    return { card: simulatedCard(saved.value, { imei }), eid: saved.value.euicc.eid, b };
  }
  const ctx = (operationId: string) => systemContext(operatorId, operationId, 'demo');
  const keys = () => ({ ki: randomBytes(16).toString('hex'), opc: randomBytes(16).toString('hex') });
  const a = { ...demoProfileOf(EUICC_SERIALS.a), ...keys() };
  for (const [p, name] of [
    [a, 'demo-euicc-profile-A'],
    [{ ...b, ...keys() }, 'demo-euicc-profile-B'],
  ] as const)
    await platform.sims.create(ctx('Sim:createSim'), { ...p, tags: { name } });
  const issued = await issueDemoEuicc(platform, {
    profile: a,
    smsrId: esim.smsrId,
    smsrAddress: config.otaSmppSourceAddr ?? DEMO_OTA_NUMBER,
    mnoId: mnoIdOf(operatorId),
  });
  await platform.esimOperations.registerEuicc(ctx('Esim:registerEuicc'), {
    registerEisRequest: issued.registerEisRequest,
    eumCertificate: issued.eumCertificate,
  });
  ensurePrivateDir(join(config.dataDir, 'demo-fleet'));
  writeCardFile(path, issued.file satisfies CardFile);
  ensurePrivateFile(path);
  log.info({ eid: issued.eid, profileA: a.iccid, profileB: b.iccid }, 'demo eUICC registered at the SM-SR');
  return { card: simulatedCard(issued.file, { imei }), eid: issued.eid, b };
}
