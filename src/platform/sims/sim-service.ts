// SIM inventory: reading, listing (keyset pages), lifecycle, speed class, tags, groups, IMEI lock.
// Every change runs in one transaction with its audit record (and, for status changes, its history
// row); listeners hear about a change only after it committed.

import { randomInt } from 'node:crypto';
import { type ExpressionBuilder, type Insertable, type SelectQueryBuilder, sql } from 'kysely';
import type { Clock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import { luhnCheckDigit } from '../../lib/luhn.js';
import { loadSessionSummaries, type SessionSummary } from '../aaa/sessions.js';
import { writeAudit } from '../audit/audit-log.js';
import type { AuditContext } from '../iam/principal.js';
import { loadLocalInfos, type SimLocalInfo } from '../ota/local-info.js';
import { OtaService } from '../ota/ota-service.js';
import type { KeyRing } from '../secrets/key-ring.js';
import type { Executor, Store } from '../store/database.js';
import type { Database, SimProfilesTable, SimStatusHistoryTable, SimsTable } from '../store/schema.js';
import { withEuiccParts } from './euicc-view.js';
import { LIFECYCLE, type LifecycleAction } from './lifecycle.js';
import {
  checkProfile,
  DEFAULT_SPEED_CLASS,
  EXPIRY_ACTIONS,
  type ExpiryAction,
  type ImeiLock,
  type ProfileInput,
  packSecrets,
  parseImeiLock,
  profileSecretContext,
  type SimStatus,
  type SimType,
  type SimView,
  type SpeedClass,
  type ValidProfile,
} from './model.js';
import { checkSimOta, quarantineTaken, type SimOtaInput, takenQuarantineImsis } from './ota-provisioning.js';

export interface SimFilter {
  readonly status?: readonly string[] | undefined;
  readonly speedClass?: readonly string[] | undefined;
  readonly groupId?: string | undefined;
  readonly tagName?: string | undefined;
  readonly tagValue?: string | undefined;
  readonly tagValueMatchMode?: 'exact' | 'prefix' | undefined;
  readonly imsiPrefix?: string | undefined;
  readonly iccidPrefix?: string | undefined;
  /** Digits only, without the leading "+" (MSISDNs are stored that way: model.ts checkProfile). */
  readonly msisdnPrefix?: string | undefined;
}

export interface Page<T> {
  readonly items: T[];
  /** The key to pass as `after` for the next page; undefined on the last page. */
  readonly nextKey: string | undefined;
}

export interface SimChange {
  readonly operatorId: string;
  readonly simId: string;
  readonly operationId: string;
  readonly previous: SimView;
  readonly current: SimView;
}

export type SimChangeListener = (change: SimChange) => void;

export interface CreateSimInput extends Omit<ProfileInput, 'iccid'> {
  readonly iccid?: string | undefined;
  readonly type?: SimType | undefined;
  readonly serialNumber?: string | undefined;
  readonly groupId?: string | undefined;
  readonly speedClass?: SpeedClass | undefined;
  readonly tags?: Readonly<Record<string, string>> | undefined;
  /** OTA key sets and the anti-theft applet (simtrust extension; docs/anti-theft.md). */
  readonly ota?: SimOtaInput | undefined;
}

/** The upper bound of a decimal-prefix range: '4401' → '4402'; undefined for all nines. */
export function decimalPrefixEnd(prefix: string): string | undefined {
  const digits = prefix.split('');
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i] !== '9') {
      digits[i] = String(Number(digits[i]) + 1);
      return digits.slice(0, i + 1).join('');
    }
  }
  return undefined;
}

type ProfileRow = Pick<SimProfilesTable, 'iccid' | 'sim_id' | 'imsi' | 'msisdn' | 'is_primary'>;

export function toSimView(
  sim: SimsTable,
  profiles: readonly ProfileRow[],
  tags: Record<string, string>,
  session?: SessionSummary,
  localInfo?: SimLocalInfo,
): SimView {
  const views: SimView['profiles'] = {};
  let active: string | null = null;
  for (const p of profiles) {
    views[p.iccid] = {
      iccid: p.iccid,
      primaryImsi: p.imsi,
      subscribers: { [p.imsi]: { imsi: p.imsi, msisdn: p.msisdn } },
    };
    if (p.is_primary === 1 || active === null) active = p.iccid;
  }
  return {
    simId: sim.sim_id,
    operatorId: sim.operator_id,
    type: sim.type,
    status: sim.status,
    speedClass: sim.speed_class,
    groupId: sim.group_id,
    tags,
    imeiLock:
      sim.imei_lock === null ? null : { imei: sim.imei_lock, allowAnonymous: sim.imei_lock_anonymous === 1 },
    terminationEnabled: sim.termination_enabled === 1,
    serialNumber: sim.serial_number,
    activeProfileId: active,
    profiles: views,
    sessionStatus: session?.sessionStatus ?? null,
    previousSession: session?.previousSession ?? null,
    localInfo: localInfo ?? null,
    expiryTime: sim.expiry_time === null ? null : Number(sim.expiry_time),
    expiryAction: sim.expiry_action,
    createdTime: sim.created_at,
    lastModifiedTime: sim.updated_at,
  };
}

