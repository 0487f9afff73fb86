// Accounting → sessions, events and usage. Threats: usage counted twice (a NAS retransmitting or
// repeating an Interim-Update, two instances racing on one session) or lost (a record acknowledged
// before it is durable); a NAS of one operator writing sessions onto another operator's SIMs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import type { AccountingRecord } from '../../../src/platform/aaa/accounting.js';
import { AccountingWriter } from '../../../src/platform/aaa/accounting.js';
import { findOnlineSessionByAddress, listSessionEvents } from '../../../src/platform/aaa/sessions.js';
import { simUsage } from '../../../src/platform/aaa/usage.js';
import { openStore } from '../../../src/platform/store/database.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi, type TestSim } from './fixture.js';

let api: TestApi;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1, 10, 15);
// The platform's clock is a few hours past the records (NAS times far from it are not trusted).
const clock = new ManualClock(T0 + 3 * HOUR);
beforeAll(async () => {
  api = await startTestApi({ clock });
});
afterAll(async () => {
  await api.close();
});

const NAS = '127.0.0.1';
const cellA = { radioType: 'eutran', mcc: '001', mnc: '01', tac: 1, eci: 100 };
const cellB = { radioType: 'eutran', mcc: '001', mnc: '01', tac: 1, eci: 200 };

function rec(
  sim: TestSim,
  kind: AccountingRecord['kind'],
  o: Partial<AccountingRecord> = {},
): AccountingRecord {
  return {
    kind,
    nasAddress: NAS,
    operatorId: api.operator.operatorId,
    acctSessionId: `s-${sim.simId}`,
    imsi: sim.imsi,
    time: T0,
    ...o,
  };
}

const record = (r: AccountingRecord) => api.platform.aaa.accounting.record(r);

async function usageTotal(sim: TestSim, period: 'hour' | 'day' = 'day') {
  const rows = await simUsage(api.db.store.db, api.operator.operatorId, sim.simId, {
    fromMs: T0 - 2 * 86_400_000,
    toMs: T0 + 2 * 86_400_000,
    period,
  });
  let up = 0;
  let down = 0;
  for (const r of rows)
    for (const s of Object.values(r.dataTrafficStatsMap)) {
      up += s.uploadByteSizeTotal;
      down += s.downloadByteSizeTotal;
    }
  return { up, down, rows };
}

