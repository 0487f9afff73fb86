// platform.beamUsage (issue 17): record() is synchronous, never throws and buffers; flush() writes
// hour and day buckets and the SIM's last delivery/error with additive upserts; a failed flush keeps
// its batch; the buffer is bounded. Runs on SQLite and PostgreSQL (store project).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import {
  BeamUsage,
  type BeamUsageEvent,
  DAY_MS,
  HOUR_MS,
  MAX_ERROR_TEXT,
  safeErrorText,
} from '../../../src/platform/beam/usage.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

const T0 = Date.UTC(2026, 2, 10, 9, 15);

const event = (over: Partial<BeamUsageEvent> = {}): BeamUsageEvent => ({
  service: 'beam',
  entryPoint: 'http',
  operatorId: 'OP0000000001',
  simId: '8981100000000000001',
  imsi: '440100000000001',
  bytesUp: 100,
  bytesDown: 20,
  outcome: 'delivered',
  destination: 'https',
  ...over,
});

describe('BeamUsage', () => {
  let db: TestDatabase;
  let clock: ManualClock;
  beforeEach(async () => {
    db = await openTestDatabase();
    clock = new ManualClock(T0);
  });
  afterEach(async () => {
    await db.cleanup();
  });

  const rows = (period: 'hour' | 'day') =>
    db.store.db
      .selectFrom('beam_usage')
      .selectAll()
      .where('period', '=', period)
      .orderBy('bucket_start')
      .orderBy('entry_point')
      .orderBy('destination')
      .execute();

  it('aggregates in memory and writes hour and day buckets, adding to what is stored', async () => {
    const usage = new BeamUsage(db.store, clock);
    usage.record(event());
    usage.record(event({ bytesUp: 50, bytesDown: 5 }));
    usage.record(event({ outcome: 'failed', error: 'destination answered 502', bytesDown: 0 }));
    // Nothing is written before a flush.
    expect(await rows('hour')).toEqual([]);
    const first = await usage.flush();
    expect(first.rows).toBe(3); // hour bucket, day bucket, SIM status
    usage.record(event());
    clock.advance(HOUR_MS);
    usage.record(
      event({ entryPoint: 'udp', destination: undefined, outcome: 'refused', error: 'no config' }),
    );
    await usage.flush();

    const hours = await rows('hour');
    expect(hours.map((r) => [r.bucket_start, r.entry_point, r.destination])).toEqual([
      [Math.floor(T0 / HOUR_MS) * HOUR_MS, 'http', 'https'],
      [Math.floor(T0 / HOUR_MS) * HOUR_MS + HOUR_MS, 'udp', ''],
    ]);
    const h = hours[0]!;
    expect([h.requests, h.delivered, h.failed, h.refused].map(Number)).toEqual([4, 3, 1, 0]);
    expect([Number(h.bytes_up), Number(h.bytes_down)]).toEqual([350, 45]);
    const days = await rows('day');
    expect(days.map((r) => [r.bucket_start, r.entry_point, Number(r.requests)])).toEqual([
      [Math.floor(T0 / DAY_MS) * DAY_MS, 'http', 4],
      [Math.floor(T0 / DAY_MS) * DAY_MS, 'udp', 1],
    ]);
    const status = await db.store.db.selectFrom('beam_sim_status').selectAll().execute();
    expect(status).toHaveLength(1);
    expect(Number(status[0]!.last_delivery_at)).toBe(T0);
    expect(status[0]!.last_delivery_entry_point).toBe('http');
    expect(Number(status[0]!.last_error_at)).toBe(T0 + HOUR_MS);
    expect(status[0]!.last_error).toBe('no config');
    expect(status[0]!.last_error_entry_point).toBe('udp');
  });

  it('never moves a stored last delivery backwards (another process flushing an older batch)', async () => {
    const late = new BeamUsage(db.store, clock);
    const early = new BeamUsage(db.store, new ManualClock(T0 - 60_000));
    late.record(event());
    early.record(event({ outcome: 'failed', error: 'old failure' }));
    early.record(event());
    await late.flush();
    await early.flush();
    const [s] = await db.store.db.selectFrom('beam_sim_status').selectAll().execute();
    expect(Number(s!.last_delivery_at)).toBe(T0);
    // The error was only ever recorded by the early process: it is kept.
    expect(s!.last_error).toBe('old failure');
  });

  it('record() never throws and drops malformed events', () => {
    const usage = new BeamUsage(db.store, clock);
    const hostile = [
      null,
      undefined,
      42,
      {},
      { ...event(), service: 'harvest' },
      { ...event(), entryPoint: 'ftp' },
      { ...event(), outcome: 'maybe' },
      { ...event(), imsi: '' },
      { ...event(), simId: 'x'.repeat(65) },
      { ...event(), operatorId: "OP'; drop table beam_usage; --" },
      Object.defineProperty({ ...event() }, 'service', {
        get() {
          throw new Error('boom');
        },
      }),
    ];
    for (const h of hostile) expect(() => usage.record(h as unknown as BeamUsageEvent)).not.toThrow();
    expect(usage.droppedEvents).toBe(hostile.length);
    expect(usage.pendingKeys).toBe(0);
    // Negative, fractional and non-finite byte counts are not trusted.
    usage.record(event({ bytesUp: -5, bytesDown: Number.NaN }));
    expect(usage.totals()[0]).toMatchObject({ count: 1, bytesUp: 0, bytesDown: 0 });
  });

  it('keeps the buffer bounded and counts what it drops', async () => {
    const usage = new BeamUsage(db.store, clock, { maxPendingKeys: 4 });
    for (let i = 0; i < 10; i++) usage.record(event({ imsi: `44010000000010${i}` }));
    // Two buckets (hour, day) per IMSI: two IMSIs fit.
    expect(usage.droppedEvents).toBe(8);
    const r = await usage.flush();
    expect(r.dropped).toBe(8);
    expect((await rows('hour')).length).toBe(2);
  });

  it('puts a failed batch back and writes it with the next flush', async () => {
    const usage = new BeamUsage(db.store, clock);
    usage.record(event());
    const real = db.store.transaction.bind(db.store);
    let fail = true;
    (db.store as { transaction: typeof real }).transaction = ((fn: Parameters<typeof real>[0]) => {
      if (fail) return Promise.reject(new Error('database unavailable'));
      return real(fn);
    }) as typeof real;
    await expect(usage.flush()).rejects.toThrow('database unavailable');
    usage.record(event());
    fail = false;
    await usage.flush();
    const [h] = await rows('hour');
    expect(Number(h!.requests)).toBe(2);
  });

  it('close() writes what is buffered', async () => {
    const usage = new BeamUsage(db.store, clock);
    usage.record(event({ service: 'funnel', destination: 'amqp' }));
    await usage.close();
    expect((await rows('hour')).map((r) => r.service)).toEqual(['funnel']);
  });

  it('keeps /metrics per-SIM series bounded', () => {
    const usage = new BeamUsage(db.store, clock, { metricsSimSeries: 2 });
    for (let i = 0; i < 5; i++) usage.record(event({ simId: `sim-${i}` }));
    const series = usage.simSeries();
    expect(series.map((s) => [s.simId, s.count])).toEqual([
      ['sim-0', 1],
      ['sim-1', 1],
      ['other', 3],
    ]);
  });

  it('keeps error texts short and on one line', () => {
    expect(safeErrorText('a\r\nb\u0000c')).toBe('a b c');
    expect(safeErrorText('x'.repeat(1000)).length).toBe(MAX_ERROR_TEXT);
  });
});
