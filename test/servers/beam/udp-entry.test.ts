// Beam UDP → HTTPS: simulated devices attach through RADIUS and send datagrams from their session
// address; each becomes a POST {"payload": base64} to a Node HTTPS server with the identity headers
// and signature (recomputed here independently with sha256sum), and the answer comes back as one
// datagram "<status> <body>". No session, a suspended SIM or another operator's session gets no
// answer and nothing forwarded; size and per-source rate bounds drop datagrams before any look-up.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BeamUdpEntry, createBeamUdpEntry } from '../../../src/servers/beam/udp-entry.js';
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
  udpExchange,
  until,
} from './socket-fixture.js';

const IMEI = '490154203237518';
const PSK = `psk-${randomBytes(8).toString('hex')}`;
const TOKEN = `tok-${randomBytes(12).toString('hex')}`;

const logLines: string[] = [];
let world: EndorseWorld;
let destination: Awaited<ReturnType<typeof startHttpsDestination>>;
let entry: BeamUdpEntry;
let port: number;
let sim: CardSim;
let session: DeviceSession;

async function beamGroup(config: Record<string, unknown>) {
  const group = await world.platform.groups.create(world.ctx(), { tags: { name: 'beam-udp' } });
  await world.platform.groups.putConfiguration(
    world.ctx(),
    group.groupId,
    'SoracomBeam',
    Object.entries(config).map(([key, value]) => ({ key, value })),
  );
  return group.groupId;
}

const udpEntry = (extra: Record<string, unknown> = {}) => ({
  'udp://beam.soracom.io:23080': {
    destination: `${destination.url}/ingest?source=beam`,
    addSubscriberHeader: true,
    addEquipmentHeader: true,
    addSimIdHeader: true,
    addMsisdnHeader: true,
    addSignature: true,
    psk: { $credentialsId: 'beam-udp-psk' },
    customHeaders: {
      auth: {
        action: 'replace',
        headerKey: 'Authorization',
        headerValue: { $credentialsId: 'beam-udp-token' },
      },
      tag: { action: 'append', headerKey: 'X-Fleet', headerValue: 'north' },
    },
    ...extra,
  },
});

function makeEntry(overrides: Partial<Parameters<typeof createBeamUdpEntry>[0]> = {}) {
  return createBeamUdpEntry({
    platform: world.platform,
    logger: capturingLogger(logLines),
    policy: loopbackPolicy(),
    extraCa: destination.identity.certificatePem,
    maxDatagramBytes: 65_507,
    packetsPerSecondPerSource: 1000,
    maxInFlight: 256,
    timeoutMs: 10_000,
    connectionsPerDestination: 8,
    ...overrides,
  });
}

/** sha256sum of psk + every X-Soracom-* header but the signature ones, `name=value`, sorted. */
function independentSignature(headers: RecordedRequest['headers']): string {
  const pairs = Object.entries(headers)
    .filter(([k]) => k.startsWith('x-soracom-') && !k.startsWith('x-soracom-signature'))
    .map(([k, v]) => `${k}=${String(v)}`)
    .sort();
  return execFileSync('sha256sum', [], { input: PSK + pairs.join('') })
    .toString()
    .split(' ')[0] as string;
}

beforeAll(async () => {
  world = await startEndorseWorld();
  destination = await startHttpsDestination((r) =>
    r.url.includes('fail')
      ? { status: 400, body: 'Message from server' }
      : { status: 200, body: `ok ${r.body.length}` },
  );
  const ctx = world.ctx('Credential:createCredential');
  await world.platform.credentials.create(ctx, 'beam-udp-psk', { type: 'psk', credentials: { key: PSK } });
  await world.platform.credentials.create(ctx, 'beam-udp-token', {
    type: 'api-token-credentials',
    credentials: { token: `Bearer ${TOKEN}` },
  });
  entry = makeEntry();
  port = (await entry.bind('127.0.0.1', 0)).port;
  sim = await createCardSim(world, { groupId: await beamGroup(udpEntry()) });
  session = await attach(world, sim, IMEI);
});
afterAll(async () => {
  // Threat: a secret in a log line (log stores are read by more people than the credential sets).
  const logged = logLines.join('');
  expect(logged).not.toContain(PSK);
  expect(logged).not.toContain(TOKEN);
  expect(logLines.length).toBeGreaterThan(0);
  await entry?.close();
  await destination?.close();
  await world?.close();
});

