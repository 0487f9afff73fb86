import { describe, expect, it } from 'vitest';
import {
  encodeCommandApdu,
  encodeResponseApdu,
  parseCommandApdu,
  parseResponseApdu,
  swHex,
} from '../../src/card/iso-7816-4.js';
import { hex, toHex } from '../../src/lib/hex.js';

describe('command APDUs (ISO 7816-4 §5.1, short)', () => {
  it.each([
    ['case 1', '00200001', { data: '', le: undefined }],
    ['case 2', '00B0000009', { data: '', le: 9 }],
    ['case 2, Le 00 = 256', '00B0000000', { data: '', le: 0 }],
    ['case 3', '00A4000C023F00', { data: '3f00', le: undefined }],
    ['case 4', '00A40004023F0000', { data: '3f00', le: 0 }],
  ])('%s', (_name, bytes, expected) => {
    const r = parseCommandApdu(hex(bytes));
    if (!r.ok) throw new Error(r.error.message);
    expect({ data: toHex(r.value.data), le: r.value.le }).toEqual(expected);
    expect(
      toHex(encodeCommandApdu({ ...r.value, ...(r.value.le === undefined ? {} : { le: r.value.le }) })),
    ).toBe(bytes.toLowerCase());
  });

  it.each([
    ['', 'APDU_SHORT'],
    ['00A400', 'APDU_SHORT'],
    ['00A4000C053F00', 'APDU_LENGTH'],
    ['00A4000C013F0000FF', 'APDU_LENGTH'],
    ['00A40000000002', 'APDU_EXTENDED'],
  ])('%s → %s', (bytes, code) => {
    const r = parseCommandApdu(hex(bytes));
    expect(r.ok ? 'ok' : r.error.code).toBe(code);
  });

  it('refuses more than 255 bytes of data when encoding', () => {
    expect(() => encodeCommandApdu({ cla: 0, ins: 0xd6, p1: 0, p2: 0, data: new Uint8Array(256) })).toThrow(
      RangeError,
    );
  });
});

describe('response APDUs', () => {
  it('split data and status word', () => {
    const r = parseResponseApdu(hex('01029000'));
    expect(r.ok && { data: toHex(r.value.data), sw: swHex(r.value.sw) }).toEqual({
      data: '0102',
      sw: '9000',
    });
    expect(toHex(encodeResponseApdu(hex('01'), 0x6a82))).toBe('016a82');
    const short = parseResponseApdu(hex('90'));
    expect(short.ok ? 'ok' : short.error.code).toBe('RAPDU_SHORT');
  });
});
