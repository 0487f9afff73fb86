// ES5 data (SGP.02 §4.1.1): the C-APDUs byte for byte against the layouts of esim.md §1.5 (njiwa's
// CreateISDP/Enable/Disable/Delete/AuditEIS/NotificationConfirmation transactions), and every codec
// round-tripped. The fuzz of the decoders is in test/card/euicc/fuzz.test.ts.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeKeyEstablishmentResponse,
  encodeKeyEstablishmentCrt,
  isdrKeysetParameters,
} from '../../src/crypto/sgp-02-key-establishment.js';
import { hex, toHex } from '../../src/lib/hex.js';
import {
  createIsdpApdu,
  DGI,
  decodeConfirmation,
  decodeConfirmationResponse,
  decodeDgi,
  decodeIsdpStatusList,
  decodeKeysetDeletion,
  decodeNotification,
  decodeRandomChallenge,
  decodeSmsrAddressing,
  deleteProfileApdu,
  disableProfileApdu,
  enableProfileApdu,
  encodeConfirmationResponse,
  encodeDgi,
  encodeIsdpStatus,
  encodeNotification,
  encodeSmsrAddressing,
  establishIsdrKeySetApdu,
  establishIsdrKeySetCertificateApdu,
  finaliseIsdrHandoverApdu,
  getEcasdCertificateApdu,
  getStatusApdu,
  isdrKeysetReference,
  notificationConfirmationApdu,
  setFallbackAttributeApdu,
  updateSmsrAddressingApdu,
} from '../../src/lib/sgp-02-es5.js';
import golden from '../fixtures/esim/sgp-02-key-establishment.json' with { type: 'json' };

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

describe('SM-SR change: EstablishISDRKeySet and FinaliseISDRhandover (esim.md §1.5, §3.2, §4.2)', () => {
  // The ISD-R case of the golden key-establishment vectors (test/fixtures/esim, made by an independent
  // implementation): SCP80 three keys, KVN 02, initial counter 1, HostID + SIN + SDIN.
  const isdr = golden.cases.find((c) => c.parameters.kvn === 2) as (typeof golden.cases)[number];

  it('3A01: STORE DATA 80 E2 09 00 {3A01 L CERT.SR.ECDSA} (DGI, more blocks, answer expected)', () => {
    const cert = hex('7F2108930101420101F00100');
    expect(up(establishIsdrKeySetCertificateApdu(cert))).toBe('80E209000F3A010C7F2108930101420101F00100');
  });

  it('3A02: STORE DATA 80 E2 89 01 carrying the golden vector byte for byte, and its answer decoded', () => {
    const data = hex(isdr.storeData);
    expect(up(establishIsdrKeySetApdu(data))).toBe(`80E28901${up(Uint8Array.of(data.length))}${up(data)}`);
    expect(decodeKeyEstablishmentResponse(hex(isdr.response))).toEqual({
      ok: true,
      value: { derivationRandom: hex(isdr.derivationRandom), receipt: hex(isdr.receipt) },
    });
  });

  it('isdrKeysetParameters gives the CRT of the golden ISD-R vector (SCP80: 95 10, KID 01, 91 = 5-octet counter)', () => {
    const h = isdr.parameters.hostIdentification as { hostId: string; sin: string; sdin: string };
    const p = isdrKeysetParameters({ kind: 'scp80', kvn: 2, initialCounter: 1 });
    const crt = encodeKeyEstablishmentCrt({
      ...p,
      hostIdentification: { hostId: hex(h.hostId), sin: hex(h.sin), sdin: hex(h.sdin) },
    });
    expect(toHex(crt)).toBe(isdr.crt);
    // SCP81: one key (5C), KVN 40-4F, no counter.
    expect(up(encodeKeyEstablishmentCrt(isdrKeysetParameters({ kind: 'scp81', kvn: 0x40 })))).toBe(
      'A6159002030295015C8001888101108201018301409100',
    );
    expect(() => isdrKeysetParameters({ kind: 'scp80', kvn: 0x40 })).toThrow(RangeError);
    expect(() => isdrKeysetParameters({ kind: 'scp81', kvn: 0x0f })).toThrow(RangeError);
    expect(() => isdrKeysetParameters({ kind: 'scp80', kvn: 1, initialCounter: 2 ** 40 })).toThrow(
      RangeError,
    );
  });

  it("FinaliseISDRhandover: DELETE 80 E4 00 00 {F2 03 KVN KIDfirst KIDlast}… as whatever_ty's example", () => {
    const refs = [isdrKeysetReference(1), { kvn: 0x41, kidFirst: 1, kidLast: 2 }];
    expect(up(finaliseIsdrHandoverApdu(refs))).toBe('80E400000AF203010103F203410102');
    expect(decodeKeysetDeletion(hex('F203010103F203410102'))).toEqual({ ok: true, value: refs });
    expect(isdrKeysetReference(0x40)).toEqual({ kvn: 0x40, kidFirst: 1, kidLast: 1 });
  });

  it('decoders refuse what is not RC or key references, with typed errors', () => {
    const rc = hex('000102030405060708090a0b0c0d0e0f');
    expect(decodeRandomChallenge(hex(`8510${toHex(rc)}`))).toEqual({ ok: true, value: rc });
    for (const bad of ['850F000102030405060708090a0b0c0d0e', `8610${toHex(rc)}`, `8510${toHex(rc)}8500`])
      expect(decodeRandomChallenge(hex(bad))).toMatchObject({
        ok: false,
        error: { code: 'ES5_RANDOM_CHALLENGE' },
      });
    for (const bad of ['', 'F2020101', 'F203010301', '4F03010103'])
      expect(decodeKeysetDeletion(hex(bad))).toMatchObject({ ok: false, error: { code: 'ES5_KEYSET' } });
    expect(() => establishIsdrKeySetCertificateApdu(new Uint8Array(300))).toThrow(RangeError);
  });
});
