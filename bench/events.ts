// `npm run bench -- events [--pg] [--sims N] [--rounds N]`: the event handlers' cost under accounting
// load (issue 14). The same accounting load (Interim-Updates of every SIM, through the platform's
// accounting writer) runs twice in one process on one database: first with no handler (the
// reference), then with 100 active handlers and the engine's job running as `simtrust serve` runs it
// (servers/event-handlers-job.ts). Printed: accounting records/s of both runs and the ratio (target ≥ 80 %), rule firings,
// and the time from the Interim that crossed a threshold to the first attempt of its action
// (p50/p99; target p99 ≤ 1 s).

import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { type Config, SETTINGS } from '../src/config/defaults.js';
import { systemContext } from '../src/platform/iam/principal.js';
import { openPlatform } from '../src/platform/platform.js';
import { startEventHandlersJob } from '../src/servers/event-handlers-job.js';
import {
  type BenchDialect,
  batchRows,
  flag,
  fmt,
  freshDatabase,
  importBenchSims,
  prepareBenchOperator,
  table,
} from './_support.js';

const MIB = 1_048_576;
/** Records handed to the accounting writer per turn of the event loop. */
const SLICE = 100;

export async function run(args: string[]): Promise<void> {
  const dialect: BenchDialect = args.includes('--pg') ? 'postgres' : 'sqlite';
  const sims = Number(flag(args, '--sims') ?? 2000);
  const rounds = Number(flag(args, '--rounds') ?? 6);
  const db = await freshDatabase(dialect);
  const masterKey = randomBytes(32);
  try {
    const p = await prepareBenchOperator(db.url, masterKey);
    await importBenchSims(p, sims);
    await p.store.close();
    const defaults = Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.default]));
    const config = Object.freeze({ ...defaults, databaseUrl: db.url, masterKey, demo: false }) as Config;
    const platform = await openPlatform(config, { masterKey });
    try {
      const rows = batchRows(0, sims);
      // Records arrive as a RADIUS server hands them over: a slice per turn of the event loop (the
      // datagrams read in one poll), not all at once in one synchronous burst, which would starve the
      // engine's timers for as long as the writer has a backlog (better-sqlite3 never yields).
      const send = async (round: number, kind: 'start' | 'interim', session: string) => {
        const recorded: Array<Promise<unknown>> = [];
        for (let i = 0; i < rows.length; i += SLICE) {
          for (const r of rows.slice(i, i + SLICE)) {
            recorded.push(
              platform.aaa.accounting.record({
                kind,
                nasAddress: '127.0.0.1',
                operatorId: p.operatorId,
                acctSessionId: `${session}-${r.imsi}`,
                imsi: r.imsi,
                time: Date.now(),
                inputOctets: round * MIB,
                outputOctets: 0,
              }),
            );
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
        await Promise.all(recorded);
      };
      /** Accounting records/s of `rounds` Interim rounds over all SIMs (after a Start each). */
      const accountingRate = async (session: string, onRound?: (round: number, at: number) => void) => {
        await send(0, 'start', session);
        const started = performance.now();
        for (let round = 1; round <= rounds; round++) {
          onRound?.(round, Date.now());
          await send(round, 'interim', session);
        }
        await platform.aaa.drained();
        return (rounds * sims) / ((performance.now() - started) / 1000);
      };

      console.log(`\n-- ${dialect}: ${fmt(sims)} SIMs, ${rounds} Interim rounds each`);
      await accountingRate('warm-up');
      const reference = await accountingRate('ref');

      // 100 handlers: 99 that watch but never fire (high limits, status rules), and one per-SIM daily
      // traffic rule on the operator that every SIM crosses in round 3 of the measured run.
      const ctx = (op: string) => systemContext(p.operatorId, `EventHandler:${op}`, 'bench');
      const mail = [
        {
          type: 'SendMailToOperatorAction',
          properties: { title: 't', message: 'm', executionDateTimeConst: 'NEVER' },
        },
      ];
      for (let i = 0; i < 99; i++) {
        const traffic = i % 2 === 0;
        await platform.eventHandlers.create(ctx('createEventHandler'), {
          name: `watch-${i}`,
          status: 'active',
          targetSimId: rows[i]?.iccid,
          ruleConfig: traffic
            ? {
                type: 'SimMonthlyTotalTrafficRule',
                properties: { limitTotalTrafficMegaByte: '100000', inactiveTimeoutDateConst: 'NEVER' },
              }
            : {
                type: 'SimStatusAttributeRule',
                properties: { targetStatus: 'suspended', inactiveTimeoutDateConst: 'NEVER' },
              },
          actionConfigList: mail,
        });
      }
      // The warm-up and reference runs counted 2 × `rounds` MiB per SIM today: crossed in round 3.
      const limit = 2 * rounds + 2;
      await platform.eventHandlers.create(ctx('createEventHandler'), {
        name: 'crossing',
        status: 'active',
        targetOperatorId: p.operatorId,
        ruleConfig: {
          type: 'SubscriberDailyTrafficRule',
          properties: {
            limitTotalTrafficMegaByte: String(limit),
            inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY',
          },
        },
        actionConfigList: [{ type: 'StandbyAction', properties: { executionDateTimeConst: 'IMMEDIATELY' } }],
      });
      // The measured action records when its first attempt starts (the pipeline, not the SIM change).
      const firstAttempt = new Map<string, number>();
      platform.events.useExecutor('StandbyAction', async (r) => {
        if (!firstAttempt.has(r.simId as string)) firstAttempt.set(r.simId as string, Date.now());
        return { outcome: 'succeeded', detail: {} };
      });
      let crossedAt = 0;
      // The engine as `simtrust serve` runs it: the job ticks every second, and 100 ms after accounting
      // commits usage (traffic rules of the SIMs just recorded), with a full sweep every 10 s.
      const metrics = new Registry();
      const job = startEventHandlersJob(platform, pino({ level: 'silent' }), metrics);
      const withHandlers = await accountingRate('eh', (round, at) => {
        if (round === 3) crossedAt = at;
      });
      const deadline = Date.now() + 60_000;
      while (firstAttempt.size < sims && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await job.stop();
      const firings = (await metrics.getSingleMetricAsString('simtrust_event_firings_total'))
        .split('\n')
        .filter((l) => l.startsWith('simtrust_event_firings_total'))
        .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
      const latencies = [...firstAttempt.values()].map((t) => t - crossedAt).sort((a, b) => a - b);
      const q = (x: number) =>
        latencies[Math.min(latencies.length - 1, Math.floor(x * latencies.length))] ?? Number.NaN;
      table([
        { run: 'accounting, no handlers', 'records/s': fmt(reference) },
        { run: 'accounting, 100 handlers + engine', 'records/s': fmt(withHandlers) },
      ]);
      console.log(
        `kept ${fmt((withHandlers / reference) * 100, 1)} % of the accounting rate (target ≥ 80 %); ${fmt(firings)} firings, ${fmt(firstAttempt.size)} of ${fmt(sims)} SIMs' actions started; crossing → first attempt p50 ${fmt(q(0.5))} ms, p99 ${fmt(q(0.99))} ms (target ≤ 1000 ms; counted from the start of the round whose Interims cross, so it includes that round's own accounting)`,
      );
    } finally {
      await platform.close();
    }
  } finally {
    await db.drop();
  }
}
