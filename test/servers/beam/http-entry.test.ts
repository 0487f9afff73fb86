// Beam's HTTP entry point end to end: simulated devices attach over RADIUS and get their session
// address (127.64.x), send plain HTTP from it to the entry point, which forwards to a Node HTTPS
// server that requires a client certificate. Threats covered: a device forging the identity Beam
// vouches for; a device without a session, with a suspended SIM, or behind another operator's
// session address getting anything through; credentials leaking into device-visible answers or
// logs; a destination that hangs or refuses; a group pointing Beam at the platform's own network.

import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destinationPolicy } from '../../../src/platform/beam/destination-policy.js';
import { outboundPolicy } from '../../../src/platform/events/outbound-policy.js';
import { createBeamHttpEntry } from '../../../src/servers/beam/http-entry.js';
import { addOperator, attach, createCardSim, httpFrom } from '../../e2e/endorse-fixture.js';
import {
  type BeamWorld,
  createBeamGroup,
  createCredential,
  type Received,
  startBeamWorld,
} from './beam-http-fixture.js';

let world: BeamWorld;
const PSK = 'beam-psk-7f3a9c1e-do-not-leak';
const TOKEN = 'api-token-5d2e8b-do-not-leak';
let pskId: string;
let tokenId: string;
let certId: string;

beforeAll(async () => {
  world = await startBeamWorld();
  pskId = await createCredential(world, 'psk', { key: PSK });
  tokenId = await createCredential(world, 'api-token-credentials', { token: TOKEN });
  certId = await createCredential(world, 'x509', {
    cert: world.clientTls.certificatePem,
    key: world.clientTls.keyPem,
  });
});
afterAll(() => world?.close());

/** A SIM in a new group with `config`, attached: its session address. */
async function device(config: Record<string, unknown>, imei = '356938035643809') {
  const groupId = await createBeamGroup(world, config);
  const sim = await createCardSim(world, { groupId });
  const session = await attach(world, sim, imei);
  return { sim, groupId, address: session.address, session };
}

/** sha256sum of the string SORACOM documents (§5.2), computed by another program. */
function recomputedSignature(psk: string, r: Received): string {
  const pairs = Object.entries(r.headers)
    .filter(([k]) => k.startsWith('x-soracom-') && !k.startsWith('x-soracom-signature'))
    .map(([k, v]) => `${k}=${String(v)}`)
    .sort();
  return execFileSync('sha256sum', { input: psk + pairs.join('') })
    .toString()
    .slice(0, 64);
}

