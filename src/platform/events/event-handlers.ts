// Event handlers as a resource, in SORACOM's shapes (tag EventHandler): create, read, replace and
// delete a handler, list them by target kind or for one subscriber or SIM, and exempt a SIM from a
// handler (ignore). Rule and action configurations are checked against the tables in rules.ts.
// Every change is audited in its transaction. The web request action's `headers` and
// `signingSecret` are sealed with the key ring at rest and never shown back: answers mask the header
// values and the secret as ********, and a PUT that sends the masked text back keeps the stored value.

import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { AuditContext } from '../iam/principal.js';
import type { KeyRing } from '../secrets/key-ring.js';
import type { Page } from '../sims/sim-service.js';
import type { Executor, Store } from '../store/database.js';
import type { EventHandlersTable } from '../store/schema.js';
import { isLocalName, type OutboundPolicy } from './outbound-policy.js';
import {
  type ActionConfig,
  checkHandlerConfig,
  MAX_HANDLERS_PER_TARGET,
  type RuleConfig,
  type TargetKind,
} from './rules.js';
import type { HandlerStatus } from './vocabulary.js';

// Declared with the rule and action types in the vocabulary the console shares.
export { HANDLER_STATUSES, type HandlerStatus } from './vocabulary.js';

export interface EventHandlerInput {
  readonly name: string;
  readonly description?: string | undefined;
  readonly status: HandlerStatus;
  readonly targetImsi?: string | undefined;
  readonly targetSimId?: string | undefined;
  readonly targetGroupId?: string | undefined;
  readonly targetOperatorId?: string | undefined;
  readonly ruleConfig: { readonly type: string; readonly properties: Readonly<Record<string, string>> };
  readonly actionConfigList: ReadonlyArray<{
    readonly type: string;
    readonly properties: Readonly<Record<string, string>>;
  }>;
}

/** Action run states an operator may set back to pending (retryAction): the dead letters. */
export const RETRYABLE_RUNS = ['dead', 'failed'] as const;

/** One action run of an execution, as the executions listing shows it. */
export interface ActionRunView {
  readonly actionIndex: number;
  readonly type: string;
  readonly status: string;
  readonly scheduledTime: number;
  readonly attempts: number;
  readonly result: Record<string, unknown> | null;
  readonly updatedTime: number;
}

/** SORACOM's EventHandlerModel: exactly one target field is present. */
export interface EventHandlerView {
  readonly handlerId: string;
  readonly name: string;
  readonly description: string;
  readonly status: HandlerStatus;
  readonly targetImsi?: string;
  readonly targetSimId?: string;
  readonly targetGroupId?: string;
  readonly targetOperatorId?: string;
  readonly ruleConfig: RuleConfig;
  readonly actionConfigList: readonly ActionConfig[];
}

const TARGET_FIELDS = {
  targetOperatorId: 'operator',
  targetImsi: 'imsi',
  targetSimId: 'sim',
  targetGroupId: 'group',
} as const satisfies Record<string, TargetKind>;

const FIELD_OF: Record<TargetKind, keyof typeof TARGET_FIELDS> = {
  operator: 'targetOperatorId',
  imsi: 'targetImsi',
  sim: 'targetSimId',
  group: 'targetGroupId',
};

/** What an answer shows for a secret. */
export const MASK = '********';
const SEALED = 'sealed:';
const WEB = 'ExecuteWebRequestAction';

/** The header names with their values masked (the names help the operator; the values are secrets). */
const maskHeaders = (headers: string) =>
  JSON.stringify(Object.fromEntries(Object.keys(JSON.parse(headers) as object).map((k) => [k, MASK])));

