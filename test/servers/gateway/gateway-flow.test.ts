// The gateway's login flow end to end over HTTP (seed 003's numbered flow), with the SMS code read
// from the PDU a real SMPP peer received, and the identity the upstream application is given.

import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrograms } from '../../helpers/external.js';
import { Browser, codeIn, type GatewayFixture, hidden, PASSWORD, startGatewayFixture } from './fixture.js';

let f: GatewayFixture;
beforeAll(async () => {
  f = await startGatewayFixture();
});
afterAll(async () => {
  await f?.close();
});

describe('MFA gateway login (password + SMS OTP)', () => {
  it('logs in and shows the backend content with a signed identity', async () => {
    const browser = new Browser(f.url);
    const login = await browser.get('/reports/q1?x=1');
    expect(login.status).toBe(200);
    expect(login.url).toContain('/.simtrust/login?app=wiki&return_to=%2Freports%2Fq1%3Fx%3D1');
    const factor = await browser.post('/.simtrust/login', {
      csrf: hidden(login.html, 'csrf'),
      app: 'wiki',
      return_to: hidden(login.html, 'return_to'),
      user_id: 'alice',
      password: PASSWORD,
    });
    expect(factor.url).toMatch(/\/\.simtrust\/factor$/);
    const sms = await f.smsc.waitForMessage((m) => m.destination === '819012345678');
    const code = codeIn(sms.text);
    expect(code).toMatch(/^\d{6}$/);
    const backend = await browser.post('/.simtrust/factor', { csrf: hidden(factor.html, 'csrf'), code });
    expect(backend.status).toBe(200);
    expect(backend.url).toBe(`${f.url}/reports/q1?x=1`);
    expect(backend.html).toContain('Backend content for alice');
    const seen = f.upstream.requests.at(-1);
    expect(seen?.headers['x-simtrust-user']).toBe('alice');
    expect(seen?.headers.cookie ?? '').not.toContain('simtrust-session');
    const jwks = createRemoteJWKSet(new URL(`${f.url}/.simtrust/jwks.json`));
    const { payload } = await jwtVerify(String(seen?.headers['x-simtrust-assertion']), jwks, {
      issuer: f.platform.config.endorseIssuer,
      audience: 'wiki',
      algorithms: ['ES256'],
    });
    expect(payload).toMatchObject({ sub: 'alice', amr: ['pwd', 'sms'] });
  });
});

describe('MFA gateway when something downstream fails', () => {
  it('says so when no SMS provider takes the code, and when the application is down', async () => {
    // Every provider failing: the SMPP centre refuses the bind.
    const g = await startGatewayFixture({
      smsProviders: ({ smsc }) => [
        {
          name: 'smsc',
          kind: 'smpp',
          url: smsc.url,
          systemId: 'gateway',
          password: 'wrong',
          queueTimeoutMs: 500,
        },
      ],
    });
    try {
      const browser = new Browser(g.url);
      const login = await browser.get('/');
      const page = await browser.post('/.simtrust/login', {
        csrf: hidden(login.html, 'csrf'),
        app: 'wiki',
        return_to: '/',
        user_id: 'alice',
        password: PASSWORD,
      });
      expect(page.status).toBe(502);
      expect(page.html).toContain('The SMS could not be sent. Try again later or use another method.');
      const [record] = (await g.platform.sms.list(g.operatorId, { limit: 1 })).items;
      expect(record).toMatchObject({ status: 'failed', errorCode: 'SMPP_NOT_BOUND' });

      // The application itself is down.
      await g.upstream.close();
      const session = await g.platform.gatewaySessions.create({
        operatorId: g.operatorId,
        application: 'wiki',
        subject: `dir:${g.directoryId}:alice`,
        userId: 'alice',
        groups: [],
        amr: ['pwd', 'sms'],
      });
      const res = await fetch(`${g.url}/x`, { headers: { cookie: `simtrust-session=${session.id}` } });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { code: string }).code).toBe('ERR_GATEWAY_UPSTREAM');
    } finally {
      await g.close();
    }
  });
});

describe('MFA gateway behind TLS', () => {
  it('marks every cookie Secure (and uses __Host-/__Secure- names) when the request came over TLS', async () => {
    // Threat: a session cookie sent over plain HTTP (network eavesdropper) or set by a sibling host.
    const g = await startGatewayFixture({ config: { gatewayTrustProxy: true } });
    try {
      const browser = new Browser(g.url, { 'x-forwarded-proto': 'https' });
      const login = await browser.get('/');
      expect(login.headers.getSetCookie().join('\n')).toMatch(
        /__Secure-simtrust-csrf=[^;]+; Path=\/\.simtrust\/; HttpOnly; Secure; SameSite=Lax/,
      );
      const before = g.smsc.messages.length;
      const factor = await browser.post('/.simtrust/login', {
        csrf: hidden(login.html, 'csrf'),
        app: 'wiki',
        return_to: '/',
        user_id: 'alice',
        password: PASSWORD,
      });
      const sms = await g.smsc.waitForMessage((m) => g.smsc.messages.indexOf(m) >= before);
      const done = await browser.request(
        'POST',
        '/.simtrust/factor',
        { csrf: hidden(factor.html, 'csrf'), code: codeIn(sms.text) },
        { origin: 'https://127.0.0.1' },
      );
      expect(done.status).toBe(403);
      const ok = await browser.post('/.simtrust/factor', {
        csrf: hidden(factor.html, 'csrf'),
        code: codeIn(sms.text),
      });
      expect(ok.html).toContain('Backend content for alice');
      expect([...browser.cookies.keys()]).toContain('__Host-simtrust-session');
      expect(browser.cookies.has('simtrust-session')).toBe(false);
    } finally {
      await g.close();
    }
  });

  it.skipIf(!requirePrograms({ openssl: 'openssl' }))(
    'serves HTTPS itself with gatewayTlsCertFile/gatewayTlsKeyFile',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gw-tls-'));
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      const g = await startGatewayFixture({
        config: { gatewayTlsCertFile: join(dir, 'cert.pem'), gatewayTlsKeyFile: join(dir, 'key.pem') },
      });
      try {
        const port = new URL(g.url).port;
        const res = await new Promise<{ status: number; cookies: string[] }>((resolve, reject) => {
          const req = httpsRequest(
            { host: '127.0.0.1', port, path: '/.simtrust/login?app=wiki', rejectUnauthorized: false },
            (r) => {
              r.resume();
              resolve({ status: r.statusCode ?? 0, cookies: r.headers['set-cookie'] ?? [] });
            },
          );
          req.on('error', reject);
          req.end();
        });
        expect(res.status).toBe(200);
        expect(res.cookies.join('\n')).toMatch(/__Secure-simtrust-csrf=.*; Secure/);
      } finally {
        await g.close();
      }
    },
  );
});
