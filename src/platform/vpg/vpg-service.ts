// Virtual private gateways (issue 18, SORACOM's VirtualPrivateGateway operations): the desired
// state of each VPG — its device subnet, traffic filtering and uplink rules, tags, status — and of
// the devices inside it: the online sessions of SIMs whose group names the VPG in `SoracomAir.vpgId`.
// The data plane (servers/dataplane) reads `desiredStates()` and programs Linux from it; this
// module never touches the kernel. Changes that need the data plane are refused while it is off
// (ERR_DATAPLANE_UNAVAILABLE), so the database never promises what no kernel will enforce.
//
// Status: creating → running (the data plane applied it) → terminating (API) → terminated (the data
// plane removed its namespace); failed (with a reason) when applying failed.

import { randomUUID } from 'node:crypto';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { containsAddress, ipv4ToNumber } from '../aaa/address-pool.js';
import { writeAudit } from '../audit/audit-log.js';
import type { AuditContext } from '../iam/principal.js';
import type { Page } from '../sims/sim-service.js';
import type { Executor, Store } from '../store/database.js';
import type { VpgsTable } from '../store/schema.js';
import { type Cidr, cidrText, parseDeviceSubnet, parseUplinkRules, type UplinkRule } from './filter-rules.js';

/** SORACOM's group configuration: namespace `SoracomAir`, key `vpgId`. */
export const VPG_CONFIG_NAMESPACE = 'SoracomAir';
export const VPG_CONFIG_KEY = 'vpgId';
export const VPG_ID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const VPG_ID_RE = new RegExp(VPG_ID_PATTERN);
export const isVpgId = (id: unknown): id is string => typeof id === 'string' && VPG_ID_RE.test(id);
export const DEFAULT_DEVICE_SUBNET = '10.128.0.0/9';
export const VPG_TYPES = [14, 15, 16, 17, 20] as const;
export const MAX_TAGS = 100;

export type VpgStatus = 'creating' | 'running' | 'terminating' | 'terminated' | 'failed';

export interface VpgView {
  readonly vpgId: string;
  readonly operatorId: string;
  readonly type: number;
  readonly placement: string;
  readonly status: VpgStatus;
  readonly deviceSubnetCidrRange: string;
  readonly useInternetGateway: boolean;
  readonly trafficFilteringEnabled: boolean;
  readonly uplinkFilterRules: readonly UplinkRule[];
  readonly tags: Readonly<Record<string, string>>;
  readonly createdTime: number;
  readonly lastModifiedTime: number;
  readonly statusReason?: string;
}

export interface VpgCreateInput {
  readonly type?: number | undefined;
  readonly placement?: string | undefined;
  readonly deviceSubnetCidrRange?: string | undefined;
  readonly useInternetGateway?: boolean | undefined;
  readonly tags?: Readonly<Record<string, string>> | undefined;
}

/** What the data plane must make true for one VPG. */
export interface VpgDesiredState {
  readonly vpgId: string;
  readonly operatorId: string;
  readonly status: VpgStatus;
  readonly deviceSubnet: Cidr;
  readonly trafficFiltering: boolean;
  readonly rules: readonly UplinkRule[];
  /** IPv4 addresses (as numbers) of the devices online in this VPG, ascending. */
  readonly deviceAddresses: readonly number[];
}

/** Whether this instance can program the kernel (set once by the data plane at start). */
export interface DataPlaneState {
  readonly available: boolean;
  /** Why not (shown in errors and logs); no secret. */
  readonly reason: string;
  /** The kernel's refused-packet counters of a VPG, per device address (dotted quad). */
  readonly refused?: (vpgId: string) => Promise<Map<string, { packets: number; bytes: number }>>;
}

/** Packets a device sent that the VPG's rules did not allow (kernel counters, per address). */
export interface RefusedTraffic {
  readonly ipAddress: string;
  /** The SIM online at this address now, when there is one (an address may have served others). */
  readonly simId?: string;
  readonly imsi?: string;
  readonly packets: number;
  readonly bytes: number;
}

type Listener = (vpgId: string | undefined) => void;

