// Shared helpers for benchmarks: fresh databases, a server process, autocannon runs, formatting.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import autocannon from 'autocannon';
import pg from 'pg';
import { systemClock } from '../src/lib/clock.js';
import { luhnCheckDigit } from '../src/lib/luhn.js';
import { createOperator } from '../src/platform/iam/operators.js';
import { systemContext } from '../src/platform/iam/principal.js';
import { KeyRing } from '../src/platform/secrets/key-ring.js';
import { SimImporter } from '../src/platform/sims/csv-import.js';
import { GroupService } from '../src/platform/sims/groups.js';
import { openStore, parsePostgresUrl } from '../src/platform/store/database.js';
import type { OpenLoopOptions } from './_open-loop.js';

export const flag = (args: string[], name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

export type BenchDialect = 'sqlite' | 'postgres';

const PG_BASE = process.env.SIMTRUST_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function freshDatabase(
  dialect: BenchDialect,
): Promise<{ url: string; drop: () => Promise<void> }> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'simtrust-bench-'));
    return {
      url: `sqlite:${join(dir, 'bench.db')}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `bench_${randomBytes(5).toString('hex')}`;
  return {
    url: `${PG_BASE}${PG_BASE.includes('?') ? '&' : '?'}schema=${schema}`,
    drop: async () => {
      const client = new pg.Client({ connectionString: parsePostgresUrl(PG_BASE).connectionString });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

export interface BenchServer {
  readonly url: string;
  /** The server process's id (its CPU time can be read from /proc/<pid>/stat). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/**
 * Node flags for a server process under test: with SIMTRUST_BENCH_CPU_PROFILE=<dir> it writes a V8
 * CPU profile there when it stops (open it in Chrome DevTools or speedscope).
 */
export function profileArgs(): string[] {
  const dir = process.env.SIMTRUST_BENCH_CPU_PROFILE;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** `simtrust serve` in its own process, so the load generator does not share its event loop. */
export async function startServer(env: Record<string, string>): Promise<BenchServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [...profileArgs(), resolve('bin/simtrust.js'), 'serve', '--http-port', String(port)],
    {
      env: {
        ...process.env,
        SIMTRUST_LOG_LEVEL: 'warn',
        SIMTRUST_DEVICE_HTTP_PORT: '0',
        SIMTRUST_RADIUS_AUTH_PORT: '0',
        SIMTRUST_RADIUS_ACCT_PORT: '0',
        // Throughput from one address with one token: the API rate limits would measure the
        // limiter instead, so they are off unless a benchmark sets them.
        SIMTRUST_API_RATE_LIMIT_PER_ADDRESS: '0',
        SIMTRUST_API_RATE_LIMIT_PER_TOKEN: '0',
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid,
    stop: () =>
      new Promise((stopped) => {
        child.once('exit', () => stopped());
        child.kill('SIGTERM');
      }),
  };
}

export interface LoadResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  /** Open loop only: p99 of how late requests left against their schedule (ms). */
  readonly senderLateP99?: number;
}

/**
 * Senders later than this (p99, ms) are too busy for their latencies to be the server's. The sender
 * wakes about every millisecond and sends what has fallen due, so 1–3 ms late is its normal gait.
 */
const SENDER_LATE_MS = 5;

/** A p99 for a table, marked when the open-loop sender could not keep its schedule. */
export const p99Cell = (r: { p99: number; senderLateP99?: number | undefined }): string =>
  r.senderLateP99 !== undefined && r.senderLateP99 > SENDER_LATE_MS
    ? `${r.p99} (sender ${fmt(r.senderLateP99, 1)} ms late)`
    : String(r.p99);

/** Closed loop: `connections` keep-alive connections, each sending its next request on an answer. */
export async function load(
  url: string,
  headers: Record<string, string>,
  options: { seconds?: number; connections?: number } = {},
): Promise<LoadResult> {
  const r = await autocannon({
    url,
    headers,
    connections: options.connections ?? 10,
    duration: options.seconds ?? 5,
  });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx,
  };
}

/**
 * Latency at a fixed rate (open loop, bench/_open-loop.ts) measured from a process of its own, so
 * that pauses of the calling bench's heap (a million imported SIMs, histograms) never stop the clock.
 */
export function latencyAtRate(
  url: string,
  headers: Record<string, string>,
  rate: number,
  seconds: number,
  options: OpenLoopOptions = {},
): Promise<LoadResult> {
  const job = JSON.stringify({ url, headers, rate, seconds, options });
  const child = spawn(process.execPath, ['--import', 'tsx', resolve('bench/_open-loop.ts'), job], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((done, fail) =>
    child.once('exit', (code) =>
      code === 0 ? done(JSON.parse(out) as LoadResult) : fail(new Error(`open loop exited with ${code}`)),
    ),
  );
}

/** Maximum throughput (10 connections), then p50/p99 at half that rate, evenly spaced (open loop). */
export async function loadProfile(url: string, headers: Record<string, string>, seconds = 5) {
  const max = await load(url, headers, { seconds });
  const half = await latencyAtRate(url, headers, max.rps / 2, seconds);
  return {
    maxRps: max.rps,
    p50: half.p50,
    p99: half.p99,
    senderLateP99: half.senderLateP99,
    errors: max.errors + half.errors,
  };
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

export function table(rows: Array<Record<string, string | number>>): void {
  console.table(rows);
}

// SIM fleets for the benchmarks that need many SIMs (sims, console): deterministic ICCIDs and IMSIs in
// ICCID order, every fourth SIM in group bench-a, tag batch=i%10, random Ki/OPc.

export const BATCH = 1000;

interface Row {
  iccid: string;
  imsi: string;
  ki: string;
  opc: string;
}

/** Deterministic identities, random keys; generated a batch at a time. */
export function batchRows(start: number, n: number): Row[] {
  const keys = randomBytes(32 * n).toString('hex');
  const rows: Row[] = [];
  for (let j = 0; j < n; j++) {
    const i = start + j;
    const body = `894410${String(i).padStart(12, '0')}`;
    rows.push({
      iccid: body + luhnCheckDigit(body),
      imsi: `44011${String(i).padStart(10, '0')}`,
      ki: keys.slice(j * 64, j * 64 + 32),
      opc: keys.slice(j * 64 + 32, j * 64 + 64),
    });
  }
  return rows;
}

export const groupOf = (i: number) => (i % 4 === 0 ? 'bench-a' : '');
const tagOf = (i: number) => `batch=${i % 10}`;

function csvStream(count: number): Readable {
  let next = 0;
  return new Readable({
    read() {
      if (next === 0) this.push('iccid,imsi,msisdn,ki,opc,group,tags\n');
      if (next >= count) return void this.push(null);
      const n = Math.min(BATCH, count - next);
      const rows = batchRows(next, n);
      this.push(
        `${rows.map((r, j) => `${r.iccid},${r.imsi},,${r.ki},${r.opc},${groupOf(next + j)},${tagOf(next + j)}`).join('\n')}\n`,
      );
      next += n;
    },
  });
}

/** A fresh operator (root login `email`/`password`), a group `bench-a` and the key ring, on `url`. */
export async function prepareBenchOperator(url: string, masterKey: Buffer) {
  const store = await openStore(url, { poolSize: 4 });
  const email = `bench-${randomBytes(3).toString('hex')}@example.com`;
  const password = 'bench-password';
  const operator = await createOperator(store, systemClock, { email, password });
  const groups = new GroupService(store, systemClock);
  const group = await groups.create(systemContext(operator.operatorId, 'Group:createGroup', 'bench'), {
    tags: { name: 'bench-a' },
  });
  const keyRing = await KeyRing.open(store, masterKey);
  return { store, operatorId: operator.operatorId, groupId: group.groupId, keyRing, email, password };
}

/** Imports `count` SIMs through the platform's CSV importer (progress every 5 s); returns SIMs/s. */
export async function importBenchSims(
  p: Awaited<ReturnType<typeof prepareBenchOperator>>,
  count: number,
): Promise<number> {
  const importer = new SimImporter(p.store, p.keyRing, systemClock);
  const started = performance.now();
  let lastReport = started;
  const summary = await importer.importCsv(
    systemContext(p.operatorId, 'Sim:importSims', 'bench'),
    csvStream(count),
    {
      onProgress: (progress) => {
        if (performance.now() - lastReport > 5000) {
          lastReport = performance.now();
          process.stdout.write(`  … ${fmt(progress.rows)} rows\n`);
        }
      },
    },
  );
  const importRate = count / ((performance.now() - started) / 1000);
  if (summary.created !== count)
    throw new Error(
      `import created ${summary.created} of ${count}: ${JSON.stringify(summary.errors.slice(0, 3))}`,
    );
  return importRate;
}
