// The download over the real ES5 transports (issue 15, "both transports used"): the SM-DP and the SM-SR
// (real services on the test database) with Es5Router over Es5Sms and Es5Https; an SMSC that carries
// MT SMS to the device (storing them while the device is off) and its MO SMS back to Es5Sms.receive
// (as OtaInbound does for the platform); the device is the eUICC card file in a ToolkitModem with the
// BIP relay on, so the SCP81 session is a real TCP connection from the modem's relay to the SM-SR's
// PSK-TLS listener on loopback.

import { randomBytes } from 'node:crypto';
import { type CardFile, cardFromFile } from '../../../../src/card/card-file.js';
import { Terminal } from '../../../../src/card/terminal.js';
import { ToolkitModem } from '../../../../src/card/toolkit/ts-102-223-terminal.js';
import type { Uicc } from '../../../../src/card/uicc.js';
import { type ChainInput, verifyCertificateChain } from '../../../../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../../../../src/lib/clock.js';
import { hex, toHex } from '../../../../src/lib/hex.js';
import {
  concatenationOf,
  decodeSmsSubmit,
  decodeUserData,
  reassembleSecuredPacket,
  type UserData,
} from '../../../../src/lib/ts-23-040-sms-tpdu.js';
import { SmDp } from '../../../../src/platform/esim/sm-dp/sm-dp-service.js';
import { Es5Https } from '../../../../src/platform/esim/sm-sr/es5-https.js';
import { type Es5Route, Es5Router } from '../../../../src/platform/esim/sm-sr/es5-router.js';
import { Es5Sms } from '../../../../src/platform/esim/sm-sr/es5-sms.js';
import {
  adminSessionTrigger,
  type RamOverHttpOptions,
  RamOverHttpSessions,
} from '../../../../src/platform/esim/sm-sr/ram-over-http.js';
import { SmSr } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { KeyRing } from '../../../../src/platform/secrets/key-ring.js';
import { packSecrets, profileSecretContext } from '../../../../src/platform/sims/model.js';
import { type Scp81Listener, startScp81Listener } from '../../../../src/servers/esim/scp81-listener.js';
import { EID, euiccFile, euiccOf } from '../../../card/euicc/fixture.js';
import { cell, IMEI, simDataDeliver } from '../../../card/toolkit/fixture.js';
import { openTestDatabase, type TestDatabase } from '../../../helpers/database.js';
import { createTestPki, PKI_NOW, type TestPki } from '../../../helpers/esim-pki.js';
import type { Sim } from '../sm-dp/fixture.js';
import { EUM_ID, eisOf, MNO_ID, SMDP_ID, SMSR_ID } from '../sm-sr/fixture.js';

export { EID, MNO_ID, SMDP_ID, SMSR_ID };
export const OPERATOR = 'op-transport-test';
const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';
const SCP81_PSK = '606162636465666768696a6b6c6d6e6f';

/** What crossed each transport: MT SMS (secured packets to the ISD-R), HTTPS sessions, route choices. */
export interface Traffic {
  /** MT SMS handed to the SMSC (one entry per message, concatenated parts counted once). */
  readonly mt: { destination: string; parts: number }[];
  /** The router's choices: route and target AID. */
  readonly routes: { route: Es5Route; aid: string }[];
  /** Pushes sent (SCP81 triggers). */
  pushes: number;
  /** HTTPS sessions the listener accepted (one per PSK-TLS connection of the card). */
  sessions: number;
}

export interface TransportBench {
  readonly db: TestDatabase;
  readonly clock: ManualClock;
  readonly pki: TestPki;
  readonly card: Uicc;
  readonly modem: ToolkitModem;
  readonly smsr: SmSr;
  readonly smdp: SmDp;
  readonly traffic: Traffic;
  /** Called on every route choice before the command leaves (tests cut the device off there). */
  onRoute: ((route: Es5Route, aid: string, index: number) => void) | undefined;
  /** MT SMS the SMSC holds while the device is off. */
  readonly stored: () => number;
  addSim(sim: Sim): Promise<void>;
  /** The device powers off: the BIP relay drops its connection, SMS wait in the SMSC. */
  switchOff(): void;
  /** The device powers on: card reset, boot, registration; the SMSC delivers what it held. */
  switchOn(): void;
  /** The card's pending default notifications are all confirmed by the SM-SR. */
  quiet(): Promise<void>;
  close(): Promise<void>;
}

