// TS 102 225 / TS 31.115 secured packets against pySim's card-validated vectors (osmocom pySim
// tests/unittests/test_ota.py; esim.md §5.3): building reproduces each command packet byte for byte,
// opening it recovers the APDU, opening each PoR recovers status and data, and building the PoR from
// those gives the same bytes back. Then the refusals, each with its TS 102 225 Table 5 status.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OtaKeySet } from '../../src/crypto/ts-102-225-scp80.js';
import { hex, toHex } from '../../src/lib/hex.js';
import {
  type CommandHeader,
  DEFAULT_MINIMUM_SECURITY,
  decodeSpi,
  encodeSpi,
  MAX_COUNTER,
  type MinimumSecurityLevel,
  type OpenCommandOptions,
  openCommandPacket,
  openResponsePacket,
  porSecurityFor,
  porWanted,
  RESPONSE_STATUSES,
  ResponseStatus,
  readResponseTar,
  SPI_EXAMPLES,
  type Spi,
  secureCommandPacket,
  secureResponsePacket,
} from '../../src/lib/ts-102-225-secured-packet.js';
import { decodeCompactResponse } from '../../src/lib/ts-102-226-remote-command.js';

/** pySim OTA_KEYSET_SJA5_SAMPLES: KVN 3, 3DES two-key (KIc/KID byte 35). */
const SJA5_3DES: OtaKeySet = {
  kic: { algorithm: '3des-2key-cbc', key: hex('300102030405060708090a0b0c0d0e0f') },
  kid: { algorithm: '3des-2key-cbc-mac', key: hex('301102030405060708090a0b0c0d0e0f') },
};
/** pySim OTA_KEYSET_SJA5_AES128: KVN 2, AES-128 (KIc/KID byte 22). */
const SJA5_AES: OtaKeySet = {
  kic: { algorithm: 'aes-cbc', key: hex('200102030405060708090a0b0c0d0e0f') },
  kid: { algorithm: 'aes-cmac', key: hex('201102030405060708090a0b0c0d0e0f') },
};
/** pySim Test_SMS_3DES: KIC3/KID3 of card 8988211000000467285. */
const CARD_3DES: OtaKeySet = {
  kic: { algorithm: '3des-2key-cbc', key: hex('C21DD66ACAC13CB3BC8B331B24AFB57B') },
  kid: { algorithm: '3des-2key-cbc-mac', key: hex('12110C78E678C25408233076AA033615') },
};

const spi = (h: string): Spi => {
  const r = decodeSpi(hex(h));
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};

/** The vectors come from a card configured for "no counter"; everything else stays denied. */
const NO_COUNTER: MinimumSecurityLevel = { checksum: true, ciphering: false, counter: 'none' };
const OPEN_NOTHING: MinimumSecurityLevel = { checksum: false, ciphering: false, counter: 'none' };

const options = (keys: OtaKeySet, extra: Partial<OpenCommandOptions> = {}): OpenCommandOptions => ({
  keysFor: () => keys,
  lastCounter: () => 0,
  minimumSecurity: () => NO_COUNTER,
  ...extra,
});

const SJA5_VECTORS = [
  {
    name: '3DES-SJA5-CIPHERED-CC',
    keys: SJA5_3DES,
    kicKid: 0x35,
    spi: '0619',
    command: '00201506193535b00011ae733256918d050b87c94fbfe12e4dc402f262c41cf67f2f',
    por: '027100001c12b000118bb989492c632529326a2f4681feb37c825bc9021c9f6d0b',
  },
  {
    name: '3DES-SJA5-UNCIPHERED-CC',
    keys: SJA5_3DES,
    kicKid: 0x35,
    spi: '0609',
    command: '00201506093535b00011c49ac91ab8159ba5b83a54fb6385e0a5e31694f8b215fafc',
    por: '027100001612b0001100000000000000b5bcd6353a421fae016132',
  },
  {
    name: '3DES-SJA5-UNCIPHERED-NOCC',
    keys: SJA5_3DES,
    kicKid: 0x35,
    spi: '0601',
    command: '00201506013535b000113190be334900f52b025f3f7eddfe868e96ebf310023b7769',
    por: '027100000e0ab0001100000000000000016132',
  },
  {
    name: 'AES128-SJA5-CIPHERED-CC',
    keys: SJA5_AES,
    kicKid: 0x22,
    spi: '0619',
    command: '00281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058',
    por: '027100002412b00011ebc6b497e2cad7aedf36ace0e3a29b38853f0fe9ccde81913be5702b73abce1f',
  },
];
const TAR = hex('b00011');
const APDU = hex('00a40004023f00');

