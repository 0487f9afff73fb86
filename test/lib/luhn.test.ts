import { describe, expect, it } from 'vitest';
import { hasValidLuhn, luhnCheckDigit } from '../../src/lib/luhn.js';

describe('Luhn (ISO/IEC 7812-1)', () => {
  it.each([
    // The Luhn example of ISO/IEC 7812-1 as usually quoted, the usual IMEI example, an ICCID body.
    ['7992739871', 3],
    ['49015420323751', 8],
    ['894944000000115531', 4],
  ])('check digit of %s is %i', (body, digit) => {
    expect(luhnCheckDigit(body)).toBe(digit);
    expect(hasValidLuhn(`${body}${digit}`)).toBe(true);
    expect(hasValidLuhn(`${body}${(digit + 1) % 10}`)).toBe(false);
  });

  it('refuses non-digits and too-short input', () => {
    expect(hasValidLuhn('')).toBe(false);
    expect(hasValidLuhn('0')).toBe(false);
    expect(hasValidLuhn('79927398a3')).toBe(false);
  });
});
