// Step "challenge": what to ask the peer next, once the identity is resolved and the subscriber
// admitted.
// - A known subscriber gets a full authentication: AKA-Challenge with a fresh vector from the AuC
//   (RFC 4187 §9.3; RFC 9048 §3 for AKA': separation bit, CK'/IK' bound to the network name), or
//   SIM-Start then SIM-Challenge with GSM triplets (RFC 4186 §9.3). It enforces that every
//   challenge uses a vector never used before (the AuC hands each out once) and binds the identity
//   rounds with AT_CHECKCODE.
// - A live fast re-authentication identity gets a Re-authentication request (RFC 4187 §5.4) with the
//   next counter and a fresh NONCE_S, until eapReauthMaxCount re-authentications.
// - An unknown identity gets an identity request, each kind at most once and from general to
//   specific (AT_ANY_ID_REQ → AT_FULLAUTH_ID_REQ → AT_PERMANENT_ID_REQ, RFC 4187 §4.1.5).

import { randomBytes } from 'node:crypto';
import { simMasterKey } from '../../../../crypto/rfc-4186-eap-sim-keys.js';
import { akaMasterKey } from '../../../../crypto/rfc-4187-eap-aka-keys.js';
import { deriveCkIkPrime } from '../../../../crypto/rfc-9048-eap-aka-prime-keys.js';
import { checkcode } from '../../../../lib/eap/rfc-4187-protection.js';
import type { EapOutcome } from '../../eap-handler.js';
import { type Conversation, ID_REQUESTED } from '../conversation-state.js';
import { issuedPseudonym, issuedReauthId } from '../issued-identities.js';
import { fullAuthKeys, unpackReauthKeys } from '../method-keys.js';
import {
  AKA_PRIME_NETWORK_NAME,
  akaChallengeRequest,
  akaIdentityRequest,
  type IdRequest,
  type NextIdentities,
  reauthRequest,
  SIM_VERSIONS,
  simChallengeRequest,
  simStartRequest,
} from '../server-messages.js';
import { nextIdentifier, refuse, refuseBeforeChallenge, reply, type Step, type Turn } from '../turn.js';

/** RFC 4186 §4.3: three triplets (two is the minimum) give EAP-SIM 128-bit-class keys. */
const SIM_TRIPLETS = 3;
/** RFC 4187 §6.3.1 leaves the number of resynchronisations open; two ends a loop. */
export const MAX_RESYNCS = 2;

const base = (t: Turn): Pick<Conversation, 'expiresAt' | 'conversationId' | 'naked'> => ({
  expiresAt: t.now + t.deps.settings.conversationMs,
  conversationId: t.conversation.conversationId,
  ...(t.conversation.naked ? { naked: true } : {}),
});

/**
 * Whether the SIM still has to be activated once it has authenticated (it was `ready`/`standby`
 * at this turn's admission, or the challenge being answered said so).
 */
function firstUse(t: Turn): Pick<Conversation, 'firstUse'> {
  const s = t.subscriber;
  const pending =
    s === undefined ? t.conversation.firstUse === true : s.status === 'ready' || s.status === 'standby';
  return pending ? { firstUse: true } : {};
}

export const startMethod: Step = (t) => {
  const identity = t.identity;
  const method = t.conversation.method;
  if (identity === undefined || method === undefined) return refuse(t, 'INTERNAL', 'no identity resolved');
  switch (identity.kind) {
    case 'permanent':
    case 'pseudonym':
    case 'known':
      if (method !== 'sim') return akaChallenge(t);
      if (t.simStart !== undefined) return simChallenge(t);
      if (t.conversation.phase === 'method-identity')
        return refuse(t, 'MALFORMED', 'SIM-Start response without AT_NONCE_MT');
      return simStart(t);
    case 'reauth':
      return identity.record.reauthCounter >= t.deps.settings.reauthMaxCount
        ? requestIdentity(t, 'fullauth')
        : reauthChallenge(t);
    case 'unknown-reauth':
      return requestIdentity(t, 'fullauth');
    case 'unknown-pseudonym':
      return requestIdentity(t, 'permanent');
    case 'unusable':
      return requestIdentity(t, (t.conversation.idRequested ?? 0) === 0 ? 'any' : 'permanent');
  }
};

