// Giving up an SM-SR change whose HandoverEUICC never got a final answer (issue 16, SGP.02 §3.8).
// SM-SR1 cannot know whether SM-SR2 passed the commit point (its check of the card's receipt), so
// giving up must never make SM-SR1 act as if in charge. Threats: SM-SR1 running functions on an
// eUICC SM-SR2 manages (two SM-SRs in charge); the question that ends the given-up state making
// SM-SR2 commit after all; another operator giving up (or seeing) this operator's hand-over.
// SQLite and PostgreSQL (SIMTRUST_TEST_DATABASE=postgres).

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionExecutionStatus } from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import { loadEis } from '../../../../src/platform/esim/sm-sr/eis-store.js';
import { handoverGivenUp } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import type { Es7Port } from '../../../../src/platform/esim/sm-sr-change/sm-sr-change-service.js';
import { euiccOf } from '../../../card/euicc/fixture.js';
import { createTestPki, type TestPki } from '../../../helpers/esim-pki.js';
import { type Deployment, EID, MNO_ID, type Rig, SMSR1_ID, SMSR2_ID, twoSmSrs } from './fixture.js';

const OTHER_MNO = '1.3.6.1.4.1.99999.3.77';

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

/** The link from SM-SR1 to SM-SR2: down (nothing arrives), or the answer lost after SM-SR2 ran it. */
const link = { down: false, loseAnswer: false };

async function start(): Promise<Rig> {
  link.down = false;
  link.loseAnswer = false;
  const r = await twoSmSrs(pki, {
    partner: (from) => (smsrId) => {
      const r = rig as Rig;
      if (from === 'sr2') return smsrId === SMSR1_ID ? r.sr1.change.es7For(SMSR2_ID) : undefined;
      if (smsrId !== SMSR2_ID) return undefined;
      const sr2 = r.sr2.change.es7For(SMSR1_ID);
      const port: Es7Port = {
        ...sr2,
        handoverEUICC: async (b) => {
          if (link.down) throw new Error('connect ECONNREFUSED (test: SM-SR2 down)');
          const answer = await sr2.handoverEUICC(b);
          if (link.loseAnswer) throw new Error('connection reset (test: the answer is lost)');
          return answer;
        },
      };
      return port;
    },
  });
  rig = r;
  return r;
}

let calls = 0;
const fcid = () => `fc-${++calls}`;
const prepare = (r: Rig) =>
  r.sr2.change
    .es4For(MNO_ID)
    .prepareSMSRChange({ functionCallIdentifier: fcid(), eid: EID, currentSmsrId: SMSR1_ID })
    .then((a) => a.functionExecutionStatus);
const change = (r: Rig) =>
  r.sr1.change
    .es4For(MNO_ID)
    .smsrChange({ functionCallIdentifier: fcid(), eid: EID, targetSmsrId: SMSR2_ID })
    .then((a) => a.functionExecutionStatus);
const audit = (at: Deployment) =>
  at.smsr
    .es4For(MNO_ID)
    .auditEIS({ functionCallIdentifier: fcid(), eid: EID, iccids: [] })
    .then((a) => a.functionExecutionStatus);
const codes = (s: FunctionExecutionStatus) => [s.status, s.statusCodeData?.subject, s.statusCodeData?.reason];
const cardKvns = (r: Rig) => {
  const s = euiccOf(r.d.card).persistentState();
  return { scp80: s.scp80.map((k) => k.kvn), scp81: s.scp81.map((k) => k.kvn) };
};

/** An SMSRChange left unresolved: SM-SR1's row at handover-unresolved, the eUICC locked there. */
async function unresolved(r: Rig): Promise<void> {
  expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
  const s = await change(r);
  expect(codes(s)).toEqual(['FAILED', '8.7', '3.7']);
  expect(await r.sr1.change.handoversFor(MNO_ID).get(EID)).toMatchObject({
    state: 'unresolved',
    targetSmsrId: SMSR2_ID,
  });
  expect(codes(await audit(r.sr1))).toEqual(['FAILED', '8.1', '3.7']);
}

