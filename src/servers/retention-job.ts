// The background purge (issue 11): every retentionPurgeIntervalSeconds each running instance
// deletes what retention and expiry allow (platform/retention.ts), a minute after start the first
// time so that an instance restarted often still purges. Runs never overlap within a process;
// several instances may purge at once (the purge is safe for that). Deleted rows are counted in
// simtrust_retention_purged_rows_total{kind}.

import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Platform } from '../platform/platform.js';
import { purge } from '../platform/retention.js';

const FIRST_RUN_MS = 60_000;

export interface PurgeJob {
  /** Resolves once no run is in progress (a run the schedule started has finished). */
  settled(): Promise<void>;
  /** Stops the schedule and waits for a run in progress to end (it stops after its batch). */
  stop(): Promise<void>;
}

export function startPurgeJob(platform: Platform, logger: Logger, metrics: Registry): PurgeJob {
  const intervalMs = platform.config.retentionPurgeIntervalSeconds * 1000;
  if (intervalMs === 0) return { settled: async () => undefined, stop: async () => undefined };
  const purged = new Counter({
    name: 'simtrust_retention_purged_rows_total',
    help: 'Rows deleted by the retention purge of this process, by kind',
    labelNames: ['kind'] as const,
    registers: [metrics],
  });
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = () => {
    if (running !== undefined || stopped) return;
    const started = Date.now();
    running = purge(platform.store, platform.clock, platform.config, {
      // Between batches: a stopping process ends the run instead of holding the store open.
      shouldContinue: () => !stopped,
    })
      .then((results) => {
        const deleted: Record<string, number> = {};
        for (const r of results) {
          if (r.deleted === 0) continue;
          purged.inc({ kind: r.kind }, r.deleted);
          deleted[r.kind] = r.deleted;
        }
        if (Object.keys(deleted).length > 0)
          logger.info({ deleted, ms: Date.now() - started }, 'retention purge deleted old and expired rows');
      })
      .catch((e: unknown) =>
        logger.error({ err: e }, 'retention purge failed; it runs again at the next interval'),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(run, Math.min(FIRST_RUN_MS, intervalMs));
  const every = setInterval(run, intervalMs);
  first.unref();
  every.unref();
  return {
    async settled() {
      await running;
    },
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(every);
      await running;
    },
  };
}
