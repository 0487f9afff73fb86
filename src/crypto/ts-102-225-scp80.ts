// ETSI TS 102 225 (Secured packet structure for UICC based applications) — the cryptography of SCP80:
// the algorithms named by the low nibble of KIc (ciphering) and KID (cryptographic checksum), the
// checksum and the ciphering themselves. Everything over Uint8Array, IV always zero (§5.1.2, §5.1.3),
// built from node:crypto's DES-EDE and AES blocks. The packet layout is in
// src/lib/ts-102-225-secured-packet.ts.
//
// Single DES is not offered by OpenSSL 3's default provider; DES-EDE3 with K1 = K2 = K3 is single DES
// (encrypt, decrypt, encrypt with the same key cancels to one encryption), so it stands in for it.

import { createCipheriv, createDecipheriv } from 'node:crypto';
import { aesCmac } from './rfc-4493-aes-cmac.js';

export type CipherAlgorithm = 'des-cbc' | '3des-2key-cbc' | '3des-3key-cbc' | 'aes-cbc';
export type ChecksumAlgorithm = 'des-cbc-mac' | '3des-2key-cbc-mac' | '3des-3key-cbc-mac' | 'aes-cmac';

export interface AlgorithmSpec<A extends string> {
  readonly algorithm: A;
  /** The low nibble of the KIc / KID byte that names the algorithm. */
  readonly nibble: number;
  readonly spec: string;
  readonly blockSize: 8 | 16;
  readonly keyLengths: readonly number[];
  /** A KIc / KID byte using this algorithm (key index 3 for DES, 2 for AES, as in pySim's vectors). */
  readonly example: string;
}

/**
 * TS 102 225 §5.1.2 Table 2 (KIc): b2b1 01 = DES family, 10 = AES; for DES b4b3 00 CBC, 01 3DES two
 * keys, 10 3DES three keys (11 = DES-ECB, not supported: ECB leaks equal blocks); for AES b4b3 00 = CBC.
 * Nibble 0 ("algorithm known implicitly") and 3 ("proprietary") are refused: the card and the platform
 * must say which algorithm a key is for.
 */
export const KIC_ALGORITHMS: readonly AlgorithmSpec<CipherAlgorithm>[] = [
  {
    algorithm: 'des-cbc',
    nibble: 0x1,
    spec: 'TS 102 225 §5.1.2',
    blockSize: 8,
    keyLengths: [8],
    example: '31',
  },
  {
    algorithm: '3des-2key-cbc',
    nibble: 0x5,
    spec: 'TS 102 225 §5.1.2',
    blockSize: 8,
    keyLengths: [16],
    example: '35',
  },
  {
    algorithm: '3des-3key-cbc',
    nibble: 0x9,
    spec: 'TS 102 225 §5.1.2',
    blockSize: 8,
    keyLengths: [24],
    example: '39',
  },
  {
    algorithm: 'aes-cbc',
    nibble: 0x2,
    spec: 'TS 102 225 §5.1.2',
    blockSize: 16,
    keyLengths: [16, 24, 32],
    example: '22',
  },
];

/**
 * TS 102 225 §5.1.3.1 Table 3 (KID for a cryptographic checksum): the same coding, DES family as
 * CBC-MAC, AES as CMAC (TS 102 225 §5.1.3.1 / NIST SP 800-38B).
 */
export const KID_ALGORITHMS: readonly AlgorithmSpec<ChecksumAlgorithm>[] = [
  {
    algorithm: 'des-cbc-mac',
    nibble: 0x1,
    spec: 'TS 102 225 §5.1.3.1',
    blockSize: 8,
    keyLengths: [8],
    example: '31',
  },
  {
    algorithm: '3des-2key-cbc-mac',
    nibble: 0x5,
    spec: 'TS 102 225 §5.1.3.1',
    blockSize: 8,
    keyLengths: [16],
    example: '35',
  },
  {
    algorithm: '3des-3key-cbc-mac',
    nibble: 0x9,
    spec: 'TS 102 225 §5.1.3.1',
    blockSize: 8,
    keyLengths: [24],
    example: '39',
  },
  {
    algorithm: 'aes-cmac',
    nibble: 0x2,
    spec: 'TS 102 225 §5.1.3.1',
    blockSize: 16,
    keyLengths: [16, 24, 32],
    example: '22',
  },
];

/** TS 102 225 §5.1.3.1: the cryptographic checksum is 8 octets for every supported algorithm. */
export const CC_LENGTH = 8;

export interface OtaKey<A extends string> {
  readonly algorithm: A;
  readonly key: Uint8Array;
}

/** One SCP80 key set (a KVN's KIc and KID, TS 102 225 §5.1.2/§5.1.3). */
export interface OtaKeySet {
  readonly kic: OtaKey<CipherAlgorithm>;
  readonly kid: OtaKey<ChecksumAlgorithm>;
}

export const cipherSpec = (algorithm: CipherAlgorithm): AlgorithmSpec<CipherAlgorithm> =>
  KIC_ALGORITHMS.find((a) => a.algorithm === algorithm) as AlgorithmSpec<CipherAlgorithm>;

