// FIPS 186-2 (change notice 1) pseudo-random function as used by EAP-SIM and EAP-AKA
// (RFC 4186 Appendix B, RFC 4187 §7 and Appendix A).
//
// The PRF's G function is the raw SHA-1 compression function applied to one 64-byte block
// (c || 0^352) with the standard initial state and *no* padding or length block, so node's
// createHash('sha1') cannot compute it; the 80-round block transform is implemented here.

const H0 = Uint32Array.of(0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0);

/** FIPS 180-2 §6.1.2 step 2–4: one SHA-1 block transform of `block` (64 bytes) into `state`. */
export function sha1Compress(state: Uint32Array, block: Uint8Array): void {
  const w = new Uint32Array(80);
  for (let t = 0; t < 16; t++) {
    const i = t * 4;
    w[t] =
      (((block[i] ?? 0) << 24) |
        ((block[i + 1] ?? 0) << 16) |
        ((block[i + 2] ?? 0) << 8) |
        (block[i + 3] ?? 0)) >>>
      0;
  }
  for (let t = 16; t < 80; t++) {
    const x = (w[t - 3] ?? 0) ^ (w[t - 8] ?? 0) ^ (w[t - 14] ?? 0) ^ (w[t - 16] ?? 0);
    w[t] = ((x << 1) | (x >>> 31)) >>> 0;
  }
  let a = state[0] ?? 0;
  let b = state[1] ?? 0;
  let c = state[2] ?? 0;
  let d = state[3] ?? 0;
  let e = state[4] ?? 0;
  for (let t = 0; t < 80; t++) {
    let f: number;
    let k: number;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    const temp = (((a << 5) | (a >>> 27)) + f + e + k + (w[t] ?? 0)) >>> 0;
    e = d;
    d = c;
    c = ((b << 30) | (b >>> 2)) >>> 0;
    b = a;
    a = temp;
  }
  state[0] = ((state[0] ?? 0) + a) >>> 0;
  state[1] = ((state[1] ?? 0) + b) >>> 0;
  state[2] = ((state[2] ?? 0) + c) >>> 0;
  state[3] = ((state[3] ?? 0) + d) >>> 0;
  state[4] = ((state[4] ?? 0) + e) >>> 0;
}

/** FIPS 186-2 Appendix 3.3: G(t, c) with t = H0 and c padded with zeros to 512 bits. */
function g(xval: Uint8Array): Uint8Array {
  const block = new Uint8Array(64);
  block.set(xval);
  const state = H0.slice();
  sha1Compress(state, block);
  const out = new Uint8Array(20);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 5; i++) view.setUint32(i * 4, state[i] ?? 0);
  return out;
}

/** XKEY = (1 + XKEY + w) mod 2^160, big-endian, in place. */
function addOnePlus(xkey: Uint8Array, w: Uint8Array): void {
  let carry = 1;
  for (let i = 19; i >= 0; i--) {
    const sum = (xkey[i] ?? 0) + (w[i] ?? 0) + carry;
    xkey[i] = sum & 0xff;
    carry = sum >> 8;
  }
}

/**
 * RFC 4187 Appendix A / RFC 4186 Appendix B: FIPS 186-2 change notice 1 PRF with b = 160 and no
 * XSEED. Each round j produces x_j = w_0 | w_1 (40 bytes); `length` bytes of x_0 | x_1 | … are
 * returned. `xkey` is MK (full authentication) or XKEY' (fast re-authentication), 20 bytes.
 */
export function fips186Prf(xkey: Uint8Array, length: number): Uint8Array {
  if (xkey.length !== 20) throw new RangeError('FIPS 186-2 PRF: XKEY must be 20 bytes');
  const key = xkey.slice();
  const out = new Uint8Array(Math.ceil(length / 40) * 40);
  for (let offset = 0; offset < out.length; offset += 20) {
    const w = g(key);
    out.set(w, offset);
    addOnePlus(key, w);
  }
  return out.subarray(0, length);
}
