// EAP-SIM / EAP-AKA / EAP-AKA' messages (RFC 4186 §8–9, RFC 4187 §8–9, RFC 9048 §3): the EAP header,
// Type (18/23/50), Subtype, 2 reserved octets, then attributes. Total decoder.

import { decodeError, ok, type Result } from '../result.js';
import { decodeEap, EAP_CODES, EAP_TYPES, encodeEap } from './rfc-3748-eap.js';
import {
  decodeSimAkaAttributes,
  encodeSimAkaAttributes,
  type SimAkaAttribute,
  type SimAkaAttributeName,
  type SimAkaValue,
} from './rfc-4187-attributes.js';
import { signAtMac } from './rfc-4187-protection.js';

/** RFC 4187 §11 / RFC 4186 §11 subtypes. */
export const SIM_AKA_SUBTYPES = {
  'AKA-Challenge': 1,
  'AKA-Authentication-Reject': 2,
  'AKA-Synchronization-Failure': 4,
  'AKA-Identity': 5,
  'SIM-Start': 10,
  'SIM-Challenge': 11,
  Notification: 12,
  'Re-authentication': 13,
  'Client-Error': 14,
} as const;
export type SimAkaSubtypeName = keyof typeof SIM_AKA_SUBTYPES;

export const SIM_AKA_METHOD_TYPES = {
  sim: EAP_TYPES['EAP-SIM'],
  aka: EAP_TYPES['EAP-AKA'],
  akaPrime: EAP_TYPES["EAP-AKA'"],
} as const;
export type SimAkaMethod = keyof typeof SIM_AKA_METHOD_TYPES;

export function simAkaMethodOfType(type: number): SimAkaMethod | undefined {
  if (type === SIM_AKA_METHOD_TYPES.sim) return 'sim';
  if (type === SIM_AKA_METHOD_TYPES.aka) return 'aka';
  if (type === SIM_AKA_METHOD_TYPES.akaPrime) return 'akaPrime';
  return undefined;
}

export interface SimAkaMessage {
  /** EAP Request (1) or Response (2). */
  readonly code: number;
  readonly identifier: number;
  readonly method: SimAkaMethod;
  readonly subtype: number;
  readonly attributes: readonly SimAkaAttribute[];
}

/** Decode an EAP-SIM/AKA/AKA' packet (the whole EAP packet). */
export function decodeSimAka(bytes: Uint8Array): Result<SimAkaMessage> {
  const eap = decodeEap(bytes);
  if (!eap.ok) return eap;
  const { code, identifier, type, data } = eap.value;
  if (code !== EAP_CODES.Request && code !== EAP_CODES.Response)
    return decodeError('EAP_SIM_AKA_CODE', 'not a Request/Response');
  const method = simAkaMethodOfType(type ?? 0);
  if (method === undefined) return decodeError('EAP_SIM_AKA_TYPE', `EAP type ${type} is not SIM/AKA/AKA'`, 4);
  if (data.length < 3) return decodeError('EAP_SIM_AKA_TRUNCATED', 'missing Subtype and Reserved octets', 5);
  const attributes = decodeSimAkaAttributes(data.subarray(3), { baseOffset: 8 });
  if (!attributes.ok) return attributes;
  return ok({ code, identifier, method, subtype: data[0] ?? 0, attributes: attributes.value });
}

export interface EncodeOptions {
  /** Sign the AT_MAC attribute of the message (it must be present, any value) with this K_aut. */
  readonly kAut?: Uint8Array;
  /** The data appended to the packet for AT_MAC (see signAtMac). */
  readonly extra?: Uint8Array;
}

/** Encode a message; with `kAut`, AT_MAC is computed over the finished packet. */
export function encodeSimAka(message: SimAkaMessage, options: EncodeOptions = {}): Result<Uint8Array> {
  if (!Number.isInteger(message.subtype) || message.subtype < 0 || message.subtype > 255) {
    return decodeError('EAP_SIM_AKA_SUBTYPE', 'subtype must be one octet');
  }
  const attributes = encodeSimAkaAttributes(message.attributes);
  if (!attributes.ok) return attributes;
  const data = new Uint8Array(3 + attributes.value.length);
  data[0] = message.subtype;
  data.set(attributes.value, 3);
  const packet = encodeEap({
    code: message.code,
    identifier: message.identifier,
    type: SIM_AKA_METHOD_TYPES[message.method],
    data,
  });
  if (!packet.ok || options.kAut === undefined) return packet;
  return signAtMac(packet.value, options.kAut, options.extra);
}

/** The value of the first attribute `name`, if present. */
export function findAttribute<N extends SimAkaAttributeName>(
  message: Pick<SimAkaMessage, 'attributes'>,
  name: N,
): SimAkaValue<N> | undefined {
  const found = message.attributes.find((a) => a.name === name);
  return found === undefined ? undefined : (found.value as SimAkaValue<N>);
}

/** Every value of attribute `name` (AT_KDF may repeat, RFC 9048 §3.2). */
export function findAttributes<N extends SimAkaAttributeName>(
  message: Pick<SimAkaMessage, 'attributes'>,
  name: N,
): SimAkaValue<N>[] {
  return message.attributes.filter((a) => a.name === name).map((a) => a.value as SimAkaValue<N>);
}
