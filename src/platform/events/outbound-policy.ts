// Which addresses an event handler's web request may reach (SSRF defence, CWE-918). Refused unless
// the operator of the platform allows their network in `eventWebRequestAllowedNetworks`: loopback
// (the platform itself), private and shared networks, link-local (cloud metadata at 169.254.169.254
// and fd00:ec2::254), multicast, reserved and documentation ranges, and the platform's own listening
// addresses. IPv4-mapped and NAT64 IPv6 addresses are judged by the IPv4 address they carry.
// Checked on the URL at creation and on every address DNS gives at connection time (the request
// connects to the address that was checked, so a rebinding name cannot swap it).

import { BlockList, isIP } from 'node:net';
import { SimtrustError } from '../../lib/errors.js';

// RFC 6890 special-purpose registries (IANA), the ranges a webhook has no business reaching.
const FORBIDDEN_V4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const;
const FORBIDDEN_V6 = [
  ['::', 128],
  ['::1', 128],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const;

export interface OutboundPolicy {
  /** Why `address` (an IP literal) may not be reached, or undefined when it may. */
  refusal(address: string): string | undefined;
}

/** Parses `a.b.c.d/n, x::/n, …` (the setting's text); throws ERR_CONFIG naming a bad entry. */
export function parseNetworks(
  text: string,
): Array<{ address: string; prefix: number; family: 'ipv4' | 'ipv6' }> {
  const out: Array<{ address: string; prefix: number; family: 'ipv4' | 'ipv6' }> = [];
  for (const entry of text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')) {
    const [address = '', bits] = entry.split('/');
    const v = isIP(address);
    const max = v === 4 ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (
      v === 0 ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > max ||
      (bits !== undefined && !/^\d+$/.test(bits))
    ) {
      throw new SimtrustError(
        'ERR_CONFIG',
        `eventWebRequestAllowedNetworks: ${JSON.stringify(entry)} is not an address or CIDR network`,
      );
    }
    out.push({ address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' });
  }
  return out;
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::/96) IPv6 address. */
function embeddedV4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const m = /^(?:::ffff:|64:ff9b::)(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/.exec(lower);
  if (!m) return undefined;
  if (m[1]) return m[1];
  const hi = Number.parseInt(m[2] as string, 16);
  const lo = Number.parseInt(m[3] as string, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

export function outboundPolicy(
  options: { allowed?: string; selfAddresses?: readonly string[] } = {},
): OutboundPolicy {
  const forbidden = new BlockList();
  for (const [a, p] of FORBIDDEN_V4) forbidden.addSubnet(a, p, 'ipv4');
  for (const [a, p] of FORBIDDEN_V6) forbidden.addSubnet(a, p, 'ipv6');
  const self = new Set(
    (options.selfAddresses ?? []).filter((a) => isIP(a) !== 0).map((a) => a.toLowerCase()),
  );
  const allowed = new BlockList();
  for (const n of parseNetworks(options.allowed ?? '')) allowed.addSubnet(n.address, n.prefix, n.family);
  const judge = (address: string): string | undefined => {
    const v = isIP(address);
    if (v === 0) return `${address} is not an IP address`;
    const family = v === 4 ? 'ipv4' : 'ipv6';
    if (allowed.check(address, family)) return undefined;
    if (v === 6) {
      const inner = embeddedV4(address);
      if (inner !== undefined) return judge(inner);
    }
    if (self.has(address.toLowerCase())) return `${address} is this platform's own address`;
    if (forbidden.check(address, family)) {
      return `${address} is a loopback, private, link-local, metadata or reserved address`;
    }
    return undefined;
  };
  return { refusal: judge };
}

/** A host name that always means this machine, whatever DNS says. */
export const isLocalName = (host: string): boolean => {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === 'localhost.localdomain';
};
