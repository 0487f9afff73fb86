// GP Amd D SCP03, against every SCP03 vector of pySim tests/unittests/test_globalplatform.py
// (reference/esim.md §5.2: AES-128/192/256 at security levels 11, 03 and 33, taken from a real card
// whose ISD-R answers with pseudo-random challenges), from both ends: the host must produce each
// command byte for byte, the card must produce each response byte for byte (including its
// pseudo-random card challenge) and recover each plain command. Then the threats: a tampered or
// replayed command or response is refused, and hostile bytes never crash the card.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeInitializeUpdateResponse,
  decryptKeyWithDek,
  encodeInitializeUpdateResponse,
  encryptKeyWithDek,
  pad80,
  SCP03_SECURITY_LEVELS,
  Scp03CardSession,
  Scp03HostSession,
  type Scp03Keys,
  type Scp03SecurityLevel,
  scp03Kdf,
  scp03KeyCheckValue,
  scp03PseudoRandomCardChallenge,
  unpad80,
} from '../../src/crypto/gp-scp03.js';
import { hex, toHex } from '../../src/lib/hex.js';

const ISD_R_AID = hex('A0000005591010FFFFFFFF8900000100');

const KEYSETS: Record<string, Scp03Keys> = {
  'AES-128': {
    enc: hex('000102030405060708090a0b0c0d0e0f'),
    mac: hex('101112131415161718191a1b1c1d1e1f'),
    dek: hex('202122232425262728292a2b2c2d2e2f'),
  },
  'AES-192': {
    enc: hex('000102030405060708090a0b0c0d0e0f0001020304050607'),
    mac: hex('101112131415161718191a1b1c1d1e1f1011121314151617'),
    dek: hex('202122232425262728292a2b2c2d2e2f2021222324252627'),
  },
  'AES-256': {
    enc: hex('000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f'),
    mac: hex('101112131415161718191a1b1c1d1e1f101112131415161718191a1b1c1d1e1f'),
    dek: hex('202122232425262728292a2b2c2d2e2f202122232425262728292a2b2c2d2e2f'),
  },
};

/** The plain commands, sent in this order after EXTERNAL AUTHENTICATE, and the plain GET EID answer. */
const PLAIN = {
  getEid: '80E2910006BF3E035C015A00',
  getEidResponse: 'bf3e125a1089882119900000000000000000000005',
  case1: '80F22002',
  case2: '80ca006600',
  case3: '80F220020a4f0212345c054f9f70c5',
  case4: '80f28002024f0000',
};

interface Vector {
  readonly keyset: keyof typeof KEYSETS;
  readonly kvn: number;
  readonly securityLevel: Scp03SecurityLevel;
  readonly initializeUpdate: string;
  readonly initializeUpdateResponse: string;
  readonly externalAuthenticate: string;
  readonly getEid: string;
  /** GET EID response data as received (with R-MAC / encrypted at SL 11 / 33), SW 9000. */
  readonly getEidResponse: string;
  readonly case1: string;
  readonly case2: string;
  readonly case3: string;
  readonly case4: string;
}

