// The threat: a route that escapes the permission layer or tenant isolation — added by anyone, at
// any time. This test walks the app's own route table (so every route that exists when it runs is
// covered, including routes other issues add):
//   1. for every route, a user allowed only that route's `Tag:operationId` gets through on it
//      (any answer but 403) and is refused with 403 on every other route;
//   2. another operator's token never gets a 2xx on a route that names this operator's resources,
//      and where the path names the operator, the answer is 404 — not 403 — so nothing is learnt;
//      on routes that name no resource, its answer carries none of this operator's data.
// Path variables get plausible values: this operator's real SIM, group, user, role and keys.

import { afterAll, describe, expect, it } from 'vitest';
import { type RouteEntry, routeTable } from '../../../src/servers/http/plugins/auth.js';
import { startTestApi, vendorCsv } from '../../helpers/app.js';

// Rate limits are tested on their own; this walk makes thousands of calls from one address.
const api = await startTestApi({ config: { apiRateLimitPerAddress: 0, apiRateLimitPerToken: 0 } });
afterAll(() => api.close());

const A = api.operator.operatorId;
const { csv, rows } = vendorCsv(3, { start: 700 });
await api.call({
  method: 'POST',
  url: '/v1/sims/import',
  headers: { 'content-type': 'text/csv' },
  payload: csv,
});
const group = (
  await api.call({ method: 'POST', url: '/v1/groups', payload: { tags: { name: 'walk-group' } } })
).json();
await api.call({
  method: 'PUT',
  url: `/v1/sims/${rows[0]!.iccid}/tags`,
  payload: [{ tagName: 'site', tagValue: 'walk' }],
});
await api.call({
  method: 'POST',
  url: `/v1/operators/${A}/users/walk-target`,
  payload: { description: 'walk' },
});
await api.call({
  method: 'POST',
  url: `/v1/operators/${A}/roles/walk-role`,
  payload: { permission: '{"statements":[]}' },
});
await api.call({
  method: 'POST',
  url: `/v1/operators/${A}/users/walk-target/roles`,
  payload: { roleId: 'walk-role' },
});
const userKey = (
  await api.call({ method: 'POST', url: `/v1/operators/${A}/users/walk-target/auth_keys` })
).json();
const rootKey = (await api.call({ method: 'POST', url: `/v1/operators/${A}/auth_keys` })).json();

/** A's identifiers, which must never appear in another operator's answers. */
const secretsOfA = [
  A,
  group.groupId,
  'walk-target',
  'walk-role',
  userKey.authKeyId,
  rootKey.authKeyId,
  ...rows.map((r) => r.iccid),
];

function pathValue(route: RouteEntry, name: string): string {
  switch (name) {
    case 'operator_id':
      return A;
    case 'sim_id':
      return rows[0]!.iccid;
    case 'group_id':
      return group.groupId;
    case 'user_name':
      return 'walk-target';
    case 'role_id':
      return 'walk-role';
    case 'auth_key_id':
      return route.url.includes('/users/') ? userKey.authKeyId : rootKey.authKeyId;
    case 'tag_name':
      return 'site';
    case 'namespace':
      return 'SoracomAir';
    default:
      // Resource kinds added by other issues: a well-formed id that this operator does not own.
      return 'walk-unknown-1';
  }
}

const urlOf = (route: RouteEntry, override: Record<string, string> = {}) =>
  route.url.replace(/:(\w+)/g, (_, name: string) =>
    encodeURIComponent(override[name] ?? pathValue(route, name)),
  );

const routes = routeTable(api.app).filter((r) => r.url.startsWith('/v1/') && !r.public);
const hasPathVariables = (r: RouteEntry) => r.url.includes(':');

async function keyToken(key: { authKeyId: string; authKey: string }): Promise<string> {
  const res = await api.call({ method: 'POST', url: '/v1/auth', token: null, payload: key });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().token;
}

// Another operator, logging in with a root key before every call (some routes revoke its tokens).
const B = await api.newOperator();
const bKey = (
  await api.call({ method: 'POST', url: `/v1/operators/${B.operatorId}/auth_keys`, token: B.token })
).json();

