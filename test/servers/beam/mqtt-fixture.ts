// The world of the Beam MQTT tests: the platform with an operator and its AAA (endorse-fixture),
// SIMs attached the real way (RADIUS gives each its 127.64.x session address), the MQTT entry point
// on loopback, a raw MQTT client that connects from a chosen source address and sees every packet
// (so ordering can be checked), and a small broker built on mqtt-packet that records every packet
// Beam sends it and answers as told.

import { EventEmitter } from 'node:events';
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { generate, type IConnectPacket, type Packet } from 'mqtt-packet';
import pino from 'pino';
import { destinationPolicy } from '../../../src/platform/beam/destination-policy.js';
import { outboundPolicy } from '../../../src/platform/events/outbound-policy.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import {
  type BeamMqttEntry,
  type BeamMqttEntryOptions,
  type BeamMqttLimits,
  BeamMqttEntry as Entry,
} from '../../../src/servers/beam/mqtt-entry.js';
import { MqttDecoder, type MqttVersion } from '../../../src/servers/beam/mqtt-packets.js';
import {
  attach,
  type CardSim,
  createCardSim,
  type DeviceSession,
  type EndorseWorld,
  startEndorseWorld,
} from '../../e2e/endorse-fixture.js';

/** Waits for `condition` (checked on every `emitter` event) with a deadline; no polling. */
export function until<T>(
  emitter: EventEmitter,
  event: string,
  condition: () => T | undefined,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const now = condition();
  if (now !== undefined) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, check);
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const check = () => {
      const value = condition();
      if (value === undefined) return;
      clearTimeout(timer);
      emitter.off(event, check);
      resolve(value);
    };
    emitter.on(event, check);
  });
}

/** A device's MQTT connection from its session address, packet by packet. */
export class RawMqttClient extends EventEmitter {
  readonly packets: Packet[] = [];
  /** Every byte the device received (to check that no secret ever reaches it). */
  readonly bytes: Buffer[] = [];
  ended = false;
  private readonly decoder: MqttDecoder;
  private taken = 0;

  private constructor(
    readonly socket: Socket,
    readonly version: MqttVersion,
  ) {
    super();
    this.decoder = new MqttDecoder(16 * 1024 * 1024, version);
    socket.on('data', (chunk: Buffer) => {
      this.bytes.push(chunk);
      const packets = this.decoder.push(chunk);
      if (!Array.isArray(packets)) throw new Error(`the entry point sent a bad packet: ${packets.message}`);
      this.packets.push(...packets);
      this.emit('change');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.ended = true;
      this.emit('change');
    });
  }

