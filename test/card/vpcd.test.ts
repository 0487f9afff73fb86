// The vpcd wire protocol (vsmartcard): 2-byte length + payload; 1-byte payloads are control codes.

import { describe, expect, it } from 'vitest';
import { FrameReader, frame, handleFrame } from '../../src/card/bridges/vpcd.js';
import { ATR } from '../../src/card/ts-102-221.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { fixtureCard } from './fixture.js';

describe('vpcd framing', () => {
  it('reassembles frames split and merged across reads', () => {
    const reader = new FrameReader();
    const stream = Uint8Array.from([
      ...frame(hex('04')),
      ...frame(hex('00A4000C023F00')),
      ...frame(hex('01')),
    ]);
    const got: string[] = [];
    for (let i = 0; i < stream.length; i += 3)
      got.push(...reader.push(stream.subarray(i, i + 3)).map((f) => toHex(f)));
    expect(got).toEqual(['04', '00a4000c023f00', '01']);
  });

  it('keeps an incomplete frame until the rest arrives', () => {
    const reader = new FrameReader();
    expect(reader.push(hex('0005 00a4'.replace(' ', '')))).toEqual([]);
    expect(reader.push(hex('000000')).map((f) => toHex(f))).toEqual(['00a4000000']);
  });

  it('answers GET ATR with the ATR and an APDU with its response; power events need no answer', () => {
    const card = fixtureCard();
    expect(toHex(handleFrame(card, hex('04')) ?? new Uint8Array(0))).toBe(toHex(frame(ATR)));
    for (const control of ['00', '01', '02', '07', ''])
      expect(handleFrame(card, hex(control))).toBeUndefined();
    expect(toHex(handleFrame(card, hex('00A4000C023F00')) ?? new Uint8Array(0))).toBe('00029000');
  });

  it('the ATR is well formed: TS, T0, interface bytes, 10 historical bytes, TCK', () => {
    expect(ATR[0]).toBe(0x3b);
    expect((ATR[1] as number) & 0x0f).toBe(10);
    expect(ATR.slice(1).reduce((a, b) => a ^ b, 0)).toBe(0);
  });
});
