// The byte examples of mfa-stk.md B1.4: the TS 102 384 / TS 31.124 vectors carried in ofono's
// unit/test-stkutil.c, and the composed ones. Each decodes with the declared templates and objects
// (src/lib/ts-102-223-tlv.ts) and re-encodes to the same bytes; those the card or the modem
// produces are produced byte for byte.

import { describe, expect, it } from 'vitest';
import { decodeComprehensionTlvList } from '../../../src/lib/comprehension-tlv.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import { COMPREHENSION_TLV_DEFINITIONS } from '../../../src/lib/tlv-catalogue.js';
import { EventDownloadTlv, ProactiveCommandTlv } from '../../../src/lib/ts-102-223-tlv.js';
import { cell, device, newCard } from './fixture.js';

const strip = (s: string) => s.replace(/\s+/g, '');
const ascii = (s: string) => toHex(new TextEncoder().encode(s));

const PROACTIVE = {
  'PLI IMEI': 'D0 09 81 03 01 26 01 82 02 81 82',
  'PLI location': 'D0 09 81 03 01 26 00 82 02 81 82',
  'REFRESH UICC reset': 'D0 09 81 03 01 01 04 82 02 81 82',
  'REFRESH FCN EF_ICCID': 'D0 10 81 03 01 01 01 82 02 81 82 92 05 01 3F 00 2F E2',
  'SEND SHORT MESSAGE': `D0 37 81 03 01 13 00 82 02 81 83 85 07 ${ascii('Send SM')} 86 09 91 11 22 33 44 55 66 77 F8 8B 18 01 00 09 91 10 32 54 76 F8 40 F4 0C ${ascii('Test Message')}`,
  'OPEN CHANNEL': `D0 36 81 03 01 40 01 82 02 81 82 35 07 02 03 04 03 04 1F 02 39 02 05 78 0D 08 F4 ${ascii('UserLog')} 0D 08 F4 ${ascii('UserPwd')} 3C 03 01 AD 9C 3E 05 21 01 01 01 01`,
  'SET UP EVENT LIST': 'D0 0C 81 03 01 05 00 82 02 81 82 99 01 03',
  'REFRESH NAA init+FCN':
    'D0 1E 81 03 01 01 02 82 02 81 82 92 13 03 3F00 7FFF 6F07 3F00 7FFF 6F7E 3F00 7FFF 6FE3',
};

const TERMINAL_RESPONSES = {
  'TR IMEI': '81 03 01 26 01 82 02 82 81 83 01 00 94 08 1A 32 54 76 98 10 32 54',
  'TR location GSM': '81 03 01 26 00 82 02 82 81 83 01 00 93 07 00 F1 10 00 01 00 01',
  'TR location E-UTRAN': '81 03 01 26 00 82 02 82 81 83 01 00 93 09 00 F1 10 00 01 00 00 00 1F',
  'TR loc E-UTRAN 440-10': '81 03 01 26 00 82 02 82 81 83 01 00 93 09 44 F0 01 1A 2B 01 23 45 6F',
  'TR PLI failed, no service': '81 03 01 26 00 82 02 82 81 83 02 20 04',
};

const ENVELOPES = {
  'ENV loc status no service': 'D6 0A 99 01 03 82 02 82 81 9B 01 02',
  'ENV loc status normal': 'D6 13 99 01 03 82 02 82 81 9B 01 00 13 07 00 11 10 00 02 00 02',
  'ENV loc status E-UTRAN': 'D6 15 99 01 03 82 02 82 81 9B 01 00 13 09 00 F1 10 00 02 00 00 00 2F',
  'ENV loc status 440-10': 'D6 15 99 01 03 82 02 82 81 9B 01 00 13 09 44 F0 01 1A 2B 01 23 45 6F',
};

const BY_TAG = new Map(COMPREHENSION_TLV_DEFINITIONS.map((d) => [d.tag, d]));

describe('mfa-stk.md B1.4 vectors', () => {
  for (const [name, bytes] of Object.entries(PROACTIVE)) {
    it(`${name}: decodes and re-encodes`, () => {
      const v = ProactiveCommandTlv.decode(hex(strip(bytes)));
      if (!v.ok) throw new Error(v.error.message);
      expect(toHex(ProactiveCommandTlv.encode(v.value)).toUpperCase()).toBe(strip(bytes).toUpperCase());
    });
  }

  for (const [name, bytes] of Object.entries(ENVELOPES)) {
    it(`${name}: decodes and re-encodes`, () => {
      const v = EventDownloadTlv.decode(hex(strip(bytes)));
      if (!v.ok) throw new Error(v.error.message);
      expect(toHex(EventDownloadTlv.encode(v.value)).toUpperCase()).toBe(strip(bytes).toUpperCase());
    });
  }

  for (const [name, bytes] of Object.entries(TERMINAL_RESPONSES)) {
    it(`${name}: every object decodes with its declaration`, () => {
      const list = decodeComprehensionTlvList(hex(strip(bytes)));
      if (!list.ok) throw new Error(list.error.message);
      for (const t of list.value) {
        const d = BY_TAG.get(t.tag);
        expect(d, `tag ${t.tag}`).toBeDefined();
        const value = d?.codec.decode(t.value);
        expect(value?.ok, `tag ${t.tag}`).toBe(true);
        if (value?.ok) expect(toHex(d?.codec.encode(value.value) ?? new Uint8Array(0))).toBe(toHex(t.value));
      }
    });
  }

  it('the card sends SET UP EVENT LIST and PLI commands, the modem answers, byte for byte', () => {
    const d = device(newCard(), '123456789012345', {
      mcc: '440',
      mnc: '10',
      areaCode: 0x1a2b,
      cellIdentity: '0123456F',
      accessTechnology: 'e_utran',
    });
    const booted = d.modem.boot();
    expect(booted.ok).toBe(true);
    const log = d.modem.log.map((e) => [
      toHex(e.command).toUpperCase(),
      toHex(e.response ?? new Uint8Array(0)).toUpperCase(),
    ]);
    expect(log[0]?.[0]).toBe(strip(PROACTIVE['SET UP EVENT LIST']));
    expect(log[1]).toEqual([strip(PROACTIVE['PLI IMEI']), strip(TERMINAL_RESPONSES['TR IMEI'])]);
    const pliLocation = log.find(([c]) => c === strip(PROACTIVE['PLI location']));
    expect(pliLocation?.[1]).toBe(strip(TERMINAL_RESPONSES['TR loc E-UTRAN 440-10']));
  });

  it('the modem sends the location status envelope of B1.4 (440-10, TAC 1A2B, ECI 0123456)', () => {
    const sent: string[] = [];
    const card = newCard();
    const d = device(card, '123456789012345', cell(2));
    d.modem.boot();
    const transmit = card.transmit.bind(card);
    card.transmit = (apdu: Uint8Array) => {
      sent.push(toHex(apdu).toUpperCase());
      return transmit(apdu);
    };
    d.modem.moveTo({
      mcc: '440',
      mnc: '10',
      areaCode: 0x1a2b,
      cellIdentity: '0123456F',
      accessTechnology: 'e_utran',
    });
    expect(sent[0]).toBe(`80C2000017${strip(ENVELOPES['ENV loc status 440-10'])}00`);
  });
});
