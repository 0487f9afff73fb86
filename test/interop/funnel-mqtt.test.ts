// Funnel → MQTT against a real Mosquitto started by this test (its own port, password file, ACL and
// persistence directory, so it can be restarted with its sessions kept). Devices attach over RADIUS
// and post from their session addresses. Threats covered: a message acknowledged to a device (204)
// that no subscriber gets — also across a broker restart under load; a wrong password, a user the
// ACL forbids to publish, a topic nobody subscribes to (the broker drops the message) answered
// anything but a clear refusal; the broker's password reaching a device or a log. Also over TLS
// (mqtts with a private CA), with beammqtt's TLS Mosquitto.

import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePrograms } from '../helpers/external.js';
import {
  createCredential,
  type FunnelWorld,
  funnelDevice,
  postFrom,
  startFunnelWorld,
} from '../servers/beam/funnel-fixture.js';
import { type MosquittoBroker, startPersistentMosquitto } from './helpers/funnel-brokers.js';
import { checkAtLeastOnce, loadThroughRestart } from './helpers/funnel-load.js';
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.js';

const ok = requirePrograms({ mosquitto: 'mosquitto', mosquitto_passwd: 'mosquitto', openssl: 'openssl' });

interface Received {
  readonly topic: string;
  readonly body: Record<string, unknown>;
  readonly id: string | undefined;
}

/**
 * A subscriber with a persistent session (clean: false, QoS 1) that reconnects by itself: the broker
 * keeps what arrives for it while it is away, also across a restart.
 */
async function subscriber(
  port: number,
  user: { name: string; password: string },
  topic: string,
): Promise<{ client: MqttClient; received: Received[] }> {
  const received: Received[] = [];
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    protocolVersion: 5,
    clientId: `funnel-test-${Math.random().toString(36).slice(2)}`,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    username: user.name,
    password: user.password,
    reconnectPeriod: 100,
  });
  client.on('error', () => undefined);
  client.on('message', (t, payload, packet) => {
    const id = packet.properties?.userProperties?.['funnel-message-id'];
    received.push({
      topic: t,
      body: JSON.parse(payload.toString()),
      id: typeof id === 'string' ? id : undefined,
    });
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => client.subscribe(topic, { qos: 1 }, (e) => (e ? reject(e) : resolve())));
  });
  return { client, received };
}

