// The eSIM operator API on both databases, against the real SM-SR and software eUICC (fixture.ts;
// the SM-DP is an in-test ES2 port that records its calls and drives the SM-SR's ES3 for real).
// Threats covered: an operator acting on another operator's eUICC or reading its operations; an EIS
// not signed by the EUM it names registered as a SIM; a hostile path parameter or progress report
// crashing the API (typed 400/404, never 500); two operations interleaving on one eUICC.

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  failed,
  REASON_CODES,
  SUBJECT_CODES,
} from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import {
  EsimOperations,
  type EsimOperationView,
} from '../../../../src/platform/esim/operations/operations-service.js';
import { euiccOf } from '../../../card/euicc/fixture.js';
import { ICCID, IMSI } from '../../../card/fixture.js';
import { createTestPki } from '../../../helpers/esim-pki.js';
import { EID, MNO_ID, type OpsBench, opsBench, SECOND_PROFILE } from './fixture.js';

const SECOND = SECOND_PROFILE.identity.iccid;
const UNKNOWN_ICCID = '8944000000000000997';
let b: OpsBench;

beforeEach(async () => {
  b = await opsBench();
});
afterEach(() => b.close());

const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');

async function register() {
  const res = await b.api.call({
    method: 'POST',
    url: '/v1/esim/euiccs',
    payload: { registerEisRequest: b.registerEisRequest(), eumCertificate: b.pki.eum.pem },
  });
  expect(res.statusCode, res.body).toBe(201);
  // The card's first attach: its eUICC declaration reaches the SM-SR.
  expect(await b.attach()).toBe(1);
  return res.json();
}

/** The second profile in the operator's inventory (a SIM of its own until it is downloaded). */
async function stockSecondProfile() {
  const res = await b.api.call({
    method: 'POST',
    url: '/v1/sims',
    payload: {
      iccid: SECOND,
      imsi: SECOND_PROFILE.identity.imsi,
      ki: hex(SECOND_PROFILE.ki),
      opc: hex(SECOND_PROFILE.opc),
    },
  });
  expect(res.statusCode, res.body).toBe(201);
}

const operation = async (id: string) => {
  const res = await b.api.call({ method: 'GET', url: `/v1/esim/operations/${id}` });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as EsimOperationView;
};

async function finished(res: {
  statusCode: number;
  body: string;
  json(): unknown;
}): Promise<EsimOperationView> {
  expect(res.statusCode, res.body).toBe(202);
  const op = res.json() as EsimOperationView;
  await b.api.platform.esimOperations.settled(op.operationId);
  return operation(op.operationId);
}

const sim = async () => (await b.api.call({ method: 'GET', url: `/v1/sims/${EID}` })).json();

async function download(enable = false) {
  return finished(
    await b.api.call({
      method: 'POST',
      url: `/v1/sims/${EID}/profiles`,
      payload: { iccid: SECOND, profileType: 'simtrust-usim', enable },
    }),
  );
}

