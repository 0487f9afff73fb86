// Beam's MQTT entry point (SORACOM `mqtt://beam.soracom.io:1883`; docs/beam.md, MQTT): a device on
// its data session connects with no credentials (MQTT 3.1, 3.1.1 or 5); the source address tells
// which SIM it is (the session table, as for every entry point), the SIM's group configuration
// (`SoracomBeam`, the `mqtt://` key) names the broker, and the platform opens one connection to that
// broker per device connection — over TLS for `mqtts://` — with the configured username and
// password or client certificate. Then it relays, packet by packet:
//
//   device PUBLISH (QoS 0/1)  → broker, the topic + "/{IMSI}" (addSubscriberHeader, SORACOM's rule);
//                               QoS 1: the device's PUBACK only after the broker's PUBACK
//   device SUBSCRIBE/UNSUBSCRIBE → broker (granted QoS at most 1); SUBACK/UNSUBACK back
//   broker PUBLISH            → device; QoS 1: the broker's PUBACK only after the device's PUBACK
//   PINGREQ                   → answered here; the broker connection keeps itself alive
//   device DISCONNECT         → DISCONNECT to the broker (no will); a device that just goes away
//                               makes the broker connection drop too (the broker sends the will)
//   broker gone or refusing   → the device is disconnected, with a reason code on MQTT 5
//
// Packet ids are mapped in both directions (each side numbers its own). QoS 2 is not relayed
// (SORACOM documents no QoS 2 guarantee either): a QoS 2 PUBLISH ends the connection, a QoS 2
// subscription is granted QoS 1. SORACOM's limits: keepalive 0 or 5–1200 s (else CONNACK "not
// authorized"); a connection silent for 1.5 × keepalive (or beamMqttIdleTimeoutSeconds with
// keepalive 0) is closed. Ours on top: connections in all and per source address, packet size,
// topic length, QoS 1 messages in flight per connection (the device is read no further until the
// broker acknowledges), and the SIM's session checked again every beamMqttSessionCheckSeconds —
// a suspended SIM or an ended session loses its connection.
//
// Secrets: the username, password and client key go to the broker and nowhere else — not to the
// device (it sees CONNACK codes), not to a log line, not to the usage records.

