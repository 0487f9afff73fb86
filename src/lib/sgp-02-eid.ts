// The eUICC identifier (GSMA SGP.02 §2.2.2, esim.md §2): 32 decimal digits, starting '89', whose last
// two digits are check digits computed as for an IBAN (ISO 7064 MOD 97-10): with the check digits set
// to '00' they are 98 − (n mod 97), and a whole EID is valid when n mod 97 = 1. pySim's
// `compute_eid_checksum` (pySim/euicc.py) and its tests (esim.md §5.5) are the vectors. On the card
// and in the EIS the EID travels as 16 bytes, two digits per byte in plain (not nibble-swapped) BCD,
// as GET DATA '5A' returns it (pySim `CardProfileEuiccSGP02`, esim.md §5.2 GET EID response).

import { decodeError, ok, type Result } from './result.js';

export const EID_DIGITS = 32;
export const EID_BYTES = 16;

/** n mod 97 of a decimal string, without big integers (ISO 7064 piecewise). */
function mod97(digits: string): number {
  let rest = 0;
  for (let i = 0; i < digits.length; i++) rest = (rest * 10 + (digits.charCodeAt(i) - 48)) % 97;
  return rest;
}

/** The two check digits for the first 30 digits of an EID. */
export function eidCheckDigits(first30: string): Result<string> {
  if (!/^\d{30}$/.test(first30)) return decodeError('EID_FORMAT', 'the EID body is 30 decimal digits');
  const check = 98 - mod97(`${first30}00`);
  return ok(String(check).padStart(2, '0'));
}

/**
 * The EID with its check digits: from 30 digits, or from 32 whose last two are replaced (pySim's
 * `compute_eid_checksum` accepts both).
 */
export function withEidCheckDigits(digits: string): Result<string> {
  if (!/^\d{30}(\d{2})?$/.test(digits)) return decodeError('EID_FORMAT', 'an EID is 30 or 32 decimal digits');
  const body = digits.slice(0, 30);
  const check = eidCheckDigits(body);
  return check.ok ? ok(body + check.value) : check;
}

/** Check an EID given as text: 32 digits, '89' first (ITU-T E.118 telecom), check digits right. */
export function parseEid(text: string): Result<string> {
  if (!/^\d{32}$/.test(text)) return decodeError('EID_FORMAT', 'an EID is 32 decimal digits');
  if (!text.startsWith('89')) return decodeError('EID_FORMAT', "an EID starts with '89'");
  if (mod97(text) !== 1) return decodeError('EID_CHECK_DIGITS', 'the EID check digits are wrong');
  return ok(text);
}

export const isEid = (text: string): boolean => parseEid(text).ok;

/** The 16 bytes of an EID (two digits per byte, first digit in the high nibble). */
export function encodeEid(eid: string): Result<Uint8Array> {
  const checked = parseEid(eid);
  if (!checked.ok) return checked;
  const out = new Uint8Array(EID_BYTES);
  for (let i = 0; i < EID_BYTES; i++) {
    out[i] = ((eid.charCodeAt(2 * i) - 48) << 4) | (eid.charCodeAt(2 * i + 1) - 48);
  }
  return ok(out);
}

/** The EID in 16 bytes back to its digits; total (bad bytes give a typed error). */
export function decodeEid(bytes: Uint8Array): Result<string> {
  if (bytes.length !== EID_BYTES) return decodeError('EID_FORMAT', `an EID is ${EID_BYTES} bytes`);
  let text = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    const hi = b >> 4;
    const lo = b & 0x0f;
    if (hi > 9 || lo > 9) return decodeError('EID_FORMAT', 'an EID byte is two decimal digits', i);
    text += String(hi) + String(lo);
  }
  return parseEid(text);
}
