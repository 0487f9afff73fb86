// AKA challenge mode end to end: a software card answers RAND/AUTN that the device listener hands
// out (the device is on Wi-Fi only: no session), and gets a token that records `amr: sim-aka`.
// Including a resynchronisation, and the refusals: replayed, late, wrong, too many attempts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqnFromNumber } from '../../src/crypto/milenage.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createVerifier } from '../../src/sdk/verify.js';
import {
  type CardSim,
  createCardSim,
  createEndorseGroup,
  type EndorseWorld,
  postJson,
  runAka,
  startEndorseWorld,
} from './endorse-fixture.js';

// A Wi-Fi address that owns no data session.
const WIFI = '127.0.0.77';

const clock = new ManualClock(Date.now());
let world: EndorseWorld;
let groupId: string;

const start = (imsi: string) => postJson(WIFI, `${world.deviceUrl}/v1/endorse/challenges`, { imsi });
const answer = (id: string, body: unknown) =>
  postJson(WIFI, `${world.deviceUrl}/v1/endorse/challenges/${id}/response`, body);
const verifier = () =>
  createVerifier({
    jwksUrl: world.jwksUrl,
    issuer: world.issuer,
    audience: 'simtrust-endorse-audience',
    now: () => clock.now(),
  });

async function challenge(sim: CardSim) {
  const r = await start(sim.imsi);
  expect(r.status).toBe(201);
  return r.json<{ challengeId: string; rand: string; autn: string }>();
}

beforeAll(async () => {
  world = await startEndorseWorld({ clock });
  groupId = await createEndorseGroup(world, {
    enabled: true,
    parametersToEndorse: { imsi: true, imei: true, simId: true, msisdn: true },
  });
});
afterAll(() => world.close());

