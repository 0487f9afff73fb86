// Atomic primitives for attempt counters, rate limits, one-time codes and replay guards. Each is a
// single SQL statement, so it is correct with several processes on one SQLite file or several
// instances on one PostgreSQL — no read-modify-write in application code.
//
// Race semantics (the conformance suite in test/platform/store/atomic.test.ts checks them on both
// databases):
// - PostgreSQL (READ COMMITTED): concurrent statements on the same (scope, key) row queue on its row
//   lock; the one that waits re-evaluates its WHERE clause against the committed row before
//   writing. INSERT … ON CONFLICT never creates two rows for one key.
// - SQLite: a write statement holds the database write lock for its whole execution, so statements
//   on one file are serialized (other processes wait on busy_timeout).

import { sql } from 'kysely';
import type { Executor } from './database.js';

export interface CounterState {
  readonly value: number;
  readonly windowStart: number;
  readonly expiresAt: number;
}

export interface IncrementOptions {
  readonly scope: string;
  readonly key: string;
  readonly now: number;
  /** Length of the counting window; the count restarts at 1 on the first hit after it ends. */
  readonly windowMs: number;
  /** Guard: refuse (return undefined) when the count within the window has already reached `max`. */
  readonly max?: number;
}

/**
 * Guarded increment. Returns the new state, or undefined when the guard refused the increment.
 * With `max = M`, at most M increments succeed per window however many callers race: the guard is
 * the WHERE clause of the ON CONFLICT update, evaluated against the locked, current row.
 */
export async function incrementCounter(db: Executor, o: IncrementOptions): Promise<CounterState | undefined> {
  const expiresAt = o.now + o.windowMs;
  const expired = sql<boolean>`counters.expires_at <= ${o.now}`;
  const guard = o.max === undefined ? sql`true` : sql`(${expired} or counters.value < ${o.max})`;
  if (o.max !== undefined && o.max < 1) return undefined;
  const row = await sql<{ value: number; window_start: number; expires_at: number }>`
    insert into counters (scope, key, value, window_start, expires_at)
    values (${o.scope}, ${o.key}, 1, ${o.now}, ${expiresAt})
    on conflict (scope, key) do update set
      value = case when ${expired} then 1 else counters.value + 1 end,
      window_start = case when ${expired} then ${o.now} else counters.window_start end,
      expires_at = case when ${expired} then ${expiresAt} else counters.expires_at end
    where ${guard}
    returning value, window_start, expires_at`.execute(db);
  const r = row.rows[0];
  return r === undefined
    ? undefined
    : { value: Number(r.value), windowStart: r.window_start, expiresAt: r.expires_at };
}

export interface CounterHits {
  readonly key: string;
  /** How many hits to add (≥ 1). */
  readonly hits: number;
}

/**
 * Adds hits to several counters of one scope in one statement — a batch of callers' increments
 * (the shared API rate limit). Unguarded, with incrementCounter's window semantics: a counter whose
 * window has ended restarts at its hits with a new window of `windowMs`. Returns each key's state
 * after the addition; entries naming the same key are added together.
 *
 * Race semantics: as incrementCounter — every row's addition is applied to the current row under
 * its lock (PostgreSQL) or the write lock (SQLite), so concurrent batches from any number of
 * processes add up exactly; none is lost and none is counted twice.
 */
export async function addToCounters(
  db: Executor,
  scope: string,
  entries: readonly CounterHits[],
  now: number,
  windowMs: number,
): Promise<Map<string, CounterState>> {
  const merged = new Map<string, number>();
  for (const e of entries) merged.set(e.key, (merged.get(e.key) ?? 0) + e.hits);
  const out = new Map<string, CounterState>();
  if (merged.size === 0) return out;
  const expiresAt = now + windowMs;
  const expired = sql<boolean>`counters.expires_at <= ${now}`;
  const rows = sql.join(
    [...merged].map(([key, hits]) => sql`(${scope}, ${key}, ${hits}, ${now}, ${expiresAt})`),
  );
  const result = await sql<{ key: string; value: number; window_start: number; expires_at: number }>`
    insert into counters (scope, key, value, window_start, expires_at)
    values ${rows}
    on conflict (scope, key) do update set
      value = case when ${expired} then excluded.value else counters.value + excluded.value end,
      window_start = case when ${expired} then ${now} else counters.window_start end,
      expires_at = case when ${expired} then excluded.expires_at else counters.expires_at end
    returning key, value, window_start, expires_at`.execute(db);
  for (const r of result.rows) {
    out.set(r.key, {
      value: Number(r.value),
      windowStart: Number(r.window_start),
      expiresAt: Number(r.expires_at),
    });
  }
  return out;
}

/** The live state of a counter, or undefined when absent or its window has ended. */
export async function readCounter(
  db: Executor,
  scope: string,
  key: string,
  now: number,
): Promise<CounterState | undefined> {
  const r = await db
    .selectFrom('counters')
    .select(['value', 'window_start', 'expires_at'])
    .where('scope', '=', scope)
    .where('key', '=', key)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return r === undefined
    ? undefined
    : { value: Number(r.value), windowStart: r.window_start, expiresAt: r.expires_at };
}

export async function resetCounter(db: Executor, scope: string, key: string): Promise<void> {
  await db.deleteFrom('counters').where('scope', '=', scope).where('key', '=', key).execute();
}

export interface OneTimeValue {
  readonly scope: string;
  readonly key: string;
  /** Store only hashes or sealed values here, never a plain secret. */
  readonly value: string;
  readonly expiresAt: number;
  readonly now: number;
}

/**
 * Stores a one-time value unless a live one exists under the same key. Returns true when stored.
 * Racing callers: exactly one wins while the key is live (an expired row is replaced).
 */
export async function putOnce(db: Executor, v: OneTimeValue): Promise<boolean> {
  const result = await sql<{ key: string }>`
    insert into one_time_values (scope, key, value, expires_at, created_at)
    values (${v.scope}, ${v.key}, ${v.value}, ${v.expiresAt}, ${v.now})
    on conflict (scope, key) do update set
      value = excluded.value, expires_at = excluded.expires_at, created_at = excluded.created_at
    where one_time_values.expires_at <= ${v.now}
    returning key`.execute(db);
  return result.rows.length === 1;
}

/**
 * Consume-once: deletes and returns a live value. Of any number of racing callers exactly one gets
 * the value; the others (and every later caller) get undefined. An expired value is never returned.
 */
export async function consumeOnce(
  db: Executor,
  scope: string,
  key: string,
  now: number,
): Promise<string | undefined> {
  const result = await sql<{ value: string }>`
    delete from one_time_values
    where scope = ${scope} and key = ${key} and expires_at > ${now}
    returning value`.execute(db);
  return result.rows[0]?.value;
}

/**
 * Replay guard: records that `key` was used. True the first time within `expiresAt`, false for
 * every repeat (a TOTP code used twice in its window, a duplicate request).
 */
export function markUsedOnce(db: Executor, scope: string, key: string, expiresAt: number, now: number) {
  return putOnce(db, { scope, key, value: '', expiresAt, now });
}

/** Housekeeping: removes expired counters and one-time values; returns how many rows went. */
export async function purgeExpired(db: Executor, now: number): Promise<number> {
  const a = await db.deleteFrom('counters').where('expires_at', '<=', now).executeTakeFirst();
  const b = await db.deleteFrom('one_time_values').where('expires_at', '<=', now).executeTakeFirst();
  return Number(a.numDeletedRows) + Number(b.numDeletedRows);
}
