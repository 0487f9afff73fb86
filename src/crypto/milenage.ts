// 3GPP TS 35.206 Milenage: OPc, f1, f1*, f2, f3, f4, f5, f5*, and the TS 33.102 constructions built
// on them (AUTN §6.3.2, AUTS §6.3.3). Pure functions over Uint8Array; no I/O.
//
// Every intermediate value of Milenage is a 128-bit block and every rotation (r1..r5 = 64, 0, 32, 64,
// 96 bits) is a whole number of 32-bit words, so the computation runs on four int32 words per block
// with the table AES of fips-197-aes-128.ts: one key schedule and six block encryptions per vector.

import { decodeError, ok, type Result } from '../lib/result.js';
import { constantTimeEqual } from './constant-time.js';
import {
  type Aes128RoundKeys,
  encryptWords,
  expandKey128,
  newRoundKeys,
  readWord,
  writeWord,
} from './fips-197-aes-128.js';

/** Field lengths in bytes (TS 33.102 §6.3.7 and TS 35.206 §2). */
export const MILENAGE = {
  K: 16,
  OP: 16,
  OPC: 16,
  RAND: 16,
  SQN: 6,
  AMF: 2,
  MAC: 8,
  RES: 8,
  CK: 16,
  IK: 16,
  AK: 6,
  AUTN: 16,
  AUTS: 14,
} as const;

/** Everything f1..f5* produce for one (K, OPc, RAND, SQN, AMF). */
export interface MilenageOutput {
  /** f1: network authentication code, AUTN[8..16). */
  readonly macA: Uint8Array;
  /** f1*: resynchronisation authentication code, AUTS[6..14). */
  readonly macS: Uint8Array;
  /** f2: the response (64 bits). */
  readonly res: Uint8Array;
  /** f3: cipher key. */
  readonly ck: Uint8Array;
  /** f4: integrity key. */
  readonly ik: Uint8Array;
  /** f5: anonymity key that conceals SQN in AUTN. */
  readonly ak: Uint8Array;
  /** f5*: anonymity key that conceals SQN_MS in AUTS. */
  readonly akStar: Uint8Array;
}

export type MilenageF2345 = Omit<MilenageOutput, 'macA' | 'macS'>;

function requireLength(name: string, value: Uint8Array, length: number): void {
  if (value.length !== length) throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
}

// Scratch state, reused by every call: the round keys of K, OPc and TEMP as words. The functions
// below are synchronous and never re-enter, so module-level state is safe and keeps the hot path of
// an AuC free of allocation. `prepare` fills it; `out1` and `out2345` read it.
const RK: Aes128RoundKeys = newRoundKeys();
const BLOCK = new Int32Array(4);
/** OPc[0..4) then TEMP[4..8), as big-endian words. */
const STATE = new Int32Array(8);
/** Byte layout of one computation: every output is a view into a single 68-byte buffer. */
const OUT_LENGTH = 68;

/** TS 35.206 §4.1: OPc = OP ⊕ E_K(OP). */
export function computeOpc(k: Uint8Array, op: Uint8Array): Uint8Array {
  requireLength('K', k, MILENAGE.K);
  requireLength('OP', op, MILENAGE.OP);
  expandKey128(k, RK);
  const o0 = readWord(op, 0);
  const o1 = readWord(op, 4);
  const o2 = readWord(op, 8);
  const o3 = readWord(op, 12);
  encryptWords(RK, o0, o1, o2, o3, BLOCK);
  return wordsToBytes(
    (BLOCK[0] as number) ^ o0,
    (BLOCK[1] as number) ^ o1,
    (BLOCK[2] as number) ^ o2,
    (BLOCK[3] as number) ^ o3,
  );
}

/**
 * All of f1, f1*, f2, f3, f4, f5 and f5* (TS 35.206 §4.1) for one vector: one key schedule and six
 * block encryptions. Throws RangeError when a field has the wrong length (a programming error:
 * validate input first).
 */
export function milenage(
  k: Uint8Array,
  opc: Uint8Array,
  rand: Uint8Array,
  sqn: Uint8Array,
  amf: Uint8Array,
): MilenageOutput {
  prepare(k, opc, rand);
  const out = new Uint8Array(OUT_LENGTH);
  out1(sqn, amf, out);
  out2345(out);
  return outputs(out);
}

