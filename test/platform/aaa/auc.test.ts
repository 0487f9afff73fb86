// The AuC (TS 33.102 §6.3, Annex C). Threats: a replayed or duplicated SQN (two instances handing
// out the same SQN lets a captured challenge be replayed, or makes genuine ones fail), an attacker
// forcing the home network's SQN with forged AUTS, or brute-forcing MAC-S. The USIM side is played by
// the card's own Annex C verifier (src/card/ts-33-102-sqn.ts) and the TS 33.102 AUTN check.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkFreshness,
  DEFAULT_SQN_POLICY,
  emptySeqArray,
  highestAccepted,
} from '../../../src/card/ts-33-102-sqn.js';
import { gsmMilenage } from '../../../src/crypto/gsm-milenage.js';
import { buildAuts, sqnFromNumber, sqnToNumber, verifyAutn } from '../../../src/crypto/milenage.js';
import type { AuthenticationCentre, UmtsVector } from '../../../src/platform/aaa/auc.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi, type TestSim } from './fixture.js';

const WORKER = fileURLToPath(new URL('./auc-worker.ts', import.meta.url));

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api.close();
});

/** A USIM: Annex C.2 array of SEQ_MS, MAC-A checked first (TS 33.102 §6.3.3). */
class Usim {
  seq = emptySeqArray(DEFAULT_SQN_POLICY);
  constructor(private readonly sim: TestSim) {}
  authenticate(v: UmtsVector): { ok: true; res: Uint8Array } | { ok: false; auts?: Uint8Array; mac?: true } {
    const checked = verifyAutn(this.sim.ki, this.sim.opc, v.rand, v.autn);
    if (!checked.ok) return { ok: false, mac: true };
    const fresh = checkFreshness(DEFAULT_SQN_POLICY, this.seq, checked.value.sqn);
    if (!fresh.fresh) return { ok: false, auts: buildAuts(this.sim.ki, this.sim.opc, v.rand, fresh.sqnMs) };
    this.seq = fresh.seqArray;
    return { ok: true, res: checked.value.res };
  }
  /** The card was used elsewhere: its SQN is far ahead. */
  jumpTo(seq: number): void {
    this.seq = this.seq.map(() => seq);
  }
}

