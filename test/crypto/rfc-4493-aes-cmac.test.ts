// AES-CMAC against RFC 4493 §4 (AES-128; also esim.md §5.1) and NIST SP 800-38B Appendix D
// (AES-192 D.2, AES-256 D.3: the "Updated CMAC Examples" of CSRC, the same values carried by many
// public test suites). Every field named.

import { describe, expect, it } from 'vitest';
import { aesCmac, aesCmacSubkeys } from '../../src/crypto/rfc-4493-aes-cmac.js';
import { hex, toHex } from '../../src/lib/hex.js';

/** The four-block message shared by every example; each example MACs its first `length` octets. */
const M = hex(
  '6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710',
);

const VECTORS = [
  {
    source: 'RFC 4493 §4 Example 1',
    key: '2b7e151628aed2a6abf7158809cf4f3c',
    length: 0,
    tag: 'bb1d6929e95937287fa37d129b756746',
  },
  {
    source: 'RFC 4493 §4 Example 2',
    key: '2b7e151628aed2a6abf7158809cf4f3c',
    length: 16,
    tag: '070a16b46b4d4144f79bdd9dd04a287c',
  },
  {
    source: 'RFC 4493 §4 Example 3',
    key: '2b7e151628aed2a6abf7158809cf4f3c',
    length: 40,
    tag: 'dfa66747de9ae63030ca32611497c827',
  },
  {
    source: 'RFC 4493 §4 Example 4',
    key: '2b7e151628aed2a6abf7158809cf4f3c',
    length: 64,
    tag: '51f0bebf7e3b9d92fc49741779363cfe',
  },
  {
    source: 'SP 800-38B D.2 Example 5',
    key: '8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b',
    length: 0,
    tag: 'd17ddf46adaacde531cac483de7a9367',
  },
  {
    source: 'SP 800-38B D.2 Example 6',
    key: '8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b',
    length: 16,
    tag: '9e99a7bf31e710900662f65e617c5184',
  },
  {
    source: 'SP 800-38B D.2 Example 7',
    key: '8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b',
    length: 40,
    tag: '8a1de5be2eb31aad089a82e6ee908b0e',
  },
  {
    source: 'SP 800-38B D.2 Example 8',
    key: '8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b',
    length: 64,
    tag: 'a1d5df0eed790f794d77589659f39a11',
  },
  {
    source: 'SP 800-38B D.3 Example 9',
    key: '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4',
    length: 0,
    tag: '028962f61b7bf89efc6b551f4667d983',
  },
  {
    source: 'SP 800-38B D.3 Example 10',
    key: '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4',
    length: 16,
    tag: '28a7023f452e8f82bd4bf28d8c37c35c',
  },
  {
    source: 'SP 800-38B D.3 Example 11',
    key: '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4',
    length: 40,
    tag: 'aaf3d8f1de5640c232f5b169b9c911e6',
  },
  {
    source: 'SP 800-38B D.3 Example 12',
    key: '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4',
    length: 64,
    tag: 'e1992190549f6ed5696a2c056c315410',
  },
];

describe('AES-CMAC (RFC 4493, NIST SP 800-38B)', () => {
  for (const v of VECTORS) {
    it(`${v.source}: ${v.key.length * 4}-bit key, Mlen ${v.length}`, () => {
      expect(toHex(aesCmac(hex(v.key), M.subarray(0, v.length)))).toBe(v.tag);
    });
  }

  it('RFC 4493 §4 subkeys: K1 and K2 from L = AES-128(K, 0) = 7df76b0c1ab899b33e42f047b91b546f', () => {
    const { k1, k2 } = aesCmacSubkeys(hex('2b7e151628aed2a6abf7158809cf4f3c'));
    expect(toHex(k1)).toBe('fbeed618357133667c85e08f7236a8de');
    expect(toHex(k2)).toBe('f7ddac306ae266ccf90bc11ee46d513b');
  });

  it('does not modify its inputs', () => {
    const key = hex('2b7e151628aed2a6abf7158809cf4f3c');
    const message = M.slice(0, 40);
    aesCmac(key, message);
    expect(toHex(message)).toBe(toHex(M.subarray(0, 40)));
    expect(toHex(key)).toBe('2b7e151628aed2a6abf7158809cf4f3c');
  });

  it('refuses a key that is not an AES key', () => {
    expect(() => aesCmac(new Uint8Array(15), M)).toThrow(RangeError);
  });
});
