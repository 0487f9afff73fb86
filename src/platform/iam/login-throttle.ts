// Brute-force limits for everything that checks a secret a person or program types: passwords,
// MFA codes and auth-key secrets. Attempts are counted per account and per source address; after
// `maxFailures` consecutive failures each further attempt must wait an exponentially growing time
// (base × 2^k, capped), answered 429 with Retry-After.
//
// The count is taken when an attempt is *admitted*, before the secret is checked, in one atomic
// statement on the `counters` table whose guard also enforces the wait. So however many requests
// race — on one instance or many over one PostgreSQL — at most `maxFailures` attempts pass before
// the first wait, and afterwards exactly one attempt per wait period (an admission moves the next
// allowed time forward in the same statement). A success resets the account's streak; at the
// address it gives back only its own reservation, so one good login cannot wash away the failures
// an address made against other accounts.
//
// Row layout in `counters` for these scopes: value = attempts in the current streak, window_start =
// the earliest time the next attempt is admitted (0 = no wait), expires_at = when the streak is
// forgotten (memory after the last attempt).
//
// Race semantics are those of atomic.ts: PostgreSQL re-evaluates the ON CONFLICT … WHERE guard on
// the locked, current row; SQLite serialises write statements on the database lock.

import { sql } from 'kysely';
import type { Executor } from '../store/database.js';

export interface ThrottlePolicy {
  /** Attempts admitted without waiting (the "5 consecutive failures"). */
  readonly maxFailures: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** A streak is forgotten this long after its last attempt. */
  readonly memoryMs: number;
}

export type Admission =
  | { readonly admitted: true; readonly attempt: number }
  | { readonly admitted: false; readonly retryAfterMs: number };

/** The wait imposed after admitting attempt number `attempt` (0 before the threshold). */
export function backoffAfter(policy: ThrottlePolicy, attempt: number): number {
  if (attempt < policy.maxFailures) return 0;
  const exponent = Math.min(attempt - policy.maxFailures, 30);
  return Math.min(policy.backoffBaseMs * 2 ** exponent, policy.backoffMaxMs);
}

/** Admits (and counts) one attempt, or says how long to wait. One statement. */
export async function admitAttempt(
  db: Executor,
  o: { scope: string; key: string; now: number; policy: ThrottlePolicy },
): Promise<Admission> {
  const { policy, now } = o;
  const forget = now + policy.memoryMs;
  const firstHold = backoffAfter(policy, 1) === 0 ? 0 : now + backoffAfter(policy, 1);
  const big = (v: number) => sql`cast(${v} as bigint)`;
  // The wait after this admission, computed from the new attempt number n = value + 1:
  // 0 below the threshold, else min(base << (n − max), cap); the shift is bounded to stay in 64 bits.
  const n = sql`(counters.value + 1)`;
  const shift = sql`cast(case when ${n} - ${big(policy.maxFailures)} > 30 then 30 else ${n} - ${big(policy.maxFailures)} end as integer)`;
  const raw = sql`(${big(policy.backoffBaseMs)} << ${shift})`;
  const hold = sql`case when ${raw} > ${big(policy.backoffMaxMs)} then ${big(policy.backoffMaxMs)} else ${raw} end`;
  const expired = sql`counters.expires_at <= ${big(now)}`;
  const result = await sql<{ value: number }>`
    insert into counters (scope, key, value, window_start, expires_at)
    values (${o.scope}, ${o.key}, 1, ${big(firstHold)}, ${big(forget)})
    on conflict (scope, key) do update set
      value = case when ${expired} then 1 else ${n} end,
      window_start = case
        when ${expired} then ${big(firstHold)}
        when ${n} >= ${big(policy.maxFailures)} then ${big(now)} + ${hold}
        else 0 end,
      expires_at = ${big(forget)}
    where ${expired} or counters.window_start <= ${big(now)}
    returning value`.execute(db);
  const row = result.rows[0];
  if (row !== undefined) return { admitted: true, attempt: Number(row.value) };
  const waiting = await db
    .selectFrom('counters')
    .select('window_start')
    .where('scope', '=', o.scope)
    .where('key', '=', o.key)
    .executeTakeFirst();
  return { admitted: false, retryAfterMs: Math.max(1, Number(waiting?.window_start ?? now) - now) };
}

/** After a success: `reset` ends the streak (accounts); `release` returns one reservation (addresses). */
export async function attemptSucceeded(
  db: Executor,
  o: { scope: string; key: string; mode: 'reset' | 'release' },
): Promise<void> {
  if (o.mode === 'reset') {
    await db.deleteFrom('counters').where('scope', '=', o.scope).where('key', '=', o.key).execute();
    return;
  }
  await db
    .updateTable('counters')
    .set((eb) => ({ value: eb('value', '-', 1) }))
    .where('scope', '=', o.scope)
    .where('key', '=', o.key)
    .where('value', '>', 0)
    .execute();
}

/** An admission that was not used (a later check refused the attempt): give the slot back. */
export const releaseAttempt = (db: Executor, scope: string, key: string) =>
  attemptSucceeded(db, { scope, key, mode: 'release' });
