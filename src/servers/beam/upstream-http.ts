// The HTTP(S) client of the entry points that turn one device message into one POST and hand the
// answer back to the device: Beam UDP → HTTP(S) (udp-entry.ts) and Funk (funk.ts). Kept-alive
// undici pools per origin and client certificate; every connection goes through the deployment's
// destination policy (checked on the address DNS gives, connecting to that address); the answer
// body is read up to a bound, since it must fit the datagram or segment it goes back in.

import { createHash } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { Pool } from 'undici';
import { isSimtrustError } from '../../lib/errors.js';
import type { DestinationPolicy } from '../../platform/beam/destination-policy.js';

export interface UpstreamHttpOptions {
  readonly policy: DestinationPolicy;
  /** Extra CA certificates (PEM) trusted besides the system's. */
  readonly extraCa?: string | undefined;
  /** Connect, answer (status and headers) and between two pieces of the body. */
  readonly timeoutMs: number;
  readonly connectionsPerOrigin: number;
}

/** A client certificate (an `x509` credential set). */
export interface ClientCertificate {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string | undefined;
}

export interface UpstreamAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

export type UpstreamFailure =
  | { readonly kind: 'refused'; readonly message: string }
  | { readonly kind: 'timeout'; readonly message: string }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'too_large'; readonly message: string };

export class UpstreamError extends Error {
  constructor(readonly failure: UpstreamFailure) {
    super(failure.message);
  }
}

const MAX_POOLS = 1024;

export class UpstreamHttp {
  private readonly pools = new Map<string, Pool>();
  private readonly certIds = new WeakMap<object, string>();
  private readonly baseCa: string[] | undefined;

  constructor(private readonly o: UpstreamHttpOptions) {
    this.baseCa = o.extraCa ? [...rootCertificates, o.extraCa] : undefined;
  }

  /**
   * POSTs `body` to `url` and reads the answer up to `maxAnswerBytes`. Throws UpstreamError (never
   * with a secret in its message): refused by the policy, timeout, failure, or an answer too large.
   */
  async post(
    url: URL,
    headers: Readonly<Record<string, string>>,
    body: Buffer,
    maxAnswerBytes: number,
    cert?: ClientCertificate,
  ): Promise<UpstreamAnswer> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const refusal = this.o.policy.refusalFor(host);
    if (refusal !== undefined) {
      throw new UpstreamError({
        kind: 'refused',
        message: `the destination ${host} is refused: ${refusal}; allow its network in beamAllowedDestinationNetworks if intended`,
      });
    }
    let answer: Awaited<ReturnType<Pool['request']>>;
    try {
      answer = await this.poolFor(url.origin, cert).request({
        method: 'POST',
        path: `${url.pathname}${url.search}`,
        headers: { ...headers, 'content-length': String(body.length) },
        body,
      });
    } catch (e) {
      throw new UpstreamError(classify(e));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of answer.body) {
        size += (chunk as Buffer).length;
        if (size > maxAnswerBytes) {
          answer.body.destroy();
          throw new UpstreamError({
            kind: 'too_large',
            message: `the answer is larger than ${maxAnswerBytes} bytes`,
          });
        }
        chunks.push(chunk as Buffer);
      }
    } catch (e) {
      if (e instanceof UpstreamError) throw e;
      throw new UpstreamError(classify(e));
    }
    const ct = answer.headers['content-type'];
    return {
      status: answer.statusCode,
      contentType: Array.isArray(ct) ? ct[0] : ct,
      body: Buffer.concat(chunks),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)));
    this.pools.clear();
  }

  private poolFor(origin: string, cert: ClientCertificate | undefined): Pool {
    let id = '';
    if (cert !== undefined) {
      id = this.certIds.get(cert) ?? '';
      if (id === '') {
        id = createHash('sha256')
          .update(`${cert.cert}\u0000${cert.key}\u0000${cert.ca ?? ''}`)
          .digest('hex');
        this.certIds.set(cert, id);
      }
    }
    const key = `${origin}\u0000${id}`;
    const found = this.pools.get(key);
    if (found !== undefined) return found;
    const ca = cert?.ca !== undefined ? [...(this.baseCa ?? rootCertificates), cert.ca] : this.baseCa;
    const pool = new Pool(origin, {
      connections: this.o.connectionsPerOrigin,
      headersTimeout: this.o.timeoutMs,
      bodyTimeout: this.o.timeoutMs,
      keepAliveTimeout: 30_000,
      connect: {
        timeout: this.o.timeoutMs,
        lookup: this.o.policy.lookup,
        ...(ca ? { ca } : {}),
        ...(cert ? { cert: cert.cert, key: cert.key } : {}),
      },
    });
    if (this.pools.size >= MAX_POOLS) {
      const oldest = this.pools.entries().next().value as [string, Pool];
      this.pools.delete(oldest[0]);
      void oldest[1].close().catch(() => undefined);
    }
    this.pools.set(key, pool);
    return pool;
  }
}

/** undici's and the policy's errors as a failure the device and the usage may see. */
export function classify(e: unknown): UpstreamFailure {
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    if (isSimtrustError(cur) && cur.code === 'ERR_BEAM_DESTINATION_REFUSED') {
      return { kind: 'refused', message: cur.message };
    }
    const code = (cur as { code?: unknown }).code;
    if (
      code === 'UND_ERR_HEADERS_TIMEOUT' ||
      code === 'UND_ERR_CONNECT_TIMEOUT' ||
      code === 'UND_ERR_BODY_TIMEOUT' ||
      code === 'ETIMEDOUT'
    ) {
      return { kind: 'timeout', message: 'the destination did not answer in time' };
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  const code = (e as { code?: unknown }).code;
  return {
    kind: 'failed',
    message: `the destination could not be reached${typeof code === 'string' ? ` (${code})` : ''}`,
  };
}

/** A credential set's secret as a header value: psk → key, api token → token, user/password → Basic. */
export function credentialHeaderValue(c: {
  readonly type: string;
  readonly [field: string]: unknown;
}): string | undefined {
  let v: unknown;
  if (c.type === 'psk') v = c.key;
  else if (c.type === 'api-token-credentials') v = c.token;
  else if (c.type === 'username-password-credentials') {
    v = `Basic ${Buffer.from(`${String(c.username)}:${String(c.password)}`).toString('base64')}`;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (typeof v !== 'string' || /[\u0000-\u0008\u000a-\u001f\u007f]/.test(v)) return undefined;
  return v;
}
