// Rotation: tokens issued before, during and after a key rotation all verify through the SDK until
// they expire. The successor is in the JWKS before it signs; the old key stays published until its
// last token has expired, then leaves.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { createVerifier } from '../../src/sdk/verify.js';
import { decode } from '../sdk/forge.js';
import {
  attach,
  createCardSim,
  createEndorseGroup,
  type DeviceSession,
  type EndorseWorld,
  httpFrom,
  startEndorseWorld,
} from './endorse-fixture.js';

const LEAD_S = 600;
const TIMEOUT_S = 900;
const clock = new ManualClock(Date.now());
let world: EndorseWorld;
let session: DeviceSession;

const token = async () =>
  (await httpFrom(session.address, `${world.deviceUrl}/`)).json<{ token: string }>().token;
const kidOf = (t: string) => String(decode(t).header.kid);
const published = async () =>
  (await httpFrom('127.0.0.1', world.jwksUrl))
    .json<{ keys: Array<{ kid: string }> }>()
    .keys.map((k) => k.kid);
const verifier = () =>
  createVerifier({
    jwksUrl: world.jwksUrl,
    issuer: world.issuer,
    audience: 'simtrust-endorse-audience',
    now: () => clock.now(),
    refetchCooldownMs: 0,
  });

beforeAll(async () => {
  world = await startEndorseWorld({ clock, config: { endorseKeyPublishLeadSeconds: LEAD_S } });
  const groupId = await createEndorseGroup(world, { enabled: true, tokenTimeoutSeconds: TIMEOUT_S });
  const sim = await createCardSim(world, { groupId });
  session = await attach(world, sim, '490154203237518');
});
afterAll(() => world.close());

describe('key rotation', () => {
  it('before, during and after: every token verifies until it expires', async () => {
    const v = verifier();
    const before = await token();
    await v.verify(before);

    const [successor] = await world.platform.endorse.rotateKeys(world.ctx('Endorse:rotateEndorseKeys'), [
      'RS256',
    ]);
    expect(successor?.state).toBe('pending');
    // Published before it signs: a verifier that fetches the JWKS now already knows it.
    expect(await published()).toContain(successor!.kid);

    clock.advance(300_000);
    const during = await token();
    expect(kidOf(during)).toBe(kidOf(before));

    clock.advance(LEAD_S * 1000 - 300_000);
    const after = await token();
    expect(kidOf(after)).toBe(successor!.kid);

    // All three verify, through a verifier that cached the JWKS before the rotation…
    for (const t of [before, during, after]) await expect(v.verify(t)).resolves.toBeDefined();
    // …and through a new one.
    for (const t of [before, during, after]) await expect(verifier().verify(t)).resolves.toBeDefined();

    // `before` expires first; `during` (signed by the old key) still verifies until its own exp.
    clock.advance((TIMEOUT_S - 290) * 1000);
    await expect(verifier().verify(before)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    await expect(verifier().verify(during)).resolves.toBeDefined();
    expect(await published()).toContain(kidOf(during));
    clock.advance(300_000);
    await expect(verifier().verify(during)).rejects.toMatchObject({ code: 'TOKEN_EXPIRED' });
    await expect(verifier().verify(after)).resolves.toBeDefined();
  });

  it('the old key leaves the JWKS once no token it signed can still be valid, and the schedule removes it', async () => {
    const keys = await world.platform.endorse.keys.list(world.operatorId);
    const retired = keys.find((k) => k.alg === 'RS256' && k.state === 'retired');
    expect(retired?.unpublishTime).toBeGreaterThan(clock.now());
    clock.set(retired!.unpublishTime!);
    expect(await published()).not.toContain(retired!.kid);
    const pem = await httpFrom('127.0.0.1', `${world.deviceUrl}/v1/endorse/keys/${retired!.kid}`);
    expect([pem.status, pem.json().code]).toEqual([404, 'ERR_ENDORSE_KEY_NOT_FOUND']);
    expect((await world.platform.endorse.keys.runSchedule()).deleted).toBe(1);
    // The current key keeps signing, and its tokens verify.
    await expect(verifier().verify(await token())).resolves.toBeDefined();
  });
});
