import { describe, expect, it } from 'vitest';
import {
  decodeBerTlv,
  decodeBerTlvList,
  encodeBerTlv,
  encodeLength,
  encodeTag,
  isConstructedTag,
} from '../../src/lib/ber-tlv.js';
import { hex, toHex } from '../../src/lib/hex.js';

describe('BER-TLV (ISO/IEC 7816-4 §5.2)', () => {
  it('one-, two- and three-byte tags', () => {
    for (const [bytes, tag] of [
      ['620100', 0x62],
      ['5f2d02656e', 0x5f2d],
      ['bf220100', 0xbf22],
      ['df81010100', 0xdf8101],
    ] as const) {
      const r = decodeBerTlv(hex(bytes));
      expect(r.ok && r.value.tag).toBe(tag);
      expect(toHex(encodeTag(tag))).toBe(bytes.slice(0, toHex(encodeTag(tag)).length));
    }
  });

  it('lengths in 1 to 4 bytes, encoded minimally', () => {
    expect(toHex(encodeLength(0x7f))).toBe('7f');
    expect(toHex(encodeLength(0x80))).toBe('8180');
    expect(toHex(encodeLength(0x100))).toBe('820100');
    expect(toHex(encodeLength(0x10000))).toBe('83010000');
    const long = encodeBerTlv(0x80, new Uint8Array(300));
    const r = decodeBerTlv(long);
    expect(r.ok && r.value.value.length).toBe(300);
    expect(toHex(long.subarray(0, 4))).toBe('8082012c');
  });

  it('the constructed bit', () => {
    expect(isConstructedTag(0x62)).toBe(true);
    expect(isConstructedTag(0x82)).toBe(false);
    expect(isConstructedTag(0xbf22)).toBe(true);
    expect(isConstructedTag(0x5f2d)).toBe(false);
  });

  it('skips 00/FF padding between objects only when asked', () => {
    const bytes = hex('4f01a0ff00500141ffff');
    const padded = decodeBerTlvList(bytes, { padding: true });
    expect(padded.ok && padded.value.map((t) => t.tag)).toEqual([0x4f, 0x50]);
    const strict = decodeBerTlvList(bytes);
    expect(strict.ok ? 'ok' : strict.error.code).toBe('TLV_TAG');
  });

  it.each([
    ['', 'TLV_TRUNCATED'],
    ['62', 'TLV_TRUNCATED'],
    ['6204010203', 'TLV_TRUNCATED'],
    ['620101ff', 'TLV_TRAILING'],
    ['6280', 'TLV_LENGTH'],
    ['628501', 'TLV_LENGTH'],
    ['1f', 'TLV_TRUNCATED'],
    ['1f8080', 'TLV_TAG'],
    ['1f818181', 'TLV_TAG'],
    ['ff00', 'TLV_TAG'],
  ])('%s → %s', (bytes, code) => {
    const r = decodeBerTlv(hex(bytes));
    expect(r.ok ? 'ok' : r.error.code).toBe(code);
  });
});
