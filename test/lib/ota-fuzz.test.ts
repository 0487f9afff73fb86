// Threat: anyone who can get an SMS to the device (an SMS-PP download reaches the card as raw bytes)
// or to the platform (a forged MO SMS arriving over SMPP) sends malformed TPDUs, secured packets and
// remote command scripts to crash the decoder or make it accept what it should not. Every decoder of
// the OTA layer must answer with a value or a typed failure for any bytes, and whatever decodes must
// re-encode to the same bytes (so no two encodings mean one thing).
//
// Seeds are the published vectors; inputs are mutations of them plus random bytes (test/helpers/fuzz.ts,
// seeded: FUZZ_SEED reruns a failure).

import { describe, expect, it } from 'vitest';
import type { OtaKeySet } from '../../src/crypto/ts-102-225-scp80.js';
import { hex, toHex } from '../../src/lib/hex.js';
import {
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
  reassembleSecuredPacket,
} from '../../src/lib/ts-23-040-sms-tpdu.js';
import {
  decodeSpi,
  encodeSpi,
  openCommandPacket,
  openResponsePacket,
  secureCommandPacket,
  secureResponsePacket,
} from '../../src/lib/ts-102-225-secured-packet.js';
import {
  decodeCommandScript,
  decodeCompactResponse,
  decodeResponseScript,
  encodeCommandScript,
  encodeCompactResponse,
  encodeResponseScript,
} from '../../src/lib/ts-102-226-remote-command.js';
import { fuzz } from '../helpers/fuzz.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

const AES: OtaKeySet = {
  kic: { algorithm: 'aes-cbc', key: hex('200102030405060708090a0b0c0d0e0f') },
  kid: { algorithm: 'aes-cmac', key: hex('201102030405060708090a0b0c0d0e0f') },
};
const DES3: OtaKeySet = {
  kic: { algorithm: '3des-2key-cbc', key: hex('300102030405060708090a0b0c0d0e0f') },
  kid: { algorithm: '3des-2key-cbc-mac', key: hex('301102030405060708090a0b0c0d0e0f') },
};

const tpduSeeds = [
  '400881214365877ff6227052000000000302700000201506193535b00011ae733256918d050b87c94fbfe12e4dc402f262c41cf67f2f',
  '400881214365877ff6227052000000000302700000281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058',
  '0100099110325476f840f40c54657374204d657373616765',
  '51070a9118214365877ff6a71b027100001612b0001100000000000000b5bcd6353a421fae016132',
  '04059121437500f6227052000000001005000301020141424344454647484950',
].map(hex);

const commandSeeds = [
  '00201506193535b00011ae733256918d050b87c94fbfe12e4dc402f262c41cf67f2f',
  '00201506093535b00011c49ac91ab8159ba5b83a54fb6385e0a5e31694f8b215fafc',
  '00281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058',
  '0015' + '0d00193535b0000000000000000000a40000023f00',
  '001d' + '1502193535b00000000000000000072ea17bdb72060e00a40000023f00',
].map(hex);

const scriptSeeds = [
  'aa14220880f24002024f0000220800a40004023f0000',
  'ae80220700a4000c023f00220700a4000c022fe2220500b000000a0000',
  'ab0780010123026132',
  'af80230290002302900023' + '0c988812010000408608149000' + '0000',
  'ab06800101900101',
  '016132',
].map(hex);

const same = (a: Uint8Array, b: Uint8Array) => expect(toHex(a)).toBe(toHex(b));

