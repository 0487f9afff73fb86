// EAP-SIM (RFC 4186), EAP-AKA (RFC 4187) and EAP-AKA' (RFC 9048) as a server, written as tables of
// small steps. Each turn opens the conversation state the NAS echoed in State, checks that the
// response belongs to it, picks the table for what the peer answered, and runs its steps in order
// until one answers. Each step's file says what it enforces.

import { randomInt } from 'node:crypto';
import { decodeEap, EAP_CODES, EAP_TYPES, type EapPacket } from '../../../lib/eap/rfc-3748-eap.js';
import {
  decodeSimAka,
  SIM_AKA_METHOD_TYPES,
  SIM_AKA_SUBTYPES,
  type SimAkaMessage,
} from '../../../lib/eap/rfc-4187-messages.js';
import type { EapOutcome, EapRequestContext } from '../eap-handler.js';
import { type Conversation, newConversationId, openConversation } from './conversation-state.js';
import { eapIdentityRequest } from './server-messages.js';
import { startMethod } from './steps/challenge.js';
import { checkAttempts } from './steps/check-attempts.js';
import { checkBinding } from './steps/check-binding.js';
import { completeFullAuth, completeReauth, deliverSuccess } from './steps/complete.js';
import { loadSubscriber } from './steps/load-subscriber.js';
import {
  authenticationRejected,
  clientError,
  failureAcknowledged,
  unexpected,
} from './steps/peer-answers.js';
import {
  chooseMethod,
  readIdentityResponse,
  readIdentityRound,
  switchMethod,
} from './steps/read-identity.js';
import { resolveIdentity } from './steps/resolve-identity.js';
import { resynchronise } from './steps/resync.js';
import { verifyCheckcode, verifyCounter, verifyMac, verifyRes } from './steps/verify.js';
import { type EapDependencies, refuse, refuseBeforeChallenge, reply, type Step, type Turn } from './turn.js';

/** From an identity to the first challenge: parse → load subscriber → check binding → check attempts → challenge. */
const IDENTIFY = [resolveIdentity, loadSubscriber, checkBinding, checkAttempts, startMethod] as const;

export const FLOWS = {
  /** EAP-Response/Identity. */
  start: [readIdentityResponse, chooseMethod, ...IDENTIFY],
  /** AKA-Identity / SIM-Start response. */
  identityRound: [readIdentityRound, ...IDENTIFY],
  /** Nak to our first method request: the same, with the method the peer wants. */
  nak: [switchMethod, ...IDENTIFY],
  /** AKA-Challenge / SIM-Challenge response. */
  challenge: [verifyMac, verifyRes, verifyCheckcode, completeFullAuth],
  simChallenge: [verifyMac, completeFullAuth],
  /** AKA-Synchronization-Failure. */
  syncFailure: [resynchronise],
  /** Re-authentication response. */
  reauth: [verifyMac, verifyCounter, completeReauth],
  /** Response to our success notification. */
  notifySuccess: [verifyMac, verifyCounter, deliverSuccess],
  authenticationReject: [authenticationRejected],
  clientError: [clientError],
  failureAcknowledged: [failureAcknowledged],
  unexpected: [unexpected],
} as const satisfies Record<string, readonly Step[]>;

/** Which table answers this response in this phase. */
function route(t: Turn): readonly Step[] {
  const { phase, method } = t.conversation;
  if (t.eap.type === EAP_TYPES.Identity) return phase === 'identity' ? FLOWS.start : FLOWS.unexpected;
  if (t.eap.type === EAP_TYPES.Nak) return phase === 'identity' ? FLOWS.unexpected : FLOWS.nak;
  const subtype = t.message?.subtype;
  if (subtype === undefined) return FLOWS.unexpected;
  if (subtype === SIM_AKA_SUBTYPES['Client-Error']) return FLOWS.clientError;
  switch (phase) {
    case 'method-identity':
      return subtype === SIM_AKA_SUBTYPES[method === 'sim' ? 'SIM-Start' : 'AKA-Identity']
        ? FLOWS.identityRound
        : FLOWS.unexpected;
    case 'challenge':
      if (method === 'sim')
        return subtype === SIM_AKA_SUBTYPES['SIM-Challenge'] ? FLOWS.simChallenge : FLOWS.unexpected;
      if (subtype === SIM_AKA_SUBTYPES['AKA-Challenge']) return FLOWS.challenge;
      if (subtype === SIM_AKA_SUBTYPES['AKA-Synchronization-Failure']) return FLOWS.syncFailure;
      if (subtype === SIM_AKA_SUBTYPES['AKA-Authentication-Reject']) return FLOWS.authenticationReject;
      return FLOWS.unexpected;
    case 'reauth':
      return subtype === SIM_AKA_SUBTYPES['Re-authentication'] ? FLOWS.reauth : FLOWS.unexpected;
    case 'notify-success':
      return subtype === SIM_AKA_SUBTYPES.Notification ? FLOWS.notifySuccess : FLOWS.unexpected;
    case 'notify-failure':
      return FLOWS.failureAcknowledged;
    case 'identity':
      return FLOWS.unexpected;
  }
}

