// The operator API end to end with the real roles in this process, on both databases: the SM-DP
// (SmDp: profile prepared from the inventory, key establishment scenario #3, SCP03t segments) and the
// SM-SR (SmSr, reporting its functions on the platform's progress port) on the platform's database,
// in front of the software eUICC whose ECASD key and PK.CI come from the test PKI. Threat: a profile
// reaching the card without the operation showing it, or an operation claiming success the card does
// not bear out — the card model is the judge here. Issue 15's follow-ups (B2): the inventory follows
// what the card did without a further API call (a rollback; a change outside any operation, heard by
// the SM-SR's ES4 notifications), AuditEIS as an operation, and an ES4 request retried while the SM-SR
// answers busy because it only waits for a notification confirmation's PoR.

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
import type { Es5Outcome, Es5Transport } from '../../../../src/platform/esim/sm-sr/es5-transport.js';
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
let transport: HoldingTransport;

/**
 * The card's transport with a gate: the answer (PoR) of the next script holding a notification
 * confirmation (STORE DATA 3A08) waits until the test releases it — the card already took the command.
 */
class HoldingTransport implements Es5Transport {
  #gate: { reached: () => void; released: Promise<void> } | undefined;
  constructor(readonly inner: Es5Transport) {}

  /** Resolves once a confirmation's PoR is held; call the returned release to let it go. */
  holdNextConfirmation(): { reached: Promise<void>; release: () => void } {
    let reached: () => void = () => undefined;
    let release: () => void = () => undefined;
    const r = new Promise<void>((res) => {
      reached = res;
    });
    const released = new Promise<void>((res) => {
      release = res;
    });
    this.#gate = { reached, released };
    return { reached: r, release };
  }

  async send(eid: string, aid: string, commands: readonly Uint8Array[]): Promise<Es5Outcome> {
    const out = await this.inner.send(eid, aid, commands);
    const confirmation = commands.some((c) => c[1] === 0xe2 && c[5] === 0x3a && c[6] === 0x08);
    const gate = this.#gate;
    if (confirmation && gate !== undefined) {
      this.#gate = undefined;
      gate.reached();
      await gate.released;
    }
    return out;
  }
}

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
  transport = new HoldingTransport(new CardTransport(card));
  smsr = new SmSr({
    store,
    keyRing,
    clock,
    transport,
    smsrId: SMSR_ID,
    chains: { verify },
    directory: {
      smdp: (id) => (id === SMDP_ID ? smdp?.es3Notifications() : undefined),
      // As serve wires it (esim-runtime.ts): the operator layer hears the SM-SR's ES4 notifications.
      operator: (mnoId) => esimOperations.es4Notifications(mnoId),
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
  // Polled, then paced: after a busy answer the retry comes only after its wait (up to 2 s), longer than
  // a few thousand bare polls take on a quiet machine (a bound by count alone failed in CI).
  for (let i = 0; i < 6000; i++) {
    const row = await api.platform.store.db
      .selectFrom('esim_sr_procedures')
      .select('step')
      .where('function', '=', fn)
      .where('active_eid', '=', EID)
      .executeTakeFirst();
    if (row?.step === 'awaiting-notification') return;
    await new Promise((r) => (i < 200 ? setImmediate(r) : setTimeout(r, 10)));
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
  }, 180_000);
});

// --- issue 15 follow-ups (B2) -------------------------------------------------------------------------

const BUSY_STEP = 'eUICC busy: waiting to retry';
/** Per test: a download and card round trips through the real roles on a loaded 2-core CI machine. */
const TEST_MS = 180_000;

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  // Polled, not timed: each read is a database round trip; a generous bound for a loaded machine.
  for (let i = 0; i < 6000; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => (i < 200 ? setImmediate(r) : setTimeout(r, 10)));
  }
  throw new Error(`never: ${what}`);
}

