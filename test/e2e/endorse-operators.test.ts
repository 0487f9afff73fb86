// Issue 11 §3: SIM-token signing keys, issuer and JWKS per operator. Two operators on one platform,
// each with a SIM (a software card proving itself over AKA, as a device on Wi-Fi does) and a
// verifier of its own: plain jose with the operator's JWKS URL and issuer, as an application
// written without simtrust code would verify.

import fc from 'fast-check';
import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../src/platform/audit/audit-log.js';
import { ROTATE_OPERATION } from '../../src/platform/endorse/signing-keys.js';
import {
  addOperator,
  type CardSim,
  createCardSim,
  createEndorseGroup,
  type EndorseWorld,
  httpFrom,
  postJson,
  runAka,
  startEndorseWorld,
  type Tenant,
} from './endorse-fixture.js';

const WIFI = '127.0.0.78';
const AUD = 'simtrust-endorse-audience';
const SORACOM = { issuer: 'https://soracom.io', audience: 'soracom-endorse-audience' };

let world: EndorseWorld;
let a: Tenant;
let b: Tenant;
let simA: CardSim;
let simB: CardSim;
let soracomA: CardSim;
let soracomB: CardSim;

/** A token for `sim` through the AKA challenge of the device listener. */
async function akaToken(sim: CardSim): Promise<string> {
  const challenge = await postJson(WIFI, `${world.deviceUrl}/v1/endorse/challenges`, { imsi: sim.imsi });
  expect(challenge.status).toBe(201);
  const c = challenge.json<{ challengeId: string; rand: string; autn: string }>();
  const answer = await postJson(
    WIFI,
    `${world.deviceUrl}/v1/endorse/challenges/${c.challengeId}/response`,
    runAka(sim, c),
  );
  expect(answer.status, answer.body).toBe(200);
  return answer.json<{ token: string }>().token;
}

/** An application's verifier for one operator's native tokens: its JWKS, its issuer, its claim. */
function verifierOf(tenant: Tenant, profile: 'native' | 'soracom' = 'native') {
  // No refetch cool-down: a rotated key is fetched at once (the test does not wait on a clock).
  const keys = createRemoteJWKSet(new URL(tenant.jwksUrl), { cooldownDuration: 0 });
  return async (token: string): Promise<JWTPayload> => {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      ...(profile === 'native' ? { issuer: tenant.issuer, audience: AUD } : SORACOM),
    });
    if (profile === 'native') {
      const claim = payload['simtrust-endorse-claim'] as Record<string, unknown> | undefined;
      if (claim?.operatorId !== tenant.operatorId) throw new Error('token of another operator');
    }
    return payload;
  };
}

const jwksOf = async (tenant: Tenant) =>
  (await httpFrom('127.0.0.1', tenant.jwksUrl)).json<{ keys: Array<{ kid: string }> }>();

beforeAll(async () => {
  world = await startEndorseWorld();
  a = world;
  b = await addOperator(world);
  for (const tenant of [a, b]) {
    const native = await createEndorseGroup(world, { enabled: true, algorithm: 'ES256' }, tenant);
    const soracom = await createEndorseGroup(world, { enabled: true, compat: 'soracom' }, tenant);
    const sim = await createCardSim(world, { groupId: native, tenant });
    const compat = await createCardSim(world, { groupId: soracom, tenant });
    if (tenant === a) [simA, soracomA] = [sim, compat];
    else [simB, soracomB] = [sim, compat];
  }
});
afterAll(() => world?.close());

