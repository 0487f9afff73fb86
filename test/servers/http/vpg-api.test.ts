// /v1/virtual_private_gateways through the app (SQLite or PostgreSQL). The threats: a VPG changed
// while no data plane can enforce it (the database would promise what no kernel does); a hostile
// CIDR, port or protocol stored (it becomes an nftables rule); a SAM user acting beyond
// VirtualPrivateGateway:* permissions; another operator reading or changing a VPG; a VPG
// terminated while groups still route through it. Every change leaves an audit record.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../../helpers/app.js';

let api: TestApi;
let op: string;
beforeAll(async () => {
  api = await startTestApi();
  op = api.operator.operatorId;
});
afterAll(() => api.close());

const create = (payload: Record<string, unknown> = {}) =>
  api.call({ method: 'POST', url: '/v1/virtual_private_gateways', payload });

describe('without a data plane', () => {
  it('create answers 503 ERR_DATAPLANE_UNAVAILABLE saying what to do; listing still works', async () => {
    const res = await create({ deviceSubnetCidrRange: '10.60.0.0/16' });
    expect(res.statusCode, res.body).toBe(503);
    expect(res.json().code).toBe('ERR_DATAPLANE_UNAVAILABLE');
    expect(res.json().message).toMatch(/CAP_NET_ADMIN/);
    const list = await api.call({ method: 'GET', url: '/v1/virtual_private_gateways' });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual([]);
  });
});

