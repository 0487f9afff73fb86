// `simtrust vpg …` against a running server (SQLite or PostgreSQL). With the data plane off
// (dataplaneEnabled=false, or no root) create fails with the 503 that says what to do; as root with
// the data plane on, create → the namespace appears, set-uplink-rules --enable → the table holds the
// rule, terminate → the namespace is gone. Usage errors name the fix.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namespaceName, tableName } from '../../src/servers/dataplane/ruleset.js';
import { runCli, type ServerProcess, seedOperator, startServeProcess } from '../helpers/cli.js';
import { freshDatabaseUrl } from '../helpers/database.js';

const root = process.getuid?.() === 0;
const made: string[] = [];
let db: { url: string; drop: () => Promise<void> };
let server: ServerProcess;
let env: Record<string, string>;

beforeAll(async () => {
  db = freshDatabaseUrl();
  server = await startServeProcess({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
    SIMTRUST_VPG_RECONCILE_INTERVAL_SECONDS: '1',
  });
  await seedOperator(db.url, 'cli-vpg@example.com', 'cli-vpg-password');
  env = {
    SIMTRUST_ENDPOINT: server.apiUrl,
    SIMTRUST_EMAIL: 'cli-vpg@example.com',
    SIMTRUST_PASSWORD: 'cli-vpg-password',
  };
}, 60_000);
afterAll(async () => {
  await server?.stop();
  for (const ns of made) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // removed by terminate already
    }
  }
  await db?.drop();
});

const nsList = () => (root ? execFileSync('ip', ['netns', 'list']).toString() : '');

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('simtrust vpg', () => {
  it('usage errors say what to give', async () => {
    const r = await runCli(
      [
        'vpg',
        'set-uplink-rules',
        '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
        '--rule',
        '10.0.0.0/8,tcp,80-90-100',
      ],
      env,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/PORT or FROM-TO/);
    const none = await runCli(['vpg', 'set-uplink-rules', '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0'], env);
    expect(none.stderr).toMatch(/--none/);
  });

  it.skipIf(!root)(
    'create, set-uplink-rules --enable, list, terminate: the kernel follows',
    async () => {
      const created = await runCli(
        ['vpg', 'create', '--device-subnet', '10.71.0.0/16', '--tag', 'name=cli', '--output', 'json'],
        env,
      );
      expect(created.code, created.stderr).toBe(0);
      const vpg = JSON.parse(created.stdout);
      const ns = namespaceName(vpg.vpgId);
      made.push(ns);
      await until(() => nsList().includes(ns), 'the VPG namespace');

      const rules = await runCli(
        [
          'vpg',
          'set-uplink-rules',
          vpg.vpgId,
          '--rule',
          '192.0.2.10/32,tcp,443',
          '--enable',
          '--output',
          'json',
        ],
        env,
      );
      expect(rules.code, rules.stderr).toBe(0);
      expect(JSON.parse(rules.stdout)).toMatchObject({
        trafficFilteringEnabled: true,
        uplinkFilterRules: [{ ipRange: '192.0.2.10/32', protocol: 'tcp', fromPort: 443, toPort: 443 }],
      });
      const table = () =>
        execFileSync('ip', [
          'netns',
          'exec',
          ns,
          'nft',
          'list',
          'set',
          'ip',
          tableName(vpg.vpgId),
          'allow_tcp',
        ]).toString();
      await until(() => table().includes('192.0.2.10 . 443'), 'the rule in the kernel');

      const list = await runCli(['vpg', 'list', '--output', 'table'], env);
      expect(list.stdout).toContain(vpg.vpgId);
      expect(list.stdout).toContain('on (1 rules)');

      const gone = await runCli(['vpg', 'terminate', vpg.vpgId, '--output', 'json'], env);
      expect(gone.code, gone.stderr).toBe(0);
      await until(() => !nsList().includes(ns), 'the namespace removed');
      const got = await runCli(['vpg', 'get', vpg.vpgId, '--output', 'json'], env);
      expect(JSON.parse(got.stdout).status).toBe('terminated');
    },
    60_000,
  );
});

describe('simtrust vpg with the data plane off', () => {
  let off: ServerProcess;
  let offDb: { url: string; drop: () => Promise<void> };
  beforeAll(async () => {
    offDb = freshDatabaseUrl();
    off = await startServeProcess({
      SIMTRUST_DATABASE_URL: offDb.url,
      SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
      SIMTRUST_DATAPLANE_ENABLED: 'false',
    });
    await seedOperator(offDb.url, 'cli-vpg-off@example.com', 'cli-vpg-password');
  }, 60_000);
  afterAll(async () => {
    await off?.stop();
    await offDb?.drop();
  });

  it('create fails with ERR_DATAPLANE_UNAVAILABLE and the reason', async () => {
    const r = await runCli(['vpg', 'create'], {
      SIMTRUST_ENDPOINT: off.apiUrl,
      SIMTRUST_EMAIL: 'cli-vpg-off@example.com',
      SIMTRUST_PASSWORD: 'cli-vpg-password',
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_DATAPLANE_UNAVAILABLE/);
    expect(r.stderr).toMatch(/dataplaneEnabled is false/);
    expect(
      (
        await runCli(['vpg', 'list'], {
          SIMTRUST_ENDPOINT: off.apiUrl,
          SIMTRUST_EMAIL: 'cli-vpg-off@example.com',
          SIMTRUST_PASSWORD: 'cli-vpg-password',
        })
      ).code,
    ).toBe(0);
  });
});
