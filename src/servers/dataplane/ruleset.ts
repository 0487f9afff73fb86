// Renders a VPG's desired state (platform/vpg) as ONE nftables transaction for its namespace
// (`nft -f -` applies a file atomically: every command or none). The text is built only from
// numbers and from the fixed words of this file — addresses and CIDRs come back to text through
// numberToIpv4, protocols from a closed list — so nothing from a request can reach nft.
//
// The table `simtrust_vpg_<id>` (family ip) holds:
//   set device_addrs  the devices online in the VPG (session start/stop add and remove them)
//   set allow_addrs   allowed destinations, any protocol (interval set of CIDRs)
//   set allow_tcp     allowed destination CIDR . TCP port range (concatenated interval set)
//   set allow_udp     the same for UDP
//   set allow_icmp    destinations allowed for ICMP
//   set refused_src   dynamic set with a counter per element: packets a device sent that no rule
//                     allowed, per source address (the API maps the address to its SIM)
//   chain forward     policy drop from the very first transaction; answers to allowed traffic
//                     (ct established/related) pass; devices reach what the sets allow; the rest
//                     of a device's packets is counted in refused_src and dropped.
// The declarations are `add`-style (a no-op when they exist), then the chain and the sets are
// flushed and refilled in the same transaction: a change never opens a window, and refused_src
// keeps its counters across changes.

import { numberToIpv4 } from '../../platform/aaa/address-pool.js';
import type { Cidr, UplinkRule } from '../../platform/vpg/filter-rules.js';
import type { VpgDesiredState } from '../../platform/vpg/vpg-service.js';

const HEX32 = /^[0-9a-f]{32}$/;

/** The nftables table of a VPG: `simtrust_vpg_` + its id's 32 hex digits. */
export function tableName(vpgId: string): string {
  const hex = vpgId.replaceAll('-', '').toLowerCase();
  if (!HEX32.test(hex)) throw new Error('a VPG id is a UUID');
  return `simtrust_vpg_${hex}`;
}

/** The network namespace of a VPG: `st-vpg-` + the first 12 hex digits of its id. */
export function namespaceName(vpgId: string): string {
  return `st-vpg-${tableName(vpgId).slice('simtrust_vpg_'.length, 'simtrust_vpg_'.length + 12)}`;
}

const cidr = (base: number, prefix: number): string =>
  prefix === 32 ? numberToIpv4(base) : `${numberToIpv4(base)}/${prefix}`;

/** Parses a normalised rule's CIDR back into numbers (it was stored from numbers). */
function ruleCidr(rule: UplinkRule): Cidr {
  const [addr = '', bits = ''] = rule.ipRange.split('/');
  const parts = addr.split('.').map(Number);
  const prefix = Number(bits);
  if (
    parts.length !== 4 ||
    parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255) ||
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > 32
  )
    throw new Error('stored uplink rule has a bad ipRange');
  const n = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
  const size = 2 ** (32 - prefix);
  return { base: prefix === 0 ? 0 : (n & ~(size - 1)) >>> 0, prefix };
}

const port = (p: number | undefined, fallback: number): number => {
  const v = p ?? fallback;
  if (!Number.isInteger(v) || v < 0 || v > 65535) throw new Error('stored uplink rule has a bad port');
  return v;
};

/**
 * Interval sets refuse overlapping elements, so each set gets its CIDRs merged: a CIDR inside
 * another one adds nothing. Returns sorted, non-overlapping networks.
 */
function mergeCidrs(list: readonly Cidr[]): Cidr[] {
  const sorted = [...list].sort((a, b) => a.base - b.base || a.prefix - b.prefix);
  const out: Cidr[] = [];
  let end = -1;
  for (const c of sorted) {
    const last = c.base + 2 ** (32 - c.prefix) - 1;
    if (c.base <= end) continue; // CIDRs either nest or are disjoint: this one is inside the previous
    out.push(c);
    end = last;
  }
  return out;
}

