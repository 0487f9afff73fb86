// Integrity and confidentiality of EAP-SIM/AKA/AKA' messages:
// - AT_MAC (RFC 4187 §10.15, RFC 4186 §10.14): HMAC-SHA1-128 with K_aut; HMAC-SHA-256-128 for AKA'
//   (RFC 9048 §3.3), over the whole EAP packet with the AT_MAC value zeroed, followed by "extra" data:
//     EAP-SIM Challenge request: NONCE_MT        EAP-SIM Challenge response: n × SRES
//     Re-authentication response (all methods): NONCE_S        anything else: nothing.
// - AT_ENCR_DATA (RFC 4187 §10.12): AES-128-CBC with K_encr and AT_IV, the plaintext being attributes
//   padded with AT_PADDING to a multiple of 16 octets.
// - AT_CHECKCODE (RFC 4187 §10.13, RFC 9048 §4): SHA-1 (AKA) / SHA-256 (AKA') over the EAP packets of
//   the AKA-Identity round(s); empty when there were none.

import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import { constantTimeEqual } from '../../crypto/constant-time.js';
import { decodeError, ok, type Result } from '../result.js';
import {
  decodeSimAkaAttributes,
  encodeSimAkaAttributes,
  SIM_AKA_ATTRIBUTES,
  type SimAkaAttribute,
} from './rfc-4187-attributes.js';

const EMPTY = new Uint8Array(0);
const AT_MAC = SIM_AKA_ATTRIBUTES.AT_MAC.type;
const AKA_PRIME = 50;

/** Offset of the 16-octet AT_MAC value in an EAP-SIM/AKA/AKA' packet. */
function atMacOffset(packet: Uint8Array): Result<number> {
  if (packet.length < 8) return decodeError('EAP_SIM_AKA_TRUNCATED', 'packet too short');
  const length = ((packet[2] ?? 0) << 8) | (packet[3] ?? 0);
  if (length !== packet.length)
    return decodeError('EAP_SIM_AKA_LENGTH', 'EAP Length does not match the packet');
  const type = packet[4] ?? 0;
  if (type !== 18 && type !== 23 && type !== AKA_PRIME)
    return decodeError('EAP_SIM_AKA_TYPE', `EAP type ${type} has no AT_MAC`);
  let found: number | undefined;
  let i = 8;
  while (i < packet.length) {
    const len = (packet[i + 1] ?? 0) * 4;
    if (packet.length - i < 2 || len === 0 || i + len > packet.length)
      return decodeError('EAP_SIM_AKA_LENGTH', 'malformed attribute', i);
    if (packet[i] === AT_MAC) {
      if (found !== undefined) return decodeError('EAP_SIM_AKA_DUPLICATE_MAC', 'more than one AT_MAC', i);
      if (len !== 20) return decodeError('EAP_SIM_AKA_ATTRIBUTE', 'AT_MAC must have Length 5', i);
      found = i + 4;
    }
    i += len;
  }
  return found === undefined ? decodeError('EAP_SIM_AKA_NO_MAC', 'packet has no AT_MAC') : ok(found);
}

function mac(packet: Uint8Array, offset: number, kAut: Uint8Array, extra: Uint8Array): Uint8Array {
  const zeroed = packet.slice();
  zeroed.fill(0, offset, offset + 16);
  const algorithm = packet[4] === AKA_PRIME ? 'sha256' : 'sha1';
  return new Uint8Array(createHmac(algorithm, kAut).update(zeroed).update(extra).digest().subarray(0, 16));
}

/** Compute AT_MAC over `packet` (whose AT_MAC value may be anything) and return a signed copy. */
export function signAtMac(
  packet: Uint8Array,
  kAut: Uint8Array,
  extra: Uint8Array = EMPTY,
): Result<Uint8Array> {
  const offset = atMacOffset(packet);
  if (!offset.ok) return offset;
  const out = packet.slice();
  out.set(mac(packet, offset.value, kAut, extra), offset.value);
  return ok(out);
}

/** Check the AT_MAC of a received packet in constant time; false if absent, duplicated or wrong. */
export function verifyAtMac(packet: Uint8Array, kAut: Uint8Array, extra: Uint8Array = EMPTY): boolean {
  const offset = atMacOffset(packet);
  if (!offset.ok) return false;
  return constantTimeEqual(
    mac(packet, offset.value, kAut, extra),
    packet.subarray(offset.value, offset.value + 16),
  );
}

/**
 * RFC 4187 §10.12: encrypt attributes for AT_ENCR_DATA. AT_PADDING is appended when the encoded
 * attributes are not a multiple of 16 octets. Returns the AT_ENCR_DATA data (ciphertext).
 */
export function encryptAttributes(
  attributes: readonly SimAkaAttribute[],
  kEncr: Uint8Array,
  iv: Uint8Array,
): Result<Uint8Array> {
  if (kEncr.length !== 16 || iv.length !== 16)
    return decodeError('EAP_SIM_AKA_ENCR', 'K_encr and IV must be 16 octets');
  const plain = encodeSimAkaAttributes(attributes);
  if (!plain.ok) return plain;
  const missing = (16 - (plain.value.length % 16)) % 16;
  let padded = plain.value;
  if (missing > 0) {
    const padding = encodeSimAkaAttributes([{ name: 'AT_PADDING', value: missing - 2 }]);
    if (!padding.ok) return padding;
    padded = new Uint8Array([...plain.value, ...padding.value]);
  }
  if (padded.length === 0) return decodeError('EAP_SIM_AKA_ENCR', 'nothing to encrypt');
  const cipher = createCipheriv('aes-128-cbc', kEncr, iv).setAutoPadding(false);
  return ok(new Uint8Array(Buffer.concat([cipher.update(padded), cipher.final()])));
}

/** RFC 4187 §10.12: decrypt AT_ENCR_DATA and decode the attributes inside (AT_PADDING included). */
export function decryptAttributes(
  encrData: Uint8Array,
  kEncr: Uint8Array,
  iv: Uint8Array,
): Result<SimAkaAttribute[]> {
  if (kEncr.length !== 16 || iv.length !== 16)
    return decodeError('EAP_SIM_AKA_ENCR', 'K_encr and IV must be 16 octets');
  if (encrData.length === 0 || encrData.length % 16 !== 0)
    return decodeError('EAP_SIM_AKA_ENCR', 'AT_ENCR_DATA must be n × 16 octets');
  const decipher = createDecipheriv('aes-128-cbc', kEncr, iv).setAutoPadding(false);
  const plain = new Uint8Array(Buffer.concat([decipher.update(encrData), decipher.final()]));
  return decodeSimAkaAttributes(plain, { encrypted: true });
}

/**
 * RFC 4187 §10.13 / RFC 9048 §4: AT_CHECKCODE value over the EAP packets of the AKA-Identity
 * requests and responses, in the order sent and received; empty when there was no identity round.
 */
export function checkcode(
  method: 'aka' | 'akaPrime',
  identityRoundPackets: readonly Uint8Array[],
): Uint8Array {
  if (identityRoundPackets.length === 0) return EMPTY;
  const h = createHash(method === 'akaPrime' ? 'sha256' : 'sha1');
  for (const p of identityRoundPackets) h.update(p);
  return new Uint8Array(h.digest());
}

/** Constant-time check of a received AT_CHECKCODE value. */
export function verifyCheckcode(
  method: 'aka' | 'akaPrime',
  identityRoundPackets: readonly Uint8Array[],
  received: Uint8Array,
): boolean {
  return constantTimeEqual(checkcode(method, identityRoundPackets), received);
}
