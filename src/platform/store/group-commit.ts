// Group commit: many small writes share one transaction, so they share one fsync. Each caller's
// operation still runs as its own statements inside the batch; the caller's promise resolves only
// after the batch has committed (durable), never before.
//
// Batches form by themselves: the first operation starts a transaction at once, and whatever
// arrives while it commits waits for the next one (no timer, so an idle system pays no latency).
// On SQLite one batch is in flight at a time (one writer anyway); on PostgreSQL `concurrency`
// batches run side by side on the pool.
//
// Failure isolation: when a batch fails (a constraint error in one operation, a PostgreSQL deadlock
// between two instances), it is rolled back as a whole and each of its operations is run again in a
// transaction of its own, so one bad operation fails alone and the others still commit. Operations
// must therefore touch only the database (no side effects before their promise resolves).

import type { Executor, Store } from './database.js';

export interface GroupCommitOptions {
  /** Most operations in one transaction. */
  readonly maxBatch: number;
  /** Batches in flight at once (forced to 1 on SQLite). */
  readonly concurrency: number;
}

interface Pending<T> {
  readonly op: (trx: Executor) => Promise<T>;
  readonly resolve: (value: T) => void;
  readonly reject: (error: unknown) => void;
}

export interface GroupCommitStats {
  /** Transactions committed (batches plus isolated re-runs). */
  commits: number;
  /** Operations committed. */
  operations: number;
  /** Batches that failed and were re-run one operation at a time. */
  splitBatches: number;
  /** Operations that failed on their own. */
  failed: number;
}

/**
 * Yields (setImmediate, i.e. after I/O polling) until `queue` stops growing or reaches `max`, so
 * requests already waiting in the kernel join the batch about to be cut. Needed because a
 * synchronous driver (better-sqlite3) never yields to I/O during a transaction.
 */
export async function gather(queue: { readonly length: number }, max: number): Promise<void> {
  let size = -1;
  for (let spins = 0; spins < 16 && queue.length !== size && queue.length < max; spins++) {
    size = queue.length;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export class GroupCommit {
  private readonly queue: Pending<unknown>[] = [];
  private inFlight = 0;
  private readonly idle: Array<() => void> = [];
  readonly stats: GroupCommitStats = { commits: 0, operations: 0, splitBatches: 0, failed: 0 };
  private readonly concurrency: number;

  constructor(
    private readonly store: Store,
    private readonly options: GroupCommitOptions,
  ) {
    this.concurrency = store.dialect === 'sqlite' ? 1 : Math.max(1, options.concurrency);
  }

  /** Runs `op` in the next batch; resolves with its result once that batch has committed. */
  run<T>(op: (trx: Executor) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ op, resolve, reject } as Pending<unknown>);
      this.schedule();
    });
  }

  /** Operations waiting or in flight. */
  get backlog(): number {
    return this.queue.length + this.inFlight;
  }

  /** Resolves when nothing is queued or in flight. */
  drained(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      this.inFlight++;
      void this.gatherAndFlush().finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.schedule();
        else if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  /**
   * Lets work already waiting for I/O join the batch before it is cut: with a synchronous driver
   * (better-sqlite3) a transaction never yields to I/O, so requests that arrived during a commit
   * would otherwise be read one at a time after it — batches of one, an fsync each. Yields
   * (setImmediate: after I/O polling) until the queue stops growing; an idle system pays one.
   */
  private async gatherAndFlush(): Promise<void> {
    await gather(this.queue, this.options.maxBatch);
    const batch = this.queue.splice(0, this.options.maxBatch);
    if (batch.length > 0) await this.flush(batch);
  }

  private async flush(batch: Pending<unknown>[]): Promise<void> {
    let results: unknown[];
    try {
      results = await this.store.transaction(async (trx) => {
        const out: unknown[] = [];
        for (const p of batch) out.push(await p.op(trx));
        return out;
      });
    } catch (e) {
      if (batch.length === 1) {
        this.stats.failed++;
        batch[0]?.reject(e);
        return;
      }
      this.stats.splitBatches++;
      for (const p of batch) {
        try {
          const value = await this.store.transaction((trx) => p.op(trx));
          this.stats.commits++;
          this.stats.operations++;
          p.resolve(value);
        } catch (error) {
          this.stats.failed++;
          p.reject(error);
        }
      }
      return;
    }
    this.stats.commits++;
    this.stats.operations += batch.length;
    for (const [i, p] of batch.entries()) p.resolve(results[i]);
  }
}
