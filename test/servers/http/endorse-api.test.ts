// The API side of tokens: the Endorse group namespace is validated when written (through its
// SoracomEndorse alias too), the JWKS and PEM-by-kid are public, and listing/rotating keys needs
// credentials, is audited, and never shows a private key.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redirectAllowed } from '../../../src/platform/endorse/config.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';

let api: TestApi;
let groupId: string;

beforeAll(async () => {
  api = await startTestApi();
  const g = await api.call({ method: 'POST', url: '/v1/groups', payload: { tags: { name: 'g' } } });
  groupId = g.json().groupId;
});
afterAll(() => api.close());

const put = (namespace: string, params: Array<{ key: string; value: unknown }>) =>
  api.call({ method: 'PUT', url: `/v1/groups/${groupId}/configuration/${namespace}`, payload: params });

describe('Endorse group configuration', () => {
  it('stores SORACOM-shaped values under Endorse, written through either name', async () => {
    const r = await put('SoracomEndorse', [
      { key: 'enabled', value: true },
      {
        key: 'parametersToEndorse',
        value: { simId: true, imsi: true, imei: true, msisdn: false, requestParameters: true },
      },
      { key: 'tokenTimeoutSeconds', value: 600 },
      { key: 'allowOrigin', value: 'https://soracom.io' },
      { key: 'authorizedRedirectUrls', value: ['https://soracom.io', 'http://localhost:3000'] },
    ]);
    expect(r.statusCode).toBe(200);
    expect(r.json().configuration.Endorse).toMatchObject({ enabled: true, tokenTimeoutSeconds: 600 });
    expect((await put('Endorse', [{ key: 'compat', value: 'soracom' }])).statusCode).toBe(200);
  });

  it('refuses unknown keys and out-of-bounds values with ERR_ENDORSE_CONFIG, changing nothing', async () => {
    const bad: Array<[string, unknown]> = [
      ['includeImei', true],
      ['enabled', 'yes'],
      ['tokenTimeoutSeconds', 59],
      ['tokenTimeoutSeconds', 86_401],
      ['tokenTimeoutSeconds', 1.5],
      ['parametersToEndorse', { iccid: true }],
      ['parametersToEndorse', { imsi: 'true' }],
      ['allowOrigin', '*'],
      ['allowOrigin', 'https://app.example.com/path'],
      ['authorizedRedirectUrls', ['javascript:alert(1)']],
      ['authorizedRedirectUrls', ['https://user:pw@app.example.com/']],
      ['authorizedRedirectUrls', ['https://app.example.com/?next=x']],
      ['authorizedRedirectUrls', Array.from({ length: 21 }, (_, i) => `https://a${i}.example.com/`)],
      ['compat', 'aws'],
      ['algorithm', 'HS256'],
      ['algorithm', 'none'],
    ];
    for (const [key, value] of bad) {
      const r = await put('SoracomEndorse', [
        { key: 'tokenTimeoutSeconds', value: 300 },
        { key, value },
      ]);
      expect([r.statusCode, r.json().code], `${key}=${JSON.stringify(value)}`).toEqual([
        400,
        'ERR_ENDORSE_CONFIG',
      ]);
    }
    const group = await api.call({ method: 'GET', url: `/v1/groups/${groupId}` });
    expect(group.json().configuration.Endorse.tokenTimeoutSeconds).toBe(600);
  });

  it('matches redirect URLs by origin and path segment, never by string prefix', () => {
    const allowed = [new URL('https://app.example.com/login'), new URL('http://localhost:3000')];
    const ok = (u: string) => redirectAllowed(new URL(u), allowed);
    expect(ok('https://app.example.com/login')).toBe(true);
    expect(ok('https://app.example.com/login/cb?x=1')).toBe(true);
    expect(ok('http://localhost:3000/anything')).toBe(true);
    expect(ok('https://app.example.com/login2')).toBe(false);
    expect(ok('https://app.example.com.evil.net/login')).toBe(false);
    expect(ok('https://a:b@app.example.com/login')).toBe(false);
    expect(ok('http://app.example.com/login')).toBe(false);
    expect(ok('http://localhost:3001/')).toBe(false);
  });
});

describe('signing keys over the API', () => {
  it('serves the JWKS and PEM by kid without credentials', async () => {
    const jwks = await api.call({ method: 'GET', url: '/.well-known/jwks.json', token: null });
    expect(jwks.statusCode).toBe(200);
    const keys = jwks.json().keys as Array<{ kid: string; alg: string; d?: string }>;
    expect(keys.map((k) => k.alg).sort()).toEqual(['ES256', 'ES256', 'EdDSA', 'EdDSA', 'RS256', 'RS256']);
    expect(keys.some((k) => 'd' in k)).toBe(false);
    for (const kid of [keys[0]!.kid, keys[1]!.kid]) {
      const pem = await api.call({ method: 'GET', url: `/v1/endorse/keys/${kid}`, token: null });
      expect(pem.statusCode).toBe(200);
      expect(pem.body).toMatch(/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/);
    }
    const missing = await api.call({
      method: 'GET',
      url: '/v1/endorse/keys/v1-00000000000000000000000000000000-x509.pem',
      token: null,
    });
    expect([missing.statusCode, missing.json().code]).toEqual([404, 'ERR_ENDORSE_KEY_NOT_FOUND']);
  });

  it('lists and rotates keys with credentials only, audited, no private key in any answer', async () => {
    expect((await api.call({ method: 'GET', url: '/v1/endorse/keys', token: null })).statusCode).toBe(401);
    expect(
      (await api.call({ method: 'POST', url: '/v1/endorse/keys/rotate', token: null, payload: {} }))
        .statusCode,
    ).toBe(401);
    const rotated = await api.call({
      method: 'POST',
      url: '/v1/endorse/keys/rotate',
      payload: { algorithms: ['ES256'], activateInSeconds: 60 },
    });
    expect(rotated.statusCode).toBe(201);
    const [key] = rotated.json() as Array<{
      kid: string;
      state: string;
      activatesTime: number;
      createdTime: number;
    }>;
    expect(key?.state).toBe('pending');
    expect(key!.activatesTime - key!.createdTime).toBe(60_000);
    const again = await api.call({
      method: 'POST',
      url: '/v1/endorse/keys/rotate',
      payload: { algorithms: ['ES256'] },
    });
    expect([again.statusCode, again.json().code]).toEqual([409, 'ERR_ENDORSE_KEY_PENDING']);
    const bad = await api.call({
      method: 'POST',
      url: '/v1/endorse/keys/rotate',
      payload: { algorithms: ['HS256'] },
    });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'ERR_VALIDATION']);
    const list = await api.call({ method: 'GET', url: '/v1/endorse/keys' });
    expect(
      list
        .json()
        .map((k: { state: string }) => k.state)
        .sort(),
    ).toEqual(['current', 'current', 'current', 'pending']);
    expect(list.body + rotated.body).not.toMatch(/PRIVATE|"d":|s1\./);
    const audit = await api.call({
      method: 'GET',
      url: '/v1/audit_logs?operation_id=Endorse:rotateEndorseKeys',
    });
    expect(audit.body).toContain(key!.kid);
  });
});