describe(`accounting on ${testDialect}`, () => {
  it('Start / Interim / Stop → session status, Created/Modified/Deleted events and usage by delta', async () => {
    const sim = await createSim(api);
    expect(
      await record(
        rec(sim, 'start', { ueIp: '127.64.0.9', imei: '353432191080009', cell: cellA, apn: 'iot' }),
      ),
    ).toBe('recorded');
    const online = await findOnlineSessionByAddress(api.db.store.db, '127.64.0.9');
    expect(online).toMatchObject({ simId: sim.simId, imsi: sim.imsi, imei: '353432191080009' });
    await record(
      rec(sim, 'interim', {
        inputOctets: 1000,
        outputOctets: 5000,
        inputPackets: 10,
        outputPackets: 20,
        time: T0 + 60_000,
      }),
    );
    // The same Interim again (a NAS that repeats itself): nothing more is counted.
    await record(rec(sim, 'interim', { inputOctets: 1000, outputOctets: 5000, time: T0 + 61_000 }));
    // Moving cell: a Modified event (the location history).
    await record(
      rec(sim, 'interim', { inputOctets: 1500, outputOctets: 5000, cell: cellB, time: T0 + HOUR }),
    );
    // Late, out-of-order Interim with lower totals: nothing.
    await record(rec(sim, 'interim', { inputOctets: 1200, outputOctets: 4000, time: T0 + HOUR + 1 }));
    const view = await api.platform.sims.get(api.operator.operatorId, sim.simId);
    expect(view.sessionStatus).toMatchObject({
      online: true,
      imsi: sim.imsi,
      imei: '353432191080009',
      ueIpAddress: '127.64.0.9',
      apn: 'iot',
      cell: cellB,
    });
    await record(
      rec(sim, 'stop', {
        inputOctets: 2000,
        outputOctets: 2 ** 32 + 7000,
        terminateCause: 'User-Request',
        time: T0 + 2 * HOUR,
      }),
    );
    expect(await findOnlineSessionByAddress(api.db.store.db, '127.64.0.9')).toBeUndefined();

    const total = await usageTotal(sim);
    expect(total).toMatchObject({ up: 2000, down: 2 ** 32 + 7000 });
    const hourly = await usageTotal(sim, 'hour');
    expect(hourly.rows.map((r) => r.date)).toEqual(['2026010110', '2026010111', '2026010112']);
    expect(hourly.rows[0]?.dataTrafficStatsMap['s1.standard']).toEqual({
      uploadByteSizeTotal: 1000,
      downloadByteSizeTotal: 5000,
      uploadPacketSizeTotal: 10,
      downloadPacketSizeTotal: 20,
    });

    const events = await listSessionEvents(api.db.store.db, api.operator.operatorId, sim.simId, {
      limit: 10,
    });
    expect(events.items.map((e) => e.event)).toEqual(['Deleted', 'Modified', 'Created']);
    expect(events.items[1]?.cell).toEqual(cellB);
    expect(events.items[2]?.cell).toEqual(cellA);

    const after = await api.platform.sims.get(api.operator.operatorId, sim.simId);
    expect(after.sessionStatus).toMatchObject({ online: false, lastUpdatedAt: T0 + 2 * HOUR });
    expect(after.previousSession).toMatchObject({
      imsi: sim.imsi,
      ueIpAddress: '127.64.0.9',
      createdTime: T0,
      deletedTime: T0 + 2 * HOUR,
      cell: cellB,
    });
    // A retransmitted Stop after the fact: no second Deleted, no more usage.
    await record(rec(sim, 'stop', { inputOctets: 2000, outputOctets: 2 ** 32 + 7000, time: T0 + 2 * HOUR }));
    expect(await usageTotal(sim)).toMatchObject({ up: 2000, down: 2 ** 32 + 7000 });
    const again = await listSessionEvents(api.db.store.db, api.operator.operatorId, sim.simId, { limit: 10 });
    expect(again.items).toHaveLength(3);
  });

  it('creates the session from an Interim whose Start was lost, and counts its totals once', async () => {
    const sim = await createSim(api);
    await record(rec(sim, 'interim', { inputOctets: 300, outputOctets: 400, ueIp: '127.64.1.1' }));
    await record(rec(sim, 'interim', { inputOctets: 300, outputOctets: 400 }));
    expect(await usageTotal(sim)).toMatchObject({ up: 300, down: 400 });
    const events = await listSessionEvents(api.db.store.db, api.operator.operatorId, sim.simId, {
      limit: 10,
    });
    expect(events.items.map((e) => e.event)).toEqual(['Created']);
  });

  it("ignores records for unknown IMSIs and for another operator's SIMs (acknowledged, not recorded)", async () => {
    const sim = await createSim(api);
    const other = await api.newOperator();
    expect(await record(rec(sim, 'start', { operatorId: other.operatorId }))).toBe('unknown-subscriber');
    expect(await record(rec(sim, 'start', { imsi: '999999999999999', acctSessionId: 'x' }))).toBe(
      'unknown-subscriber',
    );
    const rows = await api.db.store.db
      .selectFrom('sim_sessions')
      .selectAll()
      .where('sim_id', '=', sim.simId)
      .execute();
    expect(rows).toHaveLength(0);
  });

  it('groups records arriving together into one transaction, and sorts out a batch with many sessions', async () => {
    const sims = await Promise.all(Array.from({ length: 30 }, () => createSim(api)));
    const before = api.platform.aaa.accounting.stats.batches;
    const outcomes = await Promise.all(
      sims.flatMap((sim) => [
        record(rec(sim, 'start', { ueIp: '127.64.2.1' })),
        record(rec(sim, 'interim', { inputOctets: 10, outputOctets: 20 })),
        record(rec(sim, 'interim', { inputOctets: 10, outputOctets: 20 })),
        record(rec(sim, 'interim', { inputOctets: 15, outputOctets: 20 })),
      ]),
    );
    expect(outcomes.every((o) => o === 'recorded')).toBe(true);
    expect(api.platform.aaa.accounting.stats.batches - before).toBeLessThan(20);
    for (const sim of sims) expect(await usageTotal(sim)).toMatchObject({ up: 15, down: 20 });
  });

  it('two instances racing on the same sessions never count a delta twice', async () => {
    const sims = await Promise.all(Array.from({ length: 5 }, () => createSim(api)));
    for (const sim of sims) await record(rec(sim, 'start'));
    // SQLite: one writer per file, so a second instance only matters on PostgreSQL; the same code runs.
    const store = testDialect === 'postgres' ? await openStore(api.db.url, { migrate: false }) : api.db.store;
    const second = new AccountingWriter(store, api.platform.clock, {
      maxBatch: 7,
      concurrency: 3,
      leaseMs: 60_000,
    });
    try {
      const work: Promise<unknown>[] = [];
      for (let step = 1; step <= 40; step++) {
        for (const sim of sims) {
          const r = rec(sim, 'interim', {
            inputOctets: step * 100,
            outputOctets: step * 10,
            time: T0 + step,
          });
          work.push(record(r), second.record(r));
        }
      }
      await Promise.all(work);
    } finally {
      if (store !== api.db.store) await store.close();
    }
    for (const sim of sims) expect(await usageTotal(sim)).toMatchObject({ up: 4000, down: 400 });
  });

  it('Accounting-On from a NAS ends every session it held', async () => {
    const sim = await createSim(api);
    await record(rec(sim, 'start', { nasAddress: '127.0.0.77', ueIp: '127.64.3.3' }));
    expect(await findOnlineSessionByAddress(api.db.store.db, '127.64.3.3')).toBeDefined();
    await record(rec(sim, 'accounting-on', { nasAddress: '127.0.0.77', acctSessionId: '' }));
    expect(await findOnlineSessionByAddress(api.db.store.db, '127.64.3.3')).toBeUndefined();
    const events = await listSessionEvents(api.db.store.db, api.operator.operatorId, sim.simId, {
      limit: 10,
    });
    expect(events.items.map((e) => e.event)).toEqual(['Deleted', 'Created']);
  });

  it('pages session events newest first with a keyset cursor and a time range', async () => {
    const sim = await createSim(api);
    for (let i = 0; i < 5; i++) {
      await record(rec(sim, 'interim', { cell: { ...cellA, eci: i + 1 }, time: T0 + i * 1000 }));
    }
    const first = await listSessionEvents(api.db.store.db, api.operator.operatorId, sim.simId, { limit: 2 });
    expect(first.items.map((e) => e.cell?.eci)).toEqual([5, 4]);
    const second = await listSessionEvents(api.db.store.db, api.operator.operatorId, sim.simId, {
      limit: 2,
      after: first.nextKey,
    });
    expect(second.items.map((e) => e.cell?.eci)).toEqual([3, 2]);
    const ranged = await listSessionEvents(api.db.store.db, api.operator.operatorId, sim.simId, {
      limit: 10,
      from: T0 + 1000,
      to: T0 + 2000,
    });
    expect(ranged.items.map((e) => e.cell?.eci)).toEqual([3, 2]);
  });
});
