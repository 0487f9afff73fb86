// GSM-Milenage (3GPP TS 55.205) and the USIM conversion functions c2/c3 (TS 33.102 §6.8.1.2): how a
// USIM answers a GSM challenge (RAND → SRES, Kc) from the same K/OPc as its UMTS keys.

import { milenageF2345 } from './milenage.js';

export interface GsmTriplet {
  /** 32-bit signed response. */
  readonly sres: Uint8Array;
  /** 64-bit GSM cipher key. */
  readonly kc: Uint8Array;
}

/** TS 33.102 §6.8.1.2 c2: SRES = RES[0..4) ⊕ RES[4..8) for a 64-bit RES (TS 55.205 "SRES#1"). */
export function c2Sres(res: Uint8Array): Uint8Array {
  if (res.length !== 8) throw new RangeError(`c2 expects an 8-byte RES, got ${res.length}`);
  const sres = new Uint8Array(4);
  for (let i = 0; i < 4; i++) sres[i] = (res[i] as number) ^ (res[i + 4] as number);
  return sres;
}

/** TS 33.102 §6.8.1.2 c3: Kc = CK1 ⊕ CK2 ⊕ IK1 ⊕ IK2 (the 64-bit halves of CK and IK). */
export function c3Kc(ck: Uint8Array, ik: Uint8Array): Uint8Array {
  if (ck.length !== 16 || ik.length !== 16) throw new RangeError('c3 expects 16-byte CK and IK');
  const kc = new Uint8Array(8);
  for (let i = 0; i < 8; i++) {
    kc[i] = (ck[i] as number) ^ (ck[i + 8] as number) ^ (ik[i] as number) ^ (ik[i + 8] as number);
  }
  return kc;
}

/**
 * TS 55.205 GSM-Milenage as a USIM runs it in GSM security context (TS 31.102 §7.1.2.1): SRES by c2
 * (the "SRES#1" column of the test sets, also what hostapd's hlr_auc_gw and osmo-auc-gen use) and
 * Kc by c3.
 */
export function gsmMilenage(k: Uint8Array, opc: Uint8Array, rand: Uint8Array): GsmTriplet {
  const { res, ck, ik } = milenageF2345(k, opc, rand);
  return { sres: c2Sres(res), kc: c3Kc(ck, ik) };
}

/** TS 55.205 alternative SRES ("SRES#2"): the first 32 bits of RES, without the c2 folding. */
export function gsmMilenageSresAlt(k: Uint8Array, opc: Uint8Array, rand: Uint8Array): Uint8Array {
  return milenageF2345(k, opc, rand).res.slice(0, 4);
}
