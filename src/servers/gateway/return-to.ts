// Where a login sends the browser back to (CWE-601, open redirect). The value is judged the way the
// browser will follow it, not as the raw string: it is resolved as a WHATWG URL against the
// gateway's origin (which removes `..`, `%2e%2e` and `.` segments — `/..//evil.example` becomes
// `//evil.example`), and what comes out must still be on the gateway's origin, with a path that
// starts with exactly one `/` on every percent-decoding (src/lib/redirect-target.ts), inside the
// application the login is for and outside the gateway's own pages. The answer is the re-serialised
// path and query, never the raw input.
//
// An absolute URL is accepted only when its origin is on the application's `returnToOrigins`
// (for an application whose public address is another host in front of the gateway); it is
// answered re-serialised too.

import { checkRawRedirect, pathLayers, pathWithin } from '../../lib/redirect-target.js';
import type { GatewayApplication } from './applications.js';

/** Any origin of our own: only the path and query of a relative value are ever emitted. */
const OWN = 'https://gateway.invalid';

const OWN_PAGES = '/.simtrust';

export function safeReturnTo(
  raw: unknown,
  app: Pick<GatewayApplication, 'prefix'> & Partial<Pick<GatewayApplication, 'returnToOrigins'>>,
): string | undefined {
  const text = checkRawRedirect(raw);
  if (!text.ok) return undefined;
  const value = text.value;
  if (value.startsWith('/')) {
    if (value.startsWith('//')) return undefined;
    const url = URL.parse(value, OWN);
    if (url === null || url.origin !== OWN) return undefined;
    const layers = pathLayers(url.pathname);
    if (!layers.ok) return undefined;
    for (const path of layers.value) {
      if (pathWithin(path, OWN_PAGES) || !pathWithin(path, app.prefix)) return undefined;
    }
    return `${url.pathname}${url.search}`;
  }
  const url = URL.parse(value);
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  if (!(app.returnToOrigins ?? []).includes(url.origin)) return undefined;
  if (!pathLayers(url.pathname).ok) return undefined;
  return `${url.origin}${url.pathname}${url.search}`;
}
