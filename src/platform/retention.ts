// Retention (issue 11): what the platform records about traffic and people — ended sessions, usage
// buckets, refusals, the audit log, SMS records — is deleted once it is older than its configured
// retention (settings retention*, docs/operations.md), and what has expired (API tokens, counters,
// one-time values, login transactions) once it has expired.
//
// The purge never holds a lock for long: each kind is deleted in batches of retentionPurgeBatchRows
// rows, one statement per batch, choosing rows through an index (or, for append-only tables with a
// serial id, the oldest ids first), and it yields to the event loop between batches so requests and
// RADIUS traffic run in between. On PostgreSQL the batch skips rows another transaction has locked
// (FOR UPDATE SKIP LOCKED), so several instances purging at once neither wait for nor deadlock on
// each other; on SQLite the batches of several processes simply queue on the write lock.

import { sql } from 'kysely';
import type { Config } from '../config/defaults.js';
import type { Clock } from '../lib/clock.js';
import type { Executor, Store } from './store/database.js';
import type { Database } from './store/schema.js';

const DAY_MS = 86_400_000;

export type RetentionConfig = Pick<
  Config,
  | 'retentionSessionsDays'
  | 'retentionUsageHourlyDays'
  | 'retentionUsageDailyDays'
  | 'retentionRefusalsDays'
  | 'retentionAuditLogDays'
  | 'retentionSmsDays'
  | 'retentionEventHistoryDays'
  | 'retentionPurgeBatchRows'
>;

/**
 * Rows chosen by a condition an index serves, deleted by primary key (a row value, so composite
 * keys work the same on both databases).
 */
interface ByKey {
  readonly by: 'key';
  readonly key: readonly string[];
  readonly where: (cutoff: number) => ReturnType<typeof sql>;
}

/**
 * Append-only tables with a serial `id` whose time column grows with it: the oldest ids are read
 * through the primary key and the leading run older than the cutoff is deleted. No time index is
 * needed (none is paid for on the insert path) and a run ends at the first young row.
 */
interface BySerial {
  readonly by: 'serial';
  readonly at: string;
}

interface Target {
  readonly kind: string;
  readonly table: keyof Database;
  readonly what: string;
  /** Rows older than this (Unix ms) go; undefined keeps the kind forever. */
  readonly cutoff: (now: number, config: RetentionConfig) => number | undefined;
  readonly plan: ByKey | BySerial;
  /** The audit log refuses deletes unless the purge gate is open (migration 0008). */
  readonly gated?: boolean;
}

const daysBefore = (days: number) => (now: number) => (days === 0 ? undefined : now - days * DAY_MS);
const expired = (now: number) => now;

