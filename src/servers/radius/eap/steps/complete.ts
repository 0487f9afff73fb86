// Step "complete": the peer has proven the SIM. Enforces:
// - a SIM that was `ready`/`standby` when admitted before the challenge is admitted again, now with
//   activation, so only an authenticated SIM is ever activated (the status itself was checked
//   before the challenge; a change during the conversation's milliseconds acts through
//   Disconnect-Request like any later one);
// - the final round takes effect once: a full authentication stores the identities it issued under
//   its conversation id, a fast re-authentication spends its identity and counter, each in one
//   guarded statement (identity-store.ts), so a replayed round is refused;
// - the MSK is delivered with EAP-Success, or after a success notification protected by AT_MAC when
//   both sides asked for result indications (RFC 4187 §6.2, RFC 4186 §6.2); after a
//   re-authentication that notification also carries AT_COUNTER (RFC 4187 §9.10).

import { findAttribute } from '../../../../lib/eap/rfc-4187-messages.js';
import { parseEapIdentity } from '../../../../lib/eap/ts-23-003-nai.js';
import type { Subscriber } from '../../../../platform/aaa/admission.js';
import type { EapOutcome } from '../../eap-handler.js';
import { issuedPseudonym, issuedReauthId } from '../issued-identities.js';
import { packReauthKeys, reauthMsk } from '../method-keys.js';
import { NOTIFICATION, notificationRequest } from '../server-messages.js';
import { accept, nextIdentifier, refuse, reply, type Step, type Turn } from '../turn.js';

type Who = Pick<Subscriber, 'operatorId' | 'simId' | 'imsi'>;

/** A first-use SIM is admitted again, now activating it. */
async function authenticated(t: Turn, imsi: string): Promise<Who | EapOutcome> {
  const admitted = await t.deps.admit(imsi, {
    operatorId: t.request.client.operatorId,
    nasAddress: t.request.sourceAddress,
    activate: true,
    now: t.now,
  });
  return admitted.ok
    ? admitted.value
    : refuse(t, 'ADMISSION', `${admitted.error.code}: ${admitted.error.reason}`);
}

const isOutcome = (x: Who | EapOutcome): x is EapOutcome => 'eapMessage' in x;

function succeed(
  t: Turn,
  msk: Uint8Array,
  subscriber: Who,
  counter?: number,
): EapOutcome | Promise<EapOutcome> {
  const c = t.conversation;
  const method = c.method;
  const round = t.round;
  const peerAsked = t.message !== undefined && findAttribute(t.message, 'AT_RESULT_IND') !== undefined;
  if (!t.deps.settings.resultIndication || !peerAsked || method === undefined || round === undefined)
    return accept(t, msk, subscriber);
  const identifier = nextIdentifier(t);
  const packet = notificationRequest({
    method,
    identifier,
    code: NOTIFICATION.Success,
    protection: { kAut: round.kAut, kEncr: round.kEncr, ...(counter === undefined ? {} : { counter }) },
  });
  return reply(t, packet, {
    phase: 'notify-success',
    method,
    identifier,
    expiresAt: t.now + t.deps.settings.conversationMs,
    conversationId: c.conversationId,
    imsi: subscriber.imsi,
    operatorId: subscriber.operatorId,
    simId: subscriber.simId,
    kAut: round.kAut,
    ...(counter === undefined ? {} : { kEncr: round.kEncr, counter }),
    msk,
  });
}

export const completeFullAuth: Step = async (t) => {
  const c = t.conversation;
  const round = t.round;
  if (
    c.imsi === undefined ||
    c.method === undefined ||
    round?.msk === undefined ||
    round.reauthSecret === undefined
  )
    return refuse(t, 'STATE', 'conversation state lacks the subscriber or keys');
  const { settings, keys, identities } = t.deps;
  // Activation first: a SIM refused now gets no identities either.
  const activated = c.firstUse ? await authenticated(t, c.imsi) : undefined;
  if (activated !== undefined && isOutcome(activated)) return activated;
  const stored = await identities.storeFullAuth({
    imsi: c.imsi,
    method: c.method,
    conversationId: c.conversationId,
    ...(settings.pseudonymMs > 0
      ? {
          pseudonym: {
            value: issuedPseudonym(keys, c.conversationId, c.method).username,
            expiresAt: t.now + settings.pseudonymMs,
          },
        }
      : {}),
    ...(settings.reauthMs > 0
      ? {
          reauth: {
            value: issuedReauthId(keys, c.conversationId, c.method).username,
            keys: packReauthKeys({
              kAut: round.kAut,
              kEncr: round.kEncr,
              msk: round.msk,
              reauthSecret: round.reauthSecret,
            }),
            expiresAt: t.now + settings.reauthMs,
          },
        }
      : {}),
    now: t.now,
  });
  if (stored === undefined) return refuse(t, 'REPLAY', 'this conversation has already completed');
  return succeed(t, round.msk, { ...stored, imsi: c.imsi });
};

export const completeReauth: Step = async (t) => {
  const c = t.conversation;
  const round = t.round;
  const parsed = c.identity === undefined ? undefined : parseEapIdentity(c.identity);
  if (
    c.imsi === undefined ||
    c.method === undefined ||
    c.counter === undefined ||
    c.nonce === undefined ||
    c.identity === undefined ||
    round?.reauthSecret === undefined ||
    !parsed?.ok
  )
    return refuse(t, 'STATE', 'conversation state lacks the re-authentication');
  const last = c.counter >= t.deps.settings.reauthMaxCount;
  const next = last ? undefined : issuedReauthId(t.deps.keys, c.conversationId, c.method).username;
  const spent = await t.deps.identities.consumeReauth({
    reauthId: parsed.value.username,
    counter: c.counter,
    ...(next === undefined ? {} : { next }),
    now: t.now,
  });
  if (spent === undefined) return refuse(t, 'REPLAY', 'the re-authentication identity was already used');
  const activated = c.firstUse ? await authenticated(t, c.imsi) : undefined;
  if (activated !== undefined && isOutcome(activated)) return activated;
  const subscriber = { ...spent, imsi: c.imsi };
  // RFC 4187 §7 / RFC 9048 §3.3: the MSK of a re-authentication, from MK (K_re) and NONCE_S.
  const msk = reauthMsk(c.method, round.reauthSecret, c.identity, c.counter, c.nonce);
  return succeed(t, msk, subscriber, c.counter);
};

export const deliverSuccess: Step = (t) => {
  const c = t.conversation;
  if (c.msk === undefined || c.imsi === undefined || c.operatorId === undefined || c.simId === undefined)
    return refuse(t, 'STATE', 'conversation state lacks the MSK');
  return accept(t, c.msk, { operatorId: c.operatorId, simId: c.simId, imsi: c.imsi });
};
