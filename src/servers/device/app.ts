// The device-facing listener (deviceHttpHost:deviceHttpPort): what a device reaches over its data
// session, with no credentials at all — the source address *is* the credential, because the AAA
// bound it to the SIM when it admitted the session.
//
//   GET|POST /, /v1/endorse            → {"token"} (or 302 to an authorised redirect_url)
//   OPTIONS  /, /v1/endorse            → CORS preflight, only for the SIM group's allowOrigin
//   POST /v1/endorse/challenges        → AKA challenge for a device on Wi-Fi only
//   POST /v1/endorse/challenges/:id/response
//   GET /v1/operators/:operator_id/endorse/jwks.json, …/endorse/keys/:kid (PEM): each operator's keys
//   GET /.well-known/jwks.json, GET /v1/endorse/keys/:kid: the same, on a single-operator platform
//
// A token is signed with the key of the SIM's own operator (issue 11), whichever listener or
// address it was asked from.

import formbody from '@fastify/formbody';
import {
  type FastifyPluginAsyncTypebox,
  Type,
  type TypeBoxTypeProvider,
} from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { SimtrustError } from '../../lib/errors.js';
import { fromHex } from '../../lib/hex.js';
import type { Platform } from '../../platform/platform.js';
import { registerErrorHandling } from '../http/plugins/errors.js';
import { endorsePublicKeyRoutes } from '../http/routes/endorse.js';
import { ErrorBody } from '../http/schemas/common.js';

export interface BuildDeviceAppOptions {
  readonly platform: Platform;
  readonly logger?: FastifyBaseLogger;
}

const TOKEN_PATHS = ['/', '/v1/endorse'] as const;

/** `::ffff:10.0.0.5` (an IPv4 client on a dual-stack socket) is the session address 10.0.0.5. */
export function sourceAddress(request: FastifyRequest): string {
  const raw = request.socket.remoteAddress ?? '';
  return raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw;
}

const Token = Type.Object({ token: Type.String() });
const ChallengeBody = Type.Object(
  {
    challengeId: Type.String(),
    rand: Type.String({ description: 'RAND, 32 hex digits' }),
    autn: Type.String({ description: 'AUTN, 32 hex digits' }),
  },
  { description: 'Give RAND and AUTN to the SIM (AUTHENTICATE, TS 31.102 §7.1.2) and post its answer.' },
);
const HEX = (min: number, max: number, description: string) =>
  Type.String({ pattern: `^([0-9a-fA-F]{2}){${min},${max}}$`, description });

export async function buildDeviceApp(options: BuildDeviceAppOptions): Promise<FastifyInstance> {
  const { platform } = options;
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: 65_536,
    // The source address must be the socket's: a forwarded header would let anyone claim a SIM.
    trustProxy: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(ErrorBody);
  registerErrorHandling(app);
  // SORACOM's redirect flow posts an HTML form (application/x-www-form-urlencoded).
  await app.register(formbody, { bodyLimit: 65_536 });
  await app.register(endorsePublicKeyRoutes(platform));
  await app.register(tokenRoutes(platform));
  await app.register(challengeRoutes(platform));
  await app.ready();
  return app;
}

/** CORS answers only the one origin the SIM's group allows, and only when the browser sent it. */
function cors(request: FastifyRequest, reply: FastifyReply, allowOrigin: string | null): void {
  reply.header('vary', 'Origin');
  if (allowOrigin !== null && request.headers.origin === allowOrigin) {
    reply.header('access-control-allow-origin', allowOrigin);
  }
}

function parameters(request: FastifyRequest): { parameters: Record<string, unknown>; redirectUrl?: string } {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const body = request.body;
  const fromBody =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : {};
  const all: Record<string, unknown> = { ...fromBody, ...query };
  const { redirect_url: redirect, ...rest } = all;
  if (redirect !== undefined && typeof redirect !== 'string') {
    throw new SimtrustError('ERR_VALIDATION', 'redirect_url must be given once');
  }
  return { parameters: rest, ...(redirect === undefined ? {} : { redirectUrl: redirect }) };
}

const tokenRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    for (const url of TOKEN_PATHS) {
      app.route({
        method: ['GET', 'POST'],
        url,
        schema: {
          tags: ['Endorse'],
          operationId: url === '/' ? 'getEndorseTokenRoot' : 'getEndorseToken',
          summary: 'A signed token for the SIM whose data session owns the source address.',
          response: { 200: Token, 302: Type.Null(), 400: Type.Ref('Error'), 403: Type.Ref('Error') },
        },
        handler: async (request, reply) => {
          const answer = await platform.endorse.tokenForAddress(sourceAddress(request), parameters(request));
          cors(request, reply, answer.allowOrigin);
          reply.header('cache-control', 'no-store');
          if (answer.location !== undefined) return reply.redirect(answer.location, 302);
          return { token: answer.token };
        },
      });
      app.options(url, { schema: { hide: true } }, async (request, reply) => {
        cors(request, reply, await platform.endorse.allowOriginForAddress(sourceAddress(request)));
        if (reply.hasHeader('access-control-allow-origin')) {
          reply.header('access-control-allow-methods', 'GET, POST');
          reply.header('access-control-allow-headers', 'content-type');
          reply.header('access-control-max-age', '600');
        }
        return reply.status(204).send();
      });
    }
  };

const challengeRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/v1/endorse/challenges',
      {
        schema: {
          tags: ['Endorse'],
          operationId: 'createEndorseChallenge',
          summary: 'Start an AKA challenge for a SIM (device on any link); one use, 60 s, 3 attempts.',
          body: Type.Object(
            { imsi: Type.String({ pattern: '^[0-9]{6,15}$' }) },
            { additionalProperties: false },
          ),
          response: { 201: ChallengeBody, 400: Type.Ref('Error'), 429: Type.Ref('Error') },
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        return reply.status(201).send(await platform.endorse.startChallenge(request.body.imsi));
      },
    );
    app.post(
      '/v1/endorse/challenges/:challengeId/response',
      {
        schema: {
          tags: ['Endorse'],
          operationId: 'answerEndorseChallenge',
          summary:
            "Answer with the SIM's RES (→ token) or, after a synchronisation failure, its AUTS (→ a new challenge).",
          params: Type.Object({ challengeId: Type.String({ pattern: '^[0-9a-f-]{36}$' }) }),
          body: Type.Union([
            Type.Object({ res: HEX(4, 16, 'RES, 8 to 32 hex digits') }, { additionalProperties: false }),
            Type.Object({ auts: HEX(14, 14, 'AUTS, 28 hex digits') }, { additionalProperties: false }),
          ]),
          response: {
            200: Token,
            201: ChallengeBody,
            400: Type.Ref('Error'),
            401: Type.Ref('Error'),
            403: Type.Ref('Error'),
            404: Type.Ref('Error'),
            429: Type.Ref('Error'),
          },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const answer =
          'res' in body
            ? { res: fromHex(body.res) ?? new Uint8Array() }
            : { auts: fromHex(body.auts) ?? new Uint8Array() };
        const result = await platform.endorse.answerChallenge(request.params.challengeId, answer);
        reply.header('cache-control', 'no-store');
        return 'token' in result ? reply.status(200).send(result) : reply.status(201).send(result);
      },
    );
  };
