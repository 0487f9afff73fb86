// GET /v1/sims/{id}/anti_theft as OtaService.view answers it: one consistent snapshot (a settled PoR
// never shows beside the reported state from before it), the last *real* alert (a local information
// report is `localInfo`, never `lastAlert`), and the mode to show (effectiveMode) decided by the
// platform, not inferred by the console. Runs on SQLite and PostgreSQL (SIMTRUST_TEST_DATABASE).

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { LOCAL_INFO_EVENT } from '../../../src/platform/ota/local-info.js';
import { type AntiTheftEventView, effectiveMode, OtaService } from '../../../src/platform/ota/ota-service.js';
import { recordReportedStates, settlePendingCommands } from '../../../src/platform/ota/ota-store.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { provisionAntiTheft } from '../../helpers/anti-theft.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

let t: TestDatabase;
let ota: OtaService;
const clock = new ManualClock();
const OPERATOR = 'OP0000000001';

beforeAll(async () => {
  t = await openTestDatabase();
  ota = new OtaService(t.store, await KeyRing.open(t.store, randomBytes(32)), clock);
});
afterAll(() => t.cleanup());

let serial = 0;
async function provisionedSim(): Promise<string> {
  serial++;
  const simId = `8981000000077${String(serial).padStart(6, '0')}`;
  await provisionAntiTheft(ota, t.store.db, OPERATOR, simId, `0010199770${String(serial).padStart(5, '0')}`);
  return simId;
}

const reportedOf = (counter: number) => ({
  mode: 'armed',
  reason: 'none',
  strikes: counter,
  tolerance: { strikes: 3, windowSeconds: 0 },
  imeis: [],
  cells: [],
});

async function alert(simId: string, event: string, reason: string, at: number, counter: number) {
  await t.store.db
    .insertInto('anti_theft_alerts')
    .values({ operator_id: OPERATOR, sim_id: simId, event, reason, imei: null, cell: null, counter, at })
    .execute();
}

