// The event handlers' engine on a schedule (docs/event-handlers.md): every second each running
// instance evaluates new events and runs the due actions. Traffic rules are evaluated for the SIMs
// whose usage this instance's accounting just committed, at once (an evaluation starts at the
// commit, at most every USAGE_INTERVAL_MS, or right after the evaluation in progress), and for every SIM by a
// full sweep every 10 seconds, which catches usage another instance recorded and rules that
// re-armed. Evaluations and action runs are two lanes side by side, each never overlapping itself
// within a process: the runs an evaluation fires due at once start as soon as it committed, while
// the next evaluation goes on. Several instances share the work through row claims
// (platform/events/engine.ts), so each firing and each action happens once. Counted in
// simtrust_event_firings_total, simtrust_event_rule_evaluations_total and
// simtrust_event_action_runs_total{outcome} (each run as it ends).

import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Platform } from '../platform/platform.js';

export interface EventHandlersJob {
  /** Stops the schedule and waits for the evaluation and the action runs in progress to end. */
  stop(): Promise<void>;
}

const TICK_MS = 1_000;
/** A full sweep of the traffic rules at most this often (by time: usage-driven evaluations are many). */
const SWEEP_MS = 10_000;
/**
 * Least time from the start of one evaluation to the start of the next one for usage: the commits
 * of a burst are gathered into one evaluation, and under steady accounting load the usage-driven
 * evaluations are at most 10 a second. Counted from the start, not the end, of the last evaluation:
 * one that took longer is followed at once (a pause after it would add to every crossing's wait).
 */
const USAGE_INTERVAL_MS = 100;

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
  // Two lanes, each never overlapping itself: evaluations (events, traffic rules) and action runs.
  // They go side by side, so the next crossings are evaluated while a burst of actions executes (one
  // lane made a crossing wait for the runs of every crossing before it).
  let evaluating: Promise<void> | undefined;
  let acting: Promise<void> | undefined;
  let stopped = false;
  let lastSweep = Number.NEGATIVE_INFINITY;
  let lastStart = Number.NEGATIVE_INFINITY;
  let evaluateAgain = false;
  let actAgain = false;
  let soon: NodeJS.Timeout | undefined;
  const act = () => {
    if (acting !== undefined) {
      actAgain = true;
      return;
    }
    actAgain = false;
    acting = platform.events
      .runDueActions({ onOutcome: (outcome) => runsTotal.inc({ outcome }) })
      .then(() => undefined)
      .catch((e: unknown) =>
        logger.error({ err: e }, 'event handler actions failed; they are claimed again in a second'),
      )
      .finally(() => {
        acting = undefined;
        // Runs fired meanwhile that the run which just ended did not take (after stop too: they are
        // claimed by this process, stop() waits for them).
        if (actAgain || platform.events.runsWaiting) act();
      });
  };
  const evaluate = () => {
    if (stopped) return;
    if (evaluating !== undefined) {
      evaluateAgain = true;
      return;
    }
    evaluateAgain = false;
    lastStart = performance.now();
    const sweep = performance.now() - lastSweep >= SWEEP_MS;
    if (sweep) lastSweep = performance.now();
    const traffic = sweep ? true : 'changed';
    evaluating = platform.events
      .evaluate({ traffic })
      .then((counts) => {
        firingsTotal.inc(counts.firings);
        evaluationsTotal.inc(counts.evaluations);
        if (counts.firings > 0) logger.info({ firings: counts.firings }, 'event handlers fired');
      })
      .catch((e: unknown) => logger.error({ err: e }, 'event handler tick failed; it runs again in a second'))
      .finally(() => {
        evaluating = undefined;
        // The runs it fired due at once are claimed by this process and wait for the actions' lane.
        if (platform.events.runsWaiting) act();
        // An evaluation asked for while this one ran goes now; usage noted meanwhile, shortly.
        if (evaluateAgain) evaluate();
        else if (platform.events.usagePending) evaluateSoon();
      });
  };
  const evaluateSoon = () => {
    if (soon !== undefined || stopped) return;
    soon = setTimeout(
      () => {
        soon = undefined;
        evaluate();
      },
      Math.max(0, lastStart + USAGE_INTERVAL_MS - performance.now()),
    );
    soon.unref();
  };
  const unsubscribe = platform.events.onUsage(evaluateSoon);
  // Every second: events and a traffic sweep now and then, and the runs that came due (scheduled,
  // retried, or left by an instance whose lease ended).
  const every = setInterval(() => {
    evaluate();
    act();
  }, TICK_MS);
  every.unref();
  evaluate();
  act();
  return {
    async stop() {
      stopped = true;
      clearInterval(every);
      clearTimeout(soon);
      unsubscribe();
      await evaluating;
      // The actions in progress, and those the last evaluation claimed for this process.
      while (acting !== undefined) await acting;
    },
  };
}
