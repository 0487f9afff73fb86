// `@simtrust/verify` (re-exported as `simtrust/verify`): checks a SIM token (a JWT signed by a
// simtrust platform, or by SORACOM Endorse) offline, with the platform's public keys.
//
//   const verifier = createVerifier({ jwksUrl: 'http://platform:8082/.well-known/jwks.json',
//                                     issuer: 'simtrust', audience: 'simtrust-endorse-audience' });
//   const { sim } = await verifier.verify(token);   // sim.imsi, sim.imei, …
//
// What it enforces, whatever the token says: the algorithm is one of the pinned asymmetric ones
// (never `none`, never HMAC — a public key used as an HMAC secret would verify anything), the key is
// the platform's (by kid, from the JWKS or the keys given), iss and aud are the expected ones, exp
// and nbf hold within `clockTolerance`, the namespaced SIM claim is well-formed, and — when the
// verifier is pinned to an operator — the claim names that operator.
// The JWKS is cached; a token with an unknown kid (a freshly rotated key) makes it refetch, at
// most once per `refetchCooldownMs`, so a flood of forged kids cannot turn into a flood of fetches.

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';

/** The algorithms a simtrust platform signs with. */
export const SIM_TOKEN_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export type SimTokenAlgorithm = (typeof SIM_TOKEN_ALGORITHMS)[number];

/** The namespaced claim of native tokens and of SORACOM Endorse tokens. */
export const SIM_CLAIM_NAMES = ['simtrust-endorse-claim', 'soracom-endorse-claim'] as const;

export const SIM_TOKEN_ERROR_CODES = [
  'TOKEN_MISSING',
  'TOKEN_MALFORMED',
  'TOKEN_ALGORITHM_NOT_ALLOWED',
  'TOKEN_KEY_NOT_FOUND',
  'TOKEN_KEYS_UNAVAILABLE',
  'TOKEN_SIGNATURE_INVALID',
  'TOKEN_EXPIRED',
  'TOKEN_NOT_YET_VALID',
  'TOKEN_ISSUER_INVALID',
  'TOKEN_AUDIENCE_INVALID',
  'TOKEN_CLAIM_INVALID',
  'TOKEN_OPERATOR_INVALID',
  'TOKEN_NOT_ALLOWED',
] as const;
export type SimTokenErrorCode = (typeof SIM_TOKEN_ERROR_CODES)[number];

/** Every refusal carries a stable reason code (what the middleware answers with). */
export class SimTokenError extends Error {
  readonly code: SimTokenErrorCode;
  constructor(code: SimTokenErrorCode, message: string) {
    super(message);
    this.name = 'SimTokenError';
    this.code = code;
  }
}

/** The SIM facts the platform vouched for; each is present only when the group endorses it. */
export interface SimClaims {
  readonly imsi?: string;
  readonly imei?: string;
  readonly msisdn?: string;
  readonly simId?: string;
  /** The operator (tenant) of the platform that issued the token; native tokens only. */
  readonly operatorId?: string;
  readonly requestParameters?: Readonly<Record<string, string>>;
}

export interface SimToken {
  readonly header: { readonly alg: SimTokenAlgorithm; readonly kid: string };
  readonly iss: string;
  readonly aud: string | readonly string[];
  readonly sub: string;
  readonly jti: string;
  readonly iat: number;
  readonly nbf: number;
  readonly exp: number;
  /** How the SIM was proven: `sim-session` (its data session) or `sim-aka` (an AKA challenge). */
  readonly amr: readonly string[];
  /** Which namespaced claim carried the SIM facts. */
  readonly claimName: (typeof SIM_CLAIM_NAMES)[number];
  readonly sim: SimClaims;
}

