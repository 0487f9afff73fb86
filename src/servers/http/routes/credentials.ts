// /v1/credentials: credential sets, exactly SORACOM's four operations (tag Credential:
// listCredentials, createCredential, updateCredential, deleteCredential). Secrets are write-only:
// the response schema of `credentials` declares only the fields credential-types.ts marks as shown,
// so the serializer drops anything else even if a domain answer carried it.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import {
  CREDENTIALS_ID_PATTERN,
  MAX_DESCRIPTION_LENGTH,
} from '../../../platform/credentials/credential-sets.js';
import {
  CREDENTIAL_TYPE_NAMES,
  CREDENTIAL_TYPES,
  MAX_PEM_BYTES,
} from '../../../platform/credentials/credential-types.js';
import type { Platform } from '../../../platform/platform.js';
import { auditContext } from '../plugins/auth.js';
import { responses } from '../schemas/common.js';

const Tag = 'Credential';

const Time = Type.Integer({ description: 'Unix milliseconds' });

/** Every field some type shows (a user name, an access key id…): nothing else can be serialized. */
const shownFields = [
  ...new Set(
    Object.values(CREDENTIAL_TYPES).flatMap((spec) =>
      Object.entries(spec.fields)
        .filter(([, field]) => !field.secret)
        .map(([name]) => name),
    ),
  ),
].sort();

const typeList = Object.entries(CREDENTIAL_TYPES)
  .map(
    ([type, spec]) =>
      `\`${type}\` {${Object.entries(spec.fields)
        .map(([name, f]) => `${name}${f.required ? '' : '?'}`)
        .join(', ')}}`,
  )
  .join('; ');

const CredentialType = Type.Union(
  CREDENTIAL_TYPE_NAMES.map((t) => Type.Literal(t)),
  { description: `The SORACOM type of the set and its fields: ${typeList}.` },
);

const CredentialsModel = Type.Object(
  {
    credentialsId: Type.String(),
    type: Type.String(),
    description: Type.String(),
    credentials: Type.Object(
      Object.fromEntries(shownFields.map((name) => [name, Type.Optional(Type.String())])),
      {
        additionalProperties: false,
        description:
          'The fields of the set that are not secret (a user name, an AWS access key id, …); secrets are never returned.',
      },
    ),
    createDateTime: Time,
    updateDateTime: Time,
    lastUsedDateTime: Type.Optional(
      Type.Integer({
        description:
          'Unix milliseconds; when an entry point last used the set (written at most once a minute).',
      }),
    ),
  },
  { $id: 'CredentialsModel' },
);
const CredentialsModelRef = Type.Ref('CredentialsModel');

const Description = Type.String({ maxLength: MAX_DESCRIPTION_LENGTH });
const Credentials = Type.Record(
  Type.String({ minLength: 1, maxLength: 64 }),
  Type.String({ maxLength: MAX_PEM_BYTES }),
  {
    maxProperties: 8,
    description:
      'The secrets, by field name (see `type`); PEM values as text with their line breaks. Stored encrypted, never returned.',
  },
);

const CreateBody = Type.Object(
  { type: CredentialType, description: Type.Optional(Description), credentials: Credentials },
  { additionalProperties: false },
);

const UpdateBody = Type.Object(
  {
    type: Type.Optional(CredentialType),
    description: Type.Optional(Description),
    credentials: Type.Optional(Credentials),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    description:
      '`credentials` replaces all the fields of the set (a field left out is gone); leave it out to change the description only. A new type needs new credentials.',
  },
);

const Params = Type.Object({
  credentials_id: Type.String({
    pattern: CREDENTIALS_ID_PATTERN,
    description: 'Letters, digits, dot, underscore, hyphen; e.g. `beam-psk` or `device-001010000000001`.',
  }),
});

export const credentialRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const credentials = platform.credentials;
    app.addSchema(CredentialsModel);

    app.get(
      '/credentials',
      {
        schema: {
          tags: [Tag],
          operationId: 'listCredentials',
          summary: 'List the credential sets (never their secrets).',
          response: responses({ 200: Type.Array(CredentialsModelRef) }),
        },
      },
      async (request) => credentials.list(request.principal!.operatorId),
    );

    app.post(
      '/credentials/:credentials_id',
      {
        schema: {
          tags: [Tag],
          operationId: 'createCredential',
          summary: 'Create a credential set.',
          params: Params,
          body: CreateBody,
          response: responses({ 201: CredentialsModelRef }, 409),
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(await credentials.create(auditContext(request), request.params.credentials_id, request.body)),
    );

    app.put(
      '/credentials/:credentials_id',
      {
        schema: {
          tags: [Tag],
          operationId: 'updateCredential',
          summary: 'Change a credential set (new secrets, description or type).',
          params: Params,
          body: UpdateBody,
          response: responses({ 200: CredentialsModelRef }, 404),
        },
      },
      async (request) =>
        credentials.update(auditContext(request), request.params.credentials_id, request.body),
    );

    app.delete(
      '/credentials/:credentials_id',
      {
        schema: {
          tags: [Tag],
          operationId: 'deleteCredential',
          summary: 'Delete a credential set; entry points referring to it fail from then on.',
          params: Params,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await credentials.delete(auditContext(request), request.params.credentials_id);
        return reply.status(204).send();
      },
    );
  };
