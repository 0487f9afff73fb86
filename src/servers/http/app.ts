// buildApp(options) → the API as a Fastify instance: one plugin per domain under /v1, schema-first
// routes (TypeBox → validation, serialization and OpenAPI from one object), request ids, errors as
// {code, message}, deny-by-default authentication, metrics, health, and the docs page.

import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { Platform } from '../../platform/platform.js';
import { TableRowCounts } from '../../platform/retention.js';
import { registerAuth } from './plugins/auth.js';
import { registerConsole } from './plugins/console.js';
import { registerErrorHandling } from './plugins/errors.js';
import { registerJsonBodyParser } from './plugins/json-body.js';
import { registerMetrics } from './plugins/metrics.js';
import { registerQueryNumberCheck } from './plugins/query-numbers.js';
import { registerTextInputCheck } from './plugins/text-input.js';
import { antiTheftRoutes } from './routes/anti-theft.js';
import { auditLogRoutes } from './routes/audit-logs.js';
import { authRoutes } from './routes/auth.js';
import { beamStatsRoutes } from './routes/beam-stats.js';
import { credentialRoutes } from './routes/credentials.js';
import { directoryRoutes } from './routes/directories.js';
import { endorseKeyRoutes, endorsePublicKeyRoutes } from './routes/endorse.js';
import { esimOperationRoutes } from './routes/esim-operations.js';
import { eventHandlerRoutes } from './routes/event-handlers.js';
import { exportedFileRoutes } from './routes/exported-files.js';
import { gatewayApplicationRoutes } from './routes/gateway-applications.js';
import { groupRoutes } from './routes/groups.js';
import { smsMfaRoutes } from './routes/mfa-sms.js';
import { operatorRoutes } from './routes/operators.js';
import { permissionRoutes } from './routes/permissions.js';
import { radiusClientRoutes } from './routes/radius-clients.js';
import { roleRoutes } from './routes/roles.js';
import { sessionRoutes } from './routes/sessions.js';
import { simRoutes } from './routes/sims.js';
import { statsRoutes } from './routes/stats.js';
import { systemRoutes } from './routes/system.js';
import { userRoutes } from './routes/users.js';
import { vpgRoutes } from './routes/vpg.js';
import { ErrorBody } from './schemas/common.js';
import { EventHandler } from './schemas/event-handlers.js';
import { Group } from './schemas/groups.js';
import { Cell, Sim } from './schemas/sims.js';

export interface BuildAppOptions {
  readonly platform: Platform;
  /** A pino logger; omit for no logging (tests). */
  readonly logger?: FastifyBaseLogger;
  readonly metricsRegistry?: Registry;
}

export interface App {
  readonly app: FastifyInstance;
  readonly metrics: Registry;
  /**
   * Resolves when no route handler is running. After `app.close()` a handler whose client went away
   * may still be working; the platform must stay open until it is done.
   */
  drained(): Promise<void>;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export const VERSION = '0.1.0';

export async function buildApp(options: BuildAppOptions): Promise<App> {
  const { platform } = options;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: platform.config.httpBodyLimitBytes,
    trustProxy: platform.config.httpTrustProxy,
    // A caller's X-Request-Id is kept when it is a sane token; otherwise we make one.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    },
    ajv: {
      // Unknown fields are refused (not silently dropped); query strings are coerced to their types
      // once plugins/query-numbers.ts has checked that numbers are plain decimals. `verbose` gives the
      // error handler the schema of a failed enum, so it can list the allowed values.
      customOptions: {
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        allErrors: false,
        verbose: true,
      },
      plugins: [addFormats as never],
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Requests whose handler has started and not yet answered (see App.drained).
  const handling = new Set<FastifyRequest>();
  const idle: Array<() => void> = [];
  app.addHook('preHandler', async (request) => {
    handling.add(request);
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // onSend runs once a handler has produced its answer (or error), even if the client has gone.
    if (handling.delete(request) && handling.size === 0) for (const resolve of idle.splice(0)) resolve();
  });

  // The API speaks JSON (and text/csv for the import); a text/plain body is refused with 415.
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app);
  registerQueryNumberCheck(app);
  registerTextInputCheck(app);
  app.addSchema(ErrorBody);
  app.addSchema(Cell);
  app.addSchema(Sim);
  app.addSchema(Group);
  app.addSchema(EventHandler);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'simtrust API',
        version: VERSION,
        description:
          'The SIM as the root of trust for IoT fleets. Authenticate with POST /v1/auth, then send `Authorization: Bearer <token>` (or X-Soracom-API-Key + X-Soracom-Token). Errors are `{code, message}`; codes are listed in docs/errors.md.',
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          api_key: { type: 'apiKey', in: 'header', name: 'X-Soracom-API-Key' },
          api_token: { type: 'apiKey', in: 'header', name: 'X-Soracom-Token' },
        },
      },
      security: [{ bearer: [] }, { api_key: [], api_token: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  registerErrorHandling(app);
  await registerAuth(app, platform);
  const metrics = registerMetrics(
    app,
    options.metricsRegistry,
    new TableRowCounts(platform.store, platform.clock),
  );

  await app.register(systemRoutes(platform));
  await app.register(authRoutes(platform), { prefix: '/v1' });
  await app.register(operatorRoutes(platform), { prefix: '/v1' });
  await app.register(userRoutes(platform), { prefix: '/v1' });
  await app.register(roleRoutes(platform), { prefix: '/v1' });
  await app.register(simRoutes(platform), { prefix: '/v1' });
  await app.register(groupRoutes(platform), { prefix: '/v1' });
  await app.register(auditLogRoutes(platform), { prefix: '/v1' });
  await app.register(radiusClientRoutes(platform), { prefix: '/v1' });
  await app.register(sessionRoutes(platform), { prefix: '/v1' });
  await app.register(antiTheftRoutes(platform), { prefix: '/v1' });
  await app.register(statsRoutes(platform), { prefix: '/v1' });
  await app.register(beamStatsRoutes(platform), { prefix: '/v1' });
  await app.register(exportedFileRoutes(platform), { prefix: '/v1' });
  await app.register(endorsePublicKeyRoutes(platform));
  await app.register(endorseKeyRoutes(platform), { prefix: '/v1' });
  await app.register(directoryRoutes(platform), { prefix: '/v1' });
  await app.register(gatewayApplicationRoutes(platform), { prefix: '/v1' });
  await app.register(smsMfaRoutes(platform), { prefix: '/v1' });
  await app.register(permissionRoutes(platform), { prefix: '/v1' });
  await app.register(eventHandlerRoutes(platform), { prefix: '/v1' });
  await app.register(esimOperationRoutes(platform), { prefix: '/v1' });
  await app.register(credentialRoutes(platform), { prefix: '/v1' });
  await app.register(vpgRoutes(platform), { prefix: '/v1' });
  // The operator console (web/) and its cookie session: /console/.
  await registerConsole(app, platform);
  await app.ready();
  return {
    app,
    metrics,
    drained: () => (handling.size === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve))),
  };
}
