// Funnel → RabbitMQ over AMQP 0-9-1. The machine's broker (:5672) with a virtual host and users
// made for this test file, and — for the restart under load — a RabbitMQ node of this test's own
// (own node name, port and Mnesia directory), so restarting it touches nothing else. Devices attach
// over RADIUS and post from their session addresses. Threats covered: a message acknowledged to a
// device (204) that is not in a queue — unroutable (RabbitMQ acks and drops it), or across a broker
// restart under load; a wrong password, a user without write permission, a missing exchange or
// virtual host answered anything but a clear refusal; the broker's password reaching a device or a
// log.

import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrograms } from '../helpers/external.js';
import {
  createCredential,
  type FunnelWorld,
  funnelDevice,
  postFrom,
  startFunnelWorld,
} from '../servers/beam/funnel-fixture.js';
import { type RabbitNode, type RabbitVhost, rabbitVhost, startRabbitNode } from './helpers/funnel-brokers.js';
import { checkAtLeastOnce, loadThroughRestart } from './helpers/funnel-load.js';

const ok = requirePrograms({ rabbitmqctl: 'rabbitmq-server', 'rabbitmq-server': 'rabbitmq-server' });

interface Stored {
  readonly body: Record<string, unknown>;
  readonly properties: amqp.MessageProperties;
  readonly routingKey: string;
}

/** Every message in `queue` now (taken off the queue). */
async function drain(url: string, queue: string): Promise<Stored[]> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    const out: Stored[] = [];
    for (;;) {
      const m = await ch.get(queue, { noAck: true });
      if (m === false) return out;
      out.push({
        body: JSON.parse(m.content.toString()),
        properties: m.properties,
        routingKey: m.fields.routingKey,
      });
    }
  } finally {
    await conn.close();
  }
}

/** A topic exchange, a durable queue bound to it with `pattern`. */
async function topology(url: string, exchange: string, queue: string, pattern: string): Promise<void> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: true });
    await ch.assertQueue(queue, { durable: true });
    await ch.bindQueue(queue, exchange, pattern);
  } finally {
    await conn.close();
  }
}

const urlOf = (port: number, v: RabbitVhost) =>
  `amqp://${v.user.name}:${v.user.password}@127.0.0.1:${port}/${encodeURIComponent(v.vhost)}`;