import { createServer, isIP, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { rootCertificates, connect as tlsConnect } from 'node:tls';
import type {
  IConnackPacket,
  IConnectPacket,
  IPublishPacket,
  ISubackPacket,
  ISubscribePacket,
  IUnsubscribePacket,
  Packet,
  UserProperties,
} from 'mqtt-packet';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { SimtrustError } from '../../lib/errors.js';
import {
  type BeamMqttConfig,
  beamMqttConfigOf,
  type CredentialReference,
} from '../../platform/beam/beam-mqtt-config.js';
import type { DestinationPolicy } from '../../platform/beam/destination-policy.js';
import { type SessionOwner, sessionOwner } from '../../platform/beam/session-owner.js';
import type { BeamUsageEvent } from '../../platform/beam/usage.js';
import type { ResolvedCredential } from '../../platform/credentials/credential-sets.js';
import type { Store } from '../../platform/store/database.js';
import { plainPeerAddress } from '../gsup/admission.js';
import {
  CONNACK_V3,
  encodePacket,
  type MqttDecodeError,
  MqttDecoder,
  type MqttVersion,
  REASON,
  topicFilterProblem,
  topicNameProblem,
} from './mqtt-packets.js';

export const BEAM_NAMESPACE = 'SoracomBeam';

export interface BeamMqttLimits {
  /** Device connections held at once, all sources together. */
  readonly maxConnections: number;
  /** Device connections one source address (one SIM session) may hold at once. */
  readonly maxConnectionsPerSource: number;
  /** Largest MQTT packet, in bytes, read from a device or a broker. */
  readonly maxPacketBytes: number;
  /** Longest topic name or filter a device may send, in bytes of UTF-8 (before "/{IMSI}"). */
  readonly maxTopicBytes: number;
  /** A device with keepalive 0 that sends nothing for this long is disconnected. */
  readonly idleTimeoutMs: number;
  /** Time for a device to send CONNECT, and for the broker to answer ours. */
  readonly connectTimeoutMs: number;
  /** QoS 1 PUBLISHes of one device waiting for the broker's PUBACK before the device is read no further. */
  readonly maxInflight: number;
  /** How often an open connection's SIM session is checked again. */
  readonly sessionCheckMs: number;
}

export const DEFAULT_BEAM_MQTT_LIMITS: BeamMqttLimits = {
  maxConnections: 10_000,
  maxConnectionsPerSource: 8,
  maxPacketBytes: 1_048_576,
  maxTopicBytes: 1024,
  idleTimeoutMs: 1_800_000,
  connectTimeoutMs: 10_000,
  maxInflight: 256,
  sessionCheckMs: 60_000,
};

/** What the entry point needs of the platform. */
export interface BeamMqttPlatform {
  readonly store: Store;
  readonly credentials: {
    resolve(
      operatorId: string,
      reference: string,
      sim: { readonly imsi: string },
    ): Promise<ResolvedCredential>;
  };
  readonly beamUsage?: { record(event: BeamUsageEvent): void };
}

export interface BeamMqttEntryOptions {
  readonly platform: BeamMqttPlatform;
  readonly host: string;
  readonly port: number;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** Which destinations may be reached (beamAllowedDestinationNetworks). */
  readonly destinations: DestinationPolicy;
  /** Extra CA certificates (PEM) trusted for brokers besides the system's (beamDestinationCaFile). */
  readonly trustedCa?: string | undefined;
  readonly limits?: Partial<BeamMqttLimits>;
  readonly metrics?: Registry | undefined;
}

/** Why a device connection ended or was refused (the label of simtrust_beam_mqtt_connections_total). */
export type BeamMqttOutcome =
  | 'refused_capacity'
  | 'refused_per_source'
  | 'refused_protocol'
  | 'refused_keepalive'
  | 'refused_no_session'
  | 'refused_sim_not_active'
  | 'refused_not_configured'
  | 'refused_credentials'
  | 'refused_destination'
  | 'refused_upstream'
  | 'upstream_unreachable'
  | 'connect_timeout'
  | 'unavailable';

export interface BeamMqttStats {
  /** Device connections relayed to a broker (CONNACK accepted). */
  connected: number;
  /** Device connections refused or closed before relaying, by reason. */
  refused: Partial<Record<BeamMqttOutcome, number>>;
  /** Relayed connections closed, by reason (device_disconnect, device_gone, upstream_gone, …). */
  closed: Record<string, number>;
  /** Broker connections opened (a refused device opens none). */
  upstreamConnections: number;
  /** PUBLISHes relayed device → broker and broker → device. */
  messagesUp: number;
  messagesDown: number;
  /** Packets that did not decode or broke a rule (the connection was closed). */
  malformed: number;
}

/** Bytes queued on a socket beyond which the other side is read no further until it drains. */
const HIGH_WATER = 1_048_576;
/** SORACOM: keepalive must be 0 or 5–1200 s, else CONNACK "not authorized". */
const MIN_KEEPALIVE = 5;
const MAX_KEEPALIVE = 1200;
/** Keepalive of the broker connection when the device asked for none (dead broker detection). */
const UPSTREAM_KEEPALIVE_WITHOUT_DEVICE_KEEPALIVE = 60;
/** A refusal from one source is logged at most this often. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

/** Packet ids 1–65535 (MQTT §2.3.1), each mapped to what the other side called it. */
class PacketIds<T> {
  private readonly used = new Map<number, T>();
  private next = 1;

  get size(): number {
    return this.used.size;
  }

  /** A free id for `value`; undefined when all 65535 are in use. */
  take(value: T): number | undefined {
    if (this.used.size >= 65535) return undefined;
    while (this.used.has(this.next)) this.next = this.next === 65535 ? 1 : this.next + 1;
    const id = this.next;
    this.next = id === 65535 ? 1 : id + 1;
    this.used.set(id, value);
    return id;
  }

  give(id: number | undefined): T | undefined {
    if (id === undefined) return undefined;
    const value = this.used.get(id);
    if (value !== undefined) this.used.delete(id);
    return value;
  }
}

interface UpstreamCredentials {
  readonly username?: string;
  readonly password?: Buffer;
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
}

/** A refusal before the relay starts: what the device is told and what is counted and logged. */
class Refusal extends Error {
  constructor(
    readonly outcome: BeamMqttOutcome,
    /** MQTT 3.1.1 CONNACK return code / MQTT 5 CONNACK reason code. */
    readonly v3Code: number,
    readonly v5Code: number,
    message: string,
  ) {
    super(message);
  }
}

export class BeamMqttEntry {
  readonly stats: BeamMqttStats = {
    connected: 0,
    refused: {},
    closed: {},
    upstreamConnections: 0,
    messagesUp: 0,
    messagesDown: 0,
    malformed: 0,
  };
  private readonly limits: BeamMqttLimits;
  private readonly relays = new Set<DeviceConnection>();
  private readonly perSource = new Map<string, number>();
  private open = 0;
  private readonly refusalLog = new Map<string, { at: number; quiet: number }>();
  /** Brokers' CAs when the entry's credential names none: the system's, plus beamDestinationCaFile. */
  readonly trustedCa: string[] | undefined;

  private constructor(
    private readonly server: Server,
    readonly o: BeamMqttEntryOptions,
  ) {
    this.limits = { ...DEFAULT_BEAM_MQTT_LIMITS, ...o.limits };
    this.trustedCa = o.trustedCa === undefined ? undefined : [...rootCertificates, o.trustedCa];
  }

  static async start(o: BeamMqttEntryOptions): Promise<BeamMqttEntry> {
    const server = createServer({ noDelay: true });
    const entry = new BeamMqttEntry(server, o);
    if (o.metrics) entry.registerMetrics(o.metrics);
    server.on('connection', (socket) => entry.accept(socket));
    server.on('error', (e) => o.logger.error({ err: e }, 'Beam MQTT listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return entry;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : this.o.port;
  }

  /** Device connections open now (relayed or still connecting). */
  get openConnections(): number {
    return this.open;
  }

  get settings(): BeamMqttLimits {
    return this.limits;
  }

  /** Stops listening and ends every connection (MQTT 5 devices hear "server shutting down"). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const relay of this.relays) relay.shutdown();
    await closed;
  }

  /** Counts a refusal and logs it (once a minute per source at most). */
  refused(outcome: BeamMqttOutcome, source: string, detail: string, sim?: SessionOwner): void {
    this.stats.refused[outcome] = (this.stats.refused[outcome] ?? 0) + 1;
    const now = Date.now();
    const seen = this.refusalLog.get(source);
    if (seen !== undefined && now - seen.at < REFUSAL_LOG_INTERVAL_MS) {
      seen.quiet++;
      return;
    }
    if (this.refusalLog.size > 10_000) this.refusalLog.clear();
    this.refusalLog.set(source, { at: now, quiet: 0 });
    this.o.logger.warn(
      {
        source,
        outcome,
        ...(sim ? { simId: sim.simId, imsi: sim.imsi } : {}),
        ...(seen?.quiet ? { alsoRefusedSinceLastLog: seen.quiet } : {}),
      },
      `Beam MQTT connection refused: ${detail}`,
    );
  }

  closedRelay(reason: string): void {
    this.stats.closed[reason] = (this.stats.closed[reason] ?? 0) + 1;
  }

  private accept(socket: Socket): void {
    const source = plainPeerAddress(socket.remoteAddress ?? '');
    const held = this.perSource.get(source) ?? 0;
    if (this.open >= this.limits.maxConnections || held >= this.limits.maxConnectionsPerSource) {
      const outcome = this.open >= this.limits.maxConnections ? 'refused_capacity' : 'refused_per_source';
      this.refused(
        outcome,
        source,
        outcome === 'refused_capacity'
          ? 'the entry point holds beamMqttMaxConnections connections'
          : 'this address already holds beamMqttMaxConnectionsPerSource connections',
      );
      socket.destroy();
      return;
    }
    this.perSource.set(source, held + 1);
    this.open++;
    const relay = new DeviceConnection(this, socket, source, this.limits);
    this.relays.add(relay);
    socket.once('close', () => {
      this.relays.delete(relay);
      this.open--;
      const n = (this.perSource.get(source) ?? 1) - 1;
      if (n <= 0) this.perSource.delete(source);
      else this.perSource.set(source, n);
    });
  }

  private registerMetrics(registry: Registry): void {
    for (const name of [
      'simtrust_beam_mqtt_connections_total',
      'simtrust_beam_mqtt_connections_open',
      'simtrust_beam_mqtt_messages_total',
    ])
      registry.removeSingleMetric(name);
    const stats = this.stats;
    new Counter({
      name: 'simtrust_beam_mqtt_connections_total',
      help: 'Beam MQTT device connections by outcome: connected, refused_* (before any broker connection, or the broker refused), closed_* (a relayed connection ended)',
      labelNames: ['outcome'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ outcome: 'connected' }, stats.connected);
        for (const [outcome, n] of Object.entries(stats.refused)) this.inc({ outcome }, n ?? 0);
        for (const [reason, n] of Object.entries(stats.closed)) this.inc({ outcome: `closed_${reason}` }, n);
      },
    });
    new Counter({
      name: 'simtrust_beam_mqtt_messages_total',
      help: 'PUBLISH packets relayed by the Beam MQTT entry point: up (device → broker) and down (broker → device)',
      labelNames: ['direction'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ direction: 'up' }, stats.messagesUp);
        this.inc({ direction: 'down' }, stats.messagesDown);
      },
    });
    const open = () => this.open;
    new Gauge({
      name: 'simtrust_beam_mqtt_connections_open',
      help: 'Beam MQTT device connections open now',
      registers: [registry],
      collect() {
        this.set(open());
      },
    });
  }
}

