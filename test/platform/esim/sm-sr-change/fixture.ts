// Two SM-SRs and one eUICC for the SM-SR change (SGP.02 §3.8): each SM-SR is a separate deployment —
// its own test database, key ring, certificate (one CI for both), SmSr and SmSrChange — reaching the
// card over ES5 SMS (Es5Sms: SCP80 command packets secured with the key set in its own database).
// The "air" between them and the card is the software card in a ToolkitModem: MT SMS are delivered
// as SIM data download, the card's MO SMS (PoRs, notifications) reassembled and handed to the
// Es5Sms.receive of the SM-SR that sent last, as OtaInbound does for the platform.
// Every ES5 send and every ES7 call is logged with the step its procedure row held when it left.
// Both SM-SRs notify one operator (MNO_ID) and one SM-DP (SMDP_ID) through their SmSr's durable
// outbox; what these receive is in `heard`. The test clock stands still except where a failing ES5
// send moves it by a PoR timeout (the card out of reach).

import { randomBytes } from 'node:crypto';
import { type CardFile, cardFromFile } from '../../../../src/card/card-file.js';
import { p256Point, verifyCertificateChain } from '../../../../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../../../../src/lib/clock.js';
import { encodeOid, GP_CERT_ROLE_BYTES } from '../../../../src/lib/gp-certificate.js';
import { hex } from '../../../../src/lib/hex.js';
import {
  concatenationOf,
  decodeSmsSubmit,
  decodeUserData,
  reassembleSecuredPacket,
  type UserData,
} from '../../../../src/lib/ts-23-040-sms-tpdu.js';
import type { EsNotificationDirectory } from '../../../../src/platform/esim/es-ports.js';
import type { Eis } from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import { activeProcedure } from '../../../../src/platform/esim/sm-sr/eis-store.js';
import { Es5Sms } from '../../../../src/platform/esim/sm-sr/es5-sms.js';
import type { Es5Outcome, Es5Transport } from '../../../../src/platform/esim/sm-sr/es5-transport.js';
import { type ChainVerifier, SmSr } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import {
  type Es7Port,
  SmSrChange,
  type SmSrChangeOptions,
} from '../../../../src/platform/esim/sm-sr-change/sm-sr-change-service.js';
import { KeyRing } from '../../../../src/platform/secrets/key-ring.js';
import { booted, type Device, EID, pkiEuiccFile } from '../../../card/euicc/fixture.js';
import { simDataDeliver } from '../../../card/toolkit/fixture.js';
import { openTestDatabase, type TestDatabase } from '../../../helpers/database.js';
import { type KeyPair, newKeyPair, PKI_NOW, type TestPki } from '../../../helpers/esim-pki.js';
import { EUM_ID, eisOf, MNO_ID, SMDP_ID, SMSR_ID } from '../sm-sr/fixture.js';

export { EID, MNO_ID, SMDP_ID };
export const SMSR1_ID = SMSR_ID;
export const SMSR2_ID = '1.3.6.1.4.1.99999.1.3';
/** The KVN SM-SR2 prefers for its ISD-R SCP80 key set (free in the EIS: it gets it). */
export const SMSR2_KVN = 2;
/** How long a failing ES5 send takes on the test clock (the PoR timeout of an unreachable card). */
export const POR_TIMEOUT_MS = 60_000;
/** The validity period of a procedure without ValidityPeriod (SmSrChange's default). */
export const VALIDITY_MS = 600_000;

/** A notification an operator or SM-DP received (from the SM-SR `from`). */
export interface Heard {
  readonly from: 'sr1' | 'sr2';
  readonly to: 'operator' | 'smdp';
  readonly method: string;
  readonly body: Record<string, unknown>;
}

/** What left, with the step of the sender's procedure row at that moment. */
export interface Sent {
  readonly from: 'sr1' | 'sr2';
  readonly what: string;
  readonly step: string | undefined;
}

export interface Deployment {
  readonly id: string;
  readonly db: TestDatabase;
  readonly keyRing: KeyRing;
  readonly smsr: SmSr;
  readonly change: SmSrChange;
  readonly sms: Es5Sms;
  /**
   * The ES5 transport both services use (a logging wrapper around `sms`): `fail` makes every send
   * fail as an unreachable card does (no PoR: ES5_TIMEOUT, the clock moved by POR_TIMEOUT_MS),
   * `failNext` the next n sends; `refuse(apdu)` fails a command the way a card's security error does
   * (ES5_POR_ERROR, not sent again); `hang` never answers — 'before' the card sees the command,
   * 'after' it ran it (the process died).
   */
  readonly transport: Es5Transport & {
    fail: boolean;
    failNext: number;
    refuse: ((apdu: Uint8Array) => boolean) | undefined;
    hang: false | 'before' | 'after';
  };
  readonly identity: SmSrChangeOptions['identity'];
}

