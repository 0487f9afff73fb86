// The world of the TCP/UDP entry point tests (Beam TCP → TCPS, UDP → HTTPS, Funk): the platform
// with an operator and its RADIUS server (devices attach the real way and get a 127.64.x.y session
// address), destinations on loopback with a certificate for 127.0.0.1, and devices that connect or
// send from their session address.

import { randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import pino from 'pino';
import { type DestinationPolicy, destinationPolicy } from '../../../src/platform/beam/destination-policy.js';
import { outboundPolicy } from '../../../src/platform/events/outbound-policy.js';
import type { Store } from '../../../src/platform/store/database.js';
import { issueTlsIdentity, type TlsIdentity } from '../esim/tls-fixtures.js';

/** A policy that lets destinations on 127.0.0.1 through (and refuses the rest of loopback). */
export const loopbackPolicy = (): DestinationPolicy =>
  destinationPolicy(outboundPolicy({ allowed: '127.0.0.1/32' }));

/** The deployment default: loopback refused. */
export const defaultPolicy = (): DestinationPolicy => destinationPolicy(outboundPolicy({}));

/** Waits for `test()` to hold, checking on every `emitter` event, failing after `ms`. */
export async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  if (check()) return;
  const deadline = Date.now() + ms;
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (check()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() > deadline) {
        clearInterval(timer);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 5);
  });
}

export interface TlsConnection {
  /** Every byte received, in order. */
  received: Buffer;
  ended: boolean;
  readonly socket: Socket;
}

/**
 * A TLS destination on 127.0.0.1: it records what each connection sends, answers the first line
 * with `hello <line>\n`, echoes every later byte, and on the client's half-close writes `bye\n`
 * and closes (so a device can read after shutting its side).
 */
export async function startTlsDestination(): Promise<{
  readonly port: number;
  readonly identity: TlsIdentity;
  readonly connections: TlsConnection[];
  readonly server: TlsServer;
  close(): Promise<void>;
}> {
  const identity = await issueTlsIdentity('beam tcp destination');
  const connections: TlsConnection[] = [];
  const server = createTlsServer(
    { key: identity.keyPem, cert: identity.certificatePem, allowHalfOpen: true },
    (socket) => {
      const c: TlsConnection = { received: Buffer.alloc(0), ended: false, socket };
      connections.push(c);
      let greeted = false;
      socket.on('data', (d: Buffer) => {
        c.received = Buffer.concat([c.received, d]);
        if (!greeted) {
          const nl = c.received.indexOf(0x0a);
          if (nl < 0) return;
          greeted = true;
          socket.write(Buffer.concat([Buffer.from('hello '), c.received.subarray(0, nl + 1)]));
          if (c.received.length > nl + 1) socket.write(c.received.subarray(nl + 1));
          return;
        }
        socket.write(d);
      });
      socket.on('end', () => {
        c.ended = true;
        socket.end('bye\n');
      });
      socket.on('error', () => undefined);
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    identity,
    connections,
    server,
    async close() {
      for (const c of connections) c.socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/**
 * An HTTPS destination on 127.0.0.1 that records each request and answers with `answer(request)`
 * (default 200 and the JSON body back).
 */
export async function startHttpsDestination(
  answer: (r: RecordedRequest) => {
    status: number;
    body: Buffer | string;
    headers?: Record<string, string>;
  } = (r) => ({ status: 200, body: r.body }),
  given?: TlsIdentity,
): Promise<{
  readonly url: string;
  readonly identity: TlsIdentity;
  readonly requests: RecordedRequest[];
  readonly server: HttpsServer;
  close(): Promise<void>;
}> {
  const identity = given ?? (await issueTlsIdentity('beam https destination'));
  const requests: RecordedRequest[] = [];
  const server = createHttpsServer({ key: identity.keyPem, cert: identity.certificatePem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const r: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(r);
      const a = answer(r);
      res.writeHead(a.status, a.headers ?? {});
      res.end(a.body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `https://127.0.0.1:${port}`,
    identity,
    requests,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** What a device read on a TCP connection, and how the connection ended. */
export interface TcpExchange {
  readonly received: Buffer;
  /** true when the entry point closed without ever sending a byte. */
  readonly closedEmpty: boolean;
}

/**
 * A device on `localAddress` connects to the entry point, writes `send`, half-closes and reads
 * until the connection closes (or `ms` pass).
 */
export async function tcpExchange(
  localAddress: string,
  port: number,
  send: Uint8Array,
  options: { halfClose?: boolean; ms?: number } = {},
): Promise<TcpExchange> {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the TCP exchange did not end in time'));
    }, options.ms ?? 10_000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect', () => {
      if (send.length > 0) socket.write(send);
      if (options.halfClose ?? true) socket.end();
    });
  });
  const received = Buffer.concat(chunks);
  return { received, closedEmpty: received.length === 0 };
}

/** A device on `localAddress` sends one datagram to `port` and waits up to `ms` for one answer. */
export async function udpExchange(
  localAddress: string,
  port: number,
  datagram: Uint8Array,
  ms = 5_000,
): Promise<Buffer | undefined> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, localAddress, () => r()));
  try {
    return await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      socket.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      socket.send(datagram, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

/**
 * An online session for `sim` at `address` written straight into the session table (as the AAA
 * writes it at Accounting-Start) — for a tenant whose packet gateway the test world has not
 * registered.
 */
export async function insertSession(
  store: Store,
  sim: { simId: string; imsi: string },
  operatorId: string,
  address: string,
): Promise<void> {
  const now = Date.now();
  await store.db
    .insertInto('sim_sessions')
    .values({
      session_id: randomUUID(),
      operator_id: operatorId,
      sim_id: sim.simId,
      imsi: sim.imsi,
      imei: null,
      ue_ip: address,
      apn: 'simtrust.test',
      nas_address: '127.0.0.1',
      acct_session_id: randomUUID(),
      cell: null,
      status: 'online',
      speed_class: 's1.standard',
      input_octets: 0,
      output_octets: 0,
      input_packets: 0,
      output_packets: 0,
      created_at: now,
      updated_at: now,
      ended_at: null,
      terminate_cause: null,
    })
    .execute();
}

/** A pino logger at debug level whose lines land in `lines` (to look for secrets in them). */
export function capturingLogger(lines: string[]): pino.Logger {
  return pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
}
