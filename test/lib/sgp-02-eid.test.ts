// EID check digits (SGP.02 §2.2.2): the vectors of pySim tests/unittests/test_euicc.py (esim.md §5.5),
// properties over random bodies, and a fuzz of the byte decoder (total: a value or a typed error).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../../src/lib/hex.js';
import {
  decodeEid,
  eidCheckDigits,
  encodeEid,
  isEid,
  parseEid,
  withEidCheckDigits,
} from '../../src/lib/sgp-02-eid.js';

describe('EID check digits (pySim test_euicc.py vectors)', () => {
  it.each([
    '89049032123451234512345678901235',
    '89086030202200000022000023022943',
    '89044045116727494800000004479366',
  ])('%s is valid', (eid) => {
    expect(isEid(eid)).toBe(true);
    expect(eidCheckDigits(eid.slice(0, 30))).toEqual({ ok: true, value: eid.slice(30) });
  });

  it('replaces wrong check digits and completes 30 digits', () => {
    expect(withEidCheckDigits('89049032123451234512345678901200')).toEqual({
      ok: true,
      value: '89049032123451234512345678901235',
    });
    expect(withEidCheckDigits('890490321234512345123456789012')).toEqual({
      ok: true,
      value: '89049032123451234512345678901235',
    });
  });

  it('refuses wrong check digits, wrong length, non-digits and a prefix other than 89', () => {
    expect(parseEid('89049032123451234512345678901234')).toMatchObject({
      ok: false,
      error: { code: 'EID_CHECK_DIGITS' },
    });
    expect(parseEid('8904903212345123451234567890123')).toMatchObject({ error: { code: 'EID_FORMAT' } });
    expect(parseEid('8904903212345123451234567890123a')).toMatchObject({ error: { code: 'EID_FORMAT' } });
    const other = withEidCheckDigits('790490321234512345123456789012');
    expect(other.ok && parseEid(other.value)).toMatchObject({ error: { code: 'EID_FORMAT' } });
    expect(withEidCheckDigits('12')).toMatchObject({ error: { code: 'EID_FORMAT' } });
  });

  it('encodes two digits per byte, as GET DATA 5A returns it (esim.md §5.2 GET EID response)', () => {
    const bytes = encodeEid('89882119900000000000000000000005');
    // The R-MAC vector's GET EID answer: BF3E 12 5A 10 8988211990000000 0000000000000005.
    expect(bytes.ok && toHex(bytes.value)).toBe('89882119900000000000000000000005');
    expect(decodeEid(hex('89882119900000000000000000000005'))).toEqual({
      ok: true,
      value: '89882119900000000000000000000005',
    });
  });
});

const body = fc.stringMatching(/^89\d{28}$/);

describe('EID properties', () => {
  it('every body completed with its check digits is valid, and round-trips through 16 bytes', () => {
    fc.assert(
      fc.property(body, (b) => {
        const eid = withEidCheckDigits(b);
        expect(eid.ok).toBe(true);
        if (!eid.ok) return;
        expect(isEid(eid.value)).toBe(true);
        const bytes = encodeEid(eid.value);
        expect(bytes.ok && decodeEid(bytes.value)).toEqual({ ok: true, value: eid.value });
      }),
    );
  });

  it('changing one digit of a valid EID is always detected (MOD 97-10 catches single substitutions)', () => {
    fc.assert(
      fc.property(body, fc.nat(31), fc.integer({ min: 1, max: 9 }), (b, at, delta) => {
        const eid = withEidCheckDigits(b);
        if (!eid.ok) return;
        const digit = (Number(eid.value[at]) + delta) % 10;
        const changed = eid.value.slice(0, at) + String(digit) + eid.value.slice(at + 1);
        expect(parseEid(changed).ok).toBe(false);
      }),
    );
  });

  it('decodeEid is total: any bytes give a value or a typed error (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 20 }), (bytes) => {
        const r = decodeEid(bytes);
        if (r.ok) expect(isEid(r.value)).toBe(true);
        else expect(r.error.code).toMatch(/^EID_(FORMAT|CHECK_DIGITS)$/);
      }),
      { numRuns: 20_000 },
    );
  });

  it('parseEid is total over any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const r = parseEid(text);
        expect(r.ok || /^EID_/.test(r.error.code)).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });
});
