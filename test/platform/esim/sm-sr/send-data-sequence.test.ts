// ES3.SendData sequences (MoreToDo) on both databases: the ES8 units of one key establishment or
// download are one procedure — one row that stays the eUICC's lock between units — and the SM-SR's
// procedure writes share the group commit (issue 15, fewer commits per procedure). Threats: the lock leaking (held for good when the SM-DP moves on or goes
// away, held past its validity period), another party's procedure interleaving between two units of
// a download, the SM-DP's own error sub-routine refused busy by its own sequence; two starts racing
// in one group commit both taking the lock, or one's lost race failing the whole group.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installForPersonalization } from '../../../../src/platform/esim/sm-dp/download-steps.js';
import { EUICC_BUSY, type SmSr } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { GroupCommit } from '../../../../src/platform/store/group-commit.js';
import { SECOND_PROFILE } from '../../../card/euicc/fixture.js';
import { type Bench, bench, EID, MNO_ID, SMDP_ID } from './fixture.js';

const SECOND_ICCID = SECOND_PROFILE.identity.iccid;
let b: Bench;
let n = 0;
const fc_ = () => ({ functionCallIdentifier: `seq-${++n}` });

beforeEach(async () => {
  b = await bench();
});
afterEach(async () => {
  await b.smsr.close();
  await b.db.cleanup();
});

const sendDataRows = () =>
  b.db.store.db
    .selectFrom('esim_sr_procedures')
    .select(['procedure_id', 'active_eid', 'step', 'result', 'deadline'])
    .where('function', '=', 'SendData')
    .execute();

async function createIsdp(smsr: SmSr = b.smsr): Promise<string> {
  const r = await smsr.es3For(SMDP_ID).createISDP({
    ...fc_(),
    eid: EID,
    iccid: SECOND_ICCID,
    mnoId: MNO_ID,
    requiredMemory: 32_000,
  });
  expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  return r.isdPAid;
}

const unit = (smsr: SmSr, aid: string, moreToDo: boolean, validityPeriod?: number) =>
  smsr.es3For(SMDP_ID).sendData({
    ...fc_(),
    eid: EID,
    sdAid: aid,
    data: installForPersonalization(aid),
    moreToDo,
    ...(validityPeriod === undefined ? {} : { validityPeriod }),
  });

const audit = (smsr: SmSr = b.smsr) => smsr.es4For(MNO_ID).auditEIS({ ...fc_(), eid: EID, iccids: [] });

