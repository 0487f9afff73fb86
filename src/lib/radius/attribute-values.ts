// RADIUS attribute value codecs by data type (RFC 8044 names; RFC 2865 §5, RFC 2869 §5, RFC 3162,
// RFC 2868 §3 for tagged values, RFC 6929 §2.4 for integer64) plus the 3GPP sub-attribute encodings
// of TS 29.061 §16.4.7.2. Decoders are total: wrong lengths and malformed contents become errors.

import { decodeError, ok, type Result } from '../result.js';
import {
  decodeMsTimeZone,
  decodeUserLocationInfo,
  encodeMsTimeZone,
  encodeUserLocationInfo,
  type MsTimeZone,
  type UserLocationInfo,
} from './ts-29-061-location.js';

export interface TaggedInteger {
  /** RFC 2868 §3.1: 0 = no tag, 1–31 group tunnel attributes. */
  readonly tag: number;
  readonly value: number;
}
export interface TaggedText {
  readonly tag: number;
  readonly value: string;
}

/** The TypeScript value of each attribute data type. */
export interface AttributeValueTypes {
  /** UTF-8 text (RFC 8044 §3.4). */
  text: string;
  /** Opaque bytes (RFC 8044 §3.5, FreeRADIUS "octets"). */
  string: Uint8Array;
  /** 32-bit unsigned (RFC 8044 §3.1); also enumerations. */
  integer: number;
  /** 64-bit unsigned (RFC 8044 §3.3). */
  integer64: bigint;
  /** Seconds since 1970-01-01 UTC (RFC 8044 §3.6). */
  time: number;
  ipv4addr: string;
  ipv6addr: string;
  /** "prefix/length" (RFC 3162 §2.3). */
  ipv6prefix: string;
  /** 8-octet interface identifier (RFC 3162 §2.2). */
  ifid: Uint8Array;
  /** One-octet unsigned (3GPP RAT-Type, Session-Stop-Indicator, …). */
  byte: number;
  /** TS 29.061 3GPP-User-Location-Info. */
  uli: UserLocationInfo;
  /** TS 29.061 3GPP-MS-TimeZone. */
  tz: MsTimeZone;
  /** RFC 2868 §3.1/3.2: tag octet + 24-bit integer. */
  'tagged-integer': TaggedInteger;
  /** RFC 2868 §3.6: optional tag octet (0x01–0x1F) + text. */
  'tagged-text': TaggedText;
}
export type AttributeTypeName = keyof AttributeValueTypes;

