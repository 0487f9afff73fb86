// 3GPP TS 34.108 §8.1.2: the test algorithm a test USIM runs instead of Milenage (SAIP akaParameter
// algorithmID 3, "usim-test-algorithm", used by the GSMA TS.48 generic test profiles). It is a
// plain XOR of K and RAND: no secrecy, only a known answer for conformance testing. Pure functions
// over Uint8Array shaped like milenage.ts, so the AuC and the card can select either.
//
// TS 34.108 §8.1.2.1, bits numbered from the most significant bit of byte 0:
//   XDOUT = K ⊕ RAND                      (128 bits)
//   RES   = f2  = XDOUT[0 .. n-1]          (n = 32..128 bits; 128 by default, as osmo-auc-gen)
//   CK    = f3 : CK[i] = XDOUT[(i+8)  mod 128]   — XDOUT rotated left by one byte
//   IK    = f4 : IK[i] = XDOUT[(i+16) mod 128]   — rotated left by two bytes
//   AK    = f5 : AK[i] = XDOUT[i+24], i = 0..47  — bytes 3..8
//   CDOUT = SQN ‖ AMF                      (64 bits)
//   XMAC  = f1 = XDOUT[0..63] ⊕ CDOUT
// §8.1.2.2 resynchronisation: f1* is f1 with the dummy AMF* = 0 (TS 33.102 §6.3.3) and f5* = f5,
// so AUTS = (SQN_MS ⊕ AK) ‖ (XDOUT[0..63] ⊕ (SQN_MS ‖ 0000)). osmo-auc-gen's "XOR" algorithm
// (libosmocore xor.c) is an independent implementation; test/interop cross-checks both.

import { decodeError, ok, type Result } from '../lib/result.js';
import { constantTimeEqual } from './constant-time.js';
import { c3Kc } from './gsm-milenage.js';

/** Field lengths in bytes. RES may be shorter (4..16 bytes) when a profile asks for it. */
export const TEST_ALGORITHM = {
  K: 16,
  RAND: 16,
  SQN: 6,
  AMF: 2,
  MAC: 8,
  RES: 16,
  RES_MIN: 4,
  CK: 16,
  IK: 16,
  AK: 6,
  AUTN: 16,
  AUTS: 14,
} as const;

/** Everything f1..f5* produce, named as in milenage.ts. */
export interface TestAlgorithmOutput {
  /** f1: XMAC / MAC-A = XDOUT[0..63] ⊕ (SQN ‖ AMF). */
  readonly macA: Uint8Array;
  /** f1*: MAC-S = XDOUT[0..63] ⊕ (SQN ‖ AMF) — with AMF* = 0 when used for AUTS. */
  readonly macS: Uint8Array;
  /** f2: RES = XDOUT[0 .. resLength). */
  readonly res: Uint8Array;
  /** f3: CK. */
  readonly ck: Uint8Array;
  /** f4: IK. */
  readonly ik: Uint8Array;
  /** f5: AK. */
  readonly ak: Uint8Array;
  /** f5*: equal to f5 in the test algorithm. */
  readonly akStar: Uint8Array;
}

export type TestAlgorithmF2345 = Omit<TestAlgorithmOutput, 'macA' | 'macS'>;

export interface TestAlgorithmOptions {
  /** RES length in bytes, 4..16 (TS 34.108 §8.1.2.1: n between 32 and 128 bits). Default 16. */
  readonly resLength?: number;
}

function requireLength(name: string, value: Uint8Array, length: number): void {
  if (value.length !== length) throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
}

function resLengthOf(options: TestAlgorithmOptions | undefined): number {
  const n = options?.resLength ?? TEST_ALGORITHM.RES;
  if (!Number.isInteger(n) || n < TEST_ALGORITHM.RES_MIN || n > TEST_ALGORITHM.RES) {
    throw new RangeError(`RES length must be 4..16 bytes, got ${n}`);
  }
  return n;
}

/** TS 34.108 §8.1.2.1 step 1: XDOUT = K ⊕ RAND. */
export function xdout(k: Uint8Array, rand: Uint8Array): Uint8Array {
  requireLength('K', k, TEST_ALGORITHM.K);
  requireLength('RAND', rand, TEST_ALGORITHM.RAND);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = (k[i] as number) ^ (rand[i] as number);
  return out;
}

/** Rotate 128 bits left by whole bytes: result[i] = x[(i + bytes) mod 16]. */
function rotateBytes(x: Uint8Array, bytes: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = x[(i + bytes) % 16] as number;
  return out;
}

/** f1 / f1*: XDOUT[0..63] ⊕ (SQN ‖ AMF). */
function f1(x: Uint8Array, sqn: Uint8Array, amf: Uint8Array): Uint8Array {
  requireLength('SQN', sqn, TEST_ALGORITHM.SQN);
  requireLength('AMF', amf, TEST_ALGORITHM.AMF);
  const mac = new Uint8Array(8);
  for (let i = 0; i < 6; i++) mac[i] = (x[i] as number) ^ (sqn[i] as number);
  mac[6] = (x[6] as number) ^ (amf[0] as number);
  mac[7] = (x[7] as number) ^ (amf[1] as number);
  return mac;
}

/** f2, f3, f4, f5 and f5* (TS 34.108 §8.1.2.1 step 2): they do not depend on SQN or AMF. */
export function testAlgorithmF2345(
  k: Uint8Array,
  rand: Uint8Array,
  options?: TestAlgorithmOptions,
): TestAlgorithmF2345 {
  const x = xdout(k, rand);
  const ak = x.slice(3, 9);
  return {
    res: x.slice(0, resLengthOf(options)),
    ck: rotateBytes(x, 1),
    ik: rotateBytes(x, 2),
    ak,
    akStar: ak.slice(),
  };
}

