// BER-TLV data objects as ISO/IEC 7816-4 §5.2 uses them on smart cards (a profile of ISO/IEC 8825-1):
// tags of 1 to 3 bytes, definite lengths of 1 to 5 bytes, '00'/'FF' as padding between objects.
// The decoder is total: any bytes give a list of objects or a typed error, never an exception.

import { decodeError, ok, type Result } from './result.js';

export interface BerTlv {
  /** The tag bytes as one number, e.g. 0x62, 0x5f2d, 0xbf2201. */
  readonly tag: number;
  /** b6 of the first tag byte: the value is itself a sequence of BER-TLV objects. */
  readonly constructed: boolean;
  readonly value: Uint8Array;
}

/** Largest length we accept: 4 length bytes after 0x84 would allow more, but no card object is >16 MB. */
const MAX_LENGTH = 0xffffff;

/** ISO 7816-4 §5.2.2.1: tag field. Returns the tag and the offset after it. */
function readTag(bytes: Uint8Array, offset: number): Result<{ tag: number; next: number }> {
  const first = bytes[offset];
  if (first === undefined) return decodeError('TLV_TRUNCATED', 'tag expected', offset);
  let tag = first;
  let next = offset + 1;
  if ((first & 0x1f) === 0x1f) {
    // Subsequent tag bytes: b8 = 1 means another byte follows. ISO 7816-4 allows up to 3 tag bytes.
    for (;;) {
      const b = bytes[next];
      if (b === undefined) return decodeError('TLV_TRUNCATED', 'tag continues past the end', next);
      if (next - offset === 1 && (b & 0x7f) === 0)
        return decodeError('TLV_TAG', 'tag byte 2 is not minimal', next);
      tag = tag * 256 + b;
      next++;
      if ((b & 0x80) === 0) break;
      if (next - offset >= 3) return decodeError('TLV_TAG', 'tag longer than 3 bytes', offset);
    }
  }
  return ok({ tag, next });
}

/** ISO 7816-4 §5.2.2.2 / TS 101 220 §7.1.2: definite length in 1 (00..7F) or 2..5 (81..84 + n) bytes. */
export function readLength(bytes: Uint8Array, offset: number): Result<{ length: number; next: number }> {
  const first = bytes[offset];
  if (first === undefined) return decodeError('TLV_TRUNCATED', 'length expected', offset);
  if (first < 0x80) return ok({ length: first, next: offset + 1 });
  const count = first & 0x7f;
  if (count === 0) return decodeError('TLV_LENGTH', 'indefinite length is not allowed', offset);
  if (count > 3) return decodeError('TLV_LENGTH', `length of ${count} bytes is not supported`, offset);
  if (offset + 1 + count > bytes.length)
    return decodeError('TLV_TRUNCATED', 'length continues past the end', offset);
  let length = 0;
  for (let i = 1; i <= count; i++) length = length * 256 + (bytes[offset + i] as number);
  if (length > MAX_LENGTH) return decodeError('TLV_LENGTH', 'length too large', offset);
  return ok({ length, next: offset + 1 + count });
}

/** Minimal definite length encoding. */
export function encodeLength(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > MAX_LENGTH) {
    throw new RangeError(`TLV length out of range: ${length}`);
  }
  if (length < 0x80) return Uint8Array.of(length);
  if (length <= 0xff) return Uint8Array.of(0x81, length);
  if (length <= 0xffff) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  return Uint8Array.of(0x83, length >> 16, (length >> 8) & 0xff, length & 0xff);
}

export function encodeTag(tag: number): Uint8Array {
  if (!Number.isInteger(tag) || tag <= 0 || tag > 0xffffff)
    throw new RangeError(`BER-TLV tag out of range: ${tag}`);
  if (tag <= 0xff) return Uint8Array.of(tag);
  if (tag <= 0xffff) return Uint8Array.of(tag >> 8, tag & 0xff);
  return Uint8Array.of(tag >> 16, (tag >> 8) & 0xff, tag & 0xff);
}

/** b6 of the first tag byte. */
export function isConstructedTag(tag: number): boolean {
  const first = tag > 0xffff ? tag >> 16 : tag > 0xff ? tag >> 8 : tag;
  return (first & 0x20) !== 0;
}

/** Decode one object at `offset`; returns it and the offset after it. */
export function decodeBerTlvAt(bytes: Uint8Array, offset: number): Result<{ tlv: BerTlv; next: number }> {
  const tag = readTag(bytes, offset);
  if (!tag.ok) return tag;
  if (tag.value.tag === 0x00 || tag.value.tag === 0xff) {
    return decodeError('TLV_TAG', `'${tag.value.tag.toString(16)}' is padding, not a tag`, offset);
  }
  const len = readLength(bytes, tag.value.next);
  if (!len.ok) return len;
  const end = len.value.next + len.value.length;
  if (end > bytes.length) return decodeError('TLV_TRUNCATED', 'value continues past the end', len.value.next);
  return ok({
    tlv: {
      tag: tag.value.tag,
      constructed: isConstructedTag(tag.value.tag),
      value: bytes.subarray(len.value.next, end),
    },
    next: end,
  });
}

/** Decode exactly one object that must fill `bytes`. */
export function decodeBerTlv(bytes: Uint8Array): Result<BerTlv> {
  const one = decodeBerTlvAt(bytes, 0);
  if (!one.ok) return one;
  if (one.value.next !== bytes.length)
    return decodeError('TLV_TRAILING', 'bytes after the object', one.value.next);
  return ok(one.value.tlv);
}

/**
 * Decode a sequence of objects. With `padding`, '00' and 'FF' bytes between and after objects are
 * skipped (ISO 7816-4 §5.2.2; records of EF.DIR are FF-padded).
 */
export function decodeBerTlvList(bytes: Uint8Array, options: { padding?: boolean } = {}): Result<BerTlv[]> {
  const out: BerTlv[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const b = bytes[offset];
    if (options.padding && (b === 0x00 || b === 0xff)) {
      offset++;
      continue;
    }
    const one = decodeBerTlvAt(bytes, offset);
    if (!one.ok) return one;
    out.push(one.value.tlv);
    offset = one.value.next;
  }
  return ok(out);
}

export function encodeBerTlv(tag: number, value: Uint8Array): Uint8Array {
  return concatBytes([encodeTag(tag), encodeLength(value.length), value]);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
