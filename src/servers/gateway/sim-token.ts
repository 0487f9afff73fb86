// The SIM-token factor's token check: the JWT the device brings back from the token endpoint
// (issue 6's redirect flow) is verified by the verifier of `simtrust/verify` — pinned asymmetric
// algorithms, issuer, audience, lifetime, the SIM claim — with the public keys of the operator the
// login belongs to, and no other (issue 11): another operator's SIM token does not verify here
// even for the same IMSI. Native tokens must also name that operator (their issuer
// `<endorseIssuer>/operators/<operatorId>` and their claim's `operatorId`); tokens of groups in
// SORACOM-compatible mode carry no operator and are bound by the operator's keys alone. What the
// IMSI/IMEI must be, and that a token works once, is the MFA engine's part (engine.acceptSimToken).

import { decodeJwt } from 'jose';
import { SimtrustError } from '../../lib/errors.js';
import { PLATFORM_KEY_OWNER } from '../../platform/endorse/signing-keys.js';
import { nativeProfile, operatorIssuer, SORACOM_PROFILE } from '../../platform/endorse/tokens.js';
import type { Platform } from '../../platform/platform.js';
import { createVerifier, SIM_TOKEN_ALGORITHMS, SimTokenError } from '../../sdk/verify.js';

const invalid = (message: string) => new SimtrustError('ERR_SIM_TOKEN_INVALID', message);

export async function verifySimToken(
  platform: Platform,
  operatorId: string,
  token: string,
): Promise<{ imsi: string | undefined; imei: string | undefined; jti: string; exp: number }> {
  if (token === '' || token.length > 8192) throw invalid('no SIM token came back');
  // A login that names no operator (an unknown user) has no SIM-token keys to verify against.
  if (operatorId === PLATFORM_KEY_OWNER) throw invalid('this login has no SIM to prove');
  const { endorseIssuer, endorseAudience } = platform.config;
  const native = nativeProfile(operatorIssuer(endorseIssuer, operatorId), endorseAudience);
  const verifier = createVerifier({
    keys: await platform.endorse.keys.jwks(operatorId),
    issuer: [native.issuer, SORACOM_PROFILE.issuer],
    audience: [native.audience, SORACOM_PROFILE.audience],
    algorithms: SIM_TOKEN_ALGORITHMS,
    now: () => platform.clock.now(),
  });
  let t: Awaited<ReturnType<typeof verifier.verify>>;
  try {
    t = await verifier.verify(token);
  } catch (e) {
    if (e instanceof SimTokenError) throw invalid(`${e.code}: ${e.message}`);
    throw e;
  }
  if (t.claimName === native.claim) {
    // Read from the verified token: the signature above covers the claim.
    const claim = decodeJwt(token)[native.claim] as Record<string, unknown>;
    if (claim.operatorId !== operatorId)
      throw invalid("TOKEN_OPERATOR_INVALID: the token is not for this login's operator");
  }
  return { imsi: t.sim.imsi, imei: t.sim.imei, jti: t.jti, exp: t.exp };
}
