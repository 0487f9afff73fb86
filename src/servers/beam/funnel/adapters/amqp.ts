// Funnel → RabbitMQ over AMQP 0-9-1 (docs/funnel-funk.md, AMQP). One connection and one confirm
// channel per publisher. Every message is published persistent (delivery-mode 2) and mandatory, and
// counts as delivered only when the broker acks it (RabbitMQ publisher confirms: for a persistent
// message routed to durable queues, after it is written to disk) and did not return it as
// unroutable first — RabbitMQ acks an unroutable message too, having dropped it, and sends the
// basic.return before that ack, so a returned message is answered "refused", never 204.
//
// Log-in: a `username-password-credentials` set (SASL PLAIN), or an `x509` set (client certificate
// over amqps, SASL EXTERNAL — RabbitMQ's rabbitmq_auth_mechanism_ssl). The exchange is checked when
// the connection opens, so a missing exchange is reported as such instead of closing the channel
// under every message.

import amqp from 'amqplib';
import type { AmqpDestination } from '../../../../platform/beam/funnel-config.js';
import {
  type BrokerConnection,
  type BrokerDriver,
  BrokerPublisher,
  COMMON_ERRORS,
  type FunnelAdapter,
  type FunnelErrorTable,
  type FunnelMessage,
  type FunnelTarget,
  failure,
} from '../adapter.js';
import { SOCKET_ERRORS, serverName, socketFailure } from './socket-errors.js';

/** The AMQP adapter's error table: AMQP 0-9-1 reply codes (§1.9) and socket/TLS errors. */
export const AMQP_ERRORS = {
  ...COMMON_ERRORS,
  ...SOCKET_ERRORS,
  AMQP_LOGIN_REFUSED: {
    kind: 'refused',
    message:
      'the destination broker refused the log-in (AMQP ACCESS_REFUSED); check the credential set named by credentialsId',
  },
  AMQP_VHOST_NOT_ALLOWED: {
    kind: 'refused',
    message:
      "the destination broker refused the virtual host (AMQP NOT_ALLOWED): it does not exist or the credential set's user may not use it",
  },
  AMQP_ACCESS_REFUSED: {
    kind: 'refused',
    message:
      "the destination broker refused the publish (AMQP ACCESS_REFUSED): the credential set's user may not write to this exchange",
  },
  AMQP_NOT_FOUND: {
    kind: 'refused',
    message:
      'the destination exchange does not exist (AMQP NOT_FOUND); create it or correct destination.exchange',
  },
  AMQP_UNROUTABLE: {
    kind: 'refused',
    message:
      'no queue is bound to the destination exchange for this routing key, so the broker did not store the message; bind a queue or correct destination.routingKey/queue',
  },
  AMQP_NACK: {
    kind: 'unavailable',
    message: 'the destination broker could not store the message (basic.nack); send again',
  },
  AMQP_CLOSED_BY_BROKER: {
    kind: 'unavailable',
    message: 'the destination broker closed the connection (shutdown or restart); send again',
  },
  AMQP_RESOURCE: {
    kind: 'unavailable',
    message: 'the destination broker is short of resources (AMQP RESOURCE_ERROR); send again later',
  },
  AMQP_PROTOCOL: {
    kind: 'refused',
    message:
      'the destination broker ended the AMQP session with a protocol error; check destination.resourceUrl',
  },
} as const satisfies FunnelErrorTable;

export type AmqpErrorCode = keyof typeof AMQP_ERRORS;

class UnroutableError extends Error {
  readonly unroutable = true;
}

/** An amqplib error carries the broker's reply code in `code` (a number) when the broker closed something. */
const replyCode = (e: unknown): number | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

export function classifyAmqp(e: unknown, phase: 'connect' | 'publish'): ReturnType<typeof failure> {
  if (e instanceof UnroutableError) return failure(AMQP_ERRORS, 'AMQP_UNROUTABLE');
  const code = replyCode(e);
  const text = e instanceof Error ? e.message : '';
  if (code === undefined && /ACCESS[-_]REFUSED/.test(text)) return failure(AMQP_ERRORS, 'AMQP_LOGIN_REFUSED');
  // RabbitMQ answers connection.open with connection.close (530 NOT_ALLOWED) when the virtual host
  // does not exist or the user may not use it; amqplib reports that frame without its reply code.
  if (
    code === undefined &&
    (/NOT[-_]ALLOWED/.test(text) || /Expected ConnectionOpenOk; got <ConnectionClose/.test(text))
  ) {
    return failure(AMQP_ERRORS, 'AMQP_VHOST_NOT_ALLOWED');
  }
  switch (code) {
    case 403:
      return failure(
        AMQP_ERRORS,
        phase === 'connect' && /login|Handshake/i.test(text) ? 'AMQP_LOGIN_REFUSED' : 'AMQP_ACCESS_REFUSED',
      );
    case 530:
      return failure(AMQP_ERRORS, 'AMQP_VHOST_NOT_ALLOWED');
    case 404:
      return failure(AMQP_ERRORS, 'AMQP_NOT_FOUND');
    case 320:
      return failure(AMQP_ERRORS, 'AMQP_CLOSED_BY_BROKER');
    case 506:
    case 541:
      return failure(AMQP_ERRORS, 'AMQP_RESOURCE');
    case undefined:
      break;
    default:
      return failure(AMQP_ERRORS, 'AMQP_PROTOCOL');
  }
  if (text === 'message nacked') return failure(AMQP_ERRORS, 'AMQP_NACK');
  if (text === 'channel closed' || /Channel closed|Connection closed/.test(text)) {
    return failure(AMQP_ERRORS, 'AMQP_CLOSED_BY_BROKER');
  }
  return socketFailure(AMQP_ERRORS, e, phase);
}

