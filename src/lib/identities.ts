// Subscriber and equipment identities and their encodings:
// - IMSI (3GPP TS 23.003 §2): MCC (3) + MNC (2 or 3) + MSIN, at most 15 digits.
// - ICCID (ITU-T E.118, ETSI TS 102 221 §13.2): up to 19 digits + Luhn check digit; EF.ICCID holds it
//   as 10 bytes of swapped-nibble BCD padded with F.
// - IMEI (TS 23.003 §6.2.1): TAC (8) + SNR (6) + Luhn check digit; IMEISV: TAC + SNR + SVN (2), no
//   check digit.
// - Mobile identity (TS 24.008 §10.5.1.4): the digit encoding EF.IMSI and the toolkit IMEI/IMEISV
//   objects use: first byte = digit1 << 4 | odd/even flag << 3 | type.
// - MCC+MNC text (TS 29.061 §16.4.7, 3GPP-IMSI-MCC-MNC): the digits "MCCMNC" in ASCII.

import { decodeTbcd, encodeTbcd, isDigits, type Plmn } from './bcd.js';
import { hasValidLuhn, luhnCheckDigit } from './luhn.js';
import { decodeError, ok, type Result } from './result.js';

// --- IMSI -----------------------------------------------------------------------------------------

/** TS 23.003 §2.2: an IMSI has at most 15 digits; MCC and a 2-digit MNC make 5, so at least 6. */
export const isImsi = (imsi: string): boolean => isDigits(imsi, 6, 15);

export interface ImsiParts extends Plmn {
  readonly msin: string;
}

/** Split an IMSI into MCC, MNC and MSIN. The MNC length is not in the IMSI itself (EF.AD holds it). */
export function parseImsi(imsi: string, mncLength: 2 | 3): Result<ImsiParts> {
  if (!isImsi(imsi)) return decodeError('IMSI_FORMAT', 'an IMSI is 6 to 15 decimal digits');
  return ok({ mcc: imsi.slice(0, 3), mnc: imsi.slice(3, 3 + mncLength), msin: imsi.slice(3 + mncLength) });
}

// --- TS 24.008 §10.5.1.4 mobile identity ------------------------------------------------------------

/** Type of identity (TS 24.008 table 10.5.4). */
export const MOBILE_IDENTITY_TYPE = { imsi: 1, imei: 2, imeisv: 3 } as const;
export type MobileIdentityType = keyof typeof MOBILE_IDENTITY_TYPE;

/** Encode digits as a mobile identity value (without IEI and length). `digits` must be decimal. */
export function encodeMobileIdentity(type: MobileIdentityType, digits: string): Uint8Array {
  const odd = digits.length % 2 === 1;
  const first = ((digits.charCodeAt(0) - 48) << 4) | (odd ? 0x08 : 0) | MOBILE_IDENTITY_TYPE[type];
  const rest = encodeTbcd(digits.slice(1));
  const out = new Uint8Array(1 + rest.length);
  out[0] = first;
  out.set(rest, 1);
  return out;
}

export interface MobileIdentity {
  readonly type: MobileIdentityType;
  readonly digits: string;
}

export function decodeMobileIdentity(bytes: Uint8Array): Result<MobileIdentity> {
  const first = bytes[0];
  if (first === undefined) return decodeError('MOBILE_IDENTITY_EMPTY', 'mobile identity is empty');
  const typeCode = first & 0x07;
  const type = (Object.keys(MOBILE_IDENTITY_TYPE) as MobileIdentityType[]).find(
    (t) => MOBILE_IDENTITY_TYPE[t] === typeCode,
  );
  if (type === undefined)
    return decodeError('MOBILE_IDENTITY_TYPE', `identity type ${typeCode} is not supported`, 0);
  const d1 = first >> 4;
  if (d1 > 9) return decodeError('MOBILE_IDENTITY_DIGIT', 'first digit is not decimal', 0);
  const rest = decodeTbcd(bytes.subarray(1));
  if (!rest.ok) return decodeError(rest.error.code, rest.error.message, (rest.error.offset ?? 0) + 1);
  const digits = `${d1}${rest.value}`;
  const odd = (first & 0x08) !== 0;
  if (odd !== (digits.length % 2 === 1)) {
    return decodeError('MOBILE_IDENTITY_PARITY', 'odd/even indicator does not match the digit count', 0);
  }
  return ok({ type, digits });
}

