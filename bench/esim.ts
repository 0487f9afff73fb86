// eSIM download-and-enable throughput (issue 15): `npm run bench -- esim [--cards 100] [--db sqlite|
// postgres] [--bearer in-process|https] [--repeat 3]`.
//
// Measured path: ES2.DownloadProfile(enableProfile = true) at the real SM-DP → ES3 (in-process port) →
// the real SM-SR → ES5 → N software eUICCs, all N procedures started together: GetEIS, the ECASD chain,
// CreateISDP, key establishment (3A01/3A02, ECKA-EG), the SCP03t download and installation,
// ProfileDownloadCompleted, EnableProfile, the card's REFRESH and its notification. ES5 is either the
// SM-SR's real transports (--bearer https, bench/_esim-https-rig.ts: Es5Router over SCP80 SMS and
// PSK-TLS RAM over HTTP through each device's BIP relay on loopback) or in-process (default,
// bench/_esim-rig.ts: the card's ISD-R script runner and ISD-P, no SMS/TLS/BIP).
//
// Reference, measured in the same run: the raw cryptography one procedure really performs. A first
// procedure runs with node:crypto instrumented and counts each operation the SM-DP, the SM-SR and the
// card make (ECDSA signatures and verifications incl. X.509, ECDH, EC key generation, AES calls and
// bytes in CBC/ECB — SCP03/SCP03t, CMAC, key wrapping; the key ring's AES-GCM sealing is counted apart,
// it is storage, not protocol); then each kind is timed in a loop with the same API and sizes, and the
// sum is the crypto a procedure cannot avoid. Printed: procedures/s, process CPU (user + system) per
// procedure, and the CPU per procedure against that reference. Targets (issue 15): ≥ 50 procedures/s
// on a 2-core machine, CPU within 3× of the raw crypto.

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import {
  addCrypto,
  type CryptoCounts,
  countCrypto,
  noCrypto,
  type UnitCosts,
  unitCosts,
} from './_esim-crypto-count.js';
import { esimHttpsRig } from './_esim-https-rig.js';
import { esimRig } from './_esim-rig.js';
import { type BenchDialect, flag, fmt, table } from './_support.js';

// biome-ignore lint/suspicious/noExplicitAny: patching better-sqlite3's Statement for counting
type AnyFn = (...a: any[]) => any;

/**
 * SQLite statements executed while `body` runs (better-sqlite3's Statement run/all/get/iterate), by
 * the statement's first word and table name; what the store does for one procedure.
 */