/**
 * A response of our method that does not decode (a malformed or duplicated attribute, RFC 4187
 * §8.1). RFC 4187 §6.3.2 / RFC 4186 §6.3.2: the server answers an invalid response with a failure
 * notification — before authentication, the unprotected "General Failure" — and EAP-Failure after
 * the peer acknowledges it. After authentication (our success notification, a re-authentication
 * round) a further unprotected notification is not allowed, so EAP-Failure ends it at once.
 */
function malformed(t: Turn, why: string): Promise<EapOutcome> {
  const { phase, method } = t.conversation;
  const sameMethod = method !== undefined && t.eap.type === SIM_AKA_METHOD_TYPES[method];
  const reason = `EAP-SIM/AKA: ${why}`;
  return sameMethod && (phase === 'method-identity' || phase === 'challenge')
    ? refuseBeforeChallenge(t, 'MALFORMED', reason)
    : refuse(t, 'MALFORMED', reason);
}

async function run(t: Turn, steps: readonly Step[]): Promise<EapOutcome> {
  for (const step of steps) {
    const outcome = await step(t);
    if (outcome !== undefined) return outcome;
  }
  return refuse(t, 'INTERNAL', 'no step answered');
}

const fresh = (deps: EapDependencies, now: number, identifier: number): Conversation => ({
  phase: 'identity',
  identifier,
  expiresAt: now + deps.settings.conversationMs,
  conversationId: newConversationId(),
});

/** One Access-Request's EAP-Message → the answer. Total: any input gives an outcome. */
export async function handleEapTurn(deps: EapDependencies, request: EapRequestContext): Promise<EapOutcome> {
  const now = deps.clock.now();
  const raw = request.eapMessage;
  // RFC 3579 §2.1: an empty EAP-Message is EAP-Start — ask for the identity.
  if (raw.length === 0 && request.state === undefined) {
    const identifier = randomInt(256);
    const start: Turn = {
      request,
      deps,
      now,
      eap: { code: EAP_CODES.Response, identifier: (identifier + 255) & 0xff, data: new Uint8Array(0) },
      message: undefined,
      conversation: fresh(deps, now, identifier),
    };
    return reply(start, eapIdentityRequest(identifier), start.conversation);
  }
  const decoded = decodeEap(raw);
  const eap: EapPacket = decoded.ok
    ? decoded.value
    : { code: EAP_CODES.Response, identifier: raw[1] ?? 0, data: new Uint8Array(0) };
  let message: SimAkaMessage | undefined;
  const simAka =
    eap.type === EAP_TYPES['EAP-SIM'] ||
    eap.type === EAP_TYPES['EAP-AKA'] ||
    eap.type === EAP_TYPES["EAP-AKA'"];
  const decodedMessage = decoded.ok && simAka ? decodeSimAka(raw) : undefined;
  if (decodedMessage?.ok) message = decodedMessage.value;

  const opened =
    request.state === undefined
      ? undefined
      : openConversation(deps.keys, request.state, request.client.name, now);
  const t: Turn = {
    request,
    deps,
    now,
    eap,
    message,
    conversation: opened?.ok ? opened.value : fresh(deps, now, eap.identifier),
  };
  try {
    if (!decoded.ok) return await refuse(t, 'MALFORMED', `EAP: ${decoded.error.message}`);
    if (opened !== undefined && !opened.ok) return await refuse(t, 'STATE', opened.error.message);
    if (eap.code !== EAP_CODES.Response) return await refuse(t, 'MALFORMED', 'not an EAP Response');
    if (eap.identifier !== t.conversation.identifier)
      return await refuse(
        t,
        'UNEXPECTED',
        `EAP Identifier ${eap.identifier}, expected ${t.conversation.identifier}`,
      );
    if (decodedMessage !== undefined && !decodedMessage.ok)
      return await malformed(t, decodedMessage.error.message);
    if (
      message !== undefined &&
      t.conversation.method !== undefined &&
      message.method !== t.conversation.method
    )
      return await refuse(
        t,
        'UNEXPECTED',
        `${message.method} response in a ${t.conversation.method} conversation`,
      );
    return await run(t, route(t));
  } catch (e) {
    deps.log.error({ err: e, nas: request.client.name }, 'EAP: internal error');
    return refuse(t, 'INTERNAL', 'internal error');
  }
}
