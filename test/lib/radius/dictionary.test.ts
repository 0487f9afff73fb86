// One generic test over the attribute registry (STYLE.md #1): every entry's example decodes to its
// value, the value encodes to the example bytes, and all of them survive a packet round trip.

import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../../../src/lib/hex.js';
import { decodeValue, encodeValue } from '../../../src/lib/radius/attribute-values.js';
import { type AttributeInput, attribute, getAttribute } from '../../../src/lib/radius/attributes.js';
import {
  type AttributeName,
  type AttributeSpec,
  attributeName,
  KNOWN_VENDOR_IDS,
  RADIUS_ATTRIBUTES,
} from '../../../src/lib/radius/dictionary.js';
import {
  encodeRequest,
  verifyMessageAuthenticator,
  verifyRequestAuthenticator,
} from '../../../src/lib/radius/rfc-2865-authenticators.js';
import { decodePacket, RADIUS_CODES } from '../../../src/lib/radius/rfc-2865-packet.js';

const entries = Object.entries(RADIUS_ATTRIBUTES) as [AttributeName, AttributeSpec][];

describe('RADIUS attribute dictionary', () => {
  it.each(entries)('%s: example decodes, encodes and names round-trip', (name, spec) => {
    const [value, bytes] = spec.example;
    const decoded = decodeValue(spec.type, hex(bytes));
    expect(decoded).toEqual({ ok: true, value });
    const encoded = encodeValue(spec.type, value as never);
    expect(encoded.ok && toHex(encoded.value)).toBe(bytes);
    expect(attributeName(spec.code, spec.vendor)).toBe(name);
    expect(spec.ref).toMatch(/^(RFC \d+|TS \d+\.\d+|WISPr)/);
    if (spec.vendor !== undefined) expect(KNOWN_VENDOR_IDS.has(spec.vendor)).toBe(true);
    if (spec.values) {
      for (const n of Object.values(spec.values)) expect(Number.isInteger(n)).toBe(true);
    }
  });

  it('has no two entries with the same vendor and code', () => {
    const keys = entries.map(([, s]) => `${s.vendor ?? 0}:${s.code}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('carries every example through an encoded Accounting-Request and back', () => {
    const attributes = entries.map(([name, spec]) => [name, spec.example[0]] as unknown as AttributeInput);
    const bytes = encodeRequest(
      { code: RADIUS_CODES['Accounting-Request'], identifier: 7, attributes },
      'secret',
    );
    expect(bytes.ok).toBe(true);
    if (!bytes.ok) return;
    const packet = decodePacket(bytes.value);
    expect(packet.ok).toBe(true);
    if (!packet.ok) return;
    expect(packet.value.attributes).toHaveLength(entries.length);
    for (const [name, spec] of entries) {
      // The encoder signs the Message-Authenticator, so its example value is replaced by the HMAC.
      if (name === 'Message-Authenticator') continue;
      expect(getAttribute(packet.value, name), name).toEqual({ ok: true, value: spec.example[0] });
    }
    expect(verifyMessageAuthenticator(bytes.value, 'secret')).toBe('valid');
    expect(verifyRequestAuthenticator(bytes.value, 'secret')).toBe(true);
  });

  it('reports the attribute name when a value cannot be encoded', () => {
    const r = attribute('Framed-IP-Address', '10.0.0.256');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('Framed-IP-Address');
  });
});
