// The GSM 7-bit default alphabet (3GPP TS 23.038 §6.2.1) with its extension table (§6.2.1.1), in the
// two forms cards use: one character per byte (alpha identifiers, TS 102 221 Annex A) and packed
// septets (SMS user data, toolkit text strings with DCS 0x00).

import { decodeError, ok, type Result } from './result.js';

// 128 characters; index = septet value. 0x1B is the escape to the extension table.
const BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

const EXTENSION: ReadonlyMap<number, string> = new Map([
  [0x0a, '\f'],
  [0x14, '^'],
  [0x28, '{'],
  [0x29, '}'],
  [0x2f, '\\'],
  [0x3c, '['],
  [0x3d, '~'],
  [0x3e, ']'],
  [0x40, '|'],
  [0x65, '€'],
]);

const ESC = 0x1b;
const BASIC_INDEX = new Map<string, number>([...BASIC].map((c, i) => [c, i]));
const EXTENSION_INDEX = new Map<string, number>([...EXTENSION].map(([septet, c]) => [c, septet]));

/** Septets for `text`, or undefined when a character is not in the default alphabet. */
export function textToSeptets(text: string): number[] | undefined {
  const out: number[] = [];
  for (const c of text) {
    const basic = c === '\u001b' ? undefined : BASIC_INDEX.get(c);
    if (basic !== undefined) {
      out.push(basic);
      continue;
    }
    const ext = EXTENSION_INDEX.get(c);
    if (ext === undefined) return undefined;
    out.push(ESC, ext);
  }
  return out;
}

export function septetsToText(septets: ArrayLike<number>): Result<string> {
  let text = '';
  for (let i = 0; i < septets.length; i++) {
    const s = septets[i] as number;
    if (s > 0x7f) return decodeError('GSM7_RANGE', `septet ${s} has bit 8 set`, i);
    if (s === ESC) {
      const next = septets[i + 1];
      const ext = next === undefined ? undefined : EXTENSION.get(next);
      if (ext === undefined)
        return decodeError('GSM7_ESCAPE', 'escape not followed by an extension character', i);
      text += ext;
      i++;
      continue;
    }
    text += BASIC[s] as string;
  }
  return ok(text);
}

/** TS 23.038 §6.1.2.1.1 packing: septets laid LSB first into octets. */
export function packSeptets(septets: readonly number[]): Uint8Array {
  const out = new Uint8Array(Math.ceil((septets.length * 7) / 8));
  for (let i = 0; i < septets.length; i++) {
    const bit = i * 7;
    const byte = bit >> 3;
    const shift = bit & 7;
    const s = septets[i] as number;
    out[byte] = (out[byte] as number) | ((s << shift) & 0xff);
    if (shift > 1) out[byte + 1] = (out[byte + 1] as number) | (s >> (8 - shift));
  }
  return out;
}

/**
 * Unpack `count` septets, or as many as the bytes hold. In the second case, 7k septets packed into
 * 7k bytes leave 7 zero bits that read as a final '@'; that septet is dropped (TS 23.038 §6.1.2.3.1
 * tells senders to end with CR instead when a real '@' falls there).
 */
export function unpackSeptets(bytes: Uint8Array, count = Math.floor((bytes.length * 8) / 7)): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const bit = i * 7;
    const byte = bit >> 3;
    const shift = bit & 7;
    let s = ((bytes[byte] ?? 0) >> shift) & 0x7f;
    if (shift > 1) s = (s | ((bytes[byte + 1] ?? 0) << (8 - shift))) & 0x7f;
    out.push(s);
  }
  if (count === Math.floor((bytes.length * 8) / 7) && (bytes.length * 8) % 7 === 0 && out.at(-1) === 0)
    out.pop();
  return out;
}
