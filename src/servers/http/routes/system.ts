// Liveness, readiness and the OpenAPI document. These answer without credentials.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { SimtrustError } from '../../../lib/errors.js';
import type { Platform } from '../../../platform/platform.js';

export const systemRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const Status = Type.Object({ status: Type.String() });
    app.get(
      '/health',
      {
        config: { public: true },
        schema: {
          tags: ['System'],
          operationId: 'getHealth',
          summary: 'Liveness: the process answers.',
          response: { 200: Status },
        },
      },
      async () => ({ status: 'ok' }),
    );
    app.get(
      '/ready',
      {
        config: { public: true },
        schema: {
          tags: ['System'],
          operationId: 'getReady',
          summary: 'Readiness: the database is reachable.',
          response: { 200: Status, 503: Type.Ref('Error') },
        },
      },
      async () => {
        try {
          await platform.store.ping();
        } catch (e) {
          throw new SimtrustError('ERR_NOT_READY', `database unreachable: ${(e as Error).message}`);
        }
        return { status: 'ready' };
      },
    );
    app.get(
      '/openapi.json',
      { config: { public: true }, schema: { tags: ['System'], operationId: 'getOpenApi', hide: true } },
      async () => app.swagger(),
    );
  };
