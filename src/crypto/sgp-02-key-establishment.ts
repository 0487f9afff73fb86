// SGP.02 §3.1.2 / §4.1.3.1 (ES8.EstablishISDPKeySet) and §4.1.1.x (ES5.EstablishISDRKeySet): key
// establishment scenario #3 of GPC Amendment E (ECKA-EG with an off-card signature), both ends as
// pure functions:
//   off-card X (SM-DP, or SM-SR2 on an SM-SR change):  buildKeyEstablishmentRequest → STORE DATA 3A02
//   on-card (ECASD + ISD-P/ISD-R):                       establishKeysOnCard → 85 DR ‖ 86 receipt + key set
//   off-card X:                                          verifyKeyEstablishmentReceipt → the same key set
// Byte layouts from reference/esim.md §4.2 (njiwa ECKeyAgreementEG.java and whty agree on them).
// EC keys travel as raw bytes: private = 32-byte scalar, public = 65-byte 04 ‖ X ‖ Y; node:crypto does
// the ECDH and ECDSA (P-256 and brainpoolP256r1), SHA-256 is in the X9.63 KDF.
//
// The points the public sources leave open ([?] in esim.md §4.2/§7) are decided here, once, for both
// ends — to verify against SGP.02 §4.1.3.1 / §4.1.1.x and GPC Amd A §3 / Amd E §4:
//   1. Key usage qualifier 5C = one key (the ISD-P SCP03 base key, used as Key-ENC, Key-MAC and
//      Key-DEK; or an ISD-R SCP81 PSK), 10 = three keys (ISD-R SCP80 KIc, KID, DEK; or SCP03 ENC, MAC,
//      DEK). Both are accepted; the off-card entity chooses (njiwa: 5C for the ISD-P).
//   2. The DR is always included (scenario parameter b2 set); 16 bytes for 256-bit curves.
//   3. SharedInfo = key usage ‖ key type 88 ‖ key length 10 ‖ DR ‖ [len HostID ‖ HostID ‖ len SIN ‖
//      SIN ‖ len SDIN ‖ SDIN], the bracket present iff scenario parameter b3 (04) is set, which also puts
//      45 SDIN and 84 HostID in the CRT (njiwa's order).
//   4. Receipt = AES-CMAC(receipt key, the A6 CRT TLV as sent ‖ 85 L DR), full 16 bytes, plain CMAC
//      (no ISO 9797-1 pre-padding: CMAC pads by itself).
//   5. KeyData = X9.63-KDF-SHA256(ShS, SharedInfo), 16 × (1 + number of keys) bytes; the receipt key
//      comes first, then the keys in key-identifier order.
//   6. Signature = ECDSA-SHA256(SK.X.ECDSA, 3A02 L CRT ‖ 7F49 L ePK ‖ 0085 L RC), plain r ‖ s.
//   7. ISD-R key sets (isdrKeysetParameters): SCP80 = KVN 01–0F, 10, KIDs 01–03 (KIc, KID, DEK), 91 the
//      5-octet initial counter; SCP81 = KVN 40–4F, 5C, KID 01 (the PSK), 91 empty.

import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  sign as ecSign,
  verify as ecVerify,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { type BerTlv, decodeBerTlvAt, decodeBerTlvList, encodeBerTlv } from '../lib/ber-tlv.js';
import { decodeError, ok, type Result } from '../lib/result.js';
import { x963KdfSha256 } from './ansi-x9-63-kdf.js';
import { constantTimeEqual } from './constant-time.js';
import { concat, type Scp03Keys } from './gp-scp03.js';
import { aesCmac } from './rfc-4493-aes-cmac.js';

// --- curves and raw EC keys -------------------------------------------------------------------------

export type Sgp02Curve = 'P-256' | 'brainpoolP256r1';

interface CurveSpec {
  readonly openssl: string;
  /** GPC Amd E Table 4-3 / SGP.02 "key parameter reference" (tag F0). */
  readonly parameterReference: number;
  /** DER of the named-curve OID (06 L …). */
  readonly oid: Uint8Array;
  readonly bytes: number;
}

export const SGP02_CURVES: Readonly<Record<Sgp02Curve, CurveSpec>> = {
  'P-256': {
    openssl: 'prime256v1',
    parameterReference: 0x00,
    oid: Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07),
    bytes: 32,
  },
  brainpoolP256r1: {
    openssl: 'brainpoolP256r1',
    parameterReference: 0x03,
    oid: Uint8Array.of(0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07),
    bytes: 32,
  },
};

export const curveFromParameterReference = (ref: number): Sgp02Curve | undefined =>
  (Object.keys(SGP02_CURVES) as Sgp02Curve[]).find((c) => SGP02_CURVES[c].parameterReference === ref);

