// EAP over the real RADIUS listener (RFC 3579): the simulator's access point relays the peer's
// conversation in Access-Requests (EAP-Message split into 253-octet attributes, State echoed), and
// the MS-MPPE keys of the Access-Accept (RFC 2548) decrypt to the MSK the peer derived.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { type RunningRadius, startRadius } from '../../../src/servers/radius/index.js';
import { authenticateThroughAp } from '../../../src/simulator/access-point.js';
import { EapPeer, type PeerMemory, simOverTerminal } from '../../../src/simulator/eap-peer.js';
import { RadiusClient } from '../../../src/simulator/radius-client.js';
import { type Card, type EapFixture, eapFixture, REALM } from './eap-fixture.js';

describe('EAP through the RADIUS listener', () => {
  let f: EapFixture;
  let radius: RunningRadius;
  let ap: RadiusClient;
  const secret = randomBytes(12).toString('hex');
  const nas = `127.0.${20 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}`;

  beforeAll(async () => {
    f = await eapFixture();
    radius = await startRadius({
      platform: f.platform,
      logger: pino({ level: 'silent' }),
      host: '127.0.0.1',
      authPort: 0,
      acctPort: 0,
    });
    await f.platform.aaa.radiusClients.create(systemContext(f.operatorId, 'Radius:createClient', 'test'), {
      address: nas,
      secret,
      name: 'access-point',
    });
    await radius.server.clients.reload();
    ap = await RadiusClient.open({ host: '127.0.0.1', port: radius.authPort, secret, bindAddress: nas });
  });
  afterAll(async () => {
    ap?.close();
    await radius?.close();
    await f?.close();
  });

  const peer = (card: Card, method: 'sim' | 'aka' | 'akaPrime', memory: PeerMemory, realm = REALM) =>
    new EapPeer({ sim: simOverTerminal(card.terminal), imsi: card.imsi, realm, method, memory });

  for (const method of ['aka', 'akaPrime', 'sim'] as const) {
    it(`${method}: Access-Accept whose MS-MPPE keys are the peer's MSK; then a fast re-authentication`, async () => {
      const card = await f.card();
      const memory: PeerMemory = {};
      const full = await authenticateThroughAp(ap, secret, peer(card, method, memory), {
        userName: 'anonymous',
      });
      expect(full).toMatchObject({ accepted: true, keysMatch: true, roundTrips: method === 'sim' ? 3 : 2 });
      const p = peer(card, method, memory);
      const again = await authenticateThroughAp(ap, secret, p, { userName: 'anonymous' });
      expect(again).toMatchObject({ accepted: true, keysMatch: true, roundTrips: 2 });
      expect(p.usedReauth).toBe(true);
    });
  }

  it('reassembles an EAP-Response/Identity split over two EAP-Message attributes (RFC 3579 §3.1)', async () => {
    const card = await f.card();
    const p = peer(card, 'aka', {});
    // An identity the server cannot use, longer than one attribute: it asks for another (AT_ANY_ID_REQ).
    const long = `anonymous-${'x'.repeat(240)}@${REALM}`;
    const start = p.start.bind(p);
    p.start = (identifier = 0) => {
      start(identifier);
      const bytes = new TextEncoder().encode(long);
      return Uint8Array.of(2, identifier, (5 + bytes.length) >> 8, (5 + bytes.length) & 0xff, 1, ...bytes);
    };
    const r = await authenticateThroughAp(ap, secret, p, { userName: 'anonymous' });
    // Identity → EAP-AKA' offered → Nak (the peer speaks EAP-AKA) → AKA-Identity → AKA-Challenge.
    expect(r).toMatchObject({ accepted: true, keysMatch: true, roundTrips: 4 });
  });

  it('a suspended SIM gets Access-Reject after the failure notification', async () => {
    const card = await f.card();
    const ctx = systemContext(f.operatorId, 'Sim:suspendSim', 'test');
    await f.platform.sims.transition(ctx, card.simId, 'activate');
    await f.platform.sims.transition(ctx, card.simId, 'suspend');
    const r = await authenticateThroughAp(ap, secret, peer(card, 'akaPrime', {}), { userName: 'anonymous' });
    expect(r).toMatchObject({ accepted: false, roundTrips: 2 });
  });
});
