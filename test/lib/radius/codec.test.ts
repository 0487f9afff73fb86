import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../../../src/lib/hex.js';
import { decodeValue, encodeValue, formatIpv6, parseIpv6 } from '../../../src/lib/radius/attribute-values.js';
import { describeAttributes, getAttribute, getAttributes } from '../../../src/lib/radius/attributes.js';
import {
  encodeRequest,
  encodeResponse,
  verifyMessageAuthenticator,
} from '../../../src/lib/radius/rfc-2865-authenticators.js';
import {
  decodePacket,
  encodePacket,
  RADIUS_CODES,
  radiusCodeName,
} from '../../../src/lib/radius/rfc-2865-packet.js';
import {
  accountingOctets,
  octetsWithGigawords,
  splitOctets,
} from '../../../src/lib/radius/rfc-2869-gigawords.js';
import { eapMessageAttributes, reassembleEapMessage } from '../../../src/lib/radius/rfc-3579-eap-message.js';
import {
  decodeUserLocationInfo,
  encodeUserLocationInfo,
} from '../../../src/lib/radius/ts-29-061-location.js';

const header = (code: number, length: number) => {
  const b = new Uint8Array(20);
  b[0] = code;
  b[2] = length >> 8;
  b[3] = length & 0xff;
  return b;
};
const packet = (...attrs: number[][]) => {
  const body = attrs.flat();
  return new Uint8Array([...header(1, 20 + body.length), ...body]);
};
const errorCode = <T>(r: { ok: true; value: T } | { ok: false; error: { code: string } }) =>
  r.ok ? 'ok' : r.error.code;

describe('RADIUS packet decoder (RFC 2865 §3, §5)', () => {
  it('refuses datagrams shorter than the header, lengths outside 20–4096 and truncated packets', () => {
    expect(errorCode(decodePacket(new Uint8Array(19)))).toBe('RADIUS_TRUNCATED');
    expect(errorCode(decodePacket(header(1, 19)))).toBe('RADIUS_LENGTH');
    expect(errorCode(decodePacket(header(1, 4097)))).toBe('RADIUS_LENGTH');
    expect(errorCode(decodePacket(header(1, 24)))).toBe('RADIUS_TRUNCATED');
  });

  it('ignores octets past Length (padding)', () => {
    const p = decodePacket(new Uint8Array([...packet([1, 3, 0x41]), 0xde, 0xad]));
    expect(p.ok && p.value.attributes).toEqual([{ type: 1, value: Uint8Array.of(0x41) }]);
  });

  it('reports attribute lengths below 2, cut headers and overruns with their offset', () => {
    expect(decodePacket(packet([1, 1]))).toMatchObject({
      ok: false,
      error: { code: 'RADIUS_ATTRIBUTE_LENGTH', offset: 21 },
    });
    expect(decodePacket(packet([1, 3, 0x41], [5]))).toMatchObject({
      ok: false,
      error: { code: 'RADIUS_ATTRIBUTE_TRUNCATED', offset: 23 },
    });
    expect(decodePacket(packet([1, 9, 0x41]))).toMatchObject({
      ok: false,
      error: { code: 'RADIUS_ATTRIBUTE_OVERRUN' },
    });
  });

  it('keeps unknown attributes and unknown-vendor or malformed VSAs raw', () => {
    const p = decodePacket(
      packet(
        [200, 4, 1, 2],
        [26, 10, 0, 0, 0, 9, 1, 4, 0x61, 0x62], // Cisco (9): not a vendor we decode
        [26, 9, 0, 0, 0x28, 0xaf, 1, 9, 0x61], // 3GPP sub-attribute overruns its VSA
        [26, 5, 0, 0, 0x28], // shorter than a vendor id
      ),
    );
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.value.attributes.map((a) => [a.type, a.vendorId])).toEqual([
      [200, undefined],
      [26, undefined],
      [26, undefined],
      [26, undefined],
    ]);
    expect(describeAttributes(p.value)[0]).toEqual({ name: 'Attr-200', value: '0102' });
  });

  it('splits a VSA with several sub-attributes of a known vendor', () => {
    const p = decodePacket(packet([26, 15, 0, 0, 0x28, 0xaf, 10, 3, 0x35, 12, 3, 0x30, 21, 3, 6]));
    expect(p.ok && p.value.attributes).toEqual([
      { type: 10, vendorId: 10415, value: Uint8Array.of(0x35) },
      { type: 12, vendorId: 10415, value: Uint8Array.of(0x30) },
      { type: 21, vendorId: 10415, value: Uint8Array.of(6) },
    ]);
  });

  it('reports a malformed value of a known attribute as a typed error, not an exception', () => {
    const p = decodePacket(packet([8, 5, 1, 2, 3], [1, 4, 0xff, 0xfe]));
    if (!p.ok) throw new Error('decode failed');
    expect(getAttribute(p.value, 'Framed-IP-Address')).toMatchObject({
      ok: false,
      error: { code: 'RADIUS_VALUE_LENGTH' },
    });
    expect(getAttribute(p.value, 'User-Name')).toMatchObject({
      ok: false,
      error: { code: 'RADIUS_TEXT_UTF8' },
    });
    expect(getAttribute(p.value, 'NAS-Port')).toBeUndefined();
    expect(describeAttributes(p.value)[0]?.value).toBe('(invalid: RADIUS_VALUE_LENGTH)');
  });

  it('names codes', () => {
    expect(radiusCodeName(43)).toBe('CoA-Request');
    expect(radiusCodeName(99)).toBeUndefined();
  });
});

