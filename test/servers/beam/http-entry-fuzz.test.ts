// Threat: malformed HTTP from a device (or anything on the session network) crashes the entry point
// or gets a request forwarded that a strict reading would refuse — a smuggled second request, a
// path outside the configured prefix, a forged identity. Raw bytes over TCP from a real session
// address: hand-made malformed requests must forward nothing; seeded mutations of a valid request
// may forward only requests below the configured path that carry Beam's identity exactly once; the
// entry point answers a valid request afterwards.

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attach, createCardSim, httpFrom } from '../../e2e/endorse-fixture.js';
import { mutate, randomBytes, seededRandom } from '../../helpers/fuzz.js';
import { type BeamWorld, createBeamGroup, startBeamWorld } from './beam-http-fixture.js';

let world: BeamWorld;
let address: string;
let imsi: string;
let port: number;

beforeAll(async () => {
  world = await startBeamWorld({ bodyLimitBytes: 4096 });
  const groupId = await createBeamGroup(world, {
    'http://beam.soracom.io:8888/gate': {
      destination: `${world.plain.url}/in`,
      addSubscriberHeader: true,
    },
  });
  const sim = await createCardSim(world, { groupId });
  imsi = sim.imsi;
  address = (await attach(world, sim, '356938035643809')).address;
  port = Number(new URL(world.beamUrl).port);
});
afterAll(() => world?.close());

/** Sends `bytes` from the session address and resolves with what came back once the server closes (or 2 s). */
function raw(bytes: Uint8Array | string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: address });
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, 2000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => socket.end(bytes));
  });
}

const MALFORMED = [
  'GET /gate/../etc HTTP/1.1\r\nHost: b\r\n\r\n',
  'GET /gate/%2e%2e/x HTTP/1.1\r\nHost: b\r\n\r\n',
  'GET /gate/%252e%252e/x HTTP/1.1\r\nHost: b\r\n\r\n',
  'GET //evil.example/gate HTTP/1.1\r\nHost: b\r\n\r\n',
  'GET http://evil.example/gate HTTP/1.1\r\nHost: evil.example\r\n\r\n',
  'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: b\r\n\r\n',
  'GET /gate\\..\\x HTTP/1.1\r\nHost: b\r\n\r\n',
  'GET /gate/%5c..%5cx HTTP/1.1\r\nHost: b\r\n\r\n',
  'GET /gate/%0d%0aX-Soracom-IMSI:%201 HTTP/1.1\r\nHost: b\r\n\r\n',
  'GET /gate/a#frag HTTP/1.1\r\nHost: b\r\n\r\n',
  'GET /gate HTTP/1.1\r\nHost: b\r\nX-A: a\rb\r\n\r\n',
  'GET /gate HTTP/1.1\r\nHost: b\r\nX-A: a\u0000b\r\n\r\n',
  'GET /gate HTTP/1.1\r\nHost: b\r\nBad Header: x\r\n\r\n',
  'GET /gate HTTP/1.1\r\nHost: b\r\nno colon here\r\n\r\n',
  'GET /gate HTTP/1.1\r\nHost: b\r\nX-A: a\r\n folded\r\n\r\n',
  'POST /gate HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  'POST /gate HTTP/1.1\r\nHost: b\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'POST /gate HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
  'POST /gate HTTP/1.1\r\nHost: b\r\nContent-Length: -1\r\n\r\n',
  'POST /gate HTTP/1.1\r\nHost: b\r\nContent-Length: 99999999\r\n\r\nx',
  'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  'get /gate HTTP/1.1\r\nHost: b\r\n\r\n',
  'GET /gate HTTP/9.9\r\nHost: b\r\n\r\n',
  'GET /gate HTTP/1.1\r\n',
  `GET /gate HTTP/1.1\r\nHost: b\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  `GET /gate/${'a'.repeat(9000)} HTTP/1.1\r\nHost: b\r\n\r\n`,
  '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003',
];

describe('Beam HTTP entry point under malformed requests', () => {
  it('forwards none of the hand-made malformed requests and stays up', async () => {
    const before = world.plain.received.length;
    for (const request of MALFORMED) {
      const answer = await raw(Buffer.from(request, 'latin1'));
      expect(
        answer === '' || /^HTTP\/1\.1 (400|403|404|413) /.test(answer),
        `${request.slice(0, 60)} → ${answer.slice(0, 40)}`,
      ).toBe(true);
    }
    expect(world.plain.received.length).toBe(before);
    const ok = await httpFrom(address, `${world.beamUrl}/gate/ok`);
    expect(ok.status).toBe(200);
    expect(world.plain.received.at(-1)?.url).toBe('/in/ok');
  });

  it('ignores a request to upgrade the connection (RFC 9110 §7.8): forwarded as a plain request', async () => {
    const answer = await raw(
      'GET /gate/ws HTTP/1.1\r\nHost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const r = world.plain.received.at(-1);
    expect(r?.url).toBe('/in/ws');
    expect(r?.headers.upgrade).toBeUndefined();
    expect(String(r?.headers.connection ?? '')).not.toMatch(/upgrade/i);
  });

  it('forwards only well-formed requests below the prefix, with Beam’s identity once, for seeded mutations', async () => {
    const random = seededRandom(0x5eed17);
    const seeds = [
      'GET /gate/a?x=1 HTTP/1.1\r\nHost: beam\r\nX-Soracom-IMSI: 111\r\n\r\n',
      'POST /gate/b HTTP/1.1\r\nHost: beam\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello',
      'PUT /gate HTTP/1.1\r\nHost: beam\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    ].map((s) => new Uint8Array(Buffer.from(s, 'latin1')));
    const start = world.plain.received.length;
    for (let i = 0; i < 300; i++) {
      const input =
        i % 5 === 4 ? randomBytes(random, 200) : mutate(random, seeds[i % seeds.length] as Uint8Array);
      await raw(input);
    }
    const forwarded = world.plain.received.slice(start);
    // Some mutations stay valid (a changed header value, a shorter path): those must be forwarded.
    expect(forwarded.length).toBeGreaterThan(0);
    for (const r of forwarded) {
      expect(r.url === '/in' || r.url.startsWith('/in/') || r.url.startsWith('/in?'), r.url).toBe(true);
      const imsiHeaders = r.rawHeaders.filter(
        (_, k) => k % 2 === 0 && /^x-soracom-imsi$/i.test(r.rawHeaders[k] as string),
      );
      expect(imsiHeaders).toHaveLength(1);
      expect(r.headers['x-soracom-imsi']).toBe(imsi);
    }
    const ok = await httpFrom(address, `${world.beamUrl}/gate/after`);
    expect(ok.status).toBe(200);
  });
});
