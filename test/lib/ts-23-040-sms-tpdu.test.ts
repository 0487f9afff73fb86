// TS 23.040 TPDUs, addresses, UDH and concatenation against pySim (tests/unittests/test_ota.py,
// test_sms.py; esim.md §5.3, §5.6) and the TS 102 384 / ofono SEND SHORT MESSAGE TPDU (mfa-stk.md B1.4).

import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../../src/lib/hex.js';
import {
  countsSeptets,
  decodeAddressAt,
  decodeSmsDeliver,
  decodeSmsSubmit,
  decodeTimeStamp,
  decodeUserData,
  encodeAddress,
  encodeSmsDeliver,
  encodeSmsSubmit,
  encodeTimeStamp,
  encodeUserData,
  IEI,
  INFORMATION_ELEMENTS,
  internationalAddress,
  reassembleSecuredPacket,
  type SmsSubmit,
  segmentSecuredPacket,
  simDataDownload,
  type UserData,
} from '../../src/lib/ts-23-040-sms-tpdu.js';

/** pySim SmsOtaTestCase encoded_tpdu: OA 12345678 (TON unknown, ISDN), SCTS 22705200000000, TP-UDL 3. */
const DELIVERS = [
  '400881214365877ff6227052000000000302700000201506193535b00011ae733256918d050b87c94fbfe12e4dc402f262c41cf67f2f',
  '400881214365877ff6227052000000000302700000201506093535b00011c49ac91ab8159ba5b83a54fb6385e0a5e31694f8b215fafc',
  '400881214365877ff6227052000000000302700000201506013535b000113190be334900f52b025f3f7eddfe868e96ebf310023b7769',
  '400881214365877ff6227052000000000302700000281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058',
];

describe('addresses (TS 23.040 §9.1.2.5)', () => {
  it('05 91 2143f5 is the international number 12345 (pySim test_sms.py)', () => {
    const r = decodeAddressAt(hex('05912143f5'), 0);
    expect(r.ok && r.value.address).toEqual({ kind: 'digits', ton: 1, npi: 1, digits: '12345' });
    expect(r.ok && r.value.next).toBe(5);
    const e = encodeAddress(internationalAddress('12345'));
    expect(e.ok && toHex(e.value)).toBe('05912143f5');
  });

  it('* # a b c are semi-octets A … E; an even number of digits has no filler', () => {
    const e = encodeAddress({ kind: 'digits', ton: 2, npi: 9, digits: '*#1abc' });
    expect(e.ok && toHex(e.value)).toBe('06a9bac1ed');
    const d = decodeAddressAt(e.ok ? e.value : new Uint8Array(), 0);
    expect(d.ok && d.value.address).toEqual({ kind: 'digits', ton: 2, npi: 9, digits: '*#1abc' });
  });

  it('refuses a filler inside the digits, a missing filler, bit 8 clear and overlong values', () => {
    for (const bad of ['0491214f', '0391214365', '0511214365f5', '1591' + '11'.repeat(11), '0891214365']) {
      expect(decodeAddressAt(hex(bad), 0).ok, bad).toBe(false);
    }
    expect(encodeAddress(internationalAddress('12x')).ok).toBe(false);
  });
});

describe('user data header (TS 23.040 §9.2.3.24)', () => {
  it('declares the IEIs it gives meaning to, each with its bytes', () => {
    for (const ie of INFORMATION_ELEMENTS) {
      expect(ie.spec).toMatch(/^TS 23\.040 §9\.2\.3\.24/);
      const bytes = hex(ie.example);
      const ud = decodeUserData(Uint8Array.of(bytes.length, ...bytes), true);
      if (!ud.ok) throw new Error(ud.error.message);
      expect(ud.value.header?.map((e) => [e.iei, e.data.length])).toEqual([[ie.iei, ie.dataLength]]);
      expect(toHex(encodeUserData(ud.value))).toBe(toHex(Uint8Array.of(bytes.length, ...bytes)));
    }
  });

  it('027100: one IE 71; 0571007001ff: IE 71 then IE 70 with one octet (pySim test_sms.py)', () => {
    const one = decodeUserData(hex('027100'), true);
    expect(one.ok && one.value.header?.map((e) => [e.iei, toHex(e.data)])).toEqual([[0x71, '']]);
    const two = decodeUserData(hex('0571007001ff'), true);
    expect(two.ok && two.value.header?.map((e) => [e.iei, toHex(e.data)])).toEqual([
      [0x71, ''],
      [0x70, 'ff'],
    ]);
    expect(decodeUserData(hex('037003ff'), true).ok).toBe(false);
  });
});