describe('eUICC inventory', () => {
  it('registers the EIS at the SM-SR and shows the eUICC SIM with its profiles by ICCID', async () => {
    const created = await register();
    expect(created).toMatchObject({
      simId: EID,
      eid: EID,
      type: 'euicc',
      status: 'ready',
      activeProfileId: ICCID,
    });
    expect(created.profiles[ICCID]).toEqual({
      iccid: ICCID,
      primaryImsi: IMSI,
      subscribers: { [IMSI]: { imsi: IMSI, msisdn: '817000000001' } },
      state: 'Enabled',
      mnoId: MNO_ID,
      profileType: null,
    });
    // The SM-SR holds the EIS (ES4 GetEIS answers); no ISD-R key left the SM-SR in the answer.
    const got = await b.smsr.es4For(MNO_ID).getEIS({ functionCallIdentifier: 'x', eid: EID });
    expect(got.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(JSON.stringify(created)).not.toMatch(/keysets|0102030405060708090a0b0c0d0e0f/i);
    const audit = await b.api.platform.store.db
      .selectFrom('audit_logs')
      .select(['operation_id', 'result'])
      .where('operation_id', '=', 'Esim:registerEuicc')
      .execute();
    expect(audit).toEqual([{ operation_id: 'Esim:registerEuicc', result: 'success' }]);
  });

  it('refuses an EIS whose EUM signature does not verify with the given certificate, and creates no SIM', async () => {
    // Another EUM's certificate (of another PKI): the signature cannot verify with it.
    const other = await createTestPki({ ciName: 'Other CI' });
    const res = await b.api.call({
      method: 'POST',
      url: '/v1/esim/euiccs',
      payload: { registerEisRequest: b.registerEisRequest(), eumCertificate: other.eum.pem },
    });
    expect(res.statusCode, res.body).toBe(422);
    expect(res.json().code).toBe('ERR_ESIM_REGISTRATION_REFUSED');
    expect((await b.api.call({ method: 'GET', url: `/v1/sims/${EID}` })).statusCode).toBe(404);
  });

  it('refuses bodies that are not an ES1-RegisterEISRequest, and a second registration', async () => {
    for (const registerEisRequest of [
      '<x/>',
      'not xml',
      '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>',
    ]) {
      const res = await b.api.call({
        method: 'POST',
        url: '/v1/esim/euiccs',
        payload: { registerEisRequest, eumCertificate: b.pki.eum.pem },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('ERR_ESIM_EIS_INVALID');
    }
    for (const payload of [
      {},
      { registerEisRequest: 'x' },
      { registerEisRequest: 'x', eumCertificate: 'y', z: 1 },
    ]) {
      const res = await b.api.call({ method: 'POST', url: '/v1/esim/euiccs', payload });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('ERR_VALIDATION');
    }
    await register();
    const again = await b.api.call({
      method: 'POST',
      url: '/v1/esim/euiccs',
      payload: { registerEisRequest: b.registerEisRequest(), eumCertificate: b.pki.eum.pem },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('ERR_ESIM_EUICC_EXISTS');
  });
});

describe('profile operations', () => {
  it('downloads a profile of the inventory through the SM-DP; the steps show its progress', async () => {
    await register();
    await stockSecondProfile();
    const op = await download();
    expect(b.downloads).toEqual([
      expect.objectContaining({
        functionCallIdentifier: op.operationId,
        eid: EID,
        iccid: SECOND,
        profileType: 'simtrust-usim',
        enableProfile: false,
      }),
    ]);
    expect(op).toMatchObject({
      kind: 'download',
      status: 'succeeded',
      result: { status: 'EXECUTED_SUCCESS' },
    });
    expect(op.steps.map((s) => [s.name, s.state])).toEqual([
      ['ES2.DownloadProfile', 'succeeded'],
      ['CreateISDP', 'succeeded'],
      ['DownloadAndInstallation', 'succeeded'],
      ['ProfileDownloadCompleted', 'succeeded'],
      ['ES4.GetEIS', 'succeeded'],
    ]);
    for (const s of op.steps) expect(s.endedTime).toBeGreaterThanOrEqual(s.startedTime);
    const view = await sim();
    expect(view.profiles[SECOND]).toMatchObject({
      state: 'Disabled',
      primaryImsi: SECOND_PROFILE.identity.imsi,
      mnoId: MNO_ID,
      profileType: 'simtrust-usim',
    });
    expect(view.activeProfileId).toBe(ICCID);
    // The card holds it too.
    expect(euiccIccids()).toContain(SECOND);
  });

  it('enables and disables through ES4 at the SM-SR; the operation runs until the card confirms', async () => {
    await register();
    await stockSecondProfile();
    await download();
    const res = await b.api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${SECOND}/enable` });
    expect(res.statusCode, res.body).toBe(202);
    const started = res.json() as EsimOperationView;
    expect(started).toMatchObject({ kind: 'enable', status: 'running', iccid: SECOND });
    expect(started.steps).toEqual([
      expect.objectContaining({ name: 'ES4.EnableProfile', state: 'running', endedTime: null }),
    ]);
    await b.awaitingNotification('EnableProfile');
    // While the SM-SR waits for the card, a second operation on this eUICC is refused.
    const busy = await b.api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${ICCID}/disable` });
    expect(busy.statusCode).toBe(409);
    expect(busy.json()).toMatchObject({ code: 'ERR_ESIM_OPERATION_IN_PROGRESS' });
    expect((await operation(started.operationId)).status).toBe('running');
    expect(await b.attach()).toBe(1);
    await b.api.platform.esimOperations.settled(started.operationId);
    const enabled = await operation(started.operationId);
    expect(enabled).toMatchObject({ status: 'succeeded', result: { status: 'EXECUTED_SUCCESS' } });
    expect(enabled.steps.map((s) => s.name)).toEqual(['ES4.EnableProfile', 'ES4.GetEIS']);
    let view = await sim();
    expect(view.activeProfileId).toBe(SECOND);
    expect(view.profiles[SECOND].state).toBe('Enabled');
    expect(view.profiles[ICCID].state).toBe('Disabled');

    const off = await b.api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${SECOND}/disable` });
    expect(off.statusCode, off.body).toBe(202);
    await b.awaitingNotification('DisableProfile');
    expect(await b.attach()).toBe(1);
    const disabled = await finished(off);
    expect(disabled.status).toBe('succeeded');
    view = await sim();
    // The SM-SR enabled the fallback (bootstrap) profile; GetEIS brought that state here.
    expect(view.profiles[ICCID].state).toBe('Enabled');
    expect(view.profiles[SECOND].state).toBe('Disabled');

    const list = await b.api.call({ method: 'GET', url: `/v1/sims/${EID}/esim/operations` });
    expect(list.statusCode).toBe(200);
    expect((list.json() as EsimOperationView[]).map((o) => o.kind)).toEqual([
      'disable',
      'enable',
      'download',
    ]);
  });

  it('deletes a disabled profile; the SIM view and the card lose it', async () => {
    await register();
    await stockSecondProfile();
    await download();
    const op = await finished(
      await b.api.call({ method: 'DELETE', url: `/v1/sims/${EID}/profiles/${SECOND}` }),
    );
    expect(op).toMatchObject({ kind: 'delete', status: 'succeeded' });
    expect((await sim()).profiles[SECOND]).toBeUndefined();
    expect(euiccIccids()).not.toContain(SECOND);
  });

  it('records a refusal of the SM-SR as a failed operation with its Subject/Reason codes', async () => {
    await register();
    // The bootstrap profile is enabled already: the SM-SR refuses to enable it again.
    const op = await finished(
      await b.api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${ICCID}/enable` }),
    );
    expect(op.status).toBe('failed');
    expect(op.result?.status).toBe('FAILED');
    expect(op.result?.subject).toMatch(/^\d+(\.\d+)*$/);
    expect(op.steps[0]).toMatchObject({ name: 'ES4.EnableProfile', state: 'failed' });
    expect(op.steps.map((s) => s.name)).not.toContain('ES4.GetEIS');
  });

  it('records the SM-DP refusing a download; the profile does not appear', async () => {
    await register();
    await stockSecondProfile();
    b.refuseNextDownload = failed(SUBJECT_CODES.EUICC, REASON_CODES.INSUFFICIENT_MEMORY, 'no memory');
    const op = await download();
    expect(op).toMatchObject({
      status: 'failed',
      result: { status: 'FAILED', subject: SUBJECT_CODES.EUICC, reason: REASON_CODES.INSUFFICIENT_MEMORY },
    });
    expect(op.steps.map((s) => [s.name, s.state])).toEqual([
      ['ES2.DownloadProfile', 'failed'],
      ['CreateISDP', 'failed'],
    ]);
    expect((await sim()).profiles[SECOND]).toBeUndefined();
    // The eUICC's slot is free again.
    expect((await download()).status).toBe('succeeded');
  });
});

