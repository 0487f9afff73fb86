// EAP-AKA' key derivation (RFC 9048 §3.3–3.4, which obsoletes RFC 5448; TS 33.402 Annex A.2 for
// CK'/IK'). Pure functions over Uint8Array; HMAC-SHA-256 from node:crypto.

import { createHmac } from 'node:crypto';

const hmacSha256 = (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array => {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

const utf8 = (s: string) => new TextEncoder().encode(s);

/** RFC 9048 §3.3: AT_KDF value 1, the only key derivation function defined. */
export const KDF_CK_IK_PRIME = 1;

export interface CkIkPrime {
  readonly ckPrime: Uint8Array;
  readonly ikPrime: Uint8Array;
}

/**
 * TS 33.402 Annex A.2 / RFC 9048 §3.4.1: CK' | IK' = HMAC-SHA-256(CK | IK, S) with
 * S = FC(0x20) | P0 = access network identity | L0 | P1 = SQN ⊕ AK | L1 (= 0x0006).
 * `networkName` is the AT_KDF_INPUT value (e.g. "WLAN"); `sqnXorAk` is AUTN[0..5].
 */
export function deriveCkIkPrime(
  ck: Uint8Array,
  ik: Uint8Array,
  networkName: Uint8Array | string,
  sqnXorAk: Uint8Array,
): CkIkPrime {
  const p0 = typeof networkName === 'string' ? utf8(networkName) : networkName;
  const s = new Uint8Array(1 + p0.length + 2 + 6 + 2);
  s[0] = 0x20;
  s.set(p0, 1);
  s[1 + p0.length] = (p0.length >> 8) & 0xff;
  s[2 + p0.length] = p0.length & 0xff;
  s.set(sqnXorAk.subarray(0, 6), 3 + p0.length);
  s[s.length - 1] = 0x06;
  const out = hmacSha256(new Uint8Array([...ck, ...ik]), s);
  return { ckPrime: out.slice(0, 16), ikPrime: out.slice(16, 32) };
}

/**
 * RFC 9048 §3.4.1: PRF'(K, S) = T1 | T2 | … with T1 = HMAC-SHA-256(K, S | 0x01) and
 * Tn = HMAC-SHA-256(K, T(n-1) | S | n); `length` bytes are returned (at most 255 × 32).
 */
export function prfPrime(key: Uint8Array, s: Uint8Array, length: number): Uint8Array {
  const blocks = Math.ceil(length / 32);
  if (blocks > 255) throw new RangeError("PRF' output is limited to 255 blocks");
  const out = new Uint8Array(blocks * 32);
  let previous: Uint8Array = new Uint8Array(0);
  for (let n = 1; n <= blocks; n++) {
    previous = hmacSha256(key, previous, s, Uint8Array.of(n));
    out.set(previous, (n - 1) * 32);
  }
  return out.subarray(0, length);
}

/** Keys of a full EAP-AKA' authentication (RFC 9048 §3.3). */
export interface AkaPrimeKeys {
  /** K_encr, 16 bytes (AT_ENCR_DATA). */
  readonly kEncr: Uint8Array;
  /** K_aut, 32 bytes (AT_MAC is HMAC-SHA-256-128). */
  readonly kAut: Uint8Array;
  /** K_re, 32 bytes: kept by the server for fast re-authentication. */
  readonly kRe: Uint8Array;
  readonly msk: Uint8Array;
  readonly emsk: Uint8Array;
}

/** RFC 9048 §3.3: MK = PRF'(IK' | CK', "EAP-AKA'" | Identity) = K_encr | K_aut | K_re | MSK | EMSK. */
export function deriveAkaPrimeKeys(
  identity: Uint8Array,
  ckPrime: Uint8Array,
  ikPrime: Uint8Array,
): AkaPrimeKeys {
  const mk = prfPrime(
    new Uint8Array([...ikPrime, ...ckPrime]),
    new Uint8Array([...utf8("EAP-AKA'"), ...identity]),
    208,
  );
  return {
    kEncr: mk.slice(0, 16),
    kAut: mk.slice(16, 48),
    kRe: mk.slice(48, 80),
    msk: mk.slice(80, 144),
    emsk: mk.slice(144, 208),
  };
}

/**
 * RFC 9048 §3.3 (fast re-authentication): MK = PRF'(K_re, "EAP-AKA' re-auth" | Identity | counter |
 * NONCE_S) = MSK | EMSK (128 bytes). K_encr and K_aut stay those of the full authentication.
 */
export function deriveAkaPrimeReauthKeys(
  kRe: Uint8Array,
  identity: Uint8Array,
  counter: number,
  nonceS: Uint8Array,
): { readonly msk: Uint8Array; readonly emsk: Uint8Array } {
  const s = new Uint8Array([
    ...utf8("EAP-AKA' re-auth"),
    ...identity,
    (counter >> 8) & 0xff,
    counter & 0xff,
    ...nonceS,
  ]);
  const mk = prfPrime(kRe, s, 128);
  return { msk: mk.slice(0, 64), emsk: mk.slice(64, 128) };
}
