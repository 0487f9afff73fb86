// Funnel's HTTP, TCP and UDP entry points end to end, from simulated devices on their session
// addresses (RADIUS attach, 127.64.x) to an in-memory broker behind the adapter contract (the real
// brokers are in test/interop/funnel-*.test.ts). Threats covered: a device without a session, with
// a suspended SIM, or behind another operator's session address getting anything delivered; a
// device answered 204 for a message the broker did not confirm; a credential leaking into an
// answer or a log; a group pointing Funnel at the platform's own network; malformed bodies and TCP
// first lines (fuzz) crashing an entry point or being delivered.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BrokerPublisher,
  COMMON_ERRORS,
  type FunnelAdapter,
  type FunnelMessage,
  type FunnelTarget,
  failure,
} from '../../../src/servers/beam/funnel/adapter.js';
import { addOperator, httpFrom } from '../../e2e/endorse-fixture.js';
import {
  createCredential,
  type FunnelWorld,
  funnelDevice,
  postFrom,
  startFunnelWorld,
  tcpExchange,
  udpExchange,
} from './funnel-fixture.js';

/** A broker in memory: what it stored, and how it answers the next messages. */
const broker = {
  stored: [] as Array<FunnelMessage & { target: FunnelTarget }>,
  targets: [] as FunnelTarget[],
  /** 'ok', a failure code of MEMORY_ERRORS, or 'hang' (never confirms). */
  mode: 'ok' as 'ok' | 'hang' | keyof typeof MEMORY_ERRORS,
};
const MEMORY_ERRORS = {
  ...COMMON_ERRORS,
  MEMORY_REFUSED: { kind: 'refused', message: 'the memory broker refused the message' },
  MEMORY_DOWN: { kind: 'unavailable', message: 'the memory broker is down' },
} as const;

const memoryAdapter = (provider: 'amqp' | 'nats' | 'mqtt'): FunnelAdapter => ({
  provider,
  credentialTypes: ['username-password-credentials', 'x509', 'api-token-credentials'],
  errors: MEMORY_ERRORS,
  publisher: (target) => {
    broker.targets.push(target);
    return new BrokerPublisher(
      {
        classify: (e) =>
          e instanceof Error && e.message in MEMORY_ERRORS
            ? failure(MEMORY_ERRORS, e.message)
            : failure(MEMORY_ERRORS, 'MEMORY_DOWN'),
        open: async () => ({
          send: (message) => {
            if (broker.mode === 'hang') return new Promise<void>(() => undefined);
            if (broker.mode !== 'ok') return Promise.reject(new Error(broker.mode));
            broker.stored.push({ ...message, target });
            return Promise.resolve();
          },
          onClose: () => undefined,
          close: async () => undefined,
        }),
      },
      MEMORY_ERRORS,
    );
  },
});

let world: FunnelWorld;
const PASSWORD = 'broker-password-6c1f0e-do-not-leak';
let credId: string;

beforeAll(async () => {
  world = await startFunnelWorld({
    config: { funnelPublishTimeoutSeconds: 1 },
    adapters: { amqp: memoryAdapter('amqp'), nats: memoryAdapter('nats'), mqtt: memoryAdapter('mqtt') },
  });
  credId = await createCredential(world, 'username-password-credentials', {
    username: 'fleet',
    password: PASSWORD,
  });
});
afterAll(() => world?.close());

const amqpDestination = {
  provider: 'amqp',
  resourceUrl: 'amqp://127.0.0.1:5672/iot',
  exchange: 'telemetry',
  routingKey: 'sim.#{imsi}',
};
const configured = (extra: Record<string, unknown> = {}) => ({
  enabled: true,
  destination: amqpDestination,
  credentialsId: credId,
  contentType: 'json',
  ...extra,
});
const last = () => broker.stored.at(-1) as (typeof broker.stored)[number];
const lastEnvelope = () => JSON.parse(last().body.toString()) as Record<string, unknown>;

