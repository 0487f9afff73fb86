// Steps that verify the peer's proof, all comparisons in constant time:
// - verifyMac: AT_MAC of the response under this conversation's K_aut (RFC 4187 §10.15, RFC 4186
//   §10.14; HMAC-SHA-256-128 for AKA', RFC 9048 §3.3), over the packet and its "extra" data
//   (n × SRES for a SIM-Challenge response, NONCE_S for a Re-authentication response). Without it
//   nothing else in the response is trusted.
// - verifyRes: AT_RES equals XRES, length included (RFC 4187 §9.4).
// - verifyCheckcode: the peer saw the same identity rounds we did (RFC 4187 §10.13): a peer whose
//   AKA-Identity exchange was tampered with gets no access.
// - verifyCounter: AT_COUNTER inside AT_ENCR_DATA is the one we sent (RFC 4187 §5.4–5.5); a peer
//   that refuses it (AT_COUNTER_TOO_SMALL) ends the fast re-authentication.

import { constantTimeEqual } from '../../../../crypto/constant-time.js';
import { findAttribute } from '../../../../lib/eap/rfc-4187-messages.js';
import { decryptAttributes, verifyAtMac } from '../../../../lib/eap/rfc-4187-protection.js';
import { parseEapIdentity } from '../../../../lib/eap/ts-23-003-nai.js';
import { fullAuthKeys, unpackReauthKeys } from '../method-keys.js';
import { type RoundKeys, refuse, type Step, type Turn } from '../turn.js';
import { receivedPacket } from './read-identity.js';

function keysForRound(t: Turn): { keys: RoundKeys; extra: Uint8Array } | undefined {
  const c = t.conversation;
  const method = c.method;
  if (method === undefined) return undefined;
  switch (c.phase) {
    case 'challenge': {
      if (c.keyMaterial === undefined || c.identity === undefined) return undefined;
      const k = fullAuthKeys(method, c.keyMaterial, c.identity);
      return {
        keys: { kAut: k.kAut, kEncr: k.kEncr, msk: k.msk, reauthSecret: k.reauthSecret },
        extra: method === 'sim' ? (c.expected ?? new Uint8Array(0)) : new Uint8Array(0),
      };
    }
    case 'reauth': {
      const k = c.reauthKeys === undefined ? undefined : unpackReauthKeys(method, c.reauthKeys);
      if (k === undefined || c.nonce === undefined) return undefined;
      return { keys: { kAut: k.kAut, kEncr: k.kEncr, reauthSecret: k.secret }, extra: c.nonce };
    }
    case 'notify-success':
      if (c.kAut === undefined) return undefined;
      return { keys: { kAut: c.kAut, kEncr: c.kEncr ?? new Uint8Array(16) }, extra: new Uint8Array(0) };
    default:
      return undefined;
  }
}

export const verifyMac: Step = (t) => {
  const round = keysForRound(t);
  if (round === undefined) return refuse(t, 'STATE', 'conversation state lacks the keys of this round');
  if (!verifyAtMac(receivedPacket(t), round.keys.kAut, round.extra)) {
    return refuse(t, 'AUTHENTICATION', 'AT_MAC does not verify', { countFailure: true });
  }
  t.round = round.keys;
  return undefined;
};

export const verifyRes: Step = (t) => {
  const res = t.message === undefined ? undefined : findAttribute(t.message, 'AT_RES');
  const xres = t.conversation.expected;
  if (res === undefined || xres === undefined)
    return refuse(t, 'MALFORMED', 'AKA-Challenge response without AT_RES');
  const same = res.bitLength === xres.length * 8 && constantTimeEqual(res.res, xres);
  return same ? undefined : refuse(t, 'AUTHENTICATION', 'RES does not match XRES', { countFailure: true });
};

export const verifyCheckcode: Step = (t) => {
  const received = t.message === undefined ? undefined : findAttribute(t.message, 'AT_CHECKCODE');
  const expected = t.conversation.checkcode ?? new Uint8Array(0);
  // RFC 4187 §10.13: a peer may leave AT_CHECKCODE out only when there were no identity rounds.
  const same = received === undefined ? expected.length === 0 : constantTimeEqual(received, expected);
  return same ? undefined : refuse(t, 'AUTHENTICATION', 'AT_CHECKCODE does not match the identity rounds');
};

export const verifyCounter: Step = (t) => {
  const counter = t.conversation.counter;
  if (counter === undefined) return undefined;
  const keys = t.round;
  const message = t.message;
  const iv = message === undefined ? undefined : findAttribute(message, 'AT_IV');
  const data = message === undefined ? undefined : findAttribute(message, 'AT_ENCR_DATA');
  if (keys === undefined || iv === undefined || data === undefined)
    return refuse(t, 'MALFORMED', 'response without encrypted AT_COUNTER');
  const inner = decryptAttributes(data, keys.kEncr, iv);
  if (!inner.ok) return refuse(t, 'MALFORMED', `AT_ENCR_DATA: ${inner.error.message}`);
  const plain = { attributes: inner.value };
  if (findAttribute(plain, 'AT_COUNTER_TOO_SMALL') !== undefined) return refuseCounter(t);
  const echoed = findAttribute(plain, 'AT_COUNTER');
  return echoed === counter
    ? undefined
    : refuse(t, 'AUTHENTICATION', `AT_COUNTER ${echoed} is not ${counter}`);
};

/**
 * RFC 4187 §5.5: the peer has seen this counter already. Its identity is spent: we forget it, so the
 * next attempt is a full authentication (this one ends).
 */
async function refuseCounter(t: Turn) {
  const parsed =
    t.conversation.identity === undefined ? undefined : parseEapIdentity(t.conversation.identity);
  if (parsed?.ok && parsed.value.kind === 'reauth') await t.deps.identities.dropReauth(parsed.value.username);
  return refuse(t, 'PEER_REJECT', 'the peer refused the re-authentication counter (AT_COUNTER_TOO_SMALL)');
}
