// The AKA algorithm of a USIM, chosen per subscription: Milenage (TS 35.206) or the TS 34.108 §8.1.2
// test algorithm (SAIP akaParameter algorithmID 1 / 3). One switch, used by both ends — the AuC
// (platform/aaa/auc.ts) and the software card (card/uicc.ts) — so they cannot disagree.

import type { Result } from '../lib/result.js';
import { gsmMilenage } from './gsm-milenage.js';
import {
  buildAutn,
  buildAuts,
  milenage,
  recoverSqnFromAuts,
  type VerifiedChallenge,
  verifyAutn,
} from './milenage.js';
import {
  buildTestAuts,
  generateTestVector,
  gsmTestAlgorithm,
  recoverSqnFromTestAuts,
  verifyTestAutn,
} from './ts-34-108-test-algorithm.js';

export type AkaAlgorithm = 'milenage' | 'test';

export const AKA_ALGORITHMS: readonly AkaAlgorithm[] = ['milenage', 'test'];

/** TS 33.102 §6.3.2 quintet parts: AUTN, XRES, CK, IK. */
export function akaVector(
  algorithm: AkaAlgorithm,
  k: Uint8Array,
  opc: Uint8Array,
  rand: Uint8Array,
  sqn: Uint8Array,
  amf: Uint8Array,
): { autn: Uint8Array; res: Uint8Array; ck: Uint8Array; ik: Uint8Array } {
  if (algorithm === 'test') {
    const v = generateTestVector(k, rand, sqn, amf);
    return { autn: v.autn, res: v.res, ck: v.ck, ik: v.ik };
  }
  const o = milenage(k, opc, rand, sqn, amf);
  return { autn: buildAutn(sqn, o.ak, amf, o.macA), res: o.res.slice(), ck: o.ck.slice(), ik: o.ik.slice() };
}

/** USIM side of TS 33.102 §6.3.3: MAC-A checked (`MAC_FAILURE`), SQN recovered. */
export function akaVerifyAutn(
  algorithm: AkaAlgorithm,
  k: Uint8Array,
  opc: Uint8Array,
  rand: Uint8Array,
  autn: Uint8Array,
): Result<Pick<VerifiedChallenge, 'res' | 'ck' | 'ik' | 'sqn' | 'amf'>> {
  return algorithm === 'test' ? verifyTestAutn(k, rand, autn) : verifyAutn(k, opc, rand, autn);
}

/** TS 33.102 §6.3.3: AUTS for a SQN_MS. */
export function akaBuildAuts(
  algorithm: AkaAlgorithm,
  k: Uint8Array,
  opc: Uint8Array,
  rand: Uint8Array,
  sqnMs: Uint8Array,
): Uint8Array {
  return algorithm === 'test' ? buildTestAuts(k, rand, sqnMs) : buildAuts(k, opc, rand, sqnMs);
}

/** AuC side of TS 33.102 §6.3.5: SQN_MS from AUTS, MAC-S checked (`MAC_S_FAILURE`). */
export function akaRecoverSqn(
  algorithm: AkaAlgorithm,
  k: Uint8Array,
  opc: Uint8Array,
  rand: Uint8Array,
  auts: Uint8Array,
): Result<Uint8Array> {
  return algorithm === 'test'
    ? recoverSqnFromTestAuts(k, rand, auts)
    : recoverSqnFromAuts(k, opc, rand, auts);
}

/** GSM security context (TS 33.102 §6.8.1.2 c2/c3): SRES and Kc. */
export function akaGsm(
  algorithm: AkaAlgorithm,
  k: Uint8Array,
  opc: Uint8Array,
  rand: Uint8Array,
): { sres: Uint8Array; kc: Uint8Array } {
  return algorithm === 'test' ? gsmTestAlgorithm(k, rand) : gsmMilenage(k, opc, rand);
}
