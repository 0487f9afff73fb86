// The one contract between Funnel and a message broker (docs/funnel-funk.md, Adapters): a publisher
// takes a message and answers once the broker has taken responsibility for it — RabbitMQ's publisher
// confirm, JetStream's publish acknowledgement, MQTT's PUBACK at QoS 1 — or with a typed failure from
// the adapter's own error table. The device hears 204 only after that confirmation (at-least-once:
// nothing is acknowledged to a device that the broker has not confirmed).
//
// Each adapter (adapters/amqp.ts, nats-jetstream.ts, mqtt.ts) supplies a BrokerDriver: how to open
// one connection, send on it, and read the broker's errors through its table. BrokerPublisher, here,
// does the rest the same way for all of them: one connection at a time, opened on first use and
// again after it is lost (no library-level reconnect: a message in flight on a lost connection is
// answered "unavailable" at once, not silently re-sent later), a deadline per message, and every
// message settled exactly once.

import { err, ok, type Result } from '../../../lib/result.js';
import type { FunnelDestination, FunnelProvider } from '../../../platform/beam/funnel-config.js';
import type { ResolvedCredential } from '../../../platform/credentials/credential-sets.js';

/** One device message, ready for the broker. */
export interface FunnelMessage {
  /** Unique per accepted device message: the broker-side message id (AMQP message-id, Nats-Msg-Id, MQTT user property). */
  readonly id: string;
  /** The routing key, subject or topic, #{imsi} already replaced. */
  readonly route: string;
  readonly body: Buffer;
  /** The body's media type. */
  readonly contentType: string;
}

/**
 * refused: the broker said no (credentials, permissions, no such exchange/stream, rejected message) —
 * sending again will not help until the operator changes something. unavailable: it could not be
 * reached or the connection was lost — try again later. timeout: no confirmation in time — the
 * message may or may not have been stored.
 */
export type FunnelFailureKind = 'refused' | 'unavailable' | 'timeout';

export interface FunnelFailure {
  readonly kind: FunnelFailureKind;
  /** The error table's key, e.g. AMQP_ACCESS_REFUSED (logs, usage records, metrics). */
  readonly code: string;
  /** From the table: safe for the device and the logs — never the broker's own text, never a secret. */
  readonly message: string;
}

/** One row of an adapter's error table. */
export interface FunnelErrorEntry {
  readonly kind: FunnelFailureKind;
  readonly message: string;
}

export type FunnelErrorTable = Readonly<Record<string, FunnelErrorEntry>>;

export const failure = (table: FunnelErrorTable, code: string): FunnelFailure => {
  const entry = table[code];
  if (entry === undefined) throw new Error(`no error table entry ${code}`);
  return { kind: entry.kind, code, message: entry.message };
};

/** The adapters' small interface. */
export interface FunnelPublisher {
  /** Publishes; resolves once the broker confirmed, or with why not. Never rejects. */
  publish(message: FunnelMessage, deadline: number): Promise<Result<void, FunnelFailure>>;
  /** Messages sent and not yet settled. */
  readonly inFlight: number;
  /** When the publisher last settled or sent a message (for the pool's idle eviction). */
  readonly lastUsed: number;
  close(): Promise<void>;
}

/** Where and as whom a publisher connects. */
export interface FunnelTarget {
  readonly destination: FunnelDestination;
  /** The IP address to connect to (checked against the destination policy); TLS still verifies the URL's host name. */
  readonly address: string;
  readonly port: number;
  readonly credential: ResolvedCredential | undefined;
  /** CA certificates (PEM) to verify the broker's TLS certificate with: the x509 set's `ca`, else the system's plus beamDestinationCaFile; undefined: the system's. */
  readonly ca: string[] | undefined;
  readonly connectTimeoutMs: number;
}

/** One open broker connection, as a driver gives it. */
export interface BrokerConnection {
  /** Resolves when the broker confirmed the message; rejects with the broker's error. */
  send(message: FunnelMessage): Promise<void>;
  /** Called once when the connection is gone, whoever closed it. */
  onClose(listener: () => void): void;
  close(): Promise<void>;
}

export interface BrokerDriver {
  open(): Promise<BrokerConnection>;
  /** A library or broker error → its table row (phase: while connecting, or for one message). */
  classify(error: unknown, phase: 'connect' | 'publish'): FunnelFailure;
}

