// Acceptance: the gateway login in Chromium with the OTP SMS going through Kannel — our `kannel`
// provider calls smsbox's sendsms, bearerbox submits over SMPP (transceiver) to the test's SMS
// centre, which answers with a delivery receipt; Kannel reports it to the gateway's dlr-url, and the
// delivery status is stored and shown on the code page.

import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Smsc } from '../../src/servers/smpp/smsc.js';
import { launchChromium } from '../e2e/gateway-browser.js';
import { requirePrograms } from '../helpers/external.js';
import { codeIn, type GatewayFixture, PASSWORD, startGatewayFixture } from '../servers/gateway/fixture.js';
import { type Kannel, startKannel } from './helpers/kannel.js';

const ok = requirePrograms({ bearerbox: 'kannel', smsbox: 'kannel', chromium: 'chromium' });

describe.skipIf(!ok)('MFA gateway with SMS through Kannel', () => {
  let smsc: Smsc;
  let kannel: Kannel;
  let f: GatewayFixture;
  let browser: Browser;

  beforeAll(async () => {
    smsc = await Smsc.start({ accounts: { kannel: 'kannelpw' }, receipt: 'DELIVRD', receiptDelayMs: 200 });
    kannel = await startKannel({ port: smsc.port, systemId: 'kannel', password: 'kannelpw' });
    f = await startGatewayFixture({
      smsc,
      smsProviders: ({ gatewayUrl }) => [
        {
          name: 'kannel',
          kind: 'kannel',
          url: kannel.sendsmsUrl,
          username: kannel.username,
          password: kannel.password,
          dlrUrl: `${gatewayUrl}/.simtrust/sms/kannel-dlr`,
        },
      ],
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await f?.close();
    await kannel?.stop();
  });

  it('logs in with the code Kannel carried, and the delivery report reaches the gateway', async () => {
    const page = await browser.newPage();
    await page.goto(`${f.url}/inbox`);
    await page.getByLabel('User ID').fill('alice');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/\.simtrust\/factor$/);
    const sms = await smsc.waitForMessage((m) => m.systemId === 'kannel', 20_000);
    expect(sms.destination).toBe('819012345678');
    const code = codeIn(sms.text);
    expect(code).toMatch(/^\d{6}$/);

    // Kannel's DLRs (8: delivered to the SMSC, then 1: delivered to the phone) reach the gateway.
    const records = async () => (await f.platform.sms.list(f.operatorId, { limit: 1 })).items;
    await expect.poll(async () => (await records())[0]?.status, { timeout: 20_000 }).toBe('delivered');
    expect((await records())[0]).toMatchObject({
      provider: 'kannel',
      phoneNumber: '+819012345678',
      errorCode: null,
    });
    await page.reload();
    expect(await page.locator('#delivery').textContent()).toBe('Delivery: the SMS reached your phone.');

    await page.getByLabel(/Code from the SMS/).fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${f.url}/inbox`);
    expect(await page.locator('#backend').textContent()).toBe('Backend content for alice');
  });

  it('refuses a delivery report without the right MAC', async () => {
    const [record] = (await f.platform.sms.list(f.operatorId, { limit: 1 })).items;
    const forged = await fetch(
      `${f.url}/.simtrust/sms/kannel-dlr?provider=kannel&ref=${record?.messageId}&mac=forged&type=2`,
    );
    expect(forged.status).toBe(403);
    expect((await f.platform.sms.list(f.operatorId, { limit: 1 })).items[0]?.status).toBe('delivered');
  });
});
