// GET /v1/auth/permissions?apis=Tag:operationId,… — what the caller may do. The console asks this once
// per page so that a SAM user's forbidden actions are absent or disabled with the reason; it decides
// each operation exactly as the permission layer would for a call by the same token (conditions on
// the source address and time included; path variables are unknown here, so a condition on them
// is evaluated without them and the real call may still be refused).

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { SimtrustError } from '../../../lib/errors.js';
import { isRootPrincipal } from '../../../platform/iam/principal.js';
import type { Platform } from '../../../platform/platform.js';
import { responses } from '../schemas/common.js';

const OPERATION = '[A-Za-z][A-Za-z0-9]{0,63}:[A-Za-z][A-Za-z0-9]{0,127}';
/** At most this many operations per question (a page needs a few dozen). */
export const MAX_EVALUATED_OPERATIONS = 100;

export const permissionRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/auth/permissions',
      {
        schema: {
          tags: ['Auth'],
          operationId: 'evaluatePermissions',
          summary:
            'Whether the caller may call each of the given operations (Tag:operationId, comma-separated), and which statement decided.',
          querystring: Type.Object(
            {
              apis: Type.String({
                pattern: `^${OPERATION}(,${OPERATION})*$`,
                maxLength: 8000,
                description: 'Tag:operationId list, comma-separated, e.g. Sim:suspendSim,Sim:listSims',
              }),
            },
            { additionalProperties: false },
          ),
          response: responses({
            200: Type.Object({
              results: Type.Array(
                Type.Object({
                  api: Type.String(),
                  allowed: Type.Boolean(),
                  reason: Type.String({ description: 'root, allowed, explicit-deny or implicit-deny' }),
                  statement: Type.Optional(
                    Type.String({ description: 'The source and index that decided.' }),
                  ),
                }),
              ),
            }),
          }),
        },
      },
      async (request) => {
        const apis = [...new Set(request.query.apis.split(','))];
        if (apis.length > MAX_EVALUATED_OPERATIONS) {
          throw new SimtrustError(
            'ERR_VALIDATION',
            `ask about at most ${MAX_EVALUATED_OPERATIONS} operations at once (got ${apis.length})`,
          );
        }
        const principal = request.principal!;
        const { permissions } = platform.access;
        // One load of the caller's statements for the whole list.
        const sources = isRootPrincipal(principal)
          ? []
          : await permissions.sources(platform.store.db, principal.operatorId, principal.userName as string);
        const results = [];
        for (const api of apis) {
          const d = await platform.access.permissions.authorize(
            principal,
            {
              operation: api,
              sourceIp: request.ip,
            },
            sources,
          );
          results.push({
            api,
            allowed: d.allowed,
            reason: d.reason,
            ...(d.statement ? { statement: `statement ${d.statement.index} of ${d.statement.source}` } : {}),
          });
        }
        return { results };
      },
    );
  };
