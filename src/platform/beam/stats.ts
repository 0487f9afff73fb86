// Beam, Funnel and Funk usage in SORACOM's Stats shapes (issue 17), read from what beam/usage.ts
// stored (beam_usage hour and day buckets):
//   GET /stats/beam/subscribers/{imsi}    → [{date, unixtime, beamStatsMap}]
//   GET /stats/funnel/subscribers/{imsi}  → [{unixtime, funnelStatsMap}]
//   GET /stats/funk/subscribers/{imsi}    → [{unixtime, funkStatsMap}]
// The map's keys follow SORACOM's Beam usage report: `in<EntryPoint>` counts what devices sent to an
// entry point (inHttp, inMqtt, inTcp, inUdp) and `out<Destination>` what was delivered onwards
// (outHttps, outMqtts, … and, for Funnel, outAmqp, outNatsJetstream, …). Each value is `{count}`;
// the in* values also carry simtrust's byte totals and refused/failed counts.
// period: `minutes` and `hour` answer hour buckets (the finest kept), `day` days, `month` sums of days.
// The operator's export (CSV, exports/) walks the same buckets for every IMSI (statsCsvRows).

import { SimtrustError } from '../../lib/errors.js';
import type { Executor } from '../store/database.js';
import { type BeamService, DAY_MS, HOUR_MS } from './usage.js';

export type StatsPeriod = 'minutes' | 'hour' | 'day' | 'month';
export type ExportPeriod = 'day' | 'month';

export interface StatsCount {
  count: number;
  uploadByteSizeTotal?: number;
  downloadByteSizeTotal?: number;
  refusedCount?: number;
  failedCount?: number;
}

export interface StatsEntry {
  /** UTC yyyyMMddHH, yyyyMMdd or yyyyMM (Beam only, as SORACOM). */
  readonly date?: string;
  /** Start of the period, Unix seconds. */
  readonly unixtime: number;
  readonly beamStatsMap?: Record<string, StatsCount>;
  readonly funnelStatsMap?: Record<string, StatsCount>;
  readonly funkStatsMap?: Record<string, StatsCount>;
}

/** Longest range per query, so one call reads a bounded number of rows (as the Air stats). */
export const MAX_RANGE_MS: Record<StatsPeriod, number> = {
  minutes: 93 * DAY_MS,
  hour: 93 * DAY_MS,
  day: 3 * 366 * DAY_MS,
  month: 10 * 366 * DAY_MS,
};

