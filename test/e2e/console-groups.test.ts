// The console's groups against `simtrust up --demo` in Chromium (issue 12, "create a group and move
// SIMs into it"): root creates a group, the SoracomAir and Endorse forms refuse bad values in the page
// (no request leaves) and save good ones, SIMs are moved in from the SIM list's bulk action and show
// on the group's page, a group with SIMs cannot be deleted (and says why), an empty one can;
// renamed; in Japanese. axe-core finds no serious or critical violation; no console errors, no
// failed requests.

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrograms } from '../helpers/external.js';
import { axeViolations, screenshots, watchedPage } from './console-browser.js';
import { type ConsoleDemo, signInRoot, startConsoleDemo } from './console-demo.js';

const ok = requirePrograms({ chromium: 'chromium' });

describe.skipIf(!ok)('console: groups in the browser', () => {
  let demo: ConsoleDemo;
  beforeAll(async () => {
    demo = await startConsoleDemo();
  }, 120_000);
  afterAll(async () => {
    await demo?.stop();
  });

  const group = async (groupId: string) => demo.call('GET', `/v1/groups/${groupId}`);
  const groupIdOf = (page: Page) => decodeURIComponent(new URL(page.url()).pathname.split('/').at(-1)!);

  it('creates a group, configures it, moves SIMs into it, renames and deletes groups', async () => {
    const w = await watchedPage(demo.browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    page.on('dialog', (d) => void d.accept());
    await signInRoot(page, demo, '/groups', 'Groups');
    expect(await axeViolations(page)).toEqual([]);

    await page.getByLabel('Name', { exact: true }).fill('fleet-east');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('heading', { name: 'Group fleet-east' }).waitFor();
    const groupId = groupIdOf(page);
    expect((await group(groupId)).tags).toEqual({ name: 'fleet-east' });

    // A pool the API would refuse is refused in the page, naming the rule; nothing is sent.
    const sent: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'PUT') sent.push(r.url());
    });
    const air = page.locator('form', { has: page.getByRole('heading', { name: 'Air (SoracomAir)' }) });
    await air.getByLabel('Allowed APNs (one per line)').fill('iot.example\nfactory.example');
    await air.getByLabel(/Address pool/).fill('10.64.0.0/31');
    await air.getByRole('button', { name: 'Save Air settings' }).click();
    await air.getByText('SoracomAir.addressPool must be an IPv4 network').waitFor();
    expect(await air.getByLabel(/Address pool/).getAttribute('aria-invalid')).toBe('true');
    expect(sent).toEqual([]);
    await air.getByLabel(/Address pool/).fill('10.64.0.0/16');
    await air.getByRole('button', { name: 'Save Air settings' }).click();
    await air.getByRole('status').getByText('Saved.').waitFor();
    expect((await group(groupId)).configuration.SoracomAir).toEqual({
      allowedApns: ['iot.example', 'factory.example'],
      addressPool: '10.64.0.0/16',
    });

    sent.length = 0;
    const endorse = page.locator('form', { has: page.getByRole('heading', { name: /^Endorse/ }) });
    await endorse.getByLabel('Issue tokens for this group’s SIMs').check();
    await endorse.getByLabel(/Token lifetime/).fill('30');
    await endorse.getByLabel(/Authorized redirect URLs/).fill('https://app.example.com/a%2f..%2fadmin');
    await endorse.getByRole('button', { name: 'Save Endorse settings' }).click();
    await endorse.getByText('Endorse.tokenTimeoutSeconds must be an integer from 60 to 86400').waitFor();
    await endorse.getByText(/Endorse.authorizedRedirectUrls must be/).waitFor();
    expect(sent).toEqual([]);
    await endorse.getByLabel(/Token lifetime/).fill('600');
    await endorse.getByLabel(/Authorized redirect URLs/).fill('https://app.example.com/callback');
    await endorse.getByLabel('msisdn').check();
    await endorse.getByRole('button', { name: 'Save Endorse settings' }).click();
    await endorse.getByRole('status').getByText('Saved.').waitFor();
    const saved = (await group(groupId)).configuration.Endorse;
    expect(saved).toMatchObject({
      enabled: true,
      tokenTimeoutSeconds: 600,
      authorizedRedirectUrls: ['https://app.example.com/callback'],
      parametersToEndorse: { msisdn: true, imsi: true },
    });
    expect(await axeViolations(page)).toEqual([]);

    // Move two demo SIMs in with the SIM list's bulk action.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'SIMs' }).click();
    await page.getByRole('heading', { name: 'SIMs', exact: true }).waitFor();
    const rows = page.locator('table.sims tbody tr');
    await expect.poll(() => rows.count()).toBeGreaterThan(2);
    const moved = [
      await rows.nth(0).getAttribute('data-sim-id'),
      await rows.nth(1).getAttribute('data-sim-id'),
    ];
    await rows.nth(0).getByRole('checkbox').check();
    await rows.nth(1).getByRole('checkbox').check();
    const bulk = page.locator('section.bulk');
    await bulk.getByLabel('Group').selectOption({ label: 'fleet-east' });
    await bulk.getByRole('button', { name: 'Move to group' }).click();
    await expect.poll(() => bulk.locator('tr[data-result="ok"]').count()).toBe(2);

    await page.goto(`${demo.base}/console/groups/${encodeURIComponent(groupId)}`);
    await page.getByRole('heading', { name: 'Group fleet-east' }).waitFor();
    const members = page.locator('ul.group-sims li');
    await expect.poll(() => members.count(), { timeout: 15_000 }).toBe(2);
    expect((await members.evaluateAll((l) => l.map((e) => e.getAttribute('data-sim-id')))).sort()).toEqual(
      [...moved].sort(),
    );
    for (const simId of moved) expect((await demo.call('GET', `/v1/sims/${simId}`)).groupId).toBe(groupId);
    // Not deletable while it has SIMs, and the button says why.
    const del = page.getByRole('button', { name: 'Delete group' });
    expect(await del.isDisabled()).toBe(true);
    expect(await del.getAttribute('title')).toMatch(/still has SIMs/);
    await screenshots(page, 'group-page');

    await page.getByLabel('Name', { exact: true }).fill('fleet-west');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByRole('heading', { name: 'Group fleet-west' }).waitFor();

    // An empty group is deleted and leaves the list.
    await page.goto(`${demo.base}/console/groups`);
    // By keyboard only: type the name, Tab to the button, Enter.
    await page.getByLabel('Name', { exact: true }).focus();
    await page.keyboard.type('short-lived');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Create group');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Group short-lived' }).waitFor();
    const emptyId = groupIdOf(page);
    await page.getByText('No SIMs in this group yet.').waitFor();
    await page.getByRole('button', { name: 'Delete group' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Groups' }).waitFor();
    await page.locator(`tr[data-group-id="${groupId}"]`).waitFor();
    expect(await page.locator(`tr[data-group-id="${emptyId}"]`).count()).toBe(0);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'groups');

    await page.getByLabel('Language').selectOption('ja');
    await page.getByRole('heading', { name: 'グループ', exact: true }).waitFor();
    await page.getByRole('link', { name: 'fleet-west' }).click();
    await page.getByRole('heading', { name: 'グループ fleet-west' }).waitFor();
    await page.getByRole('button', { name: 'Air の設定を保存' }).waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'group-page-ja');
    await page.getByLabel('言語').selectOption('en');

    expect(w.problems).toEqual([]);
    await w.context.close();
  });
});
