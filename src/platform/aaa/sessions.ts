// Data sessions as accounting records them (RFC 2866, TS 29.061 §16.4.3): the online session of a
// device address (the token endpoint's "who is calling"), a SIM's sessionStatus / previousSession,
// the session event history (which is also the location history: every cell change is a
// `Modified` event) and refusals.

import type { Selectable } from 'kysely';
import type { Executor } from '../store/database.js';
import type { Database, SimSessionsTable } from '../store/schema.js';

/** The serving cell, as the API shows it (from 3GPP-User-Location-Info and 3GPP-RAT-Type). */
export interface Cell {
  readonly radioType?: string;
  readonly mcc?: string;
  readonly mnc?: string;
  readonly tac?: number;
  readonly eci?: number;
  readonly lac?: number;
  readonly ci?: number;
  readonly sac?: number;
  readonly rac?: number;
}

export interface OnlineSession {
  readonly operatorId: string;
  readonly simId: string;
  readonly imsi: string;
  readonly imei: string | null;
  readonly sessionId: string;
}

/**
 * The online session holding `ueIp` (the most recently updated one, should a NAS report an address
 * twice). Undefined when no session with that address is online.
 */
export async function findOnlineSessionByAddress(
  db: Executor,
  ueIp: string,
): Promise<OnlineSession | undefined> {
  const row = await db
    .selectFrom('sim_sessions')
    .select(['operator_id', 'sim_id', 'imsi', 'imei', 'session_id'])
    .where('ue_ip', '=', ueIp)
    .where('status', '=', 'online')
    .orderBy('updated_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : {
        operatorId: row.operator_id,
        simId: row.sim_id,
        imsi: row.imsi,
        imei: row.imei,
        sessionId: row.session_id,
      };
}

/** The IMEI of the SIM's current online session (for `set_imei_lock` with an empty IMEI). */
export async function currentSessionImei(db: Executor, simId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('sim_sessions')
    .select('imei')
    .where('sim_id', '=', simId)
    .where('status', '=', 'online')
    .where('imei', 'is not', null)
    .orderBy('updated_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.imei ?? undefined;
}

export interface SessionStatus {
  readonly online: boolean;
  readonly sessionId?: string;
  readonly imsi?: string;
  readonly imei?: string | null;
  readonly ueIpAddress?: string | null;
  readonly apn?: string | null;
  readonly cell?: Cell | null;
  readonly createdTime?: number;
  readonly lastUpdatedAt: number;
}

export interface PreviousSession {
  readonly sessionId: string;
  readonly imsi: string;
  readonly imei: string | null;
  readonly ueIpAddress: string | null;
  readonly apn: string | null;
  readonly cell: Cell | null;
  readonly createdTime: number;
  readonly deletedTime: number;
}

export interface SessionSummary {
  readonly sessionStatus: SessionStatus | null;
  readonly previousSession: PreviousSession | null;
}

export function parseCell(text: string | null): Cell | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as Cell) : null;
  } catch {
    return null;
  }
}

type SessionRow = Pick<
  SimSessionsTable,
  | 'session_id'
  | 'sim_id'
  | 'imsi'
  | 'imei'
  | 'ue_ip'
  | 'apn'
  | 'cell'
  | 'status'
  | 'created_at'
  | 'updated_at'
  | 'ended_at'
>;

const SUMMARY_COLUMNS = [
  'session_id',
  'sim_id',
  'imsi',
  'imei',
  'ue_ip',
  'apn',
  'cell',
  'status',
  'created_at',
  'updated_at',
  'ended_at',
] as const;

/**
 * sessionStatus and previousSession of each SIM, with two index lookups per page whatever the
 * history length: the online sessions, and for each SIM the session that ended last.
 */
export async function loadSessionSummaries(
  db: Executor,
  simIds: readonly string[],
): Promise<Map<string, SessionSummary>> {
  const out = new Map<string, SessionSummary>();
  if (simIds.length === 0) return out;
  const ids = [...simIds];
  const [online, ended] = await Promise.all([
    db
      .selectFrom('sim_sessions')
      .select(SUMMARY_COLUMNS)
      .where('sim_id', 'in', ids)
      .where('status', '=', 'online')
      .execute(),
    db
      .selectFrom('sim_sessions as s')
      .select(SUMMARY_COLUMNS.map((c) => `s.${c}` as const))
      .where('s.sim_id', 'in', ids)
      .where('s.status', '=', 'offline')
      .where((eb) =>
        eb(
          's.ended_at',
          '=',
          eb
            .selectFrom('sim_sessions as t')
            .select((e) => e.fn.max('t.ended_at').as('m'))
            .whereRef('t.sim_id', '=', 's.sim_id')
            .where('t.status', '=', 'offline'),
        ),
      )
      .execute(),
  ]);
  const latest = (rows: readonly SessionRow[]) => {
    const bySim = new Map<string, SessionRow>();
    for (const r of rows) {
      const seen = bySim.get(r.sim_id);
      if (!seen || r.updated_at > seen.updated_at) bySim.set(r.sim_id, r);
    }
    return bySim;
  };
  const onlineBySim = latest(online);
  const endedBySim = latest(ended);
  for (const simId of ids) {
    const on = onlineBySim.get(simId);
    const off = endedBySim.get(simId);
    if (!on && !off) continue;
    out.set(simId, {
      sessionStatus: on
        ? {
            online: true,
            sessionId: on.session_id,
            imsi: on.imsi,
            imei: on.imei,
            ueIpAddress: on.ue_ip,
            apn: on.apn,
            cell: parseCell(on.cell),
            createdTime: on.created_at,
            lastUpdatedAt: on.updated_at,
          }
        : { online: false, lastUpdatedAt: off?.ended_at ?? off?.updated_at ?? 0 },
      previousSession: off
        ? {
            sessionId: off.session_id,
            imsi: off.imsi,
            imei: off.imei,
            ueIpAddress: off.ue_ip,
            apn: off.apn,
            cell: parseCell(off.cell),
            createdTime: off.created_at,
            deletedTime: off.ended_at ?? off.updated_at,
          }
        : null,
    });
  }
  return out;
}