describe('SPI (TS 102 225 §5.1.1): declared examples', () => {
  for (const ex of SPI_EXAMPLES) {
    it(`${ex.hex}: ${ex.note}`, () => {
      expect(decodeSpi(hex(ex.hex))).toEqual({ ok: true, value: ex.value });
      expect(toHex(encodeSpi(ex.value))).toBe(ex.hex);
    });
  }

  it('every SPI without reserved bits round-trips; reserved bits are refused', () => {
    for (let v = 0; v <= 0xffff; v++) {
      const bytes = Uint8Array.of(v >> 8, v & 0xff);
      const r = decodeSpi(bytes);
      const reserved = (v & 0xe000) !== 0 || (v & 0x00c0) !== 0 || (v & 0x03) === 3;
      expect(r.ok).toBe(!reserved);
      if (r.ok) expect(toHex(encodeSpi(r.value))).toBe(toHex(bytes));
    }
  });
});

describe('response statuses (TS 102 225 §5.2.2 Table 5)', () => {
  it('are declared once each, 00 to 0C', () => {
    expect(RESPONSE_STATUSES.map((s) => s.status)).toEqual([...Array(13).keys()]);
    expect(ResponseStatus.TAR_UNKNOWN).toBe(0x09);
    expect(ResponseStatus.INSUFFICIENT_SECURITY_LEVEL).toBe(0x0a);
  });
});

describe('Command Packet: pySim SJA5 vectors (esim.md §5.3)', () => {
  for (const v of SJA5_VECTORS) {
    it(`${v.name}: building reproduces the packet`, () => {
      const built = secureCommandPacket({
        spi: spi(v.spi),
        kic: v.kicKid,
        kid: v.kicKid,
        tar: TAR,
        counter: 0,
        keys: v.keys,
        data: APDU,
      });
      expect(built.ok && toHex(built.value)).toBe(v.command);
    });

    it(`${v.name}: opening recovers TAR, counter and APDU`, () => {
      const opened = openCommandPacket(hex(v.command), options(v.keys));
      if (!opened.ok) throw new Error(opened.error.message);
      expect(toHex(opened.value.header.tar)).toBe('b00011');
      expect(opened.value.header.spi).toEqual(spi(v.spi));
      expect(opened.value.counter).toBe(0);
      expect(toHex(opened.value.data)).toBe('00a40004023f00');
      expect(opened.value.counterToStore).toBeUndefined();
    });
  }

  it('3DES ciphered without CC (pySim test_cmd_3des_ciphered, SPI 04 19) builds and opens', () => {
    const packet = '00180d04193535b00000e3ec80a849b554421276af3883927c20';
    const built = secureCommandPacket({
      spi: spi('0419'),
      kic: 0x35,
      kid: 0x35,
      tar: hex('b00000'),
      counter: 0,
      keys: CARD_3DES,
      data: hex('00a40000023f00'),
    });
    expect(built.ok && toHex(built.value)).toBe(packet);
    const opened = openCommandPacket(
      hex(packet),
      options(CARD_3DES, { minimumSecurity: () => OPEN_NOTHING }),
    );
    expect(opened.ok && toHex(opened.value.data)).toBe('00a40000023f00');
  });

  // pySim writes no CPL for unciphered packets (its encode_cmd prepends CPL only after ciphering); TS
  // 31.115 §4.2 always has one, so ours starts with CPL and the rest is pySim's bytes.
  it('3DES two-key CC only (SPI 02 19): pySim bytes after our CPL 001d', () => {
    const built = secureCommandPacket({
      spi: spi('0219'),
      kic: 0x35,
      kid: 0x35,
      tar: hex('b00000'),
      counter: 0,
      keys: CARD_3DES,
      data: hex('00a40000023f00'),
    });
    expect(built.ok && toHex(built.value)).toBe(
      '001d' + '1502193535b00000000000000000072ea17bdb72060e00a40000023f00',
    );
    const opened = openCommandPacket(built.ok ? built.value : new Uint8Array(), options(CARD_3DES));
    expect(opened.ok && toHex(opened.value.data)).toBe('00a40000023f00');
  });

  it('no security (SPI 00 19): pySim bytes after our CPL 0015; refused by the default minimum level', () => {
    const built = secureCommandPacket({
      spi: spi('0019'),
      kic: 0x35,
      kid: 0x35,
      tar: hex('b00000'),
      counter: 0,
      data: hex('00a40000023f00'),
    });
    const packet = built.ok ? built.value : new Uint8Array();
    expect(toHex(packet)).toBe('0015' + '0d00193535b0000000000000000000a40000023f00');
    const open = openCommandPacket(packet, options(CARD_3DES, { minimumSecurity: () => OPEN_NOTHING }));
    expect(open.ok && toHex(open.value.data)).toBe('00a40000023f00');
    const denied = openCommandPacket(packet, { keysFor: () => CARD_3DES, lastCounter: () => 0 });
    expect(!denied.ok && denied.error.status).toBe(ResponseStatus.INSUFFICIENT_SECURITY_LEVEL);
  });
});

