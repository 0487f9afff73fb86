// Fuzz: over 100,000 random and mutated datagrams to both RADIUS ports, from a registered NAS and
// from an unknown source, while a NAS keeps sending valid requests. The threat: a packet that
// crashes or wedges the server (denial of service for every device), or one that slips past the
// authenticator checks and is answered. Expected: the process survives, every valid request is
// answered, every datagram is accounted for (answered, a duplicate, or dropped and counted by
// reason), and no request fails inside the server.

import { createSocket, type Socket } from 'node:dgram';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RADIUS_CODES } from '../../../src/lib/radius/rfc-2865-packet.js';
import type { EapHandler } from '../../../src/servers/radius/eap-handler.js';
import { type RunningRadius, startRadius } from '../../../src/servers/radius/index.js';
import { testDialect } from '../../helpers/database.js';
import { mutate, randomBytes, seededRandom } from '../../helpers/fuzz.js';
import { createSim, startTestApi, type TestApi, type TestSim } from '../../platform/aaa/fixture.js';
import { TestNas } from './nas.js';

const SECRET = 'fuzz-test-secret';
const PER_SOURCE_AND_PORT = 26_000; // × 2 sources × 2 ports = 104,000 datagrams

const rejectAll: EapHandler = {
  handle: async () => ({ code: 'reject', eapMessage: Uint8Array.of(4, 0, 0, 4) }),
};

let api: TestApi;
let radius: RunningRadius;
let sim: TestSim;

beforeAll(async () => {
  api = await startTestApi();
  const created = await api.call({
    method: 'POST',
    url: '/v1/radius_clients',
    payload: { address: '127.0.0.1', secret: SECRET },
  });
  expect(created.statusCode).toBe(201);
  radius = await startRadius({
    platform: api.platform,
    logger: pino({ level: 'silent' }),
    eapHandler: rejectAll,
    host: '127.0.0.1',
    authPort: 0,
    acctPort: 0,
  });
  sim = await createSim(api);
});
afterAll(async () => {
  await radius.close();
  await api.close();
});

function bind(host: string): Promise<Socket> {
  const s = createSocket('udp4');
  return new Promise((resolve) => s.bind(0, host, () => resolve(s)));
}

