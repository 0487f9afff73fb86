// The GlobalPlatform certificate SGP.02 uses for SM-DP, SM-SR and eUICC (ECASD) keys, because the
// card has no X.509 parser (SGP.02 §2.3.2, §4.1.3.1 "CERT.DP.ECDSA", GPC Amd E §4 / Amd A Table 3-x;
// reference esim.md §4.1):
//
//   7F21 L
//     93 L   certificate serial number
//     42 L   CA identifier
//     5F20 L subject identifier
//     95 L   key usage
//     5F25 L effective date   (BCD YYYYMMDD, optional)
//     5F24 L expiration date  (BCD YYYYMMDD)
//     73 L   discretionary data: C8 01 <role> (01 SM-DP, 02 SM-SR), C9 L <authority key id>, others kept
//     7F49 L public key: B0 L 04‖X‖Y, F0 01 <key parameter reference>
//     5F37 L signature (ECDSA-SHA256 by the issuer over the TLVs 93..7F49 as sent, plain r‖s)
//
// This module is the codec only (pure, no crypto). The decoder is total: any bytes give a
// certificate or a typed DecodeError. Choices the reference marks open ([?]) are made here once, for
// both ends of this project, and are to verify against SGP.02 v3.1 §4.1.3.1 Table 23 / Table 76-77
// and GPC Amd E §4.3 before claiming interop with real cards:
//   - 42 (CA identifier) = the issuer's key identifier (its X.509 SubjectKeyIdentifier), so a CI
//     imported without its key still identifies; C9 (AuthorityKeyIdentifier) = the same value.
//   - 5F20 = the subject's entity identifier: the OID (DER content octets) of the SM-DP / SM-SR, the
//     EID (16 bytes) of an eUICC.
//   - 95 = '88' for SM-DP/SM-SR (signature verification, as njiwa and whty use), '0080' (key
//     agreement) for CERT.ECASD.ECKA.
//   - dates are BCD YYYYMMDD; 5F24 names the last day on which the certificate is valid (UTC).

import { concatBytes, decodeBerTlv, decodeBerTlvList, encodeBerTlv } from './ber-tlv.js';
import { decodeError, ok, type Result } from './result.js';

/** GP certificate tags (GPC Amd E Table 4-x; SGP.02 §4.1.3.1). Declared once, used by both ends. */
export const GP_CERT_TAGS = {
  certificate: 0x7f21,
  serial: 0x93,
  caId: 0x42,
  subjectId: 0x5f20,
  keyUsage: 0x95,
  effectiveDate: 0x5f25,
  expirationDate: 0x5f24,
  discretionary: 0x73,
  publicKey: 0x7f49,
  signature: 0x5f37,
  /** Inside 73: the entity type (SGP.02 Table 23: 01 SM-DP, 02 SM-SR). */
  role: 0xc8,
  /** Inside 73: AuthorityKeyIdentifier of the issuer. */
  authorityKeyId: 0xc9,
  /** Inside 7F49: the public point 04‖X‖Y. */
  point: 0xb0,
  /** Inside 7F49: key parameter reference (GPC Amd E Table 4-3). */
  curveRef: 0xf0,
} as const;

/** The entity types of SGP.02 Table 23 carried in `C8`; an ECASD certificate has no `C8`. */
export const GP_CERT_ROLE_BYTES = { 'sm-dp': 0x01, 'sm-sr': 0x02 } as const;
export type GpCertificateRole = 'sm-dp' | 'sm-sr' | 'ecasd';

/** Key usage values (to verify against GPC Amd E Table 4-5): SM-DP/SM-SR sign, ECASD agrees keys. */
export const GP_KEY_USAGE = {
  signatureVerification: Uint8Array.of(0x88),
  keyAgreement: Uint8Array.of(0x00, 0x80),
} as const;

/** GPC Amd E Table 4-3 key parameter references; simtrust signs and verifies P-256 only. */
export const GP_CURVE_REFS = {
  0: 'P-256',
  1: 'P-384',
  2: 'P-521',
  3: 'brainpoolP256r1',
  4: 'brainpoolP256t1',
  5: 'brainpoolP384r1',
  6: 'brainpoolP384t1',
  7: 'brainpoolP512r1',
  8: 'brainpoolP512t1',
} as const satisfies Record<number, string>;

export interface GpPublicKey {
  /** Uncompressed point 04‖X‖Y. */
  readonly point: Uint8Array;
  /** Key parameter reference (`F0`), 0 = P-256. */
  readonly curveRef: number;
}

