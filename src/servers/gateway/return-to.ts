// Where a login sends the browser back to: only a path on this gateway, inside the application the
// login is for, never the gateway's own pages. Anything that a browser could read as another origin
// — `//evil.example`, `/\evil.example`, `https://…`, control characters that browsers strip — is
// refused (CWE-601, open redirect). The result is the normalised path and query.

import type { GatewayApplication } from './applications.js';

const BASE = 'http://gateway.invalid';

export function safeReturnTo(raw: unknown, app: Pick<GatewayApplication, 'prefix'>): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2048) return undefined;
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.includes('\\')) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f\s]/.test(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw, BASE);
  } catch {
    return undefined;
  }
  if (url.origin !== BASE) return undefined;
  const path = url.pathname;
  if (path.startsWith('/.simtrust/') || path === '/.simtrust') return undefined;
  if (!path.startsWith(app.prefix) && `${path}/` !== app.prefix) return undefined;
  return `${path}${url.search}`;
}
