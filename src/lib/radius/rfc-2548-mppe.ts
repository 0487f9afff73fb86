// MS-MPPE-Send-Key / MS-MPPE-Recv-Key salt encryption (RFC 2548 §2.4.2, §2.4.3) and the mapping of
// an EAP MSK onto them (RFC 3579 §4.4.1 / RFC 5247 §2: Recv-Key = MSK[0..31], Send-Key = MSK[32..63],
// as hostapd and FreeRADIUS send them).

import { randomBytes } from 'node:crypto';
import { decodeError, ok, type Result } from '../result.js';
import { RADIUS_ATTRIBUTES } from './dictionary.js';
import { radiusMd5, type Secret, secretBytes } from './rfc-2865-authenticators.js';
import type { RadiusAttribute } from './rfc-2865-packet.js';

/**
 * RFC 2548 §2.4.2: String = Salt(2) | C, where P = key-length(1) | key | zero padding to a multiple of
 * 16, b1 = MD5(S | R | A), c1 = p1 ⊕ b1, bi = MD5(S | c(i-1)), ci = pi ⊕ bi. R is the Request
 * Authenticator of the Access-Request being answered; A is the salt, whose top bit must be set.
 */
export function encryptMppeKey(
  key: Uint8Array,
  secret: Secret,
  requestAuthenticator: Uint8Array,
  salt: Uint8Array,
): Result<Uint8Array> {
  if (salt.length !== 2 || ((salt[0] ?? 0) & 0x80) === 0)
    return decodeError('MPPE_SALT', 'salt must be 2 octets with the top bit set');
  if (key.length > 255) return decodeError('MPPE_KEY_LENGTH', 'key longer than 255 octets');
  if (requestAuthenticator.length !== 16)
    return decodeError('RADIUS_AUTHENTICATOR', 'request authenticator must be 16 octets');
  const p = new Uint8Array(Math.ceil((key.length + 1) / 16) * 16);
  p[0] = key.length;
  p.set(key, 1);
  const s = secretBytes(secret);
  const out = new Uint8Array(2 + p.length);
  out.set(salt);
  let b = radiusMd5(s, requestAuthenticator, salt);
  for (let i = 0; i < p.length; i += 16) {
    for (let j = 0; j < 16; j++) out[2 + i + j] = (p[i + j] ?? 0) ^ (b[j] ?? 0);
    b = radiusMd5(s, out.subarray(2 + i, 2 + i + 16));
  }
  return ok(out);
}

/** RFC 2548 §2.4.2: recover the key from an MS-MPPE-Send-Key / Recv-Key value. */
export function decryptMppeKey(
  value: Uint8Array,
  secret: Secret,
  requestAuthenticator: Uint8Array,
): Result<Uint8Array> {
  if (value.length < 18 || (value.length - 2) % 16 !== 0) {
    return decodeError('MPPE_LENGTH', 'value must be a 2-octet salt plus a multiple of 16 octets');
  }
  if (((value[0] ?? 0) & 0x80) === 0) return decodeError('MPPE_SALT', 'salt top bit is not set', 0);
  if (requestAuthenticator.length !== 16)
    return decodeError('RADIUS_AUTHENTICATOR', 'request authenticator must be 16 octets');
  const s = secretBytes(secret);
  const c = value.subarray(2);
  const p = new Uint8Array(c.length);
  let b = radiusMd5(s, requestAuthenticator, value.subarray(0, 2));
  for (let i = 0; i < c.length; i += 16) {
    for (let j = 0; j < 16; j++) p[i + j] = (c[i + j] ?? 0) ^ (b[j] ?? 0);
    b = radiusMd5(s, c.subarray(i, i + 16));
  }
  const length = p[0] ?? 0;
  if (length > p.length - 1)
    return decodeError('MPPE_KEY_LENGTH', 'key length exceeds the decrypted data (wrong secret?)');
  return ok(p.slice(1, 1 + length));
}

/**
 * The two MS-MPPE key attributes for an Access-Accept carrying `msk` (64 octets): Recv-Key gets
 * MSK[0..31] (the 802.11 PMK), Send-Key MSK[32..63]. Salts are random, top bit set and distinct
 * (RFC 2548 §2.4.2: unique within the packet).
 */
export function mppeKeyAttributes(
  msk: Uint8Array,
  secret: Secret,
  requestAuthenticator: Uint8Array,
  random: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n)),
): Result<[recvKey: RadiusAttribute, sendKey: RadiusAttribute]> {
  if (msk.length < 64) return decodeError('MPPE_MSK_LENGTH', 'MSK must be at least 64 octets');
  const recvSalt = random(2);
  recvSalt[0] = (recvSalt[0] ?? 0) | 0x80;
  const sendSalt = Uint8Array.of(recvSalt[0] ?? 0x80, (recvSalt[1] ?? 0) ^ 0x01);
  const recv = encryptMppeKey(msk.subarray(0, 32), secret, requestAuthenticator, recvSalt);
  const send = encryptMppeKey(msk.subarray(32, 64), secret, requestAuthenticator, sendSalt);
  if (!recv.ok) return recv;
  if (!send.ok) return send;
  const spec = RADIUS_ATTRIBUTES;
  return ok([
    { type: spec['MS-MPPE-Recv-Key'].code, vendorId: spec['MS-MPPE-Recv-Key'].vendor, value: recv.value },
    { type: spec['MS-MPPE-Send-Key'].code, vendorId: spec['MS-MPPE-Send-Key'].vendor, value: send.value },
  ]);
}