interface Codec<T> {
  decode(bytes: Uint8Array): Result<T>;
  encode(value: T): Result<Uint8Array>;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

const lengthError = (type: string, expected: string, got: number) =>
  decodeError('RADIUS_VALUE_LENGTH', `${type} needs ${expected} octets, got ${got}`);

const fixed = (n: number, type: string, bytes: Uint8Array) =>
  bytes.length === n ? undefined : lengthError(type, String(n), bytes.length);

function u32Codec(type: string): Codec<number> {
  return {
    decode: (b) => fixed(4, type, b) ?? ok(new DataView(b.buffer, b.byteOffset, 4).getUint32(0)),
    encode: (v) => {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
        return decodeError('RADIUS_VALUE_RANGE', `${type} must be a 32-bit unsigned integer`);
      const out = new Uint8Array(4);
      new DataView(out.buffer).setUint32(0, v);
      return ok(out);
    },
  };
}

const textCodec: Codec<string> = {
  decode: (b) => {
    try {
      return ok(utf8Decoder.decode(b));
    } catch {
      return decodeError('RADIUS_TEXT_UTF8', 'text attribute is not valid UTF-8');
    }
  },
  encode: (v) => ok(utf8Encoder.encode(v)),
};

const bytesCodec: Codec<Uint8Array> = { decode: (b) => ok(b.slice()), encode: (v) => ok(v.slice()) };

function parseIpv4(s: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? Uint8Array.from(parts) : undefined;
}

/** Parses RFC 4291 §2.2 text forms (incl. "::" and a trailing dotted IPv4) into 16 bytes. */
export function parseIpv6(s: string): Uint8Array | undefined {
  let text = s;
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = parseIpv4(dotted[2] ?? '');
    if (!v4) return undefined;
    const group = (i: number) => (((v4[i] ?? 0) << 8) | (v4[i + 1] ?? 0)).toString(16);
    text = `${dotted[1]}${group(0)}:${group(2)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string | undefined) => (h === undefined || h === '' ? [] : h.split(':'));
  const head = parse(halves[0]);
  const rest = parse(halves[1]);
  if (![...head, ...rest].every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<string>(halves.length === 1 ? 0 : missing).fill('0'), ...rest];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

/** RFC 5952 canonical text: lower case, longest run (≥2) of zero groups compressed. */
export function formatIpv6(b: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((b[i * 2] ?? 0) << 8) | (b[i * 2 + 1] ?? 0));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (best < 0) return hexes.join(':');
  return `${hexes.slice(0, best).join(':')}::${hexes.slice(best + bestLen).join(':')}`;
}

const ipv4Codec: Codec<string> = {
  decode: (b) => fixed(4, 'ipv4addr', b) ?? ok(Array.from(b).join('.')),
  encode: (v) => {
    const b = parseIpv4(v);
    return b
      ? ok(b)
      : decodeError('RADIUS_VALUE_FORMAT', `not an IPv4 address: ${JSON.stringify(v.slice(0, 40))}`);
  },
};

const ipv6Codec: Codec<string> = {
  decode: (b) => fixed(16, 'ipv6addr', b) ?? ok(formatIpv6(b)),
  encode: (v) => {
    const b = parseIpv6(v);
    return b
      ? ok(b)
      : decodeError('RADIUS_VALUE_FORMAT', `not an IPv6 address: ${JSON.stringify(v.slice(0, 60))}`);
  },
};

const ipv6PrefixCodec: Codec<string> = {
  // RFC 3162 §2.3: Reserved(1) | Prefix-Length(1) | Prefix (0–16 octets).
  decode: (b) => {
    if (b.length < 2 || b.length > 18) return lengthError('ipv6prefix', '2–18', b.length);
    const bits = b[1] ?? 0;
    if (bits > 128) return decodeError('RADIUS_VALUE_RANGE', 'IPv6 prefix length exceeds 128', 1);
    if (b.length - 2 < Math.ceil(bits / 8))
      return decodeError('RADIUS_VALUE_LENGTH', 'IPv6 prefix shorter than its length', 1);
    const addr = new Uint8Array(16);
    addr.set(b.subarray(2));
    return ok(`${formatIpv6(addr)}/${bits}`);
  },
  encode: (v) => {
    const m = /^(.+)\/(\d{1,3})$/.exec(v);
    const addr = m ? parseIpv6(m[1] ?? '') : undefined;
    const bits = Number(m?.[2]);
    if (!addr || !(bits <= 128))
      return decodeError('RADIUS_VALUE_FORMAT', 'IPv6 prefix must be "address/length"');
    return ok(Uint8Array.of(0, bits, ...addr.subarray(0, Math.ceil(bits / 8))));
  },
};

const integer64Codec: Codec<bigint> = {
  decode: (b) => fixed(8, 'integer64', b) ?? ok(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0)),
  encode: (v) => {
    if (v < 0n || v > 0xffffffffffffffffn) return decodeError('RADIUS_VALUE_RANGE', 'integer64 out of range');
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, v);
    return ok(out);
  },
};

const ifidCodec: Codec<Uint8Array> = {
  decode: (b) => fixed(8, 'ifid', b) ?? ok(b.slice()),
  encode: (v) => (v.length === 8 ? ok(v.slice()) : lengthError('ifid', '8', v.length)),
};

const byteCodec: Codec<number> = {
  decode: (b) => fixed(1, 'byte', b) ?? ok(b[0] ?? 0),
  encode: (v) =>
    Number.isInteger(v) && v >= 0 && v <= 255
      ? ok(Uint8Array.of(v))
      : decodeError('RADIUS_VALUE_RANGE', 'byte must be 0–255'),
};

const taggedIntegerCodec: Codec<TaggedInteger> = {
  decode: (b) =>
    fixed(4, 'tagged-integer', b) ??
    ok({ tag: b[0] ?? 0, value: ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0) }),
  encode: ({ tag, value }) => {
    if (!Number.isInteger(tag) || tag < 0 || tag > 0x1f)
      return decodeError('RADIUS_VALUE_RANGE', 'tag must be 0–31');
    if (!Number.isInteger(value) || value < 0 || value > 0xffffff)
      return decodeError('RADIUS_VALUE_RANGE', 'tagged value is 24 bits');
    return ok(Uint8Array.of(tag, value >> 16, (value >> 8) & 0xff, value & 0xff));
  },
};

const taggedTextCodec: Codec<TaggedText> = {
  // RFC 2868 §3.6: a first octet 0x01–0x1F is a tag; anything else is already text.
  decode: (b) => {
    const first = b[0] ?? 0;
    const tagged = b.length > 0 && first >= 0x01 && first <= 0x1f;
    const text = textCodec.decode(tagged ? b.subarray(1) : b);
    return text.ok ? ok({ tag: tagged ? first : 0, value: text.value }) : text;
  },
  encode: ({ tag, value }) => {
    if (!Number.isInteger(tag) || tag < 0 || tag > 0x1f)
      return decodeError('RADIUS_VALUE_RANGE', 'tag must be 0–31');
    const text = utf8Encoder.encode(value);
    return ok(tag === 0 ? text : Uint8Array.of(tag, ...text));
  },
};

const CODECS: { [T in AttributeTypeName]: Codec<AttributeValueTypes[T]> } = {
  text: textCodec,
  string: bytesCodec,
  integer: u32Codec('integer'),
  integer64: integer64Codec,
  time: u32Codec('time'),
  ipv4addr: ipv4Codec,
  ipv6addr: ipv6Codec,
  ipv6prefix: ipv6PrefixCodec,
  ifid: ifidCodec,
  byte: byteCodec,
  uli: { decode: decodeUserLocationInfo, encode: encodeUserLocationInfo },
  tz: { decode: decodeMsTimeZone, encode: encodeMsTimeZone },
  'tagged-integer': taggedIntegerCodec,
  'tagged-text': taggedTextCodec,
};

export function decodeValue<T extends AttributeTypeName>(
  type: T,
  bytes: Uint8Array,
): Result<AttributeValueTypes[T]> {
  return CODECS[type].decode(bytes);
}

export function encodeValue<T extends AttributeTypeName>(
  type: T,
  value: AttributeValueTypes[T],
): Result<Uint8Array> {
  return CODECS[type].encode(value);
}
