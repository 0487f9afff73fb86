// The MQTT half of `npm run bench -- beam` (bench/beam.ts calls runMqtt): QoS 1 messages per second
// acknowledged by Mosquitto, two ways in the same run, with the same publisher code:
//   - direct: the publishers speak MQTT over TLS to Mosquitto themselves, with its username and
//     password (what a device would have to do without Beam);
//   - Beam: the publishers speak plain MQTT, without credentials, to Beam's MQTT entry point of
//     `simtrust serve` from an address that is a SIM session's; Beam looks the SIM up, reads the
//     group's SoracomBeam mqtt:// entry and its credential set, and opens one TLS connection to the
//     same Mosquitto listener per device connection, appending /{IMSI} to every topic; each device
//     PUBACK is Mosquitto's PUBACK relayed.
// Each publisher keeps a window of QoS 1 PUBLISHes in flight (100-byte payloads) and sends the
// next on every PUBACK; the rate is PUBACKs per second over the measured window, after a warm-up.
// Target: Beam ≥ 50% of direct. Also shown: plain MQTT straight to Mosquitto (no TLS anywhere), the
// ceiling of what the publishers and Mosquitto do on this machine. Mosquitto (TLS listener,
// password file), the server and the publishers each run in their own process (the publishers in
// this one). The direct path pays TLS in the publishers' process; Beam pays it in its own, with the
// writes of one event-loop turn in one TLS record.

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import mqtt from 'mqtt';
import { generate, type Packet } from 'mqtt-packet';
import { newCardFile } from '../src/card/card-file.js';
import { loadConfig } from '../src/config/load.js';
import { systemClock } from '../src/lib/clock.js';
import { createOperator } from '../src/platform/iam/operators.js';
import { systemContext } from '../src/platform/iam/principal.js';
import { openPlatform } from '../src/platform/platform.js';
import { MqttDecoder } from '../src/servers/beam/mqtt-packets.js';
import { startMosquitto } from '../test/interop/helpers/mosquitto.js';
import { type BenchDialect, fmt, freePort, freshDatabase, startServer, table } from './_support.js';

const IMSI = '001019000000077';
const PAYLOAD = Buffer.alloc(100, 0x61);

