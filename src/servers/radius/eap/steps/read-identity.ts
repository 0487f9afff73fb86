// Steps that read the identity a peer presents and fix the method:
// - readIdentityResponse: EAP-Response/Identity (RFC 3748 §5.1) — the first identity;
// - chooseMethod: the method its prefix asks for (0 AKA, 6 AKA', 1 SIM; TS 23.003 §19.3.2), EAP-AKA'
//   when it has none we know (the peer may Nak to another method);
// - readIdentityRound: EAP-Response/AKA-Identity (RFC 4187 §9.2) or SIM/Start (RFC 4186 §9.3). It
//   enforces that a requested AT_IDENTITY is there, that EAP-SIM names a version we offered, and
//   records AKA identity rounds for AT_CHECKCODE;
// - switchMethod: a Nak (RFC 3748 §5.3.1) to our method request may move the conversation to
//   another method we offer, once.

import { EAP_TYPES, nakDesiredTypes } from '../../../../lib/eap/rfc-3748-eap.js';
import { findAttribute } from '../../../../lib/eap/rfc-4187-messages.js';
import { parseEapIdentity } from '../../../../lib/eap/ts-23-003-nai.js';
import { OFFERED_METHODS, SIM_VERSIONS } from '../server-messages.js';
import { refuse, type Step, type Turn } from '../turn.js';

/** The EAP packet as received, cut to its Length (lower-layer padding is not part of it). */
export const receivedPacket = (t: Turn): Uint8Array => {
  const length = ((t.request.eapMessage[2] ?? 0) << 8) | (t.request.eapMessage[3] ?? 0);
  return t.request.eapMessage.subarray(0, length);
};

export const readIdentityResponse: Step = (t) => {
  if (t.eap.type !== EAP_TYPES.Identity) return refuse(t, 'UNEXPECTED', 'expected EAP-Response/Identity');
  t.presented = t.eap.data;
  t.conversation = { ...t.conversation, identity: t.eap.data };
  return undefined;
};

export const chooseMethod: Step = (t) => {
  if (t.conversation.method !== undefined) return undefined;
  const parsed = t.presented === undefined ? undefined : parseEapIdentity(t.presented);
  t.conversation = { ...t.conversation, method: parsed?.ok ? parsed.value.method : 'akaPrime' };
  return undefined;
};

export const readIdentityRound: Step = (t) => {
  const message = t.message;
  if (message === undefined) return refuse(t, 'UNEXPECTED', 'expected an identity round response');
  const identity = findAttribute(message, 'AT_IDENTITY');
  if (t.conversation.method === 'sim') {
    const version = findAttribute(message, 'AT_SELECTED_VERSION');
    const nonceMt = findAttribute(message, 'AT_NONCE_MT');
    if (version !== undefined && !(SIM_VERSIONS as readonly number[]).includes(version))
      return refuse(t, 'MALFORMED', `peer selected EAP-SIM version ${version}, not one offered`);
    if (nonceMt !== undefined) t.simStart = { nonceMt, selectedVersion: version ?? SIM_VERSIONS[0] };
  } else {
    if (identity === undefined) return refuse(t, 'MALFORMED', 'AKA-Identity response without AT_IDENTITY');
    t.conversation = { ...t.conversation, idRounds: [...(t.conversation.idRounds ?? []), receivedPacket(t)] };
  }
  if (identity !== undefined) {
    t.presented = identity;
    t.conversation = { ...t.conversation, identity };
  } else if ((t.conversation.idRequested ?? 0) !== 0) {
    return refuse(t, 'MALFORMED', 'identity requested but AT_IDENTITY missing');
  }
  return undefined;
};

export const switchMethod: Step = (t) => {
  const c = t.conversation;
  // One switch per conversation. Every method we offer needs a full authentication, and EAP-AKA
  // carries AT_BIDDING, so a Nak cannot buy a weaker method unnoticed (RFC 9048 §4).
  if (c.naked || c.phase === 'identity') return refuse(t, 'UNEXPECTED', 'Nak after the method was agreed');
  const desired = nakDesiredTypes(t.eap);
  const wanted = desired.ok ? desired.value : [];
  const next = OFFERED_METHODS.find((m) => wanted.includes(m.type) && m.method !== c.method);
  if (next === undefined)
    return refuse(t, 'UNEXPECTED', `peer wants none of our methods (${wanted.join(', ')})`);
  t.presented = c.identity;
  t.conversation = {
    phase: 'identity',
    method: next.method,
    identifier: c.identifier,
    expiresAt: c.expiresAt,
    conversationId: c.conversationId,
    naked: true,
    ...(c.identity === undefined ? {} : { identity: c.identity }),
  };
  return undefined;
};
