// The requests an EAP-SIM / EAP-AKA / EAP-AKA' server sends (RFC 4186 §9, RFC 4187 §9, RFC 9048 §3),
// each built from its attributes in the order hostapd sends them, AT_MAC computed last.

import { randomBytes } from 'node:crypto';
import {
  EAP_CODES,
  EAP_TYPES,
  eapFailure,
  eapSuccess,
  encodeEap,
  identityRequest,
} from '../../../lib/eap/rfc-3748-eap.js';
import { NOTIFICATION, type SimAkaAttribute } from '../../../lib/eap/rfc-4187-attributes.js';
import { encodeSimAka, SIM_AKA_SUBTYPES, type SimAkaMethod } from '../../../lib/eap/rfc-4187-messages.js';
import { encryptAttributes } from '../../../lib/eap/rfc-4187-protection.js';
import type { Result } from '../../../lib/result.js';

/** RFC 4186 §4.1: the only EAP-SIM version. */
export const SIM_VERSIONS = [1] as const;
/** RFC 9048 §3.1: the access network name hostapd (and 3GPP TS 24.302 §8.2.1 for WLAN) uses. */
export const AKA_PRIME_NETWORK_NAME = new TextEncoder().encode('WLAN');
/** RFC 9048 §4: AT_BIDDING "D" bit — this server supports EAP-AKA' (bidding-down protection). */
const BIDDING_SUPPORTS_AKA_PRIME = 0x8000;

const MAC: SimAkaAttribute = { name: 'AT_MAC', value: new Uint8Array(16) };
const utf8 = (s: string) => new TextEncoder().encode(s);

const request = (
  method: SimAkaMethod,
  identifier: number,
  subtype: number,
  attributes: SimAkaAttribute[],
) => ({
  code: EAP_CODES.Request,
  identifier,
  method,
  subtype,
  attributes,
});

export const eapIdentityRequest = (identifier: number): Result<Uint8Array> =>
  encodeEap(identityRequest(identifier));
export const eapSuccessPacket = (identifier: number): Result<Uint8Array> => encodeEap(eapSuccess(identifier));
export const eapFailurePacket = (identifier: number): Result<Uint8Array> => encodeEap(eapFailure(identifier));

export type IdRequest = 'any' | 'fullauth' | 'permanent';
const ID_REQUEST_ATTRIBUTE = {
  any: 'AT_ANY_ID_REQ',
  fullauth: 'AT_FULLAUTH_ID_REQ',
  permanent: 'AT_PERMANENT_ID_REQ',
} as const;

/** RFC 4187 §9.1 EAP-Request/AKA-Identity. */
export function akaIdentityRequest(method: 'aka' | 'akaPrime', identifier: number, kind: IdRequest) {
  return encodeSimAka(
    request(method, identifier, SIM_AKA_SUBTYPES['AKA-Identity'], [
      { name: ID_REQUEST_ATTRIBUTE[kind], value: true },
    ]),
  );
}

/** RFC 4186 §9.2 EAP-Request/SIM/Start: the version list and, when needed, an identity request. */
export function simStartRequest(identifier: number, kind: IdRequest | undefined) {
  const attributes: SimAkaAttribute[] = [{ name: 'AT_VERSION_LIST', value: [...SIM_VERSIONS] }];
  if (kind !== undefined) attributes.push({ name: ID_REQUEST_ATTRIBUTE[kind], value: true });
  return encodeSimAka(request('sim', identifier, SIM_AKA_SUBTYPES['SIM-Start'], attributes));
}

/** The identities offered for next time (RFC 4187 §10.10–10.11), encrypted with K_encr. */
export interface NextIdentities {
  readonly pseudonym?: string;
  readonly reauthId?: string;
}

function encrypted(inner: SimAkaAttribute[], kEncr: Uint8Array): Result<SimAkaAttribute[]> {
  const iv = new Uint8Array(randomBytes(16));
  const data = encryptAttributes(inner, kEncr, iv);
  if (!data.ok) return data;
  return {
    ok: true,
    value: [
      { name: 'AT_IV', value: iv },
      { name: 'AT_ENCR_DATA', value: data.value },
    ],
  };
}

function nextIdentityAttributes(next: NextIdentities): SimAkaAttribute[] {
  const out: SimAkaAttribute[] = [];
  if (next.pseudonym !== undefined) out.push({ name: 'AT_NEXT_PSEUDONYM', value: utf8(next.pseudonym) });
  if (next.reauthId !== undefined) out.push({ name: 'AT_NEXT_REAUTH_ID', value: utf8(next.reauthId) });
  return out;
}