describe('RADIUS packet encoder', () => {
  it('refuses values over 253 octets (247 for vendor values) and packets over 4096', () => {
    const long = new Uint8Array(254);
    expect(
      errorCode(
        encodePacket({
          code: 1,
          identifier: 0,
          authenticator: new Uint8Array(16),
          attributes: [{ type: 79, value: long }],
        }),
      ),
    ).toBe('RADIUS_ATTRIBUTE_TOO_LONG');
    expect(
      errorCode(
        encodePacket({
          code: 1,
          identifier: 0,
          authenticator: new Uint8Array(16),
          attributes: [{ type: 1, vendorId: 10415, value: long.subarray(0, 248) }],
        }),
      ),
    ).toBe('RADIUS_ATTRIBUTE_TOO_LONG');
    const many = Array.from({ length: 17 }, () => ({ type: 79, value: new Uint8Array(253) }));
    expect(
      errorCode(
        encodePacket({ code: 1, identifier: 0, authenticator: new Uint8Array(16), attributes: many }),
      ),
    ).toBe('RADIUS_PACKET_TOO_LONG');
  });

  it('refuses responses through encodeRequest and requests through encodeResponse', () => {
    expect(
      errorCode(encodeRequest({ code: RADIUS_CODES['Access-Accept'], identifier: 1, attributes: [] }, 's')),
    ).toBe('RADIUS_NOT_A_REQUEST');
    expect(
      errorCode(
        encodeResponse(
          { code: RADIUS_CODES['Access-Request'], identifier: 1, attributes: [] },
          new Uint8Array(16),
          's',
        ),
      ),
    ).toBe('RADIUS_NOT_A_RESPONSE');
  });

  it('wraps each vendor attribute in its own Vendor-Specific attribute', () => {
    const bytes = encodeRequest(
      {
        code: RADIUS_CODES['Access-Request'],
        identifier: 1,
        attributes: [
          ['3GPP-NSAPI', '5'],
          ['WISPr-Bandwidth-Max-Up', 128000],
        ],
      },
      's',
      new Uint8Array(16),
    );
    expect(bytes.ok && toHex(bytes.value.subarray(20))).toBe('1a09000028af0a03351a0c0000372a07060001f400');
  });

  it('treats two Message-Authenticators or a short one as invalid', () => {
    const two = packet([80, 18, ...new Uint8Array(16)], [80, 18, ...new Uint8Array(16)]);
    expect(verifyMessageAuthenticator(two, 's')).toBe('invalid');
    expect(verifyMessageAuthenticator(packet([80, 6, 1, 2, 3, 4]), 's')).toBe('invalid');
    expect(verifyMessageAuthenticator(packet([1, 3, 0x41]), 's')).toBe('absent');
  });
});

