// The identity the gateway hands to an upstream application: `X-Simtrust-User` (the user id, for
// applications that trust the network path) and `X-Simtrust-Assertion`, a JWT (RFC 7519) signed with
// the current ES256 key of the platform's own key set (PLATFORM_KEY_OWNER: rotated like the
// operators' SIM-token keys but no operator's, so no tenant's SIM-token verifier trusts it and no
// tenant can rotate it), published at `/.simtrust/jwks.json` on the gateway — so an upstream
// verifies it offline with any JOSE library, the way Pomerium's
// X-Pomerium-Jwt-Assertion works (shared/reference/mfa-stk.md A1.3).
//
// Claims: iss (endorseIssuer), aud (the application's audience), sub (user id), iat, nbf, exp, jti,
// amr (RFC 8176), sid (a hash of the session, not the session id), and `simtrust-gateway` with the
// application, operator, groups and subject key. One assertion is signed per session and application
// and reused until a minute before it expires (5 minutes at most, never past the session's end), so
// the proxy's hot path signs nothing.

import { randomBytes } from 'node:crypto';
import { signCompactOffLoop } from '../../platform/endorse/rfc-7515-jws.js';
import { PLATFORM_KEY_OWNER } from '../../platform/endorse/signing-keys.js';
import type { GatewaySession } from '../../platform/mfa/gateway-sessions.js';
import type { Platform } from '../../platform/platform.js';

export const USER_HEADER = 'x-simtrust-user';
export const ASSERTION_HEADER = 'x-simtrust-assertion';
export const ASSERTION_CLAIM = 'simtrust-gateway';
export const ASSERTION_ALGORITHM = 'ES256';

const LIFETIME_MS = 5 * 60_000;
const REUSE_MARGIN_MS = 60_000;
const CACHE_MAX = 50_000;

export class AssertionSigner {
  private readonly cache = new Map<string, { jwt: string; exp: number }>();

  constructor(private readonly platform: Platform) {}

  async assertion(session: GatewaySession, application: { name: string; audience: string }): Promise<string> {
    const now = this.platform.clock.now();
    const cacheKey = `${session.hash}|${application.name}`;
    const cached = this.cache.get(cacheKey);
    if (cached !== undefined && cached.exp * 1000 - REUSE_MARGIN_MS > now) return cached.jwt;
    const key = await this.platform.endorse.keys.current(PLATFORM_KEY_OWNER, ASSERTION_ALGORITHM);
    const iat = Math.floor(now / 1000);
    const exp = Math.floor(Math.min(now + LIFETIME_MS, session.expiresAt) / 1000);
    const jwt = await signCompactOffLoop(
      ASSERTION_ALGORITHM,
      key.privateKey,
      { alg: ASSERTION_ALGORITHM, kid: key.kid, typ: 'JWT' },
      {
        iss: this.platform.config.endorseIssuer,
        aud: application.audience,
        sub: session.userId,
        iat,
        nbf: iat - 30,
        exp,
        jti: randomBytes(16).toString('base64url'),
        amr: session.amr,
        sid: session.hash.slice(0, 22),
        [ASSERTION_CLAIM]: {
          application: application.name,
          operatorId: session.operatorId,
          subject: session.subject,
          groups: session.groups,
        },
      },
    );
    if (this.cache.size >= CACHE_MAX) {
      // Oldest entries first (Map keeps insertion order).
      for (const k of [...this.cache.keys()].slice(0, CACHE_MAX / 10)) this.cache.delete(k);
    }
    this.cache.set(cacheKey, { jwt, exp });
    return jwt;
  }

  /** Forgets a session's assertions (logout) so none is reused on this instance. */
  forget(sessionHash: string): void {
    for (const k of this.cache.keys()) if (k.startsWith(`${sessionHash}|`)) this.cache.delete(k);
  }
}
