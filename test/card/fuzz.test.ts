// Threat: a terminal (or malware on the device) sends arbitrary bytes to the card. Whatever it
// sends, the card must answer with a well-formed response and a known status word, never throw,
// never return a piece of Ki/OPc, and change its persistent state (files, PINs, counters, SQN) only
// as a command that succeeded says — except that a wrong PIN/PUK costs a retry (63CX).
//
// 100,000 APDUs: random bytes, mutations of valid commands, and valid commands (so that deeper
// states — PIN verified, ADM verified, USIM selected — are reached). The PRNG is seeded: a failure
// prints the seed and step, and reruns identically with FUZZ_SEED.

import { describe, expect, it } from 'vitest';
import { cardFromFile, newCardFile } from '../../src/card/card-file.js';
import { describeStatusWord } from '../../src/card/ts-102-221.js';
import type { CardState, Uicc } from '../../src/card/uicc.js';
import { generateVector, sqnFromNumber } from '../../src/crypto/milenage.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { mutate, randomBytes, seededRandom } from '../helpers/fuzz.js';
import { ADM1, fixtureOptions, KI, OPC, PIN1, PUK1, pinHex } from './fixture.js';

const TOTAL = 100_000;
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

/** Helpers over the shared seeded PRNG (test/helpers/fuzz.ts), so a failing seed reruns the same. */
function prng(seed: number) {
  const random = seededRandom(seed);
  const int = (n: number) => Math.floor(random() * n);
  return {
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)] as T,
    bytes: (max: number) => randomBytes(random, max),
    mutate: (input: Uint8Array) => mutate(random, input),
  };
}

/** Valid commands that reach every handler, including the state-changing ones. */
function seeds(sqn: number): string[] {
  const v = generateVector(hex(KI), hex(OPC), hex('0f'.repeat(16)), sqnFromNumber(sqn), hex('8000'));
  return [
    '00A40004023F00',
    '00A4000C022FE2',
    '00A4000C022F00',
    '00A4040C07A0000000871002',
    '00A4080C047FF06F07',
    '00A4090C026F7B',
    '00A4000C027FFF',
    '80F2000000',
    '80F2000100',
    '00C0000000',
    '00B0000000',
    '00B0870009',
    '00B2010400',
    '00B2000200',
    '00D600000362F210',
    `00DC01041A${'FF'.repeat(26)}`,
    `00DC010420${'FF'.repeat(32)}`,
    `0020000108${pinHex(PIN1)}`,
    `0020000A08${pinHex(ADM1)}`,
    `0020000108${pinHex('0000')}`,
    '00200001',
    `0024000110${pinHex(PIN1)}${pinHex(PIN1)}`,
    `0026000108${pinHex(PIN1)}`,
    `0028000108${pinHex(PIN1)}`,
    `002C000110${pinHex(PUK1)}${pinHex(PIN1)}`,
    `008800812210${toHex(v.rand)}10${toHex(v.autn)}`,
    `0088008011100f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f`,
    '0070000001',
  ];
}

const INS_WITH_PIN = new Set([0x20, 0x24, 0x26, 0x28, 0x2c]);

/** The persistent state as comparable parts (bytes compared with Buffer.equals: this runs 120k times). */
function parts(s: CardState) {
  const files = Buffer.concat([...s.files.values()].flatMap((c) => (Array.isArray(c) ? c : [c])));
  const pins = Buffer.concat([
    s.pin1.value,
    s.puk1.value,
    s.adm1.value,
    Uint8Array.of(s.pin1Enabled ? 1 : 0),
  ]);
  return {
    files,
    pins,
    counters: Buffer.from([s.pin1.remaining, s.puk1.remaining, s.adm1.remaining]),
    sqn: Buffer.from(Float64Array.from(s.seqArray).buffer),
  };
}

const secretPieces = [KI, OPC].flatMap((k) =>
  Array.from({ length: 9 }, (_, i) => k.slice(2 * i, 2 * i + 16)),
);

