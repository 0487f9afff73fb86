// RFC 4186 Appendix A (EAP-SIM full authentication): the keys, the encrypted pseudonym and re-auth id,
// and the AT_MAC of the Challenge request and response, reproduced from the keys we derive.

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveSimKeys } from '../../../src/crypto/rfc-4186-eap-sim-keys.js';
import { deriveAkaKeys } from '../../../src/crypto/rfc-4187-eap-aka-keys.js';
import { deriveAkaPrimeKeys, deriveCkIkPrime } from '../../../src/crypto/rfc-9048-eap-aka-prime-keys.js';
import {
  decodeSimAka,
  encodeSimAka,
  findAttribute,
  SIM_AKA_SUBTYPES,
} from '../../../src/lib/eap/rfc-4187-messages.js';
import {
  checkcode,
  decryptAttributes,
  encryptAttributes,
  signAtMac,
  verifyAtMac,
  verifyCheckcode,
} from '../../../src/lib/eap/rfc-4187-protection.js';
import { hex, toHex } from '../../../src/lib/hex.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

const rfc4186 = {
  identity: '1244070100000001@eapsim.foo',
  rands: '101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f',
  sres: 'd1d2d3d4e1e2e3e4f1f2f3f4',
  kcs: ['a0a1a2a3a4a5a6a7', 'b0b1b2b3b4b5b6b7', 'c0c1c2c3c4c5c6c7'],
  nonceMt: '0123456789abcdeffedcba9876543210',
  iv: '9e18b0c29a652263c06efb54dd00a895',
  pseudonym: 'w8w49PexCazWJ&xCIARmxuMKht5S1sxRDqXSEFBEg3DcZP9cIxTe5J4OyIwNGVzxeJOU1G',
  reauthId: 'Y24fNSrz8BP274jOJaF17WfxI8YO7QX00pMXk9XMMVOw7broaNhTczuFq53aEpOkk3L0dm@eapsim.foo',
  encrData:
    '55f2939bbdb1b19ea1b47fc0b3e0be4cab2cf7372d98e3023c6bb92415723d58bad66ce084e101b60f5358354bd4218278aea7bf2cbace33106aeddc625b0c1d5aa67a41739ae5b57950973fc7ff8301073c6f953150fc303ea152d1e10a2d1f4f5226daa1ee9005472252bdb3b71d6f0c3a3490316c46929871bd45cdfdbca6112f07f8be717990d25f6dd7f2b7b320bf4d5a992e880331d729945aec75ae5d43c8eda5fe6233fcac494ee67a0d504d',
  requestMac: 'fef324ac3962b59f3bd78253ae4dcb6a',
  responseMac: 'f56d6433e68ed2976ac11937fc3d1154',
};

describe('RFC 4186 Appendix A EAP-SIM/Challenge', () => {
  const keys = deriveSimKeys({
    identity: utf8(rfc4186.identity),
    kcs: rfc4186.kcs.map(hex),
    nonceMt: hex(rfc4186.nonceMt),
    versionList: [1],
    selectedVersion: 1,
  });
  const secretAttributes = [
    { name: 'AT_NEXT_PSEUDONYM', value: utf8(rfc4186.pseudonym) },
    { name: 'AT_NEXT_REAUTH_ID', value: utf8(rfc4186.reauthId) },
  ] as const;

  it('encrypts AT_NEXT_PSEUDONYM + AT_NEXT_REAUTH_ID (+ 12 octets of AT_PADDING) to the RFC ciphertext', () => {
    const encrypted = encryptAttributes(secretAttributes, keys.kEncr, hex(rfc4186.iv));
    expect(encrypted.ok && toHex(encrypted.value)).toBe(rfc4186.encrData);
  });

  it('decrypts the RFC ciphertext back to the pseudonym, re-auth id and padding', () => {
    expect(decryptAttributes(hex(rfc4186.encrData), keys.kEncr, hex(rfc4186.iv))).toEqual({
      ok: true,
      value: [...secretAttributes, { name: 'AT_PADDING', value: 10 }],
    });
  });

  it('signs the Challenge request with AT_MAC over packet | NONCE_MT as the RFC shows', () => {
    const packet = encodeSimAka(
      {
        code: 1,
        identifier: 2,
        method: 'sim',
        subtype: SIM_AKA_SUBTYPES['SIM-Challenge'],
        attributes: [
          { name: 'AT_RAND', value: hex(rfc4186.rands) },
          { name: 'AT_IV', value: hex(rfc4186.iv) },
          { name: 'AT_ENCR_DATA', value: hex(rfc4186.encrData) },
          { name: 'AT_MAC', value: new Uint8Array(16) },
        ],
      },
      { kAut: keys.kAut, extra: hex(rfc4186.nonceMt) },
    );
    if (!packet.ok) throw new Error(packet.error.message);
    expect(toHex(packet.value.subarray(0, 8))).toBe('01020118120b0000');
    expect(toHex(packet.value.subarray(-16))).toBe(rfc4186.requestMac);
    expect(verifyAtMac(packet.value, keys.kAut, hex(rfc4186.nonceMt))).toBe(true);
    expect(verifyAtMac(packet.value, keys.kAut)).toBe(false);
    const decoded = decodeSimAka(packet.value);
    expect(decoded.ok && findAttribute(decoded.value, 'AT_MAC')).toEqual(hex(rfc4186.requestMac));
  });

  it('verifies the RFC Challenge response AT_MAC over packet | SRES1 | SRES2 | SRES3', () => {
    const response = hex(`0202001c 120b0000 0b050000 ${rfc4186.responseMac}`);
    expect(verifyAtMac(response, keys.kAut, hex(rfc4186.sres))).toBe(true);
    const tampered = response.slice();
    tampered[1] = 3;
    expect(verifyAtMac(tampered, keys.kAut, hex(rfc4186.sres))).toBe(false);
  });
});

