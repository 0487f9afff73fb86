// EAP-AKA benchmark (part of `npm run bench -- aaa`): full EAP-AKA authentications per second from a
// concurrent load generator — software cards answering AUTHENTICATE over APDUs, every RADIUS round
// trip, MS-MPPE keys checked against the peer's MSK — against simtrust (`simtrust serve`, its own
// process, SQLite or PostgreSQL) and, in the same run, against Debian's hostapd as the reference
// RADIUS EAP server, its AuC answered over the hlr_auc_gw protocol (test/interop/helpers). Every
// authentication is a full one (the peer presents its permanent identity each time), on both.
//
//   runEapBench(['--seconds', '10', '--concurrency', '64', '--db', 'sqlite|postgres'])
//
// Reports authentications per second, round trips per authentication, latency, the CPU each side
// used per authentication, and the ratio simtrust / hostapd. Targets: ≥ 3× hostapd, ≥ 5,000/s.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { keysOf } from '../src/card/card-file.js';
import { type Config, SETTINGS } from '../src/config/defaults.js';
import { toHex } from '../src/lib/hex.js';
import { createOperator } from '../src/platform/iam/operators.js';
import { systemContext } from '../src/platform/iam/principal.js';
import { openPlatform } from '../src/platform/platform.js';
import { authenticateThroughAp } from '../src/simulator/access-point.js';
import { newCards, type SimulatedCard } from '../src/simulator/cards.js';
import { EapPeer, simOverTerminal } from '../src/simulator/eap-peer.js';
import { RadiusClient } from '../src/simulator/radius-client.js';
import { writeHostapdEapServer } from '../test/interop/helpers/eap-configs.js';
import { HlrAucGw } from '../test/interop/helpers/hlr-auc-gw.js';
import { type BenchDialect, flag, fmt, freePort, freshDatabase, profileArgs, table } from './_support.js';

const REALM = 'wlan.mnc001.mcc001.3gppnetwork.org';

interface Target {
  readonly name: string;
  readonly port: number;
  readonly secret: string;
  /** PID whose CPU time is charged to the server side (and its AuC helper, for hostapd). */
  readonly pids: readonly number[];
}

interface Measured {
  readonly authsPerSecond: number;
  readonly roundTrips: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
  /** Refused in the first round (hostapd: its session table is full). */
  readonly refusedAtOnce: number;
  readonly serverCpuMsPerAuth: number;
  readonly generatorCpuMsPerAuth: number;
}

/** utime + stime of a process in ms (Linux /proc; 100 ticks per second). */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

async function load(
  target: Target,
  cards: readonly SimulatedCard[],
  seconds: number,
  warmup: number,
): Promise<Measured> {
  const sockets = await Promise.all(
    Array.from({ length: Math.ceil(cards.length / 128) }, () =>
      RadiusClient.open({
        host: '127.0.0.1',
        port: target.port,
        secret: target.secret,
        timeoutMs: 2000,
        retries: 2,
      }),
    ),
  );
  let counting = false;
  let done = 0;
  let failures = 0;
  let refusedAtOnce = 0;
  let rounds = 0;
  const latencies: number[] = [];
  const end = Date.now() + (warmup + seconds) * 1000;
  const worker = async (card: SimulatedCard, i: number) => {
    const sim = simOverTerminal(card.terminal);
    while (Date.now() < end) {
      const peer = new EapPeer({
        sim,
        imsi: card.file.imsi,
        realm: REALM,
        method: 'aka',
        useIdentities: false,
      });
      const started = performance.now();
      let ok = false;
      let trips = 0;
      let atOnce = false;
      try {
        const r = await authenticateThroughAp(
          sockets[i % sockets.length] as RadiusClient,
          target.secret,
          peer,
          {
            userName: `0${card.file.imsi}@${REALM}`,
          },
        );
        ok = r.accepted && r.keysMatch === true;
        trips = r.roundTrips;
        atOnce = !r.accepted && r.roundTrips === 1;
      } catch {
        ok = false;
      }
      if (!counting) continue;
      if (ok) {
        done++;
        rounds += trips;
        latencies.push(performance.now() - started);
      } else if (atOnce) refusedAtOnce++;
      else failures++;
    }
  };
  const workers = cards.map((c, i) => worker(c, i));
  await new Promise((r) => setTimeout(r, warmup * 1000));
  counting = true;
  const cpu0 = target.pids.reduce((n, pid) => n + cpuMs(pid), 0);
  const gen0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const counted = done;
  const serverCpu = target.pids.reduce((n, pid) => n + cpuMs(pid), 0) - cpu0;
  const gen = process.cpuUsage(gen0);
  counting = false;
  await Promise.all(workers);
  for (const s of sockets) s.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return {
    authsPerSecond: counted / elapsed,
    roundTrips: counted === 0 ? 0 : rounds / done,
    p50: pct(0.5),
    p99: pct(0.99),
    failures,
    refusedAtOnce,
    serverCpuMsPerAuth: counted === 0 ? 0 : serverCpu / counted,
    generatorCpuMsPerAuth: counted === 0 ? 0 : (gen.user + gen.system) / 1000 / counted,
  };
}