describe('EAP-Message fragmentation (RFC 3579 §3.1)', () => {
  it('splits 600 octets into 253 + 253 + 94 and joins them again', () => {
    const eap = Uint8Array.from({ length: 600 }, (_, i) => i & 0xff);
    const attrs = eapMessageAttributes(eap);
    expect(attrs.map((a) => a.value.length)).toEqual([253, 253, 94]);
    const joined = reassembleEapMessage({
      attributes: [{ type: 1, value: new Uint8Array(1) }, ...attrs, { type: 80, value: new Uint8Array(16) }],
    });
    expect(joined.ok && toHex(joined.value ?? new Uint8Array())).toBe(toHex(eap));
  });

  it('returns undefined without EAP-Message and an error when the pieces are not consecutive', () => {
    expect(reassembleEapMessage({ attributes: [] })).toEqual({ ok: true, value: undefined });
    const [a, b] = eapMessageAttributes(new Uint8Array(300));
    if (!a || !b) throw new Error('split');
    expect(
      errorCode(reassembleEapMessage({ attributes: [a, { type: 1, value: new Uint8Array(1) }, b] })),
    ).toBe('RADIUS_EAP_MESSAGE_SPLIT');
  });
});

describe('Gigawords (RFC 2869 §5.1–5.2)', () => {
  it('combines and splits 64-bit totals', () => {
    expect(octetsWithGigawords(5, 2)).toBe(2 * 2 ** 32 + 5);
    expect(splitOctets(2 * 2 ** 32 + 5)).toEqual({ octets: 5, gigawords: 2 });
    expect(() => splitOctets(-1)).toThrow(RangeError);
  });

  it('reads input/output totals from an Accounting-Request', async () => {
    const bytes = encodeRequest(
      {
        code: RADIUS_CODES['Accounting-Request'],
        identifier: 1,
        attributes: [
          ['Acct-Input-Octets', 10],
          ['Acct-Input-Gigawords', 1],
          ['Acct-Output-Octets', 20],
        ],
      },
      's',
    );
    const p = bytes.ok ? decodePacket(bytes.value) : undefined;
    if (!p?.ok) throw new Error('encode/decode failed');
    expect(accountingOctets(p.value)).toEqual({ ok: true, value: { input: 2 ** 32 + 10, output: 20 } });
    expect(accountingOctets({ attributes: [] })).toEqual({ ok: true, value: {} });
    expect(errorCode(accountingOctets({ attributes: [{ type: 52, value: new Uint8Array(4) }] }))).toBe(
      'RADIUS_GIGAWORDS_ALONE',
    );
    expect(getAttributes(p.value, 'Acct-Input-Octets')).toEqual({ ok: true, value: [10] });
  });
});

