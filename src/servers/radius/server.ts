// The RADIUS server: UDP authentication (RFC 2865) and accounting (RFC 2866) listeners with
// Status-Server (RFC 5997), EAP transport (RFC 3579), packet-gateway authorisation (TS 29.061 §16)
// and accounting into the platform. Each datagram goes through one table of steps:
//
//   known client? → decodes? → right code for this port? → duplicate? → authenticators valid?
//     → handle (EAP / packet gateway / accounting / Status-Server) → sign → cache → send
//
// Every refusal before "handle" drops the datagram silently (RFC 2865 §3, RFC 2866 §3: an invalid
// request is discarded) and counts it by reason. Nothing a client sends stops the server: decoders
// are total, handlers run under catch, socket errors are logged.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { decodeEap, EAP_CODES } from '../../lib/eap/rfc-3748-eap.js';
import { type AttributeInput, getAttribute } from '../../lib/radius/attributes.js';
import { mppeKeyAttributes } from '../../lib/radius/rfc-2548-mppe.js';
import {
  encodeResponse,
  messageAuthenticator,
  verifyMessageAuthenticator,
  verifyRequestAuthenticator,
} from '../../lib/radius/rfc-2865-authenticators.js';
import { decodePacket, RADIUS_CODES, type RadiusPacket } from '../../lib/radius/rfc-2865-packet.js';
import { eapMessageAttributes, reassembleEapMessage } from '../../lib/radius/rfc-3579-eap-message.js';
import type { RadiusClientSecret } from '../../platform/aaa/radius-clients.js';
import type { Platform } from '../../platform/platform.js';
import { ClientTable, plainAddress } from './clients.js';
import { DuplicateCache } from './duplicate-cache.js';
import type { EapHandler } from './eap-handler.js';
import { authorizePacketGateway } from './packet-gateway.js';
import { parseAccountingRequest } from './rfc-2866-accounting.js';
import { proxyStates } from './ts-29-061.js';

export type ListenerKind = 'auth' | 'acct';

