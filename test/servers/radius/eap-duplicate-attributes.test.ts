// Threat: an EAP-AKA response carrying an attribute twice (RFC 4187 §8.1: an attribute that may
// appear once must not appear twice) — two AT_RES or two AT_RESULT_IND, correctly protected by
// AT_MAC — being accepted, so that which copy counts is up to whichever check reads the message.
// Issue 11: the server refuses such a response as malformed and, as RFC 4187 §6.3.2 prescribes,
// answers with an EAP-Request/AKA-Notification "General Failure" and then EAP-Failure — never
// Access-Accept. Driven through the real RADIUS listener, with the software card computing RES.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveAkaKeys } from '../../../src/crypto/rfc-4187-eap-aka-keys.js';
import { encodeEap } from '../../../src/lib/eap/rfc-3748-eap.js';
import {
  CLIENT_ERROR_CODE,
  encodeSimAkaAttribute,
  NOTIFICATION,
} from '../../../src/lib/eap/rfc-4187-attributes.js';
import { decodeSimAka, findAttribute, SIM_AKA_SUBTYPES } from '../../../src/lib/eap/rfc-4187-messages.js';
import { signAtMac, verifyAtMac } from '../../../src/lib/eap/rfc-4187-protection.js';
import type { AttributeInput } from '../../../src/lib/radius/attributes.js';
import { getAttribute } from '../../../src/lib/radius/attributes.js';
import { NAS_PORT_TYPE } from '../../../src/lib/radius/dictionary.js';
import { RADIUS_CODES } from '../../../src/lib/radius/rfc-2865-packet.js';
import { eapMessageAttributes, reassembleEapMessage } from '../../../src/lib/radius/rfc-3579-eap-message.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { type RunningRadius, startRadius } from '../../../src/servers/radius/index.js';
import { EapPeer, type PeerSim, simOverTerminal } from '../../../src/simulator/eap-peer.js';
import { RadiusClient } from '../../../src/simulator/radius-client.js';
import { type EapFixture, eapFixture, REALM } from './eap-fixture.js';