function spawnLogged(
  command: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let output = '';
  child.stdout?.on('data', (d) => {
    output = (output + String(d)).slice(-20_000);
  });
  child.stderr?.on('data', (d) => {
    output = (output + String(d)).slice(-20_000);
  });
  return { child, output: () => output };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await exited;
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  output: () => string,
): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start:\n${output()}`);
}

/** simtrust serve in its own process, with the cards imported and the generator's NAS registered. */
async function withSimtrust<T>(
  dialect: BenchDialect,
  cards: readonly SimulatedCard[],
  fn: (t: Target) => Promise<T>,
): Promise<T> {
  const db = await freshDatabase(dialect);
  const masterKey = randomBytes(32);
  const secret = randomBytes(12).toString('hex');
  const defaults = Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.default]));
  const config = Object.freeze({ ...defaults, demo: false, databaseUrl: db.url, masterKey }) as Config;
  const platform = await openPlatform(config, { masterKey });
  const operator = await createOperator(platform.store, platform.clock, {
    email: 'bench@example.com',
    password: 'bench password 1',
  });
  const ctx = systemContext(operator.operatorId, 'Sim:createSim', 'bench');
  for (const card of cards) {
    const keys = keysOf(card.file);
    await platform.sims.create(ctx, {
      iccid: card.file.iccid,
      imsi: card.file.imsi,
      ki: toHex(keys.ki),
      opc: toHex(keys.opc),
    });
  }
  await platform.aaa.radiusClients.create(ctx, { address: '127.0.0.1', secret, name: 'bench access point' });
  await platform.close();
  const port = await freePort();
  const httpPort = await freePort();
  const server = spawnLogged(
    process.execPath,
    [...profileArgs(), resolve('bin/simtrust.js'), 'serve', '--http-port', String(httpPort)],
    {
      ...process.env,
      SIMTRUST_DATABASE_URL: db.url,
      SIMTRUST_MASTER_KEY: masterKey.toString('base64'),
      SIMTRUST_LOG_LEVEL: 'warn',
      SIMTRUST_DEVICE_HTTP_PORT: '0',
      SIMTRUST_RADIUS_AUTH_PORT: String(port),
      SIMTRUST_RADIUS_ACCT_PORT: '0',
    },
  );
  try {
    await waitFor(
      'simtrust serve',
      async () => {
        if (server.child.exitCode !== null) throw new Error(`simtrust serve exited:\n${server.output()}`);
        return fetch(`http://127.0.0.1:${httpPort}/ready`).then(
          (r) => r.ok,
          () => false,
        );
      },
      server.output,
    );
    return await fn({ name: `simtrust (${dialect})`, port, secret, pids: [server.child.pid ?? 0] });
  } finally {
    await stop(server.child);
    await db.drop();
  }
}

