// The MFA gateway: a reverse proxy in front of web applications that lets a request through only
// with a valid gateway session and otherwise runs the login of seed 003 (PRODUCT.md §4):
//
//   ① login page (ID/password) → ② the MFA controller checks them and the application's policy names
//   the second factor(s) → ③④⑤ an SMS code is made, cached as an HMAC and sent through the SMS
//   providers (or the TOTP / SIM-token page) → ⑥ factor page → ⑦⑧ the user types the code →
//   ⑨ it is checked → ⑩ session cookie → ⑪ the original URL, and the backend content.
//
// The gateway's own pages live under /.simtrust/ (never proxied); every other path belongs to the
// application with the longest matching prefix and is proxied by @fastify/http-proxy (WebSocket
// upgrades included) with the user's identity added (assertion.ts) and any client-sent copy of the
// identity headers and the gateway's cookies removed.
//
// Cookies: the session (`__Host-simtrust-session` over TLS, otherwise `simtrust-session`; Path=/),
// the login transaction and the CSRF secret (Path=/.simtrust/); all HttpOnly and SameSite=Lax,
// Secure whenever the request came over TLS (directly or per X-Forwarded-Proto with
// gatewayTrustProxy). Every form carries a CSRF token = HMAC(csrf key, the CSRF cookie), and a
// foreign Origin is refused too.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import httpProxy from '@fastify/http-proxy';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { constantTimeEqualText } from '../../crypto/constant-time.js';
import { SimtrustError } from '../../lib/errors.js';
import { directorySource } from '../../platform/directories/subjects.js';
import { PLATFORM_KEY_OWNER } from '../../platform/endorse/signing-keys.js';
import type { LoginTransaction, StepContext } from '../../platform/mfa/engine.js';
import type { GatewaySession } from '../../platform/mfa/gateway-sessions.js';
import { passwordStep } from '../../platform/mfa/login-flow.js';
import { maskPhone } from '../../platform/mfa/phone.js';
import { platformSource } from '../../platform/mfa/platform-subjects.js';
import { KANNEL_DLR_TYPE } from '../../platform/mfa/sms-providers/kannel.js';
import {
  FACTOR_AMR,
  FACTORS,
  type Factor,
  policyFactors,
  type Subject,
  type SubjectSource,
} from '../../platform/mfa/subject.js';
import type { Platform } from '../../platform/platform.js';
import { type GatewayApplication, gatewayApplications } from './applications.js';
import { ASSERTION_HEADER, AssertionSigner, USER_HEADER } from './assertion.js';
import {
  duration,
  durationSeconds,
  hasMessage,
  type Lang,
  type MessageKey,
  type MessageValue,
  negotiateLanguage,
} from './i18n.js';
import {
  choosePage,
  codePage,
  errorPage,
  loginPage,
  logoutPage,
  type PageError,
  STYLE_CSS,
  signedOutPage,
  simTokenPage,
} from './pages.js';
import { safeReturnTo } from './return-to.js';
import { verifySimToken } from './sim-token.js';

declare module 'fastify' {
  interface FastifyRequest {
    gatewaySession?: GatewaySession;
    gatewayAssertion?: string;
  }
}

export interface GatewayOptions {
  readonly platform: Platform;
  readonly logger?: FastifyBaseLogger;
  /** Defaults to the applications in the platform's configuration. */
  readonly applications?: readonly GatewayApplication[];
}

const SESSION_COOKIE = 'simtrust-session';
const SECURE_SESSION_COOKIE = '__Host-simtrust-session';
const LOGIN_COOKIE = 'simtrust-login';
const CSRF_COOKIE = 'simtrust-csrf';
const OWN_COOKIES = new Set([
  SESSION_COOKIE,
  SECURE_SESSION_COOKIE,
  LOGIN_COOKIE,
  `__Secure-${LOGIN_COOKIE}`,
  CSRF_COOKIE,
  `__Secure-${CSRF_COOKIE}`,
]);
const PAGES = '/.simtrust';

const secure = (request: FastifyRequest) => request.protocol === 'https';
const sessionCookieName = (request: FastifyRequest) =>
  secure(request) ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
const pageCookieName = (request: FastifyRequest, name: string) =>
  secure(request) ? `__Secure-${name}` : name;

