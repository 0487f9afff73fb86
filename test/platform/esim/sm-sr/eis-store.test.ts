// The SM-SR store's atomic primitives on both databases. Threats: two SM-SR instances running two
// procedures on one eUICC at once (interleaved ES5 scripts, an EIS written from two stories); one SCP80
// counter handed out twice (the ISD-R refuses the second packet, or a replay window opens).

import fc from 'fast-check';
import { CompiledQuery, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isdpAid } from '../../../../src/card/euicc/sgp-02-annex-h.js';
import { SUCCESS } from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import {
  activeProcedure,
  beginProcedure,
  endProcedure,
  fromJson,
  keysetContext,
  loadIsdrKeyset,
  reserveIsdrCommandCounter,
  toJson,
} from '../../../../src/platform/esim/sm-sr/eis-store.js';
import { GroupCommit } from '../../../../src/platform/store/group-commit.js';
import { euiccOf } from '../../../card/euicc/fixture.js';
import { type Bench, bench, EID, MNO_ID, SMDP_ID } from './fixture.js';

let b: Bench;
beforeEach(async () => {
  b = await bench();
});
afterEach(() => b.db.cleanup());

const proc = (requester: string) => ({
  eid: EID,
  function: 'AuditEIS',
  requester,
  functionCallId: requester,
  step: 'started',
  data: {},
  deadline: b.clock.now() + 60_000,
});

