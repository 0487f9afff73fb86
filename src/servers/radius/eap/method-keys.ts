// The key schedule of each method, from what the conversation state keeps (`keyMaterial`):
//   EAP-SIM (RFC 4186 §7) and EAP-AKA (RFC 4187 §7): MK → PRF → K_encr, K_aut, MSK, EMSK
//   EAP-AKA' (RFC 9048 §3.3): IK' ‖ CK' and the identity → PRF' → K_encr, K_aut, K_re, MSK, EMSK
// and of fast re-authentication (RFC 4187 §7 / RFC 9048 §3.3) from the stored re-auth keys.
// The cryptography itself lives in src/crypto; this only picks the right function.

import { deriveReauthKeys, keysFromMasterKey } from '../../../crypto/rfc-4187-eap-aka-keys.js';
import { deriveAkaPrimeKeys, deriveAkaPrimeReauthKeys } from '../../../crypto/rfc-9048-eap-aka-prime-keys.js';
import type { SimAkaMethod } from '../../../lib/eap/rfc-4187-messages.js';

export interface SessionKeys {
  readonly kAut: Uint8Array;
  readonly kEncr: Uint8Array;
  readonly msk: Uint8Array;
  /** What fast re-authentication needs later: MK (SIM, AKA) or K_re (AKA'). */
  readonly reauthSecret: Uint8Array;
}

/** K_aut length: 16 octets (HMAC-SHA1-128), 32 for EAP-AKA' (HMAC-SHA-256-128). */
export const kAutLength = (method: SimAkaMethod): number => (method === 'akaPrime' ? 32 : 16);

export function fullAuthKeys(
  method: SimAkaMethod,
  keyMaterial: Uint8Array,
  identity: Uint8Array,
): SessionKeys {
  if (method === 'akaPrime') {
    const k = deriveAkaPrimeKeys(identity, keyMaterial.subarray(16, 32), keyMaterial.subarray(0, 16));
    return { kAut: k.kAut, kEncr: k.kEncr, msk: k.msk, reauthSecret: k.kRe };
  }
  const k = keysFromMasterKey(keyMaterial);
  return { kAut: k.kAut, kEncr: k.kEncr, msk: k.msk, reauthSecret: k.mk };
}

/** The stored re-authentication keys: K_aut ‖ K_encr ‖ MK | K_re. */
export function packReauthKeys(keys: SessionKeys): Uint8Array {
  return new Uint8Array([...keys.kAut, ...keys.kEncr, ...keys.reauthSecret]);
}

export function unpackReauthKeys(
  method: SimAkaMethod,
  packed: Uint8Array,
): { kAut: Uint8Array; kEncr: Uint8Array; secret: Uint8Array } | undefined {
  const a = kAutLength(method);
  const secretLength = method === 'akaPrime' ? 32 : 20;
  if (packed.length !== a + 16 + secretLength) return undefined;
  return { kAut: packed.slice(0, a), kEncr: packed.slice(a, a + 16), secret: packed.slice(a + 16) };
}

/** MSK of a fast re-authentication (the identity is the re-auth identity the peer presented). */
export function reauthMsk(
  method: SimAkaMethod,
  secret: Uint8Array,
  identity: Uint8Array,
  counter: number,
  nonceS: Uint8Array,
): Uint8Array {
  return method === 'akaPrime'
    ? deriveAkaPrimeReauthKeys(secret, identity, counter, nonceS).msk
    : deriveReauthKeys(identity, counter, nonceS, secret).msk;
}
