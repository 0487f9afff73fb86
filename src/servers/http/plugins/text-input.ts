// Text in a request is well-formed Unicode without NUL, checked once for every route.
//
// PostgreSQL `text` cannot hold U+0000, so a NUL in a tag name, a filter or a last_evaluated_key
// reached the database and failed there: a 500 on PostgreSQL for what SQLite stored (issue 11). A lone
// UTF-16 surrogate ("\ud800", which JSON can carry) was silently stored as U+FFFD, so the value read
// back was not the one written. Both are refused before validation, in the query, the path variables
// and a JSON body, with the place of the offending string.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SimtrustError } from '../../../lib/errors.js';

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const badText = (text: string) => text.includes('\u0000') || LONE_SURROGATE.test(text);

/** Bodies are bounded by httpBodyLimitBytes; this bounds the walk's depth as well. */
const MAX_DEPTH = 64;

function findBadText(value: unknown, path: string, depth = 0): string | undefined {
  if (typeof value === 'string') {
    return badText(value) ? path : undefined;
  }
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return undefined;
  // Parsed JSON, query and path objects only: a streamed body (the CSV import) is checked by its reader.
  if (typeof (value as { pipe?: unknown }).pipe === 'function' || ArrayBuffer.isView(value)) return undefined;
  for (const [key, item] of Object.entries(value)) {
    if (badText(key)) return `${path} (a member name)`;
    const here = `${path}/${key}`;
    const bad = findBadText(item, here, depth + 1);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

export function registerTextInputCheck(app: FastifyInstance): void {
  app.addHook('preValidation', async (request: FastifyRequest) => {
    const bad =
      findBadText(request.query, 'querystring') ??
      findBadText(request.params, 'params') ??
      findBadText(request.body, 'body');
    if (bad !== undefined) {
      throw new SimtrustError(
        'ERR_VALIDATION',
        `${bad} contains a NUL character (U+0000) or a lone UTF-16 surrogate; send well-formed text without NUL`,
      );
    }
  });
}