/** Loads profiles, tags and sessions for a set of SIM rows with four queries, whatever the page size. */
export async function loadSimViews(db: Executor, sims: readonly SimsTable[]): Promise<SimView[]> {
  if (sims.length === 0) return [];
  const ids = sims.map((s) => s.sim_id);
  const [profiles, tags, sessions, localInfos] = await Promise.all([
    db
      .selectFrom('sim_profiles')
      .select(['iccid', 'sim_id', 'imsi', 'msisdn', 'is_primary'])
      .where('sim_id', 'in', ids)
      .execute(),
    db.selectFrom('sim_tags').select(['sim_id', 'name', 'value']).where('sim_id', 'in', ids).execute(),
    loadSessionSummaries(db, ids),
    loadLocalInfos(db, ids),
  ]);
  const profilesBySim = new Map<string, ProfileRow[]>();
  for (const p of profiles.sort((a, b) => (a.iccid < b.iccid ? -1 : 1))) {
    const list = profilesBySim.get(p.sim_id);
    if (list) list.push(p);
    else profilesBySim.set(p.sim_id, [p]);
  }
  // Tag names are request data: a plain object's `map[name] = value` would turn a tag named
  // `__proto__` into a prototype change (and lose the tag); Object.fromEntries defines own properties.
  const tagsBySim = new Map<string, Array<[string, string]>>();
  for (const t of tags) {
    const list = tagsBySim.get(t.sim_id) ?? [];
    list.push([t.name, t.value]);
    tagsBySim.set(t.sim_id, list);
  }
  const views = sims.map((s) =>
    toSimView(
      s,
      profilesBySim.get(s.sim_id) ?? [],
      Object.fromEntries(tagsBySim.get(s.sim_id) ?? []),
      sessions.get(s.sim_id),
      localInfos.get(s.sim_id),
    ),
  );
  // eUICC SIMs: EID and the profiles on the card (one more query only when the page has some).
  return withEuiccParts(db, sims, views);
}

/** The `sims` row of a new SIM (status ready, no lock, protected against termination). */
export function newSimRow(
  operatorId: string,
  simId: string,
  now: number,
  o: { type: string; speedClass: string; groupId: string | null; serialNumber: string | null },
): Insertable<SimsTable> {
  return {
    sim_id: simId,
    operator_id: operatorId,
    type: o.type,
    status: 'ready',
    speed_class: o.speedClass,
    group_id: o.groupId,
    imei_lock: null,
    imei_lock_anonymous: 0,
    termination_enabled: 0,
    serial_number: o.serialNumber,
    created_at: now,
    updated_at: now,
  };
}

/** The `sim_profiles` row of a new primary profile, Ki ‖ OPc sealed and bound to the ICCID. */
export function newProfileRow(
  keyRing: KeyRing,
  operatorId: string,
  p: ValidProfile,
  now: number,
): Insertable<SimProfilesTable> {
  return {
    iccid: p.iccid,
    sim_id: p.iccid,
    operator_id: operatorId,
    imsi: p.imsi,
    msisdn: p.msisdn,
    secrets: keyRing.seal(packSecrets(p.ki, p.opc), profileSecretContext(p.iccid)),
    amf: p.amf,
    sqn: 0,
    ind_bits: 5,
    is_primary: 1,
    created_at: now,
  };
}

/**
 * The refusal of an ICCID or IMSI that is already registered. Both are unique across the platform,
 * not per operator (the AAA finds a subscriber by IMSI alone, a card has one ICCID), so a number held
 * by another operator is refused as well. The text is the same whichever inventory holds it and
 * whatever that SIM looks like: it names no operator and adds nothing when the SIM is the caller's
 * own, since a difference would tell a caller who cannot read the inventory (a user allowed only to
 * import) that another operator holds the number. See docs/sims.md, "Uniqueness".
 */
