// 3GPP-User-Location-Info and 3GPP-MS-TimeZone (TS 29.061 §16.4.7.2, whose encodings are those of
// TS 29.060 §7.7.51 User Location Information and §7.7.98 MS Time Zone). Total decoders.

import { decodePlmn, encodePlmn, isPlmn, type Plmn } from '../bcd.js';
import { decodeError, ok, type Result } from '../result.js';

/** TS 29.061 §16.4.7.2: Geographic Location Type (first octet of 3GPP-User-Location-Info). */
export const GEOGRAPHIC_LOCATION_TYPE = {
  CGI: 0,
  SAI: 1,
  RAI: 2,
  TAI: 128,
  ECGI: 129,
  'TAI+ECGI': 130,
} as const;

export type UserLocationInfo =
  | ({ readonly type: 'CGI'; readonly lac: number; readonly ci: number } & Plmn)
  | ({ readonly type: 'SAI'; readonly lac: number; readonly sac: number } & Plmn)
  | ({ readonly type: 'RAI'; readonly lac: number; readonly rac: number } & Plmn)
  | ({ readonly type: 'TAI'; readonly tac: number } & Plmn)
  | ({ readonly type: 'ECGI'; readonly eci: number } & Plmn)
  | ({
      readonly type: 'TAI+ECGI';
      readonly tac: number;
      readonly eci: number;
      /** Only when the ECGI's PLMN differs from the TAI's (mcc/mnc). */
      readonly ecgiPlmn?: Plmn;
    } & Plmn)
  /** A Geographic Location Type this codec does not interpret (eNodeB ID, NCGI, 5GS TAI, …). */
  | { readonly type: 'unknown'; readonly geographicLocationType: number; readonly data: Uint8Array };

const u16 = (b: Uint8Array, i: number) => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
const ECI_MAX = 0x0fffffff;

function plmnAt(bytes: Uint8Array, offset: number): Result<Plmn> {
  const r = decodePlmn(bytes.subarray(offset, offset + 3));
  return r.ok ? r : decodeError('ULI_PLMN', r.error.message, offset + 1);
}

// Octets after the type octet, per TS 29.060 §7.7.51 (CGI/SAI/RAI) and TS 29.274 §8.21 (TAI/ECGI).
const BODY_LENGTH: Record<number, number> = { 0: 7, 1: 7, 2: 7, 128: 5, 129: 7, 130: 12 };

/** TS 29.061 §16.4.7.2 sub-attribute 22: decode the value (type octet + geographic location). */
export function decodeUserLocationInfo(bytes: Uint8Array): Result<UserLocationInfo> {
  if (bytes.length < 1) return decodeError('ULI_EMPTY', '3GPP-User-Location-Info is empty');
  const type = bytes[0] ?? 0;
  const expected = BODY_LENGTH[type];
  if (expected === undefined) {
    return ok({ type: 'unknown', geographicLocationType: type, data: bytes.slice(1) });
  }
  if (bytes.length !== 1 + expected) {
    return decodeError(
      'ULI_LENGTH',
      `location type ${type} needs ${expected} octets, got ${bytes.length - 1}`,
    );
  }
  const plmn = plmnAt(bytes, 1);
  if (!plmn.ok) return plmn;
  const { mcc, mnc } = plmn.value;
  switch (type) {
    case 0:
      return ok({ type: 'CGI', mcc, mnc, lac: u16(bytes, 4), ci: u16(bytes, 6) });
    case 1:
      return ok({ type: 'SAI', mcc, mnc, lac: u16(bytes, 4), sac: u16(bytes, 6) });
    case 2:
      // TS 29.060 §7.7.51: RAC is one octet; the following octet is filler (0xFF), ignored here.
      return ok({ type: 'RAI', mcc, mnc, lac: u16(bytes, 4), rac: bytes[6] ?? 0 });
    case 128:
      return ok({ type: 'TAI', mcc, mnc, tac: u16(bytes, 4) });
    case 129:
      return ok({ type: 'ECGI', mcc, mnc, eci: readEci(bytes, 4) });
    default: {
      const ecgi = plmnAt(bytes, 6);
      if (!ecgi.ok) return ecgi;
      const same = ecgi.value.mcc === mcc && ecgi.value.mnc === mnc;
      const tac = u16(bytes, 4);
      const eci = readEci(bytes, 9);
      return ok(
        same
          ? { type: 'TAI+ECGI', mcc, mnc, tac, eci }
          : { type: 'TAI+ECGI', mcc, mnc, tac, eci, ecgiPlmn: ecgi.value },
      );
    }
  }
}

