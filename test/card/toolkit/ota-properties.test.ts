// Threat: SMS-PP data is attacker-controlled and becomes lookup keys on the card — the TAR (which
// application), the key version (which key set), the concatenation reference/total/sequence (which
// buffer), the timer identifier (which applet). Property-based tests with hostile values: whatever
// they are, the card answers with a known status word, no applet throws, nothing persistent changes
// unless a packet authenticated, and the segment buffer stays bounded.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCommandApdu, parseResponseApdu } from '../../../src/card/iso-7816-4.js';
import { describeStatusWord } from '../../../src/card/ts-102-221.js';
import { encodeCommands } from '../../../src/lib/anti-theft-encoding.js';
import { concatBytes, encodeBerTlv } from '../../../src/lib/ber-tlv.js';
import { encodeComprehensionTlv } from '../../../src/lib/comprehension-tlv.js';
import { hex } from '../../../src/lib/hex.js';
import {
  encodeSmsDeliver,
  internationalAddress,
  simDataDownload,
} from '../../../src/lib/ts-23-040-sms-tpdu.js';
import { cell, commandSms, device, IMEI, KEYS, newCard, persistent } from './fixture.js';

function armed() {
  const card = newCard();
  device(card, IMEI, cell(1)).modem.boot();
  const d = device(card, IMEI, cell(1));
  d.modem.boot();
  return d;
}

function envelope(card: { transmit(a: Uint8Array): Uint8Array }, data: Uint8Array): number {
  const r = parseResponseApdu(
    card.transmit(encodeCommandApdu({ cla: 0x80, ins: 0xc2, p1: 0, p2: 0, data, le: 0 })),
  );
  if (!r.ok) throw new Error('malformed response');
  return r.value.sw;
}

const smsPp = (tpdu: Uint8Array) =>
  encodeBerTlv(
    0xd1,
    concatBytes([
      encodeComprehensionTlv(0x02, true, Uint8Array.of(0x83, 0x81)),
      encodeComprehensionTlv(0x0b, true, tpdu),
    ]),
  );

const known = (sw: number) => sw !== 0x6f00 && describeStatusWord(sw) !== 'Unknown status word';

describe('OTA lookups with hostile values', () => {
  it('any TAR and key version: refused without a change unless it names the applet and its key set', () => {
    const d = armed();
    let counter = 1;
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 3, maxLength: 3 }),
        fc.integer({ min: 0, max: 15 }),
        (tar, kvn) => {
          const before = persistent(d.card);
          const byte = (kvn << 4) | 0x02;
          const tpdus = commandSms(encodeCommands([{ op: 'readState' }]), ++counter, {
            tar,
            kic: byte,
            kid: byte,
            keys: KEYS,
          });
          d.card.reset();
          const sw = envelope(d.card, smsPp(tpdus[0] as Uint8Array));
          expect(known(sw)).toBe(true);
          const accepted = tar[0] === 0xc0 && tar[1] === 0xa7 && tar[2] === 0xc0 && kvn === 1;
          if (!accepted) expect(persistent(d.card)).toBe(before);
          expect(d.card.toolkitFaults).toBe(0);
        },
      ),
      { numRuns: 300, seed: 0x7a2 },
    );
  });

  it('any concatenation reference, total, sequence and originating address: bounded, no change', () => {
    const d = armed();
    d.card.reset();
    const before = persistent(d.card);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 255 }),
        fc.stringMatching(/^[0-9]{1,12}$/),
        fc.uint8Array({ maxLength: 100 }),
        (reference, total, sequence, oa, body) => {
          const header = [
            ...(sequence === 1 ? [{ iei: 0x70, data: new Uint8Array(0) }] : []),
            { iei: 0x00, data: Uint8Array.of(reference, total, sequence) },
          ];
          const tpdu = encodeSmsDeliver(
            simDataDownload({
              originatingAddress: internationalAddress(oa),
              serviceCentreTimeStamp: hex('62011211000000'),
              userData: { header, body },
            }),
          );
          if (!tpdu.ok) return;
          const sw = envelope(d.card, smsPp(tpdu.value));
          expect(known(sw)).toBe(true);
          if ((sw & 0xff00) === 0x9100) d.card.reset();
          expect(d.card.toolkitFaults).toBe(0);
        },
      ),
      { numRuns: 2000, seed: 0x5e6 },
    );
    expect(persistent(d.card)).toBe(before);
  });

  it('a flood of partial messages evicts the oldest: its remaining segment no longer completes it', () => {
    const d = armed();
    const long = commandSms(
      encodeCommands(
        Array.from({ length: 12 }, (_, i) => ({ op: 'addCell', cell: cell(0x200 + i) }) as const),
      ),
      2,
      { reference: 1 },
    );
    expect(long.length).toBe(2);
    expect(d.modem.deliverSms(long[0] as Uint8Array).ok).toBe(true);
    // Four other partial messages push the first one out of the buffer.
    for (let reference = 10; reference < 14; reference++) {
      const other = commandSms(
        encodeCommands(
          Array.from({ length: 12 }, (_, i) => ({ op: 'addCell', cell: cell(0x300 + i) }) as const),
        ),
        3,
        { reference },
      );
      d.modem.deliverSms(other[0] as Uint8Array);
    }
    const before = persistent(d.card);
    d.modem.deliverSms(long[1] as Uint8Array);
    expect(persistent(d.card)).toBe(before);
  });

  it('any timer identifier in TIMER EXPIRATION: only the owner is told, and nothing breaks', () => {
    const d = armed();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), (id) => {
        d.card.reset();
        const sw = envelope(
          d.card,
          encodeBerTlv(
            0xd7,
            concatBytes([
              encodeComprehensionTlv(0x02, true, Uint8Array.of(0x82, 0x81)),
              encodeComprehensionTlv(0x24, true, Uint8Array.of(id)),
              encodeComprehensionTlv(0x25, true, Uint8Array.of(0, 0, 0)),
            ]),
          ),
        );
        if (id >= 1 && id <= 8) expect(sw === 0x9000 || (sw & 0xff00) === 0x9100).toBe(true);
        else expect(sw).toBe(0x6a80);
        expect(d.card.toolkitFaults).toBe(0);
      }),
      { numRuns: 256, seed: 0x71 },
    );
  });
});