const MAP_FIELD = { beam: 'beamStatsMap', funnel: 'funnelStatsMap', funk: 'funkStatsMap' } as const;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export function periodLabel(period: 'hour' | 'day' | 'month', ms: number): string {
  const d = new Date(ms);
  const ym = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}`;
  if (period === 'month') return ym;
  const ymd = `${ym}${pad(d.getUTCDate())}`;
  return period === 'day' ? ymd : `${ymd}${pad(d.getUTCHours())}`;
}

export const monthStart = (ms: number): number => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** `in` + entry point: inHttp, inMqtt, inTcp, inUdp. */
export const inKey = (entryPoint: string): string => `in${upperFirst(entryPoint)}`;

/** `out` + destination in camel case: outHttps, outMqtts, outAmqp, outNatsJetstream, outFunction. */
export const outKey = (destination: string): string =>
  `out${destination.split('-').map(upperFirst).join('')}`;

/** Checks from/to (Unix ms) against the period's longest range; the message says what to change. */
export function checkRange(fromMs: number, toMs: number, period: StatsPeriod): void {
  if (!(Number.isSafeInteger(fromMs) && Number.isSafeInteger(toMs)))
    throw new SimtrustError('ERR_VALIDATION', '`from` and `to` must be Unix seconds');
  if (!(toMs >= fromMs)) throw new SimtrustError('ERR_VALIDATION', '`to` must not be before `from`');
  if (toMs - fromMs > MAX_RANGE_MS[period]) {
    throw new SimtrustError(
      'ERR_VALIDATION',
      `the range is too long for period=${period} (at most ${Math.floor(MAX_RANGE_MS[period] / DAY_MS)} days); ask for a shorter range or a longer period`,
    );
  }
}

interface BucketRow {
  imsi: string;
  sim_id: string;
  entry_point: string;
  destination: string;
  bucket_start: number;
  requests: number | string;
  delivered: number | string;
  refused: number | string;
  failed: number | string;
  bytes_up: number | string;
  bytes_down: number | string;
}

function addTo(map: Record<string, StatsCount>, r: BucketRow): void {
  const inName = inKey(r.entry_point);
  const entry = map[inName] ?? {
    count: 0,
    uploadByteSizeTotal: 0,
    downloadByteSizeTotal: 0,
    refusedCount: 0,
    failedCount: 0,
  };
  map[inName] = entry;
  entry.count += Number(r.requests);
  entry.uploadByteSizeTotal = (entry.uploadByteSizeTotal ?? 0) + Number(r.bytes_up);
  entry.downloadByteSizeTotal = (entry.downloadByteSizeTotal ?? 0) + Number(r.bytes_down);
  entry.refusedCount = (entry.refusedCount ?? 0) + Number(r.refused);
  entry.failedCount = (entry.failedCount ?? 0) + Number(r.failed);
  if (r.destination !== '' && Number(r.delivered) > 0) {
    const outName = outKey(r.destination);
    const out = map[outName] ?? { count: 0 };
    map[outName] = out;
    out.count += Number(r.delivered);
  }
}

/** Whether `imsi` is a subscriber of `operatorId` (stats of other operators' IMSIs answer 404). */
export async function imsiOfOperator(db: Executor, operatorId: string, imsi: string): Promise<boolean> {
  const row = await db
    .selectFrom('sim_profiles')
    .select('imsi')
    .where('operator_id', '=', operatorId)
    .where('imsi', '=', imsi)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Usage of one IMSI of `operatorId` in one service, for the periods overlapping [fromMs, toMs],
 * oldest first; periods without usage are omitted. 404 when the IMSI is not the operator's.
 */
export async function subscriberStats(
  db: Executor,
  operatorId: string,
  service: BeamService,
  imsi: string,
  query: { fromMs: number; toMs: number; period: StatsPeriod },
): Promise<StatsEntry[]> {
  const { fromMs, toMs, period } = query;
  checkRange(fromMs, toMs, period);
  if (!(await imsiOfOperator(db, operatorId, imsi)))
    throw new SimtrustError('ERR_NOT_FOUND', `no subscriber ${imsi} in this operator`);
  const stored = period === 'minutes' || period === 'hour' ? 'hour' : 'day';
  const size = stored === 'hour' ? HOUR_MS : DAY_MS;
  const first = period === 'month' ? monthStart(fromMs) : Math.floor(fromMs / size) * size;
  const rows = await db
    .selectFrom('beam_usage')
    .select([
      'imsi',
      'sim_id',
      'entry_point',
      'destination',
      'bucket_start',
      'requests',
      'delivered',
      'refused',
      'failed',
      'bytes_up',
      'bytes_down',
    ])
    .where('operator_id', '=', operatorId)
    .where('imsi', '=', imsi)
    .where('service', '=', service)
    .where('period', '=', stored)
    .where('bucket_start', '>=', first)
    .where('bucket_start', '<=', toMs)
    .orderBy('bucket_start')
    .execute();
  const labelPeriod = period === 'month' ? 'month' : stored;
  const entries = new Map<number, { unixtime: number; date: string; map: Record<string, StatsCount> }>();
  for (const r of rows) {
    const bucket = Number(r.bucket_start);
    const start = period === 'month' ? monthStart(bucket) : bucket;
    let e = entries.get(start);
    if (e === undefined) {
      e = { unixtime: Math.floor(start / 1000), date: periodLabel(labelPeriod, start), map: {} };
      entries.set(start, e);
    }
    addTo(e.map, r);
  }
  return [...entries.values()]
    .sort((a, b) => a.unixtime - b.unixtime)
    .map((e) =>
      service === 'beam'
        ? { date: e.date, unixtime: e.unixtime, [MAP_FIELD[service]]: e.map }
        : { unixtime: e.unixtime, [MAP_FIELD[service]]: e.map },
    );
}

/** The CSV columns of an operator's export, SORACOM's first (imsi, date, type, count). */
export function statsCsvHeader(service: BeamService): string[] {
  return [
    'imsi',
    'date',
    `soracom${upperFirst(service)}Type`,
    'count',
    'simId',
    'uploadByteSizeTotal',
    'downloadByteSizeTotal',
    'refusedCount',
    'failedCount',
  ];
}

/** Rows read per page by the export: memory stays bounded whatever the operator's size. */
const EXPORT_PAGE = 2_000;

/**
 * Every IMSI's usage of `service` for the days (or months) in [fromMs, toMs], as CSV rows ordered by
 * IMSI and date: one row per type key (`<service>_inHttp`, `<service>_outHttps`, … as SORACOM's
 * Funk report names them). Pages through beam_usage by (imsi, bucket_start).
 */
export async function* statsCsvRows(
  db: Executor,
  operatorId: string,
  service: BeamService,
  query: { fromMs: number; toMs: number; period: ExportPeriod; pageSize?: number },
): AsyncGenerator<(string | number)[]> {
  const { fromMs, toMs, period } = query;
  const pageSize = query.pageSize ?? EXPORT_PAGE;
  checkRange(fromMs, toMs, period);
  const first = period === 'month' ? monthStart(fromMs) : Math.floor(fromMs / DAY_MS) * DAY_MS;
  let after: { imsi: string; bucket: number } | undefined;
  // One IMSI's open month (or day) is carried across pages until its period ends.
  let open: { imsi: string; simId: string; start: number; map: Record<string, StatsCount> } | undefined;
  const emit = function* (o: NonNullable<typeof open>) {
    const date = periodLabel(period, o.start);
    for (const key of Object.keys(o.map).sort()) {
      const v = o.map[key]!;
      const isIn = key.startsWith('in');
      yield [
        o.imsi,
        date,
        `${service}_${key}`,
        v.count,
        o.simId,
        isIn ? (v.uploadByteSizeTotal ?? 0) : '',
        isIn ? (v.downloadByteSizeTotal ?? 0) : '',
        isIn ? (v.refusedCount ?? 0) : '',
        isIn ? (v.failedCount ?? 0) : '',
      ];
    }
  };
  // The day buckets of this operator and service, with every column a row of the export needs.
  const dayRows = () =>
    db
      .selectFrom('beam_usage')
      .select([
        'imsi',
        'sim_id',
        'entry_point',
        'destination',
        'bucket_start',
        'requests',
        'delivered',
        'refused',
        'failed',
        'bytes_up',
        'bytes_down',
      ])
      .where('operator_id', '=', operatorId)
      .where('service', '=', service)
      .where('period', '=', 'day');
  for (;;) {
    let q = dayRows().where('bucket_start', '>=', first).where('bucket_start', '<=', toMs);
    if (after !== undefined) {
      const { imsi, bucket } = after;
      q = q.where((eb) =>
        eb.or([eb('imsi', '>', imsi), eb.and([eb('imsi', '=', imsi), eb('bucket_start', '>', bucket)])]),
      );
    }
    const rows = await q.orderBy('imsi').orderBy('bucket_start').limit(pageSize).execute();
    // A page may end inside one (imsi, bucket): rows of the same key are read whole by fetching
    // the rest of that bucket before moving on.
    const last = rows.at(-1);
    if (last !== undefined && rows.length === pageSize) {
      const rest = await dayRows()
        .where('imsi', '=', last.imsi)
        .where('bucket_start', '=', Number(last.bucket_start))
        .execute();
      const seen = new Set(
        rows
          .filter((r) => r.imsi === last.imsi && Number(r.bucket_start) === Number(last.bucket_start))
          .map((r) => `${r.entry_point}\0${r.destination}`),
      );
      for (const r of rest) if (!seen.has(`${r.entry_point}\0${r.destination}`)) rows.push(r);
    }
    for (const r of rows) {
      const bucket = Number(r.bucket_start);
      const start = period === 'month' ? monthStart(bucket) : bucket;
      if (open !== undefined && (open.imsi !== r.imsi || open.start !== start)) {
        yield* emit(open);
        open = undefined;
      }
      open ??= { imsi: r.imsi, simId: r.sim_id, start, map: {} };
      addTo(open.map, r);
    }
    if (last === undefined || rows.length < pageSize) break;
    after = { imsi: last.imsi, bucket: Number(last.bucket_start) };
  }
  if (open !== undefined) yield* emit(open);
}

export interface SimServiceStatus {
  readonly service: BeamService;
  readonly imsi: string;
  /** Unix ms of the last delivery, or null. */
  readonly lastDeliveryTime: number | null;
  readonly lastDeliveryEntryPoint: string | null;
  readonly lastErrorTime: number | null;
  readonly lastError: string | null;
  readonly lastErrorEntryPoint: string | null;
}

/** The SIM's last delivery and last error per service (what has been flushed). */
export async function simServiceStatus(
  db: Executor,
  operatorId: string,
  simId: string,
): Promise<SimServiceStatus[]> {
  const rows = await db
    .selectFrom('beam_sim_status')
    .selectAll()
    .where('operator_id', '=', operatorId)
    .where('sim_id', '=', simId)
    .orderBy('service')
    .execute();
  const ms = (v: number | string | null) => (v === null ? null : Number(v));
  return rows.map((r) => ({
    service: r.service as BeamService,
    imsi: r.imsi,
    lastDeliveryTime: ms(r.last_delivery_at),
    lastDeliveryEntryPoint: r.last_delivery_entry_point,
    lastErrorTime: ms(r.last_error_at),
    lastError: r.last_error,
    lastErrorEntryPoint: r.last_error_entry_point,
  }));
}
