// Data flowing in `simtrust up --demo` (issue 17; docs/funnel-funk.md, Demo): two devices of the demo
// fleet send sensor readings from their session addresses, holding no credential —
//
//   SIM 6  publishes over MQTT to Beam's MQTT entry point, which forwards to the local Mosquitto
//          (demoMqttBrokerUrl) on topic simtrust-demo/sensors/{IMSI}
//   SIM 8  posts JSON to Funnel's HTTP entry point, which delivers to the local RabbitMQ
//          (demoRabbitmqUrl) queue simtrust-demo-funnel with the demo credential set (guest/guest,
//          RabbitMQ's localhost-only default user)
//
// The demo reads both back (a subscriber on Mosquitto, a consumer on the queue) and logs what went
// through every 30 s, so the log shows data arriving. A machine may have neither broker: each is
// probed at the start, and a missing one is said once — in the log and on the welcome screen — with
// what to install; its device stays idle and the rest of the demo runs.
//
// The group configuration (SoracomBeam mqtt:// entry and SoracomFunnel on demo-sensors, the SIMs'
// group) and the credential set are written at every start when missing or different, through the
// same services the API uses.

import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import amqp from 'amqplib';
import mqtt, { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { FUNNEL_NAMESPACE } from '../platform/beam/funnel-config.js';
import { demoIccid, demoImsi } from '../platform/demo.js';
import { systemContext } from '../platform/iam/principal.js';
import type { Platform } from '../platform/platform.js';

/** The demo SIMs that send data (in demo-sensors, clear of the anti-theft and IMEI-locked ones). */
export const DEMO_BEAM_SIM = 6;
export const DEMO_FUNNEL_SIM = 8;
/** Devices the fleet needs for both (SIM 8 plus the two IMEI-locked SIMs at its end). */
const FLEET_NEEDED = DEMO_FUNNEL_SIM + 2;

export const DEMO_TOPIC = 'simtrust-demo/sensors';
export const DEMO_QUEUE = 'simtrust-demo-funnel';
export const DEMO_CREDENTIALS_ID = 'demo-rabbitmq';
const BEAM_KEY = 'mqtt://beam.soracom.io:1883';

export interface DemoDataFlowOptions {
  readonly platform: Platform;
  readonly operatorId: string;
  readonly logger: Logger;
  /** The fleet's view of a device (its session address while attached). */
  readonly deviceAddress: (imsi: string) => string | undefined;
  readonly fleetDevices: number;
  /** Beam's MQTT entry point and Funnel's HTTP entry point, when running. */
  readonly beamMqtt: { readonly host: string; readonly port: number } | undefined;
  readonly funnelHttp: { readonly host: string; readonly port: number } | undefined;
}

export interface DemoDataFlow {
  /** Lines for the welcome screen: what flows where, or why not. */
  readonly lines: readonly string[];
  stop(): Promise<void>;
}

interface Counts {
  sent: number;
  confirmed: number;
  refused: number;
  received: number;
  lastError: string | undefined;
}

const newCounts = (): Counts => ({ sent: 0, confirmed: 0, refused: 0, received: 0, lastError: undefined });

/** A broker's URL → host and port (the demo settings are plain URLs without credentials). */
function hostPort(url: string, fallbackPort: number): { host: string; port: number } {
  const u = URL.canParse(url) ? new URL(url) : undefined;
  if (u === undefined || u.hostname === '') return { host: '127.0.0.1', port: fallbackPort };
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? fallbackPort : Number(u.port) };
}

/** Writes the demo's Beam and Funnel configuration and credential set when missing or different. */
export async function ensureDemoDataConfig(
  platform: Platform,
  operatorId: string,
): Promise<string | undefined> {
  const { config } = platform;
  const ctx = (operationId: string) => systemContext(operatorId, operationId, 'demo');
  const groups = await platform.groups.list(
    operatorId,
    { tagName: 'name', tagValue: 'demo-sensors', tagValueMatchMode: 'exact' },
    { limit: 10 },
  );
  const group = groups.items[0];
  if (group === undefined) return undefined;
  const creds = await platform.credentials.list(operatorId).catch(() => []);
  if (!creds.some((c) => c.credentialsId === DEMO_CREDENTIALS_ID)) {
    await platform.credentials.create(ctx('Credential:createCredential'), DEMO_CREDENTIALS_ID, {
      type: 'username-password-credentials',
      description: "The demo's local RabbitMQ (its default localhost-only user)",
      credentials: { username: 'guest', password: 'guest' },
    });
  }
  const mqttBroker = hostPort(config.demoMqttBrokerUrl, 1883);
  const rabbit = hostPort(config.demoRabbitmqUrl, 5672);
  const wanted: Record<string, Record<string, unknown>> = {
    SoracomBeam: {
      [BEAM_KEY]: {
        name: 'demo: sensors to the local Mosquitto',
        enabled: true,
        destination: `mqtt://${mqttBroker.host}:${mqttBroker.port}`,
        addSubscriberHeader: true,
      },
    },
    [FUNNEL_NAMESPACE]: {
      enabled: true,
      destination: {
        provider: 'amqp',
        resourceUrl: `amqp://${rabbit.host}:${rabbit.port}`,
        queue: DEMO_QUEUE,
      },
      credentialsId: DEMO_CREDENTIALS_ID,
      contentType: 'json',
      addSimId: true,
    },
  };
  for (const [namespace, values] of Object.entries(wanted)) {
    const stored = group.configuration[namespace] ?? {};
    const changed = Object.entries(values).filter(
      ([k, v]) => JSON.stringify(stored[k]) !== JSON.stringify(v),
    );
    if (changed.length === 0) continue;
    await platform.groups.putConfiguration(
      ctx('Group:putConfigurationParameters'),
      group.groupId,
      namespace,
      changed.map(([key, value]) => ({ key, value })),
    );
  }
  return group.groupId;
}

