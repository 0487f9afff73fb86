// Authentication, tenant isolation, permissions and rate limits for the API — in that order, in
// one onRequest hook, before the body is even read:
//
//   rate limit    per source address and per token, counted in the database so that every
//                 instance shares them (429 + Retry-After; settings apiRateLimit*)
//   authenticate  deny by default: every /v1 route needs a valid token unless it is marked
//                 `config: { public: true }`. `Authorization: Bearer <token>` or SORACOM's
//                 X-Soracom-API-Key + X-Soracom-Token (the key must be the one issued with it),
//                 or the console's session cookie with its X-CSRF-Token header (plugins/console.ts)
//   isolate       a path naming another operator (`{operator_id}`) answers 404, as if absent
//   authorize     the route's `Tag:operationId` is decided by the permission engine (root: all;
//                 a sub-user: their statements, deny wins); a refusal is 403 and audited with the
//                 decision and the statement that made it
//
// Mutating calls are audited: by the domain inside its transaction when the handler took an
// auditContext(), here otherwise (and for every failure).

import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, HTTPMethods } from 'fastify';
import { SimtrustError } from '../../../lib/errors.js';
import { writeAudit } from '../../../platform/audit/audit-log.js';
import { SharedRateCounter } from '../../../platform/iam/api-rate-limit.js';
import type { Decision } from '../../../platform/iam/policy/decide.js';
import type { AuditContext, AuthorizationNote, Principal } from '../../../platform/iam/principal.js';
import { tokenHash } from '../../../platform/iam/tokens.js';
import type { Platform } from '../../../platform/platform.js';
import { consoleCredential } from './console.js';
import { databaseRateLimitStore } from './rate-limit-store.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** The permission decision of this request (absent for public routes). */
    authorization?: AuthorizationNote;
    /** An audit record of this request has been written (or its domain call will write it). */
    auditHandled?: boolean;
  }
  interface FastifyContextConfig {
    /** The route needs no credentials (and is outside the permission layer). */
    public?: boolean;
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Monitoring must keep working while a client floods the API. */
const RATE_LIMIT_EXEMPT = new Set(['/health', '/ready', '/metrics']);

function credentials(request: FastifyRequest): { token: string; apiKey?: string } | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+\S+$/i.test(auth))
    return { token: auth.replace(/^Bearer\s+/i, '') };
  const token = request.headers['x-soracom-token'];
  const apiKey = request.headers['x-soracom-api-key'];
  if (typeof token === 'string' && token !== '') {
    return { token, apiKey: typeof apiKey === 'string' ? apiKey : '' };
  }
  // The console's session cookie counts only with its X-CSRF-Token header (plugins/console.ts).
  const session = consoleCredential(request);
  return session !== undefined && 'token' in session ? { token: session.token } : undefined;
}

/** The bearer token of this request, for logout. */
export const requestToken = (request: FastifyRequest): string | undefined => credentials(request)?.token;

/** `Tag:operationId` of the route serving this request, as permissions and the audit log name it. */
export function operationOf(request: FastifyRequest): string {
  const schema = request.routeOptions.schema;
  return `${schema?.tags?.[0] ?? 'System'}:${schema?.operationId ?? 'unknown'}`;
}

const pathOf = (request: FastifyRequest) => request.url.split('?')[0];

/** The audit context of a mutating call; the domain writes the record in its transaction. */
export function auditContext(request: FastifyRequest): AuditContext {
  if (!request.principal) throw new SimtrustError('ERR_UNAUTHENTICATED', 'missing credentials');
  request.auditHandled = true;
  return {
    principal: request.principal,
    operationId: operationOf(request),
    sourceIp: request.ip,
    requestId: request.id,
    method: request.method,
    path: pathOf(request),
    params: request.params as Record<string, string>,
    authorization: request.authorization,
  };
}

function note(decision: Decision): AuthorizationNote {
  const s = decision.statement;
  return {
    decision: decision.allowed ? 'allow' : 'deny',
    reason: decision.reason,
    ...(s === undefined ? {} : { statement: { source: s.source, index: s.index, statement: s.statement } }),
  };
}

function refusal(principal: Principal, operation: string, decision: Decision): string {
  const who = principal.kind === 'authKey' ? `auth key ${principal.id}` : `user ${principal.userName}`;
  const why =
    decision.reason === 'explicit-deny' && decision.statement
      ? `denied by statement ${decision.statement.index} of ${decision.statement.source}`
      : 'no statement allows it';
  return `${who} may not call ${operation} (${why})`;
}

export interface RouteEntry {
  readonly method: string;
  /** Fastify path, e.g. /v1/sims/:sim_id */
  readonly url: string;
  readonly operation: string;
  readonly public: boolean;
}

const routeTables = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route of the app as the permission layer sees it (tests walk this table). */
export function routeTable(app: FastifyInstance): readonly RouteEntry[] {
  return routeTables.get(app) ?? [];
}

