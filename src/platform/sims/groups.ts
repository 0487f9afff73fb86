// Groups: a set of SIMs sharing configuration. Configuration is namespaced (`SoracomAir`,
// `Endorse`, …) and each namespace holds key → JSON value pairs, as in SORACOM's group API.

import { randomUUID } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { writeAudit } from '../audit/audit-log.js';
import type { AuditContext } from '../iam/principal.js';
import type { Executor, Store } from '../store/database.js';
import type { Page } from './sim-service.js';

export interface GroupView {
  readonly groupId: string;
  readonly operatorId: string;
  readonly tags: Record<string, string>;
  readonly configuration: Record<string, Record<string, unknown>>;
  readonly createdTime: number;
  readonly lastModifiedTime: number;
}

export interface ConfigurationParameter {
  readonly key: string;
  readonly value: unknown;
}

/**
 * Namespace aliases: SORACOM tooling writes `SoracomEndorse`; simtrust stores it as `Endorse`. A Map,
 * as every lookup here is keyed by request data: on a plain object `constructor` or `toString` would
 * find Object.prototype's members (issue 11: such namespaces answered 500).
 */
const NAMESPACE_ALIASES: ReadonlyMap<string, string> = new Map([['SoracomEndorse', 'Endorse']]);

export const canonicalNamespace = (namespace: string) => NAMESPACE_ALIASES.get(namespace) ?? namespace;

/** Checks one key of a namespace when it is written; throws a SimtrustError naming the key. */
export type ConfigurationValidator = (key: string, value: unknown) => void;

