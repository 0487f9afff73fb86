// Authentication, deny by default: every /v1 route needs a valid token unless it is marked
// `config: { public: true }`. Accepts `Authorization: Bearer <token>` and SORACOM's
// X-Soracom-API-Key + X-Soracom-Token pair (the key must be the one issued with the token).

import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SimtrustError } from '../../../lib/errors.js';
import { writeAudit } from '../../../platform/audit/audit-log.js';
import { tokenHash } from '../../../platform/iam/operators.js';
import type { AuditContext, Principal } from '../../../platform/iam/principal.js';
import type { Platform } from '../../../platform/platform.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The route needs no credentials. */
    public?: boolean;
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function credentials(request: FastifyRequest): { token: string; apiKey?: string } | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+\S+$/i.test(auth))
    return { token: auth.replace(/^Bearer\s+/i, '') };
  const token = request.headers['x-soracom-token'];
  const apiKey = request.headers['x-soracom-api-key'];
  if (typeof token === 'string' && token !== '') {
    return { token, apiKey: typeof apiKey === 'string' ? apiKey : '' };
  }
  return undefined;
}

const sameText = (a: string, b: string) =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

async function authenticate(platform: Platform, request: FastifyRequest): Promise<Principal> {
  const given = credentials(request);
  if (given === undefined) throw new SimtrustError('ERR_UNAUTHENTICATED', 'missing credentials');
  const row = await platform.store.db
    .selectFrom('api_tokens')
    .innerJoin('operators', 'operators.operator_id', 'api_tokens.operator_id')
    .select([
      'api_tokens.operator_id',
      'api_tokens.user_name',
      'api_tokens.expires_at',
      'api_tokens.api_key',
      'operators.email',
    ])
    .where('api_tokens.token_hash', '=', tokenHash(given.token))
    .executeTakeFirst();
  if (!row || row.expires_at <= platform.clock.now()) {
    throw new SimtrustError('ERR_UNAUTHENTICATED', 'the token is unknown or expired; log in again');
  }
  if (given.apiKey !== undefined && !sameText(given.apiKey, row.api_key)) {
    throw new SimtrustError('ERR_UNAUTHENTICATED', 'X-Soracom-API-Key does not belong to this token');
  }
  return row.user_name === null
    ? { operatorId: row.operator_id, kind: 'root', id: row.email }
    : { operatorId: row.operator_id, kind: 'user', id: row.user_name, userName: row.user_name };
}

/** `Tag:operationId` of the route serving this request, as permissions and the audit log name it. */
export function operationOf(request: FastifyRequest): string {
  const schema = request.routeOptions.schema;
  return `${schema?.tags?.[0] ?? 'System'}:${schema?.operationId ?? 'unknown'}`;
}

export function auditContext(request: FastifyRequest): AuditContext {
  if (!request.principal) throw new SimtrustError('ERR_UNAUTHENTICATED', 'missing credentials');
  return {
    principal: request.principal,
    operationId: operationOf(request),
    sourceIp: request.ip,
    requestId: request.id,
    method: request.method,
    path: request.url.split('?')[0],
    params: request.params as Record<string, string>,
  };
}

export function registerAuth(app: FastifyInstance, platform: Platform): void {
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/') || request.routeOptions.config.public === true) return;
    request.principal = await authenticate(platform, request);
  });

  // Successful changes are audited by the domain inside their transaction; a mutating call that
  // failed is recorded here so the audit log also shows refused attempts.
  app.addHook('onResponse', async (request, reply) => {
    if (!request.principal || !MUTATING.has(request.method) || reply.statusCode < 400) return;
    try {
      await writeAudit(platform.store.db, {
        context: auditContext(request),
        result: reply.statusCode === 403 ? 'denied' : 'failure',
        statusCode: reply.statusCode,
        at: platform.clock.now(),
      });
    } catch (e) {
      request.log.error({ err: e }, 'could not write the audit record of a failed call');
    }
  });
}