describe('with the data plane on', () => {
  beforeAll(() => api.platform.vpg.setDataPlane({ available: true, reason: '' }));

  it('creates, reads, lists by tag, tags, filters and terminates, as SORACOM shapes them', async () => {
    const made = await create({ deviceSubnetCidrRange: '10.61.7.9/16', type: 15, tags: { name: 'factory' } });
    expect(made.statusCode, made.body).toBe(201);
    const vpg = made.json();
    expect(vpg).toMatchObject({
      operatorId: op,
      type: 15,
      placement: 'default',
      status: 'creating',
      deviceSubnetCidrRange: '10.61.0.0/16',
      useInternetGateway: true,
      trafficFilteringEnabled: false,
      uplinkFilterRules: [],
      tags: { name: 'factory' },
    });
    const url = `/v1/virtual_private_gateways/${vpg.vpgId}`;
    expect((await api.call({ method: 'GET', url })).json()).toEqual(vpg);
    const byTag = await api.call({
      method: 'GET',
      url: '/v1/virtual_private_gateways?tag_name=name&tag_value=fac&tag_value_match_mode=prefix',
    });
    expect(byTag.json().map((v: { vpgId: string }) => v.vpgId)).toEqual([vpg.vpgId]);

    expect(
      (
        await api.call({
          method: 'PUT',
          url: `${url}/tags`,
          payload: [{ tagName: 'site', tagValue: 'osaka' }],
        })
      ).statusCode,
    ).toBe(204);
    expect((await api.call({ method: 'DELETE', url: `${url}/tags/name` })).statusCode).toBe(204);
    expect((await api.call({ method: 'DELETE', url: `${url}/tags/name` })).statusCode).toBe(404);
    expect((await api.call({ method: 'GET', url })).json().tags).toEqual({ site: 'osaka' });

    const rules = await api.call({
      method: 'PUT',
      url: `${url}/traffic_filtering/uplink_rules`,
      payload: {
        rules: [
          { ipRange: '192.0.2.77/24', protocol: 'tcp', fromPort: 443 },
          { ipRange: '198.51.100.0/24', protocol: 'udp', fromPort: 5000, toPort: 5010 },
          { ipRange: '203.0.113.5/32' },
        ],
      },
    });
    expect(rules.statusCode, rules.body).toBe(200);
    expect(rules.json().uplinkFilterRules).toEqual([
      { ipRange: '192.0.2.0/24', protocol: 'tcp', fromPort: 443, toPort: 443 },
      { ipRange: '198.51.100.0/24', protocol: 'udp', fromPort: 5000, toPort: 5010 },
      { ipRange: '203.0.113.5/32', protocol: 'any' },
    ]);
    expect((await api.call({ method: 'POST', url: `${url}/traffic_filtering/enable` })).statusCode).toBe(201);
    expect((await api.call({ method: 'GET', url })).json().trafficFilteringEnabled).toBe(true);
    expect((await api.call({ method: 'POST', url: `${url}/traffic_filtering/disable` })).statusCode).toBe(
      204,
    );

    // a group routing through it blocks termination
    const group = await api.call({
      method: 'POST',
      url: '/v1/groups',
      payload: { configuration: { SoracomAir: { vpgId: vpg.vpgId } } },
    });
    expect(group.statusCode, group.body).toBe(201);
    const blocked = await api.call({ method: 'POST', url: `${url}/terminate` });
    expect(blocked.statusCode).toBe(409);
    expect(blocked.json().code).toBe('ERR_VPG_STATE');
    await api.call({
      method: 'DELETE',
      url: `/v1/groups/${group.json().groupId}/configuration/SoracomAir`,
    });
    const gone = await api.call({ method: 'POST', url: `${url}/terminate` });
    expect(gone.statusCode, gone.body).toBe(200);
    expect(gone.json().status).toBe('terminating');
    const after = await api.call({ method: 'POST', url: `${url}/traffic_filtering/enable` });
    expect(after.statusCode).toBe(409);

    const audit = await api.db.store.db
      .selectFrom('audit_logs')
      .select('operation_id')
      .where('operator_id', '=', op)
      .where('operation_id', 'like', 'VirtualPrivateGateway:%')
      .where('result', '=', 'success')
      .execute();
    expect(audit.map((a) => a.operation_id)).toEqual(
      expect.arrayContaining([
        'VirtualPrivateGateway:createVirtualPrivateGateway',
        'VirtualPrivateGateway:putUplinkFilterRules',
        'VirtualPrivateGateway:enableTrafficFiltering',
        'VirtualPrivateGateway:terminateVirtualPrivateGateway',
      ]),
    );
  });

  it('refused-traffic counters need an instance whose data plane reads the kernel (503 otherwise)', async () => {
    const vpg = (await create()).json();
    const res = await api.call({
      method: 'GET',
      url: `/v1/virtual_private_gateways/${vpg.vpgId}/traffic_filtering/refused`,
    });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('ERR_DATAPLANE_UNAVAILABLE');
  });

  it('a group may name only a VPG id in SoracomAir.vpgId', async () => {
    const res = await api.call({
      method: 'POST',
      url: '/v1/groups',
      payload: { configuration: { SoracomAir: { vpgId: '$(reboot)' } } },
    });
    expect(res.statusCode).toBe(400);
  });

  it('refuses bad subnets and rules with 400 naming the field', async () => {
    for (const deviceSubnetCidrRange of [
      '10.0.0.0/30',
      '10.0.0.0',
      ' 10.0.0.0/8',
      '10.0.0.0/8;reboot',
      '300.0.0.0/8',
    ]) {
      const res = await create({ deviceSubnetCidrRange });
      expect(res.statusCode, deviceSubnetCidrRange).toBe(400);
    }
    const vpg = (await create()).json();
    const url = `/v1/virtual_private_gateways/${vpg.vpgId}/traffic_filtering/uplink_rules`;
    const bad = [
      { ipRange: '10.0.0.0/8', protocol: 'icmp', fromPort: 1 },
      { ipRange: '10.0.0.0/8', protocol: 'tcp', fromPort: 90, toPort: 80 },
      { ipRange: '10.0.0.0/8 } ; flush ruleset' },
      { ipRange: '10.0.0.0/33' },
    ];
    for (const rule of bad) {
      const res = await api.call({ method: 'PUT', url, payload: { rules: [rule] } });
      expect(res.statusCode, JSON.stringify(rule)).toBe(400);
    }
  });

  it('hostile rule values (fast-check): 400, or 200 with only numbers-made text stored', async () => {
    const vpg = (await create()).json();
    const url = `/v1/virtual_private_gateways/${vpg.vpgId}/traffic_filtering/uplink_rules`;
    const text = fc.oneof(
      fc.string(),
      fc.constantFrom(
        '0.0.0.0/0',
        '1.2.3.4/32',
        '01.2.3.4/8',
        '1.2.3.4/8\n',
        '1.2.3.4/-1',
        '::/0',
        '1.2.3.4/08',
      ),
      fc
        .tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300), fc.integer({ min: -2, max: 40 }))
        .map(([a, b, c, d, p]) => `${a}.${b}.${c}.${d}/${p}`),
    );
    const port = fc.oneof(fc.integer({ min: -5, max: 70_000 }), fc.double(), fc.string(), fc.constant(null));
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            ipRange: text,
            protocol: fc.oneof(fc.constantFrom('any', 'tcp', 'udp', 'icmp'), fc.string()),
            fromPort: port,
            toPort: port,
          },
          { requiredKeys: ['ipRange'] },
        ),
        async (rule) => {
          const res = await api.call({ method: 'PUT', url, payload: { rules: [rule] } });
          expect([200, 400], res.body).toContain(res.statusCode);
          if (res.statusCode === 200) {
            const [stored] = res.json().uplinkFilterRules;
            expect(stored.ipRange).toMatch(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/);
            for (const p of [stored.fromPort, stored.toPort])
              if (p !== undefined) expect(Number.isInteger(p) && p >= 1 && p <= 65535).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('permissions and tenants', () => {
  beforeAll(() => api.platform.vpg.setDataPlane({ available: true, reason: '' }));

  async function userWith(name: string, apis: string[]): Promise<string> {
    await api.call({ method: 'POST', url: `/v1/operators/${op}/users/${name}`, payload: {} });
    await api.call({
      method: 'PUT',
      url: `/v1/operators/${op}/users/${name}/permission`,
      payload: { permission: JSON.stringify({ statements: [{ effect: 'allow', api: apis }] }) },
    });
    const key = (
      await api.call({ method: 'POST', url: `/v1/operators/${op}/users/${name}/auth_keys` })
    ).json();
    return (await api.call({ method: 'POST', url: '/v1/auth', token: null, payload: key })).json().token;
  }

  it('a SAM user does what VirtualPrivateGateway:* statements allow and nothing more', async () => {
    const vpg = (await create()).json();
    const reader = await userWith('vpg-reader', [
      'VirtualPrivateGateway:get*',
      'VirtualPrivateGateway:list*',
    ]);
    const url = `/v1/virtual_private_gateways/${vpg.vpgId}`;
    expect((await api.call({ method: 'GET', url, token: reader })).statusCode).toBe(200);
    expect(
      (await api.call({ method: 'POST', url: '/v1/virtual_private_gateways', token: reader, payload: {} }))
        .statusCode,
    ).toBe(403);
    expect(
      (
        await api.call({
          method: 'PUT',
          url: `${url}/traffic_filtering/uplink_rules`,
          token: reader,
          payload: { rules: [] },
        })
      ).statusCode,
    ).toBe(403);
    expect((await api.call({ method: 'POST', url: `${url}/terminate`, token: reader })).statusCode).toBe(403);
  });

  it('another operator neither sees nor changes this operator’s VPG', async () => {
    const vpg = (await create()).json();
    const other = await api.newOperator();
    const url = `/v1/virtual_private_gateways/${vpg.vpgId}`;
    expect(
      (await api.call({ method: 'GET', url: '/v1/virtual_private_gateways', token: other.token })).json(),
    ).toEqual([]);
    expect((await api.call({ method: 'GET', url, token: other.token })).statusCode).toBe(404);
    for (const [method, path, payload] of [
      ['POST', '/terminate', undefined],
      ['POST', '/traffic_filtering/enable', undefined],
      ['PUT', '/traffic_filtering/uplink_rules', { rules: [] }],
      ['PUT', '/tags', [{ tagName: 'x', tagValue: 'y' }]],
      ['DELETE', '/tags/name', undefined],
    ] as const) {
      const res = await api.call({
        method,
        url: `${url}${path}`,
        token: other.token,
        ...(payload ? { payload } : {}),
      });
      expect(res.statusCode, `${method} ${path}`).toBe(404);
    }
  });
});
