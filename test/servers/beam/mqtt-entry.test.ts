// Beam's MQTT entry point against a recording broker: what the broker receives for what the device
// sends (topics with /{IMSI}, the configured credentials, mapped packet ids), the QoS 1 order in
// both directions, refusals that open no broker connection, limits and the ends of a connection.
// Threats: a device without a session (or a suspended SIM) reaching the broker with the operator's
// credentials; credentials leaking to the device or the logs; a device exhausting the entry point.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { CONNACK_V3, REASON } from '../../../src/servers/beam/mqtt-packets.js';
import { detach } from '../../e2e/endorse-fixture.js';
import { type MqttWorld, RawMqttClient, RecordingBroker, startMqttWorld, until } from './mqtt-fixture.js';

const SECRET = 'broker-Pa55word-that-must-stay-inside';

let w: MqttWorld;
let broker: RecordingBroker;
let groupId: string;

beforeAll(async () => {
  w = await startMqttWorld({
    limits: { maxConnectionsPerSource: 3, maxTopicBytes: 64, maxPacketBytes: 4096 },
  });
  broker = await RecordingBroker.start();
  await w.credential('broker-login', 'username-password-credentials', {
    username: 'beam-fleet',
    password: SECRET,
  });
  groupId = await w.group({
    destination: `mqtt://127.0.0.1:${broker.port}`,
    password: { $credentialsId: 'broker-login' },
  });
}, 60_000);

afterAll(async () => {
  await w?.close();
  await broker?.close();
});

async function connected(version: 4 | 5 = 4, group = groupId) {
  const { sim, session } = await w.device(group);
  const before = broker.connections.length;
  const device = await RawMqttClient.connect(w.entry.port, session.address, version);
  const connack = await device.connectMqtt({ clientId: `dev-${sim.imsi}` });
  expect(version === 5 ? connack.reasonCode : connack.returnCode).toBe(0);
  const upstream = await broker.connection(before);
  return { sim, session, device, upstream };
}

