// SAM users (SORACOM User API, reference/soracom.md §3.1–3.4): the users of an operator, their
// passwords, direct permission (and its simulation), auth keys, tokens and MFA, and the operator's
// default permissions.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import type { Platform } from '../../../platform/platform.js';
import { pageSize, setNextPage } from '../pagination.js';
import { auditContext } from '../plugins/auth.js';
import {
  AuthKey,
  AuthKeyId,
  bodyOptional,
  DefaultPermissionsBody,
  GeneratedAuthKey,
  MfaBackupCodes,
  MfaEnrolment,
  MfaStatusBody,
  MfaVerifyBody,
  OperatorParams,
  PasswordBody,
  PasswordChangeBody,
  PermissionBody,
  SimulateQuery,
  Simulation,
  User,
  UserBody,
  UserParams,
} from '../schemas/access.js';
import { LastEvaluatedKey, Limit, responses } from '../schemas/common.js';

const tags = ['User'];

export const userRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { access } = platform;
    const account = (p: { operator_id: string; user_name: string }) => ({
      operatorId: p.operator_id,
      userName: p.user_name,
    });
    const noContent = 204;

    app.get(
      '/operators/:operator_id/users',
      {
        schema: {
          tags,
          operationId: 'listUsers',
          summary: 'Users of the operator, by name, in pages.',
          params: OperatorParams,
          querystring: Type.Object(
            { limit: Type.Optional(Limit), last_evaluated_key: Type.Optional(LastEvaluatedKey) },
            { additionalProperties: false },
          ),
          response: responses({ 200: Type.Array(User) }, 404),
        },
      },
      async (request, reply) => {
        const page = await access.users.list(request.params.operator_id, {
          limit: pageSize(request.query.limit),
          after: request.query.last_evaluated_key,
        });
        setNextPage(request, reply, page.nextKey);
        return page.items;
      },
    );

    // Static segment: registered before /users/:user_name and preferred by the router.
    const defaultPermissionsUrl = '/operators/:operator_id/users/default_permissions';
    app.get(
      defaultPermissionsUrl,
      {
        schema: {
          tags,
          operationId: 'getDefaultPermissions',
          summary: 'The permission every user of the operator has in addition to their own and their roles.',
          params: OperatorParams,
          response: responses(
            { 200: Type.Object({ permissions: Type.Union([Type.String(), Type.Null()]) }) },
            404,
          ),
        },
      },
      async (request) => ({
        permissions: await access.permissions.getDefaultPermissions(request.params.operator_id),
      }),
    );
    app.put(
      defaultPermissionsUrl,
      {
        schema: {
          tags,
          operationId: 'updateDefaultPermissions',
          summary: 'Set the default permissions (validated; a syntax error is refused with its position).',
          params: OperatorParams,
          body: DefaultPermissionsBody,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.permissions.setDefaultPermissions(auditContext(request), request.body.permissions);
        return reply.status(noContent).send();
      },
    );
    app.delete(
      defaultPermissionsUrl,
      {
        schema: {
          tags,
          operationId: 'deleteDefaultPermissions',
          summary: 'Remove the default permissions.',
          params: OperatorParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.permissions.setDefaultPermissions(auditContext(request), null);
        return reply.status(noContent).send();
      },
    );

    const userUrl = '/operators/:operator_id/users/:user_name';
    app.post(
      userUrl,
      {
        ...bodyOptional,
        schema: {
          tags,
          operationId: 'createUser',
          summary: 'Create a user; it may do nothing until a permission or role is granted.',
          params: UserParams,
          body: UserBody,
          response: responses({ 201: User }, 404, 409),
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(await access.users.create(auditContext(request), request.params.user_name, request.body)),
    );
    app.get(
      userUrl,
      {
        schema: {
          tags,
          operationId: 'getUser',
          summary: 'A user with roles, auth keys (never secrets) and MFA status.',
          params: UserParams,
          response: responses({ 200: User }, 404),
        },
      },
      async (request) => access.users.get(request.params.operator_id, request.params.user_name),
    );
    app.put(
      userUrl,
      {
        schema: {
          tags,
          operationId: 'updateUser',
          summary: 'Change description or console login (turning it off ends the password sessions).',
          params: UserParams,
          body: UserBody,
          response: responses({ 200: User }, 404),
        },
      },
      async (request) => access.users.update(auditContext(request), request.params.user_name, request.body),
    );
    app.delete(
      userUrl,
      {
        schema: {
          tags,
          operationId: 'deleteUser',
          summary: 'Delete a user with its keys, role attachments, MFA and tokens.',
          params: UserParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.users.delete(auditContext(request), request.params.user_name);
        return reply.status(noContent).send();
      },
    );

    const passwordUrl = `${userUrl}/password`;
    app.get(
      passwordUrl,
      {
        schema: {
          tags,
          operationId: 'hasUserPassword',
          summary: 'Whether the user has a password.',
          params: UserParams,
          response: responses({ 200: Type.Object({ hasPassword: Type.Boolean() }) }, 404),
        },
      },
      async (request) => ({
        hasPassword: await access.users.hasPassword(request.params.operator_id, request.params.user_name),
      }),
    );
    app.post(
      passwordUrl,
      {
        schema: {
          tags,
          operationId: 'createUserPassword',
          summary: 'Give a user without a password one (8+ characters).',
          params: UserParams,
          body: PasswordBody,
          response: responses({ 204: Type.Null() }, 404, 409),
        },
      },
      async (request, reply) => {
        await access.users.createPassword(
          auditContext(request),
          request.params.user_name,
          request.body.password,
        );
        return reply.status(noContent).send();
      },
    );
    app.put(
      passwordUrl,
      {
        schema: {
          tags,
          operationId: 'updateUserPassword',
          summary: "Change the user's password (needs the current one); every token of the user is revoked.",
          params: UserParams,
          body: PasswordChangeBody,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.users.updatePassword(
          auditContext(request),
          request.params.user_name,
          request.body.currentPassword,
          request.body.newPassword,
        );
        return reply.status(noContent).send();
      },
    );
    app.delete(
      passwordUrl,
      {
        schema: {
          tags,
          operationId: 'deleteUserPassword',
          summary: "Remove the user's password (and end their sessions).",
          params: UserParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.users.deletePassword(auditContext(request), request.params.user_name);
        return reply.status(noContent).send();
      },
    );

    const permissionUrl = `${userUrl}/permission`;
    app.get(
      permissionUrl,
      {
        schema: {
          tags,
          operationId: 'getUserPermission',
          summary: "The user's direct permission document.",
          params: UserParams,
          response: responses(
            { 200: Type.Object({ permission: Type.Union([Type.String(), Type.Null()]) }) },
            404,
          ),
        },
      },
      async (request) => ({
        permission: await access.permissions.getUserPermission(
          request.params.operator_id,
          request.params.user_name,
        ),
      }),
    );
    app.put(
      permissionUrl,
      {
        schema: {
          tags,
          operationId: 'updateUserPermission',
          summary:
            "Set the user's direct permission (validated; a syntax error is refused with its position).",
          params: UserParams,
          body: PermissionBody,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.permissions.setUserPermission(
          auditContext(request),
          request.params.user_name,
          request.body.permission,
        );
        return reply.status(noContent).send();
      },
    );
    app.delete(
      permissionUrl,
      {
        schema: {
          tags,
          operationId: 'deleteUserPermission',
          summary: "Remove the user's direct permission.",
          params: UserParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.permissions.setUserPermission(auditContext(request), request.params.user_name, null);
        return reply.status(noContent).send();
      },
    );
    app.get(
      `${permissionUrl}/simulate`,
      {
        schema: {
          tags,
          operationId: 'simulateUserPermission',
          summary:
            'Explain the decision for a call of `api` by this user: every statement of the user, their roles and the defaults, whether it matched, and which one decided.',
          params: UserParams,
          querystring: SimulateQuery,
          response: responses({ 200: Simulation }, 404),
        },
      },
      async (request) => {
        const q = request.query;
        const pathVariables = Object.fromEntries(
          (q.path_variable ?? []).map((pair) => [
            pair.slice(0, pair.indexOf('=')),
            pair.slice(pair.indexOf('=') + 1),
          ]),
        );
        const e = await access.permissions.simulate(request.params.operator_id, request.params.user_name, {
          operation: q.api,
          sourceIp: q.source_ip ?? request.ip,
          method: q.http_method,
          pathVariables,
          now: q.time,
        });
        return {
          api: q.api,
          decision: e.allowed ? ('allow' as const) : ('deny' as const),
          reason: e.reason,
          statement: e.statement ?? null,
          evaluated: [...e.evaluated],
        };
      },
    );

    const keysUrl = `${userUrl}/auth_keys`;
    app.post(
      keysUrl,
      {
        schema: {
          tags,
          operationId: 'generateUserAuthKey',
          summary:
            'Create an auth key for the user (acts with their permissions); the secret is in this answer only.',
          params: UserParams,
          response: responses({ 201: GeneratedAuthKey }, 404, 409),
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(await access.authKeys.generate(auditContext(request), account(request.params))),
    );
    app.get(
      keysUrl,
      {
        schema: {
          tags,
          operationId: 'listUserAuthKeys',
          summary: "The user's auth keys (ids, creation and last use; never the secret).",
          params: UserParams,
          response: responses({ 200: Type.Array(AuthKey) }, 404),
        },
      },
      async (request) => access.authKeys.list(account(request.params)),
    );
    const keyParams = Type.Object({
      operator_id: UserParams.properties.operator_id,
      user_name: UserParams.properties.user_name,
      auth_key_id: AuthKeyId,
    });
    app.get(
      `${keysUrl}/:auth_key_id`,
      {
        schema: {
          tags,
          operationId: 'getUserAuthKey',
          summary: 'One auth key of the user.',
          params: keyParams,
          response: responses({ 200: AuthKey }, 404),
        },
      },
      async (request) => access.authKeys.get(account(request.params), request.params.auth_key_id),
    );
    app.delete(
      `${keysUrl}/:auth_key_id`,
      {
        schema: {
          tags,
          operationId: 'deleteUserAuthKey',
          summary: 'Delete an auth key of the user; the tokens issued for it are revoked.',
          params: keyParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.authKeys.delete(
          auditContext(request),
          account(request.params),
          request.params.auth_key_id,
        );
        return reply.status(noContent).send();
      },
    );

    app.delete(
      `${userUrl}/tokens`,
      {
        schema: {
          tags,
          operationId: 'revokeUserAuthTokens',
          summary: 'Revoke every token of the user (password and key logins).',
          params: UserParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.users.revokeTokens(auditContext(request), request.params.user_name);
        return reply.status(noContent).send();
      },
    );

    const mfaUrl = `${userUrl}/mfa`;
    app.post(
      mfaUrl,
      {
        schema: {
          tags,
          operationId: 'enableUserMFA',
          summary: 'Start MFA enrolment of the user: returns the otpauth URI (UNCONFIRMED until verified).',
          params: UserParams,
          response: responses({ 200: MfaEnrolment }, 404, 409),
        },
      },
      async (request) => access.mfa.enable(auditContext(request), account(request.params)),
    );
    app.post(
      `${mfaUrl}/verify`,
      {
        schema: {
          tags,
          operationId: 'verifyUserMFA',
          summary:
            'Confirm the user’s MFA with a first TOTP code; returns single-use backup codes (this answer only).',
          params: UserParams,
          body: MfaVerifyBody,
          response: responses({ 200: MfaBackupCodes }, 404, 409),
        },
      },
      async (request) =>
        access.mfa.verify(auditContext(request), account(request.params), request.body.mfaOTPCode),
    );
    app.get(
      mfaUrl,
      {
        schema: {
          tags,
          operationId: 'getUserMFAStatus',
          summary: 'MFA status of the user: ACTIVE, INACTIVE or UNCONFIRMED.',
          params: UserParams,
          response: responses({ 200: MfaStatusBody }, 404),
        },
      },
      async (request) => ({ status: await access.mfa.status(account(request.params)) }),
    );
    app.delete(
      mfaUrl,
      {
        schema: {
          tags,
          operationId: 'revokeUserMFA',
          summary: "Turn the user's MFA off; needs the caller's own password.",
          params: UserParams,
          body: PasswordBody,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.mfa.revoke(auditContext(request), account(request.params), request.body.password);
        return reply.status(noContent).send();
      },
    );
  };