describe('Funnel HTTP entry point', () => {
  it('answers 204 after the broker confirmed, with SORACOM’s envelope: identity, payloads, no secret', async () => {
    const { sim, address } = await funnelDevice(world, configured({ addSimId: true }));
    const before = Date.now();
    const r = await postFrom(world, address, '{"temp": 21.5, "deep": [[[1e400]]]}');
    expect([r.status, r.body]).toEqual([204, '']);
    expect(last().route).toBe(`sim.${sim.imsi}`);
    expect(last().contentType).toBe('application/json');
    expect(last().id).toMatch(/^[0-9a-f-]{36}$/);
    const e = lastEnvelope();
    expect(e).toMatchObject({
      operatorId: world.operatorId,
      credentialsId: credId,
      sourceProtocol: 'http',
      imsi: sim.imsi,
      imei: expect.stringMatching(/^35693803564380/),
      simId: sim.simId,
      destination: {
        provider: 'amqp',
        service: 'rabbitmq',
        resourceUrl: 'amqp://127.0.0.1:5672/iot',
        exchange: 'telemetry',
      },
    });
    // The destination as the group wrote it (service filled in), nothing the platform derived.
    expect(e.destination).toEqual({ ...amqpDestination, service: 'rabbitmq' });
    expect(e.timestamp as number).toBeGreaterThanOrEqual(before);
    // The device's JSON as it sent it (1e400 is not turned into null by a parse/serialise round).
    expect(last().body.toString()).toContain('"payloads":{"temp": 21.5, "deep": [[[1e400]]]}');
    // The credential went to the adapter, never into the message.
    expect(last().target.credential).toMatchObject({ username: 'fleet', password: PASSWORD });
    expect(last().body.toString()).not.toContain(PASSWORD);
  });

  it('reads payloads as text, binary, or by Content-Type (unspecified); payloadsOnly sends the payload alone', async () => {
    const text = await funnelDevice(world, configured({ contentType: 'text' }));
    expect((await postFrom(world, text.address, 'héllo', 'application/octet-stream')).status).toBe(204);
    expect(lastEnvelope().payloads).toBe('héllo');
    const binary = await funnelDevice(world, configured({ contentType: 'binary' }));
    expect((await postFrom(world, binary.address, '{"a":1}')).status).toBe(204);
    expect(Buffer.from(lastEnvelope().payloads as string, 'base64').toString()).toBe('{"a":1}');
    const any = await funnelDevice(world, configured({ contentType: 'unspecified' }));
    await postFrom(world, any.address, '{"b":2}', 'application/json');
    expect(lastEnvelope().payloads).toEqual({ b: 2 });
    await postFrom(world, any.address, 'plain', 'text/plain; charset=utf-8');
    expect(lastEnvelope().payloads).toBe('plain');
    await postFrom(world, any.address, 'raw', 'application/octet-stream');
    expect(lastEnvelope().payloads).toBe(Buffer.from('raw').toString('base64'));
    const only = await funnelDevice(
      world,
      configured({ destination: { ...amqpDestination, payloadsOnly: true } }),
    );
    expect((await postFrom(world, only.address, '{"c":3}')).status).toBe(204);
    expect([last().body.toString(), last().contentType]).toEqual(['{"c":3}', 'application/json']);
  });

  it('answers 400 for invalid JSON (contentType json) and non-UTF-8 text, delivering nothing', async () => {
    const json = await funnelDevice(world, configured());
    const text = await funnelDevice(world, configured({ contentType: 'text' }));
    const count = broker.stored.length;
    for (const [address, body] of [
      [json.address, 'bad text'],
      [json.address, ''],
      [json.address, '{"a":'],
      [text.address, Buffer.from([0xff, 0xfe, 0x00])],
    ] as const) {
      const r = await postFrom(world, address, body);
      expect([r.status, r.json().code]).toEqual([400, 'ERR_FUNNEL_INVALID_PAYLOAD']);
    }
    expect(broker.stored.length).toBe(count);
  });

  it('takes 800000 bytes (SORACOM’s limit) and answers 413 above it', async () => {
    const { address } = await funnelDevice(world, configured({ contentType: 'text' }));
    expect((await postFrom(world, address, 'x'.repeat(800_000), 'text/plain')).status).toBe(204);
    expect(last().body.length).toBeGreaterThan(800_000);
    const count = broker.stored.length;
    const r = await postFrom(world, address, 'x'.repeat(800_001), 'text/plain');
    expect([r.status, r.json().code]).toEqual([413, 'ERR_PAYLOAD_TOO_LARGE']);
    expect(r.json().message).toContain('800000');
    expect(broker.stored.length).toBe(count);
  });

  it('delivers nothing without a session, for a suspended SIM, behind another operator’s session, or unconfigured', async () => {
    const count = broker.stored.length;
    const none = await postFrom(world, '127.65.0.9', '{}');
    expect([none.status, none.json().code]).toEqual([403, 'ERR_BEAM_NO_SESSION']);
    // X-Forwarded-For is not a source address.
    const forwarded = await httpFrom('127.65.0.9', `${world.httpUrl}/`, {
      method: 'POST',
      body: '{}',
      headers: {
        'content-type': 'application/json',
        'x-forwarded-for': (await funnelDevice(world, configured())).address,
      },
    });
    expect(forwarded.status).toBe(403);
    const suspended = await funnelDevice(world, configured());
    await world.platform.sims.transition(world.ctx('Sim:suspendSim'), suspended.sim.simId, 'suspend');
    const s = await postFrom(world, suspended.address, '{}');
    expect([s.status, s.json().code]).toEqual([403, 'ERR_BEAM_SIM_NOT_ACTIVE']);
    const other = await addOperator(world);
    const foreign = await funnelDevice(world, configured());
    await world.platform.store.db
      .updateTable('sim_sessions')
      .set({ operator_id: other.operatorId })
      .where('ue_ip', '=', foreign.address)
      .execute();
    const f = await postFrom(world, foreign.address, '{}');
    expect([f.status, f.json().code]).toEqual([403, 'ERR_BEAM_NO_SESSION']);
    for (const config of [{}, { ...configured(), enabled: false }, { enabled: true }]) {
      const d = await funnelDevice(world, config);
      const r = await postFrom(world, d.address, '{}');
      expect([r.status, r.json().code]).toEqual([404, 'ERR_FUNNEL_NOT_CONFIGURED']);
    }
    expect(broker.stored.length).toBe(count);
  });

  it('answers what the broker said: refused 502, unavailable 503, no confirmation in time 504 — never 204', async () => {
    const { address } = await funnelDevice(world, configured());
    try {
      for (const [mode, status, code] of [
        ['MEMORY_REFUSED', 502, 'ERR_FUNNEL_DESTINATION_REFUSED'],
        ['MEMORY_DOWN', 503, 'ERR_FUNNEL_DESTINATION_UNAVAILABLE'],
        ['hang', 504, 'ERR_FUNNEL_DESTINATION_TIMEOUT'],
      ] as const) {
        broker.mode = mode;
        const r = await postFrom(world, address, '{"n":1}');
        expect([r.status, r.json().code]).toEqual([status, code]);
        expect(r.body).not.toContain(PASSWORD);
      }
      expect(JSON.parse((await postFrom(world, address, '{}')).body).message).toContain('did not confirm');
    } finally {
      broker.mode = 'ok';
    }
    expect((await postFrom(world, address, '{"n":2}')).status).toBe(204);
    expect(world.logs.join('\n')).not.toContain(PASSWORD);
  });

  it('refuses a missing or unsuitable credential set, and an amqp destination without one (502)', async () => {
    const psk = await createCredential(world, 'psk', { key: 'psk-secret-0a9b-do-not-leak' });
    for (const config of [
      configured({ credentialsId: 'no-such-set' }),
      configured({ credentialsId: psk }),
      { enabled: true, destination: amqpDestination },
    ]) {
      const d = await funnelDevice(world, config);
      const r = await postFrom(world, d.address, '{}');
      expect([r.status, r.json().code]).toEqual([502, 'ERR_FUNNEL_CREDENTIALS']);
      expect(r.body).not.toContain('psk-secret');
    }
  });

  it('does not reach an address the destination policy refuses (the platform’s own network)', async () => {
    const targets = broker.targets.length;
    for (const resourceUrl of [
      'amqp://10.0.0.1/',
      'amqp://169.254.169.254/',
      'amqp://localhost/',
      'amqp://[::1]/',
    ]) {
      const d = await funnelDevice(world, configured({ destination: { ...amqpDestination, resourceUrl } }));
      const r = await postFrom(world, d.address, '{}');
      expect([r.status, r.json().code]).toEqual([502, 'ERR_BEAM_DESTINATION_REFUSED']);
    }
    expect(broker.targets.length).toBe(targets);
  });

  it('pools one publisher per operator, destination and credential set', async () => {
    const a = await funnelDevice(
      world,
      configured({ destination: { ...amqpDestination, exchange: 'pooled' } }),
    );
    const b = await funnelDevice(
      world,
      configured({ destination: { ...amqpDestination, exchange: 'pooled' } }),
    );
    const targets = broker.targets.length;
    await Promise.all([0, 1, 2, 3].map((i) => postFrom(world, i % 2 ? a.address : b.address, `{"i":${i}}`)));
    expect(broker.targets.length - targets).toBe(1);
    const other = await createCredential(world, 'username-password-credentials', {
      username: 'u2',
      password: 'p2',
    });
    const c = await funnelDevice(
      world,
      configured({ credentialsId: other, destination: { ...amqpDestination, exchange: 'pooled' } }),
    );
    await postFrom(world, c.address, '{}');
    expect(broker.targets.length - targets).toBe(2);
  });

  it('answers 405 to other methods and 400 to malformed HTTP', async () => {
    const r = await httpFrom('127.0.0.1', `${world.httpUrl}/`);
    expect([r.status, r.json().code]).toEqual([405, 'ERR_FUNNEL_METHOD']);
  });
});

