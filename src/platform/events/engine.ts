// The event handler's engine: durable and exactly-once, as graphile-worker-style rows.
//
//   evaluateOutbox   claims a batch of events (the triggers of migration 0010 wrote each in the
//                    transaction of its change), matches them against the active handlers of the
//                    SIM's IMSI, SIM, group and operator, fires, schedules the actions and deletes the
//                    events — one transaction, so an event is evaluated once whatever crashes.
//   evaluateTraffic  sums each traffic handler's usage (sim_usage, written by accounting) for today,
//                    this month or all time (UTC) and fires for the SIMs over the limit. On SQLite
//                    (usageInMemory) the usage of the SIMs accounting just recorded is known from the
//                    deltas the accounting writer hands over, added to a baseline read per SIM; a SIM
//                    over a limit by those figures is read from the database before it fires.
//   runDueActions    claims due action runs (a lease; `FOR UPDATE SKIP LOCKED` on PostgreSQL, the one
//                    writer on SQLite), executes them and records the outcome; a failure retries with
//                    exponential backoff, then the run is `dead` (listed in the executions). Runs a
//                    tick fires due at once are inserted already claimed by its process (no claim).
//
// A firing happens once per arming: the rule state row (handler, SIM or '*') is the guard, updated
// with a single conditional upsert (armed when absent or its rearm time has come), so concurrent
// evaluators never fire twice. Every action run has an idempotency key (handler, SIM, firing,
// action). SIM actions are idempotent by the state they set: a run interrupted after its change and
// before its record finds the SIM changed and records that.

import { type Selectable, sql } from 'kysely';
import type { Clock } from '../../lib/clock.js';
import { isSimtrustError, SimtrustError } from '../../lib/errors.js';
import type { UsageDelta } from '../aaa/accounting.js';
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
  /** Runs that change the platform's own state (SIM actions: the database, CoA) executed at the same time. */
  readonly concurrency?: number;
  /**
   * Runs that only wait on another server (web requests, mail) executed at the same time. They cost
   * this process little but a round trip each: with `concurrency` alone a burst of crossings would
   * queue behind a few requests in flight (8 at ~20 ms each under load: ~400 a second).
   */
  readonly outboundConcurrency?: number;
  /**
   * Whether traffic rules are decided from the usage accounting hands over (`noteAccounting`) added
   * to a per-SIM baseline read once, instead of reading each noted SIM's usage at every evaluation.
   * The figures are a lower bound (another process's usage is not in them until the baseline is read
   * again, every USAGE_REREAD_MS); a SIM over a limit is confirmed from the database before it fires.
   * Default: on SQLite, where one process writes; off on PostgreSQL, where several instances share
   * the usage and each reads it (so a SIM whose sessions several instances account fires at once).
   */
  readonly usageInMemory?: boolean;
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
  /** Rule evaluations: a handler deciding for one SIM (or its target's total) whether it fires. */
  evaluations: number;
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
  // An eSIM operation started or ended (trigger of migration 0017 on esim_operations).
  'esim-operation': 'ota-status',
};

/** Action types whose run is a request to another server (no write of the platform's own state). */
const OUTBOUND_ACTIONS: ReadonlySet<ActionType> = new Set<ActionType>([
  'ExecuteWebRequestAction',
  'SendMailAction',
  'SendMailToOperatorAction',
]);

const STATUS_ACTIONS: Partial<Record<ActionType, LifecycleAction>> = {
  ActivationAction: 'activate',
  DeactivationAction: 'deactivate',
  StandbyAction: 'set_to_standby',
  SuspendAction: 'suspend',
};

const MIB = 1_048_576;
/** The result of a run whose action is never executed (executionDateTimeConst NEVER). */
const SKIPPED_RESULT = JSON.stringify({ reason: 'executionDateTimeConst is NEVER' });
/**
 * In the RETURNING of the runs' insert: a claimed run's SIM's IMSI (primary first, then the lowest),
 * as the claim statement returns it.
 */
const CLAIMED_RUN_IMSI = sql`case when event_action_runs.status = 'running' then
  (select p.imsi from sim_profiles p where p.sim_id = event_action_runs.sim_id
    order by p.is_primary desc, p.imsi limit 1) end`;
/** Causes fired per statement: up to 5 action runs each, within SQLite's bound-parameter limit. */
const FIRE_CHUNK = 200;
/** Causes fired per statement on PostgreSQL (each column one array). */
const FIRE_CHUNK_PG = 5000;
/** Outcomes per recording statement (5 bound values each). */
const RECORD_CHUNK = 1000;
/** IN-list size of lookups. */
const LOOKUP_CHUNK = 900;

/** A claimed run with what executing it needs: its firing's facts and the SIM's primary IMSI. */
type ClaimedRun = RunRow & {
  readonly firing_rule_type: string | null;
  readonly firing_detail: string | null;
  readonly firing_at: number | string | null;
  readonly sim_imsi: string | null;
};

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
/** Rule states a process remembers as fired (about 100 bytes each) before it starts over. */
const REMEMBERED_MAX = 500_000;

type Period = 'daily' | 'monthly' | 'cumulative';
const periodOf = (type: RuleType): Period =>
  type.includes('Daily') ? 'daily' : type.includes('Monthly') ? 'monthly' : 'cumulative';

/** A rule state just fired, remembered once its transaction committed. */
interface FiredState {
  readonly handlerId: string;
  readonly key: string;
  /** Infinity: never re-armed (NEVER). */
  readonly rearmAt: number;
}

/** A SIM's usage in each period a traffic rule sums (bytes, up and down). */
interface SimUsage {
  readonly simId: string;
  readonly groupId: string | null;
  readonly daily: number;
  readonly monthly: number;
  readonly cumulative: number;
}

interface UsageRowRaw {
  sim_id: string;
  group_id: string | null;
  daily: number | string;
  monthly: number | string;
  cumulative: number | string;
}

const simUsageOf = (r: UsageRowRaw): SimUsage => ({
  simId: r.sim_id,
  groupId: r.group_id,
  daily: Number(r.daily),
  monthly: Number(r.monthly),
  cumulative: Number(r.cumulative),
});

/** A per-SIM traffic rule's period and limit (bytes). */
interface Limit {
  readonly period: Period;
  readonly bytes: number;
}

const limitOf = (h: Handler): Limit => ({
  period: periodOf(h.rule.type),
  bytes: h.family === 'first-traffic' ? 0 : Number(h.rule.properties.limitTotalTrafficMegaByte) * MIB,
});

/** The cause of a firing when the SIM's usage is over the limit. */
function overLimit(u: SimUsage, limit: Limit, now: number): Cause | undefined {
  const bytes = u[limit.period];
  if (bytes <= limit.bytes) return undefined;
  return {
    simId: u.simId,
    firingKey: `traffic:${u.simId}:${now}`,
    detail: { usageBytes: bytes, since: periodStart(limit.period, now), limitBytes: limit.bytes },
  };
}

/**
 * Adds what accounting handed over to the usage known of a SIM; false when the delta is of a later
 * day than the figures (they are then of the past and read again).
 */
function addDelta(k: KnownUsage, d: UsageDelta): boolean {
  if (d.day > k.day) return false;
  if (d.day === k.day) k.daily += d.bytes;
  if (d.day >= k.month) k.monthly += d.bytes;
  k.cumulative += d.bytes;
  return true;
}

/** The usage read once per evaluation, and the SIMs of each handler's target in it. */
class UsageIndex {
  private readonly bySim = new Map<string, SimUsage>();
  private readonly byGroup = new Map<string, SimUsage[]>();
  constructor(private readonly all: readonly SimUsage[]) {
    for (const u of all) {
      this.bySim.set(u.simId, u);
      if (u.groupId === null) continue;
      const list = this.byGroup.get(u.groupId);
      if (list === undefined) this.byGroup.set(u.groupId, [u]);
      else list.push(u);
    }
  }

