import { describe, expect, it } from 'vitest';
import {
  deriveAkaPrimeKeys,
  deriveAkaPrimeReauthKeys,
  deriveCkIkPrime,
  prfPrime,
} from '../../src/crypto/rfc-9048-eap-aka-prime-keys.js';
import { hex, toHex } from '../../src/lib/hex.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

// RFC 9048 Appendix D (= RFC 5448 Appendix C) test cases 1–4. Cases 1/2 are Milenage test set 19
// (RAND 81e9…, AUTN = SQN⊕AK | AMF c3ab | MAC-A); cases 3/4 use RAND e0…, AUTN a0…, IK b0…, CK c0….
// `keys` = K_encr | K_aut | K_re | MSK | EMSK (208 bytes).
const cases = [
  {
    name: 'case 1 (WLAN)',
    identity: '0555444333222111',
    network: 'WLAN',
    rand: '81e92b6c0ee0e12ebceba8d92a99dfa5',
    autn: 'bb52e91c747ac3ab2a5c23d15ee351d5',
    ik: '9744871ad32bf9bbd1dd5ce54e3e2e5a',
    ck: '5349fbe098649f948f5d2e973a81c00f',
    ckIkPrime: '0093962d0dd84aa5684b045c9edffa04ccfc230ca74fcc96c0a5d61164f5a76c',
    keys:
      '766fa0a6c317174b812d52fbcd11a179' +
      '0842ea722ff6835bfa2032499fc3ec23c2f0e388b4f07543ffc677f1696d71ea' +
      'cf83aa8bc7e0aced892acc98e76a9b2095b558c7795c7094715cb3393aa7d17a' +
      '67c42d9aa56c1b79e295e3459fc3d187d42be0bf818d3070e362c5e967a4d544e8ecfe19358ab3039aff03b7c930588c055babee58a02650b067ec4e9347c75a' +
      'f861703cd775590e16c7679ea3874ada866311de290764d760cf76df647ea01c313f69924bdd7650ca9bac141ea075c4ef9e8029c0e290cdbad5638b63bc23fb',
  },
  {
    name: 'case 2 (HRPD)',
    identity: '0555444333222111',
    network: 'HRPD',
    rand: '81e92b6c0ee0e12ebceba8d92a99dfa5',
    autn: 'bb52e91c747ac3ab2a5c23d15ee351d5',
    ik: '9744871ad32bf9bbd1dd5ce54e3e2e5a',
    ck: '5349fbe098649f948f5d2e973a81c00f',
    ckIkPrime: '3820f0277fa5f77732b1fb1d90c1a0dadb94a0ab557ef6c9ab48619ca05b9a9f',
    keys: '05ad73ac915fce89ac77e1520d82187b5b4acaef62c6ebb8882b2f3d534c4b35277337a00184f20ff25d224c04be2afd3f90bf5c6e5ef325ff04eb5ef6539fa8cca8398194fbd00be425b3f40dba10ac87b321570117cd6c95ab6c436fb5073ff15cf85505d2bc5bb7355fc21ea8a75757e8f86a2b138002e05752913bb43b82f868a96117e91a2d95f526677d572900c891d5f20f148a1007553e2dea555c9cb672e9675f4a66b4bafa027379f93aee539a5979d0a0042b9d2ae28bed3b17a31dc8ab75072b80bd0c1da612466e402c',
  },
  {
    name: 'case 3 (WLAN)',
    identity: '0555444333222111',
    network: 'WLAN',
    rand: 'e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0',
    autn: 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0',
    ik: 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0',
    ck: 'c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0',
    ckIkPrime: 'cd4c8e5c68f57dd1d7d7dfd0c538e5773ece6b705dbbf7dfc459a11280c65524',
    keys: '897d302fa2847416488c28e20dcb7be4c40700e7722483ae3dc7139eb0b88bb558cb3081eccd057f9207d1286ee7dd530a591a22dd8b5b1cf29e3d508c91dbbdb4aee23051892c42b6a2de66ea5044739f7dca9e37bb22029ed986e7cd09d4a70d1ac76d95535c5cac40a7504699bb8961a29ef6f3e90f183de5861ad1bedc81ce9916391b401aa006c98785a5756df7724de00bdb9e568187be3fe746114557d5018779537ee37f4d3c6c738cb97b9dc651bc19bfadc344ffe2b52ca78bd8316b51dacc5f2b1440cb9515521cc7ba23',
  },
  {
    name: 'case 4 (HRPD)',
    identity: '0555444333222111',
    network: 'HRPD',
    rand: 'e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0',
    autn: 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0',
    ik: 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0',
    ck: 'c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0',
    ckIkPrime: '8310a71ce6f754889613da8f64d5fb465adf14360ae838192db23f6fcb7f8c76',
    keys: '745e7439ba238f50fcac4d15d47cd1d93e1d2aa4e677025cfd862a4be18361a13a645765571463df833a9759e809987999da835e2ae82462576fe6516fad1f802f0fa1191655dd0a273da96d04e0fcd3c6d3a6e0ceea951eb20d74f32c3061d0680a04b0b086ee8700ace3e0b95fa02683c287beee44432294ff98af26d2cc783bace75c4b0af7fdfeb5511ba8e4cbd07fb56813838adafa99d140c2f198f6dacebfb6afee444961105402b508c7f363352cb2919644b50463e6a69354150147ae09cbc54b8a651d8787a6893ed8536d',
  },
] as const;

