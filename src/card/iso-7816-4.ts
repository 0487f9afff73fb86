// Command and response APDUs (ISO/IEC 7816-4 §5.1, 7816-3 §12.1 for the T=0 mapping). Only short
// APDUs: a UICC that does not announce extended length in its ATR never receives them.

import { decodeError, ok, type Result } from '../lib/result.js';

export interface CommandApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  /** Command data; empty when Lc is absent (cases 1 and 2). */
  readonly data: Uint8Array;
  /** Le as sent (0 means 256), or undefined when absent (cases 1 and 3). */
  readonly le: number | undefined;
}

/**
 * ISO 7816-4 §5.1 short cases:
 *   case 1: CLA INS P1 P2                case 2: … Le
 *   case 3: … Lc data                    case 4: … Lc data Le
 * A 5th byte of 00 followed by more bytes would be extended length, which is refused.
 */
export function parseCommandApdu(bytes: Uint8Array): Result<CommandApdu> {
  if (bytes.length < 4) return decodeError('APDU_SHORT', `an APDU has at least 4 bytes, got ${bytes.length}`);
  const [cla = 0, ins = 0, p1 = 0, p2 = 0] = bytes;
  if (bytes.length === 4) return ok({ cla, ins, p1, p2, data: new Uint8Array(0), le: undefined });
  const p3 = bytes[4] as number;
  if (bytes.length === 5) return ok({ cla, ins, p1, p2, data: new Uint8Array(0), le: p3 });
  if (p3 === 0) return decodeError('APDU_EXTENDED', 'extended length APDUs are not supported', 4);
  if (bytes.length === 5 + p3) return ok({ cla, ins, p1, p2, data: bytes.slice(5), le: undefined });
  if (bytes.length === 6 + p3) {
    return ok({ cla, ins, p1, p2, data: bytes.slice(5, 5 + p3), le: bytes[5 + p3] as number });
  }
  return decodeError('APDU_LENGTH', `Lc = ${p3} does not match the ${bytes.length - 5} bytes that follow`, 4);
}

export function encodeCommandApdu(c: {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data?: Uint8Array;
  le?: number;
}): Uint8Array {
  const data = c.data ?? new Uint8Array(0);
  if (data.length > 255) throw new RangeError('short APDUs carry at most 255 bytes of data');
  const out: number[] = [c.cla, c.ins, c.p1, c.p2];
  if (data.length > 0) out.push(data.length, ...data);
  if (c.le !== undefined) out.push(c.le & 0xff);
  return Uint8Array.from(out);
}

/** Ne from an Le byte: 00 means 256 (ISO 7816-4 §5.1). */
export const expectedLength = (le: number): number => (le === 0 ? 256 : le);

export interface ResponseApdu {
  readonly data: Uint8Array;
  readonly sw: number;
}

export function parseResponseApdu(bytes: Uint8Array): Result<ResponseApdu> {
  if (bytes.length < 2) return decodeError('RAPDU_SHORT', 'a response has at least the 2 status bytes');
  const n = bytes.length;
  return ok({ data: bytes.slice(0, n - 2), sw: ((bytes[n - 2] as number) << 8) | (bytes[n - 1] as number) });
}

export function encodeResponseApdu(data: Uint8Array, sw: number): Uint8Array {
  const out = new Uint8Array(data.length + 2);
  out.set(data);
  out[data.length] = sw >> 8;
  out[data.length + 1] = sw & 0xff;
  return out;
}

export const swHex = (sw: number): string => sw.toString(16).toUpperCase().padStart(4, '0');
