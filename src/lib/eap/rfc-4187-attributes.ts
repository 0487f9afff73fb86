// EAP-SIM / EAP-AKA / EAP-AKA' attributes (RFC 4186 §10, RFC 4187 §10, RFC 9048 §3.1–3.2, §4),
// declared once as data: number, value layout, where it may appear, and an example of the whole
// attribute (Type, Length in 4-octet words, Value). test/lib/eap/attributes.test.ts walks all of them.
// The codec here is total: any bytes give attributes or a typed error.

import { decodeError, ok, type Result } from '../result.js';

/** How an attribute's value is laid out after its Type and Length octets. */
export interface ValueKinds {
  /** 2 reserved octets, no value (AT_*_ID_REQ, AT_RESULT_IND, AT_COUNTER_TOO_SMALL). */
  flag: true;
  /** A 16-bit field (AT_NOTIFICATION, AT_COUNTER, AT_KDF, AT_BIDDING, …). */
  u16: number;
  /** 2 reserved octets then data (`sizes` lists what is allowed; 'blocks' = n × 16, n ≥ 1). */
  bytes: Uint8Array;
  /** Data straight after the header, no reserved field (AT_AUTS). */
  raw: Uint8Array;
  /** 2-octet actual length in octets, data, zero padding (AT_IDENTITY, AT_KDF_INPUT, AT_NEXT_*). */
  'length-bytes': Uint8Array;
  /** RFC 4187 §10.8: 2-octet length in bits, RES, zero padding. */
  res: { readonly bitLength: number; readonly res: Uint8Array };
  /** RFC 4186 §10.2: 2-octet actual length, 16-bit versions, padding. */
  'version-list': readonly number[];
  /** RFC 4187 §10.12: zero octets after the header (2, 6 or 10); the value is their count. */
  padding: number;
}
export type ValueKind = keyof ValueKinds;

export interface SimAkaAttributeSpec<K extends ValueKind = ValueKind> {
  readonly type: number;
  readonly kind: K;
  /** Allowed data lengths for `bytes`/`raw` kinds. */
  readonly sizes?: readonly number[] | 'blocks';
  /** Only valid inside AT_ENCR_DATA. */
  readonly encryptedOnly?: boolean;
  /**
   * May appear more than once in one message (RFC 9048 §3.2: the server lists AT_KDF alternatives).
   * Every other attribute appears at most once (RFC 4187 §8.1, RFC 4186 §8.1); the codec refuses a
   * second one.
   */
  readonly multiple?: true;
  /** Methods that define it. */
  readonly methods: readonly ('sim' | 'aka' | 'akaPrime')[];
  readonly ref: string;
  /** An example value and the whole encoded attribute (hex). */
  readonly example: readonly [ValueKinds[K], string];
}

const def = <K extends ValueKind>(spec: SimAkaAttributeSpec<K>): SimAkaAttributeSpec<K> => spec;
const b = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
const ALL = ['sim', 'aka', 'akaPrime'] as const;
const AKA = ['aka', 'akaPrime'] as const;

const R16 = '000102030405060708090a0b0c0d0e0f';
const PSEUDONYM = 'w8w49PexCazWJ&xCIARmxuMKht5S1sxRDqXSEFBEg3DcZP9cIxTe5J4OyIwNGVzxeJOU1G';
const REAUTH_ID = 'Y24fNSrz8BP274jOJaF17WfxI8YO7QX00pMXk9XMMVOw7broaNhTczuFq53aEpOkk3L0dm@eapsim.foo';
const hexOf = (s: string) => Buffer.from(s).toString('hex');

