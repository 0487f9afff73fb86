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

import {
  createCipheriv,
  createECDH,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { esimHttpsRig } from './_esim-https-rig.js';
import { esimRig } from './_esim-rig.js';
import { type BenchDialect, flag, fmt, table } from './_support.js';

type Kind = 'ecdsaSign' | 'ecdsaVerify' | 'ecdh' | 'ecKeygen' | 'aesCalls' | 'aesBytes' | 'gcmCalls';
type Counts = Record<Kind, number>;
const zero = (): Counts => ({
  ecdsaSign: 0,
  ecdsaVerify: 0,
  ecdh: 0,
  ecKeygen: 0,
  aesCalls: 0,
  aesBytes: 0,
  gcmCalls: 0,
});

// biome-ignore lint/suspicious/noExplicitAny: patching node:crypto's exports for counting
type AnyFn = (...a: any[]) => any;

/**
 * Counts node:crypto operations while `body` runs. The CommonJS exports of node:crypto are wrapped
 * and syncBuiltinESMExports() makes the modules' named imports see the wrappers; restored afterwards.
 */
async function counting<T>(body: () => Promise<T>): Promise<{ value: T; counts: Counts }> {
  const require = createRequire(import.meta.url);
  const c = require('node:crypto') as Record<string, AnyFn> & {
    X509Certificate: { prototype: Record<string, AnyFn> };
  };
  const counts = zero();
  const saved: [Record<string, AnyFn>, string, AnyFn][] = [];
  // ESIM_BENCH_TRACE=1 prints where each counted operation comes from.
  const trace = process.env.ESIM_BENCH_TRACE === '1';
  const wrap = (o: Record<string, AnyFn>, name: string, f: (orig: AnyFn) => AnyFn) => {
    const orig = o[name] as AnyFn;
    saved.push([o, name, orig]);
    const wrapped = f(orig);
    o[name] = trace
      ? function (this: unknown, ...a: unknown[]) {
          console.log(name, new Error().stack?.split('\n').slice(2, 5).join(' <'));
          return wrapped.apply(this, a);
        }
      : wrapped;
  };
  wrap(c, 'sign', (orig) => (...a) => {
    counts.ecdsaSign++;
    return orig(...a);
  });
  wrap(c, 'verify', (orig) => (...a) => {
    counts.ecdsaVerify++;
    return orig(...a);
  });
  wrap(c, 'createSign', (orig) => (...a) => {
    counts.ecdsaSign++;
    return orig(...a);
  });
  wrap(c, 'createVerify', (orig) => (...a) => {
    counts.ecdsaVerify++;
    return orig(...a);
  });
  wrap(
    c.X509Certificate.prototype,
    'verify',
    (orig) =>
      function (this: unknown, ...a: unknown[]) {
        counts.ecdsaVerify++;
        return orig.apply(this, a);
      },
  );
  wrap(c, 'diffieHellman', (orig) => (...a) => {
    counts.ecdh++;
    return orig(...a);
  });
  wrap(c, 'createECDH', (orig) => (...a) => {
    const ecdh = orig(...a);
    const generate = ecdh.generateKeys.bind(ecdh);
    ecdh.generateKeys = (...b: unknown[]) => {
      counts.ecKeygen++;
      return generate(...b);
    };
    const compute = ecdh.computeSecret.bind(ecdh);
    ecdh.computeSecret = (...b: unknown[]) => {
      counts.ecdh++;
      return compute(...b);
    };
    return ecdh;
  });
  wrap(c, 'generateKeyPairSync', (orig) => (...a) => {
    counts.ecKeygen++;
    return orig(...a);
  });
  for (const name of ['createCipheriv', 'createDecipheriv'])
    wrap(c, name, (orig) => (...a) => {
      const cipher = orig(...a);
      const algorithm = String(a[0]).toLowerCase();
      if (algorithm.includes('gcm')) {
        counts.gcmCalls++;
        return cipher;
      }
      counts.aesCalls++;
      const update = cipher.update.bind(cipher);
      cipher.update = (data: Uint8Array, ...rest: unknown[]) => {
        counts.aesBytes += data.length;
        return update(data, ...rest);
      };
      return cipher;
    });
  syncBuiltinESMExports();
  try {
    const value = await body();
    return { value, counts };
  } finally {
    for (const [o, name, orig] of saved.reverse()) o[name] = orig;
    syncBuiltinESMExports();
  }
}

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
 * Process CPU microseconds (user + system) per call of `f`, over at least `ms` of CPU after a warm-up:
 * the same clock as the measured path's CPU per procedure, so load from other processes on the shared
 * machine does not inflate the reference.
 */
function microsPerCall(f: () => void, ms = 300): number {
  for (let i = 0; i < 50; i++) f();
  let n = 0;
  const start = process.cpuUsage();
  let used = 0;
  while (used < ms * 1000) {
    for (let i = 0; i < 20; i++) f();
    n += 20;
    const d = process.cpuUsage(start);
    used = d.user + d.system;
  }
  return used / n;
}

interface UnitCosts {
  ecdsaSign: number;
  ecdsaVerify: number;
  ecdh: number;
  ecKeygen: number;
  /** One createCipheriv + update of `bytes` + final. */
  aesCall: number;
}

function unitCosts(aesBytesPerCall: number): UnitCosts {
  const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = randomBytes(200);
  const signature = sign('sha256', data, { key: a.privateKey, dsaEncoding: 'ieee-p1363' });
  const pub: KeyObject = a.publicKey;
  const key = randomBytes(16);
  const iv = Buffer.alloc(16);
  const block = randomBytes(Math.max(16, Math.ceil(aesBytesPerCall / 16) * 16));
  return {
    ecdsaSign: microsPerCall(() => sign('sha256', data, { key: a.privateKey, dsaEncoding: 'ieee-p1363' })),
    ecdsaVerify: microsPerCall(() =>
      verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, signature),
    ),
    ecdh: microsPerCall(() => diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey })),
    ecKeygen: microsPerCall(() => createECDH('prime256v1').generateKeys()),
    aesCall: microsPerCall(() => {
      const c = createCipheriv('aes-128-cbc', key, iv);
      c.setAutoPadding(false);
      c.update(block);
      c.final();
    }),
  };
}

