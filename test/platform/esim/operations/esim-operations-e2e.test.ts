// The operator API end to end with the real roles in this process, on both databases: the SM-DP
// (SmDp: profile prepared from the inventory, key establishment scenario #3, SCP03t segments) and the
// SM-SR (SmSr, reporting its functions on the platform's progress port) on the platform's database,
// in front of the software eUICC whose ECASD key and PK.CI come from the test PKI. Threat: a profile
// reaching the card without the operation showing it, or an operation claiming success the card does
// not bear out — the card model is the judge here.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cardFromFile } from '../../../../src/card/card-file.js';
import { LIFE_CYCLE } from '../../../../src/card/euicc/euicc-state.js';
import type { Uicc } from '../../../../src/card/uicc.js';
import { type ChainInput, verifyCertificateChain } from '../../../../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../../../../src/lib/clock.js';
import { toHex } from '../../../../src/lib/hex.js';
import { encodeNotification } from '../../../../src/lib/sgp-02-es5.js';
import type { EsimOperationView } from '../../../../src/platform/esim/operations/operations-service.js';
import { SmDp } from '../../../../src/platform/esim/sm-dp/sm-dp-service.js';
import { SmSr } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { EID, euiccFile, euiccOf, SECOND_PROFILE } from '../../../card/euicc/fixture.js';
import { ICCID } from '../../../card/fixture.js';
import { startTestApi, type TestApi } from '../../../helpers/app.js';
import { createTestPki, PKI_NOW, type TestPki } from '../../../helpers/esim-pki.js';
import { CardTransport } from '../sm-dp/fixture.js';
import { EUM_ID, MNO_ID, SMDP_ID, SMSR_ID } from '../sm-sr/fixture.js';
import { registerEisRequestOf } from './fixture.js';

const SECOND = SECOND_PROFILE.identity.iccid;
let api: TestApi;
let pki: TestPki;
let card: Uicc;
let smsr: SmSr;
let eisRequest: string;

beforeEach(async () => {
  api = await startTestApi();
  pki = await createTestPki();
  const clock = new ManualClock(PKI_NOW);
  const ecasd = pki.ecasd(EID);
  const file = euiccFile();
  const e = file.euicc;
  if (e === undefined) throw new Error('no euicc');
  const jwk = ecasd.privateKey.export({ format: 'jwk' });
  card = cardFromFile(
    {
      ...file,
      euicc: {
        ...e,
        ecasd: {
          certificate: toHex(ecasd.certificate),
          privateKey: Buffer.from(jwk.d ?? '', 'base64url').toString('hex'),
          ci: { keyId: toHex(pki.ci.trusted.keyId), publicKey: toHex(pki.ci.trusted.publicKey) },
        },
      },
    },
    { clock },
  );
  const verify = async (input: Omit<ChainInput, 'trustedCis' | 'now'>) =>
    verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: clock.now() });
  const { store, keyRing, esimOperations } = api.platform;
  let smdp: SmDp | undefined;
  smsr = new SmSr({
    store,
    keyRing,
    clock,
    transport: new CardTransport(card),
    smsrId: SMSR_ID,
    chains: { verify },
    directory: {
      smdp: (id) => (id === SMDP_ID ? smdp?.es3Notifications() : undefined),
      operator: () => undefined,
    },
    progress: esimOperations,
  });
  smdp = new SmDp({
    store,
    keyRing,
    clock,
    smdpId: SMDP_ID,
    smsr: (id) => (id === SMSR_ID ? smsr.es3For(SMDP_ID) : undefined),
    signer: async () => ({ certificate: pki.smdp.certificate, privateKey: pki.smdp.privateKey }),
    verify,
    eumCertificate: async (id) => (id === EUM_ID ? pki.eum.pem : undefined),
  });
  const own = api.operator.operatorId;
  const es2 = smdp.es2For({ operatorId: own, mnoId: MNO_ID });
  esimOperations.connect({
    smsrId: SMSR_ID,
    es1: (pem) => smsr.es1For(pem),
    es2: (operatorId) => (operatorId === own ? es2 : undefined),
    es4: (operatorId) => (operatorId === own ? smsr.es4For(MNO_ID) : undefined),
    mnoId: (operatorId) => (operatorId === own ? MNO_ID : undefined),
  });
  eisRequest = registerEisRequestOf(file, pki, ecasd.certificate);
});
afterEach(async () => {
  await api.platform.esimOperations.drained();
  await api.close();
});

