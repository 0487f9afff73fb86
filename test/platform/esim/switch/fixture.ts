// Two operators' deployments for "switch carrier" (issue 16), in this process: each a whole test
// platform (own database, master key, API and operator layer) with its own SM-SR and SmSrChange from
// the SM-SR change rig (test/platform/esim/sm-sr-change/fixture.ts: one CI, one software eUICC in a
// ToolkitModem reached over SCP80 SMS by each SM-SR with the keys in its own database). Operator 1
// holds the eUICC (registered through its API at SM-SR1, profile A of MNO 1 enabled); operator 2
// runs SM-DP2 (SmDp on its own database) and puts profile B of its inventory in the switch pool.
//
// The partner ports between the deployments are the in-process role ports the SOAP clients stand in
// for over mutual TLS in serve: operator 1's platform calls SM-SR2's ES4 (PrepareSMSRChange) and
// SM-DP2's ES2 (through EsimSwitchTarget, as deployment 2's listener serves a partner operator).
// SM-SR2 reaches the card over SMS under the key set it established; the SCP03t segments of the
// download go straight to the ISD-P (the HTTPS leg of serve, without the bearer).

import { randomUUID } from 'node:crypto';
import { verifyCertificateChain } from '../../../../src/crypto/sgp-02-certificate-chain.js';
import {
  concatenationOf,
  decodeSmsSubmit,
  reassembleSecuredPacket,
  type UserData,
} from '../../../../src/lib/ts-23-040-sms-tpdu.js';
import type { MessageBodies } from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import { MESSAGE_BY_ELEMENT } from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import type { Eis } from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import { encodeSoapMessage } from '../../../../src/platform/esim/es-soap/soap-envelope.js';
import {
  EsimOperations,
  type EsimOperationView,
} from '../../../../src/platform/esim/operations/operations-service.js';
import type { EsimRolePorts } from '../../../../src/platform/esim/operations/ports.js';
import { SmDp } from '../../../../src/platform/esim/sm-dp/sm-dp-service.js';
import { ISD_R_AID } from '../../../../src/platform/esim/sm-sr/es5-transport.js';
import { EsimSwitchTarget, SWITCH_POOL_TAG } from '../../../../src/platform/esim/switch/target.js';
import { euiccOf, SECOND_PROFILE, THIRD_PROFILE } from '../../../card/euicc/fixture.js';
import { startTestApi, type TestApi } from '../../../helpers/app.js';
import type { TestPki } from '../../../helpers/esim-pki.js';
import { EUM_ID, OTHER_MNO } from '../sm-sr/fixture.js';
import { EID, MNO_ID, type Rig, SMDP_ID, SMSR1_ID, SMSR2_ID, twoSmSrs } from '../sm-sr-change/fixture.js';

export { EID, MNO_ID, SMSR1_ID, SMSR2_ID };
/** Operator 2's MNO id and SM-DP. */
export const MNO2_ID = OTHER_MNO;
export const SMDP2_ID = SMDP_ID;
/** Operator 2's profile for the switch (Milenage, simtrust-usim built from its inventory). */
export const PROFILE_B = SECOND_PROFILE;
/** Operator 1's profile for the switch back (1 → 2 → 1), with an MSISDN the SM-SR can send SMS to. */
export const PROFILE_C = {
  ...THIRD_PROFILE,
  identity: { ...THIRD_PROFILE.identity, msisdn: '817000000003' },
};
export const PROFILE_TYPE = 'simtrust-usim';