/** Every kind the purge handles, in the order it runs. */
export const PURGE_TARGETS: readonly Target[] = [
  {
    kind: 'sessions',
    table: 'sim_sessions',
    what: 'ended data sessions',
    cutoff: (now, c) => daysBefore(c.retentionSessionsDays)(now),
    plan: { by: 'key', key: ['session_id'], where: (cutoff) => sql`ended_at < ${cutoff}` },
  },
  {
    kind: 'session-events',
    table: 'sim_session_events',
    what: 'session events',
    cutoff: (now, c) => daysBefore(c.retentionSessionsDays)(now),
    plan: { by: 'serial', at: 'at' },
  },
  {
    kind: 'dynamic-requests',
    table: 'radius_dynamic_requests',
    what: 'completed CoA/Disconnect requests',
    cutoff: (now, c) => daysBefore(c.retentionSessionsDays)(now),
    plan: {
      by: 'key',
      key: ['id'],
      where: (cutoff) => sql`status in ('ack', 'nak', 'timeout', 'error') and created_at < ${cutoff}`,
    },
  },
  {
    kind: 'usage-hourly',
    table: 'sim_usage',
    what: 'hourly usage buckets',
    cutoff: (now, c) => daysBefore(c.retentionUsageHourlyDays)(now),
    plan: {
      by: 'key',
      key: ['sim_id', 'period', 'bucket_start', 'speed_class'],
      where: (cutoff) => sql`period = 'hour' and bucket_start < ${cutoff}`,
    },
  },
  {
    kind: 'usage-daily',
    table: 'sim_usage',
    what: 'daily usage buckets',
    cutoff: (now, c) => daysBefore(c.retentionUsageDailyDays)(now),
    plan: {
      by: 'key',
      key: ['sim_id', 'period', 'bucket_start', 'speed_class'],
      where: (cutoff) => sql`period = 'day' and bucket_start < ${cutoff}`,
    },
  },
  // Beam/Funnel/Funk usage (issue 17): the same retention as the Air usage buckets; chosen through
  // beam_usage_retention (period, bucket_start).
  {
    kind: 'beam-usage-hourly',
    table: 'beam_usage',
    what: 'hourly Beam/Funnel/Funk usage buckets',
    cutoff: (now, c) => daysBefore(c.retentionUsageHourlyDays)(now),
    plan: {
      by: 'key',
      key: ['operator_id', 'imsi', 'service', 'period', 'bucket_start', 'entry_point', 'destination'],
      where: (cutoff) => sql`period = 'hour' and bucket_start < ${cutoff}`,
    },
  },
  {
    kind: 'beam-usage-daily',
    table: 'beam_usage',
    what: 'daily Beam/Funnel/Funk usage buckets',
    cutoff: (now, c) => daysBefore(c.retentionUsageDailyDays)(now),
    plan: {
      by: 'key',
      key: ['operator_id', 'imsi', 'service', 'period', 'bucket_start', 'entry_point', 'destination'],
      where: (cutoff) => sql`period = 'day' and bucket_start < ${cutoff}`,
    },
  },
  {
    kind: 'refusals',
    table: 'aaa_refusals',
    what: 'AAA refusals',
    cutoff: (now, c) => daysBefore(c.retentionRefusalsDays)(now),
    plan: { by: 'serial', at: 'at' },
  },
  {
    kind: 'audit-logs',
    table: 'audit_logs',
    what: 'audit log records',
    cutoff: (now, c) => daysBefore(c.retentionAuditLogDays)(now),
    plan: { by: 'serial', at: 'at' },
    gated: true,
  },
  {
    kind: 'sms',
    table: 'sms_messages',
    what: 'SMS delivery records',
    cutoff: (now, c) => daysBefore(c.retentionSmsDays)(now),
    plan: { by: 'key', key: ['message_id'], where: (cutoff) => sql`created_at < ${cutoff}` },
  },
  // Event handler history (issue 14). Runs go first; a firing goes once it is old and has no run left,
  // so a firing whose action is scheduled far ahead (BEGINNING_OF_NEXT_MONTH + offset) keeps its
  // history until that run has finished and aged. The event outbox needs nothing: the engine deletes
  // each event in the transaction that evaluates it.
  {
    kind: 'event-action-runs',
    table: 'event_action_runs',
    what: 'finished event handler action runs',
    cutoff: (now, c) => daysBefore(c.retentionEventHistoryDays)(now),
    plan: {
      by: 'key',
      key: ['id'],
      // (status, run_at) is indexed; a finished run's run_at is never after its last update.
      where: (cutoff) =>
        sql`status in ('succeeded', 'failed', 'dead', 'skipped', 'cancelled') and run_at < ${cutoff} and updated_at < ${cutoff}`,
    },
  },
  {
    kind: 'event-firings',
    table: 'event_firings',
    what: 'event handler firings without runs left',
    cutoff: (now, c) => daysBefore(c.retentionEventHistoryDays)(now),
    plan: {
      by: 'key',
      key: ['id'],
      // Runs are found through event_action_runs_firing; runs are written in the firing's transaction.
      where: (cutoff) =>
        sql`at < ${cutoff} and not exists (select 1 from event_action_runs r where r.firing_id = event_firings.id)`,
    },
  },
  {
    kind: 'api-tokens',
    table: 'api_tokens',
    what: 'expired API tokens',
    cutoff: expired,
    plan: { by: 'key', key: ['token_hash'], where: (cutoff) => sql`expires_at <= ${cutoff}` },
  },
  {
    kind: 'counters',
    table: 'counters',
    what: 'expired counters (API rate limits, login throttles)',
    cutoff: expired,
    plan: { by: 'key', key: ['scope', 'key'], where: (cutoff) => sql`expires_at <= ${cutoff}` },
  },
  {
    kind: 'one-time-values',
    table: 'one_time_values',
    what: 'expired one-time values (challenges, used codes)',
    cutoff: expired,
    plan: { by: 'key', key: ['scope', 'key'], where: (cutoff) => sql`expires_at <= ${cutoff}` },
  },
  {
    kind: 'mfa-transactions',
    table: 'mfa_transactions',
    what: 'MFA login transactions a day after they expired',
    cutoff: (now) => now - DAY_MS,
    plan: { by: 'key', key: ['transaction_hash'], where: (cutoff) => sql`expires_at < ${cutoff}` },
  },
];

