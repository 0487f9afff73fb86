// Funnel's adapters: each error table declared once and walked by one test (every row well-formed
// and documented), each adapter's classification of its library's and broker's errors as vectors,
// and the publisher contract every adapter shares — a message is settled exactly once, never
// "confirmed" unless the driver's send resolved. Threats: a device told 204 for a message the broker
// never confirmed; a broker's or library's text (with a user name or more) reaching the device.

import { readFileSync } from 'node:fs';
import { errors as natsErrors } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import {
  type BrokerConnection,
  BrokerPublisher,
  COMMON_ERRORS,
  type FunnelErrorTable,
  type FunnelMessage,
  failure,
} from '../../../src/servers/beam/funnel/adapter.js';
import { AMQP_ERRORS, amqpAdapter, classifyAmqp } from '../../../src/servers/beam/funnel/adapters/amqp.js';
import { classifyMqtt, MQTT_ERRORS, mqttAdapter } from '../../../src/servers/beam/funnel/adapters/mqtt.js';
import {
  classifyNats,
  NATS_ERRORS,
  natsJetStreamAdapter,
} from '../../../src/servers/beam/funnel/adapters/nats-jetstream.js';

const withCode = (message: string, code: unknown) => Object.assign(new Error(message), { code });

describe('error tables', () => {
  const doc = readFileSync('docs/funnel-funk.md', 'utf8');
  const adapters = [amqpAdapter, natsJetStreamAdapter(1000), mqttAdapter];

  it('every row has a kind and a message that says what happened, and is in docs/funnel-funk.md', () => {
    for (const adapter of adapters) {
      for (const [code, row] of Object.entries(adapter.errors)) {
        expect(['refused', 'unavailable', 'timeout']).toContain(row.kind);
        expect(row.message.length).toBeGreaterThan(20);
        expect(code).toMatch(/^[A-Z][A-Z_]+$/);
        expect([adapter.provider, code, doc.includes(`\`${code}\``)]).toEqual([adapter.provider, code, true]);
      }
      // The rows every adapter shares are in every table.
      for (const code of Object.keys(COMMON_ERRORS)) expect(adapter.errors).toHaveProperty(code);
    }
  });

  it('failure() refuses a code that is not in the table', () => {
    expect(() => failure(AMQP_ERRORS, 'NO_SUCH_CODE')).toThrow();
  });
});

