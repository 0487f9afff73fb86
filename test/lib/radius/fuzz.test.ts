// Threat: a NAS (or anyone who can reach the port) sends malformed packets to crash the AAA server.
// Every decoding path must answer with a value or a typed error for any bytes.

import { describe, expect, it } from 'vitest';
import { hex } from '../../../src/lib/hex.js';
import { decodeValue } from '../../../src/lib/radius/attribute-values.js';
import { type AttributeInput, describeAttributes, getAttribute } from '../../../src/lib/radius/attributes.js';
import {
  type AttributeName,
  type AttributeSpec,
  RADIUS_ATTRIBUTES,
} from '../../../src/lib/radius/dictionary.js';
import { decryptMppeKey } from '../../../src/lib/radius/rfc-2548-mppe.js';
import {
  encodeRequest,
  messageAuthenticator,
  recoverUserPassword,
  verifyMessageAuthenticator,
  verifyRequestAuthenticator,
  verifyResponseAuthenticator,
} from '../../../src/lib/radius/rfc-2865-authenticators.js';
import { decodePacket, RADIUS_CODES } from '../../../src/lib/radius/rfc-2865-packet.js';
import { accountingOctets } from '../../../src/lib/radius/rfc-2869-gigawords.js';
import { reassembleEapMessage } from '../../../src/lib/radius/rfc-3579-eap-message.js';
import { fuzz } from '../../helpers/fuzz.js';

const entries = Object.entries(RADIUS_ATTRIBUTES) as [AttributeName, AttributeSpec][];
const RA = new Uint8Array(16);

function seeds(): Uint8Array[] {
  const all = entries.map(([name, spec]) => [name, spec.example[0]] as unknown as AttributeInput);
  const out: Uint8Array[] = [];
  for (const code of [
    RADIUS_CODES['Access-Request'],
    RADIUS_CODES['Accounting-Request'],
    RADIUS_CODES['CoA-Request'],
  ]) {
    for (let i = 0; i < all.length; i += 12) {
      // A fixed authenticator for Access-Request keeps the seeds, and so the whole run, reproducible.
      const authenticator = code === RADIUS_CODES['Access-Request'] ? RA : undefined;
      const r = encodeRequest(
        { code, identifier: i, attributes: [messageAuthenticator(), ...all.slice(i, i + 12)] },
        'fuzz',
        authenticator,
      );
      if (r.ok) out.push(r.value);
    }
  }
  out.push(hex('0cda00268a54f4686fb394c52866e302185d062350125a665e2e1e8411f3e243822097c84fa3'));
  return out;
}

describe('RADIUS decoders never throw', () => {
  it('survives ≥ 100,000 mutated and random packets', () => {
    let decoded = 0;
    const result = fuzz(
      seeds(),
      120_000,
      (input) => {
        verifyMessageAuthenticator(input, 'fuzz', RA);
        verifyRequestAuthenticator(input, 'fuzz');
        verifyResponseAuthenticator(input, RA, 'fuzz');
        const packet = decodePacket(input);
        if (!packet.ok) return;
        decoded++;
        describeAttributes(packet.value);
        reassembleEapMessage(packet.value);
        accountingOctets(packet.value);
        getAttribute(packet.value, '3GPP-User-Location-Info');
        const password = getAttribute(packet.value, 'User-Password');
        if (password?.ok) recoverUserPassword(password.value, 'fuzz', RA);
        for (const a of packet.value.attributes) decryptMppeKey(a.value, 'fuzz', RA);
      },
      { maxRandomLength: 300 },
    );
    expect(result.runs).toBeGreaterThanOrEqual(100_000);
    // Mutations must reach the attribute decoders, not only the header checks.
    expect(decoded).toBeGreaterThan(10_000);
    console.info(`RADIUS fuzz: ${result.runs} packets, ${decoded} structurally valid, ${result.perSecond}/s`);
  });

  it('decodes random bytes as every value type without throwing', () => {
    const types = [...new Set(entries.map(([, s]) => s.type))];
    const result = fuzz([new Uint8Array(4), hex('8232f210426d32f21000013e02')], 20_000, (input) => {
      for (const t of types) decodeValue(t, input);
    });
    expect(result.runs).toBe(20_000);
  });
});
