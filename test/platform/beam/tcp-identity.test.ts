// The identity line of Beam's TCP → TCP/TCPS entry point: SORACOM's documented form and its test
// server's vector, the order of the pairs, what is left out, and values that could forge a pair.

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TCP_SIGNATURE_VERSION,
  tcpIdentityLine,
  tcpSignature,
  tcpStringToSign,
} from '../../../src/platform/beam/tcp-identity.js';

const ALL = { imei: true, imsi: true, msisdn: true, simId: true };
const NONE = { imei: false, imsi: false, msisdn: false, simId: false };
const SIM = {
  imei: '860000012345678',
  imsi: '295000012345678',
  msisdn: '819012345678',
  simId: '8942310000000000001',
};

describe('tcpSignature', () => {
  it("matches SORACOM's TCP test server vector (soracom/beamtest tcp/spec)", () => {
    // psk `topsecret`, string to sign `imsi=440101234567890 timestamp=1608251959862`.
    expect(tcpSignature('topsecret', 'imsi=440101234567890 timestamp=1608251959862')).toBe(
      '9b7c3587a10b94453127aa614bac55ca0d953f4a98f428a086114f67120a850b',
    );
  });

  it('is the same line as that vector when built from an IMSI-only configuration', () => {
    const line = tcpIdentityLine(
      { imei: null, imsi: '440101234567890', msisdn: null, simId: 'x' },
      { ...NONE, imsi: true },
      1608251959862,
      'topsecret',
    );
    expect(line).toBe(
      'imsi=440101234567890 timestamp=1608251959862;signature=9b7c3587a10b94453127aa614bac55ca0d953f4a98f428a086114f67120a850b version=20150901\n',
    );
  });
});

describe('tcpIdentityLine', () => {
  it('writes the pairs in the documented order imei, imsi, msisdn, simId, timestamp', () => {
    expect(tcpIdentityLine(SIM, ALL, 1445587157992)).toBe(
      'imei=860000012345678 imsi=295000012345678 msisdn=819012345678 simId=8942310000000000001 timestamp=1445587157992\n',
    );
  });

  it('sends no line at all when no identity is switched on (even with a psk)', () => {
    expect(tcpIdentityLine(SIM, NONE, 1, 'psk')).toBeUndefined();
    expect(tcpStringToSign(SIM, NONE, 1)).toBeUndefined();
  });

  it('leaves out what the network did not report, from the line and the signature', () => {
    const line = tcpIdentityLine({ ...SIM, imei: null, msisdn: null }, ALL, 7, 'k');
    const toSign = 'imsi=295000012345678 simId=8942310000000000001 timestamp=7';
    expect(line).toBe(
      `${toSign};signature=${createHash('sha256').update(`k${toSign}`).digest('hex')} version=${TCP_SIGNATURE_VERSION}\n`,
    );
  });

  it('refuses a value that could forge a pair or end the line', () => {
    // Threat: an identifier with a space, `=`, `;` or a line break would let the destination read
    // a pair (or a second line) Beam never vouched for.
    for (const imsi of ['1 imsi=2', '1;signature=0', '1\nimsi=2', 'a=b', '']) {
      if (imsi === '') {
        // An empty value is left out, like an unknown one.
        expect(tcpStringToSign({ ...SIM, imsi }, { ...NONE, imsi: true }, 1)).toBe('timestamp=1');
        continue;
      }
      expect(() => tcpIdentityLine({ ...SIM, imsi }, ALL, 1, 'k')).toThrow(/identity line/);
    }
  });

  it('always reads back as the values it was built from, and the signature recomputes (property)', () => {
    const value = fc.stringMatching(/^[0-9A-Za-z]{1,20}$/);
    fc.assert(
      fc.property(
        fc.record({ imei: fc.option(value), imsi: value, msisdn: fc.option(value), simId: value }),
        fc.record({ imei: fc.boolean(), imsi: fc.boolean(), msisdn: fc.boolean(), simId: fc.boolean() }),
        fc.nat({ max: 2 ** 45 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        (values, flags, ts, psk) => {
          const line = tcpIdentityLine(values, flags, ts, psk);
          if (!Object.values(flags).some(Boolean)) return line === undefined;
          expect(line?.endsWith('\n')).toBe(true);
          expect(line?.indexOf('\n')).toBe((line?.length ?? 0) - 1);
          const [toSign, rest] = (line as string).slice(0, -1).split(';');
          const m = /^signature=([0-9a-f]{64}) version=20150901$/.exec(rest ?? '');
          expect(m?.[1]).toBe(
            createHash('sha256')
              .update(psk + toSign)
              .digest('hex'),
          );
          const pairs = new Map((toSign as string).split(' ').map((p) => p.split('=') as [string, string]));
          expect(pairs.get('timestamp')).toBe(String(ts));
          for (const k of ['imei', 'imsi', 'msisdn', 'simId'] as const) {
            const v = values[k];
            expect(pairs.get(k)).toBe(flags[k] && v ? v : undefined);
          }
          return true;
        },
      ),
      { numRuns: 500 },
    );
  });
});