const operation = async (id: string) =>
  (await api.call({ method: 'GET', url: `/v1/esim/operations/${id}` })).json() as EsimOperationView;

/** The SIM's profiles as `GET /v1/sims/{eid}` shows them: ICCID → state. */
async function inventory(): Promise<Record<string, string>> {
  const sim = (await api.call({ method: 'GET', url: `/v1/sims/${EID}` })).json() as {
    profiles: Record<string, { iccid: string; state: string }>;
  };
  return Object.fromEntries(Object.values(sim.profiles).map((p) => [p.iccid, p.state]));
}

/** Registered and declared (its notification confirmed), SECOND in the inventory; starts its download. */
async function startDownload(enable: boolean): Promise<string> {
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
    payload: { iccid: SECOND, profileType: 'simtrust-usim', enable },
  });
  expect(dl.statusCode, dl.body).toBe(202);
  return (dl.json() as EsimOperationView).operationId;
}

const onCard = () =>
  Object.fromEntries(
    euiccOf(card)
      .snapshot()
      .isdps.filter((i) => i.profile !== undefined)
      .map((i) => [i.profile?.identity.iccid, i.state]),
  );

/** The operator's audit records written for the SM-SR's notifications (actor system:sm-sr). */
const heard = () =>
  api.platform.store.db
    .selectFrom('audit_logs')
    .select(['operation_id', 'actor_kind', 'actor_id', 'detail'])
    .where('operator_id', '=', api.operator.operatorId)
    .where('operation_id', 'like', 'Esim:handleProfile%')
    .orderBy('id')
    .execute();

