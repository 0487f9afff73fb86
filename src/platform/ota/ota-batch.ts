// A batcher for set-based group commit (the OTA send path): items that arrive while a transaction
// runs are cut into the next batch, and the batch runs as a few statements over all its items
// (one UPDATE for every counter, one INSERT for every command row) instead of a few per item —
// one fsync, and on PostgreSQL a handful of round trips, per batch.
//
// Each item gets its own result, once its batch committed. `run` answers per item (a value, or a
// refusal as a value); when the batch's transaction fails as a whole (a database error, a deadlock
// between instances on PostgreSQL), each item is run again alone in a transaction of its own, so
// one bad item fails alone. Batches form without timers, as in store/group-commit.ts.

import type { Executor, Store } from '../store/database.js';
import { type GroupCommitStats, gather } from '../store/group-commit.js';

export interface BatcherOptions {
  /** Most items in one batch. */
  readonly maxBatch: number;
  /** Batches in flight at once (forced to 1 on SQLite). */
  readonly concurrency: number;
}

interface Waiting<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (error: unknown) => void;
}

export class Batcher<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private inFlight = 0;
  private readonly concurrency: number;
  readonly stats: GroupCommitStats = { commits: 0, operations: 0, splitBatches: 0, failed: 0 };

  constructor(
    private readonly store: Store,
    /** Runs a batch inside its transaction: one result per item, in order. */
    private readonly run: (trx: Executor, items: readonly I[]) => Promise<O[]>,
    private readonly options: BatcherOptions,
  ) {
    this.concurrency = store.dialect === 'sqlite' ? 1 : Math.max(1, options.concurrency);
  }

  /** `item`'s result, once the batch it joined has committed. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      this.inFlight++;
      void this.next().finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  private async next(): Promise<void> {
    await gather(this.queue, this.options.maxBatch);
    const batch = this.queue.splice(0, this.options.maxBatch);
    if (batch.length > 0) await this.flush(batch);
  }

  private async flush(batch: Waiting<I, O>[]): Promise<void> {
    let results: O[];
    try {
      results = await this.store.transaction((trx) =>
        this.run(
          trx,
          batch.map((w) => w.item),
        ),
      );
      if (results.length !== batch.length) throw new Error('a batch answered the wrong number of items');
    } catch (e) {
      if (batch.length === 1) {
        this.stats.failed++;
        batch[0]?.reject(e);
        return;
      }
      this.stats.splitBatches++;
      for (const w of batch) {
        try {
          const [value] = await this.store.transaction((trx) => this.run(trx, [w.item]));
          this.stats.commits++;
          this.stats.operations++;
          w.resolve(value as O);
        } catch (error) {
          this.stats.failed++;
          w.reject(error);
        }
      }
      return;
    }
    this.stats.commits++;
    this.stats.operations += batch.length;
    for (const [i, w] of batch.entries()) w.resolve(results[i] as O);
  }
}
