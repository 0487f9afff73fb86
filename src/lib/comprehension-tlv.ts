// COMPREHENSION-TLV data objects (ETSI TS 101 220 §7.1.1), the "simple TLVs" of the card application
// toolkit (TS 102 223 Annex C). Tag field: one byte (CR flag in b8, tag value 01..7E) or three bytes
// ('7F', then CR in b16 and a 15-bit tag value). Length field as in BER-TLV (TS 101 220 §7.1.2).
// The decoder is total: any bytes give a list of objects or a typed error, never an exception.

import { concatBytes, encodeLength, readLength } from './ber-tlv.js';
import { decodeError, ok, type Result } from './result.js';

export interface ComprehensionTlv {
  /** Tag value without the comprehension-required flag (1..0x7FFF). */
  readonly tag: number;
  /** Comprehension required: the receiver must reject the command if it does not understand the tag. */
  readonly cr: boolean;
  readonly value: Uint8Array;
}

/** TS 101 220 §7.1.1.1: first bytes that are never a single-byte tag. */
const RESERVED_FIRST = new Set([0x00, 0x80, 0xff]);

export function decodeComprehensionTlvAt(
  bytes: Uint8Array,
  offset: number,
): Result<{ tlv: ComprehensionTlv; next: number }> {
  const first = bytes[offset];
  if (first === undefined) return decodeError('TLV_TRUNCATED', 'tag expected', offset);
  let tag: number;
  let cr: boolean;
  let next: number;
  if (first === 0x7f) {
    const hi = bytes[offset + 1];
    const lo = bytes[offset + 2];
    if (hi === undefined || lo === undefined)
      return decodeError('TLV_TRUNCATED', 'three-byte tag cut short', offset);
    cr = (hi & 0x80) !== 0;
    tag = ((hi & 0x7f) << 8) | lo;
    if (tag === 0) return decodeError('TLV_TAG', 'tag value 0 is not allowed', offset);
    next = offset + 3;
  } else {
    if (RESERVED_FIRST.has(first))
      return decodeError('TLV_TAG', `'${first.toString(16)}' is not a tag`, offset);
    cr = (first & 0x80) !== 0;
    tag = first & 0x7f;
    next = offset + 1;
  }
  const len = readLength(bytes, next);
  if (!len.ok) return len;
  const end = len.value.next + len.value.length;
  if (end > bytes.length) return decodeError('TLV_TRUNCATED', 'value continues past the end', len.value.next);
  return ok({ tlv: { tag, cr, value: bytes.subarray(len.value.next, end) }, next: end });
}

export function decodeComprehensionTlvList(bytes: Uint8Array): Result<ComprehensionTlv[]> {
  const out: ComprehensionTlv[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const one = decodeComprehensionTlvAt(bytes, offset);
    if (!one.ok) return one;
    out.push(one.value.tlv);
    offset = one.value.next;
  }
  return ok(out);
}

export function decodeComprehensionTlv(bytes: Uint8Array): Result<ComprehensionTlv> {
  const one = decodeComprehensionTlvAt(bytes, 0);
  if (!one.ok) return one;
  if (one.value.next !== bytes.length)
    return decodeError('TLV_TRAILING', 'bytes after the object', one.value.next);
  return ok(one.value.tlv);
}

/** Tag field: the single-byte form whenever the tag value allows it (01..7E), else the three-byte form. */
export function encodeComprehensionTag(tag: number, cr: boolean): Uint8Array {
  if (!Number.isInteger(tag) || tag < 1 || tag > 0x7fff)
    throw new RangeError(`COMPREHENSION-TLV tag out of range: ${tag}`);
  if (tag < 0x7f) return Uint8Array.of(tag | (cr ? 0x80 : 0));
  return Uint8Array.of(0x7f, (tag >> 8) | (cr ? 0x80 : 0), tag & 0xff);
}

export function encodeComprehensionTlv(tag: number, cr: boolean, value: Uint8Array): Uint8Array {
  return concatBytes([encodeComprehensionTag(tag, cr), encodeLength(value.length), value]);
}