export interface FunnelAdapter {
  readonly provider: FunnelProvider;
  /** Credential set types it logs in with (anything else is refused before connecting). */
  readonly credentialTypes: readonly string[];
  readonly errors: FunnelErrorTable;
  publisher(target: FunnelTarget): FunnelPublisher;
}

/** Rows every adapter shares (merged into each table). */
export const COMMON_ERRORS = {
  CONNECTION_LOST: {
    kind: 'unavailable',
    message: 'the connection to the destination broker was lost before it confirmed the message; send again',
  },
  CONFIRM_TIMEOUT: {
    kind: 'timeout',
    message:
      'the destination broker did not confirm the message in time; it may or may not be stored — send again',
  },
  CONNECT_TIMEOUT: {
    kind: 'unavailable',
    message: 'the destination broker did not answer in time; send again later',
  },
  CLOSED: { kind: 'unavailable', message: 'Funnel is shutting down; send again later' },
} as const satisfies FunnelErrorTable;

const TIMEOUT = Symbol('timeout');

/** A driver's connection, handled the same way for every broker (see the header). */
export class BrokerPublisher implements FunnelPublisher {
  private connection: BrokerConnection | undefined;
  private connecting: Promise<BrokerConnection> | undefined;
  private readonly pending = new Set<(f: FunnelFailure) => void>();
  private closed = false;
  inFlight = 0;
  lastUsed = Date.now();

  constructor(
    private readonly driver: BrokerDriver,
    private readonly table: FunnelErrorTable,
  ) {}

  async publish(message: FunnelMessage, deadline: number): Promise<Result<void, FunnelFailure>> {
    if (this.closed) return err(failure(this.table, 'CLOSED'));
    this.inFlight++;
    this.lastUsed = Date.now();
    let timer: NodeJS.Timeout | undefined;
    let lost: ((f: FunnelFailure) => void) | undefined;
    try {
      const expiry = new Promise<typeof TIMEOUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMEOUT), Math.max(0, deadline - Date.now()));
      });
      let connection: BrokerConnection;
      try {
        const opened = await Promise.race([this.connect(), expiry]);
        if (opened === TIMEOUT) return err(failure(this.table, 'CONNECT_TIMEOUT'));
        connection = opened;
      } catch (e) {
        return err(this.driver.classify(e, 'connect'));
      }
      const gone = new Promise<FunnelFailure>((resolve) => {
        lost = resolve;
        this.pending.add(resolve);
      });
      try {
        const sent = await Promise.race([connection.send(message).then(() => 'ok' as const), expiry, gone]);
        if (sent === TIMEOUT) return err(failure(this.table, 'CONFIRM_TIMEOUT'));
        if (sent !== 'ok') return err(sent);
        return ok(undefined);
      } catch (e) {
        return err(this.driver.classify(e, 'publish'));
      }
    } finally {
      clearTimeout(timer);
      if (lost) this.pending.delete(lost);
      this.inFlight--;
      this.lastUsed = Date.now();
    }
  }

  private connect(): Promise<BrokerConnection> {
    if (this.connection) return Promise.resolve(this.connection);
    if (this.connecting) return this.connecting;
    const attempt = this.driver.open().then(
      (c) => {
        this.connecting = undefined;
        if (this.closed) {
          void c.close().catch(() => undefined);
          throw new Error('publisher closed');
        }
        this.connection = c;
        c.onClose(() => {
          if (this.connection === c) this.connection = undefined;
          // Messages still waiting on this connection will never be confirmed on it. The driver
          // fails them itself when it knows why (the broker closed the channel with an error): that
          // reason is settled first, and what is left after this turn is answered "lost".
          const waiting = [...this.pending];
          setImmediate(() => {
            for (const settle of waiting) settle(failure(this.table, 'CONNECTION_LOST'));
          });
        });
        return c;
      },
      (e: unknown) => {
        this.connecting = undefined;
        throw e;
      },
    );
    this.connecting = attempt;
    return attempt;
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.connection ?? (await this.connecting?.catch(() => undefined));
    this.connection = undefined;
    for (const settle of this.pending) settle(failure(this.table, 'CLOSED'));
    this.pending.clear();
    await c?.close().catch(() => undefined);
  }
}
