// A small schema-driven DER codec for the TCA eUICC Profile Package (PE_Definitions, an ASN.1 module
// with AUTOMATIC TAGS and EXTENSIBILITY IMPLIED). Each ASN.1 type is declared once as data
// (pe-definitions.ts); one decoder and one encoder walk the declarations. The decoder is total: any
// bytes give a value or a typed error, never an exception.
//
// Byte-identical re-encoding: DER has one encoding per value, and what DER leaves to the sender is
// kept — a DEFAULT value that was sent stays present (`undefined` only when it was absent), and
// components this version does not know (extensions) are kept as raw TLVs in `$ext`.

import { concatBytes, decodeBerTlvAt, encodeLength, encodeTag, isConstructedTag } from '../ber-tlv.js';
import { decodeError, ok, type Result } from '../result.js';

/** A TLV kept as it came: a primitive value, or the children of a constructed one. */
export interface GenericTlv {
  readonly tag: number;
  readonly value?: Uint8Array;
  readonly children?: readonly GenericTlv[];
}

/** Values produced by the decoder; the shape follows the schema. */
export type Asn1Value = Uint8Array | number | string | null | GenericTlv | readonly Asn1Value[] | Asn1Record;

export interface Asn1Record {
  readonly [name: string]: Asn1Value | undefined;
}

export type Schema =
  | { readonly kind: 'octets' }
  | { readonly kind: 'int' }
  | { readonly kind: 'null' }
  | { readonly kind: 'oid' }
  | { readonly kind: 'utf8' }
  /** SEQUENCE: components in order; an absent OPTIONAL/DEFAULT component is `undefined`. */
  | { readonly kind: 'seq'; readonly fields: readonly Field[] }
  /** SEQUENCE OF: `itemTag` for tagged/universal items; omitted when items are an untagged CHOICE. */
  | { readonly kind: 'seqOf'; readonly item: Schema; readonly itemTag?: number }
  /** CHOICE: the value is `{ [alternative]: value }` with exactly one key. */
  | { readonly kind: 'choice'; readonly alts: readonly Field[] }
  /** Anything: kept as a generic TLV tree. */
  | { readonly kind: 'any' };

export interface Field {
  readonly name: string;
  /** Full tag bytes as one number (e.g. 0x80, 0xa1, 0x4f, 0xbf20, 0x30), constructed bit included. */
  readonly tag: number;
  readonly schema: Schema;
  /** OPTIONAL or DEFAULT. A field whose schema is a CHOICE is explicitly tagged (X.680 §31.2.7). */
  readonly optional?: boolean;
}

/** Universal tags used by the module. */
export const UNIVERSAL = {
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
} as const;

/** Context-specific tag [n] (b8 b7 = 10), primitive or constructed, in one or two bytes (n < 128). */
export function contextTag(n: number, constructed: boolean): number {
  const cls = constructed ? 0xa0 : 0x80;
  if (n < 31) return cls | n;
  if (n > 127) throw new RangeError(`context tag [${n}] is beyond this module's range`);
  return ((cls | 0x1f) << 8) | n;
}

const MAX_DEPTH = 24;

interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
  /** The whole encoding, tag to end of value. */
  readonly raw: Uint8Array;
  /** Where the tag sits in the decoded input (for error offsets). */
  readonly at: number;
}

/** Where the value of `t` starts in the decoded input. */
const valueAt = (t: Tlv): number => t.at + t.raw.length - t.value.length;

function children(bytes: Uint8Array, offset: number): Result<Tlv[]> {
  const out: Tlv[] = [];
  let at = 0;
  while (at < bytes.length) {
    const one = decodeBerTlvAt(bytes, at);
    if (!one.ok) return decodeError(one.error.code, one.error.message, offset + (one.error.offset ?? at));
    const raw = bytes.subarray(at, one.value.next);
    const canonical = canonicalHeader(one.value.tlv.tag, one.value.tlv.value.length, raw);
    if (!canonical.ok) return decodeError(canonical.error.code, canonical.error.message, offset + at);
    out.push({ tag: one.value.tlv.tag, value: one.value.tlv.value, raw, at: offset + at });
    at = one.value.next;
  }
  return ok(out);
}

