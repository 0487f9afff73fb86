// TS 102 226 remote command formats against pySim's golden vectors (osmocom pySim
// tests/unittests/test_ota.py: ExpandedCmdTestCase, ExpandedRespTestCase, ExpandedIndefiniteTestCase,
// the indefinite ones captured from a live eUICC), plus the declared elements walked generically.

import { describe, expect, it } from 'vitest';
import { decodeBerTlv } from '../../src/lib/ber-tlv.js';
import { hex, toHex } from '../../src/lib/hex.js';
import {
  COMMAND_SCRIPT_ELEMENTS,
  commandScript,
  decodeCommandScript,
  decodeCompactResponse,
  decodeResponseScript,
  encodeCommandScript,
  encodeCompactResponse,
  encodeResponseScript,
  lastResponse,
  RESPONSE_SCRIPT_ELEMENTS,
  responseScript,
} from '../../src/lib/ts-102-226-remote-command.js';

describe('declared elements (STYLE.md §1)', () => {
  for (const [template, elements, decode, encode, wrap] of [
    ['command', COMMAND_SCRIPT_ELEMENTS, decodeCommandScript, encodeCommandScript, 'aa'],
    ['response', RESPONSE_SCRIPT_ELEMENTS, decodeResponseScript, encodeResponseScript, 'ab'],
  ] as const) {
    for (const e of elements) {
      it(`${template} ${e.tag.toString(16)} ${e.type}: ${e.example} decodes inside its template and re-encodes`, () => {
        expect(e.spec).toMatch(/^TS 102 226 §5\.2\./);
        const tlv = decodeBerTlv(hex(e.example));
        expect(tlv.ok && tlv.value.tag).toBe(e.tag);
        const bytes = hex(`${wrap}${(e.example.length / 2).toString(16).padStart(2, '0')}${e.example}`);
        const decoded = decode(bytes);
        if (!decoded.ok) throw new Error(decoded.error.message);
        const script = decoded.value;
        expect(script.items.map((i) => i.type)).toEqual([e.type]);
        expect(toHex((encode as (s: typeof script) => Uint8Array)(script))).toBe(toHex(bytes));
      });
    }
  }
});

describe('expanded command (TS 102 226 §5.2.1)', () => {
  it('one C-APDU, definite: aa0a220880f24002024f0000', () => {
    expect(toHex(commandScript([hex('80f24002024f0000')]))).toBe('aa0a220880f24002024f0000');
  });

  it('two C-APDUs, definite', () => {
    const bytes = commandScript([hex('80f24002024f0000'), hex('00a40004023f0000')]);
    expect(toHex(bytes)).toBe('aa14220880f24002024f0000220800a40004023f0000');
    const decoded = decodeCommandScript(bytes);
    expect(
      decoded.ok && decoded.value.items.map((i) => (i.type === 'c-apdu' ? toHex(i.apdu) : i.type)),
    ).toEqual(['80f24002024f0000', '00a40004023f0000']);
  });

  it('a 200-octet C-APDU forces long lengths: aa 81 cb | 22 81 c8', () => {
    const capdu = new Uint8Array(200);
    capdu.set(hex('80f24000c3'));
    for (let i = 0; i < 195; i++) capdu[5 + i] = i;
    const bytes = commandScript([capdu]);
    expect(toHex(bytes.subarray(0, 6))).toBe('aa81cb2281c8');
    const decoded = decodeCommandScript(bytes);
    expect(
      decoded.ok && decoded.value.items[0]?.type === 'c-apdu' && toHex(decoded.value.items[0].apdu),
    ).toBe(toHex(capdu));
  });

  it('indefinite form, one and three C-APDUs (live eUICC over SCP81)', () => {
    expect(toHex(commandScript([hex('80ca00e000')], 'indefinite'))).toBe('ae80220580ca00e0000000');
    const rfm = 'ae80220700a4000c023f00220700a4000c022fe2220500b000000a0000';
    expect(
      toHex(commandScript([hex('00a4000c023f00'), hex('00a4000c022fe2'), hex('00b000000a')], 'indefinite')),
    ).toBe(rfm);
    const decoded = decodeCommandScript(hex(rfm));
    expect(decoded.ok && decoded.value.form).toBe('indefinite');
    expect(decoded.ok && decoded.value.items.length).toBe(3);
  });

  it('refuses foreign tags, non-minimal lengths, trailing bytes and a missing end-of-contents', () => {
    for (const bad of [
      'aa03900101', // bad-format object in a command script
      'aa0822810580ca00e000', // 81 05: non-minimal length
      'aa07220580ca00e00000', // trailing octet
      'ae80220580ca00e000', // no 00 00
      'ae80220580ca00e0000000ff', // bytes after 00 00
      'ab0780010123026132', // a response template
      '',
    ]) {
      expect(decodeCommandScript(hex(bad)).ok, bad).toBe(false);
    }
  });
});

