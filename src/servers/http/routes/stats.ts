// Usage statistics in SORACOM's shape: GET /v1/stats/air/sims/{sim_id}?from&to&period — bytes and
// packets up and down per hour, day or month, by speed class, counted from accounting deltas.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { simUsage } from '../../../platform/aaa/usage.js';
import type { Platform } from '../../../platform/platform.js';
import { responses, UnixSecondsQuery } from '../schemas/common.js';
import { SimIdParams } from '../schemas/sims.js';

const Traffic = Type.Object({
  uploadByteSizeTotal: Type.Integer(),
  downloadByteSizeTotal: Type.Integer(),
  uploadPacketSizeTotal: Type.Integer(),
  downloadPacketSizeTotal: Type.Integer(),
});

const AirStats = Type.Object({
  date: Type.String({ description: 'UTC: yyyyMMddHH (hour), yyyyMMdd (day), yyyyMM (month)' }),
  unixtime: Type.Integer({ description: 'Start of the period, Unix seconds' }),
  dataTrafficStatsMap: Type.Record(Type.String(), Traffic, { description: 'By speed class' }),
});

export const statsRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/stats/air/sims/:sim_id',
      {
        schema: {
          tags: ['Stats'],
          operationId: 'getAirStatsOfSim',
          summary:
            'Data usage of a SIM per hour, day or month (upload = from the device), periods without traffic omitted.',
          params: SimIdParams,
          querystring: Type.Object(
            {
              from: UnixSecondsQuery('Unix seconds'),
              to: UnixSecondsQuery('Unix seconds'),
              period: Type.Union([Type.Literal('hour'), Type.Literal('day'), Type.Literal('month')], {
                default: 'day',
              }),
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Array(AirStats) }, 404),
        },
      },
      async (request) => {
        const operatorId = request.principal!.operatorId;
        await platform.sims.get(operatorId, request.params.sim_id);
        const { from, to, period } = request.query;
        return simUsage(platform.store.db, operatorId, request.params.sim_id, {
          fromMs: from * 1000,
          toMs: to * 1000,
          period,
        });
      },
    );
  };