class AmqpConnection implements BrokerConnection {
  private readonly listeners: Array<() => void> = [];
  private gone = false;
  /** Messages the broker returned as unroutable, by message id, until their ack arrives. */
  private readonly returned = new Set<string>();
  /** The error the broker closed the channel with: the pending confirms are failed with it. */
  private channelError: unknown;

  constructor(
    private readonly model: amqp.ChannelModel,
    private readonly channel: amqp.ConfirmChannel,
    private readonly destination: AmqpDestination,
  ) {
    const end = () => {
      if (this.gone) return;
      this.gone = true;
      for (const l of this.listeners) l();
      // A channel the broker closed leaves the connection open but useless here: close it.
      void model.close().catch(() => undefined);
    };
    model.on('error', () => undefined);
    model.on('close', end);
    channel.on('error', (e: unknown) => {
      this.channelError = e;
    });
    channel.on('close', end);
    channel.on('return', (m: amqp.Message) => {
      const id = m.properties.messageId;
      if (typeof id === 'string') this.returned.add(id);
    });
  }

  send(message: FunnelMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.channel.publish(
          this.destination.exchange,
          message.route,
          message.body,
          {
            persistent: true,
            mandatory: true,
            messageId: message.id,
            contentType: message.contentType,
            timestamp: Math.floor(Date.now() / 1000),
            appId: 'simtrust-funnel',
          },
          (e: unknown) => {
            if (this.returned.delete(message.id)) reject(new UnroutableError('unroutable'));
            else if (e) reject(this.channelError ?? e);
            else resolve();
          },
        );
      } catch (e) {
        // amqplib throws synchronously on a channel that is already closed.
        reject(this.channelError ?? e);
      }
    });
  }

  onClose(listener: () => void): void {
    if (this.gone) listener();
    else this.listeners.push(listener);
  }

  async close(): Promise<void> {
    await this.model.close().catch(() => undefined);
  }
}

function amqpDriver(target: FunnelTarget): BrokerDriver {
  const d = target.destination as AmqpDestination;
  const tls = d.url.protocol === 'amqps:';
  const c = target.credential;
  return {
    classify: classifyAmqp,
    async open() {
      const socketOptions: Record<string, unknown> = {
        timeout: target.connectTimeoutMs,
        noDelay: true,
        ...(tls ? { ...serverName(d.url), ...(target.ca === undefined ? {} : { ca: target.ca }) } : {}),
      };
      const connectOptions: amqp.Options.Connect = {
        protocol: tls ? 'amqps' : 'amqp',
        hostname: target.address,
        port: target.port,
        vhost: d.vhost,
        heartbeat: 30,
        locale: 'en_US',
      };
      if (c?.type === 'username-password-credentials') {
        connectOptions.username = c.username as string;
        connectOptions.password = c.password as string;
      } else if (c?.type === 'x509') {
        Object.assign(socketOptions, { cert: c.cert, key: c.key, credentials: amqp.credentials.external() });
      }
      const model = await amqp.connect(connectOptions, socketOptions);
      // Errors after this point close the model; the connection object reports them.
      model.on('error', () => undefined);
      try {
        const channel = await model.createConfirmChannel();
        channel.on('error', () => undefined);
        if (d.exchange !== '') await channel.checkExchange(d.exchange);
        return new AmqpConnection(model, channel, d);
      } catch (e) {
        await model.close().catch(() => undefined);
        throw e;
      }
    },
  };
}

export const amqpAdapter: FunnelAdapter = {
  provider: 'amqp',
  credentialTypes: ['username-password-credentials', 'x509'],
  errors: AMQP_ERRORS,
  publisher: (target) => new BrokerPublisher(amqpDriver(target), AMQP_ERRORS),
};