export interface Rig {
  readonly pki: TestPki;
  readonly clock: ManualClock;
  readonly file: CardFile;
  readonly d: Device;
  readonly eis: Eis;
  readonly sr1: Deployment;
  readonly sr2: Deployment;
  readonly sent: Sent[];
  /** What the operator and the SM-DP received, in order. */
  readonly heard: Heard[];
  /** The operator and the SM-DP do not answer (their notification ports throw). */
  receiversDown: boolean;
  /** Rewrites SM-SR1's answers to SM-SR2 (ES7), e.g. to corrupt a receipt. */
  tamper: ((fn: string, answer: unknown) => unknown) | undefined;
  /** Both SM-SRs restart: new SmSr, SmSrChange and Es5Sms over the same databases and key rings. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A GP certificate for SM-SR2 (role sm-sr, its own OID), signed by `signer` (default the CI). */
export function smsr2Certificate(pki: TestPki, key: KeyPair, signer = pki.ci.privateKey): Uint8Array {
  return pki.gp(
    {
      serial: Uint8Array.of(0x02, 0x03),
      subjectId: encodeOid(SMSR2_ID),
      roleByte: GP_CERT_ROLE_BYTES['sm-sr'],
      publicKey: { point: p256Point(key.publicKey), curveRef: 0 },
    },
    signer,
  );
}

export async function twoSmSrs(
  pki: TestPki,
  o: {
    /** SM-SR2's CERT.SR.ECDSA and SK.SR.ECDSA (default: a certificate from the common CI). */
    sr2Identity?: SmSrChangeOptions['identity'];
    /**
     * The ES7 ports a deployment calls its partner with, instead of the partner's SmSrChange in
     * this process (e.g. SOAP clients over mutual TLS); resolved at each call.
     */
    partner?: (from: 'sr1' | 'sr2') => SmSrChangeOptions['partner'];
    /** Where a deployment's notifications go instead of the rig's `heard` log (e.g. SOAP clients). */
    directory?: (from: 'sr1' | 'sr2') => EsNotificationDirectory;
    /** The KVN each deployment prefers (SmSrChange scp80Kvn, Es5Sms kvn); default 1 and SMSR2_KVN. */
    kvns?: { readonly sr1?: number; readonly sr2?: number };
    /** SmSrChange `addressing` of both deployments (UpdateSMSRAddressingParameters). */
    addressing?: SmSrChangeOptions['addressing'];
    /**
     * A deployment's database and key ring (e.g. a whole test platform's, for the operator layer on
     * top); default a new test database and key ring. The rig's close() calls the db's cleanup.
     */
    open?: (name: 'sr1' | 'sr2') => Promise<{ db: TestDatabase; keyRing: KeyRing }>;
  } = {},
): Promise<Rig> {
  const clock = new ManualClock(PKI_NOW);
  const { file } = pkiEuiccFile(pki);
  const card = cardFromFile(file, { clock });
  const d = booted(card);
  const e = file.euicc;
  if (e === undefined) throw new Error('no eUICC');
  const scp81 = e.isdr.scp81[0];
  if (scp81 === undefined) throw new Error('no SCP81 key set on the card');
  // The EIS as the EUM registers it at SM-SR1: the ISD-R's SCP80 key set 1 and SCP81 key set 40.
  const signed = eisOf(file, pki, hex(e.ecasd?.certificate ?? ''));
  const eis: Eis = {
    ...signed,
    // The profile's SM-DP (not part of the EUM's signature): it gets ES3 notifications.
    profiles: signed.profiles.map((p) => ({ ...p, smdpId: SMDP_ID })),
    isdR: {
      ...signed.isdR,
      keysets: [
        ...signed.isdR.keysets,
        {
          version: scp81.kvn,
          type: 'SCP81',
          keys: [{ index: 1, kcv: hex('000000'), components: [{ type: 0x88, value: hex(scp81.psk) }] }],
          certificates: [],
        },
      ],
    },
  };

  const sent: Sent[] = [];
  const heard: Heard[] = [];
  let last: Es5Sms | undefined;
  let closed = false;
  // --- the air: MT SMS to the card, its MO SMS back to the SM-SR that sent last --------------------
  const air = (sender: () => Es5Sms) => ({
    async send(_destination: string, userData: readonly Uint8Array[]) {
      last = sender();
      d.sms.length = 0;
      for (const raw of userData) {
        const ud = decodeUserData(raw, true);
        if (!ud.ok) throw new Error(ud.error.message);
        const r = d.modem.deliverSms(simDataDeliver(ud.value));
        if (!r.ok) throw new Error(r.error.message);
      }
      const groups = new Map<string, UserData[]>();
      d.sms.forEach((t, i) => {
        const s = decodeSmsSubmit(t);
        if (!s.ok) throw new Error(s.error.message);
        const concat = concatenationOf(s.value.userData.header ?? []);
        const key = concat === undefined ? `single-${i}` : `concat-${concat.reference}`;
        groups.set(key, [...(groups.get(key) ?? []), s.value.userData]);
      });
      d.sms.length = 0;
      const to = last;
      const imsi = d.modem.imsi ?? '';
      for (const uds of groups.values()) {
        const packet = reassembleSecuredPacket(uds);
        if (!packet.ok) throw new Error(packet.error.message);
        setImmediate(() => {
          if (closed) return;
          to?.receive(imsi, packet.value.identifier, packet.value.packet).catch((err: unknown) => {
            if (!closed) throw err;
          });
        });
      }
    },
  });

  const rig: Rig = {
    pki,
    clock,
    file,
    d,
    eis,
    sent,
    heard,
    receiversDown: false,
    tamper: undefined,
    // assigned below
    sr1: undefined as unknown as Deployment,
    sr2: undefined as unknown as Deployment,
    async restart() {
      const [a, b] = [rig.sr1, rig.sr2];
      a.change.close();
      b.change.close();
      await Promise.all([a.smsr.close(), b.smsr.close()]);
      const sr1 = await deployment('sr1', SMSR1_ID, a.identity, kvn1, () => rig.sr2, a);
      const sr2 = await deployment('sr2', SMSR2_ID, b.identity, kvn2, () => rig.sr1, b);
      Object.assign(rig, { sr1, sr2 });
    },
    async close() {
      closed = true;
      rig.sr1.change.close();
      rig.sr2.change.close();
      await Promise.all([rig.sr1.smsr.close(), rig.sr2.smsr.close()]);
      await Promise.all([rig.sr1.db.cleanup(), rig.sr2.db.cleanup()]);
    },
  };

  const deployment = async (
    name: 'sr1' | 'sr2',
    id: string,
    identity: SmSrChangeOptions['identity'],
    kvn: number,
    partner: () => Deployment,
    existing?: { db: TestDatabase; keyRing: KeyRing },
  ): Promise<Deployment> => {
    const opened = existing ?? (await o.open?.(name));
    const db = opened?.db ?? (await openTestDatabase());
    const keyRing = opened?.keyRing ?? (await KeyRing.open(db.store, randomBytes(32)));
    // The operator and the SM-DP as this SM-SR's notification receivers (one of each, shared).
    const receiver = (to: Heard['to']) => {
      const on =
        (method: string) =>
        async (body: unknown): Promise<void> => {
          if (rig.receiversDown) throw new Error(`the ${to} does not answer (test)`);
          heard.push({ from: name, to, method, body: body as Record<string, unknown> });
        };
      return {
        handleProfileEnabledNotification: on('HandleProfileEnabledNotification'),
        handleProfileDisabledNotification: on('HandleProfileDisabledNotification'),
        handleProfileDeletedNotification: on('HandleProfileDeletedNotification'),
        handleSMSRChangeNotification: on('HandleSMSRChangeNotification'),
      };
    };
    const directory: EsNotificationDirectory = o.directory?.(name) ?? {
      smdp: (id) => (id === SMDP_ID ? receiver('smdp') : undefined),
      operator: (id) => (id === MNO_ID ? receiver('operator') : undefined),
    };
    let smsr: SmSr | undefined;
    const sms: Es5Sms = new Es5Sms({
      store: db.store,
      keyRing,
      kvn,
      link: air(() => sms),
      // A PoR the SM-SR cannot open (its key set is gone from the card) is never matched: the send
      // ends by this timeout. The tests check the card's refusal directly, not by waiting for it.
      porTimeoutMs: 120_000,
      notifications: async (eid, e1) => {
        if (smsr === undefined) throw new Error('no SM-SR');
        return smsr.handleNotification(eid, e1);
      },
    });
    const transport = {
      fail: false,
      failNext: 0,
      refuse: undefined as ((apdu: Uint8Array) => boolean) | undefined,
      hang: false as false | 'before' | 'after',
      async send(eid: string, aid: string, commands: readonly Uint8Array[]): Promise<Es5Outcome> {
        const step = (await activeProcedure(db.store.db, eid))?.step;
        sent.push({ from: name, what: `ES5 ${Buffer.from(commands[0] ?? []).toString('hex', 0, 4)}`, step });
        if (transport.fail || transport.failNext > 0) {
          transport.failNext = Math.max(0, transport.failNext - 1);
          clock.advance(POR_TIMEOUT_MS);
          return { ok: false, code: 'ES5_TIMEOUT', message: 'no PoR (test: the card is out of reach)' };
        }
        if (commands[0] !== undefined && transport.refuse?.(commands[0]))
          return { ok: false, code: 'ES5_POR_ERROR', message: 'PoR status 0a (test)' };
        if (transport.hang === 'before') return new Promise<Es5Outcome>(() => undefined);
        const o = await sms.send(eid, aid, commands);
        if (transport.hang === 'after') return new Promise<Es5Outcome>(() => undefined);
        return o;
      },
    };
    const chains: ChainVerifier = {
      verify: async (input) =>
        verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: clock.now() }),
    };
    smsr = new SmSr({
      store: db.store,
      keyRing,
      clock,
      transport,
      smsrId: id,
      chains,
      directory,
    });
    // ES7 to the partner, as the partner authenticates us (es7For(our id)), logged with our step.
    const es7: Es7Port = {
      handoverEUICC: async (b) => {
        sent.push({
          from: name,
          what: 'ES7 HandoverEUICC',
          step: (await activeProcedure(db.store.db, b.eis.eumSignedInfo.eid))?.step,
        });
        const r = await partner().change.es7For(id).handoverEUICC(b);
        return (rig.tamper?.('HandoverEUICC', r) as typeof r | undefined) ?? r;
      },
      authenticateSMSR: async (b) => {
        sent.push({
          from: name,
          what: 'ES7 AuthenticateSMSR',
          step: (await activeProcedure(db.store.db, b.eis.eumSignedInfo.eid))?.step,
        });
        const r = await partner().change.es7For(id).authenticateSMSR(b);
        return (rig.tamper?.('AuthenticateSMSR', r) as typeof r | undefined) ?? r;
      },
      createAdditionalKeySet: async (b) => {
        sent.push({
          from: name,
          what: 'ES7 CreateAdditionalKeySet',
          step: (await activeProcedure(db.store.db, b.eid))?.step,
        });
        const r = await partner().change.es7For(id).createAdditionalKeySet(b);
        return (rig.tamper?.('CreateAdditionalKeySet', r) as typeof r | undefined) ?? r;
      },
    };
    const other = name === 'sr1' ? SMSR2_ID : SMSR1_ID;
    const change = new SmSrChange({
      store: db.store,
      keyRing,
      clock,
      transport,
      chains,
      smsrId: id,
      identity,
      partner: o.partner?.(name) ?? ((smsrId) => (smsrId === other ? es7 : undefined)),
      eumCertificate: (eumId) => (eumId === EUM_ID ? pki.eum.pem : undefined),
      scp80Kvn: kvn,
      notifications: { outbox: smsr.notifications, directory },
      es5Retry: { baseMs: 5, maxMs: 20 },
      ...(o.addressing === undefined ? {} : { addressing: o.addressing }),
    });
    return { id, db, keyRing, smsr, change, sms, transport, identity };
  };

  const sr2Key = newKeyPair();
  const kvn1 = o.kvns?.sr1 ?? 1;
  const kvn2 = o.kvns?.sr2 ?? SMSR2_KVN;
  const sr1 = await deployment(
    'sr1',
    SMSR1_ID,
    { certificate: pki.smsr.certificate, privateKey: pki.smsr.privateKey },
    kvn1,
    () => rig.sr2,
  );
  const sr2 = await deployment(
    'sr2',
    SMSR2_ID,
    o.sr2Identity ?? { certificate: smsr2Certificate(pki, sr2Key), privateKey: sr2Key.privateKey },
    kvn2,
    () => rig.sr1,
  );
  Object.assign(rig, { sr1, sr2 });
  const r = await sr1.smsr.es1For(pki.eum.pem).registerEIS({ functionCallIdentifier: 'reg-1', eis });
  if (r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
    throw new Error(JSON.stringify(r.functionExecutionStatus));
  return rig;
}
