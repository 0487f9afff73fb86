import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi, vendorCsv } from '../../helpers/app.js';

let api: TestApi;
let rows: ReturnType<typeof vendorCsv>['rows'];
let groupA: string;
let groupB: string;

const json = <T = unknown>(res: { json(): unknown }) => res.json() as T;
type Sim = {
  simId: string;
  status: string;
  speedClass: string;
  groupId: string | null;
  tags: Record<string, string>;
};

beforeAll(async () => {
  api = await startTestApi();
  groupA = json<{ groupId: string }>(
    await api.call({ method: 'POST', url: '/v1/groups', payload: { tags: { name: 'a' } } }),
  ).groupId;
  groupB = json<{ groupId: string }>(
    await api.call({ method: 'POST', url: '/v1/groups', payload: { tags: { name: 'b' } } }),
  ).groupId;
  const csv = vendorCsv(60);
  rows = csv.rows;
  // Column order differs from the minimum, with optional columns: group by name, tags, serial.
  const lines = rows.map(
    (r, i) =>
      `${r.imsi},${r.iccid},${r.opc},${r.ki},${i % 3 === 0 ? 'a' : 'b'},site=${i % 2 === 0 ? 'tokyo' : 'osaka'};floor=${i % 5},SN-${i}`,
  );
  const res = await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: `imsi,iccid,opc,ki,group,tags,serial_number\n${lines.join('\n')}\n`,
  });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.json()).toMatchObject({ rows: 60, created: 60, unchanged: 0, rejected: 0 });
  for (const r of rows.slice(0, 10)) await api.call({ method: 'POST', url: `/v1/sims/${r.iccid}/activate` });
  for (const r of rows.slice(0, 4)) {
    await api.call({
      method: 'POST',
      url: `/v1/sims/${r.iccid}/update_speed_class`,
      payload: { speedClass: 's1.fast' },
    });
  }
});
afterAll(() => api.close());

async function listAll(query: string): Promise<Sim[]> {
  const out: Sim[] = [];
  let key: string | undefined;
  do {
    const res = await api.call({
      method: 'GET',
      url: `/v1/sims?limit=7&${query}${key ? `&last_evaluated_key=${key}` : ''}`,
    });
    expect(res.statusCode, res.body).toBe(200);
    out.push(...json<Sim[]>(res));
    key = res.headers['x-soracom-next-key'] as string | undefined;
    if (key) expect(res.headers.link).toContain(`last_evaluated_key=${key}`);
  } while (key);
  return out;
}

