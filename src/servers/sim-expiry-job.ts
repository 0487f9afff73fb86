// The SIM expiry job (setSimExpiryTime; docs/sims.md "Expiry"): every second each running instance
// expires the SIMs whose expiry time has come by the platform's clock (platform/sims/expiry.ts: one
// transaction per batch; claims with FOR UPDATE SKIP LOCKED on PostgreSQL), so each SIM expires
// once however many instances run. Runs never overlap within a process. Counted in
// simtrust_sim_expiries_total{action,result}.

import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Platform } from '../platform/platform.js';

export interface SimExpiryJob {
  /** Stops the schedule and waits for a run in progress to end (it stops after its batch). */
  stop(): Promise<void>;
}

const TICK_MS = 1_000;

export function startSimExpiryJob(platform: Platform, logger: Logger, metrics: Registry): SimExpiryJob {
  // A server started again on the same registry (tests, a restart in-process) replaces its metric.
  metrics.removeSingleMetric('simtrust_sim_expiries_total');
  const expiriesTotal = new Counter({
    name: 'simtrust_sim_expiries_total',
    help: 'SIMs expired by this process, by expiry action and result (applied, unchanged, skipped)',
    labelNames: ['action', 'result'],
    registers: [metrics],
  });
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = () => {
    if (running !== undefined || stopped) return;
    running = platform.expiry
      .runDue({ shouldContinue: () => !stopped })
      .then((outcomes) => {
        for (const o of outcomes) expiriesTotal.inc({ action: o.expiryAction, result: o.result });
        for (const o of outcomes.filter((x) => x.result === 'skipped'))
          logger.warn(
            { simId: o.simId, action: o.expiryAction, reason: o.reason },
            'SIM expiry action refused',
          );
        if (outcomes.length > 0) logger.info({ expired: outcomes.length }, 'SIMs expired');
      })
      .catch((e: unknown) => logger.error({ err: e }, 'SIM expiry failed; it runs again in a second'))
      .finally(() => {
        running = undefined;
      });
  };
  const every = setInterval(run, TICK_MS);
  every.unref();
  run();
  return {
    async stop() {
      stopped = true;
      clearInterval(every);
      await running;
    },
  };
}
