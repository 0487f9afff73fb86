// Octet counters wider than 32 bits (RFC 2869 §5.1, §5.2): total = Gigawords · 2^32 + Octets.
// Totals are JavaScript numbers, exact up to 2^53 octets (8 PiB) — far beyond a session's traffic.

import { decodeError, ok, type Result } from '../result.js';
import { getAttribute } from './attributes.js';
import type { RadiusPacket } from './rfc-2865-packet.js';

const TWO_32 = 0x1_0000_0000;

/** RFC 2869 §5.1: Acct-Input-Octets + Acct-Input-Gigawords (same for output). */
export function octetsWithGigawords(octets: number, gigawords: number): number {
  return gigawords * TWO_32 + octets;
}

/** The inverse: the two 32-bit attribute values for a total. */
export function splitOctets(total: number): { octets: number; gigawords: number } {
  if (!Number.isSafeInteger(total) || total < 0)
    throw new RangeError('octet total must be a non-negative safe integer');
  return { octets: total % TWO_32, gigawords: Math.floor(total / TWO_32) };
}

export interface AccountingOctets {
  /** Octets received from the user (Acct-Input-*), when the packet reports them. */
  readonly input?: number;
  readonly output?: number;
}

/** Input and output octet totals of an Accounting-Request (absent counters stay undefined). */
export function accountingOctets(packet: Pick<RadiusPacket, 'attributes'>): Result<AccountingOctets> {
  const read = (
    octetsName: 'Acct-Input-Octets' | 'Acct-Output-Octets',
    gigaName: 'Acct-Input-Gigawords' | 'Acct-Output-Gigawords',
  ) => {
    const octets = getAttribute(packet, octetsName);
    const giga = getAttribute(packet, gigaName);
    if (octets && !octets.ok) return octets;
    if (giga && !giga.ok) return giga;
    if (!octets && giga) return decodeError('RADIUS_GIGAWORDS_ALONE', `${gigaName} without ${octetsName}`);
    return ok(octets ? octetsWithGigawords(octets.value, giga?.ok ? giga.value : 0) : undefined);
  };
  const input = read('Acct-Input-Octets', 'Acct-Input-Gigawords');
  if (!input.ok) return input;
  const output = read('Acct-Output-Octets', 'Acct-Output-Gigawords');
  if (!output.ok) return output;
  return ok({
    ...(input.value === undefined ? {} : { input: input.value }),
    ...(output.value === undefined ? {} : { output: output.value }),
  });
}