describe('Beam MQTT entry point: relaying', () => {
  it('connects the device without credentials and the broker with the configured ones; PUBLISH gets /{IMSI}', async () => {
    const { sim, device, upstream } = await connected();
    expect(upstream.connect.username).toBe('beam-fleet');
    expect(upstream.connect.password?.toString()).toBe(SECRET);
    expect(upstream.connect.clientId).toBe(`dev-${sim.imsi}`);
    device.send({
      cmd: 'publish',
      topic: 'sensors/temp',
      payload: Buffer.from('21.5'),
      qos: 0,
      retain: false,
      dup: false,
    });
    const publish = await broker.packet(upstream, 'publish');
    expect(publish.topic).toBe(`sensors/temp/${sim.imsi}`);
    expect(publish.payload.toString()).toBe('21.5');
    // Nothing secret ever reached the device.
    expect(Buffer.concat(device.bytes).includes(SECRET)).toBe(false);
    device.end();
  });

  it("QoS 1: the device's PUBACK comes only after the broker's, with the device's own packet id", async () => {
    const { sim, device, upstream } = await connected();
    broker.holdPubacks = true;
    try {
      device.send({
        cmd: 'publish',
        topic: 'q1',
        payload: Buffer.from('x'),
        qos: 1,
        messageId: 4242,
        retain: false,
        dup: false,
      });
      const forwarded = await broker.packet(upstream, 'publish');
      expect(forwarded.topic).toBe(`q1/${sim.imsi}`);
      // PINGRESP is answered by the entry point at once; a PUBACK sent early would come before it.
      device.send({ cmd: 'pingreq' });
      await device.next('pingresp');
      expect(device.packets.some((p) => p.cmd === 'puback')).toBe(false);
      broker.releasePubacks();
      const puback = await device.next('puback');
      expect(puback.messageId).toBe(4242);
    } finally {
      broker.holdPubacks = false;
    }
    device.end();
  });

  it('relays SUBSCRIBE (QoS capped at 1) and delivers the broker’s messages; QoS 1 acknowledged upstream only after the device', async () => {
    const { device, upstream } = await connected();
    device.send({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'cmd/#', qos: 2 }] });
    const subscribe = await broker.packet(upstream, 'subscribe');
    expect(subscribe.subscriptions).toEqual([{ topic: 'cmd/#', qos: 1 }]);
    const suback = await device.next('suback');
    expect(suback.messageId).toBe(7);
    expect(suback.granted).toEqual([1]);

    upstream.send({
      cmd: 'publish',
      topic: 'cmd/reboot',
      payload: Buffer.from('now'),
      qos: 1,
      messageId: 900,
      retain: false,
      dup: false,
    });
    const delivered = await device.next('publish');
    expect(delivered.topic).toBe('cmd/reboot');
    expect(delivered.qos).toBe(1);
    // The device has not acknowledged yet: its next PUBLISH reaches the broker with no PUBACK before it.
    const seen = upstream.packets.length;
    device.send({
      cmd: 'publish',
      topic: 'marker',
      payload: Buffer.from('m'),
      qos: 0,
      retain: false,
      dup: false,
    });
    await broker.packet(upstream, 'publish', seen);
    expect(upstream.packets.slice(seen).some((p) => p.cmd === 'puback')).toBe(false);
    device.send({ cmd: 'puback', messageId: delivered.messageId ?? 0 });
    const puback = await broker.packet(upstream, 'puback', seen);
    expect(puback.messageId).toBe(900);

    device.send({ cmd: 'unsubscribe', messageId: 8, unsubscriptions: ['cmd/#'] });
    expect((await broker.packet(upstream, 'unsubscribe')).unsubscriptions).toEqual(['cmd/#']);
    expect((await device.next('unsuback')).messageId).toBe(8);
    device.end();
  });

  it('MQTT 5: never more QoS 1 messages in flight to the broker than its Receive Maximum, even from one read', async () => {
    broker.connackProperties = { receiveMaximum: 2 };
    broker.holdPubacks = true;
    let released = 0;
    let maxInFlight = 0;
    let upstream: Awaited<ReturnType<typeof connected>>['upstream'] | undefined;
    // Each time the broker reads: note what is in flight, then acknowledge it.
    const onChange = () => {
      if (upstream === undefined) return;
      const received = upstream.packets.filter((p) => p.cmd === 'publish').length;
      maxInFlight = Math.max(maxInFlight, received - released);
      released += broker.heldPubacks.length;
      broker.releasePubacks();
    };
    try {
      const c = await connected(5);
      upstream = c.upstream;
      broker.on('change', onChange);
      const { generate } = await import('mqtt-packet');
      // Five QoS 1 PUBLISHes in one write: the entry point reads them at once and must hold three back.
      c.device.sendRaw(
        Buffer.concat(
          [1, 2, 3, 4, 5].map((id) =>
            generate(
              {
                cmd: 'publish',
                topic: 'burst',
                payload: Buffer.from(String(id)),
                qos: 1,
                messageId: id,
                retain: false,
                dup: false,
              },
              { protocolVersion: 5 },
            ),
          ),
        ),
      );
      const acks = await until(
        c.device,
        'change',
        () => {
          const ids = c.device.packets.filter((p) => p.cmd === 'puback').map((p) => p.messageId);
          return ids.length === 5 ? ids : undefined;
        },
        'five PUBACKs',
      );
      expect(acks).toEqual([1, 2, 3, 4, 5]);
      expect(maxInFlight).toBe(2);
      c.device.end();
    } finally {
      broker.off('change', onChange);
      broker.connackProperties = undefined;
      broker.holdPubacks = false;
    }
  });

  it('leaves the topic alone when addSubscriberHeader is false', async () => {
    const plain = await w.group({
      destination: `mqtt://127.0.0.1:${broker.port}`,
      password: { $credentialsId: 'broker-login' },
      addSubscriberHeader: false,
    });
    const { device, upstream } = await connected(4, plain);
    device.send({
      cmd: 'publish',
      topic: 'as/is',
      payload: Buffer.from('1'),
      qos: 0,
      retain: false,
      dup: false,
    });
    expect((await broker.packet(upstream, 'publish')).topic).toBe('as/is');
    device.end();
  });

  it('MQTT 5: relays user properties and content type; topic aliases are refused', async () => {
    const { sim, device, upstream } = await connected(5);
    device.send({
      cmd: 'publish',
      topic: 'v5',
      payload: Buffer.from('{}'),
      qos: 1,
      messageId: 1,
      retain: false,
      dup: false,
      properties: { contentType: 'application/json', userProperties: { site: 'tokyo' } },
    });
    const publish = await broker.packet(upstream, 'publish');
    expect(publish.topic).toBe(`v5/${sim.imsi}`);
    expect(publish.properties?.contentType).toBe('application/json');
    expect(publish.properties?.userProperties).toEqual({ site: 'tokyo' });
    expect((await device.next('puback')).messageId).toBe(1);
    device.send({
      cmd: 'publish',
      topic: 'x',
      payload: Buffer.from(''),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 1 },
    });
    const disconnect = await device.next('disconnect');
    expect(disconnect.reasonCode).toBe(0x94);
    await device.closed();
  });
});

