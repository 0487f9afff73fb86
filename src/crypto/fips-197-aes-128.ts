// FIPS 197 AES-128 encryption (forward cipher only) in table form, for Milenage.
//
// Why not node:crypto: an AuC computes one vector per SIM, so the key changes for every vector, and
// `createCipheriv` per key costs more than the six block encryptions a vector needs (see
// bench/milenage.ts). Here the key schedule is 40 S-box lookups into a reusable Int32Array and each
// block is 4 table lookups per byte, so a whole Milenage vector stays in JavaScript numbers.
//
// Side channel note: table lookups indexed by secret bytes are not constant-time with respect to the
// CPU cache (the classic T-table trade-off also made by OpenSSL builds without AES-NI). Milenage runs
// in the AuC and in the software card, neither of which shares a core with untrusted code in this
// project's deployments; docs/card.md says so.

/** FIPS 197 §5.1.1 S-box, computed at load time from the GF(2^8) inverse and the affine map. */
const SBOX = new Uint8Array(256);
/** T-tables: TE0[x] = (2·S[x], S[x], S[x], 3·S[x]) as one big-endian word; TE1..3 are byte rotations. */
const TE0 = new Int32Array(256);
const TE1 = new Int32Array(256);
const TE2 = new Int32Array(256);
const TE3 = new Int32Array(256);

/** GF(2^8) multiplication by x (FIPS 197 §4.2.1 xtime). */
const xtime = (b: number): number => ((b << 1) ^ (b & 0x80 ? 0x1b : 0)) & 0xff;

{
  // Walk the multiplicative group with generator 3 to get inverses: p runs over 3^i, q over 3^-i.
  let p = 1;
  let q = 1;
  do {
    p = p ^ xtime(p);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    const rotl = (v: number, s: number) => ((v << s) | (v >> (8 - s))) & 0xff;
    SBOX[p] = q ^ rotl(q, 1) ^ rotl(q, 2) ^ rotl(q, 3) ^ rotl(q, 4) ^ 0x63;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let x = 0; x < 256; x++) {
    const s = SBOX[x] ?? 0;
    const s2 = xtime(s);
    const s3 = s2 ^ s;
    const w = (s2 << 24) | (s << 16) | (s << 8) | s3;
    TE0[x] = w;
    TE1[x] = (w >>> 8) | (w << 24);
    TE2[x] = (w >>> 16) | (w << 16);
    TE3[x] = (w >>> 24) | (w << 8);
  }
}

/** FIPS 197 §5.2 round constants for AES-128 (10 rounds). */
const RCON = Int32Array.of(0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36).map((r) => r << 24);

/** Round keys of AES-128: 44 words. */
export type Aes128RoundKeys = Int32Array;

export const newRoundKeys = (): Aes128RoundKeys => new Int32Array(44);

/** FIPS 197 §5.2 KeyExpansion for a 16-byte key, written into `rk` (reused to avoid allocation). */
export function expandKey128(key: Uint8Array, rk: Aes128RoundKeys = newRoundKeys()): Aes128RoundKeys {
  if (key.length !== 16) throw new RangeError(`AES-128 key must be 16 bytes, got ${key.length}`);
  let w0 = readWord(key, 0);
  let w1 = readWord(key, 4);
  let w2 = readWord(key, 8);
  let w3 = readWord(key, 12);
  rk[0] = w0;
  rk[1] = w1;
  rk[2] = w2;
  rk[3] = w3;
  for (let i = 0; i < 10; i++) {
    // SubWord(RotWord(w3)) ^ Rcon
    const t =
      ((SBOX[(w3 >>> 16) & 0xff] as number) << 24) |
      ((SBOX[(w3 >>> 8) & 0xff] as number) << 16) |
      ((SBOX[w3 & 0xff] as number) << 8) |
      (SBOX[w3 >>> 24] as number);
    w0 ^= t ^ (RCON[i] as number);
    w1 ^= w0;
    w2 ^= w1;
    w3 ^= w2;
    const o = 4 * (i + 1);
    rk[o] = w0;
    rk[o + 1] = w1;
    rk[o + 2] = w2;
    rk[o + 3] = w3;
  }
  return rk;
}

