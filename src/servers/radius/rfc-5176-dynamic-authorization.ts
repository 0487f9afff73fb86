// Dynamic Authorization client (RFC 5176): the platform tells a NAS to end a session
// (Disconnect-Request) or to change its authorisation (CoA-Request).
//
// - Suspending, deactivating or terminating a SIM, or `POST /v1/sims/{id}/delete_session`, sends a
//   Disconnect-Request for each of the SIM's online sessions to the NAS that reported it.
// - Changing the speed class sends a CoA-Request with the new rate (WISPr-Bandwidth-Max-Up/-Down).
//
// Each request identifies the session (RFC 5176 §3: Acct-Session-Id, User-Name, Framed-IP-Address,
// 3GPP-IMSI) and the NAS (NAS-IP-Address), carries Event-Timestamp (§3.4 replay protection) and
// Message-Authenticator, and is signed with the NAS client's secret. Retransmissions repeat the same
// bytes (same Identifier and Authenticator, RFC 5080 §2.2.1) after a timeout that doubles each time.
// The outcome — ACK, NAK with Error-Cause, timeout or error — is recorded in
// `radius_dynamic_requests`; an acknowledged Disconnect ends the session at once.

import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { type AttributeInput, getAttribute } from '../../lib/radius/attributes.js';
import {
  encodeRequest,
  messageAuthenticator,
  verifyMessageAuthenticator,
  verifyResponseAuthenticator,
} from '../../lib/radius/rfc-2865-authenticators.js';
import { decodePacket, RADIUS_CODES } from '../../lib/radius/rfc-2865-packet.js';
import {
  completeDynamicRequest,
  createDynamicRequest,
  type DynamicKind,
  type DynamicOutcome,
  endSession,
  onlineSessions,
  type SessionControl,
  setSessionSpeedClass,
  takeInterrupted,
} from '../../platform/aaa/dynamic-requests.js';
import { rateOf } from '../../platform/aaa/speed-classes.js';
import type { Platform } from '../../platform/platform.js';
import type { SimChange } from '../../platform/sims/sim-service.js';
import type { SimSessionsTable } from '../../platform/store/schema.js';
import { type ClientTable, plainAddress } from './clients.js';

/** SIM statuses that end every session (the status change is the reason). */
const DISCONNECT_ON = new Set(['suspended', 'inactive', 'terminated']);

const REQUEST_CODE: Record<DynamicKind, number> = {
  disconnect: RADIUS_CODES['Disconnect-Request'],
  coa: RADIUS_CODES['CoA-Request'],
};
const ACK: Record<DynamicKind, number> = {
  disconnect: RADIUS_CODES['Disconnect-ACK'],
  coa: RADIUS_CODES['CoA-ACK'],
};
const NAK: Record<DynamicKind, number> = {
  disconnect: RADIUS_CODES['Disconnect-NAK'],
  coa: RADIUS_CODES['CoA-NAK'],
};

interface Waiting {
  readonly authenticator: Uint8Array;
  readonly secret: Uint8Array;
  readonly resolve: (response: Uint8Array) => void;
}

export interface DynamicAuthorizationOptions {
  readonly platform: Platform;
  readonly clients: ClientTable;
  readonly logger: Logger;
  /** Address to send from (the RADIUS host). */
  readonly host: string;
}

export class DynamicAuthorizationClient implements SessionControl {
  private socket: Socket | undefined;
  private readonly waiting = new Map<string, Waiting>();
  private readonly nextId = new Map<string, number>();
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(private readonly options: DynamicAuthorizationOptions) {}

