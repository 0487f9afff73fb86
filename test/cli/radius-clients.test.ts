// `simtrust radius-clients …` against a running server: add (secret from a file, never echoed),
// list, update (rotate), delete, and clear usage errors.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type ServerProcess, seedOperator, startServeProcess } from '../helpers/cli.js';
import { freshDatabaseUrl, testDialect } from '../helpers/database.js';

let db: { url: string; drop: () => Promise<void> };
let server: ServerProcess;
let env: Record<string, string>;

beforeAll(async () => {
  db = freshDatabaseUrl();
  server = await startServeProcess({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
  });
  await seedOperator(db.url, 'cli-nas@example.com', 'cli-nas-password');
  env = {
    SIMTRUST_ENDPOINT: server.apiUrl,
    SIMTRUST_EMAIL: 'cli-nas@example.com',
    SIMTRUST_PASSWORD: 'cli-nas-password',
  };
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

describe(`simtrust radius-clients (${testDialect})`, () => {
  it('adds, lists, rotates and deletes NAS clients; secrets never printed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'simtrust-nas-'));
    writeFileSync(join(dir, 'secret'), 'file-secret-value\n', { mode: 0o600 });
    const added = await runCli(
      ['radius-clients', 'add', '10.0.0.0/24', '--secret-file', join(dir, 'secret'), '--name', 'pgw-a'],
      env,
    );
    expect(added.code).toBe(0);
    const client = JSON.parse(added.stdout) as { clientId: string; address: string };
    expect(client).toMatchObject({ address: '10.0.0.0/24', name: 'pgw-a', coaPort: 3799 });
    expect(added.stdout).not.toContain('file-secret-value');

    const listed = await runCli(['radius-clients', 'list', '--output', 'table'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/pgw-a\s+10\.0\.0\.0\/24\s+3799\s+true/);

    const rotated = await runCli(
      ['radius-clients', 'update', client.clientId, '--secret', 'rotated-secret-value', '--coa-port', '3800'],
      env,
    );
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ coaPort: 3800 });
    expect(rotated.stdout).not.toContain('rotated-secret-value');

    const short = await runCli(['radius-clients', 'add', '10.9.9.9', '--secret', 'S'], env);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/ERR_VALIDATION/);
    const missing = await runCli(['radius-clients', 'add', '10.9.9.9'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/shared secret is required/);

    const deleted = await runCli(['radius-clients', 'delete', client.clientId], env);
    expect(deleted.code).toBe(0);
    const after = await runCli(['radius-clients', 'list'], env);
    expect(JSON.parse(after.stdout)).toEqual([]);
  });
});
