// Canal acceptance (issue 18) in network namespaces this test creates and removes: a device in its
// own namespace (veth into the VPG's namespace, address = its Framed-IP from accounting) reaches an
// allowed customer server IP:port and is refused — and counted for its address — on another port;
// a rule change applies atomically (one nft transaction: the old rule is gone, the policy stays
// drop); a new data plane (a restart) rebuilds from the database; terminate removes the namespace.
// Needs root (CAP_NET_ADMIN) with iproute2 and nftables; in CI it must run (never skipped).

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/platform/iam/principal.js';
import { DataPlane } from '../../src/servers/dataplane/reconciler.js';
import { namespaceName, tableName } from '../../src/servers/dataplane/ruleset.js';
import { inCi, requirePrograms } from '../helpers/external.js';
import { createSim, startTestApi, type TestApi } from '../platform/aaa/fixture.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot && inCi) throw new Error('vpg-canal needs root (CAP_NET_ADMIN) in CI; it must not skip');
const ok = isRoot && requirePrograms({ ip: 'iproute2', nft: 'nftables', socat: 'socat' });

const tag = randomBytes(3).toString('hex');
const DEV_NS = `st-t-dev-${tag}`;
const CUST_NS = `st-t-cust-${tag}`;
const DEVICE_IP = '10.77.0.2';
const SERVER_IP = '192.168.200.10';
const made: string[] = [];

const sh = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const inNs = (ns: string, ...args: string[]) => sh(['netns', 'exec', ns, ...args]);

let api: TestApi;
let dataplane: DataPlane;
let vpgId: string;
let groupId: string;
let simId: string;
let imsi: string;
const servers: ReturnType<typeof spawn>[] = [];
const logger = pino({ level: 'silent' });

