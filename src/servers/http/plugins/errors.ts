// Every error leaves the API as `{code, message}` with a stable ERR_* code. Unexpected errors are
// logged with the request id and answered with a generic message (nothing internal leaks).

import type { FastifyError, FastifyInstance } from 'fastify';
import { type ErrorCode, SimtrustError } from '../../../lib/errors.js';

function fromFastifyError(error: FastifyError): SimtrustError | undefined {
  if (error.validation) {
    return new SimtrustError('ERR_VALIDATION', error.message);
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
    const known = error instanceof SimtrustError ? error : fromFastifyError(error);
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
