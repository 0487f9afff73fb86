// EAP-Message (RFC 3579 §3.1): an EAP packet longer than 253 octets is split over consecutive
// EAP-Message attributes and joined again by the receiver.

import { decodeError, ok, type Result } from '../result.js';
import { RADIUS_ATTRIBUTES } from './dictionary.js';
import { RADIUS_MAX_VALUE_LENGTH, type RadiusAttribute, type RadiusPacket } from './rfc-2865-packet.js';

const EAP_MESSAGE = RADIUS_ATTRIBUTES['EAP-Message'].code;

/** RFC 3579 §3.1: split an EAP packet into EAP-Message attributes of at most 253 octets. */
export function eapMessageAttributes(eap: Uint8Array): RadiusAttribute[] {
  const out: RadiusAttribute[] = [];
  for (let i = 0; i < eap.length; i += RADIUS_MAX_VALUE_LENGTH) {
    out.push({ type: EAP_MESSAGE, value: eap.slice(i, i + RADIUS_MAX_VALUE_LENGTH) });
  }
  return out;
}

/**
 * RFC 3579 §3.1: join the EAP-Message attributes of a packet. Undefined when there are none; an error
 * when they are not consecutive ("MUST be in order and consecutive").
 */
export function reassembleEapMessage(
  packet: Pick<RadiusPacket, 'attributes'>,
): Result<Uint8Array | undefined> {
  const first = packet.attributes.findIndex((a) => a.type === EAP_MESSAGE && a.vendorId === undefined);
  if (first < 0) return ok(undefined);
  const parts: Uint8Array[] = [];
  let i = first;
  while (i < packet.attributes.length) {
    const a = packet.attributes[i];
    if (!a || a.type !== EAP_MESSAGE || a.vendorId !== undefined) break;
    parts.push(a.value);
    i++;
  }
  if (packet.attributes.slice(i).some((a) => a.type === EAP_MESSAGE && a.vendorId === undefined)) {
    return decodeError('RADIUS_EAP_MESSAGE_SPLIT', 'EAP-Message attributes are not consecutive');
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return ok(out);
}
