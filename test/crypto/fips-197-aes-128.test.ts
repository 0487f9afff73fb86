// The table AES-128 that Milenage runs on: the FIPS 197 Appendix C.1 example, and agreement with
// node:crypto (OpenSSL) for random keys and blocks.

import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encryptBlock, expandKey128 } from '../../src/crypto/fips-197-aes-128.js';
import { hex, toHex } from '../../src/lib/hex.js';

describe('FIPS 197 AES-128', () => {
  it('Appendix C.1 example vector', () => {
    const rk = expandKey128(hex('000102030405060708090a0b0c0d0e0f'));
    expect(toHex(encryptBlock(rk, hex('00112233445566778899aabbccddeeff')))).toBe(
      '69c4e0d86a7b0430d8cdb78070b4c55a',
    );
  });

  it('Appendix A.1 key expansion: last round key', () => {
    const rk = expandKey128(hex('2b7e151628aed2a6abf7158809cf4f3c'));
    const last = [...rk.subarray(40, 44)].map((w) => (w >>> 0).toString(16).padStart(8, '0')).join('');
    expect(last).toBe('d014f9a8c9ee2589e13f0cc8b6630ca6');
  });

  it('agrees with node:crypto AES-128-ECB on 2000 random keys and blocks', () => {
    let mismatches = 0;
    for (let i = 0; i < 2000; i++) {
      const key = randomBytes(16);
      const block = randomBytes(16);
      const cipher = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
      const expected = Buffer.concat([cipher.update(block), cipher.final()]).toString('hex');
      if (toHex(encryptBlock(expandKey128(key), block)) !== expected) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('rejects keys and blocks of the wrong size', () => {
    expect(() => expandKey128(new Uint8Array(24))).toThrow(RangeError);
    expect(() => encryptBlock(expandKey128(new Uint8Array(16)), new Uint8Array(15))).toThrow(RangeError);
  });
});
