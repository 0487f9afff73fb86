// When a fired rule is armed again (`inactiveTimeoutDateConst`) and when an action runs
// (`executionDateTimeConst`), with their offsets — all in UTC, from the time given (the injectable
// clock's now), as SORACOM's Event Handler documents them. Pure.

import type { ExecutionTime, InactiveTimeout } from './rules.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

/** 00:00 UTC of the day after `ms`. */
export const beginningOfNextDay = (ms: number): number => Math.floor(ms / DAY) * DAY + DAY;

/** 00:00 UTC of the first day of the month after `ms`. */
export function beginningOfNextMonth(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/**
 * The time `when` names, counted from `now`, plus `offsetMinutes`; null for NEVER. IMMEDIATELY with
 * an offset is `now + offset`.
 */
export function scheduledTime(
  when: InactiveTimeout | ExecutionTime,
  offsetMinutes: number,
  now: number,
): number | null {
  const offset = offsetMinutes * MINUTE;
  switch (when) {
    case 'IMMEDIATELY':
      return now + offset;
    case 'BEGINNING_OF_NEXT_DAY':
      return beginningOfNextDay(now) + offset;
    case 'BEGINNING_OF_NEXT_MONTH':
      return beginningOfNextMonth(now) + offset;
    case 'AFTER_ONE_DAY':
      return now + DAY + offset;
    case 'NEVER':
      return null;
  }
}

/** Start (UTC) of the period a traffic rule sums: today, this month, or all time. */
export function periodStart(period: 'daily' | 'monthly' | 'cumulative', now: number): number {
  if (period === 'daily') return Math.floor(now / DAY) * DAY;
  if (period === 'monthly') {
    const d = new Date(now);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
  return 0;
}
