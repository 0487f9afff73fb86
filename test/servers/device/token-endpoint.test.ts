// The device-facing token endpoint: a device that attached through RADIUS (Access-Request +
// Accounting-Start) asks from its session address and gets a token for its SIM; everyone else gets
// 403 with a code and never a token. Redirect flow, request parameters, CORS, profiles, algorithms.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentDecode } from '../../../src/lib/redirect-target.js';
import { createVerifier } from '../../../src/sdk/verify.js';
import {
  attach,
  type CardSim,
  createCardSim,
  createEndorseGroup,
  type DeviceSession,
  detach,
  type EndorseWorld,
  httpFrom,
  startEndorseWorld,
} from '../../e2e/endorse-fixture.js';
import { hostileRedirect } from '../../helpers/hostile-urls.js';
import { decode } from '../../sdk/forge.js';

const IMEI = '490154203237518';
const APP = 'https://app.example.com';

let world: EndorseWorld;
let groupId: string;
let sim: CardSim;
let session: DeviceSession;

const get = (from: string, path = '/', headers: Record<string, string> = {}) =>
  httpFrom(from, `${world.deviceUrl}${path}`, { headers });
const verifier = () =>
  createVerifier({
    jwksUrl: world.jwksUrl,
    issuer: world.issuer,
    audience: 'simtrust-endorse-audience',
    algorithms: ['RS256', 'ES256', 'EdDSA'],
  });

beforeAll(async () => {
  world = await startEndorseWorld();
  groupId = await createEndorseGroup(world, {
    enabled: true,
    parametersToEndorse: { imsi: true, imei: true, simId: true, msisdn: false, requestParameters: true },
    tokenTimeoutSeconds: 600,
    allowOrigin: APP,
    authorizedRedirectUrls: [`${APP}/login`, 'http://127.0.0.1:3000/'],
  });
  sim = await createCardSim(world, { groupId });
  session = await attach(world, sim, IMEI);
});
afterAll(() => world.close());

describe('token over the data session', () => {
  it('GET / and /v1/endorse answer {token} for the SIM that owns the source address', async () => {
    expect(session.address).toMatch(/^127\.64\./);
    for (const path of ['/', '/v1/endorse']) {
      const r = await get(session.address, path);
      expect(r.status).toBe(200);
      expect(r.headers['cache-control']).toBe('no-store');
      const token = await verifier().verify(r.json<{ token: string }>().token);
      expect(token.sim).toEqual({
        imsi: sim.imsi,
        imei: IMEI,
        simId: sim.simId,
        requestParameters: {},
        operatorId: world.operatorId,
      });
      expect(token.amr).toEqual(['sim-session']);
      expect(token.exp - token.iat).toBe(600);
      expect(token.nbf).toBe(token.iat - 60);
    }
  });

  it('puts GET query and POST body parameters into requestParameters', async () => {
    const q = await get(session.address, '/?username=sora&sessionId=123');
    expect((await verifier().verify(q.json<{ token: string }>().token)).sim.requestParameters).toEqual({
      username: 'sora',
      sessionId: '123',
    });
    const form = await httpFrom(session.address, `${world.deviceUrl}/`, {
      method: 'POST',
      body: 'username=sora',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect((await verifier().verify(form.json<{ token: string }>().token)).sim.requestParameters).toEqual({
      username: 'sora',
    });
    const tooMany = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, 'x']));
    const refused = await get(session.address, `/?${new URLSearchParams(tooMany)}`);
    expect([refused.status, refused.json().code]).toEqual([400, 'ERR_ENDORSE_REQUEST_PARAMETERS']);
  });

  it('refuses an address with no session, and ignores X-Forwarded-For', async () => {
    // Threat: a device (or anyone) without the SIM's session asks for the SIM's token, or claims
    // the session's address in a header.
    const attempts: Array<Record<string, string>> = [{}, { 'x-forwarded-for': session.address }];
    for (const headers of attempts) {
      const r = await get('127.0.0.1', '/', headers);
      expect([r.status, r.json().code]).toEqual([403, 'ERR_ENDORSE_NO_SESSION']);
      expect(r.body).not.toContain('token"');
    }
  });

  it('refuses after the session ends (Accounting-Stop)', async () => {
    const other = await createCardSim(world, { groupId });
    const s = await attach(world, other, IMEI);
    expect((await get(s.address)).status).toBe(200);
    await detach(world, other, IMEI, s);
    const r = await get(s.address);
    expect([r.status, r.json().code]).toEqual([403, 'ERR_ENDORSE_NO_SESSION']);
  });

  it('refuses a suspended SIM, a group with tokens disabled, and a SIM in no group', async () => {
    // Threat: a SIM the operator suspended (stolen device) keeps proving its identity.
    const stolen = await createCardSim(world, { groupId });
    const s = await attach(world, stolen, IMEI);
    await world.platform.sims.transition(world.ctx('Sim:suspendSim'), stolen.simId, 'suspend');
    const r = await get(s.address);
    expect(r.status).toBe(403);
    expect(['ERR_ENDORSE_SIM_NOT_ACTIVE', 'ERR_ENDORSE_NO_SESSION']).toContain(r.json().code);
    expect(r.body).not.toContain('token"');

    const off = await createEndorseGroup(world, { enabled: false });
    const quiet = await createCardSim(world, { groupId: off });
    const q = await get((await attach(world, quiet, IMEI)).address);
    expect([q.status, q.json().code]).toEqual([403, 'ERR_ENDORSE_DISABLED']);

    const loose = await createCardSim(world);
    const l = await get((await attach(world, loose, IMEI)).address);
    expect([l.status, l.json().code]).toEqual([403, 'ERR_ENDORSE_DISABLED']);
  });
});

