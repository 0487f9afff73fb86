// Splitting an SMS text into the short_message parts of SMPP submit_sm PDUs.
// - Alphabet (TS 23.038 §4 data coding; SMPP §5.2.19 data_coding): the GSM 7-bit default alphabet
//   (data_coding 0x00, one septet per octet as SMPP carries it, the SMSC packs) when every character
//   is in it, otherwise UCS-2 (data_coding 0x08, big-endian UTF-16).
// - Length: 160 septets or 140 octets in one SMS (TS 23.040 §9.2.3.16/§9.2.3.24).
// - Concatenation (TS 23.040 §9.2.3.24.1): a user data header `05 00 03 ref total seq` (IEI 0x00,
//   8-bit reference) in front of each part, esm_class UDHI (SMPP §5.2.12, 0x40). Its 6 octets cost 7
//   septets, so 153 septets or 67 UCS-2 characters (134 octets) per part. A part never ends
//   between an escape and its extension character, nor inside a UTF-16 surrogate pair.

import { textToSeptets } from '../../../lib/ts-23-038-gsm-alphabet.js';

export const DATA_CODING_GSM7 = 0x00;
export const DATA_CODING_UCS2 = 0x08;
export const ESM_CLASS_UDHI = 0x40;
/** TS 23.040 §9.2.3.24.1: at most 255 parts per message. */
const MAX_PARTS = 255;

export interface SmsParts {
  readonly dataCoding: typeof DATA_CODING_GSM7 | typeof DATA_CODING_UCS2;
  /** One short_message per PDU; when there are several, each begins with its UDH. */
  readonly parts: readonly Uint8Array[];
  readonly concatenated: boolean;
}

const ESC = 0x1b;

function splitSeptets(septets: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  let i = 0;
  while (i < septets.length) {
    let end = Math.min(i + size, septets.length);
    if (end < septets.length && septets[end - 1] === ESC) end--; // keep an escape with its character
    out.push(septets.slice(i, end));
    i = end;
  }
  return out;
}

function splitUtf16(text: string, size: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(i + size, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--; // high surrogate stays with its pair
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}

function ucs2(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[2 * i] = c >> 8;
    out[2 * i + 1] = c & 0xff;
  }
  return out;
}

function withUdh(body: Uint8Array, reference: number, total: number, sequence: number): Uint8Array {
  const out = new Uint8Array(6 + body.length);
  out.set([0x05, 0x00, 0x03, reference & 0xff, total, sequence]);
  out.set(body, 6);
  return out;
}

/**
 * The parts of `text`. `reference` (0–255) identifies the concatenated message at the phone; give a
 * random one per message. Throws RangeError beyond 255 parts.
 */
export function segmentSms(text: string, reference: number): SmsParts {
  const septets = textToSeptets(text);
  const concatenated = septets !== undefined ? septets.length > 160 : text.length > 70;
  const bodies: Uint8Array[] =
    septets !== undefined
      ? (concatenated ? splitSeptets(septets, 153) : [septets]).map((s) => Uint8Array.from(s))
      : (concatenated ? splitUtf16(text, 67) : [text]).map(ucs2);
  if (bodies.length > MAX_PARTS) throw new RangeError(`an SMS may have at most ${MAX_PARTS} parts`);
  return {
    dataCoding: septets !== undefined ? DATA_CODING_GSM7 : DATA_CODING_UCS2,
    concatenated,
    parts: concatenated ? bodies.map((b, i) => withUdh(b, reference, bodies.length, i + 1)) : bodies,
  };
}
