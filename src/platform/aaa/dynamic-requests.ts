// Records of RFC 5176 Disconnect-/CoA-Requests the platform sent to a NAS: what was asked, why, and
// how it ended (ACK, NAK with its Error-Cause, or no answer after the retries). The sender lives in
// servers/radius (it needs a socket); this module is its durable memory and the session changes an
// acknowledged Disconnect implies.

import type { Executor } from '../store/database.js';
import type { RadiusDynamicRequestsTable, SimSessionsTable } from '../store/schema.js';
import { releaseAddress } from './address-pool.js';
import { type EventPage, newestRecordsOfSim } from './sessions.js';

export type DynamicKind = RadiusDynamicRequestsTable['kind'];
export type DynamicStatus = RadiusDynamicRequestsTable['status'];

/** How one Disconnect-/CoA-Request to one NAS ended. */
export interface DynamicOutcome {
  readonly sessionId: string;
  readonly kind: DynamicKind;
  readonly nasAddress: string;
  readonly status: Exclude<DynamicStatus, 'pending'>;
  readonly attempts: number;
  /** RFC 5176 §3.5 Error-Cause of a NAK. */
  readonly errorCause: number | null;
}

/**
 * What the platform needs from the RFC 5176 client in servers/radius (attached when the RADIUS
 * server starts): end a SIM's sessions, or change their rate.
 */
export interface SessionControl {
  disconnect(operatorId: string, simId: string, reason: string): Promise<DynamicOutcome[]>;
  changeRate(
    operatorId: string,
    simId: string,
    speedClass: string,
    reason: string,
  ): Promise<DynamicOutcome[]>;
}

export interface DynamicRequestView {
  readonly id: number;
  readonly kind: DynamicKind;
  readonly reason: string;
  readonly sessionId: string;
  readonly nasAddress: string;
  readonly detail: Record<string, unknown>;
  readonly status: DynamicStatus;
  readonly attempts: number;
  readonly errorCause: number | null;
  readonly createdTime: number;
  readonly completedTime: number | null;
}

export async function createDynamicRequest(
  db: Executor,
  r: {
    operatorId: string;
    simId: string;
    sessionId: string;
    kind: DynamicKind;
    reason: string;
    nasAddress: string;
    detail: Record<string, unknown>;
    now: number;
  },
): Promise<number> {
  const row = await db
    .insertInto('radius_dynamic_requests')
    .values({
      operator_id: r.operatorId,
      sim_id: r.simId,
      session_id: r.sessionId,
      kind: r.kind,
      reason: r.reason,
      nas_address: r.nasAddress,
      detail: JSON.stringify(r.detail),
      status: 'pending',
      attempts: 0,
      error_cause: null,
      created_at: r.now,
      completed_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export async function completeDynamicRequest(
  db: Executor,
  id: number,
  outcome: {
    status: Exclude<DynamicStatus, 'pending'>;
    attempts: number;
    errorCause: number | null;
    now: number;
  },
): Promise<void> {
  await db
    .updateTable('radius_dynamic_requests')
    .set({
      status: outcome.status,
      attempts: outcome.attempts,
      error_cause: outcome.errorCause,
      completed_at: outcome.now,
    })
    .where('id', '=', id)
    .execute();
}

export function listDynamicRequests(
  db: Executor,
  operatorId: string,
  simId: string,
  query: { limit: number; after?: string | undefined },
): Promise<EventPage<DynamicRequestView>> {
  return newestRecordsOfSim(db, 'radius_dynamic_requests', operatorId, simId, query, (r) => ({
    id: Number(r.id),
    kind: r.kind,
    reason: r.reason,
    sessionId: r.session_id,
    nasAddress: r.nas_address,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
    status: r.status,
    attempts: r.attempts,
    errorCause: r.error_cause,
    createdTime: r.created_at,
    completedTime: r.completed_at,
  }));
}

/**
 * Requests left `pending` before `olderThan` — their sender died (a crash, a kill) before recording
 * an outcome. Each is closed as `error` here, in one guarded statement per row so that of several
 * instances starting at once exactly one takes it over; the caller sends it again.
 */
export async function takeInterrupted(
  db: Executor,
  olderThan: number,
  now: number,
): Promise<
  Array<{ operatorId: string; simId: string; sessionId: string; kind: DynamicKind; reason: string }>
> {
  const rows = await db
    .selectFrom('radius_dynamic_requests')
    .select(['id', 'operator_id', 'sim_id', 'session_id', 'kind', 'reason'])
    .where('status', '=', 'pending')
    .where('created_at', '<', olderThan)
    .orderBy('created_at')
    .limit(1000)
    .execute();
  const taken = [];
  for (const r of rows) {
    const closed = await db
      .updateTable('radius_dynamic_requests')
      .set({ status: 'error', completed_at: now })
      .where('id', '=', r.id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (Number(closed.numUpdatedRows) === 1)
      taken.push({
        operatorId: r.operator_id,
        simId: r.sim_id,
        sessionId: r.session_id,
        kind: r.kind,
        reason: r.reason,
      });
  }
  return taken;
}

/** The SIM's online sessions (the targets of a Disconnect or CoA). */
export function onlineSessions(db: Executor, simId: string): Promise<SimSessionsTable[]> {
  return db
    .selectFrom('sim_sessions')
    .selectAll()
    .where('sim_id', '=', simId)
    .where('status', '=', 'online')
    .orderBy('created_at')
    .execute();
}

/**
 * A NAS acknowledged a Disconnect-Request (RFC 5176 §3: the session "is no longer active"): the
 * session ends now, with its Deleted event, and its address is freed. A later Accounting-Stop still
 * adds its final counters (usage is counted from deltas) without a second Deleted event.
 */
export async function endSession(
  db: Executor,
  sessionId: string,
  cause: string,
  now: number,
): Promise<boolean> {
  const ended = await db
    .updateTable('sim_sessions')
    .set({ status: 'offline', ended_at: now, updated_at: now, terminate_cause: cause })
    .where('session_id', '=', sessionId)
    .where('status', '=', 'online')
    .returningAll()
    .executeTakeFirst();
  if (!ended) return false;
  await db
    .insertInto('sim_session_events')
    .values({
      operator_id: ended.operator_id,
      sim_id: ended.sim_id,
      session_id: ended.session_id,
      event: 'Deleted',
      imsi: ended.imsi,
      imei: ended.imei,
      ue_ip: ended.ue_ip,
      apn: ended.apn,
      cell: ended.cell,
      at: now,
    })
    .execute();
  if (ended.ue_ip) await releaseAddress(db, ended.sim_id, ended.ue_ip, now);
  return true;
}

/** A CoA changed the rate: the sessions now count under the new speed class. */
export async function setSessionSpeedClass(db: Executor, simId: string, speedClass: string): Promise<void> {
  await db
    .updateTable('sim_sessions')
    .set({ speed_class: speedClass })
    .where('sim_id', '=', simId)
    .where('status', '=', 'online')
    .execute();
}