/** RFC 4187 §9.3 EAP-Request/AKA-Challenge; RFC 9048 §3 adds AT_KDF_INPUT and AT_KDF for AKA'. */
export function akaChallengeRequest(o: {
  method: 'aka' | 'akaPrime';
  identifier: number;
  rand: Uint8Array;
  autn: Uint8Array;
  checkcode: Uint8Array;
  resultInd: boolean;
  next: NextIdentities;
  kAut: Uint8Array;
  kEncr: Uint8Array;
}): Result<Uint8Array> {
  const attributes: SimAkaAttribute[] = [
    { name: 'AT_RAND', value: o.rand },
    { name: 'AT_AUTN', value: o.autn },
  ];
  if (o.method === 'akaPrime') {
    attributes.push({ name: 'AT_KDF_INPUT', value: AKA_PRIME_NETWORK_NAME }, { name: 'AT_KDF', value: 1 });
  }
  const inner = nextIdentityAttributes(o.next);
  if (inner.length > 0) {
    const e = encrypted(inner, o.kEncr);
    if (!e.ok) return e;
    attributes.push(...e.value);
  }
  attributes.push({ name: 'AT_CHECKCODE', value: o.checkcode });
  if (o.resultInd) attributes.push({ name: 'AT_RESULT_IND', value: true });
  if (o.method === 'aka') attributes.push({ name: 'AT_BIDDING', value: BIDDING_SUPPORTS_AKA_PRIME });
  attributes.push(MAC);
  return encodeSimAka(request(o.method, o.identifier, SIM_AKA_SUBTYPES['AKA-Challenge'], attributes), {
    kAut: o.kAut,
  });
}

/** RFC 4186 §9.3 EAP-Request/SIM/Challenge; AT_MAC covers NONCE_MT (§10.14). */
export function simChallengeRequest(o: {
  identifier: number;
  rands: Uint8Array;
  nonceMt: Uint8Array;
  resultInd: boolean;
  next: NextIdentities;
  kAut: Uint8Array;
  kEncr: Uint8Array;
}): Result<Uint8Array> {
  const attributes: SimAkaAttribute[] = [{ name: 'AT_RAND', value: o.rands }];
  const inner = nextIdentityAttributes(o.next);
  if (inner.length > 0) {
    const e = encrypted(inner, o.kEncr);
    if (!e.ok) return e;
    attributes.push(...e.value);
  }
  if (o.resultInd) attributes.push({ name: 'AT_RESULT_IND', value: true });
  attributes.push(MAC);
  return encodeSimAka(request('sim', o.identifier, SIM_AKA_SUBTYPES['SIM-Challenge'], attributes), {
    kAut: o.kAut,
    extra: o.nonceMt,
  });
}

/** RFC 4187 §9.7 / RFC 4186 §9.5 EAP-Request/…/Re-authentication. */
export function reauthRequest(o: {
  method: SimAkaMethod;
  identifier: number;
  counter: number;
  nonceS: Uint8Array;
  nextReauthId: string | undefined;
  checkcode: Uint8Array;
  resultInd: boolean;
  kAut: Uint8Array;
  kEncr: Uint8Array;
}): Result<Uint8Array> {
  const inner: SimAkaAttribute[] = [
    { name: 'AT_COUNTER', value: o.counter },
    { name: 'AT_NONCE_S', value: o.nonceS },
    ...nextIdentityAttributes(o.nextReauthId === undefined ? {} : { reauthId: o.nextReauthId }),
  ];
  const e = encrypted(inner, o.kEncr);
  if (!e.ok) return e;
  const attributes = [...e.value];
  if (o.method !== 'sim') attributes.push({ name: 'AT_CHECKCODE', value: o.checkcode });
  if (o.resultInd) attributes.push({ name: 'AT_RESULT_IND', value: true });
  attributes.push(MAC);
  return encodeSimAka(request(o.method, o.identifier, SIM_AKA_SUBTYPES['Re-authentication'], attributes), {
    kAut: o.kAut,
  });
}

/**
 * RFC 4187 §9.10 / RFC 4186 §9.8 EAP-Request/…/Notification. A success (after authentication) is
 * protected by AT_MAC, and after a re-authentication also carries AT_COUNTER encrypted (§6.1); a
 * failure before the challenge (P bit set) carries neither.
 */
export function notificationRequest(o: {
  method: SimAkaMethod;
  identifier: number;
  code: number;
  protection?: { kAut: Uint8Array; kEncr: Uint8Array; counter?: number };
}): Result<Uint8Array> {
  const attributes: SimAkaAttribute[] = [];
  if (o.protection?.counter !== undefined) {
    const e = encrypted([{ name: 'AT_COUNTER', value: o.protection.counter }], o.protection.kEncr);
    if (!e.ok) return e;
    attributes.push(...e.value);
  }
  attributes.push({ name: 'AT_NOTIFICATION', value: o.code });
  if (o.protection) attributes.push(MAC);
  return encodeSimAka(
    request(o.method, o.identifier, SIM_AKA_SUBTYPES.Notification, attributes),
    o.protection ? { kAut: o.protection.kAut } : {},
  );
}

export { NOTIFICATION };

/** The EAP method types this server offers, most preferred first (for a peer's Nak). */
export const OFFERED_METHODS: readonly { readonly method: SimAkaMethod; readonly type: number }[] = [
  { method: 'akaPrime', type: EAP_TYPES["EAP-AKA'"] },
  { method: 'aka', type: EAP_TYPES['EAP-AKA'] },
  { method: 'sim', type: EAP_TYPES['EAP-SIM'] },
];