interface Run {
  procedures: number;
  failed: number;
  seconds: number;
  perSecond: number;
  cpuMsPerProcedure: number;
  cpuCores: number;
}

type Bearer = 'in-process' | 'https';
const rigOf = (bearer: Bearer) => (bearer === 'https' ? esimHttpsRig : esimRig);

async function measured(cards: number, dialect: BenchDialect, bearer: Bearer): Promise<Run> {
  const rig = await rigOf(bearer)({ cards, dialect });
  try {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const statuses = await Promise.all(rig.cards.map((_, i) => rig.download(i, `bench-${i}`)));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    // Complete = the SM-DP answered success and the card really holds profile B, enabled.
    const ok = statuses.filter((s, i) => s === 'EXECUTED_SUCCESS' && rig.enabledB(i)).length;
    return {
      procedures: ok,
      failed: statuses.length - ok,
      seconds,
      perSecond: ok / seconds,
      cpuMsPerProcedure: cpuMs / statuses.length,
      cpuCores: cpuMs / 1000 / seconds,
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

export async function run(args: string[]): Promise<void> {
  const cards = Number(flag(args, '--cards') ?? 100);
  const dialect = (flag(args, '--db') ?? 'sqlite') as BenchDialect;
  const repeat = Number(flag(args, '--repeat') ?? 1);
  const bearer = (flag(args, '--bearer') ?? 'in-process') as Bearer;
  if (bearer !== 'in-process' && bearer !== 'https') throw new Error('--bearer: in-process or https');
  if (!Number.isInteger(cards) || cards < 1) throw new Error('--cards: a positive integer');
  if (dialect !== 'sqlite' && dialect !== 'postgres') throw new Error('--db: sqlite or postgres');

  // 1. What one procedure really does, counted on a rig of its own (setup not counted).
  const one = await rigOf(bearer)({ cards: 1, dialect });
  let counts: Counts;
  let sql: { total: number; commits: number; byKind: Map<string, number> };
  try {
    const r = await counting(() =>
      dialect === 'sqlite'
        ? statements(() => one.download(0, 'bench-count'))
        : one
            .download(0, 'bench-count')
            .then((value) => ({ value, total: 0, commits: 0, byKind: new Map<string, number>() })),
    );
    if (r.value.value !== 'EXECUTED_SUCCESS') throw new Error(`the counted procedure ended ${r.value.value}`);
    counts = r.counts;
    sql = r.value;
  } finally {
    await one.close();
  }
  if (counts.ecdsaVerify === 0 || counts.aesCalls === 0)
    throw new Error('node:crypto was not instrumented (no verification or AES call seen)');

  // 2. The raw crypto of one procedure, timed now.
  const unit = unitCosts(counts.aesBytes / counts.aesCalls);
  const refUs =
    counts.ecdsaSign * unit.ecdsaSign +
    counts.ecdsaVerify * unit.ecdsaVerify +
    counts.ecdh * unit.ecdh +
    counts.ecKeygen * unit.ecKeygen +
    counts.aesCalls * unit.aesCall;
  console.log(`one procedure's crypto (${dialect}, ES5 ${bearer}), counted by instrumenting node:crypto:`);
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
      operation: `AES-128 CBC/ECB calls (${fmt(counts.aesBytes)} bytes, CMAC + SCP03/SCP03t)`,
      count: counts.aesCalls,
      'µs each': fmt(unit.aesCall, 2),
    },
    { operation: 'AES-GCM (key ring sealing, not in the reference)', count: counts.gcmCalls, 'µs each': '-' },
    { operation: 'reference: raw crypto per procedure', count: '', 'µs each': fmt(refUs, 0) },
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
  const rows = runs.map((r, i) => ({
    run: i + 1,
    procedures: r.procedures,
    failed: r.failed,
    seconds: fmt(r.seconds, 2),
    'procedures/s': fmt(r.perSecond, 1),
    'CPU ms/procedure': fmt(r.cpuMsPerProcedure, 1),
    'CPU cores busy': fmt(r.cpuCores, 2),
    '× raw crypto': fmt((r.cpuMsPerProcedure * 1000) / refUs, 1),
  }));
  if (runs.length > 1)
    rows.push({
      run: 'median' as unknown as number,
      procedures: median(runs.map((r) => r.procedures)),
      failed: median(runs.map((r) => r.failed)),
      seconds: fmt(median(runs.map((r) => r.seconds)), 2),
      'procedures/s': fmt(median(runs.map((r) => r.perSecond)), 1),
      'CPU ms/procedure': fmt(median(runs.map((r) => r.cpuMsPerProcedure)), 1),
      'CPU cores busy': fmt(median(runs.map((r) => r.cpuCores)), 2),
      '× raw crypto': fmt((median(runs.map((r) => r.cpuMsPerProcedure)) * 1000) / refUs, 1),
    });
  console.log(
    `\nDownloadProfile(enable) with ${cards} eUICCs in parallel, ${dialect}, ES5 ${
      bearer === 'https'
        ? "SMS (SCP80) + HTTPS (PSK-TLS over the modems' BIP relay) as the router picks"
        : 'in-process (no SMS/PSK-TLS bearer)'
    }:`,
  );
  table(rows);
  console.log('targets (issue 15): ≥ 50 procedures/s; CPU per procedure ≤ 3 × the raw crypto');
}