describe('OtaService.view', () => {
  it('reads one snapshot: the last PoR always comes with the state it reported, never an older one', async () => {
    const simId = await provisionedSim();
    const counters: number[] = [];
    for (let i = 0; i < 60; i++)
      counters.push((await ota.secureAntiTheftCommands(OPERATOR, simId, [{ op: 'readState' }])).counter);
    let done = false;
    // Each PoR as OtaService.settle writes it: the command settled and the state it carried, in one
    // transaction. The marker (strikes = the command's counter) ties the state to its PoR.
    const writer = (async () => {
      try {
        for (const counter of counters) {
          clock.advance(1);
          const now = clock.now();
          await t.store.transaction(async (trx) => {
            await settlePendingCommands(trx, [
              { simId, kvn: 1, counter, status: 'applied', porStatus: 0, result: null, now },
            ]);
            await recordReportedStates(trx, [{ simId, reported: JSON.stringify(reportedOf(counter)), now }]);
          });
        }
      } finally {
        done = true;
      }
    })();
    const seen: Array<{ por: number | null; strikes: number | null; pending: number[] }> = [];
    const reader = async () => {
      while (!done) {
        const v = await ota.view(OPERATOR, simId);
        if (v === undefined) throw new Error('no view');
        seen.push({
          por: v.lastPor?.counter ?? null,
          strikes: v.reported?.strikes ?? null,
          pending: v.pendingCommands.map((c) => c.counter),
        });
      }
    };
    await Promise.all([writer, reader(), reader(), reader()]);
    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) {
      expect(s.strikes).toBe(s.por);
      // Settled and pending never overlap, and every command is one or the other.
      if (s.por !== null) expect(s.pending.every((c) => c > (s.por ?? 0))).toBe(true);
      expect(s.pending.length + (s.por === null ? 0 : counters.indexOf(s.por) + 1)).toBe(counters.length);
    }
    const last = await ota.view(OPERATOR, simId);
    expect(last?.lastPor?.counter).toBe(counters.at(-1));
    expect(last?.reported?.strikes).toBe(counters.at(-1));
  });

  it('lastAlert is the last real alert; local information stays in localInfo and in the event history', async () => {
    const simId = await provisionedSim();
    await alert(simId, 'ANTITHEFT_IMEI_BLOCKED', 'imei_mismatch', 1_000, 1);
    await alert(simId, LOCAL_INFO_EVENT, 'none', 2_000, 2);
    const v = await ota.view(OPERATOR, simId);
    expect(v?.lastAlert).toMatchObject({ event: 'ANTITHEFT_IMEI_BLOCKED', time: 1_000 });
    expect(v?.localInfo).toMatchObject({ reportedTime: 2_000 });
    // Nothing reported yet: the blocking alert is the mode, marked as coming from it.
    expect(v?.mode).toEqual({ mode: 'blocked', reason: 'imei_mismatch', source: 'alert', time: 1_000 });
    // The SIM's anti-theft history keeps both, newest first.
    expect((await ota.events(OPERATOR, simId, 10)).map((e) => e.event)).toEqual([
      LOCAL_INFO_EVENT,
      'ANTITHEFT_IMEI_BLOCKED',
    ]);
    await alert(simId, 'ANTITHEFT_UNBLOCKED', 'none', 3_000, 3);
    await alert(simId, LOCAL_INFO_EVENT, 'none', 4_000, 4);
    expect((await ota.view(OPERATOR, simId))?.lastAlert).toMatchObject({ event: 'ANTITHEFT_UNBLOCKED' });
  });

  it('mode: a READ STATE after the block alert wins; a block alert after the READ STATE wins', async () => {
    const simId = await provisionedSim();
    const { counter } = await ota.secureAntiTheftCommands(OPERATOR, simId, [{ op: 'readState' }]);
    await t.store.transaction(async (trx) => {
      await settlePendingCommands(trx, [
        { simId, kvn: 1, counter, status: 'applied', porStatus: 0, result: null, now: 5_000 },
      ]);
      await recordReportedStates(trx, [{ simId, reported: JSON.stringify(reportedOf(counter)), now: 5_000 }]);
    });
    await alert(simId, 'ANTITHEFT_CELL_BLOCKED', 'cell_not_registered', 4_999, 1);
    expect((await ota.view(OPERATOR, simId))?.mode).toMatchObject({ mode: 'armed', source: 'reported' });
    await alert(simId, LOCAL_INFO_EVENT, 'none', 6_000, 2);
    expect((await ota.view(OPERATOR, simId))?.mode).toMatchObject({ mode: 'armed', source: 'reported' });
    await alert(simId, 'ANTITHEFT_CELL_BLOCKED', 'cell_not_registered', 7_000, 3);
    expect((await ota.view(OPERATOR, simId))?.mode).toEqual({
      mode: 'blocked',
      reason: 'cell_not_registered',
      source: 'alert',
      time: 7_000,
    });
  });
});

describe('effectiveMode', () => {
  const event = fc.constantFrom(
    'ANTITHEFT_IMEI_BLOCKED',
    'ANTITHEFT_CELL_BLOCKED',
    'ANTITHEFT_REMOTE_BLOCKED',
    'ANTITHEFT_UNBLOCKED',
    'ANTITHEFT_ALERT',
  );
  const time = fc.integer({ min: 0, max: 2 ** 45 });
  it('blocked by an alert only when a blocking alert came strictly after the READ STATE', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('armed', 'learning', 'blocked'),
        time,
        fc.option(fc.record({ event, time }), { nil: null }),
        (mode, reportedTime, a) => {
          const lastAlert: AntiTheftEventView | null =
            a === null ? null : { ...a, reason: 'imei_mismatch', imei: null, cell: null };
          const m = effectiveMode({ mode, reason: 'none' }, reportedTime, lastAlert);
          const blocks = ['ANTITHEFT_IMEI_BLOCKED', 'ANTITHEFT_CELL_BLOCKED', 'ANTITHEFT_REMOTE_BLOCKED'];
          if (a !== null && blocks.includes(a.event) && a.time > reportedTime)
            expect(m).toEqual({ mode: 'blocked', reason: 'imei_mismatch', source: 'alert', time: a.time });
          else expect(m).toEqual({ mode, reason: 'none', source: 'reported', time: reportedTime });
        },
      ),
    );
    expect(effectiveMode(null, null, null)).toBeNull();
  });
});
