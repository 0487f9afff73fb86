// EAP-AKA key derivation (RFC 4187 §7), shared by EAP-SIM (RFC 4186 §7, same PRF and key layout),
// and the EAP Session-Id (RFC 5247 Appendix A). Pure functions over Uint8Array.

import { createHash } from 'node:crypto';
import { fips186Prf } from './fips-186-2-prf.js';

/** Keys of a full EAP-SIM / EAP-AKA authentication (RFC 4187 §7, RFC 4186 §7). */
export interface EapSimAkaKeys {
  /** MK, 20 bytes: the PRF seed, kept by the server for fast re-authentication. */
  readonly mk: Uint8Array;
  /** K_encr, 16 bytes: AES-128 key of AT_ENCR_DATA. */
  readonly kEncr: Uint8Array;
  /** K_aut, 16 bytes: HMAC-SHA1-128 key of AT_MAC. */
  readonly kAut: Uint8Array;
  /** MSK, 64 bytes: goes to the NAS as MS-MPPE-Recv-Key (first 32) and -Send-Key (last 32). */
  readonly msk: Uint8Array;
  /** EMSK, 64 bytes. */
  readonly emsk: Uint8Array;
}

/** Keys of a fast re-authentication (RFC 4187 §7: K_encr and K_aut stay those of the full run). */
export interface EapSimAkaReauthKeys {
  /** XKEY' = SHA1(Identity | counter | NONCE_S | MK), 20 bytes. */
  readonly xkeyPrime: Uint8Array;
  readonly msk: Uint8Array;
  readonly emsk: Uint8Array;
}

export const sha1 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** RFC 4187 §7: MK = SHA1(Identity | IK | CK). `identity` is the exact identity bytes used. */
export function akaMasterKey(identity: Uint8Array, ik: Uint8Array, ck: Uint8Array): Uint8Array {
  return sha1(identity, ik, ck);
}

/** RFC 4187 §7 / RFC 4186 §7: PRF(MK) = K_encr(16) | K_aut(16) | MSK(64) | EMSK(64). */
export function keysFromMasterKey(mk: Uint8Array): EapSimAkaKeys {
  const x = fips186Prf(mk, 160);
  return {
    mk,
    kEncr: x.slice(0, 16),
    kAut: x.slice(16, 32),
    msk: x.slice(32, 96),
    emsk: x.slice(96, 160),
  };
}

/** RFC 4187 §7: all keys of a full EAP-AKA authentication from the AuC's IK and CK. */
export function deriveAkaKeys(identity: Uint8Array, ik: Uint8Array, ck: Uint8Array): EapSimAkaKeys {
  return keysFromMasterKey(akaMasterKey(identity, ik, ck));
}

/**
 * RFC 4187 §7 (and RFC 4186 §7, identical): fast re-authentication keys.
 * XKEY' = SHA1(Identity | counter | NONCE_S | MK); MSK | EMSK = PRF(XKEY') (128 bytes).
 * `identity` is the re-authentication identity the peer used; `counter` is AT_COUNTER (16 bits).
 */
export function deriveReauthKeys(
  identity: Uint8Array,
  counter: number,
  nonceS: Uint8Array,
  mk: Uint8Array,
): EapSimAkaReauthKeys {
  const xkeyPrime = sha1(identity, Uint8Array.of((counter >> 8) & 0xff, counter & 0xff), nonceS, mk);
  const x = fips186Prf(xkeyPrime, 128);
  return { xkeyPrime, msk: x.slice(0, 64), emsk: x.slice(64, 128) };
}

/** EAP method types that prefix a Session-Id (RFC 5247 Appendix A; RFC 9048 §7 for AKA'). */
export const EAP_METHOD_TYPE = { sim: 18, aka: 23, akaPrime: 50 } as const;
export type EapSimAkaMethod = keyof typeof EAP_METHOD_TYPE;

/**
 * RFC 5247 Appendix A: Session-Id of a full authentication. EAP-AKA/AKA': Type | RAND | AUTN;
 * EAP-SIM: Type | RAND1..n | NONCE_MT (pass the concatenated RANDs and NONCE_MT as the parts).
 * Fast re-authentication (RFC 4187 §7, as hostapd): Type | NONCE_S | MAC.
 */
export function eapSessionId(method: EapSimAkaMethod, ...parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((n, p) => n + p.length, 1);
  const out = new Uint8Array(length);
  out[0] = EAP_METHOD_TYPE[method];
  let offset = 1;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
