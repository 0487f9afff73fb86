import { describe, expect, it } from 'vitest';
import {
  decodeComprehensionTlv,
  decodeComprehensionTlvList,
  encodeComprehensionTlv,
} from '../../src/lib/comprehension-tlv.js';
import { hex, toHex } from '../../src/lib/hex.js';

describe('COMPREHENSION-TLV (TS 101 220 §7.1.1)', () => {
  it('single-byte tags carry the CR flag in b8', () => {
    const a = decodeComprehensionTlv(hex('8103012601'));
    expect(a.ok && { tag: a.value.tag, cr: a.value.cr }).toEqual({ tag: 0x01, cr: true });
    const b = decodeComprehensionTlv(hex('0d0104'));
    expect(b.ok && { tag: b.value.tag, cr: b.value.cr }).toEqual({ tag: 0x0d, cr: false });
  });

  it('three-byte tags: 7F, CR in b16, 15-bit tag value', () => {
    const r = decodeComprehensionTlv(hex('7f80620100'));
    expect(r.ok && { tag: r.value.tag, cr: r.value.cr }).toEqual({ tag: 0x62, cr: true });
    expect(toHex(encodeComprehensionTlv(0x1234, false, Uint8Array.of(1)))).toBe('7f12340101');
    expect(toHex(encodeComprehensionTlv(0x62, true, new Uint8Array(0)))).toBe('e200');
  });

  it('long lengths use the 81 form', () => {
    const bytes = encodeComprehensionTlv(0x0b, true, new Uint8Array(200));
    expect(toHex(bytes.subarray(0, 3))).toBe('8b81c8');
    const r = decodeComprehensionTlv(bytes);
    expect(r.ok && r.value.value.length).toBe(200);
  });

  it('splits a sequence', () => {
    const r = decodeComprehensionTlvList(hex('810301260182028182'));
    expect(r.ok && r.value.map((t) => t.tag)).toEqual([0x01, 0x02]);
  });

  it.each([
    ['00', 'TLV_TAG'],
    ['80', 'TLV_TAG'],
    ['ff', 'TLV_TAG'],
    ['7f00', 'TLV_TRUNCATED'],
    ['7f000000', 'TLV_TAG'],
    ['8102', 'TLV_TRUNCATED'],
    ['81', 'TLV_TRUNCATED'],
    ['810100ff', 'TLV_TRAILING'],
  ])('%s → %s', (bytes, code) => {
    const r = decodeComprehensionTlv(hex(bytes));
    expect(r.ok ? 'ok' : r.error.code).toBe(code);
  });
});