/** All of f1..f5* for one (K, RAND, SQN, AMF). */
export function testAlgorithm(
  k: Uint8Array,
  rand: Uint8Array,
  sqn: Uint8Array,
  amf: Uint8Array,
  options?: TestAlgorithmOptions,
): TestAlgorithmOutput {
  const x = xdout(k, rand);
  const mac = f1(x, sqn, amf);
  return { ...testAlgorithmF2345(k, rand, options), macA: mac, macS: mac.slice() };
}

const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => a.map((v, i) => v ^ (b[i] as number));

/** An authentication vector (TS 33.102 §6.3.2) computed with the test algorithm. */
export interface TestAlgorithmVector extends TestAlgorithmOutput {
  readonly rand: Uint8Array;
  readonly sqn: Uint8Array;
  readonly amf: Uint8Array;
  readonly autn: Uint8Array;
}

/** TS 33.102 §6.3.2 with the test algorithm: AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A. */
export function generateTestVector(
  k: Uint8Array,
  rand: Uint8Array,
  sqn: Uint8Array,
  amf: Uint8Array,
  options?: TestAlgorithmOptions,
): TestAlgorithmVector {
  const o = testAlgorithm(k, rand, sqn, amf, options);
  const autn = new Uint8Array(TEST_ALGORITHM.AUTN);
  autn.set(xor(sqn, o.ak), 0);
  autn.set(amf, 6);
  autn.set(o.macA, 8);
  return { ...o, rand, sqn, amf, autn };
}

/** What the test USIM learns from a genuine AUTN, before its SQN freshness check. */
export interface VerifiedTestChallenge extends TestAlgorithmF2345 {
  readonly sqn: Uint8Array;
  readonly amf: Uint8Array;
}

/**
 * USIM side (TS 34.108 §8.1.2.1 steps 3–4, TS 33.102 §6.3.3): SQN = (SQN ⊕ AK) ⊕ AK, XMAC = f1,
 * compared with MAC-A in constant time; `MAC_FAILURE` when they differ. SQN freshness is the
 * card's job, as with Milenage.
 */
export function verifyTestAutn(
  k: Uint8Array,
  rand: Uint8Array,
  autn: Uint8Array,
  options?: TestAlgorithmOptions,
): Result<VerifiedTestChallenge> {
  if (autn.length !== TEST_ALGORITHM.AUTN) {
    return decodeError('AUTN_LENGTH', `AUTN must be 16 bytes, got ${autn.length}`);
  }
  const keys = testAlgorithmF2345(k, rand, options);
  const sqn = xor(autn.subarray(0, 6), keys.ak);
  const amf = autn.slice(6, 8);
  const xmac = f1(xdout(k, rand), sqn, amf);
  if (!constantTimeEqual(xmac, autn.subarray(8, 16))) {
    return decodeError('MAC_FAILURE', 'MAC-A does not match');
  }
  return ok({ ...keys, sqn, amf });
}

/** TS 33.102 §6.3.3: AMF* used in MAC-S is all zero. */
const AMF_STAR = new Uint8Array(2);

/** TS 34.108 §8.1.2.2: AUTS = (SQN_MS ⊕ AK) ‖ MAC-S with MAC-S = f1*(SQN_MS, AMF* = 0). */
export function buildTestAuts(k: Uint8Array, rand: Uint8Array, sqnMs: Uint8Array): Uint8Array {
  const x = xdout(k, rand);
  const auts = new Uint8Array(TEST_ALGORITHM.AUTS);
  auts.set(xor(sqnMs, x.subarray(3, 9)), 0);
  auts.set(f1(x, sqnMs, AMF_STAR), 6);
  return auts;
}

/**
 * AuC side of TS 33.102 §6.3.5 with the test algorithm: SQN_MS = AUTS[0..6) ⊕ AK, then MAC-S must
 * equal f1*(SQN_MS, AMF* = 0) (constant time); `MAC_S_FAILURE` when it does not.
 */
export function recoverSqnFromTestAuts(
  k: Uint8Array,
  rand: Uint8Array,
  auts: Uint8Array,
): Result<Uint8Array> {
  if (auts.length !== TEST_ALGORITHM.AUTS) {
    return decodeError('AUTS_LENGTH', `AUTS must be 14 bytes, got ${auts.length}`);
  }
  const x = xdout(k, rand);
  const sqnMs = xor(auts.subarray(0, 6), x.subarray(3, 9));
  if (!constantTimeEqual(f1(x, sqnMs, AMF_STAR), auts.subarray(6, 14))) {
    return decodeError('MAC_S_FAILURE', 'MAC-S does not match');
  }
  return ok(sqnMs);
}

/**
 * GSM security context of a test USIM (TS 31.102 §7.1.2.1 with TS 33.102 §6.8.1.2): SRES = c2(RES)
 * = RES*1 ⊕ RES*2 ⊕ RES*3 ⊕ RES*4 over RES zero-padded to 128 bits, Kc = c3(CK, IK).
 */
export function gsmTestAlgorithm(
  k: Uint8Array,
  rand: Uint8Array,
  options?: TestAlgorithmOptions,
): { sres: Uint8Array; kc: Uint8Array } {
  const { res, ck, ik } = testAlgorithmF2345(k, rand, options);
  const sres = new Uint8Array(4);
  for (let i = 0; i < res.length; i++) sres[i % 4] = (sres[i % 4] as number) ^ (res[i] as number);
  return { sres, kc: c3Kc(ck, ik) };
}
