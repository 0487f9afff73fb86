// Sessions of a SIM: the session event history (also its location history: each cell change is a
// `Modified` event), refused admissions, Disconnect/CoA outcomes, and ending the session
// (SORACOM's deleteSimSession → RFC 5176 Disconnect-Request to the NAS).

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { SimtrustError } from '../../../lib/errors.js';
import { listDynamicRequests } from '../../../platform/aaa/dynamic-requests.js';
import { listRefusals, listSessionEvents } from '../../../platform/aaa/sessions.js';
import { writeAudit } from '../../../platform/audit/audit-log.js';
import type { Platform } from '../../../platform/platform.js';
import { pageSize, setNextPage } from '../pagination.js';
import { auditContext } from '../plugins/auth.js';
import { LastEvaluatedKey, Limit, responses, UnixMsQuery } from '../schemas/common.js';
import { SimIdParams } from '../schemas/sims.js';

const Tag = 'Sim';
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const SessionEvent = Type.Object({
  time: Type.Integer({ description: 'Unix milliseconds' }),
  event: Type.Union([Type.Literal('Created'), Type.Literal('Modified'), Type.Literal('Deleted')]),
  sessionId: Type.String(),
  simId: Type.String(),
  operatorId: Type.String(),
  imsi: Type.String(),
  imei: Nullable(Type.String()),
  ueIpAddress: Nullable(Type.String()),
  apn: Nullable(Type.String()),
  cell: Nullable(Type.Ref('Cell')),
});

const Refusal = Type.Object({
  time: Type.Integer({ description: 'Unix milliseconds' }),
  code: Type.String({
    description: 'SIM_NOT_ALLOWED, IMEI_MISMATCH, APN_NOT_ALLOWED or ANTI_THEFT_BLOCKED (quarantine IMSI)',
  }),
  reason: Type.String(),
  access: Type.String({ description: 'packet-gateway, wifi or gsup (a PS UpdateLocation)' }),
  imsi: Type.String(),
  imei: Nullable(Type.String()),
  apn: Nullable(Type.String()),
  nasAddress: Nullable(Type.String()),
});

const DynamicRequest = Type.Object({
  id: Type.Integer(),
  kind: Type.Union([Type.Literal('disconnect'), Type.Literal('coa')]),
  reason: Type.String({ description: 'The operation that caused it, e.g. Sim:suspendSim' }),
  sessionId: Type.String(),
  nasAddress: Type.String(),
  detail: Type.Record(Type.String(), Type.Unknown()),
  status: Type.Union(['pending', 'ack', 'nak', 'timeout', 'error'].map((s) => Type.Literal(s))),
  attempts: Type.Integer(),
  errorCause: Nullable(Type.Integer({ description: 'RFC 5176 §3.5 Error-Cause of a NAK' })),
  createdTime: Type.Integer(),
  completedTime: Nullable(Type.Integer()),
});

const PageQuery = {
  limit: Type.Optional(Limit),
  last_evaluated_key: Type.Optional(LastEvaluatedKey),
};

export const sessionRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const db = platform.store.db;
    /** 404 unless the SIM belongs to the caller's operator. */
    const requireSim = (operatorId: string, simId: string) => platform.sims.get(operatorId, simId);

    app.get(
      '/sims/:sim_id/events/sessions',
      {
        schema: {
          tags: [Tag],
          operationId: 'listSimSessionEvents',
          summary:
            'Session events of the SIM (Created / Modified / Deleted), newest first. Every serving-cell change is a Modified event, so this is also the location history.',
          params: SimIdParams,
          querystring: Type.Object(
            {
              from: Type.Optional(UnixMsQuery('Unix milliseconds (inclusive)')),
              to: Type.Optional(UnixMsQuery('Unix milliseconds (inclusive)')),
              ...PageQuery,
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Array(SessionEvent) }, 404),
        },
      },
      async (request, reply) => {
        const operatorId = request.principal!.operatorId;
        await requireSim(operatorId, request.params.sim_id);
        const q = request.query;
        const page = await listSessionEvents(db, operatorId, request.params.sim_id, {
          from: q.from,
          to: q.to,
          limit: pageSize(q.limit),
          after: q.last_evaluated_key,
        });
        setNextPage(request, reply, page.nextKey);
        return page.items.map(({ id: _id, ...event }) => event);
      },
    );

    app.get(
      '/sims/:sim_id/events/refusals',
      {
        schema: {
          tags: [Tag],
          operationId: 'listSimRefusals',
          summary: 'Refused session attempts of the SIM (status, IMEI lock, APN policy), newest first.',
          params: SimIdParams,
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: Type.Array(Refusal) }, 404),
        },
      },
      async (request, reply) => {
        const operatorId = request.principal!.operatorId;
        await requireSim(operatorId, request.params.sim_id);
        const page = await listRefusals(db, operatorId, request.params.sim_id, {
          limit: pageSize(request.query.limit),
          after: request.query.last_evaluated_key,
        });
        setNextPage(request, reply, page.nextKey);
        return page.items.map(({ id: _id, ...refusal }) => refusal);
      },
    );

    app.get(
      '/sims/:sim_id/events/dynamic_authorization',
      {
        schema: {
          tags: [Tag],
          operationId: 'listSimDynamicAuthorizations',
          summary: 'Disconnect-/CoA-Requests sent for the SIM (RFC 5176) and how each ended, newest first.',
          params: SimIdParams,
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses({ 200: Type.Array(DynamicRequest) }, 404),
        },
      },
      async (request, reply) => {
        const operatorId = request.principal!.operatorId;
        await requireSim(operatorId, request.params.sim_id);
        const page = await listDynamicRequests(db, operatorId, request.params.sim_id, {
          limit: pageSize(request.query.limit),
          after: request.query.last_evaluated_key,
        });
        setNextPage(request, reply, page.nextKey);
        return page.items;
      },
    );

    app.post(
      '/sims/:sim_id/delete_session',
      {
        schema: {
          tags: [Tag],
          operationId: 'deleteSimSession',
          summary:
            'End the SIM’s data sessions: a Disconnect-Request (RFC 5176) to the NAS holding each one. Answers once each NAS acknowledged, refused or timed out.',
          params: SimIdParams,
          response: responses({ 200: Type.Ref('Sim') }, 404, 409, 503),
        },
      },
      async (request) => {
        const ctx = auditContext(request);
        const operatorId = ctx.principal.operatorId;
        const simId = request.params.sim_id;
        await requireSim(operatorId, simId);
        const control = platform.aaa.sessionControl;
        if (!control)
          throw new SimtrustError('ERR_RADIUS_NOT_RUNNING', 'the RADIUS server is not running here');
        const outcomes = await control.disconnect(operatorId, simId, ctx.operationId);
        if (outcomes.length === 0)
          throw new SimtrustError('ERR_NO_SESSION', `SIM ${simId} has no online session`);
        await writeAudit(db, {
          context: ctx,
          result: 'success',
          detail: { simId, sessions: outcomes.map((o) => ({ sessionId: o.sessionId, status: o.status })) },
          at: platform.clock.now(),
        });
        return platform.sims.get(operatorId, simId);
      },
    );
  };