describe.skipIf(!ok)('Funnel → RabbitMQ (the machine’s broker at :5672)', () => {
  let world: FunnelWorld;
  let v: RabbitVhost;
  let credId: string;
  const url = () => urlOf(5672, v);
  const destination = (extra: Record<string, unknown> = {}) => ({
    provider: 'amqp',
    resourceUrl: `amqp://127.0.0.1:5672/${encodeURIComponent(v.vhost)}`,
    exchange: 'telemetry',
    routingKey: 'sim.#{imsi}',
    ...extra,
  });

  beforeAll(async () => {
    v = await rabbitVhost();
    world = await startFunnelWorld();
    credId = await createCredential(world, 'username-password-credentials', {
      username: v.user.name,
      password: v.user.password,
    });
    await topology(url(), 'telemetry', 'sims', 'sim.*');
  }, 120_000);
  afterAll(async () => {
    await world?.close();
    await v?.remove();
  }, 60_000);

  it('answers 204 once the broker confirmed: persistent, with the message id, routed by the IMSI', async () => {
    const { sim, address } = await funnelDevice(world, {
      enabled: true,
      destination: destination(),
      credentialsId: credId,
      contentType: 'json',
      addSimId: true,
    });
    const r = await postFrom(world, address, '{"level":3}');
    expect([r.status, r.body]).toEqual([204, '']);
    const [m] = await drain(url(), 'sims');
    expect(m?.routingKey).toBe(`sim.${sim.imsi}`);
    expect(m?.properties).toMatchObject({
      deliveryMode: 2,
      contentType: 'application/json',
      appId: 'simtrust-funnel',
    });
    expect(m?.properties.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(m?.body).toMatchObject({
      imsi: sim.imsi,
      simId: sim.simId,
      payloads: { level: 3 },
      sourceProtocol: 'http',
    });
    expect(JSON.stringify(m?.body)).not.toContain(v.user.password);
  });

  it('delivers to a queue through the default exchange (destination.queue)', async () => {
    const { sim, address } = await funnelDevice(world, {
      enabled: true,
      destination: { provider: 'amqp', resourceUrl: destination().resourceUrl, queue: 'sims' },
      credentialsId: credId,
      contentType: 'text',
    });
    expect((await postFrom(world, address, 'queued', 'text/plain')).status).toBe(204);
    const [m] = await drain(url(), 'sims');
    expect(m?.body).toMatchObject({ imsi: sim.imsi, payloads: 'queued' });
  });

  it('refuses clearly: wrong password, no write permission, no such exchange or virtual host, unroutable — nothing stored', async () => {
    const wrong = await createCredential(world, 'username-password-credentials', {
      username: v.user.name,
      password: 'wrong-password-91c2-do-not-leak',
    });
    const reader = await createCredential(world, 'username-password-credentials', {
      username: v.reader.name,
      password: v.reader.password,
    });
    for (const [config, message] of [
      [{ credentialsId: wrong }, 'refused the log-in'],
      [{ credentialsId: reader }, 'may not write to this exchange'],
      [{ destination: destination({ exchange: 'no-such-exchange' }) }, 'exchange does not exist'],
      [{ destination: destination({ resourceUrl: 'amqp://127.0.0.1:5672/no-such-vhost' }) }, 'virtual host'],
      [{ destination: destination({ routingKey: 'nobody.#{imsi}' }) }, 'no queue is bound'],
    ] as const) {
      const { address } = await funnelDevice(world, {
        enabled: true,
        destination: destination(),
        credentialsId: credId,
        contentType: 'json',
        ...config,
      });
      const r = await postFrom(world, address, '{"x":1}');
      expect([message, r.status, r.json().code]).toEqual([message, 502, 'ERR_FUNNEL_DESTINATION_REFUSED']);
      expect(r.json().message).toContain(message);
      expect(r.body).not.toContain('do-not-leak');
    }
    expect(await drain(url(), 'sims')).toEqual([]);
    const logs = world.logs.join('\n');
    expect(logs).not.toContain('do-not-leak');
    expect(logs).not.toContain(v.reader.password);
  });
});

describe.skipIf(!ok)('Funnel → RabbitMQ restarted under load (a node of this test’s own)', () => {
  let world: FunnelWorld;
  let node: RabbitNode;
  let v: RabbitVhost;

  beforeAll(async () => {
    node = await startRabbitNode();
    v = await rabbitVhost(node.node);
    world = await startFunnelWorld();
    await topology(urlOf(node.port, v), 'telemetry', 'load', 'load.*');
  }, 120_000);
  afterAll(async () => {
    await world?.close();
    await node?.stop();
  }, 60_000);

  it('delivers every acknowledged message across the restart (persistent messages, durable queue; duplicates counted)', async () => {
    const credId = await createCredential(world, 'username-password-credentials', {
      username: v.user.name,
      password: v.user.password,
    });
    const devices = await Promise.all(
      [0, 1, 2, 3].map(() =>
        funnelDevice(world, {
          enabled: true,
          destination: {
            provider: 'amqp',
            resourceUrl: `amqp://127.0.0.1:${node.port}/${encodeURIComponent(v.vhost)}`,
            exchange: 'telemetry',
            routingKey: 'load.#{imsi}',
          },
          credentialsId: credId,
          contentType: 'json',
        }),
      ),
    );
    const result = await loadThroughRestart({
      world,
      devices: devices.map((d) => d.address),
      restart: () => node.restart(),
      before: 150,
      after: 150,
    });
    const messages = await drain(urlOf(node.port, v), 'load');
    const { missing, duplicates } = checkAtLeastOnce(
      result.acked,
      messages.map((m) => (m.body.payloads as { seq: number }).seq),
    );
    console.info(
      `funnel amqp restart: ${result.acked.size} acknowledged (${result.ackedBeforeRestart} before, ${result.ackedAfterRestart} after the restart), ${result.notAcked} answered ${JSON.stringify([...result.statuses])}, ${messages.length} stored, ${duplicates} duplicates`,
    );
    expect(missing).toEqual([]);
    expect(result.notAcked).toBeGreaterThan(0);
  }, 240_000);
});
