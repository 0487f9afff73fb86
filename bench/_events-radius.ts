// `npm run bench -- events [--pg] [--sessions N] [--seconds N] [--repeat N] [--receiver-in-process]`
// (bench/events.ts): issue 14's event
// handler benchmark over the accounting benchmark of bench/_aaa-radius.ts. `simtrust serve` runs in
// its own process (and with it the event handler job, servers/event-handlers-job.ts); this process is
// the packet gateway: 16 UDP sockets, a window of outstanding Accounting Interim-Updates, each
// acknowledged after the server's durable write. In one run, on one server and one database:
//
// 1. reference: the Interim rate with no event handler;
// 2. 100 active handlers are created through the HTTP API, as an operator would: 99 that watch and
//    never fire (SimMonthlyTotalTrafficRule with 100,000 MiB on single SIMs, SimStatusAttributeRule
//    → suspended on single SIMs) and one SubscriberDailyTrafficRule on the operator whose action is
//    an ExecuteWebRequestAction to an HTTP server of the run (127.0.0.2, allowed in the server's
//    eventWebRequestAllowedNetworks), in a process of its own (bench/_events-receiver.ts; with
//    --receiver-in-process in this one, whose busy event loop then delays each arrival's time);
// 3. the same Interim load again with the engine running in serve. Every session crosses the daily
//    limit once during this phase, staggered: session i's counters grow so that the first Interim
//    sent after (5 % + 70 % × i/N) of the phase carries a total just over the limit.
// 4. the handlers deleted, the same load once more: the reference ran first on a younger database,
//    so a difference between the two runs without handlers is drift, not the engine.
//
// Printed: both Interim rates and the ratio kept (target ≥ 80 %); rule evaluations during the phase
// and per second (simtrust_event_rule_evaluations_total from the server's /metrics, before and
// after); and for every session that crossed, the time from the send of its crossing Interim to the
// arrival of its web request at the receiver (the action's first attempt; p50/p99, target p99 ≤ 1 s).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { RADIUS_CODES } from '../src/lib/radius/rfc-2865-packet.js';
import { closedLoop, LoadGenerator, platformTarget, stamp, type Template, template } from './_aaa-radius.js';
import { type BenchDialect, flag, fmt, table } from './_support.js';

const MIB = 1_048_576;
/** The firing handler's daily limit; every session stays far under it until its crossing. */
const LIMIT_MIB = 100;
/** Octets an Interim adds outside a session's climb to the limit (as bench/_aaa-radius.ts sends). */
const STEP_OCTETS = 10_500;
/** The action's receiver: a loopback address that is not the server's own (127.0.0.1). */
const RECEIVER_HOST = '127.0.0.2';
/** Outstanding requests per socket in the measured phases (as the accounting benchmark). */
const WINDOW = 128;

