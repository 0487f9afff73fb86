// The SIM-token factor: the gateway's factor page sends the device to the platform's token
// endpoint (SORACOM Endorse's redirect flow); a simulated device — attached the real way, RADIUS
// Access-Request and Accounting-Start from the packet gateway, so its requests come from its SIM
// session's address — follows it and comes back with a token, which the gateway accepts only for
// the IMSI + IMEI registered for the user, once.

import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditContext } from '../../src/platform/iam/principal.js';
import { buildGateway } from '../../src/servers/gateway/gateway.js';
import {
  Browser,
  freePort,
  hidden,
  PASSWORD,
  startUpstream,
  type Upstream,
} from '../servers/gateway/fixture.js';
import {
  attach,
  type CardSim,
  createCardSim,
  createEndorseGroup,
  type EndorseWorld,
  httpFrom,
  startEndorseWorld,
} from './endorse-fixture.js';

const IMEI = '490154203237518';
const OTHER_IMEI = '356938035643809';

let world: EndorseWorld;
let upstream: Upstream;
let gateway: FastifyInstance;
let gatewayUrl: string;
let sim: CardSim;
let otherSim: CardSim;
let directoryId: string;

beforeAll(async () => {
  const port = await freePort();
  gatewayUrl = `http://127.0.0.1:${port}`;
  world = await startEndorseWorld();
  upstream = await startUpstream();
  const groupId = await createEndorseGroup(world, {
    enabled: true,
    parametersToEndorse: { imsi: true, imei: true },
    authorizedRedirectUrls: [`${gatewayUrl}/.simtrust/sim-token`],
  });
  sim = await createCardSim(world, { groupId });
  otherSim = await createCardSim(world, { groupId });
  const admin: AuditContext = world.ctx('Directory:test');
  directoryId = (await world.platform.directories.create(admin, { name: 'field' })).directoryId;
  await world.platform.directories.createUser(admin, directoryId, {
    userId: 'technician',
    password: PASSWORD,
    sim: { imsi: sim.imsi, imei: IMEI },
  });
  gateway = await buildGateway({
    platform: {
      ...world.platform,
      config: { ...world.platform.config, gatewaySimTokenUrl: `${world.deviceUrl}/` },
    },
    applications: [
      {
        name: 'plant',
        prefix: '/',
        upstream: upstream.url,
        users: { directory: directoryId },
        policy: [{ factors: ['sim-token'] }],
        websocket: false,
        stripPrefix: false,
        audience: 'plant',
      },
    ],
  });
  await gateway.listen({ host: '127.0.0.1', port });
  expect((gateway.server.address() as AddressInfo).port).toBe(port);
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await world?.close();
});

/** Password step in the device's browser; returns the browser and the token endpoint link. */
async function toSimPage() {
  const browser = new Browser(gatewayUrl);
  const login = await browser.get('/controls');
  const page = await browser.post('/.simtrust/login', {
    csrf: hidden(login.html, 'csrf'),
    app: 'plant',
    return_to: hidden(login.html, 'return_to'),
    user_id: 'technician',
    password: PASSWORD,
  });
  expect(page.html).toContain('Confirm with your SIM');
  const href = /id="continue" href="([^"]+)"/.exec(page.html)?.[1]?.replace(/&amp;/g, '&') ?? '';
  expect(href.startsWith(`${world.deviceUrl}/?redirect_url=`)).toBe(true);
  return { browser, href };
}

/** The device follows the link from its SIM session's address; the endpoint redirects back. */
async function deviceFollows(address: string, href: string): Promise<string> {
  const r = await httpFrom(address, href);
  expect(r.status).toBe(302);
  return String(r.headers.location);
}

describe('gateway SIM-token factor', () => {
  it('logs in from the device with the registered SIM and IMEI', async () => {
    const session = await attach(world, sim, IMEI);
    const { browser, href } = await toSimPage();
    const back = await deviceFollows(session.address, href);
    expect(back.startsWith(`${gatewayUrl}/.simtrust/sim-token?`)).toBe(true);
    const done = await browser.get(back);
    expect(done.url).toBe(`${gatewayUrl}/controls`);
    expect(done.html).toContain('Backend content for technician');
    const assertion = String(upstream.requests.at(-1)?.headers['x-simtrust-assertion']);
    const payload = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString());
    expect(payload.amr).toEqual(['pwd', 'hwk']);

    // Threat: a token captured from the redirect (history, logs) replayed in another login.
    const second = await toSimPage();
    const replay = await second.browser.get(back.replace(/^https?:\/\/[^/]+/, ''));
    expect(replay.status).toBe(401);
    expect(replay.html).toContain('The SIM could not be confirmed');
  });

  it('refuses the registered SIM in another device (IMEI mismatch)', async () => {
    // Threat: the SIM card moved into an attacker's device.
    const session = await attach(world, sim, OTHER_IMEI);
    const { browser, href } = await toSimPage();
    const r = await browser.get(await deviceFollows(session.address, href));
    expect(r.status).toBe(403);
    expect(r.html).toContain('not the one registered for your account');
  });

  it('refuses another SIM', async () => {
    const session = await attach(world, otherSim, IMEI);
    const { browser, href } = await toSimPage();
    const r = await browser.get(await deviceFollows(session.address, href));
    expect(r.status).toBe(403);
  });

  it('refuses a token that does not verify', async () => {
    const { browser } = await toSimPage();
    const forged = `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify({ sub: 'x' })).toString('base64url')}.`;
    const r = await browser.get(`/.simtrust/sim-token?simtrust_endorse_token=${forged}`);
    expect(r.status).toBe(401);
  });
});