async function until(condition: () => boolean, what: string, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!ok)('Funnel → MQTT (Mosquitto)', () => {
  let world: FunnelWorld;
  let broker: MosquittoBroker;
  let credId: string;
  let sub: Awaited<ReturnType<typeof subscriber>>;

  const destination = (extra: Record<string, unknown> = {}) => ({
    provider: 'mqtt',
    resourceUrl: `mqtt://127.0.0.1:${broker.port}`,
    topic: 'funnel/#{imsi}/up',
    ...extra,
  });

  beforeAll(async () => {
    broker = await startPersistentMosquitto();
    world = await startFunnelWorld();
    credId = await createCredential(world, 'username-password-credentials', {
      username: broker.user.name,
      password: broker.user.password,
    });
    sub = await subscriber(broker.port, broker.reader, 'funnel/#');
  }, 60_000);
  afterAll(async () => {
    await sub?.client.endAsync(true);
    await world?.close();
    await broker?.stop();
  });

  it('answers 204 once the broker acknowledged at QoS 1; the subscriber gets the envelope on topic/IMSI', async () => {
    const { sim, address } = await funnelDevice(world, {
      enabled: true,
      destination: destination(),
      credentialsId: credId,
      contentType: 'text',
    });
    const r = await postFrom(world, address, 'hello broker', 'text/plain');
    expect([r.status, r.body]).toEqual([204, '']);
    await until(() => sub.received.some((m) => m.body.imsi === sim.imsi), 'the message at the subscriber');
    const m = sub.received.find((x) => x.body.imsi === sim.imsi);
    expect(m?.topic).toBe(`funnel/${sim.imsi}/up`);
    expect(m?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(m?.body).toMatchObject({
      payloads: 'hello broker',
      sourceProtocol: 'http',
      operatorId: world.operatorId,
    });
  });

  it('refuses clearly: wrong password, a user the ACL forbids, a topic nobody takes — nothing delivered', async () => {
    const wrong = await createCredential(world, 'username-password-credentials', {
      username: broker.user.name,
      password: 'wrong-password-77ab-do-not-leak',
    });
    const reader = await createCredential(world, 'username-password-credentials', {
      username: broker.reader.name,
      password: broker.reader.password,
    });
    const count = sub.received.length;
    for (const [config, message] of [
      [{ credentialsId: wrong }, 'refused the log-in'],
      [{ credentialsId: reader }, 'not authorized'],
      [{ destination: destination({ topic: 'elsewhere/#{imsi}' }) }, 'no subscriber takes this topic'],
    ] as const) {
      const { address } = await funnelDevice(world, {
        enabled: true,
        destination: destination(),
        credentialsId: credId,
        contentType: 'json',
        ...config,
      });
      const r = await postFrom(world, address, '{"x":1}');
      expect([message, r.status]).toEqual([message, 502]);
      expect([r.status, r.json().code]).toEqual([502, 'ERR_FUNNEL_DESTINATION_REFUSED']);
      expect(r.json().message).toContain(message);
      expect(r.body).not.toContain('do-not-leak');
    }
    expect(sub.received.length).toBe(count);
    const logs = world.logs.join('\n');
    expect(logs).not.toContain('do-not-leak');
    expect(logs).not.toContain(broker.reader.password);
  });

  it('delivers every acknowledged message across a broker restart under load (duplicates counted)', async () => {
    const devices = await Promise.all(
      [0, 1, 2, 3].map(() =>
        funnelDevice(world, {
          enabled: true,
          destination: destination({ topic: 'funnel/load/#{imsi}' }),
          credentialsId: credId,
          contentType: 'json',
        }),
      ),
    );
    const start = sub.received.length;
    const result = await loadThroughRestart({
      world,
      devices: devices.map((d) => d.address),
      restart: () => broker.restart(),
      before: 150,
      after: 150,
    });
    const load = () => sub.received.slice(start).filter((m) => m.topic.startsWith('funnel/load/'));
    const seqs = () => new Set(load().map((m) => (m.body.payloads as { seq: number }).seq));
    // The subscriber is back on its persistent session; what the broker kept for it arrives.
    await until(
      () => [...result.acked].every((n) => seqs().has(n)),
      'every acknowledged message at the subscriber',
    );
    // A message the subscriber got twice with the same id is the broker's redelivery, not a second copy.
    const copies = new Map<string, number>();
    for (const m of load()) copies.set(m.id ?? '', (copies.get(m.id ?? '') ?? 0) + 1);
    const distinct = [...new Map(load().map((m) => [m.id, m])).values()];
    const { missing, duplicates } = checkAtLeastOnce(
      result.acked,
      distinct.map((m) => (m.body.payloads as { seq: number }).seq),
    );
    console.info(
      `funnel mqtt restart: ${result.acked.size} acknowledged (${result.ackedBeforeRestart} before, ${result.ackedAfterRestart} after the restart), ${result.notAcked} answered ${JSON.stringify([...result.statuses])}, ${distinct.length} distinct messages at the subscriber, ${duplicates} duplicates, ${load().length - distinct.length} redeliveries`,
    );
    expect(missing).toEqual([]);
  }, 180_000);
});

describe.skipIf(!ok)('Funnel → MQTTS (Mosquitto with TLS and a private CA)', () => {
  let world: FunnelWorld;
  let tls: Mosquitto;

  beforeAll(async () => {
    tls = await startMosquitto();
    // The deployment trusts the private CA (beamDestinationCaFile).
    world = await startFunnelWorld({ extraCa: tls.ca });
  }, 60_000);
  afterAll(async () => {
    await world?.close();
    await tls?.stop();
  });

  const device = (port: number, credentialsId: string) =>
    funnelDevice(world, {
      enabled: true,
      destination: { provider: 'mqtt', resourceUrl: `mqtts://127.0.0.1:${port}`, topic: 'tls/#{imsi}' },
      credentialsId,
      contentType: 'json',
    });

  it('delivers over TLS to a broker whose certificate the deployment trusts; refuses one that does not verify', async () => {
    const sub = await subscriber(tls.plainPort, { name: tls.username, password: tls.password }, 'tls/#');
    try {
      const password = await createCredential(world, 'username-password-credentials', {
        username: tls.username,
        password: tls.password,
      });
      const { sim, address } = await device(tls.tlsPort, password);
      expect((await postFrom(world, address, '{"secure":true}')).status).toBe(204);
      await until(() => sub.received.some((m) => m.topic === `tls/${sim.imsi}`), 'the message over TLS');
      // An x509 set whose CA is not the broker's: its `ca` replaces the trusted ones, so the handshake fails.
      const otherCa = await createCredential(world, 'x509', {
        cert: tls.clientCert,
        key: tls.clientKey,
        ca: tls.clientCert,
      });
      const refused = await postFrom(world, (await device(tls.tlsPort, otherCa)).address, '{}');
      expect([refused.status, refused.json().code]).toEqual([502, 'ERR_FUNNEL_DESTINATION_REFUSED']);
      expect(refused.json().message).toContain('TLS handshake');
      // The x509 set with the right CA: the listener that requires a client certificate takes the
      // handshake, then refuses the log-in (it also wants a password): the certificate was presented.
      const cert = await createCredential(world, 'x509', {
        cert: tls.clientCert,
        key: tls.clientKey,
        ca: tls.ca,
      });
      const login = await postFrom(world, (await device(tls.mtlsPort, cert)).address, '{}');
      expect([login.status, login.json().code]).toEqual([502, 'ERR_FUNNEL_DESTINATION_REFUSED']);
      expect(login.json().message).toContain('refused the log-in');
      expect(world.logs.join('\n')).not.toContain(tls.password);
    } finally {
      await sub.client.endAsync(true);
    }
  });
});
