import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { startTestApi, type TestApi, vendorCsv } from '../helpers/app.js';
import { runCli, tempHome } from '../helpers/cli.js';
import { freshDatabaseUrl } from '../helpers/database.js';

let api: TestApi;
let endpoint: string;
let simId: string;

beforeAll(async () => {
  api = await startTestApi();
  endpoint = await api.app.listen({ host: '127.0.0.1', port: 0 });
  const { csv, rows } = vendorCsv(3);
  await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: csv,
  });
  simId = rows[0]!.iccid;
});
afterAll(() => api.close());

function leafCommands(command: Command): Command[] {
  return command.commands.length === 0 ? [command] : command.commands.flatMap(leafCommands);
}

describe('simtrust CLI', () => {
  it('has --help with an example on every command', async () => {
    const program = buildProgram();
    for (const command of leafCommands(program)) {
      let help = '';
      command.configureOutput({ writeOut: (s) => (help += s), writeErr: () => undefined });
      command.outputHelp();
      expect(help, command.name()).toContain('Example');
    }
    const res = await runCli(['--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('simtrust up --demo');
  });

  it('logs in, stores a 0600 profile without the password, and uses it', async () => {
    const home = tempHome();
    const { email, password } = api.operator;
    const login = await runCli(['login', '--endpoint', endpoint, '--email', email, '--password', password], {
      HOME: home,
    });
    expect(login.code, login.stderr).toBe(0);
    const path = join(home, '.simtrust', 'profiles', 'default.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).not.toContain(password);
    const table = await runCli(['sims', 'get', simId, '--output', 'table'], { HOME: home });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^simId\s+status\s+imsi/);
    expect(table.stdout).toContain(simId);
    const suspend = await runCli(['sims', 'suspend', simId], { HOME: home });
    expect(suspend.code).toBe(1);
    expect(suspend.stderr).toContain('ERR_INVALID_TRANSITION');
    const activate = await runCli(['sims', 'activate', simId], { HOME: home });
    expect(JSON.parse(activate.stdout).status).toBe('active');
  });

  it('named profiles, and environment credentials that win over the profile', async () => {
    const home = tempHome();
    const other = await api.newOperator();
    await runCli(
      [
        '--profile',
        'ops',
        'login',
        '--endpoint',
        endpoint,
        '--email',
        other.email,
        '--password',
        other.password,
      ],
      { HOME: home },
    );
    expect(existsSync(join(home, '.simtrust', 'profiles', 'ops.json'))).toBe(true);
    const viaProfile = await runCli(['--profile', 'ops', 'sims', 'list'], { HOME: home });
    expect(JSON.parse(viaProfile.stdout)).toEqual([]);
    const viaEnv = await runCli(['--profile', 'ops', 'sims', 'list', '--output', 'csv'], {
      HOME: home,
      SIMTRUST_ENDPOINT: endpoint,
      SIMTRUST_TOKEN: api.operator.token,
    });
    expect(viaEnv.stdout.trim().split('\n')).toHaveLength(4);
    const viaPassword = await runCli(['sims', 'get', simId], {
      SIMTRUST_ENDPOINT: endpoint,
      SIMTRUST_EMAIL: api.operator.email,
      SIMTRUST_PASSWORD: api.operator.password,
    });
    expect(JSON.parse(viaPassword.stdout).simId).toBe(simId);
  });

  it('says what to do when there is no profile, and exits 2 on usage errors', async () => {
    const none = await runCli(['sims', 'list']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('simtrust login');
    const usage = await runCli(['sims', 'update-speed-class', simId]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--speed-class');
    const badOutput = await runCli(['--output', 'xml', 'sims', 'list']);
    expect(badOutput.code).toBe(2);
  });

  it('groups, tags and audit logs from the command line', async () => {
    const env = { SIMTRUST_ENDPOINT: endpoint, SIMTRUST_TOKEN: api.operator.token };
    const group = JSON.parse(
      (await runCli(['groups', 'create', '--name', 'cli-group', '--tag', 'env=test'], env)).stdout,
    );
    expect(group.tags).toEqual({ name: 'cli-group', env: 'test' });
    const configured = await runCli(
      [
        'groups',
        'configure',
        group.groupId,
        'Endorse',
        'enabled=true',
        'tokenTimeoutSeconds=600',
        'allowOrigin=https://example.com',
      ],
      env,
    );
    expect(JSON.parse(configured.stdout).configuration.Endorse).toEqual({
      enabled: true,
      tokenTimeoutSeconds: 600,
      allowOrigin: 'https://example.com',
    });
    await runCli(['sims', 'set-group', simId, '--group-id', group.groupId], env);
    const tagged = JSON.parse((await runCli(['sims', 'tags', 'put', simId, 'site=kyoto'], env)).stdout);
    expect(tagged.tags.site).toBe('kyoto');
    expect(tagged.groupId).toBe(group.groupId);
    const audit = JSON.parse(
      (await runCli(['audit-logs', 'list', '--operation-id', 'Sim:putSimTags'], env)).stdout,
    );
    expect(audit[0]).toMatchObject({
      operationId: 'Sim:putSimTags',
      result: 'success',
      params: { sim_id: simId },
    });
  });

  it('admin: creates an operator, generates and rotates the master key', async () => {
    const { url, drop } = freshDatabaseUrl();
    try {
      const created = await runCli([
        'admin',
        'operators',
        'create',
        '--email',
        'new@example.com',
        '--password',
        'long-enough-pw',
        '--database-url',
        url,
      ]);
      expect(created.code, created.stderr).toBe(0);
      expect(JSON.parse(created.stdout).operatorId).toMatch(/^OP\d{10}$/);
      const dup = await runCli([
        'admin',
        'operators',
        'create',
        '--email',
        'NEW@example.com',
        '--password',
        'long-enough-pw',
        '--database-url',
        url,
      ]);
      expect(dup.code).toBe(1);
      expect(dup.stderr).toContain('already exists');

      const key = (await runCli(['admin', 'generate-master-key'])).stdout.trim();
      expect(Buffer.from(key, 'base64')).toHaveLength(32);
      const home = tempHome();
      const newKeyFile = join(home, 'next.key');
      const rotated = await runCli(
        ['admin', 'rotate-master-key', '--new-key-file', newKeyFile, '--database-url', url],
        {
          SIMTRUST_MASTER_KEY: key,
        },
      );
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(JSON.parse(rotated.stdout).rewrapped).toBe(1);
      expect(statSync(newKeyFile).mode & 0o777).toBe(0o600);
      const again = await runCli(
        ['admin', 'rotate-master-key', '--new-key-file', join(home, 'n2.key'), '--database-url', url],
        {
          SIMTRUST_MASTER_KEY: key,
        },
      );
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('ERR_MASTER_KEY');
    } finally {
      await drop();
    }
  });

  it('serve refuses to start without a master key, and names a bad setting', async () => {
    const noKey = await runCli(['serve', '--http-port', '0']);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('SIMTRUST_MASTER_KEY is not set');
    const bad = await runCli(['serve'], {
      SIMTRUST_HTTP_PORT: 'http',
      SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('SIMTRUST_HTTP_PORT (httpPort)');
  });
});
