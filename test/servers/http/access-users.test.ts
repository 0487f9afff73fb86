// The threat: an account takeover that controls every SIM. Sub-users must start with nothing,
// receive exactly what their permissions, roles and the defaults grant (deny wins), lose it the
// moment it is taken away, and every token, key and password change must behave as documented.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi, vendorCsv } from '../../helpers/app.js';

let api: TestApi;
let op: string;
let simId: string;

const policy = (...statements: object[]) => JSON.stringify({ statements });

async function createUser(name: string, password?: string, body: object = {}) {
  const res = await api.call({ method: 'POST', url: `/v1/operators/${op}/users/${name}`, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  if (password !== undefined) {
    const pw = await api.call({
      method: 'POST',
      url: `/v1/operators/${op}/users/${name}/password`,
      payload: { password },
    });
    expect(pw.statusCode, pw.body).toBe(204);
  }
}

async function loginUser(name: string, password: string, extra: object = {}) {
  return api.call({
    method: 'POST',
    url: '/v1/auth',
    token: null,
    payload: { operatorId: op, userName: name, password, ...extra },
  });
}

async function userToken(name: string, password: string): Promise<string> {
  const res = await loginUser(name, password);
  expect(res.statusCode, res.body).toBe(200);
  return res.json().token;
}

const setPermission = async (name: string, permission: string) => {
  const res = await api.call({
    method: 'PUT',
    url: `/v1/operators/${op}/users/${name}/permission`,
    payload: { permission },
  });
  expect(res.statusCode, res.body).toBe(204);
};

beforeAll(async () => {
  api = await startTestApi();
  op = api.operator.operatorId;
  const { csv, rows } = vendorCsv(3);
  const res = await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: csv,
  });
  expect(res.statusCode).toBe(200);
  simId = rows[0]!.iccid;
});
afterAll(() => api.close());

describe('users', () => {
  it('a new user exists, can log in, and may do nothing until granted', async () => {
    await createUser('newbie', 'newbie-password', { description: 'just hired' });
    const detail = (await api.call({ method: 'GET', url: `/v1/operators/${op}/users/newbie` })).json();
    expect(detail).toMatchObject({
      userName: 'newbie',
      description: 'just hired',
      hasPassword: true,
      consoleLogin: true,
      permission: null,
      roleList: [],
      authKeyList: [],
      mfaStatus: 'INACTIVE',
    });
    expect(JSON.stringify(detail)).not.toContain('newbie-password');
    const token = await userToken('newbie', 'newbie-password');
    const session = (await api.call({ method: 'GET', url: '/v1/sims', token })).json();
    expect(session.code).toBe('ERR_FORBIDDEN');
    const res = await api.call({ method: 'GET', url: '/v1/sims', token });
    expect(res.statusCode).toBe(403);
    expect(res.json().message).toContain('Sim:listSims');
  });

  it('refuses bad names, reserved names and duplicates', async () => {
    expect(
      (await api.call({ method: 'POST', url: `/v1/operators/${op}/users/bad%20name`, payload: {} }))
        .statusCode,
    ).toBe(400);
    expect(
      (await api.call({ method: 'POST', url: `/v1/operators/${op}/users/default_permissions`, payload: {} }))
        .statusCode,
    ).toBe(400);
    // No body at all is an empty description.
    expect((await api.call({ method: 'POST', url: `/v1/operators/${op}/users/bare` })).statusCode).toBe(201);
    await createUser('twice');
    const again = await api.call({ method: 'POST', url: `/v1/operators/${op}/users/twice`, payload: {} });
    expect(again.statusCode).toBe(409);
  });

  it('lists users in pages', async () => {
    for (const n of ['page-a', 'page-b', 'page-c']) await createUser(n);
    const first = await api.call({ method: 'GET', url: `/v1/operators/${op}/users?limit=2` });
    expect(first.json()).toHaveLength(2);
    const next = first.headers['x-soracom-next-key'] as string;
    const second = await api.call({
      method: 'GET',
      url: `/v1/operators/${op}/users?limit=100&last_evaluated_key=${next}`,
    });
    const names = [...first.json(), ...second.json()].map((u: { userName: string }) => u.userName);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['page-a', 'page-b', 'page-c']));
  });

  it('console login off: the password is refused (only after it is verified), keys still work', async () => {
    await createUser('robot', 'robot-password', { consoleLogin: false });
    const wrong = await loginUser('robot', 'not-the-password');
    expect(wrong.json().code).toBe('ERR_INVALID_CREDENTIALS');
    const right = await loginUser('robot', 'robot-password');
    expect(right.statusCode).toBe(403);
    expect(right.json().code).toBe('ERR_CONSOLE_LOGIN_DISABLED');
    const key = (await api.call({ method: 'POST', url: `/v1/operators/${op}/users/robot/auth_keys` })).json();
    const viaKey = await api.call({ method: 'POST', url: '/v1/auth', token: null, payload: key });
    expect(viaKey.statusCode).toBe(200);
    expect(viaKey.json().userName).toBe('robot');
  });

  it('deleting a user revokes its tokens and keys', async () => {
    await createUser('leaver', 'leaver-password');
    const token = await userToken('leaver', 'leaver-password');
    const key = (
      await api.call({ method: 'POST', url: `/v1/operators/${op}/users/leaver/auth_keys` })
    ).json();
    expect((await api.call({ method: 'DELETE', url: `/v1/operators/${op}/users/leaver` })).statusCode).toBe(
      204,
    );
    expect((await api.call({ method: 'GET', url: '/v1/auth/session', token })).statusCode).toBe(401);
    expect((await api.call({ method: 'POST', url: '/v1/auth', token: null, payload: key })).statusCode).toBe(
      401,
    );
    expect((await api.call({ method: 'GET', url: `/v1/operators/${op}/users/leaver` })).statusCode).toBe(404);
  });
});