describe('classification (vectors)', () => {
  const tls = withCode('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT');
  const refused = withCode('connect ECONNREFUSED 127.0.0.1:5672', 'ECONNREFUSED');
  const vectors: Array<
    [
      string,
      (e: unknown, p: 'connect' | 'publish') => { code: string },
      unknown,
      'connect' | 'publish',
      string,
    ]
  > = [
    [
      'amqp',
      classifyAmqp,
      new Error(
        'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"',
      ),
      'connect',
      'AMQP_LOGIN_REFUSED',
    ],
    [
      'amqp',
      classifyAmqp,
      new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'),
      'connect',
      'AMQP_VHOST_NOT_ALLOWED',
    ],
    [
      'amqp',
      classifyAmqp,
      withCode('Channel closed by server: 403 (ACCESS-REFUSED)', 403),
      'publish',
      'AMQP_ACCESS_REFUSED',
    ],
    [
      'amqp',
      classifyAmqp,
      withCode('Channel closed by server: 404 (NOT-FOUND)', 404),
      'connect',
      'AMQP_NOT_FOUND',
    ],
    [
      'amqp',
      classifyAmqp,
      withCode('Connection closed: 320 (CONNECTION-FORCED)', 320),
      'publish',
      'AMQP_CLOSED_BY_BROKER',
    ],
    ['amqp', classifyAmqp, withCode('Connection closed: 541', 541), 'publish', 'AMQP_RESOURCE'],
    [
      'amqp',
      classifyAmqp,
      withCode('Channel closed by server: 406 (PRECONDITION-FAILED)', 406),
      'publish',
      'AMQP_PROTOCOL',
    ],
    ['amqp', classifyAmqp, new Error('message nacked'), 'publish', 'AMQP_NACK'],
    ['amqp', classifyAmqp, new Error('channel closed'), 'publish', 'AMQP_CLOSED_BY_BROKER'],
    ['amqp', classifyAmqp, refused, 'connect', 'DESTINATION_UNREACHABLE'],
    ['amqp', classifyAmqp, new AggregateError([refused]), 'connect', 'DESTINATION_UNREACHABLE'],
    ['amqp', classifyAmqp, tls, 'connect', 'DESTINATION_TLS'],
    ['amqp', classifyAmqp, new Error('something else'), 'publish', 'DESTINATION_ERROR'],
    [
      'mqtt',
      classifyMqtt,
      withCode('Connection refused: Bad User Name or Password', 0x86),
      'connect',
      'MQTT_LOGIN_REFUSED',
    ],
    [
      'mqtt',
      classifyMqtt,
      withCode('Connection refused: Not authorized', 5),
      'connect',
      'MQTT_LOGIN_REFUSED',
    ],
    ['mqtt', classifyMqtt, withCode('Connection refused: Server busy', 0x89), 'connect', 'MQTT_BROKER_BUSY'],
    [
      'mqtt',
      classifyMqtt,
      withCode('Connection refused: Unsupported Protocol Version', 0x84),
      'connect',
      'MQTT_CONNECT_REFUSED',
    ],
    ['mqtt', classifyMqtt, withCode('Publish error: Not authorized', 0x87), 'publish', 'MQTT_NOT_AUTHORIZED'],
    ['mqtt', classifyMqtt, withCode('Publish error: Quota exceeded', 0x97), 'publish', 'MQTT_QUOTA'],
    ['mqtt', classifyMqtt, withCode('Publish error: Topic Name invalid', 0x90), 'publish', 'MQTT_REJECTED'],
    ['mqtt', classifyMqtt, new Error('client disconnecting'), 'publish', 'MQTT_CLOSED'],
    ['mqtt', classifyMqtt, refused, 'connect', 'DESTINATION_UNREACHABLE'],
    ['mqtt', classifyMqtt, tls, 'connect', 'DESTINATION_TLS'],
    [
      'nats',
      classifyNats,
      new natsErrors.AuthorizationError('Authorization Violation'),
      'connect',
      'NATS_AUTHORIZATION',
    ],
    [
      'nats',
      classifyNats,
      new natsErrors.PermissionViolationError('Permissions Violation for Publish to "x"', 'publish', 'x'),
      'publish',
      'NATS_PERMISSION',
    ],
    [
      'nats',
      classifyNats,
      Object.assign(new Error('jetstream is not enabled'), { name: 'JetStreamNotEnabled' }),
      'publish',
      'NATS_NO_STREAM',
    ],
    ['nats', classifyNats, new natsErrors.NoRespondersError('x'), 'publish', 'NATS_NO_STREAM'],
    ['nats', classifyNats, new natsErrors.TimeoutError(), 'publish', 'CONFIRM_TIMEOUT'],
    ['nats', classifyNats, new natsErrors.TimeoutError(), 'connect', 'CONNECT_TIMEOUT'],
    ['nats', classifyNats, new natsErrors.ClosedConnectionError(), 'publish', 'NATS_CLOSED'],
    [
      'nats',
      classifyNats,
      new natsErrors.ConnectionError('x', { cause: refused }),
      'connect',
      'DESTINATION_UNREACHABLE',
    ],
  ];

  it('maps each library or broker error to its row, whose message never repeats the error text', () => {
    for (const [adapter, classify, error, phase, code] of vectors) {
      const f = classify(error, phase) as ReturnType<typeof failure>;
      expect([adapter, (error as Error).message, f.code]).toEqual([adapter, (error as Error).message, code]);
      if ((error as Error).message !== '') expect(f.message).not.toContain((error as Error).message);
    }
  });

  it('each table has its own rows for what its vectors produce', () => {
    const tables: Record<string, FunnelErrorTable> = {
      amqp: AMQP_ERRORS,
      mqtt: MQTT_ERRORS,
      nats: NATS_ERRORS,
    };
    for (const [adapter, , , , code] of vectors) expect(tables[adapter]).toHaveProperty(code);
  });
});

