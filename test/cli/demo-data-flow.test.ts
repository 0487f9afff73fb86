// `npm start` shows data flowing (issue 17): in `simtrust up --demo`, demo SIM 6 publishes over MQTT
// through Beam to the machine's Mosquitto (:1883) and demo SIM 8 posts through Funnel to the
// machine's RabbitMQ (:5672), both without a credential on the device. Checked from outside: a
// subscriber of our own on Mosquitto gets the readings on topic/{IMSI}, the API shows both SIMs'
// last delivery (GET /v1/sims/{id}/beam_status), and the demo's log shows the first reading read back
// from the RabbitMQ queue. Without the brokers the demo says so — on the screen and once in the log,
// with what to install — and carries on.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_BEAM_SIM, DEMO_FUNNEL_SIM, DEMO_QUEUE, DEMO_TOPIC } from '../../src/cli/demo-data-flow.js';
import { demoIccid, demoImsi } from '../../src/platform/demo.js';
import { SimtrustClient } from '../../src/sdk/client.js';
import { startDemo } from '../helpers/cli.js';
import { requirePrograms } from '../helpers/external.js';
import { freePort } from '../servers/gateway/fixture.js';

const brokers = requirePrograms({ mosquitto: 'mosquitto', 'rabbitmq-server': 'rabbitmq-server' });
const small = ['--demo-fleet-devices', '10', '--demo-sim-count', '12', '--demo-data-interval-seconds', '1'];

async function until<T>(what: string, check: () => Promise<T | undefined>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function login(screen: string): Promise<SimtrustClient> {
  const url = /API docs\s+(http:\/\/[\d.:]+)\/docs/.exec(screen)?.[1] as string;
  const session = await new SimtrustClient({ endpoint: url }).auth(
    'demo@simtrust.local',
    'simtrust-demo-password',
  );
  return new SimtrustClient({ endpoint: url, token: session.token });
}

interface ServiceStatus {
  readonly service: string;
  readonly lastDeliveryTime: number | null;
  readonly lastDeliveryEntryPoint: string | null;
}

describe.skipIf(!brokers)('demo data through Beam and Funnel (simtrust up --demo)', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'simtrust-demo-data-'));
  let demo: Awaited<ReturnType<typeof startDemo>> | undefined;
  afterAll(async () => {
    await demo?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('one device publishes through Beam to Mosquitto, one posts through Funnel to RabbitMQ', async () => {
    const beamImsi = demoImsi(DEMO_BEAM_SIM);
    const subscriber = await mqtt.connectAsync('mqtt://127.0.0.1:1883', {
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    const readings: Array<{ topic: string; body: unknown }> = [];
    subscriber.on('message', (topic, payload) =>
      readings.push({ topic, body: JSON.parse(payload.toString()) }),
    );
    await subscriber.subscribeAsync(`${DEMO_TOPIC}/${beamImsi}`, { qos: 1 });
    try {
      demo = await startDemo(cwd, small);
      expect(demo.screen).toContain(`SIM ${demoIccid(DEMO_BEAM_SIM)} publishes over MQTT to Beam`);
      expect(demo.screen).toContain(`SIM ${demoIccid(DEMO_FUNNEL_SIM)} posts JSON to Funnel`);
      expect(demo.screen).toContain(`queue ${DEMO_QUEUE}`);
      // Beam appended the SIM's IMSI to the topic; the device sent only its reading.
      const first = await until('a reading at Mosquitto', async () => readings[0]);
      expect(first.topic).toBe(`${DEMO_TOPIC}/${beamImsi}`);
      expect(first.body).toMatchObject({ temperature: expect.any(Number), n: expect.any(Number) });
      const api = await login(demo.screen);
      for (const [serial, service, entryPoint] of [
        [DEMO_BEAM_SIM, 'beam', 'mqtt'],
        [DEMO_FUNNEL_SIM, 'funnel', 'http'],
      ] as const) {
        const status = await until(`${service} delivery of SIM ${serial} in the API`, async () => {
          const s = await api.request<{ services: ServiceStatus[] }>(
            'GET',
            `/v1/sims/${demoIccid(serial)}/beam_status`,
          );
          return s.services.find((x) => x.service === service && x.lastDeliveryTime !== null);
        });
        expect(status.lastDeliveryEntryPoint).toBe(entryPoint);
      }
      // The demo read the Funnel envelope back from the queue (SORACOM's format, the SIM's IMSI).
      const log = await until('the Funnel reading read back from RabbitMQ', async () => {
        const text = readFileSync(join(cwd, 'data', 'simtrust.log'), 'utf8');
        return text.includes('first reading of the Funnel demo device arrived in RabbitMQ')
          ? text
          : undefined;
      });
      const line = log.split('\n').find((l) => l.includes('arrived in RabbitMQ')) as string;
      expect(JSON.parse(JSON.parse(line).message)).toMatchObject({
        imsi: demoImsi(DEMO_FUNNEL_SIM),
        sourceProtocol: 'http',
        credentialsId: 'demo-rabbitmq',
        payloads: { humidity: expect.any(Number) },
      });
      // The demo's RabbitMQ password (guest's) went into a credential set, not the log.
      expect(log).not.toMatch(/"password"/);
    } finally {
      await subscriber.endAsync(true);
    }
  }, 180_000);
});

describe('demo without the brokers', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'simtrust-demo-nobroker-'));
  let demo: Awaited<ReturnType<typeof startDemo>> | undefined;
  afterAll(async () => {
    await demo?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('says once what to install for each missing broker, and runs the rest of the demo', async () => {
    const [mqttPort, amqpPort] = [await freePort(), await freePort()];
    demo = await startDemo(cwd, [
      ...small,
      '--demo-mqtt-broker-url',
      `mqtt://127.0.0.1:${mqttPort}`,
      '--demo-rabbitmq-url',
      `amqp://127.0.0.1:${amqpPort}`,
    ]);
    expect(demo.screen).toMatch(/Beam\s+no MQTT broker at 127\.0\.0\.1:\d+.*install Mosquitto/);
    expect(demo.screen).toMatch(/Funnel\s+no RabbitMQ at 127\.0\.0\.1:\d+.*install RabbitMQ/);
    // The log file is written asynchronously: wait for both lines, then count them.
    const logFile = join(cwd, 'data', 'simtrust.log');
    await until('both broker warnings in the log', async () => {
      const text = readFileSync(logFile, 'utf8');
      return text.includes('no MQTT broker at') && text.includes('no RabbitMQ at') ? true : undefined;
    });
    const log = readFileSync(logFile, 'utf8');
    expect(log.match(/no MQTT broker at/g)).toHaveLength(1);
    expect(log.match(/no RabbitMQ at/g)).toHaveLength(1);
    // The rest runs: the demo fleet attaches.
    const api = await login(demo.screen);
    await until('demo SIM 1 online', async () => {
      const sim = await api.request<{ sessionStatus?: { online?: boolean } }>(
        'GET',
        `/v1/sims/${demoIccid(1)}`,
      );
      return sim.sessionStatus?.online ? true : undefined;
    });
  }, 120_000);
});
