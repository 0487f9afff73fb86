// ES5 data (SGP.02 §4.1.1): the C-APDUs byte for byte against the layouts of esim.md §1.5 (njiwa's
// CreateISDP/Enable/Disable/Delete/AuditEIS/NotificationConfirmation transactions), and every codec
// round-tripped. The fuzz of the decoders is in test/card/euicc/fuzz.test.ts.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../../src/lib/hex.js';
import {
  createIsdpApdu,
  DGI,
  decodeConfirmation,
  decodeConfirmationResponse,
  decodeDgi,
  decodeIsdpStatusList,
  decodeNotification,
  decodeSmsrAddressing,
  deleteProfileApdu,
  disableProfileApdu,
  enableProfileApdu,
  encodeConfirmationResponse,
  encodeDgi,
  encodeIsdpStatus,
  encodeNotification,
  encodeSmsrAddressing,
  getEcasdCertificateApdu,
  getStatusApdu,
  notificationConfirmationApdu,
  setFallbackAttributeApdu,
  updateSmsrAddressingApdu,
} from '../../src/lib/sgp-02-es5.js';

const AID = 'A0000005591010FFFFFFFF8900001100';
const ELF = 'A0000005591010FFFFFFFF8900000D00';
const MOD = 'A0000005591010FFFFFFFF8900000E00';
const up = (b: Uint8Array) => toHex(b).toUpperCase();

describe('ES5 C-APDUs (esim.md §1.5)', () => {
  it.each([
    [
      'CreateISDP: INSTALL [install + make selectable], privileges 80C000, C9 SCP03 i=70, no token',
      createIsdpApdu({ loadFileAid: ELF, moduleAid: MOD, isdpAid: AID }),
      `80E60C003F 10${ELF} 10${MOD} 10${AID} 03 80C000 06 C90481020370 00`,
    ],
    [
      'CreateISDP with a memory quota: EF 04 83 02 <mem>',
      createIsdpApdu({ loadFileAid: ELF, moduleAid: MOD, isdpAid: AID, memory: 0x2000 }),
      `80E60C0045 10${ELF} 10${MOD} 10${AID} 03 80C000 0C C90481020370 EF0483022000 00`,
    ],
    ['EnableProfile: STORE DATA 3A03 {4F AID}', enableProfileApdu(AID), `80E2880015 3A03 12 4F10${AID}`],
    ['DisableProfile: STORE DATA 3A04 {4F AID}', disableProfileApdu(AID), `80E2880015 3A04 12 4F10${AID}`],
    [
      'SetFallbackAttribute: STORE DATA 3A05 {4F AID}',
      setFallbackAttributeApdu(AID),
      `80E2880015 3A05 12 4F10${AID}`,
    ],
    ['DeleteProfile: DELETE P2 40 {4F AID}', deleteProfileApdu(AID), `80E4004012 4F10${AID}`],
    ['AuditEIS: GET DATA BF30 {5C 02 7F21}', getEcasdCertificateApdu(), '80CABF30045C027F2100'],
    ['AuditEIS: GET STATUS 40 02 {4F AID}', getStatusApdu(AID), `80F2400212 4F10${AID} 00`],
    [
      'NotificationConfirmation: STORE DATA P1 89, 3A08 {4E 02 seq}',
      notificationConfirmationApdu(0x0102),
      '80E28900073A08044E020102',
    ],
    [
      'UpdateSMSRAddressingParameters: STORE DATA 3A07 {80 SM-SR address}',
      updateSmsrAddressingApdu({ destination: '4912345678' }),
      '80E288000B 3A07 08 8006 91 9421436587',
    ],
  ])('%s', (_name, apdu, expected) => {
    expect(up(apdu)).toBe(expected.replace(/ /g, ''));
  });
});

describe('codecs round-trip', () => {
  it('DGI: short and long (FF + two octets) lengths', () => {
    for (const n of [0, 1, 254, 255, 300]) {
      const value = new Uint8Array(n).fill(7);
      const bytes = encodeDgi(DGI.ENABLE_PROFILE, value);
      expect(decodeDgi(bytes)).toEqual({ ok: true, value: { tag: 0x3a03, value } });
    }
    expect(decodeDgi(hex('3A030500'))).toMatchObject({ ok: false, error: { code: 'DGI_LENGTH' } });
  });

  it('the default notification E1 {4C EID, 4D type, 2F AID, [14 IMEI], 4E seq}', () => {
    const n = {
      eid: '89049032123451234512345678901235',
      type: 2,
      aid: AID,
      seq: 0x1234,
      imei: '358408000000019',
    };
    const bytes = encodeNotification(n);
    expect(bytes.ok && up(bytes.value)).toBe(
      `E1 35 4C10 89049032123451234512345678901235 4D01 02 2F10 ${AID} 1408 53488000000010F9 4E02 1234`.replace(
        / /g,
        '',
      ),
    );
    expect(bytes.ok && decodeNotification(bytes.value)).toEqual({ ok: true, value: n });
  });

  it('notification properties: any type, sequence number and AID round-trip', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.uint8Array({ minLength: 5, maxLength: 16 }),
        (type, seq, aid) => {
          const n = { eid: '89049032123451234512345678901235', type, aid: up(aid), seq };
          const bytes = encodeNotification(n);
          expect(bytes.ok && decodeNotification(bytes.value)).toEqual({ ok: true, value: n });
        },
      ),
    );
  });

  it('confirmation, its answer, GET STATUS records and the SM-SR addressing', () => {
    expect(decodeConfirmation(hex('4E02FFFE'))).toEqual({ ok: true, value: 0xfffe });
    expect(decodeConfirmationResponse(encodeConfirmationResponse([AID]))).toEqual({ ok: true, value: [AID] });
    expect(up(encodeConfirmationResponse([]))).toBe('8000');
    const status = { aid: AID, lifeCycle: 0x1f, fallback: true, memoryGranted: 70000, memoryRemaining: 0 };
    expect(decodeIsdpStatusList(encodeIsdpStatus(status))).toEqual({ ok: true, value: [status] });
    const u = { destination: '4912345678', smsc: '491', other: hex('B30100') };
    expect(decodeSmsrAddressing(encodeSmsrAddressing(u))).toEqual({ ok: true, value: u });
  });
});
