// Usage of Beam, Funnel and Funk per SIM (issue 17). Every entry point calls
// `platform.beamUsage.record(event)` once per request or message it handled. The call is synchronous,
// never throws and does no I/O: it adds the event to in-memory aggregates (one per operator, IMSI,
// service, entry point, destination and hour; one "last delivery / last error" per SIM and service),
// and a background job (servers/beam-usage-job.ts) writes them with `flush()` — a few multi-row
// upserts in one transaction, whatever the request rate. `close()` flushes what is left.
//
// The buffer is bounded (maxPendingKeys aggregates): when a flush cannot keep up (the database is
// down), events of new keys are dropped and counted (droppedEvents, simtrust_beam_usage_dropped_total)
// rather than growing the heap; events of keys already buffered are still added. A failed flush puts
// its batch back, so nothing is lost while the bound holds.
//
// Stored (migration 0021, usage-migration.ts): beam_usage hour and day buckets (requests, delivered,
// refused, failed, bytes up and down) and beam_sim_status (last delivery and last error per SIM and
// service). Read by beam/stats.ts (GET /stats/{beam,funnel,funk}/subscribers/{imsi}, the export) and
// the SIM's `beam` sub-resource. Process-wide totals for /metrics come from `totals()` and
// `simSeries()` (bounded; see docs/stats.md, Metrics).

import { sql } from 'kysely';
import type { Clock } from '../../lib/clock.js';
import type { Store } from '../store/database.js';

export const BEAM_SERVICES = ['beam', 'funnel', 'funk'] as const;
export type BeamService = (typeof BEAM_SERVICES)[number];

export const BEAM_ENTRY_POINTS = ['http', 'mqtt', 'tcp', 'udp'] as const;
export type BeamEntryPoint = (typeof BEAM_ENTRY_POINTS)[number];

export const BEAM_OUTCOMES = ['delivered', 'refused', 'failed'] as const;
export type BeamOutcome = (typeof BEAM_OUTCOMES)[number];

/**
 * What the entry point forwarded to: the destination's protocol (Beam: SORACOM's outHttp, outHttps,
 * outMqtt, outMqtts, outTcp, outTcps, outUdp), a broker adapter (Funnel) or a function (Funk).
 */
export const BEAM_DESTINATIONS = [
  'http',
  'https',
  'mqtt',
  'mqtts',
  'tcp',
  'tcps',
  'udp',
  'amqp',
  'amqps',
  'nats',
  'nats-jetstream',
  'function',
] as const;
export type BeamDestination = (typeof BEAM_DESTINATIONS)[number];

export interface BeamUsageEvent {
  readonly service: BeamService;
  readonly entryPoint: BeamEntryPoint;
  readonly operatorId: string;
  readonly simId: string;
  readonly imsi: string;
  /** Bytes from the device (request body, published payload, packet). */
  readonly bytesUp: number;
  /** Bytes back to the device (response body, relayed messages). */
  readonly bytesDown: number;
  readonly outcome: BeamOutcome;
  /** Optional: where the request went (feeds the out* keys of the stats). */
  readonly destination?: BeamDestination;
  /** Safe text, never a secret; kept as the SIM's last error when outcome is not 'delivered'. */
  readonly error?: string;
}

export interface BeamUsageRecorder {
  /** Synchronous, buffered, never throws. */
  record(event: BeamUsageEvent): void;
}

export interface BeamUsageOptions {
  /** Distinct aggregates held between flushes before new ones are dropped. */
  readonly maxPendingKeys?: number;
  /** SIMs with their own /metrics series (the first ones seen); the rest are summed as "other". */
  readonly metricsSimSeries?: number;
}

export interface FlushResult {
  /** Aggregate rows written (hour and day buckets, SIM status rows). */
  readonly rows: number;
  /** Events dropped since the previous flush because the buffer was full. */
  readonly dropped: number;
}

export interface BeamUsageTotal {
  readonly service: BeamService;
  readonly entryPoint: BeamEntryPoint;
  readonly outcome: BeamOutcome;
  readonly count: number;
  readonly bytesUp: number;
  readonly bytesDown: number;
}

export interface BeamSimSeries {
  /** The SIM's id, or 'other' for SIMs beyond the series bound. */
  readonly simId: string;
  readonly service: BeamService;
  readonly outcome: BeamOutcome;
  readonly count: number;
}