/** Whether something accepts TCP connections at host:port (within 2 s). */
function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function startDemoDataFlow(o: DemoDataFlowOptions): Promise<DemoDataFlow> {
  const { config } = o.platform;
  const log = o.logger.child({ component: 'demo-data' });
  const lines: string[] = [];
  const timers: NodeJS.Timeout[] = [];
  const closers: Array<() => Promise<void>> = [];
  const beam = newCounts();
  const funnel = newCounts();
  if (o.fleetDevices < FLEET_NEEDED) {
    return { lines, stop: async () => undefined };
  }
  await ensureDemoDataConfig(o.platform, o.operatorId);
  const mqttBroker = hostPort(config.demoMqttBrokerUrl, 1883);
  const rabbit = hostPort(config.demoRabbitmqUrl, 5672);
  const interval = config.demoDataIntervalSeconds * 1000;

  // --- Beam MQTT → Mosquitto
  const beamImsi = demoImsi(DEMO_BEAM_SIM);
  if (o.beamMqtt === undefined) {
    lines.push(
      '  Beam         the MQTT entry point is not running (beamMqttPort); no demo data through Beam',
    );
  } else if (!(await reachable(mqttBroker.host, mqttBroker.port))) {
    const text = `demo: no MQTT broker at ${mqttBroker.host}:${mqttBroker.port}, so the Beam demo device stays idle — install Mosquitto (Debian/Ubuntu: apt-get install mosquitto; macOS: brew install mosquitto) and start it, or point demoMqttBrokerUrl at a broker that takes anonymous clients; the rest of the demo runs`;
    log.warn({ broker: config.demoMqttBrokerUrl }, text);
    lines.push(`  Beam         ${text.replace(/^demo: /, '')}`);
  } else {
    // The demo's own subscriber, straight on the broker: what arrives shows the flow.
    const subscriber = mqtt.connect({
      host: mqttBroker.host,
      port: mqttBroker.port,
      protocolVersion: 5,
      reconnectPeriod: 5000,
      clientId: `simtrust-demo-reader-${process.pid}`,
    });
    subscriber.on('error', () => undefined);
    subscriber.on('connect', () => subscriber.subscribe(`${DEMO_TOPIC}/#`, { qos: 1 }));
    subscriber.on('message', (topic, payload) => {
      if (topic !== `${DEMO_TOPIC}/${beamImsi}`) return;
      if (beam.received++ === 0) {
        log.info(
          { topic, payload: payload.toString().slice(0, 200) },
          'demo data: the first reading of the Beam demo device arrived at Mosquitto (IMSI appended to its topic by Beam)',
        );
      }
    });
    closers.push(() => subscriber.endAsync(true));
    const beamMqtt = o.beamMqtt;
    let device: MqttClient | undefined;
    let boundTo: string | undefined;
    const tick = () => {
      const address = o.deviceAddress(beamImsi);
      if (address === undefined) return;
      if (device === undefined || boundTo !== address) {
        device?.end(true);
        boundTo = address;
        // A device with no credential at all: its session address is its identity.
        device = new MqttClient(
          () => netConnect({ host: beamMqtt.host, port: beamMqtt.port, localAddress: address }),
          {
            protocolVersion: 4,
            clientId: `demo-sensor-${DEMO_BEAM_SIM}`,
            reconnectPeriod: 5000,
            keepalive: 60,
          },
        );
        device.on('error', (e) => {
          beam.lastError = e.message;
        });
      }
      beam.sent++;
      const reading = {
        temperature: Math.round((20 + 5 * Math.sin(Date.now() / 60_000)) * 10) / 10,
        n: beam.sent,
      };
      device.publish(DEMO_TOPIC, JSON.stringify(reading), { qos: 1 }, (e) => {
        if (e) {
          beam.refused++;
          beam.lastError = e.message;
        } else beam.confirmed++;
      });
    };
    timers.push(setInterval(tick, interval));
    closers.push(async () => {
      await device?.endAsync(true);
    });
    lines.push(
      `  Beam         SIM ${demoIccid(DEMO_BEAM_SIM)} publishes over MQTT to Beam (${beamMqtt.host}:${beamMqtt.port}) without credentials;`,
      `               Beam forwards to Mosquitto ${mqttBroker.host}:${mqttBroker.port}, topic ${DEMO_TOPIC}/{IMSI} (docs/beam.md)`,
    );
  }

  // --- Funnel HTTP → RabbitMQ
  const funnelImsi = demoImsi(DEMO_FUNNEL_SIM);
  let queueReady = false;
  if (o.funnelHttp === undefined) {
    lines.push(
      '  Funnel       the HTTP entry point is not running (funnelHttpPort); no demo data through Funnel',
    );
  } else {
    try {
      const conn = await amqp.connect(
        { hostname: rabbit.host, port: rabbit.port, username: 'guest', password: 'guest' },
        { timeout: 3000 },
      );
      conn.on('error', () => undefined);
      const ch = await conn.createChannel();
      await ch.assertQueue(DEMO_QUEUE, { durable: true });
      await ch.consume(DEMO_QUEUE, (m) => {
        if (m === null) return;
        if (funnel.received++ === 0) {
          log.info(
            { queue: DEMO_QUEUE, message: m.content.toString().slice(0, 2000) },
            "demo data: the first reading of the Funnel demo device arrived in RabbitMQ (SORACOM's Funnel envelope)",
          );
        }
        ch.ack(m);
      });
      closers.push(() => conn.close().catch(() => undefined));
      queueReady = true;
    } catch (e) {
      const text = `demo: no RabbitMQ at ${rabbit.host}:${rabbit.port} taking guest/guest (${e instanceof Error ? e.message.slice(0, 80) : 'unreachable'}), so the Funnel demo device stays idle — install RabbitMQ (Debian/Ubuntu: apt-get install rabbitmq-server; macOS: brew install rabbitmq) and start it, or point demoRabbitmqUrl at one; the rest of the demo runs`;
      log.warn({ broker: config.demoRabbitmqUrl }, text);
      lines.push(`  Funnel       ${text.replace(/^demo: /, '')}`);
    }
  }
  if (queueReady && o.funnelHttp !== undefined) {
    const funnelHttp = o.funnelHttp;
    const tick = () => {
      const address = o.deviceAddress(funnelImsi);
      if (address === undefined) return;
      funnel.sent++;
      const body = JSON.stringify({ humidity: 40 + (funnel.sent % 20), n: funnel.sent });
      const req = httpRequest(
        {
          host: funnelHttp.host,
          port: funnelHttp.port,
          method: 'POST',
          path: '/',
          localAddress: address,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString();
          });
          res.on('end', () => {
            if (res.statusCode === 204) funnel.confirmed++;
            else {
              funnel.refused++;
              funnel.lastError = `${res.statusCode} ${text.slice(0, 200)}`;
            }
          });
        },
      );
      req.on('error', (e) => {
        funnel.refused++;
        funnel.lastError = e.message;
      });
      req.end(body);
    };
    timers.push(setInterval(tick, interval));
    lines.push(
      `  Funnel       SIM ${demoIccid(DEMO_FUNNEL_SIM)} posts JSON to Funnel (http://${funnelHttp.host}:${funnelHttp.port}/) without credentials;`,
      `               Funnel delivers to RabbitMQ ${rabbit.host}:${rabbit.port}, queue ${DEMO_QUEUE}, 204 only after the broker's confirm (docs/funnel-funk.md)`,
    );
  }

  // What went through, every 30 s (only while something runs).
  if (timers.length > 0) {
    timers.push(
      setInterval(() => {
        const part = (name: string, c: Counts, where: string) =>
          `${name}: ${c.sent} sent, ${c.confirmed} confirmed, ${c.received} read back from ${where}${c.refused > 0 ? `, ${c.refused} not delivered (last: ${c.lastError})` : ''}`;
        log.info(
          { beam: { ...beam }, funnel: { ...funnel } },
          `demo data: ${part('Beam MQTT → Mosquitto', beam, DEMO_TOPIC)}; ${part('Funnel → RabbitMQ', funnel, DEMO_QUEUE)}`,
        );
      }, 30_000),
    );
  }
  for (const t of timers) t.unref();
  return {
    lines,
    async stop() {
      for (const t of timers) clearInterval(t);
      for (const close of closers) await close().catch(() => undefined);
    },
  };
}