export interface PurgeProgress {
  readonly kind: string;
  readonly table: string;
  /** Rows of this kind deleted so far in this run. */
  readonly deleted: number;
  /** This kind is finished. */
  readonly done: boolean;
}

export interface PurgeResult {
  readonly kind: string;
  readonly table: string;
  readonly what: string;
  /** Undefined when the kind is kept forever (its retention is 0). */
  readonly cutoff: number | undefined;
  readonly deleted: number;
}

export interface PurgeOptions {
  readonly onProgress?: (progress: PurgeProgress) => void;
  /** Asked before every batch after the first; false ends the run early (a stopping process). */
  readonly shouldContinue?: () => boolean;
}

/** Lets I/O callbacks and timers run (setImmediate runs after the poll phase). */
const yieldToOtherWork = () => new Promise<void>((resolve) => setImmediate(resolve));

const affected = (r: { numAffectedRows?: bigint }) => Number(r.numAffectedRows ?? 0n);

async function deleteByKey(store: Store, t: Target, plan: ByKey, cutoff: number, limit: number) {
  const key = sql.join(plan.key.map((k) => sql.ref(k)));
  const lock = store.dialect === 'postgres' ? sql`for update skip locked` : sql``;
  const r = await sql`
    delete from ${sql.table(t.table)} where (${key}) in (
      select ${key} from ${sql.table(t.table)} where ${plan.where(cutoff)} limit ${limit} ${lock})`.execute(
    store.db,
  );
  const deleted = affected(r);
  return { deleted, more: deleted === limit };
}

async function deleteBySerial(store: Store, t: Target, plan: BySerial, cutoff: number, limit: number) {
  const at = sql.ref(plan.at);
  const oldest = await sql<{ id: number; at: number }>`
    select id, ${at} as at from ${sql.table(t.table)} order by id limit ${limit}`.execute(store.db);
  let last: number | undefined;
  for (const row of oldest.rows) {
    if (Number(row.at) >= cutoff) break;
    last = Number(row.id);
  }
  if (last === undefined) return { deleted: 0, more: false };
  const remove = (db: Executor) =>
    sql`delete from ${sql.table(t.table)} where id <= ${last} and ${at} < ${cutoff}`.execute(db);
  const r = t.gated
    ? await store.transaction(async (trx) => {
        await trx.insertInto('audit_log_purge_gate').values({ before: cutoff }).execute();
        const deleted = await remove(trx);
        await trx.deleteFrom('audit_log_purge_gate').execute();
        return deleted;
      })
    : await remove(store.db);
  const deleted = affected(r);
  const lastRow = oldest.rows.at(-1);
  const runEnded = lastRow === undefined || Number(lastRow.id) !== last;
  return { deleted, more: !runEnded && oldest.rows.length === limit };
}

/**
 * Deletes, kind by kind, what retention and expiry allow at `clock.now()`, in batches. Safe to run
 * from several processes at once. Returns what each kind deleted.
 */