export const checksumSpec = (algorithm: ChecksumAlgorithm): AlgorithmSpec<ChecksumAlgorithm> =>
  KID_ALGORITHMS.find((a) => a.algorithm === algorithm) as AlgorithmSpec<ChecksumAlgorithm>;

/** The algorithm a KIc byte names, or undefined for implicit, proprietary, DES-ECB and reserved codings. */
export const cipherFromKic = (kic: number): AlgorithmSpec<CipherAlgorithm> | undefined =>
  KIC_ALGORITHMS.find((a) => a.nibble === (kic & 0x0f));

/** The algorithm a KID byte names (for a cryptographic checksum), or undefined. */
export const checksumFromKid = (kid: number): AlgorithmSpec<ChecksumAlgorithm> | undefined =>
  KID_ALGORITHMS.find((a) => a.nibble === (kid & 0x0f));

export const isValidCipherKey = (k: OtaKey<CipherAlgorithm>): boolean =>
  cipherSpec(k.algorithm)?.keyLengths.includes(k.key.length) ?? false;

export const isValidChecksumKey = (k: OtaKey<ChecksumAlgorithm>): boolean =>
  checksumSpec(k.algorithm)?.keyLengths.includes(k.key.length) ?? false;

/** node:crypto cipher name and key for a DES-family or AES CBC algorithm. */
function cbcCipher(
  family: 'des' | '3des-2key' | '3des-3key' | 'aes',
  key: Uint8Array,
): { name: string; key: Uint8Array } {
  switch (family) {
    case 'des': {
      if (key.length !== 8) throw new RangeError(`DES key must be 8 bytes, got ${key.length}`);
      const k3 = new Uint8Array(24);
      k3.set(key, 0);
      k3.set(key, 8);
      k3.set(key, 16);
      return { name: 'des-ede3-cbc', key: k3 };
    }
    case '3des-2key':
      if (key.length !== 16) throw new RangeError(`3DES two-key key must be 16 bytes, got ${key.length}`);
      return { name: 'des-ede-cbc', key };
    case '3des-3key':
      if (key.length !== 24) throw new RangeError(`3DES three-key key must be 24 bytes, got ${key.length}`);
      return { name: 'des-ede3-cbc', key };
    case 'aes':
      if (![16, 24, 32].includes(key.length))
        throw new RangeError(`AES key must be 16, 24 or 32 bytes, got ${key.length}`);
      return { name: `aes-${key.length * 8}-cbc`, key };
  }
}

const familyOfCipher = {
  'des-cbc': 'des',
  '3des-2key-cbc': '3des-2key',
  '3des-3key-cbc': '3des-3key',
  'aes-cbc': 'aes',
} as const;

const familyOfChecksum = {
  'des-cbc-mac': 'des',
  '3des-2key-cbc-mac': '3des-2key',
  '3des-3key-cbc-mac': '3des-3key',
} as const;

function cbc(
  direction: 'encrypt' | 'decrypt',
  family: 'des' | '3des-2key' | '3des-3key' | 'aes',
  key: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  const c = cbcCipher(family, key);
  const block = family === 'aes' ? 16 : 8;
  if (data.length % block !== 0)
    throw new RangeError(`data of ${data.length} bytes is not a multiple of the ${block}-byte block`);
  const iv = new Uint8Array(block);
  const cipher =
    direction === 'encrypt' ? createCipheriv(c.name, c.key, iv) : createDecipheriv(c.name, c.key, iv);
  cipher.setAutoPadding(false);
  return new Uint8Array(cipher.update(data));
}

/**
 * TS 102 225 §5.1.2: cipher `data` (already padded to the block size by the caller, since PCNTR
 * counts that padding) in CBC mode with an IV of zeros.
 */
export function encipher(key: OtaKey<CipherAlgorithm>, data: Uint8Array): Uint8Array {
  return cbc('encrypt', familyOfCipher[key.algorithm], key.key, data);
}

/** TS 102 225 §5.1.2: the inverse of `encipher`. */
export function decipher(key: OtaKey<CipherAlgorithm>, data: Uint8Array): Uint8Array {
  return cbc('decrypt', familyOfCipher[key.algorithm], key.key, data);
}

/**
 * TS 102 225 §5.1.3.1: the cryptographic checksum (CC), 8 octets.
 * - DES family: the last block of a CBC encryption (IV zero) of the input padded with zero octets to
 *   the block size — the padding is for the computation only and is not sent (pySim `ota.py`, which
 *   real SIMs accept; Njiwa's CMAC-over-DES truncated to 4 octets disagrees and is not followed).
 * - AES: AES-CMAC (RFC 4493) of the input, truncated to its first 8 octets; CMAC pads by itself.
 */
export function cryptographicChecksum(key: OtaKey<ChecksumAlgorithm>, input: Uint8Array): Uint8Array {
  if (key.algorithm === 'aes-cmac') return aesCmac(key.key, input).slice(0, CC_LENGTH);
  const padded = new Uint8Array(Math.max(8, Math.ceil(input.length / 8) * 8));
  padded.set(input);
  const out = cbc('encrypt', familyOfChecksum[key.algorithm], key.key, padded);
  return out.slice(out.length - CC_LENGTH);
}
