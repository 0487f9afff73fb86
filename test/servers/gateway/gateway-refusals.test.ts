// Security tests of the gateway login, each opening with the threat it defends against. The SMS
// codes come from the PDUs a real SMPP peer received.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { listAudit } from '../../../src/platform/audit/audit-log.js';
import { hostileRedirect } from '../../helpers/hostile-urls.js';
import { Browser, codeIn, type GatewayFixture, hidden, PASSWORD, startGatewayFixture } from './fixture.js';

const clock = new ManualClock(Date.now());
let f: GatewayFixture;
// A code dies after 5 guesses (the default); the account lock comes later here so that both can be
// seen on their own. The per-address limit has its own test (many logins come from 127.0.0.1).
const LOCK_THRESHOLD = 8;
beforeAll(async () => {
  f = await startGatewayFixture({
    clock,
    config: { mfaLockThreshold: LOCK_THRESHOLD, mfaAddressMaxAttempts: 10_000 },
  });
});
afterAll(async () => {
  await f?.close();
});

let users = 0;
/** A user of its own (own phone number), so limits and locks of one test never touch another. */
async function newUser(): Promise<{ userId: string; phone: string }> {
  users++;
  const userId = `user${users}`;
  const phone = `+8190${String(users).padStart(8, '0')}`;
  await f.platform.directories.createUser(f.admin, f.directoryId, {
    userId,
    password: PASSWORD,
    phoneNumber: phone,
    phoneVerified: true,
  });
  return { userId, phone };
}

/** A fresh browser at the factor page of a new login; resolves with the page and the SMS code. */
async function startLogin(userId: string, headers: Record<string, string> = {}) {
  const browser = new Browser(f.url, headers);
  const login = await browser.get('/');
  const before = f.smsc.messages.length;
  const page = await browser.post('/.simtrust/login', {
    csrf: hidden(login.html, 'csrf'),
    app: 'wiki',
    return_to: '/',
    user_id: userId,
    password: PASSWORD,
  });
  const sms = await f.smsc.waitForMessage((m) => f.smsc.messages.indexOf(m) >= before);
  return { browser, page, code: codeIn(sms.text) };
}

/** Like startLogin, with the return_to the login form posts. */
async function startLoginWith(userId: string, returnTo: string) {
  const browser = new Browser(f.url);
  const login = await browser.get('/');
  const before = f.smsc.messages.length;
  const page = await browser.post('/.simtrust/login', {
    csrf: hidden(login.html, 'csrf'),
    app: 'wiki',
    return_to: returnTo,
    user_id: userId,
    password: PASSWORD,
  });
  const sms = await f.smsc.waitForMessage((m) => f.smsc.messages.indexOf(m) >= before);
  return { browser, page, code: codeIn(sms.text) };
}

const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

async function audits(operationId: string) {
  return (await listAudit(f.db.store.db, f.operatorId, { operationId, limit: 100 })).records;
}