  static async connect(port: number, localAddress: string, version: MqttVersion = 4): Promise<RawMqttClient> {
    const socket = netConnect({ host: '127.0.0.1', port, localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawMqttClient(socket, version);
  }

  send(packet: Packet): void {
    this.socket.write(generate(packet, { protocolVersion: this.version }));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next packet not yet taken (optionally of one kind); fails on close or deadline. */
  async next<C extends Packet['cmd']>(cmd?: C, timeoutMs = 10_000): Promise<Extract<Packet, { cmd: C }>> {
    const found = await until(
      this,
      'change',
      () => {
        for (let i = this.taken; i < this.packets.length; i++) {
          const p = this.packets[i];
          if (p !== undefined && (cmd === undefined || p.cmd === cmd)) {
            this.taken = i + 1;
            return p;
          }
        }
        if (this.ended) return null;
        return undefined;
      },
      `a ${cmd ?? 'packet'} from the entry point`,
      timeoutMs,
    );
    if (found === null) throw new Error(`connection closed before a ${cmd ?? 'packet'} arrived`);
    return found as Extract<Packet, { cmd: C }>;
  }

  /** CONNECT with no credentials, as a device behind Beam does. */
  async connectMqtt(overrides: Partial<IConnectPacket> = {}): Promise<Extract<Packet, { cmd: 'connack' }>> {
    this.send({
      cmd: 'connect',
      protocolId: this.version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.version,
      clientId: 'device-1',
      clean: true,
      keepalive: 60,
      ...overrides,
    });
    return this.next('connack');
  }

  closed(timeoutMs = 10_000): Promise<true> {
    return until(this, 'change', () => (this.ended ? true : undefined), 'the connection to close', timeoutMs);
  }

  end(): void {
    this.socket.end();
  }
}

export interface BrokerConnection {
  readonly socket: Socket;
  readonly connect: IConnectPacket;
  readonly packets: Packet[];
  ended: boolean;
  send(packet: Packet): void;
}

/**
 * A small MQTT broker on loopback that records what Beam sends: CONNACK with `connackCode`, PUBACK,
 * SUBACK, UNSUBACK and PINGRESP answered unless `holdPubacks` (then the test releases them).
 */
export class RecordingBroker extends EventEmitter {
  readonly connections: BrokerConnection[] = [];
  connackCode = 0;
  /** MQTT 5 CONNACK properties (e.g. a Receive Maximum) for the next connections. */
  connackProperties: Record<string, unknown> | undefined;
  holdPubacks = false;
  readonly heldPubacks: Array<{ connection: BrokerConnection; messageId: number }> = [];
  /** Raw connections (TCP accepted), decoded or not. */
  accepted = 0;

  private constructor(private readonly server: Server) {
    super();
  }

  static async start(): Promise<RecordingBroker> {
    const server = createServer();
    const broker = new RecordingBroker(server);
    server.on('connection', (socket) => broker.accept(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return broker;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private accept(socket: Socket): void {
    this.accepted++;
    this.emit('change');
    let decoder = new MqttDecoder(16 * 1024 * 1024);
    let connection: BrokerConnection | undefined;
    let version: MqttVersion = 4;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (connection) connection.ended = true;
      this.emit('change');
    });
    socket.on('data', (chunk: Buffer) => {
      const packets = decoder.push(chunk);
      if (!Array.isArray(packets)) {
        socket.destroy();
        return;
      }
      for (const packet of packets) {
        if (connection === undefined) {
          if (packet.cmd !== 'connect') return void socket.destroy();
          version = packet.protocolVersion ?? 4;
          decoder = new MqttDecoder(16 * 1024 * 1024, version);
          const v = version;
          const c: BrokerConnection = {
            socket,
            connect: packet,
            packets: [],
            ended: false,
            send: (p) => socket.write(generate(p, { protocolVersion: v })),
          };
          connection = c;
          this.connections.push(c);
          c.send({
            cmd: 'connack',
            sessionPresent: false,
            ...(v === 5 ? { reasonCode: this.connackCode } : { returnCode: this.connackCode }),
            ...(v === 5 && this.connackProperties ? { properties: this.connackProperties } : {}),
          } as Packet);
          if (this.connackCode !== 0) socket.end();
          continue;
        }
        connection.packets.push(packet);
        const c = connection;
        switch (packet.cmd) {
          case 'publish':
            if (packet.qos === 1 && packet.messageId !== undefined) {
              if (this.holdPubacks) this.heldPubacks.push({ connection: c, messageId: packet.messageId });
              else c.send({ cmd: 'puback', messageId: packet.messageId });
            }
            break;
          case 'subscribe':
            c.send({
              cmd: 'suback',
              messageId: packet.messageId ?? 0,
              granted: packet.subscriptions.map((s) => s.qos),
            });
            break;
          case 'unsubscribe':
            c.send({
              cmd: 'unsuback',
              messageId: packet.messageId ?? 0,
              granted: version === 5 ? packet.unsubscriptions.map(() => 0) : [],
            } as Packet);
            break;
          case 'pingreq':
            c.send({ cmd: 'pingresp' });
            break;
          default:
        }
      }
      this.emit('change');
    });
  }

  releasePubacks(): void {
    for (const { connection, messageId } of this.heldPubacks.splice(0)) {
      connection.send({ cmd: 'puback', messageId });
    }
  }

  /** The n-th connection Beam opened (waits for it). */
  connection(n = 0): Promise<BrokerConnection> {
    return until(this, 'change', () => this.connections[n], `broker connection ${n}`);
  }

  /** The next packet of a kind on a connection, after `after` packets. */
  packet<C extends Packet['cmd']>(
    connection: BrokerConnection,
    cmd: C,
    after = 0,
  ): Promise<Extract<Packet, { cmd: C }>> {
    return until(
      this,
      'change',
      () =>
        connection.packets.slice(after).find((p) => p.cmd === cmd) as Extract<Packet, { cmd: C }> | undefined,
      `a ${cmd} at the broker`,
    );
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

export interface MqttWorld {
  readonly world: EndorseWorld;
  readonly entry: BeamMqttEntry;
  /** Every log line the entry point wrote. */
  readonly logs: string[];
  /** A group with this SoracomBeam mqtt:// entry value; its id. */
  group(value: Record<string, unknown>): Promise<string>;
  /** An active SIM in `groupId`, attached: its session address. */
  device(groupId?: string): Promise<{ sim: CardSim; session: DeviceSession }>;
  /** A credential set of the world's operator. */
  credential(id: string, type: string, credentials: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

let imeiSerial = 0;

export async function startMqttWorld(
  options: { limits?: Partial<BeamMqttLimits>; entry?: Partial<BeamMqttEntryOptions> } = {},
): Promise<MqttWorld> {
  const world = await startEndorseWorld();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const entry = await Entry.start({
    platform: world.platform,
    host: '127.0.0.1',
    port: 0,
    logger,
    // The test brokers run on loopback, which a deployment refuses unless it allows it.
    destinations: destinationPolicy(outboundPolicy({ allowed: '127.0.0.0/8' })),
    ...(options.limits ? { limits: options.limits } : {}),
    ...options.entry,
  });
  const ctx = (op: string) => systemContext(world.operatorId, op, 'test');
  return {
    world,
    entry,
    logs,
    async group(value) {
      const group = await world.platform.groups.create(ctx('Group:createGroup'), {
        tags: { name: 'beam-mqtt' },
      });
      await world.platform.groups.putConfiguration(
        ctx('Group:putConfigurationParameters'),
        group.groupId,
        'SoracomBeam',
        [{ key: 'mqtt://beam.soracom.io:1883', value }],
      );
      return group.groupId;
    },
    async device(groupId) {
      const sim = await createCardSim(world, groupId ? { groupId } : {});
      imeiSerial++;
      const session = await attach(world, sim, `35000000${String(imeiSerial).padStart(6, '0')}0`);
      return { sim, session };
    },
    async credential(id, type, credentials) {
      await world.platform.credentials.create(ctx('Credential:createCredential'), id, { type, credentials });
    },
    async close() {
      await entry.close();
      await world.close();
    },
  };
}
