// Fuzz of the TCP and UDP entry points (Beam, Funk) over real sockets: malformed first lines and
// packets — random bytes, mutations of identity lines and JSON, forged `imsi=…;signature=…` lines —
// from addresses without a session reach nothing and get no answer; from a device's session they
// are forwarded byte for byte (Beam never parses device data) or, for a Funk group that wants JSON,
// only when they are JSON. Afterwards the entry points still serve (nothing crashed).

import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFunk, type Funk } from '../../../src/servers/beam/funk.js';
import { type BeamTcpEntry, createBeamTcpEntry } from '../../../src/servers/beam/tcp-entry.js';
import { type BeamUdpEntry, createBeamUdpEntry } from '../../../src/servers/beam/udp-entry.js';
import { createLogger } from '../../../src/servers/logger.js';
import {
  attach,
  createCardSim,
  type DeviceSession,
  type EndorseWorld,
  startEndorseWorld,
} from '../../e2e/endorse-fixture.js';
import { randomBytes as fuzzBytes, mutate, seededRandom } from '../../helpers/fuzz.js';
import {
  loopbackPolicy,
  type RecordedRequest,
  startHttpsDestination,
  startTlsDestination,
  tcpExchange,
  udpExchange,
  until,
} from './socket-fixture.js';

const IMEI = '490154203237518';
const random = seededRandom(0xbea_7c9);
const SEEDS = [
  Buffer.from(
    'imsi=001010000000001 timestamp=1608251959862;signature=9b7c3587a10b94453127aa614bac55ca0d953f4a98f428a086114f67120a850b version=20150901\n',
  ),
  Buffer.from('imei=860000012345678 imsi=295000012345678 timestamp=1\n'),
  Buffer.from('{"temp": 21.5, "imsi": "001010000000001"}'),
  Buffer.from('GET / HTTP/1.1\r\nHost: beam\r\nX-Soracom-IMSI: 001010000000001\r\n\r\n'),
  Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c]),
];
const fuzzInput = (i: number, max = 512): Buffer =>
  Buffer.from(i % 3 === 0 ? fuzzBytes(random, max) : mutate(random, SEEDS[i % SEEDS.length] as Uint8Array));

let world: EndorseWorld;
let https: Awaited<ReturnType<typeof startHttpsDestination>>;
let tls: Awaited<ReturnType<typeof startTlsDestination>>;
let udp: BeamUdpEntry;
let tcp: BeamTcpEntry;
let funk: Funk;
let ports: { udp: number; tcp: number; funkUdp: number };
let beamDevice: DeviceSession;
let funkDevice: DeviceSession;

beforeAll(async () => {
  world = await startEndorseWorld();
  https = await startHttpsDestination();
  tls = await startTlsDestination();
  const logger = createLogger({ logLevel: 'silent' });
  const common = { platform: world.platform, logger, policy: loopbackPolicy() };
  udp = createBeamUdpEntry({
    ...common,
    extraCa: https.identity.certificatePem,
    maxDatagramBytes: 65_507,
    packetsPerSecondPerSource: 1_000_000,
    maxInFlight: 100_000,
    timeoutMs: 10_000,
    connectionsPerDestination: 16,
  });
  tcp = createBeamTcpEntry({
    ...common,
    extraCa: tls.identity.certificatePem,
    maxConnections: 10_000,
    maxConnectionsPerSource: 1000,
    idleTimeoutMs: 30_000,
    connectTimeoutMs: 10_000,
  });
  funk = createFunk({
    ...common,
    extraCa: https.identity.certificatePem,
    timeoutMs: 10_000,
    maxBodyBytes: 65_536,
    connectionsPerFunction: 16,
    maxConnections: 1000,
    maxConnectionsPerSource: 100,
    idleTimeoutMs: 30_000,
    maxDatagramBytes: 65_507,
    packetsPerSecondPerSource: 1_000_000,
    maxInFlight: 100_000,
  });
  ports = {
    udp: (await udp.bind('127.0.0.1', 0)).port,
    tcp: (await tcp.listen('127.0.0.1', 0)).port,
    funkUdp: (await funk.bindUdp('127.0.0.1', 0)).port,
  };
  const group = await world.platform.groups.create(world.ctx(), {});
  await world.platform.groups.putConfiguration(world.ctx(), group.groupId, 'SoracomBeam', [
    {
      key: 'udp://beam.soracom.io:23080',
      value: { destination: `${https.url}/beam`, addSubscriberHeader: true },
    },
    {
      key: 'tcp://beam.soracom.io:8023',
      value: { destination: `tcps://127.0.0.1:${tls.port}`, addSubscriberHeader: true },
    },
  ]);
  await world.platform.groups.putConfiguration(world.ctx(), group.groupId, 'SoracomFunk', [
    { key: 'enabled', value: true },
    { key: 'destination', value: { provider: 'https', resourceUrl: `${https.url}/funk` } },
    { key: 'contentType', value: 'json' },
    { key: 'skipStatusCode', value: true },
  ]);
  beamDevice = await attach(world, await createCardSim(world, { groupId: group.groupId }), IMEI);
  funkDevice = beamDevice;
});
afterAll(async () => {
  await funk?.close();
  await tcp?.close();
  await udp?.close();
  await tls?.close();
  await https?.close();
  await world?.close();
});