describe("RFC 9048 EAP-AKA' keys", () => {
  for (const c of cases) {
    describe(c.name, () => {
      const { ckPrime, ikPrime } = deriveCkIkPrime(
        hex(c.ck),
        hex(c.ik),
        c.network,
        hex(c.autn).subarray(0, 6),
      );
      const keys = deriveAkaPrimeKeys(utf8(c.identity), ckPrime, ikPrime);
      const expected = hex(c.keys);

      it("derives CK' | IK' from CK, IK, the network name and SQN⊕AK", () => {
        expect(toHex(ckPrime)).toBe(c.ckIkPrime.slice(0, 32));
        expect(toHex(ikPrime)).toBe(c.ckIkPrime.slice(32));
      });
      it('derives K_encr', () => expect(toHex(keys.kEncr)).toBe(toHex(expected.subarray(0, 16))));
      it('derives K_aut (32 bytes)', () => expect(toHex(keys.kAut)).toBe(toHex(expected.subarray(16, 48))));
      it('derives K_re', () => expect(toHex(keys.kRe)).toBe(toHex(expected.subarray(48, 80))));
      it('derives MSK', () => expect(toHex(keys.msk)).toBe(toHex(expected.subarray(80, 144))));
      it('derives EMSK', () => expect(toHex(keys.emsk)).toBe(toHex(expected.subarray(144, 208))));
    });
  }

  it('accepts the network name as bytes as well as a string', () => {
    const c = cases[0];
    const a = deriveCkIkPrime(hex(c.ck), hex(c.ik), utf8(c.network), hex(c.autn));
    expect(toHex(a.ckPrime) + toHex(a.ikPrime)).toBe(c.ckIkPrime);
  });

  it("PRF' output is a prefix-stable stream of HMAC-SHA-256 blocks", () => {
    const key = hex('00'.repeat(32));
    const s = utf8('x');
    expect(toHex(prfPrime(key, s, 64)).slice(0, 40)).toBe(toHex(prfPrime(key, s, 20)));
    expect(() => prfPrime(key, s, 256 * 32)).toThrow(RangeError);
  });

  it('derives fast re-authentication MSK/EMSK from K_re, identity, counter and NONCE_S', () => {
    // FreeRADIUS eap_aka_sim's rfc5448_vector0_reauth (its authors note no external source for it):
    // agreement with an independent implementation, not a published vector.
    const reauth = deriveAkaPrimeReauthKeys(
      hex('cf83aa8bc7e0aced892acc98e76a9b2095b558c7795c7094715cb3393aa7d17a'),
      utf8('5555444333222111'),
      1,
      hex('0123456789abcdeffedcba9876543210'),
    );
    expect(toHex(reauth.msk)).toBe(
      '28f2b93a8edc4a01b69d378ba68a77bb016c0febb760db985799649900006f97a1765c65f5d5bfdee761ba4292e451d1a0c57e76eb913ee995f5ce6eb7989138',
    );
    expect(toHex(reauth.emsk)).toBe(
      'b905a2f467e0eb9afba459a7d8a7c877d5fa2e5ed377f8c52fa486adf5155eb796aca93ea3a995e8a23436545af15722aa94b9fbd9060c50a356ccb4c7100e66',
    );
  });
});
