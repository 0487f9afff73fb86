// Threat: whoever controls the terminal or can send SMS to the device feeds the card arbitrary
// ENVELOPEs, TERMINAL RESPONSEs and secured packets. Whatever arrives, the card must answer with a
// well-formed response and a known status word — never '6F00', which is what it answers when code
// throws — and garbage must not change its persistent state:
//   part 1: 60,000 mutated SMS-PP downloads of secured packets (all of them replays or forgeries once
//           the valid seeds were consumed) — the state stays byte-identical;
//   part 2: 50,000 mutated TERMINAL RESPONSEs, event and timer ENVELOPEs, FETCHes and TERMINAL PROFILEs
//           in the middle of real proactive sessions — a refused APDU changes nothing.
// Seeded (test/helpers/fuzz.ts): a failure prints its step and reruns identically with FUZZ_SEED.

import { describe, expect, it } from 'vitest';
import { encodeCommandApdu, parseResponseApdu } from '../../../src/card/iso-7816-4.js';
import { profileWith } from '../../../src/card/toolkit/ts-102-223-constants.js';
import { MODEM_FACILITIES } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import { describeStatusWord } from '../../../src/card/ts-102-221.js';
import type { Uicc } from '../../../src/card/uicc.js';
import { encodeCommands } from '../../../src/lib/anti-theft-encoding.js';
import { concatBytes, encodeBerTlv } from '../../../src/lib/ber-tlv.js';
import { encodeComprehensionTlv } from '../../../src/lib/comprehension-tlv.js';
import { hex } from '../../../src/lib/hex.js';
import { commandScript } from '../../../src/lib/ts-102-226-remote-command.js';
import { mutate, seededRandom } from '../../helpers/fuzz.js';
import { cell, commandSms, device, IMEI, newCard, persistent, RFM_TAR } from './fixture.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x70017);

const smsPp = (tpdu: Uint8Array) =>
  encodeBerTlv(
    0xd1,
    concatBytes([
      encodeComprehensionTlv(0x02, true, Uint8Array.of(0x83, 0x81)),
      encodeComprehensionTlv(0x06, false, Uint8Array.of(0x91, 0x11, 0x11)),
      encodeComprehensionTlv(0x0b, true, tpdu),
    ]),
  );

const envelopeApdu = (data: Uint8Array) =>
  encodeCommandApdu({ cla: 0x80, ins: 0xc2, p1: 0, p2: 0, data: data.subarray(0, 255), le: 0 });

function send(card: Uicc, apdu: Uint8Array, where: string): number {
  const r = parseResponseApdu(card.transmit(apdu));
  if (!r.ok) throw new Error(`${where}: malformed response`);
  if (r.value.sw === 0x6f00 || describeStatusWord(r.value.sw) === 'Unknown status word')
    throw new Error(`${where}: status ${r.value.sw.toString(16)} for ${Buffer.from(apdu).toString('hex')}`);
  return r.value.sw;
}

/** A booted, armed device whose card has consumed the seed packets (counters 1..n). */
function armed() {
  const card = newCard();
  device(card, IMEI, cell(1)).modem.boot();
  const d = device(card, IMEI, cell(1));
  d.modem.boot();
  return d;
}