describe('Response Packet (PoR): pySim vectors', () => {
  for (const v of SJA5_VECTORS) {
    const security = { ...porSecurityFor(spi(v.spi), 0), keys: v.keys, kic: v.kicKid, kid: v.kicKid };
    const por = hex(v.por);

    it(`${v.name}: opening the PoR gives status 00, one command, SW 6132`, () => {
      expect(toHex(por.subarray(0, 3))).toBe('027100');
      expect(readResponseTar(por.subarray(3))).toEqual({ ok: true, value: TAR });
      const opened = openResponsePacket(por.subarray(3), { ...security, udh: por.subarray(0, 3) });
      if (!opened.ok) throw new Error(opened.error.message);
      expect(opened.value.status).toBe(ResponseStatus.POR_OK);
      expect(opened.value.counter).toBe(0);
      expect(opened.value.authenticated).toBe(security.integrity === 'cc');
      const compact = decodeCompactResponse(opened.value.data);
      expect(compact.ok && compact.value.commands).toBe(1);
      expect(compact.ok && toHex(compact.value.statusWord)).toBe('6132');
      expect(compact.ok && compact.value.data.length).toBe(0);
    });

    it(`${v.name}: building the PoR reproduces the card's bytes`, () => {
      const built = secureResponsePacket({
        ...security,
        tar: TAR,
        counter: 0,
        status: 0,
        data: hex('016132'),
      });
      expect(built.ok && `027100${toHex(built.value)}`).toBe(v.por);
    });
  }

  const cardPors = [
    {
      name: 'ciphered + CC',
      por: '027100001c12b000119660ebdb81be189b5e4389e9e7ab2bc0954f963ad869ed7c',
      integrity: 'cc',
      ciphered: true,
    },
    {
      name: 'CC',
      por: '027100001612b000110000000000000055f47118381175fb01612f',
      integrity: 'cc',
      ciphered: false,
    },
    {
      name: 'no security',
      por: '027100000e0ab000110000000000000001612f',
      integrity: 'none',
      ciphered: false,
    },
  ] as const;
  for (const p of cardPors) {
    it(`card 8988211000000467285 PoR, ${p.name}: status 00, SW 612F`, () => {
      const opened = openResponsePacket(hex(p.por).subarray(3), {
        integrity: p.integrity,
        ciphered: p.ciphered,
        keys: CARD_3DES,
        kic: 0x35,
        kid: 0x35,
      });
      if (!opened.ok) throw new Error(opened.error.message);
      expect(opened.value.status).toBe(0);
      expect(toHex(opened.value.data)).toBe('01612f');
    });
  }

  it('a PoR whose data was changed fails its CC (pySim test_resp_3des_signed_err)', () => {
    const opened = openResponsePacket(hex('001612b000110000000000000055f47118381175fb02612f'), {
      integrity: 'cc',
      ciphered: false,
      keys: CARD_3DES,
      kic: 0x35,
      kid: 0x35,
    });
    expect(!opened.ok && opened.error.code).toBe('POR_CC_FAILED');
  });

  it('the UDH is part of the PoR CC (TS 31.115 §6): another UDH fails it', () => {
    const por = hex(SJA5_VECTORS[1]?.por ?? '');
    const opened = openResponsePacket(por.subarray(3), {
      integrity: 'cc',
      ciphered: false,
      keys: SJA5_3DES,
      kic: 0x35,
      kid: 0x35,
      udh: hex('027000'),
    });
    expect(!opened.ok && opened.error.code).toBe('POR_CC_FAILED');
  });
});

