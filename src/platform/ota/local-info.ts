// The SIM's local information as its card reported it through the toolkit (SORACOM's `localInfo`
// of a Sim, filled by `reportSimLocalInfo`): the anti-theft applet's REPORT LOCAL INFO answer, a
// secured report `A4 { IMEI, cell, access technology }` (lib/anti-theft-encoding.ts). A verified
// report becomes one row of the SIM's anti-theft events (ANTITHEFT_LOCAL_INFO, with the IMEI and the
// cell); the newest such row is the SIM's local information. No table of its own: the event history
// already holds the IMEI, the cell and the time, and the report counter already guards replays.

import type { LocalInfo, Cell as ToolkitCell } from '../../lib/anti-theft-encoding.js';
import type { Cell } from '../aaa/sessions.js';
import type { Executor } from '../store/database.js';
import { acceptReportCounter } from './ota-store.js';

export const LOCAL_INFO_EVENT = 'ANTITHEFT_LOCAL_INFO';

/** What a Sim shows: the IMEI and serving cell the terminal reported, and when. */
export interface SimLocalInfo {
  readonly imei: string | null;
  readonly cell: Cell | null;
  readonly reportedTime: number;
}

/** The stored cell: TS 102 223 §8.19 fields and, when the terminal said, its access technology. */
export type StoredCell = ToolkitCell & { readonly accessTechnology?: string };

const RADIO_TYPE: Record<string, string> = { gsm: 'geran', utran: 'utran', e_utran: 'eutran', ng_ran: 'nr' };

/**
 * The API's cell (sessions' `Cell`, as 3GPP-User-Location-Info gives it) from TS 102 223 §8.19: LAC
 * and a 16-bit cell identity on GERAN; TAC and the 28-bit E-UTRAN cell identity (the fourth octet's
 * low nibble is the 'F' filler) on E-UTRAN; LAC and the 28-bit UTRAN cell identity on UTRAN.
 */
export function apiCell(cell: StoredCell): Cell {
  const id = Number.parseInt(cell.cellIdentity, 16);
  const radioType = cell.accessTechnology === undefined ? undefined : RADIO_TYPE[cell.accessTechnology];
  const base = { ...(radioType === undefined ? {} : { radioType }), mcc: cell.mcc, mnc: cell.mnc };
  if (cell.cellIdentity.length === 4) return { ...base, lac: cell.areaCode, ci: id };
  const id28 = Math.floor(id / 16);
  return radioType === 'utran' || radioType === 'geran'
    ? { ...base, lac: cell.areaCode, ci: id28 }
    : { ...base, tac: cell.areaCode, eci: id28 };
}

/**
 * Records a verified local information report: the report counter must be higher than every one
 * accepted (one report counts once however often it arrives), then the event row. Run in the
 * caller's transaction; false when the counter was not higher (a replay: nothing written).
 */
export async function recordLocalInfo(
  db: Executor,
  report: {
    operatorId: string;
    simId: string;
    kvn: number;
    counter: number;
    info: LocalInfo;
    at: number;
  },
): Promise<boolean> {
  const { operatorId, simId, kvn, counter, info, at } = report;
  if (!(await acceptReportCounter(db, simId, kvn, counter))) return false;
  const cell: StoredCell | undefined =
    info.cell === undefined
      ? undefined
      : {
          ...info.cell,
          ...(info.accessTechnology === undefined ? {} : { accessTechnology: info.accessTechnology }),
        };
  await db
    .insertInto('anti_theft_alerts')
    .values({
      operator_id: operatorId,
      sim_id: simId,
      event: LOCAL_INFO_EVENT,
      reason: 'none',
      imei: info.imei ?? null,
      cell: cell === undefined ? null : JSON.stringify(cell),
      counter,
      at,
    })
    .execute();
  return true;
}

function parseStoredCell(text: string | null): StoredCell | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as StoredCell;
    return typeof v?.cellIdentity === 'string' && typeof v.mcc === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** The newest local information of each SIM (one index range per SIM on (sim_id, id)). */
export async function loadLocalInfos(
  db: Executor,
  simIds: readonly string[],
): Promise<Map<string, SimLocalInfo>> {
  const out = new Map<string, SimLocalInfo>();
  if (simIds.length === 0) return out;
  const rows = await db
    .selectFrom('anti_theft_alerts as a')
    .select(['a.sim_id', 'a.imei', 'a.cell', 'a.at'])
    .where('a.sim_id', 'in', [...simIds])
    .where((eb) =>
      eb(
        'a.id',
        '=',
        eb
          .selectFrom('anti_theft_alerts as b')
          .select((e) => e.fn.max('b.id').as('m'))
          .whereRef('b.sim_id', '=', 'a.sim_id')
          .where('b.event', '=', LOCAL_INFO_EVENT),
      ),
    )
    .execute();
  for (const r of rows) {
    const cell = parseStoredCell(r.cell);
    out.set(r.sim_id, {
      imei: r.imei,
      cell: cell === null ? null : apiCell(cell),
      reportedTime: Number(r.at),
    });
  }
  return out;
}
