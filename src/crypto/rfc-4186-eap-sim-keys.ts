// EAP-SIM key derivation (RFC 4186 §7). The PRF, key layout and fast re-authentication are those of
// EAP-AKA (rfc-4187-eap-aka-keys.ts); only the master key differs.

import { type EapSimAkaKeys, keysFromMasterKey, sha1 } from './rfc-4187-eap-aka-keys.js';

export interface EapSimMasterKeyInput {
  /** The exact identity bytes (last AT_IDENTITY, or EAP-Response/Identity if none). */
  readonly identity: Uint8Array;
  /** Kc of each GSM triplet, in the order of the RANDs in AT_RAND (2 or 3 × 8 bytes). */
  readonly kcs: readonly Uint8Array[];
  /** NONCE_MT from the peer's AT_NONCE_MT (16 bytes). */
  readonly nonceMt: Uint8Array;
  /** The versions the server offered in AT_VERSION_LIST, in order (each a 16-bit number). */
  readonly versionList: readonly number[];
  /** AT_SELECTED_VERSION from the peer. */
  readonly selectedVersion: number;
}

const u16 = (n: number) => Uint8Array.of((n >> 8) & 0xff, n & 0xff);

/** RFC 4186 §7: MK = SHA1(Identity | n*Kc | NONCE_MT | Version List | Selected Version). */
export function simMasterKey(input: EapSimMasterKeyInput): Uint8Array {
  return sha1(
    input.identity,
    ...input.kcs,
    input.nonceMt,
    ...input.versionList.map(u16),
    u16(input.selectedVersion),
  );
}

/** RFC 4186 §7: all keys of a full EAP-SIM authentication. */
export function deriveSimKeys(input: EapSimMasterKeyInput): EapSimAkaKeys {
  return keysFromMasterKey(simMasterKey(input));
}