// Threat: anyone who can send an SMS to the device (or replay one it saw) tries to get a command
// executed by the card: replaying a recorded packet, changing its bytes, using a key it does not have,
// addressing another application, or downgrading the security the application demands. Each attempt
// is refused with its TS 102 225 status and without a counter to store.
describe('opening refuses, with the Table 5 status', () => {
  const SPI_HIGHER = { ...spi('0619'), counter: 'higher' as const };
  const SPI_NEXT = { ...spi('0619'), counter: 'next' as const };
  const build = (over: Partial<Parameters<typeof secureCommandPacket>[0]> = {}) => {
    const r = secureCommandPacket({
      spi: SPI_HIGHER,
      kic: 0x22,
      kid: 0x22,
      tar: TAR,
      counter: 5,
      keys: SJA5_AES,
      data: APDU,
      ...over,
    });
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  };
  const cardOptions = (last: number, extra: Partial<OpenCommandOptions> = {}): OpenCommandOptions => ({
    keysFor: () => SJA5_AES,
    lastCounter: () => last,
    ...extra,
  });
  const statusOf = (bytes: Uint8Array, o: OpenCommandOptions) => {
    const r = openCommandPacket(bytes, o);
    return r.ok ? 'accepted' : r.error.status;
  };

  it('a fresh counter above the last is accepted and handed back to store', () => {
    const r = openCommandPacket(build(), cardOptions(4));
    expect(r.ok && r.value.counterToStore).toBe(5);
  });

  it('02 CNTR low: a replay of the same packet after its counter was stored', () => {
    expect(statusOf(build(), cardOptions(5))).toBe(ResponseStatus.COUNTER_LOW);
    expect(statusOf(build(), cardOptions(9))).toBe(ResponseStatus.COUNTER_LOW);
  });

  it('03 CNTR high: policy "+1" refuses a counter that skips values', () => {
    expect(statusOf(build({ spi: SPI_NEXT, counter: 7 }), cardOptions(5))).toBe(ResponseStatus.COUNTER_HIGH);
    const ok = openCommandPacket(build({ spi: SPI_NEXT, counter: 6 }), cardOptions(5));
    expect(ok.ok && ok.value.counterToStore).toBe(6);
  });

  it('04 CNTR blocked: the stored counter reached FFFFFFFFFF', () => {
    expect(statusOf(build({ counter: MAX_COUNTER }), cardOptions(MAX_COUNTER))).toBe(
      ResponseStatus.COUNTER_BLOCKED,
    );
  });

  it('01 CC failed: any flipped bit of the ciphered part or of the clear header', () => {
    const packet = build();
    for (let i = 0; i < packet.length; i++) {
      if (i === 0 || i === 1 || i === 2 || (i >= 3 && i <= 6)) continue; // lengths, SPI, KIc/KID: own statuses below
      const forged = packet.slice();
      forged[i] = (forged[i] as number) ^ 0x01;
      expect(statusOf(forged, cardOptions(0)), `byte ${i}`).toBe(ResponseStatus.CHECKSUM_FAILED);
    }
  });

  it('01 CC failed, not 02: a forged packet with an old counter cannot probe the counter', () => {
    const forged = build({ counter: 1 });
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 0x80;
    expect(statusOf(forged, cardOptions(5))).toBe(ResponseStatus.CHECKSUM_FAILED);
  });

  it('01 CC failed: the right key index with another key', () => {
    const other: OtaKeySet = {
      kic: SJA5_AES.kic,
      kid: { algorithm: 'aes-cmac', key: hex('201102030405060708090a0b0c0d0e0e') },
    };
    expect(statusOf(build(), cardOptions(0, { keysFor: () => other }))).toBe(ResponseStatus.CHECKSUM_FAILED);
  });

  it('06: no key set at that KIc/KID index, and a KIc naming another algorithm than the key', () => {
    expect(statusOf(build(), cardOptions(0, { keysFor: () => undefined }))).toBe(
      ResponseStatus.UNIDENTIFIED_SECURITY_ERROR,
    );
    // A 3DES-named packet must not be checked with the AES key stored at that index (downgrade).
    const des = build({
      kic: 0x25,
      kid: 0x25,
      keys: { kic: { ...SJA5_3DES.kic }, kid: { ...SJA5_3DES.kid } },
    });
    const r = openCommandPacket(des, cardOptions(0));
    expect(!r.ok && [r.error.status, r.error.code]).toEqual([
      ResponseStatus.UNIDENTIFIED_SECURITY_ERROR,
      'SCP80_ALGORITHM_MISMATCH',
    ]);
  });

  it('09 TAR unknown, before any key is looked up', () => {
    let looked = false;
    const o = cardOptions(0, {
      isKnownTar: (tar) => toHex(tar) === 'b00000',
      keysFor: () => {
        looked = true;
        return SJA5_AES;
      },
    });
    expect(statusOf(build(), o)).toBe(ResponseStatus.TAR_UNKNOWN);
    expect(looked).toBe(false);
  });

  it('0A insufficient security level: no CC, no counter, or no ciphering where the application demands it', () => {
    expect(statusOf(build({ spi: spi('0419'), counter: 1 }), cardOptions(0))).toBe(
      ResponseStatus.INSUFFICIENT_SECURITY_LEVEL,
    );
    expect(statusOf(build({ spi: spi('0619'), counter: 1 }), cardOptions(0))).toBe(
      ResponseStatus.INSUFFICIENT_SECURITY_LEVEL,
    );
    const needsCipher = cardOptions(0, {
      minimumSecurity: () => ({ ...DEFAULT_MINIMUM_SECURITY, ciphering: true }),
    });
    expect(statusOf(build({ spi: { ...SPI_HIGHER, ciphering: false } }), needsCipher)).toBe(
      ResponseStatus.INSUFFICIENT_SECURITY_LEVEL,
    );
  });

  it('05 ciphering error: a ciphered part that is not whole blocks', () => {
    const packet = build();
    const cut = packet.slice(0, packet.length - 1);
    cut[1] = (cut[1] as number) - 1; // keep CPL consistent so the length is what fails
    expect(statusOf(cut, cardOptions(0))).toBe(ResponseStatus.CIPHERING_ERROR);
  });

  it('06 malformed: CPL or CHL that do not match, and reserved SPI bits', () => {
    const packet = build();
    const badCpl = packet.slice();
    badCpl[1] = (badCpl[1] as number) + 1;
    expect(statusOf(badCpl, cardOptions(0))).toBe(ResponseStatus.UNIDENTIFIED_SECURITY_ERROR);
    const badChl = packet.slice();
    badChl[2] = 0x0d;
    expect(statusOf(badChl, cardOptions(0))).toBe(ResponseStatus.UNIDENTIFIED_SECURITY_ERROR);
    const reserved = packet.slice();
    reserved[3] = (reserved[3] as number) | 0x80;
    expect(statusOf(reserved, cardOptions(0))).toBe(ResponseStatus.UNIDENTIFIED_SECURITY_ERROR);
  });

  it('06 unsupported: a PoR asked with a redundancy check or a signature (found by the fuzz test)', () => {
    const open = { ...cardOptions(0), minimumSecurity: () => OPEN_NOTHING };
    const plain = hex('00150d00043535b0000000000000000000a40000023f00');
    expect(statusOf(plain, open)).toBe(ResponseStatus.UNIDENTIFIED_SECURITY_ERROR);
    const ok = plain.slice();
    ok[4] = 0x00;
    expect(statusOf(ok, open)).toBe('accepted');
  });

  it('the counter rules hold for any pair of counters (property)', () => {
    const counter = fc.integer({ min: 0, max: MAX_COUNTER });
    fc.assert(
      fc.property(counter, counter, fc.boolean(), (last, received, next) => {
        const r = openCommandPacket(
          build({ counter: received, spi: next ? SPI_NEXT : SPI_HIGHER }),
          cardOptions(last),
        );
        const accept = last < MAX_COUNTER && (next ? received === last + 1 : received > last);
        expect(r.ok).toBe(accept);
        if (r.ok) expect(r.value.counterToStore).toBe(received);
        else expect([0x02, 0x03, 0x04]).toContain(r.error.status);
      }),
      { numRuns: 300 },
    );
  });

  it('hostile counters and key identifiers are refused by the builder, not thrown', () => {
    for (const counter of [-1, MAX_COUNTER + 1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER]) {
      expect(
        secureCommandPacket({
          spi: SPI_HIGHER,
          kic: 0x22,
          kid: 0x22,
          tar: TAR,
          counter,
          keys: SJA5_AES,
          data: APDU,
        }).ok,
      ).toBe(false);
    }
    expect(
      secureCommandPacket({
        spi: SPI_HIGHER,
        kic: 256,
        kid: 0x22,
        tar: TAR,
        counter: 1,
        keys: SJA5_AES,
        data: APDU,
      }).ok,
    ).toBe(false);
    expect(
      secureCommandPacket({
        spi: SPI_HIGHER,
        kic: 0x22,
        kid: 0x22,
        tar: hex('b0'),
        counter: 1,
        keys: SJA5_AES,
        data: APDU,
      }).ok,
    ).toBe(false);
  });
});

