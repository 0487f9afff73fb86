// The stale-session sweep (issue 11): every radiusInterimIntervalSeconds each running instance closes
// the sessions that missed radiusStaleSessionMissedInterims Interim-Updates in a row
// (platform/aaa/stale-sessions.ts), so a session whose Stop or Start was lost does not stay online
// forever. Runs never overlap within a process; several instances may sweep at once (each session
// is closed once). Closed sessions are counted in simtrust_aaa_stale_sessions_closed_total.

import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Platform } from '../platform/platform.js';

export interface StaleSessionJob {
  /** Stops the schedule and waits for a sweep in progress to end (it stops after its batch). */
  stop(): Promise<void>;
}

export function startStaleSessionJob(platform: Platform, logger: Logger, metrics: Registry): StaleSessionJob {
  const { radiusStaleSessionMissedInterims: missed, radiusInterimIntervalSeconds: interval } =
    platform.config;
  if (missed === 0) return { stop: async () => undefined };
  // A server started again on the same registry (tests, a restart in-process) replaces its metric.
  metrics.removeSingleMetric('simtrust_aaa_stale_sessions_closed_total');
  const closedTotal = new Counter({
    name: 'simtrust_aaa_stale_sessions_closed_total',
    help: 'Sessions closed by this process because their accounting went silent (Interim-Timeout)',
    registers: [metrics],
  });
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = () => {
    if (running !== undefined || stopped) return;
    running = platform.aaa
      .closeStaleSessions({ shouldContinue: () => !stopped })
      .then((closed) => {
        if (closed === 0) return;
        closedTotal.inc(closed);
        logger.info(
          { closed, silentSeconds: interval * missed },
          'closed sessions whose accounting went silent (terminate cause Interim-Timeout)',
        );
      })
      .catch((e: unknown) =>
        logger.error({ err: e }, 'stale-session sweep failed; it runs again at the next interval'),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const every = setInterval(run, interval * 1000);
  every.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(every);
      await running;
    },
  };
}