type State = 'awaiting-connect' | 'connecting' | 'open' | 'closed';

/** Properties of a PUBLISH that pass the relay unchanged (MQTT 5 §3.3.2.3); aliases and ids do not. */
function publishProperties(p: IPublishPacket['properties']): IPublishPacket['properties'] | undefined {
  if (p === undefined) return undefined;
  const out: NonNullable<IPublishPacket['properties']> = {};
  if (typeof p.payloadFormatIndicator === 'boolean') out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (typeof p.messageExpiryInterval === 'number') out.messageExpiryInterval = p.messageExpiryInterval;
  if (typeof p.contentType === 'string') out.contentType = p.contentType;
  if (typeof p.responseTopic === 'string') out.responseTopic = p.responseTopic;
  if (Buffer.isBuffer(p.correlationData)) out.correlationData = p.correlationData;
  const user = userProperties(p.userProperties);
  if (user !== undefined) out.userProperties = user;
  return Object.keys(out).length > 0 ? out : undefined;
}

function userProperties(p: UserProperties | undefined): UserProperties | undefined {
  if (p === undefined || typeof p !== 'object' || p === null) return undefined;
  const out: UserProperties = Object.create(null) as UserProperties;
  let any = false;
  for (const [k, v] of Object.entries(p)) {
    if (typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
      out[k] = v;
      any = true;
    }
  }
  return any ? out : undefined;
}

const firstNumber = (v: unknown): number | undefined =>
  typeof v === 'number' ? v : Array.isArray(v) && typeof v[0] === 'number' ? v[0] : undefined;

/** One device connection and, once it is admitted, its broker connection. */
class DeviceConnection {
  private state: State = 'awaiting-connect';
  private readonly decoder: MqttDecoder;
  private version: MqttVersion = 4;
  private owner: SessionOwner | undefined;
  private config: BeamMqttConfig | undefined;
  private upstream: Socket | undefined;
  private upstreamDecoder: MqttDecoder | undefined;
  /**
   * Packets read from the device but not yet relayed: those after CONNECT until the broker accepts
   * ours, and those behind a QoS 1 PUBLISH that reached the in-flight limit (the rest of a read).
   */
  private readonly held: Packet[] = [];
  /** Packets the broker sent right behind its CONNACK. */
  private readonly upstreamEarly: Packet[] = [];
  /** Broker-side packet id → the device's id, for the device's QoS 1 PUBLISH awaiting PUBACK. */
  private readonly upPublishes = new PacketIds<{ deviceId: number; bytes: number }>();
  /** Broker-side packet id → the device's SUBSCRIBE or UNSUBSCRIBE id. */
  private readonly upRequests = new PacketIds<{ deviceId: number }>();
  /** Device-side packet id → the broker's id, for the broker's QoS 1 PUBLISH awaiting the device. */
  private readonly downPublishes = new PacketIds<{ upstreamId: number; bytes: number }>();
  private timer: NodeJS.Timeout | undefined;
  private deviceKeepaliveMs = 0;
  private upstreamKeepaliveMs = 0;
  private lastDeviceRead = Date.now();
  private lastUpstreamRead = Date.now();
  private pingSentAt: number | undefined;
  private lastSessionCheck = Date.now();
  private sessionCheckRunning = false;
  private devicePausedFor = new Set<'inflight' | 'upstream-buffer' | 'connecting'>();
  /** QoS 1 PUBLISHes to the broker in flight at most: maxInflight, or the broker's Receive Maximum. */
  private inflightLimit: number;
  // What is written to a socket in one turn of the event loop leaves in one system call (and, to
  // the broker, one TLS record): the first write corks the socket, setImmediate uncorks it. Under
  // load this is most of the relay's cost (bench beam: one write per PUBACK otherwise).
  private deviceCorked = false;
  private upstreamCorked = false;
  private readonly flushDevice = () => {
    this.deviceCorked = false;
    this.socket.uncork();
  };
  private readonly flushUpstream = () => {
    this.upstreamCorked = false;
    this.upstream?.uncork();
  };
  private upstreamPaused = false;