const VECTORS: readonly Vector[] = [
  {
    keyset: 'AES-128',
    kvn: 0x30,
    securityLevel: 0x11,
    initializeUpdate: '8050300008b13e5f938fc108c400',
    initializeUpdateResponse: '000000000000000000003003703eb51047495b249f66c484c1d2ef1948000002',
    externalAuthenticate: '84821100107d5f5826a993ebc89eea24957fa0b3ce',
    getEid: '84e291000ebf3e035c015a558d036518a2829700',
    getEidResponse: 'bf3e125a1089882119900000000000000000000005971be68992dbbdfa',
    case1: '84f220020863a63f8959827fb2',
    case2: '84ca006608a0c6a4a74166f7ce00',
    case3: '84f22002124f0212345c054f9f70c52249b50272656536',
    case4: '84f280020a4f00e91443f6dce6b8ed00',
  },
  {
    keyset: 'AES-128',
    kvn: 0x30,
    securityLevel: 0x03,
    initializeUpdate: '80503000088e1552d0513c60f300',
    initializeUpdateResponse: '0000000000000000000030037030760cd2c47c1dd395065fe5ead8a9d7000001',
    externalAuthenticate: '8482030010fd4721a14d9b07003c451d2f8ae6bb21',
    getEid: '84e2910018ca9c00f6713d79bc8baa642bdff51c3f6a4082d3bd9ad26c00',
    getEidResponse: 'bf3e125a1089882119900000000000000000000005',
    case1: '84f2200208c9811b11f1264cf1',
    case2: '84ca006608e10ab60b3054798800',
    case3: '84f22002184e2908bdb48b2315a55482e9e936ca122d6ecfae7d17416e',
    case4: '84f28002180dd10a6b6193e5340b9e77d32d5a179cd710ac2773aefb2800',
  },
  {
    keyset: 'AES-128',
    kvn: 0x30,
    securityLevel: 0x33,
    initializeUpdate: '8050300008fdf38259a1e0de4400',
    initializeUpdateResponse: '000000000000000000003003703b1aca81e821f219081cdc01c26b372d000003',
    externalAuthenticate: '84823300108c36f96bcc00724a4e13ad591d7da3f0',
    getEid: '84e2910018267a85dfe4a98fca6fb0527e0dfecce4914e40401433c87f00',
    getEidResponse: 'f3ba2b1013aa6224f5e1c138d71805c569e5439b47576260b75fc021b25097cb2e68f8a0144975b9',
    case1: '84f2200208ac6a59024bed84cc',
    case2: '84ca006608409912ad8fb7aed000',
    case3: '84f22002185f3dafc3ac14c381536a488bf44e06d056df9d74dbd21e5a',
    case4: '84f280021865165105be3373347d0424d4400af2ac393f569ec779389e00',
  },
  {
    keyset: 'AES-192',
    kvn: 0x31,
    securityLevel: 0x11,
    initializeUpdate: '80503100087396430b768b085b00',
    initializeUpdateResponse: '000000000000000000003103708cfc23522ffdbf1e5df5542cac8fd866000003',
    externalAuthenticate: '84821100102145ed30b146f5db252fb7e624cec244',
    getEid: '84e291000ebf3e035c015aff42cf801d14394400',
    getEidResponse: 'bf3e125a1089882119900000000000000000000005162fbd33e04940a9',
    case1: '84f22002084584e4f6784811ee',
    case2: '84ca006608937776ebe190fa3000',
    case3: '84f22002124f0212345c054f9f70c59a52bddf3040368c',
    case4: '84f280020a4f009804b11411f7393d00',
  },
  {
    keyset: 'AES-192',
    kvn: 0x31,
    securityLevel: 0x03,
    initializeUpdate: '805031000869c65da8202bf19f00',
    initializeUpdateResponse: '00000000000000000000310370b570a67be38446717729d6dd3d2ec5b1000001',
    externalAuthenticate: '848203001065df4f1a356a887905466516d9e5b7c1',
    getEid: '84e2910018d2c6fb477c5d4afe4fd4d21f17eff10d3578ec1774a12a2d00',
    getEidResponse: 'bf3e125a1089882119900000000000000000000005',
    case1: '84f2200208964e188f0b1bb697',
    case2: '84ca006608f0820035a41d3e1800',
    case3: '84f220021806b076ed452cd1fa84f77f5c08a146aa77a9286757dea791',
    case4: '84f2800218d06527e39222dce091fabdb8e9b898417a67a6852d3577db00',
  },
  {
    keyset: 'AES-192',
    kvn: 0x31,
    securityLevel: 0x33,
    initializeUpdate: '80503100089b3f2eef0e8c937400',
    initializeUpdateResponse: '00000000000000000000310370f6bb305a15bae1a68f79fb08212fbed7000002',
    externalAuthenticate: '84823300109100bc22d58b45b86a26365ce39ff3cf',
    getEid: '84e29100188f7f946c84f70d17994bc6e8791251bb1bb1bf02cf8de58900',
    getEidResponse: 'c05176c1b6f72aae50c32cbee63b0e95998928fd4dfb2be9f27ffde8c8476f5909b4805cc4039599',
    case1: '84f2200208d5d97754b6b3d2ba',
    case2: '84ca006608516c82b8e30adbeb00',
    case3: '84f2200218cc247f4761e6944277a4e0d6e32e44025b1e31537e2fc668',
    case4: '84f2800218ba22b63d509bef5d093b43e5eaed03ed23144ab2d9cb51de00',
  },
  {
    keyset: 'AES-256',
    kvn: 0x32,
    securityLevel: 0x11,
    initializeUpdate: '805032000811666d57866c6f5400',
    initializeUpdateResponse: '0000000000000000000032037053ea8847efa7674e41498a4d66cf0dee000003',
    externalAuthenticate: '84821100102f2ad190eff2fafc4908996d1cebd310',
    getEid: '84e291000ebf3e035c015af4b680372542b59d00',
    getEidResponse: 'bf3e125a10898821199000000000000000000000058012dd7f01f1c4c1',
    case1: '84f2200208d618b7da68d5fe52',
    case2: '84ca0066088f3e055db23ad5e500',
    case3: '84f22002124f0212345c054f9f70c5b6e15cc42404915e',
    case4: '84f280020a4f00aa124aa74afe7f7500',
  },
  {
    keyset: 'AES-256',
    kvn: 0x32,
    securityLevel: 0x03,
    initializeUpdate: '8050320008c6066990fc426e1d00',
    initializeUpdateResponse: '000000000000000000003203708682cd81bbd8919f2de3f2664581f118000001',
    externalAuthenticate: '848203001077c493b632edadaf865a1e64acc07ce9',
    getEid: '84e29100183ddaa60594963befaada3525b492ede23c2ab2c1ce3afe4400',
    getEidResponse: 'bf3e125a1089882119900000000000000000000005',
    case1: '84f2200208480ddc8e419da38d',
    case2: '84ca0066083e9d6a6c0b2d732000',
    case3: '84f22002183ebfef2da8b04af2a85f491f299b76973df76ff08a4031be',
    case4: '84f2800218783fff80990f5585b1055010ea95094a26e4a8f1ef4b18e100',
  },
  {
    keyset: 'AES-256',
    kvn: 0x32,
    securityLevel: 0x33,
    initializeUpdate: '805032000897b2055fe58599fd00',
    initializeUpdateResponse: '00000000000000000000320370a8439a22cedf045fa9f1903b2834f26e000002',
    externalAuthenticate: '8482330010508a0fd959d2e547c6b33154a6be2057',
    getEid: '84e29100187a5ef717eaf1e135ae92fe54429d0e465decda65f5fe5aea00',
    getEidResponse: 'ea90dbfa648a67c5eb6abc57f8530b97d0cd5647c5e8732016b55203b078dd2ace7f8bc5d1c1cd99',
    case1: '84f2200208bcc5c17275545d93',
    case2: '84ca00660804806aba9d543bb600',
    case3: '84f2200218717222491556ec81a45f49ce48be33320024801a1c4cb0e0',
    case4: '84f2800218561f105bccd3a1642904b251ccc1228beb80a82370a8637000',
  },
];

