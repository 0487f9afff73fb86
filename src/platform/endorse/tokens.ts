// The token: a JWT (RFC 7519) with `iss`, `aud`, `sub`, `jti`, `iat`, `nbf = iat − 60`,
// `exp = iat + tokenTimeoutSeconds`, `amr` (RFC 8176: how the SIM was proven) and one namespaced
// claim object with the identities the group's `parametersToEndorse` selects. Two profiles: the
// native one, and SORACOM Endorse's exact constants (soracom.md §1.3) for `compat: "soracom"`, so
// verifiers written for SORACOM accept simtrust tokens unchanged.
//
// Each operator signs with its own keys (signing-keys.ts). Native tokens also name the operator
// twice, so a verifier that trusts one operator refuses another's token even if it were handed the
// wrong key set: the issuer is `<endorseIssuer>/operators/<operatorId>` and the claim object carries
// `operatorId` (issue 11). SORACOM-profile tokens keep SORACOM's exact shape; they are kept apart
// by the operator's own JWKS and certificates alone.

import { randomBytes } from 'node:crypto';
import type { CompatMode, EndorseConfig } from './config.js';
import { signCompactOffLoop } from './rfc-7515-jws.js';
import type { SigningKey } from './signing-keys.js';

export interface TokenProfile {
  readonly issuer: string;
  readonly audience: string;
  readonly subject: string;
  /** The namespaced claim holding imsi, imei, msisdn, simId, requestParameters. */
  readonly claim: string;
  /** Query parameter that carries the token in the redirect flow. */
  readonly redirectParameter: string;
  readonly kid: 'thumbprint' | 'soracom';
  /** Whether the claim object carries `operatorId` (native tokens; not SORACOM's shape). */
  readonly operatorClaim: boolean;
}

export const SORACOM_PROFILE: TokenProfile = {
  issuer: 'https://soracom.io',
  audience: 'soracom-endorse-audience',
  subject: 'soracom-endorse',
  claim: 'soracom-endorse-claim',
  redirectParameter: 'soracom_endorse_token',
  kid: 'soracom',
  operatorClaim: false,
};

/** An operator's native issuer: `<endorseIssuer>/operators/<operatorId>` (one `/` however the base ends). */
export const operatorIssuer = (baseIssuer: string, operatorId: string): string =>
  `${baseIssuer.replace(/\/$/, '')}/operators/${operatorId}`;

export const nativeProfile = (issuer: string, audience: string): TokenProfile => ({
  issuer,
  audience,
  subject: 'simtrust-endorse',
  claim: 'simtrust-endorse-claim',
  redirectParameter: 'simtrust_endorse_token',
  kid: 'thumbprint',
  operatorClaim: true,
});

/** RFC 8176 `amr` values: a data session the AAA admitted, or an AKA run over any link. */
export const AMR = { session: 'sim-session', aka: 'sim-aka' } as const;
export type ProofMethod = keyof typeof AMR;

/** The SIM a token vouches for, as the session or the challenge established it. */
export interface SimIdentity {
  readonly simId: string;
  readonly imsi: string;
  /** The IMEI the network reported for the session; unknown in AKA challenge mode. */
  readonly imei: string | null;
  readonly msisdn: string | null;
}

/** RFC 7518 §3.1 `nbf` back-dating (SORACOM's samples: nbf = iat − 60). */
export const NOT_BEFORE_SKEW_SECONDS = 60;

export interface IssuedToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresAt: number;
}

export async function issueToken(input: {
  readonly identity: SimIdentity;
  /** The SIM's operator, whose key signs (native tokens carry it in the claim object). */
  readonly operatorId: string;
  readonly config: EndorseConfig;
  readonly profile: TokenProfile;
  readonly key: SigningKey;
  readonly proof: ProofMethod;
  readonly requestParameters: Readonly<Record<string, string>> | undefined;
  readonly nowMs: number;
}): Promise<IssuedToken> {
  const { identity, config, profile, key } = input;
  const iat = Math.floor(input.nowMs / 1000);
  const exp = iat + config.tokenTimeoutSeconds;
  const jti = randomBytes(16).toString('base64url');
  const select = config.parametersToEndorse;
  const claim: Record<string, unknown> = profile.operatorClaim ? { operatorId: input.operatorId } : {};
  if (select.imsi) claim.imsi = identity.imsi;
  if (select.imei && identity.imei !== null) claim.imei = identity.imei;
  if (select.msisdn && identity.msisdn !== null) claim.msisdn = identity.msisdn;
  if (select.simId) claim.simId = identity.simId;
  if (select.requestParameters && input.requestParameters !== undefined) {
    claim.requestParameters = input.requestParameters;
  }
  // SORACOM's header is exactly {kid, alg}; the native one is the same.
  const header = { kid: profile.kid === 'soracom' ? key.compatKid : key.kid, alg: key.alg };
  const payload = {
    iss: profile.issuer,
    aud: profile.audience,
    sub: profile.subject,
    jti,
    iat,
    nbf: iat - NOT_BEFORE_SKEW_SECONDS,
    exp,
    amr: [AMR[input.proof]],
    [profile.claim]: claim,
  };
  const token = await signCompactOffLoop(key.alg, key.privateKey, header, payload);
  return { token, jti, expiresAt: exp * 1000 };
}

/** The profile of an operator's group: native (the operator's own issuer) or SORACOM's constants. */
export const profileFor = (
  compat: CompatMode,
  baseIssuer: string,
  audience: string,
  operatorId: string,
): TokenProfile =>
  compat === 'soracom' ? SORACOM_PROFILE : nativeProfile(operatorIssuer(baseIssuer, operatorId), audience);
