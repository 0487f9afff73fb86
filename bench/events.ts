// `npm run bench -- events [--pg] [--sessions N] [--seconds N] [--repeat N] [--receiver-in-process]`:
// the event handlers' cost under accounting load (issue 14) as the issue states it — the accounting
// benchmark (RADIUS Interim-Updates over UDP against `simtrust serve`, bench/_aaa-radius.ts) with no
// handler and then with 100 active handlers, in one run on one server: bench/_events-radius.ts.
//
// `npm run bench -- events --direct [--pg] [--sims N] [--rounds N] [--scenario mass|steady|both]
// [--repeat N]`: the earlier in-process form, whose figures docs/event-handlers.md keeps. The same
// accounting load (Interim-Updates of every SIM, through the platform's accounting writer) runs twice
// in one process on one database: first with no handler (the reference), then with 100 active
// handlers and the engine's job running as `simtrust serve` runs it (servers/event-handlers-job.ts).
// Printed per scenario: accounting records/s of both runs and the ratio kept (target ≥ 80 %), the
// rule evaluations the engine did (a handler deciding for one SIM whether its rule fires) and per
// second of the measured run, the firings, and the time from the start of the round whose Interims
// crossed a threshold to the first attempt of the SIM's action (p50/p99; target p99 ≤ 1 s).
//
// Scenarios of --direct (each on a fresh database):
//   mass    every SIM crosses one operator-wide daily limit in round 3 (the worst case: a firing and
//           an action run for every SIM at once);
//   steady  1 % of the SIMs cross it in each round (a jump of 100 MiB), the others stay under it.

import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { type Config, SETTINGS } from '../src/config/defaults.js';
import { systemContext } from '../src/platform/iam/principal.js';
import { openPlatform } from '../src/platform/platform.js';
import { startEventHandlersJob } from '../src/servers/event-handlers-job.js';
import { runEventsRadiusBench } from './_events-radius.js';
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
/** The steady scenario's crossing SIMs jump by this much in their round. */
const JUMP_MIB = 100;

type Scenario = 'mass' | 'steady';

interface Figures {
  readonly scenario: Scenario;
  readonly reference: number;
  readonly withHandlers: number;
  /** Records per second of this process's CPU time (the machine's other load left out). */
  readonly referenceCpu: number;
  readonly withHandlersCpu: number;
  readonly seconds: number;
  readonly evaluations: number;
  readonly firings: number;
  readonly crossing: number;
  readonly started: number;
  readonly p50: number;
  readonly p99: number;
}

export async function run(args: string[]): Promise<void> {
  if (args.includes('--direct')) await runDirect(args);
  else await runEventsRadiusBench(args);
}

async function runDirect(args: string[]): Promise<void> {
  const dialect: BenchDialect = args.includes('--pg') ? 'postgres' : 'sqlite';
  const sims = Number(flag(args, '--sims') ?? 2000);
  const rounds = Number(flag(args, '--rounds') ?? 6);
  const chosen = flag(args, '--scenario') ?? 'both';
  const scenarios: Scenario[] = chosen === 'both' ? ['mass', 'steady'] : [chosen as Scenario];
  // On a shared machine one short run is noisy: --repeat N runs each scenario N times (fresh
  // databases) and prints every run and the medians.
  const repeat = Number(flag(args, '--repeat') ?? 1);
  console.log(`\n-- ${dialect}: ${fmt(sims)} SIMs, ${rounds} Interim rounds each`);
  const results: Figures[] = [];
  for (let n = 0; n < repeat; n++)
    for (const scenario of scenarios) results.push(await measure(dialect, sims, rounds, scenario));
  table(
    results.flatMap((r) => [
      {
        scenario: r.scenario,
        run: 'accounting, no handlers',
        'records/s': fmt(r.reference),
        'records/CPU s': fmt(r.referenceCpu),
      },
      {
        scenario: r.scenario,
        run: 'accounting, 100 handlers + engine',
        'records/s': fmt(r.withHandlers),
        'records/CPU s': fmt(r.withHandlersCpu),
      },
    ]),
  );
  const kept = (r: Figures) => (r.withHandlers / r.reference) * 100;
  for (const r of results) {
    console.log(
      `${r.scenario}: kept ${fmt(kept(r), 1)} % of the accounting rate (target ≥ 80 %; per CPU second of this process ${fmt((r.withHandlersCpu / r.referenceCpu) * 100, 1)} %${dialect === 'postgres' ? ', the database server not counted' : ''}); ${fmt(r.evaluations)} rule evaluations, ${fmt(r.evaluations / r.seconds)} per second of the run; ${fmt(r.firings)} firings, ${fmt(r.started)} of ${fmt(r.crossing)} crossing SIMs' actions started; crossing → first attempt p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms (target ≤ 1000 ms; counted from the start of the round whose Interims cross, so it includes that round's own accounting)`,
    );
  }
  if (repeat > 1) {
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
    };
    for (const scenario of scenarios) {
      const runs = results.filter((r) => r.scenario === scenario);
      console.log(
        `${scenario}, median of ${runs.length}: kept ${fmt(median(runs.map(kept)), 1)} %, ${fmt(median(runs.map((r) => r.evaluations / r.seconds)))} rule evaluations/s, p99 ${fmt(median(runs.map((r) => r.p99)))} ms`,
      );
    }
  }
}

