// The page size the store sees is an integer in 1…MAX_PAGE_SIZE whatever the schema let through: the
// schema bounds `limit`, and pageSize() is the second fence in front of LIMIT (issue 11: Infinity
// once passed the schema and failed in SQLite).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PAGE_SIZE, pageSize } from '../../../src/servers/http/pagination.js';

describe('pageSize', () => {
  it('keeps a valid limit and fills in the full page when there is none', () => {
    expect(pageSize(undefined)).toBe(MAX_PAGE_SIZE);
    expect(pageSize(1)).toBe(1);
    expect(pageSize(37)).toBe(37);
    expect(pageSize(MAX_PAGE_SIZE)).toBe(MAX_PAGE_SIZE);
  });

  it('issue 11: any number at all becomes an integer in 1…MAX_PAGE_SIZE', () => {
    for (const n of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, -1, 0, 2 ** 53, 1.5]) {
      const size = pageSize(n);
      expect(Number.isInteger(size) && size >= 1 && size <= MAX_PAGE_SIZE, String(n)).toBe(true);
    }
    fc.assert(
      fc.property(fc.double(), (n) => {
        const size = pageSize(n);
        return Number.isInteger(size) && size >= 1 && size <= MAX_PAGE_SIZE;
      }),
    );
  });
});
