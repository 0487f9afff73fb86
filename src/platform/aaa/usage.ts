// Data usage of a SIM per hour, day or month, in SORACOM's Air stats shape
// (`GET /stats/air/sims/{sim_id}`): one entry per period with `dataTrafficStatsMap` by speed class.
// Hours and days are stored (sim_usage, written by accounting); months are summed from days.

import { SimtrustError } from '../../lib/errors.js';
import type { Executor } from '../store/database.js';

export type UsagePeriod = 'hour' | 'day' | 'month';

export interface TrafficStats {
  uploadByteSizeTotal: number;
  downloadByteSizeTotal: number;
  uploadPacketSizeTotal: number;
  downloadPacketSizeTotal: number;
}

export interface UsageEntry {
  /** UTC: yyyyMMddHH (hour), yyyyMMdd (day), yyyyMM (month). */
  readonly date: string;
  /** Start of the period, Unix seconds. */
  readonly unixtime: number;
  readonly dataTrafficStatsMap: Record<string, TrafficStats>;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Longest range per query, so one call reads a bounded number of rows. */
const MAX_RANGE: Record<UsagePeriod, number> = { hour: 93 * DAY, day: 3 * 366 * DAY, month: 10 * 366 * DAY };

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function label(period: UsagePeriod, ms: number): string {
  const d = new Date(ms);
  const ym = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}`;
  if (period === 'month') return ym;
  const ymd = `${ym}${pad(d.getUTCDate())}`;
  return period === 'day' ? ymd : `${ymd}${pad(d.getUTCHours())}`;
}

const monthStart = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};

/**
 * Usage of `simId` for the periods overlapping [fromMs, toMs], oldest first. Periods without traffic
 * are omitted.
 */
export async function simUsage(
  db: Executor,
  operatorId: string,
  simId: string,
  query: { fromMs: number; toMs: number; period: UsagePeriod },
): Promise<UsageEntry[]> {
  const { fromMs, toMs, period } = query;
  if (!(toMs >= fromMs)) throw new SimtrustError('ERR_VALIDATION', '`to` must not be before `from`');
  if (toMs - fromMs > MAX_RANGE[period]) {
    throw new SimtrustError(
      'ERR_VALIDATION',
      `the range is too long for period=${period} (at most ${Math.floor(MAX_RANGE[period] / DAY)} days)`,
    );
  }
  const stored = period === 'hour' ? 'hour' : 'day';
  const size = stored === 'hour' ? HOUR : DAY;
  const first = period === 'month' ? monthStart(fromMs) : Math.floor(fromMs / size) * size;
  const rows = await db
    .selectFrom('sim_usage')
    .selectAll()
    .where('sim_id', '=', simId)
    .where('period', '=', stored)
    .where('bucket_start', '>=', first)
    .where('bucket_start', '<=', toMs)
    .where('operator_id', '=', operatorId)
    .orderBy('bucket_start')
    .execute();
  const entries = new Map<number, UsageEntry>();
  for (const r of rows) {
    const start = period === 'month' ? monthStart(r.bucket_start) : r.bucket_start;
    let entry = entries.get(start);
    if (!entry) {
      entry = { date: label(period, start), unixtime: Math.floor(start / 1000), dataTrafficStatsMap: {} };
      entries.set(start, entry);
    }
    let stats = entry.dataTrafficStatsMap[r.speed_class];
    if (!stats) {
      stats = {
        uploadByteSizeTotal: 0,
        downloadByteSizeTotal: 0,
        uploadPacketSizeTotal: 0,
        downloadPacketSizeTotal: 0,
      };
      entry.dataTrafficStatsMap[r.speed_class] = stats;
    }
    stats.uploadByteSizeTotal += Number(r.upload_bytes);
    stats.downloadByteSizeTotal += Number(r.download_bytes);
    stats.uploadPacketSizeTotal += Number(r.upload_packets);
    stats.downloadPacketSizeTotal += Number(r.download_packets);
  }
  return [...entries.values()].sort((a, b) => a.unixtime - b.unixtime);
}
