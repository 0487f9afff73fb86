// The verifier SDK (@simtrust/verify, from its sources) and its middleware, with keys given directly
// (no platform): typed claims, the pinned algorithm, operator pinning, refusals with reason codes,
// the allow rule, and the JWKS refetch bound.

import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import fc from 'fast-check';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireSimToken as requireExpress } from '../../packages/verify/src/express.js';
import { requireSimToken as requireFastify } from '../../packages/verify/src/fastify.js';
import { createVerifier, type SimTokenErrorCode } from '../../packages/verify/src/index.js';
import { DEFAULT_ENDORSE_CONFIG, type EndorseConfig } from '../../src/platform/endorse/config.js';
import { jwkThumbprint, publicJwk, signCompact } from '../../src/platform/endorse/rfc-7515-jws.js';
import { compatKidOf } from '../../src/platform/endorse/signing-keys.js';
import { issueToken, nativeProfile, SORACOM_PROFILE } from '../../src/platform/endorse/tokens.js';
import { decode, forgeries } from './forge.js';

const ISS = 'simtrust';
const AUD = 'simtrust-endorse-audience';
const identity = { simId: 'sim-1', imsi: '001010000000001', imei: '490154203237518', msisdn: '819000000001' };
/** The operator the platform issues the test tokens for (native tokens carry it in the claim). */
const OPERATOR = 'OP0000000001';
const config: EndorseConfig = {
  ...DEFAULT_ENDORSE_CONFIG,
  enabled: true,
  parametersToEndorse: { simId: true, imsi: true, imei: true, msisdn: true, requestParameters: true },
};

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicJwk(publicKey);
  const kid = jwkThumbprint('RS256', jwk);
  return {
    kid,
    privateKey,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    jwk: { ...jwk, kid, alg: 'RS256', use: 'sig' },
    signing: { kid, compatKid: compatKidOf(kid), alg: 'RS256' as const, privateKey },
  };
}

const platformKey = keyPair();
const otherKey = keyPair();
const mint = async (over: Partial<EndorseConfig> = {}, params?: Record<string, string>, nowMs = Date.now()) =>
  (
    await issueToken({
      identity,
      operatorId: OPERATOR,
      config: { ...config, ...over },
      profile: over.compat === 'soracom' ? SORACOM_PROFILE : nativeProfile(ISS, AUD),
      key: platformKey.signing,
      proof: 'session',
      requestParameters: params,
      nowMs,
    })
  ).token;

const verifier = createVerifier({ keys: { keys: [platformKey.jwk] }, issuer: ISS, audience: AUD });

