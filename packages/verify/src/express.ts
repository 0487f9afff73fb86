// `@simtrust/verify/express` (also `simtrust/verify/express`): middleware that admits a request
// only with a valid SIM token whose IMSI (+IMEI) is allowed; otherwise 401 `{code, message}` with
// the reason code.
//
//   app.put('/upload', requireSimToken({ verifier, allow: [{ imsi, imei }] }), (req, res) => …)
//   // in the handler: res.locals.simToken.sim.imsi

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type AllowRule, checkRequest, SimTokenError, type SimTokenVerifier, tokenFrom } from './index.js';

export interface RequireSimTokenOptions {
  readonly verifier: SimTokenVerifier;
  readonly allow?: AllowRule<Request>;
  /** Where the token is (default: Authorization: Bearer, then the redirect-flow query parameter). */
  readonly token?: (request: Request) => string | undefined;
}

export function requireSimToken(options: RequireSimTokenOptions): RequestHandler {
  const find = options.token ?? ((r: Request) => tokenFrom(r.headers, r.query));
  return (req: Request, res: Response, next: NextFunction) => {
    checkRequest(options.verifier, find(req), options.allow, req).then(
      (token) => {
        res.locals.simToken = token;
        next();
      },
      (e: unknown) => {
        if (!(e instanceof SimTokenError)) return next(e);
        res
          .status(401)
          .set('www-authenticate', `Bearer error="invalid_token", error_description="${e.code}"`)
          .json({ code: e.code, message: e.message });
      },
    );
  };
}