describe('Funnel TCP and UDP entry points', () => {
  it('TCP: one message per segment, "200" after each confirmation; invalid JSON answered and closed', async () => {
    const { sim, address } = await funnelDevice(world, configured());
    const count = broker.stored.length;
    const ok1 = await tcpExchange(world, address, ['{"a":1}', '{"a":2}']);
    expect(ok1).toEqual({ answers: ['200', '200'], closedByPeer: false });
    expect(broker.stored.length).toBe(count + 2);
    expect(lastEnvelope()).toMatchObject({ sourceProtocol: 'tcp', imsi: sim.imsi, payloads: { a: 2 } });
    const bad = await tcpExchange(world, address, ['bad text', '{"never":1}']);
    expect(bad.closedByPeer).toBe(true);
    expect(bad.answers).toHaveLength(1);
    expect(bad.answers[0]).toMatch(/^400 Invalid JSON/);
    expect(broker.stored.length).toBe(count + 2);
  });

  it('TCP: no session → "403 …" and closed; a refusing broker → "502 …", the connection kept', async () => {
    const none = await tcpExchange(world, '127.65.0.10', ['{}'], { awaitClose: true });
    expect(none.closedByPeer).toBe(true);
    expect(none.answers[0]).toMatch(/^403 /);
    const { address } = await funnelDevice(world, configured());
    broker.mode = 'MEMORY_REFUSED';
    try {
      const r = await tcpExchange(world, address, ['{}', '{}']);
      expect(r).toEqual({
        answers: ['502 the memory broker refused the message', '502 the memory broker refused the message'],
        closedByPeer: false,
      });
    } finally {
      broker.mode = 'ok';
    }
  });

  it('UDP: "200" per datagram; "400 …" for invalid JSON; no answer at all to an address without a session', async () => {
    const { sim, address } = await funnelDevice(world, configured());
    expect(await udpExchange(world, address, '{"u":1}')).toBe('200');
    expect(lastEnvelope()).toMatchObject({ sourceProtocol: 'udp', imsi: sim.imsi, payloads: { u: 1 } });
    expect(await udpExchange(world, address, 'nope')).toMatch(/^400 Invalid JSON/);
    // A forged source must not get answers (no reflection): the refusal is counted, nothing is sent
    // back; a datagram from a device sent after it is answered, so any answer would have come first.
    const refusedBefore = world.funnel.ingress.stats.errors.get('ERR_BEAM_NO_SESSION') ?? 0;
    const silent = udpExchange(world, '127.65.0.11', '{}', 30_000);
    const deadline = Date.now() + 10_000;
    while ((world.funnel.ingress.stats.errors.get('ERR_BEAM_NO_SESSION') ?? 0) === refusedBefore) {
      if (Date.now() > deadline) throw new Error('the datagram without a session was not seen');
      await new Promise((r) => setImmediate(r));
    }
    expect(await udpExchange(world, address, '{"u":2}')).toBe('200');
    const race = await Promise.race([silent, Promise.resolve('no answer yet')]);
    expect(race).toBe('no answer yet');
  });
});

