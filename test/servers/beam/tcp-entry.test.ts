// Beam TCP → TCPS: simulated devices attach through RADIUS and connect from their session address;
// the entry point connects to a Node TLS server, sends the identity line (checked here and by an
// independent `sha256sum`), then relays bytes both ways. A device with no session, a suspended
// SIM, a session another operator's, or a group without a tcp entry gets nothing through.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BeamTcpEntry, createBeamTcpEntry } from '../../../src/servers/beam/tcp-entry.js';
import { createLogger } from '../../../src/servers/logger.js';
import {
  addOperator,
  attach,
  type CardSim,
  createCardSim,
  type DeviceSession,
  type EndorseWorld,
  startEndorseWorld,
} from '../../e2e/endorse-fixture.js';
import {
  capturingLogger,
  defaultPolicy,
  insertSession,
  loopbackPolicy,
  type RecordedRequest,
  startHttpsDestination,
  startTlsDestination,
  tcpExchange,
  until,
} from './socket-fixture.js';

const IMEI = '490154203237518';
const PSK = `psk-${randomBytes(8).toString('hex')}`;

const logLines: string[] = [];
let world: EndorseWorld;
let destination: Awaited<ReturnType<typeof startTlsDestination>>;
let entry: BeamTcpEntry;
let port: number;
let metrics: Registry;
let sim: CardSim;
let session: DeviceSession;

async function beamGroup(config: Record<string, unknown>, tenant: { ctx: EndorseWorld['ctx'] } = world) {
  const group = await world.platform.groups.create(tenant.ctx(), { tags: { name: 'beam-tcp' } });
  await world.platform.groups.putConfiguration(
    tenant.ctx(),
    group.groupId,
    'SoracomBeam',
    Object.entries(config).map(([key, value]) => ({ key, value })),
  );
  return group.groupId;
}

const tcpsEntry = (extra: Record<string, unknown> = {}) => ({
  'tcp://beam.soracom.io:8023': {
    name: 'tcps relay',
    destination: `tcps://127.0.0.1:${destination.port}`,
    enabled: true,
    addSubscriberHeader: true,
    addEquipmentHeader: true,
    addSimIdHeader: true,
    addMsisdnHeader: true,
    addSignature: true,
    psk: { $credentialsId: 'beam-tcp-psk' },
    ...extra,
  },
});

const refusedCount = async (code: string) => {
  const m = await metrics.getSingleMetric('simtrust_beam_tcp_connections_total')?.get();
  return m?.values.find((v) => v.labels.outcome === 'refused' && v.labels.code === code)?.value ?? 0;
};

beforeAll(async () => {
  world = await startEndorseWorld();
  destination = await startTlsDestination();
  metrics = new Registry();
  await world.platform.credentials.create(world.ctx('Credential:createCredential'), 'beam-tcp-psk', {
    type: 'psk',
    credentials: { key: PSK },
  });
  entry = createBeamTcpEntry({
    platform: world.platform,
    logger: capturingLogger(logLines),
    metrics,
    policy: loopbackPolicy(),
    extraCa: destination.identity.certificatePem,
    maxConnections: 10_000,
    maxConnectionsPerSource: 64,
    idleTimeoutMs: 30_000,
    connectTimeoutMs: 10_000,
  });
  port = (await entry.listen('127.0.0.1', 0)).port;
  const groupId = await beamGroup(tcpsEntry());
  sim = await createCardSim(world, { groupId });
  session = await attach(world, sim, IMEI);
});
afterAll(async () => {
  // Threat: a secret in a log line (log stores are read by more people than the credential sets).
  const logged = logLines.join('');
  expect(logged).not.toContain(PSK);
  expect(logLines.length).toBeGreaterThan(0);
  await entry?.close();
  await destination?.close();
  await world?.close();
});

