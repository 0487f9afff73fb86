// `npm run bench -- tokens [--alg RS256,ES256,EdDSA] [--db sqlite|postgres] [--devices 64] [--seconds 5]`
//
// Tokens per second from the device listener of a `simtrust serve` process, requested over HTTP by
// many simulated devices — each from its own session address, attached the real way (RADIUS
// Access-Request + Accounting-Start) — against the raw `crypto.sign` rate of the same algorithm
// measured in this run on one thread. The server signs on libuv's thread pool (signCompactOffLoop),
// so on a machine with a spare core the wall ratio can pass 100%; the per-CPU-second ratio (server
// CPU, all threads) is the cost of everything around the signature. Then p50/p99 latency at half
// the maximum rate. Targets (issue 6): RS256 ≥ 85 % of raw, ES256 ≥ 50 %.

import { spawn } from 'node:child_process';
import { randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { resolve } from 'node:path';
import {
  ALGORITHM_SPECS,
  type EndorseAlgorithm,
  isEndorseAlgorithm,
} from '../src/platform/endorse/rfc-7515-jws.js';
import { createOperator } from '../src/platform/iam/operators.js';
import { systemContext } from '../src/platform/iam/principal.js';
import { openPlatform } from '../src/platform/platform.js';
import { attachVia } from '../test/e2e/endorse-fixture.js';
import { testConfig } from '../test/helpers/app.js';
import {
  type BenchDialect,
  flag,
  fmt,
  freePort,
  freshDatabase,
  latencyAtRate,
  p99Cell,
  profileArgs,
  table,
} from './_support.js';

const IMEI = '490154203237518';

/** CPU seconds (user + system) a process has used so far, from /proc (Linux; clock ticks of 10 ms). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Raw signatures of a JWS-sized input for `ms` milliseconds: per wall second, and per CPU second
 * (the machine may be shared; per CPU second is what compares with the server's CPU per token).
 */
function rawSignRate(alg: EndorseAlgorithm, ms = 2000): { wall: number; cpu: number } {
  const spec = ALGORITHM_SPECS[alg];
  const { privateKey } = spec.generate();
  const input = Buffer.from(randomBytes(230).toString('base64url'));
  const key = spec.dsaEncoding ? { key: privateKey, dsaEncoding: spec.dsaEncoding } : privateKey;
  let n = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 20; i++) sign(spec.digest, input, key);
    n += 20;
  }
  const cpu = process.cpuUsage(cpu0);
  return { wall: (n * 1000) / (performance.now() - start), cpu: n / ((cpu.user + cpu.system) / 1e6) };
}

interface Device {
  readonly address: string;
  readonly agent: Agent;
}

function getToken(url: string, device: Device): Promise<number> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    request(url, { agent: device.agent }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? done(performance.now() - t0) : fail(new Error(`HTTP ${res.statusCode}`)),
      );
    })
      .on('error', fail)
      .end();
  });
}