async function attach(): Promise<number> {
  const euicc = euiccOf(card);
  euicc.reset();
  const { send } = euicc.connectivity(0);
  for (const n of send) {
    const e1 = encodeNotification({ eid: euicc.eid, type: n.type, aid: n.aid, seq: n.seq });
    if (!e1.ok) throw new Error(e1.error.message);
    await smsr.handleNotification(euicc.eid, e1.value);
  }
  return send.length;
}

async function awaitingNotification(fn: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    const row = await api.platform.store.db
      .selectFrom('esim_sr_procedures')
      .select('step')
      .where('function', '=', fn)
      .where('active_eid', '=', EID)
      .executeTakeFirst();
    if (row?.step === 'awaiting-notification') return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`${fn} never waited for the notification`);
}

const ended = async (id: string) => {
  await api.platform.esimOperations.settled(id);
  return (await api.call({ method: 'GET', url: `/v1/esim/operations/${id}` })).json() as EsimOperationView;
};

describe('operator API with the real SM-DP and SM-SR', () => {
  it('registers, downloads through the SM-DP (ES8 on the card), enables through ES4; the card agrees', async () => {
    const reg = await api.call({
      method: 'POST',
      url: '/v1/esim/euiccs',
      payload: { registerEisRequest: eisRequest, eumCertificate: pki.eum.pem },
    });
    expect(reg.statusCode, reg.body).toBe(201);
    expect(await attach()).toBe(1);
    const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');
    const stocked = await api.call({
      method: 'POST',
      url: '/v1/sims',
      payload: {
        iccid: SECOND,
        imsi: SECOND_PROFILE.identity.imsi,
        ki: hex(SECOND_PROFILE.ki),
        opc: hex(SECOND_PROFILE.opc),
      },
    });
    expect(stocked.statusCode, stocked.body).toBe(201);

    const dl = await api.call({
      method: 'POST',
      url: `/v1/sims/${EID}/profiles`,
      payload: { iccid: SECOND, profileType: 'simtrust-usim' },
    });
    expect(dl.statusCode, dl.body).toBe(202);
    const download = await ended((dl.json() as EsimOperationView).operationId);
    expect(download, JSON.stringify(download.steps)).toMatchObject({
      status: 'succeeded',
      result: { status: 'EXECUTED_SUCCESS' },
    });
    const names = download.steps.map((s) => s.name);
    expect(names[0]).toBe('ES2.DownloadProfile');
    expect(names.at(-1)).toBe('ES4.GetEIS');
    expect(download.steps.every((s) => s.state === 'succeeded')).toBe(true);
    // The card holds the downloaded profile in a disabled ISD-P.
    const isdp = euiccOf(card)
      .snapshot()
      .isdps.find((i) => i.profile?.identity.iccid === SECOND);
    expect(isdp?.profile?.identity.imsi).toBe(SECOND_PROFILE.identity.imsi);
    let sim = (await api.call({ method: 'GET', url: `/v1/sims/${EID}` })).json();
    expect(sim.profiles[SECOND]).toMatchObject({
      state: 'Disabled',
      primaryImsi: SECOND_PROFILE.identity.imsi,
    });

    const en = await api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${SECOND}/enable` });
    expect(en.statusCode, en.body).toBe(202);
    const id = (en.json() as EsimOperationView).operationId;
    await awaitingNotification('EnableProfile');
    expect(await attach()).toBe(1);
    const enable = await ended(id);
    expect(enable.status).toBe('succeeded');
    // The SM-SR's own report of its EnableProfile is a step of the operation.
    expect(enable.steps.map((s) => [s.name, s.state])).toEqual([
      ['ES4.EnableProfile', 'succeeded'],
      ['EnableProfile', 'succeeded'],
      ['ES4.GetEIS', 'succeeded'],
    ]);
    sim = (await api.call({ method: 'GET', url: `/v1/sims/${EID}` })).json();
    expect(sim.activeProfileId).toBe(SECOND);
    expect(sim.profiles[ICCID].state).toBe('Disabled');
    // The card's ISD-P of the downloaded profile is the enabled one.
    const isdps = euiccOf(card).snapshot().isdps;
    expect(isdps.find((i) => i.aid === isdp?.aid)?.state).toBe(LIFE_CYCLE.ENABLED);
    expect(isdps.filter((i) => i.state === LIFE_CYCLE.ENABLED)).toHaveLength(1);
  });
});
