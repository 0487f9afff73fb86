// SM-SR change between two SM-SR deployments (SGP.02 §3.8, issue 16), platform side: ES4
// PrepareSMSRChange at SM-SR2, ES4 SMSRChange at SM-SR1, ES7 HandoverEUICC / AuthenticateSMSR /
// CreateAdditionalKeySet between them, the card reached over SCP80 SMS by each with the keys in its
// own database. Threats: an SM-SR taking over an eUICC without the operator's prepare, or with a
// certificate not from the CI, or with a key agreement the card did not sign off; a failure that
// leaves nobody (or both) in charge of the eUICC; SM-SR1 still reaching the card afterwards.

import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { getStatusApdu } from '../../../../src/lib/sgp-02-es5.js';
import {
  type FunctionExecutionStatus,
  SUCCESS,
} from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import { loadEis } from '../../../../src/platform/esim/sm-sr/eis-store.js';
import { SM_SR_CHANGE_FUNCTIONS } from '../../../../src/platform/esim/sm-sr-change/sm-sr-change-service.js';
import { es5, euiccOf, KEYS } from '../../../card/euicc/fixture.js';
import { createTestPki, newKeyPair, type TestPki } from '../../../helpers/esim-pki.js';
import {
  type Deployment,
  EID,
  MNO_ID,
  type Rig,
  SMSR1_ID,
  SMSR2_ID,
  SMSR2_KVN,
  smsr2Certificate,
  twoSmSrs,
} from './fixture.js';

let pki: TestPki;
let otherPki: TestPki;
beforeAll(async () => {
  [pki, otherPki] = await Promise.all([
    createTestPki(),
    createTestPki({ ciName: 'CN=Another eSIM CI,O=simtrust test' }),
  ]);
});

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** Two SM-SRs for one test; closed after it. */
async function start(o?: Parameters<typeof twoSmSrs>[1]): Promise<Rig> {
  const r = await twoSmSrs(pki, o);
  rig = r;
  return r;
}

let calls = 0;
const fcid = () => `fc-${++calls}`;

const prepare = (r: Rig, current = SMSR1_ID) =>
  r.sr2.change
    .es4For(MNO_ID)
    .prepareSMSRChange({ functionCallIdentifier: fcid(), eid: EID, currentSmsrId: current })
    .then((a) => a.functionExecutionStatus);
const change = (r: Rig, target = SMSR2_ID) =>
  r.sr1.change
    .es4For(MNO_ID)
    .smsrChange({ functionCallIdentifier: fcid(), eid: EID, targetSmsrId: target })
    .then((a) => a.functionExecutionStatus);
const audit = (at: Deployment) =>
  at.smsr
    .es4For(MNO_ID)
    .auditEIS({ functionCallIdentifier: fcid(), eid: EID, iccids: [] })
    .then((a) => a.functionExecutionStatus);

const cardKvns = (r: Rig) => {
  const s = euiccOf(r.d.card).persistentState();
  return { scp80: s.scp80.map((k) => k.kvn), scp81: s.scp81.map((k) => k.kvn) };
};
const codes = (s: FunctionExecutionStatus) => [s.status, s.statusCodeData?.subject, s.statusCodeData?.reason];

/** The running procedure row of a function at a deployment, else its last one (the test clock stands still). */
const lastProcedure = async (at: Deployment, fn: string) => {
  const rows = await at.db.store.db
    .selectFrom('esim_sr_procedures')
    .selectAll()
    .where('function', '=', fn)
    .orderBy('updated_at')
    .execute();
  return rows.find((p) => p.active_eid !== null) ?? rows.at(-1);
};

/** How SM-SR2's take-over ended (its procedure row's result). */
const takeOverResult = async (r: Rig): Promise<FunctionExecutionStatus | undefined> => {
  const p = await lastProcedure(r.sr2, SM_SR_CHANGE_FUNCTIONS.takeOver);
  return p?.result == null ? undefined : (JSON.parse(p.result) as FunctionExecutionStatus);
};