describe('UDP → HTTPS', () => {
  it('posts the datagram as {"payload": base64} with the signed identity and answers "<status> <body>"', async () => {
    const before = destination.requests.length;
    const datagram = Buffer.from([0x00, 0xff, 0x10, 0x41, 0x0a]);
    const answer = await udpExchange(session.address, port, datagram);
    const r = destination.requests[before] as RecordedRequest;
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/ingest?source=beam');
    expect(JSON.parse(r.body.toString())).toEqual({ payload: datagram.toString('base64') });
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['user-agent']).toBe('SORACOM Beam');
    expect(r.headers['x-soracom-imsi']).toBe(sim.imsi);
    expect(r.headers['x-soracom-imei']).toBe(IMEI);
    expect(r.headers['x-soracom-msisdn']).toBe(sim.msisdn);
    expect(r.headers['x-soracom-sim-id']).toBe(sim.simId);
    expect(r.headers['x-soracom-signature-version']).toBe('20151001');
    expect(r.headers['x-soracom-signature']).toBe(independentSignature(r.headers));
    expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(r.headers['x-fleet']).toBe('north');
    expect(answer?.toString()).toBe(`200 ok ${r.body.length}`);
    expect(answer?.toString()).not.toContain(TOKEN);
    expect(
      world.platform.beamUsage
        .totals()
        .find((t) => t.service === 'beam' && t.entryPoint === 'udp' && t.outcome === 'delivered')?.bytesUp,
    ).toBeGreaterThanOrEqual(datagram.length);
  });

  it("passes the destination's error status and body back, and only the body with skipStatusCode", async () => {
    const failing = await createCardSim(world, {
      groupId: await beamGroup(udpEntry({ destination: `${destination.url}/fail` })),
    });
    const s1 = await attach(world, failing, IMEI);
    expect((await udpExchange(s1.address, port, Buffer.from('bad message')))?.toString()).toBe(
      '400 Message from server',
    );
    const quiet = await createCardSim(world, {
      groupId: await beamGroup(udpEntry({ skipStatusCode: true })),
    });
    const s2 = await attach(world, quiet, IMEI);
    expect((await udpExchange(s2.address, port, Buffer.from('abc')))?.toString()).toMatch(/^ok \d+$/);
  });

  it('answers a configured SIM with the reason when Beam cannot forward, and nothing secret', async () => {
    const loose = await createCardSim(world);
    const s1 = await attach(world, loose, IMEI);
    expect((await udpExchange(s1.address, port, Buffer.from('x')))?.toString()).toMatch(
      /^404 ERR_BEAM_NOT_CONFIGURED: /,
    );
    const noKey = await createCardSim(world, {
      groupId: await beamGroup(udpEntry({ psk: { $credentialsId: 'missing-psk' } })),
    });
    const s2 = await attach(world, noKey, IMEI);
    const before = destination.requests.length;
    expect((await udpExchange(s2.address, port, Buffer.from('x')))?.toString()).toMatch(
      /^502 ERR_BEAM_CREDENTIALS: /,
    );
    expect(destination.requests.length).toBe(before);
  });
});

describe('refusals and bounds: nothing forwarded, no answer to strangers', () => {
  const silentlyRefused = async (from: string, e: BeamUdpEntry = entry, p = port) => {
    const before = destination.requests.length;
    const refused = e.stats.refused;
    const socket = (await import('node:dgram')).createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, from, () => r()));
    const answers: Buffer[] = [];
    socket.on('message', (m) => answers.push(m));
    socket.send(Buffer.from('imsi=001010000000001 payload'), p, '127.0.0.1');
    await until(() => e.stats.refused > refused, 'the refusal');
    socket.close();
    expect(answers).toEqual([]);
    expect(destination.requests.length).toBe(before);
  };

  it('refuses an address without a session, with no answer', async () => {
    await silentlyRefused('127.0.0.1');
    await silentlyRefused('127.98.7.6');
  });

  it('refuses a suspended SIM, with no answer', async () => {
    const stolen = await createCardSim(world, { groupId: await beamGroup(udpEntry()) });
    const s = await attach(world, stolen, IMEI);
    await world.platform.sims.transition(world.ctx('Sim:suspendSim'), stolen.simId, 'suspend');
    await silentlyRefused(s.address);
  });

  it("refuses a session row of another operator than the SIM's", async () => {
    const tenant = await addOperator(world);
    const mine = await createCardSim(world, { groupId: await beamGroup(udpEntry()) });
    await insertSession(world.db.store, mine, tenant.operatorId, '127.66.0.7');
    await silentlyRefused('127.66.0.7');
  });

  it('refuses a destination the deployment policy forbids (loopback by default)', async () => {
    const strict = makeEntry({ policy: defaultPolicy() });
    const p = (await strict.bind('127.0.0.1', 0)).port;
    try {
      const before = destination.requests.length;
      expect((await udpExchange(session.address, p, Buffer.from('x')))?.toString()).toMatch(
        /^502 ERR_BEAM_DESTINATION_REFUSED: /,
      );
      expect(destination.requests.length).toBe(before);
    } finally {
      await strict.close();
    }
  });

  it('drops datagrams over the size bound and over the per-source rate before any look-up', async () => {
    const small = makeEntry({ maxDatagramBytes: 64, packetsPerSecondPerSource: 0.01 });
    const p = (await small.bind('127.0.0.1', 0)).port;
    try {
      const before = destination.requests.length;
      const socket = (await import('node:dgram')).createSocket('udp4');
      await new Promise<void>((r) => socket.bind(0, session.address, () => r()));
      const answers: Buffer[] = [];
      socket.on('message', (m) => answers.push(m));
      socket.send(Buffer.alloc(65), p, '127.0.0.1');
      await until(() => small.stats.dropped === 1, 'the large datagram dropped');
      // A burst of one at this rate: the first passes, the next ones wait ~100 s for a token.
      for (let i = 0; i < 5; i++) socket.send(Buffer.from(`n${i}`), p, '127.0.0.1');
      await until(
        () => small.stats.dropped === 5 && small.stats.delivered === 1,
        'one forwarded, four dropped',
      );
      await until(() => answers.length === 1, 'the one answer');
      socket.close();
      expect(destination.requests.length).toBe(before + 1);
      expect(JSON.parse((destination.requests[before] as RecordedRequest).body.toString())).toEqual({
        payload: Buffer.from('n0').toString('base64'),
      });
    } finally {
      await small.close();
    }
  });
});
