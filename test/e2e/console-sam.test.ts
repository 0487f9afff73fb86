// The console's SAM pages against `simtrust up --demo` in Chromium (issue 12): root writes a role's
// permission in the JSON editor (a bad document is refused in the page with its line and column),
// creates a user, attaches the role, adds a direct deny, asks "what can this user do" (the platform's
// policy evaluation), generates an auth key whose secret is shown once and works, and enrols the user
// in TOTP MFA from a QR code drawn in the page. Then, in a second browser context, that user signs in
// with password and TOTP (oathtool) and finds the actions their permissions forbid disabled, with the
// statement that forbids them. axe-core clean; no console errors, no failed requests.

import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrograms } from '../helpers/external.js';
import { axeViolations, screenshots, watchedPage } from './console-browser.js';
import { type ConsoleDemo, signInRoot, startConsoleDemo } from './console-demo.js';

const ok = requirePrograms({ chromium: 'chromium', oathtool: 'oathtool' });

const ROLE = JSON.stringify({
  statements: [
    {
      effect: 'allow',
      api: ['Sim:*', 'Group:list*', 'User:list*', 'User:get*', 'Role:list*', 'Role:get*', 'Auth:*'],
    },
  ],
});

describe.skipIf(!ok)('console: SAM users, roles, permissions, auth keys and MFA in the browser', () => {
  let demo: ConsoleDemo;
  let totpSecret = '';
  const totp = (offset: string) =>
    execFileSync('oathtool', ['--totp', '-b', '-N', offset, totpSecret], { encoding: 'utf8' }).trim();

  beforeAll(async () => {
    demo = await startConsoleDemo();
  }, 120_000);
  afterAll(async () => {
    await demo?.stop();
  });

  it('root manages a role, a user, their permission, an auth key and MFA', async () => {
    const w = await watchedPage(demo.browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    page.on('dialog', (d) => void d.accept());
    await signInRoot(page, demo, '/sam', 'SAM users');
    expect(await axeViolations(page)).toEqual([]);

    // A role: the editor refuses a bad document where it is wrong, before anything is sent.
    await page
      .getByRole('navigation', { name: 'Users & roles' })
      .getByRole('link', { name: 'Roles' })
      .click();
    await page.getByRole('heading', { name: 'Roles', exact: true }).waitFor();
    await page.getByLabel('Role', { exact: true }).fill('sim-operator');
    const editor = page.getByLabel('Permission document (JSON)');
    await editor.fill('{"statements":[{"effect":"alow","api":"Sim:*"}]}');
    await page.getByText('Line 1, column 26: statements[0].effect must be "allow" or "deny"').waitFor();
    expect(await page.getByRole('button', { name: 'Create role' }).isDisabled()).toBe(true);
    await editor.fill('{"statements":[{"effect":"allow","api":["Sim:*",]}]}');
    await page
      .locator('[data-policy="invalid"]')
      .getByText("Line 1, column 49: expected a value, found ']'")
      .waitFor();
    await editor.fill(ROLE);
    await page.getByText('Valid: 1 statements').waitFor();
    await page.getByRole('button', { name: 'Format' }).click();
    expect(await editor.inputValue()).toBe(JSON.stringify(JSON.parse(ROLE), null, 2));
    await page.getByRole('button', { name: 'Create role' }).click();
    await page.getByRole('heading', { name: 'Role sim-operator' }).waitFor();
    expect(
      JSON.parse((await demo.call('GET', `/v1/operators/${demo.operatorId}/roles/sim-operator`)).permission),
    ).toEqual(JSON.parse(ROLE));

    // A user with that role and a direct deny.
    await page.goto(`${demo.base}/console/sam/users`);
    await page.getByLabel('User name').fill('operator-1');
    await page.getByLabel('Description').fill('night shift');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('heading', { name: 'User operator-1' }).waitFor();
    await page.getByRole('combobox', { name: /^Role/ }).selectOption('sim-operator');
    await page.getByRole('button', { name: 'Attach role' }).click();
    await page.getByRole('link', { name: 'sim-operator' }).waitFor();
    await page
      .getByLabel('Permission document (JSON)')
      .fill('{"statements":[{"effect":"deny","api":"Sim:suspendSim"}]}');
    await page.getByRole('button', { name: 'Save permission' }).click();
    await page.getByText('Permission saved.').waitFor();

    // What can this user do: the platform's evaluation, with the deciding statement.
    await page
      .getByLabel('Operations (Tag:operationId, one per line)')
      .fill('Sim:listSims\nSim:suspendSim\nUser:createUser');
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    const decision = (api: string) => page.locator(`table.simulation tr[data-api="${api}"]`);
    await decision('Sim:listSims').waitFor();
    expect(await decision('Sim:listSims').getAttribute('data-decision')).toBe('allow');
    expect(await decision('Sim:listSims').textContent()).toContain('role:sim-operator #0');
    expect(await decision('Sim:suspendSim').getAttribute('data-decision')).toBe('deny');
    expect(await decision('Sim:suspendSim').textContent()).toContain('explicit-deny');
    expect(await decision('User:createUser').textContent()).toContain('implicit-deny');

    // An auth key: the secret is shown once, works, and is gone once dismissed.
    await page.getByRole('button', { name: 'Generate auth key' }).click();
    const secret = page.locator('[data-new-key] [data-secret]');
    await secret.waitFor();
    const authKey = (await secret.textContent())!;
    const authKeyId = (await page.locator('[data-new-key] code').first().textContent())!;
    const login = await fetch(`${demo.base}/v1/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ authKeyId, authKey }),
    });
    expect(login.status).toBe(200);
    await page.locator(`tr[data-key="${authKeyId}"]`).waitFor();
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.content()).not.toContain(authKey);
    await page.reload();
    await page.getByRole('heading', { name: 'User operator-1' }).waitFor();
    await page.locator(`tr[data-key="${authKeyId}"]`).waitFor();
    expect(await page.content()).not.toContain(authKey);

    await page.getByLabel('New password').fill('operator-password-1');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByText('Password set.').waitFor();

    // MFA: a QR code drawn in the page, confirmed with a code from oathtool; backup codes once.
    await page.getByRole('button', { name: 'Turn on TOTP MFA' }).click();
    const qr = page.getByRole('img', { name: 'QR code of the TOTP enrolment' });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    totpSecret = (await page.locator('[data-mfa-enrolment] code.secret').textContent())!;
    expect(totpSecret).toMatch(/^[A-Z2-7]+=*$/);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'sam-user-mfa');
    // The previous step's code confirms, so the sign-in below can use the current one.
    await page.getByLabel('Code from the app').fill(totp('now - 30 seconds'));
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('[data-backup-codes] li').first().waitFor();
    expect(await page.locator('[data-backup-codes] li').count()).toBeGreaterThan(4);
    expect(await page.locator('[data-mfa-status]').getAttribute('data-mfa-status')).toBe('ACTIVE');
    await screenshots(page, 'sam-user');

    // Root's own account: MFA off for now, and a root auth key shown once.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My account' }).click();
    await page.getByRole('heading', { name: 'My account' }).waitFor();
    await page.getByText('Status: INACTIVE').waitFor();
    await page.getByRole('button', { name: 'Generate auth key' }).click();
    const rootKey = (await page.locator('[data-new-key] [data-secret]').textContent())!;
    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.content()).not.toContain(rootKey);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'account');

    await page.goto(`${demo.base}/console/sam/users/operator-1`);
    await page.getByRole('heading', { name: 'User operator-1' }).waitFor();
    await page.getByLabel('Language').selectOption('ja');
    await page.getByRole('heading', { name: 'ユーザー operator-1' }).waitFor();
    await page.getByRole('button', { name: '権限を保存' }).waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'sam-user-ja');
    await page.getByLabel('言語').selectOption('en');
    expect(w.problems).toEqual([]);
    await w.context.close();
  });

  it('shows a SAM user the actions their permissions forbid as disabled, with the reason', async () => {
    const w = await watchedPage(demo.browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    await page.goto(`${demo.base}/console/sam`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('SAM user').check();
    await page.getByLabel('Operator ID').fill(demo.operatorId);
    await page.getByLabel('User name').fill('operator-1');
    await page.getByLabel('Password', { exact: true }).fill('operator-password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Code from your authenticator app').fill(totp('now'));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'SAM users' }).waitFor();

    const create = page.getByRole('button', { name: 'Create user' });
    await expect.poll(() => create.getAttribute('title')).toMatch(/User:createUser: implicit-deny/);
    expect(await create.isDisabled()).toBe(true);
    await page.getByRole('link', { name: 'operator-1' }).click();
    await page.getByRole('heading', { name: 'User operator-1' }).waitFor();
    for (const [name, operation] of [
      ['Generate auth key', 'User:generateUserAuthKey'],
      ['Save permission', 'User:updateUserPermission'],
      ['Delete user', 'User:deleteUser'],
    ] as const) {
      const button = page.getByRole('button', { name });
      await expect.poll(() => button.getAttribute('title')).toContain(operation);
      expect(await button.isDisabled()).toBe(true);
    }
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'sam-user-as-user');

    // Their own account: MFA is on; turning it off is not theirs to do.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My account' }).click();
    await page.getByText('Status: ACTIVE').waitFor();
    const off = page.getByRole('button', { name: 'Turn MFA off' });
    await expect.poll(() => off.getAttribute('title')).toContain('User:revokeUserMFA');
    expect(await off.isDisabled()).toBe(true);

    // Their explicit deny is named on the SIM list's bulk suspend.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'SIMs' }).click();
    await page.locator('table.sims tbody tr').first().getByRole('checkbox').check();
    const suspend = page.locator('section.bulk').getByRole('button', { name: 'Suspend' });
    await expect.poll(() => suspend.getAttribute('title')).toMatch(/Sim:suspendSim/);
    expect(await suspend.isDisabled()).toBe(true);
    expect(await page.locator('section.bulk').getByRole('button', { name: 'Activate' }).isDisabled()).toBe(
      false,
    );
    expect(w.problems).toEqual([]);
    await w.context.close();
  });
});
