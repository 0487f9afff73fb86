// The world of the Funnel tests: the token tests' world (platform, operator, RADIUS, SIMs on software
// cards attaching from 127.64.x session addresses), Funnel's HTTP, TCP and UDP entry points on real
// sockets (loopback, ports 0), loopback brokers allowed by the destination policy, and everything
// Funnel logged kept in `logs` so tests can look for secrets in them.

import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Config } from '../../../src/config/defaults.js';
import { destinationPolicy } from '../../../src/platform/beam/destination-policy.js';
import { FUNNEL_NAMESPACE } from '../../../src/platform/beam/funnel-config.js';
import { outboundPolicy } from '../../../src/platform/events/outbound-policy.js';
import type { FunnelAdapter } from '../../../src/servers/beam/funnel/adapter.js';
import { type RunningFunnel, startFunnel } from '../../../src/servers/beam/funnel/start.js';
import {
  attach,
  type CardSim,
  createCardSim,
  type DeviceSession,
  type EndorseWorld,
  type HttpAnswer,
  startEndorseWorld,
} from '../../e2e/endorse-fixture.js';

export interface FunnelWorld extends EndorseWorld {
  readonly funnel: RunningFunnel;
  readonly httpUrl: string;
  readonly tcpPort: number;
  readonly udpPort: number;
  /** Everything Funnel logged (JSON lines). */
  readonly logs: string[];
  readonly metrics: Registry;
}

export async function startFunnelWorld(
  options: {
    config?: Partial<Config>;
    adapters?: Readonly<Record<'amqp' | 'nats' | 'mqtt', FunnelAdapter>>;
    /** CA certificates (PEM) trusted for brokers besides the system's (beamDestinationCaFile). */
    extraCa?: string;
  } = {},
): Promise<FunnelWorld> {
  const world = await startEndorseWorld({
    config: {
      beamHost: '127.0.0.1',
      funnelHttpPort: 0,
      funnelTcpPort: 0,
      funnelUdpPort: 0,
      funnelPublishTimeoutSeconds: 5,
      funnelConnectTimeoutSeconds: 3,
      ...options.config,
    },
  });
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const metrics = new Registry();
  // The brokers of the tests run on loopback: allowed here, as beamAllowedDestinationNetworks would.
  const policy = destinationPolicy(outboundPolicy({ allowed: '127.0.0.0/8' }));
  const funnel = await startFunnel({
    config: world.platform.config,
    store: world.platform.store,
    credentials: world.platform.credentials,
    usage: world.platform.beamUsage,
    policy,
    extraCa: options.extraCa,
    logger,
    metrics,
    ...(options.adapters ? { adapters: options.adapters } : {}),
  });
  const { http, tcp, udp } = funnel.addresses;
  if (!http || !tcp || !udp) throw new Error('Funnel entry points did not start');
  return {
    ...world,
    funnel,
    httpUrl: `http://127.0.0.1:${http.port}`,
    tcpPort: tcp.port,
    udpPort: udp.port,
    logs,
    metrics,
    async close() {
      await funnel.close();
      await world.close();
    },
  };
}

/** A group whose SoracomFunnel namespace is `config`, written through the group API's validator. */
export async function createFunnelGroup(
  world: EndorseWorld,
  config: Record<string, unknown>,
): Promise<string> {
  const group = await world.platform.groups.create(world.ctx(), { tags: { name: 'funnel' } });
  await world.platform.groups.putConfiguration(
    world.ctx(),
    group.groupId,
    FUNNEL_NAMESPACE,
    Object.entries(config).map(([key, value]) => ({ key, value })),
  );
  return group.groupId;
}

export async function createCredential(
  world: EndorseWorld,
  type: string,
  credentials: Record<string, string>,
  id = `funnel-${randomBytes(4).toString('hex')}`,
): Promise<string> {
  await world.platform.credentials.create(world.ctx('Credential:createCredential'), id, {
    type,
    credentials,
  });
  return id;
}

export interface FunnelDevice {
  readonly sim: CardSim;
  readonly groupId: string;
  readonly session: DeviceSession;
  readonly address: string;
}

/** A SIM in a new group with `config`, attached over RADIUS: its session address. */
export async function funnelDevice(
  world: EndorseWorld,
  config: Record<string, unknown>,
  imei = '356938035643809',
): Promise<FunnelDevice> {
  const groupId = await createFunnelGroup(world, config);
  const sim = await createCardSim(world, { groupId });
  const session = await attach(world, sim, imei);
  return { sim, groupId, session, address: session.address };
}

/** POST `body` (bytes as given) to Funnel's HTTP entry point from `from`. */
export function postFrom(
  world: FunnelWorld,
  from: string,
  body: string | Buffer,
  contentType = 'application/json',
): Promise<HttpAnswer> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${world.httpUrl}/`,
      {
        method: 'POST',
        localAddress: from,
        headers: { 'content-type': contentType, 'content-length': String(bytes.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text,
            json: <T>() => JSON.parse(text) as T,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}

/**
 * Opens a TCP connection from `from` and sends each message after the previous answer. Resolves with
 * the answers and whether the platform closed the connection: when it closes before every message
 * was answered, or — with `awaitClose` — after the last answer (waited for until `timeoutMs`).
 * Otherwise the test closes it after the last answer.
 */
export function tcpExchange(
  world: FunnelWorld,
  from: string,
  messages: ReadonlyArray<string | Buffer>,
  options: { awaitClose?: boolean; timeoutMs?: number } = {},
): Promise<{ answers: string[]; closedByPeer: boolean }> {
  return new Promise((resolve, reject) => {
    const answers: string[] = [];
    const socket = connect({ host: '127.0.0.1', port: world.tcpPort, localAddress: from });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TCP exchange not finished in time (answers so far: ${JSON.stringify(answers)})`));
    }, options.timeoutMs ?? 10_000);
    let next = 0;
    let finished = false;
    const finish = (closedByPeer: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve({ answers, closedByPeer });
    };
    const sendNext = () => {
      const m = messages[next++];
      if (m !== undefined) {
        socket.write(m);
        return;
      }
      if (options.awaitClose) return; // 'end' finishes it
      socket.end();
      finish(false);
    };
    socket.on('connect', sendNext);
    socket.on('data', (d: Buffer) => {
      answers.push(d.toString());
      sendNext();
    });
    socket.on('end', () => finish(true));
    socket.on('error', (e) => {
      if (finished) return;
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Sends one datagram from `from`; resolves with the answer, or undefined after `waitMs` of silence. */
export function udpExchange(
  world: FunnelWorld,
  from: string,
  message: string | Buffer,
  waitMs = 5_000,
): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      socket.close();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), waitMs);
    socket.on('message', (m) => done(m.toString()));
    socket.on('error', (e) => {
      clearTimeout(timer);
      socket.close();
      reject(e);
    });
    socket.bind({ address: from, port: 0 }, () => socket.send(message, world.udpPort, '127.0.0.1'));
  });
}