/** Longest error text kept; longer ones are cut (they come from entry points, never from secrets). */
export const MAX_ERROR_TEXT = 200;
export const DEFAULT_MAX_PENDING_KEYS = 50_000;
export const DEFAULT_METRICS_SIM_SERIES = 100;
/** Rows per upsert statement (SQLite's bound parameters stay far below its limit). */
const ROWS_PER_STATEMENT = 200;

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

interface Bucket {
  operator_id: string;
  imsi: string;
  service: BeamService;
  entry_point: BeamEntryPoint;
  /** '' when the entry point named none. */
  destination: string;
  sim_id: string;
  period: 'hour' | 'day';
  bucket_start: number;
  requests: number;
  delivered: number;
  refused: number;
  failed: number;
  bytes_up: number;
  bytes_down: number;
}

interface SimStatus {
  operator_id: string;
  sim_id: string;
  service: BeamService;
  imsi: string;
  last_delivery_at: number | null;
  last_delivery_entry_point: string | null;
  last_error_at: number | null;
  last_error: string | null;
  last_error_entry_point: string | null;
}

const SERVICES = new Set<string>(BEAM_SERVICES);
const ENTRY_POINTS = new Set<string>(BEAM_ENTRY_POINTS);
const OUTCOMES = new Set<string>(BEAM_OUTCOMES);
const DESTINATIONS = new Set<string>(BEAM_DESTINATIONS);
/** Ids and IMSIs as the platform makes them; anything else is not recorded. */
const ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

const nonNegative = (n: number) => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);

/** Control characters and line breaks out, cut to MAX_ERROR_TEXT. */
export function safeErrorText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > MAX_ERROR_TEXT ? `${flat.slice(0, MAX_ERROR_TEXT - 1)}…` : flat;
}

/** Checks an event's shape; the entry points' own types already do, this guards the hot path. */
function valid(e: BeamUsageEvent): boolean {
  return (
    typeof e === 'object' &&
    e !== null &&
    SERVICES.has(e.service) &&
    ENTRY_POINTS.has(e.entryPoint) &&
    OUTCOMES.has(e.outcome) &&
    typeof e.operatorId === 'string' &&
    ID_RE.test(e.operatorId) &&
    typeof e.simId === 'string' &&
    ID_RE.test(e.simId) &&
    typeof e.imsi === 'string' &&
    ID_RE.test(e.imsi)
  );
}

