// GET /v1/gateway/applications: the MFA gateway's configured applications, read only. Threats: one
// operator learning another's applications (their directories, upstreams), a credential configured
// in an upstream URL (userinfo, a token in its query or path) leaving in the answer, and a SAM user
// without the permission reading the configuration. SQLite and PostgreSQL.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPlatform } from '../../../src/platform/platform.js';
import { buildApp } from '../../../src/servers/http/app.js';
import { startTestApi, type TestApi, testConfig } from '../../helpers/app.js';

let api: TestApi;
let gateway: Awaited<ReturnType<typeof buildApp>>['app'];
let other: Awaited<ReturnType<TestApi['newOperator']>>;
let dirA: string;
let dirB: string;

const SECRET_UPSTREAM = 'http://svc:upstream-password@10.0.0.5:8080/base/tok-4f9a?key=query-secret';

beforeAll(async () => {
  api = await startTestApi();
  other = await api.newOperator();
  dirA = (await api.call({ method: 'POST', url: '/v1/directories', payload: { name: 'staff' } })).json()
    .directoryId;
  dirB = (
    await api.call({
      method: 'POST',
      url: '/v1/directories',
      payload: { name: 'theirs' },
      token: other.token,
    })
  ).json().directoryId;
  // The gateway's configuration names directories by id, so the platform is opened again on the same
  // database with applications that name the two directories just made.
  const config = testConfig({
    databaseUrl: api.db.url,
    masterKey: api.masterKey,
    gatewayApplications: [
      {
        name: 'wiki',
        displayName: 'Team wiki',
        prefix: '/wiki/',
        upstream: SECRET_UPSTREAM,
        users: { directory: dirA },
        policy: [{ groups: ['admins'], factors: ['totp'] }, { factors: ['sms-otp', 'sim-token'] }],
        returnToOrigins: ['https://wiki.example.com'],
      },
      { name: 'their-app', prefix: '/their/', upstream: 'http://10.0.0.9', users: { directory: dirB } },
      { name: 'console', prefix: '/', upstream: 'http://10.0.0.6:3000', users: { platform: true } },
      {
        name: 'ops',
        prefix: '/ops/',
        upstream: 'https://ops.internal',
        users: { platform: true, operatorId: api.operator.operatorId },
        stripPrefix: true,
        websocket: false,
      },
      {
        name: 'ops-b',
        prefix: '/ops-b/',
        upstream: 'https://ops-b.internal',
        users: { platform: true, operatorId: other.operatorId },
      },
    ],
  });
  const platform = await openPlatform(config, { masterKey: api.masterKey, store: api.db.store });
  gateway = (await buildApp({ platform })).app;
});
afterAll(async () => {
  await gateway?.close();
  await api.close();
});

const list = (token: string) =>
  gateway.inject({
    method: 'GET',
    url: '/v1/gateway/applications',
    headers: { authorization: `Bearer ${token}` },
  });

describe('GET /v1/gateway/applications', () => {
  it("lists the operator's applications: their directory's, their platform users', everyone's", async () => {
    const res = await list(api.operator.token);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual([
      {
        name: 'wiki',
        displayName: 'Team wiki',
        prefix: '/wiki/',
        upstreamOrigin: 'http://10.0.0.5:8080',
        returnToOrigins: ['https://wiki.example.com'],
        users: { kind: 'directory', directoryId: dirA, directoryName: 'staff' },
        policy: [
          { groups: ['admins'], factors: ['totp'] },
          { groups: null, factors: ['sms-otp', 'sim-token'] },
        ],
        audience: 'wiki',
        websocket: true,
        stripPrefix: false,
      },
      {
        name: 'console',
        displayName: null,
        prefix: '/',
        upstreamOrigin: 'http://10.0.0.6:3000',
        returnToOrigins: [],
        users: { kind: 'platform', operatorId: null },
        policy: [],
        audience: 'console',
        websocket: true,
        stripPrefix: false,
      },
      expect.objectContaining({
        name: 'ops',
        users: { kind: 'platform', operatorId: api.operator.operatorId },
        websocket: false,
        stripPrefix: true,
      }),
    ]);
    // Nothing of the upstream but its origin: no userinfo, path or query.
    for (const leak of ['upstream-password', 'svc:', 'tok-4f9a', 'query-secret', '/base'])
      expect(res.body).not.toContain(leak);
  });

  it("another operator sees theirs and the shared one, never this operator's", async () => {
    const res = await list(other.token);
    expect(res.statusCode).toBe(200);
    const names = (res.json() as Array<{ name: string }>).map((a) => a.name);
    expect(names).toEqual(['their-app', 'console', 'ops-b']);
    expect(res.body).not.toContain(dirA);
  });

  it('a SAM user needs Directory:listGatewayApplications', async () => {
    const op = api.operator.operatorId;
    const call = (method: 'POST' | 'PUT', url: string, payload?: unknown) =>
      api.call({ method, url: `/v1/operators/${op}${url}`, ...(payload ? { payload } : {}) });
    const userToken = async (name: string, apis: string[]) => {
      await call('POST', `/users/${name}`, {});
      await call('PUT', `/users/${name}/permission`, {
        permission: JSON.stringify({ statements: [{ effect: 'allow', api: apis }] }),
      });
      await call('POST', `/users/${name}/password`, { password: `${name}-password-1` });
      const login = await api.call({
        method: 'POST',
        url: '/v1/auth',
        token: null,
        payload: { operatorId: op, userName: name, password: `${name}-password-1` },
      });
      return login.json().token as string;
    };
    const denied = await list(await userToken('sims-only', ['Sim:*']));
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('ERR_FORBIDDEN');
    const allowed = await list(await userToken('gateway-reader', ['Directory:listGatewayApplications']));
    expect(allowed.statusCode).toBe(200);
    expect((allowed.json() as Array<{ name: string }>).map((a) => a.name)).toEqual([
      'wiki',
      'console',
      'ops',
    ]);
  });
});