export function alreadyRegistered(kind: 'ICCID' | 'IMSI', value: string): string {
  return `${kind} ${value} is already registered (ICCIDs and IMSIs are unique across the whole platform); check the number against the card vendor's file, or look for it with GET /v1/sims?${kind.toLowerCase()}_prefix=${value}`;
}

/** The latest expiry time accepted: 9999-12-31T23:59:59.999Z (a date every client can show). */
export const MAX_EXPIRY_TIME = 253_402_300_799_999;

/**
 * Checks a setSimExpiryTime body: expiryTime an integer of Unix ms after `now` (and not past
 * MAX_EXPIRY_TIME), expiryAction one of EXPIRY_ACTIONS (doNothing when absent). Errors are
 * ERR_VALIDATION naming the field and what is allowed.
 */
export function checkExpiry(
  input: { expiryTime: unknown; expiryAction?: unknown },
  now: number,
): { expiryTime: number; expiryAction: ExpiryAction } {
  const { expiryTime, expiryAction = 'doNothing' } = input;
  if (typeof expiryTime !== 'number' || !Number.isSafeInteger(expiryTime) || expiryTime < 0)
    throw new SimtrustError(
      'ERR_VALIDATION',
      'expiryTime must be an integer: milliseconds since 1970-01-01 UTC',
    );
  if (expiryTime <= now)
    throw new SimtrustError(
      'ERR_VALIDATION',
      `expiryTime ${new Date(expiryTime).toISOString()} is not in the future (now is ${new Date(now).toISOString()})`,
    );
  if (expiryTime > MAX_EXPIRY_TIME)
    throw new SimtrustError('ERR_VALIDATION', 'expiryTime must be at most 9999-12-31T23:59:59.999Z');
  if (typeof expiryAction !== 'string' || !(EXPIRY_ACTIONS as readonly string[]).includes(expiryAction))
    throw new SimtrustError('ERR_VALIDATION', `expiryAction must be one of ${EXPIRY_ACTIONS.join(', ')}`);
  return { expiryTime, expiryAction: expiryAction as ExpiryAction };
}

/** Why the lifecycle refuses `action` on this SIM row now (undefined: allowed). */
export function transitionRefusal(sim: SimsTable, action: LifecycleAction): SimtrustError | undefined {
  const rule = LIFECYCLE[action];
  // A terminated SIM is its own case (ERR_SIM_TERMINATED, as for every other change): no move
  // brings it back, so the caller needs another SIM, not another order of calls.
  if (sim.status === 'terminated') return simTerminated(sim.sim_id);
  if (!(rule.from as readonly string[]).includes(sim.status)) {
    return new SimtrustError(
      'ERR_INVALID_TRANSITION',
      `cannot ${action.replaceAll('_', ' ')} a SIM that is ${sim.status} (allowed from: ${rule.from.join(', ')})`,
    );
  }
  if (action === 'terminate' && sim.termination_enabled !== 1) {
    return new SimtrustError(
      'ERR_TERMINATION_PROTECTED',
      `SIM ${sim.sim_id} is protected; call enable_termination first`,
    );
  }
  return undefined;
}

const changedConcurrently = (simId: string) =>
  new SimtrustError('ERR_INVALID_TRANSITION', `SIM ${simId} changed status concurrently; retry`);

/** Rows per bulk statement (IN lists and multi-row inserts within SQLite's parameter limit). */
const BULK_CHUNK = 500;

const simTerminated = (simId: string) =>
  new SimtrustError(
    'ERR_SIM_TERMINATED',
    `SIM ${simId} is terminated; termination is final, so it cannot be reactivated or changed (only its tags can). Use another SIM`,
  );

/** A random 19-digit ICCID (89 = telecom, 999 = private test country code) with its check digit. */
export function generateIccid(): string {
  const body = `89999${String(randomInt(0, 1e9)).padStart(9, '0')}${String(randomInt(0, 1e4)).padStart(4, '0')}`;
  return body + luhnCheckDigit(body);
}

export class SimService {
  private readonly listeners: SimChangeListener[] = [];

  /** Stores OTA key sets with a new SIM (provision only: no link, no counters used here). */
  private readonly otaKeys: OtaService;

  constructor(
    private readonly store: Store,
    private readonly keyRing: KeyRing,
    private readonly clock: Clock,
  ) {
    this.otaKeys = new OtaService(store, keyRing, clock);
  }

  /** Called after each committed change (the AAA layer uses it to disconnect suspended SIMs). */
  onChange(listener: SimChangeListener): void {
    this.listeners.push(listener);
  }