describe('SMS-DELIVER (TS 23.040 §9.2.2.1): pySim SIM data download TPDUs', () => {
  for (const tpdu of DELIVERS) {
    it(`${tpdu.slice(0, 40)}…: decodes, TP-UDL 3 kept as carried, re-encodes byte for byte`, () => {
      const d = decodeSmsDeliver(hex(tpdu));
      if (!d.ok) throw new Error(d.error.message);
      const v = d.value;
      expect(v.originatingAddress).toEqual({ kind: 'digits', ton: 0, npi: 1, digits: '12345678' });
      expect([v.protocolIdentifier, v.dataCodingScheme]).toEqual([0x7f, 0xf6]);
      expect(decodeTimeStamp(v.serviceCentreTimeStamp)).toEqual({
        ok: true,
        value: { year: 22, month: 7, day: 25, hour: 0, minute: 0, second: 0, timeZoneQuarters: 0 },
      });
      expect(v.moreMessagesToSend).toBe(true);
      expect(v.userDataLength).toBe(3);
      expect(v.userData.header).toEqual([{ iei: IEI.COMMAND_PACKET, data: new Uint8Array(0) }]);
      expect(toHex(v.userData.body)).toBe(tpdu.slice(tpdu.indexOf('027000') + 6));
      const again = encodeSmsDeliver(v);
      expect(again.ok && toHex(again.value)).toBe(tpdu);
    });
  }

  it('the builder writes the true TP-UDL (0x25 = 3 + 34) and differs from pySim only there', () => {
    const d = decodeSmsDeliver(hex(DELIVERS[0] ?? ''));
    if (!d.ok) throw new Error(d.error.message);
    const built = encodeSmsDeliver(
      simDataDownload({
        originatingAddress: d.value.originatingAddress,
        serviceCentreTimeStamp: d.value.serviceCentreTimeStamp,
        userData: d.value.userData,
      }),
    );
    const expected = (DELIVERS[0] ?? '').replace('0000000003027000', '0000000025027000');
    expect(built.ok && toHex(built.value)).toBe(expected);
  });

  it('refuses a TP-UDL promising more octets than present, and another TP-MTI', () => {
    const tpdu = hex(DELIVERS[0] ?? '');
    const long = tpdu.slice();
    long[19] = 0x40;
    expect(decodeSmsDeliver(long).ok).toBe(false);
    expect(decodeSmsDeliver(Uint8Array.of(0x41, ...tpdu.subarray(1))).ok).toBe(false);
  });
});

describe('SMS-SUBMIT (TS 23.040 §9.2.2.2)', () => {
  it('the TPDU of the TS 102 384 SEND SHORT MESSAGE example: DA 012345678, PID 40, DCS F4, "Test Message"', () => {
    const bytes = hex('0100099110325476f840f40c54657374204d657373616765');
    const d = decodeSmsSubmit(bytes);
    if (!d.ok) throw new Error(d.error.message);
    expect(d.value.destinationAddress).toEqual({ kind: 'digits', ton: 1, npi: 1, digits: '012345678' });
    expect([d.value.messageReference, d.value.protocolIdentifier, d.value.dataCodingScheme]).toEqual([
      0, 0x40, 0xf4,
    ]);
    expect(d.value.validityPeriod).toEqual({ format: 'none' });
    expect(new TextDecoder().decode(d.value.userData.body)).toBe('Test Message');
    const e = encodeSmsSubmit(d.value);
    expect(e.ok && toHex(e.value)).toBe(toHex(bytes));
  });

  it('a PoR as SMS-SUBMIT with UDH 02 71 00 and a relative validity period round-trips', () => {
    const por = hex('027100001612b0001100000000000000b5bcd6353a421fae016132').subarray(3);
    const submit: SmsSubmit = {
      type: 'submit',
      rejectDuplicates: false,
      statusReportRequest: false,
      replyPath: false,
      messageReference: 7,
      destinationAddress: internationalAddress('8112345678'),
      protocolIdentifier: 0x7f,
      dataCodingScheme: 0xf6,
      validityPeriod: { format: 'relative', value: 0xa7 },
      userDataLength: 3 + por.length,
      userData: { header: [{ iei: IEI.RESPONSE_PACKET, data: new Uint8Array(0) }], body: por },
    };
    const e = encodeSmsSubmit(submit);
    if (!e.ok) throw new Error(e.error.message);
    expect(toHex(e.value.subarray(0, 16))).toBe('5107' + '0a91' + '1821436587' + '7ff6a7' + '1b' + '027100');
    const d = decodeSmsSubmit(e.value);
    expect(d.ok && toHex(d.value.userData.body)).toBe(toHex(por));
    expect(d.ok && d.value.userDataLength).toBe(27);
  });
});