export interface EcKeyPair {
  /** The scalar, big-endian, curve size (32 bytes). */
  readonly privateKey: Uint8Array;
  /** Uncompressed point 04 ‖ X ‖ Y. */
  readonly publicKey: Uint8Array;
}

const EC_PUBLIC_KEY_OID = Uint8Array.of(0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01);

function derSequence(...parts: Uint8Array[]): Uint8Array {
  return encodeBerTlv(0x30, concat(...parts));
}

function leftPad(bytes: Uint8Array, size: number): Uint8Array {
  if (bytes.length >= size) return bytes;
  const out = new Uint8Array(size);
  out.set(bytes, size - bytes.length);
  return out;
}

/** An EC key pair on the curve (random; the ephemeral key of the off-card entity). */
export function generateEcKeyPair(curve: Sgp02Curve): EcKeyPair {
  const spec = SGP02_CURVES[curve];
  const ecdh = createECDH(spec.openssl);
  ecdh.generateKeys();
  return {
    privateKey: leftPad(new Uint8Array(ecdh.getPrivateKey()), spec.bytes),
    publicKey: new Uint8Array(ecdh.getPublicKey()),
  };
}

/**
 * A private key as raw scalar bytes or as a node KeyObject (how the platform holds keys it decrypted
 * from the store, e.g. the SM-DP's SK.DP.ECDSA). A KeyObject must be a private EC key on `curve`.
 */
export type EcPrivateKey = Uint8Array | KeyObject;

/** The public point of a private key; throws RangeError when it is not a valid key on the curve. */
export function ecPublicKeyFromPrivate(curve: Sgp02Curve, privateKey: EcPrivateKey): Uint8Array {
  if (privateKey instanceof Uint8Array) {
    const ecdh = createECDH(SGP02_CURVES[curve].openssl);
    try {
      ecdh.setPrivateKey(privateKey);
    } catch {
      throw new RangeError(`not a valid ${curve} private key`);
    }
    return new Uint8Array(ecdh.getPublicKey());
  }
  const spki = createPublicKey(privateKeyObject(curve, privateKey)).export({ type: 'spki', format: 'der' });
  return new Uint8Array(spki.subarray(spki.length - (1 + 2 * SGP02_CURVES[curve].bytes)));
}

function privateKeyObject(curve: Sgp02Curve, privateKey: EcPrivateKey): KeyObject {
  const spec = SGP02_CURVES[curve];
  if (!(privateKey instanceof Uint8Array)) {
    const details = privateKey.asymmetricKeyDetails;
    if (
      privateKey.type !== 'private' ||
      privateKey.asymmetricKeyType !== 'ec' ||
      details?.namedCurve !== spec.openssl
    ) {
      throw new RangeError(`the key object is not a private ${curve} key`);
    }
    return privateKey;
  }
  const publicKey = ecPublicKeyFromPrivate(curve, privateKey);
  // RFC 5915 ECPrivateKey: version 1, the scalar, [0] the curve, [1] the public point.
  const der = derSequence(
    Uint8Array.of(0x02, 0x01, 0x01),
    encodeBerTlv(0x04, leftPad(privateKey, spec.bytes)),
    encodeBerTlv(0xa0, spec.oid),
    encodeBerTlv(0xa1, encodeBerTlv(0x03, concat(Uint8Array.of(0), publicKey))),
  );
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'sec1' });
}

/** RFC 5480 SubjectPublicKeyInfo; undefined when the bytes are not a point on the curve. */
function publicKeyObject(curve: Sgp02Curve, publicKey: Uint8Array): KeyObject | undefined {
  if (publicKey.length !== 1 + 2 * SGP02_CURVES[curve].bytes || publicKey[0] !== 0x04) return undefined;
  const memo = `${curve}:${Buffer.from(publicKey).toString('hex')}`;
  const known = importedPublicKeys.get(memo);
  if (known !== undefined) {
    importedPublicKeys.delete(memo);
    importedPublicKeys.set(memo, known);
    return known;
  }
  const der = derSequence(
    derSequence(EC_PUBLIC_KEY_OID, SGP02_CURVES[curve].oid),
    encodeBerTlv(0x03, concat(Uint8Array.of(0), publicKey)),
  );
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
  importedPublicKeys.set(memo, key);
  if (importedPublicKeys.size > IMPORTED_PUBLIC_KEYS_MAX)
    importedPublicKeys.delete(importedPublicKeys.keys().next().value as string);
  return key;
}

/**
 * Public keys already imported, by curve and point (LRU). Importing one through OpenSSL's decoders
 * costs about twice an ECDSA verification, and the same few keys come back on every procedure (the
 * SM-DP's PK.DP.ECDSA at each eUICC, a CI's key). Only points that imported (on the curve) are kept;
 * public keys are not secret.
 */
const importedPublicKeys = new Map<string, KeyObject>();
const IMPORTED_PUBLIC_KEYS_MAX = 256;

