// The console's session (issue 12): a cookie no script can read, accepted by the API only with its
// CSRF header; static files under a strict Content-Security-Policy; what-may-I-do answers.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONSOLE_CSP,
  consoleCredential,
  cookieValue,
  csrfTokenOf,
  registerConsole,
  SESSION_COOKIE,
} from '../../../src/servers/http/plugins/console.js';
import { startTestApi } from '../../helpers/app.js';

const api = await startTestApi({ config: { apiRateLimitPerAddress: 0, apiRateLimitPerToken: 0 } });
afterAll(() => api.close());
const { email, password, operatorId } = api.operator;

async function signIn(body: Record<string, unknown> = { email, password }) {
  const res = await api.app.inject({ method: 'POST', url: '/console/api/session', payload: body });
  const setCookie = String(res.headers['set-cookie'] ?? '');
  const token = cookieValue(setCookie.split(';')[0], SESSION_COOKIE) ?? '';
  return { res, setCookie, token, csrf: (res.json() as { csrfToken?: string }).csrfToken ?? '' };
}

describe('console session', () => {
  it('sets an httpOnly SameSite=Strict cookie that expires with the token, and answers a CSRF token', async () => {
    const { res, setCookie, token, csrf } = await signIn();
    expect(res.statusCode).toBe(200);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\//);
    const maxAge = Number(/Max-Age=(\d+)/.exec(setCookie)?.[1]);
    const { expiresAt } = res.json() as { expiresAt: number };
    expect(Math.abs(maxAge - (expiresAt - Date.now()) / 1000)).toBeLessThan(60);
    // The answer body never carries the session token itself.
    expect(res.body).not.toContain(token);
    expect(csrf).toBe(csrfTokenOf(token));
  });

  it('lets the API accept the cookie with a matching X-CSRF-Token header', async () => {
    const { token, csrf } = await signIn();
    const ok = await api.app.inject({
      method: 'GET',
      url: '/v1/auth/session',
      headers: { cookie: `${SESSION_COOKIE}=${token}`, 'x-csrf-token': csrf },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ operatorId, kind: 'root' });
  });

  it('refuses a cross-site request riding on the cookie (no header, a wrong one, another session’s)', async () => {
    // Threat: CSRF — a page on another site makes the browser send the console's cookie.
    const { token } = await signIn();
    const other = await signIn();
    for (const headers of [
      { cookie: `${SESSION_COOKIE}=${token}` },
      { cookie: `${SESSION_COOKIE}=${token}`, 'x-csrf-token': 'x' },
      { cookie: `${SESSION_COOKIE}=${token}`, 'x-csrf-token': other.csrf },
    ]) {
      const res = await api.app.inject({ method: 'POST', url: '/v1/sims', headers, payload: {} });
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('ERR_CSRF');
    }
  });

  it('gives a reloaded page its CSRF token again, and signs out for good', async () => {
    const { token, csrf } = await signIn();
    const cookie = `${SESSION_COOKIE}=${token}`;
    const again = await api.app.inject({ method: 'GET', url: '/console/api/session', headers: { cookie } });
    expect(again.statusCode).toBe(200);
    expect(again.json().csrfToken).toBe(csrf);

    // Threat: a cross-site page signing the operator out.
    const forged = await api.app.inject({
      method: 'DELETE',
      url: '/console/api/session',
      headers: { cookie },
    });
    expect(forged.statusCode).toBe(403);

    const out = await api.app.inject({
      method: 'DELETE',
      url: '/console/api/session',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/Max-Age=0/);
    // Revoked server-side: the cookie (if a copy survived) and the token are dead.
    const after = await api.app.inject({
      method: 'GET',
      url: '/v1/auth/session',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(after.statusCode).toBe(401);
    expect(
      (await api.app.inject({ method: 'GET', url: '/console/api/session', headers: { cookie } })).statusCode,
    ).toBe(401);
  });

  it('asks for the second factor like /v1/auth and refuses auth keys and mixed credentials', async () => {
    const wrong = await signIn({ email, password: 'wrong-password' });
    expect(wrong.res.statusCode).toBe(401);
    expect(wrong.setCookie).toBe('');
    const mixed = await signIn({ email, operatorId, userName: 'x', password });
    expect(mixed.res.statusCode).toBe(400);
    const key = await signIn({ authKeyId: 'keyId-x', authKey: 'secret-x', password });
    expect(key.res.statusCode).toBe(400);
  });

  it('decides a cookie without throwing whatever the Cookie header holds', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string(), { nil: undefined }), (cookie, csrf) => {
        const request = { headers: { cookie, ...(csrf === undefined ? {} : { 'x-csrf-token': csrf }) } };
        const got = consoleCredential(request as never);
        // Only an exact HMAC match of the cookie's own token admits it.
        if (got !== undefined && 'token' in got) expect(csrf).toBe(csrfTokenOf(got.token));
      }),
    );
  });
});