/** TS 31.102 §4.2.2 EF.IMSI: length of the mobile identity, then the identity, padded with FF to 9. */
export function encodeEfImsi(imsi: string): Uint8Array {
  const id = encodeMobileIdentity('imsi', imsi);
  const out = new Uint8Array(9).fill(0xff);
  out[0] = id.length;
  out.set(id, 1);
  return out;
}

export function decodeEfImsi(bytes: Uint8Array): Result<string> {
  if (bytes.length !== 9) return decodeError('EF_IMSI_LENGTH', `EF.IMSI is 9 bytes, got ${bytes.length}`);
  const len = bytes[0] ?? 0;
  if (len === 0xff) return decodeError('EF_IMSI_EMPTY', 'EF.IMSI is not set', 0);
  if (len < 1 || len > 8) return decodeError('EF_IMSI_LENGTH', `IMSI length byte ${len} out of range`, 0);
  const id = decodeMobileIdentity(bytes.subarray(1, 1 + len));
  if (!id.ok) return decodeError(id.error.code, id.error.message, (id.error.offset ?? 0) + 1);
  if (id.value.type !== 'imsi') return decodeError('EF_IMSI_TYPE', 'EF.IMSI does not hold an IMSI', 1);
  if (!isImsi(id.value.digits))
    return decodeError('IMSI_FORMAT', 'EF.IMSI holds too few or too many digits', 1);
  return ok(id.value.digits);
}

// --- ICCID ----------------------------------------------------------------------------------------

/** E.118: 18 or 19 significant digits plus the Luhn check digit (19 or 20 in all). */
export const isIccid = (iccid: string): boolean => isDigits(iccid, 19, 20) && hasValidLuhn(iccid);

/** Append the Luhn check digit to an 18- or 19-digit ICCID body. */
export const iccidWithCheckDigit = (body: string): string => `${body}${luhnCheckDigit(body)}`;

/** TS 102 221 §13.2 EF.ICCID: 10 bytes, swapped-nibble BCD, F-padded. */
export function encodeEfIccid(iccid: string): Uint8Array {
  const out = new Uint8Array(10).fill(0xff);
  out.set(encodeTbcd(iccid));
  return out;
}

export function decodeEfIccid(bytes: Uint8Array): Result<string> {
  if (bytes.length !== 10) return decodeError('EF_ICCID_LENGTH', `EF.ICCID is 10 bytes, got ${bytes.length}`);
  // A 19-digit ICCID ends in one F nibble; a shorter one is padded with whole FF bytes after it.
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0xff) end--;
  const digits = decodeTbcd(bytes.subarray(0, end));
  if (!digits.ok) return digits;
  return ok(digits.value);
}

// --- IMEI / IMEISV --------------------------------------------------------------------------------

/** TS 23.003 §6.2.1: 15 digits whose last is the Luhn check digit over the first 14. */
export const isImei = (imei: string): boolean => isDigits(imei, 15, 15) && hasValidLuhn(imei);

/** TS 23.003 §6.2.2: 16 digits (TAC, SNR, SVN); no check digit. */
export const isImeisv = (imeisv: string): boolean => isDigits(imeisv, 16, 16);

/** Append the Luhn check digit to TAC + SNR (14 digits). */
export const imeiWithCheckDigit = (tacSnr: string): string => `${tacSnr}${luhnCheckDigit(tacSnr)}`;

/** The IMEI (with check digit) that an IMEISV belongs to. */
export const imeiFromImeisv = (imeisv: string): string => imeiWithCheckDigit(imeisv.slice(0, 14));

// --- MCC+MNC as text ------------------------------------------------------------------------------

/** TS 29.061 §16.4.7 3GPP-IMSI-MCC-MNC / 3GPP-SGSN-MCC-MNC: "MCC" followed by "MNC" in ASCII. */
export const formatMccMnc = ({ mcc, mnc }: Plmn): string => `${mcc}${mnc}`;

/** Parse "MCCMNC" text: 5 digits means a 2-digit MNC, 6 digits a 3-digit MNC. */
export function parseMccMnc(text: string): Result<Plmn> {
  if (!isDigits(text, 5, 6)) return decodeError('MCC_MNC_FORMAT', 'MCC+MNC is 5 or 6 decimal digits');
  return ok({ mcc: text.slice(0, 3), mnc: text.slice(3) });
}