describe('Sim API', () => {
  it('creates one SIM and never returns its keys', async () => {
    const ki = randomBytes(16).toString('hex');
    const res = await api.call({
      method: 'POST',
      url: '/v1/sims',
      payload: {
        imsi: '001019999999999',
        ki,
        op: randomBytes(16).toString('hex'),
        msisdn: '+819011112222',
        tags: { x: 'y' },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    const sim = res.json();
    expect(sim.status).toBe('ready');
    expect(sim.profiles[sim.simId].subscribers['001019999999999'].msisdn).toBe('819011112222');
    expect(res.body.toLowerCase()).not.toContain(ki);
    const dup = await api.call({
      method: 'POST',
      url: '/v1/sims',
      payload: { imsi: '001019999999999', ki, opc: ki },
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('ERR_DUPLICATE_SIM');
  });

  it('filters combine: status, speed class, group, tag exact/prefix, IMSI and ICCID prefix', async () => {
    const all = await listAll('');
    expect(all.filter((s) => rows.some((r) => r.iccid === s.simId))).toHaveLength(60);

    const active = await listAll('status_filter=active');
    expect(active.map((s) => s.simId).sort()).toEqual(
      rows
        .slice(0, 10)
        .map((r) => r.iccid)
        .sort(),
    );

    const activeOrReady = await listAll('status_filter=active|ready');
    expect(activeOrReady.length).toBeGreaterThanOrEqual(60);

    const fastInA = await listAll(`speed_class_filter=s1.fast&group_id=${groupA}`);
    expect(fastInA.map((s) => s.simId).sort()).toEqual([rows[0]!.iccid, rows[3]!.iccid].sort());

    const tokyoActive = await listAll('tag_name=site&tag_value=tokyo&status_filter=active');
    expect(tokyoActive.map((s) => s.simId).sort()).toEqual(
      rows
        .slice(0, 10)
        .filter((_, i) => i % 2 === 0)
        .map((r) => r.iccid)
        .sort(),
    );

    const prefix = await listAll('tag_name=site&tag_value=tok&tag_value_match_mode=prefix');
    expect(prefix).toHaveLength(30);
    const exactMiss = await listAll('tag_name=site&tag_value=tok');
    expect(exactMiss).toHaveLength(0);

    const hasFloor = await listAll(`tag_name=floor&group_id=${groupB}`);
    expect(hasFloor).toHaveLength(40);

    const imsiPrefix = rows[12]!.imsi.slice(0, 14);
    const byImsi = await listAll(`imsi_prefix=${imsiPrefix}`);
    expect(byImsi.map((s) => s.simId).sort()).toEqual(
      rows
        .filter((r) => r.imsi.startsWith(imsiPrefix))
        .map((r) => r.iccid)
        .sort(),
    );

    const iccidPrefix = rows[25]!.iccid.slice(0, 18);
    const byIccid = await listAll(`iccid_prefix=${iccidPrefix}&status_filter=ready`);
    expect(byIccid.map((s) => s.simId).sort()).toEqual(
      rows
        .filter((r, i) => i >= 10 && r.iccid.startsWith(iccidPrefix))
        .map((r) => r.iccid)
        .sort(),
    );
  });

  it('pages are disjoint, ordered, and cover the list exactly once', async () => {
    const all = await listAll('');
    const ids = all.map((s) => s.simId);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('tags: put, overwrite, delete, and 404 for a missing tag', async () => {
    const simId = rows[40]!.iccid;
    let res = await api.call({
      method: 'PUT',
      url: `/v1/sims/${simId}/tags`,
      payload: [
        { tagName: 'site', tagValue: 'nagoya' },
        { tagName: 'owner', tagValue: 'ops' },
      ],
    });
    expect(res.json().tags).toMatchObject({ site: 'nagoya', owner: 'ops' });
    res = await api.call({ method: 'DELETE', url: `/v1/sims/${simId}/tags/owner` });
    expect(res.statusCode).toBe(200);
    expect(res.json().tags.owner).toBeUndefined();
    res = await api.call({ method: 'DELETE', url: `/v1/sims/${simId}/tags/owner` });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('ERR_NOT_FOUND');
  });

  it('groups: set, unset, unknown group 404, delete refused while in use', async () => {
    const simId = rows[41]!.iccid;
    let res = await api.call({
      method: 'POST',
      url: `/v1/sims/${simId}/set_group`,
      payload: { groupId: groupA },
    });
    expect(res.json().groupId).toBe(groupA);
    res = await api.call({
      method: 'POST',
      url: `/v1/sims/${simId}/set_group`,
      payload: { groupId: 'nope' },
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('ERR_GROUP_NOT_FOUND');
    res = await api.call({ method: 'DELETE', url: `/v1/groups/${groupA}` });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('ERR_GROUP_IN_USE');
    res = await api.call({ method: 'POST', url: `/v1/sims/${simId}/unset_group` });
    expect(res.json().groupId).toBeNull();
  });

  it('group configuration: put, overwrite, SoracomEndorse alias, delete namespace, tags', async () => {
    const url = `/v1/groups/${groupB}/configuration`;
    let res = await api.call({
      method: 'PUT',
      url: `${url}/SoracomEndorse`,
      payload: [
        { key: 'enabled', value: true },
        { key: 'tokenTimeoutSeconds', value: 600 },
      ],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().configuration.Endorse).toEqual({ enabled: true, tokenTimeoutSeconds: 600 });
    res = await api.call({
      method: 'PUT',
      url: `${url}/Endorse`,
      payload: [{ key: 'enabled', value: false }],
    });
    expect(res.json().configuration.Endorse).toEqual({ enabled: false, tokenTimeoutSeconds: 600 });
    res = await api.call({ method: 'DELETE', url: `${url}/SoracomEndorse` });
    expect(res.json().configuration.Endorse).toBeUndefined();
    res = await api.call({
      method: 'PUT',
      url: `/v1/groups/${groupB}/tags`,
      payload: [{ tagName: 'env', tagValue: 'prod' }],
    });
    expect(res.json().tags).toMatchObject({ name: 'b', env: 'prod' });
    const list = await api.call({ method: 'GET', url: '/v1/groups?tag_name=env&tag_value=prod' });
    expect(list.json().map((g: { groupId: string }) => g.groupId)).toEqual([groupB]);
    res = await api.call({ method: 'DELETE', url: `/v1/groups/${groupB}/tags/env` });
    expect(res.json().tags.env).toBeUndefined();
  });

  it('IMEI lock: set with ANONYMOUS, refuse a bad check digit, unset; empty IMEI needs a session', async () => {
    const simId = rows[42]!.iccid;
    let res = await api.call({
      method: 'POST',
      url: `/v1/sims/${simId}/set_imei_lock`,
      payload: { imei: '490154203237518|ANONYMOUS' },
    });
    expect(res.json().imeiLock).toEqual({ imei: '490154203237518', allowAnonymous: true });
    res = await api.call({
      method: 'POST',
      url: `/v1/sims/${simId}/set_imei_lock`,
      payload: { imei: '490154203237519' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('ERR_VALIDATION');
    res = await api.call({ method: 'POST', url: `/v1/sims/${simId}/set_imei_lock`, payload: { imei: '' } });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('ERR_NO_SESSION');
    res = await api.call({ method: 'POST', url: `/v1/sims/${simId}/unset_imei_lock` });
    expect(res.json().imeiLock).toBeNull();
  });

  it('another operator sees none of it: 404 on reads and writes, empty lists', async () => {
    const other = await api.newOperator();
    const simId = rows[0]!.iccid;
    for (const [method, url] of [
      ['GET', `/v1/sims/${simId}`],
      ['POST', `/v1/sims/${simId}/suspend`],
      ['GET', `/v1/sims/${simId}/statuses/history`],
      ['GET', `/v1/groups/${groupA}`],
      ['DELETE', `/v1/groups/${groupA}`],
    ] as const) {
      const res = await api.call({ method, url, token: other.token });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
    }
    const list = await api.call({ method: 'GET', url: '/v1/sims', token: other.token });
    expect(list.json()).toEqual([]);
    // Importing a SIM another operator owns is a conflict that reveals nothing about it.
    const r = rows[0]!;
    const res = await api.call({
      method: 'POST',
      url: '/v1/sims/import',
      token: other.token,
      headers: { 'content-type': 'text/csv' },
      payload: `iccid,imsi,ki,opc\n${r.iccid},${r.imsi},${r.ki},${r.opc}\n`,
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors[0]).toMatchObject({
      line: 2,
      code: 'ERR_DUPLICATE_SIM',
      reason: `ICCID ${r.iccid} is already registered (ICCIDs and IMSIs are unique across the whole platform); check the number against the card vendor's file, or look for it with GET /v1/sims?iccid_prefix=${r.iccid}`,
    });
  });

  it('authentication: no token 401, SORACOM header pair accepted, wrong API key refused, logout revokes', async () => {
    expect((await api.call({ method: 'GET', url: '/v1/sims', token: null })).statusCode).toBe(401);
    const { token, apiKey } = api.operator;
    const ok = await api.call({
      method: 'GET',
      url: '/v1/sims?limit=1',
      token: null,
      headers: { 'x-soracom-api-key': apiKey, 'x-soracom-token': token },
    });
    expect(ok.statusCode).toBe(200);
    const bad = await api.call({
      method: 'GET',
      url: '/v1/sims',
      token: null,
      headers: { 'x-soracom-api-key': 'api-x', 'x-soracom-token': token },
    });
    expect(bad.statusCode).toBe(401);
    const other = await api.newOperator();
    expect((await api.call({ method: 'POST', url: '/v1/auth/logout', token: other.token })).statusCode).toBe(
      204,
    );
    expect((await api.call({ method: 'GET', url: '/v1/sims', token: other.token })).statusCode).toBe(401);
    const wrong = await api.call({
      method: 'POST',
      url: '/v1/auth',
      token: null,
      payload: { email: api.operator.email, password: 'wrong-password' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('ERR_INVALID_CREDENTIALS');
  });

  it('re-importing the same rows changes nothing; a changed row is a conflict with its line', async () => {
    const { csv } = vendorCsv(0);
    const r = rows[5]!;
    const same = `${csv.trim()}\n${r.iccid},${r.imsi},,${r.ki},${r.opc}\n`;
    let res = await api.call({
      method: 'POST',
      url: '/v1/sims/import',
      headers: { 'content-type': 'text/csv' },
      payload: same,
    });
    expect(res.json()).toMatchObject({ rows: 1, created: 0, unchanged: 1, rejected: 0 });
    const changed = `iccid,imsi,ki,opc\n${r.iccid},${r.imsi},${randomBytes(16).toString('hex')},${r.opc}\n`;
    res = await api.call({
      method: 'POST',
      url: '/v1/sims/import',
      headers: { 'content-type': 'text/csv' },
      payload: changed,
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors).toEqual([
      {
        line: 2,
        code: 'ERR_DUPLICATE_SIM',
        // The same text as for another operator's SIM (docs/sims.md, "Uniqueness").
        reason: `ICCID ${r.iccid} is already registered (ICCIDs and IMSIs are unique across the whole platform); check the number against the card vendor's file, or look for it with GET /v1/sims?iccid_prefix=${r.iccid}`,
        iccid: r.iccid,
      },
    ]);
  });

  it('health, readiness, metrics and request ids', async () => {
    expect((await api.call({ method: 'GET', url: '/health', token: null })).json()).toEqual({ status: 'ok' });
    expect((await api.call({ method: 'GET', url: '/ready', token: null })).json()).toEqual({
      status: 'ready',
    });
    const metrics = await api.call({ method: 'GET', url: '/metrics', token: null });
    expect(metrics.body).toContain('simtrust_http_request_duration_seconds_bucket');
    expect(metrics.body).toContain('route="/v1/sims"');
    const res = await api.call({
      method: 'GET',
      url: '/v1/sims?limit=1',
      headers: { 'x-request-id': 'trace-123' },
    });
    expect(res.headers['x-request-id']).toBe('trace-123');
    const odd = await api.call({
      method: 'GET',
      url: '/health',
      token: null,
      headers: { 'x-request-id': 'bad id\n' },
    });
    expect(odd.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