describe('gateway refusals', () => {
  it('brute force on a code: five wrong guesses kill the code, and every attempt is audited', async () => {
    // Threat: guessing a 6-digit code. Each code survives mfaOtpMaxGuesses wrong tries, then even
    // the right code is refused.
    const { userId } = await newUser();
    const { browser, page, code } = await startLogin(userId);
    let html = page.html;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await browser.post('/.simtrust/factor', { csrf: hidden(html, 'csrf'), code: wrong(code) });
      statuses.push(r.status);
      html = r.html;
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    expect(html).toContain('no longer works');
    const right = await browser.post('/.simtrust/factor', { csrf: hidden(html, 'csrf'), code });
    expect(right.status).toBe(401);
    expect(right.html).toContain('expired or was already used');
    const records = await audits('Gateway:verifySmsCode');
    expect(records.filter((r) => r.result === 'failure').length).toBeGreaterThanOrEqual(6);
    expect(
      records.some((r) => r.detail.userId === userId && String(r.detail.reason).includes('code dead')),
    ).toBe(true);
  });

  it('an expired code is refused (300 s)', async () => {
    // Threat: a code read later from a lost or shared phone.
    const { browser, page, code } = await startLogin((await newUser()).userId);
    clock.advance(301_000);
    const r = await browser.post('/.simtrust/factor', { csrf: hidden(page.html, 'csrf'), code });
    expect(r.status).toBe(401);
    expect(r.html).toContain('expired');
  });

  it('a code replayed after success opens nothing', async () => {
    // Threat: a code captured on the wire (or from history) played again.
    const { userId } = await newUser();
    const { browser, page, code } = await startLogin(userId);
    const ok = await browser.post('/.simtrust/factor', { csrf: hidden(page.html, 'csrf'), code });
    expect(ok.html).toContain(`Backend content for ${userId}`);
    const again = await browser.post('/.simtrust/factor', { csrf: hidden(page.html, 'csrf'), code });
    expect(again.status).toBe(401);
    expect(again.html).toContain('sign-in has expired or is already finished');
  });

  it('a code from another login transaction does not work in this one', async () => {
    // Threat: a code sent for one login (another tab, another attacker-started login) used elsewhere.
    const { userId } = await newUser();
    const first = await startLogin(userId);
    clock.advance(31_000);
    const second = await startLogin(userId);
    expect(first.code).not.toBe('');
    const r = await second.browser.post('/.simtrust/factor', {
      csrf: hidden(second.page.html, 'csrf'),
      code: first.code,
    });
    expect(r.status).toBe(401);
    expect(r.html).toContain('The code is incorrect');
    const ok = await second.browser.post('/.simtrust/factor', {
      csrf: hidden(r.html, 'csrf'),
      code: second.code,
    });
    expect(ok.html).toContain(`Backend content for ${userId}`);
  });

  it('a resend flood is cut: 30 s between codes, at most 5 per 15 minutes per user and phone', async () => {
    // Threat: SMS pumping (toll fraud) and flooding a victim's phone.
    const { userId, phone } = await newUser();
    const { browser, page } = await startLogin(userId);
    const tooSoon = await browser.post('/.simtrust/resend', { csrf: hidden(page.html, 'csrf') });
    expect(tooSoon.status).toBe(429);
    expect(Number(tooSoon.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(tooSoon.html).toContain('wait');
    let html = tooSoon.html;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(31_000);
      const r = await browser.post('/.simtrust/resend', { csrf: hidden(html, 'csrf') });
      statuses.push(r.status);
      html = r.html;
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    expect(html).toContain('Too many codes were sent');
    expect(f.smsc.messages.filter((m) => m.destination === phone.slice(1))).toHaveLength(5);
    const refused = (await audits('Gateway:sendSmsCode')).filter(
      (r) => r.detail.userId === userId && r.result === 'denied',
    );
    expect(refused.map((r) => r.detail.reason).sort()).toEqual(['resend too soon', 'sms limit per user']);
    // The per-number limit holds for another account with the same phone number too.
    const other = await newUser();
    await f.platform.directories.updateUser(f.admin, f.directoryId, other.userId, {
      phoneNumber: phone,
      phoneVerified: true,
    });
    const browser2 = new Browser(f.url);
    const login2 = await browser2.get('/');
    const blocked = await browser2.post('/.simtrust/login', {
      csrf: hidden(login2.html, 'csrf'),
      app: 'wiki',
      return_to: '/',
      user_id: other.userId,
      password: PASSWORD,
    });
    expect(blocked.status).toBe(429);
    expect(blocked.html).toContain('Too many codes were sent');
  });

  it('a form without the CSRF token, or from another origin, is refused', async () => {
    // Threat: another site making the victim's browser post to the gateway (login CSRF, logout CSRF).
    clock.advance(3_600_000);
    const browser = new Browser(f.url);
    const login = await browser.get('/');
    const missing = await browser.post('/.simtrust/login', {
      app: 'wiki',
      user_id: 'alice',
      password: PASSWORD,
    });
    expect(missing.status).toBe(403);
    expect(missing.html).toContain('This form has expired');
    const foreign = await browser.post(
      '/.simtrust/login',
      { csrf: hidden(login.html, 'csrf'), app: 'wiki', user_id: 'alice', password: PASSWORD },
      { origin: 'https://evil.example' },
    );
    expect(foreign.status).toBe(403);
    const otherBrowser = new Browser(f.url);
    await otherBrowser.get('/');
    const stolen = await otherBrowser.post('/.simtrust/login', {
      csrf: hidden(login.html, 'csrf'),
      app: 'wiki',
      user_id: 'alice',
      password: PASSWORD,
    });
    expect(stolen.status).toBe(403);
  });

  it('an open-redirect attempt lands on the application, never elsewhere', async () => {
    // Threat: a login link that sends the user to a phishing site after a real login (CWE-601).
    const probe = new Browser(f.url);
    for (const evil of [
      '//evil.example/x',
      'https://evil.example/',
      '/\\evil.example',
      '/\t/evil.example',
      '/.simtrust/logout',
      'javascript:alert(1)',
    ]) {
      const login = await probe.get(`/.simtrust/login?app=wiki&return_to=${encodeURIComponent(evil)}`);
      expect(hidden(login.html, 'return_to')).toBe('/');
    }
    const encoded = await probe.get(
      `/.simtrust/login?app=wiki&return_to=${encodeURIComponent('/%0d%0a//evil.example')}`,
    );
    expect(new URL(hidden(encoded.html, 'return_to'), f.url).origin).toBe(f.url);
    const { userId } = await newUser();
    const browser = new Browser(f.url);
    const login = await browser.get('/');
    const before = f.smsc.messages.length;
    const factor = await browser.post('/.simtrust/login', {
      csrf: hidden(login.html, 'csrf'),
      app: 'wiki',
      return_to: '//evil.example/steal',
      user_id: userId,
      password: PASSWORD,
    });
    const sms = await f.smsc.waitForMessage((m) => f.smsc.messages.indexOf(m) >= before);
    const done = await browser.post('/.simtrust/factor', {
      csrf: hidden(factor.html, 'csrf'),
      code: codeIn(sms.text),
    });
    expect(done.url).toBe(`${f.url}/`);
    expect(done.html).toContain('Backend content');
  });

  it('issue 11: return_to that becomes //host after dot-segment removal never leaves the gateway', async () => {
    // Threat: an open redirect (CWE-601) — `/..//evil.example/phish` was checked as text, then URL
    // resolution removed the dot segment and the answer was `303 Location: //evil.example/phish`.
    const { userId } = await newUser();
    const { browser, page, code } = await startLogin(userId);
    await browser.post('/.simtrust/factor', { csrf: hidden(page.html, 'csrf'), code });
    const cookie = browser.cookieHeader();
    const locationFor = async (returnTo: string) => {
      const r = await fetch(`${f.url}/.simtrust/login?app=wiki&return_to=${encodeURIComponent(returnTo)}`, {
        redirect: 'manual',
        headers: { cookie },
      });
      expect(r.status, returnTo).toBe(303);
      return r.headers.get('location') ?? '';
    };
    expect(await locationFor('/..//evil.example/phish')).toBe('/');
    expect(await locationFor('/%2e%2e//evil.example/phish')).toBe('/');
    expect(await locationFor('/reports/../q1?x=1')).toBe('/q1?x=1');
    // The same property as the unit test, over HTTP: every Location stays on this origin.
    for (const returnTo of fc.sample(hostileRedirect, { numRuns: 300, seed: 11 })) {
      const location = await locationFor(returnTo);
      expect(location.startsWith('/') && !location.startsWith('//'), returnTo).toBe(true);
      expect(location.includes('\\'), returnTo).toBe(false);
      expect(new URL(location, f.url).origin, returnTo).toBe(f.url);
    }

    // The login POST carrying such a value redirects home after the code, not to the value.
    for (const returnTo of ['/..//evil.example/phish', '/%2e%2e//evil.example/phish']) {
      const login = await startLoginWith(userId, returnTo);
      const done = await login.browser.post('/.simtrust/factor', {
        csrf: hidden(login.page.html, 'csrf'),
        code: login.code,
      });
      expect(done.url, returnTo).toBe(`${f.url}/`);
      expect(
        login.browser.history.some((h) => h.includes('evil.example/')),
        returnTo,
      ).toBe(false);
    }
  });

  it('a session cookie copied before logout is dead after it', async () => {
    // Threat: a stolen or left-behind cookie used after the user signed out.
    const { userId } = await newUser();
    const { browser, page, code } = await startLogin(userId);
    await browser.post('/.simtrust/factor', { csrf: hidden(page.html, 'csrf'), code });
    const copy = new Browser(f.url);
    for (const [k, v] of browser.cookies) copy.cookies.set(k, v);
    expect((await copy.get('/secret')).html).toContain(`Backend content for ${userId}`);
    const logout = await browser.get('/.simtrust/logout');
    const out = await browser.post('/.simtrust/logout', { csrf: hidden(logout.html, 'csrf') });
    expect(out.html).toContain('signed out');
    const replay = await copy.get('/secret');
    expect(replay.url).toContain('/.simtrust/login');
    expect(replay.html).not.toContain('Backend content');
    const api = await fetch(`${f.url}/api/data`, {
      headers: { cookie: copy.cookieHeader(), accept: 'application/json' },
    });
    expect(api.status).toBe(401);
  });

  it('identity headers sent by the client never reach the upstream', async () => {
    // Threat: a client claiming to be someone else by sending the gateway's identity headers.
    const anonymous = await fetch(`${f.url}/x`, {
      headers: { 'x-simtrust-user': 'root', accept: 'application/json' },
    });
    expect(anonymous.status).toBe(401);
    const { userId } = await newUser();
    const { browser, page, code } = await startLogin(userId);
    await browser.post('/.simtrust/factor', { csrf: hidden(page.html, 'csrf'), code });
    await browser.get('/forged', {
      'x-simtrust-user': 'root',
      'x-simtrust-assertion': 'forged',
      'X-Simtrust-Other': '1',
    });
    const seen = f.upstream.requests.at(-1);
    expect(seen?.url).toBe('/forged');
    expect(seen?.headers['x-simtrust-user']).toBe(userId);
    expect(seen?.headers['x-simtrust-assertion']).not.toBe('forged');
    expect(seen?.headers['x-simtrust-other']).toBeUndefined();
  });

  it('wrong passwords lock the account with a growing wait, audited', async () => {
    // Threat: online password guessing (NIST SP 800-63B §5.2.2).
    const { userId } = await newUser();
    const browser = new Browser(f.url);
    let html = (await browser.get('/')).html;
    const attempt = async (password: string) => {
      const r = await browser.post('/.simtrust/login', {
        csrf: hidden(html, 'csrf'),
        app: 'wiki',
        return_to: '/',
        user_id: userId,
        password,
      });
      html = r.html;
      return r;
    };
    const statuses: number[] = [];
    for (let i = 0; i <= LOCK_THRESHOLD; i++) statuses.push((await attempt(`wrong-${i}`)).status);
    expect(statuses).toEqual([...Array(LOCK_THRESHOLD).fill(401), 429]);
    expect(html).toContain('Too many attempts. Try again in 30 seconds');
    expect((await attempt(PASSWORD)).status).toBe(429);
    clock.advance(31_000);
    // One more failure after the lock doubles the wait.
    expect((await attempt('wrong-again')).status).toBe(401);
    const locked = await attempt(PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.headers.get('retry-after')).toBe('60');
    clock.advance(61_000);
    expect((await attempt(PASSWORD)).url).toMatch(/\/\.simtrust\/factor$/);
    const records = (await audits('Gateway:login')).filter((r) => r.detail.userId === userId);
    expect(records.filter((r) => r.result === 'failure')).toHaveLength(LOCK_THRESHOLD + 1);
    expect(
      records.filter((r) => r.result === 'denied' && r.detail.reason === 'account locked').length,
    ).toBeGreaterThanOrEqual(3);
    expect(records.filter((r) => r.result === 'success')).toHaveLength(1);
  });
});
