// Osmocom GSUP messages (libosmocore include/osmocom/gsm/gsup.h, src/gsm/gsup.c): a message type octet,
// then TLV information elements (1-octet tag and length), the IMSI first. IEs are declared once as
// data (GSUP_IES) with their codec and an example; test/lib/gsup/gsup.test.ts walks all of them.
// The decoder is total; IEs we do not know are kept.

import { decodeTbcd, encodeTbcd } from '../bcd.js';
import { decodeError, ok, type Result } from '../result.js';

/** gsup.h enum osmo_gsup_message_type (low two bits: 00 request, 01 error, 10 result). */
export const GSUP_MESSAGE_TYPE = {
  'UpdateLocation-Request': 0x04,
  'UpdateLocation-Error': 0x05,
  'UpdateLocation-Result': 0x06,
  'SendAuthInfo-Request': 0x08,
  'SendAuthInfo-Error': 0x09,
  'SendAuthInfo-Result': 0x0a,
  'AuthFail-Report': 0x0b,
  'PurgeMS-Request': 0x0c,
  'PurgeMS-Error': 0x0d,
  'PurgeMS-Result': 0x0e,
  'InsertSubscriberData-Request': 0x10,
  'InsertSubscriberData-Error': 0x11,
  'InsertSubscriberData-Result': 0x12,
  'DeleteSubscriberData-Request': 0x14,
  'DeleteSubscriberData-Error': 0x15,
  'DeleteSubscriberData-Result': 0x16,
  'LocationCancel-Request': 0x1c,
  'LocationCancel-Error': 0x1d,
  'LocationCancel-Result': 0x1e,
  'CheckIMEI-Request': 0x30,
  'CheckIMEI-Error': 0x31,
  'CheckIMEI-Result': 0x32,
} as const;
export type GsupMessageTypeName = keyof typeof GSUP_MESSAGE_TYPE;

/** gsup.h OSMO_GSUP_TO_MSGT_ERROR: the error answer to a request type. */
export const gsupErrorType = (requestType: number): number => (requestType & 0xfc) | 0x01;
/** The result answer to a request type. */
export const gsupResultType = (requestType: number): number => (requestType & 0xfc) | 0x02;

/** TS 24.008 §10.5.5.14 GMM causes that GSUP carries in its Cause IE. */
export const GMM_CAUSE = {
  'IMSI-Unknown-In-HLR': 0x02,
  'Illegal-MS': 0x03,
  'Illegal-ME': 0x06,
  'GPRS-Not-Allowed': 0x07,
  'PLMN-Not-Allowed': 0x0b,
  'LA-Not-Allowed': 0x0c,
  'Roaming-Not-Allowed': 0x0d,
  'No-Suitable-Cell-In-LA': 0x0f,
  'Network-Failure': 0x11,
  Congestion: 0x16,
  'Semantically-Incorrect-Message': 0x5f,
  'Invalid-Mandatory-Information': 0x60,
  'Message-Type-Nonexistent': 0x61,
  'IE-Nonexistent': 0x63,
  'Conditional-IE-Error': 0x64,
  'Protocol-Error-Unspecified': 0x6f,
} as const;

/** gsup.h enum osmo_gsup_cn_domain. */
export const CN_DOMAIN = { PS: 1, CS: 2 } as const;

/** One authentication tuple (gsup.c decode_auth_info); GSM and/or UMTS parts. */
export interface AuthTuple {
  readonly rand?: Uint8Array;
  readonly sres?: Uint8Array;
  readonly kc?: Uint8Array;
  readonly ik?: Uint8Array;
  readonly ck?: Uint8Array;
  readonly autn?: Uint8Array;
  readonly res?: Uint8Array;
}

/** PDP context data (gsup.c decode_pdp_info), the APN decoded from its TS 23.003 §9.1 labels. */
export interface PdpInfo {
  readonly contextId: number;
  /** PDP type number without the 0xF000 spare bits, e.g. 0x0121 IPv4 (TS 29.060 §7.7.27). */
  readonly pdpType?: number;
  readonly apn?: string;
  readonly qos?: Uint8Array;
  readonly chargingCharacteristics?: Uint8Array;
}

