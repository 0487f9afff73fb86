// The event handler's engine: durable and exactly-once, as graphile-worker-style rows.
//
//   evaluateOutbox   claims a batch of events (the triggers of migration 0010 wrote each in the
//                    transaction of its change), matches them against the active handlers of the
//                    SIM's IMSI, SIM, group and operator, fires, schedules the actions and deletes the
//                    events — one transaction, so an event is evaluated once whatever crashes.
//   evaluateTraffic  sums each traffic handler's usage (sim_usage, written by accounting) for today,
//                    this month or all time (UTC) and fires for the SIMs over the limit.
//   runDueActions    claims due action runs (a lease; `FOR UPDATE SKIP LOCKED` on PostgreSQL, the one
//                    writer on SQLite), executes them and records the outcome; a failure retries with
//                    exponential backoff, then the run is `dead` (listed in the executions).
//
// A firing happens once per arming: the rule state row (handler, SIM or '*') is the guard, updated
// with a single conditional upsert (armed when absent or its rearm time has come), so concurrent
// evaluators never fire twice. Every action run has an idempotency key (handler, SIM, firing,
// action). SIM actions are idempotent by the state they set: a run interrupted after its change and
// before its record finds the SIM changed and records that.

import { type Selectable, sql } from 'kysely';
import type { Clock } from '../../lib/clock.js';
import { isSimtrustError, SimtrustError } from '../../lib/errors.js';
import { systemContext } from '../iam/principal.js';
import { LIFECYCLE, type LifecycleAction } from '../sims/lifecycle.js';
import type { SpeedClass } from '../sims/model.js';
import type { Page, SimService } from '../sims/sim-service.js';
import type { Executor, Store } from '../store/database.js';
import type { EventActionRunsTable, EventHandlersTable } from '../store/schema.js';

type RunRow = Selectable<EventActionRunsTable>;

import { type ActionConfig, type ActionType, RULE_TYPES, type RuleConfig, type RuleType } from './rules.js';
import { periodStart, scheduledTime } from './timing.js';

export interface EngineOptions {
  /** Events per outbox transaction. */
  readonly outboxBatch?: number;
  /** Action runs claimed at once. */
  readonly actionBatch?: number;
  /** How long a claimed run is held before another worker may take it over. */
  readonly leaseMs?: number;
  /** Attempts before a run is dead. */
  readonly maxAttempts?: number;
  /** Backoff of the first retry; each next one doubles (capped at one hour). */
  readonly retryBaseMs?: number;
  /** Runs of a claimed batch executed at the same time. */
  readonly concurrency?: number;
}

/** What an executor sees of one action run. */
export interface ActionRun {
  readonly id: number;
  readonly operatorId: string;
  readonly handlerId: string;
  readonly simId: string | null;
  readonly type: ActionType;
  readonly properties: Readonly<Record<string, string>>;
  readonly idempotencyKey: string;
  readonly attempt: number;
  /** Template variables: imsi, simId, handlerId, ruleType, oldStatus/newStatus, oldSpeedClass/newSpeedClass. */
  readonly variables: Readonly<Record<string, string>>;
  /** Facts of the firing: rule type and the event's detail (old/new status, IMEI, usage …). */
  readonly firing: {
    readonly ruleType: string;
    readonly detail: Record<string, unknown>;
    readonly at: number;
  };
}

export interface ActionResult {
  /** `retry`: a transient failure (tried again with backoff until maxAttempts). */
  readonly outcome: 'succeeded' | 'failed' | 'retry';
  readonly detail: Record<string, unknown>;
}

export type ActionExecutor = (run: ActionRun) => Promise<ActionResult>;

export interface EngineCounts {
  firings: number;
  runs: Record<string, number>;
}

export interface ExecutionView {
  readonly executionId: number;
  readonly time: number;
  readonly simId: string | null;
  readonly ruleType: string;
  readonly detail: Record<string, unknown>;
  readonly actions: Array<{
    readonly actionIndex: number;
    readonly type: string;
    readonly status: string;
    readonly scheduledTime: number;
    readonly attempts: number;
    readonly result: Record<string, unknown> | null;
    readonly updatedTime: number;
  }>;
}

type Family = (typeof RULE_TYPES)[RuleType]['family'];

/** Event kinds written by the triggers → the rule families they feed. */
const FAMILY_OF_EVENT: Record<string, Family> = {
  status: 'status',
  'speed-class': 'speed-class',
  session: 'session',
  'imei-mismatch': 'imei-mismatch',
  'anti-theft': 'anti-theft',
  // Written by the expiry job (sims/expiry.ts) in the transaction of the expiry.
  expiry: 'expiry',
};

