// Threats to the card and how it holds:
// - Reading the keys: Ki/OPc are what every SIM-based credential rests on; no APDU, whatever the PIN
//   or ADM state, may return them (or any 8-byte piece of them).
// - Replay: a RAND/AUTN pair recorded once must not authenticate the card a second time.
// - Forged challenges: an AUTN without the right MAC must be refused before SQN is looked at, and
//   must not move the card's SQN state.
// - PIN guessing: PIN1 blocks after 3 wrong tries, PUK1 after 10, ADM1 after 10.

import { describe, expect, it } from 'vitest';
import { cardFromFile, newCardFile } from '../../src/card/card-file.js';
import { isEf, walk } from '../../src/card/file-system.js';
import { CARD_TREE } from '../../src/card/profile.js';
import { Terminal } from '../../src/card/terminal.js';
import { generateVector, recoverSqnFromAuts, sqnFromNumber, sqnToNumber } from '../../src/crypto/milenage.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { ADM1, fixtureCard, fixtureOptions, KI, OPC, PIN1, pinHex, sendHex } from './fixture.js';

const RAND = hex('9fddc72092c6ad036b6e464789315b78');

/** All 8-byte windows of Ki and OPc, as upper-case hex. */
const secretPieces = [KI, OPC].flatMap((k) =>
  Array.from({ length: 9 }, (_, i) => k.toUpperCase().slice(2 * i, 2 * i + 16)),
);

describe('Ki and OPc never leave the card', () => {
  it('reading every EF with PIN1 and ADM verified shows no piece of Ki or OPc', () => {
    const card = fixtureCard();
    const seen: string[] = [];
    const send = (apdu: string) => {
      const r = sendHex(card, apdu);
      seen.push(r);
      return r;
    };
    send(`0020000108${pinHex(PIN1)}`);
    send(`0020000A08${pinHex(ADM1)}`);
    for (const node of walk(CARD_TREE)) {
      const path = node.path.split('/').slice(1).join('');
      if (path === '') continue;
      send(`00A40804${(path.length / 2).toString(16).padStart(2, '0')}${path}00`);
      if (!isEf(node)) continue;
      if (node.decl.structure === 'transparent') expect(send('00B0000000')).toMatch(/ 9000$/);
      else
        for (let r = 1; r <= node.decl.records; r++)
          expect(send(`00B2${r.toString(16).padStart(2, '0')}0400`)).toMatch(/ 9000$/);
    }
    send('80F2000000');
    send('80F2000100');
    expect(seen.length).toBeGreaterThan(40);
    for (const response of seen) for (const piece of secretPieces) expect(response).not.toContain(piece);
  });

  it('the card object exposes no key material', () => {
    const card = fixtureCard();
    const visible = JSON.stringify({ ...card, snapshot: card.snapshot() }, (_k, v) =>
      v instanceof Uint8Array ? toHex(v) : v instanceof Map ? Object.fromEntries(v) : v,
    ).toUpperCase();
    for (const piece of secretPieces) expect(visible).not.toContain(piece);
  });
});

