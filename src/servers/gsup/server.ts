// The GSUP listener (optional, `SIMTRUST_GSUP_PORT`): Osmocom core elements (osmo-msc, osmo-sgsn)
// and the simulator's network side use simtrust as their HLR/AuC over GSUP in IPA framing on TCP
// (libosmocore gsm/ipa.c, gsup.c; osmo-hlr's gsup_server.c is the reference server).
//
// Per connection, as osmo-hlr does: we send CCM ID_GET, the peer answers ID_RESP with its unit name
// and serial number (kept for logs); we never send ID_ACK (libosmocore answers ID_ACK with ID_ACK,
// so two eager sides would loop) and ignore one we receive; PING gets PONG. GSUP requests are
// answered on the connection they came on, so no routing by serial number is needed and a request
// that arrives before ID_RESP is served too.
//
// Nothing a peer sends stops the server: the deframer and decoders are total, a frame that does not
// decode is counted and dropped, each request is handled under catch, and a peer that sends more
// than it reads is cut off.
//
// Peer admission (admission.ts): only sources in gsupAllowedNetworks, at most
// gsupMaxConnectionsPerSource per source and gsupMaxConnections in all, optionally only named IPA
// units. A connection that sends nothing for half of gsupIdleTimeoutSeconds gets a PING (IPA
// keep-alive, libosmocore ipa_keepalive); one that stays silent for the whole of it is closed, so
// dead or parked connections give their slots back. Refusals are logged (once per source per
// minute) and counted in simtrust_gsup_connections_total.

import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { SETTINGS } from '../../config/defaults.js';
import {
  decodeGsup,
  encodeGsup,
  GMM_CAUSE,
  GSUP_MESSAGE_TYPE,
  type GsupMessage,
  gsupErrorType,
} from '../../lib/gsup/gsup.js';
import {
  decodeCcm,
  encodeCcm,
  gsupFrame,
  gsupPayload,
  IPA_ID_TAG,
  IPA_PROTO,
  IpaDeframer,
} from '../../lib/gsup/ipa.js';
import type { Result } from '../../lib/result.js';
import { GsupAdmission, type GsupRefusal, plainPeerAddress } from './admission.js';
import { type HlrDependencies, type HlrStats, purgeMs, sendAuthInfo, updateLocation } from './hlr.js';

export interface GsupServerOptions extends HlrDependencies {
  readonly host: string;
  readonly port: number;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** How long an UpdateLocation waits for the InsertSubscriberData acknowledgement. */
  readonly insertTimeoutMs?: number;
  /** The settings of the same names; each defaults to its value in src/config/defaults.ts. */
  readonly allowedNetworks?: readonly string[];
  readonly allowedUnitNames?: readonly string[];
  readonly maxConnectionsPerSource?: number;
  readonly maxConnections?: number;
  /** gsupIdleTimeoutSeconds in milliseconds. */
  readonly idleTimeoutMs?: number;
  /** Registry for Prometheus metrics (the API's /metrics); none = no metrics. */
  readonly metrics?: Registry | undefined;
}

export interface GsupStats extends HlrStats {
  /** Connections admitted. */
  connections: number;
  framesDropped: number;
  /** Connections closed at once, by reason. */
  refused: Record<GsupRefusal, number>;
  /** Connections closed for silence (gsupIdleTimeoutSeconds), or for not identifying in time. */
  closedIdle: number;
  /** GSUP requests dropped because the peer had not yet identified as an allowed unit. */
  unidentifiedDropped: number;
}

/** A refusal from one source is logged at most this often (a flood must not flood the log). */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

/** Octets a connection may leave unread in our write buffer before we stop serving it. */
const MAX_BACKLOG = 4 * 1024 * 1024;

export class GsupServer {
  readonly stats: GsupStats = {
    connections: 0,
    framesDropped: 0,
    refused: { network: 0, per_source: 0, capacity: 0, unit_name: 0 },
    closedIdle: 0,
    unidentifiedDropped: 0,
    sendAuthInfo: 0,
    resyncs: 0,
    updateLocation: 0,
    purgeMs: 0,
    errors: 0,
  };
  private readonly sockets = new Set<Socket>();
  private readonly admission: GsupAdmission;
  private readonly idleTimeoutMs: number;
  /** Last time a refusal from each source was logged, and how many were not logged since. */
  private readonly refusalLog = new Map<string, { at: number; quiet: number }>();

  private constructor(
    private readonly server: Server,
    private readonly o: GsupServerOptions,
  ) {
    this.admission = new GsupAdmission({
      allowedNetworks: o.allowedNetworks ?? SETTINGS.gsupAllowedNetworks.default,
      allowedUnitNames: o.allowedUnitNames ?? SETTINGS.gsupAllowedUnitNames.default,
      maxConnectionsPerSource: o.maxConnectionsPerSource ?? SETTINGS.gsupMaxConnectionsPerSource.default,
      maxConnections: o.maxConnections ?? SETTINGS.gsupMaxConnections.default,
    });
    this.idleTimeoutMs = o.idleTimeoutMs ?? SETTINGS.gsupIdleTimeoutSeconds.default * 1000;
  }

