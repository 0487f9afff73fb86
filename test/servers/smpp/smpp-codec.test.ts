// The SMPP elements the ESME interprets, declared as data (smpp-3.4.ts), and the SMS segmentation
// of TS 23.040 / TS 23.038 (ts-23-040-concatenation.ts): each walked against its definition.

import { describe, expect, it } from 'vitest';
import { septetsToText } from '../../../src/lib/ts-23-038-gsm-alphabet.js';
import { relativeValidity } from '../../../src/platform/mfa/sms-providers/smpp.js';
import {
  COMMAND_STATUS,
  commandStatus,
  MESSAGE_STATE,
  messageIdKeys,
  parseDeliveryReceipt,
} from '../../../src/platform/mfa/sms-providers/smpp-3.4.js';
import { segmentSms } from '../../../src/platform/mfa/sms-providers/ts-23-040-concatenation.js';

describe('SMPP 3.4 command_status table', () => {
  it('maps every declared value back to its name, and unknown values to transient', () => {
    for (const [name, s] of Object.entries(COMMAND_STATUS))
      expect(commandStatus(s.value)).toEqual({ name, handling: s.handling });
    expect(commandStatus(0x58)).toEqual({ name: 'ESME_RTHROTTLED', handling: 'throttle' });
    expect(commandStatus(0x14).handling).toBe('throttle');
    expect(commandStatus(0x0e).handling).toBe('bind');
    expect(commandStatus(0x0b).handling).toBe('permanent');
    expect(commandStatus(0x4242)).toEqual({ name: 'ESME_0x00004242', handling: 'transient' });
  });

  it('covers the message_state values of §5.2.28', () => {
    expect(Object.keys(MESSAGE_STATE).map(Number)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(MESSAGE_STATE[2]?.state).toBe('delivered');
    expect(MESSAGE_STATE[5]?.state).toBe('failed');
  });
});

describe('delivery receipt (SMPP 3.4 Appendix B)', () => {
  it.each([
    [
      'id:0123456789 sub:001 dlvrd:001 submit date:2611210712 done date:2611210712 stat:DELIVRD err:000 text:hello',
      '0123456789',
      'delivered',
      '000',
    ],
    [
      'id:ab12 sub:001 dlvrd:000 submit date:2611210712 done date:2611210712 stat:UNDELIV err:011 Text:',
      'ab12',
      'failed',
      '011',
    ],
    ['id:7 stat:EXPIRED', '7', 'expired', undefined],
    ['id:7 stat:ACCEPTD err:0', '7', 'accepted', '0'],
    ['id:7 stat:WEIRD', '7', 'unknown', undefined],
  ])('%s', (text, id, state, err) => {
    const r = parseDeliveryReceipt(text);
    expect(r.ok && r.value).toMatchObject({ id, state, err });
  });

  it('is total: anything else is a typed error', () => {
    for (const text of ['', 'stat:DELIVRD', 'id:', 'id:1 text:stat:DELIVRD', '\u0000\uffff']) {
      const r = parseDeliveryReceipt(text);
      expect(r.ok).toBe(false);
    }
  });

  it('matches ids written in decimal in one PDU and hex in the other', () => {
    const submitted = new Set(messageIdKeys('12345'));
    expect(messageIdKeys('3039').some((k) => submitted.has(k))).toBe(true);
    expect(messageIdKeys('00003039').some((k) => submitted.has(k))).toBe(true);
    expect(messageIdKeys('99999').some((k) => submitted.has(k))).toBe(false);
  });

  it('writes relative validity periods (§7.1.1.2)', () => {
    expect(relativeValidity(5)).toBe('000000000500000R');
    expect(relativeValidity(90)).toBe('000000013000000R');
    expect(relativeValidity(1440)).toBe('000001000000000R');
  });
});

describe('segmentation (TS 23.040 §9.2.3.24.1, TS 23.038)', () => {
  const joinParts = (parts: readonly Uint8Array[], dataCoding: number) =>
    parts
      .map((p) => (parts.length > 1 ? p.subarray(6) : p))
      .map((body) => {
        if (dataCoding === 8) return Buffer.from(body).swap16().toString('utf16le');
        const t = septetsToText(body);
        return t.ok ? t.value : '?';
      })
      .join('');

  it('sends 160 GSM characters in one SMS and 161 in two parts of at most 153', () => {
    const one = segmentSms('a'.repeat(160), 7);
    expect(one).toMatchObject({ dataCoding: 0, concatenated: false });
    expect(one.parts[0]?.length).toBe(160);
    const two = segmentSms('a'.repeat(161), 7);
    expect(two.parts.map((p) => p.length)).toEqual([6 + 153, 6 + 8]);
    expect([...(two.parts[0]?.subarray(0, 6) ?? [])]).toEqual([0x05, 0x00, 0x03, 7, 2, 1]);
    expect([...(two.parts[1]?.subarray(0, 6) ?? [])]).toEqual([0x05, 0x00, 0x03, 7, 2, 2]);
  });

  it('counts extension characters as two septets and never splits them', () => {
    const text = `${'a'.repeat(152)}${'€'.repeat(5)}`;
    const s = segmentSms(text, 1);
    expect(s.parts[0]?.length).toBe(6 + 152);
    expect(joinParts(s.parts, s.dataCoding)).toBe(text);
  });

  it('uses UCS-2 for Japanese: 70 characters in one SMS, 67 per part beyond, no split surrogate pair', () => {
    expect(segmentSms('あ'.repeat(70), 1).parts).toHaveLength(1);
    const s = segmentSms('あ'.repeat(71), 1);
    expect(s).toMatchObject({ dataCoding: 8, concatenated: true });
    expect(s.parts.map((p) => p.length)).toEqual([6 + 134, 6 + 8]);
    const emoji = `${'あ'.repeat(66)}😀😀😀`;
    const e = segmentSms(emoji, 2);
    expect(joinParts(e.parts, e.dataCoding)).toBe(emoji);
    expect(e.parts[0]?.length).toBe(6 + 66 * 2);
  });

  it('refuses more than 255 parts', () => {
    expect(() => segmentSms('x'.repeat(153 * 255 + 1), 0)).toThrow(RangeError);
  });
});
