// Fuzz: malformed and mutated MQTT packets into Beam's MQTT entry point. Threat: a device (or
// anything that reaches the port) crashing the platform, or getting bytes to the operator's broker
// that are not a well-formed packet of an admitted device. Seeded mutations (test/helpers/fuzz.ts)
// of valid packets of every kind, MQTT 3.1.1 and 5; an independent reading of each input (a fresh
// mqtt-packet parser) keeps only the malformed ones for the socket runs, so "nothing forwarded" is
// exact: before CONNECT no broker connection at all, after CONNECT nothing past it.

import { generate, type Packet, parser } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttDecoder } from '../../../src/servers/beam/mqtt-packets.js';
import { fuzz, mutate, randomBytes, seededRandom } from '../../helpers/fuzz.js';
import { type MqttWorld, RawMqttClient, RecordingBroker, startMqttWorld } from './mqtt-fixture.js';

const connect = (version: 4 | 5): Packet => ({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: version,
  clientId: 'fuzz-device',
  clean: true,
  keepalive: 60,
  ...(version === 5 ? { properties: { sessionExpiryInterval: 10, userProperties: { a: 'b' } } } : {}),
  will: { topic: 'will/t', payload: Buffer.from('gone'), qos: 1, retain: false },
});

const afterConnect = (version: 4 | 5): Packet[] => [
  { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 0, retain: false, dup: false },
  {
    cmd: 'publish',
    topic: 'sensors/temp',
    payload: Buffer.from('{"t":1}'),
    qos: 1,
    messageId: 77,
    retain: true,
    dup: false,
    ...(version === 5 ? { properties: { contentType: 'application/json', userProperties: { k: 'v' } } } : {}),
  },
  {
    cmd: 'subscribe',
    messageId: 5,
    subscriptions: [
      { topic: 'cmd/+/x', qos: 1 },
      { topic: 'b/#', qos: 0 },
    ],
  },
  { cmd: 'unsubscribe', messageId: 6, unsubscriptions: ['cmd/+/x'] },
  { cmd: 'puback', messageId: 9 },
  { cmd: 'pingreq' },
];

const bytesOf = (p: Packet, version: 4 | 5) => new Uint8Array(generate(p, { protocolVersion: version }));

/** The reference reading: the packets a fresh mqtt-packet parser finds in `input` before any error. */
function reference(input: Uint8Array, version?: 4 | 5): { packets: Packet[]; error: boolean } {
  const p = parser(version === undefined ? {} : { protocolVersion: version });
  const packets: Packet[] = [];
  let error = false;
  p.on('packet', (packet: Packet) => {
    if (!error) packets.push(packet);
  });
  p.on('error', () => {
    error = true;
  });
  try {
    p.parse(Buffer.from(input));
  } catch {
    error = true;
  }
  return { packets, error };
}

/** What the relay uses of a packet (mqtt-packet adds bookkeeping fields of its own). */
function summary(p: Packet | undefined): unknown {
  if (p === undefined) return undefined;
  if (p.cmd === 'publish') {
    return [
      p.cmd,
      p.topic,
      p.qos,
      p.retain,
      p.dup,
      p.qos > 0 ? p.messageId : undefined,
      Buffer.from(p.payload).toString('hex'),
    ];
  }
  if (p.cmd === 'puback') return [p.cmd, p.messageId];
  return p.cmd;
}

/** Packets Beam must refuse even though they decode: what a PUBLISH or SUBSCRIBE may not carry. */
function breaksBeamRules(packet: Packet): boolean {
  if (packet.cmd === 'publish') {
    const t = packet.topic;
    return packet.qos === 2 || t === '' || t.includes('+') || t.includes('#') || t.includes('\u0000');
  }
  return false;
}

describe('MQTT decoder (fuzz)', () => {
  it('reads 20,000 mutated and random inputs without throwing; a packet it yields is one the reference reads too', () => {
    for (const version of [4, 5] as const) {
      const seeds = [connect(version), ...afterConnect(version)].map((p) => bytesOf(p, version));
      const { runs } = fuzz(
        seeds,
        10_000,
        (input) => {
          const decoder = new MqttDecoder(4096, version);
          const out = decoder.push(Buffer.from(input));
          if (Array.isArray(out)) {
            const ref = reference(input, version);
            expect(ref.packets.length).toBeGreaterThanOrEqual(out.length);
            // MQTT 3.1.1 has no properties to read past a packet: the two readings are the same.
            if (version === 4) {
              for (const [i, p] of out.entries()) expect(summary(p)).toEqual(summary(ref.packets[i]));
            }
          } else expect(out.code).toMatch(/^MQTT_/);
        },
        { seed: version },
      );
      expect(runs).toBe(10_000);
    }
  });
});

