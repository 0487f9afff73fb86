// The carrier-switch benchmark's rig (bench/esim-switch.ts, issue 16): two operators' deployments in
// this process — each a whole test platform (own database, own master key and key ring, API and
// operator layer; SQLite or PostgreSQL per SIMTRUST_TEST_DATABASE, set before this module loads) with
// its own SmSr and SmSrChange, one common CI — and N software eUICCs with operator 1's profile A
// enabled, registered at SM-SR1 and in operator 1's inventory. Deployment 2 runs SM-DP2 and puts N
// profiles of its inventory in the switch pool (tag esimSwitchProfileType = simtrust-usim).
//
// What a switch runs is the platform's own: POST /v1/sims/{eid}/switch_operator at operator 1's API →
// EsimOperations' switch (ES4 PrepareSMSRChange at SM-SR2 → ES4 SMSRChange at SM-SR1 → ES7
// HandoverEUICC / AuthenticateSMSR / CreateAdditionalKeySet, ES5 EstablishISDRKeySet and
// FinaliseISDRhandover on the card → ES2 DownloadProfile(enable) at SM-DP2 through EsimSwitchTarget,
// the SCP03t download, EnableProfile, the card's REFRESH and its notification to SM-SR2). The partner
// ports are the in-process role ports the SOAP clients stand for in serve (no mutual TLS), as in
// test/platform/esim/switch/fixture.ts. ES5 is in-process as in bench/_esim-rig.ts: each command
// script runs in the card's ISD-R, SCP03t TLVs go to the ISD-P; no SMS/SCP80 or PSK-TLS bearer.
// Re-attach at operator 2: a vector from operator 2's AuC (platform.auc, its inventory's Ki/OPc and
// SQN) and the card's USIM AUTHENTICATE with the new profile, RES compared with XRES.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { cardFromFile } from '../src/card/card-file.js';
import { LIFE_CYCLE } from '../src/card/euicc/euicc-state.js';
import { newEuiccCardFile } from '../src/card/euicc/issue.js';
import type { Uicc } from '../src/card/uicc.js';
import { type ChainInput, verifyCertificateChain } from '../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../src/lib/clock.js';
import { hex, toHex } from '../src/lib/hex.js';
import { iccidWithCheckDigit } from '../src/lib/identities.js';
import { withEidCheckDigits } from '../src/lib/sgp-02-eid.js';
import { encodeNotification } from '../src/lib/sgp-02-es5.js';
import type { EsNotificationDirectory } from '../src/platform/esim/es-ports.js';
import type { Eis } from '../src/platform/esim/es-soap/sgp-02-xml-types.js';
import type { EsimOperationView } from '../src/platform/esim/operations/operations-service.js';
import type { EsimRolePorts } from '../src/platform/esim/operations/ports.js';
import { SmDp } from '../src/platform/esim/sm-dp/sm-dp-service.js';
import { SmSr } from '../src/platform/esim/sm-sr/sm-sr-service.js';
import {
  SmSrChange,
  type SmSrChangeOptions,
} from '../src/platform/esim/sm-sr-change/sm-sr-change-service.js';
import { EsimSwitchTarget, SWITCH_POOL_TAG } from '../src/platform/esim/switch/target.js';
import { PLATFORM } from '../test/card/toolkit/fixture.js';
import { startTestApi, type TestApi } from '../test/helpers/app.js';
import { newKeyPair, PKI_NOW, type TestPki } from '../test/helpers/esim-pki.js';
import { EUM_ID, eisOf, OTHER_MNO } from '../test/platform/esim/sm-sr/fixture.js';
import {
  MNO_ID,
  SMDP_ID,
  SMSR1_ID,
  SMSR2_ID,
  smsr2Certificate,
} from '../test/platform/esim/sm-sr-change/fixture.js';
import { registerEisEnvelope } from '../test/platform/esim/switch/fixture.js';
import { CardsTransport } from './_esim-rig.js';

const _ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';
const USIM_AID = 'A0000000871002';
const MNO2_ID = OTHER_MNO;
const SMDP2_ID = SMDP_ID;
export const PROFILE_TYPE = 'simtrust-usim';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

interface BenchCard {
  readonly eid: string;
  readonly card: Uicc;
  readonly iccidB: string;
  readonly imsiB: string;
}