describe('TP-DCS alphabet (TS 23.038 §4)', () => {
  it('F6 and F4 count octets, 00 and F0 septets, 08 (UCS2) octets, a compressed 7-bit message octets', () => {
    expect([0xf6, 0xf4, 0x00, 0xf0, 0x08, 0x20, 0xc0, 0xe0].map(countsSeptets)).toEqual([
      false,
      false,
      true,
      true,
      false,
      false,
      true,
      false,
    ]);
  });
});

describe('time stamp (TS 23.040 §9.2.3.11)', () => {
  it('semi-octets are swapped; the time zone sign is bit 4 of the last octet', () => {
    const t = { year: 26, month: 12, day: 7, hour: 6, minute: 5, second: 59, timeZoneQuarters: -20 };
    expect(toHex(encodeTimeStamp(t))).toBe('6221706050950a');
    expect(decodeTimeStamp(encodeTimeStamp(t))).toEqual({ ok: true, value: t });
  });

  it('refuses a "minus zero" time zone, which would re-encode differently (found by the fuzz test)', () => {
    expect(decodeTimeStamp(hex('22705200000008')).ok).toBe(false);
    expect(decodeTimeStamp(hex('22705200000000')).ok).toBe(true);
  });
});

describe('secured packets over several SMS (esim.md §4.4)', () => {
  const packet = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);

  it('one SMS when it fits: UDH 02 70 00', () => {
    const s = segmentSecuredPacket(packet.subarray(0, 137), IEI.COMMAND_PACKET, 1);
    expect(s.ok && s.value.length).toBe(1);
    expect(s.ok && toHex(encodeUserData(s.value[0] as UserData).subarray(0, 3))).toBe('027000');
    expect(segmentSecuredPacket(packet.subarray(0, 138), IEI.COMMAND_PACKET, 1).ok && true).toBe(true);
  });

  it('first segment 07 70 00 00 03 ref n 01, then 05 00 03 ref n i, each at most 140 octets', () => {
    const s = segmentSecuredPacket(packet, IEI.COMMAND_PACKET, 0x5a);
    if (!s.ok) throw new Error(s.error.message);
    expect(s.value.length).toBe(3);
    const uds = s.value.map(encodeUserData);
    expect(toHex((uds[0] as Uint8Array).subarray(0, 8))).toBe('077000' + '00035a0301');
    expect(toHex((uds[1] as Uint8Array).subarray(0, 6))).toBe('0500035a0302');
    expect(toHex((uds[2] as Uint8Array).subarray(0, 6))).toBe('0500035a0303');
    for (const ud of uds) expect(ud.length).toBeLessThanOrEqual(140);
    expect(uds[0]?.length).toBe(140);
  });

  it('reassembles in any order and refuses missing, repeated or foreign segments', () => {
    const s = segmentSecuredPacket(packet, IEI.RESPONSE_PACKET, 9);
    if (!s.ok) throw new Error(s.error.message);
    const [a, b, c] = s.value as [UserData, UserData, UserData];
    const r = reassembleSecuredPacket([c, a, b]);
    expect(r.ok && [r.value.identifier, toHex(r.value.packet)]).toEqual([IEI.RESPONSE_PACKET, toHex(packet)]);
    expect(reassembleSecuredPacket([a, b]).ok).toBe(false);
    expect(reassembleSecuredPacket([a, b, b]).ok).toBe(false);
    const other = segmentSecuredPacket(packet, IEI.RESPONSE_PACKET, 10);
    expect(other.ok && reassembleSecuredPacket([a, b, other.value[2] as UserData]).ok).toBe(false);
    expect(reassembleSecuredPacket([{ body: packet }]).ok).toBe(false);
  });
});