/** hostapd as RADIUS EAP server (driver=none), its AuC the hlr_auc_gw responder with the same cards. */
async function withHostapd<T>(cards: readonly SimulatedCard[], fn: (t: Target) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-bench-hostapd-'));
  const secret = randomBytes(12).toString('hex');
  const hlr = new HlrAucGw();
  for (const card of cards) {
    const keys = keysOf(card.file);
    hlr.add(card.file.imsi, { ki: toHex(keys.ki), opc: toHex(keys.opc), amf: card.file.amf });
  }
  const port = await freePort();
  const { config, hlrSocket } = writeHostapdEapServer(dir, {
    port,
    secret,
    users: ['"0"*\tAKA', '"2"*\tAKA', '"4"*\tAKA'],
  });
  await hlr.listen(hlrSocket);
  const hostapd = spawnLogged('hostapd', [config]);
  try {
    await waitFor(
      'hostapd',
      () => /AP-ENABLED|interface state \w+->ENABLED/.test(hostapd.output()),
      hostapd.output,
    );
    return await fn({ name: 'hostapd 2.10 + hlr_auc_gw', port, secret, pids: [hostapd.child.pid ?? 0] });
  } finally {
    await stop(hostapd.child);
    await hlr.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runEapBench(args: string[]): Promise<void> {
  const seconds = Number(flag(args, '--seconds') ?? 10);
  const concurrency = Number(flag(args, '--concurrency') ?? 64);
  const dialect = (flag(args, '--db') ?? 'sqlite') as BenchDialect;
  const warmup = 2;
  const cards = newCards(concurrency);
  console.log(
    `EAP-AKA full authentications: ${concurrency} concurrent peers (software cards over APDUs), ${seconds} s after ${warmup} s warm-up, ${cpus().length} CPUs shared by server, load generator and reference`,
  );
  const results: Array<[string, Measured]> = [];
  results.push(['simtrust', await withSimtrust(dialect, cards, (t) => load(t, cards, seconds, warmup))]);
  let reference: Measured | undefined;
  try {
    // Fresh cards for the reference: the first ones are far ahead of a new AuC's SQN by now.
    const others = newCards(concurrency);
    reference = await withHostapd(others, (t) => load(t, others, seconds, warmup));
    results.push(['hostapd', reference]);
  } catch (e) {
    console.log(`hostapd reference not measured: ${(e as Error).message.split('\n')[0]}`);
  }
  table(
    results.map(([name, m]) => ({
      server: name === 'simtrust' ? `simtrust (${dialect})` : 'hostapd 2.10 + hlr_auc_gw',
      'auths/s': fmt(m.authsPerSecond),
      'round trips/auth': fmt(m.roundTrips, 1),
      'p50 ms': fmt(m.p50, 1),
      'p99 ms': fmt(m.p99, 1),
      failures: m.failures,
      'refused at once': m.refusedAtOnce,
      'server CPU ms/auth': fmt(m.serverCpuMsPerAuth, 2),
      'generator CPU ms/auth': fmt(m.generatorCpuMsPerAuth, 2),
    })),
  );
  const [one, five] = loadavg();
  console.log(
    `load average during the run: ${fmt(one ?? 0, 1)} (1 min), ${fmt(five ?? 0, 1)} (5 min) on ${cpus().length} CPUs`,
  );
  if (reference && reference.refusedAtOnce > 0)
    console.log(
      'hostapd refuses new conversations at once while its RADIUS session table is full (RADIUS_MAX_SESSION 1000, completed sessions kept 5 s), so it sustains about 200 authentications/s whatever the CPU.',
    );
  const ours = results[0]?.[1];
  if (ours && reference && reference.authsPerSecond > 0) {
    console.log(
      `ratio simtrust / hostapd: ${fmt(ours.authsPerSecond / reference.authsPerSecond, 2)}× (target ≥ 3×); simtrust ${fmt(ours.authsPerSecond)} auths/s (target ≥ 5,000)`,
    );
  }
}
