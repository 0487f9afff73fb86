// The Directory API: directories of application users for the MFA gateway (users, passwords, phone
// numbers and their verification, TOTP, registered SIMs, groups, CSV import, gateway sessions),
// and the SMS records of the MFA engine (`/v1/sms_messages`: where each OTP SMS went, through which
// provider, and whether it was delivered — never its text). Response schemas are the guard that
// keeps password hashes and TOTP secrets out of answers; the TOTP secret is returned once, when it
// is made.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { SimtrustError } from '../../../lib/errors.js';
import { writeAudit } from '../../../platform/audit/audit-log.js';
import { DIRECTORY_CSV_MAX_BYTES, importDirectoryCsv } from '../../../platform/directories/csv-import.js';
import { directorySource, directorySubjectKey } from '../../../platform/directories/subjects.js';
import {
  confirmPhoneVerification,
  startPhoneVerification,
} from '../../../platform/mfa/phone-verification.js';
import type { Platform } from '../../../platform/platform.js';
import { pageSize, setNextPage } from '../pagination.js';
import { auditContext } from '../plugins/auth.js';
import { LastEvaluatedKey, Limit, responses } from '../schemas/common.js';

const DirectoryId = Type.String({ pattern: '^dir-[0-9a-f]{16}$', description: 'Directory id, dir-…' });
const UserId = Type.String({ minLength: 1, maxLength: 128, description: 'User id (login name)' });
const DirectoryParams = Type.Object({ directory_id: DirectoryId });
const UserParams = Type.Object({ directory_id: DirectoryId, user_id: UserId });

const Directory = Type.Object({
  directoryId: Type.String(),
  name: Type.String(),
  createdTime: Type.Integer(),
  updatedTime: Type.Integer(),
});

const Sim = Type.Object({ imsi: Type.String(), imei: Type.Union([Type.String(), Type.Null()]) });

const DirectoryUser = Type.Object(
  {
    directoryId: Type.String(),
    userId: Type.String(),
    displayName: Type.Union([Type.String(), Type.Null()]),
    phoneNumber: Type.Union([Type.String(), Type.Null()]),
    phoneVerified: Type.Boolean(),
    phoneVerifiedTime: Type.Union([Type.Integer(), Type.Null()]),
    totpEnabled: Type.Boolean(),
    sim: Type.Union([Sim, Type.Null()]),
    groups: Type.Array(Type.String()),
    disabled: Type.Boolean(),
    createdTime: Type.Integer(),
    updatedTime: Type.Integer(),
  },
  { description: 'An application user. Never carries the password hash or the TOTP secret.' },
);

