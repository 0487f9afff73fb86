// The operator console (web/, issue 12): its static files at /console/ and its browser session.
//
//   static files  the Vite build (web/dist), read once at start into memory and looked up by exact
//                 path — a request path is a map key, never a file-system path; client routes fall
//                 back to index.html; hashed assets are cached for a year, index.html never; every
//                 answer carries a strict Content-Security-Policy (no inline script, no CDN); text
//                 files go out as the build precompressed them (.br, .gz) when Accept-Encoding
//                 allows, with Vary: Accept-Encoding, and as they are otherwise
//   sign in       POST /console/api/session takes the same credentials as POST /v1/auth (root or a
//                 user; TOTP or SMS second factor) and puts the API token in an httpOnly,
//                 SameSite=Strict cookie (Secure over HTTPS) that no script can read; the answer
//                 carries a CSRF token, HMAC-bound to the session
//   use           the API accepts the cookie only with a matching X-CSRF-Token header
//                 (consoleCredential, called by plugins/auth.ts): a cross-site page can neither send
//                 the header nor read the token
//   resume        GET /console/api/session gives a reloaded page its CSRF token again (same-origin
//                 only: no CORS header, and the cookie is SameSite=Strict)
//   sign out      DELETE /console/api/session revokes the token server-side and clears the cookie
//
// The session is the API token: it expires when the token does (the cookie's Max-Age follows it).

import { createHmac } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { constantTimeEqualText } from '../../../crypto/constant-time.js';
import { SimtrustError } from '../../../lib/errors.js';
import { chooseEncoding } from '../../../lib/rfc-9110-accept-encoding.js';
import type { LoginCredentials } from '../../../platform/iam/login.js';
import { revokeToken, tokenHash } from '../../../platform/iam/tokens.js';
import type { Platform } from '../../../platform/platform.js';

/** Where the console is served; the Vite build uses the same base. */
export const CONSOLE_BASE = '/console/';
export const SESSION_COOKIE = 'simtrust_console';
export const CSRF_HEADER = 'x-csrf-token';
/** The Vite build output, relative to this file (src/servers/http/plugins → web/dist). */
export const CONSOLE_DIST = fileURLToPath(new URL('../../../../web/dist/', import.meta.url));

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
  /** Vite puts a content hash in every file under assets/: safe to cache for good. */
  readonly immutable: boolean;
  /** The same bytes compressed at build (web/precompress.ts): `file.br`, `file.gz`. */
  readonly encoded: Partial<Record<'br' | 'gzip', Buffer>>;
}

/** Precompressed siblings of a build file, best first (brotli is the smaller). */
const ENCODED = [
  ['br', '.br'],
  ['gzip', '.gz'],
] as const;

/** Every file of the build by its URL path under /console/ (e.g. `assets/index-3f2a.js`). */
function loadBuild(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const full = join(at, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const path = relative(dir, full).split(sep).join('/');
        // A .br/.gz beside its file is an encoding of it, not a file of its own.
        if (ENCODED.some(([, ext]) => name.endsWith(ext) && existsSync(full.slice(0, -ext.length)))) continue;
        const encoded: StaticFile['encoded'] = {};
        for (const [coding, ext] of ENCODED)
          if (existsSync(full + ext)) encoded[coding] = readFileSync(full + ext);
        files.set(path, {
          body: readFileSync(full),
          type: TYPES[extname(name)] ?? 'application/octet-stream',
          immutable: path.startsWith('assets/'),
          encoded,
        });
      }
    }
  };
  try {
    walk(dir);
  } catch {
    // No build (a checkout without `npm run build:console`): /console/ says so.
  }
  return files;
}

/** The value of one cookie in a Cookie header; undefined when absent. Total: never throws. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The CSRF token of a session: HMAC of a fixed label keyed by the session's token. */
export const csrfTokenOf = (token: string) =>
  createHmac('sha256', token).update('simtrust console csrf v1').digest('base64url');

const TOKEN_RE = /^[A-Za-z0-9._~+/=-]{1,512}$/;

/** The session token of a console request: from the cookie, if its X-CSRF-Token header matches. */
export function consoleCredential(
  request: FastifyRequest,
): { token: string } | { refused: 'csrf' } | undefined {
  const token = cookieValue(request.headers.cookie, SESSION_COOKIE);
  if (token === undefined || token === '') return undefined;
  const csrf = request.headers[CSRF_HEADER];
  if (!TOKEN_RE.test(token) || typeof csrf !== 'string' || !constantTimeEqualText(csrf, csrfTokenOf(token)))
    return { refused: 'csrf' };
  return { token };
}

function sessionCookie(request: FastifyRequest, value: string, maxAgeSeconds: number): string {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

const SignInBody = Type.Object(
  {
    email: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })),
    operatorId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    userName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    password: Type.String({ minLength: 1, maxLength: 1000 }),
    mfaOTPCode: Type.Optional(Type.String({ maxLength: 64 })),
    mfaTransactionId: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

const SessionAnswer = Type.Object({
  csrfToken: Type.String(),
  operatorId: Type.String(),
  kind: Type.String(),
  userName: Type.Optional(Type.String()),
  expiresAt: Type.Integer({ description: 'Unix milliseconds' }),
});

type SignIn = {
  email?: string;
  operatorId?: string;
  userName?: string;
  password: string;
};