export const SIM_AKA_ATTRIBUTES = {
  AT_RAND: def({
    type: 1,
    kind: 'bytes',
    sizes: 'blocks',
    methods: ALL,
    ref: 'RFC 4187 §10.6, RFC 4186 §10.9',
    example: [b(R16), `01050000${R16}`],
  }),
  AT_AUTN: def({
    type: 2,
    kind: 'bytes',
    sizes: [16],
    methods: AKA,
    ref: 'RFC 4187 §10.7',
    example: [b(R16), `02050000${R16}`],
  }),
  AT_RES: def({
    type: 3,
    kind: 'res',
    methods: AKA,
    ref: 'RFC 4187 §10.8',
    example: [{ bitLength: 64, res: b('28d7b0f2a2ec3de5') }, '0303004028d7b0f2a2ec3de5'],
  }),
  AT_AUTS: def({
    type: 4,
    kind: 'raw',
    sizes: [14],
    methods: AKA,
    ref: 'RFC 4187 §10.9',
    example: [b('4f2039392ddd4bb4316ed4a14688'), '04044f2039392ddd4bb4316ed4a14688'],
  }),
  AT_PADDING: def({
    type: 6,
    kind: 'padding',
    encryptedOnly: true,
    methods: ALL,
    ref: 'RFC 4187 §10.12',
    example: [10, '060300000000000000000000'],
  }),
  AT_NONCE_MT: def({
    type: 7,
    kind: 'bytes',
    sizes: [16],
    methods: ['sim'],
    ref: 'RFC 4186 §10.3',
    example: [b(R16), `07050000${R16}`],
  }),
  AT_PERMANENT_ID_REQ: def({
    type: 10,
    kind: 'flag',
    methods: ALL,
    ref: 'RFC 4187 §10.2',
    example: [true, '0a010000'],
  }),
  AT_MAC: def({
    type: 11,
    kind: 'bytes',
    sizes: [16],
    methods: ALL,
    ref: 'RFC 4187 §10.15',
    example: [b(R16), `0b050000${R16}`],
  }),
  AT_NOTIFICATION: def({
    type: 12,
    kind: 'u16',
    methods: ALL,
    ref: 'RFC 4187 §10.19',
    example: [32768, '0c018000'],
  }),
  AT_ANY_ID_REQ: def({
    type: 13,
    kind: 'flag',
    methods: ALL,
    ref: 'RFC 4187 §10.3',
    example: [true, '0d010000'],
  }),
  AT_IDENTITY: def({
    type: 14,
    kind: 'length-bytes',
    methods: ALL,
    ref: 'RFC 4187 §10.5',
    example: [b(hexOf('1244070100000001@eapsim.foo')), `0e08001b${hexOf('1244070100000001@eapsim.foo')}00`],
  }),
  AT_VERSION_LIST: def({
    type: 15,
    kind: 'version-list',
    methods: ['sim'],
    ref: 'RFC 4186 §10.2',
    example: [[1], '0f02000200010000'],
  }),
  AT_SELECTED_VERSION: def({
    type: 16,
    kind: 'u16',
    methods: ['sim'],
    ref: 'RFC 4186 §10.5',
    example: [1, '10010001'],
  }),
  AT_FULLAUTH_ID_REQ: def({
    type: 17,
    kind: 'flag',
    methods: ALL,
    ref: 'RFC 4187 §10.4',
    example: [true, '11010000'],
  }),
  AT_COUNTER: def({
    type: 19,
    kind: 'u16',
    encryptedOnly: true,
    methods: ALL,
    ref: 'RFC 4187 §10.16',
    example: [1, '13010001'],
  }),
  AT_COUNTER_TOO_SMALL: def({
    type: 20,
    kind: 'flag',
    encryptedOnly: true,
    methods: ALL,
    ref: 'RFC 4187 §10.17',
    example: [true, '14010000'],
  }),
  AT_NONCE_S: def({
    type: 21,
    kind: 'bytes',
    sizes: [16],
    encryptedOnly: true,
    methods: ALL,
    ref: 'RFC 4187 §10.18',
    example: [b(R16), `15050000${R16}`],
  }),
  AT_CLIENT_ERROR_CODE: def({
    type: 22,
    kind: 'u16',
    methods: ALL,
    ref: 'RFC 4187 §10.20',
    example: [0, '16010000'],
  }),
  AT_KDF_INPUT: def({
    type: 23,
    kind: 'length-bytes',
    methods: ['akaPrime'],
    ref: 'RFC 9048 §3.1',
    example: [b(hexOf('WLAN')), '17020004574c414e'],
  }),
  AT_KDF: def({
    type: 24,
    kind: 'u16',
    multiple: true,
    methods: ['akaPrime'],
    ref: 'RFC 9048 §3.2',
    example: [1, '18010001'],
  }),
  AT_IV: def({
    type: 129,
    kind: 'bytes',
    sizes: [16],
    methods: ALL,
    ref: 'RFC 4187 §10.12',
    example: [b(R16), `81050000${R16}`],
  }),
  AT_ENCR_DATA: def({
    type: 130,
    kind: 'bytes',
    sizes: 'blocks',
    methods: ALL,
    ref: 'RFC 4187 §10.12',
    example: [b(R16), `82050000${R16}`],
  }),
  AT_NEXT_PSEUDONYM: def({
    type: 132,
    kind: 'length-bytes',
    encryptedOnly: true,
    methods: ALL,
    ref: 'RFC 4187 §10.10',
    example: [b(hexOf(PSEUDONYM)), `84130046${hexOf(PSEUDONYM)}0000`],
  }),
  AT_NEXT_REAUTH_ID: def({
    type: 133,
    kind: 'length-bytes',
    encryptedOnly: true,
    methods: ALL,
    ref: 'RFC 4187 §10.11',
    example: [b(hexOf(REAUTH_ID)), `85160051${hexOf(REAUTH_ID)}000000`],
  }),
  AT_CHECKCODE: def({
    type: 134,
    kind: 'bytes',
    sizes: [0, 20, 32],
    methods: AKA,
    ref: 'RFC 4187 §10.13, RFC 9048 §4',
    example: [new Uint8Array(0), '86010000'],
  }),
  AT_RESULT_IND: def({
    type: 135,
    kind: 'flag',
    methods: ALL,
    ref: 'RFC 4187 §10.14',
    example: [true, '87010000'],
  }),
  AT_BIDDING: def({
    type: 136,
    kind: 'u16',
    methods: ['aka'],
    ref: 'RFC 9048 §4',
    example: [0x8000, '88018000'],
  }),
} as const satisfies Record<string, SimAkaAttributeSpec>;

