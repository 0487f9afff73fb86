// The card as a table of APDU scripts: each script starts from a fresh card (PIN1 enabled unless
// said otherwise) and lists request → expected response ("<DATA> <SW>", or a pattern). Every
// command and every refusal of docs/card.md appears here.

import { describe, expect, it } from 'vitest';
import { c3Kc } from '../../src/crypto/gsm-milenage.js';
import { generateVector, sqnFromNumber } from '../../src/crypto/milenage.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { ADM1, fixtureCard, KI, OPC, PIN1, PUK1, pinHex, sendHex } from './fixture.js';

const USIM_AID = 'A0000000871002FF33FF018900000100';
const SELECT_USIM = '00A4040C07A0000000871002';
const VERIFY_PIN1 = `0020000108${pinHex(PIN1)}`;
const VERIFY_ADM = `0020000A08${pinHex(ADM1)}`;
const WRONG_PIN = `0020000108${pinHex('0000')}`;

const MF_FCP = '62238202782183023F00A5038001718A01058B032F0606C60C9001C083010195010883010A';
const ADF_FCP = `62308202782183027FF08410${USIM_AID}8A01058B036F0606C60C9001C083010195010883010A`;
const EF_IMSI_FCP = '6217' + '82024121' + '83026F07' + '8A0105' + '8B036F0602' + '80020009' + '880138';
const ICCID = '989444000000115513F4';
const IMSI = '080910100000000010';

// A genuine challenge for the fixture card (Milenage set 20 keys), and its expected answers.
const RAND = hex('23553cbe9637a89d218ae64dae47bf35');
const vector = (sqn: number, amf = '8000') =>
  generateVector(hex(KI), hex(OPC), RAND, sqnFromNumber(sqn), hex(amf));
const V = vector(0x21);
const AUTH = `008800812210${toHex(RAND)}10${toHex(V.autn)}`.toUpperCase();
const AUTH_OK =
  `DB08${toHex(V.res)}10${toHex(V.ck)}10${toHex(V.ik)}08${toHex(c3Kc(V.ck, V.ik))}`.toUpperCase();

type Step = readonly [apdu: string, expected: string | RegExp];
interface Script {
  readonly name: string;
  readonly pin1Enabled?: boolean;
  readonly steps: readonly Step[];
}

