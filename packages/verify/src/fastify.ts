// `@simtrust/verify/fastify` (also `simtrust/verify/fastify`): a preHandler that admits a request
// only with a valid SIM token whose IMSI (+IMEI) is allowed; otherwise 401 `{code, message}` with
// the reason code.
//
//   app.post('/upload', { preHandler: requireSimToken({ verifier, allow: [{ imsi, imei }] }) }, …)
//   // in the handler: request.simToken.sim.imsi

import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import {
  type AllowRule,
  checkRequest,
  type SimToken,
  SimTokenError,
  type SimTokenVerifier,
  tokenFrom,
} from './index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified SIM token (set by requireSimToken). */
    simToken?: SimToken;
  }
}

export interface RequireSimTokenOptions {
  readonly verifier: SimTokenVerifier;
  readonly allow?: AllowRule<FastifyRequest>;
  /** Where the token is (default: Authorization: Bearer, then the redirect-flow query parameter). */
  readonly token?: (request: FastifyRequest) => string | undefined;
}

export function requireSimToken(options: RequireSimTokenOptions): preHandlerAsyncHookHandler {
  const find = options.token ?? ((r: FastifyRequest) => tokenFrom(r.headers, r.query));
  return async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      request.simToken = await checkRequest(options.verifier, find(request), options.allow, request);
    } catch (e) {
      if (!(e instanceof SimTokenError)) throw e;
      // RFC 6750 §3: the challenge names the scheme and the error.
      await reply
        .status(401)
        .header('www-authenticate', `Bearer error="invalid_token", error_description="${e.code}"`)
        .send({ code: e.code, message: e.message });
    }
  };
}
