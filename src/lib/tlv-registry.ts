// Declaring protocol elements once, as data: each BER-TLV or COMPREHENSION-TLV object is defined by
// its tag, the clause that specifies it, a codec for its value, and example bytes with the decoded
// value. One generic test (test/lib/tlv-registry.test.ts) walks every definition and checks decode,
// encode and round-trip, so adding an element with its examples is all it takes to have it tested.

import { type BerTlv, concatBytes, decodeBerTlv, decodeBerTlvList, encodeBerTlv } from './ber-tlv.js';
import { decodeComprehensionTlv, encodeComprehensionTlv } from './comprehension-tlv.js';
import { fromHex, toHex } from './hex.js';
import { decodeError, ok, type Result } from './result.js';

/** Value codec: total decode of the value bytes, and encode back. */
export interface ValueCodec<T> {
  decode(value: Uint8Array): Result<T>;
  encode(value: T): Uint8Array;
}

/** A whole encoded object (tag, length, value) and what it decodes to. */
export interface TlvExample<T> {
  readonly hex: string;
  readonly value: T;
}

interface DefinitionBase<T> {
  readonly name: string;
  /** The clause that defines the object, e.g. 'TS 102 221 §11.1.1.4.3'. */
  readonly spec: string;
  readonly tag: number;
  readonly codec: ValueCodec<T>;
  readonly examples: readonly TlvExample<T>[];
}

export interface BerTlvDefinition<T> extends DefinitionBase<T> {
  readonly kind: 'ber';
  /** Decode a whole object (tag, length, value) that must carry this definition's tag. */
  decode(bytes: Uint8Array): Result<T>;
  /** Decode the value of an object already split by the generic decoder. */
  fromTlv(tlv: BerTlv): Result<T>;
  encode(value: T): Uint8Array;
}

export interface ComprehensionTlvDefinition<T> extends DefinitionBase<T> {
  readonly kind: 'comprehension';
  /** The comprehension-required flag used when encoding unless the caller says otherwise. */
  readonly cr: boolean;
  decode(bytes: Uint8Array): Result<T>;
  encode(value: T, cr?: boolean): Uint8Array;
}

export type TlvDefinition<T> = BerTlvDefinition<T> | ComprehensionTlvDefinition<T>;

export type DecodedBy<D> = D extends DefinitionBase<infer T> ? T : never;

const tagHex = (tag: number) => tag.toString(16).toUpperCase().padStart(2, '0');

export function defineBerTlv<T>(def: {
  name: string;
  spec: string;
  tag: number;
  codec: ValueCodec<T>;
  examples: readonly TlvExample<T>[];
}): BerTlvDefinition<T> {
  const fromTlv = (tlv: BerTlv): Result<T> => {
    if (tlv.tag !== def.tag) {
      return decodeError(
        'TLV_UNEXPECTED_TAG',
        `expected tag ${tagHex(def.tag)} (${def.name}), got ${tagHex(tlv.tag)}`,
      );
    }
    return def.codec.decode(tlv.value);
  };
  return {
    kind: 'ber',
    ...def,
    fromTlv,
    decode(bytes) {
      const tlv = decodeBerTlv(bytes);
      return tlv.ok ? fromTlv(tlv.value) : tlv;
    },
    encode: (value) => encodeBerTlv(def.tag, def.codec.encode(value)),
  };
}

export function defineComprehensionTlv<T>(def: {
  name: string;
  spec: string;
  tag: number;
  cr: boolean;
  codec: ValueCodec<T>;
  examples: readonly TlvExample<T>[];
}): ComprehensionTlvDefinition<T> {
  return {
    kind: 'comprehension',
    ...def,
    decode(bytes) {
      const tlv = decodeComprehensionTlv(bytes);
      if (!tlv.ok) return tlv;
      if (tlv.value.tag !== def.tag) {
        return decodeError(
          'TLV_UNEXPECTED_TAG',
          `expected tag ${tagHex(def.tag)} (${def.name}), got ${tagHex(tlv.value.tag)}`,
        );
      }
      return def.codec.decode(tlv.value.value);
    },
    encode: (value, cr = def.cr) => encodeComprehensionTlv(def.tag, cr, def.codec.encode(value)),
  };
}