export interface SwitchRig {
  readonly rig: Rig;
  readonly op1: TestApi;
  readonly op2: TestApi;
  readonly target: EsimSwitchTarget;
  smdp2: SmDp;
  /** The partner ports operator 1 reaches (false: that partner is not configured). */
  readonly partners: { smsr: boolean; smdp: boolean };
  /** DownloadProfile requests SM-DP2 received through the target port. */
  readonly downloads: string[];
  /** Each DownloadProfile through the target port answers through this (default: as it is). */
  answer:
    | ((
        run: () => Promise<MessageBodies['ES2-DownloadProfileResponse']>,
      ) => Promise<MessageBodies['ES2-DownloadProfileResponse']>)
    | undefined;
  /** Operator 1's role ports (the partner ports included). */
  readonly ports1: EsimRolePorts;
  /**
   * Operator 1's platform restarts its operator layer: a new EsimOperations on the same database
   * with the same ports (the old one's run is left where it hangs, as a killed process leaves it).
   */
  restartOperator1(): EsimOperations;
  /** Both SM-SRs restart (new SmSr, SmSrChange, Es5Sms on the same databases) and SM-DP2 too. */
  restart(): Promise<void>;
  /**
   * For the switch back (1 → 2 → 1): operator 1 runs an SM-DP and offers PROFILE_C for switches;
   * operator 2's platform gets SMSRChange at SM-SR2 and operator 1's SM-SR and SM-DP as partners.
   */
  wayBack(): Promise<void>;
  /** GET of an operation at operator 1, polled (by time) until it ended. */
  ended(operationId: string, api?: TestApi): Promise<EsimOperationView>;
  close(): Promise<void>;
}

/** The ES1-RegisterEISRequest envelope of an EIS (what the EUM sends). */
export function registerEisEnvelope(eis: Eis): string {
  const spec = MESSAGE_BY_ELEMENT.get('ES1-RegisterEISRequest');
  return encodeSoapMessage({
    addressing: {
      action: spec?.action ?? '',
      messageId: `urn:uuid:${randomUUID()}`,
      to: 'https://smsr.test/ES1',
    },
    message: { element: 'ES1-RegisterEISRequest', body: { functionCallIdentifier: 'reg-1', eis } },
  });
}

const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');

/** A profile in the operator's inventory, in its switch pool as PROFILE_TYPE. */
async function offer(api: TestApi, p: typeof PROFILE_B | typeof PROFILE_C): Promise<void> {
  const created = await api.call({
    method: 'POST',
    url: '/v1/sims',
    payload: {
      iccid: p.identity.iccid,
      imsi: p.identity.imsi,
      msisdn: p.identity.msisdn,
      ki: hex(p.ki),
      opc: hex(p.opc),
    },
  });
  if (created.statusCode !== 201) throw new Error(`profile ${p.identity.iccid}: ${created.body}`);
  const tagged = await api.call({
    method: 'PUT',
    url: `/v1/sims/${(created.json() as { simId: string }).simId}/tags`,
    payload: [{ tagName: SWITCH_POOL_TAG, tagValue: PROFILE_TYPE }],
  });
  if (tagged.statusCode !== 200) throw new Error(`tag: ${tagged.body}`);
}

/**
 * `attachedBefore` (default true): the device has attached once before the switch, its eUICC
 * declaration confirmed by SM-SR1. False: the card still holds that declaration when the switch
 * starts (it reaches the SM-SRs with the later notifications).
 */
