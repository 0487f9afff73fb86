// The GP `7F21` certificate codec (SGP.02 §4.1.3.1; esim.md §4.1): exact bytes of a hand-built
// certificate, round trips, typed errors for each malformed field, and a total decoder under fuzzing.
// No published known-answer vector exists for GP certificates (esim.md §5.8), so the golden bytes
// below are written out field by field from the layout, not produced by the encoder.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/lib/ber-tlv.js';
import {
  decodeGpCertificate,
  decodeOid,
  encodeGpCertificate,
  encodeGpCertificateBody,
  encodeOid,
  type GpCertificateBody,
  gpCertificateSigningInput,
  gpDateOf,
  gpDateStart,
  isGpDate,
} from '../../src/lib/gp-certificate.js';
import { mutate, randomBytes, seededRandom } from '../helpers/fuzz.js';

const h = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const point = h(`04${'11'.repeat(32)}${'22'.repeat(32)}`);
const sig = h('ab'.repeat(64));

const BODY: GpCertificateBody = {
  serial: h('0102'),
  caId: h('a1a2a3a4'),
  subjectId: encodeOid('1.3.6.1.4.1.99999.1.1'),
  keyUsage: h('88'),
  effectiveDate: '20261201',
  expirationDate: '20311130',
  roleByte: 0x01,
  authorityKeyId: h('a1a2a3a4'),
  publicKey: { point, curveRef: 0 },
};

// Written from the layout by hand: each line one TLV.
const GOLDEN_BODY = h(`
  93 02 0102
  42 04 a1a2a3a4
  5F20 0A 2b0601040186 8d1f 0101
  95 01 88
  5F25 04 20261201
  5F24 04 20311130
  73 09 C80101 C904a1a2a3a4
  7F49 46 B041 ${Buffer.from(point).toString('hex')} F00100
`);
const GOLDEN = concatBytes([
  h('7F2181'),
  Uint8Array.of(GOLDEN_BODY.length + 3 + 64),
  GOLDEN_BODY,
  h('5F3740'),
  sig,
]);

