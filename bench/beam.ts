// npm run bench -- beam [--seconds S] [--rounds R] [--db sqlite|postgres] [--only http|mqtt]
//
// HTTP: the maximum requests per second (10 connections) and p50/p99 at half that rate (evenly
// spaced, open loop) of a 1 KB GET to an HTTPS destination, three ways in the same run:
//   - direct: the load generator speaks HTTPS to the destination itself;
//   - minimal proxy: plain HTTP to the least proxy Node can run (node:http + one undici pool, the
//     gateway benchmark's reference, bench/_proxy-reference.ts), which forwards over HTTPS;
//   - Beam: plain HTTP to Beam's HTTP entry point of `simtrust serve`, from an address that is a SIM
//     session's: the SIM looked up per request, its group's SoracomBeam entry, X-Soracom-IMSI /
//     -SIM-ID / -Timestamp and the signature with the group's PSK (a credential set), forwarded
//     over HTTPS on a kept-alive pool.
// Target: Beam ≥ 60% of the minimal proxy's rate (median of R rounds, the two measured back to back). Beam's own CPU per request is printed beside it
// (SIMTRUST_BENCH_CPU_PROFILE=<dir> writes a V8 profile of the serve process).
//
// MQTT (beammqtt): messages/s through Beam beside direct to Mosquitto — bench/_beam-mqtt.ts, run
// after the HTTP part (--only mqtt: that part alone).
//
// The destination, the minimal proxy and the server run in their own processes; the load
// generator runs here.

import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newCardFile } from '../src/card/card-file.js';
import { loadConfig } from '../src/config/load.js';
import { systemClock } from '../src/lib/clock.js';
import { createOperator } from '../src/platform/iam/operators.js';
import { systemContext } from '../src/platform/iam/principal.js';
import { openPlatform } from '../src/platform/platform.js';
import { runMqtt } from './_beam-mqtt.js';
import { maxRate, profile, ready, startMinimalProxy, startProcess, stopProcess } from './_proxy-reference.js';
import {
  type BenchDialect,
  flag,
  fmt,
  freePort,
  freshDatabase,
  latencyAtRate,
  p99Cell,
  startServer,
  table,
} from './_support.js';

