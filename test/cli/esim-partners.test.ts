// `simtrust esim partners add|list|remove` on the configured database (SQLite or PostgreSQL), as an
// administrator runs them: the partner stored with its pinned fingerprint, refusals with their codes
// and exit status, removal by entity id.

import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { freshDatabaseUrl } from '../helpers/database.js';
import { issueTlsIdentity } from '../servers/esim/tls-fixtures.js';

let db: { url: string; drop: () => Promise<void> };
let env: Record<string, string>;
let dir: string;

beforeAll(() => {
  db = freshDatabaseUrl();
  env = { SIMTRUST_DATABASE_URL: db.url };
  dir = mkdtempSync(join(tmpdir(), 'esim-partners-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await db.drop();
});

describe('simtrust esim partners', () => {
  it('add, list, a refused duplicate and a refused http endpoint, remove by entity id', async () => {
    const tls = await issueTlsIdentity('sm-sr.partner');
    const file = join(dir, 'sm-sr.pem');
    writeFileSync(file, tls.certificatePem);
    const args = ['--role', 'sm-sr', '--entity-id', '1.3.6.1.4.1.99999.1.2', '--certificate', file];
    const added = await runCli(
      ['esim', 'partners', 'add', ...args, '--soap-url', 'https://sm-sr.example.test:8443/esim/soap'],
      env,
    );
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({
      role: 'sm-sr',
      entityId: '1.3.6.1.4.1.99999.1.2',
      operatorId: '',
      fingerprint: new X509Certificate(tls.certificatePem).fingerprint256,
    });

    const again = await runCli(
      ['esim', 'partners', 'add', ...args, '--soap-url', 'https://other.example.test/'],
      env,
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/\(ERR_ESIM_PARTNER_EXISTS\)/);
    const http = await runCli(
      ['esim', 'partners', 'add', ...args, '--role', 'sm-dp', '--soap-url', 'http://sm-dp.example.test/'],
      env,
    );
    expect(http.code).toBe(1);
    expect(http.stderr).toMatch(/https.*\(ERR_ESIM_PARTNER_INVALID\)/);

    const list = await runCli(['esim', 'partners', 'list', '--output', 'table'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain('1.3.6.1.4.1.99999.1.2');
    expect(list.stdout).toContain('https://sm-sr.example.test:8443/esim/soap');

    const removed = await runCli(['esim', 'partners', 'remove', '1.3.6.1.4.1.99999.1.2'], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).toHaveLength(1);
    expect(JSON.parse((await runCli(['esim', 'partners', 'list'], env)).stdout)).toEqual([]);
    const gone = await runCli(['esim', 'partners', 'remove', '1.3.6.1.4.1.99999.1.2'], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/\(ERR_ESIM_PARTNER_NOT_FOUND\)/);
  }, 120_000);
});
