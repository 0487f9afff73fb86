// TS 33.102 Annex C.2: the USIM's SEQ/IND array.

import { describe, expect, it } from 'vitest';
import {
  checkFreshness,
  emptySeqArray,
  highestAccepted,
  type SqnPolicy,
} from '../../src/card/ts-33-102-sqn.js';
import { sqnFromNumber, sqnToNumber } from '../../src/crypto/milenage.js';

const policy: SqnPolicy = { indBits: 5, delta: 2 ** 28 };
const sqn = (seq: number, ind: number, p: SqnPolicy = policy) => sqnFromNumber(seq * 2 ** p.indBits + ind);

function accept(p: SqnPolicy, array: number[], s: Uint8Array): number[] {
  const r = checkFreshness(p, array, s);
  if (!r.fresh) throw new Error(`refused: ${r.reason}`);
  return r.seqArray;
}

describe('SQN freshness (Annex C.2)', () => {
  it('accepts increasing SEQ per IND, in any IND order', () => {
    let a = emptySeqArray(policy);
    a = accept(policy, a, sqn(1, 3));
    a = accept(policy, a, sqn(5, 0));
    // Out of order across IND slots is fine: each slot has its own SEQ_MS (parallel serving nodes).
    a = accept(policy, a, sqn(2, 3));
    expect(a[3]).toBe(2);
    expect(a[0]).toBe(5);
  });

  it('refuses a replay and an older SEQ in the same slot, and says the highest accepted SQN', () => {
    let a = emptySeqArray(policy);
    a = accept(policy, a, sqn(7, 2));
    a = accept(policy, a, sqn(3, 9));
    const replay = checkFreshness(policy, a, sqn(7, 2));
    expect(replay.fresh).toBe(false);
    if (!replay.fresh) {
      expect(replay.reason).toBe('replayed_or_old');
      expect(sqnToNumber(replay.sqnMs)).toBe(7 * 32 + 2);
    }
    expect(checkFreshness(policy, a, sqn(2, 9)).fresh).toBe(false);
  });

  it('SEQ 0 is never fresh on a new card, and SQN_MS is then 0', () => {
    const r = checkFreshness(policy, emptySeqArray(policy), sqn(0, 4));
    expect(r.fresh).toBe(false);
    expect(sqnToNumber(highestAccepted(policy, emptySeqArray(policy)))).toBe(0);
  });

  it('refuses a jump larger than Δ above the highest SEQ_MS', () => {
    const p: SqnPolicy = { indBits: 5, delta: 100 };
    let a = emptySeqArray(p);
    a = accept(p, a, sqn(50, 1, p));
    const r = checkFreshness(p, a, sqn(151, 1, p));
    expect(r.fresh ? 'fresh' : r.reason).toBe('too_far_ahead');
    expect(checkFreshness(p, a, sqn(150, 1, p)).fresh).toBe(true);
  });

  it('refuses a SEQ older than L below the highest when an age limit is set', () => {
    const p: SqnPolicy = { indBits: 5, delta: 2 ** 28, ageLimit: 10 };
    let a = emptySeqArray(p);
    a = accept(p, a, sqn(100, 1, p));
    const r = checkFreshness(p, a, sqn(90, 2, p));
    expect(r.fresh ? 'fresh' : r.reason).toBe('too_old');
    expect(checkFreshness(p, a, sqn(91, 2, p)).fresh).toBe(true);
  });

  it('works with IND length 0 (a single counter)', () => {
    const p: SqnPolicy = { indBits: 0, delta: 2 ** 28 };
    let a = emptySeqArray(p);
    a = accept(p, a, sqnFromNumber(42));
    expect(checkFreshness(p, a, sqnFromNumber(42)).fresh).toBe(false);
    expect(checkFreshness(p, a, sqnFromNumber(43)).fresh).toBe(true);
  });

  it('does not modify the array it was given', () => {
    const a = emptySeqArray(policy);
    checkFreshness(policy, a, sqn(1, 1));
    expect(a.every((s) => s === 0)).toBe(true);
  });
});