/** Polls `until` every 10 ms up to a generous deadline. */
async function eventually(until: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await until())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ES3.SendData with MoreToDo: one procedure for the units of a sequence', () => {
  it('the units share one row that holds the lock (others are refused busy) and ends with the unit without MoreToDo', async () => {
    const aid = await createIsdp();
    for (const more of [true, true]) {
      const r = await unit(b.smsr, aid, more);
      expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      expect(r.euiccResponseData?.length).toBeGreaterThanOrEqual(2);
      const rows = await sendDataRows();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ active_eid: EID, step: 'data-sent', result: null });
      // Between two units of a download nobody else gets the eUICC.
      expect((await audit()).functionExecutionStatus).toEqual(EUICC_BUSY);
    }
    expect((await unit(b.smsr, aid, false)).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const rows = await sendDataRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ active_eid: null, step: 'ended' });
    expect(JSON.parse(rows[0]?.result ?? '{}')).toEqual({ status: 'EXECUTED_SUCCESS' });
    expect((await audit()).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  });

  it("the SM-DP's next other function ends its held sequence: its DeleteISDP (error sub-routine) is not refused busy", async () => {
    const aid = await createIsdp();
    expect((await unit(b.smsr, aid, true)).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const deleted = await b.smsr.es3For(SMDP_ID).deleteISDP({ ...fc_(), eid: EID, iccid: SECOND_ICCID });
    expect(deleted.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const rows = await sendDataRows();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ active_eid: null });
    expect(JSON.parse(rows[0]?.result ?? '{}')).toEqual({ status: 'EXECUTED_SUCCESS' });
  });

  it('a sequence whose next unit never comes lets the eUICC go after sendDataHoldMs', async () => {
    const smsr = b.restartWith({ sendDataHoldMs: 100 });
    try {
      const aid = await createIsdp(smsr);
      expect((await unit(smsr, aid, true)).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      expect((await audit(smsr)).functionExecutionStatus).toEqual(EUICC_BUSY);
      await eventually(async () => (await sendDataRows())[0]?.active_eid === null);
      expect((await audit(smsr)).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      // A late unit starts a procedure of its own.
      expect((await unit(smsr, aid, false)).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      expect(await sendDataRows()).toHaveLength(2);
    } finally {
      await smsr.close();
    }
  });

  it('validity: the row follows each unit’s ValidityPeriod once half of it is spent; past the deadline (expired) the next unit starts anew', async () => {
    const aid = await createIsdp();
    const t0 = b.clock.now();
    await unit(b.smsr, aid, true, 10);
    expect(Number((await sendDataRows())[0]?.deadline)).toBe(t0 + 10_000);
    b.clock.advance(2_000);
    await unit(b.smsr, aid, true, 10); // 8 s of 10 left: the deadline stays
    expect(Number((await sendDataRows())[0]?.deadline)).toBe(t0 + 10_000);
    b.clock.advance(4_000);
    await unit(b.smsr, aid, true, 10); // 4 s left: moved to now + 10 s
    expect(Number((await sendDataRows())[0]?.deadline)).toBe(t0 + 16_000);
    b.clock.advance(20_000);
    expect(await b.smsr.expireProcedures()).toBe(1);
    const r = await unit(b.smsr, aid, false, 10);
    expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const rows = await sendDataRows();
    expect(rows).toHaveLength(2);
    expect(rows.map((x) => x.active_eid)).toEqual([null, null]);
    expect(rows.map((x) => JSON.parse(x.result ?? '{}').status).sort()).toEqual([
      'EXECUTED_SUCCESS',
      'EXPIRED',
    ]);
  });

  it('another SM-DP cannot ride a held sequence, and a restart leaves its row to recover()', async () => {
    const aid = await createIsdp();
    expect((await unit(b.smsr, aid, true)).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const other = await b.smsr.es3For('1.3.6.1.4.1.99999.1.9').sendData({
      ...fc_(),
      eid: EID,
      sdAid: aid,
      data: installForPersonalization(aid),
      moreToDo: true,
    });
    expect(other.functionExecutionStatus).toEqual(EUICC_BUSY);
    await b.smsr.close();
    const restarted = b.restart();
    expect(await restarted.recover()).toBe(1);
    const rows = await sendDataRows();
    expect(rows[0]).toMatchObject({ active_eid: null });
    expect(JSON.parse(rows[0]?.result ?? '{}').statusCodeData?.message).toMatch(
      /interrupted at step data-sent/,
    );
    expect((await audit(restarted)).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  });
});

describe('the group commit of the SM-SR procedure writes', () => {
  it('racing starts on one eUICC land in one group: one takes the lock, the others are busy, nothing is re-run', async () => {
    const writer = new GroupCommit(b.db.store, { maxBatch: 64, concurrency: 2 });
    const smsr = b.restartWith({ writer });
    try {
      const answers = await Promise.all(Array.from({ length: 8 }, () => audit(smsr)));
      const statuses = answers.map((a) => a.functionExecutionStatus);
      expect(statuses.filter((s) => s.status === 'EXECUTED_SUCCESS')).toHaveLength(1);
      expect(
        statuses.filter(
          (s) => s === EUICC_BUSY || s.statusCodeData?.message === EUICC_BUSY.statusCodeData?.message,
        ),
      ).toHaveLength(7);
      // The lost races did not fail the group (ON CONFLICT DO NOTHING): no batch split, no failure.
      expect(writer.stats.splitBatches).toBe(0);
      expect(writer.stats.failed).toBe(0);
      // 8 starts, the audit's EIS writes and its end went through the group, in fewer commits.
      expect(writer.stats.operations).toBeGreaterThanOrEqual(10);
      expect(writer.stats.commits).toBeLessThan(writer.stats.operations);
      const rows = await b.db.store.db
        .selectFrom('esim_sr_procedures')
        .select(['active_eid', 'result'])
        .where('function', '=', 'AuditEIS')
        .execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]?.active_eid).toBeNull();
    } finally {
      await smsr.close();
    }
  });
});
