// The AAA domain as one service on the Platform (`platform.aaa`): admission, address allocation,
// accounting, NAS clients, and the read side (sessions, events, refusals, usage, CoA outcomes).
// The AuC is its own service (`platform.auc`). Servers (RADIUS, EAP, GSUP, the token endpoint) call
// these; nothing here opens a socket.

import type { Config } from '../../config/defaults.js';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import type { Result } from '../../lib/result.js';
import type { KeyRing } from '../secrets/key-ring.js';
import type { ConfigurationValidator } from '../sims/groups.js';
import type { Store } from '../store/database.js';
import type { GroupCommit } from '../store/group-commit.js';
import { AccountingWriter } from './accounting.js';
import { allocateAddress, heldAddress, type Ipv4Network, parsePool } from './address-pool.js';
import {
  type AdmissionRefusal,
  type AdmissionRequest,
  AIR_KEYS,
  admit,
  type Subscriber,
} from './admission.js';
import type { SessionControl } from './dynamic-requests.js';
import { RadiusClientService } from './radius-clients.js';
import { closeStaleSessions } from './stale-sessions.js';

export class AaaService {
  readonly radiusClients: RadiusClientService;
  readonly accounting: AccountingWriter;
  private readonly defaultPool: Ipv4Network;
  private control: SessionControl | undefined;

  constructor(
    private readonly store: Store,
    keyRing: KeyRing,
    private readonly clock: Clock,
    private readonly config: Config,
    /** Group commit for small AAA writes (SQN advances, EAP identities): shared fsyncs. */
    readonly writer: GroupCommit,
  ) {
    const pool = parsePool(config.radiusAddressPool);
    if (!pool)
      throw new SimtrustError(
        'ERR_CONFIG',
        `radiusAddressPool ${config.radiusAddressPool} is not a usable network`,
      );
    this.defaultPool = pool;
    this.radiusClients = new RadiusClientService(store, keyRing, clock);
    this.accounting = new AccountingWriter(store, clock, {
      maxBatch: config.radiusAccountingBatchMax,
      concurrency: Math.max(1, config.databasePoolSize >> 2),
      leaseMs: config.radiusAddressLeaseSeconds * 1000,
    });
  }

  /** admission.ts `admit` on the store, at the platform clock's time. */
  admit(request: Omit<AdmissionRequest, 'now'>): Promise<Result<Subscriber, AdmissionRefusal>> {
    return admit(this.store.db, { ...request, now: this.clock.now(), writer: this.writer });
  }

  /** A Framed-IP-Address for an admitted subscriber (its group's pool, else the default pool). */
  async allocateAddress(subscriber: Subscriber, apn: string | undefined): Promise<string | undefined> {
    const pool = (subscriber.addressPool && parsePool(subscriber.addressPool)) || this.defaultPool;
    const request = {
      pool,
      operatorId: subscriber.operatorId,
      simId: subscriber.simId,
      apn: apn?.toLowerCase() ?? '',
      now: this.clock.now(),
      leaseMs: this.config.radiusAddressLeaseSeconds * 1000,
    };
    // A device re-attaching finds its lease with one read; leasing or renewing is group-committed.
    const held = await heldAddress(this.store.db, request);
    return held ?? this.writer.run((trx) => allocateAddress(trx, request));
  }

  /** The RFC 5176 client, once the RADIUS server runs (undefined otherwise). */
  get sessionControl(): SessionControl | undefined {
    return this.control;
  }

  attachSessionControl(control: SessionControl | undefined): void {
    this.control = control;
  }

  /**
   * Closes sessions that missed radiusStaleSessionMissedInterims Interim-Updates in a row
   * (stale-sessions.ts); returns how many. Nothing when that setting is 0.
   */
  closeStaleSessions(o: { shouldContinue?: () => boolean } = {}): Promise<number> {
    const missed = this.config.radiusStaleSessionMissedInterims;
    if (missed === 0) return Promise.resolve(0);
    return closeStaleSessions(this.store, {
      now: this.clock.now(),
      silentMs: this.config.radiusInterimIntervalSeconds * missed * 1000,
      ...(o.shouldContinue === undefined ? {} : { shouldContinue: o.shouldContinue }),
    });
  }

  /** Waits for queued accounting records and group-committed writes. */
  async drained(): Promise<void> {
    await Promise.all([this.accounting.drained(), this.writer.drained()]);
  }
}

/**
 * Checks the `SoracomAir` keys the AAA layer reads when a group's configuration is written, so a
 * typo fails at write time instead of refusing sessions later. Other keys pass (SORACOM's namespace
 * holds many).
 */
export const airConfigurationValidator: ConfigurationValidator = (key, value) => {
  if (key === AIR_KEYS.allowedApns) {
    if (
      !Array.isArray(value) ||
      value.length > 100 ||
      !value.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 100)
    ) {
      throw new SimtrustError(
        'ERR_VALIDATION',
        'SoracomAir.allowedApns must be an array of up to 100 APN names',
      );
    }
  }
  if (key === AIR_KEYS.addressPool && (typeof value !== 'string' || !parsePool(value))) {
    throw new SimtrustError(
      'ERR_VALIDATION',
      'SoracomAir.addressPool must be an IPv4 network such as 127.65.0.0/16 (prefix /8 to /30)',
    );
  }
};