const UserFields = {
  password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  displayName: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  phoneNumber: Type.Optional(
    Type.Union([Type.String({ maxLength: 32, description: 'E.164, e.g. +819012345678' }), Type.Null()]),
  ),
  phoneVerified: Type.Optional(
    Type.Boolean({
      description:
        'The administrator vouches for the number (otherwise verify it with phone_verification). A changed number becomes unverified.',
    }),
  ),
  groups: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 })),
  sim: Type.Optional(
    Type.Union([
      Type.Object(
        {
          imsi: Type.String({ pattern: '^[0-9]{6,15}$' }),
          imei: Type.Optional(Type.Union([Type.String({ pattern: '^[0-9]{15,16}$' }), Type.Null()])),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
  ),
  disabled: Type.Optional(Type.Boolean()),
};

const CreateUserBody = Type.Object({ userId: UserId, ...UserFields }, { additionalProperties: false });
const UpdateUserBody = Type.Object(UserFields, { additionalProperties: false, minProperties: 1 });

const SmsMessage = Type.Object({
  messageId: Type.String(),
  purpose: Type.String(),
  subject: Type.String(),
  phoneNumber: Type.String(),
  provider: Type.Union([Type.String(), Type.Null()]),
  providerMessageId: Type.Union([Type.String(), Type.Null()]),
  status: Type.String({ description: 'queued, accepted, delivered, failed, expired or unknown' }),
  errorCode: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Integer(),
  createdTime: Type.Integer(),
  updatedTime: Type.Integer(),
});

const Session = Type.Object({
  sessionId: Type.String({ description: 'A prefix of the session hash (the cookie value is never stored).' }),
  application: Type.String(),
  amr: Type.Array(Type.String()),
  createdTime: Type.Integer(),
  lastSeenTime: Type.Integer(),
  expiresTime: Type.Integer(),
});

const ImportSummary = Type.Object({
  rows: Type.Integer(),
  created: Type.Integer(),
  updated: Type.Integer(),
  rejected: Type.Integer(),
  errors: Type.Array(
    Type.Object({
      line: Type.Integer(),
      userId: Type.Optional(Type.String()),
      code: Type.String(),
      reason: Type.String(),
    }),
  ),
});

const Verification = Type.Object({
  verificationId: Type.String({ description: 'Give it back with the code; valid 10 minutes.' }),
  messageId: Type.String(),
  status: Type.String(),
});

export const directoryRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { directories } = platform;
    const tags = ['Directory'];
    const source = (operatorId: string, directoryId: string) =>
      directorySource(platform.store.db, directories, directoryId, operatorId);

    // A directory is people, not fleets: the CSV is read whole (bounded by DIRECTORY_CSV_MAX_BYTES).
    app.addContentTypeParser(
      ['text/csv', 'application/csv'],
      { parseAs: 'string', bodyLimit: DIRECTORY_CSV_MAX_BYTES },
      (_request, body, done) => done(null, body),
    );

    app.get(
      '/directories',
      {
        schema: {
          tags,
          operationId: 'listDirectories',
          summary: 'List the directories of application users.',
          response: responses({ 200: Type.Array(Directory) }),
        },
      },
      async (request) => directories.list(request.principal!.operatorId),
    );

    app.post(
      '/directories',
      {
        schema: {
          tags,
          operationId: 'createDirectory',
          summary: 'Create a directory of application users (the gateway names it in gatewayApplications).',
          body: Type.Object(
            { name: Type.String({ minLength: 1, maxLength: 100 }) },
            { additionalProperties: false },
          ),
          response: responses({ 201: Directory }, 409),
        },
      },
      async (request, reply) =>
        reply.status(201).send(await directories.create(auditContext(request), request.body)),
    );

    app.get(
      '/directories/:directory_id',
      {
        schema: {
          tags,
          operationId: 'getDirectory',
          summary: 'Get a directory.',
          params: DirectoryParams,
          response: responses({ 200: Directory }, 404),
        },
      },
      async (request) => directories.get(request.principal!.operatorId, request.params.directory_id),
    );

    app.delete(
      '/directories/:directory_id',
      {
        schema: {
          tags,
          operationId: 'deleteDirectory',
          summary: 'Delete a directory with its users and their gateway sessions.',
          params: DirectoryParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await directories.delete(auditContext(request), request.params.directory_id);
        return reply.status(204).send();
      },
    );

    app.get(
      '/directories/:directory_id/users',
      {
        schema: {
          tags,
          operationId: 'listDirectoryUsers',
          summary: 'List the users of a directory (keyset pages by user id; filter by group).',
          params: DirectoryParams,
          querystring: Type.Object(
            {
              limit: Type.Optional(Limit),
              last_evaluated_key: Type.Optional(LastEvaluatedKey),
              group: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Array(DirectoryUser) }, 404),
        },
      },
      async (request, reply) => {
        const q = request.query;
        const page = await directories.listUsers(request.principal!.operatorId, request.params.directory_id, {
          limit: pageSize(q.limit),
          after: q.last_evaluated_key,
          group: q.group,
        });
        setNextPage(request, reply, page.nextKey);
        return page.items;
      },
    );

    app.post(
      '/directories/:directory_id/users',
      {
        schema: {
          tags,
          operationId: 'createDirectoryUser',
          summary: 'Add a user: id, password, phone number, groups, registered SIM.',
          params: DirectoryParams,
          body: CreateUserBody,
          response: responses({ 201: DirectoryUser }, 404, 409),
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(
            await directories.createUser(auditContext(request), request.params.directory_id, request.body),
          ),
    );

    app.post(
      '/directories/:directory_id/users/import',
      {
        schema: {
          tags,
          operationId: 'importDirectoryUsers',
          summary:
            'Create or update users from CSV (text/csv): user_id, password | password_hash, display_name, phone_number, phone_verified, groups (a;b), sim_imsi, sim_imei, disabled.',
          params: DirectoryParams,
          consumes: ['text/csv'],
          response: responses({ 200: ImportSummary }, 404, 413, 415),
        },
      },
      async (request) => {
        if (typeof request.body !== 'string') {
          throw new SimtrustError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send the CSV as text/csv');
        }
        return importDirectoryCsv(
          directories,
          auditContext(request),
          request.params.directory_id,
          request.body,
        );
      },
    );

    app.get(
      '/directories/:directory_id/users/:user_id',
      {
        schema: {
          tags,
          operationId: 'getDirectoryUser',
          summary: 'Get a user.',
          params: UserParams,
          response: responses({ 200: DirectoryUser }, 404),
        },
      },
      async (request) =>
        directories.getUser(
          request.principal!.operatorId,
          request.params.directory_id,
          request.params.user_id,
        ),
    );

    app.put(
      '/directories/:directory_id/users/:user_id',
      {
        schema: {
          tags,
          operationId: 'updateDirectoryUser',
          summary: "Change a user (a new password or disabling ends the user's gateway sessions).",
          params: UserParams,
          body: UpdateUserBody,
          response: responses({ 200: DirectoryUser }, 404),
        },
      },
      async (request) =>
        directories.updateUser(
          auditContext(request),
          request.params.directory_id,
          request.params.user_id,
          request.body,
        ),
    );

    app.delete(
      '/directories/:directory_id/users/:user_id',
      {
        schema: {
          tags,
          operationId: 'deleteDirectoryUser',
          summary: 'Delete a user and end their gateway sessions.',
          params: UserParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await directories.deleteUser(
          auditContext(request),
          request.params.directory_id,
          request.params.user_id,
        );
        return reply.status(204).send();
      },
    );

    app.post(
      '/directories/:directory_id/users/:user_id/totp',
      {
        schema: {
          tags,
          operationId: 'enableDirectoryUserTotp',
          summary:
            'Give the user a new TOTP secret (RFC 6238); the secret and otpauth URI are shown this once.',
          params: UserParams,
          response: responses({ 201: Type.Object({ secret: Type.String(), totpUri: Type.String() }) }, 404),
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        return reply
          .status(201)
          .send(
            await directories.enableTotp(
              auditContext(request),
              request.params.directory_id,
              request.params.user_id,
              platform.config.endorseIssuer,
            ),
          );
      },
    );

    app.delete(
      '/directories/:directory_id/users/:user_id/totp',
      {
        schema: {
          tags,
          operationId: 'disableDirectoryUserTotp',
          summary: "Remove the user's TOTP secret.",
          params: UserParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await directories.disableTotp(
          auditContext(request),
          request.params.directory_id,
          request.params.user_id,
        );
        return reply.status(204).send();
      },
    );

    app.post(
      '/directories/:directory_id/users/:user_id/phone_verification',
      {
        schema: {
          tags,
          operationId: 'startDirectoryUserPhoneVerification',
          summary: "Send a code to the user's phone number; the user reads it back to confirm the number.",
          params: UserParams,
          response: responses({ 201: Verification }, 404, 502),
        },
      },
      async (request, reply) => {
        const { directory_id, user_id } = request.params;
        const operatorId = request.principal!.operatorId;
        await directories.getUser(operatorId, directory_id, user_id);
        const started = await startPhoneVerification(
          platform.mfa,
          source(operatorId, directory_id),
          directorySubjectKey(directory_id, user_id),
          { sourceIp: request.ip, requestId: request.id, surface: 'Directory' },
        );
        return reply.status(201).send({
          verificationId: started.verificationId,
          messageId: started.message.messageId,
          status: started.message.status,
        });
      },
    );

    app.post(
      '/directories/:directory_id/users/:user_id/phone_verification/confirm',
      {
        schema: {
          tags,
          operationId: 'confirmDirectoryUserPhoneVerification',
          summary: 'Confirm the phone number with the code it received.',
          params: UserParams,
          body: Type.Object(
            {
              verificationId: Type.String({ minLength: 1, maxLength: 100 }),
              code: Type.String({ minLength: 1, maxLength: 10 }),
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: DirectoryUser }, 404),
        },
      },
      async (request) => {
        const { directory_id, user_id } = request.params;
        const operatorId = request.principal!.operatorId;
        await directories.getUser(operatorId, directory_id, user_id);
        await confirmPhoneVerification(
          platform.mfa,
          source(operatorId, directory_id),
          platform.clock,
          directorySubjectKey(directory_id, user_id),
          request.body,
          { sourceIp: request.ip, requestId: request.id, surface: 'Directory' },
        );
        return directories.getUser(operatorId, directory_id, user_id);
      },
    );

    app.get(
      '/directories/:directory_id/users/:user_id/sessions',
      {
        schema: {
          tags,
          operationId: 'listDirectoryUserSessions',
          summary: "The user's live gateway sessions.",
          params: UserParams,
          response: responses({ 200: Type.Array(Session) }, 404),
        },
      },
      async (request) => {
        const { directory_id, user_id } = request.params;
        const operatorId = request.principal!.operatorId;
        await directories.getUser(operatorId, directory_id, user_id);
        const sessions = await platform.gatewaySessions.list(
          operatorId,
          directorySubjectKey(directory_id, user_id),
        );
        return sessions.map((s) => ({
          sessionId: s.hash.slice(0, 16),
          application: s.application,
          amr: [...s.amr],
          createdTime: s.createdAt,
          lastSeenTime: s.lastSeenAt,
          expiresTime: s.expiresAt,
        }));
      },
    );

    app.delete(
      '/directories/:directory_id/users/:user_id/sessions',
      {
        schema: {
          tags,
          operationId: 'revokeDirectoryUserSessions',
          summary: 'End every gateway session of the user (all browsers, at once on every instance).',
          params: UserParams,
          response: responses({ 200: Type.Object({ revoked: Type.Integer() }) }, 404),
        },
      },
      async (request) => {
        const { directory_id, user_id } = request.params;
        const ctx = auditContext(request);
        await directories.getUser(ctx.principal.operatorId, directory_id, user_id);
        const revoked = await platform.gatewaySessions.revokeSubject(
          ctx.principal.operatorId,
          directorySubjectKey(directory_id, user_id),
        );
        await writeAudit(platform.store.db, {
          context: ctx,
          result: 'success',
          detail: { directoryId: directory_id, userId: user_id, revoked },
          at: platform.clock.now(),
        });
        return { revoked };
      },
    );

    app.get(
      '/sms_messages',
      {
        schema: {
          tags: ['Sms'],
          operationId: 'listSmsMessages',
          summary: 'The OTP SMS sent for this operator, newest first: provider, delivery status, error code.',
          querystring: Type.Object(
            {
              limit: Type.Optional(Limit),
              last_evaluated_key: Type.Optional(LastEvaluatedKey),
              phone_number: Type.Optional(Type.String({ maxLength: 32 })),
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Array(SmsMessage) }),
        },
      },
      async (request, reply) => {
        const q = request.query;
        const page = await platform.sms.list(request.principal!.operatorId, {
          limit: pageSize(q.limit),
          before: q.last_evaluated_key,
          phoneNumber: q.phone_number,
        });
        setNextPage(request, reply, page.nextKey);
        return page.items;
      },
    );

    app.get(
      '/sms_messages/:message_id',
      {
        schema: {
          tags: ['Sms'],
          operationId: 'getSmsMessage',
          summary: 'One SMS record; a provider that can be asked (Karaden sent_result) is polled first.',
          params: Type.Object({ message_id: Type.String({ pattern: '^sms-[0-9a-f-]{36}$' }) }),
          response: responses({ 200: SmsMessage }, 404),
        },
      },
      async (request) =>
        platform.sms.get(request.principal!.operatorId, request.params.message_id, { refresh: true }),
    );
  };
