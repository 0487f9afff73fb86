// Funnel → an MQTT broker (docs/funnel-funk.md, MQTT). Messages are published at QoS 1 and count as
// delivered on the broker's PUBACK. The session is MQTT 5, so a PUBACK can say no: "not authorized"
// (the broker's ACL), "topic name invalid", "quota exceeded" … — and "no matching subscribers"
// (0x10), which means the broker dropped the message: like an unroutable AMQP message, it is answered
// "refused", never 204 (a subscriber with a persistent session that is offline still counts as
// matching, and gets the message later).
//
// Log-in: `username-password-credentials` or an `x509` client certificate over mqtts://. The client
// never reconnects by itself (reconnectPeriod 0): a message waiting on a lost connection is answered
// at once and the next message opens a new connection.

import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import type { MqttDestination } from '../../../../platform/beam/funnel-config.js';
import {
  type BrokerConnection,
  type BrokerDriver,
  BrokerPublisher,
  COMMON_ERRORS,
  type FunnelAdapter,
  type FunnelErrorTable,
  type FunnelFailure,
  type FunnelMessage,
  type FunnelTarget,
  failure,
} from '../adapter.js';
import { SOCKET_ERRORS, serverName, socketFailure } from './socket-errors.js';

export const MQTT_ERRORS = {
  ...COMMON_ERRORS,
  ...SOCKET_ERRORS,
  MQTT_LOGIN_REFUSED: {
    kind: 'refused',
    message:
      'the destination MQTT broker refused the log-in (CONNACK bad user name or password / not authorized); check the credential set named by credentialsId',
  },
  MQTT_CONNECT_REFUSED: {
    kind: 'refused',
    message: 'the destination MQTT broker refused the connection (CONNACK); it may not speak MQTT 5',
  },
  MQTT_BROKER_BUSY: {
    kind: 'unavailable',
    message:
      'the destination MQTT broker is unavailable or busy (CONNACK server unavailable / busy); send again later',
  },
  MQTT_NOT_AUTHORIZED: {
    kind: 'refused',
    message:
      "the destination MQTT broker refused the publish (PUBACK not authorized): the credential set's user may not publish to this topic",
  },
  MQTT_NO_SUBSCRIBERS: {
    kind: 'refused',
    message:
      'no subscriber takes this topic at the destination broker (PUBACK no matching subscribers), so the message was dropped; subscribe to destination.topic (persistent session, QoS 1)',
  },
  MQTT_QUOTA: {
    kind: 'unavailable',
    message:
      'the destination MQTT broker refused the publish for now (PUBACK quota exceeded); send again later',
  },
  MQTT_REJECTED: {
    kind: 'refused',
    message: 'the destination MQTT broker refused the publish (PUBACK reason code of 0x80 or above)',
  },
  MQTT_CLOSED: {
    kind: 'unavailable',
    message: 'the connection to the destination MQTT broker is closed; send again',
  },
} as const satisfies FunnelErrorTable;

/** MQTT 5 §3.2.2.2 CONNACK and §3.4.2.1 PUBACK reason codes the table tells apart. */
const RC = {
  noMatchingSubscribers: 0x10,
  badUserOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverBusy: 0x89,
  quotaExceeded: 0x97,
} as const;

class NoSubscribersError extends Error {}

