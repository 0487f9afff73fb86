// /v1/radius_clients: the NAS clients (packet gateways, Wi-Fi access points) the RADIUS server
// answers. The shared secret is write-only: sealed at rest, never part of any response.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { Platform } from '../../../platform/platform.js';
import { auditContext } from '../plugins/auth.js';
import { responses } from '../schemas/common.js';

const Tag = 'RadiusClient';

const RadiusClient = Type.Object(
  {
    clientId: Type.String(),
    operatorId: Type.String(),
    name: Type.String(),
    address: Type.String({ description: 'IPv4 address or network (CIDR) the NAS sends from.' }),
    coaPort: Type.Integer({ description: 'UDP port the NAS takes Disconnect-/CoA-Requests on (RFC 5176).' }),
    requireMessageAuthenticator: Type.Boolean({
      description: 'Access-Requests without Message-Authenticator are dropped (the BlastRADIUS defence).',
    }),
    createdTime: Type.Integer(),
    lastModifiedTime: Type.Integer(),
  },
  { $id: 'RadiusClient' },
);
const RadiusClientRef = Type.Ref('RadiusClient');

const Secret = Type.String({
  minLength: 8,
  maxLength: 128,
  description: 'The shared secret (RFC 2865 §3); stored encrypted and never returned.',
});
const CoaPort = Type.Integer({ minimum: 1, maximum: 65535, description: 'Default 3799 (RFC 5176 §3.1).' });

const CreateBody = Type.Object(
  {
    address: Type.String({ minLength: 7, maxLength: 18, description: 'e.g. 127.0.0.1 or 10.1.0.0/24' }),
    secret: Secret,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    coaPort: Type.Optional(CoaPort),
    requireMessageAuthenticator: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);

const UpdateBody = Type.Object(
  {
    secret: Type.Optional(Secret),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    coaPort: Type.Optional(CoaPort),
    requireMessageAuthenticator: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

const ClientIdParams = Type.Object({ client_id: Type.String({ format: 'uuid' }) });

export const radiusClientRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const clients = platform.aaa.radiusClients;
    app.addSchema(RadiusClient);

    app.get(
      '/radius_clients',
      {
        schema: {
          tags: [Tag],
          operationId: 'listRadiusClients',
          summary: 'List the NAS clients of the RADIUS server.',
          response: responses({ 200: Type.Array(RadiusClientRef) }),
        },
      },
      async (request) => clients.list(request.principal!.operatorId),
    );

    app.post(
      '/radius_clients',
      {
        schema: {
          tags: [Tag],
          operationId: 'createRadiusClient',
          summary: 'Register a NAS client (address or network, and its shared secret).',
          body: CreateBody,
          response: responses({ 201: RadiusClientRef }, 409),
        },
      },
      async (request, reply) =>
        reply.status(201).send(await clients.create(auditContext(request), request.body)),
    );

    app.get(
      '/radius_clients/:client_id',
      {
        schema: {
          tags: [Tag],
          operationId: 'getRadiusClient',
          summary: 'Get one NAS client.',
          params: ClientIdParams,
          response: responses({ 200: RadiusClientRef }, 404),
        },
      },
      async (request) => clients.get(request.principal!.operatorId, request.params.client_id),
    );

    app.put(
      '/radius_clients/:client_id',
      {
        schema: {
          tags: [Tag],
          operationId: 'updateRadiusClient',
          summary: 'Change a NAS client (rotate its secret, rename, CoA port, Message-Authenticator policy).',
          params: ClientIdParams,
          body: UpdateBody,
          response: responses({ 200: RadiusClientRef }, 404),
        },
      },
      async (request) => clients.update(auditContext(request), request.params.client_id, request.body),
    );

    app.delete(
      '/radius_clients/:client_id',
      {
        schema: {
          tags: [Tag],
          operationId: 'deleteRadiusClient',
          summary: 'Remove a NAS client; its requests are dropped from then on.',
          params: ClientIdParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await clients.delete(auditContext(request), request.params.client_id);
        return reply.status(204).send();
      },
    );
  };