/**
 * FIPS 197 §5.1 Cipher on one block given as four big-endian words; the result is written to
 * `out[0..3]`. Word form lets Milenage do its XORs and rotations (all multiples of 32 bits) without
 * touching bytes.
 */
export function encryptWords(
  rk: Aes128RoundKeys,
  in0: number,
  in1: number,
  in2: number,
  in3: number,
  out: Int32Array,
): void {
  let s0 = in0 ^ (rk[0] as number);
  let s1 = in1 ^ (rk[1] as number);
  let s2 = in2 ^ (rk[2] as number);
  let s3 = in3 ^ (rk[3] as number);
  for (let r = 4; r < 40; r += 4) {
    const t0 =
      (TE0[s0 >>> 24] as number) ^
      (TE1[(s1 >>> 16) & 0xff] as number) ^
      (TE2[(s2 >>> 8) & 0xff] as number) ^
      (TE3[s3 & 0xff] as number) ^
      (rk[r] as number);
    const t1 =
      (TE0[s1 >>> 24] as number) ^
      (TE1[(s2 >>> 16) & 0xff] as number) ^
      (TE2[(s3 >>> 8) & 0xff] as number) ^
      (TE3[s0 & 0xff] as number) ^
      (rk[r + 1] as number);
    const t2 =
      (TE0[s2 >>> 24] as number) ^
      (TE1[(s3 >>> 16) & 0xff] as number) ^
      (TE2[(s0 >>> 8) & 0xff] as number) ^
      (TE3[s1 & 0xff] as number) ^
      (rk[r + 2] as number);
    const t3 =
      (TE0[s3 >>> 24] as number) ^
      (TE1[(s0 >>> 16) & 0xff] as number) ^
      (TE2[(s1 >>> 8) & 0xff] as number) ^
      (TE3[s2 & 0xff] as number) ^
      (rk[r + 3] as number);
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
  }
  // Final round: SubBytes, ShiftRows, AddRoundKey (no MixColumns).
  out[0] = lastRound(s0, s1, s2, s3) ^ (rk[40] as number);
  out[1] = lastRound(s1, s2, s3, s0) ^ (rk[41] as number);
  out[2] = lastRound(s2, s3, s0, s1) ^ (rk[42] as number);
  out[3] = lastRound(s3, s0, s1, s2) ^ (rk[43] as number);
}

const lastRound = (a: number, b: number, c: number, d: number): number =>
  ((SBOX[a >>> 24] as number) << 24) |
  ((SBOX[(b >>> 16) & 0xff] as number) << 16) |
  ((SBOX[(c >>> 8) & 0xff] as number) << 8) |
  (SBOX[d & 0xff] as number);

/** Encrypt one 16-byte block (convenience form; Milenage uses `encryptWords`). */
export function encryptBlock(rk: Aes128RoundKeys, block: Uint8Array): Uint8Array {
  if (block.length !== 16) throw new RangeError(`AES block must be 16 bytes, got ${block.length}`);
  const out = new Int32Array(4);
  encryptWords(rk, readWord(block, 0), readWord(block, 4), readWord(block, 8), readWord(block, 12), out);
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 4; i++) writeWord(bytes, 4 * i, out[i] as number);
  return bytes;
}

/** Big-endian 32-bit word at `offset` (as a signed int32, which is what the tables hold). */
export const readWord = (b: Uint8Array, offset: number): number =>
  ((b[offset] as number) << 24) |
  ((b[offset + 1] as number) << 16) |
  ((b[offset + 2] as number) << 8) |
  (b[offset + 3] as number);

export function writeWord(b: Uint8Array, offset: number, w: number): void {
  b[offset] = w >>> 24;
  b[offset + 1] = w >>> 16;
  b[offset + 2] = w >>> 8;
  b[offset + 3] = w;
}