export async function transportBench(
  o: { sessions?: RamOverHttpOptions; segmentSize?: number } = {},
): Promise<TransportBench> {
  const db = await openTestDatabase();
  const keyRing = await KeyRing.open(db.store, randomBytes(32));
  const clock = new ManualClock(PKI_NOW);
  const pki = await createTestPki();
  const ecasd = pki.ecasd(EID);
  const file = euiccFile();
  const e = file.euicc;
  if (e === undefined) throw new Error('no euicc');
  const jwk = ecasd.privateKey.export({ format: 'jwk' });
  const cardFile: CardFile = {
    ...file,
    euicc: {
      ...e,
      isdr: { ...e.isdr, scp81: [{ kvn: 0x40, psk: SCP81_PSK }] },
      ecasd: {
        certificate: toHex(ecasd.certificate),
        privateKey: Buffer.from(jwk.d ?? '', 'base64url').toString('hex'),
        ci: { keyId: toHex(pki.ci.trusted.keyId), publicKey: toHex(pki.ci.trusted.publicKey) },
      },
    },
  };
  const card = cardFromFile(cardFile, { clock });
  const traffic: Traffic = { mt: [], routes: [], pushes: 0, sessions: 0 };

  // --- the device and the SMSC ----------------------------------------------------------------------
  let on = true;
  let closed = false;
  const held: Uint8Array[][] = [];
  const partial = new Map<number, UserData[]>();
  let es5Sms: Es5Sms | undefined;
  let modem: ToolkitModem;
  const deliver = (uds: readonly Uint8Array[]) => {
    for (const raw of uds) {
      const ud = decodeUserData(raw, true);
      if (!ud.ok) throw new Error(ud.error.message);
      const r = modem.deliverSms(simDataDeliver(ud.value));
      if (!r.ok) throw new Error(r.error.message);
    }
  };
  /** MO SMS from the card: reassembled, handed to the SM-SR's ES5 SMS receiver as from the device's IMSI. */
  const moSms = (tpdu: Uint8Array) => {
    const s = decodeSmsSubmit(tpdu);
    if (!s.ok) throw new Error(s.error.message);
    const concat = concatenationOf(s.value.userData.header ?? []);
    const reference = concat?.reference ?? -1;
    const parts = [...(partial.get(reference) ?? []), s.value.userData];
    if (concat !== undefined && parts.length < concat.total) {
      partial.set(reference, parts);
      return;
    }
    partial.delete(reference);
    const packet = reassembleSecuredPacket(parts);
    if (!packet.ok) throw new Error(packet.error.message);
    const sender = modem.imsi ?? '';
    setImmediate(() => {
      if (closed) return;
      es5Sms?.receive(sender, packet.value.identifier, packet.value.packet).catch((e: unknown) => {
        if (!closed) throw e;
      });
    });
  };
  card.reset();
  modem = new ToolkitModem(new Terminal((apdu) => card.transmit(apdu)), {
    imei: IMEI,
    cell: cell(1),
    reset: () => card.reset(),
    bip: { pollMs: 2 },
    onSms: moSms,
    // The REFRESH after an enable: the device attaches with the new profile (accepted: the test's
    // network knows every profile it downloads), and the modem tells the card.
    onRefresh: () => setImmediate(() => modem.registered('normal_service')),
  });

  // --- the SM-SR's ES5: SMS, HTTPS, and the choice between them -------------------------------------
  let smsr: SmSr | undefined;
  const sms = new Es5Sms({
    store: db.store,
    keyRing,
    link: {
      async send(destination, userData) {
        traffic.mt.push({ destination, parts: userData.length });
        if (!on) {
          held.push([...userData]);
          return;
        }
        setImmediate(() => {
          if (!closed) deliver(userData);
        });
      },
    },
    // A PoR that never comes fails the command after this (the device-off test brings it back first).
    porTimeoutMs: 120_000,
    notifications: async (eid, e1) => {
      if (smsr === undefined) throw new Error('no SM-SR');
      return smsr.handleNotification(eid, e1);
    },
  });
  es5Sms = sms;
  const sessions = new RamOverHttpSessions(o.sessions);
  const psk = hex(SCP81_PSK);
  const listener: Scp81Listener = await startScp81Listener({
    sessions,
    // The SM-SR's key of the eUICC's ISD-R SCP81 key set 40 (as the EIS gives it to esim-runtime.ts).
    psk: (id) => {
      if (id.eid !== EID || id.kvn !== 0x40) return undefined;
      traffic.sessions++;
      return psk;
    },
  });
  const https = new Es5Https({
    sessions,
    trigger: (eid) =>
      adminSessionTrigger({
        eid,
        isdRAid: ISD_R_AID,
        kvn: 0x40,
        kid: 1,
        address: '127.0.0.1',
        port: listener.port,
        adminUri: sessions.adminUri,
      }),
    push: async (eid, data) => {
      traffic.pushes++;
      return sms.push(eid, data);
    },
  });
  const b = { onRoute: undefined } as TransportBench;
  const router = new Es5Router({
    sms,
    https,
    onRoute: (_eid, route, aid) => {
      traffic.routes.push({ route, aid: aid.toUpperCase() });
      b.onRoute?.(route, aid.toUpperCase(), traffic.routes.length);
    },
  });
  const verify = async (input: Omit<ChainInput, 'trustedCis' | 'now'>) =>
    verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: clock.now() });
  const theSmsr = new SmSr({
    store: db.store,
    keyRing,
    clock,
    transport: router,
    smsrId: SMSR_ID,
    chains: { verify },
    directory: {
      smdp: (id) => (id === SMDP_ID ? smdp.es3Notifications() : undefined),
      operator: () => undefined,
    },
  });
  smsr = theSmsr;
  const smdp: SmDp = new SmDp({
    store: db.store,
    keyRing,
    clock,
    smdpId: SMDP_ID,
    ...(o.segmentSize === undefined ? {} : { segmentSize: o.segmentSize }),
    smsr: (id) => (id === SMSR_ID ? theSmsr.es3For(SMDP_ID) : undefined),
    signer: async () => ({ certificate: pki.smdp.certificate, privateKey: pki.smdp.privateKey }),
    verify,
    eumCertificate: async (id) => (id === EUM_ID ? pki.eum.pem : undefined),
    onError: (error) => {
      throw error;
    },
  });
  await db.store.db
    .insertInto('operators')
    .values({
      operator_id: OPERATOR,
      email: 'transport@example.test',
      password_hash: 'x',
      created_at: 0,
      updated_at: 0,
    })
    .execute();
  const eis = eisOf(file, pki, ecasd.certificate);
  const r = await theSmsr.es1For(pki.eum.pem).registerEIS({ functionCallIdentifier: 'reg-1', eis });
  if (r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
    throw new Error(JSON.stringify(r.functionExecutionStatus));

  const quiet = async () => {
    for (let i = 0; i < 5000; i++) {
      const active = await db.store.db
        .selectFrom('esim_sr_procedures')
        .select('procedure_id')
        .where('active_eid', 'is not', null)
        .executeTakeFirst();
      if (euiccOf(card).snapshot().notifications.length === 0 && active === undefined) return;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    throw new Error('the card still has unconfirmed notifications');
  };
  const boot = () => {
    const booted = modem.boot();
    if (!booted.ok) throw new Error(booted.error.message);
    // Attached: the first location status makes the eUICC declare itself (type 01, MO SMS).
    modem.registered('normal_service');
  };
  boot();

  Object.assign(b, {
    db,
    clock,
    pki,
    card,
    modem,
    smsr: theSmsr,
    smdp,
    traffic,
    stored: () => held.length,
    quiet,
    async addSim(sim: Sim) {
      const simId = `sim-${sim.iccid}`;
      await db.store.db
        .insertInto('sims')
        .values({
          sim_id: simId,
          operator_id: OPERATOR,
          type: 'esim',
          status: 'ready',
          speed_class: 's1.standard',
          group_id: null,
          imei_lock: null,
          imei_lock_anonymous: 0,
          termination_enabled: 0,
          serial_number: null,
          created_at: 0,
          updated_at: 0,
          expiry_time: null,
          expiry_action: null,
        })
        .execute();
      await db.store.db
        .insertInto('sim_profiles')
        .values({
          iccid: sim.iccid,
          sim_id: simId,
          operator_id: OPERATOR,
          imsi: sim.imsi,
          msisdn: sim.msisdn ?? null,
          secrets: keyRing.seal(packSecrets(sim.ki, sim.opc, sim.algorithm), profileSecretContext(sim.iccid)),
          amf: '8000',
          sqn: 0,
          ind_bits: 5,
          is_primary: 1,
          created_at: 0,
        })
        .execute();
    },
    switchOff() {
      on = false;
      modem.bip?.shutdown();
    },
    switchOn() {
      on = true;
      card.reset();
      boot();
      for (const uds of held.splice(0)) setImmediate(() => deliver(uds));
    },
    async close() {
      closed = true;
      modem.bip?.shutdown();
      await listener.close();
      await db.cleanup();
    },
  } satisfies Partial<TransportBench>);
  await quiet();
  return b;
}