  static async start(o: GsupServerOptions): Promise<GsupServer> {
    const server = createServer();
    const gsup = new GsupServer(server, o);
    if (o.metrics) gsup.registerMetrics(o.metrics);
    server.on('connection', (socket) => gsup.accept(socket));
    server.on('error', (e) => o.logger.error({ err: e }, 'GSUP listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return gsup;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : this.o.port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.admission.connections;
  }

  private refuse(socket: Socket, address: string, reason: GsupRefusal, detail: string): void {
    this.stats.refused[reason]++;
    socket.destroy();
    const now = Date.now();
    const seen = this.refusalLog.get(address);
    if (seen !== undefined && now - seen.at < REFUSAL_LOG_INTERVAL_MS) {
      seen.quiet++;
      return;
    }
    // Bounded, so refusals from many sources cannot grow it without limit.
    if (this.refusalLog.size > 10_000) this.refusalLog.clear();
    this.refusalLog.set(address, { at: now, quiet: 0 });
    this.o.logger.warn(
      { peer: address, reason, ...(seen?.quiet ? { alsoRefusedSinceLastLog: seen.quiet } : {}) },
      `GSUP peer refused: ${detail}`,
    );
  }

  private accept(socket: Socket): void {
    // Read once: a destroyed socket no longer reports its peer.
    const address = plainPeerAddress(socket.remoteAddress ?? '');
    const refusal = this.admission.admit(address);
    if (refusal !== undefined) {
      const detail = {
        network:
          'its address is not in gsupAllowedNetworks (add it there if it is one of your core elements)',
        per_source: `it already holds gsupMaxConnectionsPerSource connections`,
        capacity: 'the listener holds gsupMaxConnections connections',
        unit_name: '',
      }[refusal];
      this.refuse(socket, address, refusal, detail);
      return;
    }
    this.stats.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const peer = { name: `${socket.remoteAddress}:${socket.remotePort}` };
    // With gsupAllowedUnitNames, nothing is served before ID_RESP names an allowed unit.
    let identified = !this.admission.needsUnitName;
    // Idle: PING after half the timeout of silence, close after all of it (or, with a unit-name
    // list, when the peer has not identified by then).
    const connectedAt = Date.now();
    let heard = connectedAt;
    const idleTimer = setInterval(
      () => {
        const now = Date.now();
        const silent = now - heard;
        if (silent >= this.idleTimeoutMs || (!identified && now - connectedAt >= this.idleTimeoutMs)) {
          this.stats.closedIdle++;
          this.o.logger.info(
            { peer: peer.name },
            identified
              ? 'GSUP peer silent for gsupIdleTimeoutSeconds; closing'
              : 'GSUP peer did not identify in time; closing',
          );
          socket.destroy();
        } else if (silent >= this.idleTimeoutMs / 2) write(encodeCcm({ type: 'PING' }));
      },
      // Four checks per timeout: a PING goes out at half to three quarters of it, which leaves the
      // peer at least a quarter of the timeout to answer.
      Math.max(1, Math.floor(this.idleTimeoutMs / 4)),
    );
    idleTimer.unref();
    const deframer = new IpaDeframer();
    const pendingInserts = new Map<string, { result: GsupMessage; timer: NodeJS.Timeout }>();
    const write = (frame: Result<Uint8Array>) => {
      if (!frame.ok || socket.destroyed) return;
      if (socket.writableLength > MAX_BACKLOG) {
        this.o.logger.warn({ peer: peer.name }, 'GSUP peer does not read its answers; closing');
        socket.destroy();
        return;
      }
      socket.write(frame.value);
    };
    const send = (message: GsupMessage) => {
      const bytes = encodeGsup(message);
      if (!bytes.ok) {
        this.o.logger.error({ code: bytes.error.code }, 'GSUP: cannot encode an answer');
        return;
      }
      write(gsupFrame(bytes.value));
    };
    const onGsup = async (message: GsupMessage) => {
      switch (message.type) {
        case GSUP_MESSAGE_TYPE['SendAuthInfo-Request']:
          return send(await sendAuthInfo(this.o, message, this.stats));
        case GSUP_MESSAGE_TYPE['UpdateLocation-Request']: {
          const r = await updateLocation(this.o, message, this.stats, address);
          if ('error' in r) return send(r.error);
          const previous = pendingInserts.get(message.imsi);
          if (previous) clearTimeout(previous.timer);
          const timer = setTimeout(() => {
            pendingInserts.delete(message.imsi);
            this.stats.errors++;
            send({
              type: gsupErrorType(message.type),
              imsi: message.imsi,
              cause: GMM_CAUSE['Network-Failure'],
            });
          }, this.o.insertTimeoutMs ?? 5000);
          timer.unref();
          pendingInserts.set(message.imsi, { result: r.result, timer });
          return send(r.insert);
        }
        case GSUP_MESSAGE_TYPE['InsertSubscriberData-Result']:
        case GSUP_MESSAGE_TYPE['InsertSubscriberData-Error']: {
          const pending = pendingInserts.get(message.imsi);
          if (pending === undefined) return undefined;
          clearTimeout(pending.timer);
          pendingInserts.delete(message.imsi);
          if (message.type === GSUP_MESSAGE_TYPE['InsertSubscriberData-Result']) return send(pending.result);
          this.stats.errors++;
          return send({
            type: GSUP_MESSAGE_TYPE['UpdateLocation-Error'],
            imsi: message.imsi,
            cause: message.cause ?? GMM_CAUSE['Network-Failure'],
          });
        }
        case GSUP_MESSAGE_TYPE['PurgeMS-Request']:
          return send(await purgeMs(this.o, message, this.stats));
        default:
          // A request (low two bits 00) we do not serve gets an error; answers we did not ask for
          // are ignored.
          if ((message.type & 0x03) === 0) {
            this.stats.errors++;
            send({
              type: gsupErrorType(message.type),
              imsi: message.imsi,
              cause: GMM_CAUSE['Message-Type-Nonexistent'],
            });
          }
          return undefined;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      heard = Date.now();
      for (const frame of deframer.push(new Uint8Array(chunk))) {
        if (socket.destroyed) return;
        if (frame.proto === IPA_PROTO.CCM) {
          const ccm = decodeCcm(frame.payload);
          if (!ccm.ok) {
            this.stats.framesDropped++;
            continue;
          }
          if (ccm.value.type === 'PING') write(encodeCcm({ type: 'PONG' }));
          else if (ccm.value.type === 'ID_RESP') {
            const unitName = ccm.value.identity.get(IPA_ID_TAG.unitName);
            const name = unitName ?? ccm.value.identity.get(IPA_ID_TAG.serialNumber);
            if (name !== undefined) peer.name = `${name} (${socket.remoteAddress}:${socket.remotePort})`;
            if (!this.admission.admitsUnitName(unitName)) {
              this.refuse(
                socket,
                address,
                'unit_name',
                `its unit name ${JSON.stringify((unitName ?? '(none)').slice(0, 64))} is not in gsupAllowedUnitNames`,
              );
              return;
            }
            identified = true;
            this.o.logger.info({ peer: peer.name }, 'GSUP peer identified');
          }
          continue;
        }
        if (!identified) {
          // osmo-hlr too drops GSUP that arrives before the peer's identity.
          this.stats.unidentifiedDropped++;
          continue;
        }
        const payload = gsupPayload(frame);
        const message = payload === undefined ? undefined : decodeGsup(payload);
        if (message === undefined || !message.ok) {
          this.stats.framesDropped++;
          this.o.logger.debug(
            { peer: peer.name, code: message?.ok === false ? message.error.code : 'NOT_GSUP' },
            'GSUP frame dropped',
          );
          continue;
        }
        onGsup(message.value).catch((e: unknown) => {
          this.stats.errors++;
          this.o.logger.error({ err: e, peer: peer.name, type: message.value.type }, 'GSUP request failed');
          if ((message.value.type & 0x03) === 0) {
            send({
              type: gsupErrorType(message.value.type),
              imsi: message.value.imsi,
              cause: GMM_CAUSE['Network-Failure'],
            });
          }
        });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearInterval(idleTimer);
      this.sockets.delete(socket);
      this.admission.release(address);
      for (const p of pendingInserts.values()) clearTimeout(p.timer);
    });
    // Ask who the peer is; serial number (route key) and unit name, as osmo-hlr asks.
    write(encodeCcm({ type: 'ID_GET', tags: [IPA_ID_TAG.serialNumber, IPA_ID_TAG.unitName] }));
  }

  private registerMetrics(registry: Registry): void {
    // A server started again on the same registry (tests, a restart in-process) replaces its metrics.
    for (const name of ['simtrust_gsup_connections_total', 'simtrust_gsup_connections_open'])
      registry.removeSingleMetric(name);
    const stats = this.stats;
    new Counter({
      name: 'simtrust_gsup_connections_total',
      help: 'GSUP connections by outcome: accepted, refused (network, per_source, capacity, unit_name) or closed_idle',
      labelNames: ['outcome'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ outcome: 'accepted' }, stats.connections);
        for (const [reason, n] of Object.entries(stats.refused))
          this.inc({ outcome: `refused_${reason}` }, n);
        this.inc({ outcome: 'closed_idle' }, stats.closedIdle);
      },
    });
    const open = () => this.admission.connections;
    new Gauge({
      name: 'simtrust_gsup_connections_open',
      help: 'GSUP connections open now',
      registers: [registry],
      collect() {
        this.set(open());
      },
    });
  }
}
