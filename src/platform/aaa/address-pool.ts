// IPv4 address pools for Framed-IP-Address (RFC 2865 §5.8; TS 29.061 §16.4.1: the AAA server may
// allocate the PDP/PDN address). A pool is a network (the group's `SoracomAir.addressPool`, or the
// `radiusAddressPool` setting, default 127.64.0.0/16 on loopback so simulated devices can bind to
// their address). Leases live in `ip_leases`, keyed by (pool, address):
//
// - a SIM asking again for the same APN gets its lease back (renewed);
// - otherwise addresses are probed from a position derived from the SIM id, each probe ONE
//   statement (INSERT … ON CONFLICT DO UPDATE … WHERE the lease has expired), so two instances can
//   never hand out one address twice;
// - accounting Start/Interim renew the lease, Stop frees it, and an unrenewed lease expires.

import { createHash } from 'node:crypto';
import type { Executor } from '../store/database.js';
import { param, prepared } from '../store/prepared.js';

export interface Ipv4Network {
  /** Normalised CIDR text. */
  readonly text: string;
  readonly base: number;
  readonly prefix: number;
  readonly size: number;
}

export function ipv4ToNumber(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255) || m.slice(1).some((p) => p.length > 1 && p.startsWith('0')))
    return undefined;
  return (
    (((parts[0] as number) << 24) |
      ((parts[1] as number) << 16) |
      ((parts[2] as number) << 8) |
      (parts[3] as number)) >>>
    0
  );
}

export const numberToIpv4 = (n: number): string =>
  [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');

/** Parses "a.b.c.d/p" or a bare address (/32); the host bits are cleared. */
export function parseIpv4Cidr(text: string): Ipv4Network | undefined {
  const [addr = '', bits, ...rest] = text.trim().split('/');
  if (rest.length > 0) return undefined;
  const n = ipv4ToNumber(addr);
  const prefix = bits === undefined ? 32 : /^\d{1,2}$/.test(bits) ? Number(bits) : Number.NaN;
  if (n === undefined || !(prefix >= 0 && prefix <= 32)) return undefined;
  const size = 2 ** (32 - prefix);
  const base = prefix === 0 ? 0 : (n & ~(size - 1)) >>> 0;
  return { text: `${numberToIpv4(base)}/${prefix}`, base, prefix, size };
}

export const containsAddress = (network: Pick<Ipv4Network, 'base' | 'size'>, address: number): boolean =>
  address >= network.base && address < network.base + network.size;

/** Pools must leave at least two host addresses: /8 to /30. */
export function parsePool(text: string): Ipv4Network | undefined {
  const network = parseIpv4Cidr(text);
  return network && network.prefix >= 8 && network.prefix <= 30 ? network : undefined;
}

const PROBES = 64;

const heldLease = prepared((db) =>
  db
    .selectFrom('ip_leases')
    .select(['address', 'expires_at'])
    .where('sim_id', '=', param('simId'))
    .where('pool', '=', param('pool'))
    .where('apn', '=', param('apn'))
    .where('expires_at', '>', param('now'))
    .limit(1),
);

export interface LeaseRequest {
  readonly pool: Ipv4Network;
  readonly operatorId: string;
  readonly simId: string;
  readonly apn: string;
  readonly now: number;
  readonly leaseMs: number;
}

/**
 * The SIM's own lease when more than half of it is left — renewing only after that, so a device
 * re-attaching often costs a read, not a write. Undefined when a write is needed.
 */
export async function heldAddress(db: Executor, r: LeaseRequest): Promise<string | undefined> {
  const [held] = await heldLease(db, { simId: r.simId, pool: r.pool.text, apn: r.apn, now: r.now });
  return held && held.expires_at - r.now > r.leaseMs / 2 ? held.address : undefined;
}

/**
 * Allocates (or renews) the SIM's address in `pool` for `apn`. Undefined when the pool has no free
 * address left within the probes tried.
 */
export async function allocateAddress(db: Executor, r: LeaseRequest): Promise<string | undefined> {
  const expiresAt = r.now + r.leaseMs;
  const held = await heldAddress(db, r);
  if (held) return held;
  const own = await db
    .updateTable('ip_leases')
    .set({ expires_at: expiresAt, updated_at: r.now })
    .where('pool', '=', r.pool.text)
    .where('sim_id', '=', r.simId)
    .where('apn', '=', r.apn)
    .returning('address')
    .executeTakeFirst();
  if (own) return own.address;

  // Usable hosts exclude the network and broadcast addresses.
  const hosts = r.pool.size - 2;
  const start = createHash('sha256').update(`${r.simId}\0${r.apn}`).digest().readUInt32BE(0) % hosts;
  const candidates: number[] = [];
  for (let i = 0; i < PROBES / 2; i++) candidates.push((start + i) % hosts);
  // Then spread out, so a dense run of leases does not exhaust the probes.
  for (let i = 1; i <= PROBES / 2; i++) candidates.push((start + i * 7919 * (i + 1)) % hosts);
  for (const offset of new Set(candidates)) {
    const address = await take(db, r, offset, expiresAt);
    if (address) return address;
  }
  // A crowded pool: read which addresses are live and try the free ones (still one guarded
  // statement each, so a racing instance that takes one first only costs a retry).
  for (let round = 0; round < 3; round++) {
    const live = await db
      .selectFrom('ip_leases')
      .select('address')
      .where('pool', '=', r.pool.text)
      .where('expires_at', '>', r.now)
      .execute();
    const used = new Set(live.map((l) => (ipv4ToNumber(l.address) ?? 0) - r.pool.base - 1));
    if (used.size >= hosts) return undefined;
    let tried = 0;
    for (let i = 0; i < hosts && tried < 16; i++) {
      const offset = (start + i) % hosts;
      if (used.has(offset)) continue;
      tried++;
      const address = await take(db, r, offset, expiresAt);
      if (address) return address;
    }
  }
  return undefined;
}

/** One guarded statement: the address at `offset` becomes the SIM's unless a live lease holds it. */
async function take(
  db: Executor,
  r: LeaseRequest,
  offset: number,
  expiresAt: number,
): Promise<string | undefined> {
  const address = numberToIpv4(r.pool.base + 1 + offset);
  const taken = await db
    .insertInto('ip_leases')
    .values({
      pool: r.pool.text,
      address,
      operator_id: r.operatorId,
      sim_id: r.simId,
      apn: r.apn,
      expires_at: expiresAt,
      updated_at: r.now,
    })
    .onConflict((oc) =>
      oc
        .columns(['pool', 'address'])
        .doUpdateSet({
          operator_id: r.operatorId,
          sim_id: r.simId,
          apn: r.apn,
          expires_at: expiresAt,
          updated_at: r.now,
        })
        .where('ip_leases.expires_at', '<=', r.now),
    )
    .returning('address')
    .executeTakeFirst();
  return taken?.address;
}

/** Frees a lease (accounting Stop): it can be handed out again at once. */
export async function releaseAddress(
  db: Executor,
  simId: string,
  address: string,
  now: number,
): Promise<void> {
  await db
    .updateTable('ip_leases')
    .set({ expires_at: now, updated_at: now })
    .where('sim_id', '=', simId)
    .where('address', '=', address)
    .execute();
}
