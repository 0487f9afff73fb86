import { describe, expect, it } from 'vitest';
import { constantTimeEqual, constantTimeEqualText } from '../../src/crypto/constant-time.js';

describe('constantTimeEqual', () => {
  it('is true for equal bytes and false for any difference', () => {
    const a = Uint8Array.of(1, 2, 3, 4);
    expect(constantTimeEqual(a, Uint8Array.of(1, 2, 3, 4))).toBe(true);
    for (let i = 0; i < a.length; i++) {
      const b = a.slice();
      b[i] = (b[i] as number) ^ 1;
      expect(constantTimeEqual(a, b)).toBe(false);
    }
  });

  it('is false (and does not throw) for different lengths', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });

  it('compares views by their bytes, not their buffers', () => {
    const buf = Uint8Array.of(9, 1, 2, 9);
    expect(constantTimeEqual(buf.subarray(1, 3), Uint8Array.of(1, 2))).toBe(true);
  });
});

describe('constantTimeEqualText', () => {
  it('compares strings of any length', () => {
    expect(constantTimeEqualText('123456', '123456')).toBe(true);
    expect(constantTimeEqualText('123456', '123457')).toBe(false);
    expect(constantTimeEqualText('123456', '1234567')).toBe(false);
    expect(constantTimeEqualText('', '')).toBe(true);
  });
});
