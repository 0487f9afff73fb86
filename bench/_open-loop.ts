// Open-loop latency: GET requests started evenly at a fixed rate, whatever the answers take.
// `latencyAtRate` (_support.ts) runs this file in a process of its own:
//   node --import tsx bench/_open-loop.ts '{"url":…,"headers":{…},"rate":…,"seconds":…}'
// and reads {rps, p50, p99, errors} as JSON from its standard output.

import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type { LoadResult } from './_support.js';

export interface OpenLoopOptions {
  /** Source addresses to send from, in turn (each a simulated device on loopback). */
  readonly localAddresses?: readonly string[];
}

/**
 * Open loop: GET requests started evenly at `rate` per second for `seconds`, whatever the answers
 * take, over keep-alive connections; p50/p99 of their latencies in ms. (autocannon's `overallRate`
 * sends each second's budget in a burst at the start of the second, so its "latency at half rate"
 * is the latency of a saturated server.)
 */
export async function openLoop(
  url: string,
  headers: Record<string, string>,
  rate: number,
  seconds: number,
  options: OpenLoopOptions = {},
): Promise<LoadResult> {
  const target = new URL(url);
  // One pool per source address (requests take them in turn), else one pool of 64 connections.
  const pools = options.localAddresses?.length
    ? options.localAddresses.map((localAddress) => new Pool(target.origin, { connections: 2, localAddress }))
    : [new Pool(target.origin, { connections: 64 })];
  const path = `${target.pathname}${target.search}`;
  const latencies = new Float64Array(Math.max(1, Math.floor(rate * seconds)));
  // How late each request left against its schedule: a sender that cannot keep up (a rate beyond
  // what one Node process can send) shows here, and its latencies are then not the server's.
  const lateness = new Float64Array(latencies.length);
  let answered = 0;
  let errors = 0;
  let outstanding = 0;
  let allAnswered = () => {};
  const total = latencies.length;
  const start = performance.now();
  let sent = 0;
  const send = (pool: Pool) => {
    const t0 = performance.now();
    outstanding++;
    pool
      .request({ method: 'GET', path, headers })
      .then(
        async (response) => {
          await response.body.dump();
          if (response.statusCode >= 400) errors++;
          else latencies[answered++] = performance.now() - t0;
        },
        () => {
          errors++;
        },
      )
      .finally(() => {
        if (--outstanding === 0 && sent === total) allAnswered();
      });
  };
  try {
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        lateness[sent] = performance.now() - start - (sent * 1000) / rate;
        send(pools[sent % pools.length] as Pool);
        sent++;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    if (outstanding > 0) await new Promise<void>((r) => (allAnswered = r));
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
  }
  const at = (values: Float64Array, q: number) =>
    values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0;
  const measured = latencies.subarray(0, answered).sort();
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    rps: total / seconds,
    p50: round(at(measured, 0.5)),
    p99: round(at(measured, 0.99)),
    errors,
    senderLateP99: round(at(lateness.sort(), 0.99)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url, headers, rate, seconds, options } = JSON.parse(process.argv[2] ?? '{}') as {
    url: string;
    headers: Record<string, string>;
    rate: number;
    seconds: number;
    options?: OpenLoopOptions;
  };
  // One second at the same rate first, not counted: module compilation, the pool's connections and
  // the JIT would otherwise make the first requests leave late.
  await openLoop(url, headers, rate, 1, options);
  process.stdout.write(JSON.stringify(await openLoop(url, headers, rate, seconds, options)));
}
