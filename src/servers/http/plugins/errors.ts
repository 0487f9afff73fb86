// Every error leaves the API as `{code, message}` with a stable ERR_* code. Unexpected errors are
// logged with the request id and answered with a generic message (nothing internal leaks).

import type { FastifyError, FastifyInstance } from 'fastify';
import { type ErrorCode, SimtrustError } from '../../../lib/errors.js';

/** One AJV error as Fastify hands it over (`verbose: true` adds the schema of the failed keyword). */
interface ValidationIssue {
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly keyword: string;
  readonly params: Record<string, unknown>;
  readonly message?: string | undefined;
  readonly schema?: unknown;
}

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** The values an enum-like schema allows: a union of constants (TypeBox literals) or an `enum`. */
function allowedValues(schema: unknown): unknown[] | undefined {
  if (schema === null || typeof schema !== 'object') return undefined;
  const s = schema as { const?: unknown; enum?: unknown; anyOf?: unknown };
  if (Object.hasOwn(s, 'const')) return [s.const];
  if (Array.isArray(s.enum)) return s.enum;
  const branches = Array.isArray(schema) ? schema : Array.isArray(s.anyOf) ? s.anyOf : undefined;
  if (branches === undefined) return undefined;
  const values: unknown[] = [];
  for (const branch of branches) {
    const v = Array.isArray(branch) ? undefined : allowedValues(branch);
    if (v === undefined) return undefined;
    values.push(...v);
  }
  return values;
}

/** What is wrong with one value, in words that say what to send instead. */
function describeIssue(issue: ValidationIssue, branches: readonly ValidationIssue[]): string {
  switch (issue.keyword) {
    case 'anyOf':
    case 'oneOf': {
      const allowed =
        allowedValues(issue.schema) ??
        (branches.every((b) => b.keyword === 'const')
          ? branches.map((b) => b.params.allowedValue)
          : undefined);
      if (allowed !== undefined && allowed.length > 0)
        return `must be one of: ${allowed.map(show).join(', ')}`;
      const alternatives = [...new Set(branches.map((b) => b.message ?? b.keyword))];
      return alternatives.length > 0 ? alternatives.join(', or ') : (issue.message ?? 'is invalid');
    }
    case 'enum':
      return `must be one of: ${(issue.params.allowedValues as unknown[]).map(show).join(', ')}`;
    case 'const':
      return `must be ${show(issue.params.allowedValue)}`;
    case 'additionalProperties':
      return `must NOT have additional properties (remove ${show(String(issue.params.additionalProperty).slice(0, 100))})`;
    default:
      return issue.message ?? `fails ${issue.keyword}`;
  }
}

/**
 * One message for a validation failure that names each field and, for an enum, lists the allowed
 * values once. AJV reports a union of constants as one error per constant ("must be equal to
 * constant" ten times for a speed class) followed by the anyOf error: the anyOf error speaks for its
 * branches.
 */
export function validationMessage(issues: readonly ValidationIssue[], context: string): string {
  const unions = issues.filter((i) => i.keyword === 'anyOf' || i.keyword === 'oneOf');
  const branchesOf = (u: ValidationIssue) =>
    issues.filter((i) => i.schemaPath.startsWith(`${u.schemaPath}/`));
  const parts: string[] = [];
  for (const issue of issues) {
    if (unions.some((u) => u !== issue && issue.schemaPath.startsWith(`${u.schemaPath}/`))) continue;
    const field =
      issue.keyword === 'required'
        ? `${context}${issue.instancePath}/${String(issue.params.missingProperty)}`
        : `${context}${issue.instancePath}`;
    const text = issue.keyword === 'required' ? 'is required' : describeIssue(issue, branchesOf(issue));
    parts.push(`${field} ${text}`);
  }
  return [...new Set(parts)].join('; ');
}

function fromFastifyError(error: FastifyError, bodyMissing: boolean): SimtrustError | undefined {
  if (error.validation) {
    const context = error.validationContext ?? 'request';
    if (context === 'body' && bodyMissing) {
      return new SimtrustError(
        'ERR_VALIDATION',
        'this route needs a JSON body (Content-Type: application/json) and the request had none',
      );
    }
    return new SimtrustError(
      'ERR_VALIDATION',
      validationMessage(error.validation as ValidationIssue[], context),
    );
  }
  const status = error.statusCode ?? 500;
  if (status < 400 || status >= 500) return undefined;
  const byStatus: Partial<Record<number, ErrorCode>> = {
    404: 'ERR_ROUTE_NOT_FOUND',
    413: 'ERR_PAYLOAD_TOO_LARGE',
    415: 'ERR_UNSUPPORTED_MEDIA_TYPE',
    429: 'ERR_RATE_LIMITED',
  };
  const code =
    byStatus[status] ??
    (error.name === 'SyntaxError' || error.code?.startsWith('FST_ERR_CTP')
      ? 'ERR_MALFORMED_BODY'
      : 'ERR_BAD_REQUEST');
  return new SimtrustError(code, error.message);
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known =
      error instanceof SimtrustError ? error : fromFastifyError(error, request.body === undefined);
    if (known === undefined || known.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    }
    const e = known ?? new SimtrustError('ERR_INTERNAL', 'internal error');
    // Every 429 says when to come back: the error's own wait (login backoff) or at least 1 s.
    if (e.status === 429 && !reply.hasHeader('retry-after')) {
      const wait = Number(e.details?.retryAfterSeconds);
      reply.header('retry-after', String(Number.isFinite(wait) && wait >= 1 ? Math.ceil(wait) : 1));
    }
    return reply.status(e.status).send(e.toBody());
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(
        new SimtrustError(
          'ERR_ROUTE_NOT_FOUND',
          `no route ${request.method} ${request.url.split('?')[0]}`,
        ).toBody(),
      ),
  );
}