describe('expanded response (TS 102 226 §5.2.2)', () => {
  it('status only: ab0780010123026132', () => {
    const bytes = responseScript([{ data: new Uint8Array(0), statusWord: hex('6132') }]);
    expect(toHex(bytes)).toBe('ab0780010123026132');
    const decoded = decodeResponseScript(bytes);
    const last = decoded.ok ? lastResponse(decoded.value) : undefined;
    expect(last && [last.executed, toHex(last.statusWord), toHex(last.data)]).toEqual([1, '6132', '']);
  });

  it('a 198-octet GP registry + 9000: ab 81 ce | 80 01 01 | 23 81 c8', () => {
    const registry = Uint8Array.from({ length: 198 }, (_, i) => i);
    const bytes = responseScript([{ data: registry, statusWord: hex('9000') }]);
    expect(toHex(bytes.subarray(0, 9))).toBe('ab81ce8001012381c8');
    const decoded = decodeResponseScript(bytes);
    const last = decoded.ok ? lastResponse(decoded.value) : undefined;
    expect(last && toHex(last.data)).toBe(toHex(registry));
  });

  it('indefinite RFM response without a count (live eUICC): three R-APDUs, the last with the ICCID', () => {
    const bytes = hex('af80 23029000 23029000 230c988812010000408608149000 0000');
    const decoded = decodeResponseScript(bytes);
    if (!decoded.ok) throw new Error(decoded.error.message);
    const last = lastResponse(decoded.value);
    expect(last && [last.executed, toHex(last.statusWord), toHex(last.data)]).toEqual([
      3,
      '9000',
      '98881201000040860814',
    ]);
    expect(toHex(encodeResponseScript(decoded.value))).toBe(toHex(bytes));
  });

  it('bad format, immediate action and script chaining responses', () => {
    for (const [h, type] of [
      ['ab06800101900101', 'bad-format'],
      ['ab06800101810101', 'immediate-action-response'],
      ['ab06800101830102', 'script-chaining-response'],
    ] as const) {
      const decoded = decodeResponseScript(hex(h));
      expect(decoded.ok && decoded.value.items.map((i) => i.type)).toEqual(['executed', type]);
      expect(decoded.ok && lastResponse(decoded.value)).toBeUndefined();
    }
  });

  it('refuses a truncated indefinite response and an R-APDU without status word', () => {
    const good = hex('af80 23029000 230c988812010000408608149000 0000');
    for (const cut of [1, 2, 3])
      expect(decodeResponseScript(good.subarray(0, good.length - cut)).ok).toBe(false);
    expect(decodeResponseScript(hex('af8023029000')).ok).toBe(false);
    expect(decodeResponseScript(hex('ab03230190')).ok).toBe(false);
  });
});

describe('compact response (TS 102 226 §5.1.2)', () => {
  it('01 6132: one command, SW 6132, no data (the SJA5 PoRs)', () => {
    const r = decodeCompactResponse(hex('016132'));
    expect(r.ok && [r.value.commands, toHex(r.value.statusWord), r.value.data.length]).toEqual([
      1,
      '6132',
      0,
    ]);
    if (r.ok) expect(toHex(encodeCompactResponse(r.value))).toBe('016132');
  });

  it('carries the last response data after the status word', () => {
    const bytes = encodeCompactResponse({ commands: 2, statusWord: hex('9000'), data: hex('6f21') });
    expect(toHex(bytes)).toBe('0290006f21');
    expect(decodeCompactResponse(hex('0190')).ok).toBe(false);
  });
});
