// Schemas of the access-management API (SORACOM SAM shapes, reference/soracom.md §3). Response
// schemas declare no password, hash or TOTP secret; the two answers that carry a secret once —
// a generated auth key and MFA enrolment (URI, backup codes) — say so in their description.

import { Type } from '@fastify/type-provider-typebox';
import { MAX_PASSWORD_LENGTH } from '../../../platform/iam/passwords.js';
import { MAX_POLICY_LENGTH } from '../../../platform/iam/policy/policy.js';
import { ROLE_ID_PATTERN } from '../../../platform/iam/roles.js';
import { USER_NAME_PATTERN } from '../../../platform/iam/users.js';
import { UnixMsQuery } from './common.js';

const Time = Type.Integer({ description: 'Unix milliseconds' });

export const OperatorParams = Type.Object({
  operator_id: Type.String({ minLength: 1, maxLength: 64, description: 'Your operator id (OP + 10 digits)' }),
});
export const UserName = Type.String({ pattern: USER_NAME_PATTERN, description: 'SAM user name' });
export const UserParams = Type.Object({
  operator_id: OperatorParams.properties.operator_id,
  user_name: UserName,
});
export const RoleId = Type.String({ pattern: ROLE_ID_PATTERN });
export const RoleParams = Type.Object({
  operator_id: OperatorParams.properties.operator_id,
  role_id: RoleId,
});
export const AuthKeyId = Type.String({ minLength: 1, maxLength: 64 });

export const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH });
export const PermissionText = Type.String({
  minLength: 2,
  maxLength: MAX_POLICY_LENGTH,
  description:
    'A permission document as a JSON string: {"statements":[{"effect":"allow|deny","api":["Tag:operationId",…],"condition":"…"}]} (docs/access-management.md)',
});
export const MfaOtpCode = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'A 6-digit TOTP code, or a backup code',
});

export const Operator = Type.Object({
  operatorId: Type.String(),
  email: Type.String(),
  mfaStatus: Type.String(),
  createdTime: Time,
  lastModifiedTime: Time,
});

export const AuthKey = Type.Object({
  authKeyId: Type.String(),
  createdTime: Time,
  lastUsedTime: Type.Union([Time, Type.Null()]),
});

export const GeneratedAuthKey = Type.Object(
  { authKeyId: Type.String(), authKey: Type.String() },
  { description: 'The secret (`authKey`) is shown in this answer only; it is stored hashed.' },
);

export const MfaStatusBody = Type.Object({
  status: Type.Union([Type.Literal('ACTIVE'), Type.Literal('INACTIVE'), Type.Literal('UNCONFIRMED')]),
});
export const MfaEnrolment = Type.Object(
  { totpUri: Type.String() },
  {
    description:
      'otpauth:// URI with the TOTP secret, shown in this answer only; MFA stays UNCONFIRMED until verified.',
  },
);
export const MfaBackupCodes = Type.Object(
  { backupCodes: Type.Array(Type.String()) },
  { description: 'Single-use backup codes, shown in this answer only (stored hashed).' },
);
export const MfaVerifyBody = Type.Object({ mfaOTPCode: MfaOtpCode }, { additionalProperties: false });
export const PasswordBody = Type.Object({ password: Password }, { additionalProperties: false });
export const PasswordChangeBody = Type.Object(
  { currentPassword: Password, newPassword: Password },
  { additionalProperties: false },
);

export const User = Type.Object({
  operatorId: Type.String(),
  userName: Type.String(),
  description: Type.String(),
  hasPassword: Type.Boolean(),
  consoleLogin: Type.Boolean({ description: 'Whether the user may log in with a password' }),
  permission: Type.Union([Type.String(), Type.Null()], { description: 'The direct permission document' }),
  roleList: Type.Array(Type.Object({ roleId: Type.String(), attachedTime: Time })),
  authKeyList: Type.Array(AuthKey),
  mfaStatus: Type.String(),
  createdTime: Time,
  lastModifiedTime: Time,
});

export const UserBody = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    consoleLogin: Type.Optional(Type.Boolean({ description: 'Allow password login (default true)' })),
  },
  { additionalProperties: false },
);

export const Role = Type.Object({
  operatorId: Type.String(),
  roleId: Type.String(),
  description: Type.String(),
  permission: Type.String(),
  owner: Type.String(),
  createdTime: Time,
  lastModifiedTime: Time,
});

export const CreateRoleBody = Type.Object(
  { permission: PermissionText, description: Type.Optional(Type.String({ maxLength: 1000 })) },
  { additionalProperties: false },
);
export const UpdateRoleBody = Type.Object(
  {
    permission: Type.Optional(PermissionText),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export const PermissionBody = Type.Object({ permission: PermissionText }, { additionalProperties: false });
export const DefaultPermissionsBody = Type.Object(
  { permissions: PermissionText },
  { additionalProperties: false },
);

const Statement = Type.Object({
  source: Type.String({ description: 'user, role:<roleId> or default' }),
  index: Type.Integer(),
  effect: Type.String(),
  statement: Type.Unknown(),
});

export const Simulation = Type.Object({
  api: Type.String(),
  decision: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
  reason: Type.String({ description: 'allowed, explicit-deny or implicit-deny (nothing allows it)' }),
  statement: Type.Union([Statement, Type.Null()], { description: 'The statement that decided' }),
  evaluated: Type.Array(
    Type.Object({
      source: Type.String(),
      index: Type.Integer(),
      effect: Type.String(),
      statement: Type.Unknown(),
      apiMatched: Type.Boolean(),
      conditionMet: Type.Union([Type.Boolean(), Type.Null()]),
    }),
  ),
});

export const SimulateQuery = Type.Object(
  {
    api: Type.String({
      pattern: '^[A-Z][A-Za-z0-9]{0,63}:[a-z][A-Za-z0-9]{0,127}$',
      description: 'Tag:operationId',
    }),
    source_ip: Type.Optional(
      Type.String({ maxLength: 64, description: 'default: the address of this request' }),
    ),
    http_method: Type.Optional(Type.String({ maxLength: 10 })),
    path_variable: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}=', maxLength: 300 }), {
        maxItems: 20,
        description: 'name=value, repeatable',
      }),
    ),
    time: Type.Optional(UnixMsQuery('Unix ms; default now')),
  },
  { additionalProperties: false },
);

/** For routes whose body is optional: no body at all is validated as `{}`. */
export const bodyOptional = {
  preValidation: async (request: { body: unknown }) => {
    request.body ??= {};
  },
};

export const AuthRequest = Type.Object(
  {
    email: Type.Optional(Type.String({ minLength: 3, maxLength: 254 })),
    password: Type.Optional(Password),
    operatorId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    userName: Type.Optional(UserName),
    authKeyId: Type.Optional(AuthKeyId),
    authKey: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    mfaOTPCode: Type.Optional(MfaOtpCode),
    mfaTransactionId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description: 'With SMS codes: the login transaction from the X-Simtrust-Mfa-Transaction header.',
      }),
    ),
    tokenTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 180, maximum: 172_800 })),
  },
  {
    additionalProperties: false,
    description:
      'One of: {email, password} (root), {operatorId, userName, password} (a user), {authKeyId, authKey}; plus mfaOTPCode when MFA is active, and tokenTimeoutSeconds (default 86400, at most 172800).',
  },
);

export const AuthResponse = Type.Object({
  apiKey: Type.String(),
  token: Type.String(),
  operatorId: Type.String(),
  userName: Type.Optional(Type.String()),
});
