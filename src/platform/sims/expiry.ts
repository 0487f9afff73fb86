// SIM expiry carried out (setSimExpiryTime; docs/sims.md "Expiry"): the SIMs whose expiry time has
// come are claimed a batch at a time, and in ONE transaction per batch each gets its expiry action
// through the lifecycle (SimService.transitionManyWithin: its checks, status history rows), its expiry
// cleared, its audit record and an `expiry` event in event_outbox (so SimExpiredRule and
// SubscriberExpiredRule fire, as the triggers of migration 0010 write the other events). A crash
// before the commit leaves every SIM of the batch as it was, due again; after it, none is due.
//
// Claims: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so instances racing take disjoint SIMs; on SQLite
// the transaction starts with BEGIN IMMEDIATE (the single writer), so the second one reads the
// first one's commit. Either way each SIM expires once.
//
// After the commit: the lifecycle's listeners hear of status changes (the RADIUS server sends a
// Disconnect for a suspended, deactivated or terminated SIM, as for the API), and `deleteSession`
// asks the session control (the RFC 5176 client) to end the SIM's sessions.

import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import type { SessionControl } from '../aaa/dynamic-requests.js';
import { type AuditEntry, writeAudits } from '../audit/audit-log.js';
import { systemContext } from '../iam/principal.js';
import type { Executor, Store } from '../store/database.js';
import type { SimsTable } from '../store/schema.js';
import { LIFECYCLE, type LifecycleAction } from './lifecycle.js';
import type { SimView } from './model.js';
import { loadSimViews, type SimChange, type SimService } from './sim-service.js';
import type { ExpiryAction } from './statuses.js';

/** The audit operation of an expiry (its permission name form; nobody calls it). */
export const EXPIRE_OPERATION = 'Sim:expireSim';

const LIFECYCLE_OF: Partial<Record<ExpiryAction, LifecycleAction>> = {
  deactivate: 'deactivate',
  suspend: 'suspend',
  terminate: 'terminate',
};

/** Rows per multi-row insert (within SQLite's bound-parameter limit whatever the batch size). */
const CHUNK = 500;

/** What the expiry of one SIM did. */
export interface ExpiryOutcome {
  readonly operatorId: string;
  readonly simId: string;
  readonly expiryTime: number;
  readonly expiryAction: ExpiryAction;
  /**
   * applied: the status moved (or deleteSession was asked for); unchanged: already in that status or
   * doNothing; skipped: the lifecycle refused the move (the reason says why).
   */
  readonly result: 'applied' | 'unchanged' | 'skipped';
  readonly reason?: string;
}

export interface ExpiryOptions {
  /** SIMs per transaction. */
  readonly batch?: number;
  /** Ends a SIM's sessions for deleteSession (the RFC 5176 client, when this instance runs RADIUS). */
  readonly sessionControl?: () => SessionControl | undefined;
  /**
   * Fault injection for tests: called inside the batch's transaction after every change and before
   * the commit; a throw rolls the whole batch back, as a crash there would.
   */
  readonly beforeCommit?: (outcomes: readonly ExpiryOutcome[]) => Promise<void>;
}

