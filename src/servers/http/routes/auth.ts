// POST /v1/auth: log in and receive an API token (SORACOM's AuthRequest/AuthResponse shapes).

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { loginRoot, MAX_TOKEN_TIMEOUT_SECONDS, revokeToken } from '../../../platform/iam/operators.js';
import type { Platform } from '../../../platform/platform.js';
import { responses } from '../schemas/common.js';

const AuthRequest = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    tokenTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 180, maximum: MAX_TOKEN_TIMEOUT_SECONDS })),
  },
  { additionalProperties: false },
);

const AuthResponse = Type.Object({
  apiKey: Type.String(),
  token: Type.String(),
  operatorId: Type.String(),
});

export const authRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/auth',
      {
        config: { public: true },
        schema: {
          tags: ['Auth'],
          operationId: 'auth',
          summary: 'Log in with the operator email and password; returns an API token.',
          security: [],
          body: AuthRequest,
          response: responses({ 200: AuthResponse }),
        },
      },
      async (request) => {
        const { email, password, tokenTimeoutSeconds } = request.body;
        const issued = await loginRoot(platform.store, platform.clock, {
          email,
          password,
          tokenTimeoutSeconds: tokenTimeoutSeconds ?? platform.config.apiTokenTimeoutSeconds,
        });
        return { apiKey: issued.apiKey, token: issued.token, operatorId: issued.operatorId };
      },
    );

    app.get(
      '/auth/session',
      {
        schema: {
          tags: ['Auth'],
          operationId: 'getSession',
          summary: 'Who the token belongs to (operator, kind of principal, id).',
          response: responses({
            200: Type.Object({ operatorId: Type.String(), kind: Type.String(), id: Type.String() }),
          }),
        },
      },
      async (request) => {
        const { operatorId, kind, id } = request.principal!;
        return { operatorId, kind, id };
      },
    );

    app.post(
      '/auth/logout',
      {
        schema: {
          tags: ['Auth'],
          operationId: 'logout',
          summary: 'Revoke the token used for this request.',
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        const header =
          request.headers.authorization?.replace(/^Bearer\s+/i, '') ?? request.headers['x-soracom-token'];
        if (typeof header === 'string') await revokeToken(platform.store.db, header);
        return reply.status(204).send();
      },
    );
  };