describe('createVerifier', () => {
  it('returns the typed claims of a genuine token', async () => {
    const t = await verifier.verify(await mint({}, { username: 'sora' }));
    expect(t.sim).toEqual({ ...identity, operatorId: OPERATOR, requestParameters: { username: 'sora' } });
    expect(t.header).toEqual({ alg: 'RS256', kid: platformKey.kid });
    expect(t.claimName).toBe('simtrust-endorse-claim');
    expect(t.amr).toEqual(['sim-session']);
    expect(t.nbf).toBe(t.iat - 60);
    expect(t.exp).toBe(t.iat + config.tokenTimeoutSeconds);
    expect(t.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("emits SORACOM Endorse's exact constants with compat: soracom", async () => {
    const token = await mint({ compat: 'soracom' });
    const { header, payload } = decode(token);
    expect(header).toEqual({ kid: platformKey.signing.compatKid, alg: 'RS256' });
    expect(header.kid).toMatch(/^v1-[0-9a-f]{32}-x509\.pem$/);
    expect(payload).toMatchObject({
      iss: 'https://soracom.io',
      aud: 'soracom-endorse-audience',
      sub: 'soracom-endorse',
      'soracom-endorse-claim': { imsi: identity.imsi, imei: identity.imei },
    });
    const soracom = createVerifier({
      keys: { keys: [{ ...platformKey.jwk, kid: platformKey.signing.compatKid }] },
      issuer: 'https://soracom.io',
      audience: 'soracom-endorse-audience',
    });
    expect((await soracom.verify(token)).claimName).toBe('soracom-endorse-claim');
  });

  it('refuses every forgery with its reason code', async () => {
    // Threat: a client presents a token it made or altered to pass as a registered SIM.
    const forged = forgeries({
      genuine: await mint(),
      platformKey: platformKey.signing,
      publicKeyPem: platformKey.publicKeyPem,
      otherKey,
    });
    const expected: Record<string, SimTokenErrorCode> = {
      'alg none': 'TOKEN_ALGORITHM_NOT_ALLOWED',
      'HS256 keyed with the public key': 'TOKEN_ALGORITHM_NOT_ALLOWED',
      expired: 'TOKEN_EXPIRED',
      'not yet valid': 'TOKEN_NOT_YET_VALID',
      'wrong aud': 'TOKEN_AUDIENCE_INVALID',
      'wrong iss': 'TOKEN_ISSUER_INVALID',
      'tampered payload': 'TOKEN_SIGNATURE_INVALID',
      'unknown kid': 'TOKEN_KEY_NOT_FOUND',
      "another platform's key": 'TOKEN_KEY_NOT_FOUND',
      "another platform's key under our kid": 'TOKEN_SIGNATURE_INVALID',
    };
    for (const [name, token] of Object.entries(forged)) {
      await expect(verifier.verify(token), name).rejects.toMatchObject({ code: expected[name] });
    }
    await expect(verifier.verify('')).rejects.toMatchObject({ code: 'TOKEN_MISSING' });
    await expect(verifier.verify('a.b')).rejects.toMatchObject({ code: 'TOKEN_MALFORMED' });
    await expect(verifier.verify('x'.repeat(20_000))).rejects.toMatchObject({ code: 'TOKEN_MALFORMED' });
  });

  it('pins the algorithm: an ES256-only verifier refuses RS256, and none/HS256 cannot be configured', async () => {
    const es = createVerifier({
      keys: { keys: [platformKey.jwk] },
      issuer: ISS,
      audience: AUD,
      algorithms: ['ES256'],
    });
    await expect(es.verify(await mint())).rejects.toMatchObject({ code: 'TOKEN_ALGORITHM_NOT_ALLOWED' });
    for (const bad of [['none'], ['HS256'], []]) {
      expect(() =>
        createVerifier({ keys: { keys: [] }, issuer: ISS, audience: AUD, algorithms: bad as never }),
      ).toThrow(TypeError);
    }
    expect(() => createVerifier({ issuer: ISS, audience: AUD })).toThrow(/jwksUrl or keys/);
  });

  it('honours clockTolerance around exp', async () => {
    const token = await mint({ tokenTimeoutSeconds: 60 });
    const iat = decode(token).payload.iat as number;
    const at = (s: number) =>
      createVerifier({
        keys: { keys: [platformKey.jwk] },
        issuer: ISS,
        audience: AUD,
        clockTolerance: 10,
        now: () => s * 1000,
      });
    await expect(at(iat + 65).verify(token)).resolves.toBeDefined();
    await expect(at(iat + 75).verify(token)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
  });
});

describe('operatorId pinning', () => {
  // Threat: on a multi-tenant platform, a device of one operator presents its genuine token to a
  // server of another operator; signature, issuer and audience alone may not tell them apart.
  const pinned = createVerifier({
    keys: { keys: [platformKey.jwk] },
    issuer: ISS,
    audience: AUD,
    operatorId: OPERATOR,
  });
  /** A genuine token re-signed by the platform key with the claim's operatorId set (or removed). */
  const withOperator = async (operatorId: unknown) => {
    const { header, payload } = decode(await mint());
    const { operatorId: _, ...claim } = payload['simtrust-endorse-claim'] as Record<string, unknown>;
    return signCompact('RS256', platformKey.privateKey, header, {
      ...payload,
      'simtrust-endorse-claim': operatorId === undefined ? claim : { ...claim, operatorId },
    });
  };

  it("accepts the pinned operator's token and returns its operatorId", async () => {
    // The platform puts the SIM's operator in native tokens.
    expect((await pinned.verify(await mint())).sim.operatorId).toBe(OPERATOR);
    const t = await pinned.verify(await withOperator(OPERATOR));
    expect(t.sim.operatorId).toBe(OPERATOR);
    expect(t.sim.imsi).toBe(identity.imsi);
    // Unpinned verifiers accept any operator's token, and tokens without one, as before.
    expect((await verifier.verify(await withOperator('OP0000000002'))).sim.operatorId).toBe('OP0000000002');
    expect((await verifier.verify(await withOperator(undefined))).sim.operatorId).toBeUndefined();
  });

  it("refuses another operator's token, and one that names no operator, with TOKEN_OPERATOR_INVALID", async () => {
    for (const other of ['OP0000000002', `${OPERATOR} `, OPERATOR.toLowerCase(), undefined]) {
      await expect(pinned.verify(await withOperator(other)), String(other)).rejects.toMatchObject({
        code: 'TOKEN_OPERATOR_INVALID',
      });
    }
    // The checks before it still come first: a forged token is refused for what is wrong with it.
    const forged = forgeries({
      genuine: await withOperator(OPERATOR),
      platformKey: platformKey.signing,
      publicKeyPem: platformKey.publicKeyPem,
      otherKey,
    });
    await expect(pinned.verify(forged['tampered payload']!)).rejects.toMatchObject({
      code: 'TOKEN_SIGNATURE_INVALID',
    });
  });

  it('refuses every operatorId but the pinned one (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 70 }), fc.string({ unit: 'grapheme', maxLength: 70 }), fc.anything()),
        async (claimed) => {
          fc.pre(claimed !== OPERATOR);
          const refused = pinned.verify(await withOperator(claimed));
          await expect(refused).rejects.toMatchObject({
            code: expect.stringMatching(/^TOKEN_(OPERATOR|CLAIM)_INVALID$/),
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses a malformed operatorId claim and an unusable operatorId option', async () => {
    for (const bad of [42, '', 'x'.repeat(65), { id: OPERATOR }]) {
      await expect(verifier.verify(await withOperator(bad)), JSON.stringify(bad)).rejects.toMatchObject({
        code: 'TOKEN_CLAIM_INVALID',
      });
    }
    for (const bad of ['', 'x'.repeat(65), 7]) {
      expect(() =>
        createVerifier({ keys: { keys: [] }, issuer: ISS, audience: AUD, operatorId: bad as string }),
      ).toThrow(/operatorId/);
    }
  });

  it('leaves the SORACOM-compatible profile unchanged, and a pinned verifier refuses it (no operator in it)', async () => {
    const token = await mint({ compat: 'soracom' });
    const keys = { keys: [{ ...platformKey.jwk, kid: platformKey.signing.compatKid }] };
    const soracom = { keys, issuer: 'https://soracom.io', audience: 'soracom-endorse-audience' };
    const t = await createVerifier(soracom).verify(token);
    expect([t.claimName, t.sim.operatorId]).toEqual(['soracom-endorse-claim', undefined]);
    await expect(createVerifier({ ...soracom, operatorId: OPERATOR }).verify(token)).rejects.toMatchObject({
      code: 'TOKEN_OPERATOR_INVALID',
    });
  });

  it('the middleware answers 401 TOKEN_OPERATOR_INVALID', async () => {
    const app = Fastify();
    app.get('/data', { preHandler: requireFastify({ verifier: pinned }) }, async () => ({ ok: true }));
    const call = async (operatorId: string) =>
      app.inject({ url: '/data', headers: { authorization: `Bearer ${await withOperator(operatorId)}` } });
    expect((await call(OPERATOR)).statusCode).toBe(200);
    const other = await call('OP0000000002');
    expect([other.statusCode, other.json().code]).toEqual([401, 'TOKEN_OPERATOR_INVALID']);
    await app.close();
  });
});

describe('JWKS fetching', () => {
  let server: Server;
  let fetches = 0;
  let published = [platformKey.jwk];
  let url = '';
  beforeAll(async () => {
    server = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: published }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('caches the JWKS and refetches on an unknown kid at a bounded rate', async () => {
    // Threat: a flood of tokens with made-up kids turns the verifier into a JWKS-fetching amplifier.
    const v = createVerifier({ jwksUrl: url, issuer: ISS, audience: AUD, refetchCooldownMs: 60_000 });
    const token = await mint();
    for (let i = 0; i < 5; i++) await v.verify(token);
    expect(fetches).toBe(1);
    const forged = forgeries({
      genuine: token,
      platformKey: platformKey.signing,
      publicKeyPem: '',
      otherKey,
    });
    for (let i = 0; i < 20; i++) {
      await expect(v.verify(forged['unknown kid']!)).rejects.toMatchObject({ code: 'TOKEN_KEY_NOT_FOUND' });
    }
    expect(fetches).toBe(1);
    // A rotated key appears in the JWKS: a verifier without cooldown picks it up on first sight.
    const fresh = createVerifier({ jwksUrl: url, issuer: ISS, audience: AUD, refetchCooldownMs: 0 });
    await fresh.verify(token);
    const before = fetches;
    published = [platformKey.jwk, otherKey.jwk];
    const byOther = (
      await issueToken({
        identity,
        operatorId: OPERATOR,
        config,
        profile: nativeProfile(ISS, AUD),
        key: otherKey.signing,
        proof: 'aka',
        requestParameters: undefined,
        nowMs: Date.now(),
      })
    ).token;
    expect((await fresh.verify(byOther)).amr).toEqual(['sim-aka']);
    expect(fetches).toBe(before + 1);
  });

  it('reports an unreachable JWKS as TOKEN_KEYS_UNAVAILABLE', async () => {
    const v = createVerifier({ jwksUrl: 'http://127.0.0.1:1/jwks.json', issuer: ISS, audience: AUD });
    await expect(v.verify(await mint())).rejects.toMatchObject({ code: 'TOKEN_KEYS_UNAVAILABLE' });
  });
});

describe('requireSimToken middleware', () => {
  const registered = [{ imsi: identity.imsi, imei: identity.imei }];
  const movedSim = async () =>
    (
      await issueToken({
        identity: { ...identity, imei: '356938035643809' },
        operatorId: OPERATOR,
        config,
        profile: nativeProfile(ISS, AUD),
        key: platformKey.signing,
        proof: 'session',
        requestParameters: undefined,
        nowMs: Date.now(),
      })
    ).token;

  it('Fastify: admits the registered IMSI+IMEI pair, 401 with a reason code otherwise', async () => {
    const app = Fastify();
    app.get('/data', { preHandler: requireFastify({ verifier, allow: registered }) }, async (request) => ({
      imsi: request.simToken?.sim.imsi,
    }));
    const call = (token?: string) =>
      app.inject({ url: '/data', headers: token ? { authorization: `Bearer ${token}` } : {} });
    const ok = await call(await mint());
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ imsi: identity.imsi });
    const moved = await call(await movedSim());
    expect([moved.statusCode, moved.json().code]).toEqual([401, 'TOKEN_NOT_ALLOWED']);
    const none = await call();
    expect([none.statusCode, none.json().code]).toEqual([401, 'TOKEN_MISSING']);
    expect(none.headers['www-authenticate']).toContain('invalid_token');
    const viaQuery = await app.inject({ url: `/data?simtrust_endorse_token=${await mint()}` });
    expect(viaQuery.statusCode).toBe(200);
    await app.close();
  });

  it('Express: the same rules, and a callback allow rule', async () => {
    const app = express();
    app.get('/data', requireExpress({ verifier, allow: registered }), (_req, res) => {
      res.json({ imsi: res.locals.simToken.sim.imsi });
    });
    app.get(
      '/callback',
      requireExpress({
        verifier,
        allow: async (t, req) => t.sim.requestParameters?.username === req.query.user,
      }),
      (_req, res) => {
        res.json({ ok: true });
      },
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = (path: string, token?: string) =>
      fetch(base + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    try {
      const ok = await get('/data', await mint());
      expect([ok.status, await ok.json()]).toEqual([200, { imsi: identity.imsi }]);
      const moved = await get('/data', await movedSim());
      expect([moved.status, ((await moved.json()) as { code: string }).code]).toEqual([
        401,
        'TOKEN_NOT_ALLOWED',
      ]);
      const expired = await get('/data', await mint({}, undefined, Date.now() - 3_600_000));
      expect([expired.status, ((await expired.json()) as { code: string }).code]).toEqual([
        401,
        'TOKEN_EXPIRED',
      ]);
      expect((await get('/callback?user=sora', await mint({}, { username: 'sora' }))).status).toBe(200);
      expect((await get('/callback?user=sora', await mint({}, { username: 'eve' }))).status).toBe(401);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
