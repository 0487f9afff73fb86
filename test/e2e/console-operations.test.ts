// The console's operations pages against `simtrust up --demo` in Chromium (issue 12): RADIUS clients
// (added with a write-only secret that no page or answer shows again, edited, deleted), the
// operator's signing keys (a rotation publishes a pending key, which shows in the operator's JWKS)
// and the audit log, whose filters (operation, result, time) come from the URL and find the calls
// just made; the MFA gateway's directories (a user added, TOTP set up from a QR code drawn in the
// page, disabled, deleted). axe-core clean; no console errors, no failed requests.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrograms } from '../helpers/external.js';
import { axeViolations, screenshots, watchedPage } from './console-browser.js';
import { type ConsoleDemo, signInRoot, startConsoleDemo } from './console-demo.js';

const ok = requirePrograms({ chromium: 'chromium' });

describe.skipIf(!ok)(
  'console: RADIUS clients, signing keys, audit log and gateway directories in the browser',
  () => {
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
      await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: 'Signing keys' })
        .click();
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
      await expect
        .poll(() => records.first().getAttribute('data-operation'))
        .toBe('Endorse:rotateEndorseKeys');
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

    it('manages an MFA gateway directory and its users', async () => {
      const w = await watchedPage(demo.browser);
      const { page } = w;
      w.expect(401, '/console/api/session');
      page.on('dialog', (d) => void d.accept());
      await signInRoot(page, demo, '/gateway', 'MFA gateway directories');
      await page.getByLabel('Name', { exact: true }).fill('staff');
      await page.getByRole('button', { name: 'Create directory' }).click();
      await page.getByRole('heading', { name: 'Directory staff' }).waitFor();
      const directoryId = decodeURIComponent(new URL(page.url()).pathname.split('/').at(-1)!);

      await page.getByLabel('User ID').fill('alice');
      await page.getByLabel('Display name').fill('Alice');
      await page.getByLabel('Password', { exact: true }).fill('alice-password-1');
      await page.getByLabel('Groups (comma-separated)').fill('staff, night');
      await page.getByRole('button', { name: 'Add user' }).click();
      const alice = page.locator('tr[data-user="alice"]');
      await alice.waitFor();
      expect(await alice.textContent()).toContain('night, staff');

      await alice.getByRole('button', { name: 'Set up TOTP for alice' }).click();
      const enrolment = page.locator('[data-directory-totp]');
      await enrolment.getByRole('img', { name: 'QR code of the TOTP enrolment' }).waitFor();
      const secret = (await enrolment.locator('code.secret').textContent())!;
      expect(secret).toMatch(/^[A-Z2-7]+=*$/);
      await expect.poll(() => alice.locator('td[data-totp]').getAttribute('data-totp')).toBe('true');
      expect(await axeViolations(page)).toEqual([]);
      await screenshots(page, 'gateway-directory');
      await enrolment.getByRole('button', { name: 'I have stored it' }).click();
      expect(await page.content()).not.toContain(secret);
      // The API never answers the secret again.
      expect(
        JSON.stringify(await demo.call('GET', `/v1/directories/${directoryId}/users/alice`)),
      ).not.toContain(secret);

      await alice.getByRole('button', { name: 'Disable alice' }).click();
      await expect.poll(() => alice.getAttribute('data-disabled')).toBe('true');
      expect((await demo.call('GET', `/v1/directories/${directoryId}/users/alice`)).disabled).toBe(true);
      await alice.getByRole('button', { name: 'Delete alice' }).click();
      await page.getByText('No users in this directory yet.').waitFor();
      expect(w.problems).toEqual([]);
      await w.context.close();
    });
  },
);
