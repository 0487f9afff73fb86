// Milenage (TS 35.206) against every published test set, one named field per function as in
// free5gc's milenage_test.go, plus the TS 33.102 AUTN/AUTS constructions.

import { describe, expect, it } from 'vitest';
import {
  buildAutn,
  buildAuts,
  computeOpc,
  generateVector,
  milenage,
  milenageF1,
  milenageF2345,
  recoverSqnFromAuts,
  sqnFromNumber,
  sqnToNumber,
  verifyAutn,
} from '../../src/crypto/milenage.js';
import { hex, toHex } from '../../src/lib/hex.js';
import ts35208 from '../fixtures/vectors/milenage.json' with { type: 'json' };
import extra from '../fixtures/vectors/milenage-extra.json' with { type: 'json' };

describe('TS 35.208 conformance test sets', () => {
  it('covers every set in the fixture', () => {
    expect(ts35208.sets.map((s) => s.set)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 19, 20]);
  });

  for (const s of ts35208.sets) {
    describe(`set ${s.set}`, () => {
      const k = hex(s.k);
      const rand = hex(s.rand);
      const sqn = hex(s.sqn);
      const amf = hex(s.amf);
      const opc = hex(s.opc);

      it('OPc = OP ⊕ E_K(OP)', () => {
        expect(toHex(computeOpc(k, hex(s.op)))).toBe(s.opc);
      });

      it('f1 (MAC-A) and f1* (MAC-S)', () => {
        const { macA, macS } = milenageF1(k, opc, rand, sqn, amf);
        expect(toHex(macA)).toBe(s.f1);
        expect(toHex(macS)).toBe(s.f1star);
      });

      it('f2 (RES), f3 (CK), f4 (IK), f5 (AK), f5* (AK*)', () => {
        const o = milenageF2345(k, opc, rand);
        expect(toHex(o.res)).toBe(s.f2);
        expect(toHex(o.ck)).toBe(s.f3);
        expect(toHex(o.ik)).toBe(s.f4);
        expect(toHex(o.ak)).toBe(s.f5);
        expect(toHex(o.akStar)).toBe(s.f5star);
      });

      it('milenage() gives all seven outputs at once', () => {
        const o = milenage(k, opc, rand, sqn, amf);
        expect({
          f1: toHex(o.macA),
          f1star: toHex(o.macS),
          f2: toHex(o.res),
          f3: toHex(o.ck),
          f4: toHex(o.ik),
          f5: toHex(o.ak),
          f5star: toHex(o.akStar),
        }).toEqual({ f1: s.f1, f1star: s.f1star, f2: s.f2, f3: s.f3, f4: s.f4, f5: s.f5, f5star: s.f5star });
      });

      it('AUTN = SQN ⊕ AK ‖ AMF ‖ MAC-A verifies and yields SQN, AMF, RES, CK, IK', () => {
        const v = generateVector(k, opc, rand, sqn, amf);
        const sqnXorAk = toHex(hex(s.sqn).map((b, i) => b ^ (hex(s.f5)[i] as number)));
        expect(toHex(v.autn)).toBe(`${sqnXorAk}${s.amf}${s.f1}`);
        const checked = verifyAutn(k, opc, rand, v.autn);
        expect(checked.ok && toHex(checked.value.sqn)).toBe(s.sqn);
        expect(checked.ok && toHex(checked.value.amf)).toBe(s.amf);
        expect(checked.ok && toHex(checked.value.res)).toBe(s.f2);
      });
    });
  }
});

