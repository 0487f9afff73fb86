// Beam, Funnel and Funk usage (issue 17), in SORACOM's Stats shapes:
//   GET  /stats/{beam,funnel,funk}/subscribers/{imsi}?from&to&period   (getBeamStats, …)
//   POST /stats/{beam,funnel,funk}/operators/{operator_id}/export      (exportBeamStats, …)
// and, per SIM, the last delivery and last error of each service: GET /sims/{sim_id}/beam_status.
// Usage is what the entry points recorded (platform/beam/usage.ts), at most a few seconds behind.

import { type FastifyPluginAsyncTypebox, type TSchema, Type } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { simServiceStatus, subscriberStats } from '../../../platform/beam/stats.js';
import { statsExportKind } from '../../../platform/beam/stats-export.js';
import type { BeamService } from '../../../platform/beam/usage.js';
import type { ExportedFile } from '../../../platform/exports/export-service.js';
import type { Platform } from '../../../platform/platform.js';
import { responses, UnixSecondsQuery } from '../schemas/common.js';
import { SimIdParams } from '../schemas/sims.js';

const Count = Type.Object({
  count: Type.Integer({
    description: 'in*: requests and messages the entry point received; out*: delivered onwards',
  }),
  uploadByteSizeTotal: Type.Optional(
    Type.Integer({ description: 'in* only (simtrust): bytes from the device' }),
  ),
  downloadByteSizeTotal: Type.Optional(
    Type.Integer({ description: 'in* only (simtrust): bytes to the device' }),
  ),
  refusedCount: Type.Optional(Type.Integer({ description: 'in* only (simtrust): refused by the platform' })),
  failedCount: Type.Optional(Type.Integer({ description: 'in* only (simtrust): the destination failed' })),
});

const StatsMap = Type.Record(Type.String(), Count, {
  description:
    'By type: in<EntryPoint> (inHttp, inMqtt, inTcp, inUdp) and out<Destination> (outHttps, outMqtts, outAmqp, outNatsJetstream, …)',
});

const ENTRY: Record<BeamService, { name: string; op: string; exportOp: string; schema: TSchema }> = {
  beam: {
    name: 'Beam',
    op: 'getBeamStats',
    exportOp: 'exportBeamStats',
    schema: Type.Object({
      date: Type.String({ description: 'UTC: yyyyMMddHH (hour), yyyyMMdd (day), yyyyMM (month)' }),
      unixtime: Type.Integer({ description: 'Start of the period, Unix seconds' }),
      beamStatsMap: StatsMap,
    }),
  },
  funnel: {
    name: 'Funnel',
    op: 'getFunnelStats',
    exportOp: 'exportFunnelStats',
    schema: Type.Object({
      unixtime: Type.Integer({ description: 'Start of the period, Unix seconds' }),
      funnelStatsMap: StatsMap,
    }),
  },
  funk: {
    name: 'Funk',
    op: 'getFunkStats',
    exportOp: 'exportFunkStats',
    schema: Type.Object({
      unixtime: Type.Integer({ description: 'Start of the period, Unix seconds' }),
      funkStatsMap: StatsMap,
    }),
  },
};

export const ImsiParams = Type.Object({
  imsi: Type.String({ pattern: '^[0-9]{6,15}$', description: 'IMSI (6–15 digits)' }),
});

const OperatorIdParams = Type.Object({
  operator_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' }),
});

const StatsQuery = Type.Object(
  {
    from: UnixSecondsQuery('Start, Unix seconds'),
    to: UnixSecondsQuery('End, Unix seconds'),
    period: Type.Union(
      [Type.Literal('minutes'), Type.Literal('hour'), Type.Literal('day'), Type.Literal('month')],
      {
        default: 'day',
        description:
          'minutes and hour: hourly buckets (the finest kept, 93 days at most); day (3 years); month (10 years)',
      },
    ),
  },
  { additionalProperties: false },
);

/** SORACOM's ExportRequest: Unix seconds and the unit of the rows. */
export const ExportRequestBody = Type.Object(
  {
    from: Type.Integer({ minimum: 0, maximum: 8_640_000_000_000, description: 'Start, Unix seconds' }),
    to: Type.Integer({ minimum: 0, maximum: 8_640_000_000_000, description: 'End, Unix seconds' }),
    period: Type.Union([Type.Literal('day'), Type.Literal('month')], {
      description: 'Rows per day or per month',
    }),
  },
  { additionalProperties: false },
);