export type SimAkaAttributeName = keyof typeof SIM_AKA_ATTRIBUTES;
export type SimAkaValue<N extends SimAkaAttributeName> =
  (typeof SIM_AKA_ATTRIBUTES)[N] extends SimAkaAttributeSpec<infer K> ? ValueKinds[K] : never;

/** An attribute this registry does not define, kept as its value octets (skippable ones only). */
export interface UnknownSimAkaAttribute {
  readonly name: 'unknown';
  readonly type: number;
  readonly value: Uint8Array;
}
export type KnownSimAkaAttribute = {
  [N in SimAkaAttributeName]: { readonly name: N; readonly value: SimAkaValue<N> };
}[SimAkaAttributeName];
export type SimAkaAttribute = KnownSimAkaAttribute | UnknownSimAkaAttribute;

/** RFC 4187 §8.1: attribute types 128–255 may be skipped by a receiver that does not know them. */
export const isSkippable = (type: number): boolean => type >= 128;

/** Notification codes (RFC 4187 §10.19): the S (0x8000 = success) and P (0x4000 = pre-challenge) bits. */
export const NOTIFICATION = {
  'General-Failure-After-Authentication': 0,
  'Temporarily-Denied': 1026,
  'Not-Subscribed': 1031,
  'General-Failure': 16384,
  Success: 32768,
} as const;

/** RFC 4187 §10.20 / RFC 4186 §10.19 AT_CLIENT_ERROR_CODE values. */
export const CLIENT_ERROR_CODE = {
  'Unable-To-Process-Packet': 0,
  'Unsupported-Version': 1,
  'Insufficient-Challenges': 2,
  'RANDs-Not-Fresh': 3,
} as const;

const BY_TYPE = new Map<number, SimAkaAttributeName>(
  (Object.entries(SIM_AKA_ATTRIBUTES) as [SimAkaAttributeName, SimAkaAttributeSpec][]).map(([n, s]) => [
    s.type,
    n,
  ]),
);
export const simAkaAttributeName = (type: number): SimAkaAttributeName | undefined => BY_TYPE.get(type);

function checkSize(spec: SimAkaAttributeSpec, length: number): boolean {
  if (spec.sizes === undefined) return true;
  if (spec.sizes === 'blocks') return length >= 16 && length % 16 === 0;
  return spec.sizes.includes(length);
}

const u16 = (v: Uint8Array, i: number) => ((v[i] ?? 0) << 8) | (v[i + 1] ?? 0);

