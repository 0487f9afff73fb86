// Beam's MQTT entry point against a real Mosquitto (TLS with a private CA, password file, and a
// listener that requires a client certificate): simulated devices on their RADIUS-assigned session
// addresses connect without credentials, publish and subscribe through Beam; a subscriber of our
// own directly on Mosquitto sees `topic/{IMSI}`. Threats: a device with no session or a suspended
// SIM reaching the broker with the operator's credentials; the credentials reaching the device or
// a log line.

import { EventEmitter } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/platform/iam/principal.js';
import { CONNACK_V3, REASON } from '../../src/servers/beam/mqtt-packets.js';
import { requirePrograms } from '../helpers/external.js';
import { type MqttWorld, RawMqttClient, startMqttWorld, until } from '../servers/beam/mqtt-fixture.js';
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.js';

const ok = requirePrograms({ mosquitto: 'mosquitto', mosquitto_passwd: 'mosquitto', openssl: 'openssl' });

interface Seen {
  readonly topic: string;
  readonly payload: string;
  readonly userProperties: unknown;
}

describe.skipIf(!ok)('Beam MQTT → Mosquitto over TLS (interop)', () => {
  let broker: Mosquitto;
  let w: MqttWorld;
  let subscriber: MqttClient;
  const seen: Seen[] = [];
  const events = new EventEmitter();
  let passwordGroup: string;
  let certificateGroup: string;

  beforeAll(async () => {
    broker = await startMosquitto();
    // The broker's private CA is trusted the way a deployment does it: beamDestinationCaFile.
    w = await startMqttWorld({ entry: { trustedCa: broker.ca } });
    await w.credential('mosquitto-login', 'username-password-credentials', {
      username: broker.username,
      password: broker.password,
    });
    await w.credential('mosquitto-client-cert', 'x509', {
      cert: broker.clientCert,
      key: broker.clientKey,
      ca: broker.ca,
    });
    passwordGroup = await w.group({
      destination: `mqtts://127.0.0.1:${broker.tlsPort}`,
      password: { $credentialsId: 'mosquitto-login' },
    });
    certificateGroup = await w.group({
      destination: `mqtts://127.0.0.1:${broker.mtlsPort}`,
      password: { $credentialsId: 'mosquitto-login' },
      useClientCert: true,
      clientCerts: { default: { $credentialsId: 'mosquitto-client-cert' } },
    });
    subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.plainPort}`, {
      username: broker.username,
      password: broker.password,
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    subscriber.on('message', (topic, payload, packet) => {
      seen.push({ topic, payload: payload.toString(), userProperties: packet.properties?.userProperties });
      events.emit('message');
    });
    await subscriber.subscribeAsync('#', { qos: 1 });
  }, 60_000);

  afterAll(async () => {
    await subscriber?.endAsync();
    await w?.close();
    await broker?.stop();
  });

  const message = (topic: string) =>
    until(events, 'message', () => seen.find((m) => m.topic === topic), `${topic} at the subscriber`);

  it('a device publishes through Beam with a password over TLS; the subscriber sees topic/{IMSI}', async () => {
    const { sim, session } = await w.device(passwordGroup);
    const device = await RawMqttClient.connect(w.entry.port, session.address);
    expect((await device.connectMqtt({ clientId: `beam-${sim.imsi}` })).returnCode).toBe(0);
    device.send({
      cmd: 'publish',
      topic: 'telemetry',
      payload: Buffer.from('{"t":21.5}'),
      qos: 1,
      messageId: 11,
      retain: false,
      dup: false,
    });
    expect((await device.next('puback')).messageId).toBe(11);
    expect((await message(`telemetry/${sim.imsi}`)).payload).toBe('{"t":21.5}');

    // And back: the device subscribes through Beam, a message published at the broker reaches it.
    device.send({ cmd: 'subscribe', messageId: 12, subscriptions: [{ topic: `cmd/${sim.imsi}`, qos: 1 }] });
    expect((await device.next('suback')).granted).toEqual([1]);
    await subscriber.publishAsync(`cmd/${sim.imsi}`, 'reboot', { qos: 1 });
    const delivered = await device.next('publish');
    expect(delivered.topic).toBe(`cmd/${sim.imsi}`);
    expect(delivered.payload.toString()).toBe('reboot');
    device.send({ cmd: 'puback', messageId: delivered.messageId ?? 0 });
    device.send({ cmd: 'disconnect' });
    await device.closed();
    expect(Buffer.concat(device.bytes).includes(broker.password)).toBe(false);
  });

  it('with the client certificate of an x509 credential set (the listener requires one), MQTT 5 user properties kept', async () => {
    const { sim, session } = await w.device(certificateGroup);
    const device = await RawMqttClient.connect(w.entry.port, session.address, 5);
    expect((await device.connectMqtt({ clientId: `beam5-${sim.imsi}` })).reasonCode).toBe(0);
    device.send({
      cmd: 'publish',
      topic: 'v5/telemetry',
      payload: Buffer.from('x'),
      qos: 1,
      messageId: 3,
      retain: false,
      dup: false,
      properties: { userProperties: { site: 'tokyo' } },
    });
    expect((await device.next('puback')).reasonCode ?? 0).toBe(0);
    expect((await message(`v5/telemetry/${sim.imsi}`)).userProperties).toEqual({ site: 'tokyo' });
    device.end();
  });

  it('a device that drops off: Mosquitto publishes its will, at will-topic/{IMSI}', async () => {
    const { sim, session } = await w.device(passwordGroup);
    const device = await RawMqttClient.connect(w.entry.port, session.address);
    const connack = await device.connectMqtt({
      clientId: `will-${sim.imsi}`,
      will: { topic: 'status', payload: Buffer.from('offline'), qos: 1, retain: false },
    });
    expect(connack.returnCode).toBe(0);
    device.socket.destroy();
    expect((await message(`status/${sim.imsi}`)).payload).toBe('offline');
  });

  it("passes Mosquitto's refusals on: no client certificate (TLS fails) and a wrong password", async () => {
    await w.credential('wrong-login', 'username-password-credentials', {
      username: broker.username,
      password: 'wrong',
    });
    const noCertificate = await w.group({
      destination: `mqtts://127.0.0.1:${broker.mtlsPort}`,
      password: { $credentialsId: 'mosquitto-login' },
    });
    const wrongPassword = await w.group({
      destination: `mqtts://127.0.0.1:${broker.tlsPort}`,
      password: { $credentialsId: 'wrong-login' },
    });
    for (const [group, code] of [
      [noCertificate, CONNACK_V3.serverUnavailable],
      [wrongPassword, CONNACK_V3.notAuthorized],
    ] as const) {
      const { session } = await w.device(group);
      const device = await RawMqttClient.connect(w.entry.port, session.address);
      expect((await device.connectMqtt()).returnCode).toBe(code);
      await device.closed();
    }
  });

  it('no session, a suspended SIM: refused CONNACK, nothing reaches the broker', async () => {
    const suspended = await w.device(passwordGroup);
    await w.world.platform.sims.transition(
      systemContext(w.world.operatorId, 'Sim:suspendSim', 'test'),
      suspended.sim.simId,
      'suspend',
    );
    const connectionsBefore = (broker.logs().match(new RegExp(`on port ${broker.tlsPort}`, 'g')) ?? [])
      .length;
    // Beam's earlier devices show there: the count below is not vacuous.
    expect(connectionsBefore).toBeGreaterThan(0);
    const seenBefore = seen.length;
    for (const [address, version] of [
      ['127.0.0.249', 4],
      ['127.0.0.249', 5],
      [suspended.session.address, 4],
    ] as const) {
      const device = await RawMqttClient.connect(w.entry.port, address, version);
      const connack = await device.connectMqtt();
      expect(version === 5 ? connack.reasonCode : connack.returnCode).toBe(
        version === 5 ? REASON.notAuthorized : CONNACK_V3.notAuthorized,
      );
      // Whatever the device sends after the refusal goes nowhere.
      device.send({
        cmd: 'publish',
        topic: 'leak',
        payload: Buffer.from('x'),
        qos: 0,
        retain: false,
        dup: false,
      });
      await device.closed();
    }
    // The subscriber sees the sentinel next: nothing the refused devices sent got in before it.
    await subscriber.publishAsync('sentinel', 'after the refusals', { qos: 1 });
    await message('sentinel');
    expect(seen.slice(seenBefore).map((m) => m.topic)).toEqual(['sentinel']);
    // And Beam opened no connection to the broker's TLS listener for them.
    expect((broker.logs().match(new RegExp(`on port ${broker.tlsPort}`, 'g')) ?? []).length).toBe(
      connectionsBefore,
    );
  });

  it('the broker password and client key appear in no log line', () => {
    const logs = w.logs.join('\n');
    expect(logs).toContain('Beam MQTT device connected and relayed');
    expect(logs).not.toContain(broker.password);
    expect(logs).not.toContain(broker.clientKey.split('\n')[1]);
  });
});
