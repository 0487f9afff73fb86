// The threat: request data that becomes a rate-limit key (the client address, from
// X-Forwarded-For behind a trusted proxy; the token's hash) crafted to collide with another key,
// to break the statement that counts it, or to make a burst of hits count less than it is.
// The shared counter (issue 11) must count every hit of every key exactly, whatever the key.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { SharedRateCounter } from '../../../src/platform/iam/api-rate-limit.js';
import { readCounter } from '../../../src/platform/store/atomic.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../helpers/database.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.cleanup());

const T0 = 1_800_000_000_000;

/** Keys as hostile as an HTTP header can carry: quotes, SQL, wildcards, unicode, very long. */
const hostileKey = fc
  .oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom("ip:' or 1=1 --", 'ip:%', 'ip:_', 'ip:\\', 'token:', 'ip:', '"; drop table counters; --'),
    fc.string({ unit: 'binary', minLength: 200, maxLength: 600 }),
  )
  .map((k) => k.replaceAll('\u0000', '')); // NUL cannot reach a header, and PostgreSQL text refuses it

describe(`shared API rate counter on ${testDialect}`, () => {
  it('counts each key’s hits exactly — concurrent hits get 1..n — and keys never share a count', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.record({ key: hostileKey, hits: fc.integer({ min: 1, max: 6 }) }), {
          minLength: 1,
          maxLength: 8,
          selector: (e) => e.key,
        }),
        async (entries) => {
          const scope = `prop-${run++}`;
          const counter = new SharedRateCounter(db.store, new ManualClock(T0), scope);
          const hits = entries.flatMap((e) =>
            Array.from({ length: e.hits }, () =>
              counter.hit(e.key, 60_000).then((h) => ({ key: e.key, ...h })),
            ),
          );
          const results = await Promise.all(hits);
          for (const e of entries) {
            const mine = results.filter((r) => r.key === e.key);
            expect(mine.map((r) => r.count).sort((a, b) => a - b)).toEqual(
              Array.from({ length: e.hits }, (_, i) => i + 1),
            );
            expect(mine.every((r) => r.ttlMs === 60_000)).toBe(true);
            expect((await readCounter(db.store.db, scope, e.key, T0))?.value).toBe(e.hits);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a new window restarts the count; the hits of one key in one write get consecutive counts', async () => {
    const clock = new ManualClock(T0);
    const counter = new SharedRateCounter(db.store, clock, 'window');
    expect((await Promise.all([1, 2, 3].map(() => counter.hit('k', 1000)))).map((h) => h.count)).toEqual([
      1, 2, 3,
    ]);
    clock.advance(400);
    expect(await counter.hit('k', 1000)).toEqual({ count: 4, ttlMs: 600 });
    clock.advance(600);
    expect(await counter.hit('k', 1000)).toEqual({ count: 1, ttlMs: 1000 });
  });
});