/** f1 and f1* only (TS 35.206 §4.1 OUT1). */
export function milenageF1(
  k: Uint8Array,
  opc: Uint8Array,
  rand: Uint8Array,
  sqn: Uint8Array,
  amf: Uint8Array,
): { macA: Uint8Array; macS: Uint8Array } {
  prepare(k, opc, rand);
  const out = new Uint8Array(16);
  out1(sqn, amf, out);
  return { macA: out.subarray(0, 8), macS: out.subarray(8, 16) };
}

/** f2, f3, f4, f5 and f5* (TS 35.206 §4.1 OUT2..OUT5): they do not depend on SQN or AMF. */
export function milenageF2345(k: Uint8Array, opc: Uint8Array, rand: Uint8Array): MilenageF2345 {
  prepare(k, opc, rand);
  const out = new Uint8Array(OUT_LENGTH);
  out2345(out);
  const { res, ck, ik, ak, akStar } = outputs(out);
  return { res, ck, ik, ak, akStar };
}

/** Key schedule of K, OPc as words, and TEMP = E_K(RAND ⊕ OPc). */
function prepare(k: Uint8Array, opc: Uint8Array, rand: Uint8Array): void {
  requireLength('K', k, MILENAGE.K);
  requireLength('OPc', opc, MILENAGE.OPC);
  requireLength('RAND', rand, MILENAGE.RAND);
  expandKey128(k, RK);
  for (let i = 0; i < 4; i++) STATE[i] = readWord(opc, 4 * i);
  encryptWords(
    RK,
    readWord(rand, 0) ^ (STATE[0] as number),
    readWord(rand, 4) ^ (STATE[1] as number),
    readWord(rand, 8) ^ (STATE[2] as number),
    readWord(rand, 12) ^ (STATE[3] as number),
    BLOCK,
  );
  STATE.set(BLOCK, 4);
}

/** OUT1 into out[0..16): f1 = MAC-A = OUT1[0..63], f1* = MAC-S = OUT1[64..127]. */
function out1(sqn: Uint8Array, amf: Uint8Array, out: Uint8Array): void {
  requireLength('SQN', sqn, MILENAGE.SQN);
  requireLength('AMF', amf, MILENAGE.AMF);
  const op0 = STATE[0] as number;
  const op1 = STATE[1] as number;
  const op2 = STATE[2] as number;
  const op3 = STATE[3] as number;
  // IN1 = SQN ‖ AMF ‖ SQN ‖ AMF; OUT1 = E_K(TEMP ⊕ rot(IN1 ⊕ OPc, r1 = 64) ⊕ c1) ⊕ OPc, c1 = 0
  const i0 = readWord(sqn, 0);
  const i1 =
    ((sqn[4] as number) << 24) | ((sqn[5] as number) << 16) | ((amf[0] as number) << 8) | (amf[1] as number);
  encryptWords(
    RK,
    (STATE[4] as number) ^ i0 ^ op2,
    (STATE[5] as number) ^ i1 ^ op3,
    (STATE[6] as number) ^ i0 ^ op0,
    (STATE[7] as number) ^ i1 ^ op1,
    BLOCK,
  );
  writeWord(out, 0, (BLOCK[0] as number) ^ op0);
  writeWord(out, 4, (BLOCK[1] as number) ^ op1);
  writeWord(out, 8, (BLOCK[2] as number) ^ op2);
  writeWord(out, 12, (BLOCK[3] as number) ^ op3);
}

/**
 * OUT2..OUT5 into out[16..68): [16..24) RES, [24..40) CK, [40..56) IK, [56..62) AK, [62..68) AK*.
 * With x = TEMP ⊕ OPc: OUTn = E_K(rot(x, rn) ⊕ cn) ⊕ OPc.
 */
