// "Switch carrier" through operator 1's API (issue 16): POST /v1/sims/{simId}/switch_operator between
// two deployments in this process (fixture.ts), on the suite's database (SQLite or PostgreSQL).
// Threats: a switch that moves the eUICC without the operation saying so (or says so when it did not);
// a SIM that both operators think they manage, or that neither shows; a second switch running beside
// the first; a partner's profile pool turned into a way to clone another SIM of the target's
// inventory; a restart that loses track of how far the switch got.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIFE_CYCLE } from '../../../../src/card/euicc/euicc-state.js';
import type { EsimOperationView } from '../../../../src/platform/esim/operations/operations-service.js';
import { loadEis } from '../../../../src/platform/esim/sm-sr/eis-store.js';
import { SWITCH_POOL_TAG } from '../../../../src/platform/esim/switch/target.js';
import type { SimView } from '../../../../src/platform/sims/model.js';
import { euiccOf } from '../../../card/euicc/fixture.js';
import { ICCID } from '../../../card/fixture.js';
import { createTestPki, type TestPki } from '../../../helpers/esim-pki.js';
import {
  EID,
  MNO_ID,
  MNO2_ID,
  PROFILE_B,
  PROFILE_C,
  PROFILE_TYPE,
  SMDP2_ID,
  SMSR1_ID,
  SMSR2_ID,
  type SwitchRig,
  switchRig,
} from './fixture.js';

const B = PROFILE_B.identity.iccid;
let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

let s: SwitchRig | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function start(): Promise<SwitchRig> {
  s = await switchRig(pki);
  return s;
}

const body = (o: Record<string, unknown> = {}) => ({
  targetSmsrId: SMSR2_ID,
  targetSmdpId: SMDP2_ID,
  profileType: PROFILE_TYPE,
  ...o,
});
const switchOf = (r: SwitchRig, payload: Record<string, unknown> = body(), simId = EID) =>
  r.op1.call({ method: 'POST', url: `/v1/sims/${simId}/switch_operator`, payload });
const simAt = async (api: SwitchRig['op1'], simId = EID) => {
  const res = await api.call({ method: 'GET', url: `/v1/sims/${simId}` });
  return { code: res.statusCode, sim: res.json() as SimView };
};
const stepsOf = (op: EsimOperationView) => op.steps.map((x) => [x.name, x.state]);
const operationsAt = async (r: SwitchRig) =>
  r.op1.platform.store.db.selectFrom('esim_operations').selectAll().execute();

