// The proactive loop APDU by APDU (TS 102 221 §7.4.2, TS 102 223 §6): TERMINAL PROFILE → '91XX' →
// FETCH → TERMINAL RESPONSE → next '91XX' or '9000', with the anti-theft applet booting behind it.
// Where mfa-stk.md B1.4 gives bytes (TS 102 384 / ofono vectors and the composed ones), the card
// must produce or accept exactly those bytes.

import { describe, expect, it } from 'vitest';
import { profileWith } from '../../../src/card/toolkit/ts-102-223-constants.js';
import { MODEM_FACILITIES } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import { toHex } from '../../../src/lib/hex.js';
import { sendHex } from '../fixture.js';
import { appletState, newCard } from './fixture.js';

const TP = toHex(profileWith(MODEM_FACILITIES)).toUpperCase();

function bootedToLocation() {
  const card = newCard();
  card.reset();
  const steps: [string, string][] = [
    [`801000000A${TP}`, '910E'],
    // SET UP EVENT LIST (location status), as composed in B1.4.
    ['801200000E', 'D00C810301050082028182990103 9000'],
    ['801400000C810301050082028281830100', '910B'],
    // FETCH resp PLI IMEI (B1.4, with the '91 0B' before it).
    ['801200000B', 'D009810301260182028182 9000'],
    // TR IMEI, byte for byte the B1.4 vector: IMEI 123456789012345.
    ['801400001681030126018202828183010094081A32547698103254', '9113'],
    // TIMER MANAGEMENT start, timer 1, 01:00:00 (the learning period).
    ['8012000013', 'D011810301270082028182A40101A503100000 9000'],
    ['801400000F810301270082028281830100A40101', '910B'],
    // FETCH resp PLI location (B1.4).
    ['801200000B', 'D009810301260082028182 9000'],
  ];
  for (const [apdu, expected] of steps) expect(sendHex(card, apdu), apdu).toBe(expected);
  return card;
}

describe('proactive loop, APDU by APDU', () => {
  it('boot: TERMINAL PROFILE, SET UP EVENT LIST, PLI IMEI, TIMER MANAGEMENT, PLI location', () => {
    const card = bootedToLocation();
    // TR PLI failed, no service (B1.4 composed): the applet waits for the location event.
    expect(sendHex(card, '801400000D81030126008202828183022004')).toBe('9000');
    expect(appletState(card)).toMatchObject({ mode: 'learning', imeis: ['123456789012345'], cells: [] });
    // ENV loc status 440-10 (B1.4 composed): learning registers the cell, nothing proactive follows.
    expect(sendHex(card, '80C2000017D615990103820282819B0100130944F0011A2B0123456F')).toBe('9000');
    expect(appletState(card).cells).toEqual([
      { mcc: '440', mnc: '10', areaCode: 0x1a2b, cellIdentity: '0123456F' },
    ]);
  });

  it('TR location E-UTRAN 440-10 (B1.4) registers the serving cell at boot', () => {
    const card = bootedToLocation();
    expect(sendHex(card, '801400001781030126008202828183010093094' + '4F0011A2B0123456F')).toBe('9000');
    expect(appletState(card).cells).toHaveLength(1);
  });

  it("any command that ends normally answers '91XX' while a command waits for FETCH", () => {
    const card = newCard();
    card.reset();
    expect(sendHex(card, `801000000A${TP}`)).toBe('910E');
    expect(sendHex(card, '80F2000C')).toBe('910E'); // STATUS
    // T=0: the FCP waits behind '61XX'; GET RESPONSE ends normally, so it carries the '91XX'.
    expect(sendHex(card, '00A40004023F00')).toMatch(/^61/);
    expect(sendHex(card, '00C0000000')).toMatch(/ 910E$/);
    // An error keeps its own status word.
    expect(sendHex(card, '00B0000001')).toBe('6986');
    // FETCH with the wrong Le: '6CXX' with the right one.
    expect(sendHex(card, '8012000005')).toBe('6C0E');
    expect(sendHex(card, '8012000000')).toBe('D00C810301050082028182990103 9000');
    // Fetched: no longer announced.
    expect(sendHex(card, '80F2000C')).toBe('9000');
  });

  it('refuses a TERMINAL RESPONSE that does not answer the fetched command, and keeps waiting', () => {
    const card = newCard();
    card.reset();
    expect(sendHex(card, `801000000A${TP}`)).toBe('910E');
    // Before FETCH: nothing was handed out yet.
    expect(sendHex(card, '801400000C810301050082028281830100')).toBe('6985');
    sendHex(card, '801200000E');
    // Wrong type of command (PLI instead of SET UP EVENT LIST), wrong device, no result.
    expect(sendHex(card, '801400000C810301260082028281830100')).toBe('6A80');
    expect(sendHex(card, '801400000C810301050082028182830100')).toBe('6A80');
    expect(sendHex(card, '8014000009810301050082028281')).toBe('6A80');
    expect(sendHex(card, '801400000C810301050082028281830100')).toBe('910B');
  });

  it('FETCH and TERMINAL RESPONSE with nothing pending are refused', () => {
    const card = newCard();
    card.reset();
    expect(sendHex(card, '8012000000')).toBe('6985');
    expect(sendHex(card, '801400000C810301050082028281830100')).toBe('6985');
  });

  it("answers '9300' to an ENVELOPE while a proactive session is running", () => {
    const card = bootedToLocation();
    expect(sendHex(card, '80C2000017D615990103820282819B0100130944F0011A2B0123456F')).toBe('9300');
  });

  it('a reset ends the session: the card starts over at TERMINAL PROFILE', () => {
    const card = newCard();
    card.reset();
    expect(sendHex(card, `801000000A${TP}`)).toBe('910E');
    card.reset();
    expect(sendHex(card, '80F2000C')).toBe('9000');
    expect(sendHex(card, '8012000000')).toBe('6985');
  });

  it('a card without applets answers TERMINAL PROFILE with 9000 and nothing pending', async () => {
    const { fixtureCard } = await import('../fixture.js');
    const card = fixtureCard({ pin1Enabled: false });
    expect(sendHex(card, `801000000A${TP}`)).toBe('9000');
    expect(sendHex(card, '80C200000CD60A990103820282819B0102')).toBe('9000');
  });
});
