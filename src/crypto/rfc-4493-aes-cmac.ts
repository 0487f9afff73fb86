// AES-CMAC (RFC 4493, the AES instance of NIST SP 800-38B) for AES-128, AES-192 and AES-256 keys.
// node:crypto has no CMAC, so it is built here from OpenSSL's AES blocks: the subkeys from one ECB
// block, the tag as the last block of one CBC pass (IV zero) over the message whose last block has
// been combined with a subkey. No AES is written by hand.

import { createCipheriv } from 'node:crypto';

const BLOCK = 16;
/** RFC 4493 §2.3: R_b for a 128-bit block, the constant of the subkey doubling. */
const RB = 0x87;
const ZERO_BLOCK = new Uint8Array(BLOCK);

type AesBits = '128' | '192' | '256';

function aesBits(key: Uint8Array): AesBits {
  if (key.length === 16) return '128';
  if (key.length === 24) return '192';
  if (key.length === 32) return '256';
  throw new RangeError(`AES-CMAC key must be 16, 24 or 32 bytes, got ${key.length}`);
}

/** Multiplication by x in GF(2^128): shift left one bit, reduce by R_b when the top bit fell out. */
function double(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = (((block[i] as number) << 1) | ((block[i + 1] ?? 0) >> 7)) & 0xff;
  if ((block[0] as number) & 0x80) out[BLOCK - 1] = (out[BLOCK - 1] as number) ^ RB;
  return out;
}

/** RFC 4493 §2.3 Generate_Subkey: L = AES-K(0^128), K1 = L·x, K2 = K1·x. */
export function aesCmacSubkeys(key: Uint8Array): { k1: Uint8Array; k2: Uint8Array } {
  const ecb = createCipheriv(`aes-${aesBits(key)}-ecb`, key, null);
  ecb.setAutoPadding(false);
  const l = new Uint8Array(ecb.update(ZERO_BLOCK));
  const k1 = double(l);
  return { k1, k2: double(k1) };
}

/** RFC 4493 §2.4 Generate_MAC: the full 16-byte tag (truncate it where a protocol says so). */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  const { k1, k2 } = aesCmacSubkeys(key);
  const blocks = Math.max(1, Math.ceil(message.length / BLOCK));
  const complete = message.length > 0 && message.length % BLOCK === 0;
  // M_1 … M_n with M_n replaced by M_n ⊕ K1 (complete) or padding(M_n) ⊕ K2 (10^i padding).
  const input = new Uint8Array(blocks * BLOCK);
  input.set(message);
  if (!complete) input[message.length] = 0x80;
  const subkey = complete ? k1 : k2;
  const last = (blocks - 1) * BLOCK;
  for (let i = 0; i < BLOCK; i++) input[last + i] = (input[last + i] as number) ^ (subkey[i] as number);
  const cbc = createCipheriv(`aes-${aesBits(key)}-cbc`, key, ZERO_BLOCK);
  cbc.setAutoPadding(false);
  const out = cbc.update(input);
  return new Uint8Array(out.subarray(out.length - BLOCK));
}