describe('EAP-AKA responses with a duplicated attribute (issue 11)', () => {
  let f: EapFixture;
  let radius: RunningRadius;
  let ap: RadiusClient;
  const logs: string[] = [];
  const secret = randomBytes(12).toString('hex');
  const nas = `127.0.${20 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}`;

  beforeAll(async () => {
    f = await eapFixture();
    radius = await startRadius({
      platform: f.platform,
      logger: pino({ level: 'warn' }, { write: (line: string) => void logs.push(line) }),
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

  /** One Access-Request carrying `eap` (and State); the answer's code, EAP-Message and State. */
  async function relay(eap: Uint8Array, state: Uint8Array | undefined) {
    const attributes: AttributeInput[] = [
      ['User-Name', 'anonymous'],
      ['NAS-Port-Type', NAS_PORT_TYPE['Wireless-802.11']],
      ...eapMessageAttributes(eap),
      ...(state === undefined ? [] : ([['State', state]] as const)),
    ];
    const { packet } = await ap.request(RADIUS_CODES['Access-Request'], attributes);
    const message = reassembleEapMessage(packet);
    if (!message.ok || message.value === undefined) throw new Error('answer without EAP-Message');
    const s = getAttribute(packet, 'State');
    return { code: packet.code, eap: message.value, state: s?.ok ? s.value : undefined };
  }

  /**
   * Runs EAP-AKA up to the peer's AKA-Challenge response and rebuilds that response with `twice`
   * included a second time, signed with the real K_aut (so only the duplicate is wrong).
   */
  async function duplicatedChallengeResponse(twice: 'AT_RES' | 'AT_RESULT_IND') {
    const card = await f.card();
    const sim = simOverTerminal(card.terminal);
    let umts: ReturnType<PeerSim['authenticateUmts']> | undefined;
    const spy: PeerSim = {
      authenticateUmts: (rand, autn) => {
        umts = sim.authenticateUmts(rand, autn);
        return umts;
      },
      authenticateGsm: (rand) => sim.authenticateGsm(rand),
    };
    const identity = `0${card.imsi}@${REALM}`;
    const peer = new EapPeer({
      sim: spy,
      imsi: card.imsi,
      realm: REALM,
      method: 'aka',
      resultInd: true,
      memory: {},
    });
    const challenge = await relay(peer.start(5), undefined);
    expect(challenge.code).toBe(RADIUS_CODES['Access-Challenge']);
    const answer = peer.respond(challenge.eap);
    if (answer.kind !== 'respond' || umts?.kind !== 'success') throw new Error('the card did not answer');
    const { kAut } = deriveAkaKeys(new TextEncoder().encode(identity), umts.ik, umts.ck);
    // The keys are right: the peer's own response verifies under them.
    expect(verifyAtMac(answer.packet, kAut)).toBe(true);
    const valid = decodeSimAka(answer.packet);
    if (!valid.ok) throw new Error(valid.error.message);
    expect(findAttribute(valid.value, 'AT_RESULT_IND')).toBe(true);
    const parts: Uint8Array[] = [];
    for (const a of valid.value.attributes) {
      const encoded = encodeSimAkaAttribute(a);
      if (!encoded.ok) throw new Error(encoded.error.message);
      parts.push(encoded.value);
      if (a.name === twice) parts.push(encoded.value);
    }
    const data = Uint8Array.from([SIM_AKA_SUBTYPES['AKA-Challenge'], 0, 0, ...parts.flatMap((p) => [...p])]);
    const unsigned = encodeEap({ code: 2, identifier: valid.value.identifier, type: 23, data });
    const signed = unsigned.ok ? signAtMac(unsigned.value, kAut) : unsigned;
    if (!signed.ok) throw new Error(signed.error.message);
    return { peer, challenge, packet: signed.value };
  }

  it('the peer side: a challenge carrying AT_RAND twice gets AKA-Client-Error "unable to process packet" (RFC 4187 §6.3.1)', async () => {
    const card = await f.card();
    const peer = new EapPeer({
      sim: simOverTerminal(card.terminal),
      imsi: card.imsi,
      realm: REALM,
      method: 'aka',
      memory: {},
    });
    const challenge = await relay(peer.start(9), undefined);
    const request = decodeSimAka(challenge.eap);
    if (!request.ok) throw new Error(request.error.message);
    const parts: number[] = [];
    for (const a of request.value.attributes) {
      const encoded = encodeSimAkaAttribute(a);
      if (!encoded.ok) throw new Error(encoded.error.message);
      parts.push(...encoded.value);
      if (a.name === 'AT_RAND') parts.push(...encoded.value);
    }
    const doubled = encodeEap({
      code: 1,
      identifier: request.value.identifier,
      type: 23,
      data: Uint8Array.from([SIM_AKA_SUBTYPES['AKA-Challenge'], 0, 0, ...parts]),
    });
    if (!doubled.ok) throw new Error(doubled.error.message);
    const answer = peer.respond(doubled.value);
    if (answer.kind !== 'respond') throw new Error(`the peer did not answer: ${answer.kind}`);
    const clientError = decodeSimAka(answer.packet);
    expect(clientError.ok && clientError.value.subtype).toBe(SIM_AKA_SUBTYPES['Client-Error']);
    expect(clientError.ok && findAttribute(clientError.value, 'AT_CLIENT_ERROR_CODE')).toBe(
      CLIENT_ERROR_CODE['Unable-To-Process-Packet'],
    );
  });

  for (const twice of ['AT_RES', 'AT_RESULT_IND'] as const) {
    it(`issue 11: an AKA-Challenge response with ${twice} twice (valid AT_MAC) gets "General Failure", then EAP-Failure`, async () => {
      const { peer, challenge, packet } = await duplicatedChallengeResponse(twice);
      const refused = await relay(packet, challenge.state);
      // Not Accept: a failure notification (P bit set, before authentication, no AT_MAC).
      expect(refused.code).toBe(RADIUS_CODES['Access-Challenge']);
      const notification = decodeSimAka(refused.eap);
      if (!notification.ok) throw new Error(notification.error.message);
      expect(notification.value.subtype).toBe(SIM_AKA_SUBTYPES.Notification);
      expect(findAttribute(notification.value, 'AT_NOTIFICATION')).toBe(NOTIFICATION['General-Failure']);
      expect(findAttribute(notification.value, 'AT_MAC')).toBeUndefined();
      const refusal = JSON.parse(logs.at(-1) ?? '{}');
      expect(refusal).toMatchObject({ code: 'MALFORMED', method: 'aka' });
      expect(refusal.msg).toContain(`${twice} appears more than once`);
      // The peer acknowledges; the server ends with EAP-Failure in an Access-Reject.
      const ack = peer.respond(refused.eap);
      if (ack.kind !== 'respond') throw new Error(`the peer did not acknowledge: ${ack.kind}`);
      const end = await relay(ack.packet, refused.state);
      expect(end.code).toBe(RADIUS_CODES['Access-Reject']);
      expect(end.eap[0]).toBe(4);
    });
  }
});
