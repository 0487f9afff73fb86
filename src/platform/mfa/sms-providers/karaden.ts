// The preset for Karaden 空電プッシュ, the seed's SMS provider (shared/reference/mfa-stk.md A1.4, from
// the official SDKs' OpenAPI document `mock/2024-03-01.yaml`):
// - `POST {base}/{tenant_id}/messages`, form-encoded `service_id`, `to` (11 digits, 090…), `body`;
//   `Authorization: Bearer <token>`, `Karaden-Version: 2024-03-01`.
// - 200 with a Message object (`object: "message"`, `id` uuid); errors `{object: "error", code, …}`
//   with 400/401/404/422/429/500.
// - Delivery is polled: `GET {base}/{tenant_id}/messages/{id}` → `sent_result` none | received |
//   unconnected | error | unknown.

import type { HttpJsonConfig, KaradenConfig } from './http-json.js';

export const KARADEN_BASE_URL = 'https://prg.karaden.jp/api';
export const KARADEN_VERSION = '2024-03-01';

export function karadenPreset(c: KaradenConfig): HttpJsonConfig {
  const base = `${(c.baseUrl ?? KARADEN_BASE_URL).replace(/\/+$/, '')}/${encodeURIComponent(c.tenantId)}`;
  return {
    name: c.name,
    kind: 'http-json',
    url: `${base}/messages`,
    method: 'POST',
    headers: { 'Karaden-Version': KARADEN_VERSION },
    bearerToken: c.token,
    bodyFormat: 'form',
    body: { service_id: c.serviceId, to: '{to}', body: '{text}' },
    toFormat: 'jp-national',
    successStatus: [200],
    successPath: 'object',
    successValue: 'message',
    messageIdPath: 'id',
    errorCodePath: 'code',
    errorMap: { '400': 'HTTP_BAD_REQUEST', '401': 'HTTP_UNAUTHORIZED', '404': 'HTTP_BAD_REQUEST' },
    timeoutMs: c.timeoutMs ?? 5000,
    statusUrl: `${base}/messages/{messageId}`,
    statusPath: 'sent_result',
    statusMap: {
      none: 'accepted',
      received: 'delivered',
      unconnected: 'failed',
      error: 'failed',
      unknown: 'unknown',
    },
  };
}
