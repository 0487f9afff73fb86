// RADIUS packet format (RFC 2865 §3, §5; RFC 2866 §3; RFC 5176 §3; RFC 5997 §2) and the attribute
// list codec, with Vendor-Specific (RFC 2865 §5.26) sub-attributes of the vendors we know flattened
// into the list. The decoder is total: any bytes give a packet or a typed error.

import { decodeError, ok, type Result } from '../result.js';
import { KNOWN_VENDOR_IDS } from './dictionary.js';

/** RFC 2865 §3, RFC 2866 §3, RFC 5176 §2.3, RFC 5997 §2. */
export const RADIUS_CODES = {
  'Access-Request': 1,
  'Access-Accept': 2,
  'Access-Reject': 3,
  'Accounting-Request': 4,
  'Accounting-Response': 5,
  'Access-Challenge': 11,
  'Status-Server': 12,
  'Status-Client': 13,
  'Disconnect-Request': 40,
  'Disconnect-ACK': 41,
  'Disconnect-NAK': 42,
  'CoA-Request': 43,
  'CoA-ACK': 44,
  'CoA-NAK': 45,
} as const;
export type RadiusCodeName = keyof typeof RADIUS_CODES;

const CODE_NAMES = new Map<number, RadiusCodeName>(
  (Object.entries(RADIUS_CODES) as [RadiusCodeName, number][]).map(([name, code]) => [code, name]),
);
export const radiusCodeName = (code: number): RadiusCodeName | undefined => CODE_NAMES.get(code);

/** RFC 2865 §3: header is Code(1) Identifier(1) Length(2) Authenticator(16). */
export const RADIUS_HEADER_LENGTH = 20;
/** RFC 2865 §3: maximum Length. */
export const RADIUS_MAX_PACKET_LENGTH = 4096;
/** RFC 2865 §5: an attribute's Length octet counts its 2-octet header, so values are ≤ 253 octets. */
export const RADIUS_MAX_VALUE_LENGTH = 253;
/** RFC 2865 §5.26: Vendor-Specific attribute type. */
export const VENDOR_SPECIFIC = 26;
/** Vendor-Id(4) + sub-attribute header(2) leave 247 octets for a vendor value. */
export const RADIUS_MAX_VENDOR_VALUE_LENGTH = RADIUS_MAX_VALUE_LENGTH - 6;

export interface RadiusAttribute {
  /** The attribute type, or the vendor type when `vendorId` is set. */
  readonly type: number;
  /** Set for a Vendor-Specific sub-attribute of a vendor whose format we know. */
  readonly vendorId?: number;
  /** The value octets as on the wire (hidden values stay hidden). */
  readonly value: Uint8Array;
}

export interface RadiusPacket {
  readonly code: number;
  readonly identifier: number;
  /** Request or Response Authenticator, 16 octets. */
  readonly authenticator: Uint8Array;
  /**
   * In packet order. Sub-attributes of a Vendor-Specific attribute of a known vendor appear in its
   * place with `vendorId`; any other Vendor-Specific attribute stays raw (type 26).
   */
  readonly attributes: readonly RadiusAttribute[];
}

/**
 * RFC 2865 §5.26: the sub-attributes of a Vendor-Specific value in the standard format (type(1)
 * length(1) value). Undefined when the vendor is unknown or the sub-attributes do not fill the
 * value exactly, so the caller keeps the attribute raw instead of guessing.
 */
function splitVendorSpecific(value: Uint8Array): RadiusAttribute[] | undefined {
  if (value.length < 6) return undefined;
  const vendorId =
    ((value[0] ?? 0) * 0x1000000 + ((value[1] ?? 0) << 16) + ((value[2] ?? 0) << 8) + (value[3] ?? 0)) >>> 0;
  if (!KNOWN_VENDOR_IDS.has(vendorId)) return undefined;
  const subs: RadiusAttribute[] = [];
  let i = 4;
  while (i < value.length) {
    if (value.length - i < 2) return undefined;
    const len = value[i + 1] ?? 0;
    if (len < 2 || i + len > value.length) return undefined;
    subs.push({ type: value[i] ?? 0, vendorId, value: value.slice(i + 2, i + len) });
    i += len;
  }
  return subs;
}

/** RFC 2865 §5: parse an attribute list; every length is checked against its bounds. */
export function decodeAttributes(bytes: Uint8Array, baseOffset = 0): Result<RadiusAttribute[]> {
  const attributes: RadiusAttribute[] = [];
  let i = 0;
  while (i < bytes.length) {
    if (bytes.length - i < 2)
      return decodeError('RADIUS_ATTRIBUTE_TRUNCATED', 'attribute header cut short', baseOffset + i);
    const type = bytes[i] ?? 0;
    const len = bytes[i + 1] ?? 0;
    if (len < 2)
      return decodeError(
        'RADIUS_ATTRIBUTE_LENGTH',
        `attribute ${type} has length ${len} < 2`,
        baseOffset + i + 1,
      );
    if (i + len > bytes.length) {
      return decodeError(
        'RADIUS_ATTRIBUTE_OVERRUN',
        `attribute ${type} runs past the packet end`,
        baseOffset + i + 1,
      );
    }
    const value = bytes.slice(i + 2, i + len);
    const subs = type === VENDOR_SPECIFIC ? splitVendorSpecific(value) : undefined;
    if (subs) attributes.push(...subs);
    else attributes.push({ type, value });
    i += len;
  }
  return ok(attributes);
}

