// SM-SR change between two deployments over SGP.02 SOAP with mutual TLS (issue 16): each SM-SR has
// its own database, key ring, partners registry and EsimSoapListener on loopback; the operator is a
// third SOAP party that drives the change with ES4 PrepareSMSRChange (at SM-SR2) and SMSRChange (at
// SM-SR1); the SM-SRs talk ES7 to each other through their listeners (dispatch → SmSrChange.es7For
// the caller its certificate names); one software eUICC, reached by each over SCP80 SMS with the keys
// in its own database (test/platform/esim/sm-sr-change/fixture.ts).
// Threats: a party that is not a registered partner, or a partner in another role, reaching ES7 or
// the change functions; an SM-SR certificate from another CI; SM-SR1 concluding it is still in charge
// when the new SM-SR's answer never came (both SM-SRs managing the eUICC).

import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../../src/lib/clock.js';
import {
  soapEs4Port,
  soapEs4SmSrChangePort,
  soapEs7Port,
} from '../../../src/platform/esim/es-soap/port-clients.js';
import { verifyEisSignature } from '../../../src/platform/esim/es-soap/sgp-02-eis-signature.js';
import {
  MESSAGE_BY_ELEMENT,
  type MessageBodies,
} from '../../../src/platform/esim/es-soap/sgp-02-messages.js';
import type { FunctionExecutionStatus } from '../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import type { Eis } from '../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import {
  decodeSoapMessage,
  encodeSoapMessage,
  newMessageId,
} from '../../../src/platform/esim/es-soap/soap-envelope.js';
import { EsimPartners, partnerName } from '../../../src/platform/esim/partners/partners-registry.js';
import { loadEis } from '../../../src/platform/esim/sm-sr/eis-store.js';
import {
  type Es7Port,
  handoverOutcomeUnknown,
  SM_SR_CHANGE_FUNCTIONS,
} from '../../../src/platform/esim/sm-sr-change/sm-sr-change-service.js';
import { EsimSoapListener } from '../../../src/servers/esim/soap-listener.js';
import { SoapNode } from '../../../src/servers/esim/soap-node.js';
import { euiccOf } from '../../card/euicc/fixture.js';
import { createTestPki, newKeyPair, type TestPki } from '../../helpers/esim-pki.js';
import { type Random, seededRandom } from '../../helpers/fuzz.js';
import { sampleBody } from '../../platform/esim/es-soap/fixtures.js';
import {
  type Deployment,
  EID,
  MNO_ID,
  type Rig,
  SMSR1_ID,
  SMSR2_ID,
  smsr2Certificate,
  twoSmSrs,
} from '../../platform/esim/sm-sr-change/fixture.js';
import { issueTlsIdentity, type TlsIdentity } from './tls-fixtures.js';

type Side = 'sr1' | 'sr2';

interface SoapRig {
  readonly rig: Rig;
  readonly tls: Record<Side | 'operator', TlsIdentity>;
  readonly listeners: Record<Side, EsimSoapListener>;
  /** The operator's own SOAP node: SM-SR1 is `sr1`, SM-SR2 `sr2`. */
  readonly operator: SoapNode;
  /** ES4 HandleSMSRChangeNotification bodies the operator received, with the sender. */
  readonly operatorAtSr2: 'node' | 'sr1';
  readonly heard: { from: string; to: string; body: MessageBodies['ES4-HandleSMSRChangeNotification'] }[];
  /** `onEs7` runs when a listener received an ES7 call, before the SM-SR handles it. */
  readonly hooks: { onEs7?: (side: Side, fn: keyof Es7Port) => Promise<void> };
  /** Stops a deployment's listener; `up` starts it again on the same port (its registered URL). */
  down(side: Side): Promise<void>;
  up(side: Side): Promise<void>;
  close(): Promise<void>;
}

let pki: TestPki;
let otherPki: TestPki;
beforeAll(async () => {
  [pki, otherPki] = await Promise.all([
    createTestPki(),
    createTestPki({ ciName: 'CN=Another eSIM CI,O=simtrust test' }),
  ]);
});

let current: SoapRig | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

const ID_OF: Record<Side, string> = { sr1: SMSR1_ID, sr2: SMSR2_ID };
const OTHER: Record<Side, Side> = { sr1: 'sr2', sr2: 'sr1' };

/**
 * Two SM-SR deployments with SOAP listeners that know each other (role sm-sr) and the operator (role
 * operator) from their partners registries — their only way to reach each other.
 */
