// Shared setup of the anti-theft tests above the card (the card itself: test/card/toolkit/fixture.ts):
// the fixture's OTA key set as the platform provisions it, a SIM created on the platform from an
// anti-theft card, and the lab network between the platform's OTA link and the cards — the lab SMSC
// handing SIM data to a card as SMS-PP and the card's SMS coming back as MO deliver_sm — with a queue
// of what the platform made of each MO message, and a bounded wait on state.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { type CardFile, keysOf } from '../../src/card/card-file.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { luhnCheckDigit } from '../../src/lib/luhn.js';
import { decodeSmsSubmit, decodeUserData, encodeUserData } from '../../src/lib/ts-23-040-sms-tpdu.js';
import { systemContext } from '../../src/platform/iam/principal.js';
import { type InboundOutcome, OtaInbound } from '../../src/platform/ota/ota-inbound.js';
import type { OtaKeySetInput, OtaService } from '../../src/platform/ota/ota-service.js';
import { OtaSmppLink } from '../../src/platform/ota/ota-smpp.js';
import type { Platform } from '../../src/platform/platform.js';
import type { Executor, Store } from '../../src/platform/store/database.js';
import { GsupServer } from '../../src/servers/gsup/server.js';
import { type RunningRadius, startRadius } from '../../src/servers/radius/index.js';
import { type SimDataMessage, Smsc } from '../../src/servers/smpp/smsc.js';
import { type SimulatedCard, simulatedCard } from '../../src/simulator/cards.js';
import type { Fleet, FleetOptions } from '../../src/simulator/fleet.js';
import {
  antiTheftCardFile,
  type Device,
  KIC,
  KID,
  PLATFORM,
  simDataDeliver,
} from '../card/toolkit/fixture.js';

/** Key set 1 of the fixture card (KIC/KID), as the platform provisions it. */
export const OTA_KEY_SET: OtaKeySetInput = {
  kvn: 1,
  kicAlgorithm: 'aes-cbc',
  kic: hex(KIC),
  kidAlgorithm: 'aes-cmac',
  kid: hex(KID),
};

/** The platform's ESME account at the lab SMSC, and the number it sends from (the alert destination). */
export const OTA_ACCOUNT = { systemId: 'ota', password: 'ota-secret', sourceAddr: PLATFORM } as const;

/** Stores key set 1 and the applet (commands and alerts under key set 1) for `simId`. */
export function provisionAntiTheft(
  ota: Pick<OtaService, 'provision'>,
  db: Executor,
  operatorId: string,
  simId: string,
  quarantineImsi: string,
  keySet: OtaKeySetInput = OTA_KEY_SET,
): Promise<void> {
  return ota.provision(db, operatorId, simId, [keySet], { kvn: 1, reportKvn: 1, quarantineImsi });
}

/**
 * The SIM's primary profile as OtaService reads it (IMSI, MSISDN to send to), with no keys: for tests
 * of the OTA layer without the SIM service. The ICCID is the SIM id.
 */
export async function insertOtaProfile(
  db: Executor,
  operatorId: string,
  simId: string,
  o: { imsi: string; msisdn: string },
): Promise<void> {
  await db
    .insertInto('sim_profiles')
    .values({
      iccid: simId,
      sim_id: simId,
      operator_id: operatorId,
      imsi: o.imsi,
      msisdn: o.msisdn,
      secrets: 'unused',
      amf: '8000',
      sqn: 0,
      ind_bits: 5,
      is_primary: 1,
      created_at: 0,
    })
    .execute();
}

export interface AntiTheftSim {
  readonly simId: string;
  readonly imsi: string;
  readonly msisdn: string;
  readonly quarantineImsi: string;
  readonly card: SimulatedCard;
}

/**
 * SIM number `n` (0–9999) of a test: a card with the anti-theft applet (quarantine IMSI, alerts to
 * PLATFORM, `parameters` on top), created on the platform with the card's Ki/OPc and MSISDN, and its
 * OTA key set and applet provisioned.
 */