// TS 29.274 §8.21.5: 4 spare bits then the 28-bit E-UTRAN Cell Identifier.
function readEci(b: Uint8Array, i: number): number {
  return (
    ((b[i] ?? 0) & 0x0f) * 0x1000000 + ((b[i + 1] ?? 0) << 16) + (((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0))
  );
}

const isU16 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffff;

export function encodeUserLocationInfo(uli: UserLocationInfo): Result<Uint8Array> {
  if (uli.type === 'unknown') {
    if (
      !Number.isInteger(uli.geographicLocationType) ||
      uli.geographicLocationType < 0 ||
      uli.geographicLocationType > 255
    ) {
      return decodeError('ULI_TYPE', 'geographic location type must be one octet');
    }
    return ok(Uint8Array.of(uli.geographicLocationType, ...uli.data));
  }
  if (!isPlmn(uli)) return decodeError('ULI_PLMN', 'mcc must be 3 digits and mnc 2 or 3 digits');
  const out = new Uint8Array(1 + (BODY_LENGTH[GEOGRAPHIC_LOCATION_TYPE[uli.type]] ?? 0));
  out[0] = GEOGRAPHIC_LOCATION_TYPE[uli.type];
  out.set(encodePlmn(uli), 1);
  const view = new DataView(out.buffer);
  const fields: number[] = [];
  switch (uli.type) {
    case 'CGI':
      fields.push(uli.lac, uli.ci);
      break;
    case 'SAI':
      fields.push(uli.lac, uli.sac);
      break;
    case 'RAI':
      if (!Number.isInteger(uli.rac) || uli.rac < 0 || uli.rac > 0xff)
        return decodeError('ULI_FIELD', 'RAC is one octet');
      fields.push(uli.lac, (uli.rac << 8) | 0xff);
      break;
    case 'TAI':
      fields.push(uli.tac);
      break;
    case 'ECGI':
    case 'TAI+ECGI':
      break;
  }
  if (uli.type === 'ECGI' || uli.type === 'TAI+ECGI') {
    if (!Number.isInteger(uli.eci) || uli.eci < 0 || uli.eci > ECI_MAX)
      return decodeError('ULI_FIELD', 'ECI is 28 bits');
    if (uli.type === 'ECGI') {
      view.setUint32(4, uli.eci);
    } else {
      if (!isU16(uli.tac)) return decodeError('ULI_FIELD', 'TAC is 16 bits');
      const ecgiPlmn = uli.ecgiPlmn ?? uli;
      if (!isPlmn(ecgiPlmn)) return decodeError('ULI_PLMN', 'ECGI PLMN is invalid');
      view.setUint16(4, uli.tac);
      out.set(encodePlmn(ecgiPlmn), 6);
      view.setUint32(9, uli.eci);
    }
    return ok(out);
  }
  if (!fields.every(isU16)) return decodeError('ULI_FIELD', 'LAC, CI, SAC and TAC are 16 bits');
  fields.forEach((f, i) => {
    view.setUint16(4 + i * 2, f);
  });
  return ok(out);
}

/** TS 29.060 §7.7.98: local time offset from UTC (DST included) and the DST adjustment in hours. */
export interface MsTimeZone {
  /** Multiple of 15 minutes, −15·79 … +15·79. */
  readonly offsetMinutes: number;
  readonly dstHours: 0 | 1 | 2;
}

/**
 * TS 29.061 §16.4.7.2 sub-attribute 23 (TS 29.060 §7.7.98): octet 1 is the Time Zone of TS 24.008
 * §10.5.3.8 — quarters of an hour as two swapped BCD semi-octets, bit 3 of the low nibble the sign —
 * and octet 2 carries the daylight-saving adjustment in its two low bits.
 */
export function decodeMsTimeZone(bytes: Uint8Array): Result<MsTimeZone> {
  if (bytes.length !== 2)
    return decodeError('MS_TIMEZONE_LENGTH', `3GPP-MS-TimeZone needs 2 octets, got ${bytes.length}`);
  const tz = bytes[0] ?? 0;
  const tens = tz & 0x07;
  const units = tz >> 4;
  if (units > 9) return decodeError('MS_TIMEZONE_DIGIT', 'time zone units digit is not decimal', 0);
  const dst = (bytes[1] ?? 0) & 0x03;
  if (dst === 3) return decodeError('MS_TIMEZONE_DST', 'daylight saving time value 3 is reserved', 1);
  const quarters = tens * 10 + units;
  return ok({ offsetMinutes: (tz & 0x08 ? -quarters : quarters) * 15, dstHours: dst as 0 | 1 | 2 });
}

export function encodeMsTimeZone(tz: MsTimeZone): Result<Uint8Array> {
  const quarters = Math.abs(tz.offsetMinutes) / 15;
  if (!Number.isInteger(quarters) || quarters > 79) {
    return decodeError('MS_TIMEZONE_RANGE', 'offset must be a multiple of 15 minutes within ±19h45');
  }
  if (![0, 1, 2].includes(tz.dstHours)) return decodeError('MS_TIMEZONE_DST', 'dstHours must be 0, 1 or 2');
  const sign = tz.offsetMinutes < 0 ? 0x08 : 0;
  return ok(Uint8Array.of(((quarters % 10) << 4) | Math.floor(quarters / 10) | sign, tz.dstHours));
}