const vectorsOf = async (imsi: string, options?: Parameters<AuthenticationCentre['vectors']>[1]) => {
  const r = await api.platform.auc.vectors(imsi, options);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

describe(`AuC on ${testDialect}`, () => {
  it('hands out vectors the USIM accepts, with XRES = RES, the profile AMF, next SEQ and next IND', async () => {
    const sim = await createSim(api, { amf: '9001' });
    const usim = new Usim(sim);
    const [first] = await vectorsOf(sim.imsi);
    const [second] = await vectorsOf(sim.imsi);
    for (const v of [first!, second!]) {
      const r = usim.authenticate(v);
      expect(r.ok).toBe(true);
      if (r.ok) expect(Buffer.from(r.res).equals(Buffer.from(v.xres))).toBe(true);
      expect(Buffer.from(v.amf).toString('hex')).toBe('9001');
      expect(Buffer.from(v.autn.subarray(6, 8)).toString('hex')).toBe('9001');
      expect(v.rand).toHaveLength(16);
      expect(v.ck).toHaveLength(16);
      expect(v.ik).toHaveLength(16);
    }
    // SQN = SEQ ‖ IND (a = 5): both step by one per vector.
    expect(first!.sqn).toBe(1 * 32 + 1);
    expect(second!.sqn).toBe(2 * 32 + 2);
    expect(Buffer.from(first!.rand).equals(Buffer.from(second!.rand))).toBe(false);
    const row = await api.db.store.db
      .selectFrom('sim_profiles')
      .select('sqn')
      .where('imsi', '=', sim.imsi)
      .executeTakeFirstOrThrow();
    expect(Number(row.sqn)).toBe(second!.sqn);
  });

  it('sets the AMF separation bit for EAP-AKA′ / EPS (TS 33.102 Annex H)', async () => {
    const sim = await createSim(api, { amf: '0000' });
    const [plain] = await vectorsOf(sim.imsi);
    const [separated] = await vectorsOf(sim.imsi, { separationBit: true });
    expect(plain!.amf[0]! & 0x80).toBe(0);
    expect(separated!.amf[0]! & 0x80).toBe(0x80);
    expect(new Usim(sim).authenticate(separated!).ok).toBe(true);
  });

  it('returns a batch with consecutive SEQ and cycling IND that the USIM accepts in any order', async () => {
    const sim = await createSim(api);
    const batch = await vectorsOf(sim.imsi, { count: 5 });
    expect(batch.map((v) => v.sqn)).toEqual([33, 66, 99, 132, 165]);
    const usim = new Usim(sim);
    for (const v of [...batch].reverse()) expect(usim.authenticate(v).ok).toBe(true);
    // IND wraps modulo 2^5 across batches
    const many = await vectorsOf(sim.imsi, { count: 32 });
    expect(new Set(many.map((v) => v.sqn % 32)).size).toBe(32);
    await expect(api.platform.auc.vectors(sim.imsi, { count: 33 })).rejects.toThrow(RangeError);
  });

  it('never hands out one SQN twice, however many requests race, from several instances (one statement)', async () => {
    const sim = await createSim(api);
    // Three more instances, each its own process on the same database, racing this one.
    const worker = (requests: number) =>
      new Promise<number[]>((resolve, reject) => {
        execFile(
          process.execPath,
          [
            '--import',
            'tsx',
            WORKER,
            api.db.url,
            api.masterKey.toString('base64'),
            sim.imsi,
            String(requests),
          ],
          { timeout: 60_000 },
          (e, stdout, stderr) =>
            e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as number[]),
        );
      });
    const local = Promise.all(
      Array.from({ length: 40 }, (_, i) => api.platform.auc.vectors(sim.imsi, { count: 1 + (i % 3) })),
    );
    const [mine, ...theirs] = await Promise.all([local, worker(40), worker(40), worker(40)]);
    const sqns = [...mine.flatMap((r) => (r.ok ? r.value.map((v) => v.sqn) : [])), ...theirs.flat()];
    const expected = 4 * Array.from({ length: 40 }, (_, i) => 1 + (i % 3)).reduce((a, b) => a + b, 0);
    expect(sqns).toHaveLength(expected);
    expect(new Set(sqns).size).toBe(expected);
    // No gap either: the SEQs handed out are exactly 1..n.
    const seqs = sqns.map((s) => Math.floor(s / 32)).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
  });

  it('resynchronises from a genuine AUTS: adopts SQN_MS and the next vector is accepted', async () => {
    const sim = await createSim(api);
    const usim = new Usim(sim);
    usim.jumpTo(0x5000);
    const [stale] = await vectorsOf(sim.imsi);
    const answer = usim.authenticate(stale!);
    expect(answer.ok).toBe(false);
    if (answer.ok || !answer.auts) throw new Error('expected a synchronisation failure');
    const sqnMs = sqnToNumber(highestAccepted(DEFAULT_SQN_POLICY, usim.seq));
    const [fresh] = await vectorsOf(sim.imsi, { resync: { rand: stale!.rand, auts: answer.auts } });
    expect(Math.floor(fresh!.sqn / 32)).toBe(Math.floor(sqnMs / 32) + 1);
    expect(usim.authenticate(fresh!).ok).toBe(true);
    expect(api.platform.auc.stats.resyncs).toBeGreaterThan(0);
  });

  it('keeps SQN_HE when it is already ahead of SQN_MS (TS 33.102 §6.3.5), so no SQN is reused', async () => {
    const sim = await createSim(api);
    await vectorsOf(sim.imsi, { count: 10 });
    const usim = new Usim(sim);
    const [v] = await vectorsOf(sim.imsi);
    usim.authenticate(v!);
    // A replayed challenge makes the card report SQN_MS = v.sqn, which is behind nothing: keep.
    const replay = usim.authenticate(v!);
    if (replay.ok || !replay.auts) throw new Error('a replay must fail with AUTS');
    const [next] = await vectorsOf(sim.imsi, { resync: { rand: v!.rand, auts: replay.auts } });
    expect(Math.floor(next!.sqn / 32)).toBe(Math.floor(v!.sqn / 32) + 1);
    expect(usim.authenticate(next!).ok).toBe(true);
  });

  it('refuses a forged AUTS, counts it, and stops resynchronising after the limit (MAC-S brute force)', async () => {
    const sim = await createSim(api);
    const [v] = await vectorsOf(sim.imsi);
    const before = await api.db.store.db
      .selectFrom('sim_profiles')
      .select('sqn')
      .where('imsi', '=', sim.imsi)
      .executeTakeFirstOrThrow();
    const forged = buildAuts(Buffer.alloc(16, 7), sim.opc, v!.rand, sqnFromNumber(2 ** 40));
    const badBefore = api.platform.auc.stats.badAuts;
    for (let i = 0; i < 5; i++) {
      expect(await api.platform.auc.vectors(sim.imsi, { resync: { rand: v!.rand, auts: forged } })).toEqual({
        ok: false,
        error: 'RESYNC_FAILED',
      });
    }
    expect(api.platform.auc.stats.badAuts - badBefore).toBe(5);
    const counter = await api.db.store.db
      .selectFrom('counters')
      .select('value')
      .where('scope', '=', 'auc-bad-auts')
      .where('key', '=', sim.imsi)
      .executeTakeFirstOrThrow();
    expect(Number(counter.value)).toBe(5);
    // The SQN did not move towards the forged value.
    const after = await api.db.store.db
      .selectFrom('sim_profiles')
      .select('sqn')
      .where('imsi', '=', sim.imsi)
      .executeTakeFirstOrThrow();
    expect(Number(after.sqn)).toBe(Number(before.sqn));
    // Over the limit even a genuine AUTS is refused until the window ends.
    const genuine = buildAuts(sim.ki, sim.opc, v!.rand, sqnFromNumber(0x900 * 32));
    const refusedBefore = api.platform.auc.stats.resyncRefused;
    expect(await api.platform.auc.vectors(sim.imsi, { resync: { rand: v!.rand, auts: genuine } })).toEqual({
      ok: false,
      error: 'RESYNC_FAILED',
    });
    expect(api.platform.auc.stats.resyncRefused - refusedBefore).toBe(1);
    // Wrong lengths are refused the same way, never thrown.
    const other = await createSim(api);
    expect(
      await api.platform.auc.vectors(other.imsi, {
        resync: { rand: new Uint8Array(3), auts: new Uint8Array(2) },
      }),
    ).toEqual({ ok: false, error: 'RESYNC_FAILED' });
  });

  it('answers UNKNOWN_SUBSCRIBER for an IMSI without profile or a malformed one', async () => {
    expect(await api.platform.auc.vectors('001019999999999')).toEqual({
      ok: false,
      error: 'UNKNOWN_SUBSCRIBER',
    });
    expect(await api.platform.auc.vectors("1' or 1=1 --")).toEqual({
      ok: false,
      error: 'UNKNOWN_SUBSCRIBER',
    });
    expect(await api.platform.auc.triplets('001019999999999', 3)).toEqual({
      ok: false,
      error: 'UNKNOWN_SUBSCRIBER',
    });
  });

  it('gives GSM triplets by GSM-Milenage (TS 55.205 c2/c3) with fresh RANDs', async () => {
    const sim = await createSim(api);
    const r = await api.platform.auc.triplets(sim.imsi, 3);
    if (!r.ok) throw new Error(r.error);
    expect(r.value).toHaveLength(3);
    for (const t of r.value) {
      const expected = gsmMilenage(sim.ki, sim.opc, t.rand);
      expect(Buffer.from(t.sres).equals(Buffer.from(expected.sres))).toBe(true);
      expect(Buffer.from(t.kc).equals(Buffer.from(expected.kc))).toBe(true);
    }
    expect(new Set(r.value.map((t) => Buffer.from(t.rand).toString('hex'))).size).toBe(3);
  });

  it('keeps Ki and OPc inside: vectors carry no key material beyond CK/IK', async () => {
    const sim = await createSim(api);
    const [v] = await vectorsOf(sim.imsi);
    const text = JSON.stringify(v, (_k, value) =>
      value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value,
    );
    expect(text).not.toContain(sim.ki.toString('hex'));
    expect(text).not.toContain(sim.opc.toString('hex'));
    expect(Object.keys(v!).sort()).toEqual(['amf', 'autn', 'ck', 'ik', 'rand', 'sqn', 'xres']);
  });
});
