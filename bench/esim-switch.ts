// Complete carrier switches per second (issue 16): `npm run bench -- esim --switch [--euiccs 50] [--pg]
// [--timeout-s 600] [--pool]` (also `npm run bench -- esim-switch …`). Each switch names the eUICC's
// profile at operator 2 (`iccid`, as agreed with it); with --pool SM-DP2 picks a free profile of its
// switch pool instead (EsimSwitchTarget), all N at once.
//
// Measured path, per eUICC, all N started together (bench/_esim-switch-rig.ts): POST
// /v1/sims/{eid}/switch_operator at operator 1's API → the platform's switch operation (ES4
// PrepareSMSRChange at SM-SR2, ES4 SMSRChange at SM-SR1 with ES7 HandoverEUICC / AuthenticateSMSR /
// CreateAdditionalKeySet and ES5 EstablishISDRKeySet / FinaliseISDRhandover on the card, ES2
// DownloadProfile(enable) at SM-DP2 with the SCP03t download and EnableProfile, the card's REFRESH and
// notification) → re-attach at operator 2 (its AuC's vector, the card's AUTHENTICATE, RES = XRES). Two
// deployments in this process, each its own database and key ring, one CI; ES5 and the partner links
// are in-process (no SMS/PSK-TLS bearer, no SOAP over mutual TLS).
//
// Reference, in the same run: the raw crypto of one switch. A first switch runs on a rig of its own
// with node:crypto instrumented (bench/_esim-crypto-count.ts) and counts what both deployments and
// the card call: ECDSA signatures and verifications (incl. X.509), ECDH, EC key generation, AES calls
// (CBC/ECB: SCP03/SCP03t, CMAC, key wrapping, Milenage); AES-GCM of the key rings is storage, counted
// apart and left out. Each kind is then timed in a loop with the same API (process CPU, as the
// measured path's CPU) and the sum is the crypto a switch cannot avoid. Printed: switches/s, process
// CPU per switch and its ratio to that reference. Target (issue 16): within 3× of the raw crypto.

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { EsimOperationView } from '../src/platform/esim/operations/operations-service.js';
import { type CryptoCounts, countCrypto, unitCosts } from './_esim-crypto-count.js';
import { flag, fmt, table } from './_support.js';

// biome-ignore lint/suspicious/noExplicitAny: patching better-sqlite3's Statement for counting
type AnyFn = (...a: any[]) => any;

/**
 * Counts SQLite statements and commits of writes (each a WAL fsync under synchronous = FULL, which
 * blocks the thread — what bounds the rate on SQLite) until the returned function is called.
 */
