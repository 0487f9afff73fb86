// Typed access to RADIUS attributes through the dictionary: build attributes from `[name, value]`
// pairs and read values by name. Reading is total (a malformed value is a typed error).

import { decodeError, ok, type Result } from '../result.js';
import { decodeValue, encodeValue } from './attribute-values.js';
import { type AttributeName, type AttributeValue, attributeName, RADIUS_ATTRIBUTES } from './dictionary.js';
import type { RadiusAttribute, RadiusPacket } from './rfc-2865-packet.js';

/** A `[name, value]` pair for one dictionary attribute. */
export type NamedAttribute = { [N in AttributeName]: readonly [N, AttributeValue<N>] }[AttributeName];
/** What an outgoing attribute list may hold: named pairs or raw attributes (e.g. EAP-Message chunks). */
export type AttributeInput = NamedAttribute | RadiusAttribute;

/** Encode one named attribute. */
export function attribute<N extends AttributeName>(
  name: N,
  value: AttributeValue<N>,
): Result<RadiusAttribute> {
  const spec = RADIUS_ATTRIBUTES[name];
  const encoded = encodeValue(spec.type, value as never);
  if (!encoded.ok) return decodeError(encoded.error.code, `${name}: ${encoded.error.message}`);
  const vendor: number | undefined = 'vendor' in spec ? spec.vendor : undefined;
  return ok(
    vendor === undefined
      ? { type: spec.code, value: encoded.value }
      : { type: spec.code, vendorId: vendor, value: encoded.value },
  );
}

export function resolveAttributes(inputs: readonly AttributeInput[]): Result<RadiusAttribute[]> {
  const out: RadiusAttribute[] = [];
  for (const input of inputs) {
    if (Array.isArray(input)) {
      const [name, value] = input as NamedAttribute;
      const a = attribute(name, value as never);
      if (!a.ok) return a;
      out.push(a.value);
    } else {
      out.push(input as RadiusAttribute);
    }
  }
  return ok(out);
}

function matches(a: RadiusAttribute, name: AttributeName): boolean {
  const spec = RADIUS_ATTRIBUTES[name];
  const vendor: number | undefined = 'vendor' in spec ? spec.vendor : undefined;
  return a.type === spec.code && a.vendorId === vendor;
}

/** The first value of `name` in the packet, decoded; undefined when absent. */
export function getAttribute<N extends AttributeName>(
  packet: Pick<RadiusPacket, 'attributes'>,
  name: N,
): Result<AttributeValue<N>> | undefined {
  const found = packet.attributes.find((a) => matches(a, name));
  if (!found) return undefined;
  const decoded = decodeValue(RADIUS_ATTRIBUTES[name].type, found.value);
  if (!decoded.ok) return decodeError(decoded.error.code, `${name}: ${decoded.error.message}`);
  return decoded as Result<AttributeValue<N>>;
}

/** Every value of `name`, in packet order (e.g. Class, Proxy-State). */
export function getAttributes<N extends AttributeName>(
  packet: Pick<RadiusPacket, 'attributes'>,
  name: N,
): Result<AttributeValue<N>[]> {
  const values: AttributeValue<N>[] = [];
  for (const a of packet.attributes) {
    if (!matches(a, name)) continue;
    const decoded = decodeValue(RADIUS_ATTRIBUTES[name].type, a.value);
    if (!decoded.ok) return decodeError(decoded.error.code, `${name}: ${decoded.error.message}`);
    values.push(decoded.value as AttributeValue<N>);
  }
  return ok(values);
}

/** A readable form of each attribute for logs and debugging; hidden values are not revealed. */
export function describeAttributes(
  packet: Pick<RadiusPacket, 'attributes'>,
): { name: string; value: unknown }[] {
  return packet.attributes.map((a) => {
    const name = attributeName(a.type, a.vendorId);
    if (name === undefined) {
      return {
        name: a.vendorId === undefined ? `Attr-${a.type}` : `Vendor-${a.vendorId}-Attr-${a.type}`,
        value: Buffer.from(a.value).toString('hex'),
      };
    }
    const spec = RADIUS_ATTRIBUTES[name];
    if ('encryption' in spec) return { name, value: '(hidden)' };
    const decoded = decodeValue(spec.type, a.value);
    return { name, value: decoded.ok ? decoded.value : `(invalid: ${decoded.error.code})` };
  });
}
