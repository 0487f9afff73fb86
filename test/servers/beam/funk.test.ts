// Funk: simulated devices attached through RADIUS send data over HTTP, TCP and UDP from their
// session address; the function (a Node HTTPS server) is invoked at its resourceUrl with the group's
// credential (Bearer or Basic) and the SIM's identity, and its answer returns to the device (HTTP as
// it is; TCP/UDP "<status> <bytes>"). No session, a suspended SIM, another operator's session, a
// missing credential or a non-JSON body for a json group invoke nothing; no secret reaches a device
// answer or a log line.

import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFunk, type Funk } from '../../../src/servers/beam/funk.js';
import {
  addOperator,
  attach,
  type CardSim,
  createCardSim,
  type DeviceSession,
  type EndorseWorld,
  httpFrom,
  startEndorseWorld,
} from '../../e2e/endorse-fixture.js';
import { hostileRedirect } from '../../helpers/hostile-urls.js';
import {
  defaultPolicy,
  insertSession,
  loopbackPolicy,
  type RecordedRequest,
  startHttpsDestination,
  tcpExchange,
  udpExchange,
  until,
} from './socket-fixture.js';

const IMEI = '490154203237518';
const TOKEN = `fn-${randomBytes(12).toString('hex')}`;
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

let world: EndorseWorld;
let fn: Awaited<ReturnType<typeof startHttpsDestination>>;
let funk: Funk;
let ports: { http: number; tcp: number; udp: number };
let sim: CardSim;
let session: DeviceSession;
const logLines: string[] = [];

async function funkGroup(config: Record<string, unknown>, ctx = world.ctx()) {
  const group = await world.platform.groups.create(ctx, { tags: { name: 'funk' } });
  await world.platform.groups.putConfiguration(
    ctx,
    group.groupId,
    'SoracomFunk',
    Object.entries(config).map(([key, value]) => ({ key, value })),
  );
  return group.groupId;
}

const funkConfig = (extra: Record<string, unknown> = {}) => ({
  enabled: true,
  destination: { provider: 'https', service: 'function', resourceUrl: `${fn.url}/api/fn?code=k1` },
  credentialsId: { $credentialsId: 'fn-token' },
  ...extra,
});

async function simIn(config: Record<string, unknown>) {
  const s = await createCardSim(world, { groupId: await funkGroup(config) });
  return { sim: s, session: await attach(world, s, IMEI) };
}

function makeFunk(overrides: Partial<Parameters<typeof createFunk>[0]> = {}) {
  return createFunk({
    platform: world.platform,
    logger: pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _enc, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    ),
    policy: loopbackPolicy(),
    extraCa: fn.identity.certificatePem,
    timeoutMs: 10_000,
    maxBodyBytes: 4096,
    connectionsPerFunction: 8,
    maxConnections: 100,
    maxConnectionsPerSource: 8,
    idleTimeoutMs: 30_000,
    maxDatagramBytes: 65_507,
    packetsPerSecondPerSource: 1000,
    maxInFlight: 64,
    ...overrides,
  });
}

beforeAll(async () => {
  world = await startEndorseWorld();
  // The function: answers what it got, with the identity it was told; /binary answers raw bytes;
  // /fail answers 500 NG.
  fn = await startHttpsDestination((r: RecordedRequest) => {
    if (r.url.startsWith('/fail'))
      return { status: 500, body: 'NG', headers: { 'content-type': 'text/plain' } };
    if (r.url.startsWith('/binary')) {
      return {
        status: 200,
        body: Buffer.from('abcd', 'hex'),
        headers: { 'content-type': 'application/octet-stream' },
      };
    }
    return {
      status: 201,
      body: JSON.stringify({ got: r.body.toString(), imsi: r.headers['x-soracom-imsi'] }),
      headers: { 'content-type': 'application/json' },
    };
  });
  const ctx = world.ctx('Credential:createCredential');
  await world.platform.credentials.create(ctx, 'fn-token', {
    type: 'api-token-credentials',
    credentials: { token: TOKEN },
  });
  await world.platform.credentials.create(ctx, 'fn-basic', {
    type: 'username-password-credentials',
    credentials: { username: 'device-fleet', password: PASSWORD },
  });
  await world.platform.credentials.create(ctx, 'fn-psk', {
    type: 'psk',
    credentials: { key: 'not-for-funk' },
  });
  funk = makeFunk();
  ports = {
    http: (await funk.listenHttp('127.0.0.1', 0)).port,
    tcp: (await funk.listenTcp('127.0.0.1', 0)).port,
    udp: (await funk.bindUdp('127.0.0.1', 0)).port,
  };
  ({ sim, session } = await simIn(funkConfig()));
});
afterAll(async () => {
  await funk?.close();
  await fn?.close();
  await world?.close();
  // Threat: a credential in a log line (shipped to log stores others read).
  const all = logLines.join('');
  expect(all).not.toContain(TOKEN);
  expect(all).not.toContain(PASSWORD);
});