/** CPU time (user + system, ms) a process has used so far, from /proc. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** The database `simtrust serve` opens: a SIM with a session at 127.0.0.1 whose group's mqtt:// entry names the broker. */
async function prepare(
  databaseUrl: string,
  masterKey: Buffer,
  broker: { port: number; username: string; password: string },
): Promise<void> {
  const platform = await openPlatform(loadConfig({ flags: { databaseUrl }, env: {} }), { masterKey });
  try {
    const operator = await createOperator(platform.store, systemClock, {
      email: `beam-mqtt-bench-${randomBytes(3).toString('hex')}@example.com`,
      password: randomBytes(12).toString('hex'),
    });
    const ctx = (op: string) => systemContext(operator.operatorId, op, 'bench');
    await platform.credentials.create(ctx('Credential:createCredential'), 'bench-broker', {
      type: 'username-password-credentials',
      credentials: { username: broker.username, password: broker.password },
    });
    const group = await platform.groups.create(ctx('Group:createGroup'), {
      tags: { name: 'beam-mqtt-bench' },
    });
    await platform.groups.putConfiguration(
      ctx('Group:putConfigurationParameters'),
      group.groupId,
      'SoracomBeam',
      [
        {
          key: 'mqtt://beam.soracom.io:1883',
          value: {
            name: 'bench',
            enabled: true,
            destination: `mqtts://127.0.0.1:${broker.port}`,
            addSubscriberHeader: true,
            password: { $credentialsId: 'bench-broker' },
          },
        },
      ],
    );
    const file = newCardFile({ imsi: IMSI, msisdn: '819000000077' });
    const sim = await platform.sims.create(ctx('Sim:createSim'), {
      iccid: file.iccid,
      imsi: IMSI,
      msisdn: '819000000077',
      ki: file.ki,
      opc: file.opc,
      groupId: group.groupId,
    });
    await platform.sims.transition(ctx('Sim:activateSim'), sim.simId, 'activate');
    const now = Date.now();
    // The session the AAA records on attach (docs/aaa.md), at the publishers' address.
    await platform.store.db
      .insertInto('sim_sessions')
      .values({
        session_id: randomUUID(),
        operator_id: operator.operatorId,
        sim_id: sim.simId,
        imsi: IMSI,
        imei: '356938035643877',
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

interface Target {
  readonly port: number;
  readonly tls?: { readonly ca: string };
  readonly username?: string;
  readonly password?: string;
}

/** One publisher: CONNECT, then `window` QoS 1 PUBLISHes in flight; counts PUBACKs after `measureFrom`. */
async function publisher(
  target: Target,
  clientId: string,
  window: number,
  clock: { measureFrom: number; stopAt: number },
): Promise<number> {
  const socket: Socket = target.tls
    ? tlsConnect({ host: '127.0.0.1', port: target.port, ca: target.tls.ca })
    : netConnect({ host: '127.0.0.1', port: target.port });
  socket.setNoDelay(true);
  const decoder = new MqttDecoder(1 << 20, 4);
  const send = (p: Packet) => socket.write(generate(p, { protocolVersion: 4 }));
  let nextId = 1;
  let acked = 0;
  let inFlight = 0;
  const publish = () => {
    inFlight++;
    const messageId = nextId;
    nextId = nextId === 65535 ? 1 : nextId + 1;
    send({
      cmd: 'publish',
      topic: `bench/${clientId}`,
      payload: PAYLOAD,
      qos: 1,
      messageId,
      retain: false,
      dup: false,
    });
  };
  return new Promise<number>((resolve, reject) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.end(generate({ cmd: 'disconnect' }, { protocolVersion: 4 }));
      resolve(acked);
    };
    socket.once(target.tls ? 'secureConnect' : 'connect', () =>
      send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId,
        clean: true,
        keepalive: 60,
        ...(target.username !== undefined ? { username: target.username } : {}),
        ...(target.password !== undefined ? { password: Buffer.from(target.password) } : {}),
      }),
    );
    socket.on('error', (e) => (done ? undefined : reject(e)));
    socket.on('close', () => (done ? undefined : reject(new Error(`${clientId}: connection closed`))));
    socket.on('data', (chunk: Buffer) => {
      const packets = decoder.push(chunk);
      if (!Array.isArray(packets)) return reject(new Error(packets.message));
      socket.cork();
      for (const p of packets) {
        if (p.cmd === 'connack') {
          if (p.returnCode !== 0) return reject(new Error(`${clientId}: CONNACK ${p.returnCode}`));
          for (let i = 0; i < window; i++) publish();
        } else if (p.cmd === 'puback') {
          inFlight--;
          const now = performance.now();
          if (now >= clock.measureFrom && now < clock.stopAt) acked++;
          if (now >= clock.stopAt) {
            if (inFlight === 0) finish();
          } else publish();
        }
      }
      process.nextTick(() => socket.uncork());
    });
  });
}

/** `connections` publishers for warm-up + `seconds`; acknowledged messages per second. */
async function rate(
  target: Target,
  connections: number,
  window: number,
  seconds: number,
  tag: string,
): Promise<number> {
  const start = performance.now();
  const clock = { measureFrom: start + 1000, stopAt: start + 1000 + seconds * 1000 };
  const acked = await Promise.all(
    Array.from({ length: connections }, (_, i) =>
      publisher(target, `${tag}-${i}-${randomBytes(3).toString('hex')}`, window, clock),
    ),
  );
  return acked.reduce((a, b) => a + b, 0) / seconds;
}

