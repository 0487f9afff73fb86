// The GSUP listener (optional, `SIMTRUST_GSUP_PORT`): Osmocom core elements (osmo-msc, osmo-sgsn)
// and the simulator's network side use simtrust as their HLR/AuC over GSUP in IPA framing on TCP
// (libosmocore gsm/ipa.c, gsup.c; osmo-hlr's gsup_server.c is the reference server).
//
// Per connection, as osmo-hlr does: we send CCM ID_GET, the peer answers ID_RESP with its unit name
// and serial number (kept for logs); we never send ID_ACK (libosmocore answers ID_ACK with ID_ACK,
// so two eager sides would loop) and ignore one we receive; PING gets PONG. GSUP requests are
// answered on the connection they came on, so no routing by serial number is needed and a request
// that arrives before ID_RESP is served too.
//
// Nothing a peer sends stops the server: the deframer and decoders are total, a frame that does not
// decode is counted and dropped, each request is handled under catch, and a peer that sends more
// than it reads is cut off.

import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  decodeGsup,
  encodeGsup,
  GMM_CAUSE,
  GSUP_MESSAGE_TYPE,
  type GsupMessage,
  gsupErrorType,
} from '../../lib/gsup/gsup.js';
import {
  decodeCcm,
  encodeCcm,
  gsupFrame,
  gsupPayload,
  IPA_ID_TAG,
  IPA_PROTO,
  IpaDeframer,
} from '../../lib/gsup/ipa.js';
import type { Result } from '../../lib/result.js';
import { type HlrDependencies, type HlrStats, purgeMs, sendAuthInfo, updateLocation } from './hlr.js';

export interface GsupServerOptions extends HlrDependencies {
  readonly host: string;
  readonly port: number;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** How long an UpdateLocation waits for the InsertSubscriberData acknowledgement. */
  readonly insertTimeoutMs?: number;
  readonly maxConnections?: number;
}

export interface GsupStats extends HlrStats {
  connections: number;
  framesDropped: number;
}

/** Octets a connection may leave unread in our write buffer before we stop serving it. */
const MAX_BACKLOG = 4 * 1024 * 1024;

