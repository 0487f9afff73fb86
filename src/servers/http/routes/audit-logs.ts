// GET /v1/audit_logs: the operator's audit trail, newest first, filtered and paged.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { listAudit } from '../../../platform/audit/audit-log.js';
import type { Platform } from '../../../platform/platform.js';
import { pageSize, setNextPage } from '../pagination.js';
import { Limit, QueryInteger, responses, UnixMsQuery } from '../schemas/common.js';

const AuditLog = Type.Object({
  id: Type.Integer(),
  time: Type.Integer({ description: 'Unix milliseconds' }),
  operatorId: Type.String(),
  actor: Type.Object({
    kind: Type.String(),
    id: Type.String(),
    userName: Type.Union([Type.String(), Type.Null()]),
    authKeyId: Type.Union([Type.String(), Type.Null()]),
  }),
  operationId: Type.String(),
  method: Type.Union([Type.String(), Type.Null()]),
  path: Type.Union([Type.String(), Type.Null()]),
  params: Type.Record(Type.String(), Type.String()),
  sourceIp: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  result: Type.String(),
  statusCode: Type.Union([Type.Integer(), Type.Null()]),
  detail: Type.Record(Type.String(), Type.Unknown()),
});

export const auditLogRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/audit_logs',
      {
        schema: {
          tags: ['AuditLog'],
          operationId: 'listAuditLogs',
          summary:
            'Audit records (every mutating call, every login attempt, every refused call), newest first; filtered and paged.',
          querystring: Type.Object(
            {
              limit: Type.Optional(Limit),
              last_evaluated_key: Type.Optional(QueryInteger(1, Number.MAX_SAFE_INTEGER)),
              operation_id: Type.Optional(Type.String({ maxLength: 100 })),
              actor_id: Type.Optional(Type.String({ maxLength: 254 })),
              user_name: Type.Optional(
                Type.String({ maxLength: 100, description: 'a sub-user (also via their keys)' }),
              ),
              auth_key_id: Type.Optional(Type.String({ maxLength: 64 })),
              source_ip: Type.Optional(Type.String({ maxLength: 64 })),
              result: Type.Optional(
                Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')]),
              ),
              from: Type.Optional(UnixMsQuery('Unix ms, inclusive')),
              to: Type.Optional(UnixMsQuery('Unix ms, exclusive')),
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Array(AuditLog) }),
        },
      },
      async (request, reply) => {
        const q = request.query;
        const page = await listAudit(platform.store.db, request.principal!.operatorId, {
          operationId: q.operation_id,
          actorId: q.actor_id,
          userName: q.user_name,
          authKeyId: q.auth_key_id,
          sourceIp: q.source_ip,
          result: q.result,
          from: q.from,
          to: q.to,
          before: q.last_evaluated_key,
          limit: pageSize(q.limit),
        });
        setNextPage(request, reply, page.nextKey);
        return page.records;
      },
    );
  };
