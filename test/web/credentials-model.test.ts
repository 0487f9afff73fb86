// The console's table of credential set types (web/src/credentials/model.ts) is a copy of the
// platform's (the platform's needs node:crypto and cannot be bundled): this keeps them in step, and
// checks what the form sends — a secret is never "kept" by an empty input when credentials are
// replaced, and untouched secret inputs mean only the description changes.

import { describe, expect, it } from 'vitest';
import { CREDENTIAL_TYPES as PLATFORM } from '../../src/platform/credentials/credential-types.js';
import { CREDENTIAL_TYPES, credentialsToSend } from '../../web/src/credentials/model.js';

describe('console credential types', () => {
  it('are the platform’s types with the same fields, kinds, secrecy and optionality', () => {
    const platform = Object.fromEntries(
      Object.entries(PLATFORM).map(([type, spec]) => [
        type,
        Object.entries(spec.fields).map(([name, f]) => ({
          name,
          kind: f.kind,
          secret: f.secret,
          required: f.required,
        })),
      ]),
    );
    expect(CREDENTIAL_TYPES).toEqual(platform);
  });

  it('sends credentials only when they are to be replaced, and then all required ones', () => {
    // A new set: everything typed is sent; a missing required field is named.
    expect(credentialsToSend('psk', { key: 'k' }, undefined, false)).toEqual({
      credentials: { key: 'k' },
      missing: [],
    });
    expect(credentialsToSend('x509', { cert: 'c' }, undefined, false)).toEqual({
      credentials: { cert: 'c' },
      missing: ['key'],
    });
    // An edit with the secret inputs empty and the shown fields as they were: description only.
    const shown = { username: 'dev' };
    expect(credentialsToSend('username-password-credentials', { username: 'dev' }, shown, false)).toEqual({
      missing: [],
    });
    // A changed user name needs the password again; a typed password with the same user name is sent.
    expect(credentialsToSend('username-password-credentials', { username: 'dev2' }, shown, false)).toEqual({
      credentials: { username: 'dev2' },
      missing: ['password'],
    });
    expect(
      credentialsToSend('username-password-credentials', { username: 'dev', password: 'p' }, shown, false),
    ).toEqual({ credentials: { username: 'dev', password: 'p' }, missing: [] });
    // A new type always needs its credentials.
    expect(credentialsToSend('api-token-credentials', {}, {}, true)).toEqual({
      credentials: {},
      missing: ['token'],
    });
  });
});