/** CPU time (user + system, ms) a process has used so far, from /proc. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks (USER_HZ = 100)
}

/** A self-signed P-256 certificate for 127.0.0.1 (openssl), in a temporary directory. */
function tlsIdentity(dir: string): { key: string; cert: string; certFile: string } {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=beam-bench-destination',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}

/** The destination: a 1 KB JSON answer for every request, over HTTPS. */
const startHttpsDestination = (key: string, cert: string) =>
  startProcess(`
    const body = JSON.stringify({ ok: true, pad: 'x'.repeat(1000) });
    require('node:https').createServer({ key: ${JSON.stringify(key)}, cert: ${JSON.stringify(cert)} }, (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }).listen(PORT, '127.0.0.1', ${ready});`).then((p) => ({ ...p, url: p.url.replace('http:', 'https:') }));

/**
 * The database `simtrust serve` opens: an operator, a PSK credential set, a group whose SoracomBeam
 * HTTP entry forwards to `destination` with identity headers and a signature, and an active SIM in
 * it with an online session at 127.0.0.1 (the load generator's address).
 */
async function prepare(databaseUrl: string, masterKey: Buffer, destination: string): Promise<void> {
  const config = loadConfig({ flags: { databaseUrl }, env: {} });
  const platform = await openPlatform(config, { masterKey });
  try {
    const operator = await createOperator(platform.store, systemClock, {
      email: `beam-bench-${randomBytes(3).toString('hex')}@example.com`,
      password: randomBytes(12).toString('hex'),
    });
    const ctx = (op: string) => systemContext(operator.operatorId, op, 'bench');
    await platform.credentials.create(ctx('Credential:createCredential'), 'bench-psk', {
      type: 'psk',
      credentials: { key: randomBytes(16).toString('hex') },
    });
    const group = await platform.groups.create(ctx('Group:createGroup'), { tags: { name: 'beam-bench' } });
    await platform.groups.putConfiguration(
      ctx('Group:putConfigurationParameters'),
      group.groupId,
      'SoracomBeam',
      [
        {
          key: 'http://beam.soracom.io:8888/',
          value: {
            name: 'bench',
            destination: `${destination}/ingest`,
            enabled: true,
            addSubscriberHeader: true,
            addSimIdHeader: true,
            addSignature: true,
            psk: { $credentialsId: 'bench-psk' },
          },
        },
      ],
    );
    const file = newCardFile({ imsi: '001019000000001', msisdn: '819000000001' });
    const sim = await platform.sims.create(ctx('Sim:createSim'), {
      iccid: file.iccid,
      imsi: file.imsi,
      msisdn: '819000000001',
      ki: file.ki,
      opc: file.opc,
      groupId: group.groupId,
    });
    await platform.sims.transition(ctx('Sim:activateSim'), sim.simId, 'activate');
    const now = Date.now();
    // The session the AAA would have recorded on attach (docs/aaa.md), at the load generator's address.
    await platform.store.db
      .insertInto('sim_sessions')
      .values({
        session_id: randomUUID(),
        operator_id: operator.operatorId,
        sim_id: sim.simId,
        imsi: file.imsi,
        imei: '356938035643809',
        ue_ip: '127.0.0.1',
        apn: 'bench',
        nas_address: '127.0.0.1',
        acct_session_id: randomUUID(),
        cell: null,
        status: 'online',
        speed_class: 's1.standard',
        input_octets: 0,
        output_octets: 0,
        input_packets: 0,
        output_packets: 0,
        created_at: now,
        updated_at: now,
        ended_at: null,
        terminate_cause: null,
      })
      .execute();
  } finally {
    await platform.close();
  }
}

async function runHttp(dialect: BenchDialect, seconds: number, rounds: number): Promise<void> {
  const db = await freshDatabase(dialect);
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-beam-bench-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    const tls = tlsIdentity(dir);
    // The open-loop sender (its own process) checks the destination's certificate for the direct path.
    process.env.NODE_EXTRA_CA_CERTS = tls.certFile;
    const destination = await startHttpsDestination(tls.key, tls.cert);
    stops.push(() => stopProcess(destination.child));
    const masterKey = randomBytes(32);
    await prepare(db.url, masterKey, destination.url);
    const beamPort = await freePort();
    const server = await startServer({
      SIMTRUST_DATABASE_URL: db.url,
      SIMTRUST_MASTER_KEY: masterKey.toString('base64'),
      SIMTRUST_BEAM_HTTP_PORT: String(beamPort),
      SIMTRUST_BEAM_ALLOWED_DESTINATION_NETWORKS: '127.0.0.1',
      SIMTRUST_BEAM_DESTINATION_CA_FILE: tls.certFile,
      // Every request of the load generator comes from the one session address.
      SIMTRUST_BEAM_HTTP_MAX_CONNECTIONS_PER_SOURCE: '10000',
    });
    stops.push(() => server.stop());
    const minimal = await startMinimalProxy(destination.url, { ca: tls.cert });
    stops.push(() => stopProcess(minimal.child));
    const beamUrl = `http://127.0.0.1:${beamPort}/data`;
    const check = await fetch(beamUrl);
    if (check.status !== 200) throw new Error(`Beam answered ${check.status}: ${await check.text()}`);

    const direct = await profile(`${destination.url}/ingest/data`, {}, seconds);
    // What the server process spends with no request at all (its jobs, timers): subtracted below.
    const idle0 = cpuMs(server.pid);
    const idleStart = performance.now();
    await new Promise((r) => setTimeout(r, 3000));
    const idleCpuPerMs = (cpuMs(server.pid) - idle0) / (performance.now() - idleStart);
    // The minimal proxy and Beam alternate, `rounds` times: on a shared machine the load of the
    // moment moves both, so each round's ratio is taken of two runs back to back, and the median
    // is the figure (each round is printed too).
    const floorUrl = `${minimal.url}/ingest/data`;
    const ratios: number[] = [];
    const floorRates: number[] = [];
    const beamRates: number[] = [];
    let floorCpuMs = 0;
    let beamCpuMs = 0;
    for (let round = 0; round < rounds; round++) {
      const c0 = cpuMs(minimal.child.pid);
      const f = await maxRate(floorUrl, {}, seconds);
      const c1 = cpuMs(minimal.child.pid);
      const b0 = cpuMs(server.pid);
      const bStart = performance.now();
      const b = await maxRate(beamUrl, {}, seconds);
      const b1 = cpuMs(server.pid) - idleCpuPerMs * (performance.now() - bStart);
      if (f.errors > 0 || b.errors > 0)
        throw new Error(`errors: minimal proxy ${f.errors}, Beam ${b.errors}`);
      floorCpuMs += c1 - c0;
      beamCpuMs += b1 - b0;
      floorRates.push(f.rps);
      beamRates.push(b.rps);
      ratios.push(b.rps / f.rps);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
    const floorRps = median(floorRates);
    const beamRps = median(beamRates);
    const floorHalf = await latencyAtRate(floorUrl, {}, floorRps / 2, seconds);
    const beamHalf = await latencyAtRate(beamUrl, {}, beamRps / 2, seconds);
    if (beamHalf.errors > 0) throw new Error(`${beamHalf.errors} errors through Beam at half rate`);
    const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0) * seconds;
    table([
      { path: 'HTTPS direct', 'req/s': fmt(direct.maxRps), 'p50 ms': direct.p50, 'p99 ms': p99Cell(direct) },
      {
        path: 'minimal Node proxy (undici) → HTTPS',
        'req/s': fmt(floorRps),
        'p50 ms': floorHalf.p50,
        'p99 ms': p99Cell(floorHalf),
      },
      {
        path: 'Beam HTTP entry point → HTTPS',
        'req/s': fmt(beamRps),
        'p50 ms': beamHalf.p50,
        'p99 ms': p99Cell(beamHalf),
      },
    ]);
    console.log(
      `Beam/minimal proxy = ${fmt(100 * median(ratios), 1)}% (median of ${rounds} alternating rounds: ${ratios.map((r) => `${fmt(100 * r, 1)}%`).join(', ')}; target ≥ 60%); Beam/direct = ${fmt((100 * beamRps) / direct.maxRps, 1)}%; on ${dialect}, ${seconds} s per run`,
    );
    console.log(
      `CPU per request at the maximum rate: Beam (simtrust serve, its idle ${fmt(idleCpuPerMs * 1000, 0)} ms/s subtracted) ${fmt((beamCpuMs * 1000) / sum(beamRates), 0)} µs, minimal proxy ${fmt((floorCpuMs * 1000) / sum(floorRates), 0)} µs (Beam adds the session lookup, the SoracomBeam entry, the signature and its checks)`,
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    delete process.env.NODE_EXTRA_CA_CERTS;
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
}

export async function run(args: string[]): Promise<void> {
  const dialect = (flag(args, '--db') ?? 'sqlite') as BenchDialect;
  const seconds = Number(flag(args, '--seconds') ?? 5);
  const rounds = Number(flag(args, '--rounds') ?? 3);
  const only = flag(args, '--only');
  if (only === undefined || only === 'http') await runHttp(dialect, seconds, rounds);
  // --- MQTT (beammqtt): messages/s through Beam beside direct to Mosquitto, from bench/_beam-mqtt.ts.
  if (only === undefined || only === 'mqtt') await runMqtt(dialect, seconds, { rounds });
}
