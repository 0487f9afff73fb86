// The SIM list reads its search from the URL, which anyone can hand-craft and share. The threat: a
// link whose search value reaches the API unchecked (letters, SQL, overlong, a second filter) and
// turns the list into an error page. Whatever the URL holds, the query the page builds carries at
// most one *_prefix filter, of digits only and within the route's bounds (ListSimsQuery in
// src/servers/http/schemas/sims.ts), chosen by the "search by" value.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { searchByFrom, searchQuery } from '../../web/src/sims/search.js';

const PATTERNS = {
  imsi_prefix: /^[0-9]{1,15}$/,
  iccid_prefix: /^[0-9]{1,20}$/,
  msisdn_prefix: /^\+?[0-9]{1,15}$/,
} as const;

describe('SIM list search', () => {
  it('an MSISDN typed as the operator sees it (+81 90-0000-0013) becomes msisdn_prefix=819000000013', () => {
    expect(searchQuery(searchByFrom('msisdn'), '+81 90-0000-0013')).toEqual({
      msisdn_prefix: '819000000013',
    });
    expect(searchQuery(searchByFrom(null), '44010')).toEqual({ imsi_prefix: '44010' });
    expect(searchQuery('iccid', 'none')).toEqual({});
  });

  it('property: any URL search gives at most one prefix filter that fits the API schema', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.constantFrom('imsi', 'iccid', 'msisdn')),
        fc.string(),
        (by, text) => {
          const searchBy = searchByFrom(new URLSearchParams({ searchBy: by }).get('searchBy'));
          expect(['imsi', 'iccid', 'msisdn']).toContain(searchBy);
          const q = searchQuery(searchBy, text) as Record<string, unknown>;
          const prefixes = Object.keys(q).filter((k) => k.endsWith('_prefix')) as Array<
            keyof typeof PATTERNS
          >;
          const digits = text.replace(/\D/g, '');
          expect(prefixes).toEqual(digits ? [`${searchBy}_prefix`] : []);
          for (const k of prefixes) {
            expect(q[k]).toMatch(PATTERNS[k]);
            expect(digits.startsWith(q[k] as string)).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