  async get(operatorId: string, simId: string, db: Executor = this.store.db): Promise<SimView> {
    const row = await db
      .selectFrom('sims')
      .selectAll()
      .where('operator_id', '=', operatorId)
      .where('sim_id', '=', simId)
      .executeTakeFirst();
    if (!row) throw new SimtrustError('ERR_SIM_NOT_FOUND', `no SIM ${simId}`);
    const [view] = await loadSimViews(db, [row]);
    return view as SimView;
  }

  async list(
    operatorId: string,
    filter: SimFilter,
    page: { limit: number; after?: string | undefined },
  ): Promise<Page<SimView>> {
    let q = this.store.db.selectFrom('sims').selectAll('sims').where('sims.operator_id', '=', operatorId);
    if (filter.status?.length) q = q.where('sims.status', 'in', [...filter.status]);
    if (filter.speedClass?.length) q = q.where('sims.speed_class', 'in', [...filter.speedClass]);
    if (filter.groupId !== undefined) {
      // Tenant isolation: filtering by another operator's group answers 404, not an empty page.
      await this.requireGroup(this.store.db, operatorId, filter.groupId);
      q = q.where('sims.group_id', '=', filter.groupId);
    }
    if (filter.tagName !== undefined) q = this.whereTag(q, operatorId, filter);
    if (filter.imsiPrefix) q = q.where(profilePrefix('imsi', filter.imsiPrefix));
    if (filter.iccidPrefix) q = q.where(profilePrefix('iccid', filter.iccidPrefix));
    // An MSISDN prefix that matches few profiles (a number, a number block) is read from the
    // sim_profiles_msisdn index first; one that matches many walks sims in key order, which fills a
    // page at once. Which one: a count of at most SELECTIVE_CANDIDATES entries of that index range.
    // (SQLite, 100,000 SIMs: one MSISDN 130 → 3 ms a page, none 180 → 0.3 ms, all ~3 ms.)
    if (filter.msisdnPrefix)
      q = q.where(
        (await this.fewProfiles('msisdn', filter.msisdnPrefix))
          ? profileIn('msisdn', filter.msisdnPrefix)
          : profilePrefix('msisdn', filter.msisdnPrefix),
      );
    // With a tag filter the page is walked along the tag index (operator, name, value, sim_id), which
    // stays one index range per page however rare the tag; the join makes both columns equal.
    const key = sql.ref<string>(filter.tagName !== undefined ? 'sim_tags.sim_id' : 'sims.sim_id');
    if (page.after !== undefined) q = q.where(key, '>', page.after);
    const rows = await q
      .orderBy(key)
      .limit(page.limit + 1)
      .execute();
    const items = await loadSimViews(this.store.db, rows.slice(0, page.limit));
    return { items, nextKey: rows.length > page.limit ? items.at(-1)?.simId : undefined };
  }

  /** Whether fewer than SELECTIVE_CANDIDATES profiles (of any operator) fall in the prefix's range. */
  private async fewProfiles(column: 'msisdn', prefix: string): Promise<boolean> {
    const end = decimalPrefixEnd(prefix);
    let range = this.store.db
      .selectFrom('sim_profiles')
      .select('sim_profiles.sim_id')
      .where(column, '>=', prefix)
      .limit(SELECTIVE_CANDIDATES);
    if (end !== undefined) range = range.where(column, '<', end);
    const counted = await this.store.db
      .selectFrom(range.as('candidates'))
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirst();
    return Number(counted?.n ?? 0) < SELECTIVE_CANDIDATES;
  }

  private whereTag(
    q: SelectQueryBuilder<Database, 'sims', SimsTable>,
    operatorId: string,
    f: SimFilter,
  ): SelectQueryBuilder<Database, 'sims', SimsTable> {
    const name = f.tagName as string;
    // Tag rows are unique per (sim, name), so the join never repeats a SIM. An exact value walks the
    // (operator, name, value, sim) index already in sim_id order.
    return q
      .innerJoin('sim_tags', (join) => {
        let on = join
          .onRef('sim_tags.sim_id', '=', 'sims.sim_id')
          .on('sim_tags.operator_id', '=', operatorId)
          .on('sim_tags.name', '=', name);
        if (f.tagValue !== undefined) {
          const value = f.tagValue;
          on =
            f.tagValueMatchMode === 'prefix'
              ? on.on((eb) =>
                  eb(eb.fn('substr', ['sim_tags.value', eb.val(1), eb.val(value.length)]), '=', value),
                )
              : on.on('sim_tags.value', '=', value);
        }
        return on;
      })
      .selectAll('sims') as unknown as SelectQueryBuilder<Database, 'sims', SimsTable>;
  }

