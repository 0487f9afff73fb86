// Group commit. Threats: a caller told "done" before its write is durable; one failing operation
// taking the others of its batch down with it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incrementCounter, readCounter } from '../../../src/platform/store/atomic.js';
import { GroupCommit } from '../../../src/platform/store/group-commit.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../helpers/database.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await openTestDatabase();
});
afterAll(async () => {
  await t.cleanup();
});

describe(`group commit on ${testDialect}`, () => {
  it('batches concurrent operations into few transactions and resolves only after commit', async () => {
    const gc = new GroupCommit(t.store, { maxBatch: 100, concurrency: 2 });
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        gc.run(async (trx) => {
          await incrementCounter(trx, { scope: 'gc', key: `k${i % 10}`, now: 1, windowMs: 1e12 });
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(gc.stats.operations).toBe(300);
    expect(gc.stats.commits).toBeLessThan(300);
    // Resolved means committed: another connection's read sees every write.
    for (let k = 0; k < 10; k++) expect((await readCounter(t.store.db, 'gc', `k${k}`, 2))?.value).toBe(30);
  });

  it('isolates a failing operation: it alone is rejected, the rest of its batch commits', async () => {
    const gc = new GroupCommit(t.store, { maxBatch: 50, concurrency: 1 });
    const ops = Array.from({ length: 20 }, (_, i) =>
      gc.run(async (trx) => {
        await incrementCounter(trx, { scope: 'gc-iso', key: `k${i}`, now: 1, windowMs: 1e12 });
        if (i === 7) throw new Error('refused');
        return i;
      }),
    );
    const settled = await Promise.allSettled(ops);
    expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(1);
    expect((settled[7] as PromiseRejectedResult).reason).toMatchObject({ message: 'refused' });
    for (let i = 0; i < 20; i++) {
      expect((await readCounter(t.store.db, 'gc-iso', `k${i}`, 2))?.value).toBe(i === 7 ? undefined : 1);
    }
    await gc.drained();
    expect(gc.backlog).toBe(0);
  });
});