describe('TCP → TCPS relay', () => {
  it('sends the signed identity line first, then relays both ways with half-close', async () => {
    const before = destination.connections.length;
    const r = await tcpExchange(session.address, port, Buffer.from('temperature=21.5\nhumidity=40\n'));
    const c = destination.connections[before];
    expect(c).toBeDefined();
    const text = (c as { received: Buffer }).received.toString('latin1');
    const nl = text.indexOf('\n');
    const line = text.slice(0, nl);
    const m =
      /^imei=(\d+) imsi=(\d+) msisdn=(\d+) simId=(\S+) timestamp=(\d+);signature=([0-9a-f]{64}) version=20150901$/.exec(
        line,
      );
    expect(m, line).not.toBeNull();
    const [, imei, imsi, msisdn, simId, ts, signature] = m as RegExpExecArray;
    expect([imei, imsi, msisdn, simId]).toEqual([IMEI, sim.imsi, sim.msisdn, sim.simId]);
    expect(Math.abs(Number(ts) - Date.now())).toBeLessThan(60_000);
    // An independent check of the signature: coreutils' sha256sum over psk + the part before ';'.
    const independent = execFileSync('sha256sum', [], { input: PSK + line.split(';')[0] })
      .toString()
      .split(' ')[0];
    expect(signature).toBe(independent);
    // The device's bytes follow the line unchanged; the destination's answer comes back, also after
    // the device shut its side down.
    expect(text.slice(nl + 1)).toBe('temperature=21.5\nhumidity=40\n');
    expect(r.received.toString('latin1')).toBe(`hello ${line}\ntemperature=21.5\nhumidity=40\nbye\n`);
    // Nothing of the PSK reaches the device.
    expect(r.received.toString('latin1')).not.toContain(PSK);
    // The relay is recorded as the SIM's Beam usage (tcp, delivered) when it closes.
    const tcpTotal = () =>
      world.platform.beamUsage
        .totals()
        .find((t) => t.service === 'beam' && t.entryPoint === 'tcp' && t.outcome === 'delivered');
    await until(() => (tcpTotal()?.bytesUp ?? 0) >= 29, 'the usage record');
    expect(tcpTotal()?.bytesDown).toBeGreaterThan(0);
  });

  it("puts Beam's line before anything the device sends, even a forged identity line (property)", async () => {
    // Threat: a device sends `imsi=<another SIM>…;signature=…` hoping the destination reads it as
    // the identity. Nothing the device sends is read before Beam's line is written.
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 2048 }),
          fc.constant(Buffer.from('imsi=001010000000001 timestamp=1;signature=00 version=20150901\n')),
        ),
        async (bytes) => {
          const before = destination.connections.length;
          const r = await tcpExchange(session.address, port, bytes);
          const c = destination.connections[before] as { received: Buffer };
          const nl = c.received.indexOf(0x0a);
          expect(c.received.subarray(0, nl).toString('latin1')).toMatch(
            new RegExp(`^imei=${IMEI} imsi=${sim.imsi} `),
          );
          expect(Buffer.compare(c.received.subarray(nl + 1), Buffer.from(bytes))).toBe(0);
          expect(r.received.subarray(r.received.length - 4).toString()).toBe('bye\n');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('sends no line when the group switches no identity on, and no signature without addSignature', async () => {
    const plain = await createCardSim(world, {
      groupId: await beamGroup({
        'tcp://beam.soracom.io:8023': { destination: `tcps://127.0.0.1:${destination.port}`, enabled: true },
      }),
    });
    const s1 = await attach(world, plain, IMEI);
    let before = destination.connections.length;
    await tcpExchange(s1.address, port, Buffer.from('raw bytes'));
    expect((destination.connections[before] as { received: Buffer }).received.toString()).toBe('raw bytes');

    const unsigned = await createCardSim(world, {
      groupId: await beamGroup({
        'tcp://beam.soracom.io:8023': {
          destination: `tcps://127.0.0.1:${destination.port}`,
          addSubscriberHeader: true,
        },
      }),
    });
    const s2 = await attach(world, unsigned, IMEI);
    before = destination.connections.length;
    await tcpExchange(s2.address, port, Buffer.from('x'));
    expect((destination.connections[before] as { received: Buffer }).received.toString()).toMatch(
      new RegExp(`^imsi=${unsigned.imsi} timestamp=\\d+\\nx$`),
    );
  });
});

