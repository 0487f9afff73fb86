// ExecuteWebRequestAction: one HTTP(S) request per run, as the operator configured it, with template
// variables filled in, an idempotency key, and — when the action has a `signingSecret` — an
// HMAC-SHA256 signature the receiver can check:
//
//   X-Simtrust-Timestamp: <unix seconds>
//   X-Simtrust-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<METHOD>.<url>.<body>")>
//
// Outbound safety: the host is resolved once, every address is checked against the outbound policy
// (outbound-policy.ts) and the connection goes to the checked address (no DNS rebinding); redirects
// are not followed; the request times out; at most 64 KiB of the answer is read. 2xx succeeds; 408,
// 429, 5xx, timeouts and network errors are retried by the engine with backoff; other answers fail.

import { createHmac } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Clock } from '../../lib/clock.js';
import type { ActionExecutor, ActionResult, ActionRun } from './engine.js';
import { isLocalName, type OutboundPolicy } from './outbound-policy.js';

export const SIGNATURE_HEADER = 'x-simtrust-signature';
export const TIMESTAMP_HEADER = 'x-simtrust-timestamp';
export const IDEMPOTENCY_HEADER = 'x-simtrust-idempotency-key';
const MAX_RESPONSE_BYTES = 65_536;

export type Resolver = (host: string) => Promise<string[]>;

const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (err, addresses: LookupAddress[]) =>
      err ? reject(err) : resolve(addresses.map((a) => a.address)),
    ),
  );

export interface WebRequestOptions {
  readonly policy: OutboundPolicy;
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** Opens a sealed property of a handler (headers, signingSecret). */
  readonly unseal: (value: string, handlerId: string) => string;
  /** DNS (tests give their own; the default is the system resolver). */
  readonly resolve?: Resolver;
}

/** The signature of a request, as the receiver recomputes it. */
export function webRequestSignature(
  secret: string,
  timestamp: number,
  method: string,
  url: string,
  body: string,
): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${method}.${url}.${body}`).digest('hex')}`;
}

/** Replaces `${name}` with the run's variables (unknown names stay as written). */
export function fillTemplate(
  text: string,
  vars: Readonly<Record<string, string>>,
  encode: (s: string) => string,
) {
  return text.replace(/\$\{([A-Za-z]+)\}/g, (whole, name: string) =>
    Object.hasOwn(vars, name) ? encode(vars[name] as string) : whole,
  );
}

const failed = (error: string, extra: Record<string, unknown> = {}): ActionResult => ({
  outcome: 'failed',
  detail: { error, ...extra },
});

export function webRequestExecutor(o: WebRequestOptions): ActionExecutor {
  const resolve = o.resolve ?? systemResolver;
  return async (run: ActionRun): Promise<ActionResult> => {
    const p = run.properties;
    const method = p.httpMethod ?? 'GET';
    const vars = run.variables;
    const url = fillTemplate(p.url ?? '', vars, encodeURIComponent);
    const body = method === 'POST' || method === 'PUT' ? fillTemplate(p.body ?? '', vars, (s) => s) : '';
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return failed('the URL is not valid after its variables were filled in');
    }
    const host = target.hostname.replace(/^\[|\]$/g, '');
    if (isLocalName(host)) return failed(`${host} names this machine; web requests may not reach it`);
    let addresses: string[];
    try {
      addresses = isIP(host) !== 0 ? [host] : await resolve(host);
    } catch (e) {
      return { outcome: 'retry', detail: { error: `cannot resolve ${host}: ${(e as Error).message}` } };
    }
    for (const address of addresses) {
      const refusal = o.policy.refusal(address);
      if (refusal !== undefined) {
        return failed(
          `${host} resolves to ${refusal}; allow its network in eventWebRequestAllowedNetworks if intended`,
        );
      }
    }
    const address = addresses[0];
    if (address === undefined) return { outcome: 'retry', detail: { error: `${host} has no address` } };
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(
      JSON.parse(o.unseal(p.headers ?? '{}', run.handlerId)) as Record<string, string>,
    )) {
      headers[k.toLowerCase()] = fillTemplate(v, vars, (s) => s);
    }
    headers['user-agent'] = 'simtrust-event-handler';
    headers[IDEMPOTENCY_HEADER] = run.idempotencyKey;
    if (body !== '' || method === 'POST' || method === 'PUT') {
      headers['content-type'] = p.contentType ?? 'application/octet-stream';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    if (p.signingSecret !== undefined) {
      const timestamp = Math.floor(o.clock.now() / 1000);
      headers[TIMESTAMP_HEADER] = String(timestamp);
      headers[SIGNATURE_HEADER] = webRequestSignature(
        o.unseal(p.signingSecret, run.handlerId),
        timestamp,
        method,
        url,
        body,
      );
    }
    const client = target.protocol === 'https:' ? https : http;
    return new Promise<ActionResult>((done) => {
      const req = client.request(
        target,
        {
          method,
          headers,
          timeout: o.timeoutMs,
          // Connect to the address that was checked, whatever DNS answers now.
          lookup: (_hostname, options, callback) => {
            const family = isIP(address);
            if ((options as { all?: boolean }).all) callback(null, [{ address, family }] as never, family);
            else callback(null, address, family);
          },
        },
        (res) => {
          let read = 0;
          res.on('data', (chunk: Buffer) => {
            read += chunk.length;
            if (read > MAX_RESPONSE_BYTES) res.destroy();
          });
          const finish = () => {
            const status = res.statusCode ?? 0;
            const detail = { status, url: `${target.origin}${target.pathname}` };
            if (status >= 200 && status < 300) done({ outcome: 'succeeded', detail });
            else if (status === 408 || status === 429 || status >= 500) done({ outcome: 'retry', detail });
            else done({ outcome: 'failed', detail: { ...detail, error: `the receiver answered ${status}` } });
          };
          res.on('end', finish);
          res.on('close', finish);
          res.on('error', () => undefined);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
      req.on('error', (e) => done({ outcome: 'retry', detail: { error: e.message } }));
      req.end(body);
    });
  };
}
