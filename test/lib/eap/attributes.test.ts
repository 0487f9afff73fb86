// One generic test over the EAP-SIM/AKA/AKA' attribute registry (STYLE.md #1).

import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeSimAkaAttributes,
  encodeSimAkaAttribute,
  encodeSimAkaAttributes,
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

describe('attribute multiplicity (RFC 4187 §8.1, RFC 4186 §8.1; issue 11)', () => {
  // Threat: a response carrying an attribute twice (two AT_RES, two AT_RESULT_IND) where the checks
  // read one copy and something else reads the other, so a tampered message passes verification.
  const methods = [
    ['EAP-AKA', 'aka'],
    ["EAP-AKA'", 'akaPrime'],
    ['EAP-SIM', 'sim'],
  ] as const;

  it.each(entries)('%s: twice in one list is refused unless the registry allows repeats', (name, spec) => {
    const [, bytes] = spec.example;
    const twice = decodeSimAkaAttributes(hex(bytes + bytes), { encrypted: true });
    const encodedTwice = encodeSimAkaAttributes([attributeOf(name, spec), attributeOf(name, spec)]);
    if (spec.multiple) {
      expect(twice).toEqual({ ok: true, value: [attributeOf(name, spec), attributeOf(name, spec)] });
      expect(encodedTwice.ok && toHex(encodedTwice.value)).toBe(bytes + bytes);
    } else {
      expect(twice).toMatchObject({
        ok: false,
        error: { code: 'EAP_SIM_AKA_DUPLICATE_ATTRIBUTE', offset: hex(bytes).length },
      });
      expect(encodedTwice).toMatchObject({ ok: false, error: { code: 'EAP_SIM_AKA_ENCODE' } });
    }
    // A copy separated by other attributes is still a second copy.
    const other = entries.find(([n, s]) => n !== name && !s.encryptedOnly)?.[1].example[1] ?? '';
    expect(decodeSimAkaAttributes(hex(bytes + other + bytes), { encrypted: true }).ok).toBe(
      spec.multiple === true,
    );
  });

  it('only AT_KDF may repeat (RFC 9048 §3.2: the server lists the KDFs it offers)', () => {
    expect(entries.filter(([, s]) => s.multiple).map(([n]) => n)).toEqual(['AT_KDF']);
  });

  for (const [label, method] of methods) {
    it(`${label}: a message repeating any once-only attribute of the method does not decode`, () => {
      for (const [name, spec] of entries) {
        if (!spec.methods.includes(method) || spec.encryptedOnly) continue;
        const attrs = encodeSimAkaAttribute(attributeOf(name, spec));
        if (!attrs.ok) throw new Error(attrs.error.message);
        const body = [...attrs.value, ...attrs.value];
        const type = { aka: 23, akaPrime: 50, sim: 18 }[method];
        const length = 8 + body.length;
        const packet = Uint8Array.of(2, 1, length >> 8, length & 0xff, type, 1, 0, 0, ...body);
        const decoded = decodeSimAka(packet);
        expect(decoded.ok ? 'ok' : decoded.error.code, `${label} ${name}`).toBe(
          spec.multiple ? 'ok' : 'EAP_SIM_AKA_DUPLICATE_ATTRIBUTE',
        );
      }
    });
  }

  it('a duplicate inside AT_ENCR_DATA is refused when the encrypted attributes are decoded', () => {
    const key = hex('00112233445566778899aabbccddeeff');
    const iv = hex('0f0e0d0c0b0a09080706050403020100');
    // Encrypt a hand-built plaintext holding AT_COUNTER twice (the encoder itself refuses it):
    // AT_COUNTER 1, AT_COUNTER 2, AT_PADDING to 16 octets.
    expect(
      encryptAttributes(
        [
          { name: 'AT_COUNTER', value: 1 },
          { name: 'AT_COUNTER', value: 2 },
        ],
        key,
        iv,
      ),
    ).toMatchObject({ ok: false });
    const plain = hex('13010001 13010002 06020000 00000000');
    const cipher = createCipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
    const encrypted = new Uint8Array(Buffer.concat([cipher.update(plain), cipher.final()]));
    expect(decryptAttributes(encrypted, key, iv)).toMatchObject({
      ok: false,
      error: { code: 'EAP_SIM_AKA_DUPLICATE_ATTRIBUTE' },
    });
  });
});
