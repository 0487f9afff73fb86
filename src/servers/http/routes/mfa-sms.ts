// SMS one-time codes as the second factor of the caller's own platform account (root or sub-user):
// enrol a phone number, confirm it with the code sent to it, see the status, turn it off with the
// password. Login then goes through POST /v1/auth (ERR_MFA_SMS_REQUIRED → mfaTransactionId +
// mfaOTPCode); see docs/mfa-gateway.md.

import { type FastifyPluginAsyncTypebox, Type } from '@fastify/type-provider-typebox';
import { accountOf, checkAccountPassword } from '../../../platform/iam/credentials.js';
import type { Platform } from '../../../platform/platform.js';
import { auditContext } from '../plugins/auth.js';
import { responses } from '../schemas/common.js';

const SmsMfa = Type.Object({
  status: Type.String({ description: 'INACTIVE, UNVERIFIED (code sent, not yet typed back) or ACTIVE' }),
  phoneNumber: Type.Union([Type.String(), Type.Null()]),
});

export const smsMfaRoutes =
  (platform: Platform): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['Mfa'];

    app.get(
      '/mfa/sms',
      {
        schema: {
          tags,
          operationId: 'getSmsMfa',
          summary: 'Whether SMS codes are the second factor of the calling account.',
          response: responses({ 200: SmsMfa }),
        },
      },
      async (request) => platform.smsMfa.status(accountOf(request.principal!)),
    );

    app.put(
      '/mfa/sms',
      {
        schema: {
          tags,
          operationId: 'enrollSmsMfa',
          summary:
            'Enrol a phone number for SMS codes; a code is sent to it to confirm it (POST /mfa/sms/verify).',
          body: Type.Object(
            { phoneNumber: Type.String({ minLength: 1, maxLength: 32, description: 'E.164' }) },
            { additionalProperties: false },
          ),
          response: responses(
            {
              201: Type.Object({
                verificationId: Type.String(),
                messageId: Type.String(),
                status: Type.String(),
              }),
            },
            502,
          ),
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(
            await platform.smsMfa.enroll(
              auditContext(request),
              accountOf(request.principal!),
              request.body.phoneNumber,
            ),
          ),
    );

    app.post(
      '/mfa/sms/verify',
      {
        schema: {
          tags,
          operationId: 'verifySmsMfa',
          summary: 'Confirm the enrolled number with the code it received; SMS codes become active.',
          body: Type.Object(
            {
              verificationId: Type.String({ minLength: 1, maxLength: 100 }),
              code: Type.String({ minLength: 1, maxLength: 10 }),
            },
            { additionalProperties: false },
          ),
          response: responses({ 200: SmsMfa }),
        },
      },
      async (request) =>
        platform.smsMfa.verify(
          auditContext(request),
          accountOf(request.principal!),
          request.body.verificationId,
          request.body.code,
        ),
    );

    app.delete(
      '/mfa/sms',
      {
        schema: {
          tags,
          operationId: 'revokeSmsMfa',
          summary: "Turn SMS codes off for the calling account (needs the account's password).",
          body: Type.Object(
            { password: Type.String({ minLength: 1, maxLength: 1024 }) },
            { additionalProperties: false },
          ),
          response: responses({ 204: Type.Null() }),
        },
      },
      async (request, reply) => {
        const account = accountOf(request.principal!);
        await checkAccountPassword(
          platform.store.db,
          platform.access.guard,
          account,
          request.body.password,
          request.ip,
        );
        await platform.smsMfa.remove(auditContext(request), account);
        return reply.status(204).send();
      },
    );
  };
