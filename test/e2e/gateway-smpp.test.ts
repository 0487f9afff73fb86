// Acceptance: a person logs in to a protected application through the MFA gateway in a real browser
// (headless Chromium via playwright-core). The OTP SMS goes out over SMPP to a real SMPP peer (the
// `smpp` package's server as SMS centre); the test reads the code from the PDU it received, types
// it, and sees the backend page; the upstream saw the identity, signed with the platform's key. The
// session also carries a WebSocket through the proxy, and the pages speak Japanese when asked.

import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrograms } from '../helpers/external.js';
import { codeIn, type GatewayFixture, PASSWORD, startGatewayFixture } from '../servers/gateway/fixture.js';
import { launchChromium } from './gateway-browser.js';

const ok = requirePrograms({ chromium: 'chromium' });

describe.skipIf(!ok)('MFA gateway in Chromium, SMS through SMPP', () => {
  let f: GatewayFixture;
  let browser: Browser;

  beforeAll(async () => {
    f = await startGatewayFixture();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await f?.close();
  });

  it('logs in with ID/password and the SMS code and shows the backend page', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(`${f.url}/projects/42?tab=files`);
    expect(await page.title()).toBe('Sign in');
    // Accessible names: the fields are found by their labels.
    await page.getByLabel('User ID').fill('alice');
    await page.getByLabel('Password').fill(PASSWORD);
    const before = f.smsc.messages.length;
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/\.simtrust\/factor$/);
    expect(await page.title()).toBe('Enter the code from the SMS');
    const sms = await f.smsc.waitForMessage((m) => f.smsc.messages.indexOf(m) >= before);
    expect(sms.destination).toBe('819012345678');
    await page.getByLabel(/Code from the SMS/).fill(codeIn(sms.text));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${f.url}/projects/42?tab=files`);
    expect(await page.locator('#backend').textContent()).toBe('Backend content for alice');

    const seen = f.upstream.requests.at(-1);
    const jwks = createRemoteJWKSet(new URL(`${f.url}/.simtrust/jwks.json`));
    const { payload } = await jwtVerify(String(seen?.headers['x-simtrust-assertion']), jwks, {
      issuer: f.platform.config.endorseIssuer,
      audience: 'wiki',
      algorithms: ['ES256'],
    });
    expect(payload).toMatchObject({
      sub: 'alice',
      amr: ['pwd', 'sms'],
      'simtrust-gateway': { application: 'wiki' },
    });
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'simtrust-session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });

    // A WebSocket opened by the page goes through the proxy with the session and the identity.
    const echo = await page.evaluate(
      (url) =>
        new Promise<string>((resolve, reject) => {
          const ws = new WebSocket(url);
          ws.onopen = () => ws.send('ping');
          ws.onmessage = (e) => resolve(String(e.data));
          ws.onerror = () => reject(new Error('websocket failed'));
        }),
      `${f.url.replace('http', 'ws')}/live`,
    );
    expect(echo).toBe('echo:ping:alice');
    expect(f.upstream.upgrades.at(-1)?.cookie ?? '').not.toContain('simtrust-session');
    await context.close();
  });

  it('speaks Japanese to a Japanese browser and announces a wrong password', async () => {
    const context = await browser.newContext({ locale: 'ja-JP' });
    const page = await context.newPage();
    await page.goto(`${f.url}/`);
    expect(await page.title()).toBe('ログイン');
    expect(await page.locator('html').getAttribute('lang')).toBe('ja');
    await page.getByLabel('ユーザーID').fill('alice');
    await page.getByLabel('パスワード').fill('wrong password');
    await page.getByRole('button', { name: 'ログイン' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toBe('ユーザーIDまたはパスワードが正しくありません。');
    expect(await page.getByLabel('パスワード').getAttribute('aria-invalid')).toBe('true');
    await context.close();
  });

  it('a WebSocket without a session is refused', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${f.url}/.simtrust/health`);
    const result = await page.evaluate(
      (url) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(url);
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('refused');
        }),
      `${f.url.replace('http', 'ws')}/live`,
    );
    expect(result).toBe('refused');
    await context.close();
  });
});
