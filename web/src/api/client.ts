// The console's only way to the platform: the public /v1 API, typed by schema.d.ts (generated from
// the platform's OpenAPI document), authenticated by the httpOnly session cookie plus the CSRF
// token held in memory (never in storage a script could read later).

import createClient from 'openapi-fetch';
import type { paths } from './schema';

let csrfToken: string | undefined;
let onUnauthenticated: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}
export function whenUnauthenticated(handler: () => void): void {
  onUnauthenticated = handler;
}
export const csrfHeaders = (): Record<string, string> => (csrfToken ? { 'x-csrf-token': csrfToken } : {});

export const api = createClient<paths>({ baseUrl: window.location.origin, credentials: 'same-origin' });
api.use({
  onRequest({ request }) {
    if (csrfToken) request.headers.set('x-csrf-token', csrfToken);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) onUnauthenticated?.();
    return response;
  },
});

/** An API error as `{code, message}` (docs/errors.md) with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function apiError(response: Response, body: unknown): ApiError {
  const b = (body ?? {}) as { code?: unknown; message?: unknown };
  return new ApiError(
    response.status,
    typeof b.code === 'string' ? b.code : `HTTP_${response.status}`,
    typeof b.message === 'string' ? b.message : response.statusText,
  );
}

/** The data of an openapi-fetch answer, or its error thrown as an ApiError. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || data === undefined) {
    if (response.ok && response.status === 204) return undefined as T;
    throw apiError(response, error);
  }
  return data;
}