async function statements<T>(
  body: () => Promise<T>,
): Promise<{ value: T; total: number; commits: number; byKind: Map<string, number> }> {
  const require = createRequire(import.meta.url);
  const Database = require('better-sqlite3') as new (
    file: string,
  ) => { prepare(sql: string): object; close(): void };
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, AnyFn>;
  probe.close();
  const byKind = new Map<string, number>();
  let total = 0;
  // Commits of writes: each is a WAL fsync under `synchronous = FULL` (store/database.ts), which
  // blocks the thread — on SQLite the count that bounds the rate more than the statements do.
  let commits = 0;
  let inTransaction = false;
  const saved: [string, AnyFn][] = [];
  for (const m of ['run', 'all', 'get', 'iterate']) {
    const orig = proto[m] as AnyFn;
    saved.push([m, orig]);
    proto[m] = function (this: { source: string }, ...a: unknown[]) {
      total++;
      const words = /^\s*(\w+)(?:\s+(?:.*?\b(?:from|into)\s+)?"?(\w+))?/is.exec(this.source);
      const kind = `${words?.[1]?.toLowerCase() ?? '?'} ${words?.[2] ?? ''}`.trim();
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
      const verb = words?.[1]?.toLowerCase();
      if (verb === 'begin') inTransaction = true;
      else if (verb === 'commit' || verb === 'rollback') {
        if (verb === 'commit') commits++;
        inTransaction = false;
      } else if (!inTransaction && (verb === 'insert' || verb === 'update' || verb === 'delete')) commits++;
      return orig.apply(this, a);
    };
  }
  try {
    return { value: await body(), total, commits, byKind };
  } finally {
    for (const [m, orig] of saved) proto[m] = orig;
  }
}

/**
 * Counts the commits of writes (WAL fsyncs on SQLite) while the measured procedures run, all writers
 * together — with the group commit many procedures' steps share one. Cheap enough not to move the
 * CPU figure: a look at the statement's first letters and better-sqlite3's `inTransaction`.
 */
function countCommits(): () => number {
  const require = createRequire(import.meta.url);
  const Database = require('better-sqlite3') as new (
    file: string,
  ) => { prepare(sql: string): object; close(): void };
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, AnyFn>;
  probe.close();
  let commits = 0;
  const saved: [string, AnyFn][] = [];
  // run for writes, all/get for writes with RETURNING (kysely runs those as readers).
  for (const m of ['run', 'all', 'get']) {
    const orig = proto[m] as AnyFn;
    saved.push([m, orig]);
    proto[m] = function (this: { source: string; database: { inTransaction: boolean } }, ...a: unknown[]) {
      // kysely's and the store's SQL starts with its lower-case verb: c(ommit), i(nsert), u(pdate), d(elete).
      const c = this.source.charCodeAt(0);
      if (c === 0x63) {
        if (this.source.startsWith('commit')) commits++;
      } else if ((c === 0x69 || c === 0x75 || c === 0x64) && !this.database.inTransaction) commits++;
      return orig.apply(this, a);
    };
  }
  return () => {
    for (const [m, orig] of saved) proto[m] = orig;
    return commits;
  };
}

interface Run {
  procedures: number;
  failed: number;
  seconds: number;
  perSecond: number;
  /** This process: the SM-DP, the SM-SR, their store and bearers (and the devices when in-process). */
  cpuMsPerProcedure: number;
  cpuCores: number;
  /** The devices' process, when they run in one of their own. */
  devicesCpuMsPerProcedure?: number;
  devicesCpuCores?: number;
  /** SQLite: commits of writes per procedure while they ran (all writers, group commits included). */
  commitsPerProcedure?: number;
}

type Bearer = 'in-process' | 'https';
const rigOf = (bearer: Bearer) => (bearer === 'https' ? esimHttpsRig : esimRig);

async function measured(cards: number, dialect: BenchDialect, bearer: Bearer): Promise<Run> {
  const rig = await rigOf(bearer)({ cards, dialect });
  // ESIM_BENCH_CPU_PROFILE=<dir>: a V8 CPU profile of the measured window only (not the rig's setup).
  const profileDir = process.env.ESIM_BENCH_CPU_PROFILE;
  const session = profileDir === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  try {
    const devices0 = await rig.simulator?.cpuMicros();
    const commits = dialect === 'sqlite' ? countCommits() : undefined;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const statuses = await Promise.all(rig.cards.map((_, i) => rig.download(i, `bench-${i}`)));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const committed = commits?.();
    const devices1 = await rig.simulator?.cpuMicros();
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const devicesMs =
      devices0 === undefined || devices1 === undefined ? undefined : (devices1 - devices0) / 1000;
    if (session !== undefined && profileDir !== undefined) {
      const { profile } = await session.post('Profiler.stop');
      const file = join(profileDir, `esim-${bearer}-${dialect}-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      console.log(`CPU profile of the measured window: ${file}`);
    }
    // Complete = the SM-DP answered success and the card really holds profile B, enabled.
    const enabled = await rig.enabledB();
    const ok = statuses.filter((s, i) => s === 'EXECUTED_SUCCESS' && enabled[i] === true).length;
    return {
      procedures: ok,
      failed: statuses.length - ok,
      seconds,
      perSecond: ok / seconds,
      cpuMsPerProcedure: cpuMs / statuses.length,
      cpuCores: cpuMs / 1000 / seconds,
      ...(committed === undefined ? {} : { commitsPerProcedure: committed / statuses.length }),
      ...(devicesMs === undefined
        ? {}
        : {
            devicesCpuMsPerProcedure: devicesMs / statuses.length,
            devicesCpuCores: devicesMs / 1000 / seconds,
          }),
    };
  } finally {
    await rig.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** The raw crypto of `c` at the unit costs `u` (µs). */
const referenceUs = (c: CryptoCounts, u: UnitCosts) =>
  c.ecdsaSign * u.ecdsaSign +
  c.ecdsaVerify * u.ecdsaVerify +
  c.ecdh * u.ecdh +
  c.ecKeygen * u.ecKeygen +
  c.aesCalls * u.aesCall;

export async function run(args: string[]): Promise<void> {
  // `--switch`: complete carrier switches (issue 16), bench/esim-switch.ts.
  if (args.includes('--switch'))
    return (await import('./esim-switch.js')).run(args.filter((a) => a !== '--switch'));
  const cards = Number(flag(args, '--cards') ?? 100);
  const dialect = (flag(args, '--db') ?? 'sqlite') as BenchDialect;
  const repeat = Number(flag(args, '--repeat') ?? 1);
  const bearer = (flag(args, '--bearer') ?? 'in-process') as Bearer;
  if (bearer !== 'in-process' && bearer !== 'https') throw new Error('--bearer: in-process or https');
  if (!Number.isInteger(cards) || cards < 1) throw new Error('--cards: a positive integer');
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error('--db: sqlite or postgres');

  // 1. What one procedure really does, counted on a rig of its own (setup not counted): node:crypto
  // in this process and, when the devices run in their own, there too.
  const one = await rigOf(bearer)({ cards: 1, dialect });
  const split = one.simulator !== undefined;
  let server: CryptoCounts;
  let devices: CryptoCounts = noCrypto();
  let sql: { total: number; commits: number; byKind: Map<string, number> };
  try {
    await one.simulator?.countCrypto(true);
    const stop = countCrypto();
    let r: Awaited<ReturnType<typeof statements<string>>>;
    try {
      r =
        dialect === 'sqlite'
          ? await statements(() => one.download(0, 'bench-count'))
          : {
              value: await one.download(0, 'bench-count'),
              total: 0,
              commits: 0,
              byKind: new Map<string, number>(),
            };
    } finally {
      server = stop();
      devices = (await one.simulator?.countCrypto(false)) ?? noCrypto();
    }
    if (r.value !== 'EXECUTED_SUCCESS') throw new Error(`the counted procedure ended ${r.value}`);
    sql = r;
  } finally {
    await one.close();
  }
  const counts = addCrypto(server, devices);
  if (counts.ecdsaVerify === 0 || counts.aesCalls === 0)
    throw new Error('node:crypto was not instrumented (no verification or AES call seen)');

  // 2. The raw crypto of one procedure, timed now.
  const unit = unitCosts(counts.aesBytes / counts.aesCalls);
  const refUs = referenceUs(counts, unit);
  const serverRefUs = referenceUs(server, unit);
  const devicesRefUs = referenceUs(devices, unit);
  console.log(`one procedure's crypto (${dialect}, ES5 ${bearer}), counted by instrumenting node:crypto:`);
  const line = (operation: string, k: keyof CryptoCounts, each: string) => ({
    operation,
    ...(split ? { 'SM-DP + SM-SR': server[k], eUICC: devices[k] } : { count: counts[k] }),
    'µs each': each,
  });
  table([
    line('ECDSA P-256 sign', 'ecdsaSign', fmt(unit.ecdsaSign, 1)),
    line('ECDSA P-256 verify (incl. X.509)', 'ecdsaVerify', fmt(unit.ecdsaVerify, 1)),
    line('ECDH P-256', 'ecdh', fmt(unit.ecdh, 1)),
    line('EC P-256 key generation', 'ecKeygen', fmt(unit.ecKeygen, 1)),
    line(
      `AES-128 CBC/ECB calls (${fmt(counts.aesBytes)} bytes, CMAC + SCP03/SCP03t/SCP80)`,
      'aesCalls',
      fmt(unit.aesCall, 2),
    ),
    line('AES-GCM (key ring sealing, not in the reference)', 'gcmCalls', '-'),
    {
      operation: 'reference: raw crypto per procedure (µs)',
      ...(split ? { 'SM-DP + SM-SR': fmt(serverRefUs, 0), eUICC: fmt(devicesRefUs, 0) } : { count: '' }),
      'µs each': fmt(refUs, 0),
    },
  ]);

  if (sql.total > 0) {
    const top = [...sql.byKind.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
    console.log(
      `store: ${sql.total} SQLite statements and ${sql.commits} commits of writes in one procedure; most: ${top.map(([k, n]) => `${k} ×${n}`).join(', ')}`,
    );
    // ESIM_BENCH_SQL=1: every kind of statement with its count.
    if (process.env.ESIM_BENCH_SQL === '1')
      for (const [k, n] of [...sql.byKind.entries()].sort((a, b) => b[1] - a[1])) console.log(`  ${k} ×${n}`);
  }

  // 3. The measured path: N eUICCs, all procedures in parallel.
  const runs: Run[] = [];
  for (let i = 0; i < repeat; i++) runs.push(await measured(cards, dialect, bearer));
  const row = (label: number | string, r: Run): Record<string, string | number> =>
    split
      ? {
          run: label,
          procedures: r.procedures,
          failed: r.failed,
          seconds: fmt(r.seconds, 2),
          'procedures/s': fmt(r.perSecond, 1),
          'server CPU ms/proc': fmt(r.cpuMsPerProcedure, 1),
          'server cores': fmt(r.cpuCores, 2),
          ...(r.commitsPerProcedure === undefined ? {} : { 'commits/proc': fmt(r.commitsPerProcedure, 1) }),
          'server × its crypto': fmt((r.cpuMsPerProcedure * 1000) / serverRefUs, 1),
          'eUICC CPU ms/proc': fmt(r.devicesCpuMsPerProcedure ?? 0, 1),
          'eUICC cores': fmt(r.devicesCpuCores ?? 0, 2),
          'both × all crypto': fmt(
            ((r.cpuMsPerProcedure + (r.devicesCpuMsPerProcedure ?? 0)) * 1000) / refUs,
            1,
          ),
        }
      : {
          run: label,
          procedures: r.procedures,
          failed: r.failed,
          seconds: fmt(r.seconds, 2),
          'procedures/s': fmt(r.perSecond, 1),
          'CPU ms/procedure': fmt(r.cpuMsPerProcedure, 1),
          'CPU cores busy': fmt(r.cpuCores, 2),
          ...(r.commitsPerProcedure === undefined ? {} : { 'commits/proc': fmt(r.commitsPerProcedure, 1) }),
          '× raw crypto': fmt((r.cpuMsPerProcedure * 1000) / refUs, 1),
        };
  const rows = runs.map((r, i) => row(i + 1, r));
  if (runs.length > 1) {
    const m = (f: (r: Run) => number) => median(runs.map(f));
    rows.push(
      row('median', {
        procedures: m((r) => r.procedures),
        failed: m((r) => r.failed),
        seconds: m((r) => r.seconds),
        perSecond: m((r) => r.perSecond),
        cpuMsPerProcedure: m((r) => r.cpuMsPerProcedure),
        cpuCores: m((r) => r.cpuCores),
        devicesCpuMsPerProcedure: m((r) => r.devicesCpuMsPerProcedure ?? 0),
        devicesCpuCores: m((r) => r.devicesCpuCores ?? 0),
        ...(runs[0]?.commitsPerProcedure === undefined
          ? {}
          : { commitsPerProcedure: m((r) => r.commitsPerProcedure ?? 0) }),
      }),
    );
  }
  console.log(
    `\nDownloadProfile(enable) with ${cards} eUICCs in parallel, ${dialect}, ES5 ${
      bearer === 'https'
        ? "SMS (SCP80) + HTTPS (PSK-TLS over the modems' BIP relay) as the router picks"
        : 'in-process (no SMS/PSK-TLS bearer)'
    }:`,
  );
  if (one.simulator !== undefined)
    console.log(
      `server = this process (SM-DP, SM-SR, store, SMS and PSK-TLS endpoints); eUICC = the ${cards} devices in a second process, so the server gets a core of its own; each side's CPU per procedure beside the crypto it does (server: ${fmt(serverRefUs, 0)} µs, eUICC: ${fmt(devicesRefUs, 0)} µs), both sides beside all of it (${fmt(refUs, 0)} µs)`,
    );
  table(rows);
  console.log('targets (issue 15): ≥ 50 procedures/s; CPU per procedure ≤ 3 × the raw crypto');
}