function out2345(out: Uint8Array): void {
  const op0 = STATE[0] as number;
  const op1 = STATE[1] as number;
  const op2 = STATE[2] as number;
  const op3 = STATE[3] as number;
  const x0 = (STATE[4] as number) ^ op0;
  const x1 = (STATE[5] as number) ^ op1;
  const x2 = (STATE[6] as number) ^ op2;
  const x3 = (STATE[7] as number) ^ op3;

  // OUT2: r2 = 0, c2 = 1. f5 = AK = OUT2[0..47], f2 = RES = OUT2[64..127]
  encryptWords(RK, x0, x1, x2, x3 ^ 1, BLOCK);
  writeWord(out, 16, (BLOCK[2] as number) ^ op2);
  writeWord(out, 20, (BLOCK[3] as number) ^ op3);
  const ak0 = (BLOCK[0] as number) ^ op0;
  const ak1 = (BLOCK[1] as number) ^ op1;
  // OUT3: r3 = 32, c3 = 2. f3 = CK
  encryptWords(RK, x1, x2, x3, x0 ^ 2, BLOCK);
  writeWord(out, 24, (BLOCK[0] as number) ^ op0);
  writeWord(out, 28, (BLOCK[1] as number) ^ op1);
  writeWord(out, 32, (BLOCK[2] as number) ^ op2);
  writeWord(out, 36, (BLOCK[3] as number) ^ op3);
  // OUT4: r4 = 64, c4 = 4. f4 = IK
  encryptWords(RK, x2, x3, x0, x1 ^ 4, BLOCK);
  writeWord(out, 40, (BLOCK[0] as number) ^ op0);
  writeWord(out, 44, (BLOCK[1] as number) ^ op1);
  writeWord(out, 48, (BLOCK[2] as number) ^ op2);
  writeWord(out, 52, (BLOCK[3] as number) ^ op3);
  // OUT5: r5 = 96, c5 = 8. f5* = AK* = OUT5[0..47]
  encryptWords(RK, x3, x0, x1, x2 ^ 8, BLOCK);
  writeWord(out, 56, ak0);
  out[60] = ak1 >>> 24;
  out[61] = ak1 >>> 16;
  const s0 = (BLOCK[0] as number) ^ op0;
  const s1 = (BLOCK[1] as number) ^ op1;
  writeWord(out, 62, s0);
  out[66] = s1 >>> 24;
  out[67] = s1 >>> 16;
}

function outputs(out: Uint8Array): MilenageOutput {
  return {
    macA: out.subarray(0, 8),
    macS: out.subarray(8, 16),
    res: out.subarray(16, 24),
    ck: out.subarray(24, 40),
    ik: out.subarray(40, 56),
    ak: out.subarray(56, 62),
    akStar: out.subarray(62, 68),
  };
}

function wordsToBytes(w0: number, w1: number, w2: number, w3: number): Uint8Array {
  const b = new Uint8Array(16);
  writeWord(b, 0, w0);
  writeWord(b, 4, w1);
  writeWord(b, 8, w2);
  writeWord(b, 12, w3);
  return b;
}

const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => a.map((v, i) => v ^ (b[i] as number));

/** TS 33.102 §6.3.2: AUTN = (SQN ⊕ AK) ‖ AMF ‖ MAC-A. */
export function buildAutn(sqn: Uint8Array, ak: Uint8Array, amf: Uint8Array, macA: Uint8Array): Uint8Array {
  requireLength('SQN', sqn, MILENAGE.SQN);
  requireLength('AK', ak, MILENAGE.AK);
  requireLength('AMF', amf, MILENAGE.AMF);
  requireLength('MAC-A', macA, MILENAGE.MAC);
  const autn = new Uint8Array(MILENAGE.AUTN);
  autn.set(xor(sqn, ak), 0);
  autn.set(amf, 6);
  autn.set(macA, 8);
  return autn;
}

/** An authentication vector as the AuC hands it out (TS 33.102 §6.3.2), plus the GSM-free extras. */
export interface AuthenticationVector extends MilenageOutput {
  readonly rand: Uint8Array;
  readonly sqn: Uint8Array;
  readonly amf: Uint8Array;
  readonly autn: Uint8Array;
}