/** Concatenated CIDR . port-range elements, with overlapping ones merged per CIDR. */
function portElements(rules: readonly UplinkRule[]): string[] {
  const byCidr = new Map<string, { c: Cidr; ranges: [number, number][] }>();
  for (const r of rules) {
    const c = ruleCidr(r);
    const key = `${c.base}/${c.prefix}`;
    let e = byCidr.get(key);
    if (!e) {
      e = { c, ranges: [] };
      byCidr.set(key, e);
    }
    e.ranges.push([port(r.fromPort, 0), port(r.toPort, 65535)]);
  }
  // Nested CIDRs with overlapping ports would overlap in the set: keep the outer CIDRs only when
  // a narrower one's ranges are covered; otherwise widen to the outer one's ranges by merging.
  const entries = [...byCidr.values()].sort((a, b) => a.c.prefix - b.c.prefix || a.c.base - b.c.base);
  const kept: { c: Cidr; ranges: [number, number][] }[] = [];
  for (const e of entries) {
    const outer = kept.find((k) => e.c.base >= k.c.base && e.c.base < k.c.base + 2 ** (32 - k.c.prefix));
    if (outer) outer.ranges.push(...e.ranges);
    else kept.push(e);
  }
  const out: string[] = [];
  for (const k of kept.sort((a, b) => a.c.base - b.c.base)) {
    const ranges = k.ranges.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const r of ranges) {
      const last = merged.at(-1);
      if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    for (const [from, to] of merged)
      out.push(`${cidr(k.c.base, k.c.prefix)} . ${from === to ? `${from}` : `${from}-${to}`}`);
  }
  return out;
}

function elements(table: string, set: string, items: readonly string[]): string[] {
  const out: string[] = [];
  // nft reads long element lists fine; chunks keep each line bounded.
  for (let i = 0; i < items.length; i += 500)
    out.push(`add element ip ${table} ${set} { ${items.slice(i, i + 500).join(', ')} }`);
  return out;
}

/** The whole nftables transaction that makes the kernel match `state`. */
export function renderRuleset(state: VpgDesiredState): string {
  const t = tableName(state.vpgId);
  const rules = state.trafficFiltering ? state.rules : [];
  const any = mergeCidrs(rules.filter((r) => r.protocol === 'any').map(ruleCidr));
  const icmp = mergeCidrs(rules.filter((r) => r.protocol === 'icmp').map(ruleCidr));
  const tcp = portElements(rules.filter((r) => r.protocol === 'tcp'));
  const udp = portElements(rules.filter((r) => r.protocol === 'udp'));
  // Without traffic filtering the devices reach every destination (SORACOM's default); the VPG
  // still carries only its own devices' traffic.
  if (!state.trafficFiltering) any.push({ base: 0, prefix: 0 });
  const lines = [
    `table ip ${t} {`,
    '  set device_addrs { type ipv4_addr; }',
    '  set allow_addrs { type ipv4_addr; flags interval; }',
    '  set allow_tcp { type ipv4_addr . inet_service; flags interval; }',
    '  set allow_udp { type ipv4_addr . inet_service; flags interval; }',
    '  set allow_icmp { type ipv4_addr; flags interval; }',
    '  set refused_src { type ipv4_addr; size 65536; flags dynamic; counter; }',
    '  chain forward { type filter hook forward priority filter; policy drop; }',
    '}',
    `flush chain ip ${t} forward`,
    ...['device_addrs', 'allow_addrs', 'allow_tcp', 'allow_udp', 'allow_icmp'].map(
      (s) => `flush set ip ${t} ${s}`,
    ),
    ...elements(t, 'device_addrs', state.deviceAddresses.map(numberToIpv4)),
    ...elements(
      t,
      'allow_addrs',
      any.map((c) => cidr(c.base, c.prefix)),
    ),
    ...elements(
      t,
      'allow_icmp',
      icmp.map((c) => cidr(c.base, c.prefix)),
    ),
    ...elements(t, 'allow_tcp', tcp),
    ...elements(t, 'allow_udp', udp),
    `add rule ip ${t} forward ct state established,related accept`,
    `add rule ip ${t} forward ip saddr @device_addrs ip daddr @allow_addrs accept`,
    `add rule ip ${t} forward ip saddr @device_addrs ip daddr . tcp dport @allow_tcp accept`,
    `add rule ip ${t} forward ip saddr @device_addrs ip daddr . udp dport @allow_udp accept`,
    `add rule ip ${t} forward ip saddr @device_addrs ip protocol icmp ip daddr @allow_icmp accept`,
    `add rule ip ${t} forward ip saddr @device_addrs update @refused_src { ip saddr } drop`,
  ];
  return `${lines.join('\n')}\n`;
}