export class BeamUsage implements BeamUsageRecorder {
  private buckets = new Map<string, Bucket>();
  private statuses = new Map<string, SimStatus>();
  private droppedSinceFlush = 0;
  private droppedTotal = 0;
  private flushing: Promise<FlushResult> | undefined;
  private closed = false;
  private readonly maxPendingKeys: number;
  private readonly maxSimSeries: number;
  private readonly totalsByKey = new Map<string, BeamUsageTotal & { count: number }>();
  private readonly simSeriesByKey = new Map<
    string,
    { simId: string; service: BeamService; outcome: BeamOutcome; count: number }
  >();
  private readonly simsWithSeries = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    options: BeamUsageOptions = {},
  ) {
    this.maxPendingKeys = options.maxPendingKeys ?? DEFAULT_MAX_PENDING_KEYS;
    this.maxSimSeries = options.metricsSimSeries ?? DEFAULT_METRICS_SIM_SERIES;
  }

  record(event: BeamUsageEvent): void {
    try {
      this.add(event);
    } catch {
      // Never throws into an entry point: a broken event is only counted as dropped.
      this.droppedSinceFlush++;
      this.droppedTotal++;
    }
  }

  private add(e: BeamUsageEvent): void {
    if (!valid(e)) {
      this.droppedSinceFlush++;
      this.droppedTotal++;
      return;
    }
    const now = this.clock.now();
    const bytesUp = nonNegative(e.bytesUp);
    const bytesDown = nonNegative(e.bytesDown);
    const destination = e.destination !== undefined && DESTINATIONS.has(e.destination) ? e.destination : '';
    this.count(e, bytesUp, bytesDown);

    const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
    const day = Math.floor(now / DAY_MS) * DAY_MS;
    for (const [period, start] of [
      ['hour', hour],
      ['day', day],
    ] as const) {
      const key = `${e.operatorId}\0${e.imsi}\0${e.service}\0${e.entryPoint}\0${destination}\0${period}\0${start}`;
      let b = this.buckets.get(key);
      if (b === undefined) {
        if (this.buckets.size >= this.maxPendingKeys) {
          this.droppedSinceFlush++;
          this.droppedTotal++;
          return;
        }
        b = {
          operator_id: e.operatorId,
          imsi: e.imsi,
          service: e.service,
          entry_point: e.entryPoint,
          destination,
          sim_id: e.simId,
          period,
          bucket_start: start,
          requests: 0,
          delivered: 0,
          refused: 0,
          failed: 0,
          bytes_up: 0,
          bytes_down: 0,
        };
        this.buckets.set(key, b);
      }
      b.sim_id = e.simId;
      b.requests++;
      b[e.outcome]++;
      b.bytes_up += bytesUp;
      b.bytes_down += bytesDown;
    }

    const statusKey = `${e.operatorId}\0${e.simId}\0${e.service}`;
    let s = this.statuses.get(statusKey);
    if (s === undefined) {
      if (this.statuses.size >= this.maxPendingKeys) return;
      s = {
        operator_id: e.operatorId,
        sim_id: e.simId,
        service: e.service,
        imsi: e.imsi,
        last_delivery_at: null,
        last_delivery_entry_point: null,
        last_error_at: null,
        last_error: null,
        last_error_entry_point: null,
      };
      this.statuses.set(statusKey, s);
    }
    s.imsi = e.imsi;
    if (e.outcome === 'delivered') {
      s.last_delivery_at = now;
      s.last_delivery_entry_point = e.entryPoint;
    } else {
      s.last_error_at = now;
      s.last_error = safeErrorText(
        typeof e.error === 'string' && e.error.length > 0 ? e.error : `${e.outcome} (no detail)`,
      );
      s.last_error_entry_point = e.entryPoint;
    }
  }

  /** Process totals for /metrics: bounded labels (service × entry point × outcome; SIM series capped). */
  private count(e: BeamUsageEvent, bytesUp: number, bytesDown: number): void {
    const key = `${e.service}\0${e.entryPoint}\0${e.outcome}`;
    const t = this.totalsByKey.get(key);
    if (t === undefined) {
      this.totalsByKey.set(key, {
        service: e.service,
        entryPoint: e.entryPoint,
        outcome: e.outcome,
        count: 1,
        bytesUp,
        bytesDown,
      });
    } else {
      const mutable = t as { count: number; bytesUp: number; bytesDown: number };
      mutable.count++;
      mutable.bytesUp += bytesUp;
      mutable.bytesDown += bytesDown;
    }
    if (this.maxSimSeries === 0) return;
    let simId = e.simId;
    if (!this.simsWithSeries.has(simId)) {
      if (this.simsWithSeries.size < this.maxSimSeries) this.simsWithSeries.add(simId);
      else simId = 'other';
    }
    const seriesKey = `${simId}\0${e.service}\0${e.outcome}`;
    const series = this.simSeriesByKey.get(seriesKey);
    if (series === undefined)
      this.simSeriesByKey.set(seriesKey, { simId, service: e.service, outcome: e.outcome, count: 1 });
    else series.count++;
  }

  /** Requests, bytes per service, entry point and outcome since this process started. */
  totals(): BeamUsageTotal[] {
    return [...this.totalsByKey.values()].map((t) => ({ ...t }));
  }

  /** Requests per SIM (at most metricsSimSeries SIMs, the rest as 'other'), service and outcome. */
  simSeries(): BeamSimSeries[] {
    return [...this.simSeriesByKey.values()].map((s) => ({ ...s }));
  }

  /** Events dropped since this process started (buffer full or malformed). */
  get droppedEvents(): number {
    return this.droppedTotal;
  }

  /** Aggregates waiting for the next flush. */
  get pendingKeys(): number {
    return this.buckets.size + this.statuses.size;
  }

  /**
   * Writes what is buffered, in one transaction. Concurrent calls share the flush in progress and
   * then run once more, so everything recorded before the call is written when it resolves. A
   * failure puts the batch back (as far as the bound allows) and rejects.
   */
  async flush(): Promise<FlushResult> {
    while (this.flushing !== undefined) await this.flushing.catch(() => undefined);
    if (this.buckets.size === 0 && this.statuses.size === 0) {
      const dropped = this.droppedSinceFlush;
      this.droppedSinceFlush = 0;
      return { rows: 0, dropped };
    }
    const run = this.write();
    this.flushing = run;
    try {
      return await run;
    } finally {
      this.flushing = undefined;
    }
  }

  private async write(): Promise<FlushResult> {
    const buckets = [...this.buckets.values()];
    const statuses = [...this.statuses.values()];
    const dropped = this.droppedSinceFlush;
    this.buckets = new Map();
    this.statuses = new Map();
    this.droppedSinceFlush = 0;
    try {
      await this.store.transaction(async (trx) => {
        for (let i = 0; i < buckets.length; i += ROWS_PER_STATEMENT) {
          await trx
            .insertInto('beam_usage')
            .values(buckets.slice(i, i + ROWS_PER_STATEMENT))
            .onConflict((oc) =>
              oc
                .columns([
                  'operator_id',
                  'imsi',
                  'service',
                  'entry_point',
                  'destination',
                  'period',
                  'bucket_start',
                ])
                .doUpdateSet({
                  sim_id: sql`excluded.sim_id`,
                  requests: sql`beam_usage.requests + excluded.requests`,
                  delivered: sql`beam_usage.delivered + excluded.delivered`,
                  refused: sql`beam_usage.refused + excluded.refused`,
                  failed: sql`beam_usage.failed + excluded.failed`,
                  bytes_up: sql`beam_usage.bytes_up + excluded.bytes_up`,
                  bytes_down: sql`beam_usage.bytes_down + excluded.bytes_down`,
                }),
            )
            .execute();
        }
        for (let i = 0; i < statuses.length; i += ROWS_PER_STATEMENT) {
          // Latest wins per column; an older flush (another process) never moves a time backwards.
          const later = <T extends string | number>(
            column: 'last_delivery_at' | 'last_error_at',
            value: string,
          ) =>
            sql<T | null>`case when excluded.${sql.ref(column)} is not null and (beam_sim_status.${sql.ref(column)} is null or excluded.${sql.ref(column)} >= beam_sim_status.${sql.ref(column)}) then excluded.${sql.ref(value)} else beam_sim_status.${sql.ref(value)} end`;
          await trx
            .insertInto('beam_sim_status')
            .values(statuses.slice(i, i + ROWS_PER_STATEMENT))
            .onConflict((oc) =>
              oc.columns(['operator_id', 'sim_id', 'service']).doUpdateSet({
                imsi: sql`excluded.imsi`,
                last_delivery_entry_point: later<string>('last_delivery_at', 'last_delivery_entry_point'),
                last_error: later<string>('last_error_at', 'last_error'),
                last_error_entry_point: later<string>('last_error_at', 'last_error_entry_point'),
                // Every SET expression sees the stored (old) row, on both databases.
                last_delivery_at: later<number>('last_delivery_at', 'last_delivery_at'),
                last_error_at: later<number>('last_error_at', 'last_error_at'),
              }),
            )
            .execute();
        }
      });
    } catch (e) {
      this.putBack(buckets, statuses, dropped);
      throw e;
    }
    return { rows: buckets.length + statuses.length, dropped };
  }

  /** A failed batch goes back in front of what was recorded meanwhile, within the bound. */
  private putBack(buckets: Bucket[], statuses: SimStatus[], dropped: number): void {
    this.droppedSinceFlush += dropped;
    for (const b of buckets) {
      const key = `${b.operator_id}\0${b.imsi}\0${b.service}\0${b.entry_point}\0${b.destination}\0${b.period}\0${b.bucket_start}`;
      const now = this.buckets.get(key);
      if (now !== undefined) {
        now.requests += b.requests;
        now.delivered += b.delivered;
        now.refused += b.refused;
        now.failed += b.failed;
        now.bytes_up += b.bytes_up;
        now.bytes_down += b.bytes_down;
      } else if (this.buckets.size < this.maxPendingKeys) {
        this.buckets.set(key, b);
      } else {
        this.droppedSinceFlush += b.requests;
        this.droppedTotal += b.requests;
      }
    }
    for (const s of statuses) {
      const key = `${s.operator_id}\0${s.sim_id}\0${s.service}`;
      const now = this.statuses.get(key);
      if (now === undefined) {
        if (this.statuses.size < this.maxPendingKeys) this.statuses.set(key, s);
        continue;
      }
      // What was recorded meanwhile is newer; keep older values only where nothing newer came.
      if (now.last_delivery_at === null) {
        now.last_delivery_at = s.last_delivery_at;
        now.last_delivery_entry_point = s.last_delivery_entry_point;
      }
      if (now.last_error_at === null) {
        now.last_error_at = s.last_error_at;
        now.last_error = s.last_error;
        now.last_error_entry_point = s.last_error_entry_point;
      }
    }
  }

  /** Final flush (platform.close()); records after this are still buffered but never written. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
  }
}