  static async start(options: DynamicAuthorizationOptions): Promise<DynamicAuthorizationClient> {
    const client = new DynamicAuthorizationClient(options);
    const socket = createSocket(options.host.includes(':') ? 'udp6' : 'udp4');
    client.socket = socket;
    socket.on('message', (msg, rinfo) =>
      client.receive(new Uint8Array(msg), plainAddress(rinfo.address), rinfo.port),
    );
    socket.on('error', (e) => options.logger.warn({ err: e }, 'RFC 5176 socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, options.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    options.platform.sims.onChange((change) => client.onSimChange(change));
    options.platform.aaa.attachSessionControl(client);
    client
      .track(client.resumeInterrupted())
      .catch((e: unknown) =>
        options.logger.error({ err: e }, 'could not resume interrupted Disconnect/CoA requests'),
      );
    return client;
  }

  /**
   * A Disconnect that was being sent when a process died must still happen (a suspended SIM would
   * keep its session): requests left pending longer than a whole exchange takes are sent again —
   * the Disconnect if the session is still online, the CoA with the SIM's current speed class.
   */
  private async resumeInterrupted(): Promise<void> {
    const { platform, logger } = this.options;
    const { config } = platform;
    // Longest exchange: every timeout, each twice the one before.
    const exchangeMs =
      config.radiusDynamicAuthorizationTimeoutMs * (2 ** config.radiusDynamicAuthorizationAttempts - 1);
    const now = platform.clock.now();
    const interrupted = await takeInterrupted(platform.store.db, now - 2 * exchangeMs, now);
    for (const r of interrupted) {
      const sessions = (await onlineSessions(platform.store.db, r.simId)).filter(
        (s) => s.session_id === r.sessionId,
      );
      const session = sessions[0];
      if (!session) continue;
      logger.info(
        { simId: r.simId, sessionId: r.sessionId, kind: r.kind },
        'resending an interrupted request',
      );
      if (r.kind === 'disconnect') {
        await this.request(session, 'disconnect', r.reason, {}, []);
      } else {
        const sim = await platform.store.db
          .selectFrom('sims')
          .select('speed_class')
          .where('sim_id', '=', r.simId)
          .executeTakeFirst();
        if (!sim) continue;
        const rate = rateOf(sim.speed_class);
        await this.request(session, 'coa', r.reason, { speedClass: sim.speed_class, ...rate }, [
          ['WISPr-Bandwidth-Max-Up', rate.up],
          ['WISPr-Bandwidth-Max-Down', rate.down],
        ]);
      }
    }
  }

  /** Ends every online session of the SIM (Disconnect-Request to each session's NAS). */
  disconnect(operatorId: string, simId: string, reason: string): Promise<DynamicOutcome[]> {
    return this.track(this.forEachSession(operatorId, simId, 'disconnect', reason, {}, () => []));
  }

  /** Tells each session's NAS the rate of `speedClass` (CoA-Request). */
  changeRate(
    operatorId: string,
    simId: string,
    speedClass: string,
    reason: string,
  ): Promise<DynamicOutcome[]> {
    const rate = rateOf(speedClass);
    return this.track(
      (async () => {
        await setSessionSpeedClass(this.options.platform.store.db, simId, speedClass);
        return this.forEachSession(operatorId, simId, 'coa', reason, { speedClass, ...rate }, () => [
          ['WISPr-Bandwidth-Max-Up', rate.up],
          ['WISPr-Bandwidth-Max-Down', rate.down],
        ]);
      })(),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.options.platform.aaa.attachSessionControl(undefined);
    // In-flight exchanges finish (they time out at worst) so their outcome is recorded.
    await Promise.allSettled([...this.running]);
    await new Promise<void>((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()));
  }

  /** SimService.onChange runs after commit, inside the caller's call: never throw, never block it. */
  private onSimChange(change: SimChange): void {
    if (this.closed) return;
    const { previous, current } = change;
    const log = (e: unknown) =>
      this.options.logger.error({ err: e, simId: change.simId }, 'dynamic authorization failed');
    if (previous.status !== current.status && DISCONNECT_ON.has(current.status)) {
      this.disconnect(change.operatorId, change.simId, change.operationId).catch(log);
    } else if (previous.speedClass !== current.speedClass) {
      this.changeRate(change.operatorId, change.simId, current.speedClass, change.operationId).catch(log);
    }
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    void work.finally(() => this.running.delete(work)).catch(() => undefined);
    return work;
  }

  private async forEachSession(
    operatorId: string,
    simId: string,
    kind: DynamicKind,
    reason: string,
    detail: Record<string, unknown>,
    extra: () => AttributeInput[],
  ): Promise<DynamicOutcome[]> {
    const sessions = (await onlineSessions(this.options.platform.store.db, simId)).filter(
      (s) => s.operator_id === operatorId,
    );
    return Promise.all(sessions.map((s) => this.request(s, kind, reason, detail, extra())));
  }

  private async request(
    session: SimSessionsTable,
    kind: DynamicKind,
    reason: string,
    detail: Record<string, unknown>,
    extra: AttributeInput[],
  ): Promise<DynamicOutcome> {
    const { platform, logger } = this.options;
    const db = platform.store.db;
    const id = await createDynamicRequest(db, {
      operatorId: session.operator_id,
      simId: session.sim_id,
      sessionId: session.session_id,
      kind,
      reason,
      nasAddress: session.nas_address,
      detail,
      now: platform.clock.now(),
    });
    const outcome = await this.exchange(session, kind, extra);
    await completeDynamicRequest(db, id, { ...outcome, now: platform.clock.now() });
    if (kind === 'disconnect' && outcome.status === 'ack') {
      await endSession(db, session.session_id, 'Admin-Reset', platform.clock.now());
    }
    logger.info(
      {
        simId: session.sim_id,
        sessionId: session.session_id,
        nas: session.nas_address,
        kind,
        reason,
        status: outcome.status,
        attempts: outcome.attempts,
        ...(outcome.errorCause === null ? {} : { errorCause: outcome.errorCause }),
      },
      kind === 'disconnect' ? 'Disconnect-Request sent' : 'CoA-Request sent',
    );
    return { sessionId: session.session_id, kind, nasAddress: session.nas_address, ...outcome };
  }

  private async exchange(
    session: SimSessionsTable,
    kind: DynamicKind,
    extra: AttributeInput[],
  ): Promise<Pick<DynamicOutcome, 'status' | 'attempts' | 'errorCause'>> {
    const { platform } = this.options;
    const client = this.options.clients.match(session.nas_address);
    if (!client || !this.socket || this.closed) return { status: 'error', attempts: 0, errorCause: null };
    const destination = { address: session.nas_address, port: client.coaPort };
    const identifier = await this.allocate(destination);
    const attributes: AttributeInput[] = [
      messageAuthenticator(),
      ['NAS-IP-Address', session.nas_address],
      ['Acct-Session-Id', session.acct_session_id],
      ['User-Name', session.imsi],
      ['3GPP-IMSI', session.imsi],
      ...(session.ue_ip ? ([['Framed-IP-Address', session.ue_ip]] as const) : []),
      ['Event-Timestamp', Math.floor(platform.clock.now() / 1000)],
      ...extra,
    ];
    const bytes = encodeRequest({ code: REQUEST_CODE[kind], identifier, attributes }, client.secret);
    if (!bytes.ok) {
      this.release(destination, identifier);
      return { status: 'error', attempts: 0, errorCause: null };
    }
    const key = `${destination.address}|${destination.port}|${identifier}`;
    const authenticator = bytes.value.slice(4, 20);
    const { config } = platform;
    try {
      for (let attempt = 1; attempt <= config.radiusDynamicAuthorizationAttempts; attempt++) {
        const answer = new Promise<Uint8Array>((resolve) =>
          this.waiting.set(key, { authenticator, secret: client.secret, resolve }),
        );
        this.socket.send(bytes.value, destination.port, destination.address);
        const timeout = config.radiusDynamicAuthorizationTimeoutMs * 2 ** (attempt - 1);
        let timer: NodeJS.Timeout | undefined;
        const response = await Promise.race([
          answer,
          new Promise<undefined>((resolve) => {
            timer = setTimeout(() => resolve(undefined), timeout);
          }),
        ]);
        clearTimeout(timer);
        if (response === undefined) continue;
        const packet = decodePacket(response);
        if (!packet.ok) continue;
        if (packet.value.code === ACK[kind]) return { status: 'ack', attempts: attempt, errorCause: null };
        if (packet.value.code === NAK[kind]) {
          const cause = getAttribute(packet.value, 'Error-Cause');
          return { status: 'nak', attempts: attempt, errorCause: cause?.ok ? cause.value : null };
        }
      }
      return { status: 'timeout', attempts: config.radiusDynamicAuthorizationAttempts, errorCause: null };
    } finally {
      this.waiting.delete(key);
      this.release(destination, identifier);
    }
  }

  /** A response counts only if it authenticates against the request it answers (RFC 5176 §3.5). */
  private receive(raw: Uint8Array, address: string, port: number): void {
    if (raw.length < 20) return;
    const waiting = this.waiting.get(`${address}|${port}|${raw[1]}`);
    if (!waiting) return;
    if (!verifyResponseAuthenticator(raw, waiting.authenticator, waiting.secret)) return;
    if (verifyMessageAuthenticator(raw, waiting.secret, waiting.authenticator) === 'invalid') return;
    waiting.resolve(raw);
  }

  private readonly inUse = new Set<string>();

  /** An Identifier not in use towards this NAS (RFC 2865 §3: it tells outstanding requests apart). */
  private async allocate(destination: { address: string; port: number }): Promise<number> {
    const dest = `${destination.address}|${destination.port}`;
    for (;;) {
      const start = this.nextId.get(dest) ?? 0;
      for (let i = 0; i < 256; i++) {
        const id = (start + i) % 256;
        if (!this.inUse.has(`${dest}|${id}`)) {
          this.inUse.add(`${dest}|${id}`);
          this.nextId.set(dest, (id + 1) % 256);
          return id;
        }
      }
      // 256 requests outstanding towards one NAS: wait for one to finish.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private release(destination: { address: string; port: number }, id: number): void {
    this.inUse.delete(`${destination.address}|${destination.port}|${id}`);
  }
}
