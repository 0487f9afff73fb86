// Credential sets in the console (issue 17), in Chromium against the platform in this process. The
// threats: a secret reaching the page after it was typed (an answer, a refilled input, the DOM after
// a reload), an edit that silently drops or keeps the wrong secret, and a SAM user offered what their
// permissions refuse. Root adds a PSK and a per-SIM X.509 set (pasted PEMs), sees them listed without
// secrets, changes a description with the secret inputs left empty (the secret is kept), rotates the
// PSK, deletes a set; a user allowed only to list sees the buttons disabled with the reason.
// axe-core, screenshots, no console errors, no failed requests.

import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/app.js';
import { requirePrograms } from '../helpers/external.js';
import { issueTlsIdentity, type TlsIdentity } from '../servers/esim/tls-fixtures.js';
import { axeViolations, ensureConsoleBuilt, screenshots, watchedPage } from './console-browser.js';
import { launchChromium } from './gateway-browser.js';

const ok = requirePrograms({ chromium: 'chromium' });

describe.skipIf(!ok)('console: credential sets in the browser', () => {
  let api: TestApi;
  let base: string;
  let browser: Browser;
  let identity: TlsIdentity;
  const PSK = `psk-${randomBytes(12).toString('hex')}`;
  const NEW_PSK = `psk2-${randomBytes(12).toString('hex')}`;
  const resolve = (id: string) =>
    api.platform.credentials.resolve(api.operator.operatorId, id, { imsi: '001010000000001' });

  beforeAll(async () => {
    ensureConsoleBuilt();
    api = await startTestApi();
    base = await api.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
    identity = await issueTlsIdentity('console-device');
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  async function signIn(page: Page, account: { email?: string; userName?: string; password: string }) {
    await page.goto(`${base}/console/credentials`);
    if (account.userName !== undefined) {
      await page.getByLabel('SAM user').check();
      await page.getByLabel('Operator ID').fill(api.operator.operatorId);
      await page.getByLabel('User name', { exact: true }).fill(account.userName);
    } else {
      await page.getByLabel('Email', { exact: true }).fill(account.email ?? '');
    }
    await page.getByLabel('Password', { exact: true }).fill(account.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Credential sets', level: 1 }).waitFor();
  }

  const noSecretIn = async (page: Page) => {
    const html = await page.content();
    for (const secret of [PSK, NEW_PSK, identity.keyPem.split('\n')[1]!])
      expect(html.includes(secret), 'a secret is in the page').toBe(false);
  };

  it('root adds, lists, edits and deletes sets; secrets are write-only', async () => {
    const w = await watchedPage(browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    page.on('dialog', (d) => void d.accept());
    await signIn(page, { email: api.operator.email, password: api.operator.password });
    await page.getByText('No credential sets.').waitFor();

    const add = page.getByRole('form', { name: 'Add credential set' });
    await add.getByLabel('Credentials ID', { exact: true }).fill('beam-psk');
    await add.getByLabel('Description', { exact: true }).fill('Beam signature');
    await add.getByLabel('Key', { exact: true }).fill(PSK);
    await add.getByRole('button', { name: 'Add credential set' }).click();
    await add.getByText('Credential set beam-psk added.').waitFor();
    expect(await add.getByLabel('Key', { exact: true }).inputValue()).toBe('');

    await add.getByLabel('Credentials ID', { exact: true }).fill('device-001010000000001');
    await add.getByRole('combobox').selectOption('x509');
    await add.getByLabel('Certificate (PEM, then its chain)', { exact: true }).fill(identity.certificatePem);
    await add.getByLabel('Private key (PEM)', { exact: true }).fill(identity.keyPem);
    await add.getByRole('button', { name: 'Add credential set' }).click();
    await add.getByText('Credential set device-001010000000001 added.').waitFor();

    await add.getByLabel('Credentials ID', { exact: true }).fill('broker');
    await add.getByRole('combobox').selectOption('username-password-credentials');
    await add.getByLabel('User name', { exact: true }).fill('fleet');
    await add.getByLabel('Password', { exact: true }).fill(PSK);
    await add.getByRole('button', { name: 'Add credential set' }).click();
    await add.getByText('Credential set broker added.').waitFor();

    const rows = page.locator('table.credential-sets tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    expect(await page.locator('tr[data-credentials="broker"]').textContent()).toContain('username=fleet');
    expect(await page.locator('tr[data-credentials="device-001010000000001"]').textContent()).toContain(
      'X.509 client certificate',
    );
    expect(await resolve('device-#{imsi}')).toMatchObject({
      cert: identity.certificatePem,
      key: identity.keyPem,
    });
    await page.reload();
    await rows.first().waitFor();
    await noSecretIn(page);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'credentials');

    // The description alone: the secret inputs stay empty and the PSK is kept.
    await page.getByRole('button', { name: 'Edit beam-psk' }).click();
    const edit = page.getByRole('form', { name: 'Credential set beam-psk' });
    expect(await edit.getByLabel('Key', { exact: true }).inputValue()).toBe('');
    await edit.getByLabel('Description', { exact: true }).fill('Beam signature (2026)');
    await edit.getByRole('button', { name: 'Save credential set' }).click();
    await edit.getByText('Credential set beam-psk saved.').waitFor();
    expect(await resolve('beam-psk')).toEqual({ type: 'psk', key: PSK });
    await page.locator('tr[data-credentials="beam-psk"]').getByText('Beam signature (2026)').waitFor();

    // Rotation: a new key replaces the old one.
    await edit.getByLabel('Key', { exact: true }).fill(NEW_PSK);
    await edit.getByRole('button', { name: 'Save credential set' }).click();
    await expect
      .poll(async () => (await resolve('beam-psk')) as unknown)
      .toEqual({ type: 'psk', key: NEW_PSK });
    expect(await edit.getByLabel('Key', { exact: true }).inputValue()).toBe('');

    // A changed user name needs the password again before Save is possible.
    await page.getByRole('button', { name: 'Edit broker' }).click();
    const broker = page.getByRole('form', { name: 'Credential set broker' });
    expect(await broker.getByLabel('User name', { exact: true }).inputValue()).toBe('fleet');
    await broker.getByLabel('User name', { exact: true }).fill('fleet-2');
    await broker.getByText('To replace the credentials, also give: password').waitFor();
    expect(await broker.getByRole('button', { name: 'Save credential set' }).isDisabled()).toBe(true);
    await broker.getByRole('button', { name: 'Delete credential set' }).click();
    // The form closes with the deleted set.
    await broker.waitFor({ state: 'detached' });
    await expect.poll(() => rows.count()).toBe(2);
    await expect(resolve('broker')).rejects.toMatchObject({ code: 'ERR_CREDENTIALS_NOT_FOUND' });

    await noSecretIn(page);
    expect(w.problems).toEqual([]);
    await w.context.close();
  });

  it('a SAM user allowed only to list sees the sets and the actions disabled with the reason', async () => {
    const op = api.operator.operatorId;
    const created = await api.call({ method: 'POST', url: `/v1/operators/${op}/users/viewer`, payload: {} });
    expect(created.statusCode, created.body).toBe(201);
    const password = await api.call({
      method: 'POST',
      url: `/v1/operators/${op}/users/viewer/password`,
      payload: { password: 'viewer-password-1' },
    });
    expect(password.statusCode, password.body).toBe(204);
    const permission = await api.call({
      method: 'PUT',
      url: `/v1/operators/${op}/users/viewer/permission`,
      payload: {
        permission: JSON.stringify({
          statements: [{ effect: 'allow', api: ['Credential:listCredentials', 'Auth:*'] }],
        }),
      },
    });
    expect(permission.statusCode, permission.body).toBe(204);
    const w = await watchedPage(browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    await signIn(page, { userName: 'viewer', password: 'viewer-password-1' }).catch(async (e) => {
      await page.screenshot({ path: '.tmp/console-screenshots/credentials-viewer-failed.png' });
      throw new Error(`${(e as Error).message}\n${(await page.locator('body').innerText()).slice(0, 800)}`);
    });
    await page.locator('tr[data-credentials="beam-psk"]').waitFor();
    const add = page.getByRole('form', { name: 'Add credential set' });
    await add.getByLabel('Credentials ID', { exact: true }).fill('not-allowed');
    await add.getByLabel('Key', { exact: true }).fill('x');
    const button = add.getByRole('button', { name: 'Add credential set' });
    await expect.poll(() => button.getAttribute('title')).toContain('Credential:createCredential');
    expect(await button.isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Edit beam-psk' }).click();
    const remove = page
      .getByRole('form', { name: 'Credential set beam-psk' })
      .getByRole('button', { name: 'Delete credential set' });
    expect(await remove.isDisabled()).toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    expect(w.problems).toEqual([]);
    await w.context.close();
  });
});
