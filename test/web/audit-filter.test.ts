// The audit log page reads its filters from the URL, which anyone can hand-craft and share. The
// threat: a link whose values the page passes on unchecked — a result outside the enum, a time past
// the API's bound, an overlong text — turning the page into an error, or extra parameters reaching
// the API. Whatever the URL holds, the query the page builds must fit the route's schema
// (src/servers/http/routes/audit-logs.ts), and a filter survives the URL round trip unchanged.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  auditQuery,
  filterFromSearch,
  filterToSearch,
  localInputToMs,
  MAX_DATE_MS,
  msToLocalInput,
} from '../../web/src/audit/model.js';

const KEYS = [
  'operationId',
  'userName',
  'sourceIp',
  'result',
  'from',
  'to',
  'limit',
  '__proto__',
  'last_evaluated_key',
];
const value = fc.oneof(
  fc.string(),
  fc.constantFrom(
    'success',
    'failure',
    'denied',
    'SUCCESS',
    '',
    ' ',
    '-1',
    '1e3',
    '0x10',
    '8640000000000001',
    '9999999999999999',
    '8640000000000000',
  ),
  fc.bigInt({ min: 0n, max: 10n ** 17n }).map(String),
  fc.string({ minLength: 99, maxLength: 102 }),
);

describe('console audit log filters from the URL', () => {
  it('build only queries the API accepts', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...KEYS), value), { maxLength: 10 }),
        fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: undefined }),
        (pairs, before) => {
          const q: Record<string, unknown> = auditQuery(
            filterFromSearch(new URLSearchParams(pairs)),
            50,
            before,
          );
          const allowed = [
            'limit',
            'last_evaluated_key',
            'operation_id',
            'user_name',
            'source_ip',
            'result',
            'from',
            'to',
          ];
          for (const k of Object.keys(q)) expect(allowed).toContain(k);
          for (const [k, max] of [
            ['operation_id', 100],
            ['user_name', 100],
            ['source_ip', 64],
          ] as const)
            if (q[k] !== undefined) expect((q[k] as string).length).toBeLessThanOrEqual(max);
          if (q.result !== undefined) expect(['success', 'failure', 'denied']).toContain(q.result);
          for (const k of ['from', 'to'])
            if (q[k] !== undefined) {
              expect(Number.isInteger(q[k])).toBe(true);
              expect(q[k] as number).toBeGreaterThanOrEqual(0);
              expect(q[k] as number).toBeLessThanOrEqual(MAX_DATE_MS);
            }
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('round-trips a filter through the URL', () => {
    const text = fc.string({ minLength: 1, maxLength: 64 }).filter((s) => s.trim() === s && s !== '');
    const filter = fc.record(
      {
        operationId: text,
        userName: text,
        sourceIp: text,
        result: fc.constantFrom('success' as const, 'failure' as const, 'denied' as const),
        from: fc.integer({ min: 0, max: MAX_DATE_MS }),
        to: fc.integer({ min: 0, max: MAX_DATE_MS }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(filter, (f) => {
        expect(filterFromSearch(new URLSearchParams(filterToSearch(f)))).toEqual(f);
      }),
      { numRuns: 2000 },
    );
  });

  it('reads datetime-local text in the local zone, to the minute', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (ms) => {
        const minute = ms - (ms % 60_000);
        const back = localInputToMs(msToLocalInput(ms));
        expect(back).toBeDefined();
        // A wall-clock minute that a DST change repeats reads back as its first occurrence.
        expect([0, 3_600_000]).toContain(Math.abs((back as number) - minute));
      }),
      { numRuns: 500 },
    );
    expect(localInputToMs('')).toBeUndefined();
    expect(localInputToMs('not a date')).toBeUndefined();
  });
});
