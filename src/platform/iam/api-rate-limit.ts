// The API rate limit's counts, shared by every instance on the database (issue 11): each request
// adds one hit to a fixed-window counter row (store/atomic.ts, scope `api-rate`), so N instances
// together allow the configured rate, not N times it. The login throttle shares its counts the same
// way.
//
// Cost on the hot path: hits that arrive while a write is in flight wait for the next one, and one
// statement adds them all (a multi-row upsert, hits on one key summed), committed without waiting
// for the disk (store/database.ts withoutSync: a lost count after a power cut is harmless). Under
// load one write serves many requests; an idle API pays one short write per request.
//
// Exactness: each batch's addition is atomic in the database, and the hits of one key in a batch
// get consecutive counts in arrival order, so the counts handed out are exactly those N sequential
// increments would give — across processes too.

import type { Clock } from '../../lib/clock.js';
import { addToCounters } from '../store/atomic.js';
import { type Store, withoutSync } from '../store/database.js';
import { gather } from '../store/group-commit.js';

export const API_RATE_SCOPE = 'api-rate';

/** Most hits written by one statement. */
const MAX_BATCH = 500;

export interface RateHit {
  /** Hits on this key in the current window, this one included. */
  readonly count: number;
  /** Milliseconds until the window ends. */
  readonly ttlMs: number;
}

interface Pending {
  readonly key: string;
  readonly windowMs: number;
  readonly resolve: (hit: RateHit) => void;
  readonly reject: (error: unknown) => void;
}

export class SharedRateCounter {
  private readonly queue: Pending[] = [];
  private writing = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly scope = API_RATE_SCOPE,
  ) {}

  /** Counts one request on `key` (windows of `windowMs`); resolves once the count is written. */
  hit(key: string, windowMs: number): Promise<RateHit> {
    return new Promise<RateHit>((resolve, reject) => {
      this.queue.push({ key, windowMs, resolve, reject });
      if (!this.writing) void this.write();
    });
  }

  private async write(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        // Requests already waiting in the kernel join this write (see group-commit.ts gather).
        await gather(this.queue, MAX_BATCH);
        const batch = this.queue.splice(0, MAX_BATCH);
        await this.flush(batch);
      }
    } finally {
      this.writing = false;
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    // One statement per window length (the API uses one); each key's hits in arrival order.
    const byWindow = new Map<number, Map<string, Pending[]>>();
    for (const p of batch) {
      let keys = byWindow.get(p.windowMs);
      if (keys === undefined) {
        keys = new Map();
        byWindow.set(p.windowMs, keys);
      }
      const hits = keys.get(p.key);
      if (hits === undefined) keys.set(p.key, [p]);
      else hits.push(p);
    }
    try {
      const now = this.clock.now();
      const results = await withoutSync(this.store, async (trx) => {
        const out: Array<[Map<string, Pending[]>, Awaited<ReturnType<typeof addToCounters>>]> = [];
        for (const [windowMs, keys] of byWindow) {
          const entries = [...keys].map(([key, hits]) => ({ key, hits: hits.length }));
          out.push([keys, await addToCounters(trx, this.scope, entries, now, windowMs)]);
        }
        return out;
      });
      for (const [keys, states] of results) {
        for (const [key, hits] of keys) {
          const state = states.get(key);
          if (state === undefined) {
            for (const p of hits) p.reject(new Error(`rate counter ${key} was not returned by the database`));
            continue;
          }
          const ttlMs = Math.max(0, state.expiresAt - now);
          const first = state.value - hits.length + 1;
          for (const [i, p] of hits.entries()) p.resolve({ count: first + i, ttlMs });
        }
      }
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
  }
}