/** The most general identity request still allowed at or after `kind` (RFC 4187 §4.1.5). */
function allowedRequest(requested: number, kind: IdRequest): IdRequest | undefined {
  const order: IdRequest[] = ['any', 'fullauth', 'permanent'];
  return order.slice(order.indexOf(kind)).find((k) => requested < ID_REQUESTED[k]);
}

function requestIdentity(t: Turn, wanted: IdRequest): EapOutcome | Promise<EapOutcome> {
  const c = t.conversation;
  const method = c.method ?? 'akaPrime';
  const requested = c.idRequested ?? 0;
  const kind = allowedRequest(requested, wanted);
  if (kind === undefined) {
    const why = t.identity?.kind === 'unusable' ? t.identity.why : (t.identity?.kind ?? 'none');
    return refuseBeforeChallenge(t, 'IDENTITY', `no usable identity after all identity requests (${why})`);
  }
  const identifier = nextIdentifier(t);
  const packet =
    method === 'sim' ? simStartRequest(identifier, kind) : akaIdentityRequest(method, identifier, kind);
  if (!packet.ok) return reply(t, packet, c);
  // The identity presented so far is not kept: the answer to this request replaces it.
  return reply(t, packet, {
    phase: 'method-identity',
    method,
    identifier,
    ...base(t),
    idRequested: requested | ID_REQUESTED[kind],
    ...(method === 'sim' ? {} : { idRounds: [...(c.idRounds ?? []), packet.value] }),
  });
}

/** SIM-Start without an identity request: the identity is known, NONCE_MT is still needed. */
function simStart(t: Turn): EapOutcome | Promise<EapOutcome> {
  const c = t.conversation;
  const imsi = t.subscriber?.imsi;
  const identifier = nextIdentifier(t);
  return reply(t, simStartRequest(identifier, undefined), {
    phase: 'method-identity',
    method: 'sim',
    identifier,
    ...base(t),
    ...(c.identity === undefined ? {} : { identity: c.identity }),
    ...(c.idRequested === undefined ? {} : { idRequested: c.idRequested }),
    ...(imsi === undefined ? {} : { imsi }),
  });
}

/** The identities offered with a full authentication, per the settings. */
function nextIdentities(t: Turn): NextIdentities {
  const { keys, settings } = t.deps;
  const { conversationId, method = 'aka' } = t.conversation;
  return {
    ...(settings.pseudonymMs > 0
      ? { pseudonym: issuedPseudonym(keys, conversationId, method).identity }
      : {}),
    ...(settings.reauthMs > 0 ? { reauthId: issuedReauthId(keys, conversationId, method).identity } : {}),
  };
}

/** AKA-Challenge with a fresh vector; `resync` first adopts the card's SQN from AUTS. */
export async function akaChallenge(
  t: Turn,
  resync?: { rand: Uint8Array; auts: Uint8Array },
): Promise<EapOutcome> {
  const c = t.conversation;
  const method = c.method === 'akaPrime' ? 'akaPrime' : 'aka';
  const imsi = t.subscriber?.imsi ?? c.imsi;
  const identity = c.identity;
  if (imsi === undefined || identity === undefined)
    return refuse(t, 'INTERNAL', 'challenge without subscriber');
  const vectors = await t.deps.auc.vectors(imsi, {
    count: 1,
    separationBit: method === 'akaPrime',
    ...(resync ? { resync } : {}),
  });
  if (!vectors.ok) {
    return vectors.error === 'RESYNC_FAILED'
      ? refuse(t, 'RESYNC', 'the AuC refused the AUTS (MAC-S) or the resync limit is reached', {
          countFailure: true,
        })
      : refuseBeforeChallenge(t, 'UNKNOWN_SUBSCRIBER', 'the AuC knows no such subscriber');
  }
  const v = vectors.value[0];
  if (v === undefined) return refuse(t, 'INTERNAL', 'the AuC returned no vector');
  let keyMaterial: Uint8Array;
  if (method === 'akaPrime') {
    // RFC 9048 §3.3: CK' ‖ IK' bound to the access network name and SQN ⊕ AK (AUTN[0..6]).
    const { ckPrime, ikPrime } = deriveCkIkPrime(v.ck, v.ik, AKA_PRIME_NETWORK_NAME, v.autn.subarray(0, 6));
    keyMaterial = new Uint8Array([...ikPrime, ...ckPrime]);
  } else {
    keyMaterial = akaMasterKey(identity, v.ik, v.ck);
  }
  const keys = fullAuthKeys(method, keyMaterial, identity);
  const code = c.checkcode ?? checkcode(method, c.idRounds ?? []);
  const identifier = nextIdentifier(t);
  const packet = akaChallengeRequest({
    method,
    identifier,
    rand: v.rand,
    autn: v.autn,
    checkcode: code,
    resultInd: t.deps.settings.resultIndication,
    next: nextIdentities(t),
    kAut: keys.kAut,
    kEncr: keys.kEncr,
  });
  return reply(t, packet, {
    phase: 'challenge',
    method,
    identifier,
    ...base(t),
    identity,
    imsi,
    ...firstUse(t),
    ...(code.length > 0 ? { checkcode: code } : {}),
    rand: v.rand,
    keyMaterial,
    expected: v.xres,
    ...(c.resyncs === undefined ? {} : { resyncs: c.resyncs }),
  });
}

