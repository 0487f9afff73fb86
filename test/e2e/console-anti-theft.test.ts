// The SIM page's anti-theft panel in Chromium (issue 12), against the platform in this process with
// its OTA link bound to the lab SMSC and a real software card behind the SIM's MSISDN. The SMS to the
// card are held until the test lets them through, so the page is seen waiting for a PoR and then —
// by its own polling, no reload — seeing it applied. Root adds a cell, the card is moved into another
// device and blocks (the alert shows up), root unblocks after a confirmation, then has the card report
// its location: refused in plain words while the OTA link is down, then — the report coming back by
// SMS — the reported IMEI and cell appear by the page's own polling. A SIM without the applet shows no
// panel and no error (its 409 ERR_ANTI_THEFT_NOT_PROVISIONED says "no applet"); a read-only SAM user
// sees the panel with no form, and Unblock and "Report location now" disabled. axe-core, screenshots,
// no console errors.

import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OtaSmppLink } from '../../src/platform/ota/ota-smpp.js';
import { cell, type Device, device, IMEI, OTHER_IMEI } from '../card/toolkit/fixture.js';
import {
  type AntiTheftSim,
  connectOtaLink,
  createAntiTheftSim,
  LabNetwork,
  type OutcomeQueue,
} from '../helpers/anti-theft.js';
import { startTestApi, type TestApi, vendorCsv } from '../helpers/app.js';
import { requirePrograms } from '../helpers/external.js';
import { axeViolations, ensureConsoleBuilt, screenshots, watchedPage } from './console-browser.js';
import { launchChromium } from './gateway-browser.js';

const ok = requirePrograms({ chromium: 'chromium' });