describe('usage and metrics', () => {
  it('records each message per SIM (delivered, refused, failed) and counts them in /metrics', async () => {
    const { sim, address } = await funnelDevice(world, configured());
    await postFrom(world, address, '{"ok":true}');
    await postFrom(world, address, 'not json');
    broker.mode = 'MEMORY_DOWN';
    await postFrom(world, address, '{}').finally(() => {
      broker.mode = 'ok';
    });
    await world.platform.beamUsage.flush();
    const status = await world.platform.store.db
      .selectFrom('beam_sim_status')
      .selectAll()
      .where('sim_id', '=', sim.simId)
      .where('service', '=', 'funnel')
      .executeTakeFirstOrThrow();
    expect(status.last_delivery_entry_point).toBe('http');
    expect(status.last_error).toContain('ERR_FUNNEL_DESTINATION_UNAVAILABLE MEMORY_DOWN');
    const text = await world.metrics.metrics();
    expect(text).toMatch(/simtrust_funnel_messages_total\{outcome="delivered"\} [1-9]/);
    expect(text).toMatch(/simtrust_funnel_errors_total\{code="ERR_FUNNEL_INVALID_PAYLOAD"\} [1-9]/);
    expect(text).toMatch(/simtrust_funnel_errors_total\{code="MEMORY_DOWN"\} [1-9]/);
  });
});