describe('GP certificate codec', () => {
  it('encodes the fields in the SGP.02 layout, byte for byte', () => {
    expect(Buffer.from(encodeGpCertificateBody(BODY)).toString('hex')).toBe(
      Buffer.from(GOLDEN_BODY).toString('hex'),
    );
    expect(Buffer.from(encodeGpCertificate(BODY, sig)).toString('hex')).toBe(
      Buffer.from(GOLDEN).toString('hex'),
    );
  });

  it('decodes every field and the signed bytes (93..7F49) exactly', () => {
    const d = decodeGpCertificate(GOLDEN);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.value.role).toBe('sm-dp');
    expect(decodeOid(d.value.subjectId)).toBe('1.3.6.1.4.1.99999.1.1');
    expect(d.value.effectiveDate).toBe('20261201');
    expect(d.value.expirationDate).toBe('20311130');
    expect(d.value.publicKey).toEqual({ point, curveRef: 0 });
    expect(d.value.signature).toEqual(sig);
    expect(d.value.signedData).toEqual(GOLDEN_BODY);
    const input = gpCertificateSigningInput(GOLDEN);
    expect(input.ok && input.value).toEqual(GOLDEN_BODY);
  });

  it('reads the role from C8: 01 SM-DP, 02 SM-SR, none ECASD, other unknown', () => {
    const role = (roleByte: number | undefined) => {
      const d = decodeGpCertificate(encodeGpCertificate({ ...BODY, roleByte }, sig));
      return d.ok ? d.value.role : d.error.code;
    };
    expect(role(0x01)).toBe('sm-dp');
    expect(role(0x02)).toBe('sm-sr');
    expect(role(undefined)).toBe('ecasd');
    expect(role(0x07)).toBeUndefined();
  });

  it('keeps other discretionary data, and the optional effective date may be absent', () => {
    const body = { ...BODY, effectiveDate: undefined, otherDiscretionary: [{ tag: 0xc0, value: h('00') }] };
    const d = decodeGpCertificate(encodeGpCertificate(body, sig));
    expect(d.ok && d.value.otherDiscretionary).toEqual([{ tag: 0xc0, value: h('00') }]);
    expect(d.ok && d.value.effectiveDate).toBeUndefined();
  });

  const refusals: Array<[string, Uint8Array, string]> = [
    ['empty input', new Uint8Array(0), 'TLV_TRUNCATED'],
    ['another outer tag', concatBytes([h('7F22'), GOLDEN.subarray(2)]), 'GP_CERT_TAG'],
    ['bytes after the object', concatBytes([GOLDEN, h('00')]), 'TLV_TRAILING'],
    [
      'no signature',
      concatBytes([h('7F21'), Uint8Array.of(GOLDEN_BODY.length), GOLDEN_BODY]),
      'GP_CERT_MISSING',
    ],
    [
      'fields out of order',
      encodeRaw([
        ['42', 'a1'],
        ['93', '01'],
      ]),
      'GP_CERT_TAG',
    ],
    ['a date that is not BCD', swap(GOLDEN, '5f24042031113 0', '5f2404203111 3a'), 'GP_CERT_FIELD'],
    ['a date that does not exist', swap(GOLDEN, '5f240420311130', '5f240420310231'), 'GP_CERT_FIELD'],
    ['a compressed point', swap(GOLDEN, 'b04104', 'b04102'), 'GP_CERT_FIELD'],
    ['a two-byte curve reference', swapKey(GOLDEN), 'GP_CERT_FIELD'],
    [
      'a non-minimal length',
      concatBytes([h('7F2182'), h((GOLDEN.length - 4).toString(16).padStart(4, '0')), GOLDEN.subarray(4)]),
      'GP_CERT_FIELD',
    ],
  ];
  it.each(refusals)('refuses %s with a typed error', (_name, bytes, code) => {
    const d = decodeGpCertificate(bytes);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error.code).toBe(code);
  });

  it('property: any body round-trips exactly (decode ∘ encode = id, encode ∘ decode = id)', () => {
    const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
    const date = fc
      .date({
        min: new Date(Date.UTC(1990, 0, 1)),
        max: new Date(Date.UTC(2099, 11, 31)),
        noInvalidDate: true,
      })
      .map((d) => gpDateOf(d.getTime()));
    fc.assert(
      fc.property(
        bytes(1, 20),
        bytes(1, 20),
        bytes(1, 40),
        bytes(1, 2),
        fc.option(date, { nil: undefined }),
        date,
        fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
        bytes(1, 20),
        bytes(32, 32),
        bytes(32, 32),
        fc.integer({ min: 0, max: 8 }),
        bytes(1, 200),
        (
          serial,
          caId,
          subjectId,
          keyUsage,
          effectiveDate,
          expirationDate,
          roleByte,
          aki,
          x,
          y,
          curveRef,
          signature,
        ) => {
          const body: GpCertificateBody = {
            serial,
            caId,
            subjectId,
            keyUsage,
            effectiveDate,
            expirationDate,
            roleByte,
            authorityKeyId: aki,
            otherDiscretionary: [],
            publicKey: { point: concatBytes([h('04'), x, y]), curveRef },
          };
          const encoded = encodeGpCertificate(body, signature);
          const d = decodeGpCertificate(encoded);
          expect(d.ok).toBe(true);
          if (!d.ok) return;
          const { signature: s, role: _r, signedData, encoded: e, ...decodedBody } = d.value;
          expect(decodedBody).toEqual(body);
          expect(s).toEqual(signature);
          expect(signedData).toEqual(encodeGpCertificateBody(body));
          expect(encodeGpCertificate(decodedBody, s)).toEqual(e);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fuzz: 100,000 mutated and random inputs each give a certificate or a typed error, never a throw', () => {
    const random = seededRandom(0x7f21);
    const seeds = [
      GOLDEN,
      encodeGpCertificate({ ...BODY, roleByte: undefined, effectiveDate: undefined }, sig),
    ];
    const codes = new Set<string>();
    const problems: string[] = [];
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
    for (let i = 0; i < 100_000; i++) {
      const input =
        i % 10 === 0 ? randomBytes(random, 300) : mutate(random, seeds[i % seeds.length] as Uint8Array);
      const d = decodeGpCertificate(input);
      // A certificate that decodes is canonical: it re-encodes to the input.
      if (d.ok && !same(encodeGpCertificate(d.value, d.value.signature), input))
        problems.push(`not canonical #${i}`);
      if (!d.ok) {
        if (!/^(TLV|GP_CERT)_[A-Z_]+$/.test(d.error.code)) problems.push(`code ${d.error.code} #${i}`);
        codes.add(d.error.code);
      }
    }
    expect(problems).toEqual([]);
    expect(codes.size).toBeGreaterThan(4);
  });
});

describe('dates and OIDs', () => {
  it('YYYYMMDD dates are real calendar days, UTC', () => {
    expect(isGpDate('20240229')).toBe(true);
    expect(isGpDate('20230229')).toBe(false);
    expect(isGpDate('2024022')).toBe(false);
    expect(gpDateStart('20261207')).toBe(Date.UTC(2026, 11, 7));
    expect(gpDateOf(Date.UTC(2026, 11, 7, 23, 59))).toBe('20261207');
  });

  it('OIDs encode as DER content octets (X.690 §8.19 examples) and back', () => {
    expect(Buffer.from(encodeOid('1.2.840.113549')).toString('hex')).toBe('2a864886f70d');
    expect(Buffer.from(encodeOid('2.999.3')).toString('hex')).toBe('883703');
    expect(decodeOid(h('2a864886f70d'))).toBe('1.2.840.113549');
    expect(decodeOid(h('883703'))).toBe('2.999.3');
    expect(decodeOid(h('2a86'))).toBeUndefined();
    expect(decodeOid(h('2a8001'))).toBeUndefined();
    expect(() => encodeOid('1.40')).toThrow(RangeError);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 39 }),
        fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n }), { maxLength: 6 }),
        (a, b, rest) => {
          const oid = [a, b, ...rest].join('.');
          expect(decodeOid(encodeOid(oid))).toBe(oid);
        },
      ),
    );
  });
});

/** A 7F21 with the given raw [tag hex, value hex] TLVs (no validation). */
function encodeRaw(tlvs: Array<[string, string]>): Uint8Array {
  const inner = concatBytes(tlvs.map(([t, v]) => concatBytes([h(t), Uint8Array.of(h(v).length), h(v)])));
  return concatBytes([h('7F21'), Uint8Array.of(inner.length), inner]);
}

function swap(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const a = Buffer.from(bytes).toString('hex');
  const f = from.replace(/\s+/g, '').toLowerCase();
  if (!a.includes(f)) throw new Error(`${f} not found`);
  return h(a.replace(f, to.replace(/\s+/g, '').toLowerCase()));
}

/** The 7F49 with F0 02 0000 instead of F0 01 00 (lengths adjusted). */
function swapKey(bytes: Uint8Array): Uint8Array {
  const a = Buffer.from(bytes).toString('hex');
  return h(
    a
      .replace('7f4946', '7f4947')
      .replace('f00100', 'f0020000')
      .replace(/^7f2181../, (m) => `7f2181${(Number.parseInt(m.slice(6), 16) + 1).toString(16)}`),
  );
}
