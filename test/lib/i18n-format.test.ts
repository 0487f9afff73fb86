// Counts and durations in words (issue 11: "1 more times", "expires in 1 minutes" for 30 seconds).

import { describe, expect, it } from 'vitest';
import { formatDuration, plural } from '../../src/lib/i18n-format.js';

describe('formatDuration', () => {
  it.each([
    [0, '0 seconds', '0秒'],
    [1, '1 second', '1秒'],
    [30, '30 seconds', '30秒'],
    [29.2, '30 seconds', '30秒'],
    [60, '1 minute', '1分'],
    [90, '1 minute, 30 seconds', '1分30秒'],
    [300, '5 minutes', '5分'],
    [3600, '1 hour', '1時間'],
    [3661, '1 hour, 1 minute, 1 second', '1時間1分1秒'],
    [7200, '2 hours', '2時間'],
    [86_400, '1 day', '1日'],
  ])('%s s → "%s" / "%s"', (seconds, en, ja) => {
    expect(formatDuration('en', seconds)).toBe(en);
    expect(formatDuration('ja', seconds)).toBe(ja);
  });

  it('a nonsense length reads as none', () => {
    expect(formatDuration('en', -5)).toBe('0 seconds');
    expect(formatDuration('en', Number.NaN)).toBe('0 seconds');
  });
});

describe('plural', () => {
  const times = { one: 'time', other: 'times' } as const;
  it('picks the CLDR form of the language', () => {
    expect(plural('en', 1, times)).toBe('time');
    expect(plural('en', 0, times)).toBe('times');
    expect(plural('en', 2, times)).toBe('times');
    // Japanese has only `other`.
    expect(plural('ja', 1, times)).toBe('times');
    expect(plural('ja', 1, { other: '回' })).toBe('回');
  });
});