interface IeValueKinds {
  imsi: string;
  u8: number;
  u32: number;
  flag: true;
  bytes: Uint8Array;
  /** gsm48_encode_bcd_number with no header: length octet then TBCD digits (osmo-hlr's MSISDN IE). */
  'lv-bcd': string;
  'auth-tuple': AuthTuple;
  'pdp-info': PdpInfo;
}
type IeKind = keyof IeValueKinds;

interface IeSpec<K extends IeKind = IeKind> {
  readonly tag: number;
  readonly kind: K;
  readonly sizes?: readonly number[];
  /** May appear several times (the value is then an array). */
  readonly repeated?: boolean;
  readonly ref: string;
  /** An example value and the whole encoded IE (tag, length, value) in hex. */
  readonly example: readonly [IeValueKinds[K], string];
}
// Keeps `repeated` as a literal type so that GsupMessage knows which fields are arrays.
const ie = <K extends IeKind, const R extends boolean = false>(
  spec: IeSpec<K> & { readonly repeated?: R },
): IeSpec<K> & { readonly repeated?: R } => spec;
const b = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

const GSUP_H = 'gsup.h enum osmo_gsup_iei';

// Declared in the order libosmocore's osmo_gsup_encode writes them (IMSI first, which decoders require).
export const GSUP_IES = {
  imsi: ie({ tag: 0x01, kind: 'imsi', ref: GSUP_H, example: ['232010000000000', '010832020100000000f0'] }),
  msisdn: ie({
    tag: 0x08,
    kind: 'lv-bcd',
    ref: `${GSUP_H}; osmo-hlr gsup_server.c`,
    example: ['1000', '0803020100'],
  }),
  hlrNumber: ie({ tag: 0x09, kind: 'bytes', ref: GSUP_H, example: [b('0191'), '09020191'] }),
  cause: ie({ tag: 0x02, kind: 'u8', ref: `${GSUP_H}; TS 24.008 §10.5.5.14`, example: [2, '020102'] }),
  cancelType: ie({ tag: 0x06, kind: 'u8', ref: GSUP_H, example: [0, '060100'] }),
  pdpInfoComplete: ie({ tag: 0x04, kind: 'flag', ref: GSUP_H, example: [true, '0400'] }),
  freezePtmsi: ie({ tag: 0x07, kind: 'flag', ref: GSUP_H, example: [true, '0700'] }),
  pdpInfo: ie({
    tag: 0x05,
    kind: 'pdp-info',
    repeated: true,
    ref: `${GSUP_H}; gsup.c encode_pdp_info`,
    example: [{ contextId: 1, pdpType: 0x0121, apn: '*' }, '050b1001011102f1211202012a'],
  }),
  pdpContextId: ie({
    tag: 0x10,
    kind: 'u8',
    repeated: true,
    ref: `${GSUP_H} (top level: DeleteSubscriberData)`,
    example: [3, '100103'],
  }),
  authTuple: ie({
    tag: 0x03,
    kind: 'auth-tuple',
    repeated: true,
    ref: `${GSUP_H}; gsup.c encode_auth_info`,
    example: [
      {
        rand: b('1269b82341393566fb9941e9844fe62f'),
        ik: b('88fbd500aeeeab17b66e83258111be10'),
        ck: b('572df8dfe5ff8ae0ac8c554d7137e436'),
        autn: b('d30e0699fc0d61df4848ff5086a3f425'),
        res: b('c68e6f268996d810'),
      },
      '0352' +
        '20101269b82341393566fb9941e9844fe62f' +
        '231088fbd500aeeeab17b66e83258111be10' +
        '2410572df8dfe5ff8ae0ac8c554d7137e436' +
        '2510d30e0699fc0d61df4848ff5086a3f425' +
        '2708c68e6f268996d810',
    ],
  }),
  auts: ie({
    tag: 0x26,
    kind: 'bytes',
    sizes: [14],
    ref: GSUP_H,
    example: [b('4f2039392ddd4bb4316ed4a14688'), '260e4f2039392ddd4bb4316ed4a14688'],
  }),
  rand: ie({
    tag: 0x20,
    kind: 'bytes',
    sizes: [16],
    ref: GSUP_H,
    example: [b('9fddc72092c6ad036b6e464789315b78'), '20109fddc72092c6ad036b6e464789315b78'],
  }),
  cnDomain: ie({ tag: 0x28, kind: 'u8', ref: GSUP_H, example: [1, '280101'] }),
  chargingCharacteristics: ie({ tag: 0x14, kind: 'bytes', ref: GSUP_H, example: [b('0800'), '14020800'] }),
  supportedRatTypes: ie({ tag: 0x29, kind: 'bytes', ref: GSUP_H, example: [b('0103'), '29020103'] }),
  currentRatType: ie({ tag: 0x2a, kind: 'u8', ref: GSUP_H, example: [3, '2a0103'] }),
  sessionId: ie({ tag: 0x30, kind: 'u32', ref: GSUP_H, example: [0x12345678, '300412345678'] }),
  sessionState: ie({ tag: 0x31, kind: 'u8', ref: GSUP_H, example: [1, '310101'] }),
  imei: ie({
    tag: 0x50,
    kind: 'lv-bcd',
    ref: `${GSUP_H}; gsup_client CHECK_IMEI`,
    example: ['358240051111110', '50090853280450111111f0'],
  }),
  imeiResult: ie({ tag: 0x51, kind: 'u8', ref: GSUP_H, example: [0, '510100'] }),
  numVectorsRequested: ie({ tag: 0x52, kind: 'u8', ref: GSUP_H, example: [5, '520105'] }),
  messageClass: ie({ tag: 0x0a, kind: 'u8', ref: GSUP_H, example: [1, '0a0101'] }),
} as const satisfies Record<string, IeSpec>;

