// The SIM page's Beam/Funnel/Funk panel (issue 17), in Chromium against the platform in this
// process: the last delivery and the last error of each service as the entry points recorded them;
// a SIM without such traffic says so; a SAM user denied Sim:getSimBeamStatus is told why instead of
// seeing it, and the page does not ask. axe-core, screenshots, no console errors, no failed requests.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi, vendorCsv } from '../helpers/app.js';
import { requirePrograms } from '../helpers/external.js';
import { axeViolations, ensureConsoleBuilt, screenshots, watchedPage } from './console-browser.js';
import { launchChromium } from './gateway-browser.js';

const ok = requirePrograms({ chromium: 'chromium' });

describe.skipIf(!ok)('console: Beam/Funnel/Funk on the SIM page', () => {
  let api: TestApi;
  let base: string;
  let browser: Browser;
  const [used, quiet] = vendorCsv(2, { start: 7100 }).rows as [
    { iccid: string; imsi: string; ki: string; opc: string },
    { iccid: string; imsi: string; ki: string; opc: string },
  ];

  beforeAll(async () => {
    ensureConsoleBuilt();
    api = await startTestApi();
    base = await api.app.listen({ host: '127.0.0.1', port: 0 });
    const res = await api.call({
      method: 'POST',
      url: '/v1/sims/import',
      headers: { 'content-type': 'text/csv' },
      payload: `iccid,imsi,ki,opc\n${[used, quiet].map((r) => `${r.iccid},${r.imsi},${r.ki},${r.opc}`).join('\n')}\n`,
    });
    expect(res.statusCode, res.body).toBe(200);
    const event = {
      operatorId: api.operator.operatorId,
      simId: used.iccid,
      imsi: used.imsi,
      bytesUp: 10,
      bytesDown: 2,
    } as const;
    api.platform.beamUsage.record({
      ...event,
      service: 'beam',
      entryPoint: 'mqtt',
      outcome: 'delivered',
      destination: 'mqtts',
    });
    api.platform.beamUsage.record({
      ...event,
      service: 'funnel',
      entryPoint: 'http',
      outcome: 'failed',
      error: 'the broker refused the message (NOT_FOUND: no exchange "telemetry")',
    });
    await api.platform.beamUsage.flush();
    // A SAM user who may do anything with SIMs but read their Beam status (deny wins).
    await api.call({
      method: 'POST',
      url: `/v1/operators/${api.operator.operatorId}/users/reader`,
      payload: {},
    });
    await api.call({
      method: 'PUT',
      url: `/v1/operators/${api.operator.operatorId}/users/reader/permission`,
      payload: {
        permission: JSON.stringify({
          statements: [
            { effect: 'allow', api: ['Sim:*', 'Stats:*', 'EventHandler:*', 'Auth:*'] },
            { effect: 'deny', api: ['Sim:getSimBeamStatus'] },
          ],
        }),
      },
    });
    await api.call({
      method: 'POST',
      url: `/v1/operators/${api.operator.operatorId}/users/reader/password`,
      payload: { password: 'reader-password-123' },
    });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  async function signIn(
    page: Page,
    path: string,
    account: { email?: string; userName?: string; password: string },
  ) {
    await page.goto(`${base}/console${path}`);
    if (account.userName !== undefined) {
      await page.getByLabel('SAM user').check();
      await page.getByLabel('Operator ID').fill(api.operator.operatorId);
      await page.getByLabel('User name', { exact: true }).fill(account.userName);
    } else {
      await page.getByLabel('Email', { exact: true }).fill(account.email ?? '');
    }
    await page.getByLabel('Password', { exact: true }).fill(account.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('shows the last delivery and the last error per service', async () => {
    const w = await watchedPage(browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    await signIn(page, `/sims/${used.iccid}`, { email: api.operator.email, password: api.operator.password });
    const panel = page.getByRole('region', { name: 'Beam, Funnel and Funk' });
    await panel.waitFor();
    const beam = panel.locator('div[data-service="beam"]');
    await beam.waitFor();
    expect(await beam.getByRole('heading').innerText()).toBe('Beam');
    expect(await beam.locator('.beam-last-delivery').innerText()).toMatch(/\(mqtt\)$/);
    expect(await beam.locator('.beam-last-error').innerText()).toBe('—');
    const funnel = panel.locator('div[data-service="funnel"]');
    expect(await funnel.locator('.beam-last-delivery').innerText()).toBe('—');
    expect(await funnel.locator('.beam-last-error').innerText()).toContain(
      'the broker refused the message (NOT_FOUND: no exchange "telemetry")',
    );
    expect(await funnel.locator('.beam-last-error').innerText()).toMatch(/\(http\)/);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'sim-beam-status');

    await page.goto(`${base}/console/sims/${quiet.iccid}`);
    await page
      .getByRole('region', { name: 'Beam, Funnel and Funk' })
      .getByText('No request from this SIM has gone through Beam, Funnel or Funk yet.')
      .waitFor();
    expect(w.problems).toEqual([]);
    await w.context.close();
  });

  it('tells a user denied Sim:getSimBeamStatus why the panel is empty, and never asks for it', async () => {
    const w = await watchedPage(browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    await signIn(page, `/sims/${used.iccid}`, { userName: 'reader', password: 'reader-password-123' });
    const panel = page.getByRole('region', { name: 'Beam, Funnel and Funk' });
    await panel.getByText(/Your permissions do not allow this/).waitFor();
    expect(await panel.locator('[data-service]').count()).toBe(0);
    // The panel does not even ask (a 403 on beam_status would be in problems).
    expect(w.problems).toEqual([]);
    await w.context.close();
  });
});