describe('what the caller may do', () => {
  it('answers per operation for a read-only user, and refuses malformed lists', async () => {
    await api.call({
      method: 'POST',
      url: `/v1/operators/${operatorId}/users/reader`,
      payload: { description: 'read only' },
    });
    await api.call({
      method: 'PUT',
      url: `/v1/operators/${operatorId}/users/reader/permission`,
      payload: { permission: '{"statements":[{"effect":"allow","api":["Sim:list*","Sim:get*","Auth:*"]}]}' },
    });
    await api.call({
      method: 'POST',
      url: `/v1/operators/${operatorId}/users/reader/password`,
      payload: { password: 'reader-password-1' },
    });
    const login = await api.app.inject({
      method: 'POST',
      url: '/v1/auth',
      payload: { operatorId, userName: 'reader', password: 'reader-password-1' },
    });
    const token = login.json().token as string;
    const res = await api.call({
      method: 'GET',
      url: '/v1/auth/permissions?apis=Sim:listSims,Sim:suspendSim',
      token,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().results).toEqual([
      expect.objectContaining({ api: 'Sim:listSims', allowed: true }),
      expect.objectContaining({ api: 'Sim:suspendSim', allowed: false, reason: 'implicit-deny' }),
    ]);
    const root = await api.call({ method: 'GET', url: '/v1/auth/permissions?apis=Sim:suspendSim' });
    expect(root.json().results[0]).toMatchObject({ allowed: true, reason: 'root' });
    for (const bad of [
      '',
      'Sim',
      'Sim:x,,',
      'a:b;c:d',
      Array.from({ length: 101 }, (_, i) => `Sim:op${i}`).join(','),
    ]) {
      const r = await api.call({
        method: 'GET',
        url: `/v1/auth/permissions?apis=${encodeURIComponent(bad)}`,
      });
      expect(r.statusCode, bad).toBe(400);
    }
  });
});

describe('console files', () => {
  it('serves the build with a strict CSP, long cache for hashed assets and the page for client routes', async () => {
    const dist = mkdtempSync(join(tmpdir(), 'console-dist-'));
    mkdirSync(join(dist, 'assets'));
    writeFileSync(join(dist, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    await registerConsole(app, api.platform, { dist });
    const page = await app.inject({ method: 'GET', url: '/console/sims/123?x=1' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<title>console</title>');
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(page.headers['cache-control']).toBe('no-cache');
    const asset = await app.inject({ method: 'GET', url: '/console/assets/index-abc123.js' });
    expect(asset.headers['cache-control']).toMatch(/max-age=31536000, immutable/);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect((await app.inject({ method: 'GET', url: '/console/assets/missing.js' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/console' })).headers.location).toBe('/console/');
    await app.close();
  });

  it('never reads outside the build, whatever the path', async () => {
    // Threat: path traversal to files beside the build (the master key file, the database).
    const dist = mkdtempSync(join(tmpdir(), 'console-dist-'));
    writeFileSync(join(dist, 'index.html'), 'INDEX');
    writeFileSync(join(dist, '..', `secret-${process.pid}.txt`), 'SECRET');
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    await registerConsole(app, api.platform, { dist });
    const segments = fc.constantFrom(
      '..',
      '%2e%2e',
      '.%2e',
      '%2f',
      '..%2f',
      '%5c',
      '..\\',
      `secret-${process.pid}.txt`,
      'assets',
      '',
    );
    await fc.assert(
      fc.asyncProperty(fc.array(segments, { maxLength: 6 }), async (parts) => {
        const res = await app.inject({ method: 'GET', url: `/console/${parts.join('/')}` });
        expect(res.body).not.toContain('SECRET');
      }),
      { numRuns: 200 },
    );
    await app.close();
  });
});
