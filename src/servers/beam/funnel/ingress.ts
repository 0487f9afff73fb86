// One device message through Funnel, the same for the HTTP, TCP and UDP entry points
// (docs/funnel-funk.md). The steps:
//
//   identify   the SIM whose online session owns the source address, with its SoracomFunnel
//              namespace (no session → ERR_BEAM_NO_SESSION; not active → ERR_BEAM_SIM_NOT_ACTIVE)
//   configure  the group's Funnel configuration, enabled and valid (else ERR_FUNNEL_NOT_CONFIGURED)
//   read       the payload as the group's contentType says (ERR_FUNNEL_INVALID_PAYLOAD)
//   deliver    to the broker, until it confirms (delivery.ts)
//   count      one usage record per message the SIM sent (delivered, refused or failed)
//
// The caller answers the device: success only when deliver() returned, that is after the broker's
// confirmation.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { SimtrustError } from '../../../lib/errors.js';
import {
  FUNNEL_NAMESPACE,
  type FunnelDestination,
  funnelConfig,
} from '../../../platform/beam/funnel-config.js';
import { type SessionOwner, sessionOwner } from '../../../platform/beam/session-owner.js';
import type { BeamDestination, BeamUsageRecorder } from '../../../platform/beam/usage.js';
import type { Store } from '../../../platform/store/database.js';
import type { FunnelDelivery } from './delivery.js';
import { envelope, type FunnelSourceProtocol } from './envelope.js';

export interface FunnelIngressOptions {
  readonly store: Store;
  readonly delivery: FunnelDelivery;
  readonly usage: BeamUsageRecorder | undefined;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface FunnelStats {
  /** Messages by outcome. */
  readonly messages: Record<'delivered' | 'refused' | 'failed', number>;
  /** Failures by error code (ERR_* or the adapter's table code). */
  readonly errors: Map<string, number>;
}

/** The usage record's destination kind for a Funnel destination. */
export function usageDestination(d: FunnelDestination): BeamDestination {
  switch (d.provider) {
    case 'amqp':
      return d.url.protocol === 'amqps:' ? 'amqps' : 'amqp';
    case 'nats':
      return 'nats-jetstream';
    case 'mqtt':
      return d.url.protocol === 'mqtts:' ? 'mqtts' : 'mqtt';
  }
}

// Errors that are the destination's (or the operator's configuration of it), not the device's.
const FAILED = new Set([
  'ERR_FUNNEL_DESTINATION_REFUSED',
  'ERR_FUNNEL_DESTINATION_UNAVAILABLE',
  'ERR_FUNNEL_DESTINATION_TIMEOUT',
  'ERR_FUNNEL_CREDENTIALS',
  'ERR_FUNNEL_BUSY',
  'ERR_BEAM_DESTINATION_REFUSED',
]);

const LOG_INTERVAL_MS = 10_000;

export class FunnelIngress {
  readonly stats: FunnelStats = { messages: { delivered: 0, refused: 0, failed: 0 }, errors: new Map() };
  /** Last log line per operator and error, so a broker outage under load logs a line per 10 s, not per message. */
  private readonly logged = new Map<string, { at: number; quiet: number }>();

  constructor(private readonly o: FunnelIngressOptions) {}

  /**
   * Takes one message from `address`; resolves once the broker confirmed it, else throws a
   * SimtrustError whose status and message are what the device is told.
   */
  async handle(
    address: string,
    body: Buffer,
    source: { readonly protocol: FunnelSourceProtocol; readonly contentType?: string | undefined },
  ): Promise<void> {
    const owner = await sessionOwner(this.o.store, address, FUNNEL_NAMESPACE);
    if (owner === undefined) {
      this.count('refused', 'ERR_BEAM_NO_SESSION');
      throw new SimtrustError('ERR_BEAM_NO_SESSION', `no online session owns ${address}`);
    }
    const entryPoint = source.protocol;
    let destination: BeamDestination | undefined;
    try {
      if (owner.status !== 'active') {
        throw new SimtrustError('ERR_BEAM_SIM_NOT_ACTIVE', `the SIM is ${owner.status}, not active`);
      }
      const config = funnelConfig(owner.configuration);
      if (!config.ok) throw new SimtrustError('ERR_FUNNEL_NOT_CONFIGURED', config.error.message);
      destination = usageDestination(config.value.destination);
      const now = (this.o.now ?? Date.now)();
      const message = envelope({
        config: config.value,
        owner,
        body,
        sourceProtocol: source.protocol,
        requestContentType: source.contentType,
        timestamp: now,
      });
      await this.o.delivery.deliver(owner, config.value, {
        id: randomUUID(),
        body: message.body,
        contentType: message.contentType,
      });
      this.count('delivered');
      this.o.usage?.record({
        service: 'funnel',
        entryPoint,
        operatorId: owner.operatorId,
        simId: owner.simId,
        imsi: owner.imsi,
        bytesUp: body.length,
        bytesDown: 0,
        outcome: 'delivered',
        destination,
      });
    } catch (e) {
      const error =
        e instanceof SimtrustError
          ? e
          : new SimtrustError('ERR_INTERNAL', 'Funnel failed unexpectedly', { cause: e });
      const outcome = FAILED.has(error.code) || error.code === 'ERR_INTERNAL' ? 'failed' : 'refused';
      const adapterCode = error.details?.adapterCode;
      this.count(outcome, typeof adapterCode === 'string' ? adapterCode : error.code);
      this.o.usage?.record({
        service: 'funnel',
        entryPoint,
        operatorId: owner.operatorId,
        simId: owner.simId,
        imsi: owner.imsi,
        bytesUp: body.length,
        bytesDown: 0,
        outcome,
        ...(destination === undefined ? {} : { destination }),
        error:
          `${error.code}${typeof adapterCode === 'string' ? ` ${adapterCode}` : ''}: ${error.expose ? error.message : 'internal error'}`.slice(
            0,
            500,
          ),
      });
      if (outcome === 'failed') this.log(owner, error, e);
      throw error;
    }
  }

  private count(outcome: 'delivered' | 'refused' | 'failed', code?: string): void {
    this.stats.messages[outcome]++;
    if (code === undefined) return;
    if (this.stats.errors.size < 256 || this.stats.errors.has(code)) {
      this.stats.errors.set(code, (this.stats.errors.get(code) ?? 0) + 1);
    }
  }

  private log(owner: SessionOwner, error: SimtrustError, raw: unknown): void {
    const adapterCode = error.details?.adapterCode;
    const key = `${owner.operatorId} ${error.code} ${String(adapterCode)}`;
    const now = Date.now();
    const seen = this.logged.get(key);
    if (seen !== undefined && now - seen.at < LOG_INTERVAL_MS) {
      seen.quiet++;
      return;
    }
    if (this.logged.size > 10_000) this.logged.clear();
    this.logged.set(key, { at: now, quiet: 0 });
    this.o.logger.warn(
      {
        operatorId: owner.operatorId,
        simId: owner.simId,
        code: error.code,
        ...(adapterCode === undefined ? {} : { adapterCode }),
        ...(seen?.quiet ? { alsoFailedSinceLastLog: seen.quiet } : {}),
        // Unexpected errors only: a SimtrustError's message is already the safe text.
        ...(error.code === 'ERR_INTERNAL' ? { err: raw } : {}),
      },
      `funnel: not delivered: ${error.expose ? error.message : 'internal error'}`,
    );
  }
}
