// The credential set types simtrust accepts, declared once as data: each SORACOM type
// (reference/soracom.md §5.4, `CredentialsModel.type`) with its fields — whether a field is secret
// (kept sealed, never in an answer) or may be shown, whether it is required, and what it must hold.
// `checkCredentials` validates a set against this table; `publicCredentials` picks what a response
// may show. Types not listed are refused: nothing in simtrust would use them, and their field names
// are not documented where we could check them.
//
// Field names follow SORACOM's API: x509 {cert, key, ca} and aws-credentials {accessKeyId,
// secretAccessKey} as SORACOM's CLI and its Terraform provider send them. `private-key-pem`'s field
// name (`privateKey`) is simtrust's choice: SORACOM names the type but we found no source for its
// field (docs/credentials.md says so).

import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { SimtrustError } from '../../lib/errors.js';

/** What a field must hold. */
export type FieldKind =
  /** Any non-empty text. */
  | 'text'
  /** One or more PEM CERTIFICATE blocks (a leaf first, then its chain). */
  | 'pem-certificates'
  /** One PEM private key (PKCS#8, PKCS#1 or SEC 1), not encrypted. */
  | 'pem-private-key';

export interface FieldSpec {
  readonly kind: FieldKind;
  /** Sealed at rest and never part of an answer. */
  readonly secret: boolean;
  readonly required: boolean;
  readonly description: string;
}

export interface CredentialTypeSpec {
  readonly summary: string;
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** A check across fields (the key belongs to the certificate), after each field passed its own. */
  readonly check?: (values: Readonly<Record<string, string>>) => void;
}

/** Longest text field (a password, token or PSK): 4 KiB. */
export const MAX_TEXT_BYTES = 4096;
/** Longest PEM field (a certificate chain or a CA bundle): 64 KiB. */
export const MAX_PEM_BYTES = 65_536;

const secretText = (description: string): FieldSpec => ({
  kind: 'text',
  secret: true,
  required: true,
  description,
});
const shownText = (description: string): FieldSpec => ({
  kind: 'text',
  secret: false,
  required: true,
  description,
});

export const CREDENTIAL_TYPES = {
  psk: {
    summary: 'Pre-shared key: Beam signs the headers it adds with it (X-Soracom-Signature).',
    fields: { key: secretText('The pre-shared key.') },
  },
  'username-password-credentials': {
    summary: 'A user name and password (e.g. MQTT or HTTP Basic towards the destination).',
    fields: {
      username: shownText('User name (shown in answers).'),
      password: secretText('Password.'),
    },
  },
  'api-token-credentials': {
    summary: 'An API token (e.g. an Authorization header towards the destination).',
    fields: { token: secretText('The token.') },
  },
  x509: {
    summary: 'A client certificate and its private key for mutual TLS, and optionally the CA to trust.',
    fields: {
      cert: {
        kind: 'pem-certificates',
        secret: true,
        required: true,
        description: 'Client certificate (PEM), optionally followed by its chain.',
      },
      key: {
        kind: 'pem-private-key',
        secret: true,
        required: true,
        description: 'Private key of the certificate (PEM, not encrypted).',
      },
      ca: {
        kind: 'pem-certificates',
        secret: true,
        required: false,
        description: 'CA certificate(s) (PEM) the destination’s certificate must chain to.',
      },
    },
    check: (v) => {
      const leaf = firstCertificate(v.cert ?? '');
      const key = privateKeyOf(v.key ?? '', 'key');
      if (!leaf.checkPrivateKey(key)) {
        throw invalid(
          'key',
          'key is not the private key of cert (the public keys differ); give the key the certificate was issued for',
        );
      }
    },
  },
  'private-key-pem': {
    summary: 'A private key (PEM), e.g. for signing.',
    fields: {
      privateKey: {
        kind: 'pem-private-key',
        secret: true,
        required: true,
        description: 'Private key (PEM, not encrypted).',
      },
    },
  },
  'aws-credentials': {
    summary: 'An AWS access key.',
    fields: {
      accessKeyId: shownText('AWS access key id (shown in answers).'),
      secretAccessKey: secretText('AWS secret access key.'),
    },
  },
  'aws-iam-role-credentials': {
    summary: 'An AWS IAM role to assume.',
    fields: {
      roleArn: shownText('Role ARN (shown in answers).'),
      externalId: secretText('External id of the role’s trust policy.'),
    },
  },
  'azure-credentials': {
    summary: 'An Azure shared access policy.',
    fields: {
      policyName: shownText('Policy name (shown in answers).'),
      key: secretText('Policy key.'),
    },
  },
  'azureIoT-credentials': {
    summary: 'An Azure IoT Hub shared access key.',
    fields: {
      sharedAccessKeyName: shownText('Shared access key name (shown in answers).'),
      sharedAccessKey: secretText('Shared access key.'),
    },
  },
} as const satisfies Record<string, CredentialTypeSpec>;

export type CredentialType = keyof typeof CREDENTIAL_TYPES;
export const CREDENTIAL_TYPE_NAMES = Object.keys(CREDENTIAL_TYPES) as CredentialType[];

