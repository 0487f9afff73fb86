// The SIM page's eSIM panel in Chromium (issue 15): the platform in this process with this
// deployment's SM-SR and SM-DP (startEsim, as serve runs them) and the SCP81 listener, and a software
// eUICC registered through the API that answers over real PSK-TLS sessions (scp81-card.ts). Root sees
// the EID and profile A Enabled, downloads profile B from the inventory through the panel, and — the
// card running each script and SCP03t segment as it comes — sees the operation's steps appear by the
// panel's own polling, the operation end succeeded, and B listed Disabled, without reloading. A SIM
// that is no eUICC shows no panel. axe-core, screenshots, no console errors.

import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardFromFile } from '../../src/card/card-file.js';
import type { Euicc } from '../../src/card/euicc/euicc.js';
import { issueDemoEuicc } from '../../src/cli/demo-euicc.js';
import { hex } from '../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../src/lib/identities.js';
import { mnoIdOf, type RunningEsim, startEsim } from '../../src/servers/esim/esim-runtime.js';
import { startTestApi, type TestApi } from '../helpers/app.js';
import { requirePrograms } from '../helpers/external.js';
import { runCardSession } from '../servers/esim/scp81-card.js';
import { axeViolations, ensureConsoleBuilt, screenshots, watchedPage } from './console-browser.js';
import { launchChromium } from './gateway-browser.js';

const ok = requirePrograms({ chromium: 'chromium' });
const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');
const profile = () => ({
  iccid: iccidWithCheckDigit(`8944001600${digits(8)}`),
  imsi: `00101016${digits(7)}`,
  msisdn: `81700016${digits(4)}`,
  ki: randomBytes(16).toString('hex'),
  opc: randomBytes(16).toString('hex'),
});

describe.skipIf(!ok)('console: the eSIM panel in the browser', () => {
  let api: TestApi;
  let esim: RunningEsim;
  let base: string;
  let browser: Browser;
  let euicc: Euicc;
  let eid: string;
  let psk: Uint8Array;
  const sockets: TLSSocket[] = [];
  const A = profile();
  const B = profile();
  let cardLoop: Promise<void> | undefined;
  let stopCard = false;

  beforeAll(async () => {
    ensureConsoleBuilt();
    api = await startTestApi({
      // Everything over HTTPS (the push aside): this test plays the card's PSK-TLS side only.
      config: { esimEs5SmsMaxScriptBytes: 0 },
    });
    await api.platform.esimPki.ensureDemo();
    esim = await startEsim(api.platform, api.operator.operatorId, pino({ level: 'silent' }), {
      scp81Port: 0,
    });
    base = await api.app.listen({ host: '127.0.0.1', port: 0 });
    const issued = await issueDemoEuicc(api.platform, {
      profile: A,
      smsrId: esim.smsrId,
      smsrAddress: '819000000999',
      mnoId: mnoIdOf(api.operator.operatorId),
    });
    const reg = await api.call({
      method: 'POST',
      url: '/v1/esim/euiccs',
      payload: { registerEisRequest: issued.registerEisRequest, eumCertificate: issued.eumCertificate },
    });
    expect(reg.statusCode, reg.body).toBe(201);
    // Profile B in the operator's inventory, for the SM-DP to prepare.
    const created = await api.call({ method: 'POST', url: '/v1/sims', payload: B });
    expect(created.statusCode, created.body).toBeLessThan(300);
    eid = issued.eid;
    psk = hex(issued.file.euicc?.isdr.scp81[0]?.psk ?? '');
    const card = cardFromFile(issued.file);
    if (card.euicc === undefined) throw new Error('not an eUICC');
    euicc = card.euicc;
    // The device: whenever a push is out (its PSK offered), it opens a session and runs the jobs.
    cardLoop = (async () => {
      while (!stopCard) {
        const ran = await runCardSession(sockets, esim.scp81Port ?? 0, eid, psk, euicc);
        if (ran === undefined) await new Promise((r) => setTimeout(r, 100));
      }
    })();
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    stopCard = true;
    await cardLoop;
    for (const s of sockets) s.destroy();
    await browser?.close();
    await api?.platform.esimOperations.drained();
    await esim?.close();
    await api?.close();
  });

  it('shows the eUICC, downloads a profile from the panel and follows the operation to its end', async () => {
    const w = await watchedPage(browser);
    const { page } = w;
    w.expect(401, '/console/api/session');
    await page.goto(`${base}/console/sims/${eid}`);
    await page.getByLabel('Email', { exact: true }).fill(api.operator.email);
    await page.getByLabel('Password', { exact: true }).fill(api.operator.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const panel = page.getByRole('region', { name: 'eSIM (eUICC)' });
    await panel.waitFor();
    expect(await panel.locator('[data-field="eid"]').textContent()).toBe(eid);
    const rowA = panel.locator(`tr[data-profile="${A.iccid}"]`);
    expect(await rowA.locator('[data-field="profileState"]').textContent()).toBe('Enabled');
    await expect.poll(() => panel.getByText('No operations yet.').count(), { timeout: 10_000 }).toBe(1);

    await panel.getByLabel('ICCID').fill(B.iccid);
    await panel.getByLabel('Enable after download').uncheck();
    await panel.getByRole('button', { name: 'Download' }).click();
    await panel
      .getByRole('status')
      .filter({ hasText: /Operation esop-/ })
      .waitFor();
    // The steps appear by the panel's polling as the SM-DP and the SM-SR report them; then the end.
    const op = panel.locator('li[data-operation]').first();
    await expect
      .poll(() => op.getAttribute('data-status'), { timeout: 60_000, interval: 250 })
      .toBe('succeeded');
    for (const step of ['CreateISDP', 'DownloadAndInstallation', 'ProfileDownloadCompleted'])
      expect(await op.locator(`li[data-step="${step}"]`).getAttribute('data-state')).toBe('succeeded');
    // The SIM is read again once the operation ended: B is on the card, Disabled.
    await expect
      .poll(() => panel.locator(`tr[data-profile="${B.iccid}"] [data-field="profileState"]`).textContent(), {
        timeout: 20_000,
      })
      .toBe('Disabled');
    expect(euicc.isdpAids.length).toBe(2);
    expect(await axeViolations(page)).toEqual([]);
    await screenshots(page, 'esim-panel');

    // A SIM that is no eUICC has no eSIM panel.
    await page.goto(`${base}/console/sims/${B.iccid}`);
    await page.getByRole('heading', { name: new RegExp(B.iccid) }).waitFor();
    expect(await page.getByRole('region', { name: 'eSIM (eUICC)' }).count()).toBe(0);
    expect(w.problems).toEqual([]);
    await w.context.close();
  }, 120_000);
});
