// The console's event handlers against `simtrust up --demo` in Chromium (issue 14 with issue 12's
// console rules): root creates "daily traffic over N MiB → change speed class" for a demo group
// through the form — a bad limit is refused in the page (no request leaves), a web request to a
// private address is refused by the API and the refusal shows at the URL field —, sees it in the
// list, edits it, disables it and deletes it after a confirmation. A status handler fires when a SIM
// of the group is suspended and its execution (the speed class change) appears on the handler page
// without a reload, its failed second action (standby on a suspended SIM) is run again by the Retry
// button once the SIM allows it; the SIM page lists the handlers that apply and ignores one for that SIM. A
// read-only SAM user sees no create button and disabled edit/delete with the reason. In Japanese.
// axe-core finds no serious or critical violation; no console errors, no failed requests.

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoIccid } from '../../src/platform/demo.js';
import { requirePrograms } from '../helpers/external.js';
import { axeViolations, screenshots, watchedPage } from './console-browser.js';
import { type ConsoleDemo, signInRoot, signInUser, startConsoleDemo } from './console-demo.js';

const ok = requirePrograms({ chromium: 'chromium' });

describe.skipIf(!ok)('console: event handlers in the browser', () => {
  let demo: ConsoleDemo;
  beforeAll(async () => {
    demo = await startConsoleDemo();
  }, 120_000);
  afterAll(async () => {
    await demo?.stop();
  });

  const handlerIdOf = (page: Page) => decodeURIComponent(new URL(page.url()).pathname.split('/').at(-1)!);

  it('creates, refuses bad values, lists, edits, disables, fires and deletes a handler', async () => {
    const groups = (await demo.call('GET', '/v1/groups')) as Array<{
      groupId: string;
      tags: { name?: string };
    }>;
    expect(groups.length).toBeGreaterThan(0);
    const group = groups[0]!;
    const groupLabel = group.tags.name ?? group.groupId;

    const w = await watchedPage(demo.browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    // The API's refusal of a web request to a private address (shown at the field).
    w.expect(400, '/v1/event_handlers');
    page.on('dialog', (d) => void d.accept());
    await signInRoot(page, demo, '/event-handlers', 'Event handlers');
    expect(await axeViolations(page)).toEqual([]);

    await page.getByRole('button', { name: 'Create event handler' }).click();
    await page.getByRole('heading', { name: 'New event handler' }).waitFor();
    await page.getByLabel('Name *').fill('slow heavy SIMs');
    await page.getByLabel('Target kind').selectOption('group');
    await page.getByLabel('Group *').selectOption({ label: groupLabel });
    await page.getByLabel('Rule type').selectOption('SubscriberDailyTrafficRule');
    await page.getByLabel('Traffic limit (MiB) *').fill('0');
    const action1 = page.locator('fieldset', { hasText: 'Action 1' });
    await action1.getByLabel('Action type').selectOption('ChangeSpeedClassAction');
    await action1.getByLabel('Speed class *').selectOption('s1.minimum');

    // A bad limit: refused in the page with the API's words, on the field; nothing is sent.
    const posts: string[] = [];
    page.on('request', (r) => {
      if (r.method() !== 'GET' && r.url().includes('/v1/event_handlers'))
        posts.push(`${r.method()} ${r.url()}`);
    });
    await page.getByRole('button', { name: 'Create event handler' }).click();
    await page
      .getByText('ruleConfig.properties.limitTotalTrafficMegaByte must be between 1 and 2147483647')
      .waitFor();
    expect(await page.getByLabel('Traffic limit (MiB) *').getAttribute('aria-invalid')).toBe('true');
    expect(posts).toEqual([]);
    await page.getByLabel('Traffic limit (MiB) *').fill('100');

    // A web request to a private address: the API refuses it and the page puts that on the URL field.
    await page.getByRole('button', { name: 'Add action' }).click();
    const action2 = page.locator('fieldset', { hasText: 'Action 2' });
    await action2.getByLabel('Action type').selectOption('ExecuteWebRequestAction');
    await action2.getByLabel('URL *').fill('http://10.0.0.1/hook');
    await action2.getByLabel('HTTP method *').selectOption('POST');
    await action2.getByLabel('Content type *').fill('application/json');
    await action2.getByLabel('Headers (JSON object) *').fill('{}');
    await page.getByRole('button', { name: 'Create event handler' }).click();
    await action2
      .getByText(/actionConfigList\[1\]\.properties\.url: .*web requests may not reach it/)
      .waitFor();
    expect(await action2.getByLabel('URL *').getAttribute('aria-invalid')).toBe('true');
    expect(posts).toHaveLength(1);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'event-handler-form');
    await page.getByRole('button', { name: 'Remove action 2' }).click();

    await page.getByRole('button', { name: 'Create event handler' }).click();
    await page.getByRole('heading', { name: 'Event handler slow heavy SIMs' }).waitFor();
    const handlerId = handlerIdOf(page);
    expect(await demo.call('GET', `/v1/event_handlers/${handlerId}`)).toEqual({
      handlerId,
      name: 'slow heavy SIMs',
      description: '',
      status: 'active',
      targetGroupId: group.groupId,
      ruleConfig: {
        type: 'SubscriberDailyTrafficRule',
        properties: { limitTotalTrafficMegaByte: '100', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
      },
      actionConfigList: [
        {
          type: 'ChangeSpeedClassAction',
          properties: { speedClass: 's1.minimum', executionDateTimeConst: 'IMMEDIATELY' },
        },
      ],
    });

    // In the list, with its target, rule and actions; the target filter keeps it or leaves it out.
    await page.getByRole('link', { name: 'All event handlers' }).click();
    const row = page.locator(`tr[data-handler-id="${handlerId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('SubscriberDailyTrafficRule');
    expect(await row.textContent()).toContain('ChangeSpeedClassAction');
    // (The demo's own handlers watch a SIM and the operator: none watches an IMSI.)
    await page.getByLabel('Target kind').selectOption('imsi');
    await page.getByText('No event handlers yet.').waitFor();
    expect(new URL(page.url()).search).toBe('?target=imsi');
    await page.getByLabel('Target kind').selectOption('group');
    await row.waitFor();
    await screenshots(page, 'event-handlers');

    // Edit: a new limit and a second action that restores the speed class tomorrow.
    await row.getByRole('link', { name: 'slow heavy SIMs' }).click();
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit slow heavy SIMs' }).waitFor();
    await page.getByLabel('Traffic limit (MiB) *').fill('250');
    await page.getByRole('button', { name: 'Add action' }).click();
    const restore = page.locator('fieldset', { hasText: 'Action 2' });
    await restore.getByLabel('Speed class *').selectOption('s1.standard');
    await restore.getByLabel('Runs *').selectOption('BEGINNING_OF_NEXT_DAY');
    await page.getByRole('button', { name: 'Save event handler' }).click();
    await page.getByRole('heading', { name: 'Event handler slow heavy SIMs' }).waitFor();
    let stored = await demo.call('GET', `/v1/event_handlers/${handlerId}`);
    expect(stored.ruleConfig.properties.limitTotalTrafficMegaByte).toBe('250');
    expect(stored.actionConfigList[1]).toEqual({
      type: 'ChangeSpeedClassAction',
      properties: { speedClass: 's1.standard', executionDateTimeConst: 'BEGINNING_OF_NEXT_DAY' },
    });

    // Disable.
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Status').selectOption('inactive');
    await page.getByRole('button', { name: 'Save event handler' }).click();
    await page.getByRole('heading', { name: 'Event handler slow heavy SIMs' }).waitFor();
    await page.locator('section', { hasText: 'Configuration' }).getByText('Disabled').waitFor();
    stored = await demo.call('GET', `/v1/event_handlers/${handlerId}`);
    expect(stored.status).toBe('inactive');

    // A handler that fires: a SIM of the group suspended → its speed class changes; the execution
    // appears on the handler page by polling.
    const sims = (await demo.call('GET', `/v1/sims?limit=100`)) as Array<{
      simId: string;
      groupId?: string | null;
      status: string;
      speedClass: string;
    }>;
    // Not a SIM the demo's own handlers act on: SIM 1 is slowed down by its daily limit, the
    // IMEI-refused last fleet SIM (20) is suspended.
    const demoActedOn = [demoIccid(1), demoIccid(20)];
    const sim = sims.find(
      (s) => s.groupId === group.groupId && s.status === 'active' && !demoActedOn.includes(s.simId),
    );
    expect(sim, 'an active SIM in the demo group').toBeDefined();
    const firing = await demo.call('POST', '/v1/event_handlers', {
      name: 'suspended → slow',
      status: 'active',
      targetGroupId: group.groupId,
      ruleConfig: {
        type: 'SimStatusAttributeRule',
        properties: { targetStatus: 'suspended', inactiveTimeoutDateConst: 'IMMEDIATELY' },
      },
      actionConfigList: [
        {
          type: 'ChangeSpeedClassAction',
          properties: { speedClass: 's1.slow', executionDateTimeConst: 'IMMEDIATELY' },
        },
        // Fails: only a ready or inactive SIM can be put on standby (retried below).
        { type: 'StandbyAction', properties: { executionDateTimeConst: 'IMMEDIATELY' } },
      ],
    });
    await page.goto(`${demo.base}/console/event-handlers/${firing.handlerId}`);
    await page.getByRole('heading', { name: 'Event handler suspended → slow' }).waitFor();
    await page.getByText('The rule has not fired yet.').waitFor();
    await demo.call('POST', `/v1/sims/${sim!.simId}/suspend`);
    const run = page.locator('table.executions tr[data-run-status="succeeded"]');
    await run.waitFor({ timeout: 60_000 });
    expect(await run.textContent()).toContain(sim!.simId);
    expect(await run.textContent()).toContain('ChangeSpeedClassAction');
    expect((await demo.call('GET', `/v1/sims/${sim!.simId}`)).speedClass).toBe('s1.slow');
    // The standby run failed; made inactive, the SIM allows it, and the Retry button runs it again.
    const failed = page.locator('table.executions tr[data-run-status="failed"]');
    await failed.waitFor({ timeout: 60_000 });
    expect(await failed.textContent()).toContain('StandbyAction');
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'event-handler-page');
    await demo.call('POST', `/v1/sims/${sim!.simId}/activate`);
    await demo.call('POST', `/v1/sims/${sim!.simId}/deactivate`);
    await failed.getByRole('button', { name: /^Retry action 2 of the firing at / }).click();
    await page
      .getByRole('status')
      .getByText('The action is pending again; it runs within seconds.')
      .waitFor();
    await expect
      .poll(() => page.locator('table.executions tr[data-run-status="succeeded"]').count(), {
        timeout: 60_000,
      })
      .toBe(2);
    expect(await page.getByRole('button', { name: /^Retry/ }).count()).toBe(0);
    expect((await demo.call('GET', `/v1/sims/${sim!.simId}`)).status).toBe('standby');

    // The SIM page lists the handlers that apply to it and exempts it from one.
    await page.goto(`${demo.base}/console/sims/${sim!.simId}`);
    const panel = page.locator('section', { has: page.getByRole('heading', { name: 'Event handlers' }) });
    const item = panel.locator(`li[data-handler-id="${firing.handlerId}"]`);
    await item.waitFor();
    expect(await panel.locator(`li[data-handler-id="${handlerId}"]`).count()).toBe(1);
    await item.getByRole('button', { name: 'Ignore for this SIM' }).click();
    await panel.getByRole('status').getByText('This SIM is now exempt from “suspended → slow”.').waitFor();
    await item.getByRole('button', { name: 'Stop ignoring' }).click();
    await panel
      .getByRole('status')
      .getByText('This SIM is no longer exempt from “suspended → slow”.')
      .waitFor();
    expect(await axeViolations(page)).toEqual([]);

    // Delete after the confirmation; it leaves the list and the API.
    await page.goto(`${demo.base}/console/event-handlers/${handlerId}`);
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('heading', { name: 'Event handlers', exact: true }).waitFor();
    await page.locator(`tr[data-handler-id="${firing.handlerId}"]`).waitFor();
    expect(await page.locator(`tr[data-handler-id="${handlerId}"]`).count()).toBe(0);
    await expect(demo.call('GET', `/v1/event_handlers/${handlerId}`)).rejects.toThrow(/: 404 /);

    // In Japanese.
    await page.getByLabel('Language').selectOption('ja');
    await page.getByRole('heading', { name: 'イベントハンドラー', exact: true }).waitFor();
    await page.getByRole('button', { name: 'イベントハンドラーを作成' }).waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'event-handlers-ja');
    await page.getByLabel('言語').selectOption('en');

    expect(w.problems).toEqual([]);
    await w.context.close();
  }, 180_000);

  it('offers a read-only SAM user no create button and disabled edit and delete with the reason', async () => {
    const handler = await demo.call('POST', '/v1/event_handlers', {
      name: 'mail on first traffic',
      status: 'active',
      targetOperatorId: demo.operatorId,
      ruleConfig: { type: 'SubscriberFirstTrafficRule', properties: { inactiveTimeoutDateConst: 'NEVER' } },
      actionConfigList: [
        {
          type: 'SendMailToOperatorAction',
          properties: { title: 'first traffic', message: 'hello', executionDateTimeConst: 'IMMEDIATELY' },
        },
      ],
    });
    const users = `/v1/operators/${demo.operatorId}/users`;
    await demo.call('POST', `${users}/eh-viewer`, { description: 'read only' });
    await demo.call('PUT', `${users}/eh-viewer/permission`, {
      permission:
        '{"statements":[{"effect":"allow","api":["EventHandler:list*","EventHandler:get*","Sim:list*","Sim:get*","Group:list*","Auth:*"]}]}',
    });
    await demo.call('POST', `${users}/eh-viewer/password`, { password: 'eh-viewer-password-1' });

    const w = await watchedPage(demo.browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    await signInUser(page, demo, 'eh-viewer', 'eh-viewer-password-1', '/event-handlers', 'Event handlers');
    await page.locator(`tr[data-handler-id="${handler.handlerId}"]`).waitFor();
    await page.getByText(/EventHandler:createEventHandler/).waitFor();
    expect(await page.getByRole('button', { name: 'Create event handler' }).count()).toBe(0);
    await page.getByRole('link', { name: 'mail on first traffic' }).click();
    const edit = page.getByRole('button', { name: 'Edit' });
    await expect.poll(() => edit.getAttribute('title')).toMatch(/EventHandler:updateEventHandler/);
    expect(await edit.isDisabled()).toBe(true);
    const del = page.getByRole('button', { name: 'Delete' });
    expect(await del.isDisabled()).toBe(true);
    expect(await del.getAttribute('title')).toMatch(/EventHandler:deleteEventHandler/);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'event-handler-page-read-only');
    expect(w.problems).toEqual([]);
    await w.context.close();
  }, 120_000);
});