describe('BrokerPublisher (the contract every adapter shares)', () => {
  const TABLE = {
    ...COMMON_ERRORS,
    DESTINATION_ERROR: { kind: 'unavailable', message: 'the broker failed in a test way' },
  } as const;
  const message = (id: string): FunnelMessage => ({
    id,
    route: 'r',
    body: Buffer.from('{}'),
    contentType: 'application/json',
  });

  /** A driver whose connections the test controls: confirm, fail or close each. */
  function controlled() {
    const opened: Array<{
      close(): void;
      sends: Array<{ id: string; resolve(): void; reject(e: unknown): void }>;
    }> = [];
    let openMode: 'ok' | 'hang' | 'fail' = 'ok';
    const driver = {
      classify: () => failure(TABLE, 'DESTINATION_ERROR'),
      open: (): Promise<BrokerConnection> => {
        if (openMode === 'hang') return new Promise(() => undefined);
        if (openMode === 'fail') return Promise.reject(new Error('refused'));
        const listeners: Array<() => void> = [];
        const c = {
          sends: [] as Array<{ id: string; resolve(): void; reject(e: unknown): void }>,
          close: () => {
            for (const l of listeners) l();
          },
        };
        opened.push(c);
        return Promise.resolve({
          send: (m: FunnelMessage) =>
            new Promise<void>((resolve, reject) => {
              c.sends.push({ id: m.id, resolve, reject });
            }),
          onClose: (l: () => void) => listeners.push(l),
          close: async () => c.close(),
        });
      },
    };
    return {
      publisher: new BrokerPublisher(driver, TABLE),
      opened,
      setOpen: (m: typeof openMode) => {
        openMode = m;
      },
    };
  }
  const waitForSend = async (o: ReturnType<typeof controlled>['opened'], n: number) => {
    while ((o.at(-1)?.sends.length ?? 0) < n) await new Promise((r) => setImmediate(r));
  };

  it('answers confirmed only when the driver’s send resolved', async () => {
    const t = controlled();
    const p = t.publisher.publish(message('a'), Date.now() + 10_000);
    await waitForSend(t.opened, 1);
    expect(t.publisher.inFlight).toBe(1);
    t.opened[0]?.sends[0]?.resolve();
    expect(await p).toEqual({ ok: true, value: undefined });
    expect(t.publisher.inFlight).toBe(0);
  });

  it('a connection lost with messages waiting fails them at once (unavailable); the next message opens a new one', async () => {
    const t = controlled();
    const p1 = t.publisher.publish(message('a'), Date.now() + 10_000);
    const p2 = t.publisher.publish(message('b'), Date.now() + 10_000);
    await waitForSend(t.opened, 2);
    t.opened[0]?.close();
    for (const r of await Promise.all([p1, p2]))
      expect(r).toMatchObject({ ok: false, error: { code: 'CONNECTION_LOST', kind: 'unavailable' } });
    // A late confirmation of a lost message changes nothing.
    t.opened[0]?.sends[0]?.resolve();
    const p3 = t.publisher.publish(message('c'), Date.now() + 10_000);
    await waitForSend(t.opened, 1);
    expect(t.opened).toHaveLength(2);
    t.opened[1]?.sends[0]?.resolve();
    expect((await p3).ok).toBe(true);
  });

  it('the driver’s own reason wins over "connection lost" when both come in the same turn', async () => {
    const t = controlled();
    const p = t.publisher.publish(message('a'), Date.now() + 10_000);
    await waitForSend(t.opened, 1);
    t.opened[0]?.sends[0]?.reject(new Error('channel closed with 403'));
    t.opened[0]?.close();
    expect(await p).toMatchObject({ ok: false, error: { code: 'DESTINATION_ERROR' } });
  });

  it('no confirmation by the deadline is a timeout; a connection that does not open is a connect timeout', async () => {
    const t = controlled();
    const p = t.publisher.publish(message('a'), Date.now() + 50);
    expect(await p).toMatchObject({ ok: false, error: { code: 'CONFIRM_TIMEOUT', kind: 'timeout' } });
    const h = controlled();
    h.setOpen('hang');
    expect(await h.publisher.publish(message('b'), Date.now() + 50)).toMatchObject({
      ok: false,
      error: { code: 'CONNECT_TIMEOUT' },
    });
  });

  it('a refused connection is classified by the driver; a closed publisher answers CLOSED and settles what waits', async () => {
    const t = controlled();
    t.setOpen('fail');
    expect(await t.publisher.publish(message('a'), Date.now() + 10_000)).toMatchObject({
      ok: false,
      error: { code: 'DESTINATION_ERROR' },
    });
    t.setOpen('ok');
    const waiting = t.publisher.publish(message('b'), Date.now() + 10_000);
    await waitForSend(t.opened, 1);
    await t.publisher.close();
    expect(await waiting).toMatchObject({ ok: false, error: { code: 'CLOSED' } });
    expect(await t.publisher.publish(message('c'), Date.now() + 10_000)).toMatchObject({
      ok: false,
      error: { code: 'CLOSED' },
    });
  });
});