async function soapRig(
  o: Parameters<typeof twoSmSrs>[1] & {
    /**
     * The operator as SM-SR2 knows it: its own SOAP party (default), or SM-SR1's deployment itself —
     * one certificate registered at SM-SR2 as an SM-SR and as the operator (the switch's setup).
     */
    operatorAtSr2?: 'node' | 'sr1';
  } = {},
  warn?: (o: Record<string, unknown>, message: string) => void,
): Promise<SoapRig> {
  const tls = {
    sr1: await issueTlsIdentity('sm-sr-1.test'),
    sr2: await issueTlsIdentity('sm-sr-2.test'),
    operator: await issueTlsIdentity('operator.test'),
  };
  const listeners = {} as Record<Side, EsimSoapListener>;
  const hooks: SoapRig['hooks'] = {};
  const heard: SoapRig['heard'] = [];
  const rig = await twoSmSrs(pki, {
    ...o,
    partner: (from) => (id) => listeners[from]?.es7PortOf(id),
    // The operator hears of its eUICCs over SOAP (ES4), from the SM-SR that manages them.
    directory: (from) => ({
      smdp: () => undefined,
      operator: (id) => listeners[from]?.es4NotificationsOf(id),
    }),
  });
  const start = (side: Side, port?: number) =>
    EsimSoapListener.start({
      store: rig[side].db.store,
      operatorId: '',
      tls: tls[side],
      ...(port === undefined ? {} : { port }),
      refreshMs: 3_600_000,
      ...(warn === undefined ? {} : { log: { warn } }),
      // The deployment as it is now (a restart replaces the services).
      ports: {
        es4: (peer) => rig[side].smsr.es4For(peer.entityId),
        es4Change: (peer) => rig[side].change.es4For(peer.entityId),
        // ES4 notifications of the partner SM-SR to this deployment's operator layer.
        es4Notifications: () => ({
          handleProfileEnabledNotification: async () => undefined,
          handleProfileDisabledNotification: async () => undefined,
          handleProfileDeletedNotification: async () => undefined,
          handleSMSRChangeNotification: async (body) => {
            heard.push({ from: OTHER[side], to: side, body });
          },
        }),
        es7: (peer): Es7Port => {
          const port = rig[side].change.es7For(peer.entityId);
          return {
            handoverEUICC: async (b) => {
              await hooks.onEs7?.(side, 'handoverEUICC');
              return port.handoverEUICC(b);
            },
            authenticateSMSR: async (b) => {
              await hooks.onEs7?.(side, 'authenticateSMSR');
              return port.authenticateSMSR(b);
            },
            createAdditionalKeySet: async (b) => {
              await hooks.onEs7?.(side, 'createAdditionalKeySet');
              return port.createAdditionalKeySet(b);
            },
          };
        },
      },
    });
  listeners.sr1 = await start('sr1');
  listeners.sr2 = await start('sr2');
  const operator = await SoapNode.start({
    name: 'operator',
    tls: tls.operator,
    partners: (['sr1', 'sr2'] as const).map((side) => ({
      name: side,
      url: listeners[side].url,
      certificatePem: tls[side].certificatePem,
    })),
    handlers: {
      'ES4-HandleSMSRChangeNotification': async (body, context) => {
        heard.push({ from: context.peer, to: 'operator', body });
      },
    },
  });
  for (const side of ['sr1', 'sr2'] as const) {
    const partners = new EsimPartners(rig[side].db.store, systemClock);
    const other = OTHER[side];
    await partners.add({
      operatorId: '',
      entityId: ID_OF[other],
      role: 'sm-sr',
      endpoint: listeners[other].url,
      certificatePem: tls[other].certificatePem,
    });
    const mno = side === 'sr2' && o.operatorAtSr2 === 'sr1' ? 'sr1' : 'operator';
    await partners.add({
      operatorId: '',
      entityId: MNO_ID,
      role: 'operator',
      endpoint: mno === 'sr1' ? listeners.sr1.url : operator.url,
      certificatePem: tls[mno].certificatePem,
    });
    await listeners[side].refresh();
  }
  const ports: Partial<Record<Side, number>> = {};
  const soap: SoapRig = {
    operatorAtSr2: o.operatorAtSr2 ?? 'node',
    heard,
    hooks,
    rig,
    tls,
    listeners,
    operator,
    async down(side) {
      ports[side] = Number(new URL(listeners[side].url).port);
      await listeners[side].close();
    },
    async up(side) {
      listeners[side] = await start(side, ports[side]);
    },
    async close() {
      await operator.close();
      await Promise.all([listeners.sr1.close(), listeners.sr2.close()]);
      await rig.close();
    },
  };
  current = soap;
  return soap;
}