/**
 * DER (X.690 §10.1, §8.1.2.4): the length in the fewest bytes, a tag number below 31 in the short
 * form. ber-tlv.ts accepts BER's other forms; a DER decoder must refuse them, so that whatever
 * decodes re-encodes to the same bytes.
 */
function canonicalHeader(tag: number, length: number, raw: Uint8Array): Result<true> {
  const tagLength = tag > 0xffff ? 3 : tag > 0xff ? 2 : 1;
  if (tagLength === 2 && (tag & 0xff) < 0x1f)
    return decodeError('DER_TAG', 'tag number below 31 in the long form');
  const lengthLength = length < 0x80 ? 1 : length <= 0xff ? 2 : length <= 0xffff ? 3 : 4;
  if (raw.length - length !== tagLength + lengthLength)
    return decodeError('DER_LENGTH', 'length not in the fewest bytes');
  return OK_TRUE;
}

const OK_TRUE = ok(true as const);

/** Split a byte string into top-level TLVs (the PE sequence of a profile package). */
export function splitTlvs(bytes: Uint8Array): Result<{ tag: number; raw: Uint8Array; offset: number }[]> {
  const out: { tag: number; raw: Uint8Array; offset: number }[] = [];
  let at = 0;
  while (at < bytes.length) {
    const one = decodeBerTlvAt(bytes, at);
    if (!one.ok) return one;
    const raw = bytes.subarray(at, one.value.next);
    const canonical = canonicalHeader(one.value.tlv.tag, one.value.tlv.value.length, raw);
    if (!canonical.ok) return decodeError(canonical.error.code, canonical.error.message, at);
    out.push({ tag: one.value.tlv.tag, raw, offset: at });
    at = one.value.next;
  }
  return ok(out);
}

function decodeInt(v: Uint8Array, offset: number): Result<number> {
  if (v.length === 0) return decodeError('DER_INTEGER', 'empty INTEGER', offset);
  if (v.length > 6) return decodeError('DER_INTEGER', 'INTEGER larger than 48 bits', offset);
  const first = v[0] as number;
  if (
    v.length > 1 &&
    ((first === 0 && (v[1] as number) < 0x80) || (first === 0xff && (v[1] as number) >= 0x80))
  )
    return decodeError('DER_INTEGER', 'INTEGER not minimally encoded', offset);
  if (first >= 0x80) return decodeError('DER_INTEGER', 'negative INTEGER', offset);
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return ok(n);
}

function encodeInt(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0 || n >= 2 ** 47) throw new RangeError(`INTEGER out of range: ${n}`);
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  if ((bytes[0] as number) >= 0x80) bytes.unshift(0);
  return Uint8Array.from(bytes);
}

function decodeOid(v: Uint8Array, offset: number): Result<string> {
  if (v.length === 0) return decodeError('DER_OID', 'empty OBJECT IDENTIFIER', offset);
  const arcs: number[] = [];
  let n = 0;
  let started = false;
  for (const b of v) {
    if (!started && b === 0x80) return decodeError('DER_OID', 'OID arc not minimally encoded', offset);
    started = true;
    if (n > 2 ** 45) return decodeError('DER_OID', 'OID arc too large', offset);
    n = n * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(n);
      n = 0;
      started = false;
    }
  }
  if (started) return decodeError('DER_OID', 'OID ends inside an arc', offset);
  const first = arcs[0] as number;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return ok([...head, ...arcs.slice(1)].join('.'));
}

