// Authenticators and hidden values of RADIUS:
// - Request Authenticator: random for Access-Request/Status-Server (RFC 2865 §3), MD5 over the packet
//   for Accounting-Request (RFC 2866 §3) and CoA/Disconnect-Request (RFC 5176 §2.3);
// - Response Authenticator (RFC 2865 §3, RFC 2866 §3, RFC 5176 §2.3);
// - Message-Authenticator, HMAC-MD5 (RFC 3579 §3.2, RFC 2869 §5.14, RFC 5176 §3.2, RFC 5997 §3);
// - User-Password hiding (RFC 2865 §5.2).
// Comparisons run in constant time.

import { createHash, createHmac, randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../../crypto/constant-time.js';
import { decodeError, ok, type Result } from '../result.js';
import { type AttributeInput, resolveAttributes } from './attributes.js';
import {
  encodePacket,
  RADIUS_CODES,
  RADIUS_HEADER_LENGTH,
  RADIUS_MAX_PACKET_LENGTH,
} from './rfc-2865-packet.js';

/** A shared secret as configured (text) or raw octets. */
export type Secret = string | Uint8Array;
const secretBytes = (s: Secret): Uint8Array => (typeof s === 'string' ? new TextEncoder().encode(s) : s);

const md5 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('md5');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

const ZERO_16 = new Uint8Array(16);
const MESSAGE_AUTHENTICATOR = 80;

/** Requests whose Request Authenticator is an MD5 over the packet (not random). */
const COMPUTED_REQUEST: ReadonlySet<number> = new Set([
  RADIUS_CODES['Accounting-Request'],
  RADIUS_CODES['Disconnect-Request'],
  RADIUS_CODES['CoA-Request'],
]);
/** Requests with a random Request Authenticator. */
const RANDOM_REQUEST: ReadonlySet<number> = new Set([
  RADIUS_CODES['Access-Request'],
  RADIUS_CODES['Status-Server'],
  RADIUS_CODES['Status-Client'],
]);

export const isComputedAuthenticatorRequest = (code: number): boolean => COMPUTED_REQUEST.has(code);
export const isRequestCode = (code: number): boolean =>
  COMPUTED_REQUEST.has(code) || RANDOM_REQUEST.has(code);

export interface OutgoingPacket {
  readonly code: number;
  readonly identifier: number;
  /** Named `[name, value]` pairs or raw attributes, in order. */
  readonly attributes: readonly AttributeInput[];
}

/** RFC 2865 §3: a fresh random Request Authenticator. */
export const randomAuthenticator = (): Uint8Array => new Uint8Array(randomBytes(16));

/**
 * Encode a request and fill in its authenticators. Access-Request / Status-Server use `authenticator`
 * (random when omitted); Accounting-, CoA- and Disconnect-Request get the MD5 Request Authenticator of
 * RFC 2866 §3 / RFC 5176 §2.3. A Message-Authenticator attribute in the list (any value; see
 * `messageAuthenticator()`) is computed over the packet with the authenticator field as sent for
 * random requests and zeroed for computed ones (RFC 5176 §3.2, as hostapd and FreeRADIUS do).
 */
export function encodeRequest(
  packet: OutgoingPacket,
  secret: Secret,
  authenticator?: Uint8Array,
): Result<Uint8Array> {
  if (!isRequestCode(packet.code))
    return decodeError('RADIUS_NOT_A_REQUEST', `code ${packet.code} is not a request`);
  const computed = COMPUTED_REQUEST.has(packet.code);
  if (authenticator !== undefined && (computed || authenticator.length !== 16)) {
    return decodeError(
      'RADIUS_AUTHENTICATOR',
      'a 16-octet authenticator may only be given for Access-Request/Status-Server',
    );
  }
  return sign(packet, computed ? ZERO_16 : (authenticator ?? randomAuthenticator()), secret, computed);
}

/**
 * Encode a response to the request whose authenticator is `requestAuthenticator`: the
 * Message-Authenticator (if listed) is computed with the Request Authenticator in the header
 * (RFC 3579 §3.2), then the Response Authenticator = MD5(Code|Id|Length|RequestAuth|Attributes|Secret)
 * (RFC 2865 §3, RFC 2866 §3, RFC 5176 §2.3).
 */
export function encodeResponse(
  packet: OutgoingPacket,
  requestAuthenticator: Uint8Array,
  secret: Secret,
): Result<Uint8Array> {
  if (isRequestCode(packet.code))
    return decodeError('RADIUS_NOT_A_RESPONSE', `code ${packet.code} is a request`);
  if (requestAuthenticator.length !== 16)
    return decodeError('RADIUS_AUTHENTICATOR', 'request authenticator must be 16 octets');
  return sign(packet, requestAuthenticator, secret, true);
}

/**
 * Lay out the packet with `headerAuthenticator` in the authenticator field, compute the
 * Message-Authenticator (if listed) over exactly that, then — for computed request authenticators and
 * for responses — replace the field by MD5(packet | secret), which is the RFC 2866 §3 / RFC 5176 §2.3
 * Request Authenticator when the field held zeros and the RFC 2865 §3 Response Authenticator when it
 * held the Request Authenticator.
 */
function sign(
  packet: OutgoingPacket,
  headerAuthenticator: Uint8Array,
  secret: Secret,
  md5Authenticator: boolean,
): Result<Uint8Array> {
  const attributes = resolveAttributes(packet.attributes);
  if (!attributes.ok) return attributes;
  const encoded = encodePacket({
    code: packet.code,
    identifier: packet.identifier,
    authenticator: headerAuthenticator,
    attributes: attributes.value,
  });
  if (!encoded.ok) return encoded;
  const { bytes, messageAuthenticatorOffset } = encoded.value;
  const key = secretBytes(secret);
  if (messageAuthenticatorOffset !== undefined) {
    bytes.fill(0, messageAuthenticatorOffset, messageAuthenticatorOffset + 16);
    bytes.set(hmacMd5(key, bytes), messageAuthenticatorOffset);
  }
  if (md5Authenticator) bytes.set(md5(bytes, key), 4);
  return ok(bytes);
}

/** A Message-Authenticator placeholder for an attribute list (put it first, as the 2024 BlastRADIUS advisory recommends). */
export const messageAuthenticator = (): AttributeInput => ({
  type: MESSAGE_AUTHENTICATOR,
  value: new Uint8Array(16),
});

const hmacMd5 = (key: Uint8Array, data: Uint8Array) =>
  new Uint8Array(createHmac('md5', key).update(data).digest());

/** The packet proper: the received octets cut to the Length field, or undefined when it is invalid. */
function packetOctets(raw: Uint8Array): Uint8Array | undefined {
  if (raw.length < RADIUS_HEADER_LENGTH) return undefined;
  const length = ((raw[2] ?? 0) << 8) | (raw[3] ?? 0);
  if (length < RADIUS_HEADER_LENGTH || length > RADIUS_MAX_PACKET_LENGTH || length > raw.length)
    return undefined;
  return raw.subarray(0, length);
}

/**
 * RFC 2866 §3 / RFC 5176 §2.3: check the Request Authenticator of an Accounting-, CoA- or
 * Disconnect-Request, MD5(Code|Id|Length|16 zero octets|Attributes|Secret). False for other codes.
 */
export function verifyRequestAuthenticator(raw: Uint8Array, secret: Secret): boolean {
  const packet = packetOctets(raw);
  if (!packet || !COMPUTED_REQUEST.has(packet[0] ?? 0)) return false;
  const copy = packet.slice();
  copy.fill(0, 4, 20);
  return constantTimeEqual(md5(copy, secretBytes(secret)), packet.subarray(4, 20));
}

/** RFC 2865 §3: check a response against the authenticator of the request it answers. */
export function verifyResponseAuthenticator(
  raw: Uint8Array,
  requestAuthenticator: Uint8Array,
  secret: Secret,
): boolean {
  const packet = packetOctets(raw);
  if (!packet || requestAuthenticator.length !== 16) return false;
  const copy = packet.slice();
  copy.set(requestAuthenticator, 4);
  return constantTimeEqual(md5(copy, secretBytes(secret)), packet.subarray(4, 20));
}

/** Offsets of every Message-Authenticator value; undefined if the attribute list is malformed. */
function messageAuthenticatorOffsets(packet: Uint8Array): number[] | undefined {
  const offsets: number[] = [];
  let i = RADIUS_HEADER_LENGTH;
  while (i < packet.length) {
    const len = packet[i + 1] ?? 0;
    if (packet.length - i < 2 || len < 2 || i + len > packet.length) return undefined;
    if (packet[i] === MESSAGE_AUTHENTICATOR) {
      if (len !== 18) return undefined;
      offsets.push(i + 2);
    }
    i += len;
  }
  return offsets;
}

export type MessageAuthenticatorCheck = 'absent' | 'valid' | 'invalid';

/**
 * RFC 3579 §3.2: check the Message-Authenticator. The authenticator field used in the HMAC is the
 * packet's own for Access-Request/Status-Server, zeros for Accounting/CoA/Disconnect-Request, and for a
 * response the Request Authenticator of its request (`requestAuthenticator`, required for responses).
 * More than one Message-Authenticator, a wrong length or a malformed packet count as invalid.
 */
export function verifyMessageAuthenticator(
  raw: Uint8Array,
  secret: Secret,
  requestAuthenticator?: Uint8Array,
): MessageAuthenticatorCheck {
  const packet = packetOctets(raw);
  if (!packet) return 'invalid';
  const offsets = messageAuthenticatorOffsets(packet);
  if (!offsets || offsets.length > 1) return 'invalid';
  const [offset] = offsets;
  if (offset === undefined) return 'absent';
  const code = packet[0] ?? 0;
  const copy = packet.slice();
  copy.fill(0, offset, offset + 16);
  if (COMPUTED_REQUEST.has(code)) copy.fill(0, 4, 20);
  else if (!RANDOM_REQUEST.has(code)) {
    if (requestAuthenticator?.length !== 16) return 'invalid';
    copy.set(requestAuthenticator, 4);
  }
  return constantTimeEqual(hmacMd5(secretBytes(secret), copy), packet.subarray(offset, offset + 16))
    ? 'valid'
    : 'invalid';
}

/** RFC 2865 §5.2: longest password that can be hidden. */
export const USER_PASSWORD_MAX_LENGTH = 128;

function passwordStream(
  secret: Uint8Array,
  authenticator: Uint8Array,
  input: Uint8Array,
  decrypt: boolean,
): Uint8Array {
  const out = new Uint8Array(input.length);
  let previous = authenticator;
  for (let i = 0; i < input.length; i += 16) {
    const b = md5(secret, previous);
    for (let j = 0; j < 16; j++) out[i + j] = (input[i + j] ?? 0) ^ (b[j] ?? 0);
    previous = decrypt ? input.subarray(i, i + 16) : out.subarray(i, i + 16);
  }
  return out;
}

/**
 * RFC 2865 §5.2: hide a password: pad with zeros to a multiple of 16, c1 = p1 ⊕ MD5(S | RA),
 * ci = pi ⊕ MD5(S | c(i-1)).
 */
export function hideUserPassword(
  password: Uint8Array | string,
  secret: Secret,
  requestAuthenticator: Uint8Array,
): Result<Uint8Array> {
  const p = typeof password === 'string' ? new TextEncoder().encode(password) : password;
  if (p.length > USER_PASSWORD_MAX_LENGTH)
    return decodeError('RADIUS_PASSWORD_TOO_LONG', 'User-Password is limited to 128 octets');
  if (requestAuthenticator.length !== 16)
    return decodeError('RADIUS_AUTHENTICATOR', 'request authenticator must be 16 octets');
  const padded = new Uint8Array(Math.max(16, Math.ceil(p.length / 16) * 16));
  padded.set(p);
  return ok(passwordStream(secretBytes(secret), requestAuthenticator, padded, false));
}

/** RFC 2865 §5.2: recover a hidden password (trailing zero padding removed). */
export function recoverUserPassword(
  hidden: Uint8Array,
  secret: Secret,
  requestAuthenticator: Uint8Array,
): Result<Uint8Array> {
  if (hidden.length < 16 || hidden.length > USER_PASSWORD_MAX_LENGTH || hidden.length % 16 !== 0) {
    return decodeError('RADIUS_PASSWORD_LENGTH', 'hidden User-Password must be 16–128 octets in steps of 16');
  }
  if (requestAuthenticator.length !== 16)
    return decodeError('RADIUS_AUTHENTICATOR', 'request authenticator must be 16 octets');
  const plain = passwordStream(secretBytes(secret), requestAuthenticator, hidden, true);
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  return ok(plain.slice(0, end));
}

export { md5 as radiusMd5, secretBytes };