describe("TCP → HTTPS (SORACOM's :23080 form)", () => {
  it('posts each piece of data as {"payload": base64} with the signed identity and writes "<status> <body>" back', async () => {
    const https = await startHttpsDestination(
      (r) => ({ status: r.url.includes('fail') ? 400 : 200, body: `got ${r.body.length}` }),
      destination.identity,
    );
    try {
      const toHttp = await createCardSim(world, {
        groupId: await beamGroup({
          'tcp://beam.soracom.io:23080': {
            destination: `${https.url}/tcp-in`,
            addSubscriberHeader: true,
            addSignature: true,
            psk: { $credentialsId: 'beam-tcp-psk' },
          },
        }),
      });
      const s = await attach(world, toHttp, IMEI);
      const r = await tcpExchange(s.address, port, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
      const call = https.requests[0] as RecordedRequest;
      expect(call.url).toBe('/tcp-in');
      expect(call.headers['user-agent']).toBe('SORACOM Beam');
      expect(call.headers['x-soracom-imsi']).toBe(toHttp.imsi);
      const pairs = `x-soracom-imsi=${toHttp.imsi}x-soracom-timestamp=${String(call.headers['x-soracom-timestamp'])}`;
      expect(call.headers['x-soracom-signature']).toBe(
        execFileSync('sha256sum', [], { input: PSK + pairs })
          .toString()
          .split(' ')[0],
      );
      expect(JSON.parse(call.body.toString())).toEqual({
        payload: Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64'),
      });
      expect(r.received.toString()).toBe(`200 got ${call.body.length}`);
      // A refused destination is answered on the connection; nothing is sent.
      const refusedSim = await createCardSim(world, {
        groupId: await beamGroup({ 'tcp://beam.soracom.io:23080': { destination: 'https://10.1.2.3/x' } }),
      });
      const s2 = await attach(world, refusedSim, IMEI);
      const r2 = await tcpExchange(s2.address, port, Buffer.from('x'));
      expect(r2.received.toString()).toMatch(/^502 ERR_BEAM_DESTINATION_REFUSED: /);
      expect(https.requests).toHaveLength(1);
    } finally {
      await https.close();
    }
  });
});

describe('TCP → TCPS with a client certificate', () => {
  it('presents the x509 credential set to a destination that requires one', async () => {
    const { createServer } = await import('node:tls');
    const { issueTlsIdentity } = await import('../esim/tls-fixtures.js');
    const server = await issueTlsIdentity('mtls destination');
    const client = await issueTlsIdentity('beam client');
    await world.platform.credentials.create(world.ctx('Credential:createCredential'), 'beam-tcp-client', {
      type: 'x509',
      credentials: { cert: client.certificatePem, key: client.keyPem, ca: server.certificatePem },
    });
    const seen: Array<{ authorized: boolean; cn: unknown; line: string }> = [];
    const mtls = createServer(
      {
        key: server.keyPem,
        cert: server.certificatePem,
        requestCert: true,
        rejectUnauthorized: true,
        ca: client.certificatePem,
      },
      (socket) => {
        let data = '';
        socket.on('data', (d: Buffer) => {
          data += d.toString();
          if (data.includes('\n')) {
            seen.push({
              authorized: socket.authorized,
              cn: socket.getPeerCertificate().subject?.CN,
              line: data.split('\n')[0] as string,
            });
            socket.end('ok\n');
          }
        });
        socket.on('error', () => undefined);
      },
    );
    await new Promise<void>((r) => mtls.listen(0, '127.0.0.1', () => r()));
    const mtlsPort = (mtls.address() as { port: number }).port;
    // This entry point trusts the destination's certificate, so only the client certificate decides.
    const trusting = createBeamTcpEntry({
      platform: world.platform,
      logger: createLogger({ logLevel: 'silent' }),
      policy: loopbackPolicy(),
      extraCa: server.certificatePem,
      maxConnections: 10,
      maxConnectionsPerSource: 10,
      idleTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
    });
    const trustingPort = (await trusting.listen('127.0.0.1', 0)).port;
    try {
      const withCert = await createCardSim(world, {
        groupId: await beamGroup({
          'tcp://beam.soracom.io:8023': {
            destination: `tcps://127.0.0.1:${mtlsPort}`,
            addSubscriberHeader: true,
            useClientCert: true,
            clientCerts: { default: { $credentialsId: 'beam-tcp-client' } },
          },
        }),
      });
      const s = await attach(world, withCert, IMEI);
      const r = await tcpExchange(s.address, trustingPort, new Uint8Array(0), { halfClose: false });
      expect(r.received.toString()).toBe('ok\n');
      expect(seen).toEqual([
        {
          authorized: true,
          cn: 'beam client',
          line: expect.stringMatching(new RegExp(`^imsi=${withCert.imsi} timestamp=\\d+$`)),
        },
      ]);
      // Without the certificate the destination refuses the handshake: the device gets nothing.
      const without = await createCardSim(world, {
        groupId: await beamGroup({
          'tcp://beam.soracom.io:8023': {
            destination: `tcps://127.0.0.1:${mtlsPort}`,
            addSubscriberHeader: true,
          },
        }),
      });
      const s2 = await attach(world, without, IMEI);
      const r2 = await tcpExchange(s2.address, trustingPort, Buffer.from('x'));
      expect(r2.closedEmpty).toBe(true);
      expect(seen).toHaveLength(1);
    } finally {
      await trusting.close();
      await new Promise<void>((r) => mtls.close(() => r()));
    }
  });
});

describe('refusals: nothing reaches the destination', () => {
  const nothingThrough = async (from: string, code: string) => {
    const before = destination.connections.length;
    const refusedBefore = await refusedCount(code);
    const r = await tcpExchange(from, port, Buffer.from('imsi=001010000000001\nsecret data'));
    expect(r.closedEmpty).toBe(true);
    expect(await refusedCount(code)).toBe(refusedBefore + 1);
    expect(destination.connections.length).toBe(before);
  };

  it('refuses an address without a session', async () => {
    await nothingThrough('127.0.0.1', 'ERR_BEAM_NO_SESSION');
    await nothingThrough('127.99.1.2', 'ERR_BEAM_NO_SESSION');
  });

  it('refuses a suspended SIM', async () => {
    // Threat: a stolen device whose SIM the operator suspended keeps reaching the backend.
    const stolen = await createCardSim(world, { groupId: await beamGroup(tcpsEntry()) });
    const s = await attach(world, stolen, IMEI);
    await world.platform.sims.transition(world.ctx('Sim:suspendSim'), stolen.simId, 'suspend');
    await nothingThrough(s.address, 'ERR_BEAM_SIM_NOT_ACTIVE');
  });

  it("refuses a session the SIM's operator does not own, and another operator's device gets none of this group", async () => {
    // Threat: tenant B's device (or a session row of another tenant) reaches tenant A's backend
    // with A's credentials.
    const tenant = await addOperator(world);
    const theirs = await createCardSim(world, { tenant });
    await insertSession(world.db.store, theirs, tenant.operatorId, '127.65.0.9');
    await nothingThrough('127.65.0.9', 'ERR_BEAM_NOT_CONFIGURED');
    const mine = await createCardSim(world, { groupId: await beamGroup(tcpsEntry()) });
    const s2 = await attach(world, mine, IMEI);
    await world.db.store.db
      .updateTable('sim_sessions')
      .set({ operator_id: tenant.operatorId })
      .where('ue_ip', '=', s2.address)
      .execute();
    await nothingThrough(s2.address, 'ERR_BEAM_NO_SESSION');
  });

  it('refuses a SIM in no group and a disabled entry', async () => {
    const loose = await createCardSim(world);
    await nothingThrough((await attach(world, loose, IMEI)).address, 'ERR_BEAM_NOT_CONFIGURED');
    const disabled = await createCardSim(world, { groupId: await beamGroup(tcpsEntry({ enabled: false })) });
    await nothingThrough((await attach(world, disabled, IMEI)).address, 'ERR_BEAM_NOT_CONFIGURED');
  });

  it('refuses a destination the deployment policy forbids (loopback by default), before connecting', async () => {
    // Threat: a group configuration turns Beam into a way into the platform's own network.
    const strict = createBeamTcpEntry({
      platform: world.platform,
      logger: createLogger({ logLevel: 'silent' }),
      policy: defaultPolicy(),
      maxConnections: 10,
      maxConnectionsPerSource: 10,
      idleTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
    });
    const strictPort = (await strict.listen('127.0.0.1', 0)).port;
    try {
      const before = destination.connections.length;
      const r = await tcpExchange(session.address, strictPort, Buffer.from('x'));
      expect(r.closedEmpty).toBe(true);
      expect(destination.connections.length).toBe(before);
    } finally {
      await strict.close();
    }
  });

  it('refuses a missing psk credential set without reaching the destination', async () => {
    const g = await beamGroup(tcpsEntry({ psk: { $credentialsId: 'no-such-set' } }));
    const s = await attach(world, await createCardSim(world, { groupId: g }), IMEI);
    const before = destination.connections.length;
    const r = await tcpExchange(s.address, port, Buffer.from('x'));
    expect(r.closedEmpty).toBe(true);
    expect(destination.connections.length).toBe(before);
  });
});

describe('limits', () => {
  it('closes connections beyond the per-source bound at once', async () => {
    const small = createBeamTcpEntry({
      platform: world.platform,
      logger: createLogger({ logLevel: 'silent' }),
      policy: loopbackPolicy(),
      extraCa: destination.identity.certificatePem,
      maxConnections: 100,
      maxConnectionsPerSource: 1,
      idleTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
    });
    const p = (await small.listen('127.0.0.1', 0)).port;
    try {
      const { connect } = await import('node:net');
      const first = connect({ host: '127.0.0.1', port: p, localAddress: session.address });
      first.on('error', () => undefined);
      await until(() => small.connections === 1, 'the first connection');
      const second = await tcpExchange(session.address, p, Buffer.from('x'), { halfClose: false });
      expect(second.closedEmpty).toBe(true);
      first.destroy();
    } finally {
      await small.close();
    }
  });

  it('closes a silent relay after the idle timeout', async () => {
    const quick = createBeamTcpEntry({
      platform: world.platform,
      logger: createLogger({ logLevel: 'silent' }),
      policy: loopbackPolicy(),
      extraCa: destination.identity.certificatePem,
      maxConnections: 100,
      maxConnectionsPerSource: 4,
      idleTimeoutMs: 300,
      connectTimeoutMs: 10_000,
    });
    const p = (await quick.listen('127.0.0.1', 0)).port;
    try {
      const before = destination.connections.length;
      // The device sends nothing and never closes: the entry point closes both sides.
      const r = await tcpExchange(session.address, p, new Uint8Array(0), { halfClose: false, ms: 20_000 });
      expect(r.received.toString()).toMatch(/^hello imei=/);
      await until(
        () => destination.connections[before]?.socket.destroyed === true,
        'the upstream side closed',
      );
    } finally {
      await quick.close();
    }
  });
});
