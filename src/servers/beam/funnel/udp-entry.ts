// Funnel's UDP entry point (SORACOM's udp://funnel.soracom.io:23080; docs/funnel-funk.md): each
// datagram is one message, answered with one datagram to its sender — "200" once the broker
// confirmed it, "<status> <message>" when it was not delivered (as over TCP).
//
// A datagram's source address can be forged, so the entry point never becomes a reflector: a
// datagram from an address that no online session owns gets no answer at all (and costs one
// look-up), each source may send funnelUdpPacketsPerSecondPerSource on average, and at most
// funnelUdpMaxInFlight datagrams are being delivered at once — more are dropped, unanswered (UDP
// promises nothing; the device sends again when it hears nothing).

import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { SimtrustError } from '../../../lib/errors.js';
import { plainSourceAddress, SourceRate } from '../device-limits.js';
import type { Listening } from './http-entry.js';
import type { FunnelIngress } from './ingress.js';
import { answerText } from './tcp-entry.js';

export interface FunnelUdpOptions {
  readonly ingress: FunnelIngress;
  readonly logger: Logger;
  readonly packetsPerSecondPerSource: number;
  readonly maxInFlight: number;
}

export interface FunnelUdpStats {
  received: number;
  droppedRate: number;
  droppedBusy: number;
  unanswered: number;
}

export async function startFunnelUdp(
  o: FunnelUdpOptions,
  host: string,
  port: number,
): Promise<Listening & { readonly stats: FunnelUdpStats }> {
  const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
  const rate = new SourceRate(o.packetsPerSecondPerSource, Math.max(1, o.packetsPerSecondPerSource * 2));
  const stats: FunnelUdpStats = { received: 0, droppedRate: 0, droppedBusy: 0, unanswered: 0 };
  let inFlight = 0;
  let closed = false;

  const reply = (text: string, to: RemoteInfo) => {
    if (!closed) socket.send(text, to.port, to.address, () => undefined);
  };

  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    stats.received++;
    const source = plainSourceAddress(from.address);
    if (!rate.take(source)) {
      stats.droppedRate++;
      return;
    }
    if (inFlight >= o.maxInFlight) {
      stats.droppedBusy++;
      return;
    }
    inFlight++;
    o.ingress
      .handle(source, msg, { protocol: 'udp' })
      .then(
        () => reply(answerText(undefined), from),
        (e: unknown) => {
          const error = e instanceof SimtrustError ? e : new SimtrustError('ERR_INTERNAL', 'unexpected');
          // No answer to an address without a session: it may not be the sender's.
          if (error.code === 'ERR_BEAM_NO_SESSION') {
            stats.unanswered++;
            return;
          }
          reply(answerText(error), from);
        },
      )
      .finally(() => {
        inFlight--;
      });
  });
  socket.on('error', (e) => o.logger.error({ err: e }, 'funnel udp: socket error'));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: host, port }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    host,
    port: socket.address().port,
    stats,
    async close() {
      closed = true;
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
