import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BEAM_SIGNATURE_VERSION,
  beamSignature20151001,
  beamStringToSign,
} from '../../src/crypto/soracom-beam-signature.js';

// soracom.md §5.2: the documented vector (PSK `mysecretkey`, IMEI, IMSI and timestamp headers).
const VECTOR = {
  psk: 'mysecretkey',
  headers: {
    'X-Soracom-IMSI': '295000012345678',
    'X-Soracom-IMEI': '860000012345678',
    'X-Soracom-Timestamp': '1445587157992',
  },
  stringToSign:
    'mysecretkeyx-soracom-imei=860000012345678x-soracom-imsi=295000012345678x-soracom-timestamp=1445587157992',
  signature: '95c8e34d68e2bd76502c1e403108dc1bd7008964c31081d0415adb9f21a721a5',
} as const;

describe('SORACOM Beam signature 20151001', () => {
  it('matches the documented vector (lower-case hex)', () => {
    expect(BEAM_SIGNATURE_VERSION).toBe('20151001');
    expect(beamStringToSign(VECTOR.psk, VECTOR.headers)).toBe(VECTOR.stringToSign);
    expect(beamSignature20151001(VECTOR.psk, VECTOR.headers)).toBe(VECTOR.signature);
  });

  it('leaves the signature headers and non-Soracom headers out, whatever their case', () => {
    const withExtras = {
      ...VECTOR.headers,
      'X-Soracom-Signature': 'ignored',
      'x-soracom-signature-version': '20151001',
      'Content-Type': 'text/plain',
    };
    expect(beamSignature20151001(VECTOR.psk, withExtras)).toBe(VECTOR.signature);
  });

  it('is independent of header order', () => {
    const reversed = Object.fromEntries(Object.entries(VECTOR.headers).reverse());
    expect(beamSignature20151001(VECTOR.psk, reversed)).toBe(VECTOR.signature);
  });

  it('agrees with sha256sum on the same string (a second implementation)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.stringMatching(/^[0-9]{15}$/),
        fc.stringMatching(/^[0-9]{13}$/),
        (psk, imsi, ts) => {
          const headers = { 'X-Soracom-IMSI': imsi, 'X-Soracom-Timestamp': ts };
          const text = `${psk}x-soracom-imsi=${imsi}x-soracom-timestamp=${ts}`;
          const out = execFileSync('sha256sum', { input: Buffer.from(text, 'utf8') }).toString();
          expect(beamSignature20151001(psk, headers)).toBe(out.slice(0, 64));
        },
      ),
      { numRuns: 20 },
    );
  });
});