describe('Beam MQTT entry point (fuzz, over sockets)', () => {
  let w: MqttWorld;
  let broker: RecordingBroker;
  let address: string;

  beforeAll(async () => {
    w = await startMqttWorld({ limits: { maxConnectionsPerSource: 64, maxPacketBytes: 4096 } });
    broker = await RecordingBroker.start();
    const group = await w.group({ destination: `mqtt://127.0.0.1:${broker.port}` });
    address = (await w.device(group)).session.address;
  }, 60_000);

  afterAll(async () => {
    await w?.close();
    await broker?.close();
  });

  /** Malformed inputs only: mutations (and random bytes) the reference reads no packet from. */
  function malformed(seeds: Uint8Array[], count: number, seed: number, version?: 4 | 5): Uint8Array[] {
    const random = seededRandom(seed);
    const out: Uint8Array[] = [];
    for (let i = 0; out.length < count; i++) {
      const base = seeds[i % seeds.length] ?? new Uint8Array();
      const input = random() < 0.1 ? randomBytes(random, 64) : mutate(random, base);
      if (input.length === 0) continue;
      const ref = reference(input, version);
      const first = ref.packets[0];
      if (
        first === undefined ||
        (version !== undefined && breaksBeamRules(first) && ref.packets.length === 1)
      ) {
        out.push(input);
      }
    }
    return out;
  }

  async function inParallel<T>(items: T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: width }, async () => {
        while (next < items.length) {
          const item = items[next++] as T;
          await run(item);
        }
      }),
    );
  }

  it('8,000 malformed first packets: every connection closed, no broker connection opened', async () => {
    const seeds = [connect(4), connect(5), ...afterConnect(4)].map((p, i) => bytesOf(p, i === 1 ? 5 : 4));
    const inputs = malformed(seeds, 8000, 0xbea1);
    const accepted = broker.accepted;
    await inParallel(inputs, 16, async (input) => {
      const device = await RawMqttClient.connect(w.entry.port, address);
      device.sendRaw(input);
      // An incomplete packet waits for more: the device's end of stream closes it.
      device.end();
      await device.closed();
      expect(device.packets.filter((p) => p.cmd !== 'connack')).toEqual([]);
    });
    expect(broker.accepted).toBe(accepted);
  }, 120_000);

  it('2,000 malformed packets after an accepted CONNECT: the device is closed and the broker gets nothing past CONNECT', async () => {
    const perVersion = 1000;
    const before = broker.connections.length;
    for (const version of [4, 5] as const) {
      const seeds = afterConnect(version).map((p) => bytesOf(p, version));
      const inputs = malformed(seeds, perVersion, 0xbea2 + version, version);
      await inParallel(inputs, 16, async (input) => {
        const device = await RawMqttClient.connect(w.entry.port, address, version);
        const connack = await device.connectMqtt({ clientId: `fuzz-${Math.random().toString(36).slice(2)}` });
        expect(version === 5 ? connack.reasonCode : connack.returnCode).toBe(0);
        device.sendRaw(input);
        device.end();
        await device.closed();
      });
    }
    expect(broker.connections.length - before).toBe(2 * perVersion);
    // Every broker connection saw CONNECT and then nothing a device sent (only our keepalive ping).
    const forwarded = broker.connections.flatMap((c) =>
      c.packets.filter((p) => p.cmd !== 'pingreq' && p.cmd !== 'disconnect'),
    );
    expect(forwarded).toEqual([]);
  }, 180_000);

  it('still serves a well-behaved device afterwards, and counted what it refused', async () => {
    const device = await RawMqttClient.connect(w.entry.port, address);
    expect((await device.connectMqtt({ clientId: 'after-fuzz' })).returnCode).toBe(0);
    const upstream = await broker.connection(broker.connections.length - 1);
    device.send({
      cmd: 'publish',
      topic: 'ok',
      payload: Buffer.from('1'),
      qos: 0,
      retain: false,
      dup: false,
    });
    expect((await broker.packet(upstream, 'publish')).topic).toMatch(/^ok\/\d+$/);
    device.end();
    expect(w.entry.stats.malformed).toBeGreaterThan(1000);
  });
});