export interface VerifierOptions {
  /** The platform's JWKS (e.g. http://platform:8082/.well-known/jwks.json). */
  readonly jwksUrl?: string | URL;
  /** Or the keys themselves (a JWKS object), for verifiers that cannot fetch. */
  readonly keys?: JSONWebKeySet;
  /** Expected `iss` (`simtrust` by default on a platform; `https://soracom.io` for SORACOM compat). */
  readonly issuer: string | readonly string[];
  /** Expected `aud`. */
  readonly audience: string | readonly string[];
  /**
   * The operator whose tokens this server accepts. When set, a token whose claim carries another
   * `operatorId`, or none (as SORACOM-profile tokens), is refused with TOKEN_OPERATOR_INVALID. On a
   * multi-tenant platform each operator also has its own issuer (`<issuer>/operators/<operatorId>`)
   * and JWKS; pinning the operator keeps the check even where issuers are shared.
   */
  readonly operatorId?: string;
  /** Pinned algorithms (default RS256 only). Only asymmetric algorithms are accepted. */
  readonly algorithms?: readonly SimTokenAlgorithm[];
  /** Seconds of clock skew tolerated on exp/nbf (default 30, at most 300). */
  readonly clockTolerance?: number;
  /** Least time between two JWKS fetches caused by unknown kids (default 30 s). */
  readonly refetchCooldownMs?: number;
  /** How long a fetched JWKS is used before it is fetched again (default 10 min). */
  readonly cacheMaxAgeMs?: number;
  /** The current time in ms (default Date.now); lets tests and replays check exp/nbf at a given time. */
  readonly now?: () => number;
}

export interface SimTokenVerifier {
  /** Verifies a token; resolves to its typed claims or rejects with a SimTokenError. */
  verify(token: string): Promise<SimToken>;
}

const JOSE_CODES: Readonly<Record<string, SimTokenErrorCode>> = {
  [errors.JOSEAlgNotAllowed.code]: 'TOKEN_ALGORITHM_NOT_ALLOWED',
  [errors.JWKSNoMatchingKey.code]: 'TOKEN_KEY_NOT_FOUND',
  [errors.JWKSMultipleMatchingKeys.code]: 'TOKEN_KEY_NOT_FOUND',
  [errors.JWKSTimeout.code]: 'TOKEN_KEYS_UNAVAILABLE',
  [errors.JWKSInvalid.code]: 'TOKEN_KEYS_UNAVAILABLE',
  [errors.JWSSignatureVerificationFailed.code]: 'TOKEN_SIGNATURE_INVALID',
  [errors.JWTExpired.code]: 'TOKEN_EXPIRED',
  [errors.JWSInvalid.code]: 'TOKEN_MALFORMED',
  [errors.JWTInvalid.code]: 'TOKEN_MALFORMED',
  [errors.JOSENotSupported.code]: 'TOKEN_ALGORITHM_NOT_ALLOWED',
};

const CLAIM_CODES: Readonly<Record<string, SimTokenErrorCode>> = {
  nbf: 'TOKEN_NOT_YET_VALID',
  iss: 'TOKEN_ISSUER_INVALID',
  aud: 'TOKEN_AUDIENCE_INVALID',
};

function translate(e: unknown): SimTokenError {
  if (e instanceof SimTokenError) return e;
  if (e instanceof errors.JWTClaimValidationFailed) {
    return new SimTokenError(CLAIM_CODES[e.claim] ?? 'TOKEN_CLAIM_INVALID', e.message);
  }
  if (e instanceof errors.JOSEError) {
    return new SimTokenError(JOSE_CODES[e.code] ?? 'TOKEN_MALFORMED', e.message);
  }
  // fetch failures of the JWKS (network, HTTP status) surface as plain errors.
  return new SimTokenError('TOKEN_KEYS_UNAVAILABLE', e instanceof Error ? e.message : 'key set unavailable');
}

const isStringRecord = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  Object.values(v).every((x) => typeof x === 'string');