describe('PoR after a failure', () => {
  const s = spi('0619');
  it('goes back secured after success and counter failures, unsecured after the others', () => {
    expect(porSecurityFor(s, ResponseStatus.POR_OK)).toEqual({ integrity: 'cc', ciphered: true });
    expect(porSecurityFor(s, ResponseStatus.COUNTER_LOW)).toEqual({ integrity: 'cc', ciphered: true });
    expect(porSecurityFor(s, ResponseStatus.CHECKSUM_FAILED)).toEqual({ integrity: 'none', ciphered: false });
    expect(porSecurityFor(s, ResponseStatus.TAR_UNKNOWN)).toEqual({ integrity: 'none', ciphered: false });
  });

  it('is sent as SPI2 b2b1 asks', () => {
    expect(porWanted(s, 0)).toBe(true);
    expect(porWanted({ ...s, por: 'on-error' }, 0)).toBe(false);
    expect(porWanted({ ...s, por: 'on-error' }, 1)).toBe(true);
    expect(porWanted({ ...s, por: 'none' }, 1)).toBe(false);
  });

  it('an unsecured error PoR opens as unauthenticated', () => {
    const header: CommandHeader = { spi: s, kic: 0x22, kid: 0x22, tar: TAR };
    const por = secureResponsePacket({
      ...porSecurityFor(s, ResponseStatus.CHECKSUM_FAILED),
      kic: header.kic,
      kid: header.kid,
      tar: header.tar,
      counter: 0,
      status: ResponseStatus.CHECKSUM_FAILED,
      data: new Uint8Array(0),
    });
    const bytes = por.ok ? por.value : new Uint8Array();
    expect(toHex(bytes)).toBe('000b0ab0001100000000000001');
    const opened = openResponsePacket(bytes, { integrity: 'none', ciphered: false, kic: 0x22, kid: 0x22 });
    expect(opened.ok && [opened.value.status, opened.value.authenticated]).toEqual([1, false]);
  });
});