const CASES = ['case1', 'case2', 'case3', 'case4'] as const;
const name = (v: Vector) => `${v.keyset} SL ${v.securityLevel.toString(16).padStart(2, '0')}`;

function cardFor(v: Vector, overrides: { sequenceCounter?: number } = {}): Scp03CardSession {
  const response = decodeInitializeUpdateResponse(hex(v.initializeUpdateResponse));
  if (!response.ok) throw new Error(response.error.message);
  return new Scp03CardSession({
    keys: KEYSETS[v.keyset] as Scp03Keys,
    kvn: v.kvn,
    keyDiversificationData: response.value.keyDiversificationData,
    sdAid: ISD_R_AID,
    sequenceCounter: overrides.sequenceCounter ?? (response.value.sequenceCounter as number),
  });
}

function hostFor(v: Vector): Scp03HostSession {
  return new Scp03HostSession({
    keys: KEYSETS[v.keyset] as Scp03Keys,
    kvn: v.kvn,
    securityLevel: v.securityLevel,
    hostChallenge: hex(v.initializeUpdate).subarray(5, 13),
  });
}

function openCard(v: Vector): Scp03CardSession {
  const card = cardFor(v);
  expect(card.initializeUpdate(hex(v.initializeUpdate)).ok).toBe(true);
  expect(card.externalAuthenticate(hex(v.externalAuthenticate)).ok).toBe(true);
  return card;
}