  async create(ctx: AuditContext, input: CreateSimInput): Promise<SimView> {
    const check = checkProfile({ ...input, iccid: input.iccid ?? generateIccid() });
    if (!check.ok) throw new SimtrustError('ERR_VALIDATION', check.reason);
    const p = check.profile;
    const ota = input.ota === undefined ? undefined : checkSimOta(input.ota, p.imsi);
    if (ota !== undefined && !ota.ok) throw new SimtrustError('ERR_VALIDATION', ota.reason);
    const now = this.clock.now();
    const operatorId = ctx.principal.operatorId;
    const view = await this.store.transaction(async (trx) => {
      if (input.groupId !== undefined) await this.requireGroup(trx, operatorId, input.groupId);
      const clash = await trx
        .selectFrom('sim_profiles')
        .select(['iccid', 'imsi'])
        .where((eb) => eb.or([eb('iccid', '=', p.iccid), eb('imsi', '=', p.imsi)]))
        .executeTakeFirst();
      if (clash) {
        throw new SimtrustError(
          'ERR_DUPLICATE_SIM',
          clash.iccid === p.iccid ? alreadyRegistered('ICCID', p.iccid) : alreadyRegistered('IMSI', p.imsi),
        );
      }
      await trx
        .insertInto('sims')
        .values(
          newSimRow(operatorId, p.iccid, now, {
            type: input.type ?? 'uicc',
            speedClass: input.speedClass ?? DEFAULT_SPEED_CLASS,
            groupId: input.groupId ?? null,
            serialNumber: input.serialNumber ?? null,
          }),
        )
        .execute();
      await trx
        .insertInto('sim_profiles')
        .values(newProfileRow(this.keyRing, operatorId, p, now))
        .execute();
      const tags = Object.entries(input.tags ?? {});
      if (tags.length > 0) {
        await trx
          .insertInto('sim_tags')
          .values(tags.map(([name, value]) => ({ sim_id: p.iccid, name, value, operator_id: operatorId })))
          .execute();
      }
      if (ota?.ok) {
        const quarantine = ota.ota.antiTheft?.quarantineImsi;
        if (quarantine !== undefined && (await takenQuarantineImsis(trx, [quarantine])).has(quarantine))
          throw new SimtrustError('ERR_DUPLICATE_SIM', quarantineTaken(quarantine));
        await this.otaKeys.provision(trx, operatorId, p.iccid, ota.ota.keysets, ota.ota.antiTheft);
      }
      await this.history(trx, ctx, p.iccid, null, 'ready', now);
      await writeAudit(trx, {
        context: ctx,
        result: 'success',
        detail: {
          simId: p.iccid,
          imsi: p.imsi,
          ...(ota?.ok
            ? {
                otaKeyVersions: ota.ota.keysets.map((k) => k.kvn),
                antiTheft: ota.ota.antiTheft !== undefined,
              }
            : {}),
        },
        at: now,
      });
      return this.get(operatorId, p.iccid, trx);
    });
    return view;
  }

  async transition(ctx: AuditContext, simId: string, action: LifecycleAction): Promise<SimView> {
    return this.mutate(ctx, simId, (trx, sim, now) => this.transitionWithin(trx, ctx, sim, action, now));
  }