/** Everything the issuer signs: the TLVs 93..7F49. */
export interface GpCertificateBody {
  readonly serial: Uint8Array;
  readonly caId: Uint8Array;
  readonly subjectId: Uint8Array;
  readonly keyUsage: Uint8Array;
  /** 'YYYYMMDD' (UTC), optional. */
  readonly effectiveDate?: string | undefined;
  /** 'YYYYMMDD' (UTC): the last valid day. */
  readonly expirationDate: string;
  /** `C8` entity type byte, absent for an ECASD certificate. */
  readonly roleByte?: number | undefined;
  readonly authorityKeyId: Uint8Array;
  /** Other objects of `73`, kept in order (encoded after C8 and C9). */
  readonly otherDiscretionary?: ReadonlyArray<{ readonly tag: number; readonly value: Uint8Array }>;
  readonly publicKey: GpPublicKey;
}

export interface GpCertificate extends GpCertificateBody {
  readonly signature: Uint8Array;
  /** The role the fields declare: `C8` 01/02, or ECASD when there is no `C8`. */
  readonly role: GpCertificateRole | undefined;
  /** The signed bytes exactly as received (TLVs 93..7F49). */
  readonly signedData: Uint8Array;
  /** The whole `7F21` object. */
  readonly encoded: Uint8Array;
}

const DATE_RE = /^(\d{4})(\d{2})(\d{2})$/;

