// Framed-IP-Address allocation. Threat: two devices given the same address (traffic and SIM-token
// identity would go to the wrong SIM) — also when several instances allocate at once.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allocateAddress,
  ipv4ToNumber,
  parseIpv4Cidr,
  parsePool,
  releaseAddress,
} from '../../../src/platform/aaa/address-pool.js';
import { openStore, type Store } from '../../../src/platform/store/database.js';
import { testDialect } from '../../helpers/database.js';
import { startTestApi, type TestApi } from './fixture.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api.close();
});

const NOW = 1_800_000_000_000;
const lease = (pool: string, simId: string, o: { apn?: string; now?: number; db?: Store } = {}) =>
  allocateAddress((o.db ?? api.db.store).db, {
    pool: parsePool(pool)!,
    operatorId: api.operator.operatorId,
    simId,
    apn: o.apn ?? '',
    now: o.now ?? NOW,
    leaseMs: 60_000,
  });

describe(`address pools on ${testDialect}`, () => {
  it('parses networks and refuses what is not one', () => {
    expect(parseIpv4Cidr('127.64.1.2/16')).toMatchObject({ text: '127.64.0.0/16', size: 65536 });
    expect(parseIpv4Cidr('10.0.0.1')).toMatchObject({ text: '10.0.0.1/32', size: 1 });
    for (const bad of ['10.0.0.256/8', '10.0.0/8', '10.0.0.1/33', '01.2.3.4', 'x', '1.2.3.4/8/9']) {
      expect(parseIpv4Cidr(bad)).toBeUndefined();
    }
    expect(parsePool('10.0.0.0/31')).toBeUndefined();
    expect(parsePool('10.0.0.0/7')).toBeUndefined();
    expect(ipv4ToNumber('255.255.255.255')).toBe(0xffffffff);
  });

  it('gives a SIM the same address again, distinct addresses to others, never network or broadcast', async () => {
    const first = await lease('127.64.0.0/16', 'sim-a');
    expect(await lease('127.64.0.0/16', 'sim-a')).toBe(first);
    expect(await lease('127.64.0.0/16', 'sim-a', { apn: 'other' })).not.toBe(first);
    const tiny = await Promise.all(['t1', 't2'].map((s) => lease('10.9.9.0/30', s)));
    expect(new Set(tiny)).toEqual(new Set(['10.9.9.1', '10.9.9.2']));
    // /30 has two hosts: the third SIM finds the pool exhausted…
    expect(await lease('10.9.9.0/30', 't3')).toBeUndefined();
    // …until a lease is freed (accounting Stop) or expires.
    await releaseAddress(api.db.store.db, 't1', tiny[0] as string, NOW);
    expect(await lease('10.9.9.0/30', 't3', { now: NOW + 1 })).toBe(tiny[0]);
    expect(await lease('10.9.9.0/30', 't4', { now: NOW + 61_000 })).toBe(tiny[1]);
  });

  it('never hands one address to two SIMs, however many allocate at once from several instances', async () => {
    const others =
      testDialect === 'postgres'
        ? await Promise.all([1, 2].map(() => openStore(api.db.url, { migrate: false })))
        : [];
    try {
      const handles = [api.db.store, ...others];
      // A /26 (62 hosts) for 60 SIMs: dense enough that probes collide constantly.
      const addresses = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          lease('10.20.0.0/26', `race-${i}`, { db: handles[i % handles.length] }),
        ),
      );
      expect(addresses.every((a) => a !== undefined)).toBe(true);
      expect(new Set(addresses).size).toBe(60);
      const rows = await api.db.store.db
        .selectFrom('ip_leases')
        .selectAll()
        .where('pool', '=', '10.20.0.0/26')
        .execute();
      expect(rows).toHaveLength(60);
    } finally {
      for (const s of others) await s.close();
    }
  });
});
