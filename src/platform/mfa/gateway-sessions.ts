// Gateway sessions: what the browser holds after a complete MFA login. The cookie carries 32 random
// bytes; only their SHA-256 is stored, so a copy of the database opens no session. A session ends
// after gatewaySessionIdleSeconds without a request or gatewaySessionAbsoluteSeconds after login
// (NIST SP 800-63B §4.2.3 for AAL2: 30 minutes idle, 12 hours), at logout, when the user's
// password changes or the user is disabled or deleted, and when an administrator revokes all of a
// user's sessions. Every check reads the store, so a revoked session is refused by every instance.

import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import type { Store } from '../store/database.js';
import type { GatewaySessionsTable } from '../store/schema.js';

export interface GatewaySession {
  readonly hash: string;
  readonly operatorId: string;
  readonly application: string;
  readonly subject: string;
  readonly userId: string;
  readonly groups: readonly string[];
  /** RFC 8176 method values of the login (`pwd` plus the second factor's). */
  readonly amr: readonly string[];
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
}

export interface SessionTimeouts {
  readonly idleSeconds: number;
  readonly absoluteSeconds: number;
}

/** last_seen_at is written at most this often (idle timeouts are minutes; a write per request is waste). */
const TOUCH_EVERY_MS = 60_000;
/** How long a session read from the store is reused on this instance. */
const RECENT_MS = 1_000;
const RECENT_MAX = 10_000;

export const sessionHash = (id: string) => createHash('sha256').update(id).digest('base64url');

function toSession(r: GatewaySessionsTable): GatewaySession {
  return {
    hash: r.session_hash,
    operatorId: r.operator_id,
    application: r.application,
    subject: r.subject,
    userId: r.user_id,
    groups: JSON.parse(r.groups) as string[],
    amr: JSON.parse(r.amr) as string[],
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    expiresAt: r.expires_at,
  };
}

export class GatewaySessions {
  private readonly recent = new Map<string, { session: GatewaySession; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly timeouts: SessionTimeouts,
  ) {}

  async create(input: {
    operatorId: string;
    application: string;
    subject: string;
    userId: string;
    groups: readonly string[];
    amr: readonly string[];
    sourceIp?: string | undefined;
  }): Promise<{ id: string; session: GatewaySession }> {
    const id = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const row: GatewaySessionsTable = {
      session_hash: sessionHash(id),
      operator_id: input.operatorId,
      application: input.application,
      subject: input.subject,
      user_id: input.userId,
      groups: JSON.stringify(input.groups),
      amr: JSON.stringify(input.amr),
      source_ip: input.sourceIp ?? null,
      created_at: now,
      last_seen_at: now,
      expires_at: now + this.timeouts.absoluteSeconds * 1000,
    };
    await this.store.db.insertInto('gateway_sessions').values(row).execute();
    return { id, session: toSession(row) };
  }

  /** The live session of a cookie value, or undefined (unknown, idle too long, past its end). */
  async lookup(id: string | undefined): Promise<GatewaySession | undefined> {
    if (id === undefined || id.length < 20 || id.length > 100) return undefined;
    const now = this.clock.now();
    const hash = sessionHash(id);
    const hit = this.recent.get(hash);
    if (
      hit !== undefined &&
      hit.until > now &&
      hit.session.expiresAt > now &&
      now - hit.session.lastSeenAt < TOUCH_EVERY_MS
    ) {
      return hit.session;
    }
    this.recent.delete(hash);
    const r = await this.store.db
      .selectFrom('gateway_sessions')
      .selectAll()
      .where('session_hash', '=', hash)
      .executeTakeFirst();
    if (r === undefined) return undefined;
    if (r.expires_at <= now || r.last_seen_at + this.timeouts.idleSeconds * 1000 <= now) {
      await this.store.db.deleteFrom('gateway_sessions').where('session_hash', '=', r.session_hash).execute();
      return undefined;
    }
    if (now - r.last_seen_at >= TOUCH_EVERY_MS) {
      await this.store.db
        .updateTable('gateway_sessions')
        .set({ last_seen_at: now })
        .where('session_hash', '=', r.session_hash)
        .execute();
      r.last_seen_at = now;
    }
    const session = toSession(r);
    if (this.recent.size >= RECENT_MAX) this.recent.clear();
    this.recent.set(hash, { session, until: now + RECENT_MS });
    return session;
  }

  async revoke(id: string): Promise<GatewaySession | undefined> {
    this.recent.delete(sessionHash(id));
    const r = await this.store.db
      .deleteFrom('gateway_sessions')
      .where('session_hash', '=', sessionHash(id))
      .returningAll()
      .executeTakeFirst();
    return r && toSession(r);
  }

  /** Ends every session of a subject; returns how many there were. */
  async revokeSubject(operatorId: string, subject: string): Promise<number> {
    for (const [hash, { session }] of this.recent) {
      if (session.operatorId === operatorId && session.subject === subject) this.recent.delete(hash);
    }
    const r = await this.store.db
      .deleteFrom('gateway_sessions')
      .where('operator_id', '=', operatorId)
      .where('subject', '=', subject)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async list(operatorId: string, subject: string): Promise<GatewaySession[]> {
    const now = this.clock.now();
    const rows = await this.store.db
      .selectFrom('gateway_sessions')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('subject', '=', subject)
      .where('expires_at', '>', now)
      .where('last_seen_at', '>', now - this.timeouts.idleSeconds * 1000)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toSession);
  }

  /** Housekeeping: deletes ended sessions. */
  async purge(): Promise<number> {
    const now = this.clock.now();
    const r = await this.store.db
      .deleteFrom('gateway_sessions')
      .where((eb) =>
        eb.or([
          eb('expires_at', '<=', now),
          eb('last_seen_at', '<=', now - this.timeouts.idleSeconds * 1000),
        ]),
      )
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
