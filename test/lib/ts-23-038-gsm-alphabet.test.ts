import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../../src/lib/hex.js';
import {
  packSeptets,
  septetsToText,
  textToSeptets,
  unpackSeptets,
} from '../../src/lib/ts-23-038-gsm-alphabet.js';

describe('GSM 7-bit default alphabet (TS 23.038 §6.2.1)', () => {
  it('maps the characters that differ from ASCII', () => {
    expect(textToSeptets('@£$¥')).toEqual([0x00, 0x01, 0x02, 0x03]);
    expect(textToSeptets('_¤¡§¿à')).toEqual([0x11, 0x24, 0x40, 0x5f, 0x60, 0x7f]);
  });

  it('uses the extension table for €, [, ], {, }, |, ^, ~, \\', () => {
    expect(textToSeptets('€[')).toEqual([0x1b, 0x65, 0x1b, 0x3c]);
    const back = septetsToText([0x1b, 0x65, 0x1b, 0x3c]);
    expect(back.ok && back.value).toBe('€[');
  });

  it('refuses characters outside the alphabet and bad escapes', () => {
    expect(textToSeptets('中')).toBeUndefined();
    const esc = septetsToText([0x1b, 0x41]);
    expect(esc.ok ? 'ok' : esc.error.code).toBe('GSM7_ESCAPE');
    const high = septetsToText([0x80]);
    expect(high.ok ? 'ok' : high.error.code).toBe('GSM7_RANGE');
  });

  it('packs "hellohello" into E8329BFD4697D9EC37 (the usual packing example)', () => {
    const septets = textToSeptets('hellohello') ?? [];
    expect(toHex(packSeptets(septets))).toBe('e8329bfd4697d9ec37');
    const text = septetsToText(unpackSeptets(hex('e8329bfd4697d9ec37')));
    expect(text.ok && text.value).toBe('hellohello');
  });

  it('drops the all-zero spare septet of 7 characters in 7 bytes', () => {
    const packed = packSeptets(textToSeptets('abcdefg') ?? []);
    expect(packed.length).toBe(7);
    const text = septetsToText(unpackSeptets(packed));
    expect(text.ok && text.value).toBe('abcdefg');
  });
});