describe('giving up an unresolved SM-SR change at SM-SR1', () => {
  it('SM-SR2 never got it: given up, only AuditEIS runs at SM-SR1; SM-SR2 back, asked with the relays closed, it refuses and SM-SR1 is in charge again', async () => {
    const r = await start();
    const before = cardKvns(r);
    link.down = true;
    await unresolved(r);
    const mine = r.sr1.change.handoversFor(MNO_ID);
    // Another operator neither sees nor gives up this operator's hand-over.
    const other = r.sr1.change.handoversFor(OTHER_MNO);
    expect(await other.get(EID)).toBeUndefined();
    expect(await other.abandon(EID, 'user:other')).toBeUndefined();
    expect(await mine.get('89049032123451234512345678901299')).toBeUndefined();

    const given = await mine.abandon(EID, 'user:ops@example');
    expect(given).toMatchObject({
      outcome: 'given-up',
      handover: { state: 'given-up', targetSmsrId: SMSR2_ID, givenUpBy: 'user:ops@example' },
    });
    expect(given?.outcome === 'given-up' && given.handover.why).toMatch(/ECONNREFUSED/);
    // A repeat changes nothing.
    expect((await mine.abandon(EID, 'user:ops@example'))?.outcome).toBe('given-up');

    // The EIS stays, SM-SR1 is not in charge: every function but AuditEIS is refused, saying why.
    expect((await loadEis(r.sr1.db.store.db, EID))?.smsrId).toBe(SMSR1_ID);
    const iccid = r.eis.profiles[0]?.iccid as string;
    const enable = (
      await r.sr1.smsr.es4For(MNO_ID).enableProfile({ functionCallIdentifier: fcid(), eid: EID, iccid })
    ).functionExecutionStatus;
    expect(codes(enable)).toEqual(['FAILED', '8.1', '3.8']);
    expect(handoverGivenUp(enable)).toBe(true);
    expect(enable.statusCodeData?.message).toContain(SMSR2_ID);
    expect(enable.statusCodeData?.message).toMatch(/ask the operator of/i);
    const again = await change(r);
    expect(handoverGivenUp(again)).toBe(true);
    // AuditEIS runs (the lock is free): SM-SR1's keys still work on the card.
    expect((await audit(r.sr1)).status).toBe('EXECUTED_SUCCESS');

    // SM-SR2 still down: the state stays.
    expect(await r.sr1.change.resolveHandovers()).toBe(0);
    expect((await mine.get(EID))?.state).toBe('given-up');

    // SM-SR2 back with its prepare still pending: the question makes it try the take-over, which
    // SM-SR1's relays refuse (nothing reaches the card), so SM-SR2 ends it and refuses.
    link.down = false;
    const es5Before = r.sent.filter((s) => s.what.startsWith('ES5')).length;
    expect(await r.sr1.change.resolveHandovers()).toBe(1);
    expect(r.sent.filter((s) => s.what.startsWith('ES5')).length).toBe(es5Before);
    expect(cardKvns(r)).toEqual(before);
    expect(await mine.get(EID)).toBeUndefined();
    expect((await loadEis(r.sr1.db.store.db, EID))?.smsrId).toBe(SMSR1_ID);
    expect(await loadEis(r.sr2.db.store.db, EID)).toBeUndefined();
    // In charge again: functions run (the audit over SM-SR1's keys, a new change to SM-SR2).
    expect((await audit(r.sr1)).status).toBe('EXECUTED_SUCCESS');
    expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
    expect((await change(r)).status).toBe('EXECUTED_SUCCESS');
    expect(await loadEis(r.sr1.db.store.db, EID)).toBeUndefined();
    expect((await loadEis(r.sr2.db.store.db, EID))?.smsrId).toBe(SMSR2_ID);
  });

  it('SM-SR2 committed and its answer was lost: given up while it is down, its "already managed" later ends the hand-over (SM-SR1 deletes its EIS)', async () => {
    const r = await start();
    link.loseAnswer = true;
    await unresolved(r);
    expect((await loadEis(r.sr2.db.store.db, EID))?.smsrId).toBe(SMSR2_ID);
    link.loseAnswer = false;
    link.down = true;
    const mine = r.sr1.change.handoversFor(MNO_ID);
    expect((await mine.abandon(EID, 'user:ops@example'))?.outcome).toBe('given-up');
    const iccid = r.eis.profiles[0]?.iccid as string;
    const disable = (
      await r.sr1.smsr.es4For(MNO_ID).disableProfile({ functionCallIdentifier: fcid(), eid: EID, iccid })
    ).functionExecutionStatus;
    expect(handoverGivenUp(disable)).toBe(true);
    link.down = false;
    expect(await r.sr1.change.resolveHandovers()).toBe(1);
    expect(await loadEis(r.sr1.db.store.db, EID)).toBeUndefined();
    expect(await mine.get(EID)).toBeUndefined();
    expect((await audit(r.sr2)).status).toBe('EXECUTED_SUCCESS');
  });

  it('SM-SR2 answers when asked once more at the give-up: the hand-over ends as it says, nothing is given up', async () => {
    const r = await start();
    link.loseAnswer = true;
    await unresolved(r);
    link.loseAnswer = false;
    const done = await r.sr1.change.handoversFor(MNO_ID).abandon(EID, 'user:ops@example');
    expect(done).toMatchObject({ outcome: 'handed-over', targetSmsrId: SMSR2_ID });
    expect(done?.outcome === 'handed-over' && codes(done.status)).toEqual([
      'EXECUTED_WITHWARNING',
      '8.7',
      '4.2',
    ]);
    expect(await loadEis(r.sr1.db.store.db, EID)).toBeUndefined();
    expect(await r.sr1.change.handoversFor(MNO_ID).get(EID)).toBeUndefined();
  });
});
