// The SIM-token factor's token check: the JWT the device brings back from the token endpoint
// (issue 6's redirect flow) is verified with the platform's own published keys by the verifier of
// `simtrust/verify` — pinned asymmetric algorithms, issuer, audience, lifetime, the SIM claim —
// for native tokens and for groups in SORACOM-compatible mode. What the IMSI/IMEI must be, and that
// a token works once, is the MFA engine's part (engine.acceptSimToken).

import { SimtrustError } from '../../lib/errors.js';
import type { Platform } from '../../platform/platform.js';
import { createVerifier, SIM_TOKEN_ALGORITHMS, SimTokenError } from '../../sdk/verify.js';

const SORACOM = { issuer: 'https://soracom.io', audience: 'soracom-endorse-audience' };

export async function verifySimToken(
  platform: Platform,
  token: string,
): Promise<{ imsi: string | undefined; imei: string | undefined; jti: string; exp: number }> {
  if (token === '' || token.length > 8192)
    throw new SimtrustError('ERR_SIM_TOKEN_INVALID', 'no SIM token came back');
  const verifier = createVerifier({
    keys: await platform.endorse.keys.jwks(),
    issuer: [platform.config.endorseIssuer, SORACOM.issuer],
    audience: [platform.config.endorseAudience, SORACOM.audience],
    algorithms: SIM_TOKEN_ALGORITHMS,
    now: () => platform.clock.now(),
  });
  try {
    const t = await verifier.verify(token);
    return { imsi: t.sim.imsi, imei: t.sim.imei, jti: t.jti, exp: t.exp };
  } catch (e) {
    if (e instanceof SimTokenError)
      throw new SimtrustError('ERR_SIM_TOKEN_INVALID', `${e.code}: ${e.message}`);
    throw e;
  }
}
