// When rules re-arm and actions run (issue 14): SORACOM's date constants in UTC with offsets,
// across day, month and year ends — including times just before midnight, where local time zones
// would give another day.

import { describe, expect, it } from 'vitest';
import {
  beginningOfNextDay,
  beginningOfNextMonth,
  periodStart,
  scheduledTime,
} from '../../../src/platform/events/timing.js';

const utc = (...a: [number, number, number, number?, number?, number?]) =>
  Date.UTC(a[0], a[1] - 1, a[2], a[3] ?? 0, a[4] ?? 0, a[5] ?? 0);

describe('event handler timing (UTC)', () => {
  it.each([
    ['IMMEDIATELY', 0, utc(2026, 6, 10, 10), utc(2026, 6, 10, 10)],
    ['IMMEDIATELY', 15, utc(2026, 6, 10, 10), utc(2026, 6, 10, 10, 15)],
    ['BEGINNING_OF_NEXT_DAY', 0, utc(2026, 6, 10, 23, 59, 59), utc(2026, 6, 11)],
    ['BEGINNING_OF_NEXT_DAY', 0, utc(2026, 6, 11), utc(2026, 6, 12)],
    ['BEGINNING_OF_NEXT_DAY', 90, utc(2026, 12, 31, 12), utc(2027, 1, 1, 1, 30)],
    ['BEGINNING_OF_NEXT_MONTH', 0, utc(2026, 1, 31, 23), utc(2026, 2, 1)],
    ['BEGINNING_OF_NEXT_MONTH', 0, utc(2026, 12, 1), utc(2027, 1, 1)],
    ['BEGINNING_OF_NEXT_MONTH', 60, utc(2028, 2, 29, 5), utc(2028, 3, 1, 1)],
    ['AFTER_ONE_DAY', 0, utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 1, 30)],
    ['AFTER_ONE_DAY', 525_600, utc(2026, 1, 1), utc(2027, 1, 2)],
  ] as const)('%s + %i min from %i → %i', (when, offset, now, expected) => {
    expect(scheduledTime(when, offset, now)).toBe(expected);
  });

  it('NEVER is never', () => {
    expect(scheduledTime('NEVER', 0, utc(2026, 1, 1))).toBeNull();
  });

  it('periods start at 00:00 UTC of the day and the month', () => {
    expect(periodStart('daily', utc(2026, 6, 10, 23, 59))).toBe(utc(2026, 6, 10));
    expect(periodStart('monthly', utc(2026, 6, 30, 23, 59))).toBe(utc(2026, 6, 1));
    expect(periodStart('cumulative', utc(2026, 6, 30))).toBe(0);
    expect(beginningOfNextDay(utc(1999, 12, 31, 23, 59, 59))).toBe(utc(2000, 1, 1));
    expect(beginningOfNextMonth(utc(1999, 12, 15))).toBe(utc(2000, 1, 1));
  });
});