describe('Beam MQTT entry point: who gets through', () => {
  it('refuses an address without a session (CONNACK 5 / 0x87) and opens no broker connection', async () => {
    const accepted = broker.accepted;
    for (const version of [4, 5] as const) {
      const device = await RawMqttClient.connect(w.entry.port, '127.0.0.250', version);
      const connack = await device.connectMqtt();
      expect(version === 5 ? connack.reasonCode : connack.returnCode).toBe(
        version === 5 ? REASON.notAuthorized : CONNACK_V3.notAuthorized,
      );
      await device.closed();
    }
    expect(broker.accepted).toBe(accepted);
  });

  it('refuses a suspended SIM, a SIM whose group has no mqtt:// entry, and a keepalive SORACOM refuses', async () => {
    const accepted = broker.accepted;
    const suspended = await w.device(groupId);
    await w.world.platform.sims.transition(
      systemContext(w.world.operatorId, 'Sim:suspendSim', 'test'),
      suspended.sim.simId,
      'suspend',
    );
    const other = await w.group({ destination: 'mqtts://example.com', enabled: false });
    const unconfigured = await w.device(other);
    const fine = await w.device(groupId);
    for (const [address, keepalive] of [
      [suspended.session.address, 60],
      [unconfigured.session.address, 60],
      [fine.session.address, 3],
      [fine.session.address, 1201],
    ] as const) {
      const device = await RawMqttClient.connect(w.entry.port, address);
      const connack = await device.connectMqtt({ keepalive });
      expect(connack.returnCode).toBe(CONNACK_V3.notAuthorized);
      await device.closed();
    }
    expect(broker.accepted).toBe(accepted);
    expect(w.entry.stats.refused.refused_sim_not_active).toBeGreaterThan(0);
    expect(w.entry.stats.refused.refused_not_configured).toBeGreaterThan(0);
    expect(w.entry.stats.refused.refused_keepalive).toBe(2);
  });

  it("passes the broker's refusal on and names a missing credential set only in the log", async () => {
    broker.connackCode = CONNACK_V3.badUsernameOrPassword;
    try {
      const { session } = await w.device(groupId);
      const device = await RawMqttClient.connect(w.entry.port, session.address);
      expect((await device.connectMqtt()).returnCode).toBe(CONNACK_V3.badUsernameOrPassword);
      await device.closed();
    } finally {
      broker.connackCode = 0;
    }
    const missing = await w.group({
      destination: `mqtt://127.0.0.1:${broker.port}`,
      password: { $credentialsId: 'nope-#{imsi}' },
    });
    const { session } = await w.device(missing);
    const accepted = broker.accepted;
    const device = await RawMqttClient.connect(w.entry.port, session.address);
    expect((await device.connectMqtt()).returnCode).toBe(CONNACK_V3.serverUnavailable);
    await device.closed();
    expect(broker.accepted).toBe(accepted);
    expect(w.logs.some((l) => l.includes('ERR_CREDENTIALS_NOT_FOUND'))).toBe(true);
  });

  it('refuses a destination the deployment does not allow (loopback here) without connecting', async () => {
    const strict = await startMqttWorld();
    try {
      const { destinationPolicy } = await import('../../../src/platform/beam/destination-policy.js');
      const { outboundPolicy } = await import('../../../src/platform/events/outbound-policy.js');
      const { BeamMqttEntry } = await import('../../../src/servers/beam/mqtt-entry.js');
      const entry = await BeamMqttEntry.start({
        platform: strict.world.platform,
        host: '127.0.0.1',
        port: 0,
        logger: { info() {}, warn() {}, error() {}, debug() {} } as never,
        destinations: destinationPolicy(outboundPolicy({})),
      });
      const group = await strict.group({ destination: `mqtt://127.0.0.1:${broker.port}` });
      const { session } = await strict.device(group);
      const accepted = broker.accepted;
      const device = await RawMqttClient.connect(entry.port, session.address);
      expect((await device.connectMqtt()).returnCode).toBe(CONNACK_V3.serverUnavailable);
      await device.closed();
      expect(broker.accepted).toBe(accepted);
      expect(entry.stats.refused.refused_destination).toBe(1);
      await entry.close();
    } finally {
      await strict.close();
    }
  });

  it('never writes the broker password to the log', () => {
    expect(w.logs.length).toBeGreaterThan(0);
    expect(w.logs.join('\n')).not.toContain(SECRET);
  });
});

