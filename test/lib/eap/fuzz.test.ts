// Threat: a Wi-Fi peer (through the access point) sends malformed EAP to crash or confuse the server.
// Every EAP decoding path must answer with a value or a typed error for any bytes.

import { describe, expect, it } from 'vitest';
import { decodeEap, encodeEap, identityResponse } from '../../../src/lib/eap/rfc-3748-eap.js';
import {
  SIM_AKA_ATTRIBUTES,
  type SimAkaAttribute,
  type SimAkaAttributeName,
  type SimAkaAttributeSpec,
} from '../../../src/lib/eap/rfc-4187-attributes.js';
import { decodeSimAka, encodeSimAka } from '../../../src/lib/eap/rfc-4187-messages.js';
import { decryptAttributes, verifyAtMac } from '../../../src/lib/eap/rfc-4187-protection.js';
import { parseEapIdentity } from '../../../src/lib/eap/ts-23-003-nai.js';
import { hex } from '../../../src/lib/hex.js';
import { fuzz } from '../../helpers/fuzz.js';

const key = hex('00112233445566778899aabbccddeeff');

function seeds(): Uint8Array[] {
  const plain = (Object.entries(SIM_AKA_ATTRIBUTES) as [SimAkaAttributeName, SimAkaAttributeSpec][])
    .filter(([, s]) => !s.encryptedOnly)
    .map(([name, s]) => ({ name, value: s.example[0] }) as SimAkaAttribute);
  const out: Uint8Array[] = [];
  for (const method of ['sim', 'aka', 'akaPrime'] as const) {
    for (let i = 0; i < plain.length; i += 5) {
      const r = encodeSimAka({
        code: 1 + (i % 2),
        identifier: i,
        method,
        subtype: 1 + (i % 14),
        attributes: plain.slice(i, i + 5),
      });
      if (r.ok) out.push(r.value);
    }
  }
  const id = encodeEap(identityResponse(1, '0232010000000000@wlan.mnc001.mcc232.3gppnetwork.org'));
  if (id.ok) out.push(id.value);
  out.push(hex('0202001c 120b0000 0b050000 f56d6433e68ed2976ac11937fc3d1154'));
  return out;
}

describe('EAP decoders never throw', () => {
  it('survives ≥ 100,000 mutated and random EAP packets', () => {
    let decoded = 0;
    const result = fuzz(seeds(), 110_000, (input) => {
      const eap = decodeEap(input);
      if (eap.ok && eap.value.type === 1) parseEapIdentity(eap.value.data);
      const message = decodeSimAka(input);
      verifyAtMac(input, key);
      if (!message.ok) return;
      decoded++;
      for (const a of message.value.attributes) {
        if (a.name === 'AT_ENCR_DATA') decryptAttributes(a.value, key, key);
      }
    });
    expect(result.runs).toBeGreaterThanOrEqual(100_000);
    expect(decoded).toBeGreaterThan(10_000);
    console.info(
      `EAP fuzz: ${result.runs} packets, ${decoded} valid SIM/AKA messages, ${result.perSecond}/s`,
    );
  });

  it('decrypts random AT_ENCR_DATA without throwing (wrong keys give errors, not exceptions)', () => {
    const result = fuzz([new Uint8Array(16), new Uint8Array(48)], 20_000, (input) => {
      decryptAttributes(input, key, key);
      parseEapIdentity(input);
    });
    expect(result.runs).toBe(20_000);
  });
});
