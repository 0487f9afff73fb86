// `simtrust credentials …` against a running server (SQLite or PostgreSQL): secrets go in from files
// or stdin — an argument carrying a secret is refused — and no output ever prints one; list, update
// (rotate) and delete; usage errors say what to do.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/lib/clock.js';
import { CredentialService } from '../../src/platform/credentials/credential-sets.js';
import { KeyRing } from '../../src/platform/secrets/key-ring.js';
import { openStore } from '../../src/platform/store/database.js';
import {
  BIN,
  type CliResult,
  runCli,
  type ServerProcess,
  seedOperator,
  startServeProcess,
  tempHome,
} from '../helpers/cli.js';
import { freshDatabaseUrl, testDialect } from '../helpers/database.js';
import { issueTlsIdentity } from '../servers/esim/tls-fixtures.js';

let db: { url: string; drop: () => Promise<void> };
let server: ServerProcess;
let env: Record<string, string>;
const PSK = `psk-${randomBytes(12).toString('hex')}`;
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const MASTER_KEY = randomBytes(32);

beforeAll(async () => {
  db = freshDatabaseUrl();
  server = await startServeProcess({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: MASTER_KEY.toString('base64'),
  });
  await seedOperator(db.url, 'cli-cred@example.com', 'cli-cred-password');
  env = {
    SIMTRUST_ENDPOINT: server.apiUrl,
    SIMTRUST_EMAIL: 'cli-cred@example.com',
    SIMTRUST_PASSWORD: 'cli-cred-password',
  };
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

/** runCli with `input` on stdin. */
function runWithStdin(args: string[], input: string): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH, HOME: tempHome(), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe(`simtrust credentials (${testDialect})`, () => {
  it('creates from files and stdin, lists, rotates and deletes; never prints a secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'simtrust-cred-'));
    const identity = await issueTlsIdentity('cli-device');
    writeFileSync(join(dir, 'psk.txt'), `${PSK}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'cert.pem'), identity.certificatePem);
    writeFileSync(join(dir, 'key.pem'), identity.keyPem, { mode: 0o600 });
    const outputs: string[] = [];

    const psk = await runCli(
      ['credentials', 'create', 'beam-psk', '--type', 'psk', '--from-file', `key=${join(dir, 'psk.txt')}`],
      env,
    );
    outputs.push(psk.stdout, psk.stderr);
    expect(psk.code, psk.stderr).toBe(0);
    expect(JSON.parse(psk.stdout)).toMatchObject({ credentialsId: 'beam-psk', type: 'psk', credentials: {} });

    const cert = await runCli(
      [
        'credentials',
        'create',
        'device-001010000000001',
        '--type',
        'x509',
        '--description',
        'per-SIM client certificate',
        '--from-file',
        `cert=${join(dir, 'cert.pem')}`,
        '--from-file',
        `key=${join(dir, 'key.pem')}`,
      ],
      env,
    );
    outputs.push(cert.stdout, cert.stderr);
    expect(cert.code, cert.stderr).toBe(0);

    const login = await runWithStdin(
      [
        'credentials',
        'create',
        'broker',
        '--type',
        'username-password-credentials',
        '--set',
        'username=dev',
        '--from-stdin',
        'password',
      ],
      `${PASSWORD}\n`,
    );
    outputs.push(login.stdout, login.stderr);
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse(login.stdout).credentials).toEqual({ username: 'dev' });

    const table = await runCli(['credentials', 'list', '--output', 'table'], env);
    outputs.push(table.stdout, table.stderr);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/beam-psk\s+psk/);
    expect(table.stdout).toMatch(/broker\s+username-password-credentials\s+username=dev/);
    expect(table.stdout).toMatch(/device-001010000000001\s+x509\s+per-SIM client certificate/);

    // Stored sealed; the trailing newline of the file and of the pipe is not part of the secret.
    const store = await openStore(db.url, { migrate: false });
    try {
      const rows = await store.db.selectFrom('credential_sets').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(PSK);
      expect(JSON.stringify(rows)).not.toContain(PASSWORD);
      const sets = new CredentialService(store, await KeyRing.open(store, MASTER_KEY), systemClock);
      const operatorId = rows[0]!.operator_id;
      expect(await sets.resolve(operatorId, 'beam-psk', { imsi: '001010000000001' })).toEqual({
        type: 'psk',
        key: PSK,
      });
      expect(await sets.resolve(operatorId, 'broker', { imsi: '001010000000001' })).toEqual({
        type: 'username-password-credentials',
        username: 'dev',
        password: PASSWORD,
      });
      expect(await sets.resolve(operatorId, 'device-#{imsi}', { imsi: '001010000000001' })).toMatchObject({
        cert: identity.certificatePem,
        key: identity.keyPem,
      });
      await sets.drained();
    } finally {
      await store.close();
    }

    writeFileSync(join(dir, 'psk2.txt'), 'rotated-psk-value\n');
    const rotated = await runCli(
      [
        'credentials',
        'update',
        'beam-psk',
        '--from-file',
        `key=${join(dir, 'psk2.txt')}`,
        '--description',
        'rotated',
      ],
      env,
    );
    outputs.push(rotated.stdout, rotated.stderr);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ description: 'rotated' });

    const deleted = await runCli(['credentials', 'delete', 'broker'], env);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toBe('deleted broker\n');
    const after = JSON.parse((await runCli(['credentials', 'list'], env)).stdout) as Array<{
      credentialsId: string;
    }>;
    expect(after.map((c) => c.credentialsId)).toEqual(['beam-psk', 'device-001010000000001']);

    for (const text of outputs) {
      expect(text).not.toContain(PSK);
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain('rotated-psk-value');
      expect(text).not.toContain(identity.keyPem.split('\n')[1]!);
    }
  });

  it('refuses a secret as an argument and says how to give it', async () => {
    const res = await runCli(['credentials', 'create', 'p', '--type', 'psk', '--set', `key=${PSK}`], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--from-file key=FILE or --from-stdin key/);
    expect(res.stderr).not.toContain(PSK);
    const none = await runCli(['credentials', 'create', 'p', '--type', 'psk'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/give the credentials/);
    const badType = await runCli(['credentials', 'create', 'p', '--type', 'magic', '--set', 'a=b'], env);
    expect(badType.code).toBe(2);
    expect(badType.stderr).toMatch(/--type must be one of psk/);
    const nothing = await runCli(['credentials', 'update', 'beam-psk'], env);
    expect(nothing.code).toBe(2);
    const server400 = await runCli(
      ['credentials', 'create', 'p', '--type', 'username-password-credentials', '--set', 'username=u'],
      env,
    );
    expect(server400.code).toBe(1);
    expect(server400.stderr).toMatch(/ERR_CREDENTIALS_INVALID/);
  });
});