export interface SessionEvent {
  readonly id: number;
  readonly time: number;
  readonly event: 'Created' | 'Modified' | 'Deleted';
  readonly sessionId: string;
  readonly simId: string;
  readonly operatorId: string;
  readonly imsi: string;
  readonly imei: string | null;
  readonly ueIpAddress: string | null;
  readonly apn: string | null;
  readonly cell: Cell | null;
}

export interface EventPage<T> {
  readonly items: T[];
  readonly nextKey: string | undefined;
}

/**
 * Session events of a SIM, newest first, between `from` and `to` (ms, inclusive), keyset-paged by
 * `after` = "<time>.<id>" of the last item of the previous page.
 */
export async function listSessionEvents(
  db: Executor,
  operatorId: string,
  simId: string,
  query: { from?: number | undefined; to?: number | undefined; limit: number; after?: string | undefined },
): Promise<EventPage<SessionEvent>> {
  let q = db
    .selectFrom('sim_session_events')
    .selectAll()
    .where('sim_id', '=', simId)
    .where('operator_id', '=', operatorId);
  if (query.from !== undefined) q = q.where('at', '>=', query.from);
  if (query.to !== undefined) q = q.where('at', '<=', query.to);
  const cursor = parseCursor(query.after);
  if (cursor) {
    q = q.where((eb) =>
      eb.or([eb('at', '<', cursor.at), eb.and([eb('at', '=', cursor.at), eb('id', '<', cursor.id)])]),
    );
  }
  const rows = await q
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit + 1)
    .execute();
  const items = rows.slice(0, query.limit).map((r) => ({
    id: Number(r.id),
    time: r.at,
    event: r.event,
    sessionId: r.session_id,
    simId: r.sim_id,
    operatorId: r.operator_id,
    imsi: r.imsi,
    imei: r.imei,
    ueIpAddress: r.ue_ip,
    apn: r.apn,
    cell: parseCell(r.cell),
  }));
  const last = items.at(-1);
  return { items, nextKey: rows.length > query.limit && last ? `${last.time}.${last.id}` : undefined };
}

function parseCursor(after: string | undefined): { at: number; id: number } | undefined {
  const m = after === undefined ? null : /^(\d{1,16})\.(\d{1,16})$/.exec(after);
  return m ? { at: Number(m[1]), id: Number(m[2]) } : undefined;
}

export interface Refusal {
  readonly id: number;
  readonly time: number;
  readonly code: string;
  readonly reason: string;
  readonly access: string;
  readonly imsi: string;
  readonly imei: string | null;
  readonly apn: string | null;
  readonly nasAddress: string | null;
}

/** Refused admissions of a SIM, newest first. */
export function listRefusals(
  db: Executor,
  operatorId: string,
  simId: string,
  query: { limit: number; after?: string | undefined },
): Promise<EventPage<Refusal>> {
  return newestRecordsOfSim(db, 'aaa_refusals', operatorId, simId, query, (r) => ({
    id: Number(r.id),
    time: r.at,
    code: r.code,
    reason: r.reason,
    access: r.access,
    imsi: r.imsi,
    imei: r.imei,
    apn: r.apn,
    nasAddress: r.nas_address,
  }));
}

/** Per-SIM records keyed by a serial id, listed newest first. */
type SimRecordTable = 'aaa_refusals' | 'radius_dynamic_requests';

/**
 * One newest-first page of a SIM's records in `table`, keyset-paged by `after` = the id of the last
 * item of the previous page (an `after` that is not an id starts from the newest).
 */
export async function newestRecordsOfSim<T extends SimRecordTable, Item>(
  db: Executor,
  table: T,
  operatorId: string,
  simId: string,
  query: { limit: number; after?: string | undefined },
  view: (row: Selectable<Database[T]>) => Item,
): Promise<EventPage<Item>> {
  let q = db
    .selectFrom(table as SimRecordTable)
    .selectAll()
    .where('sim_id', '=', simId)
    .where('operator_id', '=', operatorId);
  if (query.after !== undefined && /^\d{1,16}$/.test(query.after))
    q = q.where('id', '<', Number(query.after));
  const rows = (await q
    .orderBy('id', 'desc')
    .limit(query.limit + 1)
    .execute()) as Selectable<Database[T]>[];
  // A row beyond the page means there is a next one; it starts after the page's last id.
  const last = rows.length > query.limit ? (rows[query.limit - 1] as { readonly id: number }) : undefined;
  return {
    items: rows.slice(0, query.limit).map(view),
    nextKey: last === undefined ? undefined : String(Number(last.id)),
  };
}