/** Waits until `check` holds, letting the data plane finish its passes; fails after `ms`. */
async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    await dataplane.settled();
    if (check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** TCP connect from the device namespace: 'ok' when the server's greeting arrives. */
function connect(port: number): string {
  try {
    return execFileSync(
      'ip',
      ['netns', 'exec', DEV_NS, 'socat', '-T', '2', '-u', `TCP:${SERVER_IP}:${port},connect-timeout=2`, '-'],
      { stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 },
    )
      .toString()
      .trim();
  } catch {
    return 'refused';
  }
}

const deviceSet = () =>
  inNs(namespaceName(vpgId), 'nft', 'list', 'set', 'ip', tableName(vpgId), 'device_addrs');

describe.skipIf(!ok)('Canal: a device reaches only what the VPG allows', () => {
  beforeAll(async () => {
    api = await startTestApi();
    dataplane = new DataPlane(api.platform.vpg, logger, { intervalMs: 60_000 });
    await dataplane.start();
    expect(dataplane.available).toBe(true);
    const ctx = systemContext(api.operator.operatorId, 'VirtualPrivateGateway:test', 'test');
    const vpg = await api.platform.vpg.create(ctx, { deviceSubnetCidrRange: '10.77.0.0/24' });
    vpgId = vpg.vpgId;
    await dataplane.reconcile();
    expect((await api.platform.vpg.get(api.operator.operatorId, vpgId)).status).toBe('running');
    const vpgNs = namespaceName(vpgId);
    made.push(vpgNs);

    // device namespace ⇄ VPG namespace
    for (const ns of [DEV_NS, CUST_NS]) {
      sh(['netns', 'add', ns]);
      made.push(ns);
      sh(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    sh([
      'link',
      'add',
      `d${tag}`,
      'netns',
      DEV_NS,
      'type',
      'veth',
      'peer',
      'name',
      `v${tag}`,
      'netns',
      vpgNs,
    ]);
    sh(['-n', DEV_NS, 'addr', 'add', `${DEVICE_IP}/24`, 'dev', `d${tag}`]);
    sh(['-n', DEV_NS, 'link', 'set', `d${tag}`, 'up']);
    sh(['-n', DEV_NS, 'route', 'add', 'default', 'via', '10.77.0.1']);
    sh(['-n', vpgNs, 'addr', 'add', '10.77.0.1/24', 'dev', `v${tag}`]);
    sh(['-n', vpgNs, 'link', 'set', `v${tag}`, 'up']);
    // customer namespace ⇄ VPG namespace (the peering link)
    sh([
      'link',
      'add',
      `c${tag}`,
      'netns',
      CUST_NS,
      'type',
      'veth',
      'peer',
      'name',
      `w${tag}`,
      'netns',
      vpgNs,
    ]);
    sh(['-n', CUST_NS, 'addr', 'add', `${SERVER_IP}/24`, 'dev', `c${tag}`]);
    sh(['-n', CUST_NS, 'link', 'set', `c${tag}`, 'up']);
    sh(['-n', CUST_NS, 'route', 'add', 'default', 'via', '192.168.200.1']);
    sh(['-n', vpgNs, 'addr', 'add', '192.168.200.1/24', 'dev', `w${tag}`]);
    sh(['-n', vpgNs, 'link', 'set', `w${tag}`, 'up']);
    // the customer's servers: each greets with its port
    for (const port of [8080, 9090]) {
      const s = spawn(
        'ip',
        [
          'netns',
          'exec',
          CUST_NS,
          'socat',
          `TCP-LISTEN:${port},bind=${SERVER_IP},reuseaddr,fork`,
          `SYSTEM:echo ok-${port}`,
        ],
        { stdio: 'ignore' },
      );
      servers.push(s);
    }
    const deadline = Date.now() + 10_000;
    while (!inNs(CUST_NS, 'ss', '-ltn').includes(`${SERVER_IP}:9090`)) {
      if (Date.now() > deadline) throw new Error('customer servers did not start');
      await new Promise((r) => setTimeout(r, 50));
    }

    // the SIM: in a group that uses the VPG, online at DEVICE_IP (Accounting-Start)
    const group = await api.platform.groups.create(
      systemContext(api.operator.operatorId, 'Group:createGroup', 'test'),
      { configuration: { SoracomAir: { vpgId } } },
    );
    groupId = group.groupId;
    const sim = await createSim(api, { groupId });
    simId = sim.simId;
    imsi = sim.imsi;
    await api.platform.aaa.accounting.record({
      kind: 'start',
      nasAddress: '127.0.0.1',
      operatorId: api.operator.operatorId,
      acctSessionId: `vpg-${tag}`,
      imsi: sim.imsi,
      ueIp: DEVICE_IP,
      time: api.platform.clock.now(),
    });
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) s.kill();
    await dataplane?.close();
    for (const ns of made.reverse()) {
      try {
        sh(['netns', 'del', ns]); // removes the veths with it
      } catch {
        // already gone (terminate removed it)
      }
    }
    const left = sh(['netns', 'list']);
    for (const ns of made) expect(left.includes(ns), `${ns} left behind`).toBe(false);
    await api?.close();
  });

  it('session start puts the device in the VPG; filtering off lets it reach the customer', async () => {
    await until(() => deviceSet().includes(DEVICE_IP), 'the device address in device_addrs');
    expect(connect(8080)).toBe('ok-8080');
    expect(connect(9090)).toBe('ok-9090');
  }, 30_000);

  it('with filtering on, only the allowed IP:port is reached; the rest is dropped and counted', async () => {
    const ctx = systemContext(api.operator.operatorId, 'VirtualPrivateGateway:test', 'test');
    await api.platform.vpg.putUplinkRules(ctx, vpgId, [
      { ipRange: `${SERVER_IP}/32`, protocol: 'tcp', fromPort: 8080 },
    ]);
    await api.platform.vpg.setTrafficFiltering(ctx, vpgId, true);
    await dataplane.settled();
    await until(
      () =>
        inNs(namespaceName(vpgId), 'nft', 'list', 'set', 'ip', tableName(vpgId), 'allow_tcp').includes(
          '8080',
        ),
      'the rule',
    );
    expect(connect(8080)).toBe('ok-8080');
    expect(connect(9090)).toBe('refused');
    const refused = await dataplane.refused(vpgId);
    expect(refused.get(DEVICE_IP)?.packets ?? 0).toBeGreaterThan(0);
    // through the API: the refusal is the SIM's
    const res = await api.call({
      method: 'GET',
      url: `/v1/virtual_private_gateways/${vpgId}/traffic_filtering/refused`,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual([
      { ipAddress: DEVICE_IP, simId, imsi, packets: expect.any(Number), bytes: expect.any(Number) },
    ]);
    expect(res.json()[0].packets).toBeGreaterThan(0);
    const other = await api.newOperator();
    const foreign = await api.call({
      method: 'GET',
      url: `/v1/virtual_private_gateways/${vpgId}/traffic_filtering/refused`,
      token: other.token,
    });
    expect(foreign.statusCode).toBe(404);
  }, 30_000);

  it('removing the rule applies in one transaction: the allowed port is refused too', async () => {
    const ctx = systemContext(api.operator.operatorId, 'VirtualPrivateGateway:test', 'test');
    const before = (await dataplane.refused(vpgId)).get(DEVICE_IP)?.packets ?? 0;
    await api.platform.vpg.putUplinkRules(ctx, vpgId, []);
    await until(
      () =>
        !inNs(namespaceName(vpgId), 'nft', 'list', 'set', 'ip', tableName(vpgId), 'allow_tcp').includes(
          '8080',
        ),
      'the rule gone',
    );
    const ruleset = inNs(namespaceName(vpgId), 'nft', 'list', 'table', 'ip', tableName(vpgId));
    expect(ruleset).toContain('policy drop');
    expect(connect(8080)).toBe('refused');
    // the per-source counter survived the change (the set is not recreated)
    expect((await dataplane.refused(vpgId)).get(DEVICE_IP)?.packets ?? 0).toBeGreaterThan(before);
  }, 30_000);

  it('a restarted data plane rebuilds from the database; policy drop throughout', async () => {
    await dataplane.close();
    dataplane = new DataPlane(api.platform.vpg, logger, { intervalMs: 60_000 });
    await dataplane.start();
    const ruleset = inNs(namespaceName(vpgId), 'nft', 'list', 'table', 'ip', tableName(vpgId));
    expect(ruleset).toContain('policy drop');
    expect(deviceSet()).toContain(DEVICE_IP);
    expect(connect(8080)).toBe('refused');
  }, 30_000);

  it('session stop removes the device; terminate removes the namespace', async () => {
    await api.platform.aaa.accounting.record({
      kind: 'stop',
      nasAddress: '127.0.0.1',
      operatorId: api.operator.operatorId,
      acctSessionId: `vpg-${tag}`,
      time: api.platform.clock.now(),
    });
    await until(() => !deviceSet().includes(DEVICE_IP), 'the device removed');
    const ctx = systemContext(api.operator.operatorId, 'VirtualPrivateGateway:test', 'test');
    await expect(api.platform.vpg.terminate(ctx, vpgId)).rejects.toMatchObject({ code: 'ERR_VPG_STATE' });
    await api.platform.groups.deleteConfigurationNamespace(
      systemContext(api.operator.operatorId, 'Group:test', 'test'),
      groupId,
      'SoracomAir',
    );
    await api.platform.vpg.terminate(ctx, vpgId);
    await until(() => !sh(['netns', 'list']).includes(namespaceName(vpgId)), 'the namespace removed');
    expect((await api.platform.vpg.get(api.operator.operatorId, vpgId)).status).toBe('terminated');
  }, 30_000);
});