describe.skipIf(!ok)('console: the anti-theft panel in the browser', () => {
  let api: TestApi;
  let base: string;
  let browser: Browser;
  let network: LabNetwork;
  let link: OtaSmppLink;
  let outcomes: OutcomeQueue;
  let sim: AntiTheftSim;
  let current: Device;
  let plainSimId: string;
  /** SMS-PP for the card, held until release(). */
  const held: Uint8Array[] = [];

  /** Lets the held SMS through to the card; what it answers goes back to the platform at once. */
  const release = () => {
    for (const tpdu of held.splice(0)) {
      current.modem.deliverSms(tpdu);
      network.forward(sim.msisdn, current);
    }
  };
  const waitHeld = () => expect.poll(() => held.length, { timeout: 10_000 }).toBeGreaterThan(0);

  beforeAll(async () => {
    ensureConsoleBuilt();
    api = await startTestApi();
    base = await api.app.listen({ host: '127.0.0.1', port: 0 });
    network = await LabNetwork.start();
    ({ link, outcomes } = await connectOtaLink(network, api.platform.store, api.platform.ota));
    api.platform.ota.useLink(link);
    sim = await createAntiTheftSim(api.platform, api.operator.operatorId, 1);
    current = device(sim.card.uicc, IMEI, cell(1));
    current.modem.boot();
    network.route(sim.msisdn, (tpdu) => held.push(tpdu));
    const { csv, rows } = vendorCsv(1, { start: 4242 });
    await api.call({
      method: 'POST',
      url: '/v1/sims/import',
      headers: { 'content-type': 'text/csv' },
      payload: csv,
    });
    plainSimId = rows[0]!.iccid;
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    api?.platform.ota.useLink(undefined);
    await link?.close();
    await network?.close();
    await api?.close();
  });

  async function signIn(w: Awaited<ReturnType<typeof watchedPage>>, path: string) {
    w.expect(401, '/console/api/session');
    await w.page.goto(`${base}/console${path}`);
    await w.page.getByLabel('Email', { exact: true }).fill(api.operator.email);
    await w.page.getByLabel('Password', { exact: true }).fill(api.operator.password);
    await w.page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('shows the state, adds a cell, sees the alert and unblocks, each settled by the PoR', async () => {
    const w = await watchedPage(browser);
    const { page } = w;
    await signIn(w, `/sims/${sim.simId}`);
    const panel = page.locator('section[data-anti-theft]');
    await page.getByRole('heading', { name: 'Anti-theft applet' }).waitFor();
    expect(await page.locator('[data-field="antiTheftMode"]').textContent()).toBe('not reported yet');

    // A typo is caught beside the field, before anything is sent to the card.
    await page.getByLabel('MCC').fill('440');
    await page.getByLabel('MNC').fill('10');
    await page.getByLabel('LAC / TAC').fill('6699');
    await page.getByLabel('Cell ID (hex)').fill('9F');
    await page.getByRole('button', { name: 'Add cell' }).click();
    await page.getByText('The cell ID is 4 hex digits').waitFor();
    expect(held).toHaveLength(0);

    await page.getByLabel('Cell ID (hex)').fill('0000009f');
    await page.getByRole('button', { name: 'Add cell' }).click();
    await waitHeld();
    // The command waits for its PoR, and the page says so.
    await expect.poll(() => page.locator('[data-field="pendingCommands"]').textContent()).toMatch(/waiting/);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'sim-anti-theft-pending');

    release();
    expect(await outcomes.next('the PoR of the add-cell command')).toMatchObject({
      kind: 'por',
      status: 'applied',
    });
    // The page polls while a command is pending: the PoR shows without a reload.
    await expect
      .poll(() => page.locator('[data-field="pendingCommands"]').textContent(), { timeout: 10_000 })
      .toBe('None.');
    await expect
      .poll(() => page.locator('[data-field="antiTheftMode"]').textContent())
      .not.toBe('not reported yet');
    await panel.getByText('440-10 / 6699 / 0000009F').first().waitFor();
    expect(await page.locator('[data-field="lastPor"]').textContent()).toMatch(/applied/);
    const imeis = await panel.locator('ul.anti-theft-imeis li').allTextContents();
    expect(imeis.join()).toContain(IMEI);

    // Stolen: the card moves into another device, blocks itself and alerts the platform.
    current = current.moveCardTo(OTHER_IMEI, cell(1));
    current.modem.boot();
    network.forward(sim.msisdn, current);
    expect(await outcomes.next('the IMEI alert')).toMatchObject({
      kind: 'alert',
      event: 'ANTITHEFT_IMEI_BLOCKED',
    });
    await expect
      .poll(() => page.locator('[data-field="antiTheftMode"]').textContent(), { timeout: 30_000 })
      .toBe('blocked');
    await panel.locator('table.anti-theft-events').getByText('ANTITHEFT_IMEI_BLOCKED').waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'sim-anti-theft-blocked');

    // Unblock asks first; declining sends nothing.
    page.once('dialog', (d) => void d.dismiss());
    await panel.getByRole('button', { name: 'Unblock' }).click();
    await expect.poll(() => panel.getByRole('button', { name: 'Unblock' }).isEnabled()).toBe(true);
    expect(held).toHaveLength(0);
    page.once('dialog', (d) => {
      expect(d.message()).toContain(sim.simId);
      void d.accept();
    });
    await panel.getByRole('button', { name: 'Unblock' }).click();
    await waitHeld();
    await page.getByText(/Command #\d+ sent to the card/).waitFor();
    release();
    expect(await outcomes.next('the PoR of UNBLOCK')).toMatchObject({ kind: 'por', status: 'applied' });
    // The PoR shows without a reload; the mode is what the card's READ STATE says after it (still in
    // the other device, it may block again: the page shows the card's word, not a guess).
    const after = (await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/anti_theft` })).json();
    expect(after.lastPor.commands.map((c: { op: string }) => c.op)).toEqual(['unblock', 'readState']);
    await expect
      .poll(() => page.locator('[data-field="lastPor"]').textContent(), { timeout: 10_000 })
      .toMatch(new RegExp(`^#${after.lastPor.id} applied`));
    // The page shows the platform's own mode (the view's `mode`), never a guess of its own: read both
    // again until they agree (the card may block again meanwhile; then both say so).
    await expect
      .poll(
        async () => {
          const view = (await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/anti_theft` })).json();
          const shown = await page.locator('[data-field="antiTheftMode"]').textContent();
          return shown === view.mode?.mode ? 'same' : `page ${shown}, API ${view.mode?.mode}`;
        },
        { timeout: 10_000 },
      )
      .toBe('same');
    expect(after.mode).toMatchObject({ mode: expect.any(String), source: expect.any(String) });
    await panel.locator('table.anti-theft-events').getByText('ANTITHEFT_UNBLOCKED').waitFor();

    // A SIM without the applet: no panel, and its 409 ERR_ANTI_THEFT_NOT_PROVISIONED is no failure
    // (console-browser.ts accepts exactly that answer).
    await page.goto(`${base}/console/sims/${plainSimId}`);
    await page.getByRole('heading', { name: `SIM ${plainSimId}` }).waitFor();
    await page.getByRole('heading', { name: 'Session and location history' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Anti-theft applet' }).count()).toBe(0);
    expect(w.problems).toEqual([]);
    await w.context.close();
  }, 150_000);

  it('"Report location now" waits for the card\'s report and shows its IMEI and cell; no link is said plainly', async () => {
    const w = await watchedPage(browser);
    const { page } = w;
    await signIn(w, `/sims/${sim.simId}`);
    const panel = page.locator('section[data-anti-theft]');
    const report = panel.getByRole('button', { name: 'Report location now' });
    await panel.getByRole('heading', { name: 'Reported location' }).waitFor();
    await panel.getByText('The card has not reported its location yet.').waitFor();

    // The OTA link is down: 503 ERR_OTA_UNAVAILABLE, nothing sent, and the page says what to do.
    w.expect(503, `/v1/sims/${sim.simId}/report_local_info`);
    api.platform.ota.useLink(undefined);
    try {
      await report.click();
      await panel.getByText(/no OTA link \(SMPP\) right now.*nothing was sent/).waitFor();
    } finally {
      api.platform.ota.useLink(link);
    }
    expect(held).toHaveLength(0);

    await report.click();
    await waitHeld();
    await panel.getByText(/Asked the card for its location; waiting for its report/).waitFor();
    // One question at a time: the button waits with the page.
    expect(await report.isDisabled()).toBe(true);
    release();
    // The page asks again by itself until a newer report is there: no reload.
    await expect
      .poll(() => panel.locator('[data-field="localInfoImei"]').textContent(), { timeout: 10_000 })
      .toBe(OTHER_IMEI);
    await panel.getByText('The card reported its location.').waitFor();
    const reported = (await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}` })).json();
    expect(reported.localInfo).toMatchObject({
      imei: OTHER_IMEI,
      cell: { mcc: '440', mnc: '10', tac: 0x1a2b, eci: 1 },
    });
    expect(await panel.locator('[data-field="localInfoCell"]').textContent()).toBe(
      '440-10 / TAC 6699 / ECI 1',
    );
    expect(await panel.locator('[data-field="localInfoAccess"]').textContent()).toBe('LTE (E-UTRAN)');
    await expect.poll(() => report.isEnabled()).toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'sim-anti-theft-local-info');
    expect(w.problems).toEqual([]);
    await w.context.close();
  }, 120_000);

  it('a read-only SAM user sees the state but no form, and Unblock disabled with the reason', async () => {
    const operatorId = api.operator.operatorId;
    const call = (method: 'POST' | 'PUT', url: string, payload: Record<string, unknown>) =>
      api.call({ method, url: `/v1/operators/${operatorId}${url}`, payload });
    await call('POST', '/users/watcher', { description: 'read only' });
    await call('PUT', '/users/watcher/permission', {
      permission:
        '{"statements":[{"effect":"allow","api":["Sim:get*","Sim:list*","Group:list*","Stats:*","Auth:*"]}]}',
    });
    await call('POST', '/users/watcher/password', { password: 'watcher-password-1' });

    const w = await watchedPage(browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    await page.goto(`${base}/console/sims/${sim.simId}`);
    await page.getByLabel('SAM user').check();
    await page.getByLabel('Operator ID').fill(operatorId);
    await page.getByLabel('User name').fill('watcher');
    await page.getByLabel('Password', { exact: true }).fill('watcher-password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const panel = page.locator('section[data-anti-theft]');
    await page.getByRole('heading', { name: 'Anti-theft applet' }).waitFor();
    const unblock = panel.getByRole('button', { name: 'Unblock' });
    await expect.poll(() => unblock.getAttribute('title')).toMatch(/Sim:unblockSimAntiTheft/);
    expect(await unblock.isDisabled()).toBe(true);
    const report = panel.getByRole('button', { name: 'Report location now' });
    expect(await report.getAttribute('title')).toMatch(/Sim:reportSimLocalInfo/);
    expect(await report.isDisabled()).toBe(true);
    expect(await panel.getByRole('button', { name: 'Add cell' }).count()).toBe(0);
    expect(
      await panel
        .getByRole('button', { name: /^Remove / })
        .first()
        .isDisabled(),
    ).toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'sim-anti-theft-read-only');
    expect(w.problems).toEqual([]);
    await w.context.close();
  });
});