// --- reusable value codecs ------------------------------------------------------------------------

/** Raw bytes shown as lower-case hex. */
export const hexCodec = (length?: { min: number; max: number }): ValueCodec<string> => ({
  decode(value) {
    if (length && (value.length < length.min || value.length > length.max)) {
      return decodeError(
        'TLV_VALUE_LENGTH',
        `value must be ${length.min}..${length.max} bytes, got ${value.length}`,
      );
    }
    return ok(toHex(value));
  },
  encode: (text) => fromHex(text) ?? new Uint8Array(0),
});

/** Unsigned big-endian integer of `min..max` bytes, encoded in `min` bytes at least. */
export const uintCodec = (min: number, max = min): ValueCodec<number> => ({
  decode(value) {
    if (value.length < min || value.length > max) {
      return decodeError('TLV_VALUE_LENGTH', `integer must be ${min}..${max} bytes, got ${value.length}`);
    }
    let n = 0;
    for (const b of value) n = n * 256 + b;
    return ok(n);
  },
  encode(n) {
    const bytes: number[] = [];
    let v = n;
    do {
      bytes.unshift(v % 256);
      v = Math.floor(v / 256);
    } while (v > 0);
    while (bytes.length < min) bytes.unshift(0);
    return Uint8Array.from(bytes);
  },
});

/** An enumeration of one-byte values with names; unknown bytes are a decode error. */
export function enumCodec<N extends string>(names: Readonly<Record<N, number>>): ValueCodec<N> {
  const byValue = new Map<number, N>();
  for (const [name, v] of Object.entries(names) as [N, number][]) byValue.set(v, name);
  return {
    decode(value) {
      if (value.length !== 1)
        return decodeError('TLV_VALUE_LENGTH', `enumeration is 1 byte, got ${value.length}`);
      const name = byValue.get(value[0] as number);
      return name === undefined
        ? decodeError('TLV_VALUE', `unknown value ${tagHex(value[0] as number)}`, 0)
        : ok(name);
    },
    encode: (name) => Uint8Array.of(names[name]),
  };
}

type TemplateValue<C extends Record<string, BerTlvDefinition<unknown>>> = {
  [K in keyof C]?: DecodedBy<C[K]>;
};

/**
 * A constructed BER-TLV whose value is a set of child objects, each declared once. Decodes to an
 * object keyed like `children`; encodes the present children in the order they are declared (which
 * is the order the specification requires). Unknown or repeated children are decode errors.
 */
export function templateCodec<C extends Record<string, BerTlvDefinition<unknown>>>(
  children: C,
): ValueCodec<TemplateValue<C>> {
  const entries = Object.entries(children) as [keyof C & string, BerTlvDefinition<unknown>][];
  return {
    decode(value) {
      const list = decodeBerTlvList(value);
      if (!list.ok) return list;
      const out: Record<string, unknown> = {};
      for (const tlv of list.value) {
        const entry = entries.find(([, d]) => d.tag === tlv.tag);
        if (entry === undefined)
          return decodeError('TLV_UNEXPECTED_TAG', `tag ${tagHex(tlv.tag)} is not allowed here`);
        const [key, def] = entry;
        if (key in out)
          return decodeError('TLV_REPEATED_TAG', `tag ${tagHex(tlv.tag)} (${def.name}) appears twice`);
        const decoded = def.fromTlv(tlv);
        if (!decoded.ok) return decoded;
        out[key] = decoded.value;
      }
      return ok(out as TemplateValue<C>);
    },
    encode(value) {
      const parts: Uint8Array[] = [];
      for (const [key, def] of entries) {
        const v = value[key];
        if (v !== undefined) parts.push(def.encode(v));
      }
      return concatBytes(parts);
    },
  };
}