/** Closed loop: `concurrency` requests always in flight for `seconds`. */
async function maxRate(
  url: string,
  devices: Device[],
  concurrency: number,
  seconds: number,
  serverPid?: number,
) {
  const cpu0 = serverPid === undefined ? 0 : processCpuSeconds(serverPid);
  const end = performance.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      const device = devices[w % devices.length] as Device;
      while (performance.now() < end) {
        try {
          await getToken(url, device);
          done++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const serverCpu = serverPid === undefined ? 0 : processCpuSeconds(serverPid) - cpu0;
  return { rps: done / seconds, perCpuSecond: serverCpu > 0 ? done / serverCpu : 0, errors };
}

async function benchAlgorithm(
  alg: EndorseAlgorithm,
  dialect: BenchDialect,
  deviceCount: number,
  seconds: number,
) {
  const db = await freshDatabase(dialect);
  const masterKey = randomBytes(32);
  const secret = randomBytes(12).toString('hex');
  // The fleet: an operator, the packet gateway as a NAS, a group with tokens on, active SIMs.
  const platform = await openPlatform(testConfig({ databaseUrl: db.url, masterKey }), { masterKey });
  const imsis: string[] = [];
  try {
    const { operatorId } = await createOperator(platform.store, platform.clock, {
      email: 'bench@example.com',
      password: randomBytes(12).toString('hex'),
    });
    const ctx = systemContext(operatorId, 'Bench:tokens', 'bench');
    await platform.aaa.radiusClients.create(ctx, { address: '127.0.0.1', secret, name: 'bench gateway' });
    const group = await platform.groups.create(ctx, {
      configuration: { Endorse: { enabled: true, algorithm: alg } },
    });
    for (let i = 0; i < deviceCount; i++) {
      const imsi = `00101${String(900000 + i).padStart(10, '0')}`;
      const sim = await platform.sims.create(ctx, {
        imsi,
        ki: randomBytes(16).toString('hex'),
        opc: randomBytes(16).toString('hex'),
        groupId: group.groupId,
      });
      await platform.sims.transition(ctx, sim.simId, 'activate');
      imsis.push(imsi);
    }
  } finally {
    await platform.close();
  }

  const [httpPort, devicePort, authPort, acctPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const child = spawn(process.execPath, [...profileArgs(), resolve('bin/simtrust.js'), 'serve'], {
    env: {
      ...process.env,
      SIMTRUST_LOG_LEVEL: 'warn',
      SIMTRUST_DATABASE_URL: db.url,
      SIMTRUST_MASTER_KEY: masterKey.toString('base64'),
      SIMTRUST_HTTP_PORT: String(httpPort),
      SIMTRUST_DEVICE_HTTP_PORT: String(devicePort),
      SIMTRUST_RADIUS_AUTH_PORT: String(authPort),
      SIMTRUST_RADIUS_ACCT_PORT: String(acctPort),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
      if (
        await fetch(`http://127.0.0.1:${httpPort}/ready`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const devices: Device[] = [];
    for (const imsi of imsis) {
      const { address } = await attachVia({ authPort, acctPort, secret }, imsi, IMEI);
      devices.push({ address, agent: new Agent({ keepAlive: true, localAddress: address }) });
    }
    const url = `http://127.0.0.1:${devicePort}/`;
    await maxRate(url, devices, 16, 1); // warm-up: JIT, key cache, connections
    const raw = rawSignRate(alg);
    const max = await maxRate(url, devices, 32, seconds, child.pid);
    const half = await latencyAtRate(url, {}, max.rps / 2, seconds, {
      localAddresses: devices.map((d) => d.address),
    });
    for (const d of devices) d.agent.destroy();
    return {
      alg,
      dialect,
      devices: devices.length,
      raw,
      http: max.rps,
      httpPerCpu: max.perCpuSecond,
      ...half,
      errors: max.errors + half.errors,
    };
  } finally {
    await new Promise<void>((r) => {
      child.once('exit', () => r());
      child.kill('SIGTERM');
    });
    await db.drop();
  }
}

const TARGETS: Partial<Record<EndorseAlgorithm, number>> = { RS256: 85, ES256: 50 };

export async function run(args: string[]): Promise<void> {
  const algs = (flag(args, '--alg') ?? 'RS256,ES256,EdDSA').split(',');
  if (!algs.every(isEndorseAlgorithm)) throw new Error('--alg takes RS256, ES256, EdDSA');
  const dialect = (flag(args, '--db') ?? 'sqlite') as BenchDialect;
  const devices = Number(flag(args, '--devices') ?? 64);
  const seconds = Number(flag(args, '--seconds') ?? 5);
  const results = [];
  for (const alg of algs) {
    console.log(`-- ${alg} on ${dialect}, ${devices} devices, ${seconds} s per phase`);
    results.push(await benchAlgorithm(alg, dialect, devices, seconds));
  }
  console.log(
    'Per wall second, and per CPU second of the one process doing the work (the server; the bench for raw signing) —',
    'the second ratio holds when other processes share the cores.',
  );
  table(
    results.map((r) => ({
      alg: r.alg,
      database: r.dialect,
      'raw sign/s': fmt(r.raw.wall),
      'HTTP tokens/s': fmt(r.http),
      'HTTP/raw (wall)': `${fmt((100 * r.http) / r.raw.wall, 1)}%`,
      'raw sign/CPU-s': fmt(r.raw.cpu),
      'tokens/CPU-s': fmt(r.httpPerCpu),
      'HTTP/raw (CPU)': `${fmt((100 * r.httpPerCpu) / r.raw.cpu, 1)}%`,
      target: TARGETS[r.alg] ? `≥ ${TARGETS[r.alg]}%` : '—',
      'p50 ms @ half': fmt(r.p50, 2),
      'p99 ms @ half': p99Cell(r),
      errors: r.errors,
    })),
  );
}