describe('refusals', () => {
  it('another operator cannot see or act on this eUICC or read its operations', async () => {
    await register();
    await stockSecondProfile();
    const op = await download();
    const other = await b.api.newOperator();
    const as = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
      b.api.call({ method, url, token: other.token, ...(payload ? { payload } : {}) });
    expect((await as('GET', `/v1/sims/${EID}`)).statusCode).toBe(404);
    for (const [method, url, payload] of [
      ['POST', `/v1/sims/${EID}/profiles/${SECOND}/enable`],
      ['POST', `/v1/sims/${EID}/profiles/${SECOND}/disable`],
      ['DELETE', `/v1/sims/${EID}/profiles/${SECOND}`],
      ['POST', `/v1/sims/${EID}/profiles`, { iccid: SECOND, profileType: 'simtrust-usim' }],
      ['GET', `/v1/sims/${EID}/esim/operations`],
    ] as const) {
      const res = await as(method, url, payload);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().code).toBe('ERR_SIM_NOT_FOUND');
    }
    const read = await as('GET', `/v1/esim/operations/${op.operationId}`);
    expect(read.statusCode).toBe(404);
    expect(read.json().code).toBe('ERR_ESIM_OPERATION_NOT_FOUND');
    expect(b.downloads).toHaveLength(1);
  });

  it('refuses an unknown ICCID, a profile outside the inventory, a SIM that is no eUICC, bad bodies', async () => {
    await register();
    for (const url of [
      `/v1/sims/${EID}/profiles/${UNKNOWN_ICCID}/enable`,
      `/v1/sims/${EID}/profiles/${UNKNOWN_ICCID}/disable`,
    ]) {
      const res = await b.api.call({ method: 'POST', url });
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('ERR_ESIM_PROFILE_NOT_FOUND');
    }
    const outside = await b.api.call({
      method: 'POST',
      url: `/v1/sims/${EID}/profiles`,
      payload: { iccid: UNKNOWN_ICCID, profileType: 'simtrust-usim' },
    });
    expect(outside.statusCode).toBe(404);
    expect(outside.json().code).toBe('ERR_ESIM_PROFILE_NOT_FOUND');
    await stockSecondProfile();
    const plain = await b.api.call({ method: 'POST', url: `/v1/sims/${SECOND}/profiles/${SECOND}/enable` });
    expect(plain.statusCode).toBe(400);
    expect(plain.json().code).toBe('ERR_ESIM_NOT_EUICC');
    for (const payload of [
      {},
      { iccid: SECOND },
      { profileType: 'simtrust-usim' },
      { iccid: SECOND, profileType: '' },
      { iccid: SECOND, profileType: 'a b' },
      { iccid: 'abc', profileType: 'simtrust-usim' },
      { iccid: SECOND, profileType: 'simtrust-usim', enable: 'yes' },
      { iccid: SECOND, profileType: 'simtrust-usim', extra: 1 },
    ]) {
      const res = await b.api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles`, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().code).toBe('ERR_VALIDATION');
    }
    expect(b.downloads).toHaveLength(0);
  });

  it('hostile path parameters get a typed 400/404 (SECOND is in no inventory here), never a 500 or a port call', async () => {
    await register();
    const segment = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.stringMatching(/^[0-9]{0,40}$/),
      fc.constantFrom(EID, SECOND, UNKNOWN_ICCID, '..', '%00', '__proto__', `esop-${'f'.repeat(36)}`),
    );
    await fc.assert(
      fc.asyncProperty(segment, segment, fc.integer({ min: 0, max: 4 }), async (a, c, which) => {
        const sid = encodeURIComponent(a);
        const iccid = encodeURIComponent(c);
        const [method, url] = (
          [
            ['POST', `/v1/sims/${sid}/profiles/${iccid}/enable`],
            ['POST', `/v1/sims/${sid}/profiles/${iccid}/disable`],
            ['DELETE', `/v1/sims/${sid}/profiles/${iccid}`],
            ['GET', `/v1/esim/operations/${iccid}`],
            ['GET', `/v1/sims/${sid}/esim/operations`],
          ] as const
        )[which] ?? ['GET', '/'];
        const res = await b.api.call({ method, url });
        if (res.statusCode === 200) {
          // Only this eUICC's own list answers (no operation ran, so it is empty).
          expect([a, which]).toEqual([EID, 4]);
          expect(res.json()).toEqual([]);
          return;
        }
        expect([400, 404], `${method} ${url} → ${res.body}`).toContain(res.statusCode);
        expect(res.json()).toHaveProperty('code');
      }),
      { numRuns: 150 },
    );
    // No hostile path reached a role: no operation exists.
    expect(
      await b.api.platform.store.db.selectFrom('esim_operations').select('operation_id').execute(),
    ).toEqual([]);
  });

  it('hostile progress reports never reject and never touch an operation they do not name', async () => {
    await register();
    await stockSecondProfile();
    const op = await download();
    const ops = b.api.platform.esimOperations;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          functionCallIdentifier: fc.oneof(fc.string(), fc.constant(op.operationId), fc.constant('esop-x')),
          step: fc.oneof(fc.string({ maxLength: 300 }), fc.constant('')),
          state: fc.oneof(fc.constantFrom('running', 'succeeded', 'failed'), fc.string()),
          detail: fc.option(fc.string({ maxLength: 1000 }), { nil: undefined }),
        }),
        async (r) => {
          await expect(ops.report(r as never)).resolves.toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
    // The ended operation took none of them.
    expect((await operation(op.operationId)).steps).toEqual(op.steps);
  });
});

/** The ICCIDs of the profiles installed on the card model. */
function euiccIccids(): string[] {
  return euiccOf(b.card)
    .snapshot()
    .isdps.flatMap((i) => (i.profile === undefined ? [] : [i.profile.identity.iccid]));
}

describe('recovery', () => {
  it('recover() ends an operation a dead process left running once it is idle, and no live one', async () => {
    await register();
    await stockSecondProfile();
    await download();
    const res = await b.api.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${SECOND}/enable` });
    const id = (res.json() as EsimOperationView).operationId;
    await b.awaitingNotification('EnableProfile');
    // Another instance on the same database (this process's run is not its own).
    const other = new EsimOperations(b.api.platform.store, { now: () => Date.now() });
    expect(await other.recover()).toBe(0);
    expect((await operation(id)).status).toBe('running');
    const later = new EsimOperations(b.api.platform.store, { now: () => Date.now() + 600_001 });
    expect(await later.recover()).toBe(1);
    const ended = await operation(id);
    expect(ended).toMatchObject({ status: 'failed', result: { status: 'FAILED', reason: '4.2' } });
    expect(ended.steps.every((s) => s.state !== 'running')).toBe(true);
    // The eUICC's slot is free: the card's confirmation still completes the SM-SR's procedure.
    expect(await b.attach()).toBe(1);
    await b.api.platform.esimOperations.settled(id);
    // The live run's late outcome does not reopen the ended operation.
    expect((await operation(id)).status).toBe('failed');
  });
});