  constructor(
    private readonly entry: BeamMqttEntry,
    private readonly socket: Socket,
    private readonly source: string,
    private readonly limits: BeamMqttLimits,
  ) {
    this.decoder = new MqttDecoder(limits.maxPacketBytes);
    this.inflightLimit = limits.maxInflight;
    socket.setNoDelay(true);
    this.timer = setTimeout(() => {
      if (this.state === 'awaiting-connect' || this.state === 'connecting') {
        this.entry.refused(
          'connect_timeout',
          source,
          'no CONNECT (or no broker answer) within the connect timeout',
          this.owner,
        );
        this.record('refused', 0, 0, 'connect timeout');
        this.end('connect_timeout', undefined, 'abort');
      }
    }, limits.connectTimeoutMs);
    this.timer.unref();
    socket.on('data', (chunk: Buffer) => this.onDeviceData(chunk));
    socket.on('drain', () => this.resumeDevice('upstream-buffer', true));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.state !== 'closed') this.end('device_gone', undefined, 'abort');
    });
  }

  /** Read through a getter: an await in between may have closed it (TypeScript would narrow a field). */
  private get closed(): boolean {
    return this.state === 'closed';
  }

  // --- device side

  private onDeviceData(chunk: Buffer) {
    if (this.state === 'closed') return;
    this.lastDeviceRead = Date.now();
    const packets = this.decoder.push(chunk);
    if (!Array.isArray(packets)) {
      this.malformed(packets);
      return;
    }
    for (const packet of packets) {
      if (this.closed) break;
      if (this.state === 'awaiting-connect') this.onConnect(packet);
      else if (this.state === 'connecting' || this.held.length > 0 || this.devicePausedFor.has('inflight'))
        this.held.push(packet);
      else this.fromDevice(packet);
    }
  }

  private malformed(e: MqttDecodeError) {
    this.entry.stats.malformed++;
    this.entry.o.logger.debug({ source: this.source, code: e.code }, `Beam MQTT: ${e.message}; closing`);
    if (this.state === 'awaiting-connect' || this.state === 'connecting') {
      this.entry.refused('refused_protocol', this.source, e.message, this.owner);
    }
    this.end('malformed', e.reasonCode, 'abort');
  }

  private protocolError(code: string, message: string, reasonCode: number) {
    this.malformed({ code, message, reasonCode });
  }

  private onConnect(packet: Packet) {
    if (packet.cmd !== 'connect') {
      return this.protocolError(
        'MQTT_CONNECT_FIRST',
        `the first packet must be CONNECT, not ${packet.cmd}`,
        REASON.protocolError,
      );
    }
    const version = packet.protocolVersion ?? 4;
    this.version = version;
    this.decoder.version = version;
    this.state = 'connecting';
    this.pauseDevice('connecting');
    this.admit(packet).catch((e: unknown) => this.refuse(e));
  }

  private async admit(connect: IConnectPacket): Promise<void> {
    const keepalive = connect.keepalive ?? 0;
    if (keepalive !== 0 && (keepalive < MIN_KEEPALIVE || keepalive > MAX_KEEPALIVE)) {
      throw new Refusal(
        'refused_keepalive',
        CONNACK_V3.notAuthorized,
        REASON.notAuthorized,
        `keepalive ${keepalive} s: Beam accepts 0 or ${MIN_KEEPALIVE} to ${MAX_KEEPALIVE} s`,
      );
    }
    if (connect.will !== undefined) {
      const problem = topicNameProblem(connect.will.topic, this.limits.maxTopicBytes);
      if (problem !== undefined)
        throw new Refusal(
          'refused_protocol',
          CONNACK_V3.notAuthorized,
          REASON.topicNameInvalid,
          `will: ${problem}`,
        );
      if ((connect.will.qos ?? 0) > 1) {
        throw new Refusal(
          'refused_protocol',
          CONNACK_V3.notAuthorized,
          REASON.qosNotSupported,
          'will QoS 2 is not relayed',
        );
      }
    }
    let owner: SessionOwner | undefined;
    try {
      owner = await sessionOwner(this.entry.o.platform.store, this.source, BEAM_NAMESPACE);
    } catch (e) {
      this.entry.o.logger.error({ err: e, source: this.source }, 'Beam MQTT: the session lookup failed');
      throw new Refusal(
        'unavailable',
        CONNACK_V3.serverUnavailable,
        REASON.serverUnavailable,
        'the session lookup failed',
      );
    }
    if (this.closed) return;
    if (owner === undefined) {
      throw new Refusal(
        'refused_no_session',
        CONNACK_V3.notAuthorized,
        REASON.notAuthorized,
        `no online session owns ${this.source}`,
      );
    }
    this.owner = owner;
    if (owner.status !== 'active') {
      throw new Refusal(
        'refused_sim_not_active',
        CONNACK_V3.notAuthorized,
        REASON.notAuthorized,
        `the SIM is ${owner.status}, not active`,
      );
    }
    let config: BeamMqttConfig | undefined;
    try {
      config = beamMqttConfigOf(owner.configuration);
    } catch (e) {
      const why = e instanceof SimtrustError ? e.message : 'unreadable configuration';
      throw new Refusal(
        'refused_not_configured',
        CONNACK_V3.serverUnavailable,
        REASON.serverUnavailable,
        why,
      );
    }
    if (config === undefined) {
      throw new Refusal(
        'refused_not_configured',
        CONNACK_V3.notAuthorized,
        REASON.notAuthorized,
        "the SIM's group has no enabled SoracomBeam mqtt:// entry",
      );
    }
    this.config = config;
    const credentials = await this.credentials(config, owner);
    if (this.closed) return;
    const refusal = this.entry.o.destinations.refusalFor(config.destination.host);
    if (refusal !== undefined) {
      throw new Refusal(
        'refused_destination',
        CONNACK_V3.serverUnavailable,
        REASON.serverUnavailable,
        `the destination ${config.destination.host} is refused: ${refusal}`,
      );
    }
    const connack = await this.openUpstream(connect, config, credentials);
    if (this.closed) return;
    const accepted = this.version === 5 ? (connack.reasonCode ?? 0) === 0 : (connack.returnCode ?? 0) === 0;
    if (!accepted) {
      const code =
        this.version === 5
          ? (connack.reasonCode ?? REASON.unspecifiedError)
          : (connack.returnCode ?? CONNACK_V3.serverUnavailable);
      throw new Refusal('refused_upstream', code, code, `the broker refused the connection (code ${code})`);
    }
    this.opened(connack, keepalive);
  }

  private async credentials(config: BeamMqttConfig, owner: SessionOwner): Promise<UpstreamCredentials> {
    const resolve = async (ref: CredentialReference, what: string): Promise<ResolvedCredential> => {
      try {
        return await this.entry.o.platform.credentials.resolve(owner.operatorId, ref.credentialsId, {
          imsi: owner.imsi,
        });
      } catch (e) {
        const code = e instanceof SimtrustError ? e.code : 'ERR_INTERNAL';
        throw new Refusal(
          'refused_credentials',
          CONNACK_V3.serverUnavailable,
          REASON.serverUnavailable,
          `${what}: credential set ${JSON.stringify(ref.credentialsId.slice(0, 120))} cannot be used (${code})`,
        );
      }
    };
    const wrongType = (what: string, ref: CredentialReference, type: string, wanted: string) =>
      new Refusal(
        'refused_credentials',
        CONNACK_V3.serverUnavailable,
        REASON.serverUnavailable,
        `${what}: credential set ${JSON.stringify(ref.credentialsId.slice(0, 120))} is of type ${type}, not ${wanted}`,
      );
    const out: { username?: string; password?: Buffer; cert?: string; key?: string; ca?: string } = {};
    if (typeof config.username === 'string') out.username = config.username;
    else if (config.username !== undefined) {
      const set = await resolve(config.username, 'username');
      if (set.type !== 'username-password-credentials' || typeof set.username !== 'string') {
        throw wrongType('username', config.username, set.type, 'username-password-credentials');
      }
      out.username = set.username;
    }
    if (typeof config.password === 'string') out.password = Buffer.from(config.password, 'utf8');
    else if (config.password !== undefined) {
      const set = await resolve(config.password, 'password');
      if (set.type === 'username-password-credentials' && typeof set.password === 'string') {
        out.password = Buffer.from(set.password, 'utf8');
        // One set can hold both: its username is used unless the entry names another.
        if (out.username === undefined && typeof set.username === 'string') out.username = set.username;
      } else if (set.type === 'api-token-credentials' && typeof set.token === 'string') {
        out.password = Buffer.from(set.token, 'utf8');
      } else {
        throw wrongType(
          'password',
          config.password,
          set.type,
          'username-password-credentials or api-token-credentials',
        );
      }
    }
    if (config.clientCert !== undefined) {
      const set = await resolve(config.clientCert, 'clientCerts');
      if (set.type !== 'x509' || typeof set.cert !== 'string' || typeof set.key !== 'string') {
        throw wrongType('clientCerts', config.clientCert, set.type, 'x509');
      }
      out.cert = set.cert;
      out.key = set.key;
      if (typeof set.ca === 'string' && set.ca.trim() !== '') out.ca = set.ca;
    }
    return out;
  }

  private refuse(e: unknown) {
    if (this.state === 'closed') return;
    const refusal =
      e instanceof Refusal
        ? e
        : new Refusal(
            e instanceof SimtrustError && e.code === 'ERR_BEAM_DESTINATION_REFUSED'
              ? 'refused_destination'
              : 'upstream_unreachable',
            CONNACK_V3.serverUnavailable,
            REASON.serverUnavailable,
            e instanceof SimtrustError ? e.message : `the broker cannot be reached (${errorCode(e)})`,
          );
    this.entry.refused(refusal.outcome, this.source, refusal.message, this.owner);
    this.record('refused', 0, 0, refusal.message);
    const code = this.version === 5 ? refusal.v5Code : refusal.v3Code;
    // A CONNACK needs a version the device understands; an unknown one gets none.
    this.sendDevice({
      cmd: 'connack',
      sessionPresent: false,
      ...(this.version === 5 ? { reasonCode: code } : { returnCode: code }),
    });
    this.end(refusal.outcome, undefined, 'abort');
  }

  // --- the broker connection

  private openUpstream(
    connect: IConnectPacket,
    config: BeamMqttConfig,
    credentials: UpstreamCredentials,
  ): Promise<IConnackPacket> {
    const { host, port, tls } = config.destination;
    const policy = this.entry.o.destinations;
    const ca = credentials.ca ?? this.entry.trustedCa;
    const socket: Socket = tls
      ? tlsConnect({
          host,
          port,
          lookup: policy.lookup,
          ...(isIP(host) === 0 ? { servername: host } : {}),
          minVersion: 'TLSv1.2',
          ...(ca !== undefined ? { ca } : {}),
          ...(credentials.cert !== undefined ? { cert: credentials.cert, key: credentials.key } : {}),
        })
      : tcpConnect({ host, port, lookup: policy.lookup });
    socket.setNoDelay(true);
    this.upstream = socket;
    this.entry.stats.upstreamConnections++;
    const version = this.version;
    this.upstreamDecoder = new MqttDecoder(this.limits.maxPacketBytes, version);
    const deviceKeepalive = connect.keepalive ?? 0;
    const upstreamKeepalive =
      deviceKeepalive > 0 ? deviceKeepalive : UPSTREAM_KEEPALIVE_WITHOUT_DEVICE_KEEPALIVE;
    this.upstreamKeepaliveMs = upstreamKeepalive * 1000;
    const ours: IConnectPacket = {
      cmd: 'connect',
      protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: version,
      clientId: connect.clientId,
      clean: connect.clean ?? true,
      keepalive: upstreamKeepalive,
      ...(credentials.username !== undefined ? { username: credentials.username } : {}),
      ...(credentials.password !== undefined ? { password: credentials.password } : {}),
      ...(connect.will !== undefined ? { will: this.willFor(connect.will, config) } : {}),
      ...(version === 5 ? { properties: this.connectProperties(connect) } : {}),
    };
    return new Promise<IConnackPacket>((resolve, reject) => {
      let settled = false;
      const fail = (e: unknown) => {
        if (settled) return;
        settled = true;
        reject(e);
      };
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        const bytes = encodePacket(ours, version);
        if (bytes === undefined)
          return fail(
            new Refusal(
              'refused_protocol',
              CONNACK_V3.notAuthorized,
              REASON.protocolError,
              'the CONNECT cannot be relayed',
            ),
          );
        socket.write(bytes);
      });
      socket.on('data', (chunk: Buffer) => {
        if (!settled) {
          const packets = this.upstreamDecoder?.push(chunk) ?? [];
          if (!Array.isArray(packets)) return fail(new Error(`broker sent ${packets.code}`));
          const [first, ...rest] = packets;
          if (first === undefined) return;
          if (first.cmd !== 'connack') return fail(new Error(`broker answered CONNECT with ${first.cmd}`));
          settled = true;
          // Anything after CONNACK in the same read (a retained message, a queued one) is relayed
          // once the device has its CONNACK.
          this.upstreamEarly.push(...rest);
          resolve(first);
          return;
        }
        this.onUpstreamData(chunk);
      });
      socket.on('drain', () => this.resumeDevice('upstream-buffer', false));
      socket.on('error', (e) => {
        if (!settled) fail(e);
        else this.upstreamGone(`broker connection failed (${errorCode(e)})`);
      });
      socket.on('close', () => {
        if (!settled) fail(new Error('broker closed the connection before CONNACK'));
        else this.upstreamGone('the broker closed the connection');
      });
    });
  }

  private willFor(
    will: NonNullable<IConnectPacket['will']>,
    config: BeamMqttConfig,
  ): NonNullable<IConnectPacket['will']> {
    const properties =
      will.properties === undefined
        ? undefined
        : publishProperties(will.properties as IPublishPacket['properties']);
    const delay = will.properties?.willDelayInterval;
    return {
      topic: this.upTopic(will.topic, config),
      payload: will.payload,
      qos: will.qos ?? 0,
      retain: will.retain ?? false,
      ...(properties !== undefined || typeof delay === 'number'
        ? {
            properties: { ...properties, ...(typeof delay === 'number' ? { willDelayInterval: delay } : {}) },
          }
        : {}),
    };
  }

  /** MQTT 5 CONNECT properties for the broker: the device's session expiry and user properties; our limits. */
  private connectProperties(connect: IConnectPacket): NonNullable<IConnectPacket['properties']> {
    const p = connect.properties ?? {};
    const out: NonNullable<IConnectPacket['properties']> = {
      // The broker must not send us more than we read, nor more than the device reads.
      maximumPacketSize: Math.min(
        this.limits.maxPacketBytes,
        firstNumber(p.maximumPacketSize) ?? Number.MAX_SAFE_INTEGER,
      ),
      receiveMaximum: Math.min(this.limits.maxInflight, firstNumber(p.receiveMaximum) ?? 65535),
    };
    const expiry = firstNumber(p.sessionExpiryInterval);
    if (expiry !== undefined) out.sessionExpiryInterval = expiry;
    const user = userProperties(p.userProperties);
    if (user !== undefined) out.userProperties = user;
    return out;
  }

  private opened(connack: IConnackPacket, keepalive: number) {
    const owner = this.owner;
    if (owner === undefined) return;
    this.state = 'open';
    this.entry.stats.connected++;
    if (this.timer) clearTimeout(this.timer);
    this.deviceKeepaliveMs = keepalive * 1000;
    const now = Date.now();
    this.lastDeviceRead = now;
    this.lastUpstreamRead = now;
    this.lastSessionCheck = now;
    const tick = Math.min(
      15_000,
      Math.max(
        250,
        Math.floor(
          Math.min(this.deviceKeepaliveMs || this.limits.idleTimeoutMs, this.upstreamKeepaliveMs) / 4,
        ),
      ),
    );
    this.timer = setInterval(() => this.tick(), tick);
    this.timer.unref();
    const answer: IConnackPacket = { cmd: 'connack', sessionPresent: connack.sessionPresent };
    if (this.version === 5) {
      answer.reasonCode = 0;
      const p = connack.properties ?? {};
      const properties: NonNullable<IConnackPacket['properties']> = {
        // Topic aliases are not relayed: none from the device, none from us.
        topicAliasMaximum: 0,
        maximumPacketSize: Math.min(
          this.limits.maxPacketBytes,
          firstNumber(p.maximumPacketSize) ?? Number.MAX_SAFE_INTEGER,
        ),
        maximumQoS: 1,
      };
      const receiveMaximum = firstNumber(p.receiveMaximum);
      // The broker's Receive Maximum bounds what we may have in flight to it (MQTT 5 §3.3.4).
      this.inflightLimit = Math.max(1, Math.min(this.limits.maxInflight, receiveMaximum ?? 65535));
      properties.receiveMaximum = this.inflightLimit;
      const brokerQos = firstNumber(p.maximumQoS);
      if (brokerQos === 0) properties.maximumQoS = 0;
      const brokerMax = firstNumber(p.maximumPacketSize);
      if (brokerMax !== undefined) {
        // Room for the "/{IMSI}" appended to a topic, so a PUBLISH the device may send fits the broker.
        const room = this.config?.addSubscriberHeader ? Buffer.byteLength(`/${this.owner?.imsi ?? ''}`) : 0;
        properties.maximumPacketSize = Math.max(64, Math.min(this.limits.maxPacketBytes, brokerMax - room));
      }
      if (typeof p.retainAvailable === 'boolean') properties.retainAvailable = p.retainAvailable;
      if (typeof p.wildcardSubscriptionAvailable === 'boolean')
        properties.wildcardSubscriptionAvailable = p.wildcardSubscriptionAvailable;
      if (typeof p.sharedSubscriptionAvailable === 'boolean')
        properties.sharedSubscriptionAvailable = p.sharedSubscriptionAvailable;
      properties.subscriptionIdentifiersAvailable = false;
      if (typeof p.assignedClientIdentifier === 'string')
        properties.assignedClientIdentifier = p.assignedClientIdentifier;
      const expiry = firstNumber(p.sessionExpiryInterval);
      if (expiry !== undefined) properties.sessionExpiryInterval = expiry;
      answer.properties = properties;
    } else answer.returnCode = 0;
    this.sendDevice(answer);
    this.entry.o.logger.info(
      {
        source: this.source,
        simId: owner.simId,
        imsi: owner.imsi,
        destination: `${this.config?.destination.tls ? 'mqtts' : 'mqtt'}://${this.config?.destination.host}:${this.config?.destination.port}`,
        protocolVersion: this.version,
      },
      'Beam MQTT device connected and relayed',
    );
    if (this.upstreamEarly.length > 0) this.fromUpstreamPackets(this.upstreamEarly.splice(0));
    this.resumeDevice('connecting', false);
  }

  // --- relaying

  private upTopic(topic: string, config: BeamMqttConfig): string {
    const owner = this.owner;
    return config.addSubscriberHeader && owner !== undefined ? `${topic}/${owner.imsi}` : topic;
  }

  private fromDevice(packet: Packet) {
    const config = this.config;
    if (config === undefined) return;
    switch (packet.cmd) {
      case 'publish': {
        if (packet.qos === 2) {
          return this.protocolError(
            'MQTT_QOS_2',
            'QoS 2 is not relayed by Beam; publish with QoS 0 or 1',
            REASON.qosNotSupported,
          );
        }
        if (packet.properties?.topicAlias !== undefined) {
          return this.protocolError(
            'MQTT_TOPIC_ALIAS',
            'topic aliases are not accepted (topicAliasMaximum 0)',
            0x94,
          );
        }
        const problem = topicNameProblem(packet.topic, this.limits.maxTopicBytes);
        if (problem !== undefined)
          return this.protocolError('MQTT_TOPIC_NAME', problem, REASON.topicNameInvalid);
        if (packet.qos === 1 && packet.messageId === undefined) {
          return this.protocolError(
            'MQTT_NO_PACKET_ID',
            'a QoS 1 PUBLISH needs a packet id',
            REASON.protocolError,
          );
        }
        const bytes =
          typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
        const properties = this.version === 5 ? publishProperties(packet.properties) : undefined;
        const out: IPublishPacket = {
          cmd: 'publish',
          topic: this.upTopic(packet.topic, config),
          payload: packet.payload,
          qos: packet.qos,
          retain: packet.retain,
          dup: false,
          ...(properties !== undefined ? { properties } : {}),
        };
        if (packet.qos === 1) {
          const id = this.upPublishes.take({ deviceId: packet.messageId ?? 0, bytes });
          if (id === undefined)
            return this.protocolError(
              'MQTT_INFLIGHT',
              'too many QoS 1 messages in flight',
              REASON.quotaExceeded,
            );
          out.messageId = id;
          if (this.upPublishes.size >= this.inflightLimit) this.pauseDevice('inflight');
        }
        if (!this.sendUpstream(out)) return;
        this.entry.stats.messagesUp++;
        if (packet.qos === 0) this.record('delivered', bytes, 0);
        return;
      }
      case 'puback': {
        const pending = this.downPublishes.give(packet.messageId);
        if (pending === undefined) return; // an id we did not send (or already acknowledged)
        this.record('delivered', 0, pending.bytes);
        this.sendUpstream({
          cmd: 'puback',
          messageId: pending.upstreamId,
          ...(this.version === 5 && packet.reasonCode !== undefined ? { reasonCode: packet.reasonCode } : {}),
        });
        return;
      }
      case 'subscribe':
        return this.subscribe(packet);
      case 'unsubscribe':
        return this.unsubscribe(packet);
      case 'pingreq':
        this.sendDevice({ cmd: 'pingresp' });
        return;
      case 'disconnect': {
        // The device leaves cleanly: the broker hears DISCONNECT (no will), unless an MQTT 5
        // device asked for its will (0x04).
        const reasonCode = this.version === 5 ? (packet.reasonCode ?? 0) : undefined;
        this.sendUpstream({
          cmd: 'disconnect',
          ...(reasonCode !== undefined ? { reasonCode: reasonCode === 0x04 ? 0x04 : 0 } : {}),
        });
        this.end('device_disconnect', undefined, 'graceful');
        return;
      }
      default:
        return this.protocolError(
          'MQTT_UNEXPECTED',
          `a device does not send ${packet.cmd} here`,
          REASON.protocolError,
        );
    }
  }

  private subscribe(packet: ISubscribePacket) {
    if (packet.messageId === undefined || packet.subscriptions.length === 0) {
      return this.protocolError(
        'MQTT_SUBSCRIBE',
        'SUBSCRIBE needs a packet id and at least one filter',
        REASON.protocolError,
      );
    }
    for (const s of packet.subscriptions) {
      const problem = topicFilterProblem(s.topic, this.limits.maxTopicBytes);
      if (problem !== undefined)
        return this.protocolError('MQTT_TOPIC_FILTER', problem, REASON.topicFilterInvalid);
    }
    const id = this.upRequests.take({ deviceId: packet.messageId });
    if (id === undefined)
      return this.protocolError('MQTT_INFLIGHT', 'too many requests in flight', REASON.quotaExceeded);
    const user = this.version === 5 ? userProperties(packet.properties?.userProperties) : undefined;
    this.sendUpstream({
      cmd: 'subscribe',
      messageId: id,
      subscriptions: packet.subscriptions.map((s) => ({
        topic: s.topic,
        qos: s.qos > 1 ? 1 : s.qos,
        ...(this.version === 5 ? { nl: s.nl ?? false, rap: s.rap ?? false, rh: s.rh ?? 0 } : {}),
      })),
      ...(user !== undefined ? { properties: { userProperties: user } } : {}),
    });
  }

  private unsubscribe(packet: IUnsubscribePacket) {
    if (packet.messageId === undefined || packet.unsubscriptions.length === 0) {
      return this.protocolError(
        'MQTT_UNSUBSCRIBE',
        'UNSUBSCRIBE needs a packet id and at least one filter',
        REASON.protocolError,
      );
    }
    for (const topic of packet.unsubscriptions) {
      const problem = topicFilterProblem(topic, this.limits.maxTopicBytes);
      if (problem !== undefined)
        return this.protocolError('MQTT_TOPIC_FILTER', problem, REASON.topicFilterInvalid);
    }
    const id = this.upRequests.take({ deviceId: packet.messageId });
    if (id === undefined)
      return this.protocolError('MQTT_INFLIGHT', 'too many requests in flight', REASON.quotaExceeded);
    this.sendUpstream({ cmd: 'unsubscribe', messageId: id, unsubscriptions: packet.unsubscriptions });
  }

  private onUpstreamData(chunk: Buffer) {
    if (this.state !== 'open') return;
    const packets = this.upstreamDecoder?.push(chunk);
    if (packets === undefined) return;
    if (!Array.isArray(packets)) return this.upstreamGone(`the broker sent a bad packet (${packets.code})`);
    this.fromUpstreamPackets(packets);
  }

  private fromUpstreamPackets(packets: Packet[]) {
    this.lastUpstreamRead = Date.now();
    this.pingSentAt = undefined;
    for (const packet of packets) {
      if (this.state !== 'open') break;
      this.fromUpstream(packet);
    }
  }

  private fromUpstream(packet: Packet) {
    switch (packet.cmd) {
      case 'publish': {
        if (packet.qos === 2)
          return this.upstreamGone('the broker sent QoS 2 although Beam subscribes with QoS 1 at most');
        const bytes =
          typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
        const properties = this.version === 5 ? publishProperties(packet.properties) : undefined;
        if (this.version === 5 && packet.properties?.topicAlias !== undefined && packet.topic === '') {
          return this.upstreamGone('the broker used a topic alias although Beam allows none');
        }
        const out: IPublishPacket = {
          cmd: 'publish',
          topic: packet.topic,
          payload: packet.payload,
          qos: packet.qos,
          retain: packet.retain,
          dup: false,
          ...(properties !== undefined ? { properties } : {}),
        };
        if (packet.qos === 1) {
          if (packet.messageId === undefined)
            return this.upstreamGone('the broker sent a QoS 1 PUBLISH without packet id');
          const id = this.downPublishes.take({ upstreamId: packet.messageId, bytes });
          if (id === undefined)
            return this.upstreamGone('the device acknowledges no messages (65535 in flight)');
          out.messageId = id;
        } else this.record('delivered', 0, bytes);
        this.entry.stats.messagesDown++;
        this.sendDevice(out);
        return;
      }
      case 'puback': {
        const pending = this.upPublishes.give(packet.messageId);
        if (pending === undefined) return;
        const failed = this.version === 5 && (packet.reasonCode ?? 0) >= 0x80;
        this.record(
          failed ? 'failed' : 'delivered',
          pending.bytes,
          0,
          failed ? `the broker refused the message (reason ${packet.reasonCode})` : undefined,
        );
        this.sendDevice({
          cmd: 'puback',
          messageId: pending.deviceId,
          ...(this.version === 5 && packet.reasonCode !== undefined ? { reasonCode: packet.reasonCode } : {}),
        });
        if (this.upPublishes.size < this.inflightLimit) this.resumeDevice('inflight', false);
        return;
      }
      case 'suback': {
        const pending = this.upRequests.give(packet.messageId);
        if (pending === undefined) return;
        const answer: ISubackPacket = { cmd: 'suback', messageId: pending.deviceId, granted: packet.granted };
        this.sendDevice(answer);
        return;
      }
      case 'unsuback': {
        const pending = this.upRequests.give(packet.messageId);
        if (pending === undefined) return;
        this.sendDevice({
          cmd: 'unsuback',
          messageId: pending.deviceId,
          granted: this.version === 5 ? packet.granted : [],
        });
        return;
      }
      case 'pingresp':
        return;
      case 'disconnect': {
        const reason = packet.reasonCode ?? REASON.unspecifiedError;
        return this.upstreamGone(`the broker disconnected (reason ${reason})`, reason);
      }
      default:
        return this.upstreamGone(`the broker sent ${packet.cmd}, which a client does not receive`);
    }
  }

  // --- timers, flow control, ending

  private tick() {
    if (this.state !== 'open') return;
    const now = Date.now();
    const deviceSilence = now - this.lastDeviceRead;
    const deviceLimit = this.deviceKeepaliveMs > 0 ? this.deviceKeepaliveMs * 1.5 : this.limits.idleTimeoutMs;
    if (deviceSilence >= deviceLimit) {
      this.entry.o.logger.info(
        { source: this.source, simId: this.owner?.simId },
        'Beam MQTT device silent beyond its keepalive; closing',
      );
      return this.end('keepalive_timeout', REASON.keepAliveTimeout, 'abort');
    }
    if (this.pingSentAt !== undefined) {
      if (now - this.pingSentAt >= this.upstreamKeepaliveMs)
        return this.upstreamGone('the broker did not answer PINGREQ');
    } else if (now - this.lastUpstreamRead >= this.upstreamKeepaliveMs / 2) {
      this.pingSentAt = now;
      this.sendUpstream({ cmd: 'pingreq' });
    }
    if (now - this.lastSessionCheck >= this.limits.sessionCheckMs && !this.sessionCheckRunning) {
      this.lastSessionCheck = now;
      this.sessionCheckRunning = true;
      this.checkSession().finally(() => {
        this.sessionCheckRunning = false;
      });
    }
  }

  /** The SIM must still own the address and be active; otherwise its connection ends. */
  private async checkSession(): Promise<void> {
    const owner = this.owner;
    if (owner === undefined) return;
    let now: SessionOwner | undefined;
    try {
      now = await sessionOwner(this.entry.o.platform.store, this.source, BEAM_NAMESPACE);
    } catch (e) {
      // The database being away is not the SIM's fault: keep the connection, check again later.
      this.entry.o.logger.warn(
        { err: e, simId: owner.simId },
        'Beam MQTT: session check failed; retrying later',
      );
      return;
    }
    if (this.state !== 'open') return;
    if (now === undefined || now.simId !== owner.simId || now.status !== 'active') {
      const why =
        now === undefined || now.simId !== owner.simId ? 'the session ended' : `the SIM is ${now.status}`;
      this.entry.o.logger.info(
        { source: this.source, simId: owner.simId, imsi: owner.imsi },
        `Beam MQTT: ${why}; closing`,
      );
      this.record('refused', 0, 0, why);
      this.end('session_ended', REASON.administrativeAction, 'abort');
    }
  }

  private pauseDevice(why: 'inflight' | 'upstream-buffer' | 'connecting') {
    this.devicePausedFor.add(why);
    this.socket.pause();
  }

  /** Resumes reading the device once nothing holds it; `deviceDrained` is the device socket's drain. */
  private resumeDevice(why: 'inflight' | 'upstream-buffer' | 'connecting', deviceDrained: boolean) {
    if (deviceDrained) {
      // The device reads again: the broker may be read again too.
      if (this.upstreamPaused) {
        this.upstreamPaused = false;
        this.upstream?.resume();
      }
      return;
    }
    if (!this.devicePausedFor.delete(why)) return;
    // Packets held back go first, in order, as long as the in-flight limit allows.
    while (this.held.length > 0 && this.state === 'open' && !this.devicePausedFor.has('inflight')) {
      const packet = this.held.shift();
      if (packet !== undefined) this.fromDevice(packet);
    }
    if (this.held.length === 0 && this.devicePausedFor.size === 0 && this.state !== 'closed') {
      this.socket.resume();
    }
  }

  private sendDevice(packet: Packet) {
    if (this.socket.destroyed) return;
    const bytes = encodePacket(packet, this.version);
    if (bytes === undefined) return this.upstreamGone(`a ${packet.cmd} for the device cannot be encoded`);
    if (!this.deviceCorked) {
      this.deviceCorked = true;
      this.socket.cork();
      setImmediate(this.flushDevice);
    }
    this.socket.write(bytes);
    if (this.socket.writableLength > HIGH_WATER && !this.upstreamPaused && this.upstream) {
      this.upstreamPaused = true;
      this.upstream.pause();
    }
  }

  private sendUpstream(packet: Packet): boolean {
    const up = this.upstream;
    if (up === undefined || up.destroyed) return false;
    const bytes = encodePacket(packet, this.version);
    if (bytes === undefined) {
      this.protocolError('MQTT_UNENCODABLE', `the ${packet.cmd} cannot be relayed`, REASON.protocolError);
      return false;
    }
    if (!this.upstreamCorked) {
      this.upstreamCorked = true;
      up.cork();
      setImmediate(this.flushUpstream);
    }
    up.write(bytes);
    if (up.writableLength > HIGH_WATER) this.pauseDevice('upstream-buffer');
    return true;
  }

  private upstreamGone(why: string, reasonCode: number = REASON.unspecifiedError) {
    if (this.state === 'closed') return;
    this.entry.o.logger.warn(
      { source: this.source, simId: this.owner?.simId, imsi: this.owner?.imsi },
      `Beam MQTT: ${why}; disconnecting the device`,
    );
    this.record('failed', 0, 0, why);
    this.end('upstream_gone', reasonCode, 'abort');
  }

  /** Closes the connection on MQTT 5 with "server shutting down", for the listener's close(). */
  shutdown() {
    this.end('shutdown', 0x8b, 'abort');
  }

  /**
   * Ends both sides once. `reasonCode`: a DISCONNECT for an MQTT 5 device that got its CONNACK.
   * 'graceful': the broker has had our DISCONNECT, the sockets end after it is written; 'abort':
   * the broker connection is dropped (the broker sends the device's will).
   */
  private end(reason: string, reasonCode: number | undefined, how: 'graceful' | 'abort') {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    if (this.timer) {
      clearTimeout(this.timer);
      clearInterval(this.timer);
    }
    if (wasOpen) this.entry.closedRelay(reason);
    // Messages the broker never acknowledged: the device never got PUBACK for them either.
    if (this.owner !== undefined && this.upPublishes.size > 0) {
      this.record(
        'failed',
        0,
        0,
        `${this.upPublishes.size} QoS 1 message(s) unacknowledged by the broker when the connection ended`,
      );
    }
    if (wasOpen && reasonCode !== undefined && this.version === 5 && !this.socket.destroyed) {
      const bytes = encodePacket({ cmd: 'disconnect', reasonCode }, 5);
      if (bytes !== undefined) this.socket.write(bytes);
    }
    this.socket.end();
    // A device that does not close its side is not waited for.
    setTimeout(() => this.socket.destroy(), 2000).unref();
    const up = this.upstream;
    if (up !== undefined) {
      if (how === 'graceful') {
        up.end();
        setTimeout(() => up.destroy(), 2000).unref();
      } else up.destroy();
    }
  }

  /** One usage record (platform.beamUsage): per message relayed, per refusal, per failure. */
  private record(outcome: BeamUsageEvent['outcome'], bytesUp: number, bytesDown: number, error?: string) {
    const owner = this.owner;
    const usage = this.entry.o.platform.beamUsage;
    if (owner === undefined || usage === undefined) return;
    usage.record({
      service: 'beam',
      entryPoint: 'mqtt',
      operatorId: owner.operatorId,
      simId: owner.simId,
      imsi: owner.imsi,
      bytesUp,
      bytesDown,
      outcome,
      ...(this.config !== undefined ? { destination: this.config.destination.tls ? 'mqtts' : 'mqtt' } : {}),
      ...(error !== undefined ? { error: error.slice(0, 300) } : {}),
    });
  }
}

/** A socket error's code (ECONNREFUSED, CERT_HAS_EXPIRED, …) — never its full text, which may name more. */
function errorCode(e: unknown): string {
  if (e instanceof SimtrustError) return e.code;
  if (
    typeof e === 'object' &&
    e !== null &&
    'code' in e &&
    typeof (e as { code: unknown }).code === 'string'
  ) {
    return (e as { code: string }).code;
  }
  return e instanceof Error ? e.message.slice(0, 120) : 'unknown error';
}
