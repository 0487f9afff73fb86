// EAP packets (RFC 3748 §4–5): Request/Response/Success/Failure, Identity, Notification and Nak.
// The decoder is total: any bytes give a packet or a typed error.

import { decodeError, ok, type Result } from '../result.js';

/** RFC 3748 §4. */
export const EAP_CODES = { Request: 1, Response: 2, Success: 3, Failure: 4 } as const;

/** RFC 3748 §5 and the IANA EAP method registry entries we speak. */
export const EAP_TYPES = {
  Identity: 1,
  Notification: 2,
  Nak: 3,
  'MD5-Challenge': 4,
  'EAP-SIM': 18,
  'EAP-AKA': 23,
  "EAP-AKA'": 50,
  Expanded: 254,
} as const;

export interface EapPacket {
  readonly code: number;
  readonly identifier: number;
  /** The method type of a Request/Response; absent for Success/Failure. */
  readonly type?: number;
  /** Type-Data (after the type octet); empty for Success/Failure. */
  readonly data: Uint8Array;
}

/**
 * RFC 3748 §4: decode. Octets past Length are lower-layer padding and ignored (§4.1); a Length beyond
 * the input, a Success/Failure whose Length is not 4, a Request/Response without a type, or an unknown
 * Code are errors (the RFC says: silently discard).
 */
export function decodeEap(bytes: Uint8Array): Result<EapPacket> {
  if (bytes.length < 4) return decodeError('EAP_TRUNCATED', `EAP packet needs 4 octets, got ${bytes.length}`);
  const code = bytes[0] ?? 0;
  const identifier = bytes[1] ?? 0;
  const length = ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0);
  if (length < 4) return decodeError('EAP_LENGTH', `Length ${length} < 4`, 2);
  if (length > bytes.length)
    return decodeError('EAP_TRUNCATED', `Length ${length} exceeds the ${bytes.length} octets given`, 2);
  if (code === EAP_CODES.Success || code === EAP_CODES.Failure) {
    if (length !== 4) return decodeError('EAP_LENGTH', 'Success/Failure must have Length 4', 2);
    return ok({ code, identifier, data: new Uint8Array(0) });
  }
  if (code !== EAP_CODES.Request && code !== EAP_CODES.Response)
    return decodeError('EAP_CODE', `unknown EAP code ${code}`, 0);
  if (length < 5) return decodeError('EAP_LENGTH', 'Request/Response needs a Type octet', 2);
  return ok({ code, identifier, type: bytes[4] ?? 0, data: bytes.slice(5, length) });
}

/** RFC 3748 §4: encode. */
export function encodeEap(packet: EapPacket): Result<Uint8Array> {
  const hasType = packet.code === EAP_CODES.Request || packet.code === EAP_CODES.Response;
  if (!hasType && packet.code !== EAP_CODES.Success && packet.code !== EAP_CODES.Failure) {
    return decodeError('EAP_CODE', `unknown EAP code ${packet.code}`);
  }
  if (!Number.isInteger(packet.identifier) || packet.identifier < 0 || packet.identifier > 255) {
    return decodeError('EAP_IDENTIFIER', 'identifier must be one octet');
  }
  if (hasType && (packet.type === undefined || packet.type < 0 || packet.type > 255)) {
    return decodeError('EAP_TYPE', 'Request/Response needs a one-octet type');
  }
  const length = hasType ? 5 + packet.data.length : 4;
  if (length > 0xffff) return decodeError('EAP_TOO_LONG', 'EAP packet longer than 65535 octets');
  const out = new Uint8Array(length);
  out[0] = packet.code;
  out[1] = packet.identifier;
  out[2] = length >> 8;
  out[3] = length & 0xff;
  if (hasType) {
    out[4] = packet.type ?? 0;
    out.set(packet.data, 5);
  }
  return ok(out);
}

const utf8 = (s: string) => new TextEncoder().encode(s);

/** RFC 3748 §5.1: Request/Identity, optionally with a displayable prompt. */
export const identityRequest = (identifier: number, prompt = ''): EapPacket => ({
  code: EAP_CODES.Request,
  identifier,
  type: EAP_TYPES.Identity,
  data: utf8(prompt),
});

/** RFC 3748 §5.1: Response/Identity. */
export const identityResponse = (identifier: number, identity: string | Uint8Array): EapPacket => ({
  code: EAP_CODES.Response,
  identifier,
  type: EAP_TYPES.Identity,
  data: typeof identity === 'string' ? utf8(identity) : identity,
});

/** RFC 3748 §5.2: Request/Notification with displayable text. */
export const notificationRequest = (identifier: number, text: string): EapPacket => ({
  code: EAP_CODES.Request,
  identifier,
  type: EAP_TYPES.Notification,
  data: utf8(text),
});

/** RFC 3748 §5.3.1: legacy Nak listing the desired authentication types (0 = none acceptable). */
export const nakResponse = (identifier: number, desiredTypes: readonly number[]): EapPacket => ({
  code: EAP_CODES.Response,
  identifier,
  type: EAP_TYPES.Nak,
  data: Uint8Array.from(desiredTypes.length === 0 ? [0] : desiredTypes),
});

/** RFC 3748 §5.3.1: the desired types of a Nak (a lone 0 means "no alternative"). */
export function nakDesiredTypes(packet: EapPacket): Result<number[]> {
  if (packet.type !== EAP_TYPES.Nak) return decodeError('EAP_NOT_NAK', 'not a Nak');
  if (packet.data.length === 0) return decodeError('EAP_NAK_EMPTY', 'Nak lists no type');
  const types = [...packet.data];
  return ok(types.length === 1 && types[0] === 0 ? [] : types);
}

/** RFC 3748 §4.2. */
export const eapSuccess = (identifier: number): EapPacket => ({
  code: EAP_CODES.Success,
  identifier,
  data: new Uint8Array(0),
});
export const eapFailure = (identifier: number): EapPacket => ({
  code: EAP_CODES.Failure,
  identifier,
  data: new Uint8Array(0),
});