export const ExportModeQuery = Type.Object(
  {
    export_mode: Type.Union([Type.Literal('sync'), Type.Literal('async')], {
      default: 'sync',
      description:
        'sync: answer with the download url once written; async: answer at once with exportedFileId',
    }),
  },
  { additionalProperties: false },
);

/** SORACOM's FileExportResponse. */
export const FileExportResponse = Type.Object({
  url: Type.Optional(
    Type.String({ description: 'sync: the download URL (short-lived, no credentials needed)' }),
  ),
  exportedFileId: Type.Optional(
    Type.String({ description: 'async: ask GET /v1/files/exported/{exportedFileId} for the URL' }),
  ),
  exportedFilePath: Type.Optional(Type.String({ description: 'async: where the file is written' })),
});

const SimBeamStatus = Type.Object({
  simId: Type.String(),
  services: Type.Array(
    Type.Object({
      service: Type.String({ description: 'beam, funnel or funk' }),
      imsi: Type.String(),
      lastDeliveryTime: Type.Union([Type.Integer(), Type.Null()], { description: 'Unix milliseconds' }),
      lastDeliveryEntryPoint: Type.Union([Type.String(), Type.Null()]),
      lastErrorTime: Type.Union([Type.Integer(), Type.Null()], { description: 'Unix milliseconds' }),
      lastError: Type.Union([Type.String(), Type.Null()], {
        description: 'What went wrong (never a secret)',
      }),
      lastErrorEntryPoint: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});

/** The absolute download URL of an exported file (the caller's own scheme and host). */
export async function downloadUrl(
  platform: Platform,
  request: FastifyRequest,
  file: ExportedFile,
): Promise<string> {
  const { token } = await platform.exports.issueDownload(file.operatorId, file.fileId);
  return `${request.protocol}://${request.host}/v1/files/exported/${file.fileId}/download?token=${token}`;
}

/**
 * An export of `kind` in the requested mode, answered as SORACOM's FileExportResponse. Shared by
 * every stats export (issue 19's /stats/air export too).
 */
export async function answerExport(
  platform: Platform,
  request: FastifyRequest,
  kind: string,
  params: unknown,
  mode: 'sync' | 'async',
): Promise<{ url?: string; exportedFileId?: string; exportedFilePath?: string }> {
  const operatorId = request.principal!.operatorId;
  if (mode === 'async') {
    const file = await platform.exports.start(operatorId, kind, params);
    return { exportedFileId: file.fileId, exportedFilePath: file.filePath };
  }
  const file = await platform.exports.run(operatorId, kind, params);
  return { url: await downloadUrl(platform, request, file) };
}

export const beamStatsRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    for (const service of ['beam', 'funnel', 'funk'] as const) {
      const e = ENTRY[service];
      app.get(
        `/stats/${service}/subscribers/:imsi`,
        {
          schema: {
            tags: ['Stats'],
            operationId: e.op,
            summary: `${e.name} usage of a subscriber (IMSI) per hour, day or month; periods without usage omitted.`,
            params: ImsiParams,
            querystring: StatsQuery,
            response: responses({ 200: Type.Array(e.schema) }, 404),
          },
        },
        async (request) => {
          const { from, to, period } = request.query;
          return subscriberStats(
            platform.store.db,
            request.principal!.operatorId,
            service,
            request.params.imsi,
            {
              fromMs: from * 1000,
              toMs: to * 1000,
              period,
            },
          );
        },
      );
      app.post(
        `/stats/${service}/operators/:operator_id/export`,
        {
          schema: {
            tags: ['Stats'],
            operationId: e.exportOp,
            summary: `Export the ${e.name} usage of every subscriber as CSV (per day or month).`,
            params: OperatorIdParams,
            querystring: ExportModeQuery,
            body: ExportRequestBody,
            response: responses({ 200: FileExportResponse }, 404, 409),
          },
        },
        async (request) =>
          answerExport(platform, request, statsExportKind(service), request.body, request.query.export_mode),
      );
    }

    app.get(
      '/sims/:sim_id/beam_status',
      {
        schema: {
          tags: ['Sim'],
          operationId: 'getSimBeamStatus',
          summary:
            'The last delivery and the last error of the SIM through Beam, Funnel and Funk, per service (a few seconds behind).',
          params: SimIdParams,
          response: responses({ 200: SimBeamStatus }, 404),
        },
      },
      async (request) => {
        const operatorId = request.principal!.operatorId;
        await platform.sims.get(operatorId, request.params.sim_id);
        return {
          simId: request.params.sim_id,
          services: await simServiceStatus(platform.store.db, operatorId, request.params.sim_id),
        };
      },
    );
  };