describe('login and tokens', () => {
  it('three ways to log in, with the default and maximum token lifetime', async () => {
    const now = Date.now();
    const root = await api.call({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { email: api.operator.email, password: api.operator.password },
    });
    expect(root.statusCode).toBe(200);
    const row = await api.platform.store.db
      .selectFrom('api_tokens')
      .select('expires_at')
      .where('api_key', '=', root.json().apiKey)
      .executeTakeFirstOrThrow();
    expect(Math.abs(row.expires_at - now - 86_400_000)).toBeLessThan(60_000);

    await createUser('lifetime', 'lifetime-password');
    const long = await loginUser('lifetime', 'lifetime-password', { tokenTimeoutSeconds: 172_800 });
    expect(long.statusCode).toBe(200);
    expect(
      (await loginUser('lifetime', 'lifetime-password', { tokenTimeoutSeconds: 172_801 })).statusCode,
    ).toBe(400);

    const mixed = await api.call({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { email: api.operator.email, userName: 'x', password: 'y' },
    });
    expect(mixed.statusCode).toBe(400);
    expect(mixed.json().message).toContain('{authKeyId, authKey}');
  });

  it('SORACOM headers: the API key must be the one issued with the token', async () => {
    const res = await api.call({
      method: 'GET',
      url: '/v1/auth/session',
      token: null,
      headers: { 'x-soracom-api-key': api.operator.apiKey, 'x-soracom-token': api.operator.token },
    });
    expect(res.statusCode).toBe(200);
    const wrong = await api.call({
      method: 'GET',
      url: '/v1/auth/session',
      token: null,
      headers: { 'x-soracom-api-key': 'api-someone-else', 'x-soracom-token': api.operator.token },
    });
    expect(wrong.statusCode).toBe(401);
  });

  it('logout revokes the token; revoke-all revokes every token of a user', async () => {
    await createUser('sessions', 'sessions-password');
    await setPermission('sessions', policy({ effect: 'allow', api: ['Auth:*'] }));
    const a = await userToken('sessions', 'sessions-password');
    const b = await userToken('sessions', 'sessions-password');
    const c = await userToken('sessions', 'sessions-password');
    expect((await api.call({ method: 'POST', url: '/v1/auth/logout', token: a })).statusCode).toBe(204);
    expect((await api.call({ method: 'GET', url: '/v1/auth/session', token: a })).statusCode).toBe(401);
    expect((await api.call({ method: 'GET', url: '/v1/auth/session', token: b })).statusCode).toBe(200);
    expect(
      (await api.call({ method: 'DELETE', url: `/v1/operators/${op}/users/sessions/tokens` })).statusCode,
    ).toBe(204);
    for (const t of [b, c])
      expect((await api.call({ method: 'GET', url: '/v1/auth/session', token: t })).statusCode).toBe(401);
  });

  it("a user's password change revokes the user's tokens", async () => {
    await createUser('changer', 'changer-password-1');
    await setPermission(
      'changer',
      policy({
        effect: 'allow',
        api: ['User:updateUserPassword', 'Auth:getSession'],
        condition: "pathVariable('user_name') == samUserName",
      }),
    );
    const token = await userToken('changer', 'changer-password-1');
    const other = await userToken('changer', 'changer-password-1');
    const wrong = await api.call({
      method: 'PUT',
      url: `/v1/operators/${op}/users/changer/password`,
      token,
      payload: { currentPassword: 'nope-nope', newPassword: 'changer-password-2' },
    });
    expect(wrong.statusCode).toBe(401);
    const ok = await api.call({
      method: 'PUT',
      url: `/v1/operators/${op}/users/changer/password`,
      token,
      payload: { currentPassword: 'changer-password-1', newPassword: 'changer-password-2' },
    });
    expect(ok.statusCode, ok.body).toBe(204);
    for (const t of [token, other])
      expect((await api.call({ method: 'GET', url: '/v1/auth/session', token: t })).statusCode).toBe(401);
    expect((await loginUser('changer', 'changer-password-1')).statusCode).toBe(401);
    expect((await loginUser('changer', 'changer-password-2')).statusCode).toBe(200);
  });

  it("the root password change revokes root's tokens", async () => {
    const other = await api.newOperator();
    const second = await api.call({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { email: other.email, password: other.password },
    });
    const res = await api.call({
      method: 'POST',
      url: `/v1/operators/${other.operatorId}/password`,
      token: other.token,
      payload: { currentPassword: other.password, newPassword: 'a-brand-new-password' },
    });
    expect(res.statusCode, res.body).toBe(204);
    for (const t of [other.token, second.json().token]) {
      expect((await api.call({ method: 'GET', url: '/v1/auth/session', token: t })).statusCode).toBe(401);
    }
    const again = await api.call({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { email: other.email, password: 'a-brand-new-password' },
    });
    expect(again.statusCode).toBe(200);
  });
});

