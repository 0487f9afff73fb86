// Funnel's TCP entry point (SORACOM's tcp://funnel.soracom.io:23080; docs/funnel-funk.md). Each
// piece of data the device's connection delivers — one read, in practice one TCP segment — is one
// message, as SORACOM documents it (a device's write may be split into several segments, or several
// writes merged into one: TCP keeps no message boundaries, so a device that needs them sends one
// message per connection or waits for each answer). The answer, per message, in order:
//
//   "200"                  the broker confirmed the message
//   "<status> <message>"   not delivered; the HTTP status the HTTP entry point would give, and why
//
// An invalid JSON payload (contentType json) is answered and the connection closed (SORACOM sends
// that answer with FIN); other refusals leave it open. Messages of one connection are handled one
// at a time (the socket is paused meanwhile), so answers come in order and a device cannot pile up
// work. The SIM is looked up for every message: a session that ended, or a SIM suspended meanwhile,
// stops the next message.

import { createServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { SimtrustError } from '../../../lib/errors.js';
import { ConnectionSlots, plainSourceAddress, RefusalLog } from '../device-limits.js';
import type { Listening } from './http-entry.js';
import type { FunnelIngress } from './ingress.js';

export interface FunnelTcpOptions {
  readonly ingress: FunnelIngress;
  readonly logger: Logger;
  readonly maxConnections: number;
  readonly maxConnectionsPerSource: number;
  readonly idleTimeoutMs: number;
}

/** The answer line to a device over TCP or UDP (SORACOM's `${status} ${body}` form). */
export function answerText(outcome: SimtrustError | undefined): string {
  if (outcome === undefined) return '200';
  return `${outcome.status} ${outcome.expose ? outcome.message : 'Internal error'}`;
}

export async function startFunnelTcp(o: FunnelTcpOptions, host: string, port: number): Promise<Listening> {
  const slots = new ConnectionSlots(o.maxConnectionsPerSource, o.maxConnections);
  const refusals = new RefusalLog();
  const sockets = new Set<Socket>();

  const serve = (socket: Socket, source: string) => {
    socket.setNoDelay(true);
    socket.setTimeout(o.idleTimeoutMs, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      socket.pause();
      o.ingress.handle(source, chunk, { protocol: 'tcp' }).then(
        () => {
          if (socket.destroyed) return;
          socket.write(answerText(undefined));
          socket.resume();
        },
        (e: unknown) => {
          if (socket.destroyed) return;
          const error = e instanceof SimtrustError ? e : new SimtrustError('ERR_INTERNAL', 'unexpected');
          if (error.code === 'ERR_FUNNEL_INVALID_PAYLOAD' || error.code === 'ERR_BEAM_NO_SESSION') {
            socket.end(answerText(error));
            return;
          }
          socket.write(answerText(error));
          socket.resume();
        },
      );
    });
  };

  const server = createServer({ pauseOnConnect: false }, (socket) => {
    const source = plainSourceAddress(socket.remoteAddress);
    const refusal = slots.admit(source);
    if (refusal !== undefined) {
      socket.destroy();
      const quiet = refusals.shouldLog(source);
      if (quiet !== undefined) {
        o.logger.warn(
          { peer: source, reason: refusal, ...(quiet > 0 ? { alsoRefusedSinceLastLog: quiet } : {}) },
          refusal === 'per_source'
            ? 'funnel tcp: connection refused: the source holds funnelMaxConnectionsPerSource connections'
            : 'funnel tcp: connection refused: the entry point holds funnelMaxConnections connections',
        );
      }
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      slots.release(source);
    });
    serve(socket, source);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => o.logger.error({ err: e }, 'funnel tcp: listener error'));
  const bound = server.address();
  return {
    host,
    port: typeof bound === 'object' && bound !== null ? bound.port : port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