const scripts: readonly Script[] = [
  // --- SELECT (TS 102 221 §11.1.1) and GET RESPONSE (§11.1.14)
  {
    name: 'SELECT MF by FID, T=0: 61XX then GET RESPONSE',
    steps: [
      ['00A40004023F00', '6125'],
      ['00C0000025', `${MF_FCP} 9000`],
    ],
  },
  { name: 'SELECT with Le returns the FCP at once', steps: [['00A40004023F0000', `${MF_FCP} 9000`]] },
  {
    name: 'GET RESPONSE in pieces, wrong Le, nothing pending',
    steps: [
      ['00A40004023F00', '6125'],
      ['00C0000030', '6C25'],
      ['00C0000005', `${MF_FCP.slice(0, 10)} 6120`],
      ['00C0000020', `${MF_FCP.slice(10)} 9000`],
      ['00C0000010', '6985'],
      ['00C0010000', '6A86'],
    ],
  },
  {
    name: 'pending data is dropped by any other command',
    steps: [
      ['00A40004023F00', '6125'],
      ['00A4000C023F00', '9000'],
      ['00C0000025', '6985'],
    ],
  },
  {
    name: 'SELECT by partial AID, 7FFF, path from MF and from the current DF',
    steps: [
      ['00A4000C027FFF', '6A82'],
      ['00A4040407A000000087100200', `${ADF_FCP} 9000`],
      ['00A4000C023F00', '9000'],
      ['00A4000C027FFF', '9000'],
      ['00A4080C047FF06F07', '9000'],
      ['00A4080C047FFF6FAD', '9000'],
      ['00A4090C026F38', '9000'],
      ['00A40804047FF06F0700', `${EF_IMSI_FCP} 9000`],
    ],
  },
  {
    name: 'SELECT refusals',
    steps: [
      ['00A4000C026F07', '6A82'],
      ['00A4040C05A000000099', '6A82'],
      ['00A4080C047FF06F99', '6A82'],
      ['00A4080C036FF06F', '6700'],
      ['00A4000C033F0000', '6700'],
      ['00A40000023F00', '6A86'],
      ['00A40100023F00', '6A86'],
      ['00A4040C00', '6700'],
    ],
  },
  {
    name: 'SELECT siblings, parent and the DF itself by FID',
    steps: [
      ['00A4000C027F10', '9000'],
      ['00A4000C027FF0', '9000'],
      ['00A4000C023F00', '9000'],
      ['00A4000C027F10', '9000'],
      ['00A4000C027F10', '9000'],
    ],
  },
  // --- STATUS (§11.1.2)
  {
    name: 'STATUS: FCP of the current DF, application DF name, no data',
    steps: [
      ['80F2000000', `${MF_FCP} 9000`],
      ['80F2000100', '6985'],
      [SELECT_USIM, '9000'],
      ['80F2000100', `8410${USIM_AID} 9000`],
      ['80F2010C', '9000'],
      ['80F2000005', '6C32'],
      ['80F2000000', `${ADF_FCP} 9000`],
      ['80F2000300', '6A86'],
      ['80F2030000', '6A86'],
      ['80F20000', '6700'],
      ['00F2000000', '6E00'],
    ],
  },
  // --- READ BINARY (§11.1.3)
  {
    name: 'READ BINARY: selected EF, by SFI, offsets, Le',
    steps: [
      ['00B0000001', '6986'],
      ['00A4000C022FE2', '9000'],
      ['00B000000A', `${ICCID} 9000`],
      ['00B0000000', `${ICCID} 9000`],
      ['00B0000504', `${ICCID.slice(10, 18)} 9000`],
      ['00B000080A', `${ICCID.slice(16)} 6282`],
      ['00B0000A01', '6B00'],
      ['00B00000', '6700'],
      ['00A4000C023F00', '9000'],
      ['00B0820000', `${ICCID} 9000`],
      ['00B09F0000', '6A82'],
      ['00B0C20000', '6A86'],
    ],
  },
  {
    name: 'READ BINARY needs PIN1 for EF.IMSI; record EFs refuse it',
    steps: [
      [SELECT_USIM, '9000'],
      ['00B0870009', '6982'],
      [VERIFY_PIN1, '9000'],
      ['00B0870009', `${IMSI} 9000`],
      ['00A4000C023F00', '9000'],
      ['00A4000C022F00', '9000'],
      ['00B0000001', '6981'],
    ],
  },
  {
    name: 'READ BINARY without PIN1 when PIN1 is disabled; EF.AD is always readable',
    pin1Enabled: false,
    steps: [
      [SELECT_USIM, '9000'],
      ['00B0870009', `${IMSI} 9000`],
      ['00B0830004', '00000002 9000'],
    ],
  },
  // --- UPDATE BINARY (§11.1.4)
  {
    name: 'UPDATE BINARY: access conditions, bounds, and the new content',
    steps: [
      ['00A4000C022FE2', '9000'],
      [`00D600000A${'00'.repeat(10)}`, '6982'],
      [VERIFY_ADM, '9000'],
      [`00D600000A${'00'.repeat(10)}`, '6982'],
      [SELECT_USIM, '9000'],
      [VERIFY_PIN1, '9000'],
      ['00A4000C026F7B', '9000'],
      ['00D600000362F210', '9000'],
      ['00B0000003', '62F210 9000'],
      ['00D6000C0100', '6B00'],
      ['00D6000A0300F110', '6700'],
      ['00D60000', '6700'],
      ['00D6870009080910101032547698', '9000'],
      ['00B0870009', '080910101032547698 9000'],
    ],
  },
  {
    name: 'UPDATE BINARY of EF.IMSI needs ADM, PIN1 is not enough',
    steps: [
      [SELECT_USIM, '9000'],
      [VERIFY_PIN1, '9000'],
      ['00D6870009080910101032547698', '6982'],
      ['00D6000002FFFF', '6986'],
    ],
  },
  // --- READ RECORD / UPDATE RECORD (§11.1.5, §11.1.6)
  {
    name: 'READ RECORD: absolute, current, next, previous, SFI, Le',
    steps: [
      ['00B2010420', '6986'],
      ['00A4000C022F00', '9000'],
      ['00B2010420', `61184F10${USIM_AID}50045553494D${'FF'.repeat(6)} 9000`],
      ['00B2000420', /^61184F10.* 9000$/],
      ['00B2000220', `${'FF'.repeat(32)} 9000`],
      ['00B2000220', '6A83'],
      ['00B2000320', /^61184F10.* 9000$/],
      ['00B2000320', '6A83'],
      ['00B2030420', '6A83'],
      ['00B2010410', '6C20'],
      ['00B2010400', /^61184F10.* 9000$/],
      ['00B2010220', '6A86'],
      ['00B2010520', '6A86'],
      ['00B20104', '6700'],
      ['00A4000C023F00', '9000'],
      ['00B201F420', /^61184F10.* 9000$/],
      ['00B201FC20', '6A82'],
      ['00B2011420', '6981'],
    ],
  },
  {
    name: 'UPDATE RECORD: PIN1, record length, record number',
    steps: [
      [SELECT_USIM, '9000'],
      ['00A4000C026F40', '9000'],
      [`00DC01041A${'FF'.repeat(26)}`, '6982'],
      [VERIFY_PIN1, '9000'],
      [`00DC01041A4D79206E756D626572FFFFFF0791180700000010${'FF'.repeat(6)}`, '9000'],
      ['00B201041A', `4D79206E756D626572FFFFFF0791180700000010${'FF'.repeat(6)} 9000`],
      [`00DC03041A${'FF'.repeat(26)}`, '6A83'],
      [`00DC010419${'FF'.repeat(25)}`, '6700'],
      [`00DC00021A${'00'.repeat(26)}`, '9000'],
      ['00B200041A', `${'00'.repeat(26)} 9000`],
      ['00A4000C026F07', '9000'],
      [`00DC010409${'FF'.repeat(9)}`, '6981'],
    ],
  },
  // --- VERIFY PIN (§11.1.9)
  {
    name: 'VERIFY PIN1: status, wrong tries, blocking',
    steps: [
      ['0020000100', '63C3'],
      ['00200001', '63C3'],
      [WRONG_PIN, '63C2'],
      [WRONG_PIN, '63C1'],
      [VERIFY_PIN1, '9000'],
      ['00200001', '9000'],
      [WRONG_PIN, '63C2'],
      [WRONG_PIN, '63C1'],
      [WRONG_PIN, '63C0'],
      [VERIFY_PIN1, '6983'],
      ['00200001', '6983'],
    ],
  },
  {
    name: 'VERIFY refusals: key reference, P1, length, disabled PIN',
    pin1Enabled: false,
    steps: [
      ['00200001', '9000'],
      [VERIFY_PIN1, '6985'],
      [`0020008108${pinHex(PIN1)}`, '6A88'],
      [`0020010108${pinHex(PIN1)}`, '6A86'],
      ['002000010431323334', '6700'],
    ],
  },
  {
    name: 'VERIFY ADM',
    steps: [
      ['0020000A', '63CA'],
      [`0020000A08${pinHex('1')}`, '63C9'],
      [VERIFY_ADM, '9000'],
      ['0020000A', '9000'],
    ],
  },
  // --- CHANGE PIN (§11.1.10)
  {
    name: 'CHANGE PIN1',
    steps: [
      [`0024000110${pinHex('0000')}${pinHex('5678')}`, '63C2'],
      [`0024000110${pinHex(PIN1)}${pinHex('12')}`, '6A80'],
      [`0024000110${pinHex(PIN1)}${pinHex('5678')}`, '9000'],
      [VERIFY_PIN1, '63C2'],
      [`0020000108${pinHex('5678')}`, '9000'],
      [`002400010831323334FFFFFFFF`, '6700'],
      [`0024008110${pinHex(PIN1)}${pinHex('5678')}`, '6A88'],
    ],
  },
  {
    name: 'CHANGE PIN1 is refused while PIN1 is disabled or blocked',
    pin1Enabled: false,
    steps: [[`0024000110${pinHex(PIN1)}${pinHex('5678')}`, '6985']],
  },
  // --- DISABLE / ENABLE PIN (§11.1.11, §11.1.12)
  {
    name: 'DISABLE then ENABLE PIN1',
    steps: [
      [SELECT_USIM, '9000'],
      [`0026000108${pinHex('9999')}`, '63C2'],
      [`0026000108${pinHex(PIN1)}`, '9000'],
      ['00200001', '9000'],
      ['00B0870009', `${IMSI} 9000`],
      [`0028000108${pinHex(PIN1)}`, '9000'],
      ['0020000A', '63CA'],
      [`0026000A08${pinHex(ADM1)}`, '6985'],
      [`0028000A08${pinHex(ADM1)}`, '6985'],
      [`0026008108${pinHex(PIN1)}`, '6A88'],
      [`00260001`, '6700'],
      [`0026010108${pinHex(PIN1)}`, '6A86'],
    ],
  },
  // --- UNBLOCK PIN (§11.1.13)
  {
    name: 'UNBLOCK PIN1 with PUK1',
    steps: [
      [WRONG_PIN, '63C2'],
      [WRONG_PIN, '63C1'],
      [WRONG_PIN, '63C0'],
      ['00200001', '6983'],
      ['002C0001', '63CA'],
      [`002C000110${pinHex('00000000')}${pinHex('4321')}`, '63C9'],
      [`002C000110${pinHex(PUK1)}${pinHex('43')}`, '6A80'],
      [`002C000110${pinHex(PUK1)}${pinHex('4321')}`, '9000'],
      ['002C0001', '63CA'],
      ['00200001', '63C3'],
      [`0020000108${pinHex('4321')}`, '9000'],
      [`002C000A10${pinHex(PUK1)}${pinHex('4321')}`, '6985'],
      [`002C008110${pinHex(PUK1)}${pinHex('4321')}`, '6A88'],
      [`002C000108${pinHex(PUK1)}`, '6700'],
    ],
  },
  {
    name: 'a blocked PUK1 blocks for good',
    steps: [
      ...Array.from(
        { length: 9 },
        (_, i): Step => [
          `002C000110${pinHex('00000000')}${pinHex('4321')}`,
          `63C${(9 - i).toString(16).toUpperCase()}`,
        ],
      ),
      [`002C000110${pinHex('00000000')}${pinHex('4321')}`, '63C0'],
      ['002C0001', '6983'],
      [`002C000110${pinHex(PUK1)}${pinHex('4321')}`, '6983'],
    ],
  },
  // --- AUTHENTICATE (TS 31.102 §7.1.2)
  {
    name: 'AUTHENTICATE 3G: success, then the replay gets AUTS',
    steps: [
      [SELECT_USIM, '9000'],
      [AUTH, '6982'],
      [VERIFY_PIN1, '9000'],
      [AUTH, '6135'],
      ['00C0000035', `${AUTH_OK} 9000`],
      [AUTH, '6110'],
      ['00C0000010', /^DC0E[0-9A-F]{28} 9000$/],
    ],
  },
  {
    name: 'AUTHENTICATE with Le answers at once',
    pin1Enabled: false,
    steps: [
      [SELECT_USIM, '9000'],
      [`${AUTH}00`, `${AUTH_OK} 9000`],
    ],
  },
  {
    name: 'AUTHENTICATE refusals',
    pin1Enabled: false,
    steps: [
      [AUTH, '6985'],
      [SELECT_USIM, '9000'],
      [AUTH.replace(/^00880081/, '00880082'), '6A86'],
      [AUTH.replace(/^00880081/, '00880181'), '6A86'],
      [`0088008111${'00'.repeat(17)}`, '6700'],
      [`0088008122${'11'.repeat(34)}`, '6A80'],
      [
        `${AUTH.slice(0, -2)}${((Number.parseInt(AUTH.slice(-2), 16) ^ 1) & 0xff).toString(16).padStart(2, '0').toUpperCase()}`,
        '9862',
      ],
      [`0088008011${'10'}${toHex(RAND).toUpperCase()}`, '610E'],
      ['00C000000E', /^04[0-9A-F]{8}08[0-9A-F]{16} 9000$/],
      [`0088008010${'00'.repeat(16)}`, '6700'],
    ],
  },
  // --- class and instruction bytes (§10.1)
  {
    name: 'CLA and INS refusals',
    steps: [
      ['0050000000', '6D00'],
      ['A0A4000C023F00', '6E00'],
      ['FFA4000C023F00', '6E00'],
      ['01A4000C023F00', '6881'],
      ['0CA4000C023F00', '6882'],
      ['40A4000C023F00', '6881'],
      ['80A4000C023F00', '6E00'],
      ['0070000001', '6881'],
      ['00A4', '6700'],
      ['00A4000C053F00', '6700'],
      ['00A40000000002', '6700'],
    ],
  },
];

describe('APDU scripts', () => {
  for (const script of scripts) {
    it(script.name, () => {
      const card = fixtureCard({ pin1Enabled: script.pin1Enabled ?? true });
      script.steps.forEach(([apdu, expected], i) => {
        const got = sendHex(card, apdu);
        if (typeof expected === 'string') expect(got, `step ${i + 1}: ${apdu}`).toBe(expected);
        else expect(got, `step ${i + 1}: ${apdu}`).toMatch(expected);
      });
    });
  }

  it('every instruction of the card appears in some script', () => {
    const used = new Set(scripts.flatMap((s) => s.steps.map(([apdu]) => apdu.slice(2, 4))));
    for (const ins of ['A4', 'F2', 'B0', 'D6', 'B2', 'DC', '20', '24', '26', '28', '2C', '88', 'C0', '70']) {
      expect(used.has(ins), ins).toBe(true);
    }
  });
});