/** Why a datagram was dropped without an answer. */
export const DROP_REASONS = [
  'unknown_client',
  'malformed',
  'unexpected_code',
  'bad_authenticator',
  'missing_message_authenticator',
  'invalid_request',
  'overload',
  'failed',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface RadiusStats {
  received: Record<ListenerKind, number>;
  answered: Record<ListenerKind, number>;
  duplicates: number;
  dropped: Record<DropReason, number>;
  accepts: number;
  rejects: number;
  challenges: number;
  accountingRecorded: number;
  accountingUnknownSubscriber: number;
}

export interface RadiusServerOptions {
  readonly platform: Platform;
  readonly logger: Logger;
  /** EAP methods (RFC 3579); without one an Access-Request with EAP-Message is rejected. */
  readonly eapHandler?: EapHandler | undefined;
  /** Registry for Prometheus metrics (the API's /metrics); none = no metrics. */
  readonly metrics?: Registry | undefined;
  /** Override the configured host/ports (tests). */
  readonly host?: string;
  readonly authPort?: number;
  readonly acctPort?: number;
}

/** Socket receive buffer asked for (SO_RCVBUF). */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** Requests being handled at once; beyond it new requests are dropped (the NAS retransmits). */
const MAX_IN_FLIGHT = 50_000;

const ACCEPTED_CODES: Record<ListenerKind, ReadonlySet<number>> = {
  auth: new Set([RADIUS_CODES['Access-Request'], RADIUS_CODES['Status-Server']]),
  acct: new Set([RADIUS_CODES['Accounting-Request'], RADIUS_CODES['Status-Server']]),
};

interface Answer {
  readonly code: number;
  readonly attributes: AttributeInput[];
}

export class RadiusServer {
  readonly stats: RadiusStats = {
    received: { auth: 0, acct: 0 },
    answered: { auth: 0, acct: 0 },
    duplicates: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    accepts: 0,
    rejects: 0,
    challenges: 0,
    accountingRecorded: 0,
    accountingUnknownSubscriber: 0,
  };
  readonly clients: ClientTable;
  private readonly cache: DuplicateCache;
  private readonly sockets: Partial<Record<ListenerKind, Socket>> = {};
  private inFlight = 0;
  private closed = false;
  private readonly logger: Logger;

  private constructor(private readonly options: RadiusServerOptions) {
    const { config } = options.platform;
    this.logger = options.logger;
    this.clients = new ClientTable(
      options.platform.aaa.radiusClients,
      config.radiusClientRefreshSeconds * 1000,
      this.logger,
    );
    this.cache = new DuplicateCache(config.radiusDuplicateCacheSeconds * 1000, 500_000);
  }

  static async start(options: RadiusServerOptions): Promise<RadiusServer> {
    const server = new RadiusServer(options);
    await server.clients.start();
    const { config } = options.platform;
    const host = options.host ?? config.radiusHost;
    try {
      await server.listen('auth', host, options.authPort ?? config.radiusAuthPort);
      await server.listen('acct', host, options.acctPort ?? config.radiusAcctPort);
    } catch (e) {
      await server.close();
      throw e;
    }
    if (options.metrics) server.registerMetrics(options.metrics);
    return server;
  }

  port(kind: ListenerKind): number {
    const socket = this.sockets[kind];
    return socket ? socket.address().port : 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clients.stop();
    await Promise.all(
      Object.values(this.sockets).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  }

  private listen(kind: ListenerKind, host: string, port: number): Promise<void> {
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    this.sockets[kind] = socket;
    socket.on('message', (msg, rinfo) => this.receive(kind, socket, msg, rinfo));
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        // While a commit holds the event loop, datagrams wait in the kernel: give them room (the
        // kernel caps this at net.core.rmem_max; docs/aaa.md says how to raise it).
        try {
          socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
        } catch (e) {
          this.logger.warn({ err: e }, 'could not enlarge the RADIUS receive buffer');
        }
        // After binding, an error (e.g. ICMP unreachable on send) is logged, never fatal.
        socket.on('error', (e) => this.logger.warn({ err: e, listener: kind }, 'RADIUS socket error'));
        resolve();
      });
    });
  }

  private drop(reason: DropReason, detail?: Record<string, unknown>): void {
    this.stats.dropped[reason]++;
    if (detail) this.logger.debug({ reason, ...detail }, 'RADIUS datagram dropped');
  }

  /** The step table of one datagram (see the module comment). */
  private receive(kind: ListenerKind, socket: Socket, msg: Buffer, rinfo: RemoteInfo): void {
    this.stats.received[kind]++;
    const address = plainAddress(rinfo.address);
    const client = this.clients.match(address);
    if (!client) {
      this.drop('unknown_client');
      return;
    }
    const raw = new Uint8Array(msg.buffer, msg.byteOffset, msg.length);
    const decoded = decodePacket(raw);
    if (!decoded.ok) {
      this.drop('malformed');
      return;
    }
    const packet = decoded.value;
    if (!ACCEPTED_CODES[kind].has(packet.code)) {
      this.drop('unexpected_code');
      return;
    }

    const now = Date.now();
    const key = DuplicateCache.key(address, rinfo.port, packet.identifier, packet.authenticator);
    const seen = this.cache.get(key, now);
    if (seen) {
      this.stats.duplicates++;
      if (seen.state === 'answered') this.send(kind, socket, seen.response, rinfo);
      return;
    }
    if (!this.authentic(packet, raw, client)) return;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.drop('overload');
      return;
    }

    this.cache.begin(key, now);
    this.inFlight++;
    this.handle(kind, packet, client, address)
      .then((answer) => {
        if (!answer) {
          this.cache.forget(key);
          return;
        }
        const bytes = encodeResponse(
          {
            code: answer.code,
            identifier: packet.identifier,
            // Message-Authenticator first in every Access-* answer (RFC 3579 §3.2; the BlastRADIUS
            // advice), Proxy-State last. Accounting-Response carries none (RFC 2866 §4.2: FreeRADIUS
            // clients discard one that does).
            attributes: [
              ...(kind === 'auth' ? [messageAuthenticator()] : []),
              ...answer.attributes,
              ...proxyStates(packet),
            ],
          },
          packet.authenticator,
          client.secret,
        );
        if (!bytes.ok) {
          this.cache.forget(key);
          this.logger.error(
            { code: bytes.error.code, message: bytes.error.message },
            'RADIUS answer does not encode',
          );
          this.drop('failed');
          return;
        }
        this.cache.answer(key, bytes.value);
        this.send(kind, socket, bytes.value, rinfo);
      })
      .catch((e: unknown) => {
        this.cache.forget(key);
        this.drop('failed');
        this.logger.error(
          { err: e, listener: kind, client: client.name },
          'RADIUS request failed; no answer sent',
        );
      })
      .finally(() => {
        this.inFlight--;
      });
  }

  /**
   * RFC 2866 §3 / RFC 5176 §2.3: the Request Authenticator of an Accounting-Request; RFC 3579 §3.2:
   * a Message-Authenticator, when present, must verify, and it is required with EAP-Message, in
   * Status-Server (RFC 5997 §3) and — unless the client is configured otherwise — in every
   * Access-Request (the BlastRADIUS defence).
   */
  private authentic(packet: RadiusPacket, raw: Uint8Array, client: RadiusClientSecret): boolean {
    if (
      packet.code === RADIUS_CODES['Accounting-Request'] &&
      !verifyRequestAuthenticator(raw, client.secret)
    ) {
      this.drop('bad_authenticator');
      return false;
    }
    const ma = verifyMessageAuthenticator(raw, client.secret);
    if (ma === 'invalid') {
      this.drop('bad_authenticator');
      return false;
    }
    if (ma === 'absent') {
      const required =
        packet.code === RADIUS_CODES['Status-Server'] ||
        (packet.code === RADIUS_CODES['Access-Request'] &&
          (client.requireMessageAuthenticator ||
            packet.attributes.some((a) => a.type === 79 && a.vendorId === undefined)));
      if (required) {
        this.drop('missing_message_authenticator');
        return false;
      }
    }
    return true;
  }

  private async handle(
    kind: ListenerKind,
    packet: RadiusPacket,
    client: RadiusClientSecret,
    address: string,
  ): Promise<Answer | undefined> {
    if (packet.code === RADIUS_CODES['Status-Server']) {
      // RFC 5997 §3: Access-Accept on the authentication port, Accounting-Response on accounting.
      return {
        code: kind === 'auth' ? RADIUS_CODES['Access-Accept'] : RADIUS_CODES['Accounting-Response'],
        attributes: [],
      };
    }
    if (packet.code === RADIUS_CODES['Accounting-Request']) return this.account(packet, client, address);
    return this.access(packet, client, address);
  }

  private async access(
    packet: RadiusPacket,
    client: RadiusClientSecret,
    address: string,
  ): Promise<Answer | undefined> {
    const eap = reassembleEapMessage(packet);
    if (!eap.ok) {
      this.drop('malformed');
      return undefined;
    }
    if (eap.value !== undefined) return this.eap(packet, eap.value, client, address);
    const decision = await authorizePacketGateway(
      this.options.platform,
      packet,
      { address, operatorId: client.operatorId },
      this.logger,
    );
    if (decision.outcome === 'accept') this.stats.accepts++;
    else this.stats.rejects++;
    return decision;
  }

  /** RFC 3579: EAP over RADIUS, the methods being the EapHandler's. */
  private async eap(
    packet: RadiusPacket,
    eapMessage: Uint8Array,
    client: RadiusClientSecret,
    address: string,
  ): Promise<Answer | undefined> {
    const handler = this.options.eapHandler;
    if (!handler) {
      // RFC 3579 §2.6.3: an Access-Reject carries EAP-Failure, with the identifier of the response.
      const request = decodeEap(eapMessage);
      const id = request.ok ? request.value.identifier : 0;
      this.stats.rejects++;
      return {
        code: RADIUS_CODES['Access-Reject'],
        attributes: [...eapMessageAttributes(Uint8Array.of(EAP_CODES.Failure, id, 0, 4))],
      };
    }
    const state = getAttribute(packet, 'State');
    const outcome = await handler.handle({
      packet,
      eapMessage,
      state: state?.ok ? state.value : undefined,
      client: { address: client.address, name: client.name, operatorId: client.operatorId },
      sourceAddress: address,
    });
    const attributes: AttributeInput[] = [...eapMessageAttributes(outcome.eapMessage)];
    if (outcome.state !== undefined) attributes.push(['State', outcome.state]);
    if (outcome.code === 'accept') {
      this.stats.accepts++;
      if (outcome.userName !== undefined) attributes.push(['User-Name', outcome.userName]);
      if (outcome.msk !== undefined) {
        const keys = mppeKeyAttributes(outcome.msk, client.secret, packet.authenticator);
        if (!keys.ok) throw new Error(`MPPE keys: ${keys.error.message}`);
        attributes.push(...keys.value);
      }
      // RFC 2869 §5.16: how often the access point reports the session (stale-sessions.ts).
      attributes.push(['Acct-Interim-Interval', this.options.platform.config.radiusInterimIntervalSeconds]);
      return { code: RADIUS_CODES['Access-Accept'], attributes };
    }
    if (outcome.code === 'challenge') {
      this.stats.challenges++;
      return { code: RADIUS_CODES['Access-Challenge'], attributes };
    }
    this.stats.rejects++;
    return { code: RADIUS_CODES['Access-Reject'], attributes };
  }

  /** RFC 2866 §4.1: answer only once the record is durable. */
  private async account(
    packet: RadiusPacket,
    client: RadiusClientSecret,
    address: string,
  ): Promise<Answer | undefined> {
    const parsed = parseAccountingRequest(packet, { address, operatorId: client.operatorId }, Date.now());
    if (!parsed.ok) {
      this.drop('invalid_request', { reason: parsed.reason, client: client.name });
      return undefined;
    }
    const outcome = await this.options.platform.aaa.accounting.record(parsed.record);
    if (outcome === 'unknown-subscriber') {
      // Nothing to record, and a retransmission would not change that: acknowledge, count, log.
      this.stats.accountingUnknownSubscriber++;
      this.logger.info(
        { imsi: parsed.record.imsi, acctSessionId: parsed.record.acctSessionId, client: client.name },
        'accounting for no SIM of this NAS operator',
      );
    } else {
      this.stats.accountingRecorded++;
    }
    return { code: RADIUS_CODES['Accounting-Response'], attributes: [] };
  }

  private send(kind: ListenerKind, socket: Socket, bytes: Uint8Array, rinfo: RemoteInfo): void {
    if (this.closed) return;
    socket.send(bytes, rinfo.port, rinfo.address, (e) => {
      if (e) this.logger.warn({ err: e }, 'RADIUS answer not sent');
    });
    this.stats.answered[kind]++;
  }

  private registerMetrics(registry: Registry): void {
    // A server started again on the same registry (tests, a restart in-process) replaces its metrics.
    for (const name of [
      'simtrust_radius_received_total',
      'simtrust_radius_dropped_total',
      'simtrust_radius_decisions_total',
      'simtrust_radius_duplicates_total',
      'simtrust_radius_accounting_total',
      'simtrust_auc_events_total',
      'simtrust_radius_in_flight',
      'simtrust_accounting_commits_total',
    ])
      registry.removeSingleMetric(name);
    const stats = this.stats;
    new Counter({
      name: 'simtrust_radius_received_total',
      help: 'RADIUS datagrams received, by listener',
      labelNames: ['listener'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const k of ['auth', 'acct'] as const) this.inc({ listener: k }, stats.received[k]);
      },
    });
    new Counter({
      name: 'simtrust_radius_dropped_total',
      help: 'RADIUS datagrams dropped without an answer, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const r of DROP_REASONS) this.inc({ reason: r }, stats.dropped[r]);
      },
    });
    new Counter({
      name: 'simtrust_radius_decisions_total',
      help: 'Access-Accept / -Reject / -Challenge sent',
      labelNames: ['decision'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ decision: 'accept' }, stats.accepts);
        this.inc({ decision: 'reject' }, stats.rejects);
        this.inc({ decision: 'challenge' }, stats.challenges);
      },
    });
    new Counter({
      name: 'simtrust_radius_duplicates_total',
      help: 'Retransmitted RADIUS requests answered from the duplicate cache or dropped while pending',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats.duplicates);
      },
    });
    new Counter({
      name: 'simtrust_radius_accounting_total',
      help: 'Accounting-Requests acknowledged, by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ outcome: 'recorded' }, stats.accountingRecorded);
        this.inc({ outcome: 'unknown_subscriber' }, stats.accountingUnknownSubscriber);
      },
    });
    const auc = this.options.platform.auc.stats;
    new Counter({
      name: 'simtrust_auc_events_total',
      help: 'AuC: vectors and triplets generated, resynchronisations, AUTS refused',
      labelNames: ['event'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ event: 'vector' }, auc.vectors);
        this.inc({ event: 'triplet' }, auc.triplets);
        this.inc({ event: 'resync' }, auc.resyncs);
        this.inc({ event: 'bad_auts' }, auc.badAuts);
        this.inc({ event: 'resync_refused' }, auc.resyncRefused);
        this.inc({ event: 'unknown_subscriber' }, auc.unknownSubscriber);
      },
    });
    const writer = this.options.platform.aaa.accounting.stats;
    new Counter({
      name: 'simtrust_accounting_commits_total',
      help: 'Accounting group commit: transactions, and the records they carried (records / batches = mean batch)',
      labelNames: ['what'] as const,
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ what: 'batches' }, writer.batches);
        this.inc({ what: 'records' }, writer.records);
        this.inc({ what: 'failed_batches' }, writer.failedBatches);
        this.inc({ what: 'transaction_ms' }, Math.round(writer.transactionMs));
      },
    });
    const inFlight = () => this.inFlight;
    new Gauge({
      name: 'simtrust_radius_in_flight',
      help: 'RADIUS requests being handled',
      registers: [registry],
      collect() {
        this.set(inFlight());
      },
    });
  }
}