function openHost(v: Vector): Scp03HostSession {
  const host = hostFor(v);
  host.initializeUpdate();
  const ext = host.externalAuthenticate(hex(v.initializeUpdateResponse));
  if (!ext.ok) throw new Error(ext.error.message);
  return host;
}

describe('SCP03 KDF and pseudo-random card challenge (Amd D §4.1.5, §6.2.2.1)', () => {
  it('reproduces the card challenges of the vectors from Key-ENC, the sequence counter and the ISD-R AID', () => {
    for (const v of VECTORS) {
      const r = decodeInitializeUpdateResponse(hex(v.initializeUpdateResponse));
      if (!r.ok) throw new Error(r.error.message);
      const challenge = scp03PseudoRandomCardChallenge(
        (KEYSETS[v.keyset] as Scp03Keys).enc,
        r.value.sequenceCounter as number,
        ISD_R_AID,
      );
      expect(toHex(challenge), name(v)).toBe(toHex(r.value.cardChallenge));
    }
  });

  it('KDF output longer than one block uses counters 01, 02 … and truncates', () => {
    const key = KEYSETS['AES-128']?.enc as Uint8Array;
    const long = scp03Kdf(key, 0x04, hex('0102'), 256);
    expect(toHex(long.subarray(0, 16))).not.toBe(toHex(long.subarray(16)));
    expect(scp03Kdf(key, 0x04, hex('0102'), 192).length).toBe(24);
  });
});

describe('SCP03 host end against the vectors', () => {
  for (const v of VECTORS) {
    it(`${name(v)}: INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, GET EID and its response, cases 1-4`, () => {
      const host = hostFor(v);
      expect(toHex(host.initializeUpdate())).toBe(v.initializeUpdate);
      const ext = host.externalAuthenticate(hex(v.initializeUpdateResponse));
      expect(ext.ok && toHex(ext.value)).toBe(v.externalAuthenticate);
      expect(toHex(host.wrapCommand(hex(PLAIN.getEid)))).toBe(v.getEid);
      const response = host.unwrapResponse(hex(`${v.getEidResponse}9000`));
      expect(response.ok && toHex(response.value.data)).toBe(PLAIN.getEidResponse);
      for (const c of CASES) expect(toHex(host.wrapCommand(hex(PLAIN[c]))), c).toBe(v[c]);
    });
  }
});