describe(`RADIUS fuzz on ${testDialect}`, () => {
  it('survives >100,000 random and mutated datagrams while answering every valid request', async () => {
    const seedNas = await new TestNas(SECRET).start();
    const gateway: Parameters<TestNas['build']>[1] = [
      ['3GPP-IMSI', sim.imsi],
      ['3GPP-IMEISV', '3534321910800007'],
      ['3GPP-User-Location-Info', { type: 'TAI+ECGI', mcc: '001', mnc: '01', tac: 1, eci: 2 }],
      ['Called-Station-Id', 'iot'],
    ];
    const seeds = {
      auth: [
        seedNas.build(RADIUS_CODES['Access-Request'], gateway),
        seedNas.build(RADIUS_CODES['Access-Request'], [
          ['EAP-Message', Uint8Array.of(2, 1, 0, 9, 1, 0x30, 0x30, 0x31, 0x40)],
        ]),
        seedNas.build(RADIUS_CODES['Status-Server'], []),
        seedNas.build(RADIUS_CODES['Access-Request'], gateway, false),
      ],
      acct: [
        seedNas.build(
          RADIUS_CODES['Accounting-Request'],
          [
            ['Acct-Status-Type', 3],
            ['Acct-Session-Id', 'fuzz-1'],
            ['3GPP-IMSI', sim.imsi],
            ['Acct-Input-Octets', 10],
            ['Acct-Input-Gigawords', 1],
          ],
          false,
        ),
        seedNas.build(RADIUS_CODES['Accounting-Request'], [['Acct-Status-Type', 7]], false),
        seedNas.build(RADIUS_CODES['Status-Server'], []),
      ],
    };
    seedNas.close();

    const known = await bind('127.0.0.1');
    const unknown = await bind('127.0.0.3');
    const stats = radius.server.stats;
    const receivedNow = () => stats.received.auth + stats.received.acct;
    const before = {
      received: receivedNow(),
      dropped: { ...stats.dropped },
      answered: { ...stats.answered },
      duplicates: stats.duplicates,
    };

    // The valid stream: a NAS that retransmits (same bytes) like a real one until answered.
    const valid = await new TestNas(SECRET).start();
    let validSent = 0;
    let validAnswered = 0;
    let streaming = true;
    const stream = (async () => {
      let i = 0;
      while (streaming) {
        i++;
        const acct = i % 2 === 0;
        const bytes = acct
          ? valid.build(
              RADIUS_CODES['Accounting-Request'],
              [
                ['Acct-Status-Type', 3],
                ['Acct-Session-Id', 'valid-stream'],
                ['3GPP-IMSI', sim.imsi],
                ['Acct-Input-Octets', i],
              ],
              false,
            )
          : valid.build(RADIUS_CODES['Access-Request'], gateway);
        let answer: Awaited<ReturnType<TestNas['send']>>;
        for (let attempt = 0; attempt < 5 && !answer; attempt++) {
          validSent++;
          answer = await valid.send(acct ? radius.acctPort : radius.authPort, bytes, 1000);
        }
        if (!answer) throw new Error(`valid request ${i} was never answered`);
        validAnswered++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();

    const random = seededRandom(0x7ad15);
    let fuzzSent = 0;
    let unknownSent = 0;
    const BURST = 400;
    for (let n = 0; n < PER_SOURCE_AND_PORT; n += BURST / 4) {
      for (let j = 0; j < BURST / 4; j++) {
        for (const port of ['auth', 'acct'] as const) {
          const pool = seeds[port];
          for (const socket of [known, unknown]) {
            const seed = pool[Math.floor(random() * pool.length)] as Uint8Array;
            const datagram = random() < 0.15 ? randomBytes(random, 300) : mutate(random, seed);
            socket.send(datagram, port === 'auth' ? radius.authPort : radius.acctPort, '127.0.0.1');
            fuzzSent++;
            if (socket === unknown) unknownSent++;
          }
        }
      }
      // Flow control: let the server take in this burst before the next, so the kernel drops none.
      const target = before.received + fuzzSent;
      for (let spins = 0; receivedNow() - validSent < target && spins < 20_000; spins++) {
        await new Promise((r) => setImmediate(r));
      }
    }
    streaming = false;
    await stream;
    valid.close();
    known.close();
    unknown.close();
    // Let queued work settle.
    await api.platform.aaa.accounting.drained();
    await new Promise((r) => setTimeout(r, 100));

    expect(fuzzSent).toBeGreaterThanOrEqual(100_000);
    expect(validAnswered).toBeGreaterThan(10);
    const received = receivedNow() - before.received;
    expect(received).toBe(fuzzSent + validSent);
    const dropped = Object.fromEntries(
      Object.entries(stats.dropped).map(([k, v]) => [k, v - (before.dropped as Record<string, number>)[k]!]),
    ) as Record<string, number>;
    expect(dropped.unknown_client).toBe(unknownSent);
    expect(dropped.failed).toBe(0);
    const knownDrops = Object.entries(dropped)
      .filter(([k]) => k !== 'unknown_client')
      .reduce((a, [, v]) => a + v, 0);
    // Most mutated datagrams fail a check. Those that survive are mutations past the Length field
    // (octets the RFC says to ignore), i.e. their valid seed again: answered once, then duplicates.
    const duplicates = stats.duplicates - before.duplicates;
    const answered = stats.answered.auth + stats.answered.acct - before.answered.auth - before.answered.acct;
    expect(knownDrops).toBeGreaterThan(0.75 * (fuzzSent - unknownSent));
    expect(knownDrops + duplicates + (answered - validAnswered)).toBeGreaterThanOrEqual(
      fuzzSent - unknownSent,
    );
  });
});
