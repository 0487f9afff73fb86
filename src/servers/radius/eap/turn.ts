// One turn of an EAP conversation: what a step sees (the RADIUS request, the decoded EAP response,
// the conversation state) and the answers a step can give. Steps are small functions run in order
// (flow.ts); each either returns nothing (continue) or an outcome (stop and answer the NAS).

import type { Logger } from 'pino';
import type { Clock } from '../../../lib/clock.js';
import type { EapPacket } from '../../../lib/eap/rfc-3748-eap.js';
import type { SimAkaMessage, SimAkaMethod } from '../../../lib/eap/rfc-4187-messages.js';
import type { Result } from '../../../lib/result.js';
import type { AdmissionRefusal, Subscriber } from '../../../platform/aaa/admission.js';
import type { AuthenticationCentre } from '../../../platform/aaa/auc.js';
import type { EapOutcome, EapRequestContext } from '../eap-handler.js';
import { type Conversation, sealConversation } from './conversation-state.js';
import type { EapIdentityStore, IdentityRecord } from './identity-store.js';
import { eapFailurePacket, eapSuccessPacket, NOTIFICATION, notificationRequest } from './server-messages.js';
import type { EapStateKeys } from './state-keys.js';

export interface EapSettings {
  readonly conversationMs: number;
  readonly resultIndication: boolean;
  /** 0: no pseudonyms. */
  readonly pseudonymMs: number;
  /** 0: no fast re-authentication. */
  readonly reauthMs: number;
  readonly reauthMaxCount: number;
  readonly failureLimit: number;
  readonly failureWindowMs: number;
}

/** Failed authentications per IMSI (atomic counters in the store). */
export interface AttemptCounter {
  failures(imsi: string, now: number): Promise<number>;
  fail(imsi: string, now: number): Promise<void>;
}

