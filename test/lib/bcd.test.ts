import { describe, expect, it } from 'vitest';
import { decodePlmn, decodeTbcd, encodePlmn, encodeTbcd, isDigits, isPlmn } from '../../src/lib/bcd.js';
import { hex, toHex } from '../../src/lib/hex.js';

describe('TBCD (TS 29.002 / TS 24.008 §10.5.1.4)', () => {
  it.each([
    ['001010000000001', '00010100000000f1'],
    ['1234', '2143'],
    ['12345', '2143f5'],
    ['', ''],
  ])('%s ⇄ %s', (digits, bytes) => {
    expect(toHex(encodeTbcd(digits))).toBe(bytes);
    const back = decodeTbcd(hex(bytes));
    expect(back.ok && back.value).toBe(digits);
  });

  it('refuses a filler nibble before the end and non-decimal nibbles', () => {
    const filler = decodeTbcd(hex('f121'));
    expect(filler.ok ? 'ok' : filler.error.code).toBe('TBCD_FILLER');
    const digit = decodeTbcd(hex('a1'));
    expect(digit.ok ? 'ok' : digit.error.code).toBe('TBCD_DIGIT');
  });
});

describe('PLMN identity (TS 24.008 §10.5.1.13)', () => {
  // Byte examples from ofono simutil.c / libosmocore gsm48.c (shared/reference/mfa-stk.md B1.3).
  it.each([
    ['001', '01', '00f110'],
    ['001', '011', '001110'],
    ['262', '01', '62f210'],
    ['440', '10', '44f001'],
    ['310', '410', '130014'],
  ])('%s-%s ⇄ %s', (mcc, mnc, bytes) => {
    expect(toHex(encodePlmn({ mcc, mnc }))).toBe(bytes);
    const back = decodePlmn(hex(bytes));
    expect(back.ok && back.value).toEqual({ mcc, mnc });
  });

  it('refuses wrong lengths and non-decimal digits', () => {
    const short = decodePlmn(hex('00f1'));
    expect(short.ok ? 'ok' : short.error.code).toBe('PLMN_LENGTH');
    const bad = decodePlmn(hex('a0f110'));
    expect(bad.ok ? 'ok' : bad.error.code).toBe('PLMN_DIGIT');
  });

  it('isPlmn and isDigits validate text', () => {
    expect(isPlmn({ mcc: '001', mnc: '01' })).toBe(true);
    expect(isPlmn({ mcc: '01', mnc: '01' })).toBe(false);
    expect(isDigits('12345', 5, 5)).toBe(true);
    expect(isDigits('1234a', 5, 5)).toBe(false);
  });
});