export function toHandlerView(
  row: EventHandlersTable,
  unseal: (v: string) => string = (v) => v,
): EventHandlerView {
  const actions = (JSON.parse(row.action_config_list) as ActionConfig[]).map((a) => {
    if (a.type !== WEB) return a;
    const properties: Record<string, string> = { ...a.properties };
    if (properties.headers !== undefined) properties.headers = maskHeaders(unseal(properties.headers));
    if (properties.signingSecret !== undefined) properties.signingSecret = MASK;
    return { type: a.type, properties };
  });
  return {
    handlerId: row.handler_id,
    name: row.name,
    description: row.description,
    status: row.status as HandlerStatus,
    [FIELD_OF[row.target_kind as TargetKind]]: row.target_id,
    ruleConfig: JSON.parse(row.rule_config) as RuleConfig,
    actionConfigList: actions,
  };
}

/** The one target of a body: exactly one of the four target fields. */
export function targetOf(input: EventHandlerInput): { kind: TargetKind; id: string } {
  const given = (Object.keys(TARGET_FIELDS) as Array<keyof typeof TARGET_FIELDS>).filter(
    (f) => input[f] !== undefined,
  );
  if (given.length !== 1) {
    throw new SimtrustError(
      'ERR_VALIDATION',
      `give exactly one target: targetImsi, targetSimId, targetGroupId or targetOperatorId (got ${given.length === 0 ? 'none' : given.join(', ')})`,
    );
  }
  const field = given[0] as keyof typeof TARGET_FIELDS;
  return { kind: TARGET_FIELDS[field], id: input[field] as string };
}