const FUZZ_SMSR = '1.3.6.1.4.1.99999.1.9';
const FUZZ_COUNT = 400;
const FUZZ_TOKENS = [
  '<',
  '>',
  '</',
  '/>',
  '&amp;',
  '&#0;',
  '<![CDATA[x]]>',
  '<!DOCTYPE a>',
  ' xmlns=""',
  '<Eid>',
  '\u0000',
  'é',
  '"',
  '99999999999999999999',
  EID,
];
const FUZZ_VALUES = (v: string) => [
  '',
  ' ',
  v + v,
  v.slice(1),
  v.slice(0, -1),
  v.replace(/[0-9A-F]/, '7'),
  '0',
  '-1',
  '99',
  EID,
  SMSR1_ID,
  SMSR2_ID,
  FUZZ_SMSR,
  'x'.repeat(5_000),
  'é€😀',
];

/** Half the time 1–2 element values lie in a well-formed message; else 1–3 edits of the XML text. */
function mutateSoapText(random: Random, text: string): string {
  const pick = (n: number) => Math.floor(random() * n);
  if (random() < 0.5) {
    let out = text;
    for (let k = 1 + pick(2); k > 0; k--) {
      const spans = [...out.matchAll(/>([^<]+)</g)];
      const span = spans[pick(spans.length)];
      if (span === undefined) break;
      const at = (span.index ?? 0) + 1;
      const values = FUZZ_VALUES(span[1] as string);
      out =
        out.slice(0, at) +
        (values[pick(values.length)] as string) +
        out.slice(at + (span[1] as string).length);
    }
    return out;
  }
  let out = text;
  for (let k = 1 + pick(3); k > 0; k--) {
    const at = pick(out.length + 1);
    const kind = pick(4);
    if (kind === 0) out = out.slice(0, at) + String.fromCharCode(32 + pick(95)) + out.slice(at + 1);
    else if (kind === 1) out = out.slice(0, at) + out.slice(at + 1 + pick(40));
    else if (kind === 2)
      out = out.slice(0, at) + (FUZZ_TOKENS[pick(FUZZ_TOKENS.length)] as string) + out.slice(at);
    else {
      const to = pick(out.length + 1);
      out = out.slice(0, to) + out.slice(at, at + 1 + pick(60)) + out.slice(to);
    }
  }
  return out;
}

let calls = 0;
const fcid = () => `soap-${++calls}`;
const codes = (s: FunctionExecutionStatus) => [s.status, s.statusCodeData?.subject, s.statusCodeData?.reason];

/** ES4 over SOAP, as the operator calls it. */
const prepare = (s: SoapRig, current = SMSR1_ID) =>
  soapEs4SmSrChangePort(s.operator, { partner: 'sr2' })
    .prepareSMSRChange({ functionCallIdentifier: fcid(), eid: EID, currentSmsrId: current })
    .then((a) => a.functionExecutionStatus);
const change = (s: SoapRig, target = SMSR2_ID) =>
  soapEs4SmSrChangePort(s.operator, { partner: 'sr1' })
    .smsrChange({ functionCallIdentifier: fcid(), eid: EID, targetSmsrId: target })
    .then((a) => a.functionExecutionStatus);
/** The operator's ES4 at an SM-SR: from its own node, or from SM-SR1's deployment when it is the operator. */
const es4 = (s: SoapRig, side: Side) =>
  side === 'sr2' && s.operatorAtSr2 === 'sr1'
    ? (s.listeners.sr1.es4PortOf(SMSR2_ID) ?? (undefined as never))
    : soapEs4Port(s.operator, { partner: side });
const audit = (s: SoapRig, side: Side) =>
  es4(s, side)
    .auditEIS({ functionCallIdentifier: fcid(), eid: EID, iccids: [] })
    .then((a) => a.functionExecutionStatus);

const cardKvns = (r: Rig) => {
  const st = euiccOf(r.d.card).persistentState();
  return { scp80: st.scp80.map((k) => k.kvn), scp81: st.scp81.map((k) => k.kvn) };
};

/** The running row of a function at a deployment, else its newest one. */
const procedure = async (at: Deployment, fn: string) => {
  const rows = await at.db.store.db
    .selectFrom('esim_sr_procedures')
    .selectAll()
    .where('function', '=', fn)
    .orderBy('updated_at')
    .execute();
  return rows.find((p) => p.active_eid !== null) ?? rows.at(-1);
};

/** SM-SR1 in charge: its EIS, none at SM-SR2, its audit of the card succeeds, nothing locked. */
async function sr1InCharge(s: SoapRig) {
  expect((await loadEis(s.rig.sr1.db.store.db, EID))?.smsrId).toBe(SMSR1_ID);
  expect(await loadEis(s.rig.sr2.db.store.db, EID)).toBeUndefined();
  expect((await audit(s, 'sr1')).status).toBe('EXECUTED_SUCCESS');
  expect((await procedure(s.rig.sr1, SM_SR_CHANGE_FUNCTIONS.handOver))?.active_eid ?? null).toBeNull();
}