describe('SCP03 card end against the vectors', () => {
  for (const v of VECTORS) {
    it(`${name(v)}: answers INITIALIZE UPDATE byte for byte, opens, unwraps every command, wraps GET EID's answer`, () => {
      const card = cardFor(v);
      const iu = card.initializeUpdate(hex(v.initializeUpdate));
      expect(iu.ok && toHex(iu.value)).toBe(v.initializeUpdateResponse);
      const ext = card.externalAuthenticate(hex(v.externalAuthenticate));
      expect(ext.ok && ext.value).toBe(v.securityLevel);
      const eid = card.unwrapCommand(hex(v.getEid));
      expect(eid.ok && toHex(eid.value)).toBe(PLAIN.getEid.toLowerCase());
      expect(toHex(card.wrapResponse(hex(PLAIN.getEidResponse), 0x9000))).toBe(`${v.getEidResponse}9000`);
      for (const c of CASES) {
        const plain = card.unwrapCommand(hex(v[c]));
        expect(plain.ok && toHex(plain.value), c).toBe(PLAIN[c].toLowerCase());
      }
      const counter = hex(v.initializeUpdateResponse).subarray(29);
      expect(card.nextSequenceCounter).toBe(
        ((counter[0] as number) << 16) + ((counter[1] as number) << 8) + (counter[2] as number) + 1,
      );
    });
  }
});

describe('SCP03 threats', () => {
  const v = VECTORS[2] as Vector; // AES-128, SL 33: everything protected

  it('a card holding other keys is caught by its cryptogram; a wrong host cryptogram closes the card session', () => {
    const host = new Scp03HostSession({
      keys: KEYSETS['AES-256'] as Scp03Keys,
      kvn: 0x30,
      securityLevel: 0x33,
      hostChallenge: hex(v.initializeUpdate).subarray(5, 13),
    });
    const r = host.externalAuthenticate(hex(v.initializeUpdateResponse));
    expect(!r.ok && r.error.code).toBe('SCP03_CARD_CRYPTOGRAM');

    const card = cardFor(v);
    card.initializeUpdate(hex(v.initializeUpdate));
    const bad = hex(v.externalAuthenticate);
    bad[6] = (bad[6] as number) ^ 1;
    const e = card.externalAuthenticate(bad);
    expect(!e.ok && [e.error.code, e.error.sw]).toEqual(['SCP03_HOST_CRYPTOGRAM', 0x6300]);
    expect(card.closed).toBe(true);
    expect(card.externalAuthenticate(hex(v.externalAuthenticate)).ok).toBe(false);
  });

  it('a security level below the domain minimum is refused', () => {
    const response = decodeInitializeUpdateResponse(hex(v.initializeUpdateResponse));
    if (!response.ok) throw new Error('vector');
    const card = new Scp03CardSession({
      keys: KEYSETS['AES-128'] as Scp03Keys,
      kvn: 0x30,
      keyDiversificationData: response.value.keyDiversificationData,
      sdAid: ISD_R_AID,
      sequenceCounter: 1,
      minimumSecurityLevel: 0x33,
    });
    const low = VECTORS[1] as Vector; // SL 03, counter 1
    card.initializeUpdate(hex(low.initializeUpdate));
    const e = card.externalAuthenticate(hex(low.externalAuthenticate));
    expect(!e.ok && e.error.code).toBe('SCP03_SECURITY_LEVEL');
  });

  it('any flipped bit in a wrapped command (header, data, MAC) is refused and closes the session', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(['getEid', ...CASES] as const)),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (which, at, bit) => {
          const card = openCard(v);
          // Bring the card to the state the vector command was made in.
          const order = ['getEid', ...CASES] as const;
          for (const earlier of order.slice(0, order.indexOf(which)))
            expect(card.unwrapCommand(hex(v[earlier])).ok).toBe(true);
          const cmd = hex(v[which]);
          const hasLe = which === 'getEid' || which === 'case2' || which === 'case4';
          // CLA b1-b2/b4 (logical channel) and Le are outside the MAC by design (Amd D §6.2.4).
          const index = 1 + (at % (cmd.length - 1 - (hasLe ? 1 : 0)));
          cmd[index] = (cmd[index] as number) ^ (1 << bit);
          const r = card.unwrapCommand(cmd);
          expect(r.ok).toBe(false);
          expect(card.closed).toBe(true);
        },
      ),
    );
  });

  it('a replayed or reordered command is refused (the MAC chain and counter moved on)', () => {
    const card = openCard(v);
    expect(card.unwrapCommand(hex(v.getEid)).ok).toBe(true);
    expect(card.unwrapCommand(hex(v.getEid)).ok).toBe(false);
    const other = openCard(v);
    expect(other.unwrapCommand(hex(v.case1)).ok).toBe(false);
  });

  it('any flipped bit in a protected response (data, R-MAC, SW) is refused by the host', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 7 }), (at, bit) => {
        const host = openHost(v);
        host.wrapCommand(hex(PLAIN.getEid));
        const response = hex(`${v.getEidResponse}9000`);
        const index = at % response.length;
        response[index] = (response[index] as number) ^ (1 << bit);
        expect(host.unwrapResponse(response).ok).toBe(false);
      }),
    );
  });

  it('an error status word goes out alone, without R-MAC or data', () => {
    const card = openCard(v);
    card.unwrapCommand(hex(v.getEid));
    expect(toHex(card.wrapResponse(hex('0102'), 0x6a88))).toBe('6a88');
    const host = openHost(v);
    host.wrapCommand(hex(PLAIN.getEid));
    const r = host.unwrapResponse(hex('6a88'));
    expect(r.ok && r.value.sw).toBe(0x6a88);
  });
});