export class EventHandlerService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly keyRing: KeyRing,
    private readonly outbound: OutboundPolicy,
  ) {}

  /** Opens a sealed property (the engine's web request executor uses it). */
  unseal(value: string, handlerId: string): string {
    return value.startsWith(SEALED)
      ? this.keyRing.open(value.slice(SEALED.length), `event-handler:${handlerId}`).toString('utf8')
      : value;
  }

  private view(row: EventHandlersTable): EventHandlerView {
    return toHandlerView(row, (v) => this.unseal(v, row.handler_id));
  }

  /** Checks the configuration, refuses web requests to forbidden hosts, and seals the secrets. */
  private prepare(
    handlerId: string,
    target: { kind: TargetKind },
    input: EventHandlerInput,
    actions: EventHandlerInput['actionConfigList'],
  ) {
    const config = checkHandlerConfig(target.kind, input.ruleConfig, actions);
    const sealed = config.actions.map((a, i) => {
      if (a.type !== WEB) return a;
      const host = new URL(a.properties.url as string).hostname.replace(/^\[|\]$/g, '');
      const refusal = isLocalName(host)
        ? `${host} names this machine`
        : isIP(host) !== 0
          ? this.outbound.refusal(host)
          : undefined;
      if (refusal !== undefined) {
        throw new SimtrustError(
          'ERR_EVENT_WEB_REQUEST_FORBIDDEN',
          `actionConfigList[${i}].properties.url: ${refusal}; web requests may not reach it (allow its network in eventWebRequestAllowedNetworks if intended)`,
        );
      }
      const properties: Record<string, string> = { ...a.properties };
      for (const name of ['headers', 'signingSecret']) {
        const v = properties[name];
        if (v !== undefined) {
          properties[name] = SEALED + this.keyRing.seal(Buffer.from(v, 'utf8'), `event-handler:${handlerId}`);
        }
      }
      return { type: a.type, properties };
    });
    return { rule: config.rule, actions: sealed };
  }

  /** A PUT that sends back the masked headers or secret keeps what is stored for that action. */
  private keepSecrets(
    handlerId: string,
    stored: readonly ActionConfig[],
    actions: EventHandlerInput['actionConfigList'],
  ): EventHandlerInput['actionConfigList'] {
    return actions.map((a, i) => {
      const old = stored[i];
      if (a.type !== WEB || old?.type !== WEB) return a;
      const properties: Record<string, string> = { ...a.properties };
      const oldHeaders = old.properties.headers;
      if (oldHeaders !== undefined && properties.headers !== undefined) {
        const plain = this.unseal(oldHeaders, handlerId);
        if (properties.headers === maskHeaders(plain)) properties.headers = plain;
      }
      const oldSecret = old.properties.signingSecret;
      if (oldSecret !== undefined && properties.signingSecret === MASK) {
        properties.signingSecret = this.unseal(oldSecret, handlerId);
      }
      return { type: a.type, properties };
    });
  }

  async create(ctx: AuditContext, input: EventHandlerInput): Promise<EventHandlerView> {
    const target = targetOf(input);
    const handlerId = randomUUID();
    const config = this.prepare(handlerId, target, input, input.actionConfigList);
    const operatorId = ctx.principal.operatorId;
    return this.store.transaction(async (trx) => {
      await this.lockTarget(trx, operatorId, target);
      await this.checkLimit(trx, operatorId, target, undefined);
      const now = this.clock.now();
      await trx
        .insertInto('event_handlers')
        .values({
          handler_id: handlerId,
          operator_id: operatorId,
          ...this.columns(input, target, config),
          created_at: now,
          updated_at: now,
        })
        .execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { handlerId, target, ruleType: config.rule.type },
        at: now,
      });
      return this.get(operatorId, handlerId, trx);
    });
  }

  async update(ctx: AuditContext, handlerId: string, input: EventHandlerInput): Promise<EventHandlerView> {
    const target = targetOf(input);
    const operatorId = ctx.principal.operatorId;
    return this.store.transaction(async (trx) => {
      const stored = await this.row(trx, operatorId, handlerId);
      const kept = this.keepSecrets(
        handlerId,
        JSON.parse(stored.action_config_list) as ActionConfig[],
        input.actionConfigList,
      );
      const config = this.prepare(handlerId, target, input, kept);
      await this.lockTarget(trx, operatorId, target);
      await this.checkLimit(trx, operatorId, target, handlerId);
      const now = this.clock.now();
      await trx
        .updateTable('event_handlers')
        .set({ ...this.columns(input, target, config), updated_at: now })
        .where('handler_id', '=', handlerId)
        .where('operator_id', '=', operatorId)
        .execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { handlerId, target, ruleType: config.rule.type },
        at: now,
      });
      return this.get(operatorId, handlerId, trx);
    });
  }

  async delete(ctx: AuditContext, handlerId: string): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    await this.store.transaction(async (trx) => {
      await this.get(operatorId, handlerId, trx);
      const now = this.clock.now();
      await trx.deleteFrom('event_handler_ignores').where('handler_id', '=', handlerId).execute();
      await trx.deleteFrom('event_rule_states').where('handler_id', '=', handlerId).execute();
      // Runs not yet started will not start; the history of past runs stays.
      await trx
        .updateTable('event_action_runs')
        .set({ status: 'cancelled', updated_at: now, result: JSON.stringify({ reason: 'handler deleted' }) })
        .where('handler_id', '=', handlerId)
        .where('status', '=', 'pending')
        .execute();
      await trx.deleteFrom('event_handlers').where('handler_id', '=', handlerId).execute();
      await writeAudit(trx, { context: ctx, result: 'success', detail: { handlerId }, at: now });
    });
  }

  async get(operatorId: string, handlerId: string, db: Executor = this.store.db): Promise<EventHandlerView> {
    return this.view(await this.row(db, operatorId, handlerId));
  }

  private async row(db: Executor, operatorId: string, handlerId: string): Promise<EventHandlersTable> {
    const row = await db
      .selectFrom('event_handlers')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('handler_id', '=', handlerId)
      .executeTakeFirst();
    if (!row) throw new SimtrustError('ERR_EVENT_HANDLER_NOT_FOUND', `no event handler ${handlerId}`);
    return row;
  }

  /** The operator's handlers, optionally of one target kind, in handler id order (keyset pages). */
  async list(
    operatorId: string,
    filter: { target?: TargetKind | undefined },
    page: { limit: number; after?: string | undefined },
  ): Promise<Page<EventHandlerView>> {
    let q = this.store.db.selectFrom('event_handlers').selectAll().where('operator_id', '=', operatorId);
    if (filter.target !== undefined) q = q.where('target_kind', '=', filter.target);
    if (page.after !== undefined) q = q.where('handler_id', '>', page.after);
    const rows = await q
      .orderBy('handler_id')
      .limit(page.limit + 1)
      .execute();
    const items = rows.slice(0, page.limit).map((r) => this.view(r));
    return { items, nextKey: rows.length > page.limit ? items.at(-1)?.handlerId : undefined };
  }

  /** Handlers that apply to one subscriber: on its IMSI, its SIM, the SIM's group or the operator. */
  async listBySubscriber(operatorId: string, imsi: string): Promise<EventHandlerView[]> {
    const sim = await this.simOfImsi(this.store.db, operatorId, imsi);
    return this.applying(operatorId, sim, [imsi]);
  }

  /** Handlers that apply to one SIM: on any of its IMSIs, the SIM, its group or the operator. */
  async listBySim(operatorId: string, simId: string): Promise<EventHandlerView[]> {
    const sim = await this.sim(this.store.db, operatorId, simId);
    const profiles = await this.store.db
      .selectFrom('sim_profiles')
      .select('imsi')
      .where('sim_id', '=', simId)
      .where('operator_id', '=', operatorId)
      .execute();
    return this.applying(
      operatorId,
      sim,
      profiles.map((p) => p.imsi),
    );
  }

  /** Exempts the SIM of `imsi` from the handler (SORACOM setIgnoreEventHandler). Idempotent. */
  ignoreSubscriber(ctx: AuditContext, handlerId: string, imsi: string): Promise<void> {
    return this.setIgnore(ctx, handlerId, (trx) => this.simOfImsi(trx, ctx.principal.operatorId, imsi), true);
  }

  unignoreSubscriber(ctx: AuditContext, handlerId: string, imsi: string): Promise<void> {
    return this.setIgnore(
      ctx,
      handlerId,
      (trx) => this.simOfImsi(trx, ctx.principal.operatorId, imsi),
      false,
    );
  }

  ignoreSim(ctx: AuditContext, handlerId: string, simId: string): Promise<void> {
    return this.setIgnore(ctx, handlerId, (trx) => this.sim(trx, ctx.principal.operatorId, simId), true);
  }

  unignoreSim(ctx: AuditContext, handlerId: string, simId: string): Promise<void> {
    return this.setIgnore(ctx, handlerId, (trx) => this.sim(trx, ctx.principal.operatorId, simId), false);
  }

  private async setIgnore(
    ctx: AuditContext,
    handlerId: string,
    resolve: (trx: Executor) => Promise<{ simId: string }>,
    ignore: boolean,
  ): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    await this.store.transaction(async (trx) => {
      await this.get(operatorId, handlerId, trx);
      const { simId } = await resolve(trx);
      const now = this.clock.now();
      if (ignore) {
        await trx
          .insertInto('event_handler_ignores')
          .values({ handler_id: handlerId, sim_id: simId, operator_id: operatorId, created_at: now })
          .onConflict((oc) => oc.columns(['handler_id', 'sim_id']).doNothing())
          .execute();
      } else {
        const r = await trx
          .deleteFrom('event_handler_ignores')
          .where('handler_id', '=', handlerId)
          .where('sim_id', '=', simId)
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) {
          throw new SimtrustError(
            'ERR_EVENT_HANDLER_NOT_IGNORED',
            `event handler ${handlerId} does not ignore SIM ${simId}`,
          );
        }
      }
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { handlerId, simId, ignore },
        at: now,
      });
    });
  }

  private async applying(
    operatorId: string,
    sim: { simId: string; groupId: string | null },
    imsis: readonly string[],
  ): Promise<EventHandlerView[]> {
    const rows = await this.store.db
      .selectFrom('event_handlers')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where((eb) =>
        eb.or([
          eb.and([eb('target_kind', '=', 'operator'), eb('target_id', '=', operatorId)]),
          eb.and([eb('target_kind', '=', 'sim'), eb('target_id', '=', sim.simId)]),
          ...(imsis.length > 0
            ? [eb.and([eb('target_kind', '=', 'imsi'), eb('target_id', 'in', imsis)])]
            : []),
          ...(sim.groupId === null
            ? []
            : [eb.and([eb('target_kind', '=', 'group'), eb('target_id', '=', sim.groupId)])]),
        ]),
      )
      .orderBy('handler_id')
      .execute();
    return rows.map((r) => this.view(r));
  }

  private columns(
    input: EventHandlerInput,
    target: { kind: TargetKind; id: string },
    config: { rule: RuleConfig; actions: ActionConfig[] },
  ) {
    return {
      name: input.name,
      description: input.description ?? '',
      status: input.status,
      target_kind: target.kind,
      target_id: target.id,
      rule_type: config.rule.type,
      rule_config: JSON.stringify(config.rule),
      action_config_list: JSON.stringify(config.actions),
    };
  }

  /**
   * The target must be the caller's (another operator's answers 404, as if it did not exist). On
   * PostgreSQL its row is locked, so two concurrent creations cannot both pass the limit check.
   */
  private async lockTarget(
    trx: Executor,
    operatorId: string,
    target: { kind: TargetKind; id: string },
  ): Promise<void> {
    const pg = this.store.dialect === 'postgres';
    switch (target.kind) {
      case 'operator': {
        let q = trx.selectFrom('operators').select('operator_id').where('operator_id', '=', target.id);
        if (pg) q = q.forUpdate();
        const row = target.id === operatorId ? await q.executeTakeFirst() : undefined;
        if (!row) throw new SimtrustError('ERR_NOT_FOUND', `no operator ${target.id}`);
        return;
      }
      case 'imsi': {
        let q = trx
          .selectFrom('sim_profiles')
          .select('sim_id')
          .where('operator_id', '=', operatorId)
          .where('imsi', '=', target.id);
        if (pg) q = q.forUpdate();
        if (!(await q.executeTakeFirst())) {
          throw new SimtrustError('ERR_SIM_NOT_FOUND', `no subscriber with IMSI ${target.id}`);
        }
        return;
      }
      case 'sim': {
        let q = trx
          .selectFrom('sims')
          .select('sim_id')
          .where('operator_id', '=', operatorId)
          .where('sim_id', '=', target.id);
        if (pg) q = q.forUpdate();
        if (!(await q.executeTakeFirst()))
          throw new SimtrustError('ERR_SIM_NOT_FOUND', `no SIM ${target.id}`);
        return;
      }
      case 'group': {
        let q = trx
          .selectFrom('groups')
          .select('group_id')
          .where('operator_id', '=', operatorId)
          .where('group_id', '=', target.id);
        if (pg) q = q.forUpdate();
        if (!(await q.executeTakeFirst()))
          throw new SimtrustError('ERR_GROUP_NOT_FOUND', `no group ${target.id}`);
        return;
      }
    }
  }

  private async checkLimit(
    trx: Executor,
    operatorId: string,
    target: { kind: TargetKind; id: string },
    except: string | undefined,
  ): Promise<void> {
    let q = trx
      .selectFrom('event_handlers')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('operator_id', '=', operatorId)
      .where('target_kind', '=', target.kind)
      .where('target_id', '=', target.id);
    if (except !== undefined) q = q.where('handler_id', '!=', except);
    const { n } = await q.executeTakeFirstOrThrow();
    if (Number(n) >= MAX_HANDLERS_PER_TARGET) {
      throw new SimtrustError(
        'ERR_EVENT_HANDLER_LIMIT',
        `the ${target.kind} ${target.id} already has ${MAX_HANDLERS_PER_TARGET} event handlers; delete one or change an existing one`,
      );
    }
  }

  /**
   * Sets a `dead` or `failed` action run back to `pending`, due now with its attempts reset, so the
   * engine runs it again (simtrust extension: the dead-letter retry). Its idempotency key is kept: a
   * web request receiver that already took it can tell. Any other state is refused — pending and
   * running runs are still being tried, succeeded, skipped and cancelled ones are final. Audited with
   * the state and result it had.
   */
  async retryAction(
    ctx: AuditContext,
    handlerId: string,
    executionId: number,
    actionIndex: number,
  ): Promise<ActionRunView> {
    const operatorId = ctx.principal.operatorId;
    return this.store.transaction(async (trx) => {
      await this.row(trx, operatorId, handlerId);
      const run = await trx
        .selectFrom('event_action_runs')
        .selectAll()
        .where('operator_id', '=', operatorId)
        .where('handler_id', '=', handlerId)
        .where('firing_id', '=', executionId)
        .where('action_index', '=', actionIndex)
        .executeTakeFirst();
      if (!run) {
        throw new SimtrustError(
          'ERR_EVENT_EXECUTION_NOT_FOUND',
          `event handler ${handlerId} has no execution ${executionId} with an action ${actionIndex} (GET /v1/event_handlers/${handlerId}/executions lists them)`,
        );
      }
      if (!(RETRYABLE_RUNS as readonly string[]).includes(run.status)) {
        throw new SimtrustError(
          'ERR_EVENT_ACTION_NOT_RETRYABLE',
          `action ${actionIndex} of execution ${executionId} is ${run.status}; only a dead or failed run can be retried (${run.status === 'pending' || run.status === 'running' ? 'this one is still being tried' : 'this state is final'})`,
        );
      }
      const now = this.clock.now();
      // Guarded on the state read: a concurrent retry makes this one match no row.
      const updated = await trx
        .updateTable('event_action_runs')
        .set({
          status: 'pending',
          attempts: 0,
          run_at: now,
          claimed_until: null,
          result: null,
          updated_at: now,
        })
        .where('id', '=', run.id)
        .where('status', '=', run.status)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) {
        throw new SimtrustError(
          'ERR_EVENT_ACTION_NOT_RETRYABLE',
          `action ${actionIndex} of execution ${executionId} changed meanwhile (retried by someone else?); list the executions again`,
        );
      }
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: {
          handlerId,
          executionId,
          actionIndex,
          actionType: run.action_type,
          previousStatus: run.status,
          previousAttempts: run.attempts,
          previousResult: run.result === null ? null : (JSON.parse(run.result) as unknown),
        },
        at: now,
      });
      return {
        actionIndex,
        type: run.action_type,
        status: 'pending',
        scheduledTime: now,
        attempts: 0,
        result: null,
        updatedTime: now,
      };
    });
  }

  private async simOfImsi(
    db: Executor,
    operatorId: string,
    imsi: string,
  ): Promise<{ simId: string; groupId: string | null }> {
    const row = await db
      .selectFrom('sim_profiles')
      .innerJoin('sims', 'sims.sim_id', 'sim_profiles.sim_id')
      .select(['sims.sim_id', 'sims.group_id'])
      .where('sim_profiles.operator_id', '=', operatorId)
      .where('sim_profiles.imsi', '=', imsi)
      .where('sims.operator_id', '=', operatorId)
      .executeTakeFirst();
    if (!row) throw new SimtrustError('ERR_SIM_NOT_FOUND', `no subscriber with IMSI ${imsi}`);
    return { simId: row.sim_id, groupId: row.group_id };
  }

  private async sim(
    db: Executor,
    operatorId: string,
    simId: string,
  ): Promise<{ simId: string; groupId: string | null }> {
    const row = await db
      .selectFrom('sims')
      .select(['sim_id', 'group_id'])
      .where('operator_id', '=', operatorId)
      .where('sim_id', '=', simId)
      .executeTakeFirst();
    if (!row) throw new SimtrustError('ERR_SIM_NOT_FOUND', `no SIM ${simId}`);
    return { simId: row.sim_id, groupId: row.group_id };
  }
}