/** Cookie header without the gateway's own cookies: the upstream never sees a session id. */
export function stripOwnCookies(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const kept = header
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c !== '' && !OWN_COOKIES.has(c.split('=')[0]?.trim() ?? ''));
  return kept.length === 0 ? undefined : kept.join('; ');
}

/** Request headers for the upstream: the client's, minus any identity it claims, plus ours. */
export function upstreamHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  identity: { user: string; assertion: string } | undefined,
): Record<string, string | string[]> {
  // Client header names are request data: fromEntries defines own properties, so a header named
  // `__proto__` is forwarded as a header instead of reaching the object's prototype (issue 11).
  const out: Record<string, string | string[]> = Object.fromEntries(
    Object.entries(headers).filter(
      (entry): entry is [string, string | string[]] =>
        entry[1] !== undefined &&
        !entry[0].toLowerCase().startsWith('x-simtrust-') &&
        entry[0].toLowerCase() !== 'cookie',
    ),
  );
  const cookies = stripOwnCookies(typeof headers.cookie === 'string' ? headers.cookie : undefined);
  if (cookies !== undefined) out.cookie = cookies;
  if (identity !== undefined) {
    out[USER_HEADER] = identity.user;
    out[ASSERTION_HEADER] = identity.assertion;
  }
  return out;
}

function pageError(e: unknown): PageError {
  if (!(e instanceof SimtrustError)) return { key: 'error.generic' };
  const key = `error.${e.code}`;
  const d = e.details ?? {};
  const values: Record<string, MessageValue> = {};
  if (typeof d.retryAfterSeconds === 'number') values.wait = duration(d.retryAfterSeconds);
  if (typeof d.guessesLeft === 'number') values.left = d.guessesLeft;
  return hasMessage(key) ? { key: key as MessageKey, values } : { key: 'error.generic' };
}

function statusOf(e: unknown): number {
  return e instanceof SimtrustError ? e.status : 500;
}

interface Context {
  readonly platform: Platform;
  readonly apps: readonly GatewayApplication[];
  readonly sources: ReadonlyMap<string, SubjectSource>;
  readonly signer: AssertionSigner;
}

export async function buildGateway(options: GatewayOptions): Promise<FastifyInstance> {
  const { platform } = options;
  const config = platform.config;
  const apps = options.applications ?? gatewayApplications(config);
  if (apps.length === 0)
    throw new SimtrustError(
      'ERR_CONFIG',
      'the gateway has no application (gatewayUpstream or gatewayApplications)',
    );
  const sources = new Map<string, SubjectSource>();
  for (const a of apps) {
    if ('directory' in a.users) {
      const operatorId = await platform.directories.operatorOf(a.users.directory);
      if (operatorId === undefined) {
        throw new SimtrustError(
          'ERR_CONFIG',
          `gateway application "${a.name}": no directory ${a.users.directory}`,
        );
      }
      sources.set(
        a.name,
        directorySource(platform.store.db, platform.directories, a.users.directory, operatorId),
      );
    } else {
      sources.set(a.name, platformSource(platform.store.db, platform.access.mfa, a.users.operatorId));
    }
  }
  const https =
    config.gatewayTlsCertFile !== undefined && config.gatewayTlsKeyFile !== undefined
      ? { cert: readFileSync(config.gatewayTlsCertFile), key: readFileSync(config.gatewayTlsKeyFile) }
      : undefined;
  const logger = options.logger?.child(
    { listener: 'gateway' },
    {
      // The query string can carry a SIM token on its way back from the token endpoint: never log it.
      serializers: {
        req: (req: FastifyRequest) => ({ method: req.method, path: req.url.split('?')[0], id: req.id }),
      },
    },
  );
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    trustProxy: config.gatewayTrustProxy,
    bodyLimit: config.httpBodyLimitBytes,
    ...(https ? { https } : {}),
  }) as unknown as FastifyInstance;
  const ctx: Context = { platform, apps, sources, signer: new AssertionSigner(platform) };

  await app.register(cookie);
  await app.register(pagesPlugin(ctx));
  for (const a of apps) await app.register(proxyPlugin(ctx, a));
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const e = error instanceof SimtrustError ? error : new SimtrustError('ERR_INTERNAL', 'internal error');
    if (e.status >= 500) request.log.error({ err: error }, 'gateway request failed');
    return reply.status(e.status).send(e.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const lang = negotiateLanguage(request.headers['accept-language']);
    return sendPage(reply.status(404), errorPage({ lang, error: { key: 'error.ERR_ROUTE_NOT_FOUND' } }));
  });
  await app.ready();
  return app;
}

