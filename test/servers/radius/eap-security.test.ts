// Security of the EAP server. Each test opens with the threat it defends against.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { EapPeer, simOverTerminal } from '../../../src/simulator/eap-peer.js';
import { converse, type EapFixture, eapFixture, REALM, request, sqnOf, statusOf } from './eap-fixture.js';

describe('EAP server security', () => {
  let f: EapFixture;
  beforeAll(async () => {
    f = await eapFixture({ eapFailureLimit: 3 });
  });
  afterAll(async () => {
    await f.close();
  });

  it('a card whose Ki differs from the platform (a cloned or wrongly provisioned SIM) gets no access', async () => {
    const card = await f.card({ platformKi: randomBytes(16).toString('hex') });
    const c = await converse(f.handler, f.client(), card, { method: 'aka', memory: {} });
    expect(c.outcome.code).toBe('reject');
    expect(c.peerResult?.kind).toBe('failure');
    expect(c.outcome.msk).toBeUndefined();
    // The card refused AUTN; the SIM stays ready (only an authenticated SIM is activated).
    expect(await statusOf(f, card.simId)).toBe('ready');
    expect(f.logs.at(-1)?.fields).toMatchObject({ code: 'PEER_REJECT', imsi: card.imsi });
  });

  it('a suspended SIM is refused before any challenge, so it spends no vector', async () => {
    const card = await f.card();
    const ctx = systemContext(f.operatorId, 'Sim:activateSim', 'test');
    await f.platform.sims.transition(ctx, card.simId, 'activate');
    await f.platform.sims.transition(ctx, card.simId, 'suspend');
    const sqn = await sqnOf(f, card.imsi);
    for (const method of ['aka', 'akaPrime', 'sim'] as const) {
      const c = await converse(f.handler, f.client(), card, { method, memory: {} });
      expect(c.outcome.code).toBe('reject');
      // A failure notification (P bit, no AT_MAC) announced the refusal first.
      expect(c.turns).toHaveLength(2);
      expect(f.logs.at(-1)?.fields).toMatchObject({ code: 'ADMISSION' });
    }
    expect(await sqnOf(f, card.imsi)).toBe(sqn);
    const refusals = await f.db.store.db
      .selectFrom('aaa_refusals')
      .select(['code', 'access'])
      .where('sim_id', '=', card.simId)
      .execute();
    expect(refusals[0]).toEqual({ code: 'SIM_NOT_ALLOWED', access: 'wifi' });
  });

  it('an unknown IMSI learns nothing more than a refusal', async () => {
    const card = await f.card();
    const stranger = { ...card, imsi: '001019999999999' };
    const c = await converse(f.handler, f.client(), stranger, { method: 'aka', memory: {} });
    expect(c.outcome.code).toBe('reject');
    expect(f.logs.at(-1)?.fields).toMatchObject({ code: 'UNKNOWN_SUBSCRIBER' });
  });

  it("a NAS of another operator cannot authenticate this operator's SIMs", async () => {
    const card = await f.card();
    const c = await converse(f.handler, f.client('OP0000000000'), card, { method: 'aka', memory: {} });
    expect(c.outcome.code).toBe('reject');
    expect(await statusOf(f, card.simId)).toBe('ready');
  });

  it('a permanent identity whose realm names another home network is refused (forged NAI)', async () => {
    const card = await f.card();
    const c = await converse(f.handler, f.client(), card, {
      method: 'aka',
      memory: {},
      realm: 'wlan.mnc099.mcc999.3gppnetwork.org',
    });
    expect(c.outcome.code).toBe('reject');
    expect(f.logs.at(-1)?.fields).toMatchObject({ code: 'BINDING' });
  });

  it('a tampered, foreign-NAS or expired State does not continue a conversation', async () => {
    const card = await f.card();
    const first = await converse(f.handler, f.client(), card, { method: 'aka', memory: {} });
    const challenge = first.turns[0];
    const final = first.turns[1];
    if (!challenge?.outcome.state || !final) throw new Error('no challenge');
    const tampered = challenge.outcome.state.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    const r1 = await f.handler.handle({ ...final.request, state: tampered });
    expect(r1.code).toBe('reject');
    const otherNas = { ...f.client(), name: 'another-nas' };
    const r2 = await f.handler.handle({ ...final.request, client: otherNas });
    expect(r2.code).toBe('reject');
    expect(f.logs.at(-1)?.fields).toMatchObject({ code: 'STATE' });

    // A challenge answered after eapConversationSeconds.
    const peer = new EapPeer({
      sim: simOverTerminal(card.terminal),
      imsi: card.imsi,
      realm: REALM,
      method: 'aka',
    });
    const challenge2 = await f.handler.handle(request(f.client(), peer.start(3), undefined));
    const answer = peer.respond(challenge2.eapMessage);
    if (answer.kind !== 'respond') throw new Error('peer did not answer');
    f.clock.advance(61_000);
    const late = await f.handler.handle(request(f.client(), answer.packet, challenge2.state));
    expect(late.code).toBe('reject');
    expect(String(f.logs.at(-1)?.message)).toMatch(/timed out/);
  });

  it('the final round of a full authentication completes once (a replayed Access-Request gets no second Accept)', async () => {
    const card = await f.card();
    const c = await converse(f.handler, f.client(), card, { method: 'akaPrime', memory: {} });
    expect(c.outcome.code).toBe('accept');
    const last = c.turns.at(-1);
    if (!last) throw new Error('no turn');
    const replay = await f.handler.handle(last.request);
    expect(replay.code).toBe('reject');
    expect(f.logs.at(-1)?.fields).toMatchObject({ code: 'REPLAY' });
  });

  it('a response altered in transit (AT_MAC no longer verifies) is refused and counted', async () => {
    const card = await f.card();
    const c = await converse(f.handler, f.client(), card, { method: 'aka', memory: {} });
    const final = c.turns.at(-1);
    if (!final) throw new Error('no turn');
    const altered = final.request.eapMessage.slice();
    altered[12] = (altered[12] ?? 0) ^ 0x01; // inside AT_RES
    const r = await f.handler.handle({ ...final.request, eapMessage: altered });
    expect(r.code).toBe('reject');
    expect(f.logs.at(-1)?.fields).toMatchObject({ code: 'AUTHENTICATION' });
  });

  it('after eapFailureLimit failures an IMSI gets no more challenges (no SQN burnt on probing)', async () => {
    const card = await f.card({ platformKi: randomBytes(16).toString('hex') });
    for (let i = 0; i < 3; i++) {
      const c = await converse(f.handler, f.client(), card, { method: 'aka', memory: {} });
      expect(c.outcome.code).toBe('reject');
    }
    const sqn = await sqnOf(f, card.imsi);
    const blocked = await converse(f.handler, f.client(), card, { method: 'aka', memory: {} });
    expect(blocked.outcome.code).toBe('reject');
    expect(f.logs.at(-1)?.fields).toMatchObject({ code: 'ATTEMPTS' });
    expect(await sqnOf(f, card.imsi)).toBe(sqn);
    f.clock.advance(601_000);
    const again = await converse(f.handler, f.client(), card, { method: 'aka', memory: {} });
    expect(f.logs.findLast((l) => l.fields.imsi === card.imsi)?.fields.code).toBe('PEER_REJECT');
    expect(again.turns.length).toBe(2);
  });

  it('an AUTS that does not verify moves no SQN and is counted', async () => {
    const card = await f.card();
    const c = await converse(f.handler, f.client(), card, { method: 'aka', memory: {} });
    const challenge = c.turns[0]?.outcome;
    if (!challenge?.state) throw new Error('no challenge');
    const sqn = await sqnOf(f, card.imsi);
    const id = challenge.eapMessage[1] ?? 0;
    // EAP-Response/AKA-Synchronization-Failure with a random AT_AUTS.
    const syncFailure = Uint8Array.of(2, id, 0, 24, 23, 4, 0, 0, 4, 4, ...randomBytes(14));
    const r = await f.handler.handle(request(f.client(), syncFailure, challenge.state));
    expect(r.code).toBe('reject');
    expect(f.logs.at(-1)?.fields).toMatchObject({ code: 'RESYNC' });
    expect(await sqnOf(f, card.imsi)).toBe(sqn);
  });

  it('any bytes, with or without a State, get an answer and never an exception (fuzz)', async () => {
    const card = await f.card();
    const c = await converse(f.handler, f.client(), card, { method: 'aka', memory: {} });
    const state = c.turns[0]?.outcome.state;
    const seeds = c.turns.map((t) => t.request.eapMessage);
    for (let i = 0; i < 400; i++) {
      const seed = seeds[i % seeds.length] ?? new Uint8Array(8);
      const input =
        i % 3 === 0
          ? new Uint8Array(randomBytes(i % 60))
          : seed.map((b, j) => (j === i % seed.length ? b ^ (1 + (i % 255)) : b));
      const outcome = await f.handler.handle(request(f.client(), input, i % 2 === 0 ? state : undefined));
      expect(['reject', 'challenge']).toContain(outcome.code);
      expect(outcome.msk).toBeUndefined();
    }
  });
});