describe('Beam MQTT entry point: limits and the ends of a connection', () => {
  it('holds at most maxConnectionsPerSource connections per session address', async () => {
    const { session } = await w.device(groupId);
    const held: RawMqttClient[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await RawMqttClient.connect(w.entry.port, session.address);
      expect((await d.connectMqtt({ clientId: `c${i}` })).returnCode).toBe(0);
      held.push(d);
    }
    const fourth = await RawMqttClient.connect(w.entry.port, session.address);
    await fourth.closed();
    expect(fourth.packets).toEqual([]);
    for (const d of held) d.end();
    await Promise.all(held.map((d) => d.closed()));
  });

  it('closes on an oversize packet, a topic too long, QoS 2 or a second CONNECT — nothing of them reaches the broker', async () => {
    const cases: Array<(d: RawMqttClient) => void> = [
      (d) =>
        d.send({
          cmd: 'publish',
          topic: 't',
          payload: Buffer.alloc(5000),
          qos: 0,
          retain: false,
          dup: false,
        }),
      (d) =>
        d.send({
          cmd: 'publish',
          topic: 'x'.repeat(65),
          payload: Buffer.from('1'),
          qos: 0,
          retain: false,
          dup: false,
        }),
      (d) =>
        d.send({
          cmd: 'publish',
          topic: 't',
          payload: Buffer.from('1'),
          qos: 2,
          messageId: 3,
          retain: false,
          dup: false,
        }),
      (d) => d.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'a/#/b', qos: 0 }] }),
      (d) =>
        d.send({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: 'again',
          clean: true,
          keepalive: 60,
        }),
    ];
    for (const misbehave of cases) {
      const { device, upstream } = await connected();
      misbehave(device);
      await device.closed();
      await until(
        broker,
        'change',
        () => (upstream.ended ? true : undefined),
        'the broker connection to drop',
      );
      expect(upstream.packets.filter((p) => p.cmd !== 'pingreq')).toEqual([]);
    }
  });

  it('a clean DISCONNECT reaches the broker; a device that just goes away drops the broker connection (its will)', async () => {
    const a = await connected();
    a.device.send({ cmd: 'disconnect' });
    await broker.packet(a.upstream, 'disconnect');
    await a.device.closed();
    const b = await connected();
    b.device.socket.destroy();
    await until(
      broker,
      'change',
      () => (b.upstream.ended ? true : undefined),
      'the broker connection to drop',
    );
    expect(b.upstream.packets.some((p) => p.cmd === 'disconnect')).toBe(false);
  });

  it('disconnects the device when the broker goes away (MQTT 5: with a reason code)', async () => {
    const v3 = await connected(4);
    v3.upstream.socket.destroy();
    await v3.device.closed();
    const v5 = await connected(5);
    v5.upstream.socket.destroy();
    expect((await v5.device.next('disconnect')).reasonCode).toBe(REASON.unspecifiedError);
    await v5.device.closed();
    expect(w.entry.stats.closed.upstream_gone).toBeGreaterThanOrEqual(2);
  });

  it('ends the connection when the SIM session ends (checked every sessionCheckMs)', async () => {
    const quick = await startMqttWorld({ limits: { sessionCheckMs: 100 } });
    try {
      await quick.credential('broker-login', 'username-password-credentials', {
        username: 'u',
        password: 'p',
      });
      const group = await quick.group({
        destination: `mqtt://127.0.0.1:${broker.port}`,
        password: { $credentialsId: 'broker-login' },
      });
      const { sim, session } = await quick.device(group);
      const device = await RawMqttClient.connect(quick.entry.port, session.address, 5);
      expect((await device.connectMqtt({ keepalive: 5 })).reasonCode).toBe(0);
      await detach(quick.world, sim, '350000000000000', session);
      expect((await device.next('disconnect')).reasonCode).toBe(REASON.administrativeAction);
      await device.closed();
    } finally {
      await quick.close();
    }
  });

  it('closes a device silent for 1.5 × its keepalive', async () => {
    const { device } = await connected();
    // keepalive 60 s would take 90 s; a device with keepalive 0 is closed after idleTimeoutMs instead.
    device.end();
    const idle = await startMqttWorld({ limits: { idleTimeoutMs: 300 } });
    try {
      const group = await idle.group({ destination: `mqtt://127.0.0.1:${broker.port}` });
      const { session } = await idle.device(group);
      const d = await RawMqttClient.connect(idle.entry.port, session.address);
      expect((await d.connectMqtt({ keepalive: 0 })).returnCode).toBe(0);
      await d.closed();
      expect(idle.entry.stats.closed.keepalive_timeout).toBe(1);
    } finally {
      await idle.close();
    }
  });
});

describe('Beam MQTT entry point: wiring', () => {
  it('startBeam runs it on beamHost:beamMqttPort with the beamMqtt* limits', async () => {
    const { startEndorseWorld } = await import('../../e2e/endorse-fixture.js');
    const { startBeam } = await import('../../../src/servers/beam/start.js');
    const { createLogger } = await import('../../../src/servers/logger.js');
    const world = await startEndorseWorld({
      config: { beamMqttPort: 0, beamMqttMaxConnectionsPerSource: 1 },
    });
    const beam = await startBeam(world.platform, createLogger({ logLevel: 'silent' }), undefined);
    try {
      const port = beam.addresses.mqtt?.port ?? 0;
      expect(port).toBeGreaterThan(0);
      const first = await RawMqttClient.connect(port, '127.0.0.251');
      expect((await first.connectMqtt()).returnCode).toBe(CONNACK_V3.notAuthorized);
      // One connection per source: a second one while the first is open is closed without a word.
      const held = await RawMqttClient.connect(port, '127.0.0.252');
      const second = await RawMqttClient.connect(port, '127.0.0.252');
      await second.closed();
      expect(second.packets).toEqual([]);
      held.end();
    } finally {
      await beam.close();
      await world.close();
    }
  });
});
