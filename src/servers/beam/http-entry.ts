// Beam's HTTP entry point (docs/beam.md): a device on its SIM data session sends plain HTTP with no
// credential; the platform knows the SIM from the source address (the session table, as the token
// listener does), picks the SIM group's `SoracomBeam` entry with the longest path prefix, adds the
// identity headers (X-Soracom-*, signed with the group's PSK), the group's custom headers and client
// certificate, and forwards over HTTPS. Bodies stream both ways; the destination's status comes back
// (200 with skipStatusCode).
//
//   request → limits (connections per source, size, time) → target is a plain path
//           → SIM of the source address (online session, same tenant, active)
//           → entry (longest prefix) → credentials → headers (device's X-Soracom-* dropped)
//           → destination (checked address, kept-alive pool per origin and client certificate)
//
// Nothing reaches a destination before every step has passed; errors are JSON {code, message}
// without secrets (credentials are resolved into headers and TLS options, never into logs).

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { Pool } from 'undici';
import { type ErrorCode, isSimtrustError, SimtrustError } from '../../lib/errors.js';
import { pathLayers } from '../../lib/redirect-target.js';
import {
  BEAM_NAMESPACE,
  type BeamEntry,
  beamConfig,
  type CredentialsRef,
  type CustomHeader,
  httpEntryFor,
} from '../../platform/beam/beam-config.js';
import { beamIdentityHeaders } from '../../platform/beam/beam-headers.js';
import type { DestinationPolicy } from '../../platform/beam/destination-policy.js';
import { type SessionOwner, sessionOwner } from '../../platform/beam/session-owner.js';
import type { Platform } from '../../platform/platform.js';

/** A credential set as the entry point receives it (platform.credentials.resolve). */
export type ResolvedCredential = { readonly type: string; readonly [field: string]: unknown };

export interface BeamHttpEntryOptions {
  readonly platform: Pick<Platform, 'store' | 'clock'> & {
    readonly credentials: {
      resolve(
        operatorId: string,
        reference: string,
        sim: { readonly imsi: string },
      ): Promise<ResolvedCredential>;
    };
    readonly beamUsage?: { record(event: BeamHttpUsageEvent): void };
  };
  readonly logger: Logger;
  readonly metrics?: Registry | undefined;
  readonly policy: DestinationPolicy;
  /** Extra CA certificates (PEM) trusted for destinations besides the system's. */
  readonly extraCa?: string | undefined;
  readonly maxConnections: number;
  readonly maxConnectionsPerSource: number;
  readonly idleTimeoutMs: number;
  readonly bodyLimitBytes: number;
  readonly timeoutMs: number;
  readonly connectionsPerDestination: number;
}

export interface BeamHttpUsageEvent {
  readonly service: 'beam';
  readonly entryPoint: 'http';
  readonly operatorId: string;
  readonly simId: string;
  readonly imsi: string;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly outcome: 'delivered' | 'refused' | 'failed';
  readonly destination?: 'http' | 'https';
  readonly error?: string;
}

/** RFC 9110 §7.6.1 hop-by-hop fields, plus the proxy ones: never forwarded in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const MAX_TARGET_LENGTH = 8192;
const PRINTABLE_ASCII = /^[\u0021-\u007e]*$/;

/** `::ffff:10.0.0.5` (an IPv4 client on a dual-stack socket) is the session address 10.0.0.5. */
export function socketSourceAddress(socket: Socket): string {
  const raw = socket.remoteAddress ?? '';
  return raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw;
}

/**
 * A request target → its path and query, or undefined when it is not a plain origin-form path
 * (RFC 9112 §3.2.1): absolute and authority forms, `//` at the start, backslashes, fragments, and
 * dot segments or control characters on any percent-decoding of the path are refused, so that no
 * reading of the path by the destination leaves the prefix Beam forwards to.
 */
export function deviceTarget(raw: string): { path: string; query: string } | undefined {
  if (raw.length === 0 || raw.length > MAX_TARGET_LENGTH || raw.charCodeAt(0) !== 0x2f) return undefined;
  if (raw.includes('#')) return undefined;
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q + 1);
  // Printable ASCII only, as sent (RFC 3986 §2: anything else travels percent-encoded); a space,
  // control or non-ASCII character would be re-encoded or refused further on, so the checked
  // path would not be the forwarded one.
  if (!PRINTABLE_ASCII.test(path) || !PRINTABLE_ASCII.test(query)) return undefined;
  if (!pathLayers(path).ok) return undefined;
  return { path, query };
}

