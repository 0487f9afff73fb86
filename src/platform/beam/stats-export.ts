// The operator's usage export of Beam, Funnel and Funk (POST /stats/{beam,funnel,funk}/operators/
// {operator_id}/export): export kinds `beam-stats`, `funnel-stats`, `funk-stats` of the exports
// service, each a CSV of every IMSI's usage per day or month (beam/stats.ts statsCsvRows).

import { SimtrustError } from '../../lib/errors.js';
import type { ExportService } from '../exports/export-service.js';
import { checkRange, type ExportPeriod, periodLabel, statsCsvHeader, statsCsvRows } from './stats.js';
import { BEAM_SERVICES, type BeamService } from './usage.js';

/** The stored parameters of a stats export: Unix seconds, as the request gave them. */
export interface StatsExportParams {
  readonly from: number;
  readonly to: number;
  readonly period: ExportPeriod;
}

export const statsExportKind = (service: BeamService): string => `${service}-stats`;

function parse(params: unknown): StatsExportParams {
  const p = params as Partial<Record<keyof StatsExportParams, unknown>> | null;
  const from = p?.from;
  const to = p?.to;
  const period = p?.period;
  if (
    typeof from !== 'number' ||
    typeof to !== 'number' ||
    !Number.isSafeInteger(from) ||
    !Number.isSafeInteger(to) ||
    from < 0 ||
    to < 0
  )
    throw new SimtrustError('ERR_VALIDATION', '`from` and `to` must be Unix seconds');
  if (period !== 'day' && period !== 'month')
    throw new SimtrustError('ERR_VALIDATION', '`period` must be day or month');
  checkRange(from * 1000, to * 1000, period);
  return { from, to, period };
}

export function registerStatsExports(exports: ExportService): void {
  for (const service of BEAM_SERVICES) {
    exports.register<StatsExportParams>(statsExportKind(service), {
      parse,
      fileName: (p) =>
        `${service}-stats-${periodLabel('day', p.from * 1000)}-${periodLabel('day', p.to * 1000)}-${p.period}.csv`,
      header: () => statsCsvHeader(service),
      rows: (db, operatorId, p) =>
        statsCsvRows(db, operatorId, service, { fromMs: p.from * 1000, toMs: p.to * 1000, period: p.period }),
    });
  }
}
