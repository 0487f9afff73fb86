// The simtrust API client (public: `simtrust/sdk`). A thin layer over fetch that speaks the API's
// conventions: bearer tokens, `{code, message}` errors, and keyset pages via x-soracom-next-key.

export class SimtrustApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'SimtrustApiError';
  }
}

export interface ClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  readonly endpoint: string;
  readonly token?: string | undefined;
  readonly apiKey?: string | undefined;
  readonly fetch?: typeof fetch;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  readonly query?: Query | undefined;
  readonly body?: unknown;
  /** A raw body (stream or bytes) sent as-is with `contentType`. */
  readonly raw?:
    | { readonly data: NonNullable<RequestInit['body']>; readonly contentType: string }
    | undefined;
  readonly headers?: Record<string, string> | undefined;
}

export interface AuthResult {
  readonly apiKey: string;
  readonly token: string;
  readonly operatorId: string;
  /** Set for a user's login (by password or by one of their auth keys). */
  readonly userName?: string;
}

/** POST /v1/auth: root by email, a user by operator id and name, or an auth key; plus MFA. */
export type AuthRequest = (
  | { readonly email: string; readonly password: string }
  | { readonly operatorId: string; readonly userName: string; readonly password: string }
  | { readonly authKeyId: string; readonly authKey: string }
) & { readonly mfaOTPCode?: string | undefined; readonly tokenTimeoutSeconds?: number | undefined };

export class SimtrustClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  get endpoint(): string {
    return this.options.endpoint.replace(/\/+$/, '');
  }

  url(path: string, query?: Query): string {
    const url = new URL(this.endpoint + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** Sends a request and returns the raw Response; non-2xx answers throw SimtrustApiError. */
  async send(method: string, path: string, o: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    let body: RequestInit['body'];
    if (o.raw) {
      body = o.raw.data;
      headers['content-type'] = o.raw.contentType;
    } else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await this.fetch(this.url(path, o.query), {
        method,
        headers,
        body,
        ...(o.raw && typeof (o.raw.data as { pipe?: unknown }).pipe === 'function' ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (e) {
      throw new SimtrustApiError(
        0,
        'ERR_CONNECTION',
        `cannot reach ${this.endpoint}: ${(e as Error).cause ?? e}`,
        undefined,
      );
    }
    if (!res.ok) {
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      const { code, message } = (parsed ?? {}) as { code?: string; message?: string };
      throw new SimtrustApiError(
        res.status,
        code ?? `HTTP_${res.status}`,
        message ?? (text || res.statusText),
        parsed,
      );
    }
    return res;
  }

  async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, o);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** Walks every page of a list route, following x-soracom-next-key. */
  async *pages<T>(path: string, query: Query = {}): AsyncGenerator<T[]> {
    let next: string | undefined = query.last_evaluated_key?.toString();
    do {
      const res = await this.send('GET', path, { query: { ...query, last_evaluated_key: next } });
      yield (await res.json()) as T[];
      next = res.headers.get('x-soracom-next-key') ?? undefined;
    } while (next !== undefined);
  }

  auth(email: string, password: string, tokenTimeoutSeconds?: number): Promise<AuthResult> {
    return this.request('POST', '/v1/auth', { body: { email, password, tokenTimeoutSeconds } });
  }

  /** Any kind of login (root, user, auth key), with an MFA code when the account needs one. */
  authenticate(request: AuthRequest): Promise<AuthResult> {
    return this.request('POST', '/v1/auth', { body: request });
  }
}

export function createClient(options: ClientOptions): SimtrustClient {
  return new SimtrustClient(options);
}
