// Funnel → NATS JetStream (docs/funnel-funk.md, NATS). A message counts as delivered when JetStream
// answers the publish with its PubAck — the stream has stored it (a plain NATS publish has no such
// answer, so core NATS is not offered). The message id goes out as Nats-Msg-Id: a device that sends
// again after a lost answer is de-duplicated by the stream within its duplicate window (the PubAck
// then says `duplicate`, and the device still gets 204). With destination.stream set, the publish
// carries the expected-stream check, so a subject captured by another stream is refused rather than
// stored elsewhere.
//
// Log-in: `username-password-credentials` (user/pass), `api-token-credentials` (token) or `x509`
// (client certificate over tls://). The client does not reconnect on its own and ignores cluster
// updates: it talks to the one address the destination policy checked.

import { JetStreamApiError, jetstream } from '@nats-io/jetstream';
import { connect, errors, headers, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { NatsDestination } from '../../../../platform/beam/funnel-config.js';
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

/** JetStream API error codes (nats-server errors.json) the table tells apart. */
const WRONG_STREAM = 10060;
const STREAM_FULL = [10047, 10077, 10054];

export const NATS_ERRORS = {
  ...COMMON_ERRORS,
  ...SOCKET_ERRORS,
  NATS_AUTHORIZATION: {
    kind: 'refused',
    message:
      'the destination NATS server refused the log-in; check the credential set named by credentialsId',
  },
  NATS_PERMISSION: {
    kind: 'refused',
    message:
      "the destination NATS server refused the publish: the credential set's user may not publish to this subject",
  },
  NATS_NO_STREAM: {
    kind: 'refused',
    message:
      'no JetStream stream stores this subject at the destination (or JetStream is not enabled there); add the subject to a stream or correct destination.subject',
  },
  NATS_WRONG_STREAM: {
    kind: 'refused',
    message:
      'the subject is stored by another stream than destination.stream; correct destination.subject or stream',
  },
  NATS_JETSTREAM_UNAVAILABLE: {
    kind: 'unavailable',
    message:
      'JetStream at the destination did not answer (starting, stopping or electing a stream leader); send again',
  },
  NATS_STREAM_FULL: {
    kind: 'unavailable',
    message: 'the destination stream refused the message (its limits are reached); send again later',
  },
  NATS_REJECTED: {
    kind: 'refused',
    message: 'the destination stream refused the message (JetStream API error)',
  },
  NATS_CLOSED: {
    kind: 'unavailable',
    message: 'the connection to the destination NATS server is closed; send again',
  },
} as const satisfies FunnelErrorTable;

/** A publish nobody answered while JetStream itself did not answer either: not a missing stream. */
class JetStreamUnavailable extends Error {}

export function classifyNats(e: unknown, phase: 'connect' | 'publish'): FunnelFailure {
  if (e instanceof JetStreamUnavailable) return failure(NATS_ERRORS, 'NATS_JETSTREAM_UNAVAILABLE');
  if (e instanceof errors.AuthorizationError || e instanceof errors.UserAuthenticationExpiredError) {
    return failure(NATS_ERRORS, 'NATS_AUTHORIZATION');
  }
  if (e instanceof errors.PermissionViolationError) return failure(NATS_ERRORS, 'NATS_PERMISSION');
  // JetStream answers "no responders" (raised as JetStreamNotEnabled) when no stream takes the subject.
  if ((e instanceof Error && e.name === 'JetStreamNotEnabled') || e instanceof errors.NoRespondersError) {
    return failure(NATS_ERRORS, 'NATS_NO_STREAM');
  }
  if (e instanceof errors.RequestError && e.isNoResponders()) return failure(NATS_ERRORS, 'NATS_NO_STREAM');
  if (e instanceof JetStreamApiError) {
    if (e.code === WRONG_STREAM) return failure(NATS_ERRORS, 'NATS_WRONG_STREAM');
    if (STREAM_FULL.includes(e.code)) return failure(NATS_ERRORS, 'NATS_STREAM_FULL');
    return failure(NATS_ERRORS, 'NATS_REJECTED');
  }
  if (e instanceof errors.TimeoutError) {
    return failure(NATS_ERRORS, phase === 'connect' ? 'CONNECT_TIMEOUT' : 'CONFIRM_TIMEOUT');
  }
  if (e instanceof errors.ClosedConnectionError || e instanceof errors.DrainingConnectionError) {
    return failure(NATS_ERRORS, 'NATS_CLOSED');
  }
  // A permissions error can also arrive as the connection's status, wrapped.
  const cause = (e as { cause?: unknown } | null)?.cause;
  if (cause instanceof errors.PermissionViolationError) return failure(NATS_ERRORS, 'NATS_PERMISSION');
  if (cause instanceof errors.AuthorizationError) return failure(NATS_ERRORS, 'NATS_AUTHORIZATION');
  return socketFailure(NATS_ERRORS, e, phase);
}

function natsDriver(target: FunnelTarget, publishTimeoutMs: number): BrokerDriver {
  const d = target.destination as NatsDestination;
  const c = target.credential;
  const tls = d.url.protocol === 'tls:';
  return {
    classify: classifyNats,
    async open() {
      const nc = await connect({
        servers: `${target.address.includes(':') ? `[${target.address}]` : target.address}:${target.port}`,
        name: 'simtrust-funnel',
        reconnect: false,
        ignoreClusterUpdates: true,
        noEcho: true,
        timeout: target.connectTimeoutMs,
        ...(c?.type === 'username-password-credentials'
          ? { user: c.username as string, pass: c.password as string }
          : {}),
        ...(c?.type === 'api-token-credentials' ? { token: c.token as string } : {}),
        ...(tls
          ? {
              tls: {
                ...serverName(d.url),
                ...(target.ca === undefined ? {} : { ca: target.ca.join('\n') }),
                ...(c?.type === 'x509' ? { cert: c.cert as string, key: c.key as string } : {}),
              } as NonNullable<NodeConnectionOptions['tls']>,
            }
          : {}),
      });
      const js = jetstream(nc, { timeout: publishTimeoutMs });
      const listeners: Array<() => void> = [];
      let gone = false;
      void nc.closed().then(() => {
        gone = true;
        for (const l of listeners) l();
      });
      // A publish the user may not make fails its request with PermissionViolationError (nats.js
      // matches the server's -ERR to the request's subject).
      const connection: BrokerConnection = {
        async send(message: FunnelMessage) {
          const h = headers();
          h.set('Content-Type', message.contentType);
          try {
            await js.publish(message.route, message.body, {
              msgID: message.id,
              headers: h,
              timeout: publishTimeoutMs,
              ...(d.stream === undefined ? {} : { expect: { streamName: d.stream } }),
            });
          } catch (e) {
            // "No responders" means no stream took the subject — or that JetStream is not running
            // just now (a server stopping or starting answers so too). JetStream's own API tells
            // the two apart: a stream list for the subject is an answer; silence is not.
            if (!(e instanceof Error && e.name === 'JetStreamNotEnabled')) throw e;
            let streams: unknown;
            try {
              const r = await nc.request('$JS.API.STREAM.NAMES', JSON.stringify({ subject: message.route }), {
                timeout: 1000,
              });
              streams = (r.json() as { streams?: unknown }).streams;
            } catch {
              throw new JetStreamUnavailable('JetStream did not answer');
            }
            if (Array.isArray(streams) && streams.length > 0)
              throw new JetStreamUnavailable('stream not answering');
            throw e;
          }
        },
        onClose(listener) {
          if (gone) listener();
          else listeners.push(listener);
        },
        async close() {
          await nc.close().catch(() => undefined);
        },
      };
      return connection;
    },
  };
}

/** The NATS adapter; `publishTimeoutMs` bounds JetStream's wait for the PubAck. */
export const natsJetStreamAdapter = (publishTimeoutMs: number): FunnelAdapter => ({
  provider: 'nats',
  credentialTypes: ['username-password-credentials', 'api-token-credentials', 'x509'],
  errors: NATS_ERRORS,
  publisher: (target) => new BrokerPublisher(natsDriver(target, publishTimeoutMs), NATS_ERRORS),
});
