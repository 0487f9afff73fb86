// The world of the Beam HTTP tests: the token tests' world (platform, operator, RADIUS, SIMs on
// software cards attaching from 127.64.x session addresses), Beam's HTTP entry point on a real
// socket, and a Node HTTPS destination that requires a client certificate (mutual TLS) and records
// what reaches it. The entry point logs into `logs` so tests can look for secrets in them.

import { randomBytes } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import pino from 'pino';
import { Registry } from 'prom-client';
import { destinationPolicy } from '../../../src/platform/beam/destination-policy.js';
import { outboundPolicy } from '../../../src/platform/events/outbound-policy.js';
import { type BeamHttpEntry, createBeamHttpEntry } from '../../../src/servers/beam/http-entry.js';
import { type EndorseWorld, startEndorseWorld } from '../../e2e/endorse-fixture.js';
import { issueTlsIdentity, type TlsIdentity } from '../esim/tls-fixtures.js';

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly rawHeaders: string[];
  readonly body: Buffer;
  /** CN of the client certificate the destination saw, or undefined. */
  readonly clientCn: string | undefined;
}

export interface Destination {
  readonly url: string;
  readonly received: Received[];
  /** How the destination answers (default: 200 "ok"). */
  respond: (req: Received, res: import('node:http').ServerResponse) => void;
  close(): Promise<void>;
}

export interface BeamWorld extends EndorseWorld {
  readonly beam: BeamHttpEntry;
  /** http://127.0.0.1:PORT of the entry point (reachable from any 127.x source). */
  readonly beamUrl: string;
  /** The destination's TLS identity (trusted by the entry point) and a client identity it accepts. */
  readonly serverTls: TlsIdentity;
  readonly clientTls: TlsIdentity;
  /** An HTTPS destination that requires `clientTls`. */
  readonly mtls: Destination;
  /** An HTTPS destination that asks for no client certificate. */
  readonly plain: Destination;
  /** Everything the entry point logged (JSON lines). */
  readonly logs: string[];
  readonly metrics: Registry;
}

async function startDestination(serverTls: TlsIdentity, clientCa: string | undefined): Promise<Destination> {
  const received: Received[] = [];
  const dest: Destination = {
    url: '',
    received,
    respond: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    },
    close: async () => undefined,
  };
  const server = https.createServer(
    {
      key: serverTls.keyPem,
      cert: serverTls.certificatePem,
      ...(clientCa ? { requestCert: true, rejectUnauthorized: true, ca: [clientCa] } : {}),
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const r: Received = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          rawHeaders: req.rawHeaders,
          body: Buffer.concat(chunks),
          clientCn: peer && typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined,
        };
        received.push(r);
        dest.respond(r, res);
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  Object.assign(dest, {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
  return dest;
}

export async function startBeamWorld(
  options: { timeoutMs?: number; bodyLimitBytes?: number; maxConnectionsPerSource?: number } = {},
): Promise<BeamWorld> {
  const world = await startEndorseWorld();
  const [serverTls, clientTls] = await Promise.all([
    issueTlsIdentity('beam-destination'),
    issueTlsIdentity('beam-device-client'),
  ]);
  const mtls = await startDestination(serverTls, clientTls.certificatePem);
  const plain = await startDestination(serverTls, undefined);
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(line) });
  const metrics = new Registry();
  const beam = createBeamHttpEntry({
    platform: world.platform,
    logger,
    metrics,
    // The destinations run on loopback, which the deployment has to allow explicitly.
    policy: destinationPolicy(outboundPolicy({ allowed: '127.0.0.0/8' })),
    extraCa: serverTls.certificatePem,
    maxConnections: 1000,
    maxConnectionsPerSource: options.maxConnectionsPerSource ?? 32,
    idleTimeoutMs: 10_000,
    bodyLimitBytes: options.bodyLimitBytes ?? 1_048_576,
    timeoutMs: options.timeoutMs ?? 5_000,
    connectionsPerDestination: 8,
  });
  const { port } = await beam.listen('127.0.0.1', 0);
  return {
    ...world,
    beam,
    beamUrl: `http://127.0.0.1:${port}`,
    serverTls,
    clientTls,
    mtls,
    plain,
    logs,
    metrics,
    async close() {
      await beam.close();
      await mtls.close();
      await plain.close();
      await world.close();
    },
  };
}

/** A group whose `SoracomBeam` namespace is `config`. */
export async function createBeamGroup(world: BeamWorld, config: Record<string, unknown>): Promise<string> {
  const group = await world.platform.groups.create(world.ctx(), { tags: { name: 'beam' } });
  await world.platform.groups.putConfiguration(
    world.ctx(),
    group.groupId,
    'SoracomBeam',
    Object.entries(config).map(([key, value]) => ({ key, value })),
  );
  return group.groupId;
}

/** A credential set of the world's operator. */
export async function createCredential(
  world: BeamWorld,
  type: string,
  credentials: Record<string, string>,
  id = `beam-${randomBytes(4).toString('hex')}`,
): Promise<string> {
  await world.platform.credentials.create(world.ctx('Credential:createCredential'), id, {
    type,
    credentials,
  });
  return id;
}