describe('EIS store', () => {
  it('of 16 racing procedure starts on one eUICC exactly one takes the lock', async () => {
    const ids = await Promise.all(
      Array.from({ length: 16 }, (_, i) => beginProcedure(b.db.store.db, proc(`r${i}`), b.clock.now())),
    );
    const winners = ids.filter((x) => x !== undefined);
    expect(winners).toHaveLength(1);
    expect((await activeProcedure(b.db.store.db, EID))?.procedure_id).toBe(winners[0]);
    expect(await endProcedure(b.db.store.db, winners[0] as string, SUCCESS, b.clock.now())).toBe(true);
    expect(await endProcedure(b.db.store.db, winners[0] as string, SUCCESS, b.clock.now())).toBe(false);
    expect(await beginProcedure(b.db.store.db, proc('after'), b.clock.now())).toBeDefined();
  });

  it('32 racing counter reservations get 32 distinct counters, in sequence after the EIS counter', async () => {
    const counterOf = async (preferredKvn: number) =>
      (await reserveIsdrCommandCounter(b.db.store.db, EID, preferredKvn))?.counter;
    const got = await Promise.all(Array.from({ length: 32 }, () => counterOf(1)));
    expect(new Set(got).size).toBe(32);
    expect([...got].sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    // No SCP80 key set 9 in the EIS: the lowest it lists (1) secures the command, with its counter.
    const fallback = await reserveIsdrCommandCounter(b.db.store.db, EID, 9);
    expect({ kvn: fallback?.kvn, counter: fallback?.counter }).toEqual({ kvn: 1, counter: 33 });
    // The sealed keys come with the counter, and open under that key set's context only.
    const keys = b.keyRing.open(fallback?.secrets ?? '', keysetContext(EID, 1));
    expect(keys.length).toBeGreaterThan(0);
    expect(() => b.keyRing.open(fallback?.secrets ?? '', keysetContext(EID, 2))).toThrow();
    expect(await reserveIsdrCommandCounter(b.db.store.db, 'no-such-eid', 1)).toBeUndefined();
    await b.db.store.db
      .updateTable('esim_sr_keysets')
      .set({ counter: 0xff_ffff_ffff })
      .where('eid', '=', EID)
      .execute();
    expect(await reserveIsdrCommandCounter(b.db.store.db, EID, 1)).toBeUndefined();
  });

  it('counter reservations through one group commit: distinct, each durable once resolved', async () => {
    const writer = new GroupCommit(b.db.store, { maxBatch: 8, concurrency: 2 });
    const got = await Promise.all(
      Array.from({ length: 24 }, () =>
        writer.run(async (tx) => (await reserveIsdrCommandCounter(tx, EID, 1))?.counter),
      ),
    );
    expect([...got].sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    expect(writer.stats.commits).toBeLessThan(24);
    const row = await b.db.store.db
      .selectFrom('esim_sr_keysets')
      .select('counter')
      .where('eid', '=', EID)
      .where('kvn', '=', 1)
      .executeTakeFirstOrThrow();
    expect(Number(row.counter)).toBe(24);
  });

  it("an MO sender's eUICC is found through the MSISDN and IMSI indexes, not by reading every profile", async () => {
    const store = b.db.store;
    const q = store.db
      .selectFrom('esim_sr_profiles')
      .select('eid')
      .where((eb) => eb.or([eb('msisdn', '=', '817000000001'), eb('imsi', '=', '817000000001')]))
      .orderBy('state', 'desc')
      .compile();
    if (store.dialect === 'sqlite') {
      const plan = await store.db.executeQuery<{ detail: string }>(
        CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]),
      );
      const details = plan.rows.map((r) => r.detail).join(' | ');
      expect(details).toContain('USING INDEX esim_sr_profiles_msisdn');
      expect(details).toContain('USING INDEX esim_sr_profiles_imsi');
      expect(details).not.toMatch(/SCAN esim_sr_profiles(?! USING)/);
    } else {
      const indexes = await sql<{
        indexdef: string;
      }>`select indexdef from pg_indexes where tablename = 'esim_sr_profiles' and schemaname = current_schema()`.execute(
        store.db,
      );
      const defs = indexes.rows.map((r) => r.indexdef).join(' | ');
      expect(defs).toMatch(/esim_sr_profiles_msisdn .*\(msisdn\)/);
      expect(defs).toMatch(/esim_sr_profiles_imsi .*\(imsi\)/);
    }
  });

  it('ISD-R keys open only under their own row context', async () => {
    const ks = await loadIsdrKeyset(b.db.store.db, b.keyRing, EID, 1);
    expect(ks?.keys.map((k) => k.index)).toEqual([1, 2, 3]);
    const row = await b.db.store.db
      .selectFrom('esim_sr_keysets')
      .selectAll()
      .where('eid', '=', EID)
      .executeTakeFirstOrThrow();
    expect(
      b.keyRing.tryOpen(row.secrets, 'esim-sr-keyset:89049032123451234512345678901282:1'),
    ).toBeUndefined();
  });

  it('JSON of the EIS model keeps bytes and dates', () => {
    const v = {
      a: new Uint8Array([1, 2, 255]),
      d: new Date('2026-12-07T00:00:00.000Z'),
      n: [{ x: new Uint8Array(0) }],
    };
    expect(fromJson(toJson(v))).toEqual(v);
  });

  it('property: the EIS JSON round-trips bytes, dates and plain values; objects that only look like them stay objects', () => {
    const leaf = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }),
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      // A $hex/$date key beside another key is data, not bytes or a date.
      fc.record({ $hex: fc.constant('00'), other: fc.string() }),
      fc.record({ $date: fc.string(), other: fc.integer() }),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('node'), { maxLength: 4 }),
        // A lone `$hex`/`$date` key is the format's own (reserved): plain keys here never start with $.
        fc.dictionary(
          fc.string({ maxLength: 6 }).filter((k) => !k.startsWith('$')),
          tie('node'),
          { maxKeys: 4, noNullPrototype: true },
        ),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        expect(fromJson(toJson(v))).toEqual(v);
      }),
    );
    // Stored text that is not JSON fails as JSON does, nothing else.
    fc.assert(
      fc.property(fc.string(), (text) => {
        let parsed = true;
        try {
          JSON.parse(text);
        } catch {
          parsed = false;
        }
        if (!parsed) expect(() => fromJson(text)).toThrow(SyntaxError);
        else expect(() => fromJson(text)).not.toThrow();
      }),
    );
  });

  it('ES3 DeleteISDP cleans up an ISD-P of a failed download (Created, SM-DP only)', async () => {
    const created = await b.smsr.es3For(SMDP_ID).createISDP({
      functionCallIdentifier: 'c1',
      eid: EID,
      iccid: '8944000000000000028',
      mnoId: MNO_ID,
      requiredMemory: 10_000,
    });
    expect(created.isdPAid).toBe(isdpAid(0x11));
    const byOperator = await b.smsr
      .es4For(MNO_ID)
      .deleteProfile({ functionCallIdentifier: 'c2', eid: EID, iccid: '8944000000000000028' });
    expect(byOperator.functionExecutionStatus.statusCodeData?.message).toBe(
      'the profile is being downloaded',
    );
    const r = await b.smsr
      .es3For(SMDP_ID)
      .deleteISDP({ functionCallIdentifier: 'c3', eid: EID, iccid: '8944000000000000028' });
    expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(
      euiccOf(b.card)
        .snapshot()
        .isdps.map((i) => i.aid),
    ).toEqual([isdpAid(0x10)]);
    const eis = (await b.smsr.es3For(SMDP_ID).getEIS({ functionCallIdentifier: 'c4', eid: EID })).eis;
    expect(eis?.profiles).toHaveLength(1);
    expect(eis?.remainingMemory).toBe(b.eis.remainingMemory);
  });
});
