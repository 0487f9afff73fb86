// SGP.02 §2.3 certificate chains, verified the same way by every receiver: the eUICC checking an
// SM-DP or SM-SR certificate with PK.CI.ECDSA (§3.1.2, §3.8 step 8), the SM-DP checking
// CERT.ECASD.ECKA → CERT.EUM → CI (§3.1.1 step 5), an SM-SR validating the EIS (§3.9, ES7
// HandoverEUICC). The CI and EUM certificates are X.509 (SGP.14); SM-DP, SM-SR and ECASD
// certificates are the GP `7F21` format (src/lib/gp-certificate.ts). NIST P-256 and ECDSA-SHA256
// only; signatures in GP certificates are plain r‖s.
//
// Each check is one step; a refusal names its step with a stable code and the reason a person
// reads ("wrong role", "issued by another CI", "expired", "bad signature"). Synchronous, over
// node:crypto, so the software card can use it too.

import 'reflect-metadata';
import {
  createHash,
  createPublicKey,
  type KeyObject,
  X509Certificate as NodeX509,
  sign,
  verify,
} from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { decodeBerTlv } from '../lib/ber-tlv.js';
import {
  decodeGpCertificate,
  encodeGpCertificate,
  encodeGpCertificateBody,
  GP_KEY_USAGE,
  type GpCertificate,
  type GpCertificateBody,
  type GpCertificateRole,
  gpDateStart,
} from '../lib/gp-certificate.js';
import { err, ok, type Result } from '../lib/result.js';

const DAY_MS = 86_400_000;

/** Every way a chain is refused: stable code → the reason stated to people (docs/esim.md). */
export const CHAIN_REFUSALS = {
  CERT_MALFORMED: {
    reason: 'malformed certificate',
    description:
      'The certificate bytes do not decode (GP 7F21 TLV or X.509 DER); the message names the field.',
  },
  CERT_WRONG_ROLE: {
    reason: 'wrong role',
    description:
      'The certificate is valid but for another role (an SM-SR certificate where an SM-DP one is expected, an ECASD certificate as an SM-DP, …): its C8 entity type or key usage says so.',
  },
  CERT_WRONG_CI: {
    reason: 'issued by another CI',
    description:
      'The certificate (or the EUM certificate above it) names an issuer key identifier that is not a CI this receiver trusts.',
  },
  CERT_WRONG_EUM: {
    reason: 'issued by another EUM',
    description: "The eUICC's ECASD certificate was not issued by the EUM certificate that comes with it.",
  },
  CERT_WRONG_SUBJECT: {
    reason: 'issued to another subject',
    description:
      "The certificate is valid but names another subject (5F20) than the one the receiver expects: another eUICC's EID (a substituted ECASD key), another SM-DP or SM-SR entity id.",
  },
  CERT_NOT_CA: {
    reason: 'issuer may not certify',
    description:
      'The EUM (or CI) X.509 certificate lacks basicConstraints cA=TRUE or the keyCertSign key usage, so it cannot issue certificates.',
  },
  CERT_EXPIRED: {
    reason: 'expired',
    description: 'A certificate of the chain (GP, EUM or the CI itself) is past its expiration date.',
  },
  CERT_NOT_YET_VALID: {
    reason: 'not yet valid',
    description: 'A certificate of the chain has an effective date (notBefore) in the future.',
  },
  CERT_BAD_SIGNATURE: {
    reason: 'bad signature',
    description:
      "The issuer's signature does not verify over the certificate (tampered bytes, or signed by another key), or uses an algorithm other than ECDSA-SHA256.",
  },
  CERT_UNSUPPORTED_CURVE: {
    reason: 'unsupported curve',
    description:
      'The key is not on NIST P-256 (GP key parameter reference 00), the only curve simtrust accepts.',
  },
  CERT_BAD_PUBLIC_KEY: {
    reason: 'invalid public key',
    description: 'The public key in the certificate is not a point on its curve.',
  },
} as const;

export type ChainRefusalCode = keyof typeof CHAIN_REFUSALS;

export interface ChainRefusal {
  readonly code: ChainRefusalCode;
  /** The short reason of CHAIN_REFUSALS, e.g. "wrong role". */
  readonly reason: string;
  /** What exactly was wrong (no secret in it). */
  readonly message: string;
}

const refuse = (code: ChainRefusalCode, message: string): Result<never, ChainRefusal> =>
  err({ code, reason: CHAIN_REFUSALS[code].reason, message: `${CHAIN_REFUSALS[code].reason}: ${message}` });