/** The namespaced claim as typed SIM facts, or a TOKEN_CLAIM_INVALID refusal. */
function simClaims(payload: JWTPayload): { claimName: SimToken['claimName']; sim: SimClaims } {
  const present = SIM_CLAIM_NAMES.filter((n) => payload[n] !== undefined);
  const claimName = present[0];
  if (claimName === undefined || present.length > 1) {
    throw new SimTokenError(
      'TOKEN_CLAIM_INVALID',
      `the token must carry exactly one of ${SIM_CLAIM_NAMES.join(', ')}`,
    );
  }
  const raw = payload[claimName];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SimTokenError('TOKEN_CLAIM_INVALID', `${claimName} must be an object`);
  }
  const c = raw as Record<string, unknown>;
  const digits = (k: string, re: RegExp) => {
    if (c[k] !== undefined && (typeof c[k] !== 'string' || !re.test(c[k] as string))) {
      throw new SimTokenError('TOKEN_CLAIM_INVALID', `${claimName}.${k} is malformed`);
    }
  };
  digits('imsi', /^\d{6,15}$/);
  digits('imei', /^\d{14,16}$/);
  digits('msisdn', /^\d{1,15}$/);
  digits('simId', /^.{1,64}$/);
  digits('operatorId', /^.{1,64}$/);
  if (c.requestParameters !== undefined && !isStringRecord(c.requestParameters)) {
    throw new SimTokenError(
      'TOKEN_CLAIM_INVALID',
      `${claimName}.requestParameters must map names to strings`,
    );
  }
  const sim: SimClaims = {
    ...(typeof c.imsi === 'string' ? { imsi: c.imsi } : {}),
    ...(typeof c.imei === 'string' ? { imei: c.imei } : {}),
    ...(typeof c.msisdn === 'string' ? { msisdn: c.msisdn } : {}),
    ...(typeof c.simId === 'string' ? { simId: c.simId } : {}),
    ...(typeof c.operatorId === 'string' ? { operatorId: c.operatorId } : {}),
    ...(isStringRecord(c.requestParameters) ? { requestParameters: c.requestParameters } : {}),
  };
  return { claimName, sim };
}

export function createVerifier(options: VerifierOptions): SimTokenVerifier {
  const algorithms = [...(options.algorithms ?? ['RS256'])];
  if (
    algorithms.length === 0 ||
    algorithms.some((a) => !(SIM_TOKEN_ALGORITHMS as readonly string[]).includes(a))
  ) {
    throw new TypeError(`algorithms must be a non-empty subset of ${SIM_TOKEN_ALGORITHMS.join(', ')}`);
  }
  const clockTolerance = options.clockTolerance ?? 30;
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0 || clockTolerance > 300) {
    throw new TypeError('clockTolerance must be 0–300 seconds');
  }
  if (
    options.operatorId !== undefined &&
    (typeof options.operatorId !== 'string' || !/^.{1,64}$/.test(options.operatorId))
  ) {
    throw new TypeError('operatorId must be the operator id the platform shows (1–64 characters)');
  }
  if ((options.jwksUrl === undefined) === (options.keys === undefined)) {
    throw new TypeError('give exactly one of jwksUrl or keys');
  }
  const keySet: JWTVerifyGetKey =
    options.keys !== undefined
      ? createLocalJWKSet(options.keys)
      : createRemoteJWKSet(new URL(options.jwksUrl as string | URL), {
          cooldownDuration: options.refetchCooldownMs ?? 30_000,
          cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
          timeoutDuration: 5_000,
        });
  const issuer = typeof options.issuer === 'string' ? options.issuer : [...options.issuer];
  const audience = typeof options.audience === 'string' ? options.audience : [...options.audience];

  return {
    async verify(token) {
      if (typeof token !== 'string' || token === '') throw new SimTokenError('TOKEN_MISSING', 'no token');
      if (token.length > 16_384 || token.split('.').length !== 3) {
        throw new SimTokenError('TOKEN_MALFORMED', 'not a compact JWS');
      }
      try {
        const { payload, protectedHeader } = await jwtVerify(token, keySet, {
          algorithms,
          issuer,
          audience,
          clockTolerance,
          ...(options.now ? { currentDate: new Date(options.now()) } : {}),
          requiredClaims: ['iss', 'aud', 'sub', 'jti', 'iat', 'nbf', 'exp'],
        });
        if (typeof protectedHeader.kid !== 'string') throw new SimTokenError('TOKEN_MALFORMED', 'no kid');
        const { claimName, sim } = simClaims(payload);
        if (options.operatorId !== undefined && sim.operatorId !== options.operatorId) {
          throw new SimTokenError(
            'TOKEN_OPERATOR_INVALID',
            sim.operatorId === undefined
              ? `the token names no operator; this server accepts only tokens of operator ${options.operatorId}`
              : `the token was issued for another operator; this server accepts only ${options.operatorId}`,
          );
        }
        const amr = Array.isArray(payload.amr)
          ? payload.amr.filter((v): v is string => typeof v === 'string')
          : [];
        return {
          header: { alg: protectedHeader.alg as SimTokenAlgorithm, kid: protectedHeader.kid },
          iss: payload.iss as string,
          aud: payload.aud as string | string[],
          sub: payload.sub as string,
          jti: payload.jti as string,
          iat: payload.iat as number,
          nbf: payload.nbf as number,
          exp: payload.exp as number,
          amr,
          claimName,
          sim,
        };
      } catch (e) {
        throw translate(e);
      }
    },
  };
}