describe('issue 11: signing keys, issuer and JWKS per operator', () => {
  it("neither operator's verifier accepts the other's token", async () => {
    // Threat: an application that trusts operator B's JWKS for B's SIMs accepts a token that
    // vouches for one of operator A's SIMs (and the reverse).
    const [tokenA, tokenB] = [await akaToken(simA), await akaToken(simB)];
    const [verifyA, verifyB] = [verifierOf(a), verifierOf(b)];
    const payloadA = await verifyA(tokenA);
    const payloadB = await verifyB(tokenB);
    expect(payloadA).toMatchObject({
      iss: `simtrust/operators/${a.operatorId}`,
      'simtrust-endorse-claim': { imsi: simA.imsi, operatorId: a.operatorId },
    });
    expect(payloadB).toMatchObject({
      iss: `simtrust/operators/${b.operatorId}`,
      'simtrust-endorse-claim': { imsi: simB.imsi, operatorId: b.operatorId },
    });
    // Another operator's key is not in the JWKS at all.
    await expect(verifyA(tokenB)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    await expect(verifyB(tokenA)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    // Even a verifier handed the wrong key set refuses: the issuer names the operator.
    const confused = createRemoteJWKSet(new URL(b.jwksUrl));
    await expect(
      jwtVerify(tokenB, confused, { issuer: a.issuer, audience: AUD, algorithms: ['ES256'] }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' });
    // The two JWKS share no key.
    const kidsA = (await jwksOf(a)).keys.map((k) => k.kid);
    expect((await jwksOf(b)).keys.some((k) => kidsA.includes(k.kid))).toBe(false);
  });

  it('SORACOM-profile tokens keep their shape and are still kept apart by the JWKS and PEM URLs', async () => {
    // Threat: SORACOM-shaped tokens carry the same issuer and audience for every operator, so an
    // operator's JWKS or certificate URL is all that keeps another tenant's token out.
    const [tokenA, tokenB] = [await akaToken(soracomA), await akaToken(soracomB)];
    const payloadA = await verifierOf(a, 'soracom')(tokenA);
    expect(payloadA).toMatchObject({ iss: SORACOM.issuer, aud: SORACOM.audience });
    expect(payloadA['soracom-endorse-claim']).toEqual({ imsi: soracomA.imsi });
    await expect(verifierOf(a, 'soracom')(tokenB)).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    await expect(verifierOf(b, 'soracom')(tokenA)).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
    // SORACOM's flow downloads the PEM named by kid: only under the kid's own operator.
    const kidB = String(decodeProtectedHeader(tokenB).kid);
    const own = await httpFrom(
      '127.0.0.1',
      `${world.deviceUrl}/v1/operators/${b.operatorId}/endorse/keys/${kidB}`,
    );
    expect(own.body).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const cross = await httpFrom(
      '127.0.0.1',
      `${world.deviceUrl}/v1/operators/${a.operatorId}/endorse/keys/${kidB}`,
    );
    expect([cross.status, cross.json().code]).toEqual([404, 'ERR_ENDORSE_KEY_NOT_FOUND']);
  });

  it("B's rotation leaves A's keys and JWKS unchanged, is only in B's audit log, and A's emergency rotation works after it", async () => {
    // Threat: one operator rotates the keys another relies on; the other's own emergency rotation
    // then fails with ERR_ENDORSE_KEY_PENDING and its audit log does not show why.
    const keysA = await world.platform.endorse.keys.list(a.operatorId);
    const jwksA = await jwksOf(a);
    const rotatedB = await world.platform.endorse.rotateKeys(b.ctx(ROTATE_OPERATION));
    expect(rotatedB.map((k) => k.state)).toEqual(['pending', 'pending', 'pending']);
    expect(await world.platform.endorse.keys.list(a.operatorId)).toEqual(keysA);
    expect(await jwksOf(a)).toEqual(jwksA);
    const kidsB = (await jwksOf(b)).keys.map((k) => k.kid);
    for (const k of rotatedB) expect(kidsB).toContain(k.kid);

    const audit = async (tenant: Tenant) =>
      (await listAudit(world.db.store.db, tenant.operatorId, { operationId: ROTATE_OPERATION, limit: 10 }))
        .records;
    expect((await audit(b)).map((r) => r.detail.kids)).toEqual([rotatedB.map((k) => k.kid)]);
    expect(await audit(a)).toEqual([]);

    // A's emergency rotation: the successor signs at once, and A's verifier accepts its tokens.
    const verifyA = verifierOf(a);
    const before = await akaToken(simA);
    await verifyA(before);
    const [successor] = await world.platform.endorse.rotateKeys(a.ctx(ROTATE_OPERATION), ['ES256'], 0);
    expect(successor?.state).toBe('current');
    const after = await akaToken(simA);
    expect(decodeProtectedHeader(after).kid).toBe(successor?.kid);
    await expect(verifyA(after)).resolves.toMatchObject({ iss: a.issuer });
    // The token signed just before stays valid: the replaced key is still published.
    await expect(verifyA(before)).resolves.toBeDefined();
    expect((await audit(a)).map((r) => r.detail.kids)).toEqual([[successor?.kid]]);
    // B's verifier still refuses A's token signed by the new key.
    await expect(verifierOf(b)(after)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('the operator-less URLs refuse on a multi-operator platform instead of picking a tenant', async () => {
    // Threat: /.well-known/jwks.json served one operator's keys (or all of them) to verifiers of
    // every operator.
    const jwks = await httpFrom('127.0.0.1', `${world.deviceUrl}/.well-known/jwks.json`);
    expect([jwks.status, jwks.json().code]).toEqual([404, 'ERR_ENDORSE_OPERATOR_REQUIRED']);
    expect(jwks.json().message).toContain('/v1/operators/');
    const kid = (await jwksOf(a)).keys[0]?.kid;
    const pem = await httpFrom('127.0.0.1', `${world.deviceUrl}/v1/endorse/keys/${kid}`);
    expect([pem.status, pem.json().code]).toEqual([404, 'ERR_ENDORSE_OPERATOR_REQUIRED']);
  });

  it('a hostile operator id in the JWKS path finds no keys and makes none', async () => {
    // Threat: the path's operator id is a lookup key; made-up, injected or oversized values must
    // neither reach another operator's keys nor create keys for a tenant that does not exist.
    const count = async () =>
      (await world.db.store.db.selectFrom('endorse_signing_keys').select('kid').execute()).length;
    const rows = await count();
    const known = new Set([a.operatorId, b.operatorId]);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.constantFrom("' or 1=1 --", '%00', '..', 'platform', `${a.operatorId} `, `${a.operatorId}/..`),
          fc.stringMatching(/^OP[0-9]{10}$/),
        ),
        async (id) => {
          const r = await httpFrom(
            '127.0.0.1',
            `${world.deviceUrl}/v1/operators/${encodeURIComponent(id)}/endorse/jwks.json`,
          );
          if (known.has(id)) return;
          expect([400, 404], `${id} → ${r.status} ${r.body}`).toContain(r.status);
          expect(r.body).not.toContain('"keys"');
        },
      ),
      { numRuns: 150, seed: 11 },
    );
    expect(await count()).toBe(rows);
  });
});