describe('another operator never reaches this operator’s resources', () => {
  it('walks the route table', async () => {
    expect(routes.length).toBeGreaterThan(60);
    let checked = 0;
    // Routes naming no resource first, while B has not yet sent any of A's ids anywhere (B's own
    // audit log will record them afterwards).
    // Create-by-name routes (POST …/users/:user_name, POST …/roles/:role_id) come last: under B's own
    // operator id they create B's own user or role of that name, which is B's business.
    const createsByName = (r: RouteEntry) => r.method === 'POST' && /\/:\w+$/.test(r.url);
    const ordered = [
      ...routes.filter((r) => !hasPathVariables(r)),
      ...routes.filter((r) => hasPathVariables(r) && !createsByName(r)),
      ...routes.filter(createsByName),
    ];
    for (const route of ordered) {
      const variants: Array<{ url: string; foreign: boolean }> = [
        { url: urlOf(route), foreign: hasPathVariables(route) },
      ];
      // The same resource ids under B's own operator id: still not B's.
      if (route.url.includes(':operator_id')) {
        const onlyOperator = route.url.match(/:\w+/g)?.length === 1;
        variants.push({
          url: urlOf(route, { operator_id: B.operatorId }),
          foreign: !onlyOperator && !createsByName(route),
        });
      }
      for (const v of variants) {
        const res = await api.call({
          method: route.method as 'GET',
          url: v.url,
          token: await keyToken(bKey),
        });
        const label = `${route.method} ${v.url} (${route.operation}) → ${res.statusCode} ${res.body.slice(0, 200)}`;
        if (v.foreign) {
          expect(res.statusCode >= 200 && res.statusCode < 300, label).toBe(false);
          expect(res.statusCode, label).not.toBe(403);
          if (route.url.includes(':operator_id') && v.url.includes(`/${A}`))
            expect(res.statusCode, label).toBe(404);
        }
        // An id the caller sent may be echoed in an error; no other id of A may appear.
        for (const id of secretsOfA) {
          if (!v.url.includes(encodeURIComponent(id)))
            expect(res.body.includes(id), `${label} leaks ${id}`).toBe(false);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(routes.length);
  });

  it('list filters and bulk operations naming this operator’s resources answer 404', async () => {
    const token = await keyToken(bKey);
    const list = await api.call({ method: 'GET', url: `/v1/sims?group_id=${group.groupId}`, token });
    expect(list.statusCode).toBe(404);
    const create = await api.call({
      method: 'POST',
      url: '/v1/sims',
      token,
      payload: { imsi: '001019999999991', ki: '00'.repeat(16), opc: '11'.repeat(16), groupId: group.groupId },
    });
    expect(create.statusCode).toBe(404);
    // A bulk import naming A's SIMs changes none of them and reveals nothing about them.
    const bulk = await api.call({
      method: 'POST',
      url: '/v1/sims/import',
      token,
      headers: { 'content-type': 'text/csv' },
      payload: csv,
    });
    expect(bulk.statusCode).toBe(422);
    for (const r of rows) {
      const mine = await api.call({ method: 'GET', url: `/v1/sims/${r.iccid}` });
      expect(mine.json().operatorId).toBe(A);
    }
    expect((await api.call({ method: 'GET', url: `/v1/sims/${rows[0]!.iccid}`, token })).statusCode).toBe(
      404,
    );
  });
});

// Part 1: one user per route, allowed exactly that route's operation (through an auth key).
const users = new Map<RouteEntry, string>();
for (const [i, route] of routes.entries()) {
  const name = `walker-${i}`;
  await api.call({ method: 'POST', url: `/v1/operators/${A}/users/${name}`, payload: {} });
  const permission = JSON.stringify({ statements: [{ effect: 'allow', api: [route.operation] }] });
  const set = await api.call({
    method: 'PUT',
    url: `/v1/operators/${A}/users/${name}/permission`,
    payload: { permission },
  });
  if (set.statusCode !== 204) throw new Error(`cannot grant ${route.operation}: ${set.body}`);
  const key = (await api.call({ method: 'POST', url: `/v1/operators/${A}/users/${name}/auth_keys` })).json();
  users.set(route, await keyToken(key));
}

describe.each(routes.map((r) => [`${r.method} ${r.url} (${r.operation})`, r] as const))(
  'a user allowed only %s',
  (_, route) => {
    it('is refused (403) on every other route and gets through on its own', async () => {
      const token = users.get(route) as string;
      for (const other of routes) {
        if (other === route) continue;
        const res = await api.call({ method: other.method as 'GET', url: urlOf(other), token });
        if (other.operation === route.operation) continue; // the same operation under another method
        expect(res.statusCode, `${other.method} ${other.url} (${other.operation})`).toBe(403);
        expect(res.json().code).toBe('ERR_FORBIDDEN');
      }
      // Last, because it may have side effects (logout revokes this very token).
      const own = await api.call({ method: route.method as 'GET', url: urlOf(route), token });
      expect(own.statusCode, own.body).not.toBe(403);
      expect(own.statusCode, own.body).not.toBe(401);
    });
  },
);