/** Decode one attribute's value octets (everything after Type and Length). */
function decodeValue(name: SimAkaAttributeName, v: Uint8Array, offset: number): Result<SimAkaAttribute> {
  const spec: SimAkaAttributeSpec = SIM_AKA_ATTRIBUTES[name];
  const fail = (msg: string) => decodeError('EAP_SIM_AKA_ATTRIBUTE', `${name}: ${msg}`, offset);
  const done = (value: unknown) => ok({ name, value } as SimAkaAttribute);
  switch (spec.kind) {
    case 'flag':
      return v.length === 2 ? done(true) : fail('flag attribute must have Length 1');
    case 'u16':
      return v.length === 2 ? done(u16(v, 0)) : fail('16-bit attribute must have Length 1');
    case 'bytes': {
      const data = v.subarray(2);
      return checkSize(spec, data.length)
        ? done(data.slice())
        : fail(`data of ${data.length} octets not allowed`);
    }
    case 'raw':
      return checkSize(spec, v.length) ? done(v.slice()) : fail(`value of ${v.length} octets not allowed`);
    case 'length-bytes': {
      const n = u16(v, 0);
      return n <= v.length - 2 && v.length - 2 - n < 4
        ? done(v.slice(2, 2 + n))
        : fail('actual length does not match the attribute length');
    }
    case 'res': {
      const bits = u16(v, 0);
      const n = Math.ceil(bits / 8);
      return bits >= 32 && bits <= 128 && n <= v.length - 2 && v.length - 2 - n < 4
        ? done({ bitLength: bits, res: v.slice(2, 2 + n) })
        : fail(`RES length ${bits} bits invalid or inconsistent`);
    }
    case 'version-list': {
      const n = u16(v, 0);
      if (n === 0 || n % 2 !== 0 || n > v.length - 2 || v.length - 2 - n >= 4)
        return fail('version list length invalid');
      return done(Array.from({ length: n / 2 }, (_, i) => u16(v, 2 + i * 2)));
    }
    case 'padding':
      // hostapd also refuses non-zero padding (eap_sim_common.c); RFC 4187 §10.12 says it is zero.
      return v.every((x) => x === 0) ? done(v.length) : fail('padding octets must be zero');
  }
}

/**
 * Decode an attribute list (RFC 4187 §8.1). Unknown skippable attributes are kept; an unknown
 * non-skippable one is an error (code EAP_SIM_AKA_UNKNOWN_ATTRIBUTE), as is an encrypted-only
 * attribute outside AT_ENCR_DATA unless `encrypted` is set, and a second copy of an attribute that
 * may appear once (EAP_SIM_AKA_DUPLICATE_ATTRIBUTE; which copy would count is exactly what a
 * tampered message could exploit). Unknown skippable attributes are ignored, so their count is not
 * checked.
 */
