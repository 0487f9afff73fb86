// The MFA gateway's applications in the console (issue 12), in Chromium against the platform in this
// process, configured with applications for this operator's directory, for its platform users, and
// for another operator's directory. Root opens the gateway page, follows the link to the
// applications and sees exactly theirs — with the upstream as its origin only (the configured URL
// carries a password and a token that must never reach the page) — and reaches the directory from
// the application. The console's own files arrive brotli-compressed. axe-core, screenshots, no
// console errors, no failed requests.

import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPlatform } from '../../src/platform/platform.js';
import { buildApp } from '../../src/servers/http/app.js';
import { startTestApi, type TestApi, testConfig } from '../helpers/app.js';
import { requirePrograms } from '../helpers/external.js';
import { axeViolations, ensureConsoleBuilt, screenshots, watchedPage } from './console-browser.js';
import { launchChromium } from './gateway-browser.js';

const ok = requirePrograms({ chromium: 'chromium' });

describe.skipIf(!ok)('console: MFA gateway applications in the browser', () => {
  let api: TestApi;
  let app: Awaited<ReturnType<typeof buildApp>>['app'];
  let base: string;
  let browser: Browser;
  let directoryId: string;

  beforeAll(async () => {
    ensureConsoleBuilt();
    api = await startTestApi();
    const other = await api.newOperator();
    directoryId = (
      await api.call({ method: 'POST', url: '/v1/directories', payload: { name: 'staff' } })
    ).json().directoryId;
    const theirs = (
      await api.call({ method: 'POST', url: '/v1/directories', payload: { name: 'x' }, token: other.token })
    ).json().directoryId;
    // The configuration names directories by id: the platform is opened again on the same database.
    const config = testConfig({
      databaseUrl: api.db.url,
      masterKey: api.masterKey,
      gatewayApplications: [
        {
          name: 'wiki',
          displayName: 'Team wiki',
          prefix: '/wiki/',
          upstream: 'http://svc:upstream-password@10.0.0.5:8080/base?key=query-secret',
          users: { directory: directoryId },
          policy: [{ groups: ['admins'], factors: ['totp'] }, { factors: ['sms-otp'] }],
          returnToOrigins: ['https://wiki.example.com'],
        },
        {
          name: 'ops',
          prefix: '/ops/',
          upstream: 'https://ops.internal',
          users: { platform: true, operatorId: api.operator.operatorId },
        },
        { name: 'elsewhere', prefix: '/x/', upstream: 'http://10.0.0.9', users: { directory: theirs } },
      ],
    });
    const platform = await openPlatform(config, { masterKey: api.masterKey, store: api.db.store });
    app = (await buildApp({ platform })).app;
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await api?.close();
  });

  it("lists the operator's gateway applications, read only, with no secret of the upstream", async () => {
    const w = await watchedPage(browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    // The console's files reach Chromium compressed (the build's .br), the API's answers as they are.
    const encodings = new Map<string, string | undefined>();
    page.on('response', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith('/console/')) encodings.set(path, r.headers()['content-encoding']);
    });
    await page.goto(`${base}/console/gateway`);
    await page.getByLabel('Email', { exact: true }).fill(api.operator.email);
    await page.getByLabel('Password', { exact: true }).fill(api.operator.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'MFA gateway directories' }).waitFor();
    await page.getByRole('link', { name: 'Applications behind the gateway' }).click();
    await page.getByRole('heading', { name: 'MFA gateway applications' }).waitFor();
    const rows = page.locator('table.gateway-applications tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-application')))).toEqual([
      'wiki',
      'ops',
    ]);
    const wiki = await page.locator('tr[data-application="wiki"]').textContent();
    for (const shown of ['Team wiki', '/wiki/', 'http://10.0.0.5:8080', 'https://wiki.example.com', 'staff'])
      expect(wiki).toContain(shown);
    expect(wiki).toContain('admins: totp; sms-otp');
    expect(await page.locator('tr[data-application="ops"]').textContent()).toContain(
      'Your root and SAM users',
    );
    const html = await page.content();
    for (const leak of ['upstream-password', 'query-secret', '/base', 'elsewhere'])
      expect(html).not.toContain(leak);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'gateway-applications');
    const scripts = [...encodings].filter(([path]) => /\/assets\/.+\.js$/.test(path));
    expect(scripts.length).toBeGreaterThan(1); // the entry and the lazily loaded pages
    expect(scripts.filter(([, encoding]) => encoding !== 'br')).toEqual([]);
    expect(encodings.get('/console/gateway')).toBe('br');

    await page.getByRole('link', { name: 'staff' }).click();
    await expect.poll(() => page.url()).toBe(`${base}/console/gateway/${directoryId}`);
    await page.getByRole('heading', { name: 'staff' }).first().waitFor();
    expect(w.problems).toEqual([]);
    await w.context.close();
  });
});
