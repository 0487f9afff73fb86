// The console's operations pages against `simtrust up --demo` in Chromium (issue 12): RADIUS clients
// (added with a write-only secret that no page or answer shows again, edited, deleted), the
// operator's signing keys (a rotation publishes a pending key, which shows in the operator's JWKS)
// and the audit log, whose filters (operation, result, time) come from the URL and find the calls
// just made. axe-core clean; no console errors, no failed requests.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrograms } from '../helpers/external.js';
import { axeViolations, screenshots, watchedPage } from './console-browser.js';
import { type ConsoleDemo, signInRoot, startConsoleDemo } from './console-demo.js';

const ok = requirePrograms({ chromium: 'chromium' });

describe.skipIf(!ok)('console: RADIUS clients, signing keys and the audit log in the browser', () => {
  let demo: ConsoleDemo;
  beforeAll(async () => {
    demo = await startConsoleDemo();
  }, 120_000);
  afterAll(async () => {
    await demo?.stop();
  });

  it('adds, edits and deletes a RADIUS client, rotates keys, and finds it all in the audit log', async () => {
    const w = await watchedPage(demo.browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    page.on('dialog', (d) => void d.accept());
    const started = Date.now() - 60_000;
    await signInRoot(page, demo, '/radius-clients', 'RADIUS clients');

    const secret = 'nas-shared-secret-4711';
    const add = page.locator('form', { has: page.getByRole('heading', { name: 'Add RADIUS client' }) });
    await add.getByLabel('Address or network').fill('10.99.0.0/24');
    await add.getByLabel('Name').fill('edge-nas');
    await add.getByLabel('Shared secret').fill(secret);
    await add.getByRole('button', { name: 'Add RADIUS client' }).click();
    const row = page.locator('tr[data-client="10.99.0.0/24"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('edge-nas');
    expect(await page.content()).not.toContain(secret);
    expect(JSON.stringify(await demo.call('GET', '/v1/radius_clients'))).not.toContain(secret);

    await row.getByRole('button', { name: 'Edit 10.99.0.0/24' }).click();
    const edit = page.locator('form', {
      has: page.getByRole('heading', { name: 'RADIUS client 10.99.0.0/24' }),
    });
    await edit.getByLabel('CoA port').fill('3800');
    await edit.getByLabel('Require Message-Authenticator').uncheck();
    await edit.getByRole('button', { name: 'Save client' }).click();
    await expect.poll(() => row.textContent()).toContain('3800');
    const stored = (await demo.call('GET', '/v1/radius_clients')).find(
      (c: { address: string }) => c.address === '10.99.0.0/24',
    );
    expect(stored).toMatchObject({ coaPort: 3800, requireMessageAuthenticator: false, name: 'edge-nas' });
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'radius-clients');
    await edit.getByRole('button', { name: 'Delete client' }).click();
    await expect.poll(() => row.count()).toBe(0);

    // Signing keys: a rotation with a lead time publishes a pending key in this operator's JWKS.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Signing keys' }).click();
    await page.getByRole('heading', { name: 'Signing keys', exact: true }).waitFor();
    await page.locator('tr[data-state="current"]').first().waitFor();
    await page.getByLabel('ES256').check();
    await page.getByLabel(/Start signing after/).fill('3600');
    await page.getByRole('button', { name: 'Rotate keys' }).click();
    await page.getByText('2 new keys published.').waitFor();
    const pending = page.locator('tr[data-state="pending"]');
    await expect.poll(() => pending.count()).toBe(2);
    const kid = (await pending.first().getAttribute('data-kid'))!;
    await expect.poll(() => page.locator('[data-jwks]').textContent()).toContain(kid);
    const jwks = (await (
      await fetch(`${demo.base}/v1/operators/${demo.operatorId}/endorse/jwks.json`)
    ).json()) as {
      keys: Array<{ kid: string }>;
    };
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'signing-keys');

    // The audit log: the calls above, found by the filters in the URL.
    await page.goto(
      `${demo.base}/console/audit?operationId=RadiusClient:createRadiusClient&result=success&from=${started}`,
    );
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const records = page.locator('table.audit tbody tr');
    await expect.poll(() => records.count()).toBe(1);
    expect(await records.first().getAttribute('data-operation')).toBe('RadiusClient:createRadiusClient');
    expect(await records.first().textContent()).not.toContain(secret);
    expect(await page.getByLabel('Operation').inputValue()).toBe('RadiusClient:createRadiusClient');
    // Changing a filter in the form changes the URL (shareable) and the records.
    await page.getByLabel('Operation').fill('Endorse:rotateEndorseKeys');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.url()).toContain('operationId=Endorse%3ArotateEndorseKeys');
    await expect.poll(() => records.first().getAttribute('data-operation')).toBe('Endorse:rotateEndorseKeys');
    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => records.count()).toBeGreaterThan(3);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'audit-log');
    // A hand-made link with values the API would refuse shows the unfiltered log, not an error.
    await page.goto(`${demo.base}/console/audit?result=everything&from=99999999999999999&to=-1`);
    await expect.poll(() => records.count()).toBeGreaterThan(3);

    await page.getByLabel('Language').selectOption('ja');
    await page.getByRole('heading', { name: '監査ログ' }).waitFor();
    await screenshots(page, 'audit-log-ja');
    await page.getByLabel('言語').selectOption('en');
    expect(w.problems).toEqual([]);
    await w.context.close();
  });
});
