#!/usr/bin/env node
// An independent verifier of simtrust SIM tokens: plain JavaScript, nothing but `jose` and the
// platform's JWKS URL — no simtrust code — so it shows that any standard JWT library accepts the
// tokens (and refuses the forged ones) on its own.
//
//   node examples/independent-verifier/verify.mjs <jwks-url> <issuer> <audience> <token>
//
// Prints {"ok":true,"header":…,"payload":…} and exits 0, or {"ok":false,"code":…} and exits 1.

import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksUrl, issuer, audience, token] = process.argv.slice(2);
if (!jwksUrl || !issuer || !audience || !token) {
  process.stderr.write('usage: verify.mjs <jwks-url> <issuer> <audience> <token>\n');
  process.exit(2);
}

try {
  const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(jwksUrl)), {
    issuer,
    audience,
    // Pinned: only the asymmetric algorithms the platform signs with; `none` and HS256 never pass.
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    requiredClaims: ['iss', 'aud', 'sub', 'jti', 'iat', 'nbf', 'exp'],
  });
  process.stdout.write(`${JSON.stringify({ ok: true, header: protectedHeader, payload })}\n`);
} catch (e) {
  process.stdout.write(
    `${JSON.stringify({ ok: false, code: e.code ?? 'ERR_UNKNOWN', message: e.message })}\n`,
  );
  process.exitCode = 1;
}