/** SM-SR2 manages the eUICC: its EIS with its key sets only, none at SM-SR1, the card has its keys only. */
async function sr2InCharge(s: SoapRig) {
  const eis = await loadEis(s.rig.sr2.db.store.db, EID);
  expect(eis?.smsrId).toBe(SMSR2_ID);
  expect(eis?.isdR.keysets.map((k) => k.type)).toEqual(['SCP80', 'SCP81']);
  expect(await loadEis(s.rig.sr1.db.store.db, EID)).toBeUndefined();
  const get = await es4(s, 'sr1').getEIS({ functionCallIdentifier: fcid(), eid: EID });
  expect(codes(get.functionExecutionStatus)).toEqual(['FAILED', '8.1.1', '3.9']);
  const kvns = cardKvns(s.rig);
  expect(kvns.scp80).toEqual(eis?.isdR.keysets.filter((k) => k.type === 'SCP80').map((k) => k.version));
  expect((await audit(s, 'sr2')).status).toBe('EXECUTED_SUCCESS');
}

describe('SM-SR change over SOAP between two deployments (mutual TLS, partners registries)', () => {
  it('the operator prepares at SM-SR2 and asks SM-SR1 over ES4; the SM-SRs run ES7 between their listeners; SM-SR2 ends up managing the eUICC', async () => {
    const s = await soapRig();
    expect(codes(await prepare(s))).toEqual(['EXECUTED_SUCCESS', undefined, undefined]);
    expect(codes(await change(s))).toEqual(['EXECUTED_SUCCESS', undefined, undefined]);
    // ES5 in the order of the specification: SM-SR1 relays the certificate (3A01) and the key
    // agreement (3A02) SM-SR2 sent it over ES7; SM-SR2 finalises and adds its SCP81 key set over KS2.
    // (No ES7 call took the in-process path of the fixture: it logs those, none is here.)
    expect(s.rig.sent.map((x) => `${x.from} ${x.what}`)).toEqual([
      'sr1 ES5 80e20900',
      'sr1 ES5 80e28901',
      'sr2 ES5 80e40000',
      ...s.rig.sent.slice(3).map((x) => `${x.from} ${x.what}`),
    ]);
    expect(s.rig.sent.slice(3).every((x) => x.from === 'sr2' && x.what.startsWith('ES5'))).toBe(true);
    await sr2InCharge(s);
    // The ES7 traffic went through the listeners' dispatch: the relays and the take-over ran as the
    // partner their certificates name.
    const handOver = await procedure(s.rig.sr1, SM_SR_CHANGE_FUNCTIONS.handOver);
    expect(handOver?.result === undefined ? undefined : codes(JSON.parse(handOver.result ?? '{}'))).toEqual([
      'EXECUTED_SUCCESS',
      undefined,
      undefined,
    ]);
    const takeOver = await procedure(s.rig.sr2, SM_SR_CHANGE_FUNCTIONS.takeOver);
    expect(JSON.parse(takeOver?.data ?? '{}')).toMatchObject({ current: SMSR1_ID, requester: MNO_ID });
    // Step 31: SM-SR2 told the operator over ES4 SOAP, with the EIS it now holds (its key sets, no
    // key values), signed by the EUM as registered.
    await vi.waitFor(() => expect(s.heard.length).toBe(1), { timeout: 30_000, interval: 50 });
    const [notice] = s.heard;
    expect([notice?.from, notice?.to]).toEqual(['sr2', 'operator']);
    expect(notice?.body.eis.smsrId).toBe(SMSR2_ID);
    expect(notice?.body.eis.eumSignedInfo.eid).toBe(EID);
    expect(notice?.body.eis.isdR.keysets.flatMap((k) => k.keys)).toEqual([]);
    expect(() => verifyEisSignature(notice?.body.eis as Eis, pki.eum.pem)).not.toThrow();
  }, 180_000);

  it('SM-SR1’s deployment is the operator (one certificate, registered at SM-SR2 as SM-SR and operator): it prepares over ES4 SOAP, asks its own SM-SR in-process, and hears of the change over ES4', async () => {
    const s = await soapRig({ operatorAtSr2: 'sr1' });
    const prepareAtSr2 = s.listeners.sr1.es4SmSrChangePortOf(SMSR2_ID);
    if (prepareAtSr2 === undefined) throw new Error('SM-SR2 is no partner of SM-SR1');
    const prepared = await prepareAtSr2.prepareSMSRChange({
      functionCallIdentifier: fcid(),
      eid: EID,
      currentSmsrId: SMSR1_ID,
    });
    expect(codes(prepared.functionExecutionStatus)).toEqual(['EXECUTED_SUCCESS', undefined, undefined]);
    // At SM-SR2 the prepare names the operator, not the SM-SR, although one certificate sent both.
    expect(JSON.parse((await procedure(s.rig.sr2, SM_SR_CHANGE_FUNCTIONS.takeOver))?.data ?? '{}')).toEqual({
      current: SMSR1_ID,
      requester: MNO_ID,
    });
    const changed = await s.rig.sr1.change
      .es4For(MNO_ID)
      .smsrChange({ functionCallIdentifier: fcid(), eid: EID, targetSmsrId: SMSR2_ID });
    expect(codes(changed.functionExecutionStatus)).toEqual(['EXECUTED_SUCCESS', undefined, undefined]);
    await sr2InCharge(s);
    // SM-SR2's ES4 notification to the operator went to SM-SR1's deployment, the operator's listener.
    await vi.waitFor(() => expect(s.heard.length).toBe(1), { timeout: 30_000, interval: 50 });
    expect([s.heard[0]?.from, s.heard[0]?.to, s.heard[0]?.body.eis.smsrId]).toEqual(['sr2', 'sr1', SMSR2_ID]);
  }, 180_000);

  it('refusals: a party with an unregistered certificate, the operator on ES7, an SM-SR on the operator’s ES4, an unknown SM-SR, no prepare', async () => {
    const s = await soapRig();
    // A certificate nobody registered — here one that even carries SM-SR1's name — gets nothing.
    const impostorTls = await issueTlsIdentity('sm-sr-1.test');
    const impostor = await SoapNode.start({
      name: 'impostor',
      tls: impostorTls,
      partners: [{ name: 'sr2', url: s.listeners.sr2.url, certificatePem: s.tls.sr2.certificatePem }],
      handlers: {},
    });
    try {
      const r = await soapEs7Port(impostor, { partner: 'sr2' }).handoverEUICC({
        functionCallIdentifier: fcid(),
        eis: s.rig.eis,
      });
      expect(codes(r.functionExecutionStatus)).toEqual(['FAILED', '1.1', '1.1']);
    } finally {
      await impostor.close();
    }
    // The operator is a partner, but not an SM-SR: ES7 is not for it.
    const op = await soapEs7Port(s.operator, { partner: 'sr2' }).handoverEUICC({
      functionCallIdentifier: fcid(),
      eis: s.rig.eis,
    });
    expect(codes(op.functionExecutionStatus)).toEqual(['FAILED', '1.1', '1.2']);
    // SM-SR1 is a partner of SM-SR2, but only as an SM-SR: PrepareSMSRChange is the operator's.
    const bySr1 = await soapEs4SmSrChangePort(s.listeners.sr1.node, {
      partner: partnerName('sm-sr', SMSR2_ID),
    }).prepareSMSRChange({ functionCallIdentifier: fcid(), eid: EID, currentSmsrId: SMSR1_ID });
    expect(codes(bySr1.functionExecutionStatus)).toEqual(['FAILED', '1.1', '1.2']);
    // An SM-SR that is not in the registry, on either side.
    expect(codes(await prepare(s, '1.3.6.1.4.1.99999.1.77'))).toEqual(['FAILED', '8.7', '3.9']);
    expect(codes(await change(s, '1.3.6.1.4.1.99999.1.77'))).toEqual(['FAILED', '8.7', '3.9']);
    // SMSRChange without a prepare: SM-SR2 refuses the HandoverEUICC, SM-SR1 stays in charge.
    const noPrepare = await change(s);
    expect(codes(noPrepare)).toEqual(['FAILED', '8.7', '3.8']);
    expect(noPrepare.statusCodeData?.message).toMatch(/no PrepareSMSRChange/);
    await sr1InCharge(s);
    expect(cardKvns(s.rig).scp80).toEqual([1]);
  }, 180_000);

  it('property: the request fields SmSrChange looks things up by (SM-SR ids, EIDs, KVNs) — any value that names nothing of ours is refused and leaves no row', async () => {
    const s = await soapRig();
    const { sr1, sr2 } = s.rig;
    const oid = fc
      .array(fc.nat({ max: 99_999 }), { minLength: 1, maxLength: 8 })
      .map((rest) => ['1', ...rest].join('.'))
      .filter((id) => id !== SMSR1_ID && id !== SMSR2_ID);
    const eid = fc
      .uint8Array({ minLength: 16, maxLength: 16 })
      .map((b) => Buffer.from(b).toString('hex').toUpperCase());
    const unknown = fc.oneof(
      eid.filter((e) => e !== EID),
      fc.constant(EID),
    );
    await fc.assert(
      fc.asyncProperty(oid, unknown, fc.integer({ min: 1, max: 127 }), async (smsrId, e, kvn) => {
        const id = fcid();
        // A current or target SM-SR that is not a partner: refused before any lookup of the EID.
        const p = await sr2.change
          .es4For(MNO_ID)
          .prepareSMSRChange({ functionCallIdentifier: id, eid: e, currentSmsrId: smsrId });
        expect(codes(p.functionExecutionStatus)).toEqual(['FAILED', '8.7', '3.9']);
        const c = await sr1.change
          .es4For(MNO_ID)
          .smsrChange({ functionCallIdentifier: id, eid: e, targetSmsrId: smsrId });
        expect(codes(c.functionExecutionStatus)).toEqual(['FAILED', '8.7', '3.9']);
        // ES7 from a partner for an EID no change runs on: refused, whatever the EID or KVN.
        const eis = { ...s.rig.eis, eumSignedInfo: { ...s.rig.eis.eumSignedInfo, eid: e } };
        const h = await sr2.change.es7For(SMSR1_ID).handoverEUICC({ functionCallIdentifier: id, eis });
        expect(codes(h.functionExecutionStatus)).toEqual(['FAILED', '1.1', '1.2']);
        const a = await sr1.change
          .es7For(SMSR2_ID)
          .authenticateSMSR({ functionCallIdentifier: id, eis, smsrCertificate: Uint8Array.of(1) });
        expect(codes(a.functionExecutionStatus)).toEqual(['FAILED', '1.1', '1.2']);
        const k = await sr1.change.es7For(SMSR2_ID).createAdditionalKeySet({
          functionCallIdentifier: id,
          eid: e,
          keyVersionNumber: kvn,
          initialSequenceCounter: 0,
          eccKeyLength: 'ECC-256',
          scenarioParameter: 0,
          hostId: new Uint8Array(0),
          ephemeralPublicKey: new Uint8Array(65),
          signature: new Uint8Array(64),
        });
        expect(codes(k.functionExecutionStatus)).toEqual(['FAILED', '1.1', '1.2']);
        // And ES7 from an SM-SR that is not a partner of this deployment: the same refusals.
        const stranger = await sr1.change
          .es7For(smsrId)
          .authenticateSMSR({ functionCallIdentifier: id, eis, smsrCertificate: Uint8Array.of(1) });
        expect(codes(stranger.functionExecutionStatus)).toEqual(['FAILED', '1.1', '1.2']);
      }),
      { numRuns: 60 },
    );
    for (const d of [sr1, sr2])
      expect(await d.db.store.db.selectFrom('esim_sr_procedures').select('procedure_id').execute()).toEqual(
        [],
      );
    await sr1InCharge(s);
  }, 180_000);

  it('a CERT.SR.ECDSA of SM-SR2 from another CI: SM-SR1 does not relay it, the change fails, SM-SR1 stays in charge', async () => {
    const key = newKeyPair();
    const s = await soapRig({
      sr2Identity: { certificate: smsr2Certificate(otherPki, key), privateKey: key.privateKey },
    });
    expect((await prepare(s)).status).toBe('EXECUTED_SUCCESS');
    const r = await change(s);
    expect(codes(r)).toEqual(['FAILED', '8.7', '3.8']);
    expect(r.statusCodeData?.message).toMatch(/AuthenticateSMSR/);
    // The card never saw a certificate: SM-SR1 sent no ES5 command.
    expect(s.rig.sent.filter((x) => x.from === 'sr1' && x.what.startsWith('ES5'))).toEqual([]);
    await sr1InCharge(s);
  }, 180_000);

  it('SM-SR1 is removed from SM-SR2’s partners: its HandoverEUICC is refused at once (403), SMSRChange fails, nothing is handed over', async () => {
    const s = await soapRig();
    expect((await prepare(s)).status).toBe('EXECUTED_SUCCESS');
    // At SM-SR2, SM-SR1 is no longer a partner: the HandoverEUICC is refused (403) before its body
    // is read — a definite refusal, not a lost answer.
    await new EsimPartners(s.rig.sr2.db.store, systemClock).remove('', SMSR1_ID);
    await s.listeners.sr2.refresh();
    const r = await change(s);
    expect(codes(r)).toEqual(['FAILED', '8.7', '3.8']);
    await sr1InCharge(s);
  }, 180_000);

  it('HandoverEUICC gets no answer (SM-SR2’s listener is down): SM-SR1 keeps the eUICC locked, not in charge; once SM-SR2 is back, asking again completes the change', async () => {
    const s = await soapRig();
    expect((await prepare(s)).status).toBe('EXECUTED_SUCCESS');
    await s.down('sr2');
    const r = await change(s);
    // The outcome is unknown to SM-SR1: it says so and keeps its row open.
    expect(codes(r)).toEqual(['FAILED', '8.7', '3.7']);
    expect(r.statusCodeData?.message).toMatch(/not known yet/);
    const open = await procedure(s.rig.sr1, SM_SR_CHANGE_FUNCTIONS.handOver);
    expect(open?.active_eid).toBe(EID);
    expect(open?.step).toBe('handover-unresolved');
    // Nothing else of SM-SR1 runs on the eUICC meanwhile; another target is busy too.
    expect(codes(await audit(s, 'sr1'))).toEqual(['FAILED', '8.1', '3.7']);
    // Asked again while SM-SR2 is still down: still unknown, still open.
    expect(await s.rig.sr1.change.resolveHandovers()).toBe(0);
    expect((await procedure(s.rig.sr1, SM_SR_CHANGE_FUNCTIONS.handOver))?.active_eid).toBe(EID);
    // SM-SR2 comes back (its prepare still pending): the next round runs the take-over for real.
    await s.up('sr2');
    expect(await s.rig.sr1.change.resolveHandovers()).toBe(1);
    const ended = await procedure(s.rig.sr1, SM_SR_CHANGE_FUNCTIONS.handOver);
    expect(ended?.active_eid).toBeNull();
    expect(JSON.parse(ended?.result ?? '{}').status).toBe('EXECUTED_WITHWARNING');
    await sr2InCharge(s);
  }, 180_000);

  it('HandoverEUICC asked again while SM-SR2’s take-over still runs before its commit: "still running" (unknown to SM-SR1), and the change completes', async () => {
    const s = await soapRig();
    expect((await prepare(s)).status).toBe('EXECUTED_SUCCESS');
    let again: FunctionExecutionStatus | undefined;
    s.hooks.onEs7 = async (side, fn) => {
      if (side !== 'sr1' || fn !== 'authenticateSMSR' || again !== undefined) return;
      // SM-SR2 is between HandoverEUICC and its commit: SM-SR1 (over its own listener's node, as
      // its resolver would) asks the same question again.
      const r = await soapEs7Port(s.listeners.sr1.node, {
        partner: partnerName('sm-sr', SMSR2_ID),
      }).handoverEUICC({ functionCallIdentifier: fcid(), eis: s.rig.eis });
      again = r.functionExecutionStatus;
    };
    expect(codes(await change(s))).toEqual(['EXECUTED_SUCCESS', undefined, undefined]);
    expect(codes(again ?? { status: 'EXECUTED_SUCCESS' })).toEqual(['FAILED', '8.1', '3.7']);
    expect(handoverOutcomeUnknown(again ?? { status: 'EXECUTED_SUCCESS' })).toBe(true);
    await sr2InCharge(s);
  }, 180_000);

  it('the operator asks SMSRChange again after a lost answer: SM-SR1 asks SM-SR2 at once and answers with its outcome', async () => {
    const s = await soapRig();
    expect((await prepare(s)).status).toBe('EXECUTED_SUCCESS');
    await s.down('sr2');
    expect(codes(await change(s))).toEqual(['FAILED', '8.7', '3.7']);
    await s.up('sr2');
    expect(codes(await change(s))).toEqual(['EXECUTED_SUCCESS', undefined, undefined]);
    await sr2InCharge(s);
  }, 180_000);
  it(`fuzz: ${FUZZ_COUNT} mutated ES7 requests from a registered SM-SR into both listeners — a fault or a FAILED *Response each, no handler error, nothing reaches the card or changes`, async () => {
    const handlerErrors: string[] = [];
    const s = await soapRig({}, (o, message) => {
      if (/handler|encodable|delivered/.test(message))
        handlerErrors.push(`${message}: ${String(o.err ?? '')}`);
    });
    // The hostile SM-SR: registered at both (role sm-sr, its own entity), its own HTTPS server at
    // its wsa:ReplyTo collects the answers.
    const tls = await issueTlsIdentity('sm-sr.fuzz');
    const answers = new Map<string, FunctionExecutionStatus>();
    const waiting = new Map<string, (st: FunctionExecutionStatus) => void>();
    const strays: string[] = [];
    const server = createServer(
      { key: tls.keyPem, cert: tls.certificatePem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const decoded = decodeSoapMessage(Buffer.concat(chunks).toString('utf8'));
          const relatesTo = decoded.ok ? decoded.value.addressing.relatesTo : undefined;
          const status = decoded.ok
            ? (decoded.value.message.body as { functionExecutionStatus?: FunctionExecutionStatus })
                .functionExecutionStatus
            : undefined;
          if (relatesTo === undefined || status === undefined)
            strays.push(decoded.ok ? 'no status' : 'undecodable');
          else {
            answers.set(relatesTo, status);
            waiting.get(relatesTo)?.(status);
            waiting.delete(relatesTo);
          }
          res.writeHead(202, { 'content-length': 0 });
          res.end();
        });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/esim/soap`;
    const node = await SoapNode.start({
      name: 'fuzz',
      tls,
      partners: (['sr1', 'sr2'] as const).map((side) => ({
        name: side,
        url: s.listeners[side].url,
        certificatePem: s.tls[side].certificatePem,
      })),
      handlers: {},
    });
    try {
      for (const side of ['sr1', 'sr2'] as const) {
        await new EsimPartners(s.rig[side].db.store, systemClock).add({
          operatorId: '',
          entityId: FUZZ_SMSR,
          role: 'sm-sr',
          endpoint: url,
          certificatePem: tls.certificatePem,
        });
        await s.listeners[side].refresh();
      }
      const eisBefore = await loadEis(s.rig.sr1.db.store.db, EID);
      // Genuine ES7 requests of the SM-SR named in the EIS handed over, on the registered eUICC.
      const seed = (side: Side, element: string): string => {
        const spec = MESSAGE_BY_ELEMENT.get(element);
        if (spec === undefined) throw new Error(element);
        const body = sampleBody(spec);
        if ('eis' in body) body.eis = { ...s.rig.eis, smsrId: FUZZ_SMSR };
        if ('eid' in body) body.eid = EID;
        if ('validityPeriod' in body) body.validityPeriod = 600;
        return encodeSoapMessage({
          addressing: {
            action: spec.action,
            messageId: newMessageId(),
            to: s.listeners[side].url,
            from: url,
            replyTo: url,
          },
          message: { element: spec.element, body } as never,
        });
      };
      const targets = [
        ['sr1', 'ES7-AuthenticateSMSRRequest'],
        ['sr1', 'ES7-CreateAdditionalKeySetRequest'],
        ['sr1', 'ES7-HandoverEUICCRequest'],
        ['sr2', 'ES7-HandoverEUICCRequest'],
        ['sr2', 'ES7-CreateAdditionalKeySetRequest'],
      ] as const;
      const random = seededRandom(Number(process.env.SIMTRUST_FUZZ_SEED ?? 0x5e57));
      let faults = 0;
      let answered = 0;
      const one = async (i: number) => {
        const [side, element] = targets[i % targets.length] as (typeof targets)[number];
        const text = mutateSoapText(random, seed(side, element));
        const local = decodeSoapMessage(text);
        const request =
          local.ok && local.value.spec.kind === 'request' ? local.value.addressing.messageId : undefined;
        const answer =
          request === undefined
            ? undefined
            : new Promise<FunctionExecutionStatus>((resolve) => {
                const early = answers.get(request);
                if (early !== undefined) resolve(early);
                else waiting.set(request, resolve);
              });
        try {
          await node.postRaw(side, text);
        } catch (e) {
          const details = (e as { details?: { httpStatus?: number; fault?: string } }).details;
          expect((e as { code?: string }).code, String(e)).toBe('ERR_ESIM_SOAP_REJECTED');
          expect(details?.fault).toMatch(/^[A-Z_]+$/);
          if (request !== undefined) waiting.delete(request);
          faults++;
          return;
        }
        if (answer === undefined) return;
        let timer: NodeJS.Timeout | undefined;
        const status = await Promise.race([
          answer,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no *Response in 30 s to ${text.slice(0, 2000)}`)),
              30_000,
            );
          }),
        ]).finally(() => clearTimeout(timer));
        // No change runs with this SM-SR: every function it reaches refuses.
        expect(status.status, JSON.stringify(status)).toBe('FAILED');
        expect(status.statusCodeData?.subject).toMatch(/^[0-9.]+$/);
        answered++;
      };
      for (let i = 0; i < FUZZ_COUNT; i += 4) await Promise.all([0, 1, 2, 3].map((k) => one(i + k)));
      expect(answered).toBeGreaterThan(FUZZ_COUNT / 10);
      expect(faults).toBeGreaterThan(FUZZ_COUNT / 10);
      expect(handlerErrors).toEqual([]);
      expect(strays).toEqual([]);
      // Nothing reached the card, nothing was locked or stored, SM-SR1's EIS is as it was.
      expect(s.rig.sent).toEqual([]);
      for (const side of ['sr1', 'sr2'] as const)
        expect(
          await s.rig[side].db.store.db.selectFrom('esim_sr_procedures').select('procedure_id').execute(),
        ).toEqual([]);
      expect(await loadEis(s.rig.sr1.db.store.db, EID)).toEqual(eisBefore);
      expect(await loadEis(s.rig.sr2.db.store.db, EID)).toBeUndefined();
      // And the real change still works.
      expect(codes(await prepare(s))).toEqual(['EXECUTED_SUCCESS', undefined, undefined]);
      expect((await change(s)).status).toBe('EXECUTED_SUCCESS');
      await sr2InCharge(s);
    } finally {
      await node.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r(undefined)));
    }
  }, 300_000);
});
