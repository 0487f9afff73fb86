// Token signing keys. Public (no credentials, on the API and on the device listener): the JWKS at
// /.well-known/jwks.json and each key's X.509 certificate as PEM by kid (SORACOM's verifiers
// download `<kid>` as a PEM file). Authenticated: listing and rotating the keys.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { ENDORSE_ALGORITHMS } from '../../../platform/endorse/rfc-7515-jws.js';
import type { Platform } from '../../../platform/platform.js';
import { auditContext } from '../plugins/auth.js';
import { responses } from '../schemas/common.js';

/** Verifiers cache the JWKS this long; the publish lead of a new key is longer by default. */
const JWKS_MAX_AGE_SECONDS = 300;

const Jwk = Type.Object(
  {
    kid: Type.String(),
    kty: Type.String(),
    alg: Type.String(),
    use: Type.String(),
    n: Type.Optional(Type.String()),
    e: Type.Optional(Type.String()),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    x5c: Type.Array(Type.String()),
  },
  { description: 'A public key (RFC 7517). The schema has no private member, so none can be sent.' },
);

const KeyView = Type.Object({
  kid: Type.String({ description: 'RFC 7638 thumbprint: the kid of native tokens.' }),
  compatKid: Type.String({
    description: 'SORACOM form v1-<32 hex>-x509.pem: the kid with compat "soracom".',
  }),
  alg: Type.String(),
  state: Type.Union([Type.Literal('pending'), Type.Literal('current'), Type.Literal('retired')]),
  createdTime: Type.Integer({ description: 'Published from (Unix ms).' }),
  activatesTime: Type.Integer({ description: 'Signs from (Unix ms).' }),
  unpublishTime: Type.Union([Type.Integer(), Type.Null()], {
    description: 'Leaves the JWKS at (Unix ms), once its last token has expired; null while current.',
  }),
});

const KidParams = Type.Object({
  kid: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' }),
});

/** JWKS and PEM by kid: registered on the API and on the device listener. */
export const endorsePublicKeyRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/.well-known/jwks.json',
      {
        config: { public: true },
        schema: {
          tags: ['Endorse'],
          operationId: 'getEndorseJwks',
          summary:
            'The public keys that verify SIM tokens (JWKS, RFC 7517), including the next and retired ones.',
          security: [],
          response: { 200: Type.Object({ keys: Type.Array(Jwk) }) },
        },
      },
      async (_request, reply) => {
        reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
        return platform.endorse.keys.jwks();
      },
    );
    app.get(
      '/v1/endorse/keys/:kid',
      {
        config: { public: true },
        schema: {
          tags: ['Endorse'],
          operationId: 'getEndorseKeyCertificate',
          summary:
            "A signing key's X.509 certificate as PEM, by either of its kids (SORACOM's verification flow).",
          security: [],
          params: KidParams,
          response: responses({ 200: Type.String() }, 404),
        },
      },
      async (request, reply) => {
        const pem = await platform.endorse.keys.certificate(request.params.kid);
        reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
        return reply.type('application/x-pem-file').send(pem);
      },
    );
  };

/** Listing and rotating the keys (an operator's credentials; audited). */
export const endorseKeyRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/endorse/keys',
      {
        schema: {
          tags: ['Endorse'],
          operationId: 'listEndorseKeys',
          summary: 'The published signing keys with their state (pending, current, retired).',
          response: responses({ 200: Type.Array(KeyView) }),
        },
      },
      async () => platform.endorse.keys.list(),
    );
    app.post(
      '/endorse/keys/rotate',
      {
        schema: {
          tags: ['Endorse'],
          operationId: 'rotateEndorseKeys',
          summary:
            'Create successor keys: published now, signing after activateInSeconds (default endorseKeyPublishLeadSeconds). The replaced keys stay published until their last token expires.',
          body: Type.Object(
            {
              algorithms: Type.Optional(
                Type.Array(Type.Union(ENDORSE_ALGORITHMS.map((a) => Type.Literal(a))), {
                  minItems: 1,
                  maxItems: ENDORSE_ALGORITHMS.length,
                  uniqueItems: true,
                }),
              ),
              activateInSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 604_800 })),
            },
            { additionalProperties: false },
          ),
          response: responses({ 201: Type.Array(KeyView) }, 409),
        },
      },
      async (request, reply) => {
        const { algorithms, activateInSeconds } = request.body ?? {};
        const created = await platform.endorse.rotateKeys(
          auditContext(request),
          algorithms,
          activateInSeconds,
        );
        return reply.status(201).send(created);
      },
    );
  };
