// The exports job (issue 17): every EXPORTS_JOB_MS each running instance takes over the exports
// whose process died while writing them (their claim ran out; platform/exports/export-service.ts)
// and deletes the exports older than exportRetentionHours — file and record.

import type { Logger } from 'pino';
import type { Platform } from '../platform/platform.js';

export const EXPORTS_JOB_MS = 30_000;

export interface ExportsJob {
  /** Stops the schedule and waits for a pass in progress (exports it started finish on platform.close()). */
  stop(): Promise<void>;
}

export function startExportsJob(platform: Platform, logger: Logger): ExportsJob {
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = () => {
    if (running !== undefined || stopped) return;
    running = (async () => {
      const resumed = await platform.exports.resumeOrphans();
      if (resumed > 0) logger.info({ resumed }, 'took over exports whose process stopped while writing them');
      const purged = await platform.exports.purgeExpired();
      if (purged > 0) logger.info({ purged }, 'deleted expired exported files');
    })()
      .catch((e: unknown) =>
        logger.error({ err: e }, 'exports job failed; it runs again at the next interval'),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const every = setInterval(run, EXPORTS_JOB_MS);
  every.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(every);
      await running;
    },
  };
}