describe('POST /v1/sims/{simId}/switch_operator', () => {
  it('hands the eUICC over to SM-SR2 and enables operator 2 profile through SM-DP2, step by step', async () => {
    const r = await start();
    const res = await switchOf(r);
    expect(res.statusCode, res.body).toBe(202);
    const first = res.json() as EsimOperationView;
    expect(first).toMatchObject({
      kind: 'switch',
      status: 'running',
      simId: EID,
      profileType: PROFILE_TYPE,
      target: { smsrId: SMSR2_ID, smdpId: SMDP2_ID },
    });
    expect(first.steps[0]?.name).toBe('ES4.PrepareSMSRChange');

    const op = await r.ended(first.operationId);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    expect(op.result?.status).toBe('EXECUTED_SUCCESS');
    expect(op.iccid).toBe(B);
    expect(stepsOf(op)).toEqual([
      ['ES4.PrepareSMSRChange', 'succeeded'],
      ['ES4.SMSRChange', 'succeeded'],
      ['ES2.DownloadProfile', 'succeeded'],
      ['EnableProfile', 'succeeded'],
    ]);
    for (const step of op.steps) {
      expect(step.endedTime).not.toBeNull();
      expect(step.endedTime as number).toBeGreaterThanOrEqual(step.startedTime);
    }
    // Each step began after the one before ended.
    for (let i = 1; i < op.steps.length; i++)
      expect(op.steps[i]?.startedTime).toBeGreaterThanOrEqual(op.steps[i - 1]?.endedTime as number);

    // The card: profile B enabled, A still there (disabled).
    const card = euiccOf(r.rig.d.card);
    const isdps = card.persistentState().isdps;
    expect(isdps.find((p) => p.profile?.identity.iccid === B)?.state).toBe(LIFE_CYCLE.ENABLED);
    expect(isdps.find((p) => p.profile?.identity.iccid === ICCID)?.state).toBe(LIFE_CYCLE.DISABLED);
    // The SM-SRs: SM-SR2 holds the EIS, SM-SR1 none.
    expect(await loadEis(r.rig.sr1.db.store.db, EID)).toBeUndefined();
    const eis2 = await loadEis(r.rig.sr2.db.store.db, EID);
    expect(eis2?.smsrId).toBe(SMSR2_ID);
    expect(eis2?.profiles.find((p) => p.iccid === B)).toMatchObject({ state: 'Enabled', mnoId: MNO2_ID });

    // Operator 1: handed over, its profile A shown handed-over, nothing active.
    const one = await simAt(r.op1);
    expect(one.code).toBe(200);
    expect(one.sim.handedOver).toMatchObject({ smsrId: SMSR2_ID });
    expect(one.sim.activeProfileId).toBeNull();
    expect(one.sim.profiles[ICCID]?.state).toBe('handed-over');
    expect(one.sim.profiles[B]).toBeUndefined();
    // Operator 2: the eUICC is in its inventory with profile B enabled (its own MNO's profiles).
    const two = await simAt(r.op2);
    expect(two.code, JSON.stringify(two.sim)).toBe(200);
    expect(two.sim).toMatchObject({ type: 'euicc', eid: EID, activeProfileId: B, handedOver: null });
    expect(two.sim.profiles[B]).toMatchObject({
      state: 'Enabled',
      mnoId: MNO2_ID,
      primaryImsi: PROFILE_B.identity.imsi,
    });

    // Audit on both sides; operator 1 can no longer operate the eUICC through its SM-SR.
    const audit1 = await r.op1.platform.store.db
      .selectFrom('audit_logs')
      .select(['operation_id', 'detail'])
      .where('operation_id', '=', 'Esim:switchEsimOperator')
      .execute();
    expect(audit1).toHaveLength(1);
    expect(JSON.parse(audit1[0]?.detail ?? '{}')).toMatchObject({ targetSmsrId: SMSR2_ID, kind: 'switch' });
    const audit2 = await r.op2.platform.store.db
      .selectFrom('audit_logs')
      .select(['operation_id', 'detail'])
      .where('operation_id', '=', 'Esim:adoptEuicc')
      .execute();
    expect(audit2).toHaveLength(1);
    expect(JSON.parse(audit2[0]?.detail ?? '{}')).toMatchObject({ eid: EID, switchFrom: MNO_ID, iccid: B });
    const again = await switchOf(r);
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('ERR_ESIM_HANDED_OVER');
    const enable = await r.op1.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/${ICCID}/enable` });
    expect(enable.json().code).toBe('ERR_ESIM_HANDED_OVER');
    // Its operations stay readable.
    const list = await r.op1.call({ method: 'GET', url: `/v1/sims/${EID}/esim/operations` });
    expect(list.statusCode).toBe(200);
    expect((list.json() as EsimOperationView[]).map((o) => o.kind)).toEqual(['switch']);
    expect(r.downloads).toHaveLength(1);
  }, 180_000);

  it.each([
    ['', true],
    [
      ' — the eUICC declaration of its first attach never confirmed, so the card sends it with the enables (not read as a rollback)',
      false,
    ],
  ] as const)(
    'switches back (1 → 2 → 1): operator 2 switches the eUICC to operator 1, which takes its SIM back%s',
    async (_, attachedBefore) => {
      s = await switchRig(pki, { attachedBefore });
      const r = s;
      const first = await r.ended((await switchOf(r)).json().operationId);
      expect(first.status, JSON.stringify(first)).toBe('succeeded');
      await r.wayBack();
      const back = await r.op2.call({
        method: 'POST',
        url: `/v1/sims/${EID}/switch_operator`,
        payload: { targetSmsrId: SMSR1_ID, targetSmdpId: SMDP2_ID, profileType: PROFILE_TYPE },
      });
      expect(back.statusCode, back.body).toBe(202);
      const op = await r.ended(back.json().operationId, r.op2);
      expect(op.status, JSON.stringify(op)).toBe('succeeded');
      expect(op.result?.status, JSON.stringify(op)).toBe('EXECUTED_SUCCESS');
      expect(op.iccid).toBe(PROFILE_C.identity.iccid);
      // SM-SR1 manages the eUICC again, SM-SR2 no longer; the card runs profile C.
      expect((await loadEis(r.rig.sr1.db.store.db, EID))?.smsrId).toBe(SMSR1_ID);
      expect(await loadEis(r.rig.sr2.db.store.db, EID)).toBeUndefined();
      const isdps = euiccOf(r.rig.d.card).persistentState().isdps;
      expect(isdps.find((p) => p.profile?.identity.iccid === PROFILE_C.identity.iccid)?.state).toBe(
        LIFE_CYCLE.ENABLED,
      );
      // Operator 1 took its SIM back (one SIM, not handed over, C active, A still its own); operator 2
      // shows it handed over.
      const one = await simAt(r.op1);
      expect(one.sim, JSON.stringify(one.sim.profiles)).toMatchObject({
        handedOver: null,
        activeProfileId: PROFILE_C.identity.iccid,
      });
      expect(one.sim.profiles[ICCID]?.state).toBe('Disabled');
      const two = await simAt(r.op2);
      expect(two.sim.handedOver).toMatchObject({ smsrId: SMSR1_ID });
      expect(two.sim.profiles[B]?.state).toBe('handed-over');
      const adopted = await r.op1.platform.store.db
        .selectFrom('audit_logs')
        .select('detail')
        .where('operation_id', '=', 'Esim:adoptEuicc')
        .execute();
      expect(adopted.map((a) => JSON.parse(a.detail).returned)).toEqual([true]);
      // Operator 1 manages it again through its own SM-SR.
      const audit = await r.op1.call({ method: 'POST', url: `/v1/sims/${EID}/profiles/audit` });
      expect(audit.statusCode, audit.body).toBe(202);
      const audited = await r.ended(audit.json().operationId);
      expect(audited.status, JSON.stringify(audited)).toBe('succeeded');
    },
    240_000,
  );

  it('refuses an unknown target, a SIM that is no eUICC, its own SM-SR and bad bodies, creating nothing', async () => {
    const r = await start();
    r.partners.smsr = false;
    const noSmsr = await switchOf(r);
    expect(noSmsr.statusCode).toBe(404);
    expect(noSmsr.json()).toMatchObject({ code: 'ERR_ESIM_PARTNER_NOT_FOUND' });
    expect(noSmsr.json().message).toMatch(/partners add --role sm-sr/);
    r.partners.smsr = true;
    r.partners.smdp = false;
    const noSmdp = await switchOf(r);
    expect(noSmdp.statusCode).toBe(404);
    expect(noSmdp.json().message).toMatch(/SM-DP .* is not a partner/);
    r.partners.smdp = true;
    const unknownTarget = await switchOf(r, body({ targetSmsrId: '1.3.6.1.4.1.99999.1.77' }));
    expect(unknownTarget.json().code).toBe('ERR_ESIM_PARTNER_NOT_FOUND');
    const self = await switchOf(r, body({ targetSmsrId: SMSR1_ID }));
    expect(self.statusCode).toBe(400);
    // A plain SIM of operator 1.
    const plain = await r.op1.call({
      method: 'POST',
      url: '/v1/sims',
      payload: { iccid: B, imsi: PROFILE_B.identity.imsi, ki: '00'.repeat(16), opc: '11'.repeat(16) },
    });
    expect(plain.statusCode).toBe(201);
    const notEuicc = await switchOf(r, body(), (plain.json() as SimView).simId);
    expect(notEuicc.statusCode).toBe(400);
    expect(notEuicc.json().code).toBe('ERR_ESIM_NOT_EUICC');
    const unknownSim = await switchOf(r, body(), '89049032000000000000000000000000');
    expect(unknownSim.statusCode).toBe(404);
    for (const bad of [
      body({ targetSmsrId: 'not-an-oid' }),
      body({ targetSmdpId: '' }),
      body({ profileType: 'has space' }),
      body({ iccid: '12' }),
      body({ extra: 1 }),
      { targetSmsrId: SMSR2_ID, profileType: PROFILE_TYPE },
    ]) {
      const res = await switchOf(r, bad);
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
    }
    // Another operator does not see operator 1's eUICC.
    const other = await r.op1.newOperator();
    const foreign = await r.op1.call({
      method: 'POST',
      url: `/v1/sims/${EID}/switch_operator`,
      payload: body(),
      token: other.token,
    });
    expect(foreign.statusCode).toBe(404);
    expect(await operationsAt(r)).toHaveLength(0);
    expect(r.downloads).toHaveLength(0);
  }, 120_000);

  it('runs a switch requested twice at once only once (the other gets 409)', async () => {
    const r = await start();
    const [a, b] = await Promise.all([switchOf(r), switchOf(r)]);
    const codes = [a.statusCode, b.statusCode].sort();
    expect(codes).toEqual([202, 409]);
    const loser = a.statusCode === 409 ? a : b;
    const winner = (a.statusCode === 202 ? a : b).json() as EsimOperationView;
    expect(loser.json().code).toBe('ERR_ESIM_OPERATION_IN_PROGRESS');
    expect(loser.json().message).toContain(winner.operationId);
    expect((await r.ended(winner.operationId)).status).toBe('succeeded');
    expect(await operationsAt(r)).toHaveLength(1);
    expect(r.downloads).toHaveLength(1);
  }, 180_000);

  it('fails before the commit point with SM-SR1 in charge: a receipt that does not verify', async () => {
    const r = await start();
    r.rig.tamper = (fn, a) => {
      if (fn !== 'CreateAdditionalKeySet') return undefined;
      const answer = a as { receipt: Uint8Array };
      const receipt = answer.receipt.slice();
      receipt[0] = (receipt[0] ?? 0) ^ 1;
      return { ...answer, receipt };
    };
    const op = await r.ended((await switchOf(r)).json().operationId);
    expect(op.status).toBe('failed');
    expect(stepsOf(op)).toEqual([
      ['ES4.PrepareSMSRChange', 'succeeded'],
      ['ES4.SMSRChange', 'failed'],
    ]);
    expect(op.result?.message).toMatch(
      /before its commit point: this deployment's SM-SR still manages the eUICC/,
    );
    expect((await loadEis(r.rig.sr1.db.store.db, EID))?.smsrId).toBe(SMSR1_ID);
    const one = await simAt(r.op1);
    expect(one.sim.handedOver).toBeNull();
    expect(one.sim.profiles[ICCID]?.state).toBe('Enabled');
    expect((await simAt(r.op2)).code).toBe(404);
    expect(r.downloads).toHaveLength(0);
  }, 180_000);

  it('SM-SR2 answer to HandoverEUICC lost after its commit: the switch waits for the outcome and goes on (never "failed before the commit point")', async () => {
    const r = await start();
    const ops = r.op1.platform.esimOperations;
    ops.switchTiming = { ...ops.switchTiming, unresolvedRetryMs: [20] };
    // SM-SR2 takes the eUICC over, but SM-SR1 gets no answer (a SOAP client's 1.2/3.7) — once.
    let lost = 0;
    r.rig.tamper = (fn) => {
      if (fn !== 'HandoverEUICC' || lost > 0) return undefined;
      lost++;
      return {
        functionExecutionStatus: {
          status: 'FAILED',
          statusCodeData: { subject: '1.2', reason: '3.7', message: 'SM-SR2 did not answer (lost)' },
        },
      };
    };
    const op = await r.ended((await switchOf(r)).json().operationId);
    expect(lost).toBe(1);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    expect(stepsOf(op)).toEqual([
      ['ES4.PrepareSMSRChange', 'succeeded'],
      ['ES4.SMSRChange', 'succeeded'],
      ['ES2.DownloadProfile', 'succeeded'],
      ['EnableProfile', 'succeeded'],
    ]);
    // Asked again, SM-SR2 said it manages the eUICC: SM-SR1 deleted its EIS, with a warning.
    expect(op.result?.status).toBe('EXECUTED_WITHWARNING');
    expect(op.result?.message).toMatch(/already managed/);
    expect(await loadEis(r.rig.sr1.db.store.db, EID)).toBeUndefined();
    expect((await loadEis(r.rig.sr2.db.store.db, EID))?.smsrId).toBe(SMSR2_ID);
    expect((await simAt(r.op1)).sim.handedOver).toMatchObject({ smsrId: SMSR2_ID });
    expect((await simAt(r.op2)).sim.activeProfileId).toBe(B);
    expect(r.downloads).toHaveLength(1);
  }, 180_000);

  it('a hand-over whose outcome stays unknown, given up by the operator at SM-SR1: the switch ends saying so, not "failed before the commit point"', async () => {
    const r = await start();
    const ops = r.op1.platform.esimOperations;
    ops.switchTiming = { ...ops.switchTiming, unresolvedRetryMs: [20] };
    // SM-SR2 never answers HandoverEUICC (as if down): SMSRChange keeps answering "not known yet".
    r.rig.tamper = (fn) =>
      fn === 'HandoverEUICC'
        ? {
            functionExecutionStatus: {
              status: 'FAILED',
              statusCodeData: { subject: '1.2', reason: '3.7', message: 'SM-SR2 did not answer' },
            },
          }
        : undefined;
    const id = (await switchOf(r)).json().operationId as string;
    const mine = r.rig.sr1.change.handoversFor(MNO_ID);
    const deadline = Date.now() + 60_000;
    while ((await mine.get(EID))?.state !== 'unresolved') {
      if (Date.now() > deadline) throw new Error('the hand-over never became unresolved');
      await new Promise((go) => setTimeout(go, 20));
    }
    expect((await mine.abandon(EID, 'user:ops@example'))?.outcome).toBe('given-up');
    const op = await r.ended(id);
    expect(op.status).toBe('failed');
    expect(stepsOf(op)).toEqual([
      ['ES4.PrepareSMSRChange', 'succeeded'],
      ['ES4.SMSRChange', 'failed'],
    ]);
    expect(op.result?.message).toMatch(/was given up with its outcome unknown/);
    expect(op.result?.message).not.toMatch(/before its commit point/);
    expect(r.downloads).toHaveLength(0);
  }, 180_000);

  it('after the commit, a download the target cannot serve fails the switch with the SIM handed over', async () => {
    const r = await start();
    // Operator 2 took profile B out of the switch pool: nothing is offered as simtrust-usim.
    await r.op2.platform.store.db.deleteFrom('sim_tags').where('name', '=', SWITCH_POOL_TAG).execute();
    const op = await r.ended((await switchOf(r)).json().operationId);
    expect(op.status).toBe('failed');
    expect(stepsOf(op)).toEqual([
      ['ES4.PrepareSMSRChange', 'succeeded'],
      ['ES4.SMSRChange', 'succeeded'],
      ['ES2.DownloadProfile', 'failed'],
    ]);
    expect(op.result).toMatchObject({ status: 'FAILED', subject: '8.2.1', reason: '3.9' });
    expect(op.result?.message).toMatch(/handed over to .*, but the profile download .* failed/);
    expect((await simAt(r.op1)).sim.handedOver).toMatchObject({ smsrId: SMSR2_ID });
    expect((await loadEis(r.rig.sr2.db.store.db, EID))?.smsrId).toBe(SMSR2_ID);
  }, 180_000);

  it('never serves a profile outside the target operator pool, even when the partner names its ICCID', async () => {
    const r = await start();
    // Operator 2's other SIM, not in the pool: naming it must not download it.
    const other = await r.op2.call({
      method: 'POST',
      url: '/v1/sims',
      payload: { iccid: ICCID, imsi: '001010000000009', ki: '22'.repeat(16), opc: '33'.repeat(16) },
    });
    expect(other.statusCode).toBe(201);
    const op = await r.ended((await switchOf(r, body({ iccid: ICCID }))).json().operationId);
    expect(op.status).toBe('failed');
    expect(op.result?.message).toMatch(/not offered for switches/);
    const dp = await r.op2.platform.store.db.selectFrom('esim_dp_downloads').selectAll().execute();
    expect(dp).toHaveLength(0);
  }, 180_000);
});