const socketsToClose: Array<ReturnType<typeof createSocket>> = [];

/** Sends every datagram from `from` (one socket per call, closed after the test); the answers arrive in the array. */
async function sendAll(from: string, port: number, datagrams: Buffer[]): Promise<Buffer[]> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, from, () => r()));
  const answers: Buffer[] = [];
  socket.on('message', (m) => answers.push(m));
  for (const d of datagrams) socket.send(d, port, '127.0.0.1');
  socketsToClose.push(socket);
  return answers;
}

describe('UDP: 10,000 malformed packets from strangers', () => {
  it('forwards none and answers none; a device is still served afterwards', async () => {
    const before = https.requests.length;
    const refused = udp.stats.refused;
    const dropped = udp.stats.dropped;
    const answers: Buffer[][] = [];
    // 100 batches of 100 from ten source addresses: small enough for the socket buffer.
    for (let b = 0; b < 100; b++) {
      const batch = Array.from({ length: 100 }, (_, i) => fuzzInput(b * 100 + i));
      answers.push(await sendAll(`127.96.${b % 10}.${1 + (b % 10)}`, ports.udp, batch));
      await until(
        () => udp.stats.refused + udp.stats.dropped - refused - dropped >= (b + 1) * 100,
        `batch ${b}`,
        30_000,
      );
    }
    expect(udp.stats.refused - refused).toBe(10_000);
    expect(https.requests.length).toBe(before);
    for (const s of socketsToClose.splice(0)) s.close();
    expect(answers.flat()).toEqual([]);
    expect((await udpExchange(beamDevice.address, ports.udp, Buffer.from('alive')))?.toString()).toMatch(
      /^200 /,
    );
  }, 120_000);

  it("a device's own malformed packets are forwarded byte for byte, never parsed (1,000)", async () => {
    const before = https.requests.length;
    const sent = Array.from({ length: 1000 }, (_, i) => fuzzInput(i, 2048));
    const delivered = udp.stats.delivered;
    await sendAll(beamDevice.address, ports.udp, sent);
    await until(() => udp.stats.delivered - delivered === 1000, 'all forwarded', 60_000);
    for (const s of socketsToClose.splice(0)) s.close();
    const got = https.requests
      .slice(before)
      .map((r: RecordedRequest) => (JSON.parse(r.body.toString()) as { payload: string }).payload)
      .sort();
    expect(got).toEqual(sent.map((b) => b.toString('base64')).sort());
  }, 120_000);
});

describe('TCP: 10,000 malformed first lines from strangers', () => {
  it('reach no destination and get no byte; a device is still relayed afterwards', async () => {
    const before = tls.connections.length;
    for (let batch = 0; batch < 200; batch++) {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          tcpExchange(`127.95.${batch}.${1 + i}`, ports.tcp, fuzzInput(batch * 50 + i)),
        ),
      );
      for (const r of results) expect(r.closedEmpty).toBe(true);
    }
    expect(tls.connections.length).toBe(before);
    const r = await tcpExchange(beamDevice.address, ports.tcp, Buffer.from('alive\n'));
    expect(r.received.toString()).toMatch(/^hello imsi=\d+ timestamp=\d+\nalive\nbye\n$/);
  }, 180_000);
});

describe('Funk UDP with contentType json: 1,000 malformed packets from the device', () => {
  it('invokes the function exactly for those that are JSON, and answers every one', async () => {
    const before = https.requests.length;
    const sent = Array.from({ length: 1000 }, (_, i) =>
      i % 2 === 0 ? Buffer.from(JSON.stringify({ n: i, r: randomBytes(4).toString('hex') })) : fuzzInput(i),
    );
    const isJson = (b: Buffer) => {
      try {
        JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b));
        return true;
      } catch {
        return false;
      }
    };
    const answers = await sendAll(funkDevice.address, ports.funkUdp, sent);
    await until(() => answers.length === 1000, 'every packet answered', 60_000);
    for (const s of socketsToClose.splice(0)) s.close();
    const invoked = https.requests
      .slice(before)
      .map((r) => r.body.toString())
      .sort();
    const expected = sent
      .filter(isJson)
      .map((b) => JSON.stringify(JSON.parse(b.toString())))
      .sort();
    expect(invoked.map((t) => JSON.stringify(JSON.parse(t)))).toEqual(expected);
    expect(answers.filter((a) => a.toString().startsWith('400 ERR_FUNK_NOT_JSON')).length).toBe(
      sent.length - expected.length,
    );
  }, 120_000);
});
