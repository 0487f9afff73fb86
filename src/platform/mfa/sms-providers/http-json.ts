// The `http-json` provider: any SMS provider with an HTTP API, described by configuration — URL,
// method, headers (a Bearer token or Basic credentials), a body template whose strings may hold
// `{to}`, `{text}`, `{reference}` and `{sender}`, sent as JSON, as a form or in the query; success
// when the status is one of `successStatus` and, if set, the JSON value at `successPath` equals
// `successValue`; the provider's message id at `messageIdPath`; an optional status URL polled for
// the delivery result; HTTP statuses mapped to this kind's error codes; a timeout.
// `preset: "karaden"` fills all of it for Karaden 空電プッシュ (karaden.ts).

import { type Static, Type } from '@fastify/type-provider-typebox';
import { nationalJp } from '../phone.js';
import { karadenPreset } from './karaden.js';
import {
  type DeliveryReport,
  type DeliveryState,
  fillTemplate,
  type ProviderErrorSpec,
  type SmsMessage,
  type SmsProvider,
  type SmsProviderContext,
  SmsProviderError,
  type SmsProviderKind,
  type SmsSendResult,
} from './provider.js';

const DeliveryStateSchema = Type.Union([
  Type.Literal('accepted'),
  Type.Literal('delivered'),
  Type.Literal('failed'),
  Type.Literal('expired'),
  Type.Literal('unknown'),
]);

export const HttpJsonConfig = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 40 }),
    kind: Type.Literal('http-json'),
    url: Type.String({ pattern: '^https?://' }),
    method: Type.Optional(Type.Union([Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('GET')])),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    bearerToken: Type.Optional(Type.String({ minLength: 1 })),
    basicAuth: Type.Optional(
      Type.Object({ username: Type.String(), password: Type.String() }, { additionalProperties: false }),
    ),
    bodyFormat: Type.Optional(
      Type.Union([Type.Literal('json'), Type.Literal('form'), Type.Literal('query')]),
    ),
    body: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
    /** How `{to}` is written: E.164 with +, E.164 digits only, or Japanese national (090…). */
    toFormat: Type.Optional(
      Type.Union([Type.Literal('e164'), Type.Literal('digits'), Type.Literal('jp-national')]),
    ),
    successStatus: Type.Optional(Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), { minItems: 1 })),
    successPath: Type.Optional(Type.String({ minLength: 1 })),
    successValue: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
    messageIdPath: Type.Optional(Type.String({ minLength: 1 })),
    /** HTTP status → one of this kind's error codes. */
    errorMap: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Union([
          Type.Literal('HTTP_BAD_REQUEST'),
          Type.Literal('HTTP_UNAUTHORIZED'),
          Type.Literal('HTTP_FORBIDDEN'),
          Type.Literal('HTTP_VALIDATION'),
          Type.Literal('HTTP_RATE_LIMITED'),
          Type.Literal('HTTP_SERVER_ERROR'),
        ]),
      ),
    ),
    /** JSON path of the provider's own error code in an error answer, kept in the log line. */
    errorCodePath: Type.Optional(Type.String()),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
    /** Polled with `{messageId}` replaced; the value at statusPath is mapped with statusMap. */
    statusUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    statusPath: Type.Optional(Type.String({ minLength: 1 })),
    statusMap: Type.Optional(Type.Record(Type.String(), DeliveryStateSchema)),
  },
  { additionalProperties: false },
);
export type HttpJsonConfig = Static<typeof HttpJsonConfig>;

/** The Karaden preset's own settings; everything else is filled in (see karaden.ts). */
export const KaradenConfig = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 40 }),
    kind: Type.Literal('http-json'),
    preset: Type.Literal('karaden'),
    tenantId: Type.String({ minLength: 1 }),
    token: Type.String({ minLength: 1 }),
    serviceId: Type.Integer({ minimum: 1 }),
    baseUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
  },
  { additionalProperties: false },
);
export type KaradenConfig = Static<typeof KaradenConfig>;

const errorCodes: Record<string, ProviderErrorSpec> = {
  HTTP_BAD_REQUEST: {
    description: 'The provider refused the request as malformed (400).',
    providerDown: false,
  },
  HTTP_UNAUTHORIZED: {
    description: 'The provider refused the credentials (401): check the token.',
    providerDown: true,
  },
  HTTP_FORBIDDEN: { description: 'The provider refused the account (403).', providerDown: true },
  HTTP_VALIDATION: {
    description: 'The provider refused this message (422: number or text not accepted).',
    providerDown: false,
  },
  HTTP_RATE_LIMITED: {
    description: 'The provider is rate limiting (429); it is skipped for Retry-After seconds.',
    providerDown: true,
  },
  HTTP_SERVER_ERROR: { description: 'The provider failed (5xx).', providerDown: true },
  HTTP_UNEXPECTED_STATUS: { description: 'An HTTP status not listed as success.', providerDown: true },
  HTTP_BAD_RESPONSE: {
    description: 'The answer did not pass the success check (not JSON, or successPath ≠ successValue).',
    providerDown: true,
  },
  HTTP_TIMEOUT: { description: 'No answer within timeoutMs.', providerDown: true },
  HTTP_NETWORK: { description: 'The provider could not be reached (DNS, refused, TLS).', providerDown: true },
};

const DEFAULT_ERROR_MAP: Readonly<Record<string, string>> = {
  '400': 'HTTP_BAD_REQUEST',
  '401': 'HTTP_UNAUTHORIZED',
  '403': 'HTTP_FORBIDDEN',
  '422': 'HTTP_VALIDATION',
  '429': 'HTTP_RATE_LIMITED',
};