/**
 * RFC 2865 §3: decode a datagram. Octets past Length are padding and ignored; a Length beyond the
 * datagram, below 20 or above 4096 is an error (the RFC says: silently discard).
 */
export function decodePacket(datagram: Uint8Array): Result<RadiusPacket> {
  if (datagram.length < RADIUS_HEADER_LENGTH) {
    return decodeError('RADIUS_TRUNCATED', `packet has ${datagram.length} octets, header needs 20`);
  }
  const length = ((datagram[2] ?? 0) << 8) | (datagram[3] ?? 0);
  if (length < RADIUS_HEADER_LENGTH || length > RADIUS_MAX_PACKET_LENGTH) {
    return decodeError('RADIUS_LENGTH', `Length ${length} outside 20–4096`, 2);
  }
  if (length > datagram.length) {
    return decodeError(
      'RADIUS_TRUNCATED',
      `Length ${length} exceeds the ${datagram.length} octets received`,
      2,
    );
  }
  const attributes = decodeAttributes(datagram.subarray(RADIUS_HEADER_LENGTH, length), RADIUS_HEADER_LENGTH);
  if (!attributes.ok) return attributes;
  return ok({
    code: datagram[0] ?? 0,
    identifier: datagram[1] ?? 0,
    authenticator: datagram.slice(4, 20),
    attributes: attributes.value,
  });
}

/** Where an encoded attribute's value starts in the packet (for Message-Authenticator). */
export interface EncodedPacket {
  readonly bytes: Uint8Array;
  /** Offset of the Message-Authenticator value, when the packet has one. */
  readonly messageAuthenticatorOffset?: number;
}

const MESSAGE_AUTHENTICATOR = 80;

/**
 * RFC 2865 §3/§5: lay out a packet with the given authenticator field. Each vendor sub-attribute gets
 * its own Vendor-Specific attribute (RFC 2865 §5.26 allows either; one per VSA is what most NASes send).
 */
export function encodePacket(packet: RadiusPacket): Result<EncodedPacket> {
  if (!Number.isInteger(packet.code) || packet.code < 0 || packet.code > 255)
    return decodeError('RADIUS_CODE', 'code must be one octet');
  if (!Number.isInteger(packet.identifier) || packet.identifier < 0 || packet.identifier > 255) {
    return decodeError('RADIUS_IDENTIFIER', 'identifier must be one octet');
  }
  if (packet.authenticator.length !== 16)
    return decodeError('RADIUS_AUTHENTICATOR', 'authenticator must be 16 octets');
  let length = RADIUS_HEADER_LENGTH;
  for (const a of packet.attributes) {
    if (a.type < 0 || a.type > 255 || !Number.isInteger(a.type))
      return decodeError('RADIUS_ATTRIBUTE_TYPE', 'attribute type must be one octet');
    if (
      a.vendorId !== undefined &&
      (!Number.isInteger(a.vendorId) || a.vendorId < 0 || a.vendorId > 0xffffffff)
    ) {
      return decodeError('RADIUS_VENDOR_ID', 'vendor id must be 32 bits');
    }
    const max = a.vendorId === undefined ? RADIUS_MAX_VALUE_LENGTH : RADIUS_MAX_VENDOR_VALUE_LENGTH;
    if (a.value.length > max) {
      return decodeError(
        'RADIUS_ATTRIBUTE_TOO_LONG',
        `attribute ${a.vendorId ?? ''}:${a.type} value has ${a.value.length} octets > ${max}`,
      );
    }
    length += 2 + a.value.length + (a.vendorId === undefined ? 0 : 6);
  }
  if (length > RADIUS_MAX_PACKET_LENGTH)
    return decodeError('RADIUS_PACKET_TOO_LONG', `packet would be ${length} octets > 4096`);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  out[0] = packet.code;
  out[1] = packet.identifier;
  view.setUint16(2, length);
  out.set(packet.authenticator, 4);
  let i = RADIUS_HEADER_LENGTH;
  let messageAuthenticatorOffset: number | undefined;
  for (const a of packet.attributes) {
    if (a.vendorId === undefined) {
      out[i] = a.type;
      out[i + 1] = 2 + a.value.length;
      out.set(a.value, i + 2);
      if (a.type === MESSAGE_AUTHENTICATOR && messageAuthenticatorOffset === undefined)
        messageAuthenticatorOffset = i + 2;
      i += 2 + a.value.length;
    } else {
      out[i] = VENDOR_SPECIFIC;
      out[i + 1] = 8 + a.value.length;
      view.setUint32(i + 2, a.vendorId);
      out[i + 6] = a.type;
      out[i + 7] = 2 + a.value.length;
      out.set(a.value, i + 8);
      i += 8 + a.value.length;
    }
  }
  return ok(
    messageAuthenticatorOffset === undefined ? { bytes: out } : { bytes: out, messageAuthenticatorOffset },
  );
}