export async function purge(
  store: Store,
  clock: Clock,
  config: RetentionConfig,
  options: PurgeOptions = {},
): Promise<PurgeResult[]> {
  const now = clock.now();
  const limit = config.retentionPurgeBatchRows;
  const results: PurgeResult[] = [];
  const goOn = options.shouldContinue ?? (() => true);
  for (const t of PURGE_TARGETS) {
    if (!goOn()) break;
    const cutoff = t.cutoff(now, config);
    let deleted = 0;
    if (cutoff !== undefined) {
      for (;;) {
        const batch =
          t.plan.by === 'key'
            ? await deleteByKey(store, t, t.plan, cutoff, limit)
            : await deleteBySerial(store, t, t.plan, cutoff, limit);
        deleted += batch.deleted;
        options.onProgress?.({ kind: t.kind, table: t.table, deleted, done: !batch.more });
        if (!batch.more) break;
        await yieldToOtherWork();
        if (!goOn()) break;
      }
    }
    results.push({ kind: t.kind, table: t.table, what: t.what, cutoff, deleted });
    await yieldToOtherWork();
  }
  return results;
}

// ------------------------------------------------------------------ row counts for /metrics

export interface TableRows {
  readonly table: string;
  readonly rows: number;
  /** False when the figure is PostgreSQL's planner estimate (pg_class.reltuples). */
  readonly exact: boolean;
}

/** An exact count on PostgreSQL (for a table never analysed) stops here. */
export const EXACT_COUNT_BOUND = 1_000_000;

/**
 * Rows per table of the store (migration bookkeeping excluded).
 * - SQLite: exact `count(*)`, one table per statement with a yield between (SQLite counts a b-tree
 *   without reading rows: milliseconds for a million rows).
 * - PostgreSQL: `pg_class.reltuples`, the estimate autovacuum/ANALYZE keeps (free to read, close
 *   after any bulk load the importer analyses); a table never analysed (reltuples -1) is counted
 *   exactly, up to EXACT_COUNT_BOUND.
 */
export async function countTableRows(store: Store): Promise<TableRows[]> {
  if (store.dialect === 'sqlite') {
    const tables = await sql<{ name: string }>`
      select name from sqlite_master
      where type = 'table' and name not like 'sqlite\\_%' escape '\\' and name not like 'kysely\\_%' escape '\\'
      order by name`.execute(store.db);
    const out: TableRows[] = [];
    for (const { name } of tables.rows) {
      const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(name)}`.execute(store.db);
      out.push({ table: name, rows: Number(r.rows[0]?.n ?? 0), exact: true });
      await yieldToOtherWork();
    }
    return out;
  }
  const stats = await sql<{ name: string; estimate: number }>`
    select c.relname as name, c.reltuples as estimate
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p') and n.nspname = current_schema()
      and c.relname not like 'kysely\\_%' escape '\\'
    order by c.relname`.execute(store.db);
  const out: TableRows[] = [];
  for (const { name, estimate } of stats.rows) {
    if (Number(estimate) >= 0) {
      out.push({ table: name, rows: Math.round(Number(estimate)), exact: false });
      continue;
    }
    const r = await sql<{ n: number }>`
      select count(*) as n from (select 1 from ${sql.table(name)} limit ${EXACT_COUNT_BOUND}) bounded`.execute(
      store.db,
    );
    out.push({ table: name, rows: Number(r.rows[0]?.n ?? 0), exact: true });
  }
  return out;
}

/**
 * countTableRows behind a cache: a Prometheus scrape reads the last figures and starts at most one
 * recount per `maxAgeMs` (scrapes arriving during a recount share it).
 */
export class TableRowCounts {
  private last: { at: number; rows: TableRows[] } | undefined;
  private pending: Promise<TableRows[]> | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly maxAgeMs = 60_000,
  ) {}

  get(): Promise<TableRows[]> {
    const now = this.clock.now();
    if (this.last !== undefined && now - this.last.at < this.maxAgeMs) return Promise.resolve(this.last.rows);
    this.pending ??= countTableRows(this.store)
      .then((rows) => {
        this.last = { at: this.clock.now(), rows };
        return rows;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}