describe("EAP-AKA and EAP-AKA' AT_MAC and AT_CHECKCODE", () => {
  const identity = utf8('0232010000000000@wlan.mnc001.mcc232.3gppnetwork.org');
  const aka = deriveAkaKeys(
    identity,
    hex('2865f4362b3a931e578dd287625f2f3a'),
    hex('5b9e5bce1b0ac5c4db6525871713cf1b'),
  );

  const challenge = (method: 'aka' | 'akaPrime', kAut: Uint8Array) =>
    encodeSimAka(
      {
        code: 1,
        identifier: 5,
        method,
        subtype: SIM_AKA_SUBTYPES['AKA-Challenge'],
        attributes: [
          { name: 'AT_RAND', value: hex('81e92b6c0ee0e12ebceba8d92a99dfa5') },
          { name: 'AT_AUTN', value: hex('bb52e91c747ac3ab2a5c23d15ee351d5') },
          ...(method === 'akaPrime'
            ? [{ name: 'AT_KDF_INPUT', value: utf8('WLAN') } as const, { name: 'AT_KDF', value: 1 } as const]
            : [{ name: 'AT_BIDDING', value: 0x8000 } as const]),
          { name: 'AT_CHECKCODE', value: new Uint8Array(0) },
          { name: 'AT_RESULT_IND', value: true },
          { name: 'AT_MAC', value: new Uint8Array(16) },
        ],
      },
      { kAut },
    );

  it('EAP-AKA uses HMAC-SHA1-128 with K_aut', () => {
    const packet = challenge('aka', aka.kAut);
    if (!packet.ok) throw new Error(packet.error.message);
    expect(verifyAtMac(packet.value, aka.kAut)).toBe(true);
    expect(verifyAtMac(packet.value, new Uint8Array(16))).toBe(false);
  });

  it("EAP-AKA' uses HMAC-SHA-256-128 with the 32-octet K_aut", async () => {
    const { ckPrime, ikPrime } = deriveCkIkPrime(
      hex('5349fbe098649f948f5d2e973a81c00f'),
      hex('9744871ad32bf9bbd1dd5ce54e3e2e5a'),
      'WLAN',
      hex('bb52e91c747a'),
    );
    const keys = deriveAkaPrimeKeys(
      utf8('6555444333222111@wlan.mnc044.mcc555.3gppnetwork.org'),
      ckPrime,
      ikPrime,
    );
    const packet = challenge('akaPrime', keys.kAut);
    if (!packet.ok) throw new Error(packet.error.message);
    expect(verifyAtMac(packet.value, keys.kAut)).toBe(true);
    const { createHmac } = await import('node:crypto');
    const zeroed = packet.value.slice();
    zeroed.fill(0, zeroed.length - 16);
    expect(toHex(packet.value.subarray(-16))).toBe(
      createHmac('sha256', keys.kAut).update(zeroed).digest('hex').slice(0, 32),
    );
  });

  it('refuses to sign a packet without AT_MAC, or with two', () => {
    const noMac = encodeSimAka({ code: 2, identifier: 1, method: 'aka', subtype: 2, attributes: [] });
    if (!noMac.ok) throw new Error('encode');
    expect(signAtMac(noMac.value, aka.kAut)).toMatchObject({
      ok: false,
      error: { code: 'EAP_SIM_AKA_NO_MAC' },
    });
    // Built by hand: the encoder itself refuses a second AT_MAC (RFC 4187 §8.1).
    const mac = `0b050000${'00'.repeat(16)}`;
    const two = { ok: true as const, value: hex(`02010030 17010000 ${mac}${mac}`) };
    expect(
      encodeSimAka({
        code: 2,
        identifier: 1,
        method: 'aka',
        subtype: 1,
        attributes: [
          { name: 'AT_MAC', value: new Uint8Array(16) },
          { name: 'AT_MAC', value: new Uint8Array(16) },
        ],
      }).ok,
    ).toBe(false);
    expect(signAtMac(two.value, aka.kAut)).toMatchObject({
      ok: false,
      error: { code: 'EAP_SIM_AKA_DUPLICATE_MAC' },
    });
    expect(verifyAtMac(two.value, aka.kAut)).toBe(false);
  });

  it('AT_CHECKCODE is empty without identity rounds, SHA-1 / SHA-256 over the round packets otherwise', () => {
    const rounds = [hex('01050008170500000d010000'), hex('0205000c17050000')];
    expect(checkcode('aka', [])).toHaveLength(0);
    expect(toHex(checkcode('aka', rounds))).toBe(
      createHash('sha1')
        .update(rounds[0] ?? hex(''))
        .update(rounds[1] ?? hex(''))
        .digest('hex'),
    );
    expect(checkcode('akaPrime', rounds)).toHaveLength(32);
    expect(verifyCheckcode('aka', rounds, checkcode('aka', rounds))).toBe(true);
    expect(verifyCheckcode('aka', rounds, new Uint8Array(0))).toBe(false);
    expect(verifyCheckcode('aka', [], new Uint8Array(0))).toBe(true);
  });
});