export function classifyMqtt(e: unknown, phase: 'connect' | 'publish'): FunnelFailure {
  if (e instanceof NoSubscribersError) return failure(MQTT_ERRORS, 'MQTT_NO_SUBSCRIBERS');
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'number') {
    if (phase === 'connect') {
      // MQTT 3.1.1 CONNACK return codes 4 and 5 mean the same as 5.0's 0x86 and 0x87.
      if (code === RC.badUserOrPassword || code === RC.notAuthorized || code === 4 || code === 5) {
        return failure(MQTT_ERRORS, 'MQTT_LOGIN_REFUSED');
      }
      if (code === RC.serverUnavailable || code === RC.serverBusy || code === 3) {
        return failure(MQTT_ERRORS, 'MQTT_BROKER_BUSY');
      }
      return failure(MQTT_ERRORS, 'MQTT_CONNECT_REFUSED');
    }
    if (code === RC.notAuthorized) return failure(MQTT_ERRORS, 'MQTT_NOT_AUTHORIZED');
    if (code === RC.quotaExceeded) return failure(MQTT_ERRORS, 'MQTT_QUOTA');
    if (code >= 0x80) return failure(MQTT_ERRORS, 'MQTT_REJECTED');
  }
  if (e instanceof Error && /client disconnecting|Connection closed|connection closed/i.test(e.message)) {
    return failure(MQTT_ERRORS, 'MQTT_CLOSED');
  }
  return socketFailure(MQTT_ERRORS, e, phase);
}

function mqttDriver(target: FunnelTarget): BrokerDriver {
  const d = target.destination as MqttDestination;
  const c = target.credential;
  const tls = d.url.protocol === 'mqtts:';
  return {
    classify: classifyMqtt,
    open: () =>
      new Promise<BrokerConnection>((resolve, reject) => {
        const client = mqtt.connect({
          host: target.address,
          port: target.port,
          protocol: tls ? 'mqtts' : 'mqtt',
          ...(tls ? { ...serverName(d.url), ...(target.ca === undefined ? {} : { ca: target.ca }) } : {}),
          protocolVersion: 5,
          clientId: `simtrust-funnel-${randomBytes(8).toString('hex')}`,
          clean: true,
          keepalive: 30,
          reconnectPeriod: 0,
          connectTimeout: target.connectTimeoutMs,
          queueQoSZero: false,
          resubscribe: false,
          ...(c?.type === 'username-password-credentials'
            ? { username: c.username as string, password: c.password as string }
            : {}),
          ...(c?.type === 'x509' ? { cert: c.cert as string, key: c.key as string } : {}),
        });
        const listeners: Array<() => void> = [];
        let opened = false;
        let gone = false;
        const fail = (e: unknown) => {
          if (opened) return;
          gone = true;
          client.end(true);
          reject(e);
        };
        client.on('error', (e) => fail(e));
        client.on('close', () => {
          if (!opened) return fail(new Error('Connection closed'));
          if (gone) return;
          gone = true;
          client.end(true);
          for (const l of listeners) l();
        });
        // mqtt.js settles a publish as successful without handing over the PUBACK's reason code
        // when it is below 0x80; the PUBACK itself is seen here first, by packet identifier. Only
        // "no matching subscribers" is kept: such a publish always resolves, which removes it.
        const dropped = new Set<number>();
        client.on('packetreceive', (packet) => {
          if (
            packet.cmd === 'puback' &&
            typeof packet.messageId === 'number' &&
            packet.reasonCode === RC.noMatchingSubscribers
          ) {
            dropped.add(packet.messageId);
          }
        });
        client.once('connect', () => {
          opened = true;
          resolve({
            async send(message: FunnelMessage) {
              const sent = await client.publishAsync(message.route, message.body, {
                qos: 1,
                properties: {
                  contentType: message.contentType,
                  userProperties: { 'funnel-message-id': message.id },
                },
              });
              const id = sent?.messageId;
              if (id !== undefined && dropped.delete(id)) throw new NoSubscribersError('no subscribers');
            },
            onClose(listener) {
              if (gone) listener();
              else listeners.push(listener);
            },
            async close() {
              await client.endAsync(true).catch(() => undefined);
            },
          });
        });
      }),
  };
}

export const mqttAdapter: FunnelAdapter = {
  provider: 'mqtt',
  credentialTypes: ['username-password-credentials', 'x509'],
  errors: MQTT_ERRORS,
  publisher: (target) => new BrokerPublisher(mqttDriver(target), MQTT_ERRORS),
};
