// Beam's TCP entry point, TCP → TCP/TCPS (SORACOM: users.soracom.io/ja-jp/docs/beam/tcp-tcp,
// `tcp://beam.soracom.io:8023`). A device on its SIM data session opens a plain TCP connection and
// sends no credential; the platform knows the SIM from the source address (the session table, as
// the token listener does), connects to the group's `tcps://host:port` destination over TLS (or
// `tcp://` when the group asks for it), sends the identity line first — `imei=… imsi=… msisdn=…
// simId=… timestamp=…` with `;signature=… version=20150901` when a pre-shared key is set
// (platform/beam/tcp-identity.ts) — and then relays bytes both ways until either side closes.
//
//   connection → limits (per source, in all) → read nothing yet (paused)
//              → SIM of the source address (online session, same tenant, active)
//              → the group's tcp entry with a tcp/tcps destination → policy (no private addresses)
//              → credentials (psk, client certificate) → connect → identity line → relay
//
// Nothing the device sends is read before the upstream connection is up and the identity line is
// written, so the destination always sees Beam's line first and a device cannot put a line of its
// own before it. A refused device is disconnected without an answer (a TCP stream has no place for
// one the device would understand); the refusal is logged (once a minute per source), counted in
// simtrust_beam_tcp_connections_total and, when the SIM is known, in its Beam usage.
//
// A group whose tcp entry has an http(s):// destination instead (SORACOM's TCP → HTTP/HTTPS form,
// `tcp://beam.soracom.io:23080`) is served by the same listener: each piece of data read becomes one
// POST {"payload": base64} with the HTTP entry point's identity headers, answered on the connection
// as "<status> <body>" (serveSegments, segment-forward.ts).
//
// Limits: beamTcpMaxConnectionsPerSource and beamTcpMaxConnections connections; a connection with
// no byte either way for beamTcpIdleTimeoutSeconds is closed; the destination must accept within
// beamHttpTimeoutSeconds. Half-closes pass through (a device may send, shut down its side and
// still read the answer).

import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { type ConnectionOptions, rootCertificates, connect as tlsConnect } from 'node:tls';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { SETTINGS } from '../../config/defaults.js';
import { type ErrorCode, isSimtrustError } from '../../lib/errors.js';
import {
  BEAM_NAMESPACE,
  type BeamEntry,
  beamConfig,
  type CredentialsRef,
} from '../../platform/beam/beam-config.js';
import type { DestinationPolicy } from '../../platform/beam/destination-policy.js';
import { type SessionOwner, sessionOwner } from '../../platform/beam/session-owner.js';
import { tcpIdentityLine } from '../../platform/beam/tcp-identity.js';
import type { BeamUsageEvent } from '../../platform/beam/usage.js';
import type { Platform } from '../../platform/platform.js';
import { ConnectionSlots, plainSourceAddress, RefusalLog } from './device-limits.js';
import { ForwardRefusal, segmentForwarder } from './segment-forward.js';
import { UpstreamHttp } from './upstream-http.js';

export interface BeamTcpEntryOptions {
  readonly platform: Pick<Platform, 'store' | 'clock' | 'credentials' | 'beamUsage'>;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  readonly metrics?: Registry | undefined;
  readonly policy: DestinationPolicy;
  /** Extra CA certificates (PEM) trusted for destinations besides the system's. */
  readonly extraCa?: string | undefined;
  readonly maxConnections: number;
  readonly maxConnectionsPerSource: number;
  readonly idleTimeoutMs: number;
  /** Time the destination gets to accept the connection (TCP and TLS handshake); TCP → HTTP: to answer. */
  readonly connectTimeoutMs: number;
  /** TCP → HTTP(S): kept-alive connections per destination (default: beamHttpConnectionsPerDestination's). */
  readonly connectionsPerDestination?: number;
}

export interface BeamTcpEntry {
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Connections relayed or being set up now. */
  readonly connections: number;
  close(): Promise<void>;
}

/** Why a connection was not relayed: a code of the error catalogue and a message without secrets. */
class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** refused: our policy said no; failed: the destination could not be reached. */
    readonly outcome: 'refused' | 'failed' = 'refused',
  ) {
    super(message);
  }
}

/** The largest answer body TCP → HTTP(S) passes back for one piece of data (SORACOM's per-message bound). */
export const SEGMENT_ANSWER_MAX_BYTES = 65_536;

/** The group's entry this listener relays: the first enabled tcp entry to tcp/tcps. */
export function tcpRelayEntry(entries: readonly BeamEntry[]): BeamEntry | undefined {
  return entries.find((e) => e.destination.protocol === 'tcps:' || e.destination.protocol === 'tcp:');
}

