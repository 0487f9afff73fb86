// The SM-SR's SCP81 endpoint: TLS 1.2 with pre-shared keys (Node's own TLS, PSK-AES128-GCM-SHA256 /
// PSK-AES128-CBC-SHA256, no certificate) and Node's HTTP/1.1 server over each secured connection
// ('secureConnection' → http 'connection'). The PSK is chosen by the identity the card sends (SGP.02
// Table 4: EID, ISD-R AID, KVN, KID) through a callback the SM-SR backs with its EIS store; an unknown
// identity or a wrong key fails the handshake. Limits: connections, body size, session time; no
// session resumption (no tickets, no session cache), as SGP.02 §2.4.4 asks.

import { constants } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import {
  decodePskIdentity,
  isScp81Kvn,
  PSK_TLS_CIPHERS,
  type PskIdentity,
} from '../../lib/gp-amd-b-ram-over-http.js';
import type { AdminSession, RamOverHttpSessions } from '../../platform/esim/sm-sr/ram-over-http.js';

export interface Scp81ListenerOptions {
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  /** The PSK of this identity's keyset (synchronous: OpenSSL asks during the handshake). */
  readonly psk: (identity: PskIdentity) => Uint8Array | undefined;
  readonly sessions: RamOverHttpSessions;
  /** Concurrent connections (default 256). */
  readonly maxConnections?: number;
  /** Largest request body (default 64 KiB). */
  readonly maxBodyBytes?: number;
  /** A connection is closed after this long, whatever it does (default 120 s). */
  readonly sessionMs?: number;
  /** Handshakes refused (unknown identity, wrong key): for the operator's log and tests. */
  readonly onRefused?: (reason: string) => void;
}

export interface Scp81Listener {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The request body, at most `max` bytes (undefined: larger, or the request broke off). Read by its
 * events: an async iterator over the request costs more than the exchange it carries.
 */
function bodyOf(req: IncomingMessage, max: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = (v: Uint8Array | undefined) => {
      req.removeListener('data', data);
      req.removeListener('end', end);
      req.removeListener('error', broke);
      req.removeListener('close', broke);
      resolve(v);
    };
    const data = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) done(undefined);
      else parts.push(chunk);
    };
    const end = () => {
      const whole = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
      done(new Uint8Array(whole.buffer, whole.byteOffset, whole.length));
    };
    const broke = () => done(undefined);
    req.on('data', data);
    req.on('end', end);
    req.on('error', broke);
    req.on('close', broke);
  });
}

export async function startScp81Listener(o: Scp81ListenerOptions): Promise<Scp81Listener> {
  const identities = new WeakMap<TLSSocket, PskIdentity>();
  const sessions = new WeakMap<object, AdminSession>();
  const maxBody = o.maxBodyBytes ?? 65536;
  const sessionMs = o.sessionMs ?? 120_000;

  const tls = createTlsServer({
    ciphers: PSK_TLS_CIPHERS,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.2',
    // SGP.02 §2.4.4: no session resumption — no tickets, and no 'resumeSession' handler means the
    // session cache is never consulted.
    secureOptions: constants.SSL_OP_NO_TICKET,
    pskCallback(socket, identity) {
      const id = decodePskIdentity(identity);
      if (!id.ok || !isScp81Kvn(id.value.kvn)) {
        o.onRefused?.('unknown PSK identity');
        return null;
      }
      const key = o.psk(id.value);
      if (key === undefined) {
        o.onRefused?.('no key for this identity');
        return null;
      }
      identities.set(socket, id.value);
      return Buffer.from(key);
    },
  });
  tls.maxConnections = o.maxConnections ?? 256;
  tls.on('tlsClientError', (e: Error) => o.onRefused?.(e.message));

  const http = createHttpServer({ requestTimeout: sessionMs, headersTimeout: sessionMs }, (req, res) => {
    void serve(req, res);
  });
  http.maxHeadersCount = 32;
  // A card over BIP (and SMS-speed bearers) may take long between POSTs: the session time bounds it.
  http.keepAliveTimeout = sessionMs;

  const open = new Set<TLSSocket>();
  tls.on('secureConnection', (socket: TLSSocket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    const id = identities.get(socket);
    if (id === undefined) {
      socket.destroy();
      return;
    }
    const session = o.sessions.open(id.eid);
    if (session === undefined) {
      o.onRefused?.('a session is already open for this eUICC');
      socket.destroy();
      return;
    }
    sessions.set(socket, session);
    const timer = setTimeout(() => socket.destroy(), sessionMs);
    timer.unref();
    socket.on('close', () => {
      clearTimeout(timer);
      session.close();
    });
    http.emit('connection', socket);
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = sessions.get(req.socket);
    if (session === undefined) {
      res.destroy();
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!Number.isFinite(declared) || declared > maxBody) {
      res.writeHead(413, { Connection: 'close' }).end();
      req.socket.destroy();
      return;
    }
    const body = await bodyOf(req, maxBody);
    if (body === undefined) {
      req.socket.destroy();
      return;
    }
    const headers: Record<string, string | undefined> = {};
    for (const name in req.headers) {
      const value = req.headers[name];
      headers[name] = Array.isArray(value) ? value[0] : value;
    }
    // respond(): a job sent with MoreToDo holds this answer until the SM-SR's next job (ram-over-http.ts).
    const out = await session.respond({
      method: req.method ?? '',
      path: req.url ?? '',
      headers,
      body,
    });
    res.writeHead(out.status, { ...out.headers, 'Content-Length': String(out.body.length) });
    res.end(Buffer.from(out.body));
  }

  tls.listen(o.port ?? 0, o.host ?? '127.0.0.1');
  await once(tls, 'listening');
  return {
    port: (tls.address() as AddressInfo).port,
    async close() {
      const closed = once(tls, 'close');
      tls.close();
      for (const socket of open) socket.destroy();
      await closed;
    },
  };
}