async function simChallenge(t: Turn): Promise<EapOutcome> {
  const c = t.conversation;
  const imsi = t.subscriber?.imsi ?? c.imsi;
  const identity = c.identity;
  const start = t.simStart;
  if (imsi === undefined || identity === undefined || start === undefined)
    return refuse(t, 'INTERNAL', 'SIM challenge without subscriber or NONCE_MT');
  const triplets = await t.deps.auc.triplets(imsi, SIM_TRIPLETS);
  if (!triplets.ok) return refuseBeforeChallenge(t, 'UNKNOWN_SUBSCRIBER', 'the AuC knows no such subscriber');
  const list = triplets.value;
  // RFC 4186 §7: MK = SHA1(Identity | n*Kc | NONCE_MT | Version List | Selected Version).
  const mk = simMasterKey({
    identity,
    kcs: list.map((x) => x.kc),
    nonceMt: start.nonceMt,
    versionList: [...SIM_VERSIONS],
    selectedVersion: start.selectedVersion,
  });
  const keys = fullAuthKeys('sim', mk, identity);
  const rands = new Uint8Array(list.flatMap((x) => [...x.rand]));
  const identifier = nextIdentifier(t);
  const packet = simChallengeRequest({
    identifier,
    rands,
    nonceMt: start.nonceMt,
    resultInd: t.deps.settings.resultIndication,
    next: nextIdentities(t),
    kAut: keys.kAut,
    kEncr: keys.kEncr,
  });
  return reply(t, packet, {
    phase: 'challenge',
    method: 'sim',
    identifier,
    ...base(t),
    identity,
    imsi,
    ...firstUse(t),
    keyMaterial: mk,
    // RFC 4186 §10.14: the response's AT_MAC covers n × SRES.
    expected: new Uint8Array(list.flatMap((x) => [...x.sres])),
  });
}

function reauthChallenge(t: Turn): EapOutcome | Promise<EapOutcome> {
  const c = t.conversation;
  const identity = t.identity;
  const method = c.method;
  if (identity?.kind !== 'reauth' || method === undefined || identity.record.reauthKeys === undefined)
    return refuse(t, 'INTERNAL', 're-authentication without its record');
  const keys = unpackReauthKeys(method, identity.record.reauthKeys);
  if (keys === undefined) return requestIdentity(t, 'fullauth');
  const counter = identity.record.reauthCounter + 1;
  const nonceS = new Uint8Array(randomBytes(16));
  const last = counter >= t.deps.settings.reauthMaxCount;
  const code = c.checkcode ?? (method === 'sim' ? new Uint8Array(0) : checkcode(method, c.idRounds ?? []));
  const identifier = nextIdentifier(t);
  const packet = reauthRequest({
    method,
    identifier,
    counter,
    nonceS,
    nextReauthId: last ? undefined : issuedReauthId(t.deps.keys, c.conversationId, method).identity,
    checkcode: code,
    resultInd: t.deps.settings.resultIndication,
    kAut: keys.kAut,
    kEncr: keys.kEncr,
  });
  return reply(t, packet, {
    phase: 'reauth',
    method,
    identifier,
    ...base(t),
    ...(c.identity === undefined ? {} : { identity: c.identity }),
    imsi: identity.imsi,
    ...firstUse(t),
    ...(code.length > 0 ? { checkcode: code } : {}),
    nonce: nonceS,
    counter,
    reauthKeys: identity.record.reauthKeys,
  });
}