function sendPage(reply: FastifyReply, html: string): FastifyReply {
  return reply.type('text/html; charset=utf-8').send(html);
}

// ---------------------------------------------------------------------------------- the proxy

/** Whether a session (made for one application) also satisfies another's policy. */
function sessionFits(ctx: Context, app: GatewayApplication, session: GatewaySession): boolean {
  if (session.application === app.name) return true;
  const source = ctx.sources.get(app.name);
  const sessionApp = ctx.apps.find((a) => a.name === session.application);
  if (
    source === undefined ||
    sessionApp === undefined ||
    ctx.sources.get(sessionApp.name)?.id !== source.id
  ) {
    return false;
  }
  return policyFactors(app.policy, session).some((f) => session.amr.includes(FACTOR_AMR[f]));
}

function proxyPlugin(ctx: Context, a: GatewayApplication): FastifyPluginAsync {
  const upstreamPath = new URL(a.upstream).pathname.replace(/\/+$/, '');
  const prefix = a.prefix === '/' ? '' : a.prefix.replace(/\/+$/, '');
  const rewritePrefix = a.stripPrefix ? upstreamPath || '/' : `${upstreamPath}${prefix}` || '/';

  const requireSession = async (request: FastifyRequest, reply: FastifyReply) => {
    const session = await ctx.platform.gatewaySessions.lookup(request.cookies[sessionCookieName(request)]);
    if (session !== undefined && sessionFits(ctx, a, session)) {
      request.gatewaySession = session;
      request.gatewayAssertion = await ctx.signer.assertion(session, a);
      return;
    }
    const wantsPage =
      (request.method === 'GET' || request.method === 'HEAD') &&
      request.headers.upgrade === undefined &&
      !/application\/json/.test(request.headers.accept ?? '');
    if (wantsPage) {
      const target = `${PAGES}/login?app=${encodeURIComponent(a.name)}&return_to=${encodeURIComponent(request.url)}`;
      return reply.header('cache-control', 'no-store').redirect(target, 302);
    }
    return reply
      .status(401)
      .send(new SimtrustError('ERR_UNAUTHENTICATED', 'sign in through the gateway first').toBody());
  };

  const identity = (request: FastifyRequest) =>
    request.gatewaySession && request.gatewayAssertion
      ? { user: request.gatewaySession.userId, assertion: request.gatewayAssertion }
      : undefined;

  return async (app) => {
    // `rewriteRequestHeaders` of wsClientOptions exists at run time (the package's own default
    // copies the cookie) but is missing from its types.
    const wsClientOptions = {
      rewriteRequestHeaders: (headers: Record<string, string>, request: FastifyRequest) => ({
        ...headers,
        ...upstreamHeaders({ cookie: request.headers.cookie }, identity(request)),
      }),
    };
    await app.register(httpProxy, {
      upstream: new URL(a.upstream).origin,
      ...(prefix === '' ? {} : { prefix }),
      rewritePrefix,
      websocket: a.websocket as true,
      preHandler: requireSession,
      replyOptions: {
        rewriteRequestHeaders: (request, headers) =>
          upstreamHeaders(headers, identity(request as FastifyRequest)),
        // The upstream refused, reset, timed out or answered garbage: one code for all of them.
        onError: (reply, { error }) => {
          reply.log.warn({ err: error, application: a.name }, 'upstream failed');
          const e = new SimtrustError('ERR_GATEWAY_UPSTREAM', 'the application is not reachable');
          return reply.status(e.status).send(e.toBody());
        },
      },
      wsClientOptions: wsClientOptions as object,
    });
  };
}

// ---------------------------------------------------------------------------------- the pages

interface LoginState {
  readonly id: string;
  readonly transaction: LoginTransaction;
  readonly app: GatewayApplication;
  readonly source: SubjectSource;
  readonly subject: Subject;
}