describe('OTA decoders never throw and re-encode what they accept', () => {
  it('SMS TPDUs, addresses, user data headers, time stamps: 40,000 inputs', () => {
    let accepted = 0;
    const r = fuzz(
      tpduSeeds,
      40_000,
      (input) => {
        const deliver = decodeSmsDeliver(input);
        if (deliver.ok) {
          accepted++;
          const again = encodeSmsDeliver(deliver.value);
          expect(again.ok).toBe(true);
          if (again.ok) same(again.value, input);
          if (deliver.value.userData.header) reassembleSecuredPacket([deliver.value.userData]);
        }
        const submit = decodeSmsSubmit(input);
        if (submit.ok) {
          accepted++;
          const again = encodeSmsSubmit(submit.value);
          expect(again.ok).toBe(true);
          if (again.ok) same(again.value, input);
        }
        const address = decodeAddressAt(input, 0);
        if (address.ok) {
          const again = encodeAddress(address.value.address);
          expect(again.ok).toBe(true);
          if (again.ok) same(again.value, input.subarray(0, address.value.next));
        }
        const ud = decodeUserData(input, true);
        if (ud.ok) same(encodeUserData(ud.value), input);
        const ts = decodeTimeStamp(input.subarray(0, 7));
        if (ts.ok) same(encodeTimeStamp(ts.value), input.subarray(0, 7));
      },
      { seed: SEED },
    );
    expect(r.runs).toBe(40_000);
    expect(accepted).toBeGreaterThan(1_000);
  });

  it('command packets opened by the card: 30,000 inputs, statuses only from Table 5', () => {
    let opened = 0;
    const r = fuzz(
      commandSeeds,
      30_000,
      (input) => {
        const keys = input[5] === 0x22 ? AES : DES3;
        const result = openCommandPacket(input, {
          keysFor: () => keys,
          lastCounter: () => 0,
          minimumSecurity: () => ({ checksum: false, ciphering: false, counter: 'none' }),
        });
        if (!result.ok) {
          expect(result.error.status).toBeGreaterThanOrEqual(0x01);
          expect(result.error.status).toBeLessThanOrEqual(0x0a);
          return;
        }
        opened++;
        const { header, counter, data } = result.value;
        const again = secureCommandPacket({ ...header, counter, keys, data });
        expect(again.ok).toBe(true);
        if (again.ok) same(again.value, input);
      },
      { seed: SEED + 1 },
    );
    expect(r.runs).toBe(30_000);
    // Only the unprotected seed can survive a mutation; CC-protected ones must not.
    expect(opened).toBeGreaterThan(0);
  });

  it('response packets opened by the platform and SPI octets: 10,000 inputs', () => {
    const seeds = [
      '001c12b000118bb989492c632529326a2f4681feb37c825bc9021c9f6d0b',
      '001612b0001100000000000000b5bcd6353a421fae016132',
      '000e0ab0001100000000000000016132',
    ].map(hex);
    const r = fuzz(
      seeds,
      10_000,
      (input) => {
        for (const [integrity, ciphered] of [
          ['cc', true],
          ['cc', false],
          ['none', false],
        ] as const) {
          const security = { integrity, ciphered, keys: DES3, kic: 0x35, kid: 0x35 };
          const por = openResponsePacket(input, security);
          if (!por.ok) continue;
          const again = secureResponsePacket({ ...security, ...por.value });
          expect(again.ok).toBe(true);
          if (again.ok) same(again.value, input);
        }
        const spi = decodeSpi(input.subarray(0, 2));
        if (spi.ok) same(encodeSpi(spi.value), input.subarray(0, 2));
      },
      { seed: SEED + 2 },
    );
    expect(r.runs).toBe(10_000);
  });

  it('remote command scripts and responses: 30,000 inputs', () => {
    let accepted = 0;
    const r = fuzz(
      scriptSeeds,
      30_000,
      (input) => {
        const command = decodeCommandScript(input);
        if (command.ok) {
          accepted++;
          same(encodeCommandScript(command.value), input);
        }
        const response = decodeResponseScript(input);
        if (response.ok) {
          accepted++;
          same(encodeResponseScript(response.value), input);
        }
        const compact = decodeCompactResponse(input);
        if (compact.ok) same(encodeCompactResponse(compact.value), input);
      },
      { seed: SEED + 3 },
    );
    expect(r.runs).toBe(30_000);
    expect(accepted).toBeGreaterThan(500);
  });
});
