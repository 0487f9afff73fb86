// Funnel's HTTP entry point (SORACOM's http://funnel.soracom.io; docs/funnel-funk.md): a device on
// its SIM session POSTs its data, with no credential, and hears
//
//   204                       the broker confirmed the message (not before)
//   400 ERR_FUNNEL_INVALID_PAYLOAD   not JSON (contentType json) / not UTF-8 (text)
//   413 ERR_PAYLOAD_TOO_LARGE        more than funnelMaxBodyBytes (SORACOM's 800000)
//   403 / 404 / 5xx                  no session, SIM not active, no Funnel configuration, broker errors
//
// Any path is taken (the path is not used); other methods get 405. Errors are JSON {code, message}.
// Limits: connections per source and in all, the time a request may take to arrive, the body size
// (a declared Content-Length over the limit is refused before any byte is read).

import http from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { SimtrustError } from '../../../lib/errors.js';
import { ConnectionSlots, plainSourceAddress, RefusalLog } from '../device-limits.js';
import type { FunnelIngress } from './ingress.js';

export interface FunnelHttpOptions {
  readonly ingress: FunnelIngress;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerSource: number;
  readonly idleTimeoutMs: number;
}

export interface Listening {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

function answer(res: http.ServerResponse, error: SimtrustError, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(error.toBody());
  res.writeHead(error.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(body);
}

export async function startFunnelHttp(o: FunnelHttpOptions, host: string, port: number): Promise<Listening> {
  const slots = new ConnectionSlots(o.maxConnectionsPerSource, o.maxConnections);
  const refusals = new RefusalLog();
  const sockets = new Set<Socket>();
  const tooLarge = () =>
    new SimtrustError(
      'ERR_PAYLOAD_TOO_LARGE',
      `the data is larger than ${o.maxBodyBytes} bytes, the most Funnel takes in one request (funnelMaxBodyBytes)`,
    );

  const server = http.createServer(
    {
      // A request must arrive whole within the idle time; kept-alive sockets close after it.
      requestTimeout: o.idleTimeoutMs,
      headersTimeout: Math.min(o.idleTimeoutMs, 30_000),
      keepAliveTimeout: o.idleTimeoutMs,
      maxHeaderSize: 16_384,
    },
    (req, res) => {
      // Read once: a destroyed socket no longer reports its peer.
      const address = plainSourceAddress(req.socket.remoteAddress);
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        req.resume();
        return answer(res, new SimtrustError('ERR_FUNNEL_METHOD', 'Funnel takes data with POST'));
      }
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > o.maxBodyBytes) {
        req.resume();
        return answer(res, tooLarge(), true);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      req.on('data', (chunk: Buffer) => {
        if (refused) return;
        size += chunk.length;
        if (size > o.maxBodyBytes) {
          refused = true;
          chunks.length = 0;
          answer(res, tooLarge(), true);
          return;
        }
        chunks.push(chunk);
      });
      req.on('error', () => res.destroy());
      req.on('end', () => {
        if (refused) return;
        const body = Buffer.concat(chunks, size);
        o.ingress.handle(address, body, { protocol: 'http', contentType: req.headers['content-type'] }).then(
          () => {
            res.writeHead(204, { 'cache-control': 'no-store' });
            res.end();
          },
          (e: unknown) =>
            answer(res, e instanceof SimtrustError ? e : new SimtrustError('ERR_INTERNAL', 'unexpected')),
        );
      });
    },
  );
  server.on('connection', (socket: Socket) => {
    const source = plainSourceAddress(socket.remoteAddress);
    const refusal = slots.admit(source);
    if (refusal !== undefined) {
      socket.destroy();
      const quiet = refusals.shouldLog(source);
      if (quiet !== undefined) {
        o.logger.warn(
          { peer: source, reason: refusal, ...(quiet > 0 ? { alsoRefusedSinceLastLog: quiet } : {}) },
          refusal === 'per_source'
            ? 'funnel http: connection refused: the source holds funnelMaxConnectionsPerSource connections'
            : 'funnel http: connection refused: the entry point holds funnelMaxConnections connections',
        );
      }
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      slots.release(source);
    });
  });
  server.on('clientError', (_e, socket) => {
    // Malformed HTTP: answer 400 when the socket can still take it, then close.
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => o.logger.error({ err: e }, 'funnel http: listener error'));
  const bound = server.address();
  return {
    host,
    port: typeof bound === 'object' && bound !== null ? bound.port : port,
    async close() {
      server.closeIdleConnections();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