/** The card restarted and attached with normal service: its pending notifications reach `smsr`. */
async function notifyAttached(smsr: SmSr, eid: string, card: Uicc): Promise<void> {
  const euicc = card.euicc;
  if (euicc === undefined) throw new Error('not an eUICC');
  euicc.reset();
  for (const n of euicc.connectivity(0).send) {
    const e1 = encodeNotification({ eid, type: n.type, aid: n.aid, seq: n.seq });
    if (!e1.ok) throw new Error(e1.error.message);
    await smsr.handleNotification(eid, e1.value);
  }
}

export interface SwitchBenchRig {
  readonly cards: readonly { readonly eid: string }[];
  /**
   * The whole carrier switch of card `i` through operator 1's API; the ended operation. The body
   * names the card's own profile B (`iccid`: as agreed with operator 2) unless `pool`: then SM-DP2
   * picks a free one of the switch pool.
   */
  switchOne(i: number, o?: { pool?: boolean }): Promise<EsimOperationView>;
  /** Re-attach of card `i` at operator 2: its AuC's vector, the card's AUTHENTICATE, RES = XRES. */
  reattach(i: number): Promise<boolean>;
  /** Card `i` has profile B enabled and SM-SR2's key set only (its EIS at SM-SR2, none at SM-SR1). */
  switched(i: number): Promise<boolean>;
  /** Closes both deployments; `drain: false` does not wait for running switches (a timed-out run). */
  close(o?: { drain?: boolean }): Promise<void>;
}

