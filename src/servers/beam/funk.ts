// Funk (docs/funnel-funk.md, Funk): a device on its SIM data session sends data over HTTP, TCP or
// UDP with no credential; the platform knows the SIM from the source address, reads the group's
// `SoracomFunk` configuration (platform/beam/funk-config.ts) and invokes the function at its
// HTTPS `resourceUrl` with the group's credential set, and the function's answer goes back to the
// device (SORACOM: users.soracom.io/ja-jp/docs/funk/format, /funk/response).
//
//   device data → limits → SIM of the source address (online session, same tenant, active)
//               → SoracomFunk (enabled, destination) → body by contentType (json must parse)
//               → credential (api token → Bearer, user/password → Basic) → POST → answer
//
// The call: POST resourceUrl, Content-Type: application/json, User-Agent: SORACOM Funk, the
// credential in Authorization, and the SIM's identity as X-Soracom-IMSI, X-Soracom-IMEI (when the
// network reported one), X-Soracom-SIM-ID (addSimId, on by default) and X-Soracom-Timestamp — the
// header names Beam uses. The function trusts them because only the platform holds its credential
// (SORACOM's cloud adapters carry the same facts in a signed JWT or Lambda context; simtrust's
// generic `https` provider uses headers).
//
// Answers: over HTTP the function's status, Content-Type and body as they are; over TCP and UDP
// "<status> " followed by the body's bytes unchanged, or the body alone with skipStatusCode
// (SORACOM Funk format). Funk's own failures: HTTP {code, message} with the code's status; TCP/UDP
// "<status> <code>: <message>". A UDP datagram from an address without a session (or of a SIM that
// is not active) gets no answer at all; a TCP connection from one is closed without a byte.
//
// TCP: each piece of data read from the connection is one invocation (as SORACOM's TCP entry
// points turn segments into requests; a device needing message boundaries sends one message per
// write and waits for the answer). Invocations of one connection run one after another, in order.

import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import http from 'node:http';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ERROR_CODES, type ErrorCode, isSimtrustError, SimtrustError } from '../../lib/errors.js';
import type { DestinationPolicy } from '../../platform/beam/destination-policy.js';
import {
  FUNK_NAMESPACE,
  type FunkConfig,
  type FunkDestination,
  funkConfig,
} from '../../platform/beam/funk-config.js';
import {
  type FunkEntryPoint,
  funkDeviceAnswer,
  funkEncoding,
  funkRequestBody,
} from '../../platform/beam/funk-payload.js';
import { type SessionOwner, sessionOwner } from '../../platform/beam/session-owner.js';
import type { Platform } from '../../platform/platform.js';
import { ConnectionSlots, plainSourceAddress, RefusalLog, SourceRate } from './device-limits.js';
import { MAX_UDP_PAYLOAD } from './udp-entry.js';
import { credentialHeaderValue, UpstreamError, UpstreamHttp } from './upstream-http.js';

export interface FunkOptions {
  readonly platform: Pick<Platform, 'store' | 'clock' | 'credentials' | 'beamUsage'>;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  readonly metrics?: Registry | undefined;
  readonly policy: DestinationPolicy;
  readonly extraCa?: string | undefined;
  /** funkTimeoutSeconds in milliseconds. */
  readonly timeoutMs: number;
  /** funkMaxBodyBytes: the device's HTTP body, and the function's answer over HTTP and TCP. */
  readonly maxBodyBytes: number;
  readonly connectionsPerFunction: number;
  /** HTTP and TCP: connections in all and per source; idle time. */
  readonly maxConnections: number;
  readonly maxConnectionsPerSource: number;
  readonly idleTimeoutMs: number;
  /** UDP: datagram bound, per-source rate, datagrams in flight. */
  readonly maxDatagramBytes: number;
  readonly packetsPerSecondPerSource: number;
  readonly maxInFlight: number;
}

export interface FunkAddress {
  readonly host: string;
  readonly port: number;
}

export interface Funk {
  listenHttp(host: string, port: number): Promise<FunkAddress>;
  listenTcp(host: string, port: number): Promise<FunkAddress>;
  bindUdp(host: string, port: number): Promise<FunkAddress>;
  readonly stats: Readonly<FunkStats>;
  close(): Promise<void>;
}

