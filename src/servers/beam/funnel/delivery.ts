// From an accepted device message to a broker confirmation (docs/funnel-funk.md, Delivery). The
// steps, in order:
//
//   credential    resolve the group's credentialsId for this SIM (#{imsi}); its type must suit the provider
//   address       the resourceUrl's host → IP, refused unless the destination policy allows it
//   publisher     from the pool: one per operator + destination + credential, created on first use
//   publish       the adapter publishes and waits for the broker's confirmation, until the deadline
//
// A failure at any step is a SimtrustError with a stable ERR_FUNNEL_* code and a message that is safe
// for the device (never a secret, never the broker's own text); the adapter's error table code rides
// along in `details.adapterCode` for logs, usage records and metrics.
//
// The pool is bounded (maxPublishers): idle publishers are closed after idleMs, the least recently
// used idle one makes room for a new one, and when every publisher is busy a new destination is
// answered 503 rather than opening without limit. A publisher whose broker could not be reached is
// retired (closed once its messages are settled), so the next message looks the address up again
// and opens a fresh connection.

import { createHmac, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { SimtrustError } from '../../../lib/errors.js';
import { type DestinationPolicy, refused } from '../../../platform/beam/destination-policy.js';
import type {
  FunnelConfiguration,
  FunnelDestination,
  FunnelProvider,
} from '../../../platform/beam/funnel-config.js';
import { routeFor, withImsi } from '../../../platform/beam/funnel-config.js';
import type { SessionOwner } from '../../../platform/beam/session-owner.js';
import type { ResolvedCredential } from '../../../platform/credentials/credential-sets.js';
import type { FunnelAdapter, FunnelFailure, FunnelPublisher } from './adapter.js';

export interface CredentialResolver {
  resolve(
    operatorId: string,
    credentialsId: string,
    sim: { readonly imsi: string },
  ): Promise<ResolvedCredential>;
}

export interface FunnelDeliveryOptions {
  readonly credentials: CredentialResolver;
  /** Which broker addresses may be reached (SSRF defence; the Beam-wide destination policy). */
  readonly policy: Pick<DestinationPolicy, 'refusalFor'>;
  /** Extra CA certificates (PEM, beamDestinationCaFile) trusted for brokers besides the system's. */
  readonly extraCa?: string | undefined;
  readonly adapters: Readonly<Record<FunnelProvider, FunnelAdapter>>;
  /** From taking the message to the broker's confirmation, at most. */
  readonly publishTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxPublishers: number;
  readonly idleMs: number;
  /** Messages waiting for a confirmation on one publisher before more are refused with 503. */
  readonly maxInFlightPerPublisher: number;
  /** Host name → addresses (tests give a fixed table). */
  readonly resolveHost?: (host: string) => Promise<string[]>;
}

/** The device message, before the adapter's routing. */
export interface FunnelPayload {
  readonly id: string;
  readonly body: Buffer;
  readonly contentType: string;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  'amqp:': 5672,
  'amqps:': 5671,
  'nats:': 4222,
  'tls:': 4222,
  'mqtt:': 1883,
  'mqtts:': 8883,
};

const STATUS_OF_KIND = {
  refused: 'ERR_FUNNEL_DESTINATION_REFUSED',
  unavailable: 'ERR_FUNNEL_DESTINATION_UNAVAILABLE',
  timeout: 'ERR_FUNNEL_DESTINATION_TIMEOUT',
} as const;

/** An adapter failure as the error the device gets. */
export const failureError = (f: FunnelFailure) =>
  new SimtrustError(STATUS_OF_KIND[f.kind], f.message, { details: { adapterCode: f.code } });

interface PoolEntry {
  readonly publisher: FunnelPublisher;
  lastUsed: number;
}

export class FunnelDelivery {
  private readonly pool = new Map<string, PoolEntry>();
  /** Publishers out of the pool, closed once their messages are settled. */
  private readonly retired = new Set<FunnelPublisher>();
  /** Keys the pool by credential without keeping the credential's text as a key. */
  private readonly fingerprintKey = randomBytes(32);
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  readonly stats = { opened: 0, evicted: 0, retired: 0 };

  constructor(private readonly o: FunnelDeliveryOptions) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.floor(o.idleMs / 2)));
    this.sweeper.unref();
  }

  /** Publishers open now. */
  get publishers(): number {
    return this.pool.size + this.retired.size;
  }

  /** Publishes one message for `owner` to its group's destination; resolves once confirmed, or throws. */
  async deliver(owner: SessionOwner, config: FunnelConfiguration, payload: FunnelPayload): Promise<void> {
    if (this.closed) throw new SimtrustError('ERR_FUNNEL_BUSY', 'Funnel is shutting down; send again later');
    const deadline = Date.now() + this.o.publishTimeoutMs;
    const { destination } = config;
    const adapter = this.o.adapters[destination.provider];
    const credential = await this.credentialFor(owner, config, adapter);
    const key = this.keyOf(owner.operatorId, destination, credential);
    const entry = await this.publisherFor(key, destination, credential, adapter);
    if (entry.publisher.inFlight >= this.o.maxInFlightPerPublisher) {
      throw new SimtrustError(
        'ERR_FUNNEL_BUSY',
        'too many messages are waiting for the destination broker to confirm; send again later',
      );
    }
    entry.lastUsed = Date.now();
    const result = await entry.publisher.publish(
      {
        id: payload.id,
        route: routeFor(destination, owner.imsi),
        body: payload.body,
        contentType: payload.contentType,
      },
      deadline,
    );
    entry.lastUsed = Date.now();
    if (result.ok) return;
    if (result.error.kind === 'unavailable') this.retire(key, entry);
    throw failureError(result.error);
  }

  private async credentialFor(
    owner: SessionOwner,
    config: FunnelConfiguration,
    adapter: FunnelAdapter,
  ): Promise<ResolvedCredential | undefined> {
    if (config.credentialsId === undefined) {
      // RabbitMQ has no anonymous log-in; amqplib would try guest/guest, which nobody configured.
      if (adapter.provider === 'amqp') {
        throw new SimtrustError(
          'ERR_FUNNEL_CREDENTIALS',
          'an amqp destination needs a credential set: set credentialsId in the group (SoracomFunnel)',
        );
      }
      return undefined;
    }
    let credential: ResolvedCredential;
    try {
      credential = await this.o.credentials.resolve(owner.operatorId, config.credentialsId, owner);
    } catch (e) {
      if (e instanceof SimtrustError && e.code === 'ERR_CREDENTIALS_NOT_FOUND') {
        throw new SimtrustError(
          'ERR_FUNNEL_CREDENTIALS',
          `the credential set named by the group's credentialsId (${withImsi(config.credentialsId, owner.imsi)}) does not exist; create it with POST /v1/credentials/{id}`,
        );
      }
      throw e;
    }
    if (!adapter.credentialTypes.includes(credential.type)) {
      throw new SimtrustError(
        'ERR_FUNNEL_CREDENTIALS',
        `the credential set named by credentialsId is of type ${credential.type.slice(0, 64)}; an ${adapter.provider} destination takes ${adapter.credentialTypes.join(' or ')}`,
      );
    }
    return credential;
  }

  private keyOf(
    operatorId: string,
    d: FunnelDestination,
    credential: ResolvedCredential | undefined,
  ): string {
    const { url: _url, written: _written, ...plain } = d;
    const fingerprint =
      credential === undefined
        ? '-'
        : createHmac('sha256', this.fingerprintKey).update(JSON.stringify(credential)).digest('base64url');
    return `${operatorId}\n${JSON.stringify(plain)}\n${fingerprint}`;
  }

  private async publisherFor(
    key: string,
    destination: FunnelDestination,
    credential: ResolvedCredential | undefined,
    adapter: FunnelAdapter,
  ): Promise<PoolEntry> {
    const found = this.pool.get(key);
    if (found) return found;
    const address = await this.addressOf(destination.url);
    // Checked again: another request may have made it while the address was looked up.
    const again = this.pool.get(key);
    if (again) return again;
    if (this.pool.size >= this.o.maxPublishers && !this.evictOne()) {
      throw new SimtrustError(
        'ERR_FUNNEL_BUSY',
        'Funnel holds as many broker connections as it may (funnelMaxBrokerConnections), all busy; send again later',
      );
    }
    const ownCa =
      credential?.type === 'x509' && typeof credential.ca === 'string' ? credential.ca : undefined;
    const publisher = adapter.publisher({
      destination,
      address,
      port:
        destination.url.port === ''
          ? (DEFAULT_PORTS[destination.url.protocol] ?? 0)
          : Number(destination.url.port),
      credential,
      ca:
        ownCa !== undefined
          ? [ownCa]
          : this.o.extraCa !== undefined
            ? [...rootCertificates, this.o.extraCa]
            : undefined,
      connectTimeoutMs: this.o.connectTimeoutMs,
    });
    const entry = { publisher, lastUsed: Date.now() };
    this.pool.set(key, entry);
    this.stats.opened++;
    return entry;
  }

  /** The host's address, when the destination policy allows every address it has. */
  private async addressOf(url: URL): Promise<string> {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const early = this.o.policy.refusalFor(host);
    if (early !== undefined) throw refused(host, early);
    let addresses: string[];
    if (isIP(host) !== 0) addresses = [host];
    else {
      try {
        addresses = await (this.o.resolveHost ?? defaultResolve)(host);
      } catch {
        addresses = [];
      }
      if (addresses.length === 0) {
        throw new SimtrustError(
          'ERR_FUNNEL_DESTINATION_UNAVAILABLE',
          "the destination broker's host name does not resolve; check destination.resourceUrl",
          { details: { adapterCode: 'DESTINATION_UNRESOLVED' } },
        );
      }
    }
    // Every address the name has must be allowed: the connection goes to the first, checked one.
    for (const a of addresses) {
      const refusal = this.o.policy.refusalFor(a);
      if (refusal !== undefined) throw refused(host, refusal);
    }
    return addresses[0] as string;
  }

  /** Closes the least recently used idle publisher; false when every one is busy. */
  private evictOne(): boolean {
    let oldest: [string, PoolEntry] | undefined;
    for (const e of this.pool) {
      if (e[1].publisher.inFlight > 0) continue;
      if (oldest === undefined || e[1].lastUsed < oldest[1].lastUsed) oldest = e;
    }
    if (oldest === undefined) return false;
    this.pool.delete(oldest[0]);
    this.stats.evicted++;
    void oldest[1].publisher.close();
    return true;
  }

  private retire(key: string, entry: PoolEntry): void {
    if (this.pool.get(key) !== entry) return;
    this.pool.delete(key);
    this.stats.retired++;
    this.retired.add(entry.publisher);
    this.sweep();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, e] of this.pool) {
      if (e.publisher.inFlight === 0 && now - Math.max(e.lastUsed, e.publisher.lastUsed) >= this.o.idleMs) {
        this.pool.delete(key);
        this.stats.evicted++;
        void e.publisher.close();
      }
    }
    for (const p of this.retired) {
      if (p.inFlight === 0) {
        this.retired.delete(p);
        void p.close();
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    const all = [...[...this.pool.values()].map((e) => e.publisher), ...this.retired];
    this.pool.clear();
    this.retired.clear();
    await Promise.all(all.map((p) => p.close()));
  }
}

async function defaultResolve(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true, verbatim: true });
  return found.map((a) => a.address);
}