  of(h: Handler, imsiSims: ReadonlyMap<string, string>): readonly SimUsage[] {
    const { target_kind: kind, target_id: id } = h.row;
    if (kind === 'operator') return this.all;
    if (kind === 'group') return this.byGroup.get(id) ?? [];
    const simId = kind === 'sim' ? id : imsiSims.get(id);
    const u = simId === undefined ? undefined : this.bySim.get(simId);
    return u === undefined ? [] : [u];
  }
}

interface Handler {
  readonly row: EventHandlersTable;
  readonly rule: RuleConfig;
  readonly actions: ActionConfig[];
  readonly family: Family;
}

/** A handler's parsed rule and actions, kept while its stored JSON stays the same. */
interface ParsedHandler {
  readonly ruleConfig: string;
  readonly actionConfigList: string;
  readonly rule: RuleConfig;
  readonly actions: ActionConfig[];
  readonly family: Family;
}

/** Handlers whose parsed configuration a process keeps (each tick reads the rows, not the JSON). */
const PARSED_MAX = 10_000;

/** The per-SIM usage a process knows from a baseline read plus the deltas accounting handed over. */
interface KnownUsage {
  /** The UTC day (and month) the figures are of. */
  readonly day: number;
  readonly month: number;
  /** The periods the baseline read summed (the others are not known). */
  readonly periods: ReadonlySet<Period>;
  /** When the baseline was read (the engine's clock). */
  readonly readAt: number;
  daily: number;
  monthly: number;
  cumulative: number;
}

/** A baseline is read again after this long: what another process recorded is then in it. */
const USAGE_REREAD_MS = 10_000;
/** SIMs whose usage a process keeps (about 150 bytes each) before it starts over. */
const KNOWN_MAX = 500_000;

