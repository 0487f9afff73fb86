// The operator (root) account (SORACOM Operator API, reference/soracom.md §3.3–3.4): the account
// itself, its password, root auth keys, tokens and MFA. `{operator_id}` must be the caller's own
// operator — the auth layer answers 404 for any other.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { getOperator, MAX_TOKEN_TIMEOUT_SECONDS } from '../../../platform/iam/operators.js';
import type { Platform } from '../../../platform/platform.js';
import { auditContext } from '../plugins/auth.js';
import {
  AuthKey,
  AuthKeyId,
  AuthResponse,
  bodyOptional,
  GeneratedAuthKey,
  MfaBackupCodes,
  MfaEnrolment,
  MfaStatusBody,
  MfaVerifyBody,
  Operator,
  OperatorParams,
  PasswordBody,
  PasswordChangeBody,
} from '../schemas/access.js';
import { responses } from '../schemas/common.js';

const tags = ['Operator'];

export const operatorRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const { access } = platform;
    const root = (operatorId: string) => ({ operatorId });

    app.get(
      '/operators/:operator_id',
      {
        schema: {
          tags,
          operationId: 'getOperator',
          summary: 'The operator account.',
          params: OperatorParams,
          response: responses({ 200: Operator }, 404),
        },
      },
      async (request) => {
        const operator = await getOperator(platform.store.db, request.params.operator_id);
        return { ...operator, mfaStatus: await access.mfa.status(root(operator.operatorId)) };
      },
    );

    app.post(
      '/operators/:operator_id/password',
      {
        schema: {
          tags,
          operationId: 'updateOperatorPassword',
          summary: 'Change the root password (needs the current one); every root token is revoked.',
          params: OperatorParams,
          body: PasswordChangeBody,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.changeOperatorPassword(
          auditContext(request),
          request.body.currentPassword,
          request.body.newPassword,
        );
        return reply.status(204).send();
      },
    );

    app.post(
      '/operators/:operator_id/auth_keys',
      {
        schema: {
          tags,
          operationId: 'generateOperatorAuthKey',
          summary: 'Create a root auth key; the secret is in this answer only.',
          params: OperatorParams,
          response: responses({ 201: GeneratedAuthKey }, 404, 409),
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(await access.authKeys.generate(auditContext(request), root(request.params.operator_id))),
    );

    app.get(
      '/operators/:operator_id/auth_keys',
      {
        schema: {
          tags,
          operationId: 'listOperatorAuthKeys',
          summary: 'Root auth keys (ids, creation and last use; never the secret).',
          params: OperatorParams,
          response: responses({ 200: Type.Array(AuthKey) }, 404),
        },
      },
      async (request) => access.authKeys.list(root(request.params.operator_id)),
    );

    app.delete(
      '/operators/:operator_id/auth_keys/:auth_key_id',
      {
        schema: {
          tags,
          operationId: 'deleteOperatorAuthKey',
          summary: 'Delete a root auth key; the tokens issued for it are revoked.',
          params: Type.Object({ operator_id: OperatorParams.properties.operator_id, auth_key_id: AuthKeyId }),
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.authKeys.delete(
          auditContext(request),
          root(request.params.operator_id),
          request.params.auth_key_id,
        );
        return reply.status(204).send();
      },
    );

    app.post(
      '/operators/:operator_id/token',
      {
        ...bodyOptional,
        schema: {
          tags,
          operationId: 'generateAuthToken',
          summary: 'A new API token for the caller (same principal), e.g. with another lifetime.',
          params: OperatorParams,
          body: Type.Object(
            {
              tokenTimeoutSeconds: Type.Optional(
                Type.Integer({ minimum: 180, maximum: MAX_TOKEN_TIMEOUT_SECONDS }),
              ),
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: AuthResponse }, 404),
        },
      },
      async (request) => {
        const issued = await access.generateToken(
          auditContext(request),
          request.body.tokenTimeoutSeconds ?? platform.config.apiTokenTimeoutSeconds,
        );
        return {
          apiKey: issued.apiKey,
          token: issued.token,
          operatorId: issued.operatorId,
          ...(issued.userName === undefined ? {} : { userName: issued.userName }),
        };
      },
    );

    app.delete(
      '/operators/:operator_id/tokens',
      {
        schema: {
          tags,
          operationId: 'revokeOperatorAuthTokens',
          summary: 'Revoke every root token (password and root-key logins).',
          params: OperatorParams,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.revokeOperatorTokens(auditContext(request));
        return reply.status(204).send();
      },
    );

    app.post(
      '/operators/:operator_id/mfa',
      {
        schema: {
          tags,
          operationId: 'enableMFA',
          summary: 'Start root MFA enrolment: returns the otpauth URI (status UNCONFIRMED until verified).',
          params: OperatorParams,
          response: responses({ 200: MfaEnrolment }, 404, 409),
        },
      },
      async (request) => access.mfa.enable(auditContext(request), root(request.params.operator_id)),
    );

    app.post(
      '/operators/:operator_id/mfa/verify',
      {
        schema: {
          tags,
          operationId: 'verifyMFA',
          summary:
            'Confirm root MFA with a first TOTP code; returns single-use backup codes (this answer only).',
          params: OperatorParams,
          body: MfaVerifyBody,
          response: responses({ 200: MfaBackupCodes }, 404, 409),
        },
      },
      async (request) =>
        access.mfa.verify(auditContext(request), root(request.params.operator_id), request.body.mfaOTPCode),
    );

    app.get(
      '/operators/:operator_id/mfa',
      {
        schema: {
          tags,
          operationId: 'getMFAStatus',
          summary: 'Root MFA status: ACTIVE, INACTIVE or UNCONFIRMED.',
          params: OperatorParams,
          response: responses({ 200: MfaStatusBody }, 404),
        },
      },
      async (request) => ({ status: await access.mfa.status(root(request.params.operator_id)) }),
    );

    app.delete(
      '/operators/:operator_id/mfa',
      {
        schema: {
          tags,
          operationId: 'revokeMFA',
          summary: "Turn root MFA off; needs the caller's password.",
          params: OperatorParams,
          body: PasswordBody,
          response: responses({ 204: Type.Null() }, 404),
        },
      },
      async (request, reply) => {
        await access.mfa.revoke(
          auditContext(request),
          root(request.params.operator_id),
          request.body.password,
        );
        return reply.status(204).send();
      },
    );
  };