describe('fuzz', () => {
  it('HTTP bodies: 204 exactly when the body is JSON, else 400 — never a 5xx, never a crash', async () => {
    const { address } = await funnelDevice(world, configured());
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json().map((t) => Buffer.from(t)),
          fc.string().map((t) => Buffer.from(t)),
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc
            .constantFrom('[', '{"a":1}}', '\uFEFF{}', '1e99999', '"\\ud800"', 'null', ' [] ')
            .map((t) => Buffer.from(t)),
        ),
        async (body) => {
          const r = await postFrom(world, address, body);
          // The oracle: UTF-8 (a byte-order mark is not JSON whitespace) that JSON.parse takes.
          let valid = true;
          try {
            JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body));
          } catch {
            valid = false;
          }
          expect(r.status).toBe(valid ? 204 : 400);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('TCP first lines and UDP datagrams: an answer of 200 or 400, nothing delivered that is not JSON', async () => {
    const { address } = await funnelDevice(world, configured());
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), async (bytes) => {
        const count = broker.stored.length;
        const data = Buffer.from(bytes);
        const r = await tcpExchange(world, address, [data]);
        expect(r.answers.length).toBe(1);
        expect(r.answers[0]).toMatch(/^(200|400 .+)$/);
        expect(broker.stored.length).toBe(count + (r.answers[0] === '200' ? 1 : 0));
        const u = await udpExchange(world, address, data);
        expect(u).toMatch(/^(200|400 .+)$/);
      }),
      { numRuns: 80 },
    );
  });
});