/**
 * The path and query forwarded for `path`/`query` under `entry`: the entry's prefix is taken off
 * and the rest goes after the destination's own path (`/base` + `/my/path`), the destination's
 * query first. Undefined when the joined path is not plain (it would start with `//`).
 */
export function upstreamTarget(entry: BeamEntry, path: string, query: string): string | undefined {
  const prefix = entry.entry.path.endsWith('/') ? entry.entry.path.slice(0, -1) : entry.entry.path;
  const rest = path.slice(prefix.length);
  const base = entry.destination.pathname;
  const joined = rest === '' ? base : (base.endsWith('/') ? base.slice(0, -1) : base) + rest;
  if (!pathLayers(joined).ok) return undefined;
  const destQuery = entry.destination.search.slice(1);
  const q = destQuery === '' ? query : query === '' ? destQuery : `${destQuery}&${query}`;
  return q === '' ? joined : `${joined}?${q}`;
}

class BodyTooLarge extends Error {}

/** The device's connection closed before its answer was sent: what undici aborts the forward on. */
class DeviceGone extends EventEmitter {
  aborted = false;
  fire(): void {
    this.aborted = true;
    this.emit('abort');
  }
}

class HttpEntryError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The code a failure of the forward maps to (undici's timeouts, our refusals, network errors). */
function classify(e: unknown): { code: ErrorCode; message: string } {
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    if (cur instanceof HttpEntryError) return { code: cur.code, message: cur.message };
    if (isSimtrustError(cur) && cur.code === 'ERR_BEAM_DESTINATION_REFUSED') {
      return { code: cur.code, message: cur.message };
    }
    const code = (cur as { code?: unknown }).code;
    if (
      code === 'UND_ERR_HEADERS_TIMEOUT' ||
      code === 'UND_ERR_CONNECT_TIMEOUT' ||
      code === 'UND_ERR_BODY_TIMEOUT' ||
      code === 'ETIMEDOUT'
    ) {
      return { code: 'ERR_BEAM_DESTINATION_TIMEOUT', message: 'the destination did not answer in time' };
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  const code = (e as { code?: unknown }).code;
  return {
    code: 'ERR_BEAM_DESTINATION_FAILED',
    message: `the destination could not be reached${typeof code === 'string' ? ` (${code})` : ''}`,
  };
}

/** A credential set's secret as a header value (psk → key, api token → token, user/password → Basic). */
function headerValueOf(id: string, c: ResolvedCredential): string {
  let v: unknown;
  if (c.type === 'psk') v = c.key;
  else if (c.type === 'api-token-credentials') v = c.token;
  else if (c.type === 'username-password-credentials') {
    v = `Basic ${Buffer.from(`${String(c.username)}:${String(c.password)}`).toString('base64')}`;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (typeof v !== 'string' || /[\u0000-\u0008\u000a-\u001f\u007f]/.test(v)) {
    throw new HttpEntryError(
      'ERR_BEAM_CREDENTIALS',
      `credential set ${id} (type ${c.type}) cannot be a header value: use psk, api-token-credentials or username-password-credentials without line breaks`,
    );
  }
  return v;
}

interface PoolEntry {
  readonly pool: Pool;
}

export interface BeamHttpEntry {
  readonly server: http.Server;
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

export function createBeamHttpEntry(o: BeamHttpEntryOptions): BeamHttpEntry {
  const { platform, logger, policy } = o;
  const store = platform.store;
  const requests = new Counter({
    name: 'simtrust_beam_http_requests_total',
    help: "Requests to Beam's HTTP entry point by outcome (delivered, refused before forwarding, failed at the destination) and code",
    labelNames: ['outcome', 'code'] as const,
    registers: o.metrics ? [o.metrics] : [],
  });
  const delivered = requests.labels('delivered', '');
  // The policy's answer for a destination host name or literal (DNS answers are checked per connection).
  const refusals = new Map<string, string | undefined>();
  const refusalFor = (host: string): string | undefined => {
    if (refusals.has(host)) return refusals.get(host);
    const why = policy.refusalFor(host);
    if (refusals.size >= 4096) refusals.clear();
    refusals.set(host, why);
    return why;
  };
  const pools = new Map<string, PoolEntry>();
  const certKeys = new WeakMap<object, string>();
  const MAX_POOLS = 1024;
  const baseCa = o.extraCa ? [...rootCertificates, o.extraCa] : undefined;

  function poolFor(origin: string, cert: ResolvedCredential | undefined): Pool {
    let id = '';
    if (cert !== undefined) {
      id = certKeys.get(cert) ?? '';
      if (id === '') {
        id = createHash('sha256')
          .update(`${String(cert.cert)}\u0000${String(cert.key)}\u0000${String(cert.ca ?? '')}`)
          .digest('hex');
        certKeys.set(cert, id);
      }
    }
    const key = `${origin}\u0000${id}`;
    const found = pools.get(key);
    if (found !== undefined) return found.pool;
    const ca =
      cert?.ca !== undefined ? [...(baseCa ?? rootCertificates), String(cert.ca)] : (baseCa ?? undefined);
    // One TLS context per pool: building one parses every trusted CA (the system's ~140 and ours),
    // which costs milliseconds — per connection when handed over as `ca`/`cert`/`key` options.
    let secureContext: SecureContext | undefined;
    if (origin.startsWith('https:') && (ca !== undefined || cert !== undefined)) {
      try {
        secureContext = createSecureContext({
          ...(ca ? { ca } : {}),
          ...(cert ? { cert: String(cert.cert), key: String(cert.key) } : {}),
        });
      } catch {
        throw new HttpEntryError(
          'ERR_BEAM_CREDENTIALS',
          'the client certificate, its key or a CA certificate could not be loaded (PEM)',
        );
      }
    }
    const pool = new Pool(origin, {
      connections: o.connectionsPerDestination,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      keepAliveTimeout: 30_000,
      connect: {
        timeout: o.timeoutMs,
        lookup: policy.lookup,
        ...(secureContext ? { secureContext } : {}),
      },
    });
    if (pools.size >= MAX_POOLS) {
      const [oldest, entry] = pools.entries().next().value as [string, PoolEntry];
      pools.delete(oldest);
      void entry.pool.close().catch(() => undefined);
    }
    pools.set(key, { pool });
    return pool;
  }

  const resolve = async (owner: SessionOwner, ref: CredentialsRef): Promise<ResolvedCredential> => {
    try {
      return await platform.credentials.resolve(owner.operatorId, ref.credentialsId, owner);
    } catch (e) {
      const why = isSimtrustError(e) ? e.message : 'it could not be read';
      throw new HttpEntryError(
        'ERR_BEAM_CREDENTIALS',
        `credential set ${ref.credentialsId} of the SoracomBeam entry: ${why}`,
      );
    }
  };

  async function customHeaderValues(owner: SessionOwner, headers: readonly CustomHeader[]) {
    const out: Array<[CustomHeader, string | undefined]> = [];
    for (const h of headers) {
      if (h.value === undefined || typeof h.value === 'string') out.push([h, h.value]);
      else out.push([h, headerValueOf(h.value.credentialsId, await resolve(owner, h.value))]);
    }
    return out;
  }

  function answer(res: http.ServerResponse, code: ErrorCode, message: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const e = new SimtrustError(code, message);
    const body = JSON.stringify(e.toBody());
    res.writeHead(e.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(body);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // undici takes any emitter of 'abort' as a signal; an AbortController costs more per request.
    const abort = new DeviceGone();
    res.once('close', () => {
      if (!res.writableFinished) abort.fire();
    });
    const address = socketSourceAddress(req.socket);
    const target = deviceTarget(req.url ?? '');
    if (target === undefined) {
      requests.inc({ outcome: 'refused', code: 'ERR_BEAM_BAD_TARGET' });
      req.resume();
      return answer(res, 'ERR_BEAM_BAD_TARGET', 'the request target must be a plain path such as /data');
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > o.bodyLimitBytes) {
      requests.inc({ outcome: 'refused', code: 'ERR_PAYLOAD_TOO_LARGE' });
      res.setHeader('connection', 'close');
      return answer(res, 'ERR_PAYLOAD_TOO_LARGE', `the body is larger than ${o.bodyLimitBytes} bytes`);
    }
    const owner = await sessionOwner(store, address, BEAM_NAMESPACE);
    if (owner === undefined || owner.status !== 'active') {
      const code = owner === undefined ? 'ERR_BEAM_NO_SESSION' : 'ERR_BEAM_SIM_NOT_ACTIVE';
      requests.inc({ outcome: 'refused', code });
      req.resume();
      return answer(
        res,
        code,
        owner === undefined ? `no online session owns ${address}` : `the SIM is ${owner.status}, not active`,
      );
    }
    let bytesUp = 0;
    let bytesDown = 0;
    const entry = httpEntryFor(beamConfig(owner.configuration), target.path);
    const record = (outcome: BeamHttpUsageEvent['outcome'], error?: string, scheme?: 'http' | 'https') =>
      platform.beamUsage?.record({
        service: 'beam',
        entryPoint: 'http',
        operatorId: owner.operatorId,
        simId: owner.simId,
        imsi: owner.imsi,
        bytesUp,
        bytesDown,
        outcome,
        ...(scheme ? { destination: scheme } : {}),
        ...(error ? { error } : {}),
      });
    if (entry === undefined) {
      requests.inc({ outcome: 'refused', code: 'ERR_BEAM_NOT_CONFIGURED' });
      record('refused', 'ERR_BEAM_NOT_CONFIGURED');
      req.resume();
      return answer(
        res,
        'ERR_BEAM_NOT_CONFIGURED',
        "the SIM's group has no enabled SoracomBeam http entry for this path",
      );
    }
    const scheme = entry.destination.protocol === 'https:' ? 'https' : 'http';
    const upstreamPath = upstreamTarget(entry, target.path, target.query);
    const host = entry.destination.hostname;
    const hostRefusal = refusalFor(host);
    try {
      if (upstreamPath === undefined) {
        throw new HttpEntryError('ERR_BEAM_BAD_TARGET', 'the path would not stay below the destination');
      }
      if (hostRefusal !== undefined) {
        throw new HttpEntryError(
          'ERR_BEAM_DESTINATION_REFUSED',
          `the destination ${host} is refused: ${hostRefusal}; allow its network in beamAllowedDestinationNetworks if intended`,
        );
      }
      const [psk, custom, cert] = await Promise.all([
        entry.addSignature && entry.psk ? resolve(owner, entry.psk) : undefined,
        entry.customHeaders.length > 0 ? customHeaderValues(owner, entry.customHeaders) : undefined,
        entry.clientCert ? resolve(owner, entry.clientCert) : undefined,
      ]);
      if (psk !== undefined && (psk.type !== 'psk' || typeof psk.key !== 'string')) {
        throw new HttpEntryError(
          'ERR_BEAM_CREDENTIALS',
          `credential set ${entry.psk?.credentialsId} is not of type psk`,
        );
      }
      if (
        cert !== undefined &&
        (cert.type !== 'x509' || typeof cert.cert !== 'string' || typeof cert.key !== 'string')
      ) {
        throw new HttpEntryError(
          'ERR_BEAM_CREDENTIALS',
          `credential set ${entry.clientCert?.credentialsId} is not of type x509 (certificate and key)`,
        );
      }
      const headers = forwardedHeaders(req, custom);
      const identity = beamIdentityHeaders(
        owner,
        entry,
        psk?.key as string | undefined,
        platform.clock.now(),
      );
      for (const name in identity) headers.push(name, identity[name] as string);

      // A device that went away while its SIM and credentials were looked up gets nothing forwarded.
      if (abort.aborted) return;
      const hasBody =
        req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      const limit = o.bodyLimitBytes;
      const body = hasBody
        ? (async function* () {
            for await (const chunk of req) {
              bytesUp += (chunk as Buffer).length;
              if (bytesUp > limit) throw new BodyTooLarge();
              yield chunk as Buffer;
            }
          })()
        : null;
      let upstream: Awaited<ReturnType<Pool['request']>>;
      try {
        upstream = await poolFor(entry.destination.origin, cert).request({
          method: req.method ?? 'GET',
          path: upstreamPath,
          headers,
          // undici streams any async iterable (its types list Readable only): the generator counts
          // the bytes and stops at the limit without a Transform stream in between.
          body: body as unknown as Readable | null,
          signal: abort,
        });
      } catch (e) {
        if (e instanceof BodyTooLarge || (e as { cause?: unknown }).cause instanceof BodyTooLarge) {
          res.setHeader('connection', 'close');
          throw new HttpEntryError('ERR_PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`);
        }
        throw e;
      }
      const outHeaders = responseHeaders(upstream.headers);
      res.writeHead(entry.skipStatusCode ? 200 : upstream.statusCode, outHeaders);
      upstream.body.on('data', (chunk: Buffer) => {
        bytesDown += chunk.length;
      });
      await new Promise<void>((resolveDone, reject) => {
        upstream.body.once('error', reject);
        res.once('finish', resolveDone);
        res.once('close', () => (res.writableFinished ? resolveDone() : reject(new Error('device closed'))));
        upstream.body.pipe(res);
      }).catch((e: unknown) => {
        upstream.body.destroy();
        throw e;
      });
      delivered.inc();
      record('delivered', undefined, scheme);
    } catch (e) {
      const { code, message } = classify(e);
      const refusedHere =
        code === 'ERR_BEAM_CREDENTIALS' || code === 'ERR_BEAM_BAD_TARGET' || code === 'ERR_PAYLOAD_TOO_LARGE';
      requests.inc({ outcome: refusedHere ? 'refused' : 'failed', code });
      record(refusedHere ? 'refused' : 'failed', code, scheme);
      logger.warn(
        {
          simId: owner.simId,
          entry: entry.key,
          destination: entry.destination.origin,
          code,
          reason: message,
        },
        'beam http: not delivered',
      );
      if (!req.complete) req.resume();
      answer(res, code, message);
    }
  }

  const perSource = new Map<string, number>();
  const server = http.createServer(
    {
      maxHeaderSize: 16_384,
      requestTimeout: o.idleTimeoutMs,
      headersTimeout: Math.min(o.idleTimeoutMs, 60_000),
      keepAliveTimeout: o.idleTimeoutMs,
      connectionsCheckingInterval: Math.min(30_000, Math.max(1000, o.idleTimeoutMs / 2)),
    },
    (req, res) => {
      handle(req, res).catch((e: unknown) => {
        logger.error({ err: e }, 'beam http: request failed');
        answer(res, 'ERR_INTERNAL', 'internal error');
      });
    },
  );
  server.maxConnections = o.maxConnections;
  // A device that half-closes after its request (`nc`, a modem's TCP stack) still gets the answer:
  // without this Node drops the request on the device's FIN. Half-open sockets are still bounded
  // by the request and idle timeouts.
  (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('connection', (socket: Socket) => {
    const address = socketSourceAddress(socket);
    const n = (perSource.get(address) ?? 0) + 1;
    if (n > o.maxConnectionsPerSource) {
      socket.destroy();
      return;
    }
    perSource.set(address, n);
    socket.once('close', () => {
      const left = (perSource.get(address) ?? 1) - 1;
      if (left <= 0) perSource.delete(address);
      else perSource.set(address, left);
    });
  });
  // A request Node's parser refuses (malformed, oversized headers) ends here, never reaching `handle`.
  server.on('clientError', (_e: Error, socket: Socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    socket.destroy();
  });

  return {
    server,
    listen: (host, port) =>
      new Promise((resolveListen, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const a = server.address();
          resolveListen({ host, port: typeof a === 'object' && a ? a.port : port });
        });
      }),
    async close() {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeIdleConnections();
      });
      await Promise.all([...pools.values()].map((p) => p.pool.close().catch(() => undefined)));
      pools.clear();
    },
  };
}

/** The device's headers as forwarded: hop-by-hop, Host, Expect and every X-Soracom-* dropped; then the group's custom headers. */
function forwardedHeaders(
  req: http.IncomingMessage,
  custom: ReadonlyArray<[CustomHeader, string | undefined]> | undefined,
): string[] {
  const raw = req.rawHeaders;
  const listed = req.headers.connection;
  const dropped = listed
    ? new Set(
        listed
          .toLowerCase()
          .split(',')
          .map((t) => t.trim()),
      )
    : undefined;
  let out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(name) || name === 'host' || name === 'expect' || name.startsWith('x-soracom-'))
      continue;
    if (dropped?.has(name)) continue;
    out.push(name, raw[i + 1] as string);
  }
  if (custom !== undefined) {
    for (const [h, value] of custom) {
      if (h.action !== 'append') {
        const kept: string[] = [];
        for (let i = 0; i < out.length; i += 2)
          if (out[i] !== h.name) kept.push(out[i] as string, out[i + 1] as string);
        out = kept;
      }
      if (h.action !== 'delete' && value !== undefined) out.push(h.name, value);
    }
  }
  return out;
}

/** The destination's headers as sent to the device: hop-by-hop ones (and those its Connection names) dropped. */
function responseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const listed = headers.connection;
  const dropped =
    typeof listed === 'string'
      ? new Set(
          listed
            .toLowerCase()
            .split(',')
            .map((t) => t.trim()),
        )
      : undefined;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined || HOP_BY_HOP.has(name) || dropped?.has(name)) continue;
    out[name] = v;
  }
  return out;
}

/** Reads a PEM file named by beamDestinationCaFile (once, at start). */
export const readCaFile = (path: string | undefined): string | undefined =>
  path === undefined ? undefined : readFileSync(path, 'utf8');