/** Root by email, or a user by operator id and name; the console takes no auth keys. */
function credentialsOf(b: SignIn): LoginCredentials {
  if (b.email !== undefined && b.operatorId === undefined && b.userName === undefined)
    return { email: b.email, password: b.password };
  if (b.email === undefined && b.operatorId !== undefined && b.userName !== undefined)
    return { operatorId: b.operatorId, userName: b.userName, password: b.password };
  throw new SimtrustError(
    'ERR_VALIDATION',
    'send {email, password} (root) or {operatorId, userName, password} (a user)',
  );
}

export async function registerConsole(
  app: FastifyInstance,
  platform: Platform,
  options: { dist?: string } = {},
): Promise<void> {
  const files = loadBuild(options.dist ?? CONSOLE_DIST);
  const index = files.get('index.html');

  const expiryOf = async (token: string) =>
    (
      await platform.store.db
        .selectFrom('api_tokens')
        .select('expires_at')
        .where('token_hash', '=', tokenHash(token))
        .executeTakeFirst()
    )?.expires_at;

  const clear = (request: FastifyRequest, reply: FastifyReply) =>
    reply.header('set-cookie', sessionCookie(request, '', 0));

  app.post(
    '/console/api/session',
    {
      config: { public: true },
      schema: { hide: true, body: SignInBody, response: { 200: SessionAnswer } },
    },
    async (request, reply) => {
      const body = request.body as SignIn & { mfaOTPCode?: string; mfaTransactionId?: string };
      const issued = await platform.access.login
        .login(
          { ...credentialsOf(body), mfaOTPCode: body.mfaOTPCode, mfaTransactionId: body.mfaTransactionId },
          { sourceIp: request.ip, requestId: request.id },
        )
        .catch((e: unknown) => {
          // An SMS code was sent: the page answers it with this login transaction (as /v1/auth).
          const id = e instanceof SimtrustError ? e.details?.mfaTransactionId : undefined;
          if (typeof id === 'string') reply.header('x-simtrust-mfa-transaction', id);
          throw e;
        });
      const maxAge = Math.max(0, Math.floor((issued.expiresAt - platform.clock.now()) / 1000));
      reply.header('set-cookie', sessionCookie(request, issued.token, maxAge));
      reply.header('cache-control', 'no-store');
      return {
        csrfToken: csrfTokenOf(issued.token),
        operatorId: issued.operatorId,
        kind: issued.userName === undefined ? 'root' : 'user',
        ...(issued.userName === undefined ? {} : { userName: issued.userName }),
        expiresAt: issued.expiresAt,
      };
    },
  );

  app.get(
    '/console/api/session',
    { config: { public: true }, schema: { hide: true, response: { 200: SessionAnswer } } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const token = cookieValue(request.headers.cookie, SESSION_COOKIE);
      const resolved =
        token && TOKEN_RE.test(token) ? await platform.access.permissions.resolveToken({ token }) : undefined;
      const expiresAt = token && resolved ? await expiryOf(token) : undefined;
      if (token === undefined || resolved === undefined || expiresAt === undefined) {
        if (token !== undefined) clear(request, reply);
        throw new SimtrustError('ERR_UNAUTHENTICATED', 'no console session (or it expired); sign in');
      }
      const { principal } = resolved;
      return {
        csrfToken: csrfTokenOf(token),
        operatorId: principal.operatorId,
        kind: principal.kind,
        ...(principal.userName === undefined ? {} : { userName: principal.userName }),
        expiresAt: Number(expiresAt),
      };
    },
  );

  app.delete(
    '/console/api/session',
    { config: { public: true }, schema: { hide: true, response: { 204: Type.Null() } } },
    async (request, reply) => {
      const given = consoleCredential(request);
      // Threat: a cross-site page signing the operator out (or probing the session).
      if (given === undefined || 'refused' in given)
        throw new SimtrustError('ERR_CSRF', 'sign out needs the session cookie and its X-CSRF-Token header');
      await revokeToken(platform.store.db, given.token);
      clear(request, reply);
      return reply.status(204).send();
    },
  );

  /** The file in the encoding the client accepts best (RFC 9110 §12.5.3), identity otherwise. */
  const send = (request: FastifyRequest, reply: FastifyReply, file: StaticFile) => {
    const offered = ENCODED.map(([coding]) => coding).filter((c) => file.encoded[c] !== undefined);
    if (offered.length > 0) reply.header('vary', 'accept-encoding');
    const coding = chooseEncoding(request.headers['accept-encoding'], offered);
    const body = coding === 'identity' ? file.body : (file.encoded[coding] ?? file.body);
    if (coding !== 'identity') reply.header('content-encoding', coding);
    return reply.type(file.type).send(body);
  };

  const serve = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = (request.params as { '*'?: string })['*'] ?? '';
    const file = files.get(path);
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    if (file !== undefined && path !== 'index.html') {
      reply.header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      return send(request, reply, file);
    }
    // A missing asset is a 404 (not the page, which the browser would then fail to run as script).
    if (path.startsWith('assets/') || path.startsWith('api/') || index === undefined) {
      const message =
        index === undefined
          ? 'the console is not built: run `npm run build:console` (npm ci does it) and restart'
          : `no console file ${path}`;
      return reply.status(404).send(new SimtrustError('ERR_ROUTE_NOT_FOUND', message).toBody());
    }
    // Client routes (/console/sims/…) get the application, which routes in the browser.
    reply.header('cache-control', 'no-cache');
    return send(request, reply, index);
  };
  app.get('/console', { config: { public: true }, schema: { hide: true } }, (_request, reply) =>
    reply.redirect(CONSOLE_BASE, 301),
  );
  app.get('/console/*', { config: { public: true }, schema: { hide: true } }, serve);
}