export async function registerAuth(app: FastifyInstance, platform: Platform): Promise<void> {
  const { config } = platform;
  const routes: RouteEntry[] = [];
  routeTables.set(app, routes);
  app.addHook('onRoute', (route) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]) as HTTPMethods[];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push({
        method,
        url: route.url,
        operation: `${route.schema?.tags?.[0] ?? 'System'}:${route.schema?.operationId ?? 'unknown'}`,
        public: route.config?.public === true,
      });
    }
  });

  await app.register(rateLimit, {
    global: false,
    store: databaseRateLimitStore(new SharedRateCounter(platform.store, platform.clock)),
  });
  const window = config.apiRateLimitWindowSeconds * 1000;
  const byAddress =
    config.apiRateLimitPerAddress > 0
      ? app.createRateLimit({
          max: config.apiRateLimitPerAddress,
          timeWindow: window,
          keyGenerator: (r) => `ip:${r.ip}`,
        })
      : undefined;
  const byToken =
    config.apiRateLimitPerToken > 0
      ? app.createRateLimit({
          max: config.apiRateLimitPerToken,
          timeWindow: window,
          // Keyed by the token's hash: the limiter's memory holds no usable credential.
          keyGenerator: (r) => `token:${tokenHash(credentials(r)?.token ?? '')}`,
        })
      : undefined;
  const limit = async (limiter: typeof byAddress, request: FastifyRequest, what: string) => {
    if (limiter === undefined) return;
    const r = await limiter(request);
    if (!r.isAllowed && r.isExceeded) {
      throw new SimtrustError('ERR_RATE_LIMITED', `too many requests ${what}; retry in ${r.ttlInSeconds} s`, {
        details: { retryAfterSeconds: r.ttlInSeconds },
      });
    }
  };

  app.addHook('onRequest', async (request) => {
    const path = pathOf(request) ?? '';
    if (RATE_LIMIT_EXEMPT.has(path)) return;
    const given = path.startsWith('/v1/') ? credentials(request) : undefined;
    // Both counts go to the database in one write (a request costs one round trip, not two).
    await Promise.all([
      limit(byAddress, request, 'from this address'),
      given === undefined ? undefined : limit(byToken, request, 'with this token'),
    ]);
    if (!path.startsWith('/v1/')) return;
    if (request.routeOptions.config.public === true) return;

    if (given === undefined) {
      // Threat: a cross-site request riding on the console's cookie — refused without the header.
      if (consoleCredential(request) !== undefined)
        throw new SimtrustError(
          'ERR_CSRF',
          'the console session cookie needs its X-CSRF-Token header (GET /console/api/session gives it); reload the console',
        );
      throw new SimtrustError('ERR_UNAUTHENTICATED', 'missing credentials');
    }
    const resolved = await platform.access.permissions.resolveToken(given);
    if (resolved === undefined) {
      throw new SimtrustError(
        'ERR_UNAUTHENTICATED',
        'the token is unknown, expired or revoked (or the API key does not match); log in again',
      );
    }
    const { principal, sources } = resolved;
    request.principal = principal;
    if (request.is404) return;

    // Tenant isolation: another operator's resources do not exist for this caller.
    const params = (request.params ?? {}) as Record<string, string>;
    if (params.operator_id !== undefined && params.operator_id !== principal.operatorId) {
      throw new SimtrustError('ERR_NOT_FOUND', `no operator ${params.operator_id}`);
    }

    const operation = operationOf(request);
    const decision = await platform.access.permissions.authorize(
      principal,
      { operation, sourceIp: request.ip, method: request.method, pathVariables: params },
      sources,
    );
    request.authorization = note(decision);
    if (!decision.allowed) {
      request.auditHandled = true;
      await writeAudit(platform.store.db, {
        context: { ...auditContext(request) },
        result: 'denied',
        statusCode: 403,
        at: platform.clock.now(),
      });
      throw new SimtrustError('ERR_FORBIDDEN', refusal(principal, operation, decision));
    }
  });

  // Failed mutating calls are recorded here (the domain's transaction rolled back with them); a
  // successful one whose handler never took an audit context (logout, …) is recorded here too.
  app.addHook('onResponse', async (request, reply) => {
    if (!request.principal || !MUTATING.has(request.method)) return;
    const failed = reply.statusCode >= 400;
    if (!failed && request.auditHandled) return;
    if (
      failed &&
      request.auditHandled &&
      reply.statusCode === 403 &&
      request.authorization?.decision === 'deny'
    )
      return;
    try {
      await writeAudit(platform.store.db, {
        context: { ...auditContext(request) },
        result: failed ? (reply.statusCode === 403 ? 'denied' : 'failure') : 'success',
        statusCode: reply.statusCode,
        at: platform.clock.now(),
      });
    } catch (e) {
      request.log.error({ err: e }, 'could not write the audit record of a call');
    }
  });
}
