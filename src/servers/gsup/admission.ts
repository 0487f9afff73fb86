// Who may hold a GSUP connection. GSUP (like osmo-hlr's server) has no authentication: whoever
// connects can ask for any subscriber's vectors. So, as the RADIUS server only talks to its NAS
// clients, the listener only admits peers from the networks in `gsupAllowedNetworks` (loopback by
// default), at most `gsupMaxConnectionsPerSource` connections per source address and
// `gsupMaxConnections` in all — so one peer, or one misbehaving host, cannot hold every slot — and,
// when `gsupAllowedUnitNames` is set, only peers whose IPA ID_RESP names one of those units.
// The unit name is sent in the clear and proves nothing; it keeps a misconfigured element (the
// wrong MSC pointed at this HLR) out, while the source network is the access control.

import { BlockList, isIP } from 'node:net';

export type GsupRefusal = 'network' | 'per_source' | 'capacity' | 'unit_name';

export interface GsupAdmissionOptions {
  /** CIDR blocks (IPv4 or IPv6) or single addresses. */
  readonly allowedNetworks: readonly string[];
  readonly maxConnectionsPerSource: number;
  readonly maxConnections: number;
  /** Empty: any unit name. */
  readonly allowedUnitNames: readonly string[];
}

/** A dual-stack socket's view of an IPv4 peer ("::ffff:10.0.0.1") is that IPv4 address. */
export function plainPeerAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return (mapped?.[1] ?? address).toLowerCase();
}

/** Parses one CIDR block ("10.0.0.0/8", "::1/128", "192.0.2.7"); undefined when it is not one. */
export function parseCidr(
  text: string,
): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', prefixText, extra] = text.trim().split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return undefined;
  const max = family === 6 ? 128 : 32;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: family === 6 ? 'ipv6' : 'ipv4' };
}

export class GsupAdmission {
  private readonly networks = new BlockList();
  private readonly perSource = new Map<string, number>();
  private readonly unitNames: ReadonlySet<string>;
  private open = 0;

  constructor(private readonly o: GsupAdmissionOptions) {
    for (const text of o.allowedNetworks) {
      const block = parseCidr(text);
      if (block === undefined)
        throw new Error(
          `gsupAllowedNetworks: "${text}" is not an IP address or CIDR block such as 10.0.0.0/8`,
        );
      this.networks.addSubnet(block.address, block.prefix, block.family);
    }
    this.unitNames = new Set(o.allowedUnitNames);
  }

  /** Connections currently admitted. */
  get connections(): number {
    return this.open;
  }

  /** Whether ID_RESP must name an allowed unit before GSUP is served. */
  get needsUnitName(): boolean {
    return this.unitNames.size > 0;
  }

  /**
   * Admits a new connection from `address` (as the socket reports it) and counts it, or says why
   * not. Every admitted connection must be given back with `release` when it closes.
   */
  admit(address: string | undefined): GsupRefusal | undefined {
    const peer = plainPeerAddress(address ?? '');
    const family = isIP(peer);
    if (family === 0 || !this.networks.check(peer, family === 6 ? 'ipv6' : 'ipv4')) return 'network';
    const held = this.perSource.get(peer) ?? 0;
    if (held >= this.o.maxConnectionsPerSource) return 'per_source';
    if (this.open >= this.o.maxConnections) return 'capacity';
    this.perSource.set(peer, held + 1);
    this.open++;
    return undefined;
  }

  release(address: string | undefined): void {
    const peer = plainPeerAddress(address ?? '');
    const held = this.perSource.get(peer);
    if (held === undefined) return;
    if (held <= 1) this.perSource.delete(peer);
    else this.perSource.set(peer, held - 1);
    this.open--;
  }

  /** Whether a unit name from ID_RESP may be served (always, when no list is configured). */
  admitsUnitName(name: string | undefined): boolean {
    return this.unitNames.size === 0 || (name !== undefined && this.unitNames.has(name));
  }
}