describe('AUTHENTICATE against replay and forgery', () => {
  const amf = hex('8000');

  it('a recorded challenge works once; the replay gets AUTS with the SQN it already accepted', () => {
    const card = fixtureCard({ pin1Enabled: false });
    const t = new Terminal((a) => card.transmit(a));
    expect(t.selectUsim().ok).toBe(true);
    const v = generateVector(hex(KI), hex(OPC), RAND, sqnFromNumber(0x41), amf);
    const first = t.authenticateUmts(v.rand, v.autn);
    expect(first.ok && first.value.kind).toBe('success');
    const replay = t.authenticateUmts(v.rand, v.autn);
    if (!replay.ok || replay.value.kind !== 'sync_failure') throw new Error('replay was not refused');
    const sqnMs = recoverSqnFromAuts(hex(KI), hex(OPC), v.rand, replay.value.auts);
    expect(sqnMs.ok && sqnToNumber(sqnMs.value)).toBe(0x41);
  });

  it('an AUTN with a bad MAC is refused with 9862 and leaves the SQN state alone', () => {
    const card = fixtureCard({ pin1Enabled: false });
    const t = new Terminal((a) => card.transmit(a));
    t.selectUsim();
    const v = generateVector(hex(KI), hex(OPC), RAND, sqnFromNumber(0x61), amf);
    const forged = v.autn.slice();
    forged[15] = (forged[15] as number) ^ 0x01;
    const before = card.version;
    const r = t.authenticateUmts(v.rand, forged);
    expect(r.ok && r.value.kind).toBe('mac_failure');
    expect(card.version).toBe(before);
    const genuine = t.authenticateUmts(v.rand, v.autn);
    expect(genuine.ok && genuine.value.kind).toBe('success');
  });

  it('MAC is checked before SQN: a forged replay gets 9862, not AUTS', () => {
    const card = fixtureCard({ pin1Enabled: false });
    const t = new Terminal((a) => card.transmit(a));
    t.selectUsim();
    const v = generateVector(hex(KI), hex(OPC), RAND, sqnFromNumber(0x81), amf);
    t.authenticateUmts(v.rand, v.autn);
    const forged = v.autn.slice();
    forged[8] = (forged[8] as number) ^ 0x80;
    const r = t.authenticateUmts(v.rand, forged);
    expect(r.ok && r.value.kind).toBe('mac_failure');
  });

  it('resynchronisation: a card ahead of the AuC sends AUTS, and SQN_MS + 1 is then accepted', () => {
    // Every IND slot of the card is at SEQ 0x5000 (SQN 0xa0000), e.g. after another network.
    const card = cardFromFile(
      newCardFile({ ...fixtureOptions, pin1Enabled: false, acceptedSqn: sqnFromNumber(0xa0000) }),
    );
    const t = new Terminal((a) => card.transmit(a));
    t.selectUsim();
    // The AuC is behind at SQN 0x21 (SEQ 1, IND 1).
    const stale = generateVector(hex(KI), hex(OPC), RAND, sqnFromNumber(0x21), amf);
    const r = t.authenticateUmts(stale.rand, stale.autn);
    if (!r.ok || r.value.kind !== 'sync_failure') throw new Error('expected AUTS');
    const sqnMs = recoverSqnFromAuts(hex(KI), hex(OPC), stale.rand, r.value.auts);
    if (!sqnMs.ok) throw new Error(sqnMs.error.message);
    expect(toHex(sqnMs.value)).toBe('0000000a0000');
    // TS 33.102 §6.3.5: the AuC sets SQN_HE from SQN_MS and continues with the next SEQ.
    const next = generateVector(hex(KI), hex(OPC), RAND, sqnFromNumber(sqnToNumber(sqnMs.value) + 32), amf);
    const again = t.authenticateUmts(next.rand, next.autn);
    expect(again.ok && again.value.kind).toBe('success');
  });
});

describe('PIN guessing', () => {
  it('PIN1 blocks after 3 wrong tries, ADM1 after 10, and stays blocked for the right value', () => {
    const card = fixtureCard();
    for (const expected of ['63C2', '63C1', '63C0'])
      expect(sendHex(card, `0020000108${pinHex('9999')}`)).toBe(expected);
    expect(sendHex(card, `0020000108${pinHex(PIN1)}`)).toBe('6983');
    for (let left = 9; left >= 0; left--) {
      expect(sendHex(card, `0020000A08${pinHex('1')}`)).toBe(`63C${left.toString(16).toUpperCase()}`);
    }
    expect(sendHex(card, `0020000A08${pinHex(ADM1)}`)).toBe('6983');
  });

  it('a power cycle forgets verification but not the retry counters', () => {
    const card = fixtureCard();
    expect(sendHex(card, `0020000108${pinHex('9999')}`)).toBe('63C2');
    expect(sendHex(card, `0020000108${pinHex(PIN1)}`)).toBe('9000');
    expect(sendHex(card, `0020000108${pinHex('9999')}`)).toBe('63C2');
    card.reset();
    expect(sendHex(card, '00200001')).toBe('63C2');
  });
});