async function measure(
  dialect: BenchDialect,
  sims: number,
  rounds: number,
  scenario: Scenario,
): Promise<Figures> {
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
      // steady: SIM i crosses in round (i mod 100) + 1 when that round exists (1 % per round).
      const crossRound = (i: number) =>
        scenario === 'mass' ? 3 : i % 100 < rounds ? (i % 100) + 1 : Number.POSITIVE_INFINITY;
      const octets = (i: number, round: number, jumps: boolean) =>
        (round + (jumps && scenario === 'steady' && round >= crossRound(i) ? JUMP_MIB : 0)) * MIB;
      // Records arrive as a RADIUS server hands them over: a slice per turn of the event loop (the
      // datagrams read in one poll), not all at once in one synchronous burst, which would starve the
      // engine's timers for as long as the writer has a backlog (better-sqlite3 never yields).
      const send = async (round: number, kind: 'start' | 'interim', session: string, jumps: boolean) => {
        const recorded: Array<Promise<unknown>> = [];
        for (let i = 0; i < rows.length; i += SLICE) {
          rows.slice(i, i + SLICE).forEach((r, j) => {
            recorded.push(
              platform.aaa.accounting.record({
                kind,
                nasAddress: '127.0.0.1',
                operatorId: p.operatorId,
                acctSessionId: `${session}-${r.imsi}`,
                imsi: r.imsi,
                time: Date.now(),
                inputOctets: octets(i + j, round, jumps),
                outputOctets: 0,
              }),
            );
          });
          await new Promise((resolve) => setImmediate(resolve));
        }
        await Promise.all(recorded);
      };
      /** Accounting records/s of `rounds` Interim rounds over all SIMs (after a Start each). */
      const accountingRate = async (
        session: string,
        jumps: boolean,
        onRound?: (round: number, at: number) => void,
      ) => {
        await send(0, 'start', session, jumps);
        const started = performance.now();
        const cpu = process.cpuUsage();
        for (let round = 1; round <= rounds; round++) {
          onRound?.(round, Date.now());
          await send(round, 'interim', session, jumps);
        }
        await platform.aaa.drained();
        const seconds = (performance.now() - started) / 1000;
        const used = process.cpuUsage(cpu);
        const cpuSeconds = (used.user + used.system) / 1e6;
        return { rate: (rounds * sims) / seconds, seconds, cpuRate: (rounds * sims) / cpuSeconds };
      };

      await accountingRate('warm-up', false);
      // The same records as the measured run (the steady jumps are only larger counters).
      const reference = await accountingRate('ref', false);

      // 100 handlers: 99 that watch but never fire (high limits, status rules), and one per-SIM daily
      // traffic rule on the operator that the crossing SIMs cross during the measured run.
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
      // The warm-up and reference runs counted 2 × `rounds` MiB per SIM today. mass: crossed in round
      // 3; steady: only with a jump (the others reach 3 × `rounds` at most).
      const limit = scenario === 'mass' ? 2 * rounds + 2 : 3 * rounds + 10;
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
      const crossingSims = rows.filter((_, i) => crossRound(i) <= rounds);
      const roundStart = new Map<number, number>();
      // The engine as `simtrust serve` runs it: the job ticks every second, and 100 ms after accounting
      // commits usage (traffic rules of the SIMs just recorded), with a full sweep every 10 s.
      const metrics = new Registry();
      const job = startEventHandlersJob(platform, pino({ level: 'silent' }), metrics);
      const measured = await accountingRate('eh', true, (round, at) => roundStart.set(round, at));
      const deadline = Date.now() + 60_000;
      while (firstAttempt.size < crossingSims.length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      await job.stop();
      const counter = async (name: string) =>
        (await metrics.getSingleMetricAsString(name))
          .split('\n')
          .filter((l) => l.startsWith(name))
          .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
      const latencies = rows
        .map((r, i) => {
          const at = firstAttempt.get(r.iccid);
          const from = roundStart.get(crossRound(i));
          return at === undefined || from === undefined ? undefined : at - from;
        })
        .filter((x): x is number => x !== undefined)
        .sort((a, b) => a - b);
      const q = (x: number) =>
        latencies[Math.min(latencies.length - 1, Math.floor(x * latencies.length))] ?? Number.NaN;
      return {
        scenario,
        reference: reference.rate,
        withHandlers: measured.rate,
        referenceCpu: reference.cpuRate,
        withHandlersCpu: measured.cpuRate,
        seconds: measured.seconds,
        evaluations: await counter('simtrust_event_rule_evaluations_total'),
        firings: await counter('simtrust_event_firings_total'),
        crossing: crossingSims.length,
        started: firstAttempt.size,
        p50: q(0.5),
        p99: q(0.99),
      };
    } finally {
      await platform.close();
    }
  } finally {
    await db.drop();
  }
}
