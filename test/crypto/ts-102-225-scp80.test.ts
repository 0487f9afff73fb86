// SCP80 cryptography (TS 102 225 §5.1.2, §5.1.3.1): the algorithm registries, the ciphering and the
// cryptographic checksum, against published vectors. Whole packets are in
// test/lib/ts-102-225-secured-packet.test.ts.

import { describe, expect, it } from 'vitest';
import {
  checksumFromKid,
  cipherFromKic,
  cryptographicChecksum,
  decipher,
  encipher,
  KIC_ALGORITHMS,
  KID_ALGORITHMS,
} from '../../src/crypto/ts-102-225-scp80.js';
import { hex, toHex } from '../../src/lib/hex.js';

describe('KIc / KID algorithm registries', () => {
  for (const [name, table, lookup] of [
    ['KIc', KIC_ALGORITHMS, cipherFromKic],
    ['KID', KID_ALGORITHMS, checksumFromKid],
  ] as const) {
    it(`${name}: each algorithm is named by its example byte, with a clause and key lengths`, () => {
      for (const a of table) {
        expect(a.spec).toMatch(/^TS 102 225 §5\.1\./);
        expect(lookup(hex(a.example)[0] as number)?.algorithm).toBe(a.algorithm);
        expect(a.keyLengths.length).toBeGreaterThan(0);
      }
    });

    it(`${name}: implicit (0), proprietary (3), DES-ECB (D) and reserved codings name no algorithm`, () => {
      for (const nibble of [0x0, 0x3, 0x4, 0x6, 0x7, 0x8, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf]) {
        expect(lookup(0x20 | nibble)).toBeUndefined();
      }
    });
  }
});

describe('ciphering (CBC, IV zero)', () => {
  // FIPS 81 Appendix B, Table B1/B2: key 0123456789abcdef, "Now is the time for all ".
  const desKey = { algorithm: 'des-cbc', key: hex('0123456789abcdef') } as const;
  const plain = new TextEncoder().encode('Now is the time for all ');

  it('DES-CBC: the first block equals the FIPS 81 ECB example (IV zero)', () => {
    expect(toHex(encipher(desKey, plain).subarray(0, 8))).toBe('3fa40e8a984d4815');
  });

  it('DES-CBC: the FIPS 81 CBC example (IV 1234567890abcdef folded into the first block)', () => {
    const folded = plain.slice();
    const iv = hex('1234567890abcdef');
    for (let i = 0; i < 8; i++) folded[i] = (folded[i] as number) ^ (iv[i] as number);
    expect(toHex(encipher(desKey, folded))).toBe('e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6');
    expect(toHex(decipher(desKey, hex('e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6')))).toBe(
      toHex(folded),
    );
  });

  it('AES-CBC: FIPS 197 Appendix C.1 block (one block, IV zero = ECB)', () => {
    const key = { algorithm: 'aes-cbc', key: hex('000102030405060708090a0b0c0d0e0f') } as const;
    const out = encipher(key, hex('00112233445566778899aabbccddeeff'));
    expect(toHex(out)).toBe('69c4e0d86a7b0430d8cdb78070b4c55a');
    expect(toHex(decipher(key, out))).toBe('00112233445566778899aabbccddeeff');
  });

  it('refuses data that is not whole blocks and keys of the wrong length', () => {
    expect(() => encipher(desKey, new Uint8Array(7))).toThrow(RangeError);
    expect(() =>
      encipher({ algorithm: '3des-2key-cbc', key: new Uint8Array(24) }, new Uint8Array(8)),
    ).toThrow(RangeError);
  });
});

describe('cryptographic checksum', () => {
  it('3DES two-key CBC-MAC reproduces the CC of pySim test_ota.py test_cmd_3des_signed', () => {
    // Card 8988211000000467285, KID3; CC input = CPL ‖ CHL ‖ SPI ‖ KIc ‖ KID ‖ TAR ‖ CNTR ‖ PCNTR ‖ APDU,
    // zero-padded to 8 for the computation only (30 octets → 32).
    const kid = { algorithm: '3des-2key-cbc-mac', key: hex('12110C78E678C25408233076AA033615') } as const;
    const input = hex('001d 15 0219 35 35 b00000 0000000000 00 00a40000023f00');
    expect(toHex(cryptographicChecksum(kid, input))).toBe('072ea17bdb72060e');
  });

  it('AES-CMAC is truncated to its first 8 octets', () => {
    const kid = { algorithm: 'aes-cmac', key: hex('2b7e151628aed2a6abf7158809cf4f3c') } as const;
    expect(toHex(cryptographicChecksum(kid, hex('6bc1bee22e409f96e93d7e117393172a')))).toBe(
      '070a16b46b4d4144',
    );
  });

  it('single DES CBC-MAC is the last block of DES-CBC over the zero-padded input', () => {
    const kid = { algorithm: 'des-cbc-mac', key: hex('0123456789abcdef') } as const;
    const message = new TextEncoder().encode('Now is the time for all ');
    expect(toHex(cryptographicChecksum(kid, message))).toBe('70a30640cc76dd8b');
    // 20 octets are padded with four zero octets, not with 80 00 …
    const twenty = message.subarray(0, 20);
    const padded = new Uint8Array(24);
    padded.set(twenty);
    expect(toHex(cryptographicChecksum(kid, twenty))).toBe(toHex(cryptographicChecksum(kid, padded)));
  });
});
