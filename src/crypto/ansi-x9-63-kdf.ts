// ANSI X9.63 key derivation function (ANSI X9.63-2011 §5.6.3, the same construction as SEC 1 v2
// §3.6.1 and BSI TR-03111 §4.3.3 "X9.63 KDF") with SHA-256:
//   K = Hash(Z ‖ Counter_1 ‖ SharedInfo) ‖ Hash(Z ‖ Counter_2 ‖ SharedInfo) ‖ …   truncated to keydatalen
// where Counter_i is a 32-bit big-endian integer starting at 1. SGP.02 key establishment (scenario #3,
// GPC Amd E) feeds it the ECKA shared secret ShS; SGP.22's BSP uses the same primitive.

import { createHash } from 'node:crypto';

const SHA256_BYTES = 32;
/** X9.63 §5.6.3: keydatalen must be below hashlen × (2^32 − 1); far beyond anything a card needs. */
const MAX_OUTPUT = SHA256_BYTES * 0xffff;

/** X9.63-KDF-SHA256(Z, SharedInfo) truncated to `length` bytes. */
export function x963KdfSha256(z: Uint8Array, sharedInfo: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > MAX_OUTPUT) {
    throw new RangeError(`X9.63 KDF output length must be an integer 0 … ${MAX_OUTPUT}, got ${length}`);
  }
  const out = new Uint8Array(length);
  const counter = new Uint8Array(4);
  for (let i = 1, written = 0; written < length; i++) {
    new DataView(counter.buffer).setUint32(0, i);
    const block = createHash('sha256').update(z).update(counter).update(sharedInfo).digest();
    out.set(block.subarray(0, Math.min(SHA256_BYTES, length - written)), written);
    written += SHA256_BYTES;
  }
  return out;
}
