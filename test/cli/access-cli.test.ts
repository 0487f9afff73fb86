// The access-management CLI end to end against a real listening API: users, roles, `users can`,
// auth keys (secret printed once), MFA enrolment with a terminal QR code, and `simtrust login`
// prompting for the MFA code on the terminal. The threat covered along the way: a profile or an
// output that keeps a password.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/platform/mfa/totp.js';
import { startTestApi, type TestApi } from '../helpers/app.js';
import { BIN, runCli, tempHome } from '../helpers/cli.js';

let api: TestApi;
let endpoint: string;
let home: string;

beforeAll(async () => {
  api = await startTestApi();
  endpoint = await api.app.listen({ host: '127.0.0.1', port: 0 });
  home = tempHome();
  const login = await runCli(
    ['login', '--endpoint', endpoint, '--email', api.operator.email, '--password', api.operator.password],
    { HOME: home },
  );
  expect(login.code, login.stderr).toBe(0);
});
afterAll(() => api.close());

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { HOME: home, ...env });

/** Runs the CLI with a stdin pipe; `answer` is typed when `question` appears on stderr. */
function interactive(args: string[], env: Record<string, string>, question: string, answer: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes(question) && child.stdin.writable) child.stdin.end(`${answer}\n`);
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('simtrust users | roles | auth-keys | mfa', () => {
  it('creates a user with a role and explains decisions with `users can`', async () => {
    const created = await cli([
      'users',
      'create',
      'alice',
      '--description',
      'field engineer',
      '--password',
      'alice-password-1',
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ userName: 'alice', hasPassword: true });
    expect(created.stdout).not.toContain('alice-password-1');

    const role = await cli([
      'roles',
      'create',
      'operators',
      '--json',
      '{"statements":[{"effect":"allow","api":["Sim:*"]},{"effect":"deny","api":["Sim:terminateSim"]}]}',
    ]);
    expect(role.code, role.stderr).toBe(0);
    expect((await cli(['roles', 'attach', 'alice', 'operators'])).code).toBe(0);

    const allowed = await cli(['users', 'can', 'alice', 'Sim:suspendSim', '--output', 'table']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout).toMatch(
      /^ALLOWED: alice → Sim:suspendSim \(allowed, role:operators statement 0\)/,
    );
    const denied = await cli(['users', 'can', 'alice', 'Sim:terminateSim', '--output', 'table']);
    expect(denied.code).toBe(3);
    expect(denied.stdout).toMatch(
      /^DENIED: alice → Sim:terminateSim \(explicit-deny, role:operators statement 1\)/,
    );
    const json = JSON.parse((await cli(['users', 'can', 'alice', 'Group:listGroups'])).stdout);
    expect(json).toMatchObject({ decision: 'deny', reason: 'implicit-deny' });

    const bad = await cli([
      'users',
      'permission',
      'set',
      'alice',
      '--json',
      '{"statements":[{"effect":"allow","api":"Sim:*","condition":"ipAddress(10.0.0.0/8)"}]}',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('ERR_INVALID_POLICY');
    expect(bad.stderr).toMatch(/line 1, column \d+/);

    const table = await cli(['users', 'list', '--output', 'table']);
    expect(table.stdout.split('\n')[0]).toMatch(/^userName\s+description\s+password\s+consoleLogin\s+roles/);
    expect(table.stdout).toContain('operators');
  });

  it('prints an auth key secret once; the key logs in from the environment', async () => {
    await cli(['users', 'create', 'monitor', '--no-console-login']);
    await cli([
      'users',
      'permission',
      'set',
      'monitor',
      '--json',
      '{"statements":[{"effect":"allow","api":["Sim:list*"]}]}',
    ]);
    const created = await cli(['auth-keys', 'create', '--user', 'monitor']);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout);
    expect(key.authKey).toMatch(/^secret-/);
    expect(created.stderr).toContain('not shown again');
    const listed = await cli(['auth-keys', 'list', '--user', 'monitor']);
    expect(listed.stdout).toContain(key.authKeyId);
    expect(listed.stdout).not.toContain(key.authKey);
    const env = {
      SIMTRUST_ENDPOINT: endpoint,
      SIMTRUST_AUTH_KEY_ID: key.authKeyId,
      SIMTRUST_AUTH_KEY: key.authKey,
    };
    const sims = await runCli(['sims', 'list'], env);
    expect(sims.code, sims.stderr).toBe(0);
    const refused = await runCli(['groups', 'list'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ERR_FORBIDDEN');
  });

  it('enrols MFA with a terminal QR code, then `simtrust login` asks for the code', async () => {
    const enable = await cli(['mfa', 'enable', '--user', 'alice', '--output', 'table']);
    expect(enable.code, enable.stderr).toBe(0);
    expect(enable.stdout).toMatch(/[▀▄█]/);
    const uri = /otpauth:\/\/\S+/.exec(enable.stdout)?.[0] as string;
    const secret = new URL(uri).searchParams.get('secret') as string;
    const verify = await cli(['mfa', 'verify', totpCode(secret, Date.now()), '--user', 'alice']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout).backupCodes).toHaveLength(10);
    expect(JSON.parse((await cli(['mfa', 'status', '--user', 'alice'])).stdout)).toEqual({
      status: 'ACTIVE',
    });

    const userHome = tempHome();
    const args = [
      'login',
      '--endpoint',
      endpoint,
      '--operator-id',
      api.operator.operatorId,
      '--user-name',
      'alice',
      '--password',
      'alice-password-1',
    ];
    const login = await interactive(
      args,
      { HOME: userHome },
      'MFA code: ',
      totpCode(secret, Date.now() + 30_000),
    );
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse(login.stdout)).toMatchObject({
      operatorId: api.operator.operatorId,
      userName: 'alice',
    });
    const profile = readFileSync(join(userHome, '.simtrust', 'profiles', 'default.json'), 'utf8');
    expect(profile).not.toContain('alice-password-1');
    expect(JSON.parse(profile)).toMatchObject({ userName: 'alice', operatorId: api.operator.operatorId });
    const mine = await runCli(['sims', 'list'], { HOME: userHome });
    expect(mine.code, mine.stderr).toBe(0);

    // A wrong code is an error, not a profile.
    const wrong = await interactive(args, { HOME: tempHome() }, 'MFA code: ', '000000');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('ERR_INVALID_MFA_CODE');

    // Without Auth:logout the token cannot be revoked by its holder: the CLI says so and forgets it.
    const logout = await runCli(['logout'], { HOME: userHome });
    expect(logout.code, logout.stderr).toBe(0);
    expect(logout.stderr).toContain('Auth:logout');
    expect((await runCli(['sims', 'list'], { HOME: userHome })).stderr).toContain('ERR_CLI_PROFILE');

    const revoke = await cli(['mfa', 'revoke', '--user', 'alice', '--password', api.operator.password]);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout).not.toContain(api.operator.password);
  });
});

describe('simtrust admin audit-logs', () => {
  it('shows the platform its own records of logins that named no operator', async () => {
    const attempt = await runCli([
      'login',
      '--endpoint',
      endpoint,
      '--email',
      'intruder@example.org',
      '--password',
      'guess-guess',
    ]);
    expect(attempt.stderr).toContain('ERR_INVALID_CREDENTIALS');
    const res = await runCli([
      'admin',
      'audit-logs',
      '--platform',
      '--database-url',
      api.db.url,
      '--output',
      'table',
    ]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('root:intruder@example.org');
    expect(res.stdout).toContain('Auth:auth');
    expect(res.stdout).not.toContain('guess-guess');
    // Tenants never see them.
    const tenant = await cli(['audit-logs', 'list', '--operation-id', 'Auth:auth']);
    expect(tenant.stdout).not.toContain('intruder@example.org');
  });
});