describe('Beam HTTP entry point', () => {
  it('forwards over mutual TLS with the identity, a signature a third party recomputes, and the group’s headers', async () => {
    const { sim, address } = await device({
      'http://beam.soracom.io:8888/': {
        name: 'sensors',
        destination: `${world.mtls.url}/ingest`,
        enabled: true,
        addSubscriberHeader: true,
        addEquipmentHeader: true,
        addSimIdHeader: true,
        addMsisdnHeader: true,
        addSignature: true,
        psk: { $credentialsId: pskId },
        useClientCert: true,
        clientCerts: { default: { $credentialsId: certId } },
        customHeaders: {
          auth: { action: 'replace', headerKey: 'Authorization', headerValue: { $credentialsId: tokenId } },
          tag: { action: 'append', headerKey: 'X-Fleet', headerValue: 'north' },
          drop: { action: 'delete', headerKey: 'X-Debug' },
        },
      },
    });
    world.mtls.respond = (_r, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-answer': 'yes', connection: 'close' });
      res.end('{"stored":true}');
    };
    const before = Date.now();
    const answer = await httpFrom(address, `${world.beamUrl}/temp?unit=c`, {
      method: 'POST',
      body: '{"t":21.5}',
      headers: {
        'content-type': 'application/json',
        // Forged identity and credentials, and hop-by-hop headers: none may reach the destination.
        'X-Soracom-IMSI': '999999999999999',
        'x-soracom-signature': 'forged',
        Authorization: 'Bearer device-made-up',
        'X-Debug': '1',
        Connection: 'keep-alive, X-Hop',
        'X-Hop': 'hop',
        'Proxy-Authorization': 'Basic Zm9vOmJhcg==',
      },
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toBe('{"stored":true}');
    expect(answer.headers['x-answer']).toBe('yes');
    const r = world.mtls.received.at(-1) as Received;
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/ingest/temp?unit=c');
    expect(r.body.toString()).toBe('{"t":21.5}');
    expect(r.clientCn).toBe('beam-device-client');
    expect(r.headers['x-soracom-imsi']).toBe(sim.imsi);
    expect(r.headers['x-soracom-sim-id']).toBe(sim.simId);
    expect(r.headers['x-soracom-msisdn']).toBe(sim.msisdn);
    expect(String(r.headers['x-soracom-imei'])).toMatch(/^35693803564380/);
    const ts = Number(r.headers['x-soracom-timestamp']);
    expect(ts).toBeGreaterThanOrEqual(before - 1000);
    expect(ts).toBeLessThanOrEqual(Date.now() + 1000);
    expect(r.headers['x-soracom-signature-version']).toBe('20151001');
    expect(r.headers['x-soracom-signature']).toBe(recomputedSignature(PSK, r));
    expect(r.headers.authorization).toBe(TOKEN);
    expect(r.headers['x-fleet']).toBe('north');
    expect(r.headers['x-debug']).toBeUndefined();
    expect(r.headers['x-hop']).toBeUndefined();
    expect(r.headers['proxy-authorization']).toBeUndefined();
    expect(r.headers.host).toBe(new URL(world.mtls.url).host);
    // Every X-Soracom-* header arrives once: the device's copies were dropped, not merged.
    const soracom = r.rawHeaders.filter((_, i) => i % 2 === 0).filter((h) => /^x-soracom-/i.test(h));
    expect(new Set(soracom.map((h) => h.toLowerCase())).size).toBe(soracom.length);
  });

  it('routes by the longest path prefix and passes the status back, or 200 with skipStatusCode', async () => {
    const { address } = await device({
      'http://beam.soracom.io:8888/': { destination: `${world.plain.url}/root` },
      'http://beam.soracom.io:8888/alerts': { destination: `${world.plain.url}/a`, skipStatusCode: true },
    });
    world.plain.respond = (req, res) => {
      res.writeHead(req.url.includes('missing') ? 404 : 503, { 'content-type': 'text/plain' });
      res.end(`at ${req.url}`);
    };
    const root = await httpFrom(address, `${world.beamUrl}/missing/thing`);
    expect(root.status).toBe(404);
    expect(root.body).toBe('at /root/missing/thing');
    const alert = await httpFrom(address, `${world.beamUrl}/alerts/fire`, { method: 'PUT', body: 'x' });
    expect(alert.status).toBe(200);
    expect(alert.body).toBe('at /a/fire');
    const edge = await httpFrom(address, `${world.beamUrl}/alertsX`);
    expect(edge.body).toBe('at /root/alertsX');
  });

  it('streams large bodies both ways without holding them', async () => {
    const { address } = await device({ 'http://x/': { destination: `${world.plain.url}/echo` } });
    world.plain.respond = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      // Answer with 4 MiB in chunks, after receiving the whole upload.
      const chunk = Buffer.alloc(65_536, req.body.length % 251);
      let left = 64;
      const more = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return res.once('drain', more);
        }
        res.end();
      };
      more();
    };
    const up = Buffer.alloc(900_000, 7);
    const answer = await new Promise<{ status: number; bytes: number; first: number }>((resolve, reject) => {
      const req = httpRequest(
        `${world.beamUrl}/upload`,
        { method: 'POST', localAddress: address, headers: { 'transfer-encoding': 'chunked' } },
        (res) => {
          let bytes = 0;
          let first = -1;
          res.on('data', (c: Buffer) => {
            if (first < 0) first = c[0] as number;
            bytes += c.length;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, first }));
        },
      );
      req.on('error', reject);
      for (let i = 0; i < up.length; i += 100_000) req.write(up.subarray(i, i + 100_000));
      req.end();
    });
    expect(answer.status).toBe(200);
    expect(answer.bytes).toBe(4 * 1_048_576);
    expect(world.plain.received.at(-1)?.body.length).toBe(900_000);
    expect(answer.first).toBe(900_000 % 251);
  });

  it('refuses a body above the limit with 413', async () => {
    const { address } = await device({ 'http://x/': { destination: `${world.plain.url}/big` } });
    const count = world.plain.received.length;
    const answer = await httpFrom(address, `${world.beamUrl}/`, {
      method: 'POST',
      body: 'x'.repeat(1_048_577),
    });
    expect(answer.status).toBe(413);
    expect(answer.json().code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect(world.plain.received.length).toBe(count);
  });

  it('stops a streamed body at the limit: 413, and the destination never gets a whole request', async () => {
    const { address } = await device({ 'http://x/': { destination: `${world.plain.url}/stream` } });
    const count = world.plain.received.length;
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        `${world.beamUrl}/`,
        { method: 'POST', localAddress: address, headers: { 'transfer-encoding': 'chunked' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      const more = () => {
        // 2 MiB against a 1 MiB limit; the entry point may answer (and close) before all is sent.
        while (sent < 32) {
          sent++;
          if (!req.write(chunk)) return req.once('drain', more);
        }
        req.end();
      };
      more();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect(world.plain.received.length).toBe(count);
  });

  it('resolves per-SIM credential sets (#{imsi} in the reference)', async () => {
    const groupId = await createBeamGroup(world, {
      'http://x/': {
        destination: `${world.plain.url}/per-sim`,
        addSubscriberHeader: true,
        addSignature: true,
        psk: { $credentialsId: 'psk-#{imsi}' },
      },
    });
    const sim = await createCardSim(world, { groupId });
    await createCredential(world, 'psk', { key: `own-key-of-${sim.imsi}` }, `psk-${sim.imsi}`);
    const { address } = await attach(world, sim, '356938035643809');
    const answer = await httpFrom(address, `${world.beamUrl}/`);
    expect(answer.status).toBe(200);
    const r = world.plain.received.at(-1) as Received;
    expect(r.headers['x-soracom-signature']).toBe(recomputedSignature(`own-key-of-${sim.imsi}`, r));
    // Another SIM of the same group without its own set is refused, not signed with someone else's key.
    const other = await createCardSim(world, { groupId });
    const session = await attach(world, other, '356938035643809');
    const refused = await httpFrom(session.address, `${world.beamUrl}/`);
    expect(refused.status).toBe(502);
    expect(refused.json().code).toBe('ERR_BEAM_CREDENTIALS');
  });

  it('lets nothing through without a session, for a suspended SIM, or behind another operator’s session', async () => {
    const config = { 'http://beam.soracom.io:8888/': { destination: `${world.plain.url}/gate` } };
    const count = world.plain.received.length;
    // No session at all.
    const none = await httpFrom('127.65.0.9', `${world.beamUrl}/x`);
    expect(none.status).toBe(403);
    expect(none.json().code).toBe('ERR_BEAM_NO_SESSION');
    // A suspended SIM on a live session.
    const suspended = await device(config);
    await world.platform.sims.transition(world.ctx('Sim:suspendSim'), suspended.sim.simId, 'suspend');
    const s = await httpFrom(suspended.address, `${world.beamUrl}/x`);
    expect(s.status).toBe(403);
    expect(s.json().code).toBe('ERR_BEAM_SIM_NOT_ACTIVE');
    // A session recorded by another operator for this SIM's address: it owns nothing.
    const other = await addOperator(world);
    const foreign = await device(config);
    await world.platform.store.db
      .updateTable('sim_sessions')
      .set({ operator_id: other.operatorId })
      .where('ue_ip', '=', foreign.address)
      .execute();
    const f = await httpFrom(foreign.address, `${world.beamUrl}/x`, { method: 'POST', body: 'data' });
    expect(f.status).toBe(403);
    expect(f.json().code).toBe('ERR_BEAM_NO_SESSION');
    // A SIM whose group has no Beam entry for the path.
    const unconfigured = await device({
      'tcp://beam.soracom.io:8023': { destination: 'tcps://t.example:1' },
    });
    const u = await httpFrom(unconfigured.address, `${world.beamUrl}/x`);
    expect(u.status).toBe(404);
    expect(u.json().code).toBe('ERR_BEAM_NOT_CONFIGURED');
    expect(world.plain.received.length).toBe(count);
  });

  it('answers 504 when the destination hangs and 502 when it refuses the connection or the client certificate', async () => {
    const hang = await startBeamWorldlessEntry(300);
    try {
      const { address } = await device({ 'http://x/': { destination: `${world.plain.url}/slow` } });
      world.plain.respond = () => undefined; // never answers
      const slow = await httpFrom(address, `${hang.url}/`);
      expect(slow.status).toBe(504);
      expect(slow.json().code).toBe('ERR_BEAM_DESTINATION_TIMEOUT');
    } finally {
      await hang.close();
    }
    const closed = await device({ 'http://x/': { destination: 'https://127.0.0.1:1/' } });
    const refused = await httpFrom(closed.address, `${world.beamUrl}/`);
    expect(refused.status).toBe(502);
    expect(refused.json().code).toBe('ERR_BEAM_DESTINATION_FAILED');
    // The mTLS destination without a client certificate: the handshake fails.
    const noCert = await device({ 'http://x/': { destination: `${world.mtls.url}/` } });
    const tls = await httpFrom(noCert.address, `${world.beamUrl}/`);
    expect(tls.status).toBe(502);
    expect(tls.json().code).toBe('ERR_BEAM_DESTINATION_FAILED');
  });

  it('does not reach loopback or private destinations unless the deployment allows them', async () => {
    const strict = createBeamHttpEntry({
      platform: world.platform,
      logger: (await import('pino')).default({ level: 'silent' }),
      policy: destinationPolicy(outboundPolicy({})),
      maxConnections: 10,
      maxConnectionsPerSource: 10,
      idleTimeoutMs: 5000,
      bodyLimitBytes: 1000,
      timeoutMs: 2000,
      connectionsPerDestination: 1,
    });
    const { port } = await strict.listen('127.0.0.1', 0);
    try {
      const count = world.plain.received.length;
      for (const destination of [`${world.plain.url}/`, 'https://localhost:1/', 'http://169.254.169.254/']) {
        const { address } = await device({ 'http://x/': { destination } });
        const a = await httpFrom(address, `http://127.0.0.1:${port}/`);
        expect(a.status, destination).toBe(502);
        expect(a.json().code).toBe('ERR_BEAM_DESTINATION_REFUSED');
      }
      expect(world.plain.received.length).toBe(count);
    } finally {
      await strict.close();
    }
  });

  it('keeps credentials out of every device-visible answer and every log line', async () => {
    const missing = await device({
      'http://x/': {
        destination: `${world.plain.url}/`,
        customHeaders: {
          a: { action: 'append', headerKey: 'Authorization', headerValue: { $credentialsId: 'nope' } },
        },
      },
    });
    const wrongType = await device({
      'http://x/': {
        destination: `${world.mtls.url}/`,
        useClientCert: true,
        clientCerts: { default: { $credentialsId: pskId } },
      },
    });
    const signed = await device({
      'http://x/': {
        destination: `${world.mtls.url}/`,
        addSubscriberHeader: true,
        addSignature: true,
        psk: { $credentialsId: pskId },
        customHeaders: {
          a: { action: 'replace', headerKey: 'Authorization', headerValue: { $credentialsId: tokenId } },
        },
      },
    });
    const answers = [
      await httpFrom(missing.address, `${world.beamUrl}/`),
      await httpFrom(wrongType.address, `${world.beamUrl}/`),
      await httpFrom(signed.address, `${world.beamUrl}/`), // no client certificate: TLS refused
    ];
    expect(answers.map((a) => a.status)).toEqual([502, 502, 502]);
    expect(answers.map((a) => a.json().code)).toEqual([
      'ERR_BEAM_CREDENTIALS',
      'ERR_BEAM_CREDENTIALS',
      'ERR_BEAM_DESTINATION_FAILED',
    ]);
    const visible = answers.map((a) => JSON.stringify(a.headers) + a.body).join('\n');
    const logged = world.logs.join('\n');
    expect(logged).toContain('beam http: not delivered');
    for (const secret of [PSK, TOKEN, world.clientTls.keyPem.split('\n')[1] as string]) {
      expect(visible).not.toContain(secret);
      expect(logged).not.toContain(secret);
    }
  });
});

/** A second entry point on the world's platform with a short destination timeout. */
async function startBeamWorldlessEntry(timeoutMs: number) {
  const entry = createBeamHttpEntry({
    platform: world.platform,
    logger: (await import('pino')).default({ level: 'silent' }),
    policy: destinationPolicy(outboundPolicy({ allowed: '127.0.0.0/8' })),
    extraCa: world.serverTls.certificatePem,
    maxConnections: 10,
    maxConnectionsPerSource: 10,
    idleTimeoutMs: 5000,
    bodyLimitBytes: 1000,
    timeoutMs,
    connectionsPerDestination: 1,
  });
  const { port } = await entry.listen('127.0.0.1', 0);
  return { url: `http://127.0.0.1:${port}`, close: () => entry.close() };
}
