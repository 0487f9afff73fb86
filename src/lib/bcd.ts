// TBCD digit strings (3GPP TS 29.002 / TS 24.008 §10.5.1.4: low nibble first, 0xF filler) and the
// PLMN identity (TS 24.008 §10.5.1.13: MCC2|MCC1, MNC3|MCC3, MNC2|MNC1; MNC3 = F for 2-digit MNCs).

import { decodeError, ok, type Result } from './result.js';

const DIGITS_RE = /^\d*$/;

/** Encode decimal digits as TBCD, padding an odd count with 0xF. `digits` must be decimal. */
export function encodeTbcd(digits: string): Uint8Array {
  const out = new Uint8Array(Math.ceil(digits.length / 2));
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(i) - 48;
    const byte = i >> 1;
    out[byte] = (out[byte] ?? 0) | (i % 2 === 0 ? d : d << 4);
  }
  if (digits.length % 2 === 1) out[out.length - 1] = (out[out.length - 1] ?? 0) | 0xf0;
  return out;
}

/** Decode TBCD; a 0xF nibble ends the string (it may only appear as the last high nibble). */
export function decodeTbcd(bytes: Uint8Array): Result<string> {
  let digits = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    for (const nibble of [b & 0x0f, b >> 4]) {
      if (nibble === 0x0f) {
        const last = i === bytes.length - 1 && nibble === b >> 4;
        return last ? ok(digits) : decodeError('TBCD_FILLER', 'filler nibble before the end', i);
      }
      if (nibble > 9) return decodeError('TBCD_DIGIT', `nibble ${nibble} is not a decimal digit`, i);
      digits += String.fromCharCode(48 + nibble);
    }
  }
  return ok(digits);
}

export interface Plmn {
  readonly mcc: string;
  readonly mnc: string;
}

export function isPlmn(p: Plmn): boolean {
  return /^\d{3}$/.test(p.mcc) && /^\d{2,3}$/.test(p.mnc);
}

/** TS 24.008 §10.5.1.13 PLMN identity (3 bytes). */
export function encodePlmn({ mcc, mnc }: Plmn): Uint8Array {
  const d = (s: string, i: number) => (i < s.length ? s.charCodeAt(i) - 48 : 0x0f);
  return Uint8Array.of(
    (d(mcc, 1) << 4) | d(mcc, 0),
    (d(mnc, 2) << 4) | d(mcc, 2),
    (d(mnc, 1) << 4) | d(mnc, 0),
  );
}

export function decodePlmn(bytes: Uint8Array): Result<Plmn> {
  if (bytes.length !== 3) return decodeError('PLMN_LENGTH', `PLMN needs 3 bytes, got ${bytes.length}`);
  const [b0 = 0, b1 = 0, b2 = 0] = bytes;
  const nibbles = [b0 & 0xf, b0 >> 4, b1 & 0xf, b2 & 0xf, b2 >> 4, b1 >> 4];
  const [m1, m2, m3, n1, n2, n3] = nibbles as [number, number, number, number, number, number];
  if ([m1, m2, m3, n1, n2].some((n) => n > 9) || (n3 > 9 && n3 !== 0xf)) {
    return decodeError('PLMN_DIGIT', 'PLMN contains a non-decimal nibble');
  }
  const mnc = `${n1}${n2}${n3 === 0xf ? '' : n3}`;
  return ok({ mcc: `${m1}${m2}${m3}`, mnc });
}

export const isDigits = (s: string, min: number, max: number): boolean =>
  DIGITS_RE.test(s) && s.length >= min && s.length <= max;