describe('redirect flow', () => {
  it('302 to an authorised redirect_url with the token in simtrust_endorse_token', async () => {
    const target = `${APP}/login/callback?state=abc`;
    const r = await httpFrom(
      session.address,
      `${world.deviceUrl}/?redirect_url=${encodeURIComponent(target)}`,
      {
        method: 'POST',
        body: 'username=sora',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
    );
    expect(r.status).toBe(302);
    const location = new URL(String(r.headers.location));
    expect(location.origin + location.pathname).toBe(`${APP}/login/callback`);
    expect(location.searchParams.get('state')).toBe('abc');
    const token = await verifier().verify(location.searchParams.get('simtrust_endorse_token') ?? '');
    expect(token.sim.requestParameters).toEqual({ username: 'sora' });
  });

  it('never redirects elsewhere: 400 with a code and no Location', async () => {
    // Threat: an open redirect that hands the SIM's token to an attacker's site.
    for (const target of [
      'https://evil.example/login',
      'https://app.example.com.evil.net/login',
      `${APP}/login2`,
      `${APP}/`,
      'https://app.example.com@evil.net/login',
      'http://app.example.com/login',
      'https://app.example.com:444/login',
      'javascript:alert(1)',
      '//evil.example/login',
      'not a url',
    ]) {
      const r = await get(session.address, `/?redirect_url=${encodeURIComponent(target)}`);
      expect([r.status, r.json().code], target).toEqual([400, 'ERR_ENDORSE_REDIRECT_NOT_AUTHORIZED']);
      expect(r.headers.location).toBeUndefined();
    }
  });

  it('issue 11: a redirect_url that only looks authorised never becomes a Location elsewhere', async () => {
    // Threat: an open redirect through encodings the check did not see — encoded slashes and dot
    // segments the application decodes again, backslashes, userinfo, dropped tabs — taking the
    // device and its SIM token off the authorised origin and path.
    for (const target of [
      `${APP}/login/..%2f..%2fadmin`,
      `${APP}/login/%2e%2e%2fadmin`,
      `${APP}/login/%5c..%5cadmin`,
      `${APP}/login\\..\\admin`,
      `${APP}/login/..;/admin`,
      `${APP}/lo\tgin`,
      'https://app.example.com%2f@evil.example/login',
      'https://app.example.com\\@evil.example/login',
    ]) {
      const r = await get(session.address, `/?redirect_url=${encodeURIComponent(target)}`);
      expect([r.status, r.json().code], target).toEqual([400, 'ERR_ENDORSE_REDIRECT_NOT_AUTHORIZED']);
      expect(r.headers.location).toBeUndefined();
    }
    const authorised = [new URL(`${APP}/login`), new URL('http://127.0.0.1:3000/')];
    const prefixes = fc.constantFrom(`${APP}/login`, `${APP}/login/`, 'http://127.0.0.1:3000', APP);
    const values = fc.sample(
      fc.tuple(prefixes, hostileRedirect).map(([p, t]) => `${p}${t}`),
      { numRuns: 300, seed: 11 },
    );
    let redirected = 0;
    for (const target of values) {
      const r = await get(session.address, `/?redirect_url=${encodeURIComponent(target)}`);
      if (r.status !== 302) {
        expect([r.status, r.json().code], target).toEqual([400, 'ERR_ENDORSE_REDIRECT_NOT_AUTHORIZED']);
        continue;
      }
      redirected++;
      const landed = new URL(String(r.headers.location));
      const entry = authorised.find((e) => e.origin === landed.origin);
      expect(entry, target).toBeDefined();
      const base = entry?.pathname.replace(/\/?$/, '/') ?? '/';
      let path = landed.pathname;
      for (let i = 0; i < 4; i++) {
        expect(path === entry?.pathname || path.startsWith(base), target).toBe(true);
        path = percentDecode(path);
      }
    }
    // Some hostile-looking values are harmless and go through: the check is not a blanket refusal.
    expect(redirected).toBeGreaterThan(0);
  });

  it('compat soracom: SORACOM issuer, audience, subject, claim, kid form and redirect parameter', async () => {
    const soracomGroup = await createEndorseGroup(world, {
      enabled: true,
      compat: 'soracom',
      authorizedRedirectUrls: ['http://127.0.0.1:3000/'],
    });
    const device = await createCardSim(world, { groupId: soracomGroup });
    const s = await attach(world, device, IMEI);
    const plain = await get(s.address);
    const { header, payload } = decode(plain.json<{ token: string }>().token);
    expect(header).toEqual({ kid: expect.stringMatching(/^v1-[0-9a-f]{32}-x509\.pem$/), alg: 'RS256' });
    expect(payload).toMatchObject({
      iss: 'https://soracom.io',
      aud: 'soracom-endorse-audience',
      sub: 'soracom-endorse',
      'soracom-endorse-claim': { imsi: device.imsi, imei: IMEI },
    });
    const r = await get(s.address, `/?redirect_url=${encodeURIComponent('http://127.0.0.1:3000/welcome')}`);
    expect(r.status).toBe(302);
    expect(new URL(String(r.headers.location)).searchParams.get('soracom_endorse_token')).toMatch(/^ey/);
    // SORACOM's verification flow: download the PEM named by kid.
    const pem = await get('127.0.0.1', `/v1/endorse/keys/${header.kid}`);
    expect(pem.status).toBe(200);
    expect(pem.headers['content-type']).toContain('application/x-pem-file');
    expect(pem.body).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });
});

describe('CORS and algorithms', () => {
  it("answers CORS only for the group's allowOrigin", async () => {
    const ok = await get(session.address, '/', { origin: APP });
    expect(ok.headers['access-control-allow-origin']).toBe(APP);
    const other = await get(session.address, '/', { origin: 'https://evil.example' });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await httpFrom(session.address, `${world.deviceUrl}/`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(APP);
    const stranger = await httpFrom('127.0.0.1', `${world.deviceUrl}/`, {
      method: 'OPTIONS',
      headers: { origin: APP },
    });
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('signs with the algorithm the group selects (ES256, EdDSA)', async () => {
    for (const algorithm of ['ES256', 'EdDSA'] as const) {
      const g = await createEndorseGroup(world, { enabled: true, algorithm });
      const device = await createCardSim(world, { groupId: g });
      const r = await get((await attach(world, device, IMEI)).address);
      const token = await verifier().verify(r.json<{ token: string }>().token);
      expect(token.header.alg).toBe(algorithm);
      expect(token.sim.imsi).toBe(device.imsi);
    }
  });
});
