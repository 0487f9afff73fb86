import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fips186Prf, sha1Compress } from '../../src/crypto/fips-186-2-prf.js';
import { hex, toHex } from '../../src/lib/hex.js';

describe('FIPS 186-2 change notice 1 PRF', () => {
  it('reproduces the FIPS 186-2 change notice 1 example (XKEY bd029bbe…, XSEED = 0)', () => {
    const xkey = hex('bd029bbe7f51960bcf9edb2b61f06f0feb5a38b6');
    expect(toHex(fips186Prf(xkey, 40))).toBe(
      '2070b3223dba372fde1c0ffc7b2e3b498b2606143c6c18bacb0f6c55babb13788e20d737a3275116',
    );
  });

  it('returns a prefix of the same stream for shorter outputs', () => {
    const xkey = hex('bd029bbe7f51960bcf9edb2b61f06f0feb5a38b6');
    expect(toHex(fips186Prf(xkey, 20))).toBe('2070b3223dba372fde1c0ffc7b2e3b498b260614');
  });

  it('uses the raw compression function: one padded block equals node SHA-1 of "abc"', () => {
    // FIPS 180-2 Appendix A.1: "abc" padded to one block by hand; the transform must give SHA-1("abc").
    const block = new Uint8Array(64);
    block.set([0x61, 0x62, 0x63, 0x80]);
    block[63] = 24;
    const state = Uint32Array.of(0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0);
    sha1Compress(state, block);
    const digest = Buffer.alloc(20);
    for (let i = 0; i < 5; i++) digest.writeUInt32BE(state[i] ?? 0, i * 4);
    expect(digest.toString('hex')).toBe(createHash('sha1').update('abc').digest('hex'));
  });

  it('refuses an XKEY that is not 160 bits', () => {
    expect(() => fips186Prf(new Uint8Array(16), 40)).toThrow(RangeError);
  });
});