function pagesPlugin(ctx: Context): FastifyPluginAsync {
  const { platform } = ctx;
  const { mfa, config } = platform;

  const langOf = (request: FastifyRequest): Lang => negotiateLanguage(request.headers['accept-language']);
  const stepContext = (request: FastifyRequest): StepContext => ({
    sourceIp: request.ip,
    requestId: request.id,
    surface: 'Gateway',
  });
  const appNamed = (name: unknown) =>
    typeof name === 'string'
      ? ctx.apps.find((a) => a.name === name)
      : ctx.apps.length === 1
        ? ctx.apps[0]
        : undefined;
  const loginUrl = (app: GatewayApplication | undefined) =>
    `${PAGES}/login${app === undefined ? '' : `?app=${encodeURIComponent(app.name)}`}`;

  const cookieOptions = (request: FastifyRequest, path: string, maxAgeSeconds?: number) => ({
    path,
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: secure(request),
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  });

  /** The CSRF secret cookie (made on first sight) and the token forms carry. */
  const csrfToken = async (request: FastifyRequest, reply: FastifyReply): Promise<string> => {
    const name = pageCookieName(request, CSRF_COOKIE);
    let secret = request.cookies[name];
    if (secret === undefined || !/^[A-Za-z0-9_-]{43}$/.test(secret)) {
      secret = randomBytes(32).toString('base64url');
      reply.setCookie(name, secret, cookieOptions(request, `${PAGES}/`));
      request.cookies[name] = secret;
    }
    return platform.mfa.csrfToken(secret);
  };

  /** Refuses a form without the right CSRF token, or sent from another origin. */
  const checkCsrf = async (request: FastifyRequest): Promise<void> => {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `${request.protocol}://${request.host}`) {
      throw new SimtrustError('ERR_CSRF', 'the form was sent from another origin');
    }
    const secret = request.cookies[pageCookieName(request, CSRF_COOKIE)];
    const given = (request.body as Record<string, unknown> | undefined)?.csrf;
    if (secret === undefined || typeof given !== 'string')
      throw new SimtrustError('ERR_CSRF', 'missing CSRF token');
    if (!constantTimeEqualText(given, await platform.mfa.csrfToken(secret))) {
      throw new SimtrustError('ERR_CSRF', 'wrong CSRF token');
    }
  };

  const loginState = async (request: FastifyRequest): Promise<LoginState> => {
    const id = request.cookies[pageCookieName(request, LOGIN_COOKIE)];
    const transaction = await mfa.transaction(id);
    const app = transaction && ctx.apps.find((a) => a.name === transaction.application);
    const source = app && ctx.sources.get(app.name);
    const subject = transaction && source ? await source.load(transaction.subject) : undefined;
    if (!id || !transaction || !app || !source || !subject) {
      throw new SimtrustError('ERR_MFA_TRANSACTION', 'no login in progress');
    }
    return { id, transaction, app, source, subject };
  };

  const renderFactor = async (
    request: FastifyRequest,
    reply: FastifyReply,
    state: LoginState,
    extra: { error?: PageError; notice?: PageError; status?: number } = {},
  ) => {
    const lang = langOf(request);
    const { transaction: t, subject } = state;
    const csrf = await csrfToken(request, reply);
    const choice = t.factors.length > 1;
    if (extra.status !== undefined) reply.status(extra.status);
    const wait = durationSeconds(extra.error?.values?.wait);
    if (extra.status === 429 && wait !== undefined) reply.header('retry-after', String(wait));
    if (t.factor === null) {
      return sendPage(
        reply,
        choosePage({
          lang,
          csrf,
          factors: t.factors,
          phone: subject.phone && maskPhone(subject.phone.number),
          error: extra.error,
        }),
      );
    }
    if (t.factor === 'sim-token') {
      return sendPage(
        reply,
        simTokenPage({ lang, continueUrl: simTokenUrl(request), error: extra.error, choice }),
      );
    }
    let sms: { phone: string; validSeconds: number; status: string } | undefined;
    if (t.factor === 'sms-otp' && t.messageId !== null) {
      const record = await platform.sms
        .get(t.operatorId, t.messageId, { refresh: true })
        .catch(() => undefined);
      sms = {
        phone: maskPhone(subject.phone?.number ?? ''),
        validSeconds: config.mfaOtpTtlSeconds,
        status: record?.status ?? 'unknown',
      };
    }
    return sendPage(
      reply,
      codePage({
        lang,
        csrf,
        factor: t.factor,
        digits: t.factor === 'sms-otp' ? config.mfaOtpLength : 6,
        sms,
        error: extra.error,
        notice: extra.notice,
        choice,
      }),
    );
  };

  /** The SIM-token factor leaves for the token endpoint, which comes back to /.simtrust/sim-token. */
  const simTokenUrl = (request: FastifyRequest) => {
    const base = config.gatewaySimTokenUrl ?? `http://${config.deviceHttpHost}:${config.deviceHttpPort}/`;
    const url = new URL(base);
    url.searchParams.set('redirect_url', `${request.protocol}://${request.host}${PAGES}/sim-token`);
    return url.toString();
  };

  /** Sends a code for an SMS login (first send or resend); errors are shown on the factor page. */
  const sendCode = async (request: FastifyRequest, state: LoginState): Promise<LoginState> => {
    await mfa.sendSmsCode(state.transaction, state.subject, stepContext(request));
    const transaction = await mfa.transaction(state.id);
    return transaction ? { ...state, transaction } : state;
  };

  /** ⑩–⑪: the login is done once; a session starts and the browser goes back where it was. */
  const finish = async (request: FastifyRequest, reply: FastifyReply, state: LoginState, factor: Factor) => {
    const { transaction: t, subject } = state;
    await mfa.complete(t);
    const { id } = await platform.gatewaySessions.create({
      operatorId: subject.operatorId,
      application: t.application,
      subject: subject.key,
      userId: subject.userId,
      groups: subject.groups,
      amr: ['pwd', FACTOR_AMR[factor]],
      sourceIp: request.ip,
    });
    await mfa.audit(subject, 'createSession', 'success', stepContext(request), {
      application: t.application,
      userId: subject.userId,
      factor,
    });
    reply.setCookie(
      sessionCookieName(request),
      id,
      cookieOptions(request, '/', config.gatewaySessionAbsoluteSeconds),
    );
    reply.clearCookie(pageCookieName(request, LOGIN_COOKIE), cookieOptions(request, `${PAGES}/`));
    return reply.header('cache-control', 'no-store').redirect(t.returnTo, 303);
  };

  /** A page for an error outside a form the user can retry (expired login, CSRF, unknown app). */
  const failPage = (request: FastifyRequest, reply: FastifyReply, e: unknown, app?: GatewayApplication) => {
    if (!(e instanceof SimtrustError)) throw e;
    return sendPage(
      reply.status(statusOf(e)),
      errorPage({ lang: langOf(request), error: pageError(e), loginUrl: loginUrl(app) }),
    );
  };

  return async (app) => {
    await app.register(formbody, { bodyLimit: 16_384 });
    app.addHook('onSend', async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      reply.header('x-frame-options', 'DENY');
      reply.header('x-content-type-options', 'nosniff');
      // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on the forms' POSTs.
      reply.header('referrer-policy', 'same-origin');
      reply.header(
        'content-security-policy',
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      );
    });

    app.get(`${PAGES}/style.css`, async (_request, reply) => reply.type('text/css').send(STYLE_CSS));
    app.get(`${PAGES}/health`, async () => ({ status: 'ok' }));
    app.get(`${PAGES}/jwks.json`, async () => platform.endorse.keys.jwks(PLATFORM_KEY_OWNER));

    // ① the login page
    app.get(`${PAGES}/login`, async (request, reply) => {
      const q = request.query as Record<string, unknown>;
      const target = appNamed(q.app);
      const lang = langOf(request);
      if (target === undefined)
        return sendPage(reply.status(404), errorPage({ lang, error: { key: 'error.ERR_ROUTE_NOT_FOUND' } }));
      const returnTo = safeReturnTo(q.return_to, target) ?? target.prefix;
      const session = await platform.gatewaySessions.lookup(request.cookies[sessionCookieName(request)]);
      if (session !== undefined && sessionFits(ctx, target, session)) return reply.redirect(returnTo, 303);
      return sendPage(reply, loginPageFor(lang, await csrfToken(request, reply), target, returnTo));
    });

    // ② password → policy → (③–⑥ for a single SMS factor) → factor page
    app.post(`${PAGES}/login`, async (request, reply) => {
      const body = (request.body ?? {}) as Record<string, unknown>;
      const target = appNamed(body.app);
      const lang = langOf(request);
      try {
        await checkCsrf(request);
        if (target === undefined) throw new SimtrustError('ERR_BAD_REQUEST', 'unknown application');
      } catch (e) {
        return failPage(request, reply, e, target);
      }
      const returnTo = safeReturnTo(body.return_to, target) ?? target.prefix;
      const login = typeof body.user_id === 'string' ? body.user_id.slice(0, 254) : '';
      const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
      const source = ctx.sources.get(target.name) as SubjectSource;
      let result: Awaited<ReturnType<typeof passwordStep>>;
      try {
        result = await passwordStep(mfa, {
          source,
          application: target,
          login,
          password,
          returnTo,
          ctx: stepContext(request),
        });
      } catch (e) {
        if (!(e instanceof SimtrustError)) throw e;
        if (e.code === 'ERR_TOO_MANY_ATTEMPTS') {
          reply.header('retry-after', String((e.details?.retryAfterSeconds as number | undefined) ?? 1));
        }
        return sendPage(
          reply.status(e.status),
          loginPageFor(lang, await csrfToken(request, reply), target, returnTo, login, pageError(e)),
        );
      }
      reply.setCookie(
        pageCookieName(request, LOGIN_COOKIE),
        result.transactionId,
        cookieOptions(request, `${PAGES}/`, config.mfaTransactionTtlSeconds),
      );
      let state: LoginState = {
        id: result.transactionId,
        transaction: result.transaction,
        app: target,
        source,
        subject: result.subject,
      };
      if (state.transaction.factor === 'sms-otp') {
        try {
          state = await sendCode(request, state);
        } catch (e) {
          return renderFactor(request, reply, state, { error: pageError(e), status: statusOf(e) });
        }
      }
      return reply.redirect(`${PAGES}/${state.transaction.factor === null ? 'choose' : 'factor'}`, 303);
    });

    app.get(`${PAGES}/choose`, async (request, reply) => {
      try {
        const state = await loginState(request);
        return renderFactor(request, reply, {
          ...state,
          transaction: { ...state.transaction, factor: null },
        });
      } catch (e) {
        return failPage(request, reply, e);
      }
    });

    app.post(`${PAGES}/choose`, async (request, reply) => {
      let state: LoginState;
      try {
        await checkCsrf(request);
        state = await loginState(request);
        const factor = (request.body as Record<string, unknown>).factor;
        if (!FACTORS.includes(factor as Factor))
          throw new SimtrustError('ERR_BAD_REQUEST', 'choose a factor');
        state = { ...state, transaction: await mfa.choose(state.transaction, factor as Factor) };
      } catch (e) {
        return failPage(request, reply, e);
      }
      if (state.transaction.factor === 'sms-otp') {
        try {
          state = await sendCode(request, state);
        } catch (e) {
          return renderFactor(request, reply, state, { error: pageError(e), status: statusOf(e) });
        }
      }
      return reply.redirect(`${PAGES}/factor`, 303);
    });

    // ⑥ the factor page
    app.get(`${PAGES}/factor`, async (request, reply) => {
      try {
        return await renderFactor(request, reply, await loginState(request));
      } catch (e) {
        return failPage(request, reply, e);
      }
    });

    // ⑦–⑪ the code
    app.post(`${PAGES}/factor`, async (request, reply) => {
      let state: LoginState;
      try {
        await checkCsrf(request);
        state = await loginState(request);
      } catch (e) {
        return failPage(request, reply, e);
      }
      const { transaction: t, subject, source } = state;
      const code = String((request.body as Record<string, unknown>).code ?? '').trim();
      try {
        if (t.factor === 'sms-otp') await mfa.verifySmsCode(t, subject, code, stepContext(request));
        else if (t.factor === 'totp')
          await mfa.verifyTotpCode(t, subject, source, code, stepContext(request));
        else throw new SimtrustError('ERR_BAD_REQUEST', 'this login does not take a typed code');
        return await finish(request, reply, state, t.factor);
      } catch (e) {
        if (!(e instanceof SimtrustError)) throw e;
        if (e.code === 'ERR_MFA_TRANSACTION') return failPage(request, reply, e, state.app);
        return renderFactor(request, reply, state, { error: pageError(e), status: e.status });
      }
    });

    app.post(`${PAGES}/resend`, async (request, reply) => {
      let state: LoginState;
      try {
        await checkCsrf(request);
        state = await loginState(request);
        if (state.transaction.factor !== 'sms-otp')
          throw new SimtrustError('ERR_BAD_REQUEST', 'not an SMS login');
      } catch (e) {
        return failPage(request, reply, e);
      }
      try {
        state = await sendCode(request, state);
      } catch (e) {
        return renderFactor(request, reply, state, { error: pageError(e), status: statusOf(e) });
      }
      return reply.redirect(`${PAGES}/factor`, 303);
    });

    // The SIM-token factor's return from the token endpoint (SORACOM Endorse's redirect flow).
    app.get(`${PAGES}/sim-token`, async (request, reply) => {
      let state: LoginState;
      try {
        state = await loginState(request);
        if (state.transaction.factor !== 'sim-token')
          throw new SimtrustError('ERR_BAD_REQUEST', 'not a SIM login');
      } catch (e) {
        return failPage(request, reply, e);
      }
      const q = request.query as Record<string, unknown>;
      const token = q.simtrust_endorse_token ?? q.soracom_endorse_token;
      try {
        const claims = await verifySimToken(
          platform,
          state.transaction.operatorId,
          typeof token === 'string' ? token : '',
        );
        await mfa.acceptSimToken(state.transaction, state.subject, claims, stepContext(request));
        return await finish(request, reply, state, 'sim-token');
      } catch (e) {
        if (!(e instanceof SimtrustError)) throw e;
        if (e.code === 'ERR_SIM_TOKEN_INVALID') {
          await mfa.audit(state.subject, 'verifySimToken', 'failure', stepContext(request), {
            application: state.transaction.application,
            userId: state.subject.userId,
            factor: 'sim-token',
            reason: e.message,
          });
        }
        return renderFactor(request, reply, state, { error: pageError(e), status: e.status });
      }
    });

    app.get(`${PAGES}/logout`, async (request, reply) => {
      const session = await platform.gatewaySessions.lookup(request.cookies[sessionCookieName(request)]);
      const lang = langOf(request);
      if (session === undefined)
        return sendPage(reply, signedOutPage({ lang, loginUrl: loginUrl(undefined) }));
      return sendPage(
        reply,
        logoutPage({ lang, csrf: await csrfToken(request, reply), user: session.userId }),
      );
    });

    app.post(`${PAGES}/logout`, async (request, reply) => {
      try {
        await checkCsrf(request);
      } catch (e) {
        return failPage(request, reply, e);
      }
      const id = request.cookies[sessionCookieName(request)];
      const ended = id === undefined ? undefined : await platform.gatewaySessions.revoke(id);
      const target = ctx.apps.find((a) => a.name === ended?.application);
      if (ended !== undefined) {
        await mfa.audit(
          {
            operatorId: ended.operatorId,
            principal: (await ctx.sources.get(ended.application)?.load(ended.subject))?.principal ?? {
              operatorId: ended.operatorId,
              kind: 'system',
              id: 'mfa-gateway',
            },
          },
          'logout',
          'success',
          stepContext(request),
          { application: ended.application, userId: ended.userId },
        );
      }
      reply.clearCookie(sessionCookieName(request), cookieOptions(request, '/'));
      return sendPage(reply, signedOutPage({ lang: langOf(request), loginUrl: loginUrl(target) }));
    });

    // Kannel's delivery reports (dlr-url): authenticated by the MAC the kannel provider put in the URL.
    app.get(`${PAGES}/sms/kannel-dlr`, async (request, reply) => {
      const q = request.query as Record<string, unknown>;
      const provider = typeof q.provider === 'string' ? q.provider : '';
      const ref = typeof q.ref === 'string' ? q.ref : '';
      const mac = typeof q.mac === 'string' ? q.mac : '';
      if (!(await platform.sms.checkCallbackMac(`${provider}:${ref}`, mac))) {
        return reply.status(403).type('text/plain').send('forbidden');
      }
      const state = KANNEL_DLR_TYPE[Number(q.type)];
      if (state !== undefined) {
        await platform.sms.applyReport(provider, {
          reference: ref,
          state,
          errorCode: state === 'failed' ? `KANNEL_DLR_${Number(q.type)}` : undefined,
        });
      }
      return reply.type('text/plain').send('ok');
    });

    app.all(`${PAGES}/*`, async (request, reply) =>
      sendPage(
        reply.status(404),
        errorPage({ lang: langOf(request), error: { key: 'error.ERR_ROUTE_NOT_FOUND' } }),
      ),
    );
  };
}

function loginPageFor(
  lang: Lang,
  csrf: string,
  app: GatewayApplication,
  returnTo: string,
  userId?: string,
  error?: PageError,
): string {
  return loginPage({ lang, csrf, app: app.name, displayName: app.displayName, returnTo, userId, error });
}