export interface FunkStats {
  /** Invocations answered by the function (any status). */
  invoked: number;
  /** Refused before any call: no session, not active, not configured, not JSON, credentials, policy. */
  refused: number;
  /** The function could not be reached, did not answer in time, or answered too much. */
  failed: number;
  /** UDP datagrams dropped before any look-up (size, rate, in flight). */
  dropped: number;
}

/** What the function answered. */
interface FunkAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

class FunkRefusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly outcome: 'refused' | 'failed' = 'refused',
  ) {
    super(message);
  }
  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** "<status> <code>: <message>" — Funk's own failure as TCP/UDP answer bytes. */
const failureBytes = (r: FunkRefusal) => Buffer.from(`${r.status} ${r.code}: ${r.message}`, 'utf8');

export function createFunk(o: FunkOptions): Funk {
  const { platform, logger } = o;
  const upstream = new UpstreamHttp({
    policy: o.policy,
    extraCa: o.extraCa,
    timeoutMs: o.timeoutMs,
    connectionsPerOrigin: o.connectionsPerFunction,
  });
  const stats: FunkStats = { invoked: 0, refused: 0, failed: 0, dropped: 0 };
  const counter = new Counter({
    name: 'simtrust_funk_invocations_total',
    help: 'Funk invocations by entry point (http, tcp, udp) and outcome (invoked, refused, failed, dropped) and code',
    labelNames: ['entry_point', 'outcome', 'code'] as const,
    registers: o.metrics ? [o.metrics] : [],
  });
  const refusalLog = new RefusalLog();
  const closers: Array<() => Promise<void>> = [];

  const logRefusal = (entryPoint: FunkEntryPoint, source: string, code: string, detail: string) => {
    const quiet = refusalLog.shouldLog(`${entryPoint} ${source}`);
    if (quiet !== undefined) {
      logger.info(
        { entryPoint, peer: source, code, ...(quiet > 0 ? { alsoRefusedSinceLastLog: quiet } : {}) },
        `funk: refused: ${detail}`,
      );
    }
  };

  /** The SIM behind `source`, or a refusal (no session / not active). */
  async function ownerOf(source: string): Promise<SessionOwner> {
    const owner = await sessionOwner(platform.store, source, FUNK_NAMESPACE);
    if (owner === undefined) throw new FunkRefusal('ERR_FUNK_NO_SESSION', `no online session owns ${source}`);
    if (owner.status !== 'active') {
      throw new FunkRefusal('ERR_FUNK_SIM_NOT_ACTIVE', `the SIM is ${owner.status}, not active`);
    }
    return owner;
  }

  function configOf(owner: SessionOwner): FunkConfig & { readonly destination: FunkDestination } {
    let cfg: FunkConfig;
    try {
      cfg = funkConfig(owner.configuration);
    } catch (e) {
      throw new FunkRefusal(
        'ERR_FUNK_NOT_CONFIGURED',
        isSimtrustError(e) ? e.message : 'SoracomFunk cannot be read',
      );
    }
    if (!cfg.enabled || cfg.destination === null) {
      throw new FunkRefusal(
        'ERR_FUNK_NOT_CONFIGURED',
        "the SIM's group has no enabled SoracomFunk configuration with a destination",
      );
    }
    return { ...cfg, destination: cfg.destination };
  }

  async function authorization(owner: SessionOwner, cfg: FunkConfig): Promise<string | undefined> {
    if (cfg.credentialsId === null) return undefined;
    let c: Awaited<ReturnType<typeof platform.credentials.resolve>>;
    try {
      c = await platform.credentials.resolve(owner.operatorId, cfg.credentialsId, owner);
    } catch (e) {
      const why = isSimtrustError(e) ? e.message : 'it could not be read';
      throw new FunkRefusal('ERR_FUNK_CREDENTIALS', `credential set ${cfg.credentialsId}: ${why}`);
    }
    let value: string | undefined;
    if (c.type === 'api-token-credentials') {
      const token = credentialHeaderValue(c);
      value = token === undefined ? undefined : `Bearer ${token}`;
    } else if (c.type === 'username-password-credentials') value = credentialHeaderValue(c);
    if (value === undefined) {
      throw new FunkRefusal(
        'ERR_FUNK_CREDENTIALS',
        `credential set ${cfg.credentialsId} (type ${c.type}) cannot authenticate a function call: use api-token-credentials or username-password-credentials`,
      );
    }
    return value;
  }

  /**
   * One invocation for one piece of device data; records usage and counts. Throws FunkRefusal
   * for what the device is told (no secret in any message).
   */
  async function invoke(
    owner: SessionOwner,
    entryPoint: FunkEntryPoint,
    data: Buffer,
    maxAnswerBytes: number,
    requestContentType?: string,
  ): Promise<{ answer: FunkAnswer; cfg: FunkConfig }> {
    let cfg: ReturnType<typeof configOf> | undefined;
    try {
      cfg = configOf(owner);
      const encoding = funkEncoding(cfg.contentType, entryPoint, requestContentType);
      const body = funkRequestBody(data, encoding);
      if (!body.ok) throw new FunkRefusal('ERR_FUNK_NOT_JSON', body.error.message);
      const auth = await authorization(owner, cfg);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'SORACOM Funk',
        'x-soracom-imsi': owner.imsi,
        ...(owner.imei ? { 'x-soracom-imei': owner.imei } : {}),
        ...(cfg.addSimId ? { 'x-soracom-sim-id': owner.simId } : {}),
        'x-soracom-timestamp': String(platform.clock.now()),
        ...(auth === undefined ? {} : { authorization: auth }),
      };
      let answer: FunkAnswer;
      try {
        answer = await upstream.post(cfg.destination.resourceUrl, headers, body.value, maxAnswerBytes);
      } catch (e) {
        if (!(e instanceof UpstreamError)) throw e;
        const kind = e.failure.kind;
        throw kind === 'refused'
          ? new FunkRefusal('ERR_BEAM_DESTINATION_REFUSED', e.failure.message)
          : new FunkRefusal(
              kind === 'timeout' ? 'ERR_FUNK_FUNCTION_TIMEOUT' : 'ERR_FUNK_FUNCTION_FAILED',
              kind === 'timeout'
                ? 'the function did not answer in time'
                : e.failure.message.replace('destination', 'function'),
              'failed',
            );
      }
      stats.invoked++;
      counter.inc({ entry_point: entryPoint, outcome: 'invoked', code: '' });
      platform.beamUsage.record({
        service: 'funk',
        entryPoint,
        operatorId: owner.operatorId,
        simId: owner.simId,
        imsi: owner.imsi,
        bytesUp: data.length,
        bytesDown: answer.body.length,
        outcome: 'delivered',
        destination: 'function',
      });
      return { answer, cfg };
    } catch (e) {
      const r =
        e instanceof FunkRefusal
          ? e
          : new FunkRefusal('ERR_FUNK_FUNCTION_FAILED', 'the function could not be invoked', 'failed');
      stats[r.outcome]++;
      counter.inc({ entry_point: entryPoint, outcome: r.outcome, code: r.code });
      platform.beamUsage.record({
        service: 'funk',
        entryPoint,
        operatorId: owner.operatorId,
        simId: owner.simId,
        imsi: owner.imsi,
        bytesUp: data.length,
        bytesDown: 0,
        outcome: r.outcome,
        destination: 'function',
        error: r.code,
      });
      logger.warn(
        {
          entryPoint,
          simId: owner.simId,
          ...(cfg?.destination ? { function: cfg.destination.resourceUrl.origin } : {}),
          code: r.code,
          reason: r.message,
        },
        'funk: not invoked',
      );
      if (!(e instanceof FunkRefusal)) logger.error({ err: e }, 'funk: invocation failed');
      throw r;
    }
  }

  const refusedBeforeOwner = (entryPoint: FunkEntryPoint, source: string, r: FunkRefusal) => {
    stats.refused++;
    counter.inc({ entry_point: entryPoint, outcome: 'refused', code: r.code });
    logRefusal(entryPoint, source, r.code, r.message);
  };

  // --- HTTP
  function httpAnswer(res: http.ServerResponse, code: ErrorCode, message: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify(new SimtrustError(code, message).toBody());
    res.writeHead(ERROR_CODES[code].status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(body);
  }

  async function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > o.maxBodyBytes) return undefined;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async function handleHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const source = plainSourceAddress(req.socket.remoteAddress);
    if (req.method !== 'POST') {
      req.resume();
      return httpAnswer(res, 'ERR_BAD_REQUEST', 'Funk takes the device data as the body of a POST');
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > o.maxBodyBytes) {
      res.setHeader('connection', 'close');
      return httpAnswer(res, 'ERR_PAYLOAD_TOO_LARGE', `the body is larger than ${o.maxBodyBytes} bytes`);
    }
    let owner: SessionOwner;
    try {
      owner = await ownerOf(source);
    } catch (e) {
      const r = e as FunkRefusal;
      refusedBeforeOwner('http', source, r);
      req.resume();
      return httpAnswer(res, r.code, r.message);
    }
    const data = await readBody(req);
    if (data === undefined) {
      res.setHeader('connection', 'close');
      return httpAnswer(res, 'ERR_PAYLOAD_TOO_LARGE', `the body is larger than ${o.maxBodyBytes} bytes`);
    }
    try {
      const { answer } = await invoke(owner, 'http', data, o.maxBodyBytes, req.headers['content-type']);
      res.writeHead(answer.status, {
        ...(answer.contentType ? { 'content-type': answer.contentType } : {}),
        'content-length': answer.body.length,
      });
      res.end(answer.body);
    } catch (e) {
      const r = e as FunkRefusal;
      httpAnswer(res, r.code, r.message);
    }
  }

  const httpSlots = new ConnectionSlots(o.maxConnectionsPerSource, o.maxConnections);
  const httpServer = http.createServer(
    {
      maxHeaderSize: 16_384,
      requestTimeout: o.idleTimeoutMs + o.timeoutMs,
      headersTimeout: Math.min(o.idleTimeoutMs, 60_000),
      keepAliveTimeout: Math.min(o.idleTimeoutMs, 60_000),
    },
    (req, res) => {
      handleHttp(req, res).catch((e: unknown) => {
        logger.error({ err: e }, 'funk http: request failed');
        httpAnswer(res, 'ERR_INTERNAL', 'internal error');
      });
    },
  );
  httpServer.on('connection', (socket: Socket) => {
    const source = plainSourceAddress(socket.remoteAddress);
    if (httpSlots.admit(source) !== undefined) {
      socket.destroy();
      return;
    }
    socket.once('close', () => httpSlots.release(source));
  });
  httpServer.on('clientError', (_e: Error, socket: Socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    socket.destroy();
  });

  // --- TCP
  const tcpSlots = new ConnectionSlots(o.maxConnectionsPerSource, o.maxConnections);
  const tcpSockets = new Set<Socket>();
  const tcpServer: TcpServer = createTcpServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => {
    const source = plainSourceAddress(socket.remoteAddress);
    if (tcpSlots.admit(source) !== undefined) {
      stats.refused++;
      counter.inc({ entry_point: 'tcp', outcome: 'refused', code: 'connections' });
      socket.destroy();
      return;
    }
    tcpSockets.add(socket);
    socket.once('close', () => {
      tcpSlots.release(source);
      tcpSockets.delete(socket);
    });
    socket.on('error', () => undefined);
    serveTcp(socket, source).catch((e: unknown) => {
      logger.error({ err: e, peer: source }, 'funk tcp: connection failed');
      socket.destroy();
    });
  });
  tcpServer.on('error', (e) => logger.error({ err: e }, 'funk tcp: listener error'));

  async function serveTcp(socket: Socket, source: string): Promise<void> {
    // Nothing is read from a stranger: its connection closes without a byte.
    try {
      await ownerOf(source);
    } catch (e) {
      refusedBeforeOwner('tcp', source, e as FunkRefusal);
      socket.destroy();
      return;
    }
    if (socket.destroyed) return;
    socket.setTimeout(o.idleTimeoutMs, () => socket.destroy());
    let busy = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      // One invocation at a time per connection, in order; reading waits meanwhile.
      socket.pause();
      socket.setTimeout(0);
      busy = busy.then(async () => {
        try {
          // The SIM is looked up again for every invocation: a suspension or a new configuration
          // applies to a connection already open.
          const owner = await ownerOf(source);
          try {
            const { answer, cfg } = await invoke(owner, 'tcp', chunk, o.maxBodyBytes);
            if (!socket.destroyed)
              socket.write(funkDeviceAnswer(answer.status, answer.body, cfg.skipStatusCode));
          } catch (e) {
            if (!socket.destroyed) socket.write(failureBytes(e as FunkRefusal));
          }
        } catch (e) {
          refusedBeforeOwner('tcp', source, e as FunkRefusal);
          socket.destroy();
          return;
        }
        if (!socket.destroyed) {
          socket.setTimeout(o.idleTimeoutMs);
          socket.resume();
        }
      });
    });
    // The device shut its side: answer what it sent, then close ours.
    socket.once('end', () => {
      void busy.then(() => {
        if (!socket.destroyed) socket.end();
      });
    });
    socket.resume();
  }

  // --- UDP
  const maxDatagram = Math.min(o.maxDatagramBytes, MAX_UDP_PAYLOAD);
  const rate = new SourceRate(o.packetsPerSecondPerSource, Math.max(1, o.packetsPerSecondPerSource * 2));
  let inFlight = 0;
  let closing = false;
  const pending = new Set<Promise<void>>();

  function onDatagram(socket: UdpSocket, msg: Buffer, rinfo: RemoteInfo): undefined {
    const source = plainSourceAddress(rinfo.address);
    if (closing) return;
    const drop = (code: string, detail: string): undefined => {
      stats.dropped++;
      counter.inc({ entry_point: 'udp', outcome: 'dropped', code });
      logRefusal('udp', source, code, detail);
    };
    if (msg.length > maxDatagram)
      return drop('too_large', `datagram of ${msg.length} bytes dropped (beamUdpMaxDatagramBytes)`);
    if (!rate.take(source)) return drop('rate', 'datagram dropped: over beamUdpPacketsPerSecondPerSource');
    if (inFlight >= o.maxInFlight)
      return drop('busy', 'datagram dropped: beamUdpMaxInFlight datagrams in flight');
    inFlight++;
    const reply = (bytes: Buffer) => {
      if (!closing) socket.send(bytes.subarray(0, maxDatagram), rinfo.port, rinfo.address);
    };
    const p = (async () => {
      let owner: SessionOwner;
      try {
        owner = await ownerOf(source);
      } catch (e) {
        // No answer to a stranger: UDP sources can be spoofed.
        refusedBeforeOwner('udp', source, e as FunkRefusal);
        return;
      }
      try {
        const skip = funkSkipsStatus(owner);
        const { answer, cfg } = await invoke(owner, 'udp', msg, maxDatagram - (skip ? 0 : 4));
        reply(funkDeviceAnswer(answer.status, answer.body, cfg.skipStatusCode));
      } catch (e) {
        reply(failureBytes(e as FunkRefusal));
      }
    })()
      .catch((e: unknown) => logger.error({ err: e, peer: source }, 'funk udp: datagram failed'))
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
    return undefined;
  }

  return {
    stats,
    listenHttp: (host, port) =>
      listen(httpServer, host, port, async () => {
        await new Promise<void>((r) => {
          httpServer.close(() => r());
          httpServer.closeAllConnections();
        });
      }),
    listenTcp: (host, port) =>
      listen(tcpServer, host, port, async () => {
        const closed = new Promise<void>((r) => tcpServer.close(() => r()));
        for (const s of tcpSockets) s.destroy();
        await closed;
      }),
    bindUdp: (host, port) =>
      new Promise((ok, fail) => {
        const socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
        socket.on('message', (msg, rinfo) => onDatagram(socket, msg, rinfo));
        socket.once('error', fail);
        socket.bind(port, host, () => {
          socket.off('error', fail);
          socket.on('error', (e) => logger.error({ err: e }, 'funk udp: socket error'));
          logger.info({ host, port: socket.address().port }, 'funk: UDP entry point listening');
          closers.push(async () => {
            closing = true;
            await Promise.allSettled([...pending]);
            await new Promise<void>((r) => socket.close(() => r()));
          });
          ok({ host, port: socket.address().port });
        });
      }),
    async close() {
      for (const c of closers.splice(0).reverse()) await c();
      await upstream.close();
    },
  };

  function listen(server: http.Server | TcpServer, host: string, port: number, closer: () => Promise<void>) {
    return new Promise<FunkAddress>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, host, () => {
        server.off('error', fail);
        closers.push(closer);
        const a = server.address();
        const bound = { host, port: typeof a === 'object' && a ? a.port : port };
        logger.info(bound, `funk: ${server instanceof http.Server ? 'HTTP' : 'TCP'} entry point listening`);
        ok(bound);
      });
    });
  }
}

/** Whether the group's Funk answers skip the status (for the room an answer has in a datagram). */
function funkSkipsStatus(owner: SessionOwner): boolean {
  try {
    return funkConfig(owner.configuration).skipStatusCode;
  } catch {
    return false;
  }
}