/** True for a real calendar date written YYYYMMDD. */
export function isGpDate(text: string): boolean {
  const m = DATE_RE.exec(text);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/** 'YYYYMMDD' of a Unix millisecond time (UTC). */
export function gpDateOf(ms: number): string {
  const t = new Date(ms);
  return `${t.getUTCFullYear().toString().padStart(4, '0')}${(t.getUTCMonth() + 1).toString().padStart(2, '0')}${t.getUTCDate().toString().padStart(2, '0')}`;
}

/** Start of the day (UTC) a 'YYYYMMDD' names, in Unix milliseconds. */
export function gpDateStart(date: string): number {
  const m = DATE_RE.exec(date);
  if (!m || !isGpDate(date)) throw new RangeError(`not a YYYYMMDD date: ${date}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

function encodeDate(date: string): Uint8Array {
  if (!isGpDate(date)) throw new RangeError(`not a YYYYMMDD date: ${date}`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) out[i] = (Number(date[2 * i]) << 4) | Number(date[2 * i + 1]);
  return out;
}

function decodeDate(value: Uint8Array): string | undefined {
  if (value.length !== 4) return undefined;
  let text = '';
  for (const b of value) {
    const hi = b >> 4;
    const lo = b & 0x0f;
    if (hi > 9 || lo > 9) return undefined;
    text += `${hi}${lo}`;
  }
  return isGpDate(text) ? text : undefined;
}

/** The TLVs 93..7F49, the bytes the issuer signs (SGP.02 §4.1.3.1). */
export function encodeGpCertificateBody(body: GpCertificateBody): Uint8Array {
  const t = GP_CERT_TAGS;
  const point = body.publicKey.point;
  if (point.length < 3 || point.length % 2 === 0 || point[0] !== 0x04)
    throw new RangeError('the public key must be an uncompressed point 04‖X‖Y');
  const discretionary = concatBytes([
    ...(body.roleByte === undefined ? [] : [encodeBerTlv(t.role, Uint8Array.of(body.roleByte))]),
    encodeBerTlv(t.authorityKeyId, body.authorityKeyId),
    ...(body.otherDiscretionary ?? []).map((o) => encodeBerTlv(o.tag, o.value)),
  ]);
  return concatBytes([
    encodeBerTlv(t.serial, body.serial),
    encodeBerTlv(t.caId, body.caId),
    encodeBerTlv(t.subjectId, body.subjectId),
    encodeBerTlv(t.keyUsage, body.keyUsage),
    ...(body.effectiveDate === undefined
      ? []
      : [encodeBerTlv(t.effectiveDate, encodeDate(body.effectiveDate))]),
    encodeBerTlv(t.expirationDate, encodeDate(body.expirationDate)),
    encodeBerTlv(t.discretionary, discretionary),
    encodeBerTlv(
      t.publicKey,
      concatBytes([
        encodeBerTlv(t.point, point),
        encodeBerTlv(t.curveRef, Uint8Array.of(body.publicKey.curveRef)),
      ]),
    ),
  ]);
}

/** The whole `7F21` certificate from its body and the issuer's signature (r‖s). */
export function encodeGpCertificate(body: GpCertificateBody, signature: Uint8Array): Uint8Array {
  return encodeBerTlv(
    GP_CERT_TAGS.certificate,
    concatBytes([encodeGpCertificateBody(body), encodeBerTlv(GP_CERT_TAGS.signature, signature)]),
  );
}

/** The role a decoded certificate declares (C8 01/02; ECASD when C8 is absent). */
function roleOf(roleByte: number | undefined): GpCertificateRole | undefined {
  if (roleByte === undefined) return 'ecasd';
  if (roleByte === GP_CERT_ROLE_BYTES['sm-dp']) return 'sm-dp';
  if (roleByte === GP_CERT_ROLE_BYTES['sm-sr']) return 'sm-sr';
  return undefined;
}

/** Order of the objects inside `7F21`; `optional` ones may be skipped. */
const LAYOUT: ReadonlyArray<{ tag: number; name: string; optional?: true }> = [
  { tag: GP_CERT_TAGS.serial, name: 'serial number (93)' },
  { tag: GP_CERT_TAGS.caId, name: 'CA identifier (42)' },
  { tag: GP_CERT_TAGS.subjectId, name: 'subject identifier (5F20)' },
  { tag: GP_CERT_TAGS.keyUsage, name: 'key usage (95)' },
  { tag: GP_CERT_TAGS.effectiveDate, name: 'effective date (5F25)', optional: true },
  { tag: GP_CERT_TAGS.expirationDate, name: 'expiration date (5F24)' },
  { tag: GP_CERT_TAGS.discretionary, name: 'discretionary data (73)' },
  { tag: GP_CERT_TAGS.publicKey, name: 'public key (7F49)' },
  { tag: GP_CERT_TAGS.signature, name: 'signature (5F37)' },
];

/**
 * Decodes a `7F21` GP certificate. Total: any bytes give a certificate or a DecodeError with a
 * stable code (TLV_* from the BER-TLV codec, GP_CERT_TAG, GP_CERT_MISSING, GP_CERT_FIELD).
 */
export function decodeGpCertificate(bytes: Uint8Array): Result<GpCertificate> {
  const outer = decodeBerTlv(bytes);
  if (!outer.ok) return outer;
  if (outer.value.tag !== GP_CERT_TAGS.certificate)
    return decodeError(
      'GP_CERT_TAG',
      `expected tag 7F21, found ${outer.value.tag.toString(16).toUpperCase()}`,
      0,
    );
  const inner = decodeBerTlvList(outer.value.value);
  if (!inner.ok) return inner;
  const found = new Map<number, Uint8Array>();
  let i = 0;
  for (const field of LAYOUT) {
    const tlv = inner.value[i];
    if (tlv !== undefined && tlv.tag === field.tag) {
      found.set(field.tag, tlv.value);
      i++;
    } else if (!field.optional) {
      return tlv === undefined
        ? decodeError('GP_CERT_MISSING', `${field.name} is missing`)
        : decodeError(
            'GP_CERT_TAG',
            `expected the ${field.name}, found tag ${tlv.tag.toString(16).toUpperCase()} (fields out of order or unknown)`,
          );
    }
  }
  if (i !== inner.value.length)
    return decodeError(
      'GP_CERT_TAG',
      `unexpected tag ${inner.value[i]?.tag.toString(16).toUpperCase()} after the signature`,
    );

  const t = GP_CERT_TAGS;
  const get = (tag: number) => found.get(tag) as Uint8Array;
  for (const [tag, name] of [
    [t.serial, 'serial number'],
    [t.caId, 'CA identifier'],
    [t.subjectId, 'subject identifier'],
    [t.keyUsage, 'key usage'],
    [t.signature, 'signature'],
  ] as const) {
    if (get(tag).length === 0) return decodeError('GP_CERT_FIELD', `the ${name} is empty`);
  }

  let effectiveDate: string | undefined;
  const effective = found.get(t.effectiveDate);
  if (effective !== undefined) {
    effectiveDate = decodeDate(effective);
    if (effectiveDate === undefined)
      return decodeError('GP_CERT_FIELD', 'the effective date is not BCD YYYYMMDD');
  }
  const expirationDate = decodeDate(get(t.expirationDate));
  if (expirationDate === undefined)
    return decodeError('GP_CERT_FIELD', 'the expiration date is not BCD YYYYMMDD');

  const disc = decodeBerTlvList(get(t.discretionary));
  if (!disc.ok) return disc;
  let roleByte: number | undefined;
  let authorityKeyId: Uint8Array | undefined;
  const otherDiscretionary: Array<{ tag: number; value: Uint8Array }> = [];
  for (const d of disc.value) {
    if (d.tag === t.role) {
      if (roleByte !== undefined || authorityKeyId !== undefined || d.value.length !== 1)
        return decodeError('GP_CERT_FIELD', 'the role (C8) must be one byte, once, first');
      roleByte = d.value[0];
    } else if (d.tag === t.authorityKeyId) {
      if (authorityKeyId !== undefined || otherDiscretionary.length > 0 || d.value.length === 0)
        return decodeError(
          'GP_CERT_FIELD',
          'the authority key identifier (C9) must be present once, before other data',
        );
      authorityKeyId = d.value;
    } else {
      if (authorityKeyId === undefined)
        return decodeError(
          'GP_CERT_FIELD',
          'the authority key identifier (C9) must come before other discretionary data',
        );
      otherDiscretionary.push({ tag: d.tag, value: d.value });
    }
  }
  if (authorityKeyId === undefined)
    return decodeError('GP_CERT_MISSING', 'the authority key identifier (C9) is missing');

  const key = decodeBerTlvList(get(t.publicKey));
  if (!key.ok) return key;
  const [pointTlv, curveTlv, ...rest] = key.value;
  if (pointTlv?.tag !== t.point || curveTlv?.tag !== t.curveRef || rest.length > 0)
    return decodeError('GP_CERT_FIELD', 'the public key (7F49) must be B0 (point) then F0 (curve)');
  const point = pointTlv.value;
  if (point.length < 3 || point.length % 2 === 0 || point[0] !== 0x04)
    return decodeError('GP_CERT_FIELD', 'the public key is not an uncompressed point 04‖X‖Y');
  if (curveTlv.value.length !== 1)
    return decodeError('GP_CERT_FIELD', 'the curve reference (F0) must be one byte');

  const body: GpCertificateBody = {
    serial: get(t.serial),
    caId: get(t.caId),
    subjectId: get(t.subjectId),
    keyUsage: get(t.keyUsage),
    effectiveDate,
    expirationDate,
    roleByte,
    authorityKeyId,
    otherDiscretionary,
    publicKey: { point, curveRef: curveTlv.value[0] as number },
  };
  // One encoding per certificate (minimal lengths, as DER): what is signed and what is checked
  // cannot differ from what a re-encoding gives, and round trips are exact.
  const signedData = encodeGpCertificateBody(body);
  const signature = get(t.signature);
  if (!sameBytes(encodeGpCertificate(body, signature), bytes))
    return decodeError('GP_CERT_FIELD', 'the certificate is not in its canonical encoding (minimal lengths)');
  return ok({ ...body, signature, role: roleOf(roleByte), signedData, encoded: bytes });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The bytes the issuer signed (TLVs 93..7F49), or why the certificate does not decode. */
export function gpCertificateSigningInput(bytes: Uint8Array): Result<Uint8Array> {
  const cert = decodeGpCertificate(bytes);
  return cert.ok ? ok(cert.value.signedData) : cert;
}

/** DER content octets of an OBJECT IDENTIFIER (X.690 §8.19), e.g. an SM-DP's entity id. */
export function encodeOid(oid: string): Uint8Array {
  const arcs = oid.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new RangeError(`not an OID: ${oid}`);
    return BigInt(a);
  });
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined || first > 2n || (first < 2n && second > 39n))
    throw new RangeError(`not an OID: ${oid}`);
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const bytes = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) bytes.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...bytes);
  }
  return Uint8Array.from(out);
}

/** The dotted form of DER OID content octets, or undefined when they are not one. */
export function decodeOid(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0 || (bytes[bytes.length - 1] as number) & 0x80) return undefined;
  const arcs: bigint[] = [];
  let v = 0n;
  let start = true;
  for (const b of bytes) {
    if (start && b === 0x80) return undefined; // not minimal
    start = false;
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
      start = true;
    }
  }
  const [head, ...rest] = arcs as [bigint, ...bigint[]];
  const first = head < 40n ? 0n : head < 80n ? 1n : 2n;
  return [first, head - first * 40n, ...rest].join('.');
}