describe('the inventory follows the card (ES4 notifications to the operator layer)', () => {
  it(
    'a download with enable that the eUICC rolls back (no network with the new profile, type 03): the operation ends with the warning and the inventory shows the rolled-back state, with no further call',
    async () => {
      const id = await startDownload(true);
      await awaitingNotification('EnableProfile');
      // The new profile gets no service (its IMSI refused by the network): the ISD-R rolls back to the
      // previous profile (SGP.02 §3.2.2) and, once attached again, sends PROFILE_CHANGE_FAILED_ROLLBACK.
      const e = euiccOf(card);
      e.reset();
      expect(e.connectivity(1)).toMatchObject({ refresh: true });
      expect(await attach()).toBe(1);
      const op = await ended(id);
      // SGP.02 §3.2.2: the download stands, the enable does not — the SM-DP answers with a warning.
      expect(op, JSON.stringify(op.steps)).toMatchObject({
        status: 'succeeded',
        result: {
          status: 'EXECUTED_WITHWARNING',
          message: expect.stringMatching(/rolled the profile change back/),
        },
      });
      expect(onCard()).toEqual({ [ICCID]: LIFE_CYCLE.ENABLED, [SECOND]: LIFE_CYCLE.DISABLED });
      expect(await inventory()).toEqual({ [ICCID]: 'Enabled', [SECOND]: 'Disabled' });
      expect(op.steps.at(-1)).toMatchObject({ name: 'ES4.GetEIS', state: 'succeeded' });
    },
    TEST_MS,
  );

  it(
    'a profile enabled outside any operation (ES3 EnableProfile by the SM-DP): the inventory and the audit log follow the SM-SR’s ES4 notifications',
    async () => {
      const dl = await ended(await startDownload(false));
      expect(dl.status).toBe('succeeded');
      expect(await inventory()).toEqual({ [ICCID]: 'Enabled', [SECOND]: 'Disabled' });
      // The SM-DP enables its profile on its own (SGP.02 §3.3 via ES3): no operation of the operator.
      const enabling = smsr
        .es3For(SMDP_ID)
        .enableProfile({ functionCallIdentifier: 'dp-enable-1', eid: EID, iccid: SECOND });
      await awaitingNotification('EnableProfile');
      expect(await attach()).toBe(1);
      expect((await enabling).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      expect(onCard()).toEqual({ [ICCID]: LIFE_CYCLE.DISABLED, [SECOND]: LIFE_CYCLE.ENABLED });
      // No API call since: the SM-SR's HandleProfileEnabled/Disabled notifications moved the inventory.
      expect(await until('the inventory to follow', inventory, (s) => s[SECOND] === 'Enabled')).toEqual({
        [ICCID]: 'Disabled',
        [SECOND]: 'Enabled',
      });
      const sim = (await api.call({ method: 'GET', url: `/v1/sims/${EID}` })).json();
      expect(sim.activeProfileId).toBe(SECOND);
      const records = await heard();
      expect(
        records.map((r) => [r.operation_id, r.actor_kind, r.actor_id, JSON.parse(r.detail).iccid]).sort(),
      ).toEqual([
        ['Esim:handleProfileDisabledNotification', 'system', 'sm-sr', ICCID],
        ['Esim:handleProfileEnabledNotification', 'system', 'sm-sr', SECOND],
      ]);
      // The ES4 rows of the SM-SR's outbox were delivered (to the operator layer, in this process).
      const rows = await api.platform.store.db
        .selectFrom('esim_notification_outbox')
        .select(['kind', 'iccid', 'state'])
        .where('interface', '=', 'ES4')
        .where('receiver_id', '=', MNO_ID)
        .orderBy('id')
        .execute();
      expect(rows.filter((r) => r.state !== 'delivered')).toEqual([]);
      expect(rows.map((r) => [r.kind, r.iccid])).toContainEqual(['enabled', SECOND]);
      // The operator's operations: only the download (the enable was not the operator's).
      const list = (await api.call({ method: 'GET', url: `/v1/sims/${EID}/esim/operations` })).json();
      expect(list.map((o: EsimOperationView) => o.kind)).toEqual(['download']);
    },
    TEST_MS,
  );

  it(
    'a notification for another MNO or an unknown eUICC changes nothing',
    async () => {
      await ended(await startDownload(false));
      const other = api.platform.esimOperations.es4Notifications('1.3.6.1.4.1.99999.9.9');
      await other.handleProfileEnabledNotification({
        eid: EID,
        iccid: SECOND,
        completionTimestamp: new Date(),
      });
      const mine = api.platform.esimOperations.es4Notifications(MNO_ID);
      await mine.handleProfileDeletedNotification({
        eid: '89049032000000000000000000000000',
        iccid: SECOND,
        completionTimestamp: new Date(),
      });
      expect(await inventory()).toEqual({ [ICCID]: 'Enabled', [SECOND]: 'Disabled' });
      expect(await heard()).toEqual([]);
    },
    TEST_MS,
  );
});

describe('AuditEIS through the API (POST /v1/sims/{simId}/profiles/audit)', () => {
  it(
    'runs ES4 AuditEIS as an operation and refreshes a stale inventory from the card',
    async () => {
      await ended(await startDownload(false));
      // A stale inventory row (what a lost notification would leave).
      await api.platform.store.db
        .updateTable('esim_profiles')
        .set({ state: 'Enabled' })
        .where('iccid', '=', SECOND)
        .execute();
      const r = await api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/audit` });
      expect(r.statusCode, r.body).toBe(202);
      const started = r.json() as EsimOperationView;
      expect(started).toMatchObject({ kind: 'audit', iccid: '', status: 'running' });
      const op = await ended(started.operationId);
      expect(op, JSON.stringify(op.steps)).toMatchObject({
        status: 'succeeded',
        result: { status: 'EXECUTED_SUCCESS' },
      });
      expect(op.steps[0]).toMatchObject({ name: 'ES4.AuditEIS', state: 'succeeded' });
      expect(op.steps.at(-1)).toMatchObject({ name: 'ES4.GetEIS', state: 'succeeded' });
      expect(await inventory()).toEqual({ [ICCID]: 'Enabled', [SECOND]: 'Disabled' });
      const audit = await api.platform.store.db
        .selectFrom('audit_logs')
        .select(['operation_id', 'status_code'])
        .where('operator_id', '=', api.operator.operatorId)
        .where('operation_id', '=', 'Esim:auditEsimProfiles')
        .execute();
      expect(audit).toEqual([{ operation_id: 'Esim:auditEsimProfiles', status_code: 202 }]);
      // Another operator's view: no such SIM.
      const other = await api.call({
        method: 'POST',
        url: `/v1/sims/${EID}/profiles/audit`,
        token: (await api.newOperator()).token,
      });
      expect(other.statusCode).toBe(404);
      expect(other.json().code).toBe('ERR_SIM_NOT_FOUND');
    },
    TEST_MS,
  );
});

describe('a busy SM-SR (only the PoR of a notification confirmation awaited): the operator layer retries', () => {
  /** SECOND downloaded, then enabled by the SM-DP; the PoR of that notification's 3A08 held. */
  async function confirmationHeld() {
    await ended(await startDownload(false));
    const enabling = smsr
      .es3For(SMDP_ID)
      .enableProfile({ functionCallIdentifier: 'dp-enable-2', eid: EID, iccid: SECOND });
    await awaitingNotification('EnableProfile');
    const gate = transport.holdNextConfirmation();
    const attached = attach();
    await gate.reached;
    return { gate, done: Promise.all([enabling, attached]) };
  }

  it(
    'an enable sent meanwhile waits (a step shows it), is retried once the PoR came, and succeeds',
    async () => {
      const { gate, done } = await confirmationHeld();
      const r = await api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${ICCID}/enable` });
      expect(r.statusCode, r.body).toBe(202);
      const id = (r.json() as EsimOperationView).operationId;
      const waiting = await until(
        'the busy wait in the steps',
        () => operation(id),
        (o) => o.steps.some((s) => s.name === BUSY_STEP && s.state === 'running'),
      );
      expect(waiting.status).toBe('running');
      expect(waiting.steps.find((s) => s.name === BUSY_STEP)?.status).toMatchObject({
        status: 'FAILED',
        subject: '8.1',
        reason: '3.7',
        message: expect.stringMatching(/^busy: .*; attempt \d of 8 in \d+ ms$/),
      });
      gate.release();
      await done;
      await awaitingNotification('EnableProfile');
      expect(await attach()).toBe(1);
      const op = await ended(id);
      expect(op, JSON.stringify(op.steps)).toMatchObject({ status: 'succeeded', kind: 'enable' });
      const names = op.steps.map((s) => [s.name, s.state]);
      expect(names[0]).toEqual(['ES4.EnableProfile', 'succeeded']);
      expect(names).toContainEqual([BUSY_STEP, 'succeeded']);
      expect(names).toContainEqual(['EnableProfile', 'succeeded']);
      expect(names.at(-1)).toEqual(['ES4.GetEIS', 'succeeded']);
      expect(onCard()).toEqual({ [ICCID]: LIFE_CYCLE.ENABLED, [SECOND]: LIFE_CYCLE.DISABLED });
      expect(await inventory()).toEqual({ [ICCID]: 'Enabled', [SECOND]: 'Disabled' });
    },
    TEST_MS,
  );

  it(
    'still busy after the last retry: the operation fails with the busy status (8.1/3.7)',
    async () => {
      api.platform.esimOperations.busyRetryMs = [1, 1];
      const { gate, done } = await confirmationHeld();
      const r = await api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${ICCID}/enable` });
      const op = await ended((r.json() as EsimOperationView).operationId);
      expect(op).toMatchObject({
        status: 'failed',
        result: { status: 'FAILED', subject: '8.1', reason: '3.7' },
      });
      expect(op.steps.find((s) => s.name === BUSY_STEP)).toMatchObject({ state: 'failed' });
      gate.release();
      await done;
    },
    TEST_MS,
  );
});