export class GsupServer {
  readonly stats: GsupStats = {
    connections: 0,
    framesDropped: 0,
    sendAuthInfo: 0,
    resyncs: 0,
    updateLocation: 0,
    purgeMs: 0,
    errors: 0,
  };
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly o: GsupServerOptions,
  ) {}

  static async start(o: GsupServerOptions): Promise<GsupServer> {
    const server = createServer();
    server.maxConnections = o.maxConnections ?? 1000;
    const gsup = new GsupServer(server, o);
    server.on('connection', (socket) => gsup.accept(socket));
    server.on('error', (e) => o.logger.error({ err: e }, 'GSUP listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return gsup;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : this.o.port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.stats.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const peer = { name: `${socket.remoteAddress}:${socket.remotePort}` };
    const deframer = new IpaDeframer();
    const pendingInserts = new Map<string, { result: GsupMessage; timer: NodeJS.Timeout }>();
    const write = (frame: Result<Uint8Array>) => {
      if (!frame.ok || socket.destroyed) return;
      if (socket.writableLength > MAX_BACKLOG) {
        this.o.logger.warn({ peer: peer.name }, 'GSUP peer does not read its answers; closing');
        socket.destroy();
        return;
      }
      socket.write(frame.value);
    };
    const send = (message: GsupMessage) => {
      const bytes = encodeGsup(message);
      if (!bytes.ok) {
        this.o.logger.error({ code: bytes.error.code }, 'GSUP: cannot encode an answer');
        return;
      }
      write(gsupFrame(bytes.value));
    };
    const onGsup = async (message: GsupMessage) => {
      switch (message.type) {
        case GSUP_MESSAGE_TYPE['SendAuthInfo-Request']:
          return send(await sendAuthInfo(this.o, message, this.stats));
        case GSUP_MESSAGE_TYPE['UpdateLocation-Request']: {
          const r = await updateLocation(this.o, message, this.stats);
          if ('error' in r) return send(r.error);
          const previous = pendingInserts.get(message.imsi);
          if (previous) clearTimeout(previous.timer);
          const timer = setTimeout(() => {
            pendingInserts.delete(message.imsi);
            this.stats.errors++;
            send({
              type: gsupErrorType(message.type),
              imsi: message.imsi,
              cause: GMM_CAUSE['Network-Failure'],
            });
          }, this.o.insertTimeoutMs ?? 5000);
          timer.unref();
          pendingInserts.set(message.imsi, { result: r.result, timer });
          return send(r.insert);
        }
        case GSUP_MESSAGE_TYPE['InsertSubscriberData-Result']:
        case GSUP_MESSAGE_TYPE['InsertSubscriberData-Error']: {
          const pending = pendingInserts.get(message.imsi);
          if (pending === undefined) return undefined;
          clearTimeout(pending.timer);
          pendingInserts.delete(message.imsi);
          if (message.type === GSUP_MESSAGE_TYPE['InsertSubscriberData-Result']) return send(pending.result);
          this.stats.errors++;
          return send({
            type: GSUP_MESSAGE_TYPE['UpdateLocation-Error'],
            imsi: message.imsi,
            cause: message.cause ?? GMM_CAUSE['Network-Failure'],
          });
        }
        case GSUP_MESSAGE_TYPE['PurgeMS-Request']:
          return send(await purgeMs(this.o, message, this.stats));
        default:
          // A request (low two bits 00) we do not serve gets an error; answers we did not ask for
          // are ignored.
          if ((message.type & 0x03) === 0) {
            this.stats.errors++;
            send({
              type: gsupErrorType(message.type),
              imsi: message.imsi,
              cause: GMM_CAUSE['Message-Type-Nonexistent'],
            });
          }
          return undefined;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      for (const frame of deframer.push(new Uint8Array(chunk))) {
        if (frame.proto === IPA_PROTO.CCM) {
          const ccm = decodeCcm(frame.payload);
          if (!ccm.ok) {
            this.stats.framesDropped++;
            continue;
          }
          if (ccm.value.type === 'PING') write(encodeCcm({ type: 'PONG' }));
          else if (ccm.value.type === 'ID_RESP') {
            const name =
              ccm.value.identity.get(IPA_ID_TAG.unitName) ?? ccm.value.identity.get(IPA_ID_TAG.serialNumber);
            if (name !== undefined) peer.name = `${name} (${socket.remoteAddress}:${socket.remotePort})`;
            this.o.logger.info({ peer: peer.name }, 'GSUP peer identified');
          }
          continue;
        }
        const payload = gsupPayload(frame);
        const message = payload === undefined ? undefined : decodeGsup(payload);
        if (message === undefined || !message.ok) {
          this.stats.framesDropped++;
          this.o.logger.debug(
            { peer: peer.name, code: message?.ok === false ? message.error.code : 'NOT_GSUP' },
            'GSUP frame dropped',
          );
          continue;
        }
        onGsup(message.value).catch((e: unknown) => {
          this.stats.errors++;
          this.o.logger.error({ err: e, peer: peer.name, type: message.value.type }, 'GSUP request failed');
          if ((message.value.type & 0x03) === 0) {
            send({
              type: gsupErrorType(message.value.type),
              imsi: message.value.imsi,
              cause: GMM_CAUSE['Network-Failure'],
            });
          }
        });
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      for (const p of pendingInserts.values()) clearTimeout(p.timer);
    });
    // Ask who the peer is; serial number (route key) and unit name, as osmo-hlr asks.
    write(encodeCcm({ type: 'ID_GET', tags: [IPA_ID_TAG.serialNumber, IPA_ID_TAG.unitName] }));
  }
}