interface Figures {
  readonly dialect: BenchDialect;
  readonly reference: number;
  readonly withHandlers: number;
  /** The same load after the handlers were deleted (order and database-growth check). */
  readonly referenceAfter: number;
  /**
   * The server process's CPU time (user + system, all its threads) per acknowledged Interim in
   * phases 1, 3 and 4 (µs): what the engine costs the server, whatever else runs on the machine.
   */
  readonly cpuPerInterim: {
    readonly reference: number;
    readonly withHandlers: number;
    readonly after: number;
  };
  /**
   * Retransmitted Interims per phase: the server parses and answers (or drops) each, so where they
   * are many the CPU per acknowledged Interim counts them too.
   */
  readonly retransmitted: {
    readonly reference: number;
    readonly withHandlers: number;
    readonly after: number;
  };
  readonly seconds: number;
  readonly evaluations: number;
  readonly firings: number;
  readonly runs: string;
  readonly crossed: number;
  readonly arrived: number;
  readonly arrivedInPhase: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Crossing Interim sent → acknowledged (the accounting's own queue, inside the figures above). */
  readonly ackP50: number;
  readonly ackP99: number;
  /** Crossing Interim acknowledged → action arrived (the engine's part). */
  readonly engineP50: number;
  readonly engineP99: number;
  readonly retransmits: number;
  readonly server: string;
  /** The machine's 1-minute load average at the start and the end of the run. */
  readonly load: readonly [number, number];
}

/** User + system CPU time of a process so far (s), from /proc/<pid>/stat (Linux); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name in parentheses (which may hold spaces): state is field 3; utime and
    // stime are fields 14 and 15, in clock ticks (USER_HZ, 100 a second on Linux).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** A phase of load: Interims acknowledged, their rate, the server's CPU time and retransmits meanwhile. */
interface Phase {
  readonly rate: number;
  readonly interims: number;
  readonly cpu: number;
  readonly retransmits: number;
}

/** A request to send; `crossing` names the session whose crossing Interim it is. */
type Tracked = () => {
  readonly port: number;
  readonly build: (id: number) => Buffer;
  readonly crossing?: number | undefined;
};

/**
 * bench/_aaa-radius.ts's closed loop (`window` requests outstanding per socket, each answer releasing
 * the next), telling when each crossing Interim is acknowledged (after the server's durable write).
 */
function closedLoopTracked(
  gen: LoadGenerator,
  window: number,
  seconds: number,
  next: Tracked,
  acknowledged: (session: number) => void,
): Promise<{ rate: number; done: number }> {
  return new Promise((resolve) => {
    let done = 0;
    let open = 0;
    const start = performance.now();
    const end = start + seconds * 1000;
    const launch = (s: number) => {
      open++;
      let crossing: number | undefined;
      gen.send(
        s,
        () => {
          const request = next();
          crossing = request.crossing;
          return request;
        },
        () => {
          open--;
          done++;
          if (crossing !== undefined) acknowledged(crossing);
          if (performance.now() < end) launch(s);
          else if (open === 0) resolve({ rate: done / ((performance.now() - start) / 1000), done });
        },
      );
    };
    for (let s = 0; s < gen.width; s++) for (let w = 0; w < window; w++) launch(s);
  });
}

/**
 * The HTTP server the firing handler's web request reaches: the first arrival per IMSI (on this
 * process's performance.now() clock). By default in a process of its own (bench/_events-receiver.ts):
 * in this one, an arriving request waits for the load generator's busy event loop before its time is
 * taken. `inProcess` keeps it here (as the figures before 8 December 2026 were measured).
 */
async function receiver(inProcess: boolean): Promise<{
  readonly url: string;
  readonly arrivals: Map<string, number>;
  close(): Promise<void>;
}> {
  const arrivals = new Map<string, number>();
  if (inProcess) {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const at = performance.now();
      const imsi = /^\/crossed\/(\d{6,15})$/.exec(req.url ?? '')?.[1];
      if (imsi !== undefined && !arrivals.has(imsi)) arrivals.set(imsi, at);
      req.resume();
      req.once('end', () => {
        res.statusCode = imsi === undefined ? 404 : 204;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, RECEIVER_HOST, r));
    return {
      url: `http://${RECEIVER_HOST}:${(server.address() as AddressInfo).port}`,
      arrivals,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  }
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', resolve('bench/_events-receiver.ts'), RECEIVER_HOST],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<string>((ready, fail) => {
    lines.once('line', ready);
    child.once('exit', (code) => fail(new Error(`the receiver exited with ${code}`)));
  });
  lines.on('line', (line) => {
    const [imsi, epoch] = line.split(' ');
    // Its clock and ours both count from the epoch (timeOrigin): the same instant, within rounding.
    if (imsi !== undefined && !arrivals.has(imsi)) arrivals.set(imsi, Number(epoch) - performance.timeOrigin);
  });
  return {
    url: `http://${RECEIVER_HOST}:${port}`,
    arrivals,
    close: () =>
      new Promise<void>((stopped) => {
        child.once('exit', () => stopped());
        child.kill('SIGTERM');
      }),
  };
}

/** Sum of a counter's samples (all label sets) in a Prometheus text exposition. */
function counter(text: string, name: string): number {
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) n += Number(m[1]);
  return n;
}

type Api = { readonly url: string; readonly headers: Record<string, string> };