function countStatements(): () => { statements: number; commits: number } {
  const require = createRequire(import.meta.url);
  const Database = require('better-sqlite3') as new (
    file: string,
  ) => { prepare(sql: string): object; close(): void };
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, AnyFn>;
  probe.close();
  let statements = 0;
  let commits = 0;
  let inTransaction = false;
  const saved: [string, AnyFn][] = [];
  for (const m of ['run', 'all', 'get', 'iterate']) {
    const orig = proto[m] as AnyFn;
    saved.push([m, orig]);
    proto[m] = function (this: { source: string }, ...a: unknown[]) {
      statements++;
      const verb = /^\s*(\w+)/.exec(this.source)?.[1]?.toLowerCase();
      if (verb === 'begin') inTransaction = true;
      else if (verb === 'commit' || verb === 'rollback') {
        if (verb === 'commit') commits++;
        inTransaction = false;
      } else if (!inTransaction && (verb === 'insert' || verb === 'update' || verb === 'delete')) commits++;
      return orig.apply(this, a);
    };
  }
  return () => {
    for (const [m, orig] of saved) proto[m] = orig;
    return { statements, commits };
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0
    ? Number.NaN
    : s.length % 2 === 1
      ? (s[m] as number)
      : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export async function run(args: string[]): Promise<void> {
  const euiccs = Number(flag(args, '--euiccs') ?? 50);
  const timeoutS = Number(flag(args, '--timeout-s') ?? 600);
  const pg = args.includes('--pg') || flag(args, '--db') === 'postgres';
  const pool = args.includes('--pool');
  if (!Number.isInteger(euiccs) || euiccs < 1 || euiccs > 2000) throw new Error('--euiccs: 1 … 2000');
  if (!(timeoutS > 0)) throw new Error('--timeout-s: a positive number of seconds');
  // The test platforms pick their database when their module loads: set before importing the rig.
  process.env.SIMTRUST_TEST_DATABASE = pg ? 'postgres' : 'sqlite';
  const { switchBenchRig } = await import('./_esim-switch-rig.js');
  const { createTestPki } = await import('../test/helpers/esim-pki.js');
  const dialect = pg ? 'postgres' : 'sqlite';
  const pki = await createTestPki();
  const deadline = Date.now() + timeoutS * 1000;
  const bounded = <T>(p: Promise<T>, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`${what}: not done within --timeout-s ${timeoutS}; raise it or lower --euiccs`)),
        Math.max(0, deadline - Date.now()),
      );
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  };

  // 1. What one switch really does, counted on a rig of its own (setup not counted).
  const one = await switchBenchRig(pki, { cards: 1 });
  let counts: CryptoCounts;
  let sql: { statements: number; commits: number } | undefined;
  try {
    // The re-attach check means something: before the switch, operator 2 does not admit the card.
    if (await one.reattach(0)) throw new Error('the card attached at operator 2 before its switch');
    const stopSql = pg ? undefined : countStatements();
    const stop = countCrypto();
    let op: Awaited<ReturnType<typeof one.switchOne>>;
    let attached: boolean;
    try {
      op = await bounded(one.switchOne(0), 'the counted switch');
      attached = await one.reattach(0);
    } finally {
      counts = stop();
      sql = stopSql?.();
    }
    if (op.status !== 'succeeded') throw new Error(`the counted switch ended ${JSON.stringify(op)}`);
    if (!attached || !(await one.switched(0)))
      throw new Error('the counted switch did not leave profile B attached');
  } catch (e) {
    await one.close({ drain: false });
    throw e;
  }
  await one.close();
  if (counts.ecdsaVerify === 0 || counts.aesCalls === 0)
    throw new Error('node:crypto was not instrumented (no verification or AES call seen)');
  const unit = unitCosts(counts.aesBytes / counts.aesCalls);
  const refUs =
    counts.ecdsaSign * unit.ecdsaSign +
    counts.ecdsaVerify * unit.ecdsaVerify +
    counts.ecdh * unit.ecdh +
    counts.ecKeygen * unit.ecKeygen +
    counts.aesCalls * unit.aesCall;
  console.log(
    `one switch's crypto (${dialect}; both deployments and the card), counted by instrumenting node:crypto:`,
  );
  table([
    { operation: 'ECDSA P-256 sign', count: counts.ecdsaSign, 'µs each': fmt(unit.ecdsaSign, 1) },
    {
      operation: 'ECDSA P-256 verify (incl. X.509)',
      count: counts.ecdsaVerify,
      'µs each': fmt(unit.ecdsaVerify, 1),
    },
    { operation: 'ECDH P-256', count: counts.ecdh, 'µs each': fmt(unit.ecdh, 1) },
    { operation: 'EC P-256 key generation', count: counts.ecKeygen, 'µs each': fmt(unit.ecKeygen, 1) },
    {
      operation: `AES-128 CBC/ECB calls (${fmt(counts.aesBytes)} bytes: CMAC, SCP03/SCP03t, Milenage)`,
      count: counts.aesCalls,
      'µs each': fmt(unit.aesCall, 2),
    },
    { operation: 'AES-GCM (key ring sealing, not in the reference)', count: counts.gcmCalls, 'µs each': '-' },
    { operation: 'reference: raw crypto per switch (µs)', count: '', 'µs each': fmt(refUs, 0) },
  ]);

  if (sql !== undefined)
    console.log(
      `store: ${fmt(sql.statements)} SQLite statements and ${fmt(sql.commits)} commits of writes (each a WAL fsync) in one switch, both deployments`,
    );

  // 2. The measured path: N eUICCs, all switches (and their re-attach) in parallel.
  const rig = await switchBenchRig(pki, { cards: euiccs });
  let timedOut = false;
  let done = 0;
  let failed = 0;
  const failures: string[] = [];
  const ended: EsimOperationView[] = [];
  const latencies: number[] = [];
  const switchedAt: number[] = [];
  // ESIM_BENCH_CPU_PROFILE=<dir>: a V8 CPU profile of the measured window only (not the setup).
  const profileDir = process.env.ESIM_BENCH_CPU_PROFILE;
  const session = profileDir === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  try {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const wall0 = Date.now();
    const progress = setInterval(() => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(`  … ${fmt(s, 1)} s: ${done}/${euiccs} switched and re-attached, ${failed} failed`);
    }, 2000);
    try {
      await bounded(
        Promise.all(
          rig.cards.map(async (_, i) => {
            const op = await rig.switchOne(i, { pool });
            ended.push(op);
            switchedAt.push(Date.now() - wall0);
            const ok = op.status === 'succeeded' && (await rig.reattach(i));
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
            if (ok) done++;
            else {
              failed++;
              if (failures.length < 3) failures.push(`${rig.cards[i]?.eid}: ${JSON.stringify(op.steps)}`);
            }
          }),
        ),
        `${euiccs} switches`,
      );
    } catch (e) {
      timedOut = true;
      throw e;
    } finally {
      clearInterval(progress);
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (session !== undefined && profileDir !== undefined) {
      const { profile } = await session.post('Profiler.stop');
      const file = join(profileDir, `esim-switch-${dialect}-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      console.log(`CPU profile of the measured window: ${file}`);
    }
    // Complete = the operation succeeded, the device attached at operator 2, and the card holds
    // operator 2's profile enabled while operator 1 shows the eUICC handed over to SM-SR2.
    let complete = 0;
    for (let i = 0; i < euiccs; i++) if (await rig.switched(i)) complete++;
    const ok = Math.min(done, complete);
    console.log(
      `\ncarrier switches (SM-SR change + download + enable + re-attach) with ${euiccs} eUICCs in parallel, ${dialect}, ${pool ? 'profiles picked from the pool' : 'profiles named'}, ES5 and partner links in-process:`,
    );
    table([
      {
        switches: ok,
        failed: euiccs - ok,
        seconds: fmt(seconds, 2),
        'switches/s': fmt(ok / seconds, 2),
        'CPU ms/switch': fmt(cpuMs / euiccs, 1),
        'CPU cores busy': fmt(cpuMs / 1000 / seconds, 2),
        '× raw crypto': fmt((cpuMs * 1000) / euiccs / refUs, 1),
      },
    ]);
    // Where the wall time goes: each step of the operations (median and slowest over the N switches),
    // and when the switches ended from the start (median, slowest).
    const steps = new Map<string, number[]>();
    for (const op of ended)
      for (const st of op.steps)
        if (st.endedTime !== null)
          steps.set(st.name, [...(steps.get(st.name) ?? []), st.endedTime - st.startedTime]);
    table([
      ...[...steps].map(([step, ms]) => ({
        step,
        'median ms': fmt(median(ms), 0),
        'max ms': fmt(Math.max(...ms), 0),
      })),
      {
        step: 'operation ended (GET), from the start',
        'median ms': fmt(median(switchedAt), 0),
        'max ms': fmt(Math.max(...switchedAt), 0),
      },
      {
        step: 'switch + re-attach ended, from the start',
        'median ms': fmt(median(latencies), 0),
        'max ms': fmt(Math.max(...latencies), 0),
      },
    ]);
    for (const f of failures) console.log(`failed: ${f}`);
    console.log('target (issue 16): CPU per switch ≤ 3 × the raw crypto of a switch');
    if (ok < euiccs) process.exitCode = 1;
  } finally {
    await rig.close({ drain: !timedOut });
  }
}
