// The TS 34.108 §8.1.2 test algorithm: a worked example computed by hand from the clause, a table
// of vectors produced by osmo-auc-gen's XOR algorithm (an independent implementation), and
// properties that tie the USIM side (verify AUTN, build AUTS) to the AuC side (vector, recover SQN).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildTestAuts,
  generateTestVector,
  gsmTestAlgorithm,
  recoverSqnFromTestAuts,
  testAlgorithm,
  testAlgorithmF2345,
  verifyTestAutn,
  xdout,
} from '../../src/crypto/ts-34-108-test-algorithm.js';
import { hex, toHex } from '../../src/lib/hex.js';
import table from '../fixtures/vectors/ts-34-108-test-algorithm.json' with { type: 'json' };

describe('TS 34.108 §8.1.2 worked example (K = 000102…0f as in the TS.48 test profiles)', () => {
  const k = hex('000102030405060708090a0b0c0d0e0f');
  const rand = hex('00112233445566778899aabbccddeeff');
  const sqn = hex('000000000001');
  const amf = hex('0000');
  const o = testAlgorithm(k, rand, sqn, amf);

  it('XDOUT = K ⊕ RAND', () => {
    expect(toHex(xdout(k, rand))).toBe('00102030405060708090a0b0c0d0e0f0');
  });
  it('f2 RES = XDOUT (128 bits by default)', () => {
    expect(toHex(o.res)).toBe('00102030405060708090a0b0c0d0e0f0');
  });
  it('f3 CK = XDOUT rotated by 8 bits', () => {
    expect(toHex(o.ck)).toBe('102030405060708090a0b0c0d0e0f000');
  });
  it('f4 IK = XDOUT rotated by 16 bits', () => {
    expect(toHex(o.ik)).toBe('2030405060708090a0b0c0d0e0f00010');
  });
  it('f5 AK = XDOUT bits 24..71, f5* = f5', () => {
    expect(toHex(o.ak)).toBe('304050607080');
    expect(toHex(o.akStar)).toBe('304050607080');
  });
  it('f1 XMAC = XDOUT[0..63] ⊕ (SQN ‖ AMF)', () => {
    expect(toHex(o.macA)).toBe('0010203040516070');
  });
  it('a shorter RES is a prefix of XDOUT', () => {
    expect(toHex(testAlgorithmF2345(k, rand, { resLength: 4 }).res)).toBe('00102030');
    expect(() => testAlgorithmF2345(k, rand, { resLength: 3 })).toThrow(RangeError);
    expect(() => testAlgorithmF2345(k, rand, { resLength: 17 })).toThrow(RangeError);
  });
  it('GSM context: SRES = c2(RES), Kc = c3(CK, IK)', () => {
    // Every byte column of RES words and of CK/IK halves cancels out for this K and RAND.
    expect(toHex(gsmTestAlgorithm(k, rand).sres)).toBe('00000000');
    expect(toHex(gsmTestAlgorithm(k, rand).kc)).toBe('0000000000000000');
    // TS 35.208 set 1 K/RAND: RES 650e6056 27ae1c02 8bd5ec63 4c7f1989 (osmo-auc-gen) folded by hand.
    const set1 = gsmTestAlgorithm(
      hex('465b5ce8b199b49faa5f0a2ee238a6bc'),
      hex('23553cbe9637a89d218ae64dae47bf35'),
    );
    expect(toHex(set1.sres)).toBe('850a89be');
    expect(toHex(set1.kc)).toBe('57b95ebad48e6535');
  });
});

describe('osmo-auc-gen XOR vector table', () => {
  for (const [i, v] of table.sets.entries()) {
    it(`set ${i + 1}: K=${v.k.slice(0, 8)}… SQN=${v.sqn} AMF=${v.amf}`, () => {
      const vec = generateTestVector(hex(v.k), hex(v.rand), hex(v.sqn), hex(v.amf));
      expect(toHex(vec.res), 'RES').toBe(v.res);
      expect(toHex(vec.ck), 'CK').toBe(v.ck);
      expect(toHex(vec.ik), 'IK').toBe(v.ik);
      expect(toHex(vec.autn), 'AUTN').toBe(v.autn);
      const card = verifyTestAutn(hex(v.k), hex(v.rand), hex(v.autn));
      expect(card.ok && toHex(card.value.sqn)).toBe(v.sqn);
      expect(card.ok && toHex(card.value.amf)).toBe(v.amf);
    });
  }
  for (const v of table.auts) {
    it(`AUTS ${v.auts} → SQN_MS ${v.sqnMs}`, () => {
      expect(toHex(buildTestAuts(hex(v.k), hex(v.rand), hex(v.sqnMs)))).toBe(v.auts);
      const r = recoverSqnFromTestAuts(hex(v.k), hex(v.rand), hex(v.auts));
      expect(r.ok && toHex(r.value)).toBe(v.sqnMs);
    });
  }
});

describe('properties', () => {
  const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

  it('a USIM accepts the vector the AuC made and derives the same RES, CK, IK', () => {
    fc.assert(
      fc.property(bytes(16), bytes(16), bytes(6), bytes(2), (k, rand, sqn, amf) => {
        const v = generateTestVector(k, rand, sqn, amf);
        const c = verifyTestAutn(k, rand, v.autn);
        expect(c.ok).toBe(true);
        if (!c.ok) return;
        expect(toHex(c.value.sqn)).toBe(toHex(sqn));
        expect(toHex(c.value.res)).toBe(toHex(v.res));
        expect(toHex(c.value.ck)).toBe(toHex(v.ck));
        expect(toHex(c.value.ik)).toBe(toHex(v.ik));
      }),
    );
  });

  it('any changed bit of the MAC part of AUTN, or another K, is a MAC failure', () => {
    fc.assert(
      fc.property(bytes(16), bytes(16), bytes(6), fc.integer({ min: 64, max: 127 }), (k, rand, sqn, bit) => {
        const v = generateTestVector(k, rand, sqn, new Uint8Array(2));
        const autn = v.autn.slice();
        autn[bit >> 3] = (autn[bit >> 3] as number) ^ (0x80 >> (bit & 7));
        const r = verifyTestAutn(k, rand, autn);
        expect(!r.ok && r.error.code).toBe('MAC_FAILURE');
      }),
    );
  });

  it('AUTS round-trips SQN_MS; a changed MAC-S bit is refused', () => {
    fc.assert(
      fc.property(
        bytes(16),
        bytes(16),
        bytes(6),
        fc.integer({ min: 48, max: 111 }),
        (k, rand, sqnMs, bit) => {
          const auts = buildTestAuts(k, rand, sqnMs);
          const r = recoverSqnFromTestAuts(k, rand, auts);
          expect(r.ok && toHex(r.value)).toBe(toHex(sqnMs));
          auts[bit >> 3] = (auts[bit >> 3] as number) ^ (0x80 >> (bit & 7));
          const bad = recoverSqnFromTestAuts(k, rand, auts);
          expect(!bad.ok && bad.error.code).toBe('MAC_S_FAILURE');
        },
      ),
    );
  });

  it('wrong lengths are typed errors or RangeErrors, never silent', () => {
    const k = new Uint8Array(16);
    const r = verifyTestAutn(k, k, new Uint8Array(15));
    expect(!r.ok && r.error.code).toBe('AUTN_LENGTH');
    const a = recoverSqnFromTestAuts(k, k, new Uint8Array(13));
    expect(!a.ok && a.error.code).toBe('AUTS_LENGTH');
    expect(() => xdout(new Uint8Array(15), k)).toThrow(RangeError);
  });
});
