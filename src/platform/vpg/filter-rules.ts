// Parsing of everything a VPG's kernel state is built from (issue 18): device subnet ranges, IPv4
// addresses and uplink filter rules. The data plane renders nftables text from the values these
// functions return — numbers and normalised CIDR text made from numbers — never from request
// strings, so a hostile string can never reach `nft` or `ip`.
//
// Uplink filter rules (PUT …/traffic_filtering/uplink_rules, body `{rules: […]}`): the reference
// lists only the top-level field `rules`. Each rule here is an allow entry
// `{ipRange, protocol?, fromPort?, toPort?, description?}` — `ipRange` as in SORACOM's
// routingFilterEntries — and everything a device sends that no rule allows is dropped and counted.

import { SimtrustError } from '../../lib/errors.js';
import { ipv4ToNumber, numberToIpv4, parseIpv4Cidr } from '../aaa/address-pool.js';

export const MAX_UPLINK_RULES = 10_000;
export const MAX_RULE_DESCRIPTION = 200;
export const FILTER_PROTOCOLS = ['any', 'tcp', 'udp', 'icmp'] as const;
export type FilterProtocol = (typeof FILTER_PROTOCOLS)[number];

export interface UplinkRule {
  /** Normalised CIDR (host bits cleared), e.g. `10.20.0.0/16`. */
  readonly ipRange: string;
  readonly protocol: FilterProtocol;
  /** Only for tcp/udp: the destination port range (inclusive); absent = every port. */
  readonly fromPort?: number;
  readonly toPort?: number;
  readonly description?: string;
}

/** A parsed IPv4 network: base address and prefix as numbers. */
export interface Cidr {
  readonly base: number;
  readonly prefix: number;
}

const invalid = (message: string, field: string): SimtrustError =>
  new SimtrustError('ERR_VPG_INVALID', message, { details: { field } });

/** Strict IPv4 CIDR ("a.b.c.d/p", no spaces, no leading zeros) → parsed, or undefined. */
export function parseCidr(text: unknown): Cidr | undefined {
  if (typeof text !== 'string' || text.length > 18 || text !== text.trim() || !text.includes('/'))
    return undefined;
  const n = parseIpv4Cidr(text);
  return n ? { base: n.base, prefix: n.prefix } : undefined;
}

export const cidrText = (c: Cidr): string => `${numberToIpv4(c.base)}/${c.prefix}`;

/** Strict dotted-quad IPv4 address → number, or undefined. */
export function parseAddress(text: unknown): number | undefined {
  if (typeof text !== 'string' || text.length > 15) return undefined;
  return ipv4ToNumber(text);
}

/** A device subnet range: a private-use network (RFC 1918 or 100.64/10) of /8 to /28. */
export function parseDeviceSubnet(text: unknown): Cidr {
  const c = parseCidr(text);
  if (!c || c.prefix < 8 || c.prefix > 28) {
    throw invalid(
      'deviceSubnetCidrRange must be an IPv4 network of /8 to /28, such as 10.128.0.0/9',
      'deviceSubnetCidrRange',
    );
  }
  return c;
}

const isPort = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;

/** Checks one rule from a request body and returns it normalised (field names in errors). */
export function parseUplinkRule(value: unknown, index: number): UplinkRule {
  const at = `rules[${index}]`;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(`${at} must be an object {ipRange, protocol?, fromPort?, toPort?}`, at);
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!['ipRange', 'protocol', 'fromPort', 'toPort', 'description'].includes(key))
      throw invalid(
        `${at} has an unknown field; allowed: ipRange, protocol, fromPort, toPort, description`,
        at,
      );
  }
  const cidr = parseCidr(r.ipRange);
  if (!cidr) throw invalid(`${at}.ipRange must be an IPv4 network such as 192.0.2.0/24`, `${at}.ipRange`);
  const protocol = r.protocol ?? 'any';
  if (typeof protocol !== 'string' || !(FILTER_PROTOCOLS as readonly string[]).includes(protocol))
    throw invalid(`${at}.protocol must be one of ${FILTER_PROTOCOLS.join(', ')}`, `${at}.protocol`);
  const description = r.description;
  if (
    description !== undefined &&
    (typeof description !== 'string' || description.length > MAX_RULE_DESCRIPTION)
  )
    throw invalid(
      `${at}.description must be text of at most ${MAX_RULE_DESCRIPTION} characters`,
      `${at}.description`,
    );
  const rule: { -readonly [K in keyof UplinkRule]: UplinkRule[K] } = {
    ipRange: cidrText(cidr),
    protocol: protocol as FilterProtocol,
  };
  if (r.fromPort !== undefined || r.toPort !== undefined) {
    if (protocol !== 'tcp' && protocol !== 'udp')
      throw invalid(`${at}: ports need protocol tcp or udp`, `${at}.protocol`);
    const from = r.fromPort ?? r.toPort;
    const to = r.toPort ?? r.fromPort;
    if (!isPort(from) || !isPort(to) || from > to)
      throw invalid(
        `${at}: fromPort and toPort must be integers 1–65535 with fromPort ≤ toPort`,
        `${at}.fromPort`,
      );
    rule.fromPort = from;
    rule.toPort = to;
  }
  if (typeof description === 'string') rule.description = description;
  return rule;
}

/** Checks a whole rule list (the PUT body's `rules`). */
export function parseUplinkRules(value: unknown): UplinkRule[] {
  if (!Array.isArray(value) || value.length > MAX_UPLINK_RULES)
    throw invalid(`rules must be an array of at most ${MAX_UPLINK_RULES} rules`, 'rules');
  return value.map((v, i) => parseUplinkRule(v, i));
}