export class SimExpiry {
  private readonly batch: number;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly sims: SimService,
    private readonly options: ExpiryOptions = {},
  ) {
    this.batch = options.batch ?? 100;
  }

  /** Expires every SIM due now, a batch per transaction; returns what each expiry did. */
  async runDue(o: { shouldContinue?: () => boolean } = {}): Promise<ExpiryOutcome[]> {
    const all: ExpiryOutcome[] = [];
    for (;;) {
      const { outcomes, claimed } = await this.runBatch();
      all.push(...outcomes);
      if (claimed < this.batch || o.shouldContinue?.() === false) return all;
    }
  }

  /** One batch: claims up to `batch` due SIMs and expires them in one transaction. */
  async runBatch(): Promise<{ claimed: number; outcomes: ExpiryOutcome[] }> {
    const now = this.clock.now();
    const { outcomes, changes, claimed } = await this.store.transaction(async (trx) => {
      let q = trx
        .selectFrom('sims')
        .selectAll()
        .where('expiry_time', 'is not', null)
        .where('expiry_time', '<=', now)
        .orderBy('expiry_time')
        .orderBy('sim_id')
        .limit(this.batch);
      if (this.store.dialect === 'postgres') q = q.forUpdate().skipLocked();
      const rows = await q.execute();
      if (rows.length === 0) return { outcomes: [], changes: [], claimed: 0 };
      // The views before the change, for the listeners of the SIMs whose status may move.
      const movers = rows.filter((r) => LIFECYCLE_OF[(r.expiry_action ?? 'doNothing') as ExpiryAction]);
      const before = new Map((await loadSimViews(trx, movers)).map((v) => [v.simId, v]));
      const outcomes = await this.expireAll(trx, rows, now);
      const rowOf = new Map(rows.map((r) => [r.sim_id, r]));
      const moved = outcomes.flatMap((o) =>
        o.result === 'applied' && o.expiryAction !== 'deleteSession'
          ? [
              {
                row: rowOf.get(o.simId) as SimsTable,
                previous: before.get(o.simId) as SimView,
              },
            ]
          : [],
      );
      await this.writeEvents(trx, outcomes, now);
      await this.options.beforeCommit?.(outcomes);
      const after = await loadSimViews(
        trx,
        await this.reread(
          trx,
          moved.map((m) => m.row.sim_id),
        ),
      );
      const changes: SimChange[] = moved.map((m, i) => ({
        operatorId: m.row.operator_id,
        simId: m.row.sim_id,
        operationId: EXPIRE_OPERATION,
        previous: m.previous,
        current: after[i] as SimView,
      }));
      return { outcomes, changes, claimed: rows.length };
    });
    this.sims.notify(changes);
    const control = this.options.sessionControl?.();
    for (const o of outcomes) {
      if (o.expiryAction !== 'deleteSession' || control === undefined) continue;
      // Failures are the RFC 5176 client's own records (radius_dynamic_requests); nothing to undo here.
      await control.disconnect(o.operatorId, o.simId, EXPIRE_OPERATION).catch(() => undefined);
    }
    return { claimed, outcomes };
  }

  private async reread(trx: Executor, simIds: readonly string[]): Promise<SimsTable[]> {
    if (simIds.length === 0) return [];
    const rows = await trx.selectFrom('sims').selectAll().where('sim_id', 'in', simIds).execute();
    const byId = new Map(rows.map((r) => [r.sim_id, r]));
    return simIds.flatMap((id) => byId.get(id) ?? []);
  }

  /**
   * The batch's SIMs: clears their expiry (one UPDATE; under the claim every row is still due), makes
   * the lifecycle moves (SimService.transitionManyWithin: the checks of each move, one guarded UPDATE
   * per kind of move, their history rows) and writes their audit records (one insert).
   */
  private async expireAll(trx: Executor, rows: readonly SimsTable[], now: number): Promise<ExpiryOutcome[]> {
    // Still due as claimed: the lock (PostgreSQL) or the single writer (SQLite) holds them, so this
    // is every row; the guard keeps a row that changed anyway out rather than expiring it twice.
    const ours = new Set(
      (
        await trx
          .updateTable('sims')
          .set({ expiry_time: null, expiry_action: null, updated_at: now })
          .where(
            'sim_id',
            'in',
            rows.map((r) => r.sim_id),
          )
          .where('expiry_time', 'is not', null)
          .where('expiry_time', '<=', now)
          .returning('sim_id')
          .execute()
      ).map((r) => r.sim_id),
    );
    const ctxOf = (row: SimsTable) => systemContext(row.operator_id, EXPIRE_OPERATION, 'sim-expiry');
    const due = rows.filter((r) => ours.has(r.sim_id));
    const moves = due.flatMap((sim) => {
      const action = LIFECYCLE_OF[(sim.expiry_action ?? 'doNothing') as ExpiryAction];
      // Already in the status the move leads to: nothing to do (the lifecycle refuses a move to the
      // status a SIM has).
      return action === undefined || sim.status === LIFECYCLE[action].to ? [] : [{ sim, action }];
    });
    // A refused move is recorded, not retried: the SIM's state decides, as the API's answer would.
    const made = await this.sims.transitionManyWithin(trx, ctxOf, moves, now);
    const outcomes = due.map((row): ExpiryOutcome => {
      const expiryAction = (row.expiry_action ?? 'doNothing') as ExpiryAction;
      const base = {
        operatorId: row.operator_id,
        simId: row.sim_id,
        expiryTime: Number(row.expiry_time),
        expiryAction,
      };
      if (expiryAction === 'deleteSession') return { ...base, result: 'applied' };
      const move = made.get(row.sim_id);
      if (move === undefined) return { ...base, result: 'unchanged' };
      if (move instanceof SimtrustError)
        return { ...base, result: 'skipped', reason: `${move.code}: ${move.message}` };
      return { ...base, result: 'applied' };
    });
    const records = outcomes.map(
      (o, i): AuditEntry => ({
        context: ctxOf(due[i] as SimsTable),
        result: o.result === 'skipped' ? 'failure' : 'success',
        detail: {
          simId: o.simId,
          expiryTime: o.expiryTime,
          expiryAction: o.expiryAction,
          result: o.result,
          ...(o.reason !== undefined ? { reason: o.reason } : {}),
        },
        at: now,
      }),
    );
    for (let i = 0; i < records.length; i += CHUNK) await writeAudits(trx, records.slice(i, i + CHUNK));
    return outcomes;
  }

  /**
   * The `expiry` events, written as the triggers write theirs: only for operators with an active
   * handler, in the transaction of the change. Facts: the expiry, its action and result, the IMSI.
   */
  private async writeEvents(trx: Executor, outcomes: readonly ExpiryOutcome[], now: number): Promise<void> {
    if (outcomes.length === 0) return;
    const operators = [...new Set(outcomes.map((o) => o.operatorId))];
    const watched = new Set(
      (
        await trx
          .selectFrom('event_handlers')
          .select('operator_id')
          .distinct()
          .where('operator_id', 'in', operators)
          .where('status', '=', 'active')
          .execute()
      ).map((h) => h.operator_id),
    );
    const events = outcomes.filter((o) => watched.has(o.operatorId));
    if (events.length === 0) return;
    const imsis = new Map<string, string>();
    for (const p of await trx
      .selectFrom('sim_profiles')
      .select(['sim_id', 'imsi'])
      .where(
        'sim_id',
        'in',
        events.map((e) => e.simId),
      )
      .orderBy('is_primary', 'desc')
      .execute()) {
      if (!imsis.has(p.sim_id)) imsis.set(p.sim_id, p.imsi);
    }
    const rows = events.map((e) => ({
      operator_id: e.operatorId,
      sim_id: e.simId,
      kind: 'expiry',
      detail: JSON.stringify({
        expiryTime: e.expiryTime,
        expiryAction: e.expiryAction,
        result: e.result,
        ...(imsis.has(e.simId) ? { imsi: imsis.get(e.simId) } : {}),
      }),
      at: now,
    }));
    for (let i = 0; i < rows.length; i += CHUNK)
      await trx
        .insertInto('event_outbox')
        .values(rows.slice(i, i + CHUNK))
        .execute();
  }
}