const postFrom = (from: string, body: string, headers: Record<string, string> = {}, path = '/') =>
  httpFrom(from, `http://127.0.0.1:${ports.http}${path}`, { method: 'POST', body, headers });

describe('HTTP entry point', () => {
  it('invokes the function with the credential and identity, and passes its answer back', async () => {
    const before = fn.requests.length;
    const r = await postFrom(session.address, '{"temp": 21.5}', { 'content-type': 'application/json' });
    const call = fn.requests[before] as RecordedRequest;
    expect(call.method).toBe('POST');
    expect(call.url).toBe('/api/fn?code=k1');
    expect(call.body.toString()).toBe('{"temp": 21.5}');
    expect(call.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call.headers['user-agent']).toBe('SORACOM Funk');
    expect(call.headers['content-type']).toBe('application/json');
    expect(call.headers['x-soracom-imsi']).toBe(sim.imsi);
    expect(call.headers['x-soracom-imei']).toBe(IMEI);
    expect(call.headers['x-soracom-sim-id']).toBe(sim.simId);
    expect(r.status).toBe(201);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json()).toEqual({ got: '{"temp": 21.5}', imsi: sim.imsi });
    expect(r.body).not.toContain(TOKEN);
  });

  it('sends text as {"payload": text} and other types as Base64 when contentType is unspecified', async () => {
    let before = fn.requests.length;
    await postFrom(session.address, 'a,b,c', { 'content-type': 'text/csv' });
    expect(JSON.parse((fn.requests[before] as RecordedRequest).body.toString())).toEqual({
      payload: 'a,b,c',
    });
    before = fn.requests.length;
    await postFrom(session.address, 'xyz', { 'content-type': 'application/octet-stream' });
    expect(JSON.parse((fn.requests[before] as RecordedRequest).body.toString())).toEqual({
      payload: Buffer.from('xyz').toString('base64'),
    });
  });

  it('calls the function at its resourceUrl whatever path the device asks for (property)', async () => {
    // Threat: a device steers the platform's credentialed call to another path of the function's host.
    const { connect } = await import('node:net');
    let reached = 0;
    await fc.assert(
      fc.asyncProperty(hostileRedirect, async (target) => {
        const before = fn.requests.length;
        const socket = connect({ host: '127.0.0.1', port: ports.http, localAddress: session.address });
        socket.on('error', () => undefined);
        socket.resume();
        // Raw bytes: a malformed request line never reaches the handler (Node answers 400).
        const head = `POST ${target.startsWith('/') ? target : `/${target}`} HTTP/1.1\r\nHost: funk\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`;
        socket.end(Buffer.from(head, 'latin1'));
        await new Promise<void>((done) => socket.once('close', () => done()));
        for (const r of fn.requests.slice(before)) {
          reached++;
          expect(r.url).toBe('/api/fn?code=k1');
        }
      }),
      { numRuns: 150 },
    );
    // Most hostile targets are valid HTTP: the property saw real invocations.
    expect(reached).toBeGreaterThan(10);
  });

  it('refuses non-JSON for a json group, and bodies over the limit, invoking nothing', async () => {
    const json = await simIn(funkConfig({ contentType: 'json' }));
    const before = fn.requests.length;
    const r = await postFrom(json.session.address, 'not json', { 'content-type': 'application/json' });
    expect([r.status, r.json().code]).toEqual([400, 'ERR_FUNK_NOT_JSON']);
    const big = await postFrom(json.session.address, JSON.stringify({ a: 'x'.repeat(5000) }));
    expect([big.status, big.json().code]).toEqual([413, 'ERR_PAYLOAD_TOO_LARGE']);
    expect(fn.requests.length).toBe(before);
  });

  it('uses a username-password set as Basic, and refuses a set of another type', async () => {
    const basic = await simIn(funkConfig({ credentialsId: 'fn-basic' }));
    let before = fn.requests.length;
    expect((await postFrom(basic.session.address, '{}')).status).toBe(201);
    expect((fn.requests[before] as RecordedRequest).headers.authorization).toBe(
      `Basic ${Buffer.from(`device-fleet:${PASSWORD}`).toString('base64')}`,
    );
    for (const credentialsId of ['fn-psk', 'no-such-set']) {
      const bad = await simIn(funkConfig({ credentialsId }));
      before = fn.requests.length;
      const r = await postFrom(bad.session.address, '{}');
      expect([r.status, r.json().code]).toEqual([502, 'ERR_FUNK_CREDENTIALS']);
      expect(r.body).not.toContain('not-for-funk');
      expect(fn.requests.length).toBe(before);
    }
  });

  it("passes the function's error status and body; says so when it cannot be reached", async () => {
    const failing = await simIn(
      funkConfig({ destination: { provider: 'https', resourceUrl: `${fn.url}/fail` } }),
    );
    const r = await postFrom(failing.session.address, '{}');
    expect([r.status, r.body]).toEqual([500, 'NG']);
    const gone = await simIn(
      funkConfig({ destination: { provider: 'https', resourceUrl: 'https://127.0.0.1:1/x' } }),
    );
    const g = await postFrom(gone.session.address, '{}');
    expect([g.status, g.json().code]).toEqual([502, 'ERR_FUNK_FUNCTION_FAILED']);
  });
});