export async function runMqtt(
  dialect: BenchDialect,
  seconds: number,
  {
    connections = 4,
    window = 64,
    rounds = 3,
  }: { connections?: number; window?: number; rounds?: number } = {},
): Promise<void> {
  const db = await freshDatabase(dialect);
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-beam-mqtt-bench-'));
  // Mosquitto logs nothing per message here: logging every PUBLISH would measure its log.
  const broker = await startMosquitto({ logTypes: ['error', 'warning', 'notice', 'information'] });
  const stops: Array<() => Promise<void>> = [() => broker.stop()];
  try {
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, broker.ca);
    const masterKey = randomBytes(32);
    await prepare(db.url, masterKey, {
      port: broker.tlsPort,
      username: broker.username,
      password: broker.password,
    });
    const beamPort = await freePort();
    const server = await startServer({
      SIMTRUST_DATABASE_URL: db.url,
      SIMTRUST_MASTER_KEY: masterKey.toString('base64'),
      SIMTRUST_BEAM_MQTT_PORT: String(beamPort),
      SIMTRUST_BEAM_ALLOWED_DESTINATION_NETWORKS: '127.0.0.1',
      SIMTRUST_BEAM_DESTINATION_CA_FILE: caFile,
      // Every publisher comes from the one session address.
      SIMTRUST_BEAM_MQTT_MAX_CONNECTIONS_PER_SOURCE: String(connections + 4),
    });
    stops.push(() => server.stop());
    // Before measuring: Beam relays, and Mosquitto gets the topic with /{IMSI}.
    const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.plainPort}`, {
      username: broker.username,
      password: broker.password,
      reconnectPeriod: 0,
    });
    const topics: string[] = [];
    watcher.on('message', (topic) => topics.push(topic));
    await watcher.subscribeAsync('bench/#', { qos: 0 });
    const first = await rate({ port: beamPort }, 1, 1, 0.2, 'check');
    await watcher.endAsync();
    if (!(first > 0)) throw new Error('no message acknowledged through Beam');
    const imsiTopic = topics.some((t) => t.startsWith('bench/check-') && t.endsWith(`/${IMSI}`));
    if (!imsiTopic)
      throw new Error(
        `Mosquitto got no bench/…/${IMSI} topic through Beam (saw ${topics.slice(0, 3).join(', ')})`,
      );
    // Direct, the no-TLS reference and Beam alternate, three rounds each: on a shared machine the load drifts during a
    // run, and the medians of interleaved rounds compare like with like.
    const directTarget: Target = {
      port: broker.tlsPort,
      tls: { ca: broker.ca },
      username: broker.username,
      password: broker.password,
    };
    const directRates: number[] = [];
    const plainRates: number[] = [];
    const beamRates: number[] = [];
    let beamCpu = 0;
    let beamMessages = 0;
    for (let round = 0; round < rounds; round++) {
      directRates.push(await rate(directTarget, connections, window, seconds, `direct${round}`));
      // A reference without TLS anywhere: what Mosquitto and the publishers do alone.
      plainRates.push(
        await rate(
          { port: broker.plainPort, username: broker.username, password: broker.password },
          connections,
          window,
          seconds,
          `plain${round}`,
        ),
      );
      const cpuBefore = cpuMs(server.pid);
      const beam = await rate({ port: beamPort }, connections, window, seconds, `beam${round}`);
      beamCpu += cpuMs(server.pid) - cpuBefore;
      beamMessages += beam * (seconds + 1);
      beamRates.push(beam);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
    const direct = median(directRates);
    const beam = median(beamRates);
    const rounds_ = (xs: number[]) => xs.map((x) => fmt(x)).join(' / ');
    table([
      {
        path: 'MQTTS direct to Mosquitto (TLS + password)',
        'QoS 1 msg/s (median)': fmt(direct),
        rounds: rounds_(directRates),
      },
      {
        path: 'MQTT direct to Mosquitto, no TLS (reference)',
        'QoS 1 msg/s (median)': fmt(median(plainRates)),
        rounds: rounds_(plainRates),
      },
      {
        path: 'MQTT → Beam MQTT entry point → MQTTS to Mosquitto',
        'QoS 1 msg/s (median)': fmt(beam),
        rounds: rounds_(beamRates),
      },
    ]);
    console.log(
      `Beam/direct = ${fmt((100 * beam) / direct, 1)}% (target ≥ 50%); Beam/no-TLS reference = ${fmt((100 * beam) / median(plainRates), 1)}%; ${connections} connections × ${window} in flight, 100-byte payloads, ${rounds} × ${seconds} s per path on ${dialect}`,
    );
    console.log(
      `CPU per message: Beam (simtrust serve) ≈ ${fmt((beamCpu * 1000) / beamMessages, 1)} µs (its CPU over warm-ups and runs / messages at the measured rates; decode, map ids, re-encode with /{IMSI}, TLS to the broker, PUBACK back)`,
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
}
