import { describe, expect, it } from 'vitest';
import { fromHex, hex, isHex, toHex } from '../../src/lib/hex.js';

describe('hex', () => {
  it('round-trips bytes', () => {
    const bytes = Uint8Array.of(0x00, 0x0f, 0xa5, 0xff);
    expect(toHex(bytes)).toBe('000fa5ff');
    expect(fromHex('000fa5ff')).toEqual(bytes);
    expect(fromHex('000FA5FF')).toEqual(bytes);
  });

  it('fromHex is total: odd length and non-hex give undefined', () => {
    for (const bad of ['0', 'abc', 'zz', '0x00', ' 00', '00 ', 'g0']) expect(fromHex(bad)).toBeUndefined();
    expect(fromHex('')).toEqual(new Uint8Array(0));
  });

  it('isHex checks the byte length when asked', () => {
    expect(isHex('00ff')).toBe(true);
    expect(isHex('00ff', 2)).toBe(true);
    expect(isHex('00ff', 3)).toBe(false);
    expect(isHex('0g')).toBe(false);
  });

  it('hex() accepts spaced literals and throws on bad ones', () => {
    expect(hex('3F 00 7F FF')).toEqual(Uint8Array.of(0x3f, 0x00, 0x7f, 0xff));
    expect(() => hex('3F0')).toThrow(TypeError);
  });

  it('toHex respects subarray views', () => {
    const buf = Uint8Array.of(1, 2, 3, 4);
    expect(toHex(buf.subarray(1, 3))).toBe('0203');
  });
});
