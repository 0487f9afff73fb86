// The credential set types the console offers and their fields: the same table as the platform's
// (src/platform/credentials/credential-types.ts, which needs node:crypto and cannot be bundled);
// test/web/credentials-model.test.ts keeps the two in step.

export type FieldKind = 'text' | 'pem-certificates' | 'pem-private-key';

export interface FieldDef {
  readonly name: string;
  readonly kind: FieldKind;
  /** Write-only: never filled from the server, sent only when typed. */
  readonly secret: boolean;
  readonly required: boolean;
}

const text = (name: string, secret = true): FieldDef => ({ name, kind: 'text', secret, required: true });

export const CREDENTIAL_TYPES: Readonly<Record<string, readonly FieldDef[]>> = {
  psk: [text('key')],
  'username-password-credentials': [text('username', false), text('password')],
  'api-token-credentials': [text('token')],
  x509: [
    { name: 'cert', kind: 'pem-certificates', secret: true, required: true },
    { name: 'key', kind: 'pem-private-key', secret: true, required: true },
    { name: 'ca', kind: 'pem-certificates', secret: true, required: false },
  ],
  'private-key-pem': [{ name: 'privateKey', kind: 'pem-private-key', secret: true, required: true }],
  'aws-credentials': [text('accessKeyId', false), text('secretAccessKey')],
  'aws-iam-role-credentials': [text('roleArn', false), text('externalId')],
  'azure-credentials': [text('policyName', false), text('key')],
  'azureIoT-credentials': [text('sharedAccessKeyName', false), text('sharedAccessKey')],
};

export const TYPE_NAMES = Object.keys(CREDENTIAL_TYPES);

/**
 * The `credentials` to send, or undefined when none are to be replaced (only the description
 * changes). `values` are the form's inputs; `shown` the set's fields as the server shows them.
 * Replacing needs every required field: a secret cannot be kept by leaving its input empty.
 */
export function credentialsToSend(
  type: string,
  values: Readonly<Record<string, string>>,
  shown: Readonly<Record<string, string>> | undefined,
  typeChanged: boolean,
): { credentials?: Record<string, string>; missing: string[] } {
  const fields = CREDENTIAL_TYPES[type] ?? [];
  const touched =
    typeChanged ||
    shown === undefined ||
    fields.some((f) =>
      f.secret ? (values[f.name] ?? '') !== '' : (values[f.name] ?? '') !== (shown[f.name] ?? ''),
    );
  if (!touched) return { missing: [] };
  const credentials: Record<string, string> = {};
  const missing: string[] = [];
  for (const f of fields) {
    const value = values[f.name] ?? '';
    if (value !== '') credentials[f.name] = value;
    else if (f.required) missing.push(f.name);
  }
  return { credentials, missing };
}
