// POST /v1/auth (SORACOM AuthRequest/AuthResponse shapes): root, user and auth-key login with
// optional MFA code; the session check and logout.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { SimtrustError } from '../../../lib/errors.js';
import type { LoginCredentials } from '../../../platform/iam/login.js';
import { revokeToken } from '../../../platform/iam/tokens.js';
import type { Platform } from '../../../platform/platform.js';
import { requestToken } from '../plugins/auth.js';
import { AuthRequest, AuthResponse } from '../schemas/access.js';
import { responses } from '../schemas/common.js';

type AuthBody = {
  email?: string | undefined;
  password?: string | undefined;
  operatorId?: string | undefined;
  userName?: string | undefined;
  authKeyId?: string | undefined;
  authKey?: string | undefined;
};

/** Exactly one of the three credential shapes; anything else is a clear 400. */
function credentialsOf(b: AuthBody): LoginCredentials {
  const given = (keys: Array<keyof AuthBody>) => keys.every((k) => b[k] !== undefined);
  const count = (keys: Array<keyof AuthBody>) => keys.filter((k) => b[k] !== undefined).length;
  if (given(['authKeyId', 'authKey']) && count(['email', 'password', 'operatorId', 'userName']) === 0) {
    return { authKeyId: b.authKeyId as string, authKey: b.authKey as string };
  }
  if (given(['email', 'password']) && count(['operatorId', 'userName', 'authKeyId', 'authKey']) === 0) {
    return { email: b.email as string, password: b.password as string };
  }
  if (given(['operatorId', 'userName', 'password']) && count(['email', 'authKeyId', 'authKey']) === 0) {
    return {
      operatorId: b.operatorId as string,
      userName: b.userName as string,
      password: b.password as string,
    };
  }
  throw new SimtrustError(
    'ERR_VALIDATION',
    'send {email, password} (root), {operatorId, userName, password} (a user) or {authKeyId, authKey}',
  );
}

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
          summary:
            'Log in (root by email, a user by operator id and name, or an auth key) and receive an API token. With MFA active, send mfaOTPCode.',
          security: [],
          body: AuthRequest,
          response: responses({ 200: AuthResponse }),
        },
      },
      async (request, reply) => {
        const { mfaOTPCode, mfaTransactionId, tokenTimeoutSeconds } = request.body;
        const issued = await platform.access.login
          .login(
            { ...credentialsOf(request.body), mfaOTPCode, mfaTransactionId, tokenTimeoutSeconds },
            { sourceIp: request.ip, requestId: request.id },
          )
          .catch((e: unknown) => {
            // Issue 7: an SMS code was sent; the client needs the login transaction to answer it.
            const id = e instanceof SimtrustError ? e.details?.mfaTransactionId : undefined;
            if (typeof id === 'string') reply.header('x-simtrust-mfa-transaction', id);
            throw e;
          });
        return {
          apiKey: issued.apiKey,
          token: issued.token,
          operatorId: issued.operatorId,
          ...(issued.userName === undefined ? {} : { userName: issued.userName }),
        };
      },
    );

    app.get(
      '/auth/session',
      {
        schema: {
          tags: ['Auth'],
          operationId: 'getSession',
          summary: 'Who the token belongs to (operator, kind of principal, id, user, auth key).',
          response: responses({
            200: Type.Object({
              operatorId: Type.String(),
              kind: Type.String(),
              id: Type.String(),
              userName: Type.Optional(Type.String()),
              authKeyId: Type.Optional(Type.String()),
            }),
          }),
        },
      },
      async (request) => {
        const { operatorId, kind, id, userName, authKeyId } = request.principal!;
        return {
          operatorId,
          kind,
          id,
          ...(userName === undefined ? {} : { userName }),
          ...(authKeyId === undefined ? {} : { authKeyId }),
        };
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
        const token = requestToken(request);
        if (token !== undefined) await revokeToken(platform.store.db, token);
        return reply.status(204).send();
      },
    );
  };
