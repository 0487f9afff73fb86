// The three access-management examples of the seed (PRODUCT.md §2, the SORACOM IoT security talk)
// as permission documents, each tested: a developer who may log in and use keys but not terminate
// SIMs; a monitoring program whose key may only read (get*/list*); procurement staff who may log in
// but touch no SIM. The threat each one answers: a colleague's or a program's credentials reaching
// further than their job.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeTable } from '../../../src/servers/http/plugins/auth.js';
import { startTestApi, type TestApi, vendorCsv } from '../../helpers/app.js';

const DEVELOPER = {
  statements: [
    { effect: 'allow', api: ['Sim:*', 'Group:*', 'Auth:*'] },
    {
      effect: 'allow',
      api: ['User:generateUserAuthKey', 'User:listUserAuthKeys', 'User:deleteUserAuthKey', 'User:getUser'],
      condition: "pathVariable('user_name') == samUserName",
    },
    { effect: 'deny', api: ['Sim:terminateSim', 'Sim:enableSimTermination'] },
  ],
};
const MONITORING = {
  statements: [
    { effect: 'allow', api: ['Sim:get*', 'Sim:list*', 'Group:get*', 'Group:list*', 'AuditLog:list*'] },
  ],
};
const PROCUREMENT = {
  statements: [
    { effect: 'allow', api: ['Auth:*', 'Group:list*', 'Group:get*'] },
    { effect: 'deny', api: ['Sim:*'] },
  ],
};

let api: TestApi;
let op: string;
let sims: string[];

beforeAll(async () => {
  api = await startTestApi();
  op = api.operator.operatorId;
  const { csv, rows } = vendorCsv(4);
  await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: csv,
  });
  sims = rows.map((r) => r.iccid);
  for (const [roleId, permission] of [
    ['developer', DEVELOPER],
    ['monitoring', MONITORING],
    ['procurement', PROCUREMENT],
  ] as const) {
    const res = await api.call({
      method: 'POST',
      url: `/v1/operators/${op}/roles/${roleId}`,
      payload: { permission: JSON.stringify(permission) },
    });
    expect(res.statusCode, res.body).toBe(201);
  }
});
afterAll(() => api.close());

async function user(name: string, role: string, o: { password?: string; consoleLogin?: boolean }) {
  expect(
    (
      await api.call({
        method: 'POST',
        url: `/v1/operators/${op}/users/${name}`,
        payload: { consoleLogin: o.consoleLogin ?? true },
      })
    ).statusCode,
  ).toBe(201);
  if (o.password) {
    await api.call({
      method: 'POST',
      url: `/v1/operators/${op}/users/${name}/password`,
      payload: { password: o.password },
    });
  }
  expect(
    (
      await api.call({
        method: 'POST',
        url: `/v1/operators/${op}/users/${name}/roles`,
        payload: { roleId: role },
      })
    ).statusCode,
  ).toBe(204);
}

const passwordLogin = (userName: string, password: string) =>
  api.call({ method: 'POST', url: '/v1/auth', token: null, payload: { operatorId: op, userName, password } });

describe('seed example 1: a developer logs in and uses keys but may not terminate SIMs', () => {
  it('works day to day, mints own keys, and is refused termination by password and by key', async () => {
    await user('dev', 'developer', { password: 'developer-password' });
    const login = await passwordLogin('dev', 'developer-password');
    expect(login.statusCode).toBe(200);
    const token = login.json().token;
    const sim = sims[0] as string;
    expect((await api.call({ method: 'POST', url: `/v1/sims/${sim}/activate`, token })).statusCode).toBe(200);
    expect((await api.call({ method: 'POST', url: `/v1/sims/${sim}/suspend`, token })).statusCode).toBe(200);
    // Own keys yes, someone else's no.
    const key = await api.call({ method: 'POST', url: `/v1/operators/${op}/users/dev/auth_keys`, token });
    expect(key.statusCode).toBe(201);
    await user('someone', 'monitoring', {});
    expect(
      (await api.call({ method: 'POST', url: `/v1/operators/${op}/users/someone/auth_keys`, token }))
        .statusCode,
    ).toBe(403);
    const keyToken = (
      await api.call({ method: 'POST', url: '/v1/auth', token: null, payload: key.json() })
    ).json().token;
    expect((await api.call({ method: 'GET', url: '/v1/sims', token: keyToken })).statusCode).toBe(200);
    for (const t of [token, keyToken]) {
      const enable = await api.call({ method: 'POST', url: `/v1/sims/${sim}/enable_termination`, token: t });
      expect(enable.statusCode).toBe(403);
      const terminate = await api.call({ method: 'POST', url: `/v1/sims/${sim}/terminate`, token: t });
      expect(terminate.statusCode).toBe(403);
      expect(terminate.json().message).toContain('denied by statement 2 of role:developer');
    }
    // Root can; the developer's refusal left the SIM as it was.
    expect((await api.call({ method: 'GET', url: `/v1/sims/${sim}` })).json().status).toBe('suspended');
    // Nor may the developer widen their own rights.
    const escalate = await api.call({
      method: 'PUT',
      url: `/v1/operators/${op}/users/dev/permission`,
      token,
      payload: { permission: '{"statements":[{"effect":"allow","api":"*"}]}' },
    });
    expect(escalate.statusCode).toBe(403);
  });
});