  /**
   * The lifecycle move `action` of the SIM row `sim` inside the caller's transaction, with its history
   * row (no audit record: the caller writes it). Throws what transition answers for a move the
   * lifecycle refuses. The caller notifies the change after its commit (notify).
   */
  async transitionWithin(
    trx: Executor,
    ctx: AuditContext,
    sim: SimsTable,
    action: LifecycleAction,
    now: number,
  ): Promise<{ from: string; to: SimStatus }> {
    const rule = LIFECYCLE[action];
    const simId = sim.sim_id;
    const refusal = transitionRefusal(sim, action);
    if (refusal !== undefined) throw refusal;
    // Guarded on the status we read: a concurrent change makes this update match no row.
    const updated = await trx
      .updateTable('sims')
      .set({ status: rule.to, updated_at: now })
      .where('sim_id', '=', simId)
      .where('status', '=', sim.status)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) throw changedConcurrently(simId);
    await this.history(trx, ctx, simId, sim.status as SimStatus, rule.to, now);
    return { from: sim.status, to: rule.to };
  }

  /**
   * transitionWithin for many SIM rows at once (a batch job): each move is checked as transition
   * checks it, the allowed ones are written with one guarded UPDATE per (from, to) pair and one
   * insert of their history rows. Answers per SIM the move made or the error that refused it; the
   * caller writes the audit records and notifies after its commit.
   */
  async transitionManyWithin(
    trx: Executor,
    ctxOf: (sim: SimsTable) => AuditContext,
    moves: ReadonlyArray<{ readonly sim: SimsTable; readonly action: LifecycleAction }>,
    now: number,
  ): Promise<Map<string, { from: string; to: SimStatus } | SimtrustError>> {
    const out = new Map<string, { from: string; to: SimStatus } | SimtrustError>();
    const groups = new Map<string, { from: string; to: SimStatus; sims: SimsTable[] }>();
    for (const { sim, action } of moves) {
      const refusal = transitionRefusal(sim, action);
      if (refusal !== undefined) {
        out.set(sim.sim_id, refusal);
        continue;
      }
      const to = LIFECYCLE[action].to;
      const key = `${sim.status}\n${to}`;
      const group = groups.get(key) ?? { from: sim.status, to, sims: [] };
      group.sims.push(sim);
      groups.set(key, group);
    }
    const history: Array<Insertable<SimStatusHistoryTable>> = [];
    for (const { from, to, sims } of groups.values()) {
      for (let i = 0; i < sims.length; i += BULK_CHUNK) {
        const chunk = sims.slice(i, i + BULK_CHUNK);
        const moved = new Set(
          (
            await trx
              .updateTable('sims')
              .set({ status: to, updated_at: now })
              .where(
                'sim_id',
                'in',
                chunk.map((c) => c.sim_id),
              )
              .where('status', '=', from)
              .returning('sim_id')
              .execute()
          ).map((r) => r.sim_id),
        );
        for (const sim of chunk) {
          if (!moved.has(sim.sim_id)) {
            out.set(sim.sim_id, changedConcurrently(sim.sim_id));
            continue;
          }
          out.set(sim.sim_id, { from, to });
          history.push(this.historyRow(ctxOf(sim), sim.sim_id, from as SimStatus, to, now));
        }
      }
    }
    for (let i = 0; i < history.length; i += BULK_CHUNK)
      await trx
        .insertInto('sim_status_history')
        .values(history.slice(i, i + BULK_CHUNK))
        .execute();
    return out;
  }

  /** Tells the listeners about changes committed outside mutate (the expiry job's batch). */
  notify(changes: readonly SimChange[]): void {
    for (const change of changes) for (const listener of this.listeners) listener(change);
  }

  /**
   * setSimExpiryTime: the SIM expires at `expiryTime` (Unix ms, in the future) and then gets
   * `expiryAction` (doNothing when absent). `terminate` needs termination protection removed first,
   * as terminateSim does, so an expiry cannot terminate a protected SIM.
   */
  setExpiry(
    ctx: AuditContext,
    simId: string,
    input: { expiryTime: number; expiryAction?: string | undefined },
  ): Promise<SimView> {
    return this.mutateLive(ctx, simId, async (trx, sim, now) => {
      const expiry = checkExpiry(input, now);
      if (expiry.expiryAction === 'terminate' && sim.termination_enabled !== 1) {
        throw new SimtrustError(
          'ERR_TERMINATION_PROTECTED',
          `SIM ${simId} is protected against termination, so expiryAction terminate cannot be set; call enable_termination first, or choose another expiryAction (${EXPIRY_ACTIONS.filter((a) => a !== 'terminate').join(', ')})`,
        );
      }
      await trx
        .updateTable('sims')
        .set({ expiry_time: expiry.expiryTime, expiry_action: expiry.expiryAction, updated_at: now })
        .where('sim_id', '=', simId)
        .execute();
      return { expiryTime: expiry.expiryTime, expiryAction: expiry.expiryAction };
    });
  }

  /** unsetSimExpiryTime: the SIM no longer expires (idempotent). */
  unsetExpiry(ctx: AuditContext, simId: string): Promise<SimView> {
    return this.mutateLive(ctx, simId, async (trx, sim, now) => {
      await trx
        .updateTable('sims')
        .set({ expiry_time: null, expiry_action: null, updated_at: now })
        .where('sim_id', '=', simId)
        .execute();
      return { previousExpiryTime: sim.expiry_time, previousExpiryAction: sim.expiry_action };
    });
  }

  /** Changes that are not status moves; refused on a terminated SIM. */
  private mutateLive(
    ctx: AuditContext,
    simId: string,
    change: (trx: Executor, sim: SimsTable, now: number) => Promise<Record<string, unknown>>,
  ): Promise<SimView> {
    return this.mutate(ctx, simId, async (trx, sim, now) => {
      if (sim.status === 'terminated') throw simTerminated(simId);
      return change(trx, sim, now);
    });
  }

  setTermination(ctx: AuditContext, simId: string, enabled: boolean): Promise<SimView> {
    return this.mutateLive(ctx, simId, async (trx, _sim, now) => {
      await trx
        .updateTable('sims')
        .set({ termination_enabled: enabled ? 1 : 0, updated_at: now })
        .where('sim_id', '=', simId)
        .execute();
      return { terminationEnabled: enabled };
    });
  }

  updateSpeedClass(ctx: AuditContext, simId: string, speedClass: SpeedClass): Promise<SimView> {
    return this.mutateLive(ctx, simId, async (trx, sim, now) => {
      await trx
        .updateTable('sims')
        .set({ speed_class: speedClass, updated_at: now })
        .where('sim_id', '=', simId)
        .execute();
      return { from: sim.speed_class, to: speedClass };
    });
  }

  putTags(
    ctx: AuditContext,
    simId: string,
    tags: ReadonlyArray<{ tagName: string; tagValue: string }>,
  ): Promise<SimView> {
    return this.mutate(ctx, simId, async (trx, sim, now) => {
      for (const { tagName, tagValue } of tags) {
        await trx
          .insertInto('sim_tags')
          .values({ sim_id: simId, name: tagName, value: tagValue, operator_id: sim.operator_id })
          .onConflict((oc) => oc.columns(['sim_id', 'name']).doUpdateSet({ value: tagValue }))
          .execute();
      }
      await trx.updateTable('sims').set({ updated_at: now }).where('sim_id', '=', simId).execute();
      return { tags: tags.map((t) => t.tagName) };
    });
  }

  deleteTag(ctx: AuditContext, simId: string, tagName: string): Promise<SimView> {
    return this.mutate(ctx, simId, async (trx, _sim, now) => {
      const deleted = await trx
        .deleteFrom('sim_tags')
        .where('sim_id', '=', simId)
        .where('name', '=', tagName)
        .executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) {
        throw new SimtrustError('ERR_NOT_FOUND', `SIM ${simId} has no tag ${JSON.stringify(tagName)}`);
      }
      await trx.updateTable('sims').set({ updated_at: now }).where('sim_id', '=', simId).execute();
      return { tag: tagName };
    });
  }

  setGroup(ctx: AuditContext, simId: string, groupId: string | null): Promise<SimView> {
    return this.mutateLive(ctx, simId, async (trx, sim, now) => {
      if (groupId !== null) await this.requireGroup(trx, sim.operator_id, groupId);
      await trx
        .updateTable('sims')
        .set({ group_id: groupId, updated_at: now })
        .where('sim_id', '=', simId)
        .execute();
      return { from: sim.group_id, to: groupId };
    });
  }

  /**
   * Locks the SIM to an IMEI. An empty `imei` locks to the IMEI of the SIM's current session,
   * looked up through `currentImei` (the AAA layer provides it).
   */
  setImeiLock(
    ctx: AuditContext,
    simId: string,
    imeiText: string,
    currentImei: (db: Executor, simId: string) => Promise<string | undefined> = async () => undefined,
  ): Promise<SimView> {
    return this.mutateLive(ctx, simId, async (trx, _sim, now) => {
      let lock: ImeiLock;
      const [imeiPart = '', ...suffix] = imeiText.trim().split('|');
      if (imeiPart === '') {
        const imei = await currentImei(trx, simId);
        if (imei === undefined)
          throw new SimtrustError('ERR_NO_SESSION', `SIM ${simId} has no session with an IMEI`);
        lock = { imei, allowAnonymous: suffix[0] === 'ANONYMOUS' };
      } else {
        const parsed = parseImeiLock(imeiText);
        if ('error' in parsed) throw new SimtrustError('ERR_VALIDATION', parsed.error);
        lock = parsed;
      }
      await trx
        .updateTable('sims')
        .set({ imei_lock: lock.imei, imei_lock_anonymous: lock.allowAnonymous ? 1 : 0, updated_at: now })
        .where('sim_id', '=', simId)
        .execute();
      return { imei: lock.imei, allowAnonymous: lock.allowAnonymous };
    });
  }

  unsetImeiLock(ctx: AuditContext, simId: string): Promise<SimView> {
    return this.mutateLive(ctx, simId, async (trx, _sim, now) => {
      await trx
        .updateTable('sims')
        .set({ imei_lock: null, imei_lock_anonymous: 0, updated_at: now })
        .where('sim_id', '=', simId)
        .execute();
      return {};
    });
  }

  async statusHistory(operatorId: string, simId: string) {
    await this.get(operatorId, simId);
    const rows = await this.store.db
      .selectFrom('sim_status_history')
      .selectAll()
      .where('sim_id', '=', simId)
      .where('operator_id', '=', operatorId)
      .orderBy('id', 'desc')
      .limit(1000)
      .execute();
    return rows.map((r) => ({
      status: r.status,
      previousStatus: r.previous_status,
      operation: r.operation,
      actor: r.actor,
      time: r.at,
    }));
  }

  /** Loads the SIM row, applies `change`, writes the audit record, commits, then notifies. */
  private async mutate(
    ctx: AuditContext,
    simId: string,
    change: (trx: Executor, sim: SimsTable, now: number) => Promise<Record<string, unknown>>,
  ): Promise<SimView> {
    const operatorId = ctx.principal.operatorId;
    const { previous, current } = await this.store.transaction(async (trx) => {
      const sim = await trx
        .selectFrom('sims')
        .selectAll()
        .where('operator_id', '=', operatorId)
        .where('sim_id', '=', simId)
        .executeTakeFirst();
      if (!sim) throw new SimtrustError('ERR_SIM_NOT_FOUND', `no SIM ${simId}`);
      const [previous] = await loadSimViews(trx, [sim]);
      const now = this.clock.now();
      const detail = await change(trx, sim, now);
      await writeAudit(trx, { context: ctx, result: 'success', detail: { simId, ...detail }, at: now });
      return { previous: previous as SimView, current: await this.get(operatorId, simId, trx) };
    });
    for (const listener of this.listeners) {
      listener({ operatorId, simId, operationId: ctx.operationId, previous, current });
    }
    return current;
  }

  private async history(
    trx: Executor,
    ctx: AuditContext,
    simId: string,
    from: SimStatus | null,
    to: SimStatus,
    now: number,
  ): Promise<void> {
    await trx
      .insertInto('sim_status_history')
      .values(this.historyRow(ctx, simId, from, to, now))
      .execute();
  }

  private historyRow(
    ctx: AuditContext,
    simId: string,
    from: SimStatus | null,
    to: SimStatus,
    now: number,
  ): Insertable<SimStatusHistoryTable> {
    return {
      sim_id: simId,
      operator_id: ctx.principal.operatorId,
      previous_status: from,
      status: to,
      operation: ctx.operationId,
      actor: `${ctx.principal.kind}:${ctx.principal.id}`,
      at: now,
    };
  }

  private async requireGroup(db: Executor, operatorId: string, groupId: string): Promise<void> {
    const group = await db
      .selectFrom('groups')
      .select('group_id')
      .where('operator_id', '=', operatorId)
      .where('group_id', '=', groupId)
      .executeTakeFirst();
    if (!group) throw new SimtrustError('ERR_GROUP_NOT_FOUND', `no group ${groupId}`);
  }
}

