// The Beam usage flush (issue 17): every BEAM_USAGE_FLUSH_MS each running instance writes what the
// entry points recorded with platform.beamUsage.record() (platform/beam/usage.ts) — one transaction
// of multi-row upserts. Flushes never overlap; stop() runs a last one. The /metrics counters are read
// from the recorder's in-memory totals at scrape time:
// - simtrust_beam_requests_total{service, entry_point, outcome} and simtrust_beam_bytes_total
//   {service, entry_point, direction}: 3 × 4 × 3 series at most;
// - simtrust_beam_sim_requests_total{sim_id, service, outcome}: per SIM, for the first
//   beamMetricsSimSeries SIMs this process saw, the others summed under sim_id="other", so the label
//   set stays bounded however many SIMs there are (per-SIM figures in full: the stats API);
// - simtrust_beam_usage_dropped_total and simtrust_beam_usage_pending.

import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Platform } from '../platform/platform.js';

/** How often buffered usage is written: the stats lag behind by at most this (plus the write). */
export const BEAM_USAGE_FLUSH_MS = 2_000;

export interface BeamUsageJob {
  /** Stops the schedule, waits for a flush in progress and writes what is left. */
  stop(): Promise<void>;
}

const METRIC_NAMES = [
  'simtrust_beam_requests_total',
  'simtrust_beam_bytes_total',
  'simtrust_beam_sim_requests_total',
  'simtrust_beam_usage_dropped_total',
  'simtrust_beam_usage_pending',
] as const;

/** Registers the Beam/Funnel/Funk metrics on `metrics`, read from the recorder at each scrape. */
export function registerBeamUsageMetrics(platform: Platform, metrics: Registry): void {
  const usage = platform.beamUsage;
  // A server started again on the same registry (tests, a restart in-process) replaces its metrics.
  for (const name of METRIC_NAMES) metrics.removeSingleMetric(name);
  // Each collect() sets the counters to the recorder's totals (monotonic within the process).
  new Counter({
    name: 'simtrust_beam_requests_total',
    help: 'Requests and messages handled by the Beam, Funnel and Funk entry points of this process, by outcome',
    labelNames: ['service', 'entry_point', 'outcome'] as const,
    registers: [metrics],
    collect() {
      this.reset();
      for (const t of usage.totals())
        this.inc({ service: t.service, entry_point: t.entryPoint, outcome: t.outcome }, t.count);
    },
  });
  new Counter({
    name: 'simtrust_beam_bytes_total',
    help: 'Bytes through the Beam, Funnel and Funk entry points of this process (up: from the device)',
    labelNames: ['service', 'entry_point', 'direction'] as const,
    registers: [metrics],
    collect() {
      this.reset();
      for (const t of usage.totals()) {
        this.inc({ service: t.service, entry_point: t.entryPoint, direction: 'up' }, t.bytesUp);
        this.inc({ service: t.service, entry_point: t.entryPoint, direction: 'down' }, t.bytesDown);
      }
    },
  });
  new Counter({
    name: 'simtrust_beam_sim_requests_total',
    help: `Requests per SIM (the first ${platform.config.beamMetricsSimSeries} SIMs this process saw; the others as sim_id="other"), service and outcome`,
    labelNames: ['sim_id', 'service', 'outcome'] as const,
    registers: [metrics],
    collect() {
      this.reset();
      for (const s of usage.simSeries())
        this.inc({ sim_id: s.simId, service: s.service, outcome: s.outcome }, s.count);
    },
  });
  new Counter({
    name: 'simtrust_beam_usage_dropped_total',
    help: 'Usage events not recorded because the buffer was full (the database did not keep up) or malformed',
    registers: [metrics],
    collect() {
      this.reset();
      this.inc(usage.droppedEvents);
    },
  });
  new Gauge({
    name: 'simtrust_beam_usage_pending',
    help: 'Usage aggregates waiting for the next flush',
    registers: [metrics],
    collect() {
      this.set(usage.pendingKeys);
    },
  });
}

export function startBeamUsageJob(platform: Platform, logger: Logger, metrics: Registry): BeamUsageJob {
  registerBeamUsageMetrics(platform, metrics);
  let running: Promise<void> | undefined;
  let stopped = false;
  let lastDropped = 0;
  const run = () => {
    if (running !== undefined || stopped) return;
    running = platform.beamUsage
      .flush()
      .then((r) => {
        if (r.dropped > 0 && r.dropped !== lastDropped)
          logger.warn(
            { dropped: r.dropped },
            'Beam usage events dropped: the buffer was full because writes did not keep up; check the database',
          );
        lastDropped = r.dropped;
      })
      .catch((e: unknown) =>
        logger.error(
          { err: e },
          'Beam usage flush failed; the batch is kept and written at the next interval',
        ),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const every = setInterval(run, BEAM_USAGE_FLUSH_MS);
  every.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(every);
      await running;
      await platform.beamUsage.flush().catch((e: unknown) => {
        logger.error({ err: e }, 'Beam usage flush at stop failed; platform.close() tries once more');
      });
    },
  };
}