const toView = (row: VpgsTable, tags: Record<string, string>): VpgView => ({
  vpgId: row.vpg_id,
  operatorId: row.operator_id,
  type: row.type,
  placement: row.placement,
  status: row.status as VpgStatus,
  deviceSubnetCidrRange: row.device_subnet,
  useInternetGateway: row.use_internet_gateway === 1,
  trafficFilteringEnabled: row.traffic_filtering === 1,
  uplinkFilterRules: JSON.parse(row.uplink_rules) as UplinkRule[],
  tags,
  createdTime: Number(row.created_at),
  lastModifiedTime: Number(row.updated_at),
  ...(row.status_reason === null ? {} : { statusReason: row.status_reason }),
});

function checkTag(name: string, value: string): void {
  if (name.length < 1 || name.length > 100 || value.length > 1000) {
    throw new SimtrustError('ERR_VPG_INVALID', 'a tag name is 1–100 characters and a value at most 1000', {
      details: { field: 'tags' },
    });
  }
}

export class VpgService {
  #dataPlane: DataPlaneState = {
    available: false,
    reason: 'the data plane has not started on this instance (serve starts it)',
  };
  readonly #listeners = new Set<Listener>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** Called by the data plane at start. */
  setDataPlane(state: DataPlaneState): void {
    this.#dataPlane = state;
  }

  get dataPlane(): DataPlaneState {
    return this.#dataPlane;
  }

  /**
   * Registers a listener told after every committed change (`vpgId`, or undefined when sessions of
   * possibly any VPG changed). Returns the unregister function.
   */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells the listeners that a VPG's desired state (or, with no id, device sessions) changed. */
  notify(vpgId?: string): void {
    for (const l of this.#listeners) {
      try {
        l(vpgId);
      } catch {
        // a listener's failure must not fail the change that was committed
      }
    }
  }

  #requireDataPlane(): void {
    if (!this.#dataPlane.available) {
      throw new SimtrustError(
        'ERR_DATAPLANE_UNAVAILABLE',
        `the data plane is off on this instance: ${this.#dataPlane.reason}. Run serve with CAP_NET_ADMIN (root) and iproute2 + nftables installed to create or change VPGs.`,
      );
    }
  }

  async #row(db: Executor, operatorId: string, vpgId: string): Promise<VpgsTable> {
    const row = isVpgId(vpgId)
      ? await db
          .selectFrom('vpgs')
          .selectAll()
          .where('vpg_id', '=', vpgId)
          .where('operator_id', '=', operatorId)
          .executeTakeFirst()
      : undefined;
    if (!row) {
      throw new SimtrustError(
        'ERR_VPG_NOT_FOUND',
        'no virtual private gateway with this id; list them with GET /v1/virtual_private_gateways',
      );
    }
    return row;
  }

  async #tags(db: Executor, vpgIds: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>(vpgIds.map((id) => [id, {}]));
    if (vpgIds.length === 0) return out;
    const rows = await db.selectFrom('vpg_tags').selectAll().where('vpg_id', 'in', vpgIds).execute();
    for (const r of rows) {
      const t = out.get(r.vpg_id);
      if (t) t[r.name] = r.value;
    }
    return out;
  }

  async get(operatorId: string, vpgId: string, db: Executor = this.store.db): Promise<VpgView> {
    const row = await this.#row(db, operatorId, vpgId);
    return toView(row, (await this.#tags(db, [row.vpg_id])).get(row.vpg_id) ?? {});
  }

  async list(
    operatorId: string,
    filter: {
      tagName?: string | undefined;
      tagValue?: string | undefined;
      tagValueMatchMode?: 'exact' | 'prefix';
    },
    page: { limit: number; after?: string | undefined },
  ): Promise<Page<VpgView>> {
    let q = this.store.db.selectFrom('vpgs').selectAll('vpgs').where('vpgs.operator_id', '=', operatorId);
    if (filter.tagName !== undefined) {
      const { tagName, tagValue } = filter;
      q = q.where((eb) => {
        let sub = eb
          .selectFrom('vpg_tags')
          .select(eb.lit(1).as('one'))
          .whereRef('vpg_tags.vpg_id', '=', 'vpgs.vpg_id')
          .where('vpg_tags.name', '=', tagName);
        if (tagValue !== undefined) {
          sub =
            filter.tagValueMatchMode === 'prefix'
              ? sub.where((e) =>
                  e(e.fn('substr', ['vpg_tags.value', e.val(1), e.val(tagValue.length)]), '=', tagValue),
                )
              : sub.where('vpg_tags.value', '=', tagValue);
        }
        return eb.exists(sub);
      });
    }
    if (page.after !== undefined) q = q.where('vpgs.vpg_id', '>', page.after);
    const rows = await q
      .orderBy('vpgs.vpg_id')
      .limit(page.limit + 1)
      .execute();
    const shown = rows.slice(0, page.limit);
    const tags = await this.#tags(
      this.store.db,
      shown.map((r) => r.vpg_id),
    );
    const items = shown.map((r) => toView(r, tags.get(r.vpg_id) ?? {}));
    return { items, nextKey: rows.length > page.limit ? items.at(-1)?.vpgId : undefined };
  }

  async create(ctx: AuditContext, input: VpgCreateInput): Promise<VpgView> {
    this.#requireDataPlane();
    const operatorId = ctx.principal.operatorId;
    const subnet = parseDeviceSubnet(input.deviceSubnetCidrRange ?? DEFAULT_DEVICE_SUBNET);
    const type = input.type ?? 14;
    if (!(VPG_TYPES as readonly number[]).includes(type)) {
      throw new SimtrustError('ERR_VPG_INVALID', `type must be one of ${VPG_TYPES.join(', ')}`, {
        details: { field: 'type' },
      });
    }
    const tags = Object.entries(input.tags ?? {});
    if (tags.length > MAX_TAGS) {
      throw new SimtrustError('ERR_VPG_INVALID', `at most ${MAX_TAGS} tags`, { details: { field: 'tags' } });
    }
    for (const [n, v] of tags) checkTag(n, v);
    const now = this.clock.now();
    const row: VpgsTable = {
      vpg_id: randomUUID(),
      operator_id: operatorId,
      type,
      placement: input.placement ?? 'default',
      status: 'creating',
      device_subnet: cidrText(subnet),
      use_internet_gateway: input.useInternetGateway === false ? 0 : 1,
      traffic_filtering: 0,
      uplink_rules: '[]',
      status_reason: null,
      created_at: now,
      updated_at: now,
    };
    await this.store.transaction(async (trx) => {
      await trx.insertInto('vpgs').values(row).execute();
      if (tags.length > 0)
        await trx
          .insertInto('vpg_tags')
          .values(tags.map(([name, value]) => ({ vpg_id: row.vpg_id, name, value })))
          .execute();
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { vpgId: row.vpg_id, deviceSubnetCidrRange: row.device_subnet, type },
        at: now,
      });
    });
    this.notify(row.vpg_id);
    return toView(row, Object.fromEntries(tags));
  }

  /** Changes a live VPG's row in one transaction with its audit record, then tells the data plane. */
  async #change(
    ctx: AuditContext,
    vpgId: string,
    detail: Record<string, unknown>,
    change: (row: VpgsTable, trx: Executor) => Promise<Partial<VpgsTable> | undefined>,
    options: { needsDataPlane?: boolean } = {},
  ): Promise<VpgView> {
    if (options.needsDataPlane !== false) this.#requireDataPlane();
    const operatorId = ctx.principal.operatorId;
    const now = this.clock.now();
    const view = await this.store.transaction(async (trx) => {
      const row = await this.#row(trx, operatorId, vpgId);
      if (row.status === 'terminated' || row.status === 'terminating') {
        throw new SimtrustError(
          'ERR_VPG_STATE',
          `the VPG is ${row.status}; create a new one with POST /v1/virtual_private_gateways`,
        );
      }
      const update = await change(row, trx);
      if (update !== undefined) {
        await trx
          .updateTable('vpgs')
          .set({ ...update, updated_at: now })
          .where('vpg_id', '=', row.vpg_id)
          .execute();
      }
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: { vpgId: row.vpg_id, ...detail },
        at: now,
      });
      return this.get(operatorId, row.vpg_id, trx);
    });
    this.notify(view.vpgId);
    return view;
  }

  /** Terminates a VPG no group uses any more; the data plane removes its namespace. */
  async terminate(ctx: AuditContext, vpgId: string): Promise<VpgView> {
    return this.#change(ctx, vpgId, { status: 'terminating' }, async (row, trx) => {
      const users = await this.#groupsUsing(trx, row.operator_id, row.vpg_id);
      if (users.length > 0) {
        throw new SimtrustError(
          'ERR_VPG_STATE',
          `${users.length} group(s) still use this VPG (${users.slice(0, 5).join(', ')}); remove their SoracomAir.vpgId first`,
        );
      }
      return { status: 'terminating', status_reason: null };
    });
  }

  async setTrafficFiltering(ctx: AuditContext, vpgId: string, enabled: boolean): Promise<VpgView> {
    return this.#change(ctx, vpgId, { trafficFiltering: enabled }, async () => ({
      traffic_filtering: enabled ? 1 : 0,
    }));
  }

  /** Replaces the uplink rules (the whole list, atomically in the kernel too). */
  async putUplinkRules(ctx: AuditContext, vpgId: string, rules: unknown): Promise<VpgView> {
    const parsed = parseUplinkRules(rules);
    return this.#change(ctx, vpgId, { uplinkRules: parsed.length }, async () => ({
      uplink_rules: JSON.stringify(parsed),
    }));
  }

  async putTags(
    ctx: AuditContext,
    vpgId: string,
    tags: readonly { tagName: string; tagValue: string }[],
  ): Promise<VpgView> {
    for (const t of tags) checkTag(t.tagName, t.tagValue);
    return this.#change(
      ctx,
      vpgId,
      { tags: tags.map((t) => t.tagName) },
      async (row, trx) => {
        for (const t of tags) {
          await trx
            .insertInto('vpg_tags')
            .values({ vpg_id: row.vpg_id, name: t.tagName, value: t.tagValue })
            .onConflict((oc) => oc.columns(['vpg_id', 'name']).doUpdateSet({ value: t.tagValue }))
            .execute();
        }
        const count = await trx
          .selectFrom('vpg_tags')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('vpg_id', '=', row.vpg_id)
          .executeTakeFirstOrThrow();
        if (Number(count.n) > MAX_TAGS) {
          throw new SimtrustError('ERR_VPG_INVALID', `a VPG has at most ${MAX_TAGS} tags`, {
            details: { field: 'tags' },
          });
        }
        return {};
      },
      { needsDataPlane: false },
    );
  }

  async deleteTag(ctx: AuditContext, vpgId: string, tagName: string): Promise<void> {
    await this.#change(
      ctx,
      vpgId,
      { deletedTag: tagName },
      async (row, trx) => {
        const r = await trx
          .deleteFrom('vpg_tags')
          .where('vpg_id', '=', row.vpg_id)
          .where('name', '=', tagName)
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) {
          throw new SimtrustError('ERR_VPG_NOT_FOUND', 'the VPG has no tag with this name');
        }
        return {};
      },
      { needsDataPlane: false },
    );
  }

  async #groupsUsing(db: Executor, operatorId: string, vpgId: string): Promise<string[]> {
    const rows = await db
      .selectFrom('group_configuration as c')
      .innerJoin('groups as g', 'g.group_id', 'c.group_id')
      .select('c.group_id')
      .where('g.operator_id', '=', operatorId)
      .where('c.namespace', '=', VPG_CONFIG_NAMESPACE)
      .where('c.key', '=', VPG_CONFIG_KEY)
      .where('c.value', '=', JSON.stringify(vpgId))
      .orderBy('c.group_id')
      .execute();
    return rows.map((r) => r.group_id);
  }

  /**
   * The desired state of every VPG the data plane must keep (all but terminated ones), with the
   * devices online in each: sessions of the VPG operator's SIMs in groups naming it, whose address
   * lies in the VPG's device subnet (an address outside it is not this VPG's to route).
   */
  async desiredStates(): Promise<VpgDesiredState[]> {
    const db = this.store.db;
    const rows = await db.selectFrom('vpgs').selectAll().where('status', '!=', 'terminated').execute();
    if (rows.length === 0) return [];
    const byId = new Map(rows.map((r) => [JSON.stringify(r.vpg_id), r]));
    const sessions = await db
      .selectFrom('sim_sessions as s')
      .innerJoin('sims as m', 'm.sim_id', 's.sim_id')
      .innerJoin('group_configuration as c', 'c.group_id', 'm.group_id')
      .select(['s.ue_ip', 's.operator_id', 'm.operator_id as sim_operator', 'c.value'])
      .where('s.status', '=', 'online')
      .where('c.namespace', '=', VPG_CONFIG_NAMESPACE)
      .where('c.key', '=', VPG_CONFIG_KEY)
      .where(
        'c.value',
        'in',
        rows.map((r) => JSON.stringify(r.vpg_id)),
      )
      .execute();
    const devices = new Map<string, Set<number>>();
    for (const s of sessions) {
      const row = byId.get(s.value);
      if (!row || s.ue_ip === null || s.operator_id !== row.operator_id || s.sim_operator !== row.operator_id)
        continue;
      const address = ipv4ToNumber(s.ue_ip);
      const subnet = parseDeviceSubnet(row.device_subnet);
      if (
        address === undefined ||
        !containsAddress({ base: subnet.base, size: 2 ** (32 - subnet.prefix) }, address)
      )
        continue;
      let set = devices.get(row.vpg_id);
      if (!set) {
        set = new Set();
        devices.set(row.vpg_id, set);
      }
      set.add(address);
    }
    return rows.map((r) => ({
      vpgId: r.vpg_id,
      operatorId: r.operator_id,
      status: r.status as VpgStatus,
      deviceSubnet: parseDeviceSubnet(r.device_subnet),
      trafficFiltering: r.traffic_filtering === 1,
      rules: JSON.parse(r.uplink_rules) as UplinkRule[],
      deviceAddresses: [...(devices.get(r.vpg_id) ?? [])].sort((a, b) => a - b),
    }));
  }

  /**
   * The refused-packet counters of a VPG of this operator, each with the SIM online at the address.
   * Counters are per address and live in the kernel: they survive rule changes, not a VPG's
   * namespace being recreated.
   */
  async refusedTraffic(operatorId: string, vpgId: string): Promise<RefusedTraffic[]> {
    const row = await this.#row(this.store.db, operatorId, vpgId);
    this.#requireDataPlane();
    const reader = this.#dataPlane.refused;
    if (reader === undefined) {
      throw new SimtrustError(
        'ERR_DATAPLANE_UNAVAILABLE',
        'this instance keeps no kernel counters (its data plane does not read them); ask an instance running serve as root',
      );
    }
    if (row.status !== 'running') return [];
    const counters = await reader(row.vpg_id);
    if (counters.size === 0) return [];
    const sessions = await this.store.db
      .selectFrom('sim_sessions')
      .select(['ue_ip', 'sim_id', 'imsi'])
      .where('operator_id', '=', row.operator_id)
      .where('status', '=', 'online')
      .where('ue_ip', 'in', [...counters.keys()])
      .execute();
    const holder = new Map(sessions.map((x) => [x.ue_ip, x]));
    return [...counters.entries()]
      .sort(([a], [b]) => (ipv4ToNumber(a) ?? 0) - (ipv4ToNumber(b) ?? 0))
      .map(([ipAddress, c]) => {
        const h = holder.get(ipAddress);
        return {
          ipAddress,
          ...(h ? { simId: h.sim_id, imsi: h.imsi } : {}),
          packets: c.packets,
          bytes: c.bytes,
        };
      });
  }

  /** The data plane reports what it did: creating → running, terminating → terminated, or failed. */
  async markApplied(vpgId: string, outcome: { ok: true } | { ok: false; reason: string }): Promise<void> {
    const now = this.clock.now();
    const row = await this.store.db
      .selectFrom('vpgs')
      .selectAll()
      .where('vpg_id', '=', vpgId)
      .executeTakeFirst();
    if (!row) return;
    let status = row.status;
    let reason: string | null = row.status_reason;
    if (outcome.ok) {
      if (row.status === 'creating' || row.status === 'failed') status = 'running';
      if (row.status === 'terminating') status = 'terminated';
      reason = null;
    } else if (row.status !== 'terminating') {
      status = 'failed';
      reason = outcome.reason.slice(0, 300);
    } else {
      reason = outcome.reason.slice(0, 300);
    }
    if (status === row.status && reason === row.status_reason) return;
    await this.store.db
      .updateTable('vpgs')
      .set({ status, status_reason: reason, updated_at: now })
      .where('vpg_id', '=', vpgId)
      .where('status', '=', row.status)
      .execute();
  }
}

/** Checks `SoracomAir.vpgId` when a group's configuration is written (a VPG id, or null to detach). */
export function validateAirVpgId(key: string, value: unknown): void {
  if (key === VPG_CONFIG_KEY && value !== null && !isVpgId(value)) {
    throw new SimtrustError(
      'ERR_VALIDATION',
      'SoracomAir.vpgId must be the vpgId of one of your VPGs (GET /v1/virtual_private_gateways)',
    );
  }
}
