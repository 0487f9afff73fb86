// ANSI X9.63 KDF with SHA-256, against the vectors of pySim tests/unittests/test_esim_bsp.py
// (reference/esim.md §5.4; the second comes from a third-party SM-DP+ trace) and its definition.

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { x963KdfSha256 } from '../../src/crypto/ansi-x9-63-kdf.js';
import { hex, toHex } from '../../src/lib/hex.js';

describe('X9.63-KDF-SHA256', () => {
  const vectors = [
    {
      name: 'pySim test_esim_bsp (SGP.22 BSP SharedInfo)',
      shs: '8902dca391bbb22570fe60c176076246f568b1941265dff1d729e63039658089',
      sharedInfo: '88 10 08 8080808080808080 10 89049032123451234512345678901335',
      keyData:
        '734bc93ddb10c71c5ad13d420dc08b5bd782d575b22a38334556a3d9a1e2ae6ba35addc192ae8f934e2932116c7e89e7',
    },
    {
      name: 'pySim test_esim_bsp (third-party SM-DP+ trace)',
      shs: 'c9a993dd4879a8f7161f2085410edd4f9652f1df37be097ba96ba2ca6be528fe',
      sharedInfo: '88 10 08 8080808080808080 10 89049032123451234512345678901235',
      keyData:
        '406d507b448a699e7a36a38494debbde472f5bfadd97f21d34f3ce9b51b927519ec07f5b36a13e12a991d66e294e6242',
    },
  ];
  for (const v of vectors) {
    it(`${v.name}: 48 bytes of KeyData`, () => {
      expect(toHex(x963KdfSha256(hex(v.shs), hex(v.sharedInfo), 48))).toBe(v.keyData);
    });
  }

  it('is SHA-256(Z ‖ counter ‖ SharedInfo) blocks, any prefix of a longer output', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 66 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 0, max: 100 }),
        (z, info, length) => {
          const out = x963KdfSha256(z, info, length);
          expect(out.length).toBe(length);
          const first = createHash('sha256')
            .update(z)
            .update(Uint8Array.of(0, 0, 0, 1))
            .update(info)
            .digest();
          expect(toHex(out.subarray(0, 32))).toBe(toHex(first.subarray(0, Math.min(32, length))));
          expect(toHex(x963KdfSha256(z, info, 100).subarray(0, length))).toBe(toHex(out));
        },
      ),
    );
  });

  it('refuses negative, fractional and absurd lengths', () => {
    for (const n of [-1, 1.5, Number.NaN, 32 * 0x10000]) {
      expect(() => x963KdfSha256(new Uint8Array(32), new Uint8Array(0), n)).toThrow(RangeError);
    }
  });
});
