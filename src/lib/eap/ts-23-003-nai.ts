// EAP-SIM/AKA/AKA' identities: the root NAI of TS 23.003 §14.3/§19.3 — "<prefix><IMSI>@wlan.mnc<MNC>.
// mcc<MCC>.3gppnetwork.org", MNC always three digits — with the leading digit that names the method
// and identity kind as RFC 4186 §4.2.1.3 / RFC 4187 §4.1.1.3 suggest and hostapd's eap_user
// convention fixes: permanent 0 (AKA), 1 (SIM), 6 (AKA'); pseudonym 2/3/7; fast re-auth 4/5/8.

import { decodeError, ok, type Result } from '../result.js';

export type SimAkaMethodName = 'sim' | 'aka' | 'akaPrime';
export type IdentityKind = 'permanent' | 'pseudonym' | 'reauth';

const PREFIXES: Readonly<Record<string, { kind: IdentityKind; method: SimAkaMethodName }>> = {
  '0': { kind: 'permanent', method: 'aka' },
  '1': { kind: 'permanent', method: 'sim' },
  '6': { kind: 'permanent', method: 'akaPrime' },
  '2': { kind: 'pseudonym', method: 'aka' },
  '3': { kind: 'pseudonym', method: 'sim' },
  '7': { kind: 'pseudonym', method: 'akaPrime' },
  '4': { kind: 'reauth', method: 'aka' },
  '5': { kind: 'reauth', method: 'sim' },
  '8': { kind: 'reauth', method: 'akaPrime' },
};

/** The prefix digit for a method and identity kind. */
export function identityPrefix(kind: IdentityKind, method: SimAkaMethodName): string {
  const entry = Object.entries(PREFIXES).find(([, v]) => v.kind === kind && v.method === method);
  return entry?.[0] ?? '';
}

export interface ParsedIdentity {
  readonly kind: IdentityKind;
  readonly method: SimAkaMethodName;
  /** The user part without the prefix digit: the IMSI for a permanent identity, else the token. */
  readonly username: string;
  readonly realm?: string;
  /** For a permanent identity. */
  readonly imsi?: string;
  /** MCC and three-digit MNC of a 3gppnetwork.org realm (a 2-digit MNC shows with a leading 0). */
  readonly realmPlmn?: { readonly mcc: string; readonly mnc3: string };
}

const REALM_3GPP = /^(?:wlan\.)?mnc(\d{3})\.mcc(\d{3})\.3gppnetwork\.org$/i;

/**
 * Parse an identity from EAP-Response/Identity or AT_IDENTITY. Errors for empty or non-UTF-8
 * identities, an unknown prefix, or a permanent identity whose user part is not a 6–15 digit IMSI
 * (TS 23.003 §2.2). Realms other than 3gppnetwork.org are kept as they are.
 */
export function parseEapIdentity(identity: string | Uint8Array): Result<ParsedIdentity> {
  let text: string;
  if (typeof identity === 'string') text = identity;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(identity);
    } catch {
      return decodeError('EAP_IDENTITY_UTF8', 'identity is not UTF-8');
    }
  }
  const at = text.lastIndexOf('@');
  const user = at < 0 ? text : text.slice(0, at);
  const realm = at < 0 ? undefined : text.slice(at + 1);
  if (user.length < 2) return decodeError('EAP_IDENTITY_EMPTY', 'identity has no user part after the prefix');
  const prefix = PREFIXES[user.charAt(0)];
  if (prefix === undefined)
    return decodeError('EAP_IDENTITY_PREFIX', `unknown identity prefix "${user.charAt(0)}"`, 0);
  const username = user.slice(1);
  if (prefix.kind === 'permanent' && !/^\d{6,15}$/.test(username)) {
    return decodeError('EAP_IDENTITY_IMSI', 'permanent identity must carry a 6–15 digit IMSI', 1);
  }
  const m = realm === undefined ? null : REALM_3GPP.exec(realm);
  return ok({
    kind: prefix.kind,
    method: prefix.method,
    username,
    ...(realm === undefined ? {} : { realm }),
    ...(prefix.kind === 'permanent' ? { imsi: username } : {}),
    ...(m ? { realmPlmn: { mcc: m[2] ?? '', mnc3: m[1] ?? '' } } : {}),
  });
}

/** TS 23.003 §19.3.2: "wlan.mnc<MNC, 3 digits>.mcc<MCC>.3gppnetwork.org". */
export function wlanRealm(mcc: string, mnc: string): Result<string> {
  if (!/^\d{3}$/.test(mcc) || !/^\d{2,3}$/.test(mnc))
    return decodeError('EAP_IDENTITY_PLMN', 'mcc must be 3 digits and mnc 2–3');
  return ok(`wlan.mnc${mnc.padStart(3, '0')}.mcc${mcc}.3gppnetwork.org`);
}

/**
 * The permanent root NAI of an IMSI: prefix + IMSI + "@" + wlan realm, MCC and MNC taken from the
 * IMSI (`mncLength` says whether the MNC has 2 or 3 digits — the IMSI alone cannot tell).
 */
export function permanentIdentity(method: SimAkaMethodName, imsi: string, mncLength: 2 | 3): Result<string> {
  if (!/^\d{6,15}$/.test(imsi)) return decodeError('EAP_IDENTITY_IMSI', 'IMSI must be 6–15 digits');
  const realm = wlanRealm(imsi.slice(0, 3), imsi.slice(3, 3 + mncLength));
  if (!realm.ok) return realm;
  return ok(`${identityPrefix('permanent', method)}${imsi}@${realm.value}`);
}