/** ECDSA with SHA-256, signature as plain r ‖ s (BSI TR-03111 §5.2.1, the GP/SGP.02 format). */
export function ecdsaSignSha256(curve: Sgp02Curve, privateKey: EcPrivateKey, data: Uint8Array): Uint8Array {
  return new Uint8Array(
    ecSign('sha256', data, { key: privateKeyObject(curve, privateKey), dsaEncoding: 'ieee-p1363' }),
  );
}

/** Total: false for a wrong signature, a malformed one, or a public key that is not on the curve. */
export function ecdsaVerifySha256(
  curve: Sgp02Curve,
  publicKey: Uint8Array,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = publicKeyObject(curve, publicKey);
  if (!key || signature.length !== 2 * SGP02_CURVES[curve].bytes) return false;
  try {
    return ecVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** BSI TR-03111 §4.3.1 ECKA: ShS = x-coordinate of d·Q. A point off the curve is an error, not a throw. */
export function eckaSharedSecret(
  curve: Sgp02Curve,
  privateKey: EcPrivateKey,
  peerPublicKey: Uint8Array,
): Result<Uint8Array> {
  const spec = SGP02_CURVES[curve];
  const notAPoint = () => decodeError('SGP02_KE_PUBLIC_KEY', `the public key is not a ${curve} point`);
  if (peerPublicKey.length !== 1 + 2 * spec.bytes || peerPublicKey[0] !== 0x04) return notAPoint();
  if (privateKey instanceof Uint8Array) {
    // A scalar (an ephemeral key, the card's SK.ECASD.ECKA): straight into an ECDH context, without
    // importing either key as a KeyObject (OpenSSL's decoders cost more than the ECDH itself).
    // computeSecret refuses a point that is not on the curve.
    const ecdh = createECDH(spec.openssl);
    try {
      ecdh.setPrivateKey(privateKey);
    } catch {
      return decodeError('SGP02_KE_PUBLIC_KEY', 'ECKA failed on this key pair');
    }
    try {
      return ok(leftPad(new Uint8Array(ecdh.computeSecret(peerPublicKey)), spec.bytes));
    } catch {
      return notAPoint();
    }
  }
  const peer = publicKeyObject(curve, peerPublicKey);
  if (!peer) return notAPoint();
  try {
    const secret = diffieHellman({ privateKey: privateKeyObject(curve, privateKey), publicKey: peer });
    return ok(leftPad(new Uint8Array(secret), spec.bytes));
  } catch {
    return decodeError('SGP02_KE_PUBLIC_KEY', 'ECKA failed on this key pair');
  }
}

/** 7F49 value (GPC Amd E): B0 41 04‖X‖Y  F0 01 <key parameter reference>. */
export function encodeEcPublicKeyTlvValue(curve: Sgp02Curve, publicKey: Uint8Array): Uint8Array {
  return concat(
    encodeBerTlv(0xb0, publicKey),
    Uint8Array.of(0xf0, 0x01, SGP02_CURVES[curve].parameterReference),
  );
}

export function decodeEcPublicKeyTlvValue(
  value: Uint8Array,
): Result<{ curve: Sgp02Curve; publicKey: Uint8Array }> {
  const list = decodeBerTlvList(value);
  if (!list.ok) return decodeError('SGP02_KE_FORMAT', `7F49: ${list.error.message}`);
  const point = list.value.find((t) => t.tag === 0xb0);
  const ref = list.value.find((t) => t.tag === 0xf0);
  if (!point || !ref || ref.value.length !== 1 || list.value.length !== 2) {
    return decodeError('SGP02_KE_FORMAT', '7F49 holds B0 (the point) and F0 (the curve) once each');
  }
  const curve = curveFromParameterReference(ref.value[0] as number);
  if (!curve)
    return decodeError('SGP02_KE_CURVE', `key parameter reference ${ref.value[0]} is not supported`);
  if (!publicKeyObject(curve, point.value))
    return decodeError('SGP02_KE_PUBLIC_KEY', `B0 is not an uncompressed ${curve} point`);
  return ok({ curve, publicKey: point.value.slice() });
}

// --- the CRT (A6) -----------------------------------------------------------------------------------

/** CRT tag 95 values (decision 1 above). */
export const KEY_USAGE_QUALIFIER = { oneKey: 0x5c, threeKeys: 0x10 } as const;
export type KeyUsageQualifier = (typeof KEY_USAGE_QUALIFIER)[keyof typeof KEY_USAGE_QUALIFIER];

/** Scenario parameter bits (tag 90, second byte) as njiwa documents them. */
export const SCENARIO_PARAMETER = {
  deleteExistingKeys: 0x01,
  includeDerivationRandom: 0x02,
  hostIdentification: 0x04,
  certificateVerificationPrecedes: 0x08,
} as const;

const SCENARIO_3 = 0x03;
const KEY_TYPE_AES = 0x88;
const KEY_LENGTH = 16;
const DR_LENGTH = 16;

export interface HostIdentification {
  /** HostID chosen by the off-card entity (ES7 CreateAdditionalKeySet.HostId). */
  readonly hostId: Uint8Array;
  /** SIN and SDIN of the target security domain (from the EIS). */
  readonly sin: Uint8Array;
  readonly sdin: Uint8Array;
}

export interface KeyEstablishmentParameters {
  readonly keyUsageQualifier: KeyUsageQualifier;
  /** KVN of the new key set (ISD-P SCP03: 30-3F; ISD-R SCP80: 01-0F; SCP81: 40-4F). */
  readonly kvn: number;
  /** Key identifier of the first key (01). */
  readonly kid: number;
  /** Tag 91: empty for SCP03, the 5-byte initial counter for SCP80 keys. */
  readonly initialCounter: Uint8Array;
  readonly deleteExistingKeys?: boolean;
  readonly certificateVerificationPrecedes?: boolean;
  readonly hostIdentification?: HostIdentification;
}

export function scenarioParameter(p: KeyEstablishmentParameters): number {
  return (
    SCENARIO_PARAMETER.includeDerivationRandom |
    (p.deleteExistingKeys ? SCENARIO_PARAMETER.deleteExistingKeys : 0) |
    (p.certificateVerificationPrecedes ? SCENARIO_PARAMETER.certificateVerificationPrecedes : 0) |
    (p.hostIdentification ? SCENARIO_PARAMETER.hostIdentification : 0)
  );
}

export const numberOfKeys = (q: KeyUsageQualifier): 1 | 3 => (q === KEY_USAGE_QUALIFIER.oneKey ? 1 : 3);

/** The A6 CRT TLV, fields in njiwa's order (90 95 80 81 82 83 91 [45 84]). */
export function encodeKeyEstablishmentCrt(p: KeyEstablishmentParameters): Uint8Array {
  const fields = [
    encodeBerTlv(0x90, Uint8Array.of(SCENARIO_3, scenarioParameter(p))),
    encodeBerTlv(0x95, Uint8Array.of(p.keyUsageQualifier)),
    encodeBerTlv(0x80, Uint8Array.of(KEY_TYPE_AES)),
    encodeBerTlv(0x81, Uint8Array.of(KEY_LENGTH)),
    encodeBerTlv(0x82, Uint8Array.of(p.kid)),
    encodeBerTlv(0x83, Uint8Array.of(p.kvn)),
    encodeBerTlv(0x91, p.initialCounter),
  ];
  if (p.hostIdentification) {
    fields.push(
      encodeBerTlv(0x45, p.hostIdentification.sdin),
      encodeBerTlv(0x84, p.hostIdentification.hostId),
    );
  }
  return encodeBerTlv(0xa6, concat(...fields));
}

/**
 * The card reads the CRT. SIN is not in the CRT: the card supplies its own (`sin`) when HostID is
 * present. Total decoder.
 */
export function decodeKeyEstablishmentCrt(
  value: Uint8Array,
  sin?: Uint8Array,
): Result<KeyEstablishmentParameters> {
  const list = decodeBerTlvList(value);
  if (!list.ok) return decodeError('SGP02_KE_CRT', `A6: ${list.error.message}`);
  const one = (tag: number): BerTlv | undefined => {
    const found = list.value.filter((t) => t.tag === tag);
    return found.length === 1 ? found[0] : undefined;
  };
  const byte = (tag: number): number | undefined => {
    const t = one(tag);
    return t && t.value.length === 1 ? (t.value[0] as number) : undefined;
  };
  const known = new Set([0x90, 0x95, 0x80, 0x81, 0x82, 0x83, 0x91, 0x45, 0x84]);
  const unknown = list.value.find((t) => !known.has(t.tag));
  if (unknown) return decodeError('SGP02_KE_CRT', `unexpected tag ${unknown.tag.toString(16)} in the CRT`);
  const scenario = one(0x90)?.value;
  if (scenario?.length !== 2 || scenario[0] !== SCENARIO_3)
    return decodeError('SGP02_KE_CRT', '90 must name scenario #3');
  const param = scenario[1] as number;
  if (!(param & SCENARIO_PARAMETER.includeDerivationRandom))
    return decodeError('SGP02_KE_CRT', 'the DR must be included (scenario parameter b2)');
  if (param & 0xf0) return decodeError('SGP02_KE_CRT', 'reserved scenario parameter bits are set');
  const usage = byte(0x95);
  if (usage !== KEY_USAGE_QUALIFIER.oneKey && usage !== KEY_USAGE_QUALIFIER.threeKeys) {
    return decodeError('SGP02_KE_CRT', '95 must be 5C (one key) or 10 (three keys)');
  }
  if (byte(0x80) !== KEY_TYPE_AES || byte(0x81) !== KEY_LENGTH)
    return decodeError('SGP02_KE_CRT', 'only AES-128 keys (80 88, 81 10)');
  const kid = byte(0x82);
  const kvn = byte(0x83);
  const counter = one(0x91);
  if (kid === undefined || kvn === undefined || !counter || counter.value.length > 8) {
    return decodeError('SGP02_KE_CRT', '82, 83 and 91 appear once with valid lengths');
  }
  const wantsHost = (param & SCENARIO_PARAMETER.hostIdentification) !== 0;
  const sdin = one(0x45)?.value;
  const hostId = one(0x84)?.value;
  if (wantsHost !== (sdin !== undefined && hostId !== undefined) || (!wantsHost && (sdin || hostId))) {
    return decodeError(
      'SGP02_KE_CRT',
      'SDIN (45) and HostID (84) appear exactly when scenario parameter b3 is set',
    );
  }
  if (wantsHost && (sin === undefined || (sdin?.length ?? 0) > 127 || (hostId?.length ?? 0) > 127)) {
    return decodeError('SGP02_KE_CRT', 'HostID/SDIN too long, or the card has no SIN');
  }
  // The receipt covers the CRT as both ends encode it, so only the canonical encoding is accepted.
  if (!constantTimeEqual(encodeKeyEstablishmentCrt(fromParts()), encodeBerTlv(0xa6, value))) {
    return decodeError('SGP02_KE_CRT', 'the CRT is not in the canonical order and form');
  }
  return ok(fromParts());

  function fromParts(): KeyEstablishmentParameters {
    return {
      keyUsageQualifier: usage as KeyUsageQualifier,
      kvn: kvn as number,
      kid: kid as number,
      initialCounter: (counter as BerTlv).value.slice(),
      ...(param & SCENARIO_PARAMETER.deleteExistingKeys ? { deleteExistingKeys: true } : {}),
      ...(param & SCENARIO_PARAMETER.certificateVerificationPrecedes
        ? { certificateVerificationPrecedes: true }
        : {}),
      ...(wantsHost && sdin && hostId && sin
        ? { hostIdentification: { hostId: hostId.slice(), sin: sin.slice(), sdin: sdin.slice() } }
        : {}),
    };
  }
}

// --- key derivation and receipt ---------------------------------------------------------------------

export interface EstablishedKeyset {
  readonly keyUsageQualifier: KeyUsageQualifier;
  readonly kvn: number;
  readonly kid: number;
  readonly initialCounter: Uint8Array;
  /** 1 key (5C) or 3 keys (10), AES-128, in key-identifier order from `kid`. */
  readonly keys: readonly Uint8Array[];
}

/** Decision 3: SharedInfo. */
export function keyEstablishmentSharedInfo(
  p: KeyEstablishmentParameters,
  derivationRandom: Uint8Array,
): Uint8Array {
  const parts = [Uint8Array.of(p.keyUsageQualifier, KEY_TYPE_AES, KEY_LENGTH), derivationRandom];
  const h = p.hostIdentification;
  if (h) {
    for (const v of [h.hostId, h.sin, h.sdin]) {
      if (v.length > 127) throw new RangeError('HostID, SIN and SDIN are at most 127 bytes');
      parts.push(Uint8Array.of(v.length), v);
    }
  }
  return concat(...parts);
}

/** Decisions 4 and 5: the receipt key and keys from ShS, and the receipt over CRT ‖ 85 L DR. */
export function deriveEstablishedKeyset(
  p: KeyEstablishmentParameters,
  sharedSecret: Uint8Array,
  derivationRandom: Uint8Array,
): { keyset: EstablishedKeyset; receipt: Uint8Array } {
  const n = numberOfKeys(p.keyUsageQualifier);
  const keyData = x963KdfSha256(
    sharedSecret,
    keyEstablishmentSharedInfo(p, derivationRandom),
    KEY_LENGTH * (1 + n),
  );
  const receiptKey = keyData.subarray(0, KEY_LENGTH);
  const keys = Array.from({ length: n }, (_, i) => keyData.slice(KEY_LENGTH * (1 + i), KEY_LENGTH * (2 + i)));
  const receipt = aesCmac(
    receiptKey,
    concat(encodeKeyEstablishmentCrt(p), encodeBerTlv(0x85, derivationRandom)),
  );
  return {
    keyset: {
      keyUsageQualifier: p.keyUsageQualifier,
      kvn: p.kvn,
      kid: p.kid,
      initialCounter: p.initialCounter.slice(),
      keys,
    },
    receipt,
  };
}

/** The SCP03 key set of an ISD-P: one key → ENC = MAC = DEK (decision 1); three keys → ENC, MAC, DEK. */
export function scp03KeysFromKeyset(keyset: EstablishedKeyset): Scp03Keys {
  const [a, b, c] = keyset.keys as [Uint8Array, Uint8Array?, Uint8Array?];
  return b && c ? { enc: a, mac: b, dek: c } : { enc: a, mac: a, dek: a };
}

/** The SCP80 key set of an ISD-R (three keys: KIc, KID, DEK). */
export function scp80KeysFromKeyset(keyset: EstablishedKeyset): {
  kic: Uint8Array;
  kid: Uint8Array;
  dek: Uint8Array;
} {
  const [kic, kid, dek] = keyset.keys;
  if (!kic || !kid || !dek) throw new RangeError('an SCP80 key set needs three keys (key usage 10)');
  return { kic, kid, dek };
}

/**
 * The ISD-R's key set families (esim.md §1.1, §4.4, §4.5): SCP80 KVN 01–0F with three keys (KIc, KID,
 * DEK: key usage 10) and SCP81 KVN 40–4F with one key (the PSK: key usage 5C).
 */
export const ISD_R_KEYSETS = {
  scp80: { first: 0x01, last: 0x0f, keyUsageQualifier: KEY_USAGE_QUALIFIER.threeKeys },
  scp81: { first: 0x40, last: 0x4f, keyUsageQualifier: KEY_USAGE_QUALIFIER.oneKey },
} as const;
export type IsdrKeysetKind = keyof typeof ISD_R_KEYSETS;

/** Which ISD-R family a KVN belongs to, if any. */
export function isdrKeysetKind(kvn: number): IsdrKeysetKind | undefined {
  for (const kind of ['scp80', 'scp81'] as const) {
    const r = ISD_R_KEYSETS[kind];
    if (kvn >= r.first && kvn <= r.last) return kind;
  }
  return undefined;
}

/** SCP80 counters are 5 octets (TS 102 225 §5.1.1). */
export const SCP80_COUNTER_MAX = 0xff_ffff_ffff;

/**
 * Decision 7: the CRT of an ISD-R key set, for ES5.EstablishISDRKeySet (SM-SR2's SCP80 key set,
 * §3.8 step 14) and for the SCP81 key set SM-SR2 creates after FinaliseISDRhandover (step 26, njiwa
 * CreateSCP81KeySet): first key KID 01; an SCP80 set carries its initial counter in 91 as 5 octets
 * (ES7 CreateAdditionalKeySet.InitialSequenceCounter) — the card holds it as the last counter
 * accepted for the new KVN, so the first packet must carry a higher one; an SCP81 set has no counter
 * (91 empty). To verify against SGP.02 §4.1.1.x / §5.7.x.
 */
export function isdrKeysetParameters(o: {
  readonly kind: IsdrKeysetKind;
  readonly kvn: number;
  readonly initialCounter?: number;
  readonly deleteExistingKeys?: boolean;
}): KeyEstablishmentParameters {
  const range = ISD_R_KEYSETS[o.kind];
  if (!Number.isInteger(o.kvn) || o.kvn < range.first || o.kvn > range.last)
    throw new RangeError(`an ISD-R ${o.kind.toUpperCase()} KVN is ${range.first} to ${range.last}`);
  const counter = o.initialCounter ?? 0;
  if (!Number.isInteger(counter) || counter < 0 || counter > SCP80_COUNTER_MAX)
    throw new RangeError('the initial counter is 0 to FFFFFFFFFF');
  const initialCounter = new Uint8Array(o.kind === 'scp80' ? 5 : 0);
  for (let i = initialCounter.length - 1, v = counter; i >= 0; i--, v = Math.floor(v / 256))
    initialCounter[i] = v % 256;
  return {
    keyUsageQualifier: range.keyUsageQualifier,
    kvn: o.kvn,
    kid: 0x01,
    initialCounter,
    ...(o.deleteExistingKeys ? { deleteExistingKeys: true } : {}),
  };
}

// --- the off-card entity ----------------------------------------------------------------------------

/** DGI length (GP Card Spec §11.11.2.2): one byte up to 254, else FF ‖ two bytes. */
function dgi(tag: number, value: Uint8Array): Uint8Array {
  const length =
    value.length < 0xff
      ? Uint8Array.of(value.length)
      : Uint8Array.of(0xff, value.length >> 8, value.length & 0xff);
  return concat(Uint8Array.of(tag >> 8, tag & 0xff), length, value);
}

export interface KeyEstablishmentRequest {
  /** Data of STORE DATA #1 (80 E2 89 01): 3A02 L CRT ‖ 7F49 L ePK ‖ 5F37 L signature. */
  readonly storeData: Uint8Array;
  /** Keep the ephemeral private key until the receipt is verified, then forget it. */
  readonly ephemeral: EcKeyPair;
  readonly signature: Uint8Array;
}

/** Decision 6: the data the off-card entity signs. */
export function keyEstablishmentSignedData(
  dgi3a02AndEpk: Uint8Array,
  randomChallenge: Uint8Array,
): Uint8Array {
  return concat(dgi3a02AndEpk, Uint8Array.of(0x00, 0x85), berLength(randomChallenge.length), randomChallenge);
}

function berLength(n: number): Uint8Array {
  return n < 0x80 ? Uint8Array.of(n) : Uint8Array.of(0x81, n);
}

/**
 * Off-card, step (c) of esim.md §4.2: the CRT, an ephemeral key (random unless given, for vectors),
 * and the signature with SK.X.ECDSA over CRT ‖ ePK ‖ RC.
 */
export function buildKeyEstablishmentRequest(input: {
  readonly curve: Sgp02Curve;
  readonly parameters: KeyEstablishmentParameters;
  /** SK.X.ECDSA: the SM-DP's (or SM-SR2's) signing key, whose certificate the card stored with 3A01. */
  readonly signingKey: EcPrivateKey;
  /** RC from the card's answer to the 3A01 STORE DATA (85 L RC). */
  readonly randomChallenge: Uint8Array;
  readonly ephemeral?: EcKeyPair;
}): KeyEstablishmentRequest {
  if (input.randomChallenge.length < 16 || input.randomChallenge.length > 32)
    throw new RangeError('RC is 16 to 32 bytes');
  const ephemeral = input.ephemeral ?? generateEcKeyPair(input.curve);
  const head = concat(
    dgi(0x3a02, encodeKeyEstablishmentCrt(input.parameters)),
    encodeBerTlv(0x7f49, encodeEcPublicKeyTlvValue(input.curve, ephemeral.publicKey)),
  );
  const signature = ecdsaSignSha256(
    input.curve,
    input.signingKey,
    keyEstablishmentSignedData(head, input.randomChallenge),
  );
  return { storeData: concat(head, encodeBerTlv(0x5f37, signature)), ephemeral, signature };
}

export interface KeyEstablishmentError {
  readonly code: string;
  readonly message: string;
  /** SW for the card to answer the STORE DATA with. */
  readonly sw: number;
}

type KR<T> = Result<T, KeyEstablishmentError>;
const kfail = (code: string, message: string, sw: number): KR<never> => ({
  ok: false,
  error: { code, message, sw },
});

/** Off-card, step 18 of §3.1: ShS from eSK.X and PK.ECASD, the key set, and the card's receipt checked. */
export function verifyKeyEstablishmentReceipt(input: {
  readonly curve: Sgp02Curve;
  readonly parameters: KeyEstablishmentParameters;
  readonly ephemeralPrivateKey: EcPrivateKey;
  /** PK.ECASD.ECKA from the (verified) CERT.ECASD.ECKA. */
  readonly ecasdPublicKey: Uint8Array;
  /** The card's answer data: 85 L DR ‖ 86 L receipt. */
  readonly response: Uint8Array;
}): KR<EstablishedKeyset> {
  const parsed = decodeKeyEstablishmentResponse(input.response);
  if (!parsed.ok) return kfail(parsed.error.code, parsed.error.message, 0x6f00);
  const shs = eckaSharedSecret(input.curve, input.ephemeralPrivateKey, input.ecasdPublicKey);
  if (!shs.ok) return kfail(shs.error.code, shs.error.message, 0x6f00);
  const { keyset, receipt } = deriveEstablishedKeyset(
    input.parameters,
    shs.value,
    parsed.value.derivationRandom,
  );
  if (!constantTimeEqual(receipt, parsed.value.receipt)) {
    return kfail(
      'SGP02_KE_RECEIPT',
      'the receipt does not match: the card derived other keys (or is not this ECASD)',
      0x6f00,
    );
  }
  return ok(keyset);
}

/** 85 L DR ‖ 86 L receipt (total decoder). */
export function decodeKeyEstablishmentResponse(
  bytes: Uint8Array,
): Result<{ derivationRandom: Uint8Array; receipt: Uint8Array }> {
  const list = decodeBerTlvList(bytes);
  if (!list.ok) return decodeError('SGP02_KE_FORMAT', `response: ${list.error.message}`);
  const [dr, receipt] = list.value;
  if (list.value.length !== 2 || dr?.tag !== 0x85 || receipt?.tag !== 0x86) {
    return decodeError('SGP02_KE_FORMAT', 'the response is 85 DR then 86 receipt');
  }
  if (dr.value.length !== DR_LENGTH || receipt.value.length !== 16) {
    return decodeError('SGP02_KE_FORMAT', 'DR and receipt are 16 bytes each');
  }
  return ok({ derivationRandom: dr.value.slice(), receipt: receipt.value.slice() });
}

// --- the card (ECASD + target security domain) ------------------------------------------------------

export interface OnCardKeyEstablishment {
  readonly parameters: KeyEstablishmentParameters;
  readonly keyset: EstablishedKeyset;
  /** Answer data: 85 L DR ‖ 86 L receipt (the caller adds 9000). */
  readonly response: Uint8Array;
}

/**
 * On-card, steps 17 of §3.1: parse the 3A02 STORE DATA, verify the signature with PK.X.ECDSA (from the
 * certificate stored by 3A01), ECKA with SK.ECASD.ECKA, generate DR, derive the key set and receipt.
 * Total over the STORE DATA bytes: any failure is a typed error with the SW to answer.
 */
export function establishKeysOnCard(input: {
  readonly storeData: Uint8Array;
  /** SK.ECASD.ECKA and its curve. */
  readonly curve: Sgp02Curve;
  readonly ecasdPrivateKey: EcPrivateKey;
  /** PK.X.ECDSA of the off-card entity and the curve of its certificate. */
  readonly offCardPublicKey: Uint8Array;
  readonly offCardCurve?: Sgp02Curve;
  /** RC the card returned to the 3A01 STORE DATA. */
  readonly randomChallenge: Uint8Array;
  /** The SIN of the target security domain (needed when the CRT carries HostID). */
  readonly sin?: Uint8Array;
  /** 16 bytes; random unless given (vectors only). */
  readonly derivationRandom?: Uint8Array;
}): KR<OnCardKeyEstablishment> {
  const bytes = input.storeData;
  if (bytes.length < 3 || bytes[0] !== 0x3a || bytes[1] !== 0x02)
    return kfail('SGP02_KE_FORMAT', 'the data starts with DGI 3A02', 0x6a80);
  let at = 2;
  let length = bytes[at] as number;
  at += 1;
  if (length === 0xff) {
    if (bytes.length < 5) return kfail('SGP02_KE_FORMAT', 'the DGI length runs past the end', 0x6a80);
    length = ((bytes[3] as number) << 8) | (bytes[4] as number);
    at = 5;
  }
  if (at + length > bytes.length) return kfail('SGP02_KE_FORMAT', 'DGI 3A02 runs past the end', 0x6a80);
  const crtTlv = decodeBerTlvList(bytes.subarray(at, at + length));
  if (!crtTlv.ok || crtTlv.value.length !== 1 || crtTlv.value[0]?.tag !== 0xa6) {
    return kfail('SGP02_KE_FORMAT', 'DGI 3A02 holds one A6 CRT', 0x6a80);
  }
  const epkAt = decodeBerTlvAt(bytes, at + length);
  if (!epkAt.ok || epkAt.value.tlv.tag !== 0x7f49)
    return kfail('SGP02_KE_FORMAT', 'after 3A02 comes 7F49 (ePK)', 0x6a80);
  const sigAt = decodeBerTlvAt(bytes, epkAt.value.next);
  if (!sigAt.ok || sigAt.value.tlv.tag !== 0x5f37 || sigAt.value.next !== bytes.length) {
    return kfail('SGP02_KE_FORMAT', 'the data ends with 5F37 (signature)', 0x6a80);
  }
  const epkTlv = epkAt.value.tlv;
  const sigTlv = sigAt.value.tlv;
  // The signed bytes are the bytes as received, up to the signature TLV.
  const signed = keyEstablishmentSignedData(bytes.subarray(0, epkAt.value.next), input.randomChallenge);
  if (!ecdsaVerifySha256(input.offCardCurve ?? input.curve, input.offCardPublicKey, signed, sigTlv.value)) {
    return kfail('SGP02_KE_SIGNATURE', 'the signature does not verify with PK.X.ECDSA', 0x6982);
  }
  const crt = decodeKeyEstablishmentCrt((crtTlv.value[0] as BerTlv).value, input.sin);
  if (!crt.ok) return kfail(crt.error.code, crt.error.message, 0x6a80);
  const epk = decodeEcPublicKeyTlvValue(epkTlv.value);
  if (!epk.ok) return kfail(epk.error.code, epk.error.message, 0x6a80);
  if (epk.value.curve !== input.curve)
    return kfail('SGP02_KE_CURVE', 'ePK is not on the curve of SK.ECASD.ECKA', 0x6a80);
  const shs = eckaSharedSecret(input.curve, input.ecasdPrivateKey, epk.value.publicKey);
  if (!shs.ok) return kfail(shs.error.code, shs.error.message, 0x6a80);
  const dr = input.derivationRandom?.slice() ?? new Uint8Array(randomBytes(DR_LENGTH));
  if (dr.length !== DR_LENGTH) throw new RangeError('DR is 16 bytes for 256-bit curves');
  const { keyset, receipt } = deriveEstablishedKeyset(crt.value, shs.value, dr);
  return ok({
    parameters: crt.value,
    keyset,
    response: concat(encodeBerTlv(0x85, dr), encodeBerTlv(0x86, receipt)),
  });
}