export type GsupIeName = keyof typeof GSUP_IES;
type IeValue<N extends GsupIeName> = (typeof GSUP_IES)[N] extends IeSpec<infer K> ? IeValueKinds[K] : never;
type Field<N extends GsupIeName> = (typeof GSUP_IES)[N] extends { readonly repeated?: true }
  ? readonly IeValue<N>[]
  : IeValue<N>;

export interface UnknownIe {
  readonly tag: number;
  readonly value: Uint8Array;
}

/** A GSUP message: its type, the IMSI, and any other IE by name (repeated IEs as arrays). */
export type GsupMessage = {
  readonly type: number;
  readonly imsi: string;
  readonly unknownIes?: readonly UnknownIe[];
} & {
  readonly [N in Exclude<GsupIeName, 'imsi'>]?: Field<N>;
};

const AUTH_TUPLE_FIELDS = [
  ['rand', 0x20, [16]],
  ['sres', 0x21, [4]],
  ['kc', 0x22, [8]],
  ['ik', 0x23, [16]],
  ['ck', 0x24, [16]],
  ['autn', 0x25, [16]],
  ['res', 0x27, [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]],
] as const;

const PDP = { contextId: 0x10, pdpType: 0x11, apn: 0x12, qos: 0x13, chargingCharacteristics: 0x14 } as const;

/** Split a TLV sequence with 1-octet tag and length. */
function tlvs(bytes: Uint8Array, base: number): Result<{ tag: number; value: Uint8Array; offset: number }[]> {
  const out: { tag: number; value: Uint8Array; offset: number }[] = [];
  let i = 0;
  while (i < bytes.length) {
    if (bytes.length - i < 2) return decodeError('GSUP_TRUNCATED', 'IE header cut short', base + i);
    const len = bytes[i + 1] ?? 0;
    if (i + 2 + len > bytes.length)
      return decodeError(
        'GSUP_IE_OVERRUN',
        `IE 0x${(bytes[i] ?? 0).toString(16)} runs past the end`,
        base + i,
      );
    out.push({ tag: bytes[i] ?? 0, value: bytes.slice(i + 2, i + 2 + len), offset: base + i });
    i += 2 + len;
  }
  return ok(out);
}