describe('auth keys', () => {
  it('the secret is shown once, stored hashed, and the last use is recorded', async () => {
    const created = await api.call({ method: 'POST', url: `/v1/operators/${op}/auth_keys` });
    expect(created.statusCode).toBe(201);
    const { authKeyId, authKey } = created.json();
    expect(authKeyId).toMatch(/^keyId-/);
    expect(authKey).toMatch(/^secret-/);
    const stored = await api.platform.store.db
      .selectFrom('auth_keys')
      .selectAll()
      .where('auth_key_id', '=', authKeyId)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toContain(authKey);
    const before = (await api.call({ method: 'GET', url: `/v1/operators/${op}/auth_keys` })).json();
    expect(JSON.stringify(before)).not.toContain(authKey);
    expect(before.find((k: { authKeyId: string }) => k.authKeyId === authKeyId).lastUsedTime).toBeNull();

    const login = await api.call({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { authKeyId, authKey },
    });
    expect(login.statusCode).toBe(200);
    const session = (
      await api.call({ method: 'GET', url: '/v1/auth/session', token: login.json().token })
    ).json();
    expect(session).toMatchObject({ kind: 'authKey', id: authKeyId, authKeyId });
    const after = (await api.call({ method: 'GET', url: `/v1/operators/${op}/auth_keys` })).json();
    expect(after.find((k: { authKeyId: string }) => k.authKeyId === authKeyId).lastUsedTime).toBeGreaterThan(
      0,
    );

    // A root key acts as root.
    expect(
      (await api.call({ method: 'GET', url: `/v1/sims/${simId}`, token: login.json().token })).statusCode,
    ).toBe(200);

    const wrong = await api.call({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { authKeyId, authKey: `${authKey}x` },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('ERR_INVALID_CREDENTIALS');

    // At most two; deleting one revokes the tokens it issued.
    await api.call({ method: 'POST', url: `/v1/operators/${op}/auth_keys` });
    const third = await api.call({ method: 'POST', url: `/v1/operators/${op}/auth_keys` });
    expect(third.statusCode).toBe(409);
    expect(third.json().code).toBe('ERR_AUTH_KEY_LIMIT');
    expect(
      (await api.call({ method: 'DELETE', url: `/v1/operators/${op}/auth_keys/${authKeyId}` })).statusCode,
    ).toBe(204);
    expect(
      (await api.call({ method: 'GET', url: '/v1/auth/session', token: login.json().token })).statusCode,
    ).toBe(401);
    expect(
      (await api.call({ method: 'POST', url: '/v1/auth', token: null, payload: { authKeyId, authKey } }))
        .statusCode,
    ).toBe(401);
  });

  it("a user's key acts with the user's permissions", async () => {
    await createUser('keyed');
    await setPermission('keyed', policy({ effect: 'allow', api: ['Sim:getSim'] }));
    const key = (await api.call({ method: 'POST', url: `/v1/operators/${op}/users/keyed/auth_keys` })).json();
    const token = (await api.call({ method: 'POST', url: '/v1/auth', token: null, payload: key })).json()
      .token;
    expect((await api.call({ method: 'GET', url: `/v1/sims/${simId}`, token })).statusCode).toBe(200);
    expect((await api.call({ method: 'GET', url: '/v1/sims', token })).statusCode).toBe(403);
    const one = (
      await api.call({ method: 'GET', url: `/v1/operators/${op}/users/keyed/auth_keys/${key.authKeyId}` })
    ).json();
    expect(one).toMatchObject({ authKeyId: key.authKeyId });
    expect(JSON.stringify(one)).not.toContain(key.authKey);
  });
});

describe('permissions', () => {
  it('roles, direct permission and defaults pool; deny wins; changes apply at once', async () => {
    await createUser('pooled', 'pooled-password');
    const token = await userToken('pooled', 'pooled-password');
    const get = () => api.call({ method: 'GET', url: `/v1/sims/${simId}`, token });
    expect((await get()).statusCode).toBe(403);

    const role = await api.call({
      method: 'POST',
      url: `/v1/operators/${op}/roles/sim-reader`,
      payload: {
        permission: policy({ effect: 'allow', api: ['Sim:get*', 'Sim:list*'] }),
        description: 'read SIMs',
      },
    });
    expect(role.statusCode, role.body).toBe(201);
    expect(
      (
        await api.call({
          method: 'POST',
          url: `/v1/operators/${op}/users/pooled/roles`,
          payload: { roleId: 'sim-reader' },
        })
      ).statusCode,
    ).toBe(204);
    expect((await get()).statusCode).toBe(200);
    const roles = (await api.call({ method: 'GET', url: `/v1/operators/${op}/users/pooled/roles` })).json();
    expect(roles.map((r: { roleId: string }) => r.roleId)).toEqual(['sim-reader']);
    expect(
      (await api.call({ method: 'GET', url: `/v1/operators/${op}/roles/sim-reader/users` })).json(),
    ).toEqual([expect.objectContaining({ userName: 'pooled' })]);

    // A deny in the direct permission beats the role's allow.
    await setPermission(
      'pooled',
      policy({ effect: 'deny', api: ['Sim:getSim'], condition: `pathVariable('sim_id') == '${simId}'` }),
    );
    const denied = await get();
    expect(denied.statusCode).toBe(403);
    expect(denied.json().message).toContain('denied by statement 0 of user');
    expect((await api.call({ method: 'GET', url: '/v1/sims', token })).statusCode).toBe(200);

    // A deny in the operator's defaults beats it too.
    await setPermission('pooled', policy({ effect: 'allow', api: ['Sim:getSim'] }));
    expect((await get()).statusCode).toBe(200);
    const defaults = await api.call({
      method: 'PUT',
      url: `/v1/operators/${op}/users/default_permissions`,
      payload: { permissions: policy({ effect: 'deny', api: ['Sim:list*'] }) },
    });
    expect(defaults.statusCode, defaults.body).toBe(204);
    expect((await api.call({ method: 'GET', url: '/v1/sims', token })).statusCode).toBe(403);
    expect(
      (await api.call({ method: 'GET', url: `/v1/operators/${op}/users/default_permissions` })).json()
        .permissions,
    ).toContain('Sim:list*');
    expect(
      (await api.call({ method: 'DELETE', url: `/v1/operators/${op}/users/default_permissions` })).statusCode,
    ).toBe(204);
    expect((await api.call({ method: 'GET', url: '/v1/sims', token })).statusCode).toBe(200);

    // A role in use cannot be deleted; detached, it can.
    expect(
      (await api.call({ method: 'DELETE', url: `/v1/operators/${op}/roles/sim-reader` })).statusCode,
    ).toBe(409);
    expect(
      (await api.call({ method: 'DELETE', url: `/v1/operators/${op}/users/pooled/roles/sim-reader` }))
        .statusCode,
    ).toBe(204);
    expect((await api.call({ method: 'GET', url: '/v1/sims', token })).statusCode).toBe(403);
    expect(
      (await api.call({ method: 'DELETE', url: `/v1/operators/${op}/roles/sim-reader` })).statusCode,
    ).toBe(204);
  });

  it('a policy with a syntax error is refused at save time with its position, and nothing changes', async () => {
    await createUser('syntax');
    await setPermission('syntax', policy({ effect: 'allow', api: ['Sim:getSim'] }));
    const bad = await api.call({
      method: 'PUT',
      url: `/v1/operators/${op}/users/syntax/permission`,
      payload: {
        permission:
          '{"statements":[{"effect":"allow","api":"*","condition":"ipAddress(\'10.0.0.0/8\' or true"}]}',
      },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('ERR_INVALID_POLICY');
    expect(bad.json().message).toMatch(/line 1, column \d+.*condition: expected ',' or '\)'/);
    const kept = (
      await api.call({ method: 'GET', url: `/v1/operators/${op}/users/syntax/permission` })
    ).json();
    expect(kept.permission).toContain('Sim:getSim');
    const role = await api.call({
      method: 'POST',
      url: `/v1/operators/${op}/roles/broken`,
      payload: { permission: '{"statements":[{"effect":"permit","api":"*"}]}' },
    });
    expect(role.statusCode).toBe(400);
    expect(role.json().message).toContain('line 1, column 26');
  });

  it('conditions see the source address, the method and path variables', async () => {
    await createUser('conditional', 'conditional-password');
    await setPermission(
      'conditional',
      policy(
        { effect: 'allow', api: ['Sim:*'], condition: "ipAddress('10.0.0.0/8') and httpMethod('GET')" },
        {
          effect: 'allow',
          api: ['Sim:getSim'],
          condition: "ipAddress('127.0.0.1') and not httpMethod('POST')",
        },
      ),
    );
    const token = await userToken('conditional', 'conditional-password');
    // inject() connects from 127.0.0.1: the first statement does not apply, the second does.
    expect((await api.call({ method: 'GET', url: `/v1/sims/${simId}`, token })).statusCode).toBe(200);
    expect((await api.call({ method: 'GET', url: '/v1/sims', token })).statusCode).toBe(403);
    const fromElsewhere = await api.app.inject({
      method: 'GET',
      url: '/v1/sims',
      remoteAddress: '10.9.8.7',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(fromElsewhere.statusCode).toBe(200);
  });

  it('the simulate endpoint explains a decision', async () => {
    await createUser('explained');
    await api.call({
      method: 'POST',
      url: `/v1/operators/${op}/roles/operators`,
      payload: { permission: policy({ effect: 'allow', api: ['Sim:*'] }) },
    });
    await api.call({
      method: 'POST',
      url: `/v1/operators/${op}/users/explained/roles`,
      payload: { roleId: 'operators' },
    });
    await setPermission('explained', policy({ effect: 'deny', api: ['Sim:terminateSim'] }));
    const sim = await api.call({
      method: 'GET',
      url: `/v1/operators/${op}/users/explained/permission/simulate?api=Sim:terminateSim&path_variable=sim_id%3D123`,
    });
    expect(sim.statusCode, sim.body).toBe(200);
    expect(sim.json()).toMatchObject({
      api: 'Sim:terminateSim',
      decision: 'deny',
      reason: 'explicit-deny',
      statement: { source: 'user', index: 0, effect: 'deny' },
    });
    expect(sim.json().evaluated).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source: 'role:operators', apiMatched: true }),
        expect.objectContaining({ source: 'user', apiMatched: true }),
      ]),
    );
    const allowed = (
      await api.call({
        method: 'GET',
        url: `/v1/operators/${op}/users/explained/permission/simulate?api=Sim:suspendSim`,
      })
    ).json();
    expect(allowed).toMatchObject({
      decision: 'allow',
      reason: 'allowed',
      statement: { source: 'role:operators' },
    });
    const nothing = (
      await api.call({
        method: 'GET',
        url: `/v1/operators/${op}/users/explained/permission/simulate?api=Group:listGroups`,
      })
    ).json();
    expect(nothing).toMatchObject({ decision: 'deny', reason: 'implicit-deny', statement: null });
  });
});

describe('audit', () => {
  it('records the decision and the matching statement of allowed and denied calls', async () => {
    await createUser('audited', 'audited-password');
    await setPermission('audited', policy({ effect: 'allow', api: ['Sim:putSimTags'] }));
    const token = await userToken('audited', 'audited-password');
    const put = await api.call({
      method: 'PUT',
      url: `/v1/sims/${simId}/tags`,
      token,
      payload: [{ tagName: 'a', tagValue: 'b' }],
    });
    expect(put.statusCode).toBe(200);
    const denied = await api.call({ method: 'POST', url: `/v1/sims/${simId}/suspend`, token });
    expect(denied.statusCode).toBe(403);
    const records = (await api.call({ method: 'GET', url: '/v1/audit_logs?user_name=audited' })).json();
    const allowed = records.find((r: { operationId: string }) => r.operationId === 'Sim:putSimTags');
    expect(allowed.detail.authorization).toMatchObject({
      decision: 'allow',
      statement: { source: 'user', index: 0, statement: { effect: 'allow', api: ['Sim:putSimTags'] } },
    });
    expect(allowed.actor).toMatchObject({ kind: 'user', id: 'audited', userName: 'audited' });
    const refused = records.find((r: { operationId: string }) => r.operationId === 'Sim:suspendSim');
    expect(refused).toMatchObject({ result: 'denied', statusCode: 403, params: { sim_id: simId } });
    expect(refused.detail.authorization).toMatchObject({ decision: 'deny', reason: 'implicit-deny' });
    const login = records.find(
      (r: { operationId: string; result: string }) => r.operationId === 'Auth:auth' && r.result === 'success',
    );
    expect(login).toMatchObject({ sourceIp: '127.0.0.1', detail: { method: 'password' } });
  });

  it('is append-only in the database itself', async () => {
    const db = api.platform.store.db;
    await expect(db.updateTable('audit_logs').set({ result: 'success' }).execute()).rejects.toThrow(
      /append-only/,
    );
    await expect(db.deleteFrom('audit_logs').execute()).rejects.toThrow(/append-only/);
  });
});