describe('APDU fuzzing', () => {
  it(`${TOTAL} random and mutated APDUs (seed ${SEED})`, () => {
    const rnd = prng(SEED);
    let card: Uicc = cardFromFile(newCardFile({ ...fixtureOptions, pin1Enabled: true }));
    let sqn = 0x20;
    let corpus = seeds(sqn);
    let before = parts(card.snapshot());
    const stats = { success: 0, stateChanges: 0, statusWords: new Set<string>() };

    for (let step = 0; step < TOTAL; step++) {
      const where = `seed ${SEED}, step ${step}`;
      if (step % 10_000 === 0 && step > 0) {
        // A fresh card now and then, so blocked PINs do not end the exploration.
        card = cardFromFile(newCardFile({ ...fixtureOptions, pin1Enabled: rnd.int(2) === 0 }));
        before = parts(card.snapshot());
      }
      if (rnd.int(500) === 0) card.reset();

      let apdu: Uint8Array;
      const strategy = rnd.int(10);
      if (strategy < 3) {
        // Random bytes behind a plausible class and instruction, so they get past the CLA/INS checks.
        const cla = rnd.pick([0x00, 0x80, 0xa0, rnd.int(256)]);
        const ins = rnd.pick([...INS_WITH_PIN, 0xa4, 0xb0, 0xb2, 0xd6, 0xdc, 0x88, 0xc0, 0xf2, rnd.int(256)]);
        apdu = Uint8Array.from([cla, ins, ...rnd.bytes(44)]);
      } else if (strategy < 7) {
        apdu = rnd.mutate(hex(rnd.pick(corpus)));
      } else {
        apdu = hex(rnd.pick(corpus));
      }

      const response = card.transmit(apdu);
      expect(response.length, where).toBeGreaterThanOrEqual(2);
      const sw = ((response[response.length - 2] as number) << 8) | (response[response.length - 1] as number);
      const swText = sw.toString(16).toUpperCase().padStart(4, '0');
      stats.statusWords.add(swText);
      if (sw === 0x6f00 || describeStatusWord(sw) === 'Unknown status word') {
        throw new Error(`${where}: ${toHex(apdu)} → ${toHex(response)}`);
      }
      const text = toHex(response);
      for (const piece of secretPieces)
        if (text.includes(piece)) throw new Error(`${where}: key material in response`);

      const after = parts(card.snapshot());
      const ins = apdu[1] ?? -1;
      const changed = (Object.keys(after) as (keyof typeof after)[]).filter(
        (k) => !after[k].equals(before[k]),
      );
      if (changed.length > 0) {
        stats.stateChanges++;
        // '61XX' is success with the data waiting for GET RESPONSE (T=0).
        const ok = sw === 0x9000 || (sw & 0xff00) === 0x6100;
        const retryCost = (sw & 0xfff0) === 0x63c0 && INS_WITH_PIN.has(ins);
        const allowed =
          (ok && (ins === 0xd6 || ins === 0xdc) && changed.every((k) => k === 'files')) ||
          (ok && ins === 0x88 && changed.every((k) => k === 'sqn')) ||
          (ok && INS_WITH_PIN.has(ins) && changed.every((k) => k === 'pins' || k === 'counters')) ||
          (retryCost && changed.every((k) => k === 'counters'));
        if (!allowed) throw new Error(`${where}: ${toHex(apdu)} → ${swText} changed ${changed.join(', ')}`);
      }
      if (sw === 0x9000) stats.success++;
      before = after;

      // Keep a genuine, fresh challenge in the corpus so AUTHENTICATE keeps succeeding.
      if (ins === 0x88 && sw !== 0x9862 && rnd.int(4) === 0) {
        sqn += 32;
        corpus = seeds(sqn);
      }
    }

    expect(stats.success).toBeGreaterThan(TOTAL / 20);
    expect(stats.stateChanges).toBeGreaterThan(100);
    for (const sw of ['9000', '6A82', '6982', '6700', '6D00', '6E00', '9862', '6A86']) {
      expect(stats.statusWords, sw).toContain(sw);
    }
  });
});