function tlv(tag: number, value: Uint8Array): Result<Uint8Array> {
  if (value.length > 255)
    return decodeError('GSUP_IE_TOO_LONG', `IE 0x${tag.toString(16)} longer than 255 octets`);
  const out = new Uint8Array(2 + value.length);
  out[0] = tag;
  out[1] = value.length;
  out.set(value, 2);
  return ok(out);
}

/** TS 23.003 §9.1: APN as length-prefixed labels. */
function decodeApn(v: Uint8Array): Result<string> {
  const labels: string[] = [];
  for (let i = 0; i < v.length; ) {
    const n = v[i] ?? 0;
    if (n === 0 || i + 1 + n > v.length) return decodeError('GSUP_APN', 'APN label overruns');
    labels.push(Buffer.from(v.subarray(i + 1, i + 1 + n)).toString('latin1'));
    i += 1 + n;
  }
  return ok(labels.join('.'));
}
function encodeApn(apn: string): Result<Uint8Array> {
  const out: number[] = [];
  for (const label of apn.split('.')) {
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length === 0 || bytes.length > 63)
      return decodeError('GSUP_APN', 'APN labels must be 1–63 octets');
    out.push(bytes.length, ...bytes);
  }
  return ok(Uint8Array.from(out));
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

type Codec<T> = { decode(v: Uint8Array, offset: number): Result<T>; encode(value: T): Result<Uint8Array> };

const sized = (spec: IeSpec, n: number) => spec.sizes === undefined || spec.sizes.includes(n);

function codecFor(spec: IeSpec): Codec<unknown> {
  const fail = (offset: number, msg: string) =>
    decodeError('GSUP_IE_VALUE', `IE 0x${spec.tag.toString(16)}: ${msg}`, offset);
  switch (spec.kind) {
    case 'imsi':
      return {
        decode: (v, o) => {
          const digits = decodeTbcd(v);
          if (!digits.ok) return fail(o, digits.error.message);
          return /^\d{1,15}$/.test(digits.value) ? digits : fail(o, 'IMSI must have 1–15 digits');
        },
        encode: (value) =>
          typeof value === 'string' && /^\d{1,15}$/.test(value)
            ? ok(encodeTbcd(value))
            : fail(0, 'IMSI must be 1–15 digits'),
      };
    case 'lv-bcd':
      return {
        decode: (v, o) => {
          if (v.length < 1 || v[0] !== v.length - 1) return fail(o, 'inner length octet does not match');
          const digits = decodeTbcd(v.subarray(1));
          return digits.ok ? digits : fail(o, digits.error.message);
        },
        encode: (value) => {
          if (typeof value !== 'string' || !/^\d{1,30}$/.test(value))
            return fail(0, 'number must be 1–30 digits');
          const t = encodeTbcd(value);
          return ok(Uint8Array.of(t.length, ...t));
        },
      };
    case 'u8':
      return {
        decode: (v, o) => (v.length === 1 ? ok(v[0] ?? 0) : fail(o, 'needs 1 octet')),
        encode: (value) =>
          typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 255
            ? ok(Uint8Array.of(value))
            : fail(0, 'value is one octet'),
      };
    case 'u32':
      return {
        decode: (v, o) =>
          v.length === 4
            ? ok(new DataView(v.buffer, v.byteOffset, 4).getUint32(0))
            : fail(o, 'needs 4 octets'),
        encode: (value) => {
          if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff)
            return fail(0, 'value is 32 bits');
          const out = new Uint8Array(4);
          new DataView(out.buffer).setUint32(0, value);
          return ok(out);
        },
      };
    case 'flag':
      return { decode: (_v, _o) => ok(true), encode: () => ok(new Uint8Array(0)) };
    case 'bytes':
      return {
        decode: (v, o) => (sized(spec, v.length) ? ok(v.slice()) : fail(o, `length ${v.length} not allowed`)),
        encode: (value) =>
          value instanceof Uint8Array && sized(spec, value.length)
            ? ok(value.slice())
            : fail(0, 'length not allowed'),
      };
    case 'auth-tuple':
      return { decode: decodeAuthTuple, encode: (value) => encodeAuthTuple(value as AuthTuple) };
    case 'pdp-info':
      return { decode: decodePdpInfo, encode: (value) => encodePdpInfo(value as PdpInfo) };
  }
}