describe('seed example 2: a monitoring program with a read-only key', () => {
  it('every get*/list* route is open to its key, every other route is 403, and it has no password login', async () => {
    await user('monitor', 'monitoring', { consoleLogin: false });
    const key = (
      await api.call({ method: 'POST', url: `/v1/operators/${op}/users/monitor/auth_keys` })
    ).json();
    const token = (await api.call({ method: 'POST', url: '/v1/auth', token: null, payload: key })).json()
      .token;
    expect((await api.call({ method: 'GET', url: '/v1/sims', token })).statusCode).toBe(200);
    expect((await api.call({ method: 'GET', url: `/v1/sims/${sims[1]}`, token })).statusCode).toBe(200);
    expect((await api.call({ method: 'GET', url: '/v1/groups', token })).statusCode).toBe(200);
    expect((await api.call({ method: 'GET', url: '/v1/audit_logs', token })).statusCode).toBe(200);

    const readOnly = /^(Sim|Group|AuditLog):(get|list)/;
    let refused = 0;
    for (const route of routeTable(api.app)) {
      if (route.public || !route.url.startsWith('/v1/') || !/^(Sim|Group|AuditLog):/.test(route.operation))
        continue;
      const url = route.url.replace(/:(\w+)/g, (_, name: string) =>
        name === 'sim_id' ? (sims[1] as string) : 'x',
      );
      const res = await api.call({ method: route.method as 'GET', url, token });
      if (readOnly.test(route.operation)) expect(res.statusCode, route.operation).not.toBe(403);
      else {
        expect(res.statusCode, route.operation).toBe(403);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(15);
    expect((await api.call({ method: 'GET', url: `/v1/sims/${sims[1]}`, token })).json().status).toBe(
      'ready',
    );
  });
});

describe('seed example 3: procurement logs in but touches no SIM', () => {
  it('logs in to the console; every Sim route is refused', async () => {
    await user('buyer', 'procurement', { password: 'procurement-password' });
    const login = await passwordLogin('buyer', 'procurement-password');
    expect(login.statusCode).toBe(200);
    const token = login.json().token;
    expect((await api.call({ method: 'GET', url: '/v1/auth/session', token })).json()).toMatchObject({
      kind: 'user',
      userName: 'buyer',
    });
    expect((await api.call({ method: 'GET', url: '/v1/groups', token })).statusCode).toBe(200);
    const simRoutes = routeTable(api.app).filter((r) => r.operation.startsWith('Sim:'));
    expect(simRoutes.length).toBeGreaterThan(15);
    for (const route of simRoutes) {
      const url = route.url.replace(/:(\w+)/g, (_, name: string) =>
        name === 'sim_id' ? (sims[2] as string) : 'x',
      );
      const res = await api.call({ method: route.method as 'GET', url, token });
      expect(res.statusCode, route.operation).toBe(403);
    }
    const audit = (
      await api.call({ method: 'GET', url: '/v1/audit_logs?user_name=buyer&result=denied&limit=100' })
    ).json();
    expect(audit.length).toBe(simRoutes.length);
    expect(audit[0].detail.authorization).toMatchObject({
      decision: 'deny',
      reason: 'explicit-deny',
      statement: { source: 'role:procurement', index: 1 },
    });
  });
});
