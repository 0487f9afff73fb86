// A @fastify/rate-limit store whose counts live in the database (platform/iam/api-rate-limit.ts),
// so every instance on one database enforces one shared limit (issue 11). The library keeps its
// role: key generators, `max`, Retry-After; only where the count is kept changes.

import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { SharedRateCounter } from '../../../platform/iam/api-rate-limit.js';

export function databaseRateLimitStore(counter: SharedRateCounter): FastifyRateLimitStoreCtor {
  return class DatabaseRateLimitStore implements FastifyRateLimitStore {
    incr(
      key: string,
      callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
      timeWindow: number,
    ): void {
      counter.hit(key, timeWindow).then(
        (hit) => callback(null, { current: hit.count, ttl: hit.ttlMs }),
        (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))),
      );
    }

    // Route-specific limiters share the counter: their keys already say which limit they count.
    child(): FastifyRateLimitStore {
      return this;
    }
  };
}