function decodeAuthTuple(v: Uint8Array, offset: number): Result<AuthTuple> {
  const items = tlvs(v, offset + 2);
  if (!items.ok) return items;
  const tuple: Record<string, Uint8Array> = {};
  for (const item of items.value) {
    const field = AUTH_TUPLE_FIELDS.find(([, tag]) => tag === item.tag);
    if (!field) continue; // libosmocore logs and skips unexpected IEs inside a tuple
    const [name, , sizes] = field;
    if (!(sizes as readonly number[]).includes(item.value.length)) {
      return decodeError('GSUP_IE_VALUE', `auth tuple ${name} has ${item.value.length} octets`, item.offset);
    }
    if (tuple[name]) return decodeError('GSUP_DUPLICATE_IE', `auth tuple repeats ${name}`, item.offset);
    tuple[name] = item.value;
  }
  return ok(tuple as AuthTuple);
}

function encodeAuthTuple(tuple: AuthTuple): Result<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const [name, tag, sizes] of AUTH_TUPLE_FIELDS) {
    const value = tuple[name];
    if (value === undefined) continue;
    if (!(sizes as readonly number[]).includes(value.length))
      return decodeError('GSUP_IE_VALUE', `auth tuple ${name} has ${value.length} octets`);
    const t = tlv(tag, value);
    if (!t.ok) return t;
    parts.push(t.value);
  }
  return ok(concat(parts));
}

function decodePdpInfo(v: Uint8Array, offset: number): Result<PdpInfo> {
  const items = tlvs(v, offset + 2);
  if (!items.ok) return items;
  let contextId: number | undefined;
  const info: { pdpType?: number; apn?: string; qos?: Uint8Array; chargingCharacteristics?: Uint8Array } = {};
  for (const item of items.value) {
    switch (item.tag) {
      case PDP.contextId:
        if (item.value.length !== 1)
          return decodeError('GSUP_IE_VALUE', 'PDP context id is one octet', item.offset);
        contextId = item.value[0];
        break;
      case PDP.pdpType:
        if (item.value.length !== 2)
          return decodeError('GSUP_IE_VALUE', 'PDP type is two octets', item.offset);
        info.pdpType = (((item.value[0] ?? 0) << 8) | (item.value[1] ?? 0)) & 0x0fff;
        break;
      case PDP.apn: {
        const apn = decodeApn(item.value);
        if (!apn.ok) return apn;
        info.apn = apn.value;
        break;
      }
      case PDP.qos:
        info.qos = item.value;
        break;
      case PDP.chargingCharacteristics:
        info.chargingCharacteristics = item.value;
        break;
      default:
        break; // libosmocore ignores other IEs inside PDP info
    }
  }
  if (contextId === undefined) return decodeError('GSUP_IE_VALUE', 'PDP info without context id', offset);
  return ok({ contextId, ...info });
}

function encodePdpInfo(info: PdpInfo): Result<Uint8Array> {
  if (!Number.isInteger(info.contextId) || info.contextId < 0 || info.contextId > 255)
    return decodeError('GSUP_IE_VALUE', 'context id is one octet');
  const parts: Result<Uint8Array>[] = [tlv(PDP.contextId, Uint8Array.of(info.contextId))];
  if (info.pdpType !== undefined) {
    const t = info.pdpType | 0xf000;
    parts.push(tlv(PDP.pdpType, Uint8Array.of(t >> 8, t & 0xff)));
  }
  if (info.apn !== undefined) {
    const apn = encodeApn(info.apn);
    if (!apn.ok) return apn;
    parts.push(tlv(PDP.apn, apn.value));
  }
  if (info.qos !== undefined) parts.push(tlv(PDP.qos, info.qos));
  if (info.chargingCharacteristics !== undefined)
    parts.push(tlv(PDP.chargingCharacteristics, info.chargingCharacteristics));
  const out: Uint8Array[] = [];
  for (const p of parts) {
    if (!p.ok) return p;
    out.push(p.value);
  }
  return ok(concat(out));
}

