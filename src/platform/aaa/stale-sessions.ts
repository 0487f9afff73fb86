// Sessions whose accounting went silent (issue 11). A NAS reports a live session at least every
// Acct-Interim-Interval (RFC 2869 §5.16; simtrust sends `radiusInterimIntervalSeconds` in each
// Access-Accept). A session that has missed `radiusStaleSessionMissedInterims` reports in a row —
// its Stop was lost, or its Start was lost and the Interim that created it was its last word — is
// not online any more: left alone it would stay online forever, and each CoA (a speed change) or
// Disconnect would go to it as well as to the device's real session.
//
// The sweep closes such sessions in batches: status offline, ended now, terminate cause
// `Interim-Timeout` (why it was closed), and a `Deleted` session event, all in one transaction per
// batch. Silence counts from the last accounting record (`updated_at`; for a session nothing updated,
// its creation). Each UPDATE re-checks status and silence, so a session that reported meanwhile, or
// another instance sweeping at the same time, is never closed twice. A session closed this way that
// reports again with an Interim-Update is online again (accounting.ts). Address leases are left to
// expire on their own (radiusAddressLeaseSeconds), so an address is never handed to another device
// while its session might still be up. Accounting-On/Off still end a NAS's sessions at once.

import type { Store } from '../store/database.js';

/** terminate_cause of a session the sweep closed. */
export const STALE_SESSION_CAUSE = 'Interim-Timeout';

export interface StaleSweepOptions {
  readonly now: number;
  /** Close sessions with no accounting record for this long (interim interval × missed reports). */
  readonly silentMs: number;
  /** Sessions closed per transaction. */
  readonly batchRows?: number;
  /** Asked between batches; false ends the sweep early (a stopping process). */
  readonly shouldContinue?: () => boolean;
}

/** Closes silent sessions; returns how many it closed. */
export async function closeStaleSessions(store: Store, o: StaleSweepOptions): Promise<number> {
  const batchRows = o.batchRows ?? 500;
  const cutoff = o.now - o.silentMs;
  let closed = 0;
  for (;;) {
    const candidates = await store.db
      .selectFrom('sim_sessions')
      .select('session_id')
      .where('status', '=', 'online')
      .where('updated_at', '<', cutoff)
      .orderBy('updated_at')
      .limit(batchRows)
      .execute();
    if (candidates.length === 0) break;
    closed += await store.transaction(async (trx) => {
      const ended = await trx
        .updateTable('sim_sessions')
        .set({ status: 'offline', ended_at: o.now, updated_at: o.now, terminate_cause: STALE_SESSION_CAUSE })
        .where(
          'session_id',
          'in',
          candidates.map((c) => c.session_id),
        )
        // Re-checked under the row lock: a record that arrived meanwhile keeps its session online.
        .where('status', '=', 'online')
        .where('updated_at', '<', cutoff)
        .returning(['operator_id', 'sim_id', 'session_id', 'imsi', 'imei', 'ue_ip', 'apn', 'cell'])
        .execute();
      if (ended.length > 0) {
        await trx
          .insertInto('sim_session_events')
          .values(ended.map((s) => ({ ...s, event: 'Deleted' as const, at: o.now })))
          .execute();
      }
      return ended.length;
    });
    if (candidates.length < batchRows || o.shouldContinue?.() === false) break;
  }
  return closed;
}