export async function switchBenchRig(pki: TestPki, o: { cards: number }): Promise<SwitchBenchRig> {
  const [op1, op2] = await Promise.all([startTestApi(), startTestApi()]);
  const operator1 = op1.operator.operatorId;
  const operator2 = op2.operator.operatorId;
  // The SM-SRs' and SM-DP's clock stands at the test PKI's date (its certificates' validity).
  const clock = new ManualClock(PKI_NOW);
  const verify = async (input: Omit<ChainInput, 'trustedCis' | 'now'>) =>
    verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: clock.now() });
  const chains = { verify };
  const cardsByEid = new Map<string, Uicc>();

  let smdp2: SmDp | undefined;
  // Notifications go where serve sends them: each operator layer's ES4 receiver, SM-DP2's ES3.
  const directory: EsNotificationDirectory = {
    smdp: (id) => (id === SMDP2_ID ? smdp2?.es3Notifications() : undefined),
    operator: (id) =>
      id === MNO_ID
        ? op1.platform.esimOperations.es4Notifications(MNO_ID)
        : id === MNO2_ID
          ? op2.platform.esimOperations.es4Notifications(MNO2_ID)
          : undefined,
  };

  const deployments = new Map<string, { smsr: SmSr; change: SmSrChange }>();
  const deployment = (api: TestApi, id: string, identity: SmSrChangeOptions['identity'], kvn: number) => {
    let smsr: SmSr | undefined;
    const transport = new CardsTransport((eid) => {
      const card = cardsByEid.get(eid);
      if (card !== undefined && smsr !== undefined) void notifyAttached(smsr, eid, card);
    }, cardsByEid);
    smsr = new SmSr({
      store: api.platform.store,
      keyRing: api.platform.keyRing,
      clock,
      transport,
      smsrId: id,
      chains,
      directory,
    });
    const change = new SmSrChange({
      store: api.platform.store,
      keyRing: api.platform.keyRing,
      clock,
      transport,
      chains,
      smsrId: id,
      identity,
      partner: (smsrId) => {
        const other = deployments.get(smsrId);
        return other === undefined || smsrId === id ? undefined : other.change.es7For(id);
      },
      eumCertificate: (eumId) => (eumId === EUM_ID ? pki.eum.pem : undefined),
      scp80Kvn: kvn,
      notifications: { outbox: smsr.notifications, directory },
    });
    deployments.set(id, { smsr, change });
    return { smsr, change };
  };
  const sr1 = deployment(
    op1,
    SMSR1_ID,
    { certificate: pki.smsr.certificate, privateKey: pki.smsr.privateKey },
    1,
  );
  const sr2Key = newKeyPair();
  const sr2 = deployment(
    op2,
    SMSR2_ID,
    { certificate: smsr2Certificate(pki, sr2Key), privateKey: sr2Key.privateKey },
    2,
  );
  smdp2 = new SmDp({
    store: op2.platform.store,
    keyRing: op2.platform.keyRing,
    clock,
    smdpId: SMDP2_ID,
    smsr: (id) => (id === SMSR2_ID ? sr2.smsr.es3For(SMDP2_ID) : undefined),
    signer: async () => ({ certificate: pki.smdp.certificate, privateKey: pki.smdp.privateKey }),
    verify,
    eumCertificate: async (id) => (id === EUM_ID ? pki.eum.pem : undefined),
  });
  const dp2 = smdp2;
  const target = new EsimSwitchTarget({
    store: op2.platform.store,
    smdp: dp2,
    owner: { operatorId: operator2, mnoId: MNO2_ID },
    adopt: (op, eid, detail) => op2.platform.esimOperations.adoptEuicc(op, eid, detail),
    pollMs: 50,
  });
  const ports1: EsimRolePorts = {
    smsrId: SMSR1_ID,
    es1: (pem) => sr1.smsr.es1For(pem),
    es2: () => undefined,
    es4: (op) => (op === operator1 ? sr1.smsr.es4For(MNO_ID) : undefined),
    mnoId: (op) => (op === operator1 ? MNO_ID : undefined),
    smsrChange: (op) => (op === operator1 ? sr1.change.es4For(MNO_ID) : undefined),
    partnerSmsr: (op, id) => (op === operator1 && id === SMSR2_ID ? sr2.change.es4For(MNO_ID) : undefined),
    partnerSmdp: (op, id) => (op === operator1 && id === SMDP2_ID ? target.es2For(MNO_ID) : undefined),
  };
  const ports2: EsimRolePorts = {
    smsrId: SMSR2_ID,
    es1: (pem) => sr2.smsr.es1For(pem),
    es2: (op) => (op === operator2 ? dp2.es2For({ operatorId: operator2, mnoId: MNO2_ID }) : undefined),
    es4: (op) => (op === operator2 ? sr2.smsr.es4For(MNO2_ID) : undefined),
    mnoId: (op) => (op === operator2 ? MNO2_ID : undefined),
  };
  op1.platform.esimOperations.connect(ports1);
  op2.platform.esimOperations.connect(ports2);

  const call = async (api: TestApi, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) => {
    const r = await api.call({
      method,
      url,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    return { status: r.statusCode, body: r.body, json: () => r.json() as unknown };
  };

  const cards: BenchCard[] = [];
  for (let i = 0; i < o.cards; i++) {
    const eid = withEidCheckDigits(`890490320000000000000${pad(i, 9)}`);
    if (!eid.ok) throw new Error(eid.error.message);
    const ecasd = pki.ecasd(eid.value);
    const iccidA = iccidWithCheckDigit(`894400781${pad(i, 9)}`);
    const imsiA = `00101781${pad(i, 7)}`;
    const iccidB = iccidWithCheckDigit(`894400782${pad(i, 9)}`);
    const imsiB = `00101782${pad(i, 7)}`;
    const { file } = newEuiccCardFile({
      imsi: imsiA,
      iccid: iccidA,
      ki: randomBytes(16),
      opc: randomBytes(16),
      pin1Enabled: false,
      eid: eid.value,
      ecasdCertificate: ecasd.certificate,
      smsrAddress: PLATFORM,
    });
    const e = file.euicc;
    if (e === undefined) throw new Error('no euicc section');
    const scp81 = e.isdr.scp81[0];
    if (scp81 === undefined) throw new Error('no SCP81 key set on the card');
    const d = ecasd.privateKey.export({ format: 'jwk' }).d ?? '';
    const card = cardFromFile(
      {
        ...file,
        euicc: {
          ...e,
          ecasd: {
            certificate: toHex(ecasd.certificate),
            privateKey: Buffer.from(d, 'base64url').toString('hex'),
            ci: { keyId: toHex(pki.ci.trusted.keyId), publicKey: toHex(pki.ci.trusted.publicKey) },
          },
        },
      },
      { clock },
    );
    cardsByEid.set(eid.value, card);
    // The EIS as the EUM registers it: profile A of MNO 1 (this card's ICCID/IMSI), the ISD-R's SCP80
    // key set 1 and SCP81 key set 40 (what SM-SR2 replaces at the hand-over).
    const signed = eisOf(file, pki, ecasd.certificate);
    const eis: Eis = {
      ...signed,
      profiles: signed.profiles.map((p) => ({
        ...p,
        iccid: iccidA,
        subscriptionAddress: { imsi: imsiA },
        smdpId: SMDP_ID,
      })),
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
    const r = await sr1.smsr.es1For(pki.eum.pem).registerEIS({ functionCallIdentifier: `reg-${i}`, eis });
    if (r.functionExecutionStatus.status !== 'EXECUTED_SUCCESS')
      throw new Error(`RegisterEIS: ${JSON.stringify(r.functionExecutionStatus)}`);
    await notifyAttached(sr1.smsr, eid.value, card);
    // Operator 1's inventory: the eUICC (ES1 at SM-SR1 answers "already registered": linked).
    const linked = await call(op1, 'POST', '/v1/esim/euiccs', {
      registerEisRequest: registerEisEnvelope(eis),
      eumCertificate: pki.eum.pem,
    });
    if (linked.status !== 201) throw new Error(`operator 1 links ${eid.value}: ${linked.body}`);
    // Operator 2's inventory: profile B for this card, in the switch pool.
    const created = await call(op2, 'POST', '/v1/sims', {
      iccid: iccidB,
      imsi: imsiB,
      ki: toHex(randomBytes(16)),
      opc: toHex(randomBytes(16)),
    });
    if (created.status !== 201) throw new Error(`operator 2's profile ${iccidB}: ${created.body}`);
    const simId = (created.json() as { simId: string }).simId;
    const tagged = await call(op2, 'PUT', `/v1/sims/${simId}/tags`, [
      { tagName: SWITCH_POOL_TAG, tagValue: PROFILE_TYPE },
    ]);
    if (tagged.status !== 200) throw new Error(`tag ${simId}: ${tagged.body}`);
    cards.push({ eid: eid.value, card, iccidB, imsiB });
  }

  const cardOf = (i: number) => {
    const c = cards[i];
    if (c === undefined) throw new Error(`no card ${i}`);
    return c;
  };
  // The profile SM-DP2 picked from the pool for each card (any pool profile may go to any eUICC).
  const enabledIccid = (c: BenchCard) =>
    c.card.euicc?.snapshot().isdps.find((p) => p.state === LIFE_CYCLE.ENABLED)?.profile?.identity;

  return {
    cards,
    async switchOne(i, so = {}) {
      const c = cardOf(i);
      const posted = await call(op1, 'POST', `/v1/sims/${c.eid}/switch_operator`, {
        targetSmsrId: SMSR2_ID,
        targetSmdpId: SMDP2_ID,
        profileType: PROFILE_TYPE,
        ...(so.pool === true ? {} : { iccid: c.iccidB }),
      });
      if (posted.status !== 202) throw new Error(`switch_operator ${c.eid}: ${posted.status} ${posted.body}`);
      const { operationId } = posted.json() as EsimOperationView;
      await op1.platform.esimOperations.settled(operationId);
      const ended = await call(op1, 'GET', `/v1/esim/operations/${operationId}`);
      return ended.json() as EsimOperationView;
    },
    async reattach(i) {
      const c = cardOf(i);
      const identity = enabledIccid(c);
      if (identity?.imsi === undefined) return false;
      const v = await op2.platform.auc.vectors(identity.imsi);
      if (!v.ok) return false;
      const vector = v.value[0];
      if (vector === undefined) return false;
      c.card.transmit(hex(`00A4040C07${USIM_AID}`));
      const r = c.card.transmit(hex(`008800812210${toHex(vector.rand)}10${toHex(vector.autn)}00`));
      const sw = toHex(r.subarray(r.length - 2));
      const res = r.subarray(2, 2 + (r[1] ?? 0));
      // EAP-AKA's AT_RES check (RFC 4187 §9.4) at the AAA server: RES = XRES, in constant time.
      return sw === '9000' && res.length === vector.xres.length && timingSafeEqual(res, vector.xres);
    },
    async switched(i) {
      const c = cardOf(i);
      const identity = enabledIccid(c);
      if (identity === undefined || identity.iccid.slice(0, 9) !== '894400782') return false;
      const at1 = await op1.platform.store.db
        .selectFrom('esim_euiccs')
        .select(['eid'])
        .where('eid', '=', c.eid)
        .where('handed_over_to', '=', SMSR2_ID)
        .executeTakeFirst();
      return at1 !== undefined;
    },
    async close(co = {}) {
      if (co.drain !== false) {
        await op1.platform.esimOperations.drained();
        await op2.platform.esimOperations.drained();
      }
      for (const d of deployments.values()) {
        d.change.close();
        await d.smsr.close();
      }
      await Promise.all([op1.close(), op2.close()]);
    },
  };
}
