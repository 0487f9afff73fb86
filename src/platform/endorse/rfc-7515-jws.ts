// JWS compact serialization (RFC 7515 §7.1) signed with node:crypto directly: the token endpoint's
// hot path is one signature, and going through WebCrypto (as jose does) costs about twice as much.
// Algorithms per RFC 7518 §3.3 (RS256), §3.4 (ES256) and RFC 8037 §3.1 (EdDSA over Ed25519).

import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

/** The algorithms simtrust signs with; every one is asymmetric, so no verifier ever holds a secret. */
export const ENDORSE_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type EndorseAlgorithm = (typeof ENDORSE_ALGORITHMS)[number];

export const isEndorseAlgorithm = (v: unknown): v is EndorseAlgorithm =>
  typeof v === 'string' && (ENDORSE_ALGORITHMS as readonly string[]).includes(v);

interface AlgorithmSpec {
  /** Digest for crypto.sign; null for EdDSA, which hashes internally (RFC 8032). */
  readonly digest: 'sha256' | null;
  /** RFC 7518 §3.4: ECDSA signatures are R ‖ S (IEEE P1363), not DER. */
  readonly dsaEncoding?: 'ieee-p1363';
  readonly generate: () => { privateKey: KeyObject; publicKey: KeyObject };
  /** RFC 7638 §3.2: the required members of the JWK, in lexicographic order, for the thumbprint. */
  readonly thumbprintMembers: readonly string[];
}

export const ALGORITHM_SPECS: Readonly<Record<EndorseAlgorithm, AlgorithmSpec>> = {
  RS256: {
    digest: 'sha256',
    // RFC 7518 §3.3: a key of 2048 bits or larger MUST be used.
    generate: () => generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 }),
    thumbprintMembers: ['e', 'kty', 'n'],
  },
  ES256: {
    digest: 'sha256',
    dsaEncoding: 'ieee-p1363',
    generate: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    thumbprintMembers: ['crv', 'kty', 'x', 'y'],
  },
  EdDSA: {
    digest: null,
    generate: () => generateKeyPairSync('ed25519'),
    thumbprintMembers: ['crv', 'kty', 'x'],
  },
};

export type PublicJwk = Readonly<Record<string, string>>;

/** The public key as a JWK (RFC 7517 §4) with only the key members (no private parts). */
export function publicJwk(publicKey: KeyObject): PublicJwk {
  const jwk = publicKey.export({ format: 'jwk' });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(jwk)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key. */
export function jwkThumbprint(alg: EndorseAlgorithm, jwk: PublicJwk): string {
  const members = ALGORITHM_SPECS[alg].thumbprintMembers.map(
    (m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m] ?? '')}`,
  );
  return createHash('sha256')
    .update(`{${members.join(',')}}`)
    .digest('base64url');
}

const b64url = (text: string) => Buffer.from(text).toString('base64url');

/** `BASE64URL(header) . BASE64URL(payload)`, the JWS Signing Input (RFC 7515 §5.1). */
const signingInput = (
  header: Readonly<Record<string, unknown>>,
  payload: Readonly<Record<string, unknown>>,
) => `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;

const signingKey = (alg: EndorseAlgorithm, privateKey: KeyObject) => {
  const { dsaEncoding } = ALGORITHM_SPECS[alg];
  return dsaEncoding ? { key: privateKey, dsaEncoding } : privateKey;
};

/**
 * `BASE64URL(header) . BASE64URL(payload) . BASE64URL(signature)` (RFC 7515 §7.1). The header and
 * payload are serialised here, once; the caller builds them from fixed fields only.
 */
export function signCompact(
  alg: EndorseAlgorithm,
  privateKey: KeyObject,
  header: Readonly<Record<string, unknown>>,
  payload: Readonly<Record<string, unknown>>,
): string {
  const input = signingInput(header, payload);
  const signature = sign(ALGORITHM_SPECS[alg].digest, Buffer.from(input), signingKey(alg, privateKey));
  return `${input}.${signature.toString('base64url')}`;
}

/**
 * The same, with the signature computed on libuv's thread pool (crypto.sign with a callback): the
 * server's event loop goes on parsing and answering requests while the private-key operation runs,
 * so a token endpoint uses every core for signing instead of one.
 */
export function signCompactOffLoop(
  alg: EndorseAlgorithm,
  privateKey: KeyObject,
  header: Readonly<Record<string, unknown>>,
  payload: Readonly<Record<string, unknown>>,
): Promise<string> {
  const input = signingInput(header, payload);
  return new Promise((resolve, reject) =>
    sign(ALGORITHM_SPECS[alg].digest, Buffer.from(input), signingKey(alg, privateKey), (error, signature) =>
      error ? reject(error) : resolve(`${input}.${signature.toString('base64url')}`),
    ),
  );
}