function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map(Number);
  if (arcs.length < 2 || arcs.some((a) => !Number.isSafeInteger(a) || a < 0))
    throw new RangeError(`not an OBJECT IDENTIFIER: ${oid}`);
  const out: number[] = [];
  const push = (a: number) => {
    const groups: number[] = [a % 128];
    let v = Math.floor(a / 128);
    while (v > 0) {
      groups.unshift((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...groups);
  };
  push((arcs[0] as number) * 40 + (arcs[1] as number));
  for (const a of arcs.slice(2)) push(a);
  return Uint8Array.from(out);
}

// ignoreBOM: a leading U+FEFF is part of the value, so it must survive re-encoding.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const UTF8_ENCODER = new TextEncoder();

function decodeGeneric(t: Tlv, offset: number, depth: number): Result<GenericTlv> {
  if (!isConstructedTag(t.tag)) return ok({ tag: t.tag, value: t.value });
  if (depth > MAX_DEPTH) return decodeError('DER_DEPTH', 'nested too deeply', offset);
  const list = children(t.value, valueAt(t));
  if (!list.ok) return list;
  const out: GenericTlv[] = [];
  for (const c of list.value) {
    const g = decodeGeneric(c, c.at, depth + 1);
    if (!g.ok) return g;
    out.push(g.value);
  }
  return ok({ tag: t.tag, children: out });
}

function primitive(t: Tlv, what: string, offset: number): Result<Uint8Array> {
  if (isConstructedTag(t.tag)) return decodeError('DER_FORM', `${what} must be primitive`, offset);
  return ok(t.value);
}

/** Decode the content of `t` (whose tag has already been matched) as `schema`. */
function decodeAs(schema: Schema, t: Tlv, offset: number, depth: number): Result<Asn1Value> {
  if (depth > MAX_DEPTH) return decodeError('DER_DEPTH', 'nested too deeply', offset);
  switch (schema.kind) {
    case 'octets':
      return primitive(t, 'OCTET STRING', offset);
    case 'int': {
      const v = primitive(t, 'INTEGER', offset);
      return v.ok ? decodeInt(v.value, offset) : v;
    }
    case 'null': {
      const v = primitive(t, 'NULL', offset);
      if (!v.ok) return v;
      return v.value.length === 0 ? ok(null) : decodeError('DER_NULL', 'NULL with content', offset);
    }
    case 'oid': {
      const v = primitive(t, 'OBJECT IDENTIFIER', offset);
      return v.ok ? decodeOid(v.value, offset) : v;
    }
    case 'utf8': {
      const v = primitive(t, 'UTF8String', offset);
      if (!v.ok) return v;
      try {
        return ok(utf8.decode(v.value));
      } catch {
        return decodeError('DER_UTF8', 'invalid UTF-8', offset);
      }
    }
    case 'any':
      return decodeGeneric(t, offset, depth);
    case 'seq':
      return decodeSeq(schema.fields, t, offset, depth);
    case 'seqOf': {
      if (!isConstructedTag(t.tag)) return decodeError('DER_FORM', 'SEQUENCE OF must be constructed', offset);
      const list = children(t.value, valueAt(t));
      if (!list.ok) return list;
      const out: Asn1Value[] = [];
      for (const c of list.value) {
        let item: Result<Asn1Value>;
        if (schema.itemTag === undefined && schema.item.kind === 'choice') {
          item = decodeAlternative(schema.item.alts, c, c.at, depth + 1);
        } else {
          if (c.tag !== schema.itemTag)
            return decodeError('DER_TAG', `unexpected tag '${c.tag.toString(16)}' in SEQUENCE OF`, c.at);
          item = decodeAs(schema.item, c, c.at, depth + 1);
        }
        if (!item.ok) return item;
        out.push(item.value);
      }
      return ok(out);
    }
    case 'choice': // A CHOICE reached here is the content of an explicit tag: exactly one TLV inside.
      {
        if (!isConstructedTag(t.tag))
          return decodeError('DER_FORM', 'tagged CHOICE must be constructed', offset);
        const list = children(t.value, valueAt(t));
        if (!list.ok) return list;
        if (list.value.length !== 1)
          return decodeError('DER_CHOICE', 'tagged CHOICE must hold exactly one value', offset);
        return decodeAlternative(schema.alts, list.value[0] as Tlv, (list.value[0] as Tlv).at, depth + 1);
      }
  }
}

function decodeAlternative(alts: readonly Field[], t: Tlv, offset: number, depth: number): Result<Asn1Value> {
  const alt = alts.find((a) => a.tag === t.tag);
  if (!alt) return decodeError('DER_CHOICE', `no alternative has tag '${t.tag.toString(16)}'`, offset);
  const v = decodeAs(alt.schema, t, offset, depth);
  return v.ok ? ok({ [alt.name]: v.value }) : v;
}

function decodeSeq(fields: readonly Field[], t: Tlv, offset: number, depth: number): Result<Asn1Record> {
  if (!isConstructedTag(t.tag)) return decodeError('DER_FORM', 'SEQUENCE must be constructed', offset);
  const list = children(t.value, valueAt(t));
  if (!list.ok) return list;
  const out: Record<string, Asn1Value | undefined> = {};
  const ext: Uint8Array[] = [];
  let next = 0;
  for (const c of list.value) {
    let index = -1;
    for (let i = next; i < fields.length; i++) {
      if ((fields[i] as Field).tag === c.tag) {
        index = i;
        break;
      }
      if (!(fields[i] as Field).optional) break;
    }
    if (index < 0) {
      // EXTENSIBILITY IMPLIED: a component we do not know, after the ones we do, is kept as it is.
      if (fields.slice(next).some((f) => !f.optional))
        return decodeError('DER_TAG', `unexpected tag '${c.tag.toString(16)}'`, c.at);
      ext.push(c.raw);
      next = fields.length;
      continue;
    }
    const f = fields[index] as Field;
    const v = decodeAs(f.schema, c, c.at, depth + 1);
    if (!v.ok) return decodeError(v.error.code, `${f.name}: ${v.error.message}`, v.error.offset);
    out[f.name] = v.value;
    next = index + 1;
  }
  for (const f of fields.slice(next)) {
    if (!f.optional) return decodeError('DER_MISSING', `${f.name} is missing`, offset);
  }
  if (ext.length > 0) out.$ext = ext;
  return ok(out);
}

/** Decode one TLV (`bytes` must hold exactly it) whose tag must be `tag`, as `schema`. */
export function decodeDer(schema: Schema, tag: number, bytes: Uint8Array, offset = 0): Result<Asn1Value> {
  const one = decodeBerTlvAt(bytes, 0);
  if (!one.ok) return decodeError(one.error.code, one.error.message, offset + (one.error.offset ?? 0));
  if (one.value.next !== bytes.length) return decodeError('TLV_TRAILING', 'bytes after the object', offset);
  if (one.value.tlv.tag !== tag) return decodeError('DER_TAG', `expected tag '${tag.toString(16)}'`, offset);
  const canonical = canonicalHeader(tag, one.value.tlv.value.length, bytes);
  if (!canonical.ok) return decodeError(canonical.error.code, canonical.error.message, offset);
  return decodeAs(schema, { tag, value: one.value.tlv.value, raw: bytes, at: offset }, offset, 0);
}

// --- encoding (values come from our own code or from the decoder; a wrong shape is a programming
// error and throws TypeError). Each TLV reserves a slot for its header, fills in its content
// chunks, then writes the header once its length is known; one copy joins the chunks at the end.

type Chunks = Uint8Array[];
const EMPTY = new Uint8Array(0);

/** Tag and minimal definite length as one small array. */
function header(tag: number, length: number): Uint8Array {
  const t = encodeTag(tag);
  const l = encodeLength(length);
  const h = new Uint8Array(t.length + l.length);
  h.set(t, 0);
  h.set(l, t.length);
  return h;
}

/** Emit one TLV whose content `fill` appends; returns its total size. */
function emitTlv(out: Chunks, tag: number, fill: () => number): number {
  const slot = out.length;
  out.push(EMPTY);
  const size = fill();
  const h = header(tag, size);
  out[slot] = h;
  return h.length + size;
}

function emitBytes(out: Chunks, bytes: Uint8Array): number {
  out.push(bytes);
  return bytes.length;
}

function join(out: Chunks): Uint8Array {
  return concatBytes(out);
}

function emitGeneric(out: Chunks, g: GenericTlv): number {
  const children = g.children;
  if (children) return emitTlv(out, g.tag, () => children.reduce((n, c) => n + emitGeneric(out, c), 0));
  return emitTlv(out, g.tag, () => emitBytes(out, g.value ?? EMPTY));
}

export function encodeGeneric(g: GenericTlv): Uint8Array {
  const out: Chunks = [];
  emitGeneric(out, g);
  return join(out);
}

function isRecord(v: Asn1Value | undefined): v is Asn1Record {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !Array.isArray(v);
}

function shapeError(what: string): never {
  throw new TypeError(`profile package value has the wrong shape: ${what}`);
}

/** Encode `value` as `schema` under `tag`. */
export function encodeDer(schema: Schema, tag: number, value: Asn1Value): Uint8Array {
  const out: Chunks = [];
  emit(out, schema, tag, value);
  return join(out);
}

function emit(out: Chunks, schema: Schema, tag: number, value: Asn1Value): number {
  switch (schema.kind) {
    case 'octets':
      if (!(value instanceof Uint8Array)) shapeError('OCTET STRING expected');
      return emitTlv(out, tag, () => emitBytes(out, value));
    case 'int':
      if (typeof value !== 'number') shapeError('INTEGER expected');
      return emitTlv(out, tag, () => emitBytes(out, encodeInt(value)));
    case 'null':
      if (value !== null) shapeError('NULL expected');
      return emitTlv(out, tag, () => 0);
    case 'oid':
      if (typeof value !== 'string') shapeError('OBJECT IDENTIFIER expected');
      return emitTlv(out, tag, () => emitBytes(out, encodeOid(value)));
    case 'utf8':
      if (typeof value !== 'string') shapeError('UTF8String expected');
      return emitTlv(out, tag, () => emitBytes(out, UTF8_ENCODER.encode(value)));
    case 'any':
      if (!isRecord(value) || typeof value.tag !== 'number') shapeError('generic TLV expected');
      return emitGeneric(out, value as unknown as GenericTlv);
    case 'seq': {
      if (!isRecord(value)) shapeError('SEQUENCE expected');
      return emitTlv(out, tag, () => {
        let size = 0;
        for (const f of schema.fields) {
          const v = value[f.name];
          if (v === undefined) {
            if (!f.optional) shapeError(`${f.name} is missing`);
            continue;
          }
          size += emit(out, f.schema, f.tag, v);
        }
        const ext = value.$ext;
        if (Array.isArray(ext)) for (const raw of ext) size += emitBytes(out, raw as Uint8Array);
        return size;
      });
    }
    case 'seqOf': {
      if (!Array.isArray(value)) shapeError('SEQUENCE OF expected');
      const items = value as readonly Asn1Value[];
      return emitTlv(out, tag, () => {
        let size = 0;
        for (const item of items) {
          size +=
            schema.itemTag === undefined && schema.item.kind === 'choice'
              ? emitAlternative(out, schema.item.alts, item)
              : emit(out, schema.item, schema.itemTag ?? UNIVERSAL.SEQUENCE, item);
        }
        return size;
      });
    }
    case 'choice':
      return emitTlv(out, tag, () => emitAlternative(out, schema.alts, value));
  }
}

function emitAlternative(out: Chunks, alts: readonly Field[], value: Asn1Value): number {
  if (!isRecord(value)) shapeError('CHOICE expected');
  const keys = Object.keys(value);
  const alt = alts.find((a) => a.name === keys[0]);
  if (keys.length !== 1 || !alt)
    shapeError(`CHOICE with one of ${alts.map((a) => a.name).join(', ')} expected`);
  return emit(out, alt.schema, alt.tag, value[alt.name] as Asn1Value);
}