describe('SCP03 host ↔ card round trip', () => {
  it('any keys, level and short APDUs: the card gets the host plain commands, the host the card answers', () => {
    const apdu = fc.record({
      cla: fc.constantFrom(0x80, 0x81, 0x82, 0x83),
      ins: fc.integer({ min: 0, max: 255 }).filter((i) => i !== 0x50 && i !== 0x82),
      p1: fc.integer({ min: 0, max: 255 }),
      p2: fc.integer({ min: 0, max: 255 }),
      data: fc.uint8Array({ maxLength: 200 }),
      le: fc.option(fc.constant(0)),
      answer: fc.uint8Array({ maxLength: 200 }),
      sw: fc.constantFrom(0x9000, 0x6310, 0x6282, 0x6a82, 0x6985),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(16, 24, 32),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.constantFrom(...SCP03_SECURITY_LEVELS),
        fc.option(fc.integer({ min: 0, max: 0xfffffe })),
        fc.array(apdu, { minLength: 1, maxLength: 6 }),
        (length, seed, securityLevel, sequenceCounter, commands) => {
          const keys = {
            enc: seed.slice(0, length),
            mac: seed.slice(32 - length),
            dek: seed.slice(0, length),
          };
          const card = new Scp03CardSession({
            keys,
            kvn: 0x30,
            keyDiversificationData: new Uint8Array(10),
            sdAid: ISD_R_AID,
            ...(sequenceCounter === null ? {} : { sequenceCounter }),
          });
          const host = new Scp03HostSession({ keys, kvn: 0x30, securityLevel });
          const iu = card.initializeUpdate(host.initializeUpdate());
          if (!iu.ok) throw new Error(iu.error.message);
          const ext = host.externalAuthenticate(iu.value);
          if (!ext.ok) throw new Error(ext.error.message);
          expect(card.externalAuthenticate(ext.value).ok).toBe(true);
          for (const c of commands) {
            const data = c.data.subarray(0, securityLevel & 0x02 ? 230 : 247);
            const plain = Uint8Array.from([
              c.cla,
              c.ins,
              c.p1,
              c.p2,
              ...(data.length > 0 ? [data.length, ...data] : []),
              ...(c.le === null ? [] : [c.le]),
            ]);
            const got = card.unwrapCommand(host.wrapCommand(plain));
            expect(got.ok && toHex(got.value)).toBe(toHex(plain));
            const answer = c.answer.subarray(0, 200);
            const back = host.unwrapResponse(card.wrapResponse(answer, c.sw));
            const ok = c.sw === 0x9000 || c.sw >> 8 === 0x62 || c.sw >> 8 === 0x63;
            expect(back.ok && [toHex(back.value.data), back.value.sw]).toEqual([
              ok ? toHex(answer) : '',
              c.sw,
            ]);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('SCP03 decoders are total (fuzz)', () => {
  const v = VECTORS[2] as Vector;
  it('the card end never throws on hostile bytes at any step', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }),
        fc.integer({ min: 0, max: 2 }),
        (inputs, stage) => {
          const card = stage === 0 ? cardFor(v) : openCard(v);
          for (const bytes of inputs) {
            const r =
              stage === 0
                ? card.initializeUpdate(bytes)
                : stage === 1
                  ? card.externalAuthenticate(bytes)
                  : card.unwrapCommand(bytes);
            if (!r.ok) expect(r.error.code).toMatch(/^[A-Z0-9_]+$/);
          }
        },
      ),
    );
  });

  it('mutated vector commands give a typed error or a value, never an exception', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...(['getEid', ...CASES] as const)),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }))),
        fc.nat({ max: 4 }),
        (which, edits, cut) => {
          const card = openCard(v);
          const cmd = hex(v[which]);
          for (const [at, value] of edits) cmd[at % cmd.length] = value;
          const r = card.unwrapCommand(cmd.subarray(0, cmd.length - cut));
          if (!r.ok) expect(r.error.code).toMatch(/^[A-Z0-9_]+$/);
        },
      ),
    );
  });

  it('INITIALIZE UPDATE responses: decode(encode(x)) = x, and any bytes decode or fail with a code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const r = decodeInitializeUpdateResponse(bytes);
        if (r.ok) expect(toHex(encodeInitializeUpdateResponse(r.value))).toBe(toHex(bytes));
        else expect(r.error.code).toMatch(/^SCP03_/);
      }),
    );
    for (const vector of VECTORS) {
      const r = decodeInitializeUpdateResponse(hex(vector.initializeUpdateResponse));
      expect(r.ok && toHex(encodeInitializeUpdateResponse(r.value))).toBe(vector.initializeUpdateResponse);
    }
  });

  it('80 00… padding: unpad(pad(x)) = x; anything else is a padding error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        const r = unpad80(pad80(data));
        expect(r.ok && toHex(r.value)).toBe(toHex(data));
      }),
    );
    expect(unpad80(new Uint8Array(16)).ok).toBe(false);
    expect(unpad80(hex('0102030405060708090a0b0c0d0e0f10')).ok).toBe(false);
  });
});