const SPECS = (Object.entries(GSUP_IES) as [GsupIeName, IeSpec][]).map(([name, spec]) => ({
  name,
  spec,
  codec: codecFor(spec),
}));
const BY_TAG = new Map(SPECS.map((entry) => [entry.spec.tag, entry]));
const IMSI_CODEC = codecFor(GSUP_IES.imsi);

/** Decode one IE value by name (used by the registry test). */
export function decodeGsupIe(name: GsupIeName, value: Uint8Array): Result<unknown> {
  return codecFor(GSUP_IES[name]).decode(value, 0);
}

/**
 * Decode a GSUP message (the payload after the IPA extension octet). As libosmocore requires, the
 * IMSI IE must come first; a non-repeatable IE may not appear twice.
 */
export function decodeGsup(bytes: Uint8Array): Result<GsupMessage> {
  if (bytes.length < 1) return decodeError('GSUP_EMPTY', 'GSUP message is empty');
  const items = tlvs(bytes.subarray(1), 1);
  if (!items.ok) return items;
  const [first, ...rest] = items.value;
  if (first?.tag !== GSUP_IES.imsi.tag)
    return decodeError('GSUP_NO_IMSI', 'the first IE must be the IMSI', 1);
  const imsi = IMSI_CODEC.decode(first.value, first.offset);
  if (!imsi.ok) return imsi;
  const message: Record<string, unknown> = { type: bytes[0] ?? 0, imsi: imsi.value };
  const unknownIes: UnknownIe[] = [];
  for (const item of rest) {
    const known = BY_TAG.get(item.tag);
    if (!known || known.name === 'imsi') {
      unknownIes.push({ tag: item.tag, value: item.value });
      continue;
    }
    const value = known.codec.decode(item.value, item.offset);
    if (!value.ok) return value;
    if (known.spec.repeated)
      message[known.name] = [...((message[known.name] as unknown[] | undefined) ?? []), value.value];
    else if (known.name in message)
      return decodeError('GSUP_DUPLICATE_IE', `${known.name} appears twice`, item.offset);
    else message[known.name] = value.value;
  }
  if (unknownIes.length > 0) message.unknownIes = unknownIes;
  return ok(message as GsupMessage);
}

/** Encode a GSUP message: type, IMSI, then the other IEs in libosmocore's order, unknown IEs last. */
export function encodeGsup(message: GsupMessage): Result<Uint8Array> {
  if (!Number.isInteger(message.type) || message.type < 0 || message.type > 255)
    return decodeError('GSUP_TYPE', 'message type is one octet');
  const parts: Uint8Array[] = [Uint8Array.of(message.type)];
  const fields = message as unknown as Record<string, unknown>;
  for (const { name, spec, codec } of SPECS) {
    const field = fields[name];
    if (field === undefined) continue;
    const values = spec.repeated ? (field as unknown[]) : [field];
    for (const value of values) {
      const encoded = codec.encode(value);
      if (!encoded.ok) return decodeError(encoded.error.code, `${name}: ${encoded.error.message}`);
      const t = tlv(spec.tag, encoded.value);
      if (!t.ok) return t;
      parts.push(t.value);
    }
  }
  for (const u of message.unknownIes ?? []) {
    const t = tlv(u.tag, u.value);
    if (!t.ok) return t;
    parts.push(t.value);
  }
  return ok(concat(parts));
}

/** A SendAuthInfo-Request; with `resync` it carries AUTS and the RAND of the failed challenge. */
export function sendAuthInfoRequest(
  imsi: string,
  options: { resync?: { auts: Uint8Array; rand: Uint8Array }; numVectors?: number; cnDomain?: number } = {},
): GsupMessage {
  return {
    type: GSUP_MESSAGE_TYPE['SendAuthInfo-Request'],
    imsi,
    ...(options.resync ? { auts: options.resync.auts, rand: options.resync.rand } : {}),
    ...(options.numVectors === undefined ? {} : { numVectorsRequested: options.numVectors }),
    ...(options.cnDomain === undefined ? {} : { cnDomain: options.cnDomain }),
  };
}