export interface EapDependencies {
  readonly keys: EapStateKeys;
  readonly identities: EapIdentityStore;
  readonly auc: Pick<AuthenticationCentre, 'vectors' | 'triplets'>;
  /** Admission for Wi-Fi access; `activate` false before the peer has authenticated. */
  readonly admit: (
    imsi: string,
    o: { operatorId: string; nasAddress: string; activate: boolean; now: number },
  ) => Promise<Result<Subscriber, AdmissionRefusal>>;
  readonly attempts: AttemptCounter;
  readonly settings: EapSettings;
  readonly clock: Clock;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** What an identity names once looked up (resolve-identity.ts). */
export type ResolvedIdentity =
  | { readonly kind: 'permanent'; readonly imsi: string }
  | { readonly kind: 'pseudonym'; readonly imsi: string; readonly record: IdentityRecord }
  | { readonly kind: 'reauth'; readonly imsi: string; readonly record: IdentityRecord; readonly id: string }
  /** Known from an earlier round of this conversation (SIM-Start without an identity request). */
  | { readonly kind: 'known'; readonly imsi: string }
  | { readonly kind: 'unknown-pseudonym' }
  | { readonly kind: 'unknown-reauth' }
  | { readonly kind: 'unusable'; readonly why: string };

/** The keys a verified round is protected with (verify.ts), for the steps after the check. */
export interface RoundKeys {
  readonly kAut: Uint8Array;
  readonly kEncr: Uint8Array;
  /** Full authentication: the MSK. */
  readonly msk?: Uint8Array;
  /** MK (SIM, AKA) or K_re (AKA'): what fast re-authentication needs later. */
  readonly reauthSecret?: Uint8Array;
}

export interface Turn {
  readonly request: EapRequestContext;
  readonly deps: EapDependencies;
  readonly now: number;
  /** The EAP response of this turn. */
  readonly eap: EapPacket;
  /** Its EAP-SIM/AKA/AKA' decoding, when it is one of ours. */
  readonly message: SimAkaMessage | undefined;
  /** The state as received (or fresh), updated by the steps. */
  conversation: Conversation;
  /** The identity the peer presented in this turn (EAP-Response/Identity or AT_IDENTITY). */
  presented?: Uint8Array;
  identity?: ResolvedIdentity;
  subscriber?: Subscriber;
  /** EAP-SIM: NONCE_MT and the selected version from this turn's SIM-Start response. */
  simStart?: { readonly nonceMt: Uint8Array; readonly selectedVersion: number };
  /** Set once AT_MAC of the response verified. */
  round?: RoundKeys;
}

export type Step = (t: Turn) => Promise<EapOutcome | undefined> | EapOutcome | undefined;

/** The identifier of our next request: one more than the response's (RFC 3748 §4.1 only needs "different"). */
export const nextIdentifier = (t: Turn): number => (t.eap.identifier + 1) & 0xff;

/** Why a conversation ended without access; logged, never sent (the peer only sees EAP-Failure). */
export type RefusalCode =
  | 'MALFORMED'
  | 'STATE'
  | 'UNEXPECTED'
  | 'IDENTITY'
  | 'BINDING'
  | 'ADMISSION'
  | 'ATTEMPTS'
  | 'UNKNOWN_SUBSCRIBER'
  | 'AUTHENTICATION'
  | 'PEER_REJECT'
  | 'CLIENT_ERROR'
  | 'RESYNC'
  | 'REPLAY'
  | 'INTERNAL';

function logFields(t: Turn, code: RefusalCode, reason: string) {
  return {
    eap: 'reject',
    code,
    reason,
    method: t.conversation.method,
    imsi:
      t.conversation.imsi ??
      t.subscriber?.imsi ??
      (t.identity && 'imsi' in t.identity ? t.identity.imsi : undefined),
    nas: t.request.client.name,
  };
}

/** Continue the conversation: the request goes out with the conversation sealed in State. */
export function reply(
  t: Turn,
  packet: Result<Uint8Array>,
  next: Conversation,
): EapOutcome | Promise<EapOutcome> {
  if (!packet.ok) return refuse(t, 'INTERNAL', `cannot build the request: ${packet.error.message}`);
  const state = sealConversation(t.deps.keys, next, t.request.client.name);
  if (!state.ok) return refuse(t, 'STATE', `${state.error.code}: ${state.error.message}`);
  return { code: 'challenge', eapMessage: packet.value, state: state.value };
}

/**
 * End with EAP-Failure (Access-Reject). `countFailure`: this was a failed authentication of the
 * subscriber (wrong RES or AT_MAC, rejected AUTN, bad AUTS), which counts towards eapFailureLimit.
 */
export async function refuse(
  t: Turn,
  code: RefusalCode,
  reason: string,
  options: { countFailure?: boolean } = {},
): Promise<EapOutcome> {
  const fields = logFields(t, code, reason);
  if (options.countFailure && fields.imsi !== undefined) {
    try {
      await t.deps.attempts.fail(fields.imsi, t.now);
    } catch (e) {
      t.deps.log.error({ err: e, imsi: fields.imsi }, 'EAP: cannot count a failed authentication');
    }
  }
  t.deps.log.warn(fields, `EAP refused: ${reason}`);
  const failure = eapFailurePacket(t.eap.identifier);
  return {
    code: 'reject',
    eapMessage: failure.ok ? failure.value : new Uint8Array([4, t.eap.identifier, 0, 4]),
  };
}

/**
 * Refuse before any challenge (RFC 4187 §6.3.1, RFC 4186 §6.3.1): when the method is known, an
 * EAP-Request/Notification "General Failure" (P bit set, no AT_MAC) first, so the peer learns the
 * network refused it rather than losing the conversation; EAP-Failure follows its acknowledgement.
 */
export async function refuseBeforeChallenge(t: Turn, code: RefusalCode, reason: string): Promise<EapOutcome> {
  const method: SimAkaMethod | undefined = t.conversation.method;
  if (method === undefined) return refuse(t, code, reason);
  t.deps.log.warn(logFields(t, code, reason), `EAP refused: ${reason}`);
  const identifier = nextIdentifier(t);
  const packet = notificationRequest({ method, identifier, code: NOTIFICATION['General-Failure'] });
  return reply(t, packet, {
    phase: 'notify-failure',
    method,
    identifier,
    expiresAt: t.now + t.deps.settings.conversationMs,
    conversationId: t.conversation.conversationId,
  });
}

/** Access-Accept with EAP-Success and the MSK. */
export function accept(
  t: Turn,
  msk: Uint8Array,
  subscriber: { operatorId: string; simId: string; imsi: string },
): EapOutcome {
  const success = eapSuccessPacket(t.eap.identifier);
  t.deps.log.info(
    {
      eap: 'accept',
      method: t.conversation.method,
      imsi: subscriber.imsi,
      simId: subscriber.simId,
      nas: t.request.client.name,
    },
    'EAP authentication succeeded',
  );
  return {
    code: 'accept',
    eapMessage: success.ok ? success.value : new Uint8Array([3, t.eap.identifier, 0, 4]),
    msk,
    userName: subscriber.imsi,
    subscriber: { operatorId: subscriber.operatorId, simId: subscriber.simId, imsi: subscriber.imsi },
  };
}