export function createBeamTcpEntry(o: BeamTcpEntryOptions): BeamTcpEntry {
  const { platform, logger, policy } = o;
  const slots = new ConnectionSlots(o.maxConnectionsPerSource, o.maxConnections);
  const sockets = new Set<Socket>();
  const refusalLog = new RefusalLog();
  const counter = new Counter({
    name: 'simtrust_beam_tcp_connections_total',
    help: "Connections to Beam's TCP entry point by outcome (delivered: relayed; refused before connecting upstream; failed: the destination could not be reached) and code",
    labelNames: ['outcome', 'code'] as const,
    registers: o.metrics ? [o.metrics] : [],
  });
  const baseCa = o.extraCa ? [...rootCertificates, o.extraCa] : undefined;
  const upstreamHttp = new UpstreamHttp({
    policy,
    extraCa: o.extraCa,
    timeoutMs: o.connectTimeoutMs,
    connectionsPerOrigin: o.connectionsPerDestination ?? SETTINGS.beamHttpConnectionsPerDestination.default,
  });
  const forwarder = segmentForwarder(platform, upstreamHttp, 'tcp');

  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    const source = plainSourceAddress(socket.remoteAddress);
    const full = slots.admit(source);
    if (full !== undefined) {
      counter.inc({ outcome: 'refused', code: full === 'capacity' ? 'capacity' : 'per_source' });
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      slots.release(source);
      sockets.delete(socket);
    });
    socket.on('error', () => undefined); // reported through 'close'
    relay(socket, source).catch((e: unknown) => {
      logger.error({ err: e, peer: source }, 'beam tcp: connection failed');
      socket.destroy();
    });
  });
  server.on('error', (e) => logger.error({ err: e }, 'beam tcp: listener error'));

  const resolve = async (owner: SessionOwner, ref: CredentialsRef, type: string) => {
    let c: Awaited<ReturnType<typeof platform.credentials.resolve>>;
    try {
      c = await platform.credentials.resolve(owner.operatorId, ref.credentialsId, owner);
    } catch (e) {
      const why = isSimtrustError(e) ? e.message : 'it could not be read';
      throw new Refusal(
        'ERR_BEAM_CREDENTIALS',
        `credential set ${ref.credentialsId} of the SoracomBeam tcp entry: ${why}`,
      );
    }
    if (c.type !== type) {
      throw new Refusal('ERR_BEAM_CREDENTIALS', `credential set ${ref.credentialsId} is not of type ${type}`);
    }
    return c as Record<string, unknown>;
  };

  function refused(socket: Socket, source: string, code: string, detail: string): void {
    counter.inc({ outcome: 'refused', code });
    socket.destroy();
    const quiet = refusalLog.shouldLog(source);
    if (quiet !== undefined) {
      logger.info(
        { peer: source, code, ...(quiet > 0 ? { alsoRefusedSinceLastLog: quiet } : {}) },
        `beam tcp: refused: ${detail}`,
      );
    }
  }

  async function relay(socket: Socket, source: string): Promise<void> {
    const owner = await sessionOwner(platform.store, source, BEAM_NAMESPACE);
    if (socket.destroyed) return;
    if (owner === undefined)
      return refused(socket, source, 'ERR_BEAM_NO_SESSION', `no online session owns ${source}`);
    if (owner.status !== 'active') {
      return refused(socket, source, 'ERR_BEAM_SIM_NOT_ACTIVE', `the SIM is ${owner.status}, not active`);
    }
    const entries = beamConfig(owner.configuration).tcp;
    const entry = tcpRelayEntry(entries);
    if (entry === undefined) {
      const toHttp = entries.find(
        (e) => e.destination.protocol === 'https:' || e.destination.protocol === 'http:',
      );
      if (toHttp !== undefined) return serveSegments(socket, owner, toHttp);
    }
    let bytesUp = 0;
    let bytesDown = 0;
    const record = (outcome: BeamUsageEvent['outcome'], error?: string) =>
      platform.beamUsage.record({
        service: 'beam',
        entryPoint: 'tcp',
        operatorId: owner.operatorId,
        simId: owner.simId,
        imsi: owner.imsi,
        bytesUp,
        bytesDown,
        outcome,
        ...(entry ? { destination: entry.destination.protocol === 'tcps:' ? 'tcps' : 'tcp' } : {}),
        ...(error ? { error } : {}),
      });

    let upstream: Socket;
    try {
      if (entry === undefined) {
        throw new Refusal('ERR_BEAM_NOT_CONFIGURED', "the SIM's group has no enabled SoracomBeam tcp entry");
      }
      upstream = await connectUpstream(socket, owner, entry);
    } catch (e) {
      const r =
        e instanceof Refusal
          ? e
          : isSimtrustError(e) && e.code === 'ERR_BEAM_DESTINATION_REFUSED'
            ? new Refusal(e.code, e.message)
            : upstreamFailure(e);
      counter.inc({ outcome: r.outcome, code: r.code });
      record(r.outcome, r.code);
      socket.destroy();
      logger.warn(
        {
          simId: owner.simId,
          ...(entry ? { entry: entry.key, destination: entry.destination.host } : {}),
          code: r.code,
          reason: r.message,
        },
        'beam tcp: not relayed',
      );
      return;
    }

    // Relay. Each side's idle timer sees traffic in both directions (reads on one side are writes
    // on the other), so either firing means the connection has been silent for the whole period.
    const idle = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.setTimeout(o.idleTimeoutMs, idle);
    upstream.setTimeout(o.idleTimeoutMs, idle);
    socket.on('data', (chunk: Buffer) => {
      bytesUp += chunk.length;
    });
    upstream.on('data', (chunk: Buffer) => {
      bytesDown += chunk.length;
    });
    upstream.once('close', (hadError) => {
      if (hadError || socket.destroyed) {
        socket.destroy();
        return;
      }
      // The destination is done: pass its close on; what the device still sends goes nowhere.
      socket.unpipe(upstream);
      socket.end();
      socket.resume();
    });
    socket.once('close', () => upstream.destroy());
    socket.pipe(upstream);
    upstream.pipe(socket);
    socket.resume();
    counter.inc({ outcome: 'delivered', code: '' });
    await new Promise<void>((done) => socket.once('close', () => done()));
    record('delivered');
  }

  /**
   * TCP → HTTP(S) (SORACOM's `:23080` form): each piece of data read is one POST
   * {"payload": base64} (segment-forward.ts), answered on the connection as "<status> <body>" (or the
   * body alone with skipStatusCode) before the next piece is read; no end-of-data bytes are added
   * (SORACOM's platform version 202411). The device's half-close is answered, then ours follows.
   */
  async function serveSegments(socket: Socket, owner: SessionOwner, entry: BeamEntry): Promise<void> {
    counter.inc({ outcome: 'delivered', code: '' });
    socket.setTimeout(o.idleTimeoutMs, () => socket.destroy());
    let busy = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      socket.pause();
      busy = busy.then(async () => {
        let answer: Buffer;
        let outcome: BeamUsageEvent['outcome'] = 'delivered';
        let error: string | undefined;
        try {
          answer = await forwarder.forward(owner, entry, chunk, SEGMENT_ANSWER_MAX_BYTES);
        } catch (e) {
          const r =
            e instanceof ForwardRefusal
              ? e
              : new ForwardRefusal(
                  'ERR_BEAM_DESTINATION_FAILED',
                  'the data could not be forwarded',
                  'failed',
                );
          answer = r.toBytes();
          outcome = r.outcome;
          error = r.code;
          logger.warn(
            {
              simId: owner.simId,
              entry: entry.key,
              destination: entry.destination.origin,
              code: r.code,
              reason: r.message,
            },
            'beam tcp: segment not delivered',
          );
        }
        platform.beamUsage.record({
          service: 'beam',
          entryPoint: 'tcp',
          operatorId: owner.operatorId,
          simId: owner.simId,
          imsi: owner.imsi,
          bytesUp: chunk.length,
          bytesDown: answer.length,
          outcome,
          destination: entry.destination.protocol === 'https:' ? 'https' : 'http',
          ...(error ? { error } : {}),
        });
        if (!socket.destroyed) {
          socket.write(answer);
          socket.resume();
        }
      });
    });
    socket.once('end', () => {
      void busy.then(() => {
        if (!socket.destroyed) socket.end();
      });
    });
    socket.resume();
    await new Promise<void>((done) => socket.once('close', () => done()));
  }

  async function connectUpstream(socket: Socket, owner: SessionOwner, entry: BeamEntry): Promise<Socket> {
    const dest = entry.destination;
    const host = dest.hostname.replace(/^\[|\]$/g, '');
    const port = Number(dest.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Refusal(
        'ERR_BEAM_NOT_CONFIGURED',
        `the tcp entry's destination ${dest.protocol}//${dest.host} has no port`,
      );
    }
    const hostRefusal = policy.refusalFor(host);
    if (hostRefusal !== undefined) {
      throw new Refusal(
        'ERR_BEAM_DESTINATION_REFUSED',
        `the destination ${host} is refused: ${hostRefusal}; allow its network in beamAllowedDestinationNetworks if intended`,
      );
    }
    const [psk, cert] = await Promise.all([
      entry.addSignature && entry.psk ? resolve(owner, entry.psk, 'psk') : undefined,
      entry.clientCert && dest.protocol === 'tcps:' ? resolve(owner, entry.clientCert, 'x509') : undefined,
    ]);
    if (psk !== undefined && typeof psk.key !== 'string') {
      throw new Refusal('ERR_BEAM_CREDENTIALS', `credential set ${entry.psk?.credentialsId} has no key`);
    }
    let line: string | undefined;
    try {
      line = tcpIdentityLine(
        owner,
        {
          imei: entry.addEquipmentHeader,
          imsi: entry.addSubscriberHeader,
          msisdn: entry.addMsisdnHeader,
          simId: entry.addSimIdHeader,
        },
        platform.clock.now(),
        psk?.key as string | undefined,
      );
    } catch (e) {
      throw new Refusal(
        'ERR_BEAM_NOT_CONFIGURED',
        `the identity line cannot be written: ${(e as Error).message}`,
      );
    }
    if (socket.destroyed)
      throw new Refusal('ERR_BEAM_DESTINATION_FAILED', 'the device closed the connection first', 'failed');

    const upstream: Socket =
      dest.protocol === 'tcps:'
        ? tlsConnect({
            // allowHalfOpen reaches the TLSSocket's net.Socket (Node's types omit it; checked by test).
            ...({ allowHalfOpen: true } as ConnectionOptions),
            host,
            port,
            lookup: policy.lookup,
            minVersion: 'TLSv1.2',
            ...(host.includes(':') || /^\d+\.\d+\.\d+\.\d+$/.test(host) ? {} : { servername: host }),
            ...(cert?.ca !== undefined
              ? { ca: [...(baseCa ?? rootCertificates), String(cert.ca)] }
              : baseCa
                ? { ca: baseCa }
                : {}),
            ...(cert ? { cert: String(cert.cert), key: String(cert.key) } : {}),
          })
        : netConnect({ host, port, allowHalfOpen: true, lookup: policy.lookup });
    upstream.on('error', () => undefined); // reported through 'close' or the connect promise
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => {
        cleanup();
        upstream.destroy();
        fail(
          new Refusal(
            'ERR_BEAM_DESTINATION_TIMEOUT',
            'the destination did not accept the connection in time',
            'failed',
          ),
        );
      }, o.connectTimeoutMs);
      const connected = () => {
        cleanup();
        ok();
      };
      const failed = (e: Error) => {
        cleanup();
        upstream.destroy();
        fail(e);
      };
      const deviceGone = () => {
        cleanup();
        upstream.destroy();
        fail(new Refusal('ERR_BEAM_DESTINATION_FAILED', 'the device closed the connection first', 'failed'));
      };
      const cleanup = () => {
        clearTimeout(timer);
        upstream.off(dest.protocol === 'tcps:' ? 'secureConnect' : 'connect', connected);
        upstream.off('error', failed);
        socket.off('close', deviceGone);
      };
      upstream.once(dest.protocol === 'tcps:' ? 'secureConnect' : 'connect', connected);
      upstream.once('error', failed);
      socket.once('close', deviceGone);
    });
    upstream.setNoDelay(true);
    if (line !== undefined) upstream.write(line);
    return upstream;
  }

  return {
    get connections() {
      return slots.connections;
    },
    listen: (host, port) =>
      new Promise((ok, fail) => {
        server.once('error', fail);
        server.listen(port, host, () => {
          server.off('error', fail);
          const a = server.address();
          const bound = { host, port: typeof a === 'object' && a ? a.port : port };
          logger.info(bound, 'beam tcp: TCP → TCP/TCPS entry point listening');
          ok(bound);
        });
      }),
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
      await upstreamHttp.close();
    },
  };
}

/** A connect failure as the code the device's usage shows (DNS, refused, TLS, policy via lookup). */
function upstreamFailure(e: unknown): Refusal {
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    if (cur instanceof Refusal) return cur;
    if (isSimtrustError(cur) && cur.code === 'ERR_BEAM_DESTINATION_REFUSED')
      return new Refusal(cur.code, cur.message);
    cur = (cur as { cause?: unknown }).cause;
  }
  const code = (e as { code?: unknown }).code;
  return new Refusal(
    'ERR_BEAM_DESTINATION_FAILED',
    `the destination could not be reached${typeof code === 'string' ? ` (${code})` : ''}`,
    'failed',
  );
}