/** SM-SR1 still in charge: its EIS, SM-SR2 none, SM-SR1 audits the card over its own keys. */
async function sr1InCharge(r: Rig) {
  expect((await loadEis(r.sr1.db.store.db, EID))?.smsrId).toBe(SMSR1_ID);
  expect(await loadEis(r.sr2.db.store.db, EID)).toBeUndefined();
  expect((await audit(r.sr1)).status).toBe('EXECUTED_SUCCESS');
  // SM-SR2's take-over is over (the EID is not locked there any more).
  const taken = await lastProcedure(r.sr2, SM_SR_CHANGE_FUNCTIONS.takeOver);
  if (taken !== undefined) expect(taken.active_eid).toBeNull();
}

describe('SM-SR change, platform side (two SM-SRs, one eUICC over SCP80)', () => {
  it('PrepareSMSRChange → SMSRChange: SM-SR2 holds the EIS and audits the card over its own key set; SM-SR1 holds no EIS and its old keys are refused by the card', async () => {
    const r = await start();
    expect(cardKvns(r)).toEqual({ scp80: [1], scp81: [0x40] });
    expect(codes(await prepare(r))).toEqual(['EXECUTED_SUCCESS', undefined, undefined]);
    expect(codes(await change(r))).toEqual(['EXECUTED_SUCCESS', undefined, undefined]);

    // Each message left after the step naming it was stored (durable, resumable).
    expect(r.sent).toEqual([
      { from: 'sr1', what: 'ES7 HandoverEUICC', step: 'handover-sent' },
      { from: 'sr2', what: 'ES7 AuthenticateSMSR', step: 'authenticate-sent' },
      { from: 'sr1', what: 'ES5 80e20900', step: 'certificate-sent' },
      { from: 'sr2', what: 'ES7 CreateAdditionalKeySet', step: 'key-agreement-sent' },
      { from: 'sr1', what: 'ES5 80e28901', step: 'key-agreement-sent' },
      { from: 'sr2', what: 'ES5 80e40000', step: 'finalise-sent' },
      { from: 'sr2', what: 'ES5 80e20900', step: 'scp81-sent' },
      { from: 'sr2', what: 'ES5 80e28901', step: 'scp81-sent' },
    ]);

    // The card: only SM-SR2's key sets (SCP80 KVN 2 and its new SCP81 PSK).
    expect(cardKvns(r)).toEqual({ scp80: [SMSR2_KVN], scp81: [0x40] });
    // SM-SR1: no EIS, its procedure ended with success.
    expect(await loadEis(r.sr1.db.store.db, EID)).toBeUndefined();
    expect(
      codes(
        (await r.sr1.smsr.es4For(MNO_ID).getEIS({ functionCallIdentifier: fcid(), eid: EID }))
          .functionExecutionStatus,
      ),
    ).toEqual(['FAILED', '8.1.1', '3.9']);
    expect(await r.sr1.db.store.db.selectFrom('esim_sr_keysets').selectAll().execute()).toEqual([]);
    // SM-SR2: the EIS names it and lists its key sets only (no key values in the EIS).
    const eis = await loadEis(r.sr2.db.store.db, EID);
    expect(eis?.smsrId).toBe(SMSR2_ID);
    expect(eis?.isdR.keysets.map((k) => [k.type, k.version, k.keys.length])).toEqual([
      ['SCP80', SMSR2_KVN, 0],
      ['SCP81', 0x40, 0],
    ]);
    expect(eis?.profiles.map((p) => p.state)).toEqual(['Enabled']);
    // SM-SR2 reaches the card over its own key set: AuditEIS by SMS under KVN 2.
    const before = r.sent.length;
    expect((await audit(r.sr2)).status).toBe('EXECUTED_SUCCESS');
    expect(r.sent.slice(before).map((s) => s.from)).toEqual(['sr2']);
    // SM-SR1's old key set (KVN 1) is refused by the card: nothing runs.
    const refused = es5(r.d, [getStatusApdu()], 0x1000, { keys: KEYS });
    expect(refused.por.status).not.toBe(0);
    expect(refused.answers).toEqual([]);
  });

  it('1 → 2 → 1: SM-SR2 hands the eUICC back; SM-SR1 takes it over with a new KVN-1 key set, SM-SR2 holds nothing', async () => {
    const r = await start();
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    expect((await change(r)).status).toBe('EXECUTED_SUCCESS');
    // Now the roles swap: the operator prepares SM-SR1 and asks SM-SR2 for the change.
    const back = await r.sr1.change
      .es4For(MNO_ID)
      .prepareSMSRChange({ functionCallIdentifier: fcid(), eid: EID, currentSmsrId: SMSR2_ID });
    expect(back.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const s = await r.sr2.change
      .es4For(MNO_ID)
      .smsrChange({ functionCallIdentifier: fcid(), eid: EID, targetSmsrId: SMSR1_ID });
    expect(codes(s.functionExecutionStatus)).toEqual(['EXECUTED_SUCCESS', undefined, undefined]);
    expect(cardKvns(r)).toEqual({ scp80: [1], scp81: [0x40] });
    expect(await loadEis(r.sr2.db.store.db, EID)).toBeUndefined();
    expect((await loadEis(r.sr1.db.store.db, EID))?.smsrId).toBe(SMSR1_ID);
    expect((await audit(r.sr1)).status).toBe('EXECUTED_SUCCESS');
    // The fixture's original KVN-1 keys (the EUM's) are gone: the new set has other values.
    expect(es5(r.d, [getStatusApdu()], 0x2000, { keys: KEYS }).answers).toEqual([]);
  });

  it('an SMSRChange requested twice at once runs once: the second is refused busy', async () => {
    const r = await start();
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    const both = await Promise.all([change(r), change(r)]);
    expect(both.map((s) => s.status).sort()).toEqual(['EXECUTED_SUCCESS', 'FAILED']);
    expect(both.map((s) => s.statusCodeData?.reason).filter((x) => x !== undefined)).toEqual(['3.7']);
    expect((await loadEis(r.sr2.db.store.db, EID))?.smsrId).toBe(SMSR2_ID);
    expect(await loadEis(r.sr1.db.store.db, EID)).toBeUndefined();
  });

  it('refusals before anything reaches the card: unknown partners, no prepare, a second prepare', async () => {
    const r = await start();
    expect(codes(await prepare(r, '1.3.6.1.4.1.99999.1.77'))).toEqual(['FAILED', '8.7', '3.9']);
    expect(codes(await change(r, '1.3.6.1.4.1.99999.1.77'))).toEqual(['FAILED', '8.7', '3.9']);
    // SMSRChange without PrepareSMSRChange at SM-SR2: SM-SR2 refuses the handover.
    const s = await change(r);
    expect(codes(s)).toEqual(['FAILED', '8.7', '3.8']);
    expect(s.statusCodeData?.message).toMatch(/no PrepareSMSRChange/);
    expect(r.sent.map((x) => x.what)).toEqual(['ES7 HandoverEUICC']);
    await sr1InCharge(r);
    // A second prepare of the same eUICC while one is pending: busy.
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    expect(codes(await prepare(r))).toEqual(['FAILED', '8.1', '3.7']);
  });

  it('an SM-SR2 certificate from another CI: SM-SR1 does not relay it, SM-SR1 stays in charge', async () => {
    const key = newKeyPair();
    const r = await start({
      sr2Identity: {
        certificate: smsr2Certificate(otherPki, key, otherPki.ci.privateKey),
        privateKey: key.privateKey,
      },
    });
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    const s = await change(r);
    expect(codes(s)).toEqual(['FAILED', '8.7', '3.8']);
    expect(s.statusCodeData?.message).toMatch(/AuthenticateSMSR at the current SM-SR: CERT_/);
    expect(codes((await takeOverResult(r)) ?? SUCCESS)).toEqual(['FAILED', '8.7.1', '6.1']);
    expect(r.sent.filter((x) => x.what.startsWith('ES5'))).toEqual([]);
    expect(cardKvns(r)).toEqual({ scp80: [1], scp81: [0x40] });
    await sr1InCharge(r);
  });

  it('a key agreement signed by a key the certificate does not certify: the card refuses it (6982), SM-SR1 stays in charge', async () => {
    const certified = newKeyPair();
    const r = await start({
      sr2Identity: { certificate: smsr2Certificate(pki, certified), privateKey: newKeyPair().privateKey },
    });
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    const s = await change(r);
    expect(s.status).toBe('FAILED');
    expect(s.statusCodeData?.message).toMatch(/CreateAdditionalKeySet.*6982/);
    expect(cardKvns(r)).toEqual({ scp80: [1], scp81: [0x40] });
    await sr1InCharge(r);
  });

  it('a receipt that does not verify (failure before the commit point): SM-SR2 stores nothing, SM-SR1 stays in charge', async () => {
    const r = await start();
    r.tamper = (fn, a) => {
      if (fn !== 'CreateAdditionalKeySet') return undefined;
      const answer = a as { receipt: Uint8Array };
      const receipt = answer.receipt.slice();
      receipt[0] = (receipt[0] ?? 0) ^ 1;
      return { ...answer, receipt };
    };
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    const s = await change(r);
    expect(codes(s)).toEqual(['FAILED', '8.7', '3.8']);
    expect(s.statusCodeData?.message).toMatch(/SGP02_KE_RECEIPT/);
    expect(codes((await takeOverResult(r)) ?? SUCCESS)).toEqual(['FAILED', '8.1', '6.1']);
    // The card made KS2 (it cannot know the receipt was refused); SM-SR2 never uses it.
    expect(cardKvns(r).scp80).toEqual([1, SMSR2_KVN]);
    await sr1InCharge(r);
    expect((await lastProcedure(r.sr2, SM_SR_CHANGE_FUNCTIONS.takeOver))?.step).toBe('ended');
  });

  it('a failure after the commit point is a warning: FinaliseISDRhandover does not reach the card, SM-SR2 manages the eUICC anyway', async () => {
    const r = await start();
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    const sr2 = r.sr2;
    r.tamper = (fn) => {
      // SM-SR2's own ES5 fails from the moment the receipt is relayed to it.
      if (fn === 'CreateAdditionalKeySet') sr2.transport.fail = true;
      return undefined;
    };
    const s = await change(r);
    expect(codes(s)).toEqual(['EXECUTED_WITHWARNING', '8.1', '4.2']);
    expect(s.statusCodeData?.message).toMatch(/FinaliseISDRhandover/);
    expect(await loadEis(r.sr1.db.store.db, EID)).toBeUndefined();
    expect((await loadEis(r.sr2.db.store.db, EID))?.smsrId).toBe(SMSR2_ID);
    // SM-SR1's keys are still on the card (the DELETE never came); SM-SR2 reaches it with KS2.
    expect(cardKvns(r).scp80).toEqual([1, SMSR2_KVN]);
    sr2.transport.fail = false;
    expect((await audit(sr2)).status).toBe('EXECUTED_SUCCESS');
  });
  it('SM-SR2 dies after the commit point (FinaliseISDRhandover in flight) and both restart: SM-SR2 resumes phase 5, SM-SR1 asks again, is told "already managed" and deletes its EIS', async () => {
    const r = await start();
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    const dying = r.sr2;
    r.tamper = (fn) => {
      if (fn === 'CreateAdditionalKeySet') dying.transport.hang = 'before';
      return undefined;
    };
    void change(r); // never answers: SM-SR2 is gone
    await vi.waitFor(
      async () =>
        expect((await lastProcedure(dying, SM_SR_CHANGE_FUNCTIONS.takeOver))?.step).toBe('finalise-sent'),
      { timeout: 60_000, interval: 50 },
    );
    expect(cardKvns(r).scp80).toEqual([1, SMSR2_KVN]);
    // Meanwhile neither SM-SR runs anything else on the eUICC (one procedure per eUICC).
    expect(codes(await audit(r.sr1))).toEqual(['FAILED', '8.1', '3.7']);
    expect(codes(await audit(r.sr2))).toEqual(['FAILED', '8.1', '3.7']);
    r.tamper = undefined;
    await r.restart();
    expect(await r.sr2.change.recover()).toBe(1);
    expect(codes((await takeOverResult(r)) ?? SUCCESS)).toEqual(['EXECUTED_WITHWARNING', '8.7', '4.2']);
    expect(cardKvns(r)).toEqual({ scp80: [SMSR2_KVN], scp81: [0x40] });
    expect((await loadEis(r.sr1.db.store.db, EID))?.smsrId).toBe(SMSR1_ID); // not yet
    expect(await r.sr1.change.recover()).toBe(1);
    const ended = await lastProcedure(r.sr1, SM_SR_CHANGE_FUNCTIONS.handOver);
    expect(ended?.active_eid).toBeNull();
    const result = JSON.parse(ended?.result ?? '{}') as FunctionExecutionStatus;
    expect(result.status).toBe('EXECUTED_WITHWARNING');
    expect(result.statusCodeData?.message).toMatch(/already managed/);
    expect(await loadEis(r.sr1.db.store.db, EID)).toBeUndefined();
    expect((await audit(r.sr2)).status).toBe('EXECUTED_SUCCESS');
  });

  it('SM-SR1 dies relaying the key agreement (the card made KS2, no receipt reached SM-SR2) and both restart: SM-SR1 stays in charge; the next attempt replaces the unused KS2', async () => {
    const r = await start();
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    const dying = r.sr1;
    r.tamper = (fn) => {
      if (fn === 'AuthenticateSMSR') dying.transport.hang = 'after';
      return undefined;
    };
    void change(r);
    await vi.waitFor(() => expect(cardKvns(r).scp80).toEqual([1, SMSR2_KVN]), {
      timeout: 60_000,
      interval: 50,
    });
    r.tamper = undefined;
    await r.restart();
    expect(await r.sr2.change.recover()).toBe(1);
    expect((await takeOverResult(r))?.statusCodeData?.message).toMatch(/before the commit point/);
    expect(await r.sr1.change.recover()).toBe(1);
    const result = JSON.parse((await lastProcedure(r.sr1, SM_SR_CHANGE_FUNCTIONS.handOver))?.result ?? '{}');
    expect(codes(result)).toEqual(['FAILED', '8.7', '3.8']);
    await sr1InCharge(r);
    // The operator tries again: KS2 left on the card is replaced ("delete existing keys"). The
    // prepare survives another restart of SM-SR2 (both recoveries leave a pending prepare alone).
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    await r.restart();
    expect(await r.sr2.change.recover()).toBe(0);
    await r.sr2.smsr.recover();
    expect((await lastProcedure(r.sr2, SM_SR_CHANGE_FUNCTIONS.takeOver))?.step).toBe('prepared');
    expect((await change(r)).status).toBe('EXECUTED_SUCCESS');
    expect(cardKvns(r)).toEqual({ scp80: [SMSR2_KVN], scp81: [0x40] });
    expect((await audit(r.sr2)).status).toBe('EXECUTED_SUCCESS');
  });
  it('the answer to HandoverEUICC is lost (the port breaks after SM-SR2 committed): SM-SR1 answers "not known yet" and keeps the eUICC locked; the operator\'s retry is told "already managed" and completes', async () => {
    const r = await start();
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    r.tamper = (fn) => {
      if (fn === 'HandoverEUICC') throw new Error('connection reset (test)');
      return undefined;
    };
    const lost = await change(r);
    expect(codes(lost)).toEqual(['FAILED', '8.7', '3.7']);
    expect(lost.statusCodeData?.message).toMatch(/connection reset.*not known yet/);
    r.tamper = undefined;
    // Both hold the EIS for now; only SM-SR2's keys work on the card. SM-SR1 does not act as if in
    // charge: its row stays open and nothing else of it runs on the eUICC.
    expect((await loadEis(r.sr1.db.store.db, EID))?.smsrId).toBe(SMSR1_ID);
    expect((await loadEis(r.sr2.db.store.db, EID))?.smsrId).toBe(SMSR2_ID);
    expect(cardKvns(r)).toEqual({ scp80: [SMSR2_KVN], scp81: [0x40] });
    expect((await lastProcedure(r.sr1, SM_SR_CHANGE_FUNCTIONS.handOver))?.step).toBe('handover-unresolved');
    expect(codes(await audit(r.sr1))).toEqual(['FAILED', '8.1', '3.7']);
    const retry = await change(r);
    expect(codes(retry)).toEqual(['EXECUTED_WITHWARNING', '8.1.1', '3.3']);
    expect(retry.statusCodeData?.message).toMatch(/already managed/);
    expect(await loadEis(r.sr1.db.store.db, EID)).toBeUndefined();
    expect((await audit(r.sr2)).status).toBe('EXECUTED_SUCCESS');
  });
});