export function decodeSimAkaAttributes(
  bytes: Uint8Array,
  options: { encrypted?: boolean; baseOffset?: number } = {},
): Result<SimAkaAttribute[]> {
  const base = options.baseOffset ?? 0;
  const out: SimAkaAttribute[] = [];
  const seen = new Set<number>();
  let i = 0;
  while (i < bytes.length) {
    if (bytes.length - i < 2)
      return decodeError('EAP_SIM_AKA_TRUNCATED', 'attribute header cut short', base + i);
    const type = bytes[i] ?? 0;
    const len = (bytes[i + 1] ?? 0) * 4;
    if (len === 0) return decodeError('EAP_SIM_AKA_LENGTH', `attribute ${type} has Length 0`, base + i + 1);
    if (i + len > bytes.length)
      return decodeError('EAP_SIM_AKA_OVERRUN', `attribute ${type} runs past the end`, base + i + 1);
    const value = bytes.subarray(i + 2, i + len);
    const name = simAkaAttributeName(type);
    if (name === undefined) {
      if (!isSkippable(type))
        return decodeError('EAP_SIM_AKA_UNKNOWN_ATTRIBUTE', `non-skippable attribute ${type}`, base + i);
      out.push({ name: 'unknown', type, value: value.slice() });
    } else {
      const spec: SimAkaAttributeSpec = SIM_AKA_ATTRIBUTES[name];
      if (spec.encryptedOnly && !options.encrypted) {
        return decodeError(
          'EAP_SIM_AKA_NOT_ENCRYPTED',
          `${name} is only allowed inside AT_ENCR_DATA`,
          base + i,
        );
      }
      if (!spec.multiple && seen.has(type)) {
        return decodeError(
          'EAP_SIM_AKA_DUPLICATE_ATTRIBUTE',
          `${name} appears more than once (RFC 4187 §8.1)`,
          base + i,
        );
      }
      seen.add(type);
      const decoded = decodeValue(name, value, base + i);
      if (!decoded.ok) return decoded;
      out.push(decoded.value);
    }
    i += len;
  }
  return ok(out);
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** Encode one attribute: Type, Length (4-octet words), Value. */
export function encodeSimAkaAttribute(attribute: SimAkaAttribute): Result<Uint8Array> {
  let type: number;
  let value: Uint8Array;
  if (attribute.name === 'unknown') {
    type = attribute.type;
    value = attribute.value;
    if ((2 + value.length) % 4 !== 0)
      return decodeError('EAP_SIM_AKA_ENCODE', 'unknown attribute value must make a multiple of 4 octets');
  } else {
    const spec: SimAkaAttributeSpec = SIM_AKA_ATTRIBUTES[attribute.name];
    type = spec.type;
    const fail = (msg: string) => decodeError('EAP_SIM_AKA_ENCODE', `${attribute.name}: ${msg}`);
    const u16b = (n: number) => Uint8Array.of((n >> 8) & 0xff, n & 0xff);
    // Type, Length and the 2-octet length field make 4 octets, so only the data needs aligning.
    const withLength = (n: number, data: Uint8Array) =>
      new Uint8Array([...u16b(n), ...data, ...new Uint8Array(pad4(data.length))]);
    const v: unknown = attribute.value;
    switch (spec.kind) {
      case 'flag':
        value = new Uint8Array(2);
        break;
      case 'u16':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff)
          return fail('value must be 16 bits');
        value = u16b(v);
        break;
      case 'bytes':
        if (!(v instanceof Uint8Array) || !checkSize(spec, v.length)) return fail('data length not allowed');
        value = new Uint8Array([0, 0, ...v]);
        break;
      case 'raw':
        if (!(v instanceof Uint8Array) || !checkSize(spec, v.length)) return fail('data length not allowed');
        value = v;
        break;
      case 'length-bytes':
        if (!(v instanceof Uint8Array)) return fail('value must be bytes');
        value = withLength(v.length, v);
        break;
      case 'res': {
        const r = v as ValueKinds['res'];
        if (r.bitLength < 32 || r.bitLength > 128 || Math.ceil(r.bitLength / 8) !== r.res.length)
          return fail('RES must be 32–128 bits and match its length');
        value = withLength(r.bitLength, r.res);
        break;
      }
      case 'version-list': {
        const list = v as readonly number[];
        if (list.length === 0 || !list.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffff))
          return fail('versions must be 16-bit numbers');
        value = withLength(list.length * 2, new Uint8Array(list.flatMap((x) => [x >> 8, x & 0xff])));
        break;
      }
      case 'padding':
        if (v !== 2 && v !== 6 && v !== 10) return fail('padding is 2, 6 or 10 octets');
        value = new Uint8Array(v);
        break;
    }
  }
  const total = 2 + value.length;
  if (total / 4 > 255) return decodeError('EAP_SIM_AKA_ENCODE', `attribute ${type} longer than 1020 octets`);
  const out = new Uint8Array(total);
  out[0] = type;
  out[1] = total / 4;
  out.set(value, 2);
  return ok(out);
}

/** Encode an attribute list; like the decoder, refuses a second copy of a once-only attribute. */
export function encodeSimAkaAttributes(attributes: readonly SimAkaAttribute[]): Result<Uint8Array> {
  const parts: Uint8Array[] = [];
  const seen = new Set<SimAkaAttributeName>();
  for (const a of attributes) {
    if (a.name !== 'unknown') {
      const spec: SimAkaAttributeSpec = SIM_AKA_ATTRIBUTES[a.name];
      if (!spec.multiple && seen.has(a.name))
        return decodeError('EAP_SIM_AKA_ENCODE', `${a.name} may appear only once (RFC 4187 §8.1)`);
      seen.add(a.name);
    }
    const e = encodeSimAkaAttribute(a);
    if (!e.ok) return e;
    parts.push(e.value);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return ok(out);
}