describe('3GPP-User-Location-Info (TS 29.061 §16.4.7.2, TS 29.060 §7.7.51)', () => {
  const cases: [string, unknown][] = [
    ['0032f4030921b8e8', { type: 'CGI', mcc: '234', mnc: '30', lac: 0x0921, ci: 0xb8e8 }],
    ['001300710921b8e8', { type: 'CGI', mcc: '310', mnc: '170', lac: 0x0921, ci: 0xb8e8 }],
    ['0132f210426d1bc0', { type: 'SAI', mcc: '232', mnc: '01', lac: 0x426d, sac: 0x1bc0 }],
    ['0232f210426d07ff', { type: 'RAI', mcc: '232', mnc: '01', lac: 0x426d, rac: 7 }],
    ['8032f2100001', { type: 'TAI', mcc: '232', mnc: '01', tac: 1 }],
    ['8142f01000abcdef', { type: 'ECGI', mcc: '240', mnc: '01', eci: 0xabcdef }],
    [
      '8262f2200001' + '62f2300fffffff',
      {
        type: 'TAI+ECGI',
        mcc: '262',
        mnc: '02',
        tac: 1,
        eci: 0xfffffff,
        ecgiPlmn: { mcc: '262', mnc: '03' },
      },
    ],
    ['870102', { type: 'unknown', geographicLocationType: 0x87, data: Uint8Array.of(1, 2) }],
  ];
  it.each(cases)('%s decodes and encodes back', (bytes, value) => {
    expect(decodeUserLocationInfo(hex(bytes))).toEqual({ ok: true, value });
    const encoded = encodeUserLocationInfo(value as never);
    expect(encoded.ok && toHex(encoded.value)).toBe(bytes);
  });

  it('refuses wrong lengths, bad PLMN digits and out-of-range fields', () => {
    expect(errorCode(decodeUserLocationInfo(new Uint8Array()))).toBe('ULI_EMPTY');
    expect(errorCode(decodeUserLocationInfo(hex('8232f21000')))).toBe('ULI_LENGTH');
    expect(errorCode(decodeUserLocationInfo(hex('80aaf2100001')))).toBe('ULI_PLMN');
    expect(errorCode(encodeUserLocationInfo({ type: 'ECGI', mcc: '232', mnc: '01', eci: 2 ** 28 }))).toBe(
      'ULI_FIELD',
    );
    expect(errorCode(encodeUserLocationInfo({ type: 'TAI', mcc: '23', mnc: '01', tac: 1 }))).toBe('ULI_PLMN');
  });
});

describe('3GPP-MS-TimeZone and other value types', () => {
  it('decodes a negative offset (UTC−5, no DST) and rejects reserved values', () => {
    expect(decodeValue('tz', hex('0a00'))).toEqual({ ok: true, value: { offsetMinutes: -300, dstHours: 0 } });
    expect(encodeValue('tz', { offsetMinutes: 540, dstHours: 0 })).toEqual({ ok: true, value: hex('6300') });
    expect(errorCode(decodeValue('tz', hex('0a03')))).toBe('MS_TIMEZONE_DST');
    expect(errorCode(encodeValue('tz', { offsetMinutes: 7, dstHours: 0 }))).toBe('MS_TIMEZONE_RANGE');
  });

  it('parses and prints IPv6 in RFC 5952 form', () => {
    const b = parseIpv6('::ffff:192.0.2.1');
    expect(b && formatIpv6(b)).toBe('::ffff:c000:201');
    expect(parseIpv6('1:2:3:4:5:6:7:8:9')).toBeUndefined();
    expect(parseIpv6('1::2::3')).toBeUndefined();
    expect(formatIpv6(hex('20010db8000000010000000000000001'))).toBe('2001:db8:0:1::1');
    expect(errorCode(decodeValue('ipv6prefix', hex('0081')))).toBe('RADIUS_VALUE_RANGE');
    expect(errorCode(decodeValue('ipv6prefix', hex('0040')))).toBe('RADIUS_VALUE_LENGTH');
  });

  it('checks integer ranges and tag rules', () => {
    expect(errorCode(encodeValue('integer', 2 ** 32))).toBe('RADIUS_VALUE_RANGE');
    expect(errorCode(encodeValue('tagged-integer', { tag: 32, value: 1 }))).toBe('RADIUS_VALUE_RANGE');
    expect(decodeValue('tagged-text', hex('3432'))).toEqual({ ok: true, value: { tag: 0, value: '42' } });
    expect(decodeValue('integer64', hex('0000000100000002'))).toEqual({ ok: true, value: 2n ** 32n + 2n });
  });
});