describe('AKA challenge over the device listener', () => {
  it('a software card answers the challenge and gets a token with amr sim-aka', async () => {
    const sim = await createCardSim(world, { groupId });
    const c = await challenge(sim);
    expect(c.rand).toMatch(/^[0-9a-f]{32}$/);
    expect(c.autn).toMatch(/^[0-9a-f]{32}$/);
    const res = runAka(sim, c);
    expect(res).toHaveProperty('res');
    const r = await answer(c.challengeId, res);
    expect(r.status).toBe(200);
    const token = await verifier().verify(r.json<{ token: string }>().token);
    expect(token.amr).toEqual(['sim-aka']);
    // No IMEI: nothing in an AKA run proves which device the SIM sits in.
    expect(token.sim).toEqual({
      imsi: sim.imsi,
      simId: sim.simId,
      msisdn: sim.msisdn,
      operatorId: world.operatorId,
    });

    // Threat: an eavesdropper replays the device's answer to get a second token.
    const replay = await answer(c.challengeId, res);
    expect([replay.status, replay.json().code]).toEqual([404, 'ERR_ENDORSE_CHALLENGE_INVALID']);
  });

  it('resynchronises a card that is ahead of the AuC (AUTS), then issues the token', async () => {
    const sim = await createCardSim(world, { groupId, acceptedSqn: sqnFromNumber(5_000_000 * 32) });
    const first = await challenge(sim);
    const auts = runAka(sim, first);
    expect(auts).toHaveProperty('auts');
    const resynced = await answer(first.challengeId, auts);
    expect(resynced.status).toBe(201);
    const second = resynced.json<{ challengeId: string; rand: string; autn: string }>();
    expect(second.challengeId).not.toBe(first.challengeId);
    const res = runAka(sim, second);
    expect(res).toHaveProperty('res');
    const r = await answer(second.challengeId, res);
    expect(r.status).toBe(200);
    expect((await verifier().verify(r.json<{ token: string }>().token)).sim.imsi).toBe(sim.imsi);
    // The resynchronised challenge is used up too.
    expect((await answer(first.challengeId, auts)).status).toBe(404);
  });

  it('refuses a late answer (after 60 s)', async () => {
    // Threat: an answer captured or delayed is used after the challenge's life.
    const sim = await createCardSim(world, { groupId });
    const c = await challenge(sim);
    const res = runAka(sim, c);
    clock.advance(60_001);
    const r = await answer(c.challengeId, res);
    expect([r.status, r.json().code]).toEqual([404, 'ERR_ENDORSE_CHALLENGE_INVALID']);
  });

  it('counts attempts atomically: 3 per challenge, racing answers included', async () => {
    // Threat: guessing RES by trying many answers on one challenge, in parallel to beat the count.
    const sim = await createCardSim(world, { groupId });
    const c = await challenge(sim);
    const wrong = { res: '00'.repeat(8) };
    const results = await Promise.all(Array.from({ length: 6 }, () => answer(c.challengeId, wrong)));
    const codes = results.map((r) => r.json().code).sort();
    expect(codes).toEqual([
      'ERR_ENDORSE_CHALLENGE_ATTEMPTS',
      'ERR_ENDORSE_CHALLENGE_ATTEMPTS',
      'ERR_ENDORSE_CHALLENGE_ATTEMPTS',
      'ERR_ENDORSE_CHALLENGE_FAILED',
      'ERR_ENDORSE_CHALLENGE_FAILED',
      'ERR_ENDORSE_CHALLENGE_FAILED',
    ]);
    // Even the right answer is refused now.
    const late = await answer(c.challengeId, runAka(sim, c));
    expect([late.status, late.json().code]).toEqual([429, 'ERR_ENDORSE_CHALLENGE_ATTEMPTS']);
  });

  it('two correct answers racing get exactly one token', async () => {
    const sim = await createCardSim(world, { groupId });
    const c = await challenge(sim);
    const res = runAka(sim, c);
    const results = await Promise.all([answer(c.challengeId, res), answer(c.challengeId, res)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 404]);
  });

  it('a forged AUTS costs an attempt and does not move the SQN', async () => {
    const sim = await createCardSim(world, { groupId });
    const c = await challenge(sim);
    const r = await answer(c.challengeId, { auts: 'ab'.repeat(14) });
    expect([r.status, r.json().code]).toEqual([401, 'ERR_ENDORSE_CHALLENGE_FAILED']);
    // The genuine answer still works (the challenge stays open while attempts remain).
    expect((await answer(c.challengeId, runAka(sim, c))).status).toBe(200);
  });

  it('does not tell which IMSIs exist: an unknown IMSI gets a challenge that looks the same', async () => {
    const r = await start('001019999999999');
    expect(r.status).toBe(201);
    const c = r.json<{ challengeId: string; rand: string; autn: string }>();
    expect(c.rand).toMatch(/^[0-9a-f]{32}$/);
    const a = await answer(c.challengeId, { res: '11'.repeat(8) });
    expect([a.status, a.json().code]).toEqual([401, 'ERR_ENDORSE_CHALLENGE_FAILED']);
  });

  it('proves the SIM but refuses a token for a suspended SIM or a group without tokens', async () => {
    const sim = await createCardSim(world, { groupId });
    await world.platform.sims.transition(world.ctx('Sim:suspendSim'), sim.simId, 'suspend');
    const c = await challenge(sim);
    const r = await answer(c.challengeId, runAka(sim, c));
    expect([r.status, r.json().code]).toEqual([403, 'ERR_ENDORSE_SIM_NOT_ACTIVE']);

    const off = await createEndorseGroup(world, { enabled: false });
    const other = await createCardSim(world, { groupId: off });
    const c2 = await challenge(other);
    const r2 = await answer(c2.challengeId, runAka(other, c2));
    expect([r2.status, r2.json().code]).toEqual([403, 'ERR_ENDORSE_DISABLED']);
  });

  it('limits challenges per IMSI per minute', async () => {
    const sim = await createCardSim(world, { groupId });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await start(sim.imsi)).status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.at(-1)).toBe(429);
    clock.advance(60_000);
    expect((await start(sim.imsi)).status).toBe(201);
  });

  it('refuses malformed bodies with a code', async () => {
    for (const body of [{}, { imsi: '12' }, { imsi: '001010000000001', extra: 1 }]) {
      const r = await postJson(WIFI, `${world.deviceUrl}/v1/endorse/challenges`, body);
      expect([r.status, r.json().code]).toEqual([400, 'ERR_VALIDATION']);
    }
    const r = await answer('00000000-0000-0000-0000-000000000000', { res: 'zz' });
    expect([r.status, r.json().code]).toEqual([400, 'ERR_VALIDATION']);
  });
});