describe('keys under the DEK (PUT KEY)', () => {
  it('key check values of the vector keys (reference/esim.md §5.2: C35280, 013808, 840DE5)', () => {
    const k = KEYSETS['AES-128'] as Scp03Keys;
    expect([k.enc, k.mac, k.dek].map((key) => toHex(scp03KeyCheckValue(key)))).toEqual([
      'c35280',
      '013808',
      '840de5',
    ]);
  });

  it('encrypt/decrypt round trip for 1 … 48-byte components (Tables 11-70 and 11-71), any DEK', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(16, 24, 32),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 1, maxLength: 48 }),
        (n, seed, key) => {
          const dek = seed.slice(0, n);
          const block = encryptKeyWithDek(dek, key);
          expect(block.length % 16).toBe(key.length % 16 === 0 ? 0 : 1);
          const back = decryptKeyWithDek(dek, block);
          expect(back.ok && toHex(back.value)).toBe(toHex(key));
        },
      ),
    );
  });

  it('hostile key blocks give a typed error, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), (bytes) => {
        const r = decryptKeyWithDek((KEYSETS['AES-128'] as Scp03Keys).dek, bytes);
        if (!r.ok) expect(r.error.code).toBe('SCP03_KEY_BLOCK');
      }),
    );
  });
});