export async function createAntiTheftSim(
  platform: Platform,
  operatorId: string,
  n: number,
  parameters: Record<string, unknown> = {},
): Promise<AntiTheftSim> {
  const serial = String(n).padStart(4, '0');
  const imsi = `00101770000${serial}`;
  const quarantineImsi = `00101999900${serial}`;
  const msisdn = `8190770${serial}`;
  const body = `89811007700000${serial}`;
  const file: CardFile = antiTheftCardFile(
    { quarantineImsi, ...parameters },
    { imsi, msisdn, iccid: body + luhnCheckDigit(body), ki: undefined, opc: undefined },
  );
  const keys = keysOf(file);
  const view = await platform.sims.create(systemContext(operatorId, 'Sim:createSim', 'test'), {
    iccid: file.iccid,
    imsi,
    msisdn,
    ki: toHex(keys.ki),
    opc: toHex(keys.opc),
  });
  await provisionAntiTheft(platform.ota, platform.store.db, operatorId, view.simId, quarantineImsi);
  return { simId: view.simId, imsi, msisdn, quarantineImsi, card: simulatedCard(file) };
}

/** The platform's RADIUS and GSUP listeners on loopback, and the fleet's packet gateway as a NAS. */
export interface CoreNetwork {
  readonly radius: RunningRadius;
  readonly gsup: GsupServer;
  /** What Fleet.open needs to reach them. */
  readonly fleet: Pick<FleetOptions, 'gsup' | 'radius' | 'nasAddress'>;
  /** Registers the fleet's packet gateway as a RADIUS client (with its CoA port) of `operatorId`. */
  admit(fleet: Fleet): Promise<void>;
  close(): Promise<void>;
}

export async function startCoreNetwork(platform: Platform, operatorId: string): Promise<CoreNetwork> {
  const logger = pino({ level: 'silent' });
  const radius = await startRadius({
    platform,
    logger,
    metrics: new Registry(),
    host: '127.0.0.1',
    authPort: 0,
    acctPort: 0,
  });
  const gsup = await GsupServer.start({
    db: platform.store.db,
    auc: platform.auc,
    host: '127.0.0.1',
    port: 0,
    logger,
  });
  // A loopback address of its own, so parallel test files never share a NAS.
  const nasAddress = `127.0.${10 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}`;
  const secret = randomBytes(12).toString('hex');
  return {
    radius,
    gsup,
    fleet: {
      gsup: { host: '127.0.0.1', port: gsup.port },
      radius: { host: '127.0.0.1', authPort: radius.authPort, acctPort: radius.acctPort, secret },
      nasAddress,
    },
    async admit(fleet) {
      await platform.aaa.radiusClients.create(systemContext(operatorId, 'Radius:createClient', 'test'), {
        address: nasAddress,
        secret,
        coaPort: fleet.coaPort,
        name: 'simulator',
      });
      await radius.server.clients.reload();
    },
    async close() {
      await gsup.close();
      await radius.close();
    },
  };
}

/** What the network's side of the SMSC hands a card: SIM data as an SMS-DELIVER TPDU (SMS-PP). */
export function smsDeliverOf(m: SimDataMessage): Uint8Array {
  const ud = decodeUserData(m.userData, true);
  if (!ud.ok) throw new Error(`SIM data from the SMSC does not decode: ${ud.error.message}`);
  return simDataDeliver(ud.value, m.source);
}

/**
 * The lab network: the SMSC the platform's OTA link binds to, SIM data routed to the card behind each
 * MSISDN, and the cards' SMS sent back to the platform as MO from that MSISDN.
 */
export class LabNetwork {
  private readonly routes = new Map<string, (tpdu: Uint8Array, message: SimDataMessage) => void>();

  private constructor(readonly smsc: Smsc) {}

  /** `accounts`: further ESMEs besides the platform's (e.g. one that injects packets). */
  static async start(accounts: Record<string, string> = {}): Promise<LabNetwork> {
    let network: LabNetwork | undefined;
    const smsc = await Smsc.start({
      accounts: { ...accounts, [OTA_ACCOUNT.systemId]: OTA_ACCOUNT.password },
      onSimData: (m) => network?.routes.get(m.destination)?.(smsDeliverOf(m), m),
    });
    network = new LabNetwork(smsc);
    return network;
  }