// --- the allow rule shared by the Fastify and Express middleware ------------------------------------

/** Registered devices: an IMSI, optionally pinned to the IMEI of the device it sits in. */
export interface AllowedSim {
  readonly imsi: string;
  readonly imei?: string;
}

/** A list of IMSI (+IMEI) pairs, or a callback deciding from the verified token. */
export type AllowRule<Req = unknown> =
  | readonly AllowedSim[]
  | ((token: SimToken, request: Req) => boolean | Promise<boolean>);

/**
 * Whether a verified token passes `allow`. A pair with an IMEI needs the token's IMEI to be that
 * one (a SIM moved to another device no longer passes); a pair without one accepts any device.
 */
export async function isAllowed<Req>(
  token: SimToken,
  allow: AllowRule<Req> | undefined,
  request: Req,
): Promise<boolean> {
  if (allow === undefined) return true;
  if (typeof allow === 'function') return (await allow(token, request)) === true;
  const { imsi, imei } = token.sim;
  if (imsi === undefined) return false;
  return allow.some((a) => a.imsi === imsi && (a.imei === undefined || a.imei === imei));
}

/**
 * Where the middleware looks for the token: `Authorization: Bearer`, then the redirect flow's query
 * parameters (`simtrust_endorse_token`, `soracom_endorse_token`).
 */
export function tokenFrom(headers: Readonly<Record<string, unknown>>, query: unknown): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (m) return m[1];
  }
  if (typeof query === 'object' && query !== null) {
    const q = query as Record<string, unknown>;
    for (const name of ['simtrust_endorse_token', 'soracom_endorse_token']) {
      if (typeof q[name] === 'string') return q[name] as string;
    }
  }
  return undefined;
}

/** Verify + allow, as both middlewares run it. Resolves to the token or rejects with SimTokenError. */
export async function checkRequest<Req>(
  verifier: SimTokenVerifier,
  token: string | undefined,
  allow: AllowRule<Req> | undefined,
  request: Req,
): Promise<SimToken> {
  if (token === undefined)
    throw new SimTokenError('TOKEN_MISSING', 'send the SIM token as Authorization: Bearer');
  const verified = await verifier.verify(token);
  if (!(await isAllowed(verified, allow, request))) {
    throw new SimTokenError('TOKEN_NOT_ALLOWED', 'this SIM (IMSI/IMEI) is not allowed here');
  }
  return verified;
}