/** `a.b.0.c` (or `$.a.b`) into a parsed JSON value. */
export function jsonPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.replace(/^\$\.?/, '').split('.')) {
    if (part === '') continue;
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function formatTo(e164: string, format: HttpJsonConfig['toFormat']): string {
  if (format === 'digits') return e164.slice(1);
  if (format === 'jp-national') return nationalJp(e164);
  return e164;
}

function retryAfterMs(res: Response): number | undefined {
  const header = res.headers.get('retry-after');
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export class HttpJsonProvider implements SmsProvider {
  readonly kind = 'http-json';
  readonly name: string;

  constructor(
    private readonly config: HttpJsonConfig,
    private readonly context: SmsProviderContext,
  ) {
    this.name = config.name;
  }

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {}

  private headers(): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.config.headers };
    if (this.config.bearerToken) headers.authorization = `Bearer ${this.config.bearerToken}`;
    if (this.config.basicAuth) {
      const { username, password } = this.config.basicAuth;
      headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    }
    return headers;
  }

  private async call(url: string, init: RequestInit): Promise<{ res: Response; json: unknown }> {
    let res: Response;
    try {
      res = await this.context.fetch(url, {
        ...init,
        redirect: 'error',
        signal: AbortSignal.timeout(this.config.timeoutMs ?? 5000),
      });
    } catch (e) {
      const timeout = (e as Error).name === 'TimeoutError';
      throw new SmsProviderError(
        timeout ? 'HTTP_TIMEOUT' : 'HTTP_NETWORK',
        timeout
          ? `no answer within ${this.config.timeoutMs ?? 5000} ms`
          : `cannot reach the provider: ${(e as Error).message}`,
      );
    }
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { res, json };
  }

  async send(message: SmsMessage): Promise<SmsSendResult> {
    const values = {
      to: formatTo(message.to, this.config.toFormat),
      text: message.text,
      reference: message.reference,
      sender: this.context.sender,
    };
    const fields = Object.entries(this.config.body).map(
      ([k, v]) => [k, typeof v === 'string' ? fillTemplate(v, values) : v] as const,
    );
    const method = this.config.method ?? 'POST';
    const format = this.config.bodyFormat ?? 'json';
    const headers = this.headers();
    let url = this.config.url;
    let body: string | undefined;
    if (format === 'query' || method === 'GET') {
      const u = new URL(url);
      for (const [k, v] of fields) u.searchParams.set(k, String(v));
      url = u.toString();
    } else if (format === 'form') {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(fields.map(([k, v]): [string, string] => [k, String(v)])).toString();
    } else {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(Object.fromEntries(fields));
    }
    const { res, json } = await this.call(url, { method, headers, ...(body === undefined ? {} : { body }) });
    const success = this.config.successStatus ?? [200, 201, 202];
    if (!success.includes(res.status)) {
      const mapped = this.config.errorMap?.[String(res.status)] ?? DEFAULT_ERROR_MAP[String(res.status)];
      const code = mapped ?? (res.status >= 500 ? 'HTTP_SERVER_ERROR' : 'HTTP_UNEXPECTED_STATUS');
      const providerCode = this.config.errorCodePath ? jsonPath(json, this.config.errorCodePath) : undefined;
      throw new SmsProviderError(
        code,
        `HTTP ${res.status}${providerCode === undefined ? '' : ` (${String(providerCode)})`}`,
        retryAfterMs(res),
      );
    }
    if (this.config.successPath !== undefined) {
      const value = jsonPath(json, this.config.successPath);
      const expected = this.config.successValue;
      if (expected === undefined ? value === undefined : value !== expected) {
        throw new SmsProviderError(
          'HTTP_BAD_RESPONSE',
          `${this.config.successPath} is ${JSON.stringify(value)}`,
        );
      }
    }
    const id = this.config.messageIdPath ? jsonPath(json, this.config.messageIdPath) : undefined;
    return {
      providerMessageId: typeof id === 'string' || typeof id === 'number' ? String(id) : undefined,
      accepted: true,
    };
  }

  async status(providerMessageId: string): Promise<DeliveryReport | undefined> {
    const { statusUrl, statusPath } = this.config;
    if (statusUrl === undefined || statusPath === undefined) return undefined;
    const url = fillTemplate(statusUrl, { messageId: encodeURIComponent(providerMessageId) });
    const { res, json } = await this.call(url, { method: 'GET', headers: this.headers() });
    if (!res.ok) return undefined;
    const raw = jsonPath(json, statusPath);
    const state: DeliveryState =
      // The provider's answer is a lookup key: only the operator's own entries count (issue 11).
      (typeof raw === 'string' &&
      this.config.statusMap !== undefined &&
      Object.hasOwn(this.config.statusMap, raw)
        ? this.config.statusMap[raw]
        : undefined) ?? 'unknown';
    return {
      providerMessageId,
      state,
      errorCode: state === 'failed' ? `HTTP_STATUS_${String(raw)}` : undefined,
    };
  }
}

export const httpJsonKind: SmsProviderKind = {
  kind: 'http-json',
  configSchema: Type.Union([HttpJsonConfig, KaradenConfig]),
  errorCodes,
  create(config, context) {
    const expanded =
      config.preset === 'karaden' ? karadenPreset(config as KaradenConfig) : (config as HttpJsonConfig);
    return new HttpJsonProvider(expanded, context);
  },
};