/** createEventHandler; returns the handler's id. */
async function post(api: Api, body: unknown): Promise<string> {
  const r = await fetch(`${api.url}/v1/event_handlers`, {
    method: 'POST',
    headers: { ...api.headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (r.status !== 201) throw new Error(`createEventHandler: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { handlerId: string }).handlerId;
}

async function remove(api: Api, handlerId: string): Promise<void> {
  const r = await fetch(`${api.url}/v1/event_handlers/${handlerId}`, {
    method: 'DELETE',
    headers: api.headers,
  });
  if (r.status !== 204) throw new Error(`deleteEventHandler: ${r.status} ${await r.text()}`);
}

async function measure(
  dialect: BenchDialect,
  sessions: number,
  seconds: number,
  receiverInProcess: boolean,
): Promise<Figures> {
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  const sink = await receiver(receiverInProcess);
  const t = await platformTarget(dialect, sessions, {
    SIMTRUST_EVENT_WEB_REQUEST_ALLOWED_NETWORKS: RECEIVER_HOST,
  });
  const gen = await LoadGenerator.open(16);
  /** A measured phase of the closed loop, with the server's CPU time across it. */
  const phaseOf = async (run: () => Promise<{ rate: number; done: number }>): Promise<Phase> => {
    const cpu = cpuSeconds(t.pid);
    const retransmits = gen.retransmits;
    const { rate, done } = await run();
    return { rate, interims: done, cpu: cpuSeconds(t.pid) - cpu, retransmits: gen.retransmits - retransmits };
  };
  const perInterim = (p: Phase) => (1e6 * p.cpu) / p.interims;
  try {
    const { imsis } = t.target;
    const acct = (kind: 1 | 3, i: number) =>
      template(RADIUS_CODES['Accounting-Request'], [
        ['Acct-Status-Type', kind],
        ['Acct-Session-Id', `bench-${i}`],
        ['3GPP-IMSI', imsis[i] as string],
        ['Framed-IP-Address', `127.65.${i >> 8}.${i & 0xff}`],
        ['Acct-Input-Octets', 0],
        ['Acct-Output-Octets', 0],
        ['Acct-Input-Packets', 0],
        ['Acct-Output-Packets', 0],
      ]);
    const starts = imsis.map((_, i) => acct(1, i));
    const interims = imsis.map((_, i) => acct(3, i));
    // What the generator knows of each session: Interims sent and the cumulative octets of the last
    // one (one session per SIM, so also the SIM's usage today).
    const step = new Array<number>(sessions).fill(0);
    const octets = new Array<number>(sessions).fill(0);
    // The measured phase: its start, each session's crossing time (ms after it), the octets it
    // climbs from, and when its crossing Interim was sent.
    let phase:
      | { start: number; from: number[]; crossAt: number[]; sent: Array<number | undefined> }
      | undefined;
    let cursor = 0;
    const accounting: Tracked = () => {
      const i = cursor++ % sessions;
      const n = step[i] ?? 0;
      step[i] = n + 1;
      let total = (octets[i] ?? 0) + (n === 0 ? 0 : STEP_OCTETS);
      let crossing: number | undefined;
      if (phase !== undefined && n > 0) {
        const now = performance.now();
        const from = phase.from[i] ?? 0;
        const crossAt = phase.crossAt[i] ?? 0;
        if (phase.sent[i] !== undefined) total = (octets[i] ?? 0) + STEP_OCTETS;
        else if (now - phase.start >= crossAt) {
          total = LIMIT_MIB * MIB + STEP_OCTETS;
          phase.sent[i] = now;
          crossing = i;
        } else total = from + Math.floor(((LIMIT_MIB * MIB - from) * (now - phase.start)) / crossAt);
        total = Math.max(total, octets[i] ?? 0);
      }
      octets[i] = total;
      const input = Math.floor(total / 7);
      const tpl = (n === 0 ? starts : interims)[i] as Template;
      return {
        crossing,
        port: t.target.acctPort,
        build: (id) =>
          stamp(tpl, id, [
            [42, input],
            [43, total - input],
            [47, n],
            [48, n * 6],
          ]),
      };
    };
    // Every session starts (not measured), a second of warm-up, then the reference.
    await Promise.all(Array.from({ length: sessions }, (_, i) => gen.request(i % gen.width, accounting)));
    await closedLoop(gen, 32, 1, accounting);
    const reference = await phaseOf(() => closedLoopTracked(gen, WINDOW, seconds, accounting, () => {}));

    // 100 handlers, through the API as an operator creates them.
    const mail = [
      {
        type: 'SendMailToOperatorAction',
        properties: { title: 't', message: 'm', executionDateTimeConst: 'NEVER' },
      },
    ];
    const handlers: string[] = [];
    for (let i = 0; i < 99; i++) {
      handlers.push(
        await post(t.api, {
          name: `watch-${i}`,
          status: 'active',
          targetSimId: t.iccids[i],
          ruleConfig:
            i % 2 === 0
              ? {
                  type: 'SimMonthlyTotalTrafficRule',
                  properties: { limitTotalTrafficMegaByte: '100000', inactiveTimeoutDateConst: 'NEVER' },
                }
              : {
                  type: 'SimStatusAttributeRule',
                  properties: { targetStatus: 'suspended', inactiveTimeoutDateConst: 'NEVER' },
                },
          actionConfigList: mail,
        }),
      );
    }
    handlers.push(
      await post(t.api, {
        name: 'crossing',
        status: 'active',
        targetOperatorId: t.api.operatorId,
        ruleConfig: {
          type: 'SubscriberDailyTrafficRule',
          properties: {
            limitTotalTrafficMegaByte: String(LIMIT_MIB),
            inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY',
          },
        },
        actionConfigList: [
          {
            type: 'ExecuteWebRequestAction',
            properties: {
              url: `${sink.url}/crossed/\${imsi}`,
              httpMethod: 'POST',
              contentType: 'application/json',
              headers: '{}',
              // biome-ignore lint/suspicious/noTemplateCurlyInString: the handler's template variable
              body: '{"imsi":"${imsi}"}',
              executionDateTimeConst: 'IMMEDIATELY',
            },
          },
        ],
      }),
    );
    const highest = Math.max(...octets);
    if (highest >= LIMIT_MIB * MIB)
      throw new Error(`a session passed the limit before the phase: ${highest}`);

    const before = await (await fetch(`${t.api.url}/metrics`)).text();
    const start = performance.now();
    phase = {
      start,
      from: [...octets],
      crossAt: imsis.map((_, i) => seconds * 1000 * (0.05 + (0.7 * i) / sessions)),
      sent: new Array<number | undefined>(sessions).fill(undefined),
    };
    const acked = new Array<number | undefined>(sessions).fill(undefined);
    const withHandlers = await phaseOf(() =>
      closedLoopTracked(gen, WINDOW, seconds, accounting, (i) => {
        acked[i] ??= performance.now();
      }),
    );
    const measuredSeconds = (performance.now() - start) / 1000;
    const after = await (await fetch(`${t.api.url}/metrics`)).text();
    const arrivedInPhase = sink.arrivals.size;
    const crossedPhase = phase;
    const crossed = crossedPhase.sent.filter((x) => x !== undefined).length;
    // The last crossings' actions may still be on their way: wait for them (no load meanwhile).
    const deadline = performance.now() + 60_000;
    while (sink.arrivals.size < crossed && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    // The job counts a tick's firings and runs when the tick ends, which can be after the arrivals.
    let final = await (await fetch(`${t.api.url}/metrics`)).text();
    while (
      (counter(final, 'simtrust_event_firings_total') < crossed ||
        counter(final, 'simtrust_event_action_runs_total') < sink.arrivals.size) &&
      performance.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 100));
      final = await (await fetch(`${t.api.url}/metrics`)).text();
    }
    // The order check: the handlers deleted, the same load once more (the reference ran first, on a
    // younger database; a drift shows as a difference between the two runs without handlers).
    for (const id of handlers) await remove(t.api, id);
    const referenceAfter = await phaseOf(() => closedLoopTracked(gen, WINDOW, seconds, accounting, () => {}));
    const latencies = imsis
      .map((imsi, i) => {
        const sent = crossedPhase.sent[i];
        const at = sink.arrivals.get(imsi);
        return sent === undefined || at === undefined ? undefined : at - sent;
      })
      .filter((x): x is number => x !== undefined)
      .sort((a, b) => a - b);
    const ackLatencies = crossedPhase.sent
      .map((sent, i) =>
        sent === undefined || acked[i] === undefined ? undefined : (acked[i] as number) - sent,
      )
      .filter((x): x is number => x !== undefined)
      .sort((a, b) => a - b);
    const engineLatencies = imsis
      .map((imsi, i) => {
        const at = sink.arrivals.get(imsi);
        return at === undefined || acked[i] === undefined ? undefined : at - (acked[i] as number);
      })
      .filter((x): x is number => x !== undefined)
      .sort((a, b) => a - b);
    const quantile = (xs: number[], x: number) =>
      xs[Math.min(xs.length - 1, Math.floor(x * xs.length))] ?? Number.NaN;
    const q = (x: number) => quantile(latencies, x);
    const runs = [...final.matchAll(/^simtrust_event_action_runs_total\{outcome="(\w+)"\} (\d+)/gm)]
      .map((m) => `${m[1]} ${m[2]}`)
      .join(', ');
    return {
      dialect,
      reference: reference.rate,
      withHandlers: withHandlers.rate,
      referenceAfter: referenceAfter.rate,
      cpuPerInterim: {
        reference: perInterim(reference),
        withHandlers: perInterim(withHandlers),
        after: perInterim(referenceAfter),
      },
      retransmitted: {
        reference: reference.retransmits,
        withHandlers: withHandlers.retransmits,
        after: referenceAfter.retransmits,
      },
      seconds: measuredSeconds,
      evaluations:
        counter(after, 'simtrust_event_rule_evaluations_total') -
        counter(before, 'simtrust_event_rule_evaluations_total'),
      firings: counter(final, 'simtrust_event_firings_total'),
      runs: runs || 'none',
      crossed,
      arrived: sink.arrivals.size,
      arrivedInPhase,
      p50: q(0.5),
      p99: q(0.99),
      max: latencies.at(-1) ?? Number.NaN,
      ackP50: quantile(ackLatencies, 0.5),
      ackP99: quantile(ackLatencies, 0.99),
      engineP50: quantile(engineLatencies, 0.5),
      engineP99: quantile(engineLatencies, 0.99),
      retransmits: gen.retransmits,
      server: await t.metrics(),
      load: [loadAtStart, loadavg()[0] ?? Number.NaN],
    };
  } finally {
    gen.close();
    await t.stop();
    await sink.close();
  }
}

export async function runEventsRadiusBench(args: string[]): Promise<void> {
  const dialect: BenchDialect = args.includes('--pg') ? 'postgres' : 'sqlite';
  const sessions = Number(flag(args, '--sessions') ?? 2000);
  const seconds = Number(flag(args, '--seconds') ?? 10);
  const repeat = Number(flag(args, '--repeat') ?? 1);
  // The web request's receiver in this process (as before 8 December 2026) instead of its own.
  const receiverInProcess = args.includes('--receiver-in-process');
  console.log(
    `\n-- ${dialect}: simtrust serve, RADIUS accounting from ${fmt(sessions)} sessions over 16 sockets, ${seconds} s per phase`,
  );
  const results: Figures[] = [];
  for (let n = 0; n < repeat; n++) {
    const f = await measure(dialect, sessions, seconds, receiverInProcess);
    results.push(f);
    console.log(`server: ${f.server}; action runs ${f.runs}; retransmits ${f.retransmits}`);
  }
  table(
    results.flatMap((r, n) => [
      {
        run: n + 1,
        phase: 'accounting, no handlers',
        'Interim/s': fmt(r.reference),
        'server CPU µs/Interim': fmt(r.cpuPerInterim.reference, 1),
        retransmitted: fmt(r.retransmitted.reference),
      },
      {
        run: n + 1,
        phase: 'accounting, 100 handlers + engine',
        'Interim/s': fmt(r.withHandlers),
        'server CPU µs/Interim': fmt(r.cpuPerInterim.withHandlers, 1),
        retransmitted: fmt(r.retransmitted.withHandlers),
      },
      {
        run: n + 1,
        phase: 'accounting, handlers deleted',
        'Interim/s': fmt(r.referenceAfter),
        'server CPU µs/Interim': fmt(r.cpuPerInterim.after, 1),
        retransmitted: fmt(r.retransmitted.after),
      },
    ]),
  );
  for (const r of results) {
    const kept = (100 * r.withHandlers) / r.reference;
    // Interims per second of the server's CPU, phase 3 against phase 1: the machine's other load left out.
    const keptCpu = (100 * r.cpuPerInterim.reference) / r.cpuPerInterim.withHandlers;
    console.log(
      `load average ${fmt(r.load[0], 1)} → ${fmt(r.load[1], 1)}; kept ${fmt(kept, 1)} % of the Interim rate (target ≥ 80 %: ${kept >= 80 ? 'met' : 'NOT met'}), ${fmt(keptCpu, 1)} % per second of the server's CPU (${fmt(r.cpuPerInterim.reference, 1)} → ${fmt(r.cpuPerInterim.withHandlers, 1)} µs/Interim; ${keptCpu >= 80 ? 'met' : 'NOT met'}); ${fmt((100 * r.withHandlers) / r.referenceAfter, 1)} % of the rate measured again after the handlers were deleted (${fmt((100 * r.cpuPerInterim.after) / r.cpuPerInterim.withHandlers, 1)} % per server CPU); ${fmt(r.evaluations)} rule evaluations in the phase, ${fmt(r.evaluations / r.seconds)}/s; ${fmt(r.crossed)} sessions crossed, ${fmt(r.firings)} firings, ${fmt(r.arrived)} actions arrived (${fmt(r.arrivedInPhase)} within the phase); crossing Interim sent → action's first attempt arrived: p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, max ${fmt(r.max)} ms (target p99 ≤ 1000 ms: ${r.p99 <= 1000 ? 'met' : 'NOT met'}); in two parts: the crossing Interim sent → acknowledged after its durable write (the accounting queue of this load) p50 ${fmt(r.ackP50)} ms, p99 ${fmt(r.ackP99)} ms, and acknowledged → action arrived (the engine) p50 ${fmt(r.engineP50)} ms, p99 ${fmt(r.engineP99)} ms`,
    );
  }
}
