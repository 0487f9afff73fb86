// Token signing keys, per operator (issue 11). Public (no credentials, on the API and on the device
// listener): each operator's JWKS at /v1/operators/{operator_id}/endorse/jwks.json and each of its
// keys' X.509 certificate as PEM by kid (SORACOM's verifiers download `<kid>` as a PEM file). The
// operator-less URLs of a single-operator site (/.well-known/jwks.json, /v1/endorse/keys/{kid})
// serve that one operator's keys and refuse on a multi-operator site. Authenticated: listing and
// rotating the caller's own operator's keys.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
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

const Kid = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' });
const KidParams = Type.Object({ kid: Kid });
// Operator ids only (`OP` + digits): the platform's own key set (the gateway's assertions, owner
// `platform`) is published by the gateway, never under an operator's URL.
const OperatorId = Type.String({
  minLength: 3,
  maxLength: 32,
  pattern: '^OP[0-9]+$',
  description: 'The operator whose tokens you verify (OP + 10 digits)',
});
const OperatorKeyParams = Type.Object({ operator_id: OperatorId });
const OperatorKidParams = Type.Object({ operator_id: OperatorId, kid: Kid });
const Jwks = Type.Object({ keys: Type.Array(Jwk) });

/** JWKS and PEM by kid: registered on the API and on the device listener. */
export const endorsePublicKeyRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { endorse } = platform;
    const cache = (reply: FastifyReply) =>
      reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    const pem = (reply: FastifyReply, text: string) => cache(reply).type('application/x-pem-file').send(text);

    app.get(
      '/v1/operators/:operator_id/endorse/jwks.json',
      {
        config: { public: true },
        schema: {
          tags: ['Endorse'],
          operationId: 'getOperatorEndorseJwks',
          summary:
            "One operator's public keys that verify its SIM tokens (JWKS, RFC 7517), including the next and retired ones. No other operator's key is in it.",
          security: [],
          params: OperatorKeyParams,
          response: responses({ 200: Jwks }, 404),
        },
      },
      async (request, reply) => {
        cache(reply);
        return endorse.keys.jwks(request.params.operator_id);
      },
    );
    app.get(
      '/v1/operators/:operator_id/endorse/keys/:kid',
      {
        config: { public: true },
        schema: {
          tags: ['Endorse'],
          operationId: 'getOperatorEndorseKeyCertificate',
          summary:
            "One of an operator's signing keys as an X.509 certificate (PEM), by either of its kids (SORACOM's verification flow).",
          security: [],
          params: OperatorKidParams,
          response: responses({ 200: Type.String() }, 404),
        },
      },
      async (request, reply) =>
        pem(reply, await endorse.keys.certificate(request.params.operator_id, request.params.kid)),
    );
    app.get(
      '/.well-known/jwks.json',
      {
        config: { public: true },
        schema: {
          tags: ['Endorse'],
          operationId: 'getEndorseJwks',
          summary:
            "Single-operator platforms: that operator's JWKS (as /v1/operators/{operator_id}/endorse/jwks.json). With several operators: 404 ERR_ENDORSE_OPERATOR_REQUIRED.",
          security: [],
          response: responses({ 200: Jwks }, 404),
        },
      },
      async (_request, reply) => {
        const keys = await endorse.keys.jwks(await endorse.soleOperator());
        cache(reply);
        return keys;
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
            "Single-operator platforms: a signing key's X.509 certificate as PEM, by either of its kids. With several operators: 404 ERR_ENDORSE_OPERATOR_REQUIRED.",
          security: [],
          params: KidParams,
          response: responses({ 200: Type.String() }, 404),
        },
      },
      async (request, reply) =>
        pem(reply, await endorse.keys.certificate(await endorse.soleOperator(), request.params.kid)),
    );
  };

/** Listing and rotating the caller's operator's keys (an operator's credentials; audited). */
export const endorseKeyRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/endorse/keys',
      {
        schema: {
          tags: ['Endorse'],
          operationId: 'listEndorseKeys',
          summary: "Your operator's published signing keys with their state (pending, current, retired).",
          response: responses({ 200: Type.Array(KeyView) }),
        },
      },
      async (request) => platform.endorse.keys.list(request.principal!.operatorId),
    );
    app.post(
      '/endorse/keys/rotate',
      {
        schema: {
          tags: ['Endorse'],
          operationId: 'rotateEndorseKeys',
          summary:
            "Create successors of your operator's keys: published now in its JWKS, signing after activateInSeconds (default endorseKeyPublishLeadSeconds; 0 for an emergency). The replaced keys stay published until their last token expires. Other operators' keys are untouched; recorded in your audit log.",
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