export async function switchRig(pki: TestPki, o: { attachedBefore?: boolean } = {}): Promise<SwitchRig> {
  const [op1, op2] = await Promise.all([startTestApi(), startTestApi()]);
  const keep = (api: TestApi) => ({
    db: { ...api.db, cleanup: async () => undefined },
    keyRing: api.platform.keyRing,
  });
  const rig = await twoSmSrs(pki, { open: async (name) => keep(name === 'sr1' ? op1 : op2) });
  const operator1 = op1.operator.operatorId;
  const operator2 = op2.operator.operatorId;
  const downloads: string[] = [];
  let abandoned = false;

  const verify = async (input: Parameters<typeof verifyCertificateChain>[0]) =>
    verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: rig.clock.now() });
  // Each operator's SM-DP (the same test certificate; each reaches its own deployment's SM-SR).
  const makeSmdp = (at: 'sr1' | 'sr2' = 'sr2') =>
    new SmDp({
      store: (at === 'sr1' ? op1 : op2).platform.store,
      keyRing: (at === 'sr1' ? op1 : op2).platform.keyRing,
      clock: rig.clock,
      smdpId: SMDP2_ID,
      smsr: (id) => (id === rig[at].id ? rig[at].smsr.es3For(SMDP2_ID) : undefined),
      signer: async () => ({ certificate: pki.smdp.certificate, privateKey: pki.smdp.privateKey }),
      verify: (input) => verify(input as Parameters<typeof verifyCertificateChain>[0]),
      eumCertificate: async (id) => (id === EUM_ID ? pki.eum.pem : undefined),
    });

  // The device: after the card's REFRESH (UICC reset, a profile enabled) it attaches again; the
  // network accepts it and the card's default notification goes out as MO SMS to the SM-SR that sent.
  const reattach = (at: 'sr1' | 'sr2') => {
    const d = rig.d;
    d.sms.length = 0;
    const r = d.modem.registered('normal_service');
    if (!r.ok) throw new Error(r.error.message);
    const groups = new Map<string, UserData[]>();
    d.sms.forEach((t, i) => {
      const submit = decodeSmsSubmit(t);
      if (!submit.ok) throw new Error(submit.error.message);
      const concat = concatenationOf(submit.value.userData.header ?? []);
      const key = concat === undefined ? `single-${i}` : `concat-${concat.reference}`;
      groups.set(key, [...(groups.get(key) ?? []), submit.value.userData]);
    });
    d.sms.length = 0;
    const imsi = d.modem.imsi ?? '';
    const to = rig[at].sms;
    for (const uds of groups.values()) {
      const packet = reassembleSecuredPacket(uds);
      if (!packet.ok) throw new Error(packet.error.message);
      setImmediate(
        () => void to.receive(imsi, packet.value.identifier, packet.value.packet).catch(() => undefined),
      );
    }
  };
  // The SM-SRs' ES5: the SCP03t segments straight to the ISD-P (serve sends them over HTTPS); a
  // REFRESH the card ran meanwhile makes the device attach again.
  const scp03tDirect = (at: 'sr1' | 'sr2') => {
    const t = rig[at].transport;
    const sms = t.send.bind(t);
    t.send = async (eid, aid, commands, options) => {
      const c = commands[0];
      if (
        aid !== ISD_R_AID &&
        commands.length === 1 &&
        c !== undefined &&
        [0x84, 0x85, 0x86].includes(c[0] ?? 0)
      )
        return { ok: true, responses: [{ data: euiccOf(rig.d.card).processIsdpData(aid, c), sw: 0x9000 }] };
      const refreshes = rig.d.refreshes.length;
      const out = await sms(eid, aid, commands, options);
      if (rig.d.refreshes.length > refreshes) reattach(at);
      return out;
    };
  };
  scp03tDirect('sr1');
  scp03tDirect('sr2');

  const s: SwitchRig = {
    rig,
    op1,
    op2,
    smdp2: makeSmdp(),
    target: undefined as unknown as EsimSwitchTarget,
    partners: { smsr: true, smdp: true },
    downloads,
    answer: undefined,
    ports1: undefined as unknown as EsimRolePorts,
    restartOperator1() {
      abandoned = true;
      const ops = new EsimOperations(op1.platform.store, op1.platform.clock);
      ops.connect(s.ports1);
      return ops;
    },
    async restart() {
      await rig.restart();
      scp03tDirect('sr1');
      scp03tDirect('sr2');
      s.smdp2 = makeSmdp();
    },
    async wayBack() {
      // Operator 1 offers profile C for switches; its SM-DP serves operator 2's switch back.
      const smdp1 = makeSmdp('sr1');
      const target1 = new EsimSwitchTarget({
        store: op1.platform.store,
        smdp: smdp1,
        owner: { operatorId: operator1, mnoId: MNO_ID },
        adopt: (o, eid, detail) => op1.platform.esimOperations.adoptEuicc(o, eid, detail),
        pollMs: 20,
      });
      const ports = {
        ...ports2,
        smsrChange: (op: string) => (op === operator2 ? rig.sr2.change.es4For(MNO2_ID) : undefined),
        partnerSmsr: (op: string, id: string) =>
          op === operator2 && id === SMSR1_ID ? rig.sr1.change.es4For(MNO2_ID) : undefined,
        partnerSmdp: (op: string, id: string) =>
          op === operator2 && id === SMDP2_ID ? target1.es2For(MNO2_ID) : undefined,
      } satisfies EsimRolePorts;
      op2.platform.esimOperations.connect(ports);
      await offer(op1, PROFILE_C);
    },
    async ended(operationId, api = op1) {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const r = await api.call({ method: 'GET', url: `/v1/esim/operations/${operationId}` });
        const op = r.json() as EsimOperationView;
        if (op.status !== 'running') return op;
        if (Date.now() > deadline) throw new Error(`operation ${operationId} still running: ${r.body}`);
        await new Promise((done) => setTimeout(done, 20));
      }
    },
    async close() {
      if (!abandoned) await op1.platform.esimOperations.drained();
      await op2.platform.esimOperations.drained();
      await rig.close();
      await Promise.all([op1.close(), op2.close()]);
    },
  };
  Object.assign(s, {
    target: new EsimSwitchTarget({
      store: op2.platform.store,
      smdp: { downloadProfile: (b, caller) => s.smdp2.downloadProfile(b, caller) },
      owner: { operatorId: operator2, mnoId: MNO2_ID },
      adopt: (o, eid, detail) => op2.platform.esimOperations.adoptEuicc(o, eid, detail),
      pollMs: 20,
    }),
  });

  const ports1: EsimRolePorts = {
    smsrId: SMSR1_ID,
    es1: (pem) => rig.sr1.smsr.es1For(pem),
    es2: () => undefined,
    es4: (op) => (op === operator1 ? rig.sr1.smsr.es4For(MNO_ID) : undefined),
    mnoId: (op) => (op === operator1 ? MNO_ID : undefined),
    smsrChange: (op) => (op === operator1 ? rig.sr1.change.es4For(MNO_ID) : undefined),
    partnerSmsr: (op, id) =>
      op === operator1 && id === SMSR2_ID && s.partners.smsr ? rig.sr2.change.es4For(MNO_ID) : undefined,
    partnerSmdp: (op, id) =>
      op === operator1 && id === SMDP2_ID && s.partners.smdp
        ? {
            downloadProfile: (b) => {
              downloads.push(b.functionCallIdentifier);
              const run = () => s.target.es2For(MNO_ID).downloadProfile(b);
              return s.answer === undefined ? run() : s.answer(run);
            },
          }
        : undefined,
  };
  const ports2: EsimRolePorts = {
    smsrId: SMSR2_ID,
    es1: (pem) => rig.sr2.smsr.es1For(pem),
    es2: (op) => (op === operator2 ? s.smdp2.es2For({ operatorId: operator2, mnoId: MNO2_ID }) : undefined),
    es4: (op) => (op === operator2 ? rig.sr2.smsr.es4For(MNO2_ID) : undefined),
    mnoId: (op) => (op === operator2 ? MNO2_ID : undefined),
  };
  Object.assign(s, { ports1 });
  op1.platform.esimOperations.connect(ports1);
  op2.platform.esimOperations.connect(ports2);

  // Operator 1's inventory: the eUICC (ES1 at SM-SR1 answers "already registered": linked).
  const registered = await op1.call({
    method: 'POST',
    url: '/v1/esim/euiccs',
    payload: { registerEisRequest: registerEisEnvelope(rig.eis), eumCertificate: pki.eum.pem },
  });
  if (registered.statusCode !== 201) throw new Error(`registration: ${registered.body}`);
  // Operator 2's inventory: profile B, in the switch pool as simtrust-usim.
  await offer(op2, PROFILE_B);
  if (o.attachedBefore === false) return s;
  // The device in the field has attached before: its eUICC declaration reached SM-SR1, which
  // confirmed it (no notification of the past is pending on the card when the switch starts).
  reattach('sr1');
  const deadline = Date.now() + 60_000;
  while (euiccOf(rig.d.card).persistentState().notifications.length > 0) {
    if (Date.now() > deadline) throw new Error('the eUICC declaration was never confirmed');
    await new Promise((r) => setTimeout(r, 20));
  }
  return s;
}
