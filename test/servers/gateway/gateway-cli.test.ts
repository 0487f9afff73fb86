// The CLI of the feature as a user runs it: `simtrust directories …` and `simtrust sms …` against a
// running API, and `simtrust gateway --upstream … --listen …` as its own process, through which a
// user logs in with an SMS code read from a real SMPP peer.

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Smsc } from '../../../src/servers/smpp/smsc.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { BIN, runCli, tempHome } from '../../helpers/cli.js';
import { Browser, codeIn, freePort, hidden, startUpstream, type Upstream } from './fixture.js';

let api: TestApi;
let endpoint: string;
let smsc: Smsc;
let upstream: Upstream;
let env: Record<string, string>;
let directoryId: string;

beforeAll(async () => {
  smsc = await Smsc.start({ accounts: { cli: 'clipw' }, receipt: 'DELIVRD' });
  api = await startTestApi();
  endpoint = await api.app.listen({ host: '127.0.0.1', port: 0 });
  upstream = await startUpstream();
  env = { HOME: tempHome(), SIMTRUST_ENDPOINT: endpoint, SIMTRUST_TOKEN: api.operator.token };
});
afterAll(async () => {
  await upstream?.close();
  await api?.close();
  await smsc?.close();
});

const cli = async (args: string[]) => {
  const r = await runCli(args, env);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
};

describe('simtrust directories / sms', () => {
  it('creates a directory and users, imports a CSV and lists them', async () => {
    directoryId = JSON.parse((await cli(['directories', 'create', '--name', 'staff'])).stdout).directoryId;
    await cli([
      'directories',
      'users',
      'create',
      directoryId,
      'alice',
      '--password',
      'alice long password',
      '--phone',
      '+819012345678',
      '--phone-verified',
      '--group',
      'staff',
      'ops',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'simtrust-dir-'));
    writeFileSync(
      join(dir, 'users.csv'),
      'user_id,password,phone_number\nbob,bobs long password,+819011112222\n',
    );
    const summary = JSON.parse(
      (await cli(['directories', 'users', 'import', directoryId, join(dir, 'users.csv')])).stdout,
    );
    expect(summary).toMatchObject({ rows: 1, created: 1, rejected: 0 });
    const table = (await cli(['directories', 'users', 'list', directoryId, '--output', 'table'])).stdout;
    expect(table.split('\n')[0]).toMatch(/^userId\s+phoneNumber\s+verified/);
    expect(table).toMatch(/alice\s+\+819012345678\s+true/);
    expect(table).toMatch(/bob\s+\+819011112222\s+false/);
    const totp = JSON.parse((await cli(['directories', 'users', 'enable-totp', directoryId, 'bob'])).stdout);
    expect(totp.totpUri).toMatch(/^otpauth:\/\/totp\//);
    const bad = await runCli(
      ['directories', 'users', 'create', directoryId, 'carol', '--password', 'long enough', '--phone', '12'],
      env,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('ERR_PHONE_NUMBER');
  });

  it('runs `simtrust gateway` in front of an application', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        BIN,
        'gateway',
        '--upstream',
        upstream.url,
        '--listen',
        `127.0.0.1:${port}`,
        '--directory',
        directoryId,
        '--factors',
        'sms-otp',
      ],
      {
        env: {
          PATH: process.env.PATH,
          HOME: env.HOME,
          SIMTRUST_DATABASE_URL: api.db.url,
          SIMTRUST_MASTER_KEY: api.masterKey.toString('base64'),
          SIMTRUST_LOG_LEVEL: 'info',
          SIMTRUST_SMS_PROVIDERS: JSON.stringify([
            { name: 'lab', kind: 'smpp', url: smsc.url, systemId: 'cli', password: 'clipw' },
          ]),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    try {
      for (let i = 0; i < 300 && !out.includes('simtrust gateway is serving'); i++) {
        if (child.exitCode !== null) throw new Error(`gateway exited: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(out).toContain(`"gatewayUrl":"http://127.0.0.1:${port}"`);
      const browser = new Browser(`http://127.0.0.1:${port}`);
      const login = await browser.get('/hello');
      const factor = await browser.post('/.simtrust/login', {
        csrf: hidden(login.html, 'csrf'),
        app: 'default',
        return_to: hidden(login.html, 'return_to'),
        user_id: 'alice',
        password: 'alice long password',
      });
      const sms = await smsc.waitForMessage((m) => m.destination === '819012345678');
      const done = await browser.post('/.simtrust/factor', {
        csrf: hidden(factor.html, 'csrf'),
        code: codeIn(sms.text),
      });
      expect(done.html).toContain('Backend content for alice');
      expect(out).not.toContain(codeIn(sms.text));
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    const list = JSON.parse((await cli(['sms', 'list'])).stdout);
    expect(list[0]).toMatchObject({ purpose: 'login-otp', phoneNumber: '+819012345678', provider: 'lab' });
    const sessions = JSON.parse(
      (await cli(['directories', 'users', 'sessions', directoryId, 'alice'])).stdout,
    );
    expect(sessions).toHaveLength(1);
    expect(
      JSON.parse((await cli(['directories', 'users', 'revoke-sessions', directoryId, 'alice'])).stdout),
    ).toEqual({ revoked: 1 });
  });

  it('refuses to start with nothing to protect', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-'));
    const r = await runCli(
      ['gateway', '--demo', '--data-dir', dir, '--database-url', `sqlite:${join(dir, 'db')}`],
      {
        HOME: tempHome(),
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nothing to protect');
  });
});