/** Below this many candidate profiles, a prefix filter reads them first (see SimService.list). */
const SELECTIVE_CANDIDATES = 1000;

/** sim_id IN (the SIMs of the profiles in the prefix's range of that column's index). */
function profileIn(column: 'msisdn', prefix: string) {
  return (eb: ExpressionBuilder<Database, 'sims'>) => {
    const end = decimalPrefixEnd(prefix);
    let sub = eb
      .selectFrom('sim_profiles')
      .select('sim_profiles.sim_id')
      .where(`sim_profiles.${column}`, '>=', prefix);
    if (end !== undefined) sub = sub.where(`sim_profiles.${column}`, '<', end);
    return eb('sims.sim_id', 'in', sub);
  };
}

/** EXISTS (a profile of this SIM whose imsi/iccid/msisdn starts with `prefix`), as an index range. */
function profilePrefix(column: 'imsi' | 'iccid' | 'msisdn', prefix: string) {
  return (eb: ExpressionBuilder<Database, 'sims'>) => {
    const end = decimalPrefixEnd(prefix);
    let sub = eb
      .selectFrom('sim_profiles')
      .select(eb.lit(1).as('one'))
      .whereRef('sim_profiles.sim_id', '=', 'sims.sim_id')
      .where(`sim_profiles.${column}`, '>=', prefix);
    if (end !== undefined) sub = sub.where(`sim_profiles.${column}`, '<', end);
    return eb.exists(sub);
  };
}