export class GroupService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** By canonical namespace; namespaces without one take any key (SORACOM's behaviour). */
    private readonly validators: Readonly<Record<string, ConfigurationValidator>> = {},
  ) {}

  async create(
    ctx: AuditContext,
    input: { tags?: Record<string, string>; configuration?: Record<string, Record<string, unknown>> },
  ): Promise<GroupView> {
    const groupId = randomUUID();
    const now = this.clock.now();
    const operatorId = ctx.principal.operatorId;
    return this.store.transaction(async (trx) => {
      await trx
        .insertInto('groups')
        .values({ group_id: groupId, operator_id: operatorId, created_at: now, updated_at: now })
        .execute();
      const tags = Object.entries(input.tags ?? {});
      if (tags.length > 0) {
        await trx
          .insertInto('group_tags')
          .values(tags.map(([name, value]) => ({ group_id: groupId, name, value })))
          .execute();
      }
      for (const [namespace, params] of Object.entries(input.configuration ?? {})) {
        await this.writeParameters(
          trx,
          groupId,
          canonicalNamespace(namespace),
          Object.entries(params).map(([key, value]) => ({ key, value })),
        );
      }
      await writeAudit(trx, { context: ctx, result: 'success', detail: { groupId }, at: now });
      return this.get(operatorId, groupId, trx);
    });
  }

  async get(operatorId: string, groupId: string, db: Executor = this.store.db): Promise<GroupView> {
    const row = await db
      .selectFrom('groups')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('group_id', '=', groupId)
      .executeTakeFirst();
    if (!row) throw new SimtrustError('ERR_GROUP_NOT_FOUND', `no group ${groupId}`);
    const [view] = await this.views(db, [row]);
    return view as GroupView;
  }

  async list(
    operatorId: string,
    filter: {
      tagName?: string | undefined;
      tagValue?: string | undefined;
      tagValueMatchMode?: 'exact' | 'prefix';
    },
    page: { limit: number; after?: string | undefined },
  ): Promise<Page<GroupView>> {
    let q = this.store.db
      .selectFrom('groups')
      .selectAll('groups')
      .where('groups.operator_id', '=', operatorId);
    if (filter.tagName !== undefined) {
      const { tagName, tagValue } = filter;
      q = q.where((eb) => {
        let sub = eb
          .selectFrom('group_tags')
          .select(eb.lit(1).as('one'))
          .whereRef('group_tags.group_id', '=', 'groups.group_id')
          .where('group_tags.name', '=', tagName);
        if (tagValue !== undefined) {
          sub =
            filter.tagValueMatchMode === 'prefix'
              ? sub.where((e) =>
                  e(e.fn('substr', ['group_tags.value', e.val(1), e.val(tagValue.length)]), '=', tagValue),
                )
              : sub.where('group_tags.value', '=', tagValue);
        }
        return eb.exists(sub);
      });
    }
    if (page.after !== undefined) q = q.where('groups.group_id', '>', page.after);
    const rows = await q
      .orderBy('groups.group_id')
      .limit(page.limit + 1)
      .execute();
    const items = await this.views(this.store.db, rows.slice(0, page.limit));
    return { items, nextKey: rows.length > page.limit ? items.at(-1)?.groupId : undefined };
  }

  async delete(ctx: AuditContext, groupId: string): Promise<void> {
    const operatorId = ctx.principal.operatorId;
    await this.store.transaction(async (trx) => {
      await this.get(operatorId, groupId, trx);
      const member = await trx
        .selectFrom('sims')
        .select('sim_id')
        .where('group_id', '=', groupId)
        .executeTakeFirst();
      if (member) {
        throw new SimtrustError(
          'ERR_GROUP_IN_USE',
          `group ${groupId} still has SIMs (for example ${member.sim_id})`,
        );
      }
      await trx.deleteFrom('group_configuration').where('group_id', '=', groupId).execute();
      await trx.deleteFrom('group_tags').where('group_id', '=', groupId).execute();
      await trx.deleteFrom('groups').where('group_id', '=', groupId).execute();
      await writeAudit(trx, { context: ctx, result: 'success', detail: { groupId }, at: this.clock.now() });
    });
  }

  putConfiguration(
    ctx: AuditContext,
    groupId: string,
    namespace: string,
    params: readonly ConfigurationParameter[],
  ): Promise<GroupView> {
    const ns = canonicalNamespace(namespace);
    return this.mutate(ctx, groupId, { namespace: ns, keys: params.map((p) => p.key) }, (trx) =>
      this.writeParameters(trx, groupId, ns, params),
    );
  }

  deleteConfigurationNamespace(ctx: AuditContext, groupId: string, namespace: string): Promise<GroupView> {
    const ns = canonicalNamespace(namespace);
    return this.mutate(ctx, groupId, { namespace: ns }, async (trx) => {
      await trx
        .deleteFrom('group_configuration')
        .where('group_id', '=', groupId)
        .where('namespace', '=', ns)
        .execute();
    });
  }

  putTags(ctx: AuditContext, groupId: string, tags: ReadonlyArray<{ tagName: string; tagValue: string }>) {
    return this.mutate(ctx, groupId, { tags: tags.map((t) => t.tagName) }, async (trx) => {
      for (const { tagName, tagValue } of tags) {
        await trx
          .insertInto('group_tags')
          .values({ group_id: groupId, name: tagName, value: tagValue })
          .onConflict((oc) => oc.columns(['group_id', 'name']).doUpdateSet({ value: tagValue }))
          .execute();
      }
    });
  }

  deleteTag(ctx: AuditContext, groupId: string, tagName: string) {
    return this.mutate(ctx, groupId, { tag: tagName }, async (trx) => {
      const r = await trx
        .deleteFrom('group_tags')
        .where('group_id', '=', groupId)
        .where('name', '=', tagName)
        .executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) {
        throw new SimtrustError('ERR_NOT_FOUND', `group ${groupId} has no tag ${JSON.stringify(tagName)}`);
      }
    });
  }

  /** One namespace of a group's configuration as a plain object (used by the AAA and token layers). */
  async configuration(db: Executor, groupId: string, namespace: string): Promise<Record<string, unknown>> {
    const rows = await db
      .selectFrom('group_configuration')
      .select(['key', 'value'])
      .where('group_id', '=', groupId)
      .where('namespace', '=', canonicalNamespace(namespace))
      .execute();
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
  }

  private async mutate(
    ctx: AuditContext,
    groupId: string,
    detail: Record<string, unknown>,
    change: (trx: Executor) => Promise<void>,
  ): Promise<GroupView> {
    const operatorId = ctx.principal.operatorId;
    return this.store.transaction(async (trx) => {
      await this.get(operatorId, groupId, trx);
      await change(trx);
      const now = this.clock.now();
      await trx.updateTable('groups').set({ updated_at: now }).where('group_id', '=', groupId).execute();
      await writeAudit(trx, { context: ctx, result: 'success', detail: { groupId, ...detail }, at: now });
      return this.get(operatorId, groupId, trx);
    });
  }

  private async writeParameters(
    trx: Executor,
    groupId: string,
    namespace: string,
    params: readonly ConfigurationParameter[],
  ): Promise<void> {
    const validate = Object.hasOwn(this.validators, namespace) ? this.validators[namespace] : undefined;
    if (validate) for (const { key, value } of params) validate(key, value);
    for (const { key, value } of params) {
      const json = JSON.stringify(value ?? null);
      await trx
        .insertInto('group_configuration')
        .values({ group_id: groupId, namespace, key, value: json })
        .onConflict((oc) => oc.columns(['group_id', 'namespace', 'key']).doUpdateSet({ value: json }))
        .execute();
    }
  }

  private async views(
    db: Executor,
    rows: ReadonlyArray<{ group_id: string; operator_id: string; created_at: number; updated_at: number }>,
  ): Promise<GroupView[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.group_id);
    const [tags, config] = await Promise.all([
      db.selectFrom('group_tags').selectAll().where('group_id', 'in', ids).execute(),
      db.selectFrom('group_configuration').selectAll().where('group_id', 'in', ids).execute(),
    ]);
    return rows.map((r) => {
      // Namespaces and keys are request data: collect them in Maps and build the answer with
      // Object.fromEntries, which defines own properties (a key `__proto__` stays a key).
      const namespaces = new Map<string, Array<[string, unknown]>>();
      for (const c of config.filter((c) => c.group_id === r.group_id)) {
        const entries = namespaces.get(c.namespace) ?? [];
        entries.push([c.key, JSON.parse(c.value) as unknown]);
        namespaces.set(c.namespace, entries);
      }
      const configuration = Object.fromEntries(
        [...namespaces].map(([namespace, entries]) => [namespace, Object.fromEntries(entries)]),
      );
      return {
        groupId: r.group_id,
        operatorId: r.operator_id,
        tags: Object.fromEntries(tags.filter((t) => t.group_id === r.group_id).map((t) => [t.name, t.value])),
        configuration,
        createdTime: r.created_at,
        lastModifiedTime: r.updated_at,
      };
    });
  }
}