describe('toolkit fuzzing', () => {
  it(`60,000 mutated secured packets in SMS-PP downloads leave the card byte-identical (seed ${SEED})`, () => {
    const d = armed();
    const tpdus = [
      ...commandSms(encodeCommands([{ op: 'readState' }, { op: 'addCell', cell: cell(9) }]), 1),
      ...commandSms(encodeCommands([{ op: 'block' }]), 2),
      ...commandSms(encodeCommands([{ op: 'unblock' }, { op: 'readState' }]), 3),
      ...commandSms(commandScript([hex('00A40804047FF06F7B'), hex('00D600000362F210')]), 4, { tar: RFM_TAR }),
      ...commandSms(
        encodeCommands(
          Array.from({ length: 12 }, (_, i) => ({ op: 'addCell', cell: cell(0x40 + i) }) as const),
        ),
        5,
      ),
    ];
    expect(tpdus.length).toBeGreaterThan(5); // the last command is concatenated
    // Consume them once (they are valid); from now on each is a replay, each mutation a forgery.
    for (const tpdu of tpdus) expect(d.modem.deliverSms(tpdu).ok).toBe(true);
    const seeds = tpdus.map(smsPp);
    const card = d.card;
    card.reset();
    const reference = persistent(card);
    const random = seededRandom(SEED);
    for (let step = 0; step < 60_000; step++) {
      const input = mutate(random, seeds[step % seeds.length] as Uint8Array);
      const sw = send(card, envelopeApdu(input), `seed ${SEED}, step ${step}`);
      // A refusal's PoR waits as SEND SHORT MESSAGE; a reset ends that session so the next
      // envelope is not answered '9300'.
      if ((sw & 0xff00) === 0x9100) card.reset();
      if (step % 500 === 0) expect(persistent(card), `step ${step}`).toBe(reference);
    }
    expect(persistent(card)).toBe(reference);
    expect(card.toolkitFaults).toBe(0);
  });

  it(`50,000 mutated TERMINAL RESPONSEs and ENVELOPEs change nothing when refused (seed ${SEED})`, () => {
    const random = seededRandom(SEED + 1);
    const int = (n: number) => Math.floor(random() * n);
    const tp = profileWith(MODEM_FACILITIES);
    const trSeeds = [
      '810301260182028281830100940853480800000000F1',
      '81030126008202828183010093094' + '4F0011A2B0000001F',
      '81030126008202828183022004',
      '810301050082028281830100',
      '810301270082028281830100A40101',
      '810301130082028281830100',
      '810301010282028281830100',
    ].map(hex);
    const envelopeSeeds = [
      'D615990103820282819B0100130944F0011A2B0000777F',
      'D60A990103820282819B0102',
      'D70C82028281A40101A503000000',
      'D70C82028281A40102A503000000',
    ].map(hex);
    let card = newCard();
    card.reset();
    let refused = 0;
    let changed = 0;
    for (let step = 0; step < 50_000; step++) {
      const where = `seed ${SEED + 1}, step ${step}`;
      if (step % 5000 === 0) {
        card = newCard();
        card.reset();
      }
      const pick = int(10);
      let apdu: Uint8Array;
      if (pick === 0) apdu = encodeCommandApdu({ cla: 0x80, ins: 0x10, p1: 0, p2: 0, data: tp });
      else if (pick === 1) apdu = encodeCommandApdu({ cla: 0x80, ins: 0x12, p1: 0, p2: 0, le: 0 });
      else if (pick < 6) {
        const seed = trSeeds[int(trSeeds.length)] as Uint8Array;
        const data = int(4) === 0 ? seed : mutate(random, seed);
        apdu = encodeCommandApdu({
          cla: 0x80,
          ins: 0x14,
          p1: 0,
          p2: 0,
          data: data.length ? data.subarray(0, 255) : Uint8Array.of(0),
        });
      } else {
        const seed = envelopeSeeds[int(envelopeSeeds.length)] as Uint8Array;
        const data = int(4) === 0 ? seed : mutate(random, seed);
        apdu = envelopeApdu(data.length ? data : Uint8Array.of(0));
      }
      // Every persistent change bumps the card's version; every 50th step also compares the bytes.
      const deep = step % 50 === 0;
      const before = deep ? persistent(card) : '';
      const version = card.version;
      const sw = send(card, apdu, where);
      if (card.toolkitFaults !== 0) throw new Error(`${where}: an applet threw`);
      const accepted = sw === 0x9000 || (sw & 0xff00) === 0x9100 || (sw & 0xff00) === 0x6100;
      if (!accepted) {
        refused++;
        expect(card.version, where).toBe(version);
        if (deep) expect(persistent(card), where).toBe(before);
      } else if (card.version !== version) changed++;
    }
    expect(refused).toBeGreaterThan(1000);
    // The valid seeds reach the applet: some accepted APDUs do change the state.
    expect(changed).toBeGreaterThan(0);
  });
});