export const isCredentialType = (type: string): type is CredentialType =>
  Object.hasOwn(CREDENTIAL_TYPES, type);

function invalid(field: string, message: string): SimtrustError {
  return new SimtrustError('ERR_CREDENTIALS_INVALID', message, { details: { field } });
}

export function typeSpec(type: string): CredentialTypeSpec {
  if (!isCredentialType(type)) {
    throw new SimtrustError(
      'ERR_CREDENTIALS_INVALID',
      `type must be one of ${CREDENTIAL_TYPE_NAMES.join(', ')}`,
      { details: { field: 'type' } },
    );
  }
  return CREDENTIAL_TYPES[type];
}

// RFC 7468 §2: `-----BEGIN label-----` … `-----END label-----`.
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

function pemBlocks(text: string): Array<{ label: string; pem: string }> {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1] ?? '', pem: m[0] }));
}

/** Text outside the PEM blocks must be blank: anything else is a paste gone wrong. */
function onlyBlocks(text: string): boolean {
  return text.replace(PEM_BLOCK, '').trim() === '';
}

function certificates(field: string, text: string): X509Certificate[] {
  const blocks = pemBlocks(text);
  if (blocks.length === 0 || !onlyBlocks(text)) {
    throw invalid(field, `${field} must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)`);
  }
  return blocks.map((b, i) => {
    if (b.label !== 'CERTIFICATE') {
      throw invalid(
        field,
        `${field} holds a ${b.label} block where a CERTIFICATE was expected${b.label.includes('PRIVATE KEY') ? '; a private key goes in its own field' : ''}`,
      );
    }
    try {
      return new X509Certificate(b.pem);
    } catch {
      throw invalid(field, `${field}: certificate ${i + 1} is not a valid X.509 certificate`);
    }
  });
}

const firstCertificate = (text: string): X509Certificate => {
  const [leaf] = certificates('cert', text);
  if (leaf === undefined) throw invalid('cert', 'cert must hold a certificate');
  return leaf;
};

const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']);

function privateKeyOf(text: string, field: string): KeyObject {
  const blocks = pemBlocks(text);
  const [block] = blocks;
  if (blocks.length !== 1 || block === undefined || !onlyBlocks(text)) {
    throw invalid(field, `${field} must be exactly one PEM private key (-----BEGIN PRIVATE KEY-----)`);
  }
  if (block.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(block.pem)) {
    throw invalid(
      field,
      `${field} is encrypted; give it without a passphrase (for example \`openssl pkey -in key.pem -out plain.pem\`)`,
    );
  }
  if (!KEY_LABELS.has(block.label)) {
    throw invalid(field, `${field} holds a ${block.label} block where a private key was expected`);
  }
  try {
    return createPrivateKey({ key: block.pem, format: 'pem' });
  } catch {
    throw invalid(field, `${field} is not a readable private key`);
  }
}

function checkField(name: string, spec: FieldSpec, value: string): void {
  const bytes = Buffer.byteLength(value);
  const max = spec.kind === 'text' ? MAX_TEXT_BYTES : MAX_PEM_BYTES;
  if (bytes === 0) throw invalid(name, `${name} must not be empty`);
  if (bytes > max) throw invalid(name, `${name} is longer than ${max} bytes`);
  if (spec.kind === 'pem-certificates') certificates(name, value);
  else if (spec.kind === 'pem-private-key') privateKeyOf(value, name);
}

/**
 * Validates `credentials` for `type` (every field known, every required one given, each holding
 * what it must) and returns the values to store. Errors are ERR_CREDENTIALS_INVALID naming the
 * field; no message contains a value.
 */
export function checkCredentials(type: string, credentials: unknown): Record<string, string> {
  const spec = typeSpec(type);
  if (credentials === null || typeof credentials !== 'object' || Array.isArray(credentials)) {
    throw invalid('credentials', 'credentials must be an object of text fields');
  }
  const allowed = Object.keys(spec.fields);
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(credentials)) {
    const field = Object.hasOwn(spec.fields, name) ? spec.fields[name] : undefined;
    if (field === undefined) {
      throw invalid(
        'credentials',
        `a ${type} credential set has no field ${JSON.stringify(name.slice(0, 64))}; its fields are ${allowed.join(', ')}`,
      );
    }
    if (typeof value !== 'string') throw invalid(name, `${name} must be text`);
    checkField(name, field, value);
    values[name] = value;
  }
  for (const [name, field] of Object.entries(spec.fields)) {
    if (field.required && values[name] === undefined) {
      throw invalid(name, `a ${type} credential set needs ${name} (${field.description})`);
    }
  }
  spec.check?.(values);
  return values;
}

/** The fields of a set that an answer may show (never a secret one). */
export function publicCredentials(
  type: string,
  values: Readonly<Record<string, string>>,
): Record<string, string> {
  const spec = typeSpec(type);
  const shown: Record<string, string> = {};
  for (const [name, field] of Object.entries(spec.fields)) {
    const value = values[name];
    if (!field.secret && value !== undefined) shown[name] = value;
  }
  return shown;
}
