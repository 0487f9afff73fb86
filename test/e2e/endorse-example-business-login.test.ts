// The business-login example (examples/business-login) in a real browser: headless Chromium whose
// traffic leaves from the simulated device's session address (through a forward proxy bound to it)
// signs in with username + SIM, and is refused for a user the SIM is not registered to, from a
// device without a session, and on a replayed callback.

import { type AddressInfo, createServer } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoginApp } from '../../examples/business-login/app.js';
import { type DeviceProxy, startDeviceProxy } from '../../examples/business-login/device-proxy.js';
import { requirePrograms } from '../helpers/external.js';
import {
  attach,
  createCardSim,
  createEndorseGroup,
  type EndorseWorld,
  startEndorseWorld,
} from './endorse-fixture.js';

const IMEI = '490154203237518';
const ready = requirePrograms({ chromium: 'chromium' });

let world: EndorseWorld;
let app: ReturnType<typeof createLoginApp>;
let appUrl: string;
let browser: Browser;
let onDevice: DeviceProxy;
let offNetwork: DeviceProxy;

/** A browser page whose every request goes out through `proxy`. */
async function pageVia(proxy: DeviceProxy) {
  const context = await browser.newContext({ proxy: { server: proxy.url, bypass: '<-loopback>' } });
  return context.newPage();
}

async function signIn(proxy: DeviceProxy, username: string) {
  const page = await pageVia(proxy);
  await page.goto(appUrl);
  await page.fill('input[name=username]', username);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  await page.waitForLoadState('load');
  return page;
}

describe.skipIf(!ready)('business-system login in Chromium', () => {
  beforeAll(async () => {
    world = await startEndorseWorld();
    // The app listens first so its callback URL can be authorised in the group.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    appUrl = `http://127.0.0.1:${port}`;
    const groupId = await createEndorseGroup(world, {
      enabled: true,
      parametersToEndorse: { imsi: true, imei: true, requestParameters: true },
      authorizedRedirectUrls: [`${appUrl}/login/callback`],
    });
    const sim = await createCardSim(world, { groupId });
    const session = await attach(world, sim, IMEI);
    app = createLoginApp({
      deviceUrl: world.deviceUrl,
      jwksUrl: world.jwksUrl,
      issuer: world.issuer,
      publicUrl: appUrl,
      users: { sora: { imsi: sim.imsi, imei: IMEI }, eve: { imsi: '001010000000999', imei: IMEI } },
    });
    await app.listen({ host: '127.0.0.1', port });
    onDevice = await startDeviceProxy(session.address);
    offNetwork = await startDeviceProxy('127.0.0.1');
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await onDevice?.close();
    await offNetwork?.close();
    await app?.close();
    await world?.close();
  });

  it('signs in the registered user of this SIM and device', async () => {
    const page = await signIn(onDevice, 'sora');
    expect(await page.textContent('h1')).toBe('Welcome, sora');
    expect(new URL(page.url()).pathname).toBe('/welcome');
  });

  it('refuses a user this SIM is not registered to', async () => {
    const page = await signIn(onDevice, 'eve');
    expect(await page.textContent('h1')).toBe('Sign-in refused');
    expect(await page.textContent('#reason')).toBe('SIM_NOT_REGISTERED_FOR_USER');
  });

  it("refuses a browser that is not on the SIM's data session", async () => {
    // Threat: someone who knows a username signs in from a machine without the user's SIM.
    const page = await signIn(offNetwork, 'sora');
    expect(await page.textContent('body')).toContain('ERR_ENDORSE_NO_SESSION');
    expect(new URL(page.url()).origin).toBe(world.deviceUrl);
  });

  it('refuses a replayed callback URL', async () => {
    // Threat: the callback URL (with its token) leaks from history or a log and is opened again.
    const page = await pageVia(onDevice);
    await page.goto(appUrl);
    await page.fill('input[name=username]', 'sora');
    const callback = page.waitForRequest((r) => r.url().includes('/login/callback'));
    await page.click('button[type=submit]');
    const url = (await callback).url();
    await page.waitForSelector('h1');
    const again = await pageVia(onDevice);
    await again.goto(url);
    expect(await again.textContent('#reason')).toBe('TOKEN_REPLAYED');
  });
});