const STATUS_ACTIONS: Partial<Record<ActionType, LifecycleAction>> = {
  ActivationAction: 'activate',
  DeactivationAction: 'deactivate',
  StandbyAction: 'set_to_standby',
  SuspendAction: 'suspend',
};

const MIB = 1_048_576;
/** Causes fired per statement: up to 5 action runs each, within SQLite's bound-parameter limit. */
const FIRE_CHUNK = 200;
/** Outcomes per recording statement (5 bound values each). */
const RECORD_CHUNK = 1000;
/** IN-list size of lookups. */
const LOOKUP_CHUNK = 900;

/** What the runs of a claimed batch read once. */
interface BatchContext {
  readonly firings: ReadonlyMap<number, { rule_type: string; detail: string; at: number }>;
  /** Primary IMSI per SIM. */
  readonly imsis: ReadonlyMap<string, string>;
}

/** A run's outcome, recorded with its batch. */
interface RunRecord {
  readonly id: number;
  readonly attempts: number;
  readonly status: string;
  readonly runAt: number;
  readonly result: string;
}

/** Why a handler fires for a SIM (or its whole target, simId null): the firing's unique key and facts. */
interface Cause {
  readonly simId: string | null;
  readonly firingKey: string;
  readonly detail: Record<string, unknown>;
}
const HOUR = 3_600_000;

interface Handler {
  readonly row: EventHandlersTable;
  readonly rule: RuleConfig;
  readonly actions: ActionConfig[];
  readonly family: Family;
}

const parseHandler = (row: EventHandlersTable): Handler => {
  const rule = JSON.parse(row.rule_config) as RuleConfig;
  return {
    row,
    rule,
    actions: JSON.parse(row.action_config_list) as ActionConfig[],
    family: RULE_TYPES[rule.type].family,
  };
};

/** Whether the rule of `h` matches an event's facts. */
function matches(h: Handler, detail: Record<string, unknown>): boolean {
  const p = h.rule.properties;
  switch (h.family) {
    case 'status':
      return detail.to === p.targetStatus && (p.sourceStatus === undefined || detail.from === p.sourceStatus);
    case 'speed-class':
      return detail.to === p.targetSpeedClass;
    case 'session':
      return detail.status === p.sessionStatus && (p.hasImei !== 'true' || typeof detail.imei === 'string');
    case 'imei-mismatch':
      return true;
    case 'anti-theft':
      return detail.antiTheftEvent === p.targetEvent;
    case 'expiry':
      // SimExpiredRule and SubscriberExpiredRule: the SIM (and so its subscribers) reached its expiry.
      return true;
    default:
      return false;
  }
}

/** The rule state key: the SIM, or '*' when a group or operator handler fires once among its target. */
const stateKey = (h: Handler, simId: string | null) =>
  simId === null ||
  (h.rule.properties.runOnceAmongTarget === 'true' &&
    (h.row.target_kind === 'group' || h.row.target_kind === 'operator'))
    ? '*'
    : simId;

