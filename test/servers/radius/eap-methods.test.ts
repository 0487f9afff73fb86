// EAP-AKA, EAP-AKA' and EAP-SIM through the EAP server (src/servers/radius/eap) against the
// simulator's peer with a software card answering over APDUs: full authentication, the MSK both
// sides derive, identity rounds with AT_CHECKCODE, pseudonyms, fast re-authentication, AUTS
// resynchronisation, result indications, a method switch by Nak, and conversations that move
// between instances. Runs on SQLite and PostgreSQL (real AuC and admission).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/lib/hex.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import type { PeerMemory } from '../../../src/simulator/eap-peer.js';
import {
  type Card,
  converse,
  type EapFixture,
  eapFixture,
  REALM,
  request,
  sqnOf,
  statusOf,
} from './eap-fixture.js';

describe("EAP-SIM/AKA/AKA' server", () => {
  let f: EapFixture;
  beforeAll(async () => {
    f = await eapFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  const expectSuccess = (c: Awaited<ReturnType<typeof converse>>) => {
    expect(c.outcome.code, JSON.stringify(f.logs.slice(-3))).toBe('accept');
    expect(c.peerResult?.kind).toBe('success');
    if (c.peerResult?.kind !== 'success') throw new Error('no success');
    // Both ends derived the same MSK (what the NAS gets as MS-MPPE keys and the peer as its PMK).
    expect(c.outcome.msk?.length).toBe(64);
    expect(toHex(c.outcome.msk ?? new Uint8Array())).toBe(toHex(c.peerResult.msk ?? new Uint8Array(1)));
  };

  for (const method of ['aka', 'akaPrime', 'sim'] as const) {
    it(`${method}: full authentication with the permanent identity; the ready SIM becomes active`, async () => {
      const card = await f.card();
      expect(await statusOf(f, card.simId)).toBe('ready');
      const c = await converse(f.handler, f.client(), card, { method, memory: {} });
      expectSuccess(c);
      expect(c.outcome.subscriber).toEqual({ operatorId: f.operatorId, simId: card.simId, imsi: card.imsi });
      expect(c.outcome.userName).toBe(card.imsi);
      expect(c.peer.usedReauth).toBe(false);
      // The challenge came straight after the identity: two round trips.
      expect(c.turns).toHaveLength(method === 'sim' ? 3 : 2);
      expect(await statusOf(f, card.simId)).toBe('active');
      // Every State fits the RADIUS attribute.
      for (const turn of c.turns) expect(turn.outcome.state?.length ?? 0).toBeLessThanOrEqual(253);
    });
  }

  it("EAP-AKA' asks the AuC for the AMF separation bit (the peer refuses a vector without it)", async () => {
    const card = await f.card();
    const c = await converse(f.handler, f.client(), card, { method: 'akaPrime', memory: {} });
    expectSuccess(c);
  });

  for (const method of ['aka', 'akaPrime', 'sim'] as const) {
    it(`${method}: fast re-authentication with the issued identity, counter rising, until a full run`, async () => {
      const memory = {};
      const card = await f.card();
      expectSuccess(await converse(f.handler, f.client(), card, { method, memory }));
      const sqn = await sqnOf(f, card.imsi);
      for (let i = 1; i <= 3; i++) {
        const c = await converse(f.handler, f.client(), card, { method, memory });
        expectSuccess(c);
        expect(c.peer.usedReauth).toBe(true);
        expect(c.peer.memory.reauth?.counter).toBe(i);
        expect(c.turns).toHaveLength(2);
      }
      // Re-authentication uses no vector.
      expect(await sqnOf(f, card.imsi)).toBe(sqn);
    });
  }

  it('a re-authentication identity works once: replaying its final round is refused', async () => {
    const memory = {};
    const card = await f.card();
    expectSuccess(await converse(f.handler, f.client(), card, { method: 'aka', memory }));
    const c = await converse(f.handler, f.client(), card, { method: 'aka', memory });
    expectSuccess(c);
    const last = c.turns.at(-1);
    if (!last) throw new Error('no turn');
    const replay = await f.handler.handle(last.request);
    expect(replay.code).toBe('reject');
  });

  it('stops offering fast re-authentication after eapReauthMaxCount', async () => {
    const server = await f.server({ eapReauthMaxCount: 2 });
    const memory = {};
    const card = await f.card();
    expectSuccess(await converse(server, f.client(), card, { method: 'aka', memory }));
    const kinds: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await converse(server, f.client(), card, { method: 'aka', memory });
      expectSuccess(c);
      kinds.push(c.peer.usedReauth);
    }
    expect(kinds).toEqual([true, true, false, true]);
  });

  it('a pseudonym is accepted in place of the permanent identity', async () => {
    const server = await f.server({ eapReauthSeconds: 0 });
    const memory: { pseudonym?: string } = {};
    const card = await f.card();
    expectSuccess(await converse(server, f.client(), card, { method: 'aka', memory }));
    const pseudonym = memory.pseudonym;
    expect(pseudonym).toMatch(/^2[a-z2-7]{16}$/);
    const c = await converse(server, f.client(), card, { method: 'aka', memory });
    expectSuccess(c);
    expect(new TextDecoder().decode(c.turns[0]?.request.eapMessage.subarray(5))).toBe(
      `${pseudonym}@${REALM}`,
    );
    expect(c.turns).toHaveLength(2);
    // A new full authentication hands out a new pseudonym.
    expect(memory.pseudonym).not.toBe(pseudonym);
  });

  it('an unknown pseudonym gets AT_PERMANENT_ID_REQ, and AT_CHECKCODE covers that round', async () => {
    const card = await f.card();
    const c = await converse(f.handler, f.client(), card, {
      method: 'akaPrime',
      memory: { pseudonym: '7unknownpseudonym' },
    });
    expectSuccess(c);
    expect(c.turns).toHaveLength(3);
  });

  it('an identity without a usable prefix gets AT_ANY_ID_REQ and then the permanent identity', async () => {
    const card = await f.card();
    const c = await converse(f.handler, f.client(), card, {
      method: 'akaPrime',
      memory: {},
      identity: new TextEncoder().encode(`anonymous@${REALM}`),
    });
    expectSuccess(c);
    expect(c.turns).toHaveLength(3);
  });

  it("a peer that only speaks EAP-AKA answers our EAP-AKA' request with a Nak and authenticates with EAP-AKA", async () => {
    const card = await f.card();
    const c = await converse(f.handler, f.client(), card, {
      method: 'aka',
      memory: {},
      identity: new TextEncoder().encode(`anonymous@${REALM}`),
    });
    expectSuccess(c);
  });

  it('a card whose SQN is ahead answers AUTS; the AuC resynchronises and the next challenge succeeds', async () => {
    const card = await f.card({ acceptedSqn: '0000000a0000' });
    const before = await sqnOf(f, card.imsi);
    const c = await converse(f.handler, f.client(), card, { method: 'aka', memory: {} });
    expectSuccess(c);
    expect(c.turns).toHaveLength(3);
    expect(before).toBeLessThan(0xa0000);
    expect(await sqnOf(f, card.imsi)).toBeGreaterThan(0xa0000);
  });

  it('result indication: a protected success notification precedes EAP-Success (full and re-authentication)', async () => {
    for (const method of ['aka', 'sim'] as const) {
      const memory = {};
      const card = await f.card();
      const full = await converse(f.handler, f.client(), card, { method, memory, resultInd: true });
      expectSuccess(full);
      expect(full.turns).toHaveLength(method === 'sim' ? 4 : 3);
      const reauth = await converse(f.handler, f.client(), card, { method, memory, resultInd: true });
      expectSuccess(reauth);
      expect(reauth.peer.usedReauth).toBe(true);
      expect(reauth.turns).toHaveLength(3);
    }
  });

  it('EAP state is carried, not kept: rounds alternate between two server instances', async () => {
    const other = await f.server();
    for (const method of ['aka', 'akaPrime', 'sim'] as const) {
      const memory = {};
      const card = await f.card();
      expectSuccess(
        await converse([f.handler, other], f.client(), card, { method, memory, resultInd: true }),
      );
      expectSuccess(await converse([other, f.handler], f.client(), card, { method, memory }));
    }
  });

  it('works with an identity in an operator realm that is not 3gppnetwork.org (kept as is in State)', async () => {
    const realm = `wifi.${'long-operator-name.'.repeat(3)}example`;
    for (const method of ['akaPrime', 'sim'] as const) {
      const c = await converse(f.handler, f.client(), await f.card(), { method, memory: {}, realm });
      expectSuccess(c);
      for (const turn of c.turns) expect(turn.outcome.state?.length ?? 0).toBeLessThanOrEqual(253);
    }
  });

  it('a peer that refuses the re-authentication counter (AT_COUNTER_TOO_SMALL) falls back to a full run', async () => {
    const memory: PeerMemory = {};
    const card = await f.card();
    expectSuccess(await converse(f.handler, f.client(), card, { method: 'aka', memory }));
    if (memory.reauth === undefined) throw new Error('no re-authentication identity issued');
    memory.reauth.counter = 50;
    const refused = await converse(f.handler, f.client(), card, { method: 'aka', memory });
    expect(refused.outcome.code).toBe('reject');
    expect(f.logs.at(-1)?.fields).toMatchObject({ code: 'PEER_REJECT' });
    const again = await converse(f.handler, f.client(), card, { method: 'aka', memory });
    expectSuccess(again);
    expect(again.peer.usedReauth).toBe(false);
  });

  it('a Client-Error from the peer ends the conversation with EAP-Failure', async () => {
    const card = await f.card();
    const c = await converse(f.handler, f.client(), card, { method: 'akaPrime', memory: {} });
    const challenge = c.turns[0]?.outcome;
    if (!challenge?.state) throw new Error('no challenge');
    const id = challenge.eapMessage[1] ?? 0;
    // EAP-Response/AKA'-Client-Error with AT_CLIENT_ERROR_CODE 0 (RFC 4187 §9.9).
    const clientError = Uint8Array.of(2, id, 0, 12, 50, 14, 0, 0, 22, 1, 0, 0);
    const r = await f.handler.handle(request(f.client(), clientError, challenge.state));
    expect(r.code).toBe('reject');
    expect([...r.eapMessage]).toEqual([4, id, 0, 4]);
    expect(f.logs.at(-1)?.fields).toMatchObject({ code: 'CLIENT_ERROR' });
  });

  it('EAP-Start (an empty EAP-Message) gets EAP-Request/Identity', async () => {
    const outcome = await f.handler.handle({
      packet: { code: 1, identifier: 0, authenticator: new Uint8Array(16), attributes: [] },
      eapMessage: new Uint8Array(0),
      state: undefined,
      client: f.client(),
      sourceAddress: '127.0.0.1',
    });
    expect(outcome.code).toBe('challenge');
    expect([...outcome.eapMessage.subarray(0, 1)]).toEqual([1]);
    expect(outcome.eapMessage[4]).toBe(1);
    expect(outcome.state).toBeDefined();
  });

  it('logs each decision with the IMSI and never a key', async () => {
    const card = await f.card();
    expectSuccess(await converse(f.handler, f.client(), card, { method: 'aka', memory: {} }));
    const line = f.logs.filter((l) => l.fields.imsi === card.imsi).at(-1);
    expect(line?.fields).toMatchObject({ eap: 'accept', method: 'aka', simId: card.simId });
    const text = JSON.stringify(f.logs);
    expect(text).not.toContain(card.file.ki);
  });

  it('an identity moved to ready again stays usable after a suspension is lifted', async () => {
    const card: Card = await f.card();
    expectSuccess(await converse(f.handler, f.client(), card, { method: 'aka', memory: {} }));
    const ctx = systemContext(f.operatorId, 'Sim:suspendSim', 'test');
    await f.platform.sims.transition(ctx, card.simId, 'suspend');
    await f.platform.sims.transition(ctx, card.simId, 'activate');
    expectSuccess(await converse(f.handler, f.client(), card, { method: 'aka', memory: {} }));
  });
});
