// The pseudonym and fast re-authentication identity handed out in a conversation
// (AT_NEXT_PSEUDONYM, AT_NEXT_REAUTH_ID; RFC 4187 §4.1.1.7–8). They are derived from the conversation
// id under the state key, so the round that stores them recomputes them instead of carrying them in
// State, and nobody without the key can predict or link them. Usernames start with the prefix digit
// of their kind and method (hostapd's convention, ts-23-003-nai.ts). Neither carries a realm, as
// hostapd issues them: the peer appends its home realm to a pseudonym, and a re-authentication
// identity stays short so its conversation state fits in RADIUS State.

import type { SimAkaMethod } from '../../../lib/eap/rfc-4187-messages.js';
import { identityPrefix } from '../../../lib/eap/ts-23-003-nai.js';
import type { EapStateKeys } from './state-keys.js';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 §6 base32 (lower case, no padding) of the first 80 bits: 16 characters. */
function token(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes.subarray(0, 10)) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= 0xff;
  }
  return out;
}

export interface IssuedIdentity {
  /** What the store keeps and looks up: the username without prefix digit and realm. */
  readonly username: string;
  /** What the peer receives. */
  readonly identity: string;
}

export function issuedPseudonym(
  keys: EapStateKeys,
  conversationId: Uint8Array,
  method: SimAkaMethod,
): IssuedIdentity {
  const username = token(keys.derive('eap pseudonym', conversationId));
  return { username, identity: `${identityPrefix('pseudonym', method)}${username}` };
}

export function issuedReauthId(
  keys: EapStateKeys,
  conversationId: Uint8Array,
  method: SimAkaMethod,
): IssuedIdentity {
  const username = token(keys.derive('eap reauth id', conversationId));
  return { username, identity: `${identityPrefix('reauth', method)}${username}` };
}
