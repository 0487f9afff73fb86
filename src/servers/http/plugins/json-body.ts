// The JSON body parser of the whole API.
//
// - `Content-Type: application/json` with no body at all is no body: a route that takes none (a
//   lifecycle verb) accepts it, and a route that needs one answers ERR_VALIDATION saying so. Fastify's
//   own parser refused it as ERR_MALFORMED_BODY (issue 11).
// - Anything else goes to Fastify's parser (secure-json-parse), which refuses a `__proto__` key or a
//   `constructor` object with a `prototype` key; such a body is well-formed JSON, so it is answered
//   as a validation error that says which key to rename, not as "not valid JSON".

import type { FastifyInstance } from 'fastify';
import { SimtrustError } from '../../../lib/errors.js';

const PROTO_KEY_MESSAGE =
  'the body has a "__proto__" key or a "constructor" object with a "prototype" key, which the API refuses; rename the key';

/** Whether `text` is JSON (JSON.parse defines own properties: a `__proto__` key stays a plain key). */
function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function registerJsonBodyParser(app: FastifyInstance): void {
  const secureParse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text.length === 0) return done(null, undefined);
    secureParse(request, text, (error, value) => {
      if (error && isJson(text))
        return done(new SimtrustError('ERR_VALIDATION', PROTO_KEY_MESSAGE), undefined);
      done(error ?? null, value);
    });
  });
}