  /**
   * SIM data for `msisdn` goes to `deliver` (as the SMS-DELIVER TPDU, and the message as the SMSC
   * got it); SIM data to other numbers is dropped.
   */
  route(msisdn: string, deliver: (tpdu: Uint8Array, message: SimDataMessage) => void): void {
    this.routes.set(msisdn, deliver);
  }

  /**
   * SIM data for `msisdn` goes to whatever device `current()` names at the time (the card moves
   * between devices), and what that card sends in answer goes back as MO at once.
   */
  routeDevice(msisdn: string, current: () => Device | undefined): void {
    this.route(msisdn, (tpdu) => {
      const d = current();
      if (d === undefined) return;
      d.modem.deliverSms(tpdu);
      this.forward(msisdn, d);
    });
  }

  /** Sends what the device's card sent so far (SMS-SUBMIT TPDUs) to the platform as MO from `msisdn`. */
  forward(msisdn: string, d: Pick<Device, 'sms'>): void {
    for (const tpdu of d.sms.splice(0)) this.fromCard(msisdn, tpdu);
  }

  /** One SMS-SUBMIT from a card, delivered to the platform's ESME as a deliver_sm from `msisdn`. */
  fromCard(msisdn: string, tpdu: Uint8Array): void {
    const s = decodeSmsSubmit(tpdu);
    if (!s.ok) throw new Error(`the card sent an SMS-SUBMIT that does not decode: ${s.error.message}`);
    const delivered = this.smsc.deliverMo(OTA_ACCOUNT.systemId, {
      source: msisdn,
      destination: s.value.destinationAddress.kind === 'digits' ? s.value.destinationAddress.digits : '',
      protocolId: s.value.protocolIdentifier,
      dataCoding: s.value.dataCodingScheme,
      userData: encodeUserData(s.value.userData),
    });
    if (!delivered) throw new Error(`the SMSC has no bound ESME "${OTA_ACCOUNT.systemId}" for the MO SMS`);
  }

  close(): Promise<void> {
    return this.smsc.close();
  }
}

/** What the platform made of each MO message, in arrival order. */
export class OutcomeQueue {
  private readonly ready: InboundOutcome[] = [];
  private readonly waiting: Array<(o: InboundOutcome) => void> = [];

  readonly push = (o: InboundOutcome): void => {
    const w = this.waiting.shift();
    if (w) w(o);
    else this.ready.push(o);
  };

  /** The next outcome; rejects with `what` when none comes within `ms`. */
  next(what = 'the next MO SMS to be verified', ms = 10_000): Promise<InboundOutcome> {
    const ready = this.ready.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const resolver = (o: InboundOutcome) => {
        clearTimeout(timer);
        resolve(o);
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(resolver), 1);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      this.waiting.push(resolver);
    });
  }

  /** Outcomes that arrived and were not taken yet. */
  drain(): InboundOutcome[] {
    return this.ready.splice(0);
  }
}

/** The platform's OTA link bound to the lab SMSC, its MO outcomes queued. */
export async function connectOtaLink(
  network: LabNetwork,
  store: Store,
  ota: OtaService,
): Promise<{ link: OtaSmppLink; outcomes: OutcomeQueue }> {
  const outcomes = new OutcomeQueue();
  const link = await OtaSmppLink.connect(
    { url: network.smsc.url, ...OTA_ACCOUNT },
    new OtaInbound(store, ota),
    outcomes.push,
  );
  return { link, outcomes };
}

/**
 * Re-reads `read()` until `done` holds and returns that value; fails with `what` and the last value
 * after `ms`. For state that settles asynchronously (a PoR, an attach): wait on it, never sleep.
 */
export async function waitFor<T>(
  what: string,
  read: () => T | Promise<T>,
  done: (value: T) => boolean,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}; last seen: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