/** What a firing transaction leaves to do once it committed. */
interface FireLog {
  /** Rule states fired (remembered after the commit). */
  readonly states: FiredState[];
  /** Runs due now, inserted claimed by this process (executed by this tick after the commit); undefined: inserted pending. */
  readonly runs: ClaimedRun[] | undefined;
  /** Whether runs due now were inserted pending (beyond the claimed ones: left for a claim). */
  duePending: boolean;
}

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
    case 'ota-status':
      // SimSubscriptionStatusRule: an eSIM operation on the SIM (of operationKind, when set) started,
      // finished or failed.
      return (
        detail.otaStatus === p.targetOtaStatus &&
        (p.operationKind === undefined || detail.operationKind === p.operationKind)
      );
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
  /** IMSIs per operator whose usage was noted (noteUsage) since the last traffic evaluation. */
  private readonly usage = new Map<string, Set<string>>();
  /** SIMs per operator whose usage accounting handed over (noteAccounting) since the last traffic evaluation. */
  private readonly usageSims = new Map<string, Set<string>>();
  /** Per SIM: the usage this process knows (usageInMemory). */
  private readonly known = new Map<string, KnownUsage>();
  /** Baseline reads in progress: the deltas handed over meanwhile for their SIMs, added once read. */
  private readonly journals = new Set<Map<string, UsageDelta[]>>();
  private readonly parsed = new Map<string, ParsedHandler>();
  /** Ticks in progress: while one runs, runs due at once are inserted claimed and executed by it. */
  private ticking = 0;
  /** Runs this process inserted claimed (committed), waiting for runDueActions. */
  private readonly claimedHere: ClaimedRun[] = [];
  /** Whether this process fired runs due now that it left pending (for a claim) since runDueActions looked. */
  private duePending = false;
  /** The runDueActions in progress: told when runs are fired here, so they start at once. */
  private readonly drains = new Set<() => void>();
  private readonly usageListeners = new Set<() => void>();
  /**
   * Rule states this process knows are fired and not re-armed before a time, per handler: such SIMs
   * are not evaluated again (a fired state only changes when it re-arms; the database guard stays
   * authoritative). Filled from what this process fired and from the states it read.
   */
  private readonly firedUntil = new Map<string, Map<string, number>>();
  private remembered = 0;
  /** Mean time of a run's execution in this process (ms, moving average; undefined before the first). */
  private runMs: number | undefined;

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
      outboundConcurrency: 64,
      usageInMemory: store.dialect === 'sqlite',
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
    const counts = await this.evaluate(o);
    for (const [outcome, count] of Object.entries(await this.runDueActions()))
      counts.runs[outcome] = (counts.runs[outcome] ?? 0) + count;
    return counts;
  }

  /**
   * The evaluating half of a tick: events and traffic rules, no action run. The runs it fires due at
   * once are inserted claimed by this process (no claim for them) and wait in memory for
   * runDueActions, which the caller must run after it (`runsWaiting` says whether some wait): the
   * scheduler (servers/event-handlers-job.ts) runs the actions beside the next evaluations, so a
   * burst of slow actions does not hold up the evaluation of the next crossings.
   */
  async evaluate(o: { traffic?: boolean | 'changed' } = {}): Promise<EngineCounts> {
    const counts: EngineCounts = { firings: 0, evaluations: 0, runs: {} };
    this.ticking++;
    try {
      // Events and traffic rules are of different rule families (no rule state in common): side by
      // side, so a crossing does not wait for the outbox's statements (on SQLite they queue on the
      // one connection anyway).
      const outbox = async () => {
        for (;;) {
          const { events, firings, evaluations } = await this.evaluateOutbox();
          counts.firings += firings;
          counts.evaluations += evaluations;
          if (events < this.o.outboxBatch) break;
        }
      };
      // Both end before the evaluation does (a failure of one surfaces after the other ended).
      const ended = await Promise.allSettled([
        outbox(),
        o.traffic === false ? undefined : this.traffic(o.traffic === 'changed' ? 'changed' : 'all', counts),
      ]);
      for (const e of ended) if (e.status === 'rejected') throw e.reason;
    } finally {
      this.ticking--;
    }
    return counts;
  }

  /**
   * Whether runs wait for runDueActions: claimed by this process at their firing, or fired pending
   * and due while a claim may have found none.
   */
  get runsWaiting(): boolean {
    return this.claimedHere.length > 0 || this.duePending;
  }

  /** The active handlers' rows with their parsed configuration (parsed again only when it changed). */
  private handlersOf(rows: readonly EventHandlersTable[]): Handler[] {
    return rows.map((row) => {
      let p = this.parsed.get(row.handler_id);
      if (
        p === undefined ||
        p.ruleConfig !== row.rule_config ||
        p.actionConfigList !== row.action_config_list
      ) {
        const rule = JSON.parse(row.rule_config) as RuleConfig;
        p = {
          ruleConfig: row.rule_config,
          actionConfigList: row.action_config_list,
          rule,
          actions: JSON.parse(row.action_config_list) as ActionConfig[],
          family: RULE_TYPES[rule.type].family,
        };
        if (this.parsed.size >= PARSED_MAX) this.parsed.clear();
        this.parsed.set(row.handler_id, p);
      }
      return { row, rule: p.rule, actions: p.actions, family: p.family };
    });
  }

  /** A log for a firing transaction: runs due now are inserted claimed while a tick runs. */
  private fireLog(): FireLog {
    return { states: [], runs: this.ticking > 0 ? [] : undefined, duePending: false };
  }

  /** After the firing transaction committed: its states remembered, its claimed runs queued here. */
  private committed(log: FireLog): void {
    for (const f of log.states) this.remember(f.handlerId, f.key, f.rearmAt);
    this.handOver(log);
  }

  /** The runs a committed firing transaction left for runDueActions: to a run of it in progress, if any. */
  private handOver(log: FireLog): void {
    if (log.runs !== undefined) this.claimedHere.push(...log.runs);
    if (log.duePending) this.duePending = true;
    if (log.duePending || (log.runs?.length ?? 0) > 0) for (const drain of this.drains) drain();
  }

  /** Evaluates one batch of outbox events; returns how many events, rule evaluations and firings. */
  async evaluateOutbox(): Promise<{ events: number; firings: number; evaluations: number }> {
    // Mostly there is none (usage is not an event): one statement instead of a transaction's three,
    // each a turn of a busy event loop on the way of the traffic evaluation that follows.
    if (
      (await this.store.db
        .selectFrom('event_outbox')
        .select('id')
        .orderBy('id')
        .limit(1)
        .executeTakeFirst()) === undefined
    )
      return { events: 0, firings: 0, evaluations: 0 };
    const log = this.fireLog();
    const result = await this.store.transaction(async (trx) => {
      let q = trx.selectFrom('event_outbox').selectAll().orderBy('id').limit(this.o.outboxBatch);
      if (this.store.dialect === 'postgres') q = q.forUpdate().skipLocked();
      const events = await q.execute();
      if (events.length === 0) return { events: 0, firings: 0, evaluations: 0 };
      const operators = [...new Set(events.map((e) => e.operator_id))];
      const handlers = this.handlersOf(
        await trx
          .selectFrom('event_handlers')
          .selectAll()
          .where('status', '=', 'active')
          .where('operator_id', 'in', operators)
          .orderBy('handler_id')
          .execute(),
      );
      // Only the events some handler's rule family watches need their SIM's facts (a session event
      // where no handler watches sessions is just deleted).
      const families = new Set(handlers.map((h) => `${h.row.operator_id}\n${h.family}`));
      const watched = events.filter((e) => families.has(`${e.operator_id}\n${FAMILY_OF_EVENT[e.kind]}`));
      const simIds = [...new Set(watched.map((e) => e.sim_id))];
      const sims = new Map<string, string | null>();
      const imsis = new Map<string, string[]>();
      const ignored = new Set<string>();
      if (simIds.length > 0) {
        for (const s of await trx
          .selectFrom('sims')
          .select(['sim_id', 'group_id'])
          .where('sim_id', 'in', simIds)
          .execute())
          sims.set(s.sim_id, s.group_id);
        for (const p of await trx
          .selectFrom('sim_profiles')
          .select(['sim_id', 'imsi'])
          .where('sim_id', 'in', simIds)
          .execute()) {
          imsis.set(p.sim_id, [...(imsis.get(p.sim_id) ?? []), p.imsi]);
        }
        for (const i of await trx
          .selectFrom('event_handler_ignores')
          .select(['handler_id', 'sim_id'])
          .where('sim_id', 'in', simIds)
          .execute())
          ignored.add(`${i.handler_id}\n${i.sim_id}`);
      }
      // The causes of each handler in event order, then fired a handler at a time in bulk.
      const causes = new Map<Handler, Cause[]>();
      let evaluations = 0;
      for (const event of watched) {
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
          if (!applies(h)) continue;
          evaluations++;
          if (!matches(h, detail)) continue;
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
      for (const [h, list] of causes) firings += await this.fireAll(trx, h, list, log);
      await trx
        .deleteFrom('event_outbox')
        .where(
          'id',
          'in',
          events.map((e) => e.id),
        )
        .execute();
      return { events: events.length, firings, evaluations };
    });
    // Event rules are not decided from remembered states: only the claimed runs are kept.
    this.handOver(log);
    return result;
  }

  /**
   * Notes that usage of these IMSIs was recorded, so the next `tick({ traffic: 'changed' })`
   * evaluates their traffic rules (reading their usage) instead of waiting for the next full sweep.
   * Memory only: what a crash loses, the sweep finds.
   */
  noteUsage(operatorId: string, imsis: Iterable<string>): void {
    const set = this.usage.get(operatorId) ?? new Set<string>();
    for (const imsi of imsis) set.add(imsi);
    this.usage.set(operatorId, set);
    for (const listener of this.usageListeners) listener();
  }

  /**
   * What a batch of accounting just committed, per SIM and day (platform.ts wires the accounting
   * writer here): the next `tick({ traffic: 'changed' })` evaluates these SIMs' traffic rules at once
   * instead of at the next full sweep — with usageInMemory from these deltas added to the figures it
   * knows, without a read. Memory only: what a crash loses, the sweep finds.
   */
  noteAccounting(usage: readonly UsageDelta[]): void {
    if (usage.length === 0) return;
    for (const d of usage) {
      let set = this.usageSims.get(d.operatorId);
      if (set === undefined) {
        set = new Set();
        this.usageSims.set(d.operatorId, set);
      }
      set.add(d.simId);
      if (!this.o.usageInMemory) continue;
      const k = this.known.get(d.simId);
      if (k !== undefined && !addDelta(k, d)) this.known.delete(d.simId);
      for (const journal of this.journals) journal.get(d.simId)?.push(d);
    }
    for (const listener of this.usageListeners) listener();
  }

  /** Called whenever usage is noted: the scheduler runs a tick soon rather than at its next second. */
  onUsage(listener: () => void): () => void {
    this.usageListeners.add(listener);
    return () => this.usageListeners.delete(listener);
  }

  /** Whether usage was noted since the last traffic evaluation. */
  get usagePending(): boolean {
    return this.usage.size > 0 || this.usageSims.size > 0;
  }

  /**
   * Fires every active traffic handler for the SIMs (or the total) over its limit; returns the
   * firings. `changed`: only for the SIMs whose usage was noted since the last evaluation (and the
   * totals of their operators).
   */
  async evaluateTraffic(scope: 'all' | 'changed' = 'all'): Promise<number> {
    const counts: EngineCounts = { firings: 0, evaluations: 0, runs: {} };
    await this.traffic(scope, counts);
    return counts.firings;
  }

  /**
   * Per-SIM rules are decided in memory: the usage of the SIMs concerned is known (usageInMemory:
   * a baseline read once per SIM and USAGE_REREAD_MS, plus what accounting handed over since) or read
   * once per operator (today's, this month's and the all-time sum side by side, one statement per
   * chunk), then every handler compares each SIM of its target with its limit. A SIM over a limit by
   * figures from memory is read again from the database before it fires. A SIM whose rule state this
   * process knows fired and not yet re-armed is skipped (`firedUntil`); the rule states of the SIMs
   * over a limit are read before firing, and the conditional upsert stays the guard. The firings of
   * the whole evaluation are written in one transaction.
   */
  private async traffic(scope: 'all' | 'changed', counts: EngineCounts): Promise<void> {
    const noted = new Map(this.usage);
    this.usage.clear();
    const notedSims = new Map(this.usageSims);
    this.usageSims.clear();
    if (scope === 'changed' && noted.size === 0 && notedSims.size === 0) return;
    let q = this.store.db.selectFrom('event_handlers').selectAll().where('status', '=', 'active');
    if (scope === 'changed')
      q = q.where('operator_id', 'in', [...new Set([...noted.keys(), ...notedSims.keys()])]);
    const handlers = this.handlersOf(await q.orderBy('handler_id').execute());
    if (scope === 'all') this.forgetHandlersBut(handlers);
    const byOperator = new Map<string, Handler[]>();
    for (const h of handlers) {
      if (h.family !== 'traffic' && h.family !== 'first-traffic' && h.family !== 'total-traffic') continue;
      const list = byOperator.get(h.row.operator_id);
      if (list === undefined) byOperator.set(h.row.operator_id, [h]);
      else list.push(h);
    }
    const now = this.clock.now();
    const causes = new Map<Handler, Cause[]>();
    const totals: Handler[] = [];
    for (const [operatorId, list] of byOperator) {
      const imsiSims = await this.simsOfImsis(
        operatorId,
        list.filter((h) => h.row.target_kind === 'imsi').map((h) => h.row.target_id),
      );
      const perSim = list.filter((h) => h.family !== 'total-traffic');
      const periods = new Set(perSim.map((h) => periodOf(h.rule.type)));
      // The SIMs' groups only matter to group handlers (per-SIM or total).
      const groups = list.some((h) => h.row.target_kind === 'group');
      let usage: UsageIndex;
      /** SIMs whose figures came from memory: read again before they fire. */
      let unconfirmed: ReadonlySet<string> = new Set();
      if (scope === 'changed') {
        // The noted SIMs (also when only totals watch: they say which targets' totals to sum again).
        const rows: SimUsage[] = [];
        const imsis = [...(noted.get(operatorId) ?? [])];
        if (imsis.length > 0)
          rows.push(...(await this.usageSums(operatorId, 'imsi', imsis, periods, groups, now)));
        const seen = new Set(rows.map((r) => r.simId));
        const sims = [...(notedSims.get(operatorId) ?? [])].filter((simId) => !seen.has(simId));
        if (sims.length > 0 && this.o.usageInMemory) {
          const known = await this.usageFromMemory(operatorId, sims, periods, groups, now);
          rows.push(...known.rows);
          unconfirmed = known.fromMemory;
        } else if (sims.length > 0)
          rows.push(...(await this.usageSums(operatorId, 'sim', sims, periods, groups, now)));
        usage = new UsageIndex(rows);
      } else {
        usage =
          perSim.length > 0 ? await this.usageOf(operatorId, perSim, imsiSims, now) : new UsageIndex([]);
      }
      const decided = new Map<Handler, Cause[]>();
      for (const h of perSim) {
        const found = this.decide(h, usage.of(h, imsiSims), now, counts);
        if (found.length > 0) decided.set(h, found);
      }
      if (unconfirmed.size > 0) await this.confirm(operatorId, decided, unconfirmed, periods, now);
      for (const [h, found] of decided) causes.set(h, found);
      // A target's total is summed again only when one of its SIMs recorded usage (or in a sweep).
      for (const h of list)
        if (h.family === 'total-traffic' && (scope === 'all' || usage.of(h, imsiSims).length > 0))
          totals.push(h);
    }
    counts.firings += await this.fireCauses(causes, now);
    for (const h of totals) counts.firings += await this.evaluateTotal(h, counts);
  }

  /** The SIM of each of these IMSIs (targets of `imsi` handlers). */
  private async simsOfImsis(operatorId: string, imsis: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const unique = [...new Set(imsis)];
    for (let i = 0; i < unique.length; i += LOOKUP_CHUNK) {
      for (const r of await this.store.db
        .selectFrom('sim_profiles')
        .select(['imsi', 'sim_id'])
        .where('operator_id', '=', operatorId)
        .where('imsi', 'in', unique.slice(i, i + LOOKUP_CHUNK))
        .execute())
        out.set(r.imsi, r.sim_id);
    }
    return out;
  }

  /**
   * The usage of these SIMs (or of the SIMs of these IMSIs) of `operatorId` in the periods asked, with
   * their group when asked, in one statement per chunk: per SIM a lookup and a range of its usage rows
   * for each period (0 for a period not asked).
   */
  private async usageSums(
    operatorId: string,
    by: 'imsi' | 'sim',
    keys: readonly string[],
    periods: ReadonlySet<Period>,
    groups: boolean,
    now: number,
  ): Promise<SimUsage[]> {
    const day = periodStart('daily', now);
    const month = periodStart('monthly', now);
    const sum = (period: Period, from: number) =>
      periods.has(period)
        ? sql<number>`(select coalesce(sum(x.upload_bytes + x.download_bytes), 0) from sim_usage x
            where x.sim_id = s.sim_id and x.period = 'day' and x.bucket_start >= ${from})`
        : sql<number>`0`;
    const sums = [
      sum('daily', day).as('daily'),
      sum('monthly', month).as('monthly'),
      sum('cumulative', 0).as('cumulative'),
    ] as const;
    const rows: SimUsage[] = [];
    // A SIM with several noted IMSIs comes once per IMSI.
    const seen = new Set<string>();
    for (let i = 0; i < keys.length; i += LOOKUP_CHUNK) {
      const part = keys.slice(i, i + LOOKUP_CHUNK);
      const found: UsageRowRaw[] =
        by === 'sim'
          ? await this.store.db
              .selectFrom('sims as s')
              .select(['s.sim_id', groups ? 's.group_id' : sql<null>`null`.as('group_id'), ...sums])
              .where('s.operator_id', '=', operatorId)
              .where('s.sim_id', 'in', part)
              .execute()
          : groups
            ? await this.store.db
                .selectFrom('sim_profiles as p')
                .innerJoin('sims as s', 's.sim_id', 'p.sim_id')
                .select(['s.sim_id', 's.group_id', ...sums])
                .where('p.operator_id', '=', operatorId)
                .where('p.imsi', 'in', part)
                .execute()
            : await this.store.db
                .selectFrom('sim_profiles as s')
                .select(['s.sim_id', sql<null>`null`.as('group_id'), ...sums])
                .where('s.operator_id', '=', operatorId)
                .where('s.imsi', 'in', part)
                .execute();
      for (const r of found) {
        if (seen.has(r.sim_id)) continue;
        seen.add(r.sim_id);
        rows.push(simUsageOf(r));
      }
    }
    return rows;
  }

  /**
   * The usage of these SIMs as this process knows it (a baseline read within USAGE_REREAD_MS today
   * for the periods asked, plus the deltas handed over since); the SIMs it does not know are read
   * (and known from then on). Group handlers need the SIMs' groups: those are read every time, as a
   * SIM may move. `fromMemory`: the SIMs whose figures were not read now.
   */
  private async usageFromMemory(
    operatorId: string,
    sims: readonly string[],
    periods: ReadonlySet<Period>,
    groups: boolean,
    now: number,
  ): Promise<{ rows: SimUsage[]; fromMemory: Set<string> }> {
    const day = periodStart('daily', now);
    let rows: SimUsage[] = [];
    const fromMemory = new Set<string>();
    const missing: string[] = [];
    for (const simId of sims) {
      const k = this.known.get(simId);
      if (
        k !== undefined &&
        k.day === day &&
        now >= k.readAt &&
        now - k.readAt < USAGE_REREAD_MS &&
        [...periods].every((p) => k.periods.has(p))
      ) {
        fromMemory.add(simId);
        rows.push({ simId, groupId: null, daily: k.daily, monthly: k.monthly, cumulative: k.cumulative });
      } else missing.push(simId);
    }
    if (groups && rows.length > 0) {
      const groupOf = new Map<string, string | null>();
      for (let i = 0; i < rows.length; i += LOOKUP_CHUNK) {
        for (const s of await this.store.db
          .selectFrom('sims')
          .select(['sim_id', 'group_id'])
          .where(
            'sim_id',
            'in',
            rows.slice(i, i + LOOKUP_CHUNK).map((r) => r.simId),
          )
          .execute())
          groupOf.set(s.sim_id, s.group_id);
      }
      rows = rows.map((r) => ({ ...r, groupId: groupOf.get(r.simId) ?? null }));
    }
    if (missing.length > 0)
      rows.push(...(await this.readBaselines(operatorId, missing, periods, groups, now)));
    return { rows, fromMemory };
  }

  /**
   * Reads the usage of these SIMs and, with usageInMemory, keeps it as their baseline: the deltas
   * handed over while the read runs are added to it (one committed before the read but handed over
   * after its start counts twice — the figures can be high, never low, for this process's usage;
   * a SIM over a limit is read again before it fires). Returns the figures read.
   */
  private async readBaselines(
    operatorId: string,
    sims: readonly string[],
    periods: ReadonlySet<Period>,
    groups: boolean,
    now: number,
  ): Promise<SimUsage[]> {
    const journal = new Map<string, UsageDelta[]>(sims.map((simId) => [simId, []]));
    this.journals.add(journal);
    let rows: SimUsage[];
    try {
      rows = await this.usageSums(operatorId, 'sim', sims, periods, groups, now);
    } finally {
      this.journals.delete(journal);
    }
    if (!this.o.usageInMemory) return rows;
    const day = periodStart('daily', now);
    const month = periodStart('monthly', now);
    const read = new Set(periods);
    if (this.known.size + rows.length > KNOWN_MAX) this.known.clear();
    for (const r of rows) {
      const k: KnownUsage = {
        day,
        month,
        periods: read,
        readAt: now,
        daily: r.daily,
        monthly: r.monthly,
        cumulative: r.cumulative,
      };
      if ((journal.get(r.simId) ?? []).every((d) => addDelta(k, d))) this.known.set(r.simId, k);
      else this.known.delete(r.simId);
    }
    return rows;
  }

  /**
   * The causes decided from figures in memory are decided again from the database (read now, and
   * known from then on): a SIM fires only when its stored usage is over the limit.
   */
  private async confirm(
    operatorId: string,
    decided: Map<Handler, Cause[]>,
    unconfirmed: ReadonlySet<string>,
    periods: ReadonlySet<Period>,
    now: number,
  ): Promise<void> {
    const doubted = new Set<string>();
    for (const found of decided.values())
      for (const c of found) if (c.simId !== null && unconfirmed.has(c.simId)) doubted.add(c.simId);
    if (doubted.size === 0) return;
    const exact = new Map(
      (await this.readBaselines(operatorId, [...doubted], periods, false, now)).map((u) => [u.simId, u]),
    );
    for (const [h, found] of decided) {
      const kept = found.flatMap((c) => {
        if (c.simId === null || !doubted.has(c.simId)) return [c];
        const u = exact.get(c.simId);
        const cause = u === undefined ? undefined : overLimit(u, limitOf(h), now);
        return cause === undefined ? [] : [cause];
      });
      if (kept.length > 0) decided.set(h, kept);
      else decided.delete(h);
    }
  }

  /** Usage per SIM of `operatorId`, for a sweep: every SIM the per-SIM handlers' targets cover. */
  private async usageOf(
    operatorId: string,
    handlers: readonly Handler[],
    imsiSims: ReadonlyMap<string, string>,
    now: number,
  ): Promise<UsageIndex> {
    const periods = new Set(handlers.map((h) => periodOf(h.rule.type)));
    const day = periodStart('daily', now);
    const month = periodStart('monthly', now);
    // Days are stored; months and all time are summed from them.
    const since = periods.has('cumulative') ? 0 : periods.has('monthly') ? month : day;
    const read = async (column?: 'u.sim_id' | 's.group_id', values?: readonly string[]) => {
      let q = this.store.db
        .selectFrom('sim_usage as u')
        .innerJoin('sims as s', 's.sim_id', 'u.sim_id')
        .select([
          'u.sim_id',
          's.group_id',
          sql<number>`sum(case when u.bucket_start >= ${day} then u.upload_bytes + u.download_bytes else 0 end)`.as(
            'daily',
          ),
          sql<number>`sum(case when u.bucket_start >= ${month} then u.upload_bytes + u.download_bytes else 0 end)`.as(
            'monthly',
          ),
          sql<number>`sum(u.upload_bytes + u.download_bytes)`.as('cumulative'),
        ])
        .where('u.operator_id', '=', operatorId)
        .where('u.period', '=', 'day')
        .where('u.bucket_start', '>=', since);
      if (column !== undefined && values !== undefined) q = q.where(column, 'in', values);
      return (await q.groupBy(['u.sim_id', 's.group_id']).execute()) as UsageRowRaw[];
    };
    const rows: UsageRowRaw[] = [];
    if (handlers.some((h) => h.row.target_kind === 'operator')) {
      rows.push(...(await read()));
    } else {
      const groups = [
        ...new Set(handlers.filter((h) => h.row.target_kind === 'group').map((h) => h.row.target_id)),
      ];
      const sims = [
        ...new Set(
          handlers.flatMap((h) =>
            h.row.target_kind === 'sim'
              ? [h.row.target_id]
              : h.row.target_kind === 'imsi' && imsiSims.has(h.row.target_id)
                ? [imsiSims.get(h.row.target_id) as string]
                : [],
          ),
        ),
      ];
      for (let i = 0; i < groups.length; i += LOOKUP_CHUNK) {
        const part = groups.slice(i, i + LOOKUP_CHUNK);
        rows.push(...(await read('s.group_id', part)));
      }
      for (let i = 0; i < sims.length; i += LOOKUP_CHUNK) {
        const part = sims.slice(i, i + LOOKUP_CHUNK);
        rows.push(...(await read('u.sim_id', part)));
      }
    }
    return new UsageIndex(rows.map(simUsageOf));
  }

  /** Compares the usage of each SIM of `h`'s target with its limit; returns the SIMs over it, in id order. */
  private decide(h: Handler, usage: readonly SimUsage[], now: number, counts: EngineCounts): Cause[] {
    const limit = limitOf(h);
    const fired = this.firedUntil.get(h.row.handler_id);
    const list: Cause[] = [];
    for (const u of usage) {
      counts.evaluations++;
      if (fired !== undefined && this.firedNow(fired, stateKey(h, u.simId), now)) continue;
      const cause = overLimit(u, limit, now);
      if (cause !== undefined) list.push(cause);
    }
    return list.sort((a, b) => ((a.simId ?? '') < (b.simId ?? '') ? -1 : 1));
  }

  /**
   * Fires the causes of a traffic evaluation in one transaction: first the rule states of the causes
   * this process does not know are read (fired and not re-armed: remembered and left out), and the
   * ignored SIMs left out; the upsert of fireAll stays the guard. What fired is remembered once
   * committed. Handlers in id order and SIMs in id order, so two instances lock rule states in the
   * same order.
   */
  private async fireCauses(causes: Map<Handler, Cause[]>, now: number): Promise<number> {
    if (causes.size === 0) return 0;
    const db = this.store.db;
    const armed = new Map<Handler, Cause[]>();
    for (const [h, list] of causes) {
      const handlerId = h.row.handler_id;
      const keys = [...new Set(list.map((c) => stateKey(h, c.simId)))];
      const notArmed = new Set<string>();
      const ignored = new Set<string>();
      const simIds = [...new Set(list.flatMap((c) => (c.simId === null ? [] : [c.simId])))];
      // The two reads side by side (one round trip of wait instead of two).
      await Promise.all([
        (async () => {
          for (let i = 0; i < keys.length; i += LOOKUP_CHUNK) {
            for (const s of await db
              .selectFrom('event_rule_states')
              .select(['target_key', 'rearm_at'])
              .where('handler_id', '=', handlerId)
              .where('target_key', 'in', keys.slice(i, i + LOOKUP_CHUNK))
              .execute()) {
              const rearmAt = s.rearm_at === null ? Number.POSITIVE_INFINITY : Number(s.rearm_at);
              if (rearmAt > now) {
                notArmed.add(s.target_key);
                this.remember(handlerId, s.target_key, rearmAt);
              }
            }
          }
        })(),
        (async () => {
          for (let i = 0; i < simIds.length; i += LOOKUP_CHUNK) {
            for (const r of await db
              .selectFrom('event_handler_ignores')
              .select('sim_id')
              .where('handler_id', '=', handlerId)
              .where('sim_id', 'in', simIds.slice(i, i + LOOKUP_CHUNK))
              .execute())
              ignored.add(r.sim_id);
          }
        })(),
      ]);
      const kept = list.filter(
        (c) => !notArmed.has(stateKey(h, c.simId)) && (c.simId === null || !ignored.has(c.simId)),
      );
      if (kept.length > 0) armed.set(h, kept);
    }
    if (armed.size === 0) return 0;
    const log = this.fireLog();
    const firings = await this.fireTogether(armed, log);
    this.committed(log);
    return firings;
  }

  /**
   * Fires these handlers' causes in one transaction. On PostgreSQL, when that is a single statement
   * (one handler, one wave, one chunk: fireWavePg), the statement is atomic by itself and goes alone,
   * without BEGIN and COMMIT around it: two round trips less on the way from a crossing to its action.
   */
  private fireTogether(armed: ReadonlyMap<Handler, readonly Cause[]>, log: FireLog): Promise<number> {
    const fire = async (db: Executor) => {
      let n = 0;
      for (const [h, list] of armed) n += await this.fireAll(db, h, list, log);
      return n;
    };
    const [only] = armed;
    const single =
      this.store.dialect === 'postgres' &&
      armed.size === 1 &&
      only !== undefined &&
      only[1].length <= FIRE_CHUNK_PG &&
      new Set(only[1].map((c) => stateKey(only[0], c.simId))).size === only[1].length;
    return single ? fire(this.store.db) : this.store.transaction(fire);
  }

  /** A total-traffic handler: the sum over its whole target, fired once per arming ('*'). */
  private async evaluateTotal(h: Handler, counts: EngineCounts): Promise<number> {
    const now = this.clock.now();
    const handlerId = h.row.handler_id;
    const fired = this.firedUntil.get(handlerId);
    counts.evaluations++;
    if (fired !== undefined && this.firedNow(fired, '*', now)) return 0;
    const state = await this.store.db
      .selectFrom('event_rule_states')
      .select('rearm_at')
      .where('handler_id', '=', handlerId)
      .where('target_key', '=', '*')
      .executeTakeFirst();
    if (state !== undefined) {
      const rearmAt = state.rearm_at === null ? Number.POSITIVE_INFINITY : Number(state.rearm_at);
      if (rearmAt > now) {
        this.remember(handlerId, '*', rearmAt);
        return 0;
      }
    }
    const since = periodStart(periodOf(h.rule.type), now);
    const limitBytes = Number(h.rule.properties.limitTotalTrafficMegaByte) * MIB;
    const { operator_id: operatorId, target_kind: kind, target_id: targetId } = h.row;
    let usage = this.store.db
      .selectFrom('sim_usage')
      .select(sql<number>`sum(upload_bytes + download_bytes)`.as('bytes'))
      .where('sim_usage.operator_id', '=', operatorId)
      .where('sim_usage.period', '=', 'day')
      .where('sim_usage.bucket_start', '>=', since);
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
    const total = Number((await usage.executeTakeFirst())?.bytes ?? 0);
    if (total <= limitBytes) return 0;
    const log = this.fireLog();
    const n = await this.fireTogether(
      new Map([[h, [{ simId: null, firingKey: `traffic:*:${now}`, detail: { usageBytes: total, since } }]]]),
      log,
    );
    this.committed(log);
    return n;
  }

  /** Whether `key`'s rule state is known fired and not yet re-armed at `now` (an expired entry goes). */
  private firedNow(fired: Map<string, number>, key: string, now: number): boolean {
    const until = fired.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    fired.delete(key);
    this.remembered--;
    return false;
  }

  /** Remembers that a rule state is fired until `until` (Infinity: never re-armed). */
  private remember(handlerId: string, key: string, until: number): void {
    if (this.remembered >= REMEMBERED_MAX) {
      // Memory is bounded; forgetting only costs a read of the rule states again.
      this.firedUntil.clear();
      this.remembered = 0;
    }
    let fired = this.firedUntil.get(handlerId);
    if (fired === undefined) {
      fired = new Map();
      this.firedUntil.set(handlerId, fired);
    }
    if (!fired.has(key)) this.remembered++;
    fired.set(key, until);
  }

  /** Forgets the rule states of handlers no longer active (deleted, or their states reset). */
  private forgetHandlersBut(active: readonly Handler[]): void {
    const keep = new Set(active.map((h) => h.row.handler_id));
    for (const [handlerId, fired] of this.firedUntil) {
      if (keep.has(handlerId)) continue;
      this.remembered -= fired.size;
      this.firedUntil.delete(handlerId);
    }
  }

  /**
   * Fires `h` for each cause whose rule state is armed, a few statements for the whole list: the
   * conditional upsert of the rule states is the guard (a concurrent evaluator waits on the rows and
   * then finds them not armed), then the firings and their action runs are inserted as multi-row
   * statements. Causes that share a rule state key (one SIM's events in order, or every SIM of a
   * runOnceAmongTarget handler) are taken in waves, in order, as one statement cannot upsert a row
   * twice. Returns how many fired.
   */
  private async fireAll(trx: Executor, h: Handler, causes: readonly Cause[], log: FireLog): Promise<number> {
    let count = 0;
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
      // SQLite binds each value (at most 32,766 a statement); PostgreSQL takes arrays.
      const chunk = this.store.dialect === 'postgres' ? FIRE_CHUNK_PG : FIRE_CHUNK;
      for (let i = 0; i < wave.length; i += chunk)
        count += await this.fireWave(trx, h, wave.slice(i, i + chunk), log);
      rest = later;
    }
    return count;
  }

  /** Fires `h` for causes with distinct rule state keys (see fireAll). */
  private async fireWave(trx: Executor, h: Handler, causes: readonly Cause[], log: FireLog): Promise<number> {
    if (this.store.dialect === 'postgres') return this.fireWavePg(trx, h, causes, log);
    const now = this.clock.now();
    const handlerId = h.row.handler_id;
    const rearmAt = this.rearmAt(h, now);
    const keys = causes.map((c) => stateKey(h, c.simId));
    const armed = new Set(
      (
        await trx
          .insertInto('event_rule_states')
          .values(
            keys.map((key) => ({ handler_id: handlerId, target_key: key, fired_at: now, rearm_at: rearmAt })),
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
    for (const key of armed)
      log.states.push({ handlerId, key, rearmAt: rearmAt ?? Number.POSITIVE_INFINITY });
    const firing = causes.filter((c) => armed.has(stateKey(h, c.simId)));
    if (firing.length === 0) return 0;
    const newFirings = firing.map((c) => ({
      operator_id: h.row.operator_id,
      handler_id: handlerId,
      sim_id: c.simId,
      firing_key: c.firingKey,
      rule_type: h.rule.type,
      detail: JSON.stringify(c.detail),
      at: now,
    }));
    const inserted = await trx
      .insertInto('event_firings')
      .values(newFirings)
      .onConflict((oc) => oc.columns(['handler_id', 'firing_key']).doNothing())
      .returning(['id', 'sim_id'])
      .execute();
    if (inserted.length === 0) return 0;
    const runAts = this.runAts(h, now);
    // Runs due now, while a tick runs, are inserted claimed by this process — attempt 1, its lease
    // from now — and executed by the tick once this transaction committed: no claim for them. Another
    // instance sees them running and leaves them alone until the lease ends (a crash before they ran
    // leaves them to be taken over then, as a crash while running does). At most one claim's worth
    // (actionBatch) per firing transaction: the rest of a mass firing is left pending, so that other
    // instances share its backlog as before.
    let claimable = this.claimable(log);
    const claim = (runAt: number | null) => {
      if (runAt === null || runAt > now) return false;
      if (claimable === 0) {
        log.duePending = true;
        return false;
      }
      claimable--;
      return true;
    };
    const claimedUntil = now + this.o.leaseMs;
    const runs = inserted.flatMap(({ id, sim_id: simId }) =>
      h.actions.map((a, i) => {
        const runAt = runAts[i] ?? null;
        const claimed = claim(runAt);
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
          status: runAt === null ? 'skipped' : claimed ? 'running' : 'pending',
          run_at: runAt ?? now,
          attempts: claimed ? 1 : 0,
          claimed_until: claimed ? claimedUntil : null,
          result: runAt === null ? SKIPPED_RESULT : null,
          created_at: now,
          updated_at: now,
        };
      }),
    );
    // The claimed runs come back with what executing them needs, as a claim returns it: their SIM's
    // IMSI (primary first, then the lowest), in the inserting statement.
    const ids = await trx
      .insertInto('event_action_runs')
      .values(runs)
      .returning(['id', 'idempotency_key', sql<string | null>`${CLAIMED_RUN_IMSI}`.as('sim_imsi')])
      .execute();
    if (log.runs !== undefined) {
      const returned = new Map(ids.map((r) => [r.idempotency_key, r]));
      // A wave has one cause per rule state key, so one firing per SIM.
      const detailOf = new Map(newFirings.map((f) => [f.sim_id, f.detail]));
      for (const r of runs) {
        if (r.status !== 'running') continue;
        const back = returned.get(r.idempotency_key);
        log.runs.push({
          ...r,
          id: Number(back?.id),
          firing_rule_type: h.rule.type,
          firing_detail: detailOf.get(r.sim_id) ?? '{}',
          firing_at: now,
          sim_imsi: back?.sim_imsi ?? null,
        });
      }
    }
    return inserted.length;
  }

  /**
   * fireWave on PostgreSQL: one statement (data-modifying WITH) upserts the rule states, inserts the
   * firings of those armed and their action runs, and returns what the log needs — one round trip
   * instead of three (and with no other statement around it, no BEGIN and COMMIT either: see
   * fireCauses). Same rules as the SQLite path: the conditional upsert is the guard, the firing is
   * unique per handler and cause, the idempotency key `handler:sim:firing:action`, and at most
   * `claimable` runs due now are inserted claimed by this process, in firing and action order.
   */
  private async fireWavePg(
    db: Executor,
    h: Handler,
    causes: readonly Cause[],
    log: FireLog,
  ): Promise<number> {
    const now = this.clock.now();
    const handlerId = h.row.handler_id;
    const rearmAt = this.rearmAt(h, now);
    const runAts = this.runAts(h, now);
    const claimable = this.claimable(log);
    const details = causes.map((c) => JSON.stringify(c.detail));
    const result = await sql<{
      armed: string[] | null;
      fired: number | string;
      due_pending: boolean;
      claimed: Array<{
        id: number;
        firing_id: number;
        sim_id: string | null;
        action_index: number;
        idempotency_key: string;
        run_at: number;
        claimed_until: number;
        sim_imsi: string | null;
      }> | null;
    }>`
      with cause as (
        select * from unnest(cast(${causes.map((c) => stateKey(h, c.simId))} as text[]),
          cast(${causes.map((c) => c.simId)} as text[]), cast(${causes.map((c) => c.firingKey)} as text[]),
          cast(${details} as text[])) with ordinality as c(state_key, sim_id, firing_key, detail, n)
      ),
      armed as (
        insert into event_rule_states (handler_id, target_key, fired_at, rearm_at)
        select ${handlerId}, c.state_key, ${now}, cast(${rearmAt} as bigint) from cause c order by c.n
        on conflict (handler_id, target_key) do update set fired_at = excluded.fired_at, rearm_at = excluded.rearm_at
          where event_rule_states.rearm_at is not null and event_rule_states.rearm_at <= ${now}
        returning target_key
      ),
      fired as (
        insert into event_firings (operator_id, handler_id, sim_id, firing_key, rule_type, detail, at)
        select ${h.row.operator_id}, ${handlerId}, c.sim_id, c.firing_key, ${h.rule.type}, c.detail, ${now}
        from cause c where c.state_key in (select target_key from armed) order by c.n
        on conflict (handler_id, firing_key) do nothing
        returning id, sim_id
      ),
      planned as (
        select f.id as firing_id, f.sim_id, cast(a.n - 1 as integer) as action_index, a.action_type, a.action,
          a.run_at, a.run_at <= ${now} as due,
          sum(case when a.run_at <= ${now} then 1 else 0 end)
            over (order by f.id, a.n rows unbounded preceding) as due_rank
        from fired f cross join unnest(cast(${h.actions.map((a) => a.type)} as text[]),
          cast(${h.actions.map((a) => JSON.stringify(a))} as text[]), cast(${runAts} as bigint[]))
          with ordinality as a(action_type, action, run_at, n)
      ),
      runs as (
        insert into event_action_runs (operator_id, handler_id, firing_id, sim_id, action_index, action_type, action,
          idempotency_key, status, run_at, attempts, claimed_until, result, created_at, updated_at)
        select ${h.row.operator_id}, ${handlerId}, r.firing_id, r.sim_id, r.action_index, r.action_type, r.action,
          cast(${handlerId} as text) || ':' || coalesce(r.sim_id, '*') || ':' || r.firing_id || ':' || r.action_index,
          case when r.run_at is null then 'skipped' when r.due and r.due_rank <= ${claimable} then 'running'
            else 'pending' end,
          coalesce(r.run_at, ${now}),
          case when r.due and r.due_rank <= ${claimable} then 1 else 0 end,
          case when r.due and r.due_rank <= ${claimable} then cast(${now + this.o.leaseMs} as bigint) end,
          case when r.run_at is null then cast(${SKIPPED_RESULT} as text) end,
          ${now}, ${now}
        from planned r order by r.firing_id, r.action_index
        returning id, firing_id, sim_id, action_index, idempotency_key, status, run_at, claimed_until,
          ${CLAIMED_RUN_IMSI} as sim_imsi
      )
      select (select array_agg(target_key) from armed) as armed, (select count(*) from fired) as fired,
        exists (select 1 from runs where status = 'pending' and run_at <= ${now}) as due_pending,
        (select json_agg(runs order by id) from runs where status = 'running') as claimed`.execute(db);
    const row = result.rows[0];
    for (const key of row?.armed ?? [])
      log.states.push({ handlerId, key, rearmAt: rearmAt ?? Number.POSITIVE_INFINITY });
    if (row?.due_pending) log.duePending = true;
    if (log.runs !== undefined) {
      // A wave has one cause per rule state key, so one firing per SIM.
      const detailOf = new Map(causes.map((c, i) => [c.simId, details[i] as string]));
      for (const r of row?.claimed ?? []) {
        const action = h.actions[r.action_index] as ActionConfig;
        log.runs.push({
          id: Number(r.id),
          operator_id: h.row.operator_id,
          handler_id: handlerId,
          firing_id: Number(r.firing_id),
          sim_id: r.sim_id,
          action_index: r.action_index,
          action_type: action.type,
          action: JSON.stringify(action),
          idempotency_key: r.idempotency_key,
          status: 'running',
          run_at: Number(r.run_at),
          attempts: 1,
          claimed_until: Number(r.claimed_until),
          result: null,
          created_at: now,
          updated_at: now,
          firing_rule_type: h.rule.type,
          firing_detail: detailOf.get(r.sim_id) ?? '{}',
          firing_at: now,
          sim_imsi: r.sim_imsi,
        });
      }
    }
    return Number(row?.fired ?? 0);
  }

  /** When a rule `h` fires now is armed again (null: never). */
  private rearmAt(h: Handler, now: number): number | null {
    const p = h.rule.properties;
    return scheduledTime(
      p.inactiveTimeoutDateConst as never,
      Number(p.inactiveTimeoutOffsetMinutes ?? 0),
      now,
    );
  }

  /** When each action of `h` fired now runs (null: never, NEVER). */
  private runAts(h: Handler, now: number): Array<number | null> {
    return h.actions.map((a) =>
      scheduledTime(
        a.properties.executionDateTimeConst as never,
        Number(a.properties.executionOffsetMinutes ?? 0),
        now,
      ),
    );
  }

  /** Runs due now a firing may still insert claimed: up to a claim's worth per firing transaction, while a tick runs. */
  private claimable(log: FireLog): number {
    return log.runs === undefined ? 0 : Math.max(0, this.o.actionBatch - log.runs.length);
  }

  /**
   * Runs the due actions until none is left; returns the count per outcome (`onOutcome` hears each as
   * it is known). The runs this process fired due at once were inserted claimed and go first — also
   * those an evaluation beside it fires while it runs; the others are claimed a batch at a time (with
   * their firing and the SIM's IMSI, in the claiming statement) and the next batch is claimed while
   * the last runs of one execute, so a backlog drains without a pause between batches. Runs execute
   * `outboundConcurrency` at a time, of which at most `concurrency` change the platform's state.
   * Outcomes are recorded as runs finish, group-committed: a crash before a record leaves its runs
   * claimed, taken over after their lease (the executors are idempotent by the state they set, or
   * send the idempotency key).
   */
  async runDueActions(o: { onOutcome?: (status: string) => void } = {}): Promise<Record<string, number>> {
    const outcomes: Record<string, number> = {};
    let failure: unknown;
    // Those that finish while a record is being written go together in the next one. So a finished
    // run is recorded at once (a crash does not run it again) even while a slow web hook still waits.
    let unrecorded: RunRecord[] = [];
    let recording: Promise<void> | undefined;
    const flush = (): Promise<void> => {
      recording ??= (async () => {
        // The runs finishing in this turn of the event loop join the record.
        await new Promise((resolve) => setImmediate(resolve));
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
    const queue: ClaimedRun[] = [];
    // Whether the last claim came back full (more may be due).
    let more = true;
    let claiming: Promise<void> | undefined;
    const workers = Math.max(this.o.concurrency, this.o.outboundConcurrency);
    // Runs that change the platform's state (the database, a CoA) take one of `concurrency` slots.
    let local = 0;
    const slotFreed: Array<() => void> = [];
    const active = new Set<Promise<void>>();
    // Runs are independent (each its own SIM or request): many at a time, so one slow web hook does
    // not hold up the rest. A worker takes one run at a time and ends when none is left; `spawn`
    // starts one per queued run (up to `workers`) — also when runs are fired here while this drain
    // goes on (an evaluation beside it), so they never wait for a slow run of this drain to end.
    const spawn = (): void => {
      // The runs this process fired and inserted claimed (before those a claim finds), and whether
      // it fired runs due now that it left pending: a claim is worth trying again.
      if (this.claimedHere.length > 0) queue.push(...this.claimedHere.splice(0));
      if (this.duePending) {
        this.duePending = false;
        more = true;
      }
      // The next batch is claimed while the last runs of one start.
      if (more && claiming === undefined && queue.length <= workers) claimNext();
      while (active.size < workers && queue.length > 0) {
        const row = queue.shift() as ClaimedRun;
        const w: Promise<void> = worker(row).finally(() => {
          active.delete(w);
          spawn();
        });
        active.add(w);
      }
    };
    const claimNext = (): void => {
      const size = this.claimSize();
      claiming = this.claim(this.clock.now(), size)
        .then(
          (rows) => {
            queue.push(...rows);
            if (rows.length < size) more = false;
          },
          (e: unknown) => {
            failure ??= e;
            more = false;
          },
        )
        .finally(() => {
          claiming = undefined;
          spawn();
        });
    };
    const worker = async (row: ClaimedRun): Promise<void> => {
      const outbound = OUTBOUND_ACTIONS.has(row.action_type as ActionType);
      if (!outbound) {
        while (local >= this.o.concurrency) await new Promise<void>((r) => slotFreed.push(r));
        local++;
      }
      try {
        // A run that waited here until its lease nearly ended is not started: another worker may
        // take it over at any moment; it stays claimed until then (by us again, or another).
        if (row.claimed_until !== null && this.clock.now() > Number(row.claimed_until) - this.o.leaseMs / 4)
          return;
        const started = performance.now();
        const record = await this.execute(row);
        const ms = performance.now() - started;
        this.runMs = this.runMs === undefined ? ms : this.runMs * 0.9 + ms * 0.1;
        unrecorded.push(record);
        void flush();
        outcomes[record.status] = (outcomes[record.status] ?? 0) + 1;
        o.onOutcome?.(record.status);
      } finally {
        if (!outbound) {
          local--;
          slotFreed.shift()?.();
        }
      }
    };
    this.drains.add(spawn);
    try {
      spawn();
      // Until no run is left to start or running, and no claim is on its way.
      while (active.size > 0 || claiming !== undefined) await Promise.all([...active, claiming]);
    } finally {
      this.drains.delete(spawn);
    }
    // The last records (a flush that was ending when they came, then theirs); a failure surfaces here.
    await recording;
    await flush();
    if (failure !== undefined) throw failure;
    return outcomes;
  }

  /**
   * Runs claimed at once: `actionBatch`, or more (up to 5 times) when runs finish fast enough here
   * that all of a batch surely start within a quarter of their lease — fewer claims for a backlog of
   * quick actions, while a batch of slow web requests never waits in the queue past its lease.
   */
  private claimSize(): number {
    if (this.runMs === undefined) return this.o.actionBatch;
    const startable = Math.floor(((this.o.leaseMs / 4) * this.o.concurrency) / Math.max(this.runMs, 1));
    return Math.max(this.o.actionBatch, Math.min(startable, this.o.actionBatch * 5));
  }

  /** Claims a batch of due runs (or runs whose lease ended), with what executing them needs. */
  private async claim(now: number, size: number): Promise<ClaimedRun[]> {
    const lock = this.store.dialect === 'postgres' ? sql`for update skip locked` : sql``;
    const result = await sql<ClaimedRun>`
      update event_action_runs
      set status = 'running', claimed_until = ${now + this.o.leaseMs}, attempts = attempts + 1, updated_at = ${now}
      where id in (
        select id from event_action_runs
        where (status = 'pending' and run_at <= ${now}) or (status = 'running' and claimed_until < ${now})
        order by run_at, id
        limit ${size}
        ${lock}
      )
      returning *,
        (select f.rule_type from event_firings f where f.id = event_action_runs.firing_id) as firing_rule_type,
        (select f.detail from event_firings f where f.id = event_action_runs.firing_id) as firing_detail,
        (select f.at from event_firings f where f.id = event_action_runs.firing_id) as firing_at,
        (select p.imsi from sim_profiles p where p.sim_id = event_action_runs.sim_id
          order by p.is_primary desc, p.imsi limit 1) as sim_imsi`.execute(this.store.db);
    return result.rows
      .map((r) => ({ ...r, id: Number(r.id), firing_id: Number(r.firing_id), run_at: Number(r.run_at) }))
      .sort((a, b) => a.run_at - b.run_at || a.id - b.id);
  }

  private async execute(row: ClaimedRun): Promise<RunRecord> {
    const action = JSON.parse(row.action) as ActionConfig;
    const detail =
      row.firing_detail === null ? {} : (JSON.parse(row.firing_detail) as Record<string, unknown>);
    const variables: Record<string, string> = {
      handlerId: row.handler_id,
      ruleType: row.firing_rule_type ?? '',
    };
    if (row.sim_id !== null) {
      variables.simId = row.sim_id;
      const imsi = typeof detail.imsi === 'string' ? detail.imsi : row.sim_imsi;
      if (imsi !== null) variables.imsi = imsi;
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
      firing: { ruleType: row.firing_rule_type ?? '', detail, at: Number(row.firing_at ?? 0) },
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
    if (this.store.dialect === 'postgres') {
      await sql`
        update event_action_runs
        set status = outcome.status, run_at = outcome.run_at, claimed_until = null, result = outcome.result,
          updated_at = ${now}
        from unnest(cast(${records.map((r) => r.id)} as bigint[]), cast(${records.map((r) => r.attempts)} as integer[]),
          cast(${records.map((r) => r.status)} as text[]), cast(${records.map((r) => r.runAt)} as bigint[]),
          cast(${records.map((r) => r.result)} as text[])) as outcome(id, attempts, status, run_at, result)
        where event_action_runs.id = outcome.id and event_action_runs.status = 'running'
          and event_action_runs.attempts = outcome.attempts`.execute(this.store.db);
      return;
    }
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
