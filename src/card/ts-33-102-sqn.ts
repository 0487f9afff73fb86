// TS 33.102 Annex C.2: how the USIM decides whether a sequence number is fresh.
//
// SQN (48 bits) = SEQ ‖ IND, IND being the low `indBits` bits. The USIM keeps one SEQ_MS per IND
// value. A received SQN with index i is fresh iff SEQ > SEQ_MS(i) (C.2.2), and optionally
// SEQ − SEQ_MS ≤ Δ (C.2.1, protection against wrap-around by a huge jump; SEQ_MS is the highest SEQ
// accepted anywhere in the array) and SEQ_MS − SEQ < L (C.2.2, age limit). On success SEQ_MS(i) :=
// SEQ. On failure the USIM answers with AUTS built from SQN_MS, the highest accepted SQN (C.3.4
// via §6.3.5: SEQ_MS ‖ IND of the entry that holds it).

import { sqnFromNumber, sqnToNumber } from '../crypto/milenage.js';

export interface SqnPolicy {
  /** Length of IND in bits (a); 5 in hlr_auc_gw, osmo-hlr and the usual recommendation. */
  readonly indBits: number;
  /** Δ: the largest accepted jump of SEQ above the highest SEQ_MS (Annex C.3.2 suggests 2^28). */
  readonly delta: number;
  /** L: the age limit; a SEQ more than L below the highest SEQ_MS is refused. Undefined = no limit. */
  readonly ageLimit?: number;
}

export const DEFAULT_SQN_POLICY: SqnPolicy = { indBits: 5, delta: 2 ** 28 };

/** SEQ_MS for each IND value (length 2^indBits). */
export type SeqArray = readonly number[];

export const emptySeqArray = (policy: SqnPolicy): number[] => new Array<number>(2 ** policy.indBits).fill(0);

export type FreshnessResult =
  | { readonly fresh: true; readonly seqArray: number[] }
  | {
      readonly fresh: false;
      readonly reason: 'replayed_or_old' | 'too_far_ahead' | 'too_old';
      readonly sqnMs: Uint8Array;
    };

/** SQN_MS: the highest accepted SEQ with the IND it was accepted under (0 when nothing yet). */
export function highestAccepted(policy: SqnPolicy, seqArray: SeqArray): Uint8Array {
  let best = 0;
  let bestInd = 0;
  seqArray.forEach((seq, ind) => {
    if (seq > best) {
      best = seq;
      bestInd = ind;
    }
  });
  return sqnFromNumber(best * 2 ** policy.indBits + bestInd);
}

/** Annex C.2 verification of a received SQN; returns the updated array when it is fresh. */
export function checkFreshness(policy: SqnPolicy, seqArray: SeqArray, sqn: Uint8Array): FreshnessResult {
  const n = sqnToNumber(sqn);
  const size = 2 ** policy.indBits;
  const ind = n % size;
  const seq = Math.floor(n / size);
  const highest = Math.max(0, ...seqArray);
  const refuse = (reason: 'replayed_or_old' | 'too_far_ahead' | 'too_old'): FreshnessResult => ({
    fresh: false,
    reason,
    sqnMs: highestAccepted(policy, seqArray),
  });
  if (seq - highest > policy.delta) return refuse('too_far_ahead');
  if (policy.ageLimit !== undefined && highest - seq >= policy.ageLimit) return refuse('too_old');
  if (seq <= (seqArray[ind] ?? 0)) return refuse('replayed_or_old');
  const next = [...seqArray];
  next[ind] = seq;
  return { fresh: true, seqArray: next };
}