/** A key that may issue GP certificates: a CI (for SM-DP/SM-SR) or an EUM (for ECASD). */
export interface GpIssuer {
  /** Its key identifier: what the children carry in `42` and `C9`. */
  readonly keyId: Uint8Array;
  /** Uncompressed P-256 point 04‖X‖Y. */
  readonly publicKey: Uint8Array;
  /** Validity of the issuer's own certificate (Unix ms), when it has one. */
  readonly notBefore?: number | undefined;
  readonly notAfter?: number | undefined;
}

/** A CI root the receiver trusts (its X.509 certificate, or only PK.CI on a card). */
export interface TrustedCi extends GpIssuer {
  /** DER of the self-signed X.509 certificate, when known. */
  readonly certificate?: Uint8Array | undefined;
  readonly subject?: string | undefined;
}

// --- P-256 keys and plain r‖s ECDSA

const P256_POINT_LENGTH = 65;

/**
 * A small bounded memo (oldest entry evicted first). Keys are the exact input bytes, values depend
 * only on them (parsed certificates, key objects), so a hit can never change a verdict; it saves
 * the X.509 parse and key import that dominate a chain check when the same CI and EUM recur.
 */
class Memo<V> {
  readonly #map = new Map<string, V>();
  constructor(private readonly size: number) {}
  get(key: string, make: () => V): V {
    const hit = this.#map.get(key);
    if (hit !== undefined || this.#map.has(key)) return hit as V;
    const value = make();
    if (this.#map.size >= this.size) this.#map.delete(this.#map.keys().next().value as string);
    this.#map.set(key, value);
    return value;
  }
}

const publicKeys = new Memo<KeyObject | undefined>(256);

/** The node key of an uncompressed P-256 point, or undefined when it is not a point of the curve. */
export function p256PublicKey(point: Uint8Array): KeyObject | undefined {
  if (point.length !== P256_POINT_LENGTH || point[0] !== 0x04) return undefined;
  return publicKeys.get(Buffer.from(point).toString('base64'), () => importPoint(point));
}

function importPoint(point: Uint8Array): KeyObject | undefined {
  try {
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: Buffer.from(point.subarray(1, 33)).toString('base64url'),
        y: Buffer.from(point.subarray(33)).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    return undefined;
  }
}

/** 04‖X‖Y of a P-256 public (or private) key. */
export function p256Point(key: KeyObject): Uint8Array {
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || jwk.x === undefined || jwk.y === undefined)
    throw new RangeError('not a P-256 key');
  return Uint8Array.from([0x04, ...Buffer.from(jwk.x, 'base64url'), ...Buffer.from(jwk.y, 'base64url')]);
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (the point). */
export function keyIdentifierOf(point: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(point).digest());
}

/** ECDSA-SHA256 with plain r‖s (64 bytes), as GP certificates and SGP.02 STORE DATA carry it. */
export function ecdsaSignP256(privateKey: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
}

/** Verifies a plain r‖s ECDSA-SHA256 signature; false for any malformed input. */
export function ecdsaVerifyP256(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** A signed GP `7F21` certificate: the issuer's ECDSA-SHA256 (r‖s) over the body TLVs 93..7F49. */
export function signGpCertificate(body: GpCertificateBody, issuerPrivateKey: KeyObject): Uint8Array {
  return encodeGpCertificate(body, ecdsaSignP256(issuerPrivateKey, encodeGpCertificateBody(body)));
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i]);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Validity window check shared by GP and X.509 certificates. */
function checkValidity(
  what: string,
  now: number,
  notBefore?: number,
  notAfter?: number,
): Result<true, ChainRefusal> {
  if (notBefore !== undefined && now < notBefore)
    return refuse('CERT_NOT_YET_VALID', `${what} is valid from ${new Date(notBefore).toISOString()}`);
  if (notAfter !== undefined && now >= notAfter)
    return refuse('CERT_EXPIRED', `${what} expired at ${new Date(notAfter).toISOString()}`);
  return ok(true);
}

// --- GP certificates (SM-DP, SM-SR, ECASD)

export interface VerifiedGpCertificate {
  readonly certificate: GpCertificate;
  readonly role: GpCertificateRole;
  /** The certified key (PK.DP.ECDSA, PK.SR.ECDSA or PK.ECASD.ECKA), 04‖X‖Y. */
  readonly publicKey: Uint8Array;
  readonly issuer: GpIssuer;
}

export interface GpVerifyOptions {
  /** The role the receiver expects at this step of its procedure. */
  readonly role: GpCertificateRole;
  /** Keys that may have issued it: trusted CIs for SM-DP/SM-SR, the verified EUM for ECASD. */
  readonly issuers: readonly GpIssuer[];
  /** Unix ms from the receiver's injectable clock. */
  readonly now: number;
  /** Which refusal names an unknown issuer (another CI, or another EUM). */
  readonly unknownIssuer?: 'CERT_WRONG_CI' | 'CERT_WRONG_EUM';
  /** The subject (5F20) the receiver expects, e.g. the EID of the EIS it holds; unchecked when absent. */
  readonly subjectId?: Uint8Array | undefined;
}

/**
 * Verifies a GP `7F21` certificate against the issuers the receiver trusts. Steps: decode → find
 * the issuer by `C9`/`42` → issuer's own validity → signature over 93..7F49 → certified key on
 * P-256 → role (C8 and key usage) → validity dates.
 */
export function verifyGpCertificate(
  bytes: Uint8Array,
  options: GpVerifyOptions,
): Result<VerifiedGpCertificate, ChainRefusal> {
  const decoded = decodeGpCertificate(bytes);
  if (!decoded.ok) return refuse('CERT_MALFORMED', `${decoded.error.code} ${decoded.error.message}`);
  const cert = decoded.value;

  const issuer = options.issuers.find((i) => equal(i.keyId, cert.authorityKeyId));
  const unknown = options.unknownIssuer ?? 'CERT_WRONG_CI';
  if (issuer === undefined)
    return refuse(unknown, `authority key id ${hex(cert.authorityKeyId)} is not trusted`);
  if (!equal(cert.caId, issuer.keyId))
    return refuse(unknown, `CA identifier ${hex(cert.caId)} does not name the issuer ${hex(issuer.keyId)}`);
  const issuerValid = checkValidity('the issuer certificate', options.now, issuer.notBefore, issuer.notAfter);
  if (!issuerValid.ok) return issuerValid;

  const issuerKey = p256PublicKey(issuer.publicKey);
  if (issuerKey === undefined) return refuse('CERT_BAD_PUBLIC_KEY', "the issuer's key is not a P-256 point");
  if (!ecdsaVerifyP256(issuerKey, cert.signedData, cert.signature))
    return refuse('CERT_BAD_SIGNATURE', `the signature does not verify with the key ${hex(issuer.keyId)}`);

  if (cert.publicKey.curveRef !== 0x00)
    return refuse(
      'CERT_UNSUPPORTED_CURVE',
      `key parameter reference ${cert.publicKey.curveRef} is not P-256 (00)`,
    );
  if (p256PublicKey(cert.publicKey.point) === undefined)
    return refuse('CERT_BAD_PUBLIC_KEY', 'the certified key is not a point of P-256');

  const expectedUsage =
    options.role === 'ecasd' ? GP_KEY_USAGE.keyAgreement : GP_KEY_USAGE.signatureVerification;
  if (cert.role !== options.role)
    return refuse(
      'CERT_WRONG_ROLE',
      `expected an ${options.role.toUpperCase()} certificate, got ${cert.role === undefined ? `entity type ${cert.roleByte}` : `an ${cert.role.toUpperCase()} one`}`,
    );
  if (!equal(cert.keyUsage, expectedUsage))
    return refuse(
      'CERT_WRONG_ROLE',
      `key usage ${hex(cert.keyUsage)} is not that of an ${options.role.toUpperCase()} key (${hex(expectedUsage)})`,
    );

  if (options.subjectId !== undefined && !equal(cert.subjectId, options.subjectId))
    return refuse(
      'CERT_WRONG_SUBJECT',
      `the certificate is issued to ${hex(cert.subjectId)}, not to ${hex(options.subjectId)}`,
    );

  const valid = checkValidity(
    'the certificate',
    options.now,
    cert.effectiveDate === undefined ? undefined : gpDateStart(cert.effectiveDate),
    gpDateStart(cert.expirationDate) + DAY_MS,
  );
  if (!valid.ok) return valid;
  return ok({ certificate: cert, role: options.role, publicKey: cert.publicKey.point, issuer });
}

// --- X.509 (CI and EUM)

interface ParsedX509 {
  readonly der: Uint8Array;
  readonly node: NodeX509;
  readonly cert: x509.X509Certificate;
  readonly point: Uint8Array;
  readonly keyId: Uint8Array;
  readonly authorityKeyId: Uint8Array | undefined;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subject: string;
  readonly issuer: string;
  readonly ecdsaSha256: boolean;
  readonly keyCertSign: boolean;
}

/** DER of a PEM or DER input. */
export function certificateDer(input: Uint8Array | string): Uint8Array {
  if (typeof input !== 'string') return input;
  return new Uint8Array(Buffer.from(input.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

const parsedCertificates = new Memo<Result<ParsedX509, ChainRefusal>>(256);

function parseX509(input: Uint8Array | string, what: string): Result<ParsedX509, ChainRefusal> {
  let der: Uint8Array;
  try {
    der = certificateDer(input);
  } catch (e) {
    return refuse('CERT_MALFORMED', `${what} is not an X.509 certificate (${(e as Error).message})`);
  }
  return parsedCertificates.get(`${what}\0${Buffer.from(der).toString('base64')}`, () =>
    parseX509Der(der, what),
  );
}

function parseX509Der(der: Uint8Array, what: string): Result<ParsedX509, ChainRefusal> {
  // Node and @peculiar/x509 throw on bad DER, and Node's publicKey getter on a bad key inside an
  // otherwise parsable certificate: everything that reads the input stays inside this try.
  try {
    // One DER object and nothing after it: the X.509 parsers below ignore trailing bytes.
    const outer = decodeBerTlv(der);
    if (!outer.ok || outer.value.tag !== 0x30)
      return refuse(
        'CERT_MALFORMED',
        `${what} is not one DER SEQUENCE (${outer.ok ? 'wrong tag' : outer.error.code})`,
      );
    const node = new NodeX509(der);
    const cert = new x509.X509Certificate(der);
    const publicKey = node.publicKey;
    const jwk = publicKey.export({ format: 'jwk' });
    if (publicKey.asymmetricKeyType !== 'ec' || jwk.crv !== 'P-256')
      return refuse('CERT_UNSUPPORTED_CURVE', `${what} key is not on P-256`);
    const point = p256Point(publicKey);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
    return ok({
      der,
      node,
      cert,
      point,
      keyId: ski ? new Uint8Array(Buffer.from(ski.keyId, 'hex')) : keyIdentifierOf(point),
      authorityKeyId: aki?.keyId ? new Uint8Array(Buffer.from(aki.keyId, 'hex')) : undefined,
      notBefore: cert.notBefore.getTime(),
      notAfter: cert.notAfter.getTime(),
      subject: cert.subject,
      issuer: cert.issuer,
      ecdsaSha256: isEcdsaSha256(cert),
      keyCertSign:
        ((cert.getExtension(x509.KeyUsagesExtension)?.usages ?? 0) & x509.KeyUsageFlags.keyCertSign) !== 0,
    });
  } catch (e) {
    return refuse('CERT_MALFORMED', `${what} is not an X.509 certificate (${(e as Error).message})`);
  }
}

const isEcdsaSha256 = (c: x509.X509Certificate) => {
  const alg = c.signatureAlgorithm as { name?: string; hash?: { name?: string } };
  return alg.name === 'ECDSA' && alg.hash?.name === 'SHA-256';
};

/**
 * A CI root to trust, from its self-signed X.509 certificate (PEM or DER): P-256, CA, self-signed
 * with ECDSA-SHA256. Used to import an external CI (without its key) and for the platform's own.
 */
export function trustedCiFromCertificate(input: Uint8Array | string): Result<TrustedCi, ChainRefusal> {
  const parsed = parseX509(input, 'the CI certificate');
  if (!parsed.ok) return parsed;
  const p = parsed.value;
  if (!p.ecdsaSha256 || !safeVerify(p.node, p.node.publicKey))
    return refuse('CERT_BAD_SIGNATURE', 'the CI certificate is not self-signed with ECDSA-SHA256');
  if (!p.node.ca || !p.keyCertSign)
    return refuse('CERT_NOT_CA', 'the CI certificate is not a CA certificate (cA / keyCertSign)');
  // Copies: the parsed certificate is memoised and must not be changed through a result.
  return ok({
    keyId: p.keyId.slice(),
    publicKey: p.point.slice(),
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    certificate: p.der.slice(),
    subject: p.subject,
  });
}

/** EUM DER × CI key → whether the signature verifies (a pure function of the two). */
const verifiedSignatures = new Memo<boolean>(256);

/** X509Certificate.verify, false instead of a throw. */
function safeVerify(cert: NodeX509, key: KeyObject): boolean {
  try {
    return cert.verify(key);
  } catch {
    return false;
  }
}

export interface VerifiedEum extends GpIssuer {
  readonly subject: string;
  readonly ci: TrustedCi;
}

/** Verifies an EUM X.509 certificate against the trusted CIs (SGP.02 §2.3.2). */
export function verifyEumCertificate(
  input: Uint8Array | string,
  trustedCis: readonly TrustedCi[],
  now: number,
): Result<VerifiedEum, ChainRefusal> {
  const parsed = parseX509(input, 'the EUM certificate');
  if (!parsed.ok) return parsed;
  const p = parsed.value;
  const ci = trustedCis.find((c) => p.authorityKeyId !== undefined && equal(c.keyId, p.authorityKeyId));
  if (ci === undefined)
    return refuse(
      'CERT_WRONG_CI',
      `the EUM certificate's authority key id ${p.authorityKeyId ? hex(p.authorityKeyId) : '(none)'} is not a trusted CI`,
    );
  if (ci.subject !== undefined && p.issuer !== ci.subject)
    return refuse(
      'CERT_WRONG_CI',
      `the EUM certificate's issuer "${p.issuer}" is not the CI "${ci.subject}"`,
    );
  const ciValid = checkValidity('the CI certificate', now, ci.notBefore, ci.notAfter);
  if (!ciValid.ok) return ciValid;
  const ciKey = p256PublicKey(ci.publicKey);
  if (ciKey === undefined) return refuse('CERT_BAD_PUBLIC_KEY', "the CI's key is not a P-256 point");
  const signed = verifiedSignatures.get(
    `${Buffer.from(p.der).toString('base64')}\0${Buffer.from(ci.publicKey).toString('base64')}`,
    () => p.ecdsaSha256 && safeVerify(p.node, ciKey),
  );
  if (!signed)
    return refuse('CERT_BAD_SIGNATURE', 'the EUM certificate does not verify with the CI key (ECDSA-SHA256)');
  if (!p.node.ca || !p.keyCertSign)
    return refuse('CERT_NOT_CA', 'the EUM certificate may not issue certificates (cA / keyCertSign)');
  const valid = checkValidity('the EUM certificate', now, p.notBefore, p.notAfter);
  if (!valid.ok) return valid;
  return ok({
    keyId: p.keyId.slice(),
    publicKey: p.point.slice(),
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    subject: p.subject,
    ci,
  });
}

export interface ChainInput {
  /** The GP `7F21` certificate to verify. */
  readonly certificate: Uint8Array;
  readonly role: GpCertificateRole;
  /** For `ecasd`: the EUM's X.509 certificate (PEM or DER) that issued it. */
  readonly eumCertificate?: Uint8Array | string | undefined;
  readonly trustedCis: readonly TrustedCi[];
  readonly now: number;
  /** The subject (5F20) expected: the EID for `ecasd` (the EIS's), an entity id (OID bytes) otherwise. */
  readonly subjectId?: Uint8Array | undefined;
}

export interface VerifiedChain extends VerifiedGpCertificate {
  readonly ci: TrustedCi;
  readonly eum?: VerifiedEum | undefined;
}

/**
 * The one chain verifier: SM-DP / SM-SR certificate → CI, or ECASD certificate → EUM (X.509) → CI.
 * Every refusal is a ChainRefusal with a stable code and a stated reason.
 */
export function verifyCertificateChain(input: ChainInput): Result<VerifiedChain, ChainRefusal> {
  if (input.role === 'ecasd') {
    if (input.eumCertificate === undefined)
      return refuse('CERT_WRONG_EUM', 'an ECASD certificate needs the EUM certificate that issued it');
    const eum = verifyEumCertificate(input.eumCertificate, input.trustedCis, input.now);
    if (!eum.ok) return eum;
    const gp = verifyGpCertificate(input.certificate, {
      role: 'ecasd',
      issuers: [eum.value],
      now: input.now,
      unknownIssuer: 'CERT_WRONG_EUM',
      subjectId: input.subjectId,
    });
    return gp.ok ? ok({ ...gp.value, ci: eum.value.ci, eum: eum.value }) : gp;
  }
  const gp = verifyGpCertificate(input.certificate, {
    role: input.role,
    issuers: input.trustedCis,
    now: input.now,
  });
  return gp.ok ? ok({ ...gp.value, ci: gp.value.issuer as TrustedCi }) : gp;
}