describe('TCP and UDP entry points', () => {
  it('TCP: each write invokes the function; the device reads "<status> <body>"', async () => {
    const before = fn.requests.length;
    const r = await tcpExchange(session.address, ports.tcp, Buffer.from('hello'));
    const call = fn.requests[before] as RecordedRequest;
    expect(JSON.parse(call.body.toString())).toEqual({ payload: Buffer.from('hello').toString('base64') });
    expect(call.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(r.received.toString()).toBe(
      `201 ${JSON.stringify({ got: call.body.toString(), imsi: sim.imsi })}`,
    );
    // Every invocation is the SIM's Funk usage, by entry point.
    const recorded = world.platform.beamUsage
      .totals()
      .find((t) => t.service === 'funk' && t.entryPoint === 'tcp' && t.outcome === 'delivered');
    expect(recorded?.bytesUp).toBeGreaterThanOrEqual(5);
  });

  it('UDP: one datagram, one invocation; binary answers stay binary; skipStatusCode drops the status', async () => {
    const binary = await simIn(
      funkConfig({ destination: { provider: 'https', resourceUrl: `${fn.url}/binary` } }),
    );
    const a = await udpExchange(binary.session.address, ports.udp, Buffer.from([1, 2, 3]));
    expect(a?.toString('hex')).toBe('32303020abcd');
    const quiet = await simIn(
      funkConfig({
        destination: { provider: 'https', resourceUrl: `${fn.url}/binary` },
        skipStatusCode: true,
      }),
    );
    expect((await udpExchange(quiet.session.address, ports.udp, Buffer.from([1])))?.toString('hex')).toBe(
      'abcd',
    );
    const text = await simIn(funkConfig({ contentType: 'text' }));
    const before = fn.requests.length;
    await udpExchange(text.session.address, ports.udp, Buffer.from('21.5'));
    expect(JSON.parse((fn.requests[before] as RecordedRequest).body.toString())).toEqual({ payload: '21.5' });
  });

  it('UDP/TCP: a configured SIM hears why nothing was invoked', async () => {
    const loose = await createCardSim(world);
    const s = await attach(world, loose, IMEI);
    expect((await udpExchange(s.address, ports.udp, Buffer.from('x')))?.toString()).toMatch(
      /^404 ERR_FUNK_NOT_CONFIGURED: /,
    );
    expect((await tcpExchange(s.address, ports.tcp, Buffer.from('x'))).received.toString()).toMatch(
      /^404 ERR_FUNK_NOT_CONFIGURED: /,
    );
  });
});

describe('refusals: nothing invoked', () => {
  it('no session: HTTP 403, TCP closed without a byte, UDP no answer', async () => {
    const before = fn.requests.length;
    const h = await postFrom('127.0.0.1', '{}');
    expect([h.status, h.json().code]).toEqual([403, 'ERR_FUNK_NO_SESSION']);
    expect((await tcpExchange('127.97.0.1', ports.tcp, Buffer.from('x'))).closedEmpty).toBe(true);
    const refused = funk.stats.refused;
    const { createSocket } = await import('node:dgram');
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.97.0.2', () => r()));
    const answers: Buffer[] = [];
    socket.on('message', (m) => answers.push(m));
    socket.send(Buffer.from('x'), ports.udp, '127.0.0.1');
    await until(() => funk.stats.refused > refused, 'the UDP refusal');
    socket.close();
    expect(answers).toEqual([]);
    expect(fn.requests.length).toBe(before);
  });

  it("a suspended SIM and a session another operator's are refused", async () => {
    const stolen = await simIn(funkConfig());
    await world.platform.sims.transition(world.ctx('Sim:suspendSim'), stolen.sim.simId, 'suspend');
    const before = fn.requests.length;
    const r = await postFrom(stolen.session.address, '{}');
    expect([r.status, r.json().code]).toEqual([403, 'ERR_FUNK_SIM_NOT_ACTIVE']);
    const tenant = await addOperator(world);
    const mine = await createCardSim(world, { groupId: await funkGroup(funkConfig()) });
    await insertSession(world.db.store, mine, tenant.operatorId, '127.67.0.5');
    const t = await postFrom('127.67.0.5', '{}');
    expect([t.status, t.json().code]).toEqual([403, 'ERR_FUNK_NO_SESSION']);
    expect(fn.requests.length).toBe(before);
  });

  it("another tenant cannot use this tenant's credential set by naming it", async () => {
    // Threat: tenant B writes A's credentialsId into its own SoracomFunk to call A's function as A.
    const tenant = await addOperator(world);
    const theirs = await createCardSim(world, {
      tenant,
      groupId: await funkGroup(funkConfig(), tenant.ctx()),
    });
    await insertSession(world.db.store, theirs, tenant.operatorId, '127.67.0.6');
    const before = fn.requests.length;
    const r = await postFrom('127.67.0.6', '{}');
    expect([r.status, r.json().code]).toEqual([502, 'ERR_FUNK_CREDENTIALS']);
    expect(fn.requests.length).toBe(before);
  });

  it('the deployment policy refuses a loopback function by default', async () => {
    const strict = makeFunk({ policy: defaultPolicy() });
    const p = (await strict.listenHttp('127.0.0.1', 0)).port;
    try {
      const before = fn.requests.length;
      const r = await httpFrom(session.address, `http://127.0.0.1:${p}/`, { method: 'POST', body: '{}' });
      expect([r.status, r.json().code]).toEqual([502, 'ERR_BEAM_DESTINATION_REFUSED']);
      expect(fn.requests.length).toBe(before);
    } finally {
      await strict.close();
    }
  });

  it('refuses a bad SoracomFunk value at PUT', async () => {
    const group = await world.platform.groups.create(world.ctx(), {});
    await expect(
      world.platform.groups.putConfiguration(world.ctx(), group.groupId, 'SoracomFunk', [
        {
          key: 'destination',
          value: { provider: 'aws', service: 'lambda', resourceUrl: 'arn:aws:lambda:x' },
        },
      ]),
    ).rejects.toMatchObject({ code: 'ERR_FUNK_CONFIG' });
  });
});
