// The threat: online guessing of passwords, MFA codes and auth-key secrets, including by an
// attacker who fires requests in parallel or spreads them over several API instances to slip
// past a counter that is read and written in two steps. Admission is one atomic statement.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  admitAttempt,
  attemptSucceeded,
  backoffAfter,
  type ThrottlePolicy,
} from '../../../src/platform/iam/login-throttle.js';
import { openStore, type Store } from '../../../src/platform/store/database.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

const policy: ThrottlePolicy = {
  maxFailures: 5,
  backoffBaseMs: 1000,
  backoffMaxMs: 8000,
  memoryMs: 3_600_000,
};
let db: TestDatabase;
let second: Store;

beforeAll(async () => {
  db = await openTestDatabase();
  // A second instance: its own connection pool on the same database.
  second = await openStore(db.url);
});
afterAll(async () => {
  await second.close();
  await db.cleanup();
});

const admit = (key: string, now: number, store: Store = db.store) =>
  admitAttempt(store.db, { scope: 'test', key, now, policy });

describe('login throttle', () => {
  it('admits five attempts, then one per exponentially growing wait, capped', async () => {
    const t0 = 1_000_000;
    for (let i = 1; i <= 5; i++) expect(await admit('a', t0)).toEqual({ admitted: true, attempt: i });
    expect(await admit('a', t0)).toEqual({ admitted: false, retryAfterMs: 1000 });
    expect(await admit('a', t0 + 999)).toEqual({ admitted: false, retryAfterMs: 1 });
    let now = t0 + 1000;
    for (const [attempt, wait] of [
      [6, 2000],
      [7, 4000],
      [8, 8000],
      [9, 8000],
    ] as const) {
      expect(await admit('a', now)).toEqual({ admitted: true, attempt });
      expect(await admit('a', now)).toEqual({ admitted: false, retryAfterMs: wait });
      expect(backoffAfter(policy, attempt)).toBe(wait);
      now += wait;
    }
  });

  it('a success ends the streak (reset) or gives back one reservation (release)', async () => {
    for (let i = 0; i < 5; i++) await admit('b', 0);
    await attemptSucceeded(db.store.db, { scope: 'test', key: 'b', mode: 'reset' });
    expect(await admit('b', 0)).toEqual({ admitted: true, attempt: 1 });

    for (let i = 0; i < 5; i++) await admit('c', 0);
    await attemptSucceeded(db.store.db, { scope: 'test', key: 'c', mode: 'release' });
    // Four failures remain on the address, and the wait set by the fifth admission still holds.
    expect(await admit('c', 0)).toMatchObject({ admitted: false });
    expect(await admit('c', 1000)).toEqual({ admitted: true, attempt: 5 });
  });

  it('forgets a streak after its memory', async () => {
    for (let i = 0; i < 6; i++) await admit('d', 0);
    expect(await admit('d', policy.memoryMs)).toEqual({ admitted: true, attempt: 1 });
  });

  it('200 racing attempts over two instances: exactly five admitted', async () => {
    const now = 5_000_000;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => admit('race', now, i % 2 === 0 ? db.store : second)),
    );
    expect(results.filter((r) => r.admitted)).toHaveLength(5);
    const attempts = results.flatMap((r) => (r.admitted ? [r.attempt] : [])).sort();
    expect(attempts).toEqual([1, 2, 3, 4, 5]);
    // After the wait, again exactly one of many racing attempts gets through.
    const later = await Promise.all(
      Array.from({ length: 50 }, (_, i) => admit('race', now + 1000, i % 2 === 0 ? db.store : second)),
    );
    expect(later.filter((r) => r.admitted)).toHaveLength(1);
  });
});
