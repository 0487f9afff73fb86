// One generic test over the EAP-SIM/AKA/AKA' attribute registry (STYLE.md #1).

import { describe, expect, it } from 'vitest';
import {
  decodeSimAkaAttributes,
  encodeSimAkaAttribute,
  isSkippable,
  SIM_AKA_ATTRIBUTES,
  type SimAkaAttribute,
  type SimAkaAttributeName,
  type SimAkaAttributeSpec,
  simAkaAttributeName,
} from '../../../src/lib/eap/rfc-4187-attributes.js';
import { decodeSimAka, encodeSimAka } from '../../../src/lib/eap/rfc-4187-messages.js';
import { decryptAttributes, encryptAttributes } from '../../../src/lib/eap/rfc-4187-protection.js';
import { hex, toHex } from '../../../src/lib/hex.js';

const entries = Object.entries(SIM_AKA_ATTRIBUTES) as [SimAkaAttributeName, SimAkaAttributeSpec][];
const attributeOf = (name: SimAkaAttributeName, spec: SimAkaAttributeSpec) =>
  ({ name, value: spec.example[0] }) as SimAkaAttribute;

describe("EAP-SIM/AKA/AKA' attribute registry", () => {
  it.each(entries)('%s: example decodes, encodes and is found by type', (name, spec) => {
    const [value, bytes] = spec.example;
    expect(decodeSimAkaAttributes(hex(bytes), { encrypted: true })).toEqual({
      ok: true,
      value: [{ name, value }],
    });
    const encoded = encodeSimAkaAttribute(attributeOf(name, spec));
    expect(encoded.ok && toHex(encoded.value)).toBe(bytes);
    expect(simAkaAttributeName(spec.type)).toBe(name);
    expect(hex(bytes)[0]).toBe(spec.type);
    expect(hex(bytes).length % 4).toBe(0);
    expect(spec.ref).toMatch(/^RFC (4186|4187|9048)/);
  });

  it('has unique attribute numbers', () => {
    expect(new Set(entries.map(([, s]) => s.type)).size).toBe(entries.length);
  });

  it('carries every plain attribute through a message, and every encrypted-only one through AT_ENCR_DATA', () => {
    const plain = entries.filter(([, s]) => !s.encryptedOnly).map(([n, s]) => attributeOf(n, s));
    const secret = entries
      .filter(([n, s]) => s.encryptedOnly && n !== 'AT_PADDING')
      .map(([n, s]) => attributeOf(n, s));
    const bytes = encodeSimAka({ code: 1, identifier: 9, method: 'aka', subtype: 1, attributes: plain });
    const decoded = bytes.ok ? decodeSimAka(bytes.value) : bytes;
    expect(decoded.ok && decoded.value.attributes).toEqual(plain);

    const key = hex('00112233445566778899aabbccddeeff');
    const iv = hex('0f0e0d0c0b0a09080706050403020100');
    const encrypted = encryptAttributes(secret, key, iv);
    const back = encrypted.ok ? decryptAttributes(encrypted.value, key, iv) : encrypted;
    expect(back.ok && back.value.filter((a) => a.name !== 'AT_PADDING')).toEqual(secret);
  });
});

describe('attribute list decoding rules (RFC 4187 §8.1)', () => {
  const code = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'ok' : r.error?.code);

  it('keeps unknown skippable attributes (≥ 128) and refuses unknown non-skippable ones', () => {
    expect(isSkippable(128)).toBe(true);
    expect(decodeSimAkaAttributes(hex('fe01abcd'))).toEqual({
      ok: true,
      value: [{ name: 'unknown', type: 254, value: hex('abcd') }],
    });
    expect(decodeSimAkaAttributes(hex('7f01abcd'))).toMatchObject({
      ok: false,
      error: { code: 'EAP_SIM_AKA_UNKNOWN_ATTRIBUTE', offset: 0 },
    });
  });

  it('refuses encrypted-only attributes in the clear', () => {
    expect(code(decodeSimAkaAttributes(hex('13010001')))).toBe('EAP_SIM_AKA_NOT_ENCRYPTED');
  });

  it('refuses zero lengths, overruns, cut headers, wrong sizes and inconsistent inner lengths', () => {
    expect(code(decodeSimAkaAttributes(hex('0100')))).toBe('EAP_SIM_AKA_LENGTH');
    expect(code(decodeSimAkaAttributes(hex('01050000')))).toBe('EAP_SIM_AKA_OVERRUN');
    expect(code(decodeSimAkaAttributes(hex('0d010000 01')))).toBe('EAP_SIM_AKA_TRUNCATED');
    expect(code(decodeSimAkaAttributes(hex(`0206${'00'.repeat(22)}`)))).toBe('EAP_SIM_AKA_ATTRIBUTE'); // AUTN of 20 octets
    expect(code(decodeSimAkaAttributes(hex('0e010009')))).toBe('EAP_SIM_AKA_ATTRIBUTE'); // identity longer than attribute
    expect(code(decodeSimAkaAttributes(hex('03010010')))).toBe('EAP_SIM_AKA_ATTRIBUTE'); // RES of 16 bits
    expect(code(decodeSimAkaAttributes(hex('060100ff'), { encrypted: true }))).toBe('EAP_SIM_AKA_ATTRIBUTE'); // non-zero padding
    expect(code(decodeSimAkaAttributes(hex('0f020003 0001 0000')))).toBe('EAP_SIM_AKA_ATTRIBUTE'); // odd version list
  });

  it('keeps RES bit lengths that are not whole octets', () => {
    expect(decodeSimAkaAttributes(hex('03030024a1a2a3a4a5000000'))).toEqual({
      ok: true,
      value: [{ name: 'AT_RES', value: { bitLength: 36, res: hex('a1a2a3a4a5') } }],
    });
  });

  it('refuses to encode values that do not fit', () => {
    expect(code(encodeSimAkaAttribute({ name: 'AT_AUTN', value: new Uint8Array(15) }))).toBe(
      'EAP_SIM_AKA_ENCODE',
    );
    expect(code(encodeSimAkaAttribute({ name: 'AT_COUNTER', value: 70000 }))).toBe('EAP_SIM_AKA_ENCODE');
    expect(code(encodeSimAkaAttribute({ name: 'AT_IDENTITY', value: new Uint8Array(1100) }))).toBe(
      'EAP_SIM_AKA_ENCODE',
    );
    expect(code(encodeSimAkaAttribute({ name: 'unknown', type: 200, value: new Uint8Array(3) }))).toBe(
      'EAP_SIM_AKA_ENCODE',
    );
  });
});
