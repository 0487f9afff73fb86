// Conformance suite for the store's atomic primitives; runs on SQLite (npm test) and PostgreSQL
// (npm run test:pg). The threat: an attacker racing many requests to get more guesses than the
// limit allows, or to use a one-time code twice.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addToCounters,
  consumeOnce,
  incrementCounter,
  markUsedOnce,
  purgeExpired,
  putOnce,
  readCounter,
  resetCounter,
} from '../../../src/platform/store/atomic.js';
import { openStore, type Store } from '../../../src/platform/store/database.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../helpers/database.js';

let t: TestDatabase;
/** Independent connections to the same database, so races are real (pool or separate handles). */
let others: Store[];

beforeAll(async () => {
  t = await openTestDatabase();
  others = await Promise.all([1, 2, 3].map(() => openStore(t.url, { migrate: false })));
});
afterAll(async () => {
  await Promise.all(others.map((s) => s.close()));
  await t.cleanup();
});

const T0 = 1_800_000_000_000;

describe(`atomic primitives on ${testDialect}`, () => {
  it('counts within a window and restarts after it', async () => {
    const o = { scope: 'login', key: 'alice', windowMs: 1000 };
    expect((await incrementCounter(t.store.db, { ...o, now: T0 }))?.value).toBe(1);
    expect((await incrementCounter(t.store.db, { ...o, now: T0 + 10 }))?.value).toBe(2);
    expect((await readCounter(t.store.db, 'login', 'alice', T0 + 20))?.value).toBe(2);
    const restarted = await incrementCounter(t.store.db, { ...o, now: T0 + 1000 });
    expect(restarted).toEqual({ value: 1, windowStart: T0 + 1000, expiresAt: T0 + 2000 });
    expect(await readCounter(t.store.db, 'login', 'alice', T0 + 2000)).toBeUndefined();
    await resetCounter(t.store.db, 'login', 'alice');
    expect(await readCounter(t.store.db, 'login', 'alice', T0)).toBeUndefined();
  });

  it('guarded increment refuses past max and never over-counts under a race', async () => {
    const o = { scope: 'otp-guess', key: 'tx-1', windowMs: 60_000, max: 5, now: T0 };
    const handles = [t.store, ...others];
    const attempts = await Promise.all(
      Array.from({ length: 40 }, (_, i) => incrementCounter(handles[i % handles.length]!.db, o)),
    );
    const granted = attempts.filter((a) => a !== undefined).map((a) => a!.value);
    expect(granted.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    expect((await readCounter(t.store.db, o.scope, o.key, T0))?.value).toBe(5);
    expect(await incrementCounter(t.store.db, { ...o, max: 0 })).toBeUndefined();
  });

  it('addToCounters adds a batch of hits per key in one statement, with the window semantics', async () => {
    const first = await addToCounters(
      t.store.db,
      'api-rate',
      [
        { key: 'a', hits: 2 },
        { key: 'b', hits: 1 },
        { key: 'a', hits: 1 },
      ],
      T0,
      1000,
    );
    expect(first.get('a')).toEqual({ value: 3, windowStart: T0, expiresAt: T0 + 1000 });
    expect(first.get('b')).toEqual({ value: 1, windowStart: T0, expiresAt: T0 + 1000 });
    const again = await addToCounters(t.store.db, 'api-rate', [{ key: 'a', hits: 4 }], T0 + 999, 1000);
    expect(again.get('a')).toEqual({ value: 7, windowStart: T0, expiresAt: T0 + 1000 });
    // The window ended: the count restarts at this batch's hits.
    const restarted = await addToCounters(t.store.db, 'api-rate', [{ key: 'a', hits: 2 }], T0 + 1000, 1000);
    expect(restarted.get('a')).toEqual({ value: 2, windowStart: T0 + 1000, expiresAt: T0 + 2000 });
    expect((await addToCounters(t.store.db, 'api-rate', [], T0, 1000)).size).toBe(0);
  });

  it('addToCounters from racing connections adds up exactly (no lost or doubled hit)', async () => {
    // Issue 11: the API rate limit is shared by instances through this primitive.
    const handles = [t.store, ...others];
    const batches = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        addToCounters(
          handles[i % handles.length]!.db,
          'api-rate',
          [{ key: 'shared', hits: (i % 3) + 1 }],
          T0,
          60_000,
        ),
      ),
    );
    const total = Array.from({ length: 24 }, (_, i) => (i % 3) + 1).reduce((a, b) => a + b, 0);
    expect((await readCounter(t.store.db, 'api-rate', 'shared', T0))?.value).toBe(total);
    // Each batch saw a distinct running total, the largest being the sum.
    const seen = batches.map((b) => b.get('shared')!.value);
    expect(new Set(seen).size).toBe(24);
    expect(Math.max(...seen)).toBe(total);
  });

  it('consume-once gives a value to exactly one of many racing consumers', async () => {
    expect(
      await putOnce(t.store.db, { scope: 'chal', key: 'c1', value: 'h1', expiresAt: T0 + 60_000, now: T0 }),
    ).toBe(true);
    // A live value cannot be overwritten.
    expect(
      await putOnce(t.store.db, { scope: 'chal', key: 'c1', value: 'h2', expiresAt: T0 + 60_000, now: T0 }),
    ).toBe(false);
    const handles = [t.store, ...others];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        consumeOnce(handles[i % handles.length]!.db, 'chal', 'c1', T0 + 1),
      ),
    );
    expect(results.filter((r) => r !== undefined)).toEqual(['h1']);
    expect(await consumeOnce(t.store.db, 'chal', 'c1', T0 + 2)).toBeUndefined();
  });

  it('an expired one-time value is never consumed and can be replaced', async () => {
    await putOnce(t.store.db, { scope: 'chal', key: 'c2', value: 'old', expiresAt: T0 + 100, now: T0 });
    expect(await consumeOnce(t.store.db, 'chal', 'c2', T0 + 100)).toBeUndefined();
    expect(
      await putOnce(t.store.db, {
        scope: 'chal',
        key: 'c2',
        value: 'new',
        expiresAt: T0 + 500,
        now: T0 + 200,
      }),
    ).toBe(true);
    expect(await consumeOnce(t.store.db, 'chal', 'c2', T0 + 201)).toBe('new');
  });

  it('markUsedOnce accepts a key once per expiry and exactly once under a race', async () => {
    const handles = [t.store, ...others];
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        markUsedOnce(handles[i % handles.length]!.db, 'totp', 'alice:123456', T0 + 90_000, T0),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await markUsedOnce(t.store.db, 'totp', 'alice:123456', T0 + 180_000, T0 + 90_000)).toBe(true);
  });

  it('purgeExpired removes only expired rows', async () => {
    await incrementCounter(t.store.db, { scope: 'p', key: 'live', windowMs: 10_000, now: T0 });
    await incrementCounter(t.store.db, { scope: 'p', key: 'dead', windowMs: 10, now: T0 });
    await purgeExpired(t.store.db, T0 + 100);
    expect(await readCounter(t.store.db, 'p', 'live', T0 + 100)).toBeDefined();
    const dead = await t.store.db.selectFrom('counters').selectAll().where('key', '=', 'dead').execute();
    expect(dead).toEqual([]);
  });

  it('transactions roll back every write when the function throws', async () => {
    await expect(
      t.store.transaction(async (trx) => {
        await incrementCounter(trx, { scope: 'tx', key: 'k', windowMs: 1000, now: T0 });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await readCounter(t.store.db, 'tx', 'k', T0)).toBeUndefined();
  });
});