export class EventEngine {
  private readonly executors = new Map<ActionType, ActionExecutor>();
  private readonly o: Required<EngineOptions>;
  /** IMSIs per operator whose usage accounting recorded since the last traffic evaluation. */
  private readonly usage = new Map<string, Set<string>>();
  private readonly usageListeners = new Set<() => void>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly sims: SimService,
    options: EngineOptions = {},
  ) {
    this.o = {
      outboxBatch: 500,
      actionBatch: 100,
      leaseMs: 60_000,
      maxAttempts: 5,
      retryBaseMs: 10_000,
      concurrency: 8,
      ...options,
    };
    this.executors.set('ChangeSpeedClassAction', (run) => this.changeSpeedClass(run));
    for (const type of Object.keys(STATUS_ACTIONS) as ActionType[]) {
      this.executors.set(type, (run) => this.changeStatus(run, STATUS_ACTIONS[type] as LifecycleAction));
    }
    this.executors.set('ImeiLockAction', (run) => this.lockImei(run));
  }

  /** Plugs in the executor of an action type that needs outside resources (mail, web requests). */
  useExecutor(type: ActionType, executor: ActionExecutor): void {
    this.executors.set(type, executor);
  }

  /**
   * One pass of everything due: events, traffic rules (all of them unless `traffic` is false, or only
   * for the SIMs whose usage was noted: `'changed'`), actions.
   */
  async tick(o: { traffic?: boolean | 'changed' } = {}): Promise<EngineCounts> {
    const counts: EngineCounts = { firings: 0, runs: {} };
    for (;;) {
      const { events, firings } = await this.evaluateOutbox();
      counts.firings += firings;
      if (events < this.o.outboxBatch) break;
    }
    if (o.traffic !== false)
      counts.firings += await this.evaluateTraffic(o.traffic === 'changed' ? 'changed' : 'all');
    for (;;) {
      const runs = await this.runDueActions();
      let n = 0;
      for (const [outcome, count] of Object.entries(runs)) {
        counts.runs[outcome] = (counts.runs[outcome] ?? 0) + count;
        n += count;
      }
      if (n < this.o.actionBatch) break;
    }
    return counts;
  }

  /** Evaluates one batch of outbox events; returns how many events and firings. */
  async evaluateOutbox(): Promise<{ events: number; firings: number }> {
    return this.store.transaction(async (trx) => {
      let q = trx.selectFrom('event_outbox').selectAll().orderBy('id').limit(this.o.outboxBatch);
      if (this.store.dialect === 'postgres') q = q.forUpdate().skipLocked();
      const events = await q.execute();
      if (events.length === 0) return { events: 0, firings: 0 };
      const operators = [...new Set(events.map((e) => e.operator_id))];
      const handlers = (
        await trx
          .selectFrom('event_handlers')
          .selectAll()
          .where('status', '=', 'active')
          .where('operator_id', 'in', operators)
          .orderBy('handler_id')
          .execute()
      ).map(parseHandler);
      const simIds = [...new Set(events.map((e) => e.sim_id))];
      const sims = new Map(
        (
          await trx.selectFrom('sims').select(['sim_id', 'group_id']).where('sim_id', 'in', simIds).execute()
        ).map((s) => [s.sim_id, s.group_id]),
      );
      const imsis = new Map<string, string[]>();
      for (const p of await trx
        .selectFrom('sim_profiles')
        .select(['sim_id', 'imsi'])
        .where('sim_id', 'in', simIds)
        .execute()) {
        imsis.set(p.sim_id, [...(imsis.get(p.sim_id) ?? []), p.imsi]);
      }
      const ignored = new Set(
        (
          await trx
            .selectFrom('event_handler_ignores')
            .select(['handler_id', 'sim_id'])
            .where('sim_id', 'in', simIds)
            .execute()
        ).map((i) => `${i.handler_id}\n${i.sim_id}`),
      );
      // The causes of each handler in event order, then fired a handler at a time in bulk.
      const causes = new Map<Handler, Cause[]>();
      for (const event of events) {
        const family = FAMILY_OF_EVENT[event.kind];
        const detail = JSON.parse(event.detail) as Record<string, unknown>;
        const applies = (h: Handler) => {
          const { target_kind: kind, target_id: id } = h.row;
          if (h.row.operator_id !== event.operator_id || h.family !== family) return false;
          if (ignored.has(`${h.row.handler_id}\n${event.sim_id}`)) return false;
          if (kind === 'sim') return id === event.sim_id;
          if (kind === 'imsi') return (imsis.get(event.sim_id) ?? []).includes(id);
          if (kind === 'group') return sims.get(event.sim_id) === id;
          return id === event.operator_id;
        };
        for (const h of handlers) {
          if (!applies(h) || !matches(h, detail)) continue;
          const list = causes.get(h) ?? [];
          list.push({
            simId: event.sim_id,
            firingKey: `event:${event.id}`,
            detail: { event: event.kind, ...detail },
          });
          causes.set(h, list);
        }
      }
      let firings = 0;
      for (const [h, list] of causes) firings += await this.fireAll(trx, h, list);
      await trx
        .deleteFrom('event_outbox')
        .where(
          'id',
          'in',
          events.map((e) => e.id),
        )
        .execute();
      return { events: events.length, firings };
    });
  }

  /**
   * Notes that accounting just recorded usage of these IMSIs (platform.ts wires the accounting
   * writer here), so the next `tick({ traffic: 'changed' })` evaluates their traffic rules at once
   * instead of at the next full sweep. Memory only: what a crash loses, the sweep finds.
   */
  noteUsage(operatorId: string, imsis: Iterable<string>): void {
    const set = this.usage.get(operatorId) ?? new Set<string>();
    for (const imsi of imsis) set.add(imsi);
    this.usage.set(operatorId, set);
    for (const listener of this.usageListeners) listener();
  }

  /** Called whenever usage is noted: the scheduler runs a tick soon rather than at its next second. */
  onUsage(listener: () => void): () => void {
    this.usageListeners.add(listener);
    return () => this.usageListeners.delete(listener);
  }

  /** Whether usage was noted since the last traffic evaluation. */
  get usagePending(): boolean {
    return this.usage.size > 0;
  }

  /**
   * Fires every active traffic handler for the SIMs (or the total) over its limit; returns the
   * firings. `changed`: only for the SIMs whose usage was noted since the last evaluation (and the
   * totals of their operators).
   */
  async evaluateTraffic(scope: 'all' | 'changed' = 'all'): Promise<number> {
    const noted = new Map(this.usage);
    this.usage.clear();
    if (scope === 'changed' && noted.size === 0) return 0;
    let q = this.store.db.selectFrom('event_handlers').selectAll().where('status', '=', 'active');
    if (scope === 'changed') q = q.where('operator_id', 'in', [...noted.keys()]);
    const handlers = (await q.orderBy('handler_id').execute())
      .map(parseHandler)
      .filter((h) => h.family === 'traffic' || h.family === 'first-traffic' || h.family === 'total-traffic');
    let firings = 0;
    if (scope === 'all') {
      for (const h of handlers) firings += await this.evaluateTrafficHandler(h);
      return firings;
    }
    // The noted SIMs with their IMSIs and group, read once; each handler then reads only its own.
    const targets = new Map<string, Array<{ simId: string; imsi: string; groupId: string | null }>>();
    for (const [operatorId, imsis] of noted) {
      const list: Array<{ simId: string; imsi: string; groupId: string | null }> = [];
      const all = [...imsis];
      for (let i = 0; i < all.length; i += LOOKUP_CHUNK) {
        const rows = await this.store.db
          .selectFrom('sim_profiles')
          .innerJoin('sims', 'sims.sim_id', 'sim_profiles.sim_id')
          .select(['sims.sim_id', 'sim_profiles.imsi', 'sims.group_id'])
          .where('sim_profiles.operator_id', '=', operatorId)
          .where('sim_profiles.imsi', 'in', all.slice(i, i + LOOKUP_CHUNK))
          .execute();
        for (const r of rows) list.push({ simId: r.sim_id, imsi: r.imsi, groupId: r.group_id });
      }
      targets.set(operatorId, list);
    }
    for (const h of handlers) {
      const { operator_id: operatorId, target_kind: kind, target_id: id } = h.row;
      const mine = targets.get(operatorId) ?? [];
      if (h.family === 'total-traffic') {
        const touched = mine.some(
          (t) =>
            kind === 'operator' ||
            (kind === 'group' && t.groupId === id) ||
            (kind === 'sim' && t.simId === id) ||
            (kind === 'imsi' && t.imsi === id),
        );
        if (touched) firings += await this.evaluateTrafficHandler(h);
        continue;
      }
      const simIds = [
        ...new Set(
          mine
            .filter(
              (t) =>
                kind === 'operator' ||
                (kind === 'group' && t.groupId === id) ||
                (kind === 'sim' && t.simId === id) ||
                (kind === 'imsi' && t.imsi === id),
            )
            .map((t) => t.simId),
        ),
      ];
      for (let i = 0; i < simIds.length; i += LOOKUP_CHUNK)
        firings += await this.evaluateTrafficHandler(h, simIds.slice(i, i + LOOKUP_CHUNK));
    }
    return firings;
  }

  /** Evaluates one traffic handler over its whole target, or over `simIds` of it. */
  private async evaluateTrafficHandler(h: Handler, simIds?: readonly string[]): Promise<number> {
    const now = this.clock.now();
    const type = h.rule.type;
    const period = type.includes('Daily') ? 'daily' : type.includes('Monthly') ? 'monthly' : 'cumulative';
    const since = periodStart(period, now);
    const limitBytes =
      h.family === 'first-traffic' ? 0 : Number(h.rule.properties.limitTotalTrafficMegaByte) * MIB;
    const { operator_id: operatorId, target_kind: kind, target_id: targetId, handler_id: handlerId } = h.row;
    const db = this.store.db;
    // Usage per SIM of the target since the period's start (days are stored; months are summed).
    let usage = db
      .selectFrom('sim_usage')
      .select(['sim_usage.sim_id', sql<number>`sum(upload_bytes + download_bytes)`.as('bytes')])
      .where('sim_usage.operator_id', '=', operatorId)
      .where('sim_usage.period', '=', 'day')
      .where('sim_usage.bucket_start', '>=', since);
    if (simIds !== undefined) usage = usage.where('sim_usage.sim_id', 'in', simIds);
    if (kind === 'sim') usage = usage.where('sim_usage.sim_id', '=', targetId);
    if (kind === 'imsi') {
      usage = usage.where('sim_usage.sim_id', 'in', (eb) =>
        eb
          .selectFrom('sim_profiles')
          .select('sim_profiles.sim_id')
          .where('sim_profiles.imsi', '=', targetId)
          .where('sim_profiles.operator_id', '=', operatorId),
      );
    }
    if (kind === 'group') {
      usage = usage.where('sim_usage.sim_id', 'in', (eb) =>
        eb
          .selectFrom('sims')
          .select('sims.sim_id')
          .where('sims.group_id', '=', targetId)
          .where('sims.operator_id', '=', operatorId),
      );
    }
    if (h.family === 'total-traffic') {
      const rows = await usage.groupBy('sim_usage.sim_id').execute();
      const total = rows.reduce((sum, r) => sum + Number(r.bytes), 0);
      if (total <= limitBytes) return 0;
      return this.store.transaction(async (trx) =>
        this.fireAll(trx, h, [
          { simId: null, firingKey: `traffic:*:${now}`, detail: { usageBytes: total, since } },
        ]),
      );
    }
    // SIMs already fired and not yet re-armed, and ignored SIMs, are left out in SQL, so a sweep
    // after a mass crossing reads only the SIMs that may fire.
    const rows = await usage
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('event_handler_ignores')
              .select(eb.lit(1).as('one'))
              .where('event_handler_ignores.handler_id', '=', handlerId)
              .whereRef('event_handler_ignores.sim_id', '=', 'sim_usage.sim_id'),
          ),
        ),
      )
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('event_rule_states')
              .select(eb.lit(1).as('one'))
              .where('event_rule_states.handler_id', '=', handlerId)
              .where((e) =>
                e.or([
                  e('event_rule_states.target_key', '=', '*'),
                  e(e.ref('event_rule_states.target_key'), '=', e.ref('sim_usage.sim_id')),
                ]),
              )
              .where((e) =>
                e.or([
                  e('event_rule_states.rearm_at', 'is', null),
                  e('event_rule_states.rearm_at', '>', now),
                ]),
              ),
          ),
        ),
      )
      .groupBy('sim_usage.sim_id')
      .having(sql`sum(upload_bytes + download_bytes)`, '>', limitBytes)
      .orderBy('sim_usage.sim_id')
      .execute();
    let firings = 0;
    for (let i = 0; i < rows.length; i += FIRE_CHUNK) {
      const chunk = rows.slice(i, i + FIRE_CHUNK);
      firings += await this.store.transaction((trx) =>
        this.fireAll(
          trx,
          h,
          chunk.map((r) => ({
            simId: r.sim_id,
            firingKey: `traffic:${r.sim_id}:${now}`,
            detail: { usageBytes: Number(r.bytes), since, limitBytes },
          })),
        ),
      );
    }
    return firings;
  }

  /**
   * Fires `h` for each cause whose rule state is armed, a few statements for the whole list: the
   * conditional upsert of the rule states is the guard (a concurrent evaluator waits on the rows and
   * then finds them not armed), then the firings and their action runs are inserted as multi-row
   * statements. Causes that share a rule state key (one SIM's events in order, or every SIM of a
   * runOnceAmongTarget handler) are taken in waves, in order, as one statement cannot upsert a row
   * twice. Returns how many fired.
   */
  private async fireAll(trx: Executor, h: Handler, causes: readonly Cause[]): Promise<number> {
    let fired = 0;
    let rest = causes;
    while (rest.length > 0) {
      const keys = new Set<string>();
      const wave: Cause[] = [];
      const later: Cause[] = [];
      for (const c of rest) {
        const key = stateKey(h, c.simId);
        if (keys.has(key)) later.push(c);
        else {
          keys.add(key);
          wave.push(c);
        }
      }
      for (let i = 0; i < wave.length; i += FIRE_CHUNK)
        fired += await this.fireWave(trx, h, wave.slice(i, i + FIRE_CHUNK));
      rest = later;
    }
    return fired;
  }

  /** Fires `h` for causes with distinct rule state keys (see fireAll). */
  private async fireWave(trx: Executor, h: Handler, causes: readonly Cause[]): Promise<number> {
    const now = this.clock.now();
    const handlerId = h.row.handler_id;
    const p = h.rule.properties;
    const rearmAt = scheduledTime(
      p.inactiveTimeoutDateConst as never,
      Number(p.inactiveTimeoutOffsetMinutes ?? 0),
      now,
    );
    const armed = new Set(
      (
        await trx
          .insertInto('event_rule_states')
          .values(
            causes.map((c) => ({
              handler_id: handlerId,
              target_key: stateKey(h, c.simId),
              fired_at: now,
              rearm_at: rearmAt,
            })),
          )
          .onConflict((oc) =>
            oc
              .columns(['handler_id', 'target_key'])
              .doUpdateSet({ fired_at: now, rearm_at: rearmAt })
              .where('event_rule_states.rearm_at', 'is not', null)
              .where('event_rule_states.rearm_at', '<=', now),
          )
          .returning('target_key')
          .execute()
      ).map((r) => r.target_key),
    );
    const firing = causes.filter((c) => armed.has(stateKey(h, c.simId)));
    if (firing.length === 0) return 0;
    const inserted = await trx
      .insertInto('event_firings')
      .values(
        firing.map((c) => ({
          operator_id: h.row.operator_id,
          handler_id: handlerId,
          sim_id: c.simId,
          firing_key: c.firingKey,
          rule_type: h.rule.type,
          detail: JSON.stringify(c.detail),
          at: now,
        })),
      )
      .onConflict((oc) => oc.columns(['handler_id', 'firing_key']).doNothing())
      .returning(['id', 'sim_id'])
      .execute();
    if (inserted.length === 0) return 0;
    const runAts = h.actions.map((a) =>
      scheduledTime(
        a.properties.executionDateTimeConst as never,
        Number(a.properties.executionOffsetMinutes ?? 0),
        now,
      ),
    );
    const runs = inserted.flatMap(({ id, sim_id: simId }) =>
      h.actions.map((a, i) => {
        const runAt = runAts[i] ?? null;
        return {
          operator_id: h.row.operator_id,
          handler_id: handlerId,
          firing_id: Number(id),
          sim_id: simId,
          action_index: i,
          action_type: a.type,
          action: JSON.stringify(a),
          // Unique in the table: however the engine is run, a firing's action is run once.
          idempotency_key: `${handlerId}:${simId ?? '*'}:${id}:${i}`,
          status: runAt === null ? 'skipped' : 'pending',
          run_at: runAt ?? now,
          attempts: 0,
          claimed_until: null,
          result: runAt === null ? JSON.stringify({ reason: 'executionDateTimeConst is NEVER' }) : null,
          created_at: now,
          updated_at: now,
        };
      }),
    );
    await trx.insertInto('event_action_runs').values(runs).execute();
    return inserted.length;
  }

  /**
   * Claims and runs one batch of due actions; returns the count per outcome. The batch's firings and
   * IMSIs are read in one query each and the outcomes recorded a group at a time as they finish: a
   * crash before a record leaves its runs claimed, taken over after their lease (the executors are
   * idempotent by the state they set, or send the idempotency key).
   */
  async runDueActions(): Promise<Record<string, number>> {
    const now = this.clock.now();
    const claimed = await this.claim(now);
    if (claimed.length === 0) return {};
    const context = await this.batchContext(claimed);
    const outcomes: Record<string, number> = {};
    // Outcomes are recorded as runs finish, group-committed: those that finish while a record is
    // being written go together in the next one. So a finished run is recorded at once (a crash does
    // not run it again) even while a slow web hook of its batch is still waiting.
    let unrecorded: RunRecord[] = [];
    let recording: Promise<void> | undefined;
    let failure: unknown;
    const flush = (): Promise<void> => {
      recording ??= (async () => {
        while (unrecorded.length > 0) {
          const records = unrecorded;
          unrecorded = [];
          // Not recorded: the runs stay claimed and are taken over after their lease.
          await this.record(records).catch((e: unknown) => {
            failure ??= e;
          });
        }
      })().finally(() => {
        recording = undefined;
        // Records that came as this flush was ending.
        if (unrecorded.length > 0) void flush();
      });
      return recording;
    };
    // Runs of one batch are independent (each its own SIM or request): a few at a time, so one slow
    // web hook does not hold up the rest.
    let next = 0;
    const worker = async () => {
      for (let row = claimed[next++]; row !== undefined; row = claimed[next++]) {
        const record = await this.execute(row, context);
        unrecorded.push(record);
        void flush();
        outcomes[record.status] = (outcomes[record.status] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, claimed.length) }, worker));
    // The last records (a flush that was ending when they came, then theirs); a failure surfaces here.
    await recording;
    await flush();
    if (failure !== undefined) throw failure;
    return outcomes;
  }

  private async claim(now: number): Promise<RunRow[]> {
    const lock = this.store.dialect === 'postgres' ? sql`for update skip locked` : sql``;
    const result = await sql<RunRow>`
      update event_action_runs
      set status = 'running', claimed_until = ${now + this.o.leaseMs}, attempts = attempts + 1, updated_at = ${now}
      where id in (
        select id from event_action_runs
        where (status = 'pending' and run_at <= ${now}) or (status = 'running' and claimed_until < ${now})
        order by run_at, id
        limit ${this.o.actionBatch}
        ${lock}
      )
      returning *`.execute(this.store.db);
    return result.rows.map((r) => ({ ...r, id: Number(r.id), firing_id: Number(r.firing_id) }));
  }

  /** The firings of a claimed batch and the primary IMSI of its SIMs. */
  private async batchContext(rows: readonly RunRow[]): Promise<BatchContext> {
    const firings = new Map<number, { rule_type: string; detail: string; at: number }>();
    const firingIds = [...new Set(rows.map((r) => r.firing_id))];
    for (let i = 0; i < firingIds.length; i += LOOKUP_CHUNK) {
      for (const f of await this.store.db
        .selectFrom('event_firings')
        .select(['id', 'rule_type', 'detail', 'at'])
        .where('id', 'in', firingIds.slice(i, i + LOOKUP_CHUNK))
        .execute()) {
        firings.set(Number(f.id), f);
      }
    }
    const imsis = new Map<string, string>();
    const simIds = [...new Set(rows.flatMap((r) => (r.sim_id === null ? [] : [r.sim_id])))];
    for (let i = 0; i < simIds.length; i += LOOKUP_CHUNK) {
      // Primary first, so the first IMSI kept per SIM is its primary one.
      for (const p of await this.store.db
        .selectFrom('sim_profiles')
        .select(['sim_id', 'imsi'])
        .where('sim_id', 'in', simIds.slice(i, i + LOOKUP_CHUNK))
        .orderBy('is_primary', 'desc')
        .execute()) {
        if (!imsis.has(p.sim_id)) imsis.set(p.sim_id, p.imsi);
      }
    }
    return { firings, imsis };
  }

  private async execute(row: RunRow, context: BatchContext): Promise<RunRecord> {
    const action = JSON.parse(row.action) as ActionConfig;
    const firing = context.firings.get(row.firing_id);
    const detail = firing ? (JSON.parse(firing.detail) as Record<string, unknown>) : {};
    const variables: Record<string, string> = {
      handlerId: row.handler_id,
      ruleType: firing?.rule_type ?? '',
    };
    if (row.sim_id !== null) {
      variables.simId = row.sim_id;
      const imsi = typeof detail.imsi === 'string' ? detail.imsi : context.imsis.get(row.sim_id);
      if (imsi !== undefined) variables.imsi = imsi;
    }
    const pair = (old: string, now: string) => {
      if (typeof detail.from === 'string') variables[old] = detail.from;
      if (typeof detail.to === 'string') variables[now] = detail.to;
    };
    if (detail.event === 'status') pair('oldStatus', 'newStatus');
    if (detail.event === 'speed-class') pair('oldSpeedClass', 'newSpeedClass');
    const run: ActionRun = {
      id: row.id,
      operatorId: row.operator_id,
      handlerId: row.handler_id,
      simId: row.sim_id,
      type: action.type,
      properties: action.properties,
      idempotencyKey: row.idempotency_key,
      attempt: row.attempts,
      variables,
      firing: { ruleType: firing?.rule_type ?? '', detail, at: Number(firing?.at ?? 0) },
    };
    const executor = this.executors.get(action.type);
    let result: ActionResult;
    try {
      result = executor
        ? await executor(run)
        : { outcome: 'failed', detail: { error: `${action.type} cannot run: no executor is configured` } };
    } catch (e) {
      result = isSimtrustError(e)
        ? { outcome: 'failed', detail: { error: e.message, code: e.code } }
        : { outcome: 'retry', detail: { error: (e as Error).message } };
    }
    let status: string = result.outcome;
    let runAt = Number(row.run_at);
    if (result.outcome === 'retry') {
      if (row.attempts >= this.o.maxAttempts) status = 'dead';
      else {
        status = 'pending';
        runAt = this.clock.now() + Math.min(this.o.retryBaseMs * 2 ** (row.attempts - 1), HOUR);
      }
    }
    return { id: row.id, attempts: row.attempts, status, runAt, result: JSON.stringify(result.detail) };
  }

  /**
   * Records the outcomes of a batch in one statement per chunk. Guarded on the claim (status running,
   * same attempt): a worker whose lease expired cannot overwrite its successor's record.
   */
  private async record(records: readonly RunRecord[]): Promise<void> {
    const now = this.clock.now();
    for (let i = 0; i < records.length; i += RECORD_CHUNK) {
      const rows = records
        .slice(i, i + RECORD_CHUNK)
        .map(
          (r) =>
            sql`(cast(${r.id} as bigint), cast(${r.attempts} as integer), cast(${r.status} as text), cast(${r.runAt} as bigint), cast(${r.result} as text))`,
        );
      await sql`
        with outcome (id, attempts, status, run_at, result) as (values ${sql.join(rows)})
        update event_action_runs
        set status = outcome.status, run_at = outcome.run_at, claimed_until = null, result = outcome.result,
          updated_at = ${now}
        from outcome
        where event_action_runs.id = outcome.id and event_action_runs.status = 'running'
          and event_action_runs.attempts = outcome.attempts`.execute(this.store.db);
    }
  }

  private ctx(run: ActionRun) {
    return systemContext(run.operatorId, `EventHandler:${run.type}`, `event-handler:${run.handlerId}`);
  }

  private requireSim(run: ActionRun): string {
    if (run.simId === null) throw new SimtrustError('ERR_BAD_REQUEST', `${run.type} needs a SIM`);
    return run.simId;
  }

  private async changeSpeedClass(run: ActionRun): Promise<ActionResult> {
    const simId = this.requireSim(run);
    const to = run.properties.speedClass as SpeedClass;
    const sim = await this.sims.get(run.operatorId, simId);
    if (sim.speedClass === to) return { outcome: 'succeeded', detail: { speedClass: to, unchanged: true } };
    await this.sims.updateSpeedClass(this.ctx(run), simId, to);
    return { outcome: 'succeeded', detail: { from: sim.speedClass, to } };
  }

  private async changeStatus(run: ActionRun, action: LifecycleAction): Promise<ActionResult> {
    const simId = this.requireSim(run);
    const to = LIFECYCLE[action].to;
    const sim = await this.sims.get(run.operatorId, simId);
    if (sim.status === to) return { outcome: 'succeeded', detail: { status: to, unchanged: true } };
    await this.sims.transition(this.ctx(run), simId, action);
    return { outcome: 'succeeded', detail: { from: sim.status, to } };
  }

  private async lockImei(run: ActionRun): Promise<ActionResult> {
    const simId = this.requireSim(run);
    const imei = run.firing.detail.imei;
    if (typeof imei !== 'string')
      return { outcome: 'failed', detail: { error: 'the session carried no IMEI' } };
    await this.sims.setImeiLock(this.ctx(run), simId, imei);
    return { outcome: 'succeeded', detail: { imei } };
  }

  /** Firings of a handler with their action runs, newest first (keyset pages by execution id). */
  async executions(
    operatorId: string,
    handlerId: string,
    filter: { simId?: string | undefined },
    page: { limit: number; after?: number | undefined },
  ): Promise<Page<ExecutionView>> {
    const exists = await this.store.db
      .selectFrom('event_handlers')
      .select('handler_id')
      .where('operator_id', '=', operatorId)
      .where('handler_id', '=', handlerId)
      .executeTakeFirst();
    if (!exists) throw new SimtrustError('ERR_EVENT_HANDLER_NOT_FOUND', `no event handler ${handlerId}`);
    let q = this.store.db
      .selectFrom('event_firings')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('handler_id', '=', handlerId);
    if (filter.simId !== undefined) q = q.where('sim_id', '=', filter.simId);
    if (page.after !== undefined) q = q.where('id', '<', page.after);
    const firings = await q
      .orderBy('id', 'desc')
      .limit(page.limit + 1)
      .execute();
    const shown = firings.slice(0, page.limit);
    const runs =
      shown.length === 0
        ? []
        : await this.store.db
            .selectFrom('event_action_runs')
            .selectAll()
            .where(
              'firing_id',
              'in',
              shown.map((f) => Number(f.id)),
            )
            .orderBy('action_index')
            .execute();
    const items = shown.map((f) => ({
      executionId: Number(f.id),
      time: f.at,
      simId: f.sim_id,
      ruleType: f.rule_type,
      detail: JSON.parse(f.detail) as Record<string, unknown>,
      actions: runs
        .filter((r) => Number(r.firing_id) === Number(f.id))
        .map((r) => ({
          actionIndex: r.action_index,
          type: r.action_type,
          status: r.status,
          scheduledTime: r.run_at,
          attempts: r.attempts,
          result: r.result === null ? null : (JSON.parse(r.result) as Record<string, unknown>),
          updatedTime: r.updated_at,
        })),
    }));
    return {
      items,
      nextKey: firings.length > page.limit ? String(items.at(-1)?.executionId) : undefined,
    };
  }
}
