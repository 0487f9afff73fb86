// Security acceptance of the tokens. Each forgery below is something an attacker can present to a
// relying server; each must be refused by the SDK *and* by an independent verifier (a plain Node
// script using only jose and the JWKS URL). A genuine token passes both, and its signature checks
// out with the openssl command line against the PEM certificate published for its kid.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/sdk/verify.js';
import { requirePrograms } from '../helpers/external.js';
import { decode, forgeries } from '../sdk/forge.js';
import {
  attach,
  createCardSim,
  createEndorseGroup,
  type EndorseWorld,
  httpFrom,
  startEndorseWorld,
} from './endorse-fixture.js';

const AUD = 'simtrust-endorse-audience';
const VERIFY_SCRIPT = resolve('examples/independent-verifier/verify.mjs');

let world: EndorseWorld;
let otherPlatform: EndorseWorld;
let genuine: string;
let imsi: string;

/** The independent verifier, as a separate Node process (async: this process serves its JWKS). */
function independent(token: string): Promise<{ ok: boolean; code?: string; exit: number | null }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [VERIFY_SCRIPT, world.jwksUrl, world.issuer, AUD, token], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', fail);
    child.on('exit', (exit) => done({ ...(JSON.parse(out) as { ok: boolean; code?: string }), exit }));
  });
}

// What each forgery must be refused as, by the SDK and by plain jose.
const EXPECTED: Record<string, [sdk: string, jose: string]> = {
  'alg none': ['TOKEN_ALGORITHM_NOT_ALLOWED', 'ERR_JOSE_ALG_NOT_ALLOWED'],
  'HS256 keyed with the public key': ['TOKEN_ALGORITHM_NOT_ALLOWED', 'ERR_JOSE_ALG_NOT_ALLOWED'],
  expired: ['TOKEN_EXPIRED', 'ERR_JWT_EXPIRED'],
  'not yet valid': ['TOKEN_NOT_YET_VALID', 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
  'wrong aud': ['TOKEN_AUDIENCE_INVALID', 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
  'wrong iss': ['TOKEN_ISSUER_INVALID', 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
  'tampered payload': ['TOKEN_SIGNATURE_INVALID', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
  'unknown kid': ['TOKEN_KEY_NOT_FOUND', 'ERR_JWKS_NO_MATCHING_KEY'],
  "another platform's key": ['TOKEN_KEY_NOT_FOUND', 'ERR_JWKS_NO_MATCHING_KEY'],
  "another platform's key under our kid": [
    'TOKEN_SIGNATURE_INVALID',
    'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  ],
};

beforeAll(async () => {
  [world, otherPlatform] = await Promise.all([startEndorseWorld(), startEndorseWorld()]);
  const groupId = await createEndorseGroup(world, { enabled: true });
  const sim = await createCardSim(world, { groupId });
  imsi = sim.imsi;
  const session = await attach(world, sim, '490154203237518');
  genuine = (await httpFrom(session.address, `${world.deviceUrl}/`)).json<{ token: string }>().token;
});
afterAll(() => Promise.all([world?.close(), otherPlatform?.close()]));

describe('token forgeries', () => {
  it('a genuine token passes the SDK and the independent verifier', async () => {
    const sdk = createVerifier({ jwksUrl: world.jwksUrl, issuer: world.issuer, audience: AUD });
    expect((await sdk.verify(genuine)).sim.imsi).toBe(imsi);
    const plain = await independent(genuine);
    expect([plain.ok, plain.exit]).toEqual([true, 0]);
  });

  it('every forgery is refused by the SDK and by the independent verifier', async () => {
    // Threat: alg none, HS256 keyed with the public key (algorithm confusion), a token replayed
    // after expiry or before it is valid, a token for another audience or from another issuer, a
    // payload edited after signing, a made-up kid, and a token signed by another platform.
    const current = await world.platform.endorse.keys.current(world.operatorId, 'RS256');
    const pem = (
      await httpFrom(
        '127.0.0.1',
        `${world.deviceUrl}/v1/operators/${world.operatorId}/endorse/keys/${current.kid}`,
      )
    ).body;
    const publicKeyPem = createPublicKey(pem).export({ format: 'pem', type: 'spki' }).toString();
    const theirs = await otherPlatform.platform.endorse.keys.current(otherPlatform.operatorId, 'RS256');
    const forged = forgeries({ genuine, platformKey: current, publicKeyPem, otherKey: theirs });
    expect(Object.keys(forged)).toHaveLength(10);
    const sdk = createVerifier({
      jwksUrl: world.jwksUrl,
      issuer: world.issuer,
      audience: AUD,
      refetchCooldownMs: 0,
    });
    const plain = await Promise.all(Object.values(forged).map((token) => independent(token)));
    for (const [i, [name, token]] of Object.entries(forged).entries()) {
      const [sdkCode, joseCode] = EXPECTED[name] ?? [];
      await expect(sdk.verify(token), name).rejects.toMatchObject({ code: sdkCode });
      expect([plain[i]?.ok, plain[i]?.code, plain[i]?.exit], name).toEqual([false, joseCode, 1]);
    }
  });

  it("the PEM certificate published for the token's kid verifies its signature with openssl", async () => {
    if (!requirePrograms({ openssl: 'openssl' })) return;
    const dir = mkdtempSync(join(tmpdir(), 'simtrust-openssl-'));
    try {
      const { header } = decode(genuine);
      const pem = (
        await httpFrom(
          '127.0.0.1',
          `${world.deviceUrl}/v1/operators/${world.operatorId}/endorse/keys/${String(header.kid)}`,
        )
      ).body;
      const [h, p, s] = genuine.split('.');
      writeFileSync(join(dir, 'cert.pem'), pem);
      writeFileSync(join(dir, 'input'), `${h}.${p}`);
      writeFileSync(join(dir, 'tampered'), `${h}.${p}x`);
      writeFileSync(join(dir, 'sig'), Buffer.from(s ?? '', 'base64url'));
      execFileSync('openssl', [
        'x509',
        '-in',
        join(dir, 'cert.pem'),
        '-pubkey',
        '-noout',
        '-out',
        join(dir, 'pub.pem'),
      ]);
      const verify = (file: string) =>
        spawnSync(
          'openssl',
          [
            'dgst',
            '-sha256',
            '-verify',
            join(dir, 'pub.pem'),
            '-signature',
            join(dir, 'sig'),
            join(dir, file),
          ],
          {
            encoding: 'utf8',
          },
        );
      const ok = verify('input');
      expect([ok.status, ok.stdout.trim()]).toEqual([0, 'Verified OK']);
      const bad = verify('tampered');
      expect(bad.status).toBe(1);
      expect(bad.stdout).toContain('Verification failure');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
