import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../../src/lib/hex.js';
import {
  decodeEfIccid,
  decodeEfImsi,
  decodeMobileIdentity,
  encodeEfIccid,
  encodeEfImsi,
  encodeMobileIdentity,
  formatMccMnc,
  iccidWithCheckDigit,
  imeiFromImeisv,
  imeiWithCheckDigit,
  isIccid,
  isImei,
  isImeisv,
  isImsi,
  parseImsi,
  parseMccMnc,
} from '../../src/lib/identities.js';

describe('IMSI (TS 23.003 §2)', () => {
  it('validates and splits', () => {
    expect(isImsi('001010123456789')).toBe(true);
    expect(isImsi('0010101234567890')).toBe(false);
    expect(isImsi('00101')).toBe(false);
    const parts = parseImsi('310410123456789', 3);
    expect(parts.ok && parts.value).toEqual({ mcc: '310', mnc: '410', msin: '123456789' });
    const bad = parseImsi('31a', 2);
    expect(bad.ok ? 'ok' : bad.error.code).toBe('IMSI_FORMAT');
  });

  it('EF.IMSI (TS 31.102 §4.2.2): pySim example 001010123456789 ⇄ 080910101032547698', () => {
    expect(toHex(encodeEfImsi('001010123456789'))).toBe('080910101032547698');
    const back = decodeEfImsi(hex('080910101032547698'));
    expect(back.ok && back.value).toBe('001010123456789');
  });

  it('EF.IMSI with an even digit count pads with FF', () => {
    const enc = encodeEfImsi('00101012345678');
    expect(toHex(enc)).toBe('0801101010325476f8');
    const back = decodeEfImsi(enc);
    expect(back.ok && back.value).toBe('00101012345678');
  });

  it('decodeEfImsi is total over malformed files', () => {
    for (const bytes of [
      'ffffffffffffffffff',
      '09091010103254769800',
      '000910101032547698',
      '08091010103254769a',
    ]) {
      const r = decodeEfImsi(hex(bytes));
      expect(r.ok).toBe(false);
    }
  });
});

describe('mobile identity (TS 24.008 §10.5.1.4)', () => {
  it('IMEI example 123456789012345 ⇄ 1a32547698103254 (TS 102 384)', () => {
    expect(toHex(encodeMobileIdentity('imei', '123456789012345'))).toBe('1a32547698103254');
    const back = decodeMobileIdentity(hex('1a32547698103254'));
    expect(back.ok && back.value).toEqual({ type: 'imei', digits: '123456789012345' });
  });

  it('IMEISV is even: type 3, F-filled last byte', () => {
    expect(toHex(encodeMobileIdentity('imeisv', '1234567890123456'))).toBe('1332547698103254f6');
  });

  it('refuses parity mismatch and unknown types', () => {
    const parity = decodeMobileIdentity(hex('1232547698103254'));
    expect(parity.ok ? 'ok' : parity.error.code).toBe('MOBILE_IDENTITY_PARITY');
    const type = decodeMobileIdentity(hex('1c'));
    expect(type.ok ? 'ok' : type.error.code).toBe('MOBILE_IDENTITY_TYPE');
    const empty = decodeMobileIdentity(new Uint8Array(0));
    expect(empty.ok ? 'ok' : empty.error.code).toBe('MOBILE_IDENTITY_EMPTY');
  });
});

describe('ICCID (E.118, EF.ICCID TS 102 221 §13.2)', () => {
  it('check digit and validation', () => {
    expect(iccidWithCheckDigit('894944000000115531')).toBe('8949440000001155314');
    expect(isIccid('8949440000001155314')).toBe(true);
    expect(isIccid('8949440000001155315')).toBe(false);
    expect(isIccid('894944000000115531')).toBe(false);
  });

  it('19 digits ⇄ 10 bytes ending in an F nibble', () => {
    const bytes = encodeEfIccid('8949440000001155314');
    expect(toHex(bytes)).toBe('989444000000115513f4');
    const back = decodeEfIccid(bytes);
    expect(back.ok && back.value).toBe('8949440000001155314');
  });

  it('20 digits fill all 10 bytes', () => {
    const iccid = iccidWithCheckDigit('8988211000000000000');
    const back = decodeEfIccid(encodeEfIccid(iccid));
    expect(back.ok && back.value).toBe(iccid);
  });

  it('refuses the wrong length', () => {
    const r = decodeEfIccid(hex('98'));
    expect(r.ok ? 'ok' : r.error.code).toBe('EF_ICCID_LENGTH');
  });
});

describe('IMEI and IMEISV (TS 23.003 §6)', () => {
  it('check digit over TAC + SNR: 49015420323751 → 8', () => {
    expect(imeiWithCheckDigit('49015420323751')).toBe('490154203237518');
    expect(isImei('490154203237518')).toBe(true);
    expect(isImei('490154203237519')).toBe(false);
  });

  it('IMEISV has 16 digits and maps to its IMEI', () => {
    expect(isImeisv('4901542032375101')).toBe(true);
    expect(isImeisv('490154203237510')).toBe(false);
    expect(imeiFromImeisv('4901542032375101')).toBe('490154203237518');
  });
});

describe('MCC+MNC text (TS 29.061 3GPP-IMSI-MCC-MNC)', () => {
  it('formats and parses', () => {
    expect(formatMccMnc({ mcc: '440', mnc: '10' })).toBe('44010');
    const three = parseMccMnc('310410');
    expect(three.ok && three.value).toEqual({ mcc: '310', mnc: '410' });
    const bad = parseMccMnc('3104');
    expect(bad.ok ? 'ok' : bad.error.code).toBe('MCC_MNC_FORMAT');
  });
});
