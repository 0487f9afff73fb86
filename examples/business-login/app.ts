// The business-system login example: a web app whose login form posts the username *through the
// platform's token endpoint* (SORACOM Endorse's redirect flow). The device's browser reaches the
// endpoint over the SIM's data session, so the platform redirects back to the app with a token
// that carries the SIM's IMSI and the device's IMEI, and the username as a request parameter. The
// app logs the user in only when that IMSI+IMEI pair is registered for that user: the SIM in the
// user's own device is the login factor, no password travels.

import { randomBytes } from 'node:crypto';
import { createVerifier, SimTokenError } from '@simtrust/verify';
import Fastify, { type FastifyInstance } from 'fastify';

export interface LoginAppOptions {
  /** The platform's device listener, e.g. http://127.0.0.1:8082 (the form posts there). */
  readonly deviceUrl: string;
  /** The JWKS of the operator whose SIMs log in: /v1/operators/<operatorId>/endorse/jwks.json */
  readonly jwksUrl: string;
  /** Where the browser reaches this app, e.g. http://127.0.0.1:3000 */
  readonly publicUrl: string;
  /** Users and the SIM + device each may log in with. */
  readonly users: Readonly<Record<string, { readonly imsi: string; readonly imei: string }>>;
  /** That operator's issuer: `simtrust/operators/<operatorId>` (`https://soracom.io` for compat "soracom"). */
  readonly issuer: string;
  readonly audience?: string;
}

const page = (title: string, body: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

export function createLoginApp(o: LoginAppOptions): FastifyInstance {
  const verifier = createVerifier({
    jwksUrl: o.jwksUrl,
    issuer: o.issuer,
    audience: o.audience ?? 'simtrust-endorse-audience',
  });
  const callback = `${o.publicUrl}/login/callback`;
  const sessions = new Map<string, string>();
  // A token is good for one login: a callback URL copied from history or a log cannot be replayed.
  const usedJti = new Map<string, number>();
  const app = Fastify();

  app.get('/', async (_request, reply) =>
    reply.type('text/html').send(
      page(
        'Sign in',
        `<form method="post" action="${escapeHtml(`${o.deviceUrl}/?redirect_url=${encodeURIComponent(callback)}`)}">
           <label>User <input name="username" autocomplete="username"></label>
           <button type="submit">Sign in with this device's SIM</button>
         </form>`,
      ),
    ),
  );

  app.get<{ Querystring: { simtrust_endorse_token?: string } }>('/login/callback', async (request, reply) => {
    const refuse = (reason: string) =>
      reply
        .status(401)
        .type('text/html')
        .send(page('Sign-in refused', `<p id="reason">${escapeHtml(reason)}</p>`));
    let token: Awaited<ReturnType<typeof verifier.verify>>;
    try {
      token = await verifier.verify(request.query.simtrust_endorse_token ?? '');
    } catch (e) {
      return refuse(e instanceof SimTokenError ? e.code : 'TOKEN_INVALID');
    }
    const now = Date.now() / 1000;
    for (const [jti, exp] of usedJti) if (exp < now) usedJti.delete(jti);
    if (usedJti.has(token.jti)) return refuse('TOKEN_REPLAYED');
    usedJti.set(token.jti, token.exp);
    const username = token.sim.requestParameters?.username ?? '';
    const registered = o.users[username];
    if (!registered || registered.imsi !== token.sim.imsi || registered.imei !== token.sim.imei) {
      return refuse('SIM_NOT_REGISTERED_FOR_USER');
    }
    const session = randomBytes(24).toString('base64url');
    sessions.set(session, username);
    return reply
      .header('set-cookie', `session=${session}; HttpOnly; SameSite=Lax; Path=/`)
      .redirect('/welcome', 303);
  });

  app.get('/welcome', async (request, reply) => {
    const cookie = /(?:^|;\s*)session=([^;]+)/.exec(request.headers.cookie ?? '')?.[1];
    const user = cookie === undefined ? undefined : sessions.get(cookie);
    if (user === undefined) return reply.redirect('/', 302);
    return reply
      .type('text/html')
      .send(page(`Welcome, ${escapeHtml(user)}`, '<p>Signed in with your SIM.</p>'));
  });
  return app;
}