/** TS 33.102 §6.3.2: one quintet (RAND, XRES, CK, IK, AUTN) and the intermediate values. */
export function generateVector(
  k: Uint8Array,
  opc: Uint8Array,
  rand: Uint8Array,
  sqn: Uint8Array,
  amf: Uint8Array,
): AuthenticationVector {
  const o = milenage(k, opc, rand, sqn, amf);
  return { ...o, rand, sqn, amf, autn: buildAutn(sqn, o.ak, amf, o.macA) };
}

/** What the USIM learns from a genuine AUTN (TS 33.102 §6.3.3), before its SQN freshness check. */
export interface VerifiedChallenge extends MilenageF2345 {
  readonly sqn: Uint8Array;
  readonly amf: Uint8Array;
}

/**
 * USIM side of TS 33.102 §6.3.3: recover SQN = (SQN ⊕ AK) ⊕ f5, recompute XMAC = f1 and compare it
 * with MAC-A in constant time. Returns `MAC_FAILURE` when they differ. SQN freshness is the card's
 * job (Annex C), not this function's.
 */
export function verifyAutn(
  k: Uint8Array,
  opc: Uint8Array,
  rand: Uint8Array,
  autn: Uint8Array,
): Result<VerifiedChallenge> {
  if (autn.length !== MILENAGE.AUTN) {
    return decodeError('AUTN_LENGTH', `AUTN must be 16 bytes, got ${autn.length}`);
  }
  prepare(k, opc, rand);
  const out = new Uint8Array(OUT_LENGTH);
  out2345(out);
  const { res, ck, ik, ak, akStar } = outputs(out);
  const sqn = xor(autn.subarray(0, 6), ak);
  const amf = autn.slice(6, 8);
  out1(sqn, amf, out);
  if (!constantTimeEqual(out.subarray(0, 8), autn.subarray(8, 16))) {
    return decodeError('MAC_FAILURE', 'MAC-A does not match');
  }
  return ok({ res, ck, ik, ak, akStar, sqn, amf });
}

/** TS 33.102 §6.3.3: AMF* used in MAC-S is all zero. */
const AMF_STAR = new Uint8Array(2);

/** TS 33.102 §6.3.3: AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S with MAC-S = f1*(K, SQN_MS, RAND, AMF* = 0). */
export function buildAuts(k: Uint8Array, opc: Uint8Array, rand: Uint8Array, sqnMs: Uint8Array): Uint8Array {
  const { macS, akStar } = milenage(k, opc, rand, sqnMs, AMF_STAR);
  const auts = new Uint8Array(MILENAGE.AUTS);
  auts.set(xor(sqnMs, akStar), 0);
  auts.set(macS, 6);
  return auts;
}

/**
 * AuC side of TS 33.102 §6.3.5: SQN_MS = AUTS[0..6) ⊕ f5*(RAND), then MAC-S must equal
 * f1*(SQN_MS, RAND, AMF* = 0) (constant-time). `MAC_S_FAILURE` when it does not.
 */
export function recoverSqnFromAuts(
  k: Uint8Array,
  opc: Uint8Array,
  rand: Uint8Array,
  auts: Uint8Array,
): Result<Uint8Array> {
  if (auts.length !== MILENAGE.AUTS) {
    return decodeError('AUTS_LENGTH', `AUTS must be 14 bytes, got ${auts.length}`);
  }
  prepare(k, opc, rand);
  const out = new Uint8Array(OUT_LENGTH);
  out2345(out);
  const sqnMs = xor(auts.subarray(0, 6), out.subarray(62, 68));
  out1(sqnMs, AMF_STAR, out);
  if (!constantTimeEqual(out.subarray(8, 16), auts.subarray(6, 14))) {
    return decodeError('MAC_S_FAILURE', 'MAC-S does not match');
  }
  return ok(sqnMs);
}

/** SQN as a number (48 bits fit exactly in a double). */
export function sqnToNumber(sqn: Uint8Array): number {
  requireLength('SQN', sqn, MILENAGE.SQN);
  let n = 0;
  for (const b of sqn) n = n * 256 + b;
  return n;
}

/** A 48-bit SQN number as 6 bytes. */
export function sqnFromNumber(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0 || n >= 2 ** 48) throw new RangeError(`SQN out of range: ${n}`);
  const b = new Uint8Array(6);
  let v = n;
  for (let i = 5; i >= 0; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return b;
}
