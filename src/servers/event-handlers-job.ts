// The event handlers' engine on a schedule (docs/event-handlers.md): every second each running
// instance evaluates new events and runs the due actions. Traffic rules are evaluated for the SIMs
// whose usage this instance's accounting just committed, at once (a tick starts USAGE_DELAY_MS after
// the commit, or right after the tick in progress), and for every SIM by a full sweep every
// 10 seconds, which catches usage another instance recorded and rules that re-armed. Ticks never
// overlap within a process; several instances share the work through row claims
// (platform/events/engine.ts), so each firing and each action happens once. Counted in
// simtrust_event_firings_total, simtrust_event_rule_evaluations_total and
// simtrust_event_action_runs_total{outcome}.

import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Platform } from '../platform/platform.js';

export interface EventHandlersJob {
  /** Stops the schedule and waits for a tick in progress to end. */
  stop(): Promise<void>;
}

const TICK_MS = 1_000;
const TRAFFIC_EVERY = 10;
/**
 * Wait after a commit of usage (or after a tick, when usage came in during it) before the tick that
 * evaluates it: gathers the commits of a burst into one evaluation, and under steady accounting load
 * bounds the usage-driven ticks to 10 a second.
 */
const USAGE_DELAY_MS = 100;

export function startEventHandlersJob(
  platform: Platform,
  logger: Logger,
  metrics: Registry,
): EventHandlersJob {
  // A server started again on the same registry (tests, a restart in-process) replaces its metrics.
  metrics.removeSingleMetric('simtrust_event_firings_total');
  metrics.removeSingleMetric('simtrust_event_action_runs_total');
  metrics.removeSingleMetric('simtrust_event_rule_evaluations_total');
  const firingsTotal = new Counter({
    name: 'simtrust_event_firings_total',
    help: 'Event handler rules fired by this process',
    registers: [metrics],
  });
  const evaluationsTotal = new Counter({
    name: 'simtrust_event_rule_evaluations_total',
    help: 'Event handler rule evaluations by this process: a handler deciding for one SIM (or its target total) whether its rule fires',
    registers: [metrics],
  });
  const runsTotal = new Counter({
    name: 'simtrust_event_action_runs_total',
    help: 'Event handler action runs finished by this process, by outcome (succeeded, failed, pending = retry later, dead)',
    labelNames: ['outcome'],
    registers: [metrics],
  });
  let running: Promise<void> | undefined;
  let stopped = false;
  let ticks = 0;
  let again = false;
  let soon: NodeJS.Timeout | undefined;
  const run = () => {
    if (stopped) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    again = false;
    const traffic = ticks++ % TRAFFIC_EVERY === 0 ? true : 'changed';
    running = platform.events
      .tick({ traffic })
      .then((counts) => {
        firingsTotal.inc(counts.firings);
        evaluationsTotal.inc(counts.evaluations);
        for (const [outcome, n] of Object.entries(counts.runs)) runsTotal.inc({ outcome }, n);
        if (counts.firings > 0)
          logger.info({ firings: counts.firings, runs: counts.runs }, 'event handlers fired');
      })
      .catch((e: unknown) => logger.error({ err: e }, 'event handler tick failed; it runs again in a second'))
      .finally(() => {
        running = undefined;
        // A tick asked for while this one ran goes now; usage noted meanwhile, shortly.
        if (again) run();
        else if (platform.events.usagePending) runSoon();
      });
  };
  const runSoon = () => {
    if (soon !== undefined || stopped) return;
    soon = setTimeout(() => {
      soon = undefined;
      run();
    }, USAGE_DELAY_MS);
    soon.unref();
  };
  const unsubscribe = platform.events.onUsage(runSoon);
  const every = setInterval(run, TICK_MS);
  every.unref();
  run();
  return {
    async stop() {
      stopped = true;
      clearInterval(every);
      clearTimeout(soon);
      unsubscribe();
      await running;
    },
  };
}