describe('AUTN verification refuses forgeries (USIM side, TS 33.102 §6.3.3)', () => {
  const s = ts35208.sets[0];
  if (s === undefined) throw new Error('fixture empty');
  const [k, opc, rand] = [hex(s.k), hex(s.opc), hex(s.rand)];
  const autn = generateVector(k, opc, rand, hex(s.sqn), hex(s.amf)).autn;

  it.each([0, 6, 8, 15])('flipping a bit of byte %i gives MAC_FAILURE', (i) => {
    const bad = autn.slice();
    bad[i] = (bad[i] as number) ^ 0x01;
    const r = verifyAutn(k, opc, rand, bad);
    expect(r.ok ? 'ok' : r.error.code).toBe('MAC_FAILURE');
  });

  it('a wrong K gives MAC_FAILURE', () => {
    const r = verifyAutn(hex('00'.repeat(16)), opc, rand, autn);
    expect(r.ok ? 'ok' : r.error.code).toBe('MAC_FAILURE');
  });

  it('a wrong length is a typed error, not an exception', () => {
    const r = verifyAutn(k, opc, rand, autn.subarray(0, 15));
    expect(r.ok ? 'ok' : r.error.code).toBe('AUTN_LENGTH');
  });
});

describe('AUTS (TS 33.102 §6.3.3 / §6.3.5)', () => {
  for (const v of extra.auts) {
    it(`recovers SQN_MS ${v.sqn_ms} (${v.source})`, () => {
      const r = recoverSqnFromAuts(hex(v.k), hex(v.opc), hex(v.rand), hex(v.auts));
      expect(r.ok && toHex(r.value)).toBe(v.sqn_ms);
    });

    it(`builds the same AUTS from SQN_MS ${v.sqn_ms}`, () => {
      expect(toHex(buildAuts(hex(v.k), hex(v.opc), hex(v.rand), hex(v.sqn_ms)))).toBe(v.auts);
    });
  }

  it('a corrupted MAC-S is refused with MAC_S_FAILURE', () => {
    const v = extra.auts[1];
    if (v === undefined) throw new Error('fixture empty');
    const auts = hex(v.auts);
    auts[13] = (auts[13] as number) ^ 0x80;
    const r = recoverSqnFromAuts(hex(v.k), hex(v.opc), hex(v.rand), auts);
    expect(r.ok ? 'ok' : r.error.code).toBe('MAC_S_FAILURE');
  });

  it('a wrong length is a typed error', () => {
    const v = extra.auts[0];
    if (v === undefined) throw new Error('fixture empty');
    const r = recoverSqnFromAuts(hex(v.k), hex(v.opc), hex(v.rand), hex('00'));
    expect(r.ok ? 'ok' : r.error.code).toBe('AUTS_LENGTH');
  });
});

describe('full vectors from hostap and libosmocore', () => {
  for (const v of extra.vectors) {
    it(v.source, () => {
      const out = generateVector(hex(v.k), hex(v.opc), hex(v.rand), hex(v.sqn), hex(v.amf));
      expect({ autn: toHex(out.autn), ik: toHex(out.ik), ck: toHex(out.ck), res: toHex(out.res) }).toEqual({
        autn: v.autn,
        ik: v.ik,
        ck: v.ck,
        res: v.res,
      });
    });
  }

  for (const v of extra.opc) {
    it(v.source, () => {
      expect(toHex(computeOpc(hex(v.k), hex(v.op)))).toBe(v.opc);
    });
  }
});

describe('AUTN construction', () => {
  it('rejects fields of the wrong length', () => {
    expect(() =>
      buildAutn(new Uint8Array(5), new Uint8Array(6), new Uint8Array(2), new Uint8Array(8)),
    ).toThrow(RangeError);
    expect(() =>
      milenage(
        new Uint8Array(15),
        new Uint8Array(16),
        new Uint8Array(16),
        new Uint8Array(6),
        new Uint8Array(2),
      ),
    ).toThrow(RangeError);
  });
});

describe('SQN helpers', () => {
  it('round-trip 48-bit numbers', () => {
    for (const n of [0, 1, 42, 0x4044, 2 ** 32 + 5, 2 ** 48 - 1])
      expect(sqnToNumber(sqnFromNumber(n))).toBe(n);
    expect(toHex(sqnFromNumber(0xff9bb4d0b607))).toBe('ff9bb4d0b607');
  });

  it('refuses out-of-range values', () => {
    expect(() => sqnFromNumber(2 ** 48)).toThrow(RangeError);
    expect(() => sqnFromNumber(-1)).toThrow(RangeError);
  });
});
