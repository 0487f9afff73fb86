// Beam's UDP entry point, UDP → HTTP/HTTPS (SORACOM: developers.soracom.io/en/docs/beam/udp-http,
// `udp://beam.soracom.io:23080`). Each datagram a device sends from its SIM session becomes one
// POST to the group's destination:
//
//   body      {"payload": "<the datagram in Base64>"}  (Content-Type: application/json)
//   headers   User-Agent: SORACOM Beam; X-Soracom-IMSI/-IMEI/-MSISDN/-SIM-ID as the entry's
//             add*Header flags say, X-Soracom-Timestamp, and with a psk X-Soracom-Signature
//             (version 20151001) — the same headers as the HTTP entry point (beam-headers.ts) —
//             then the entry's custom headers (values may come from credential sets)
//
// and the destination's answer goes back to the device as one datagram: "<status> <body>" (SORACOM's
// platform version 202411 format), or the body alone with skipStatusCode. Beam's own failures for a
// known, active SIM answer the same way: "<status> <code>: <message>" (404 not configured, 502
// destination or credential failure, 504 timeout) — never with a secret in it.
//
//   datagram → size bound → per-source rate → in-flight bound → SIM of the source address
//            → the group's udp entry → credentials → POST → answer datagram
//
// A datagram from an address without a session, or of a SIM that is not active, gets no answer at
// all: UDP sources can be spoofed, and an answer would make the entry point a reflector. Drops and
// refusals are counted in simtrust_beam_udp_datagrams_total and logged at most once a minute per
// source.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ERROR_CODES, type ErrorCode, isSimtrustError } from '../../lib/errors.js';
import {
  BEAM_NAMESPACE,
  type BeamEntry,
  beamConfig,
  type CredentialsRef,
} from '../../platform/beam/beam-config.js';
import { beamIdentityHeaders } from '../../platform/beam/beam-headers.js';
import type { DestinationPolicy } from '../../platform/beam/destination-policy.js';
import { type SessionOwner, sessionOwner } from '../../platform/beam/session-owner.js';
import type { BeamUsageEvent } from '../../platform/beam/usage.js';
import type { Platform } from '../../platform/platform.js';
import { plainSourceAddress, RefusalLog, SourceRate } from './device-limits.js';
import {
  type ClientCertificate,
  credentialHeaderValue,
  UpstreamError,
  UpstreamHttp,
} from './upstream-http.js';

/** The largest UDP payload over IPv4 (65,535 − 8 UDP − 20 IP header bytes). */
export const MAX_UDP_PAYLOAD = 65_507;

export interface BeamUdpEntryOptions {
  readonly platform: Pick<Platform, 'store' | 'clock' | 'credentials' | 'beamUsage'>;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  readonly metrics?: Registry | undefined;
  readonly policy: DestinationPolicy;
  readonly extraCa?: string | undefined;
  /** Larger datagrams are dropped; also the bound of an answer (it must fit one datagram). */
  readonly maxDatagramBytes: number;
  /** Datagrams one source may send per second on average (bursts of twice that, at least one). */
  readonly packetsPerSecondPerSource: number;
  /** Datagrams being forwarded at once, all sources together; more are dropped. */
  readonly maxInFlight: number;
  readonly timeoutMs: number;
  readonly connectionsPerDestination: number;
}

export interface BeamUdpStats {
  received: number;
  delivered: number;
  /** Forwarded and the destination failed (or Beam could not forward for a configured SIM). */
  failed: number;
  /** Not forwarded: no session, SIM not active, not configured, credentials. */
  refused: number;
  /** Dropped before any look-up: too large, over the source's rate, too many in flight. */
  dropped: number;
}

export interface BeamUdpEntry {
  bind(host: string, port: number): Promise<{ host: string; port: number }>;
  readonly stats: Readonly<BeamUdpStats>;
  close(): Promise<void>;
}

class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly outcome: 'refused' | 'failed' = 'refused',
  ) {
    super(message);
  }
}

/** "<status> <text>" as the bytes of one answer datagram. */
const answerOf = (status: number, body: Buffer, skipStatusCode: boolean): Buffer =>
  skipStatusCode ? body : Buffer.concat([Buffer.from(`${status} `, 'latin1'), body]);

export function createBeamUdpEntry(o: BeamUdpEntryOptions): BeamUdpEntry {
  const { platform, logger } = o;
  const maxDatagram = Math.min(o.maxDatagramBytes, MAX_UDP_PAYLOAD);
  const rate = new SourceRate(o.packetsPerSecondPerSource, Math.max(1, o.packetsPerSecondPerSource * 2));
  const refusalLog = new RefusalLog();
  const upstream = new UpstreamHttp({
    policy: o.policy,
    extraCa: o.extraCa,
    timeoutMs: o.timeoutMs,
    connectionsPerOrigin: o.connectionsPerDestination,
  });
  const stats: BeamUdpStats = { received: 0, delivered: 0, failed: 0, refused: 0, dropped: 0 };
  const counter = new Counter({
    name: 'simtrust_beam_udp_datagrams_total',
    help: "Datagrams to Beam's UDP entry point by outcome (delivered, refused, failed, dropped) and code",
    labelNames: ['outcome', 'code'] as const,
    registers: o.metrics ? [o.metrics] : [],
  });
  let inFlight = 0;
  let closing = false;
  let bound = false;
  const pending = new Set<Promise<void>>();
  const socket: Socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  socket.on('error', (e) => logger.error({ err: e }, 'beam udp: socket error'));

  const count = (outcome: 'delivered' | 'refused' | 'failed' | 'dropped', code: string) => {
    stats[outcome]++;
    counter.inc({ outcome, code });
  };

  const logRefusal = (source: string, code: string, detail: string) => {
    const quiet = refusalLog.shouldLog(source);
    if (quiet !== undefined) {
      logger.info(
        { peer: source, code, ...(quiet > 0 ? { alsoRefusedSinceLastLog: quiet } : {}) },
        `beam udp: ${detail}`,
      );
    }
  };

  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    stats.received++;
    const source = plainSourceAddress(rinfo.address);
    if (closing) return;
    if (msg.length > maxDatagram) {
      count('dropped', 'too_large');
      return logRefusal(
        source,
        'too_large',
        `datagram of ${msg.length} bytes dropped (beamUdpMaxDatagramBytes)`,
      );
    }
    if (!rate.take(source)) {
      count('dropped', 'rate');
      return logRefusal(source, 'rate', 'datagram dropped: over beamUdpPacketsPerSecondPerSource');
    }
    if (inFlight >= o.maxInFlight) {
      count('dropped', 'busy');
      return logRefusal(source, 'busy', 'datagram dropped: beamUdpMaxInFlight datagrams are being forwarded');
    }
    inFlight++;
    const p = handle(msg, rinfo, source)
      .catch((e: unknown) => logger.error({ err: e, peer: source }, 'beam udp: datagram failed'))
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  });

  const resolve = async (owner: SessionOwner, ref: CredentialsRef) => {
    try {
      return await platform.credentials.resolve(owner.operatorId, ref.credentialsId, owner);
    } catch (e) {
      const why = isSimtrustError(e) ? e.message : 'it could not be read';
      throw new Refusal(
        'ERR_BEAM_CREDENTIALS',
        `credential set ${ref.credentialsId} of the SoracomBeam udp entry: ${why}`,
      );
    }
  };

  async function headersFor(owner: SessionOwner, entry: BeamEntry): Promise<Record<string, string>> {
    const psk = entry.addSignature && entry.psk ? await resolve(owner, entry.psk) : undefined;
    if (psk !== undefined && (psk.type !== 'psk' || typeof psk.key !== 'string')) {
      throw new Refusal(
        'ERR_BEAM_CREDENTIALS',
        `credential set ${entry.psk?.credentialsId} is not of type psk`,
      );
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'SORACOM Beam',
    };
    for (const h of entry.customHeaders) {
      let value: string | undefined;
      if (h.value !== undefined && typeof h.value !== 'string') {
        value = credentialHeaderValue(await resolve(owner, h.value));
        if (value === undefined) {
          throw new Refusal(
            'ERR_BEAM_CREDENTIALS',
            `credential set ${h.value.credentialsId} cannot be a header value: use psk, api-token-credentials or username-password-credentials without line breaks`,
          );
        }
      } else value = h.value;
      if (h.action === 'delete') delete headers[h.name];
      else if (value !== undefined) {
        // One header per name in an object: append joins as RFC 9110 §5.3 allows for list fields.
        headers[h.name] =
          h.action === 'append' && headers[h.name] !== undefined ? `${headers[h.name]}, ${value}` : value;
      }
    }
    // Beam's identity last, so no custom header can stand in for it.
    Object.assign(
      headers,
      beamIdentityHeaders(owner, entry, psk?.key as string | undefined, platform.clock.now()),
    );
    return headers;
  }

  async function handle(msg: Buffer, rinfo: RemoteInfo, source: string): Promise<void> {
    const owner = await sessionOwner(platform.store, source, BEAM_NAMESPACE);
    if (owner === undefined || owner.status !== 'active') {
      const code = owner === undefined ? 'ERR_BEAM_NO_SESSION' : 'ERR_BEAM_SIM_NOT_ACTIVE';
      count('refused', code);
      return logRefusal(
        source,
        code,
        owner === undefined
          ? `refused: no online session owns ${source}`
          : `refused: the SIM is ${owner.status}, not active`,
      );
    }
    const entry = beamConfig(owner.configuration).udp[0];
    let bytesDown = 0;
    const record = (outcome: BeamUsageEvent['outcome'], error?: string) =>
      platform.beamUsage.record({
        service: 'beam',
        entryPoint: 'udp',
        operatorId: owner.operatorId,
        simId: owner.simId,
        imsi: owner.imsi,
        bytesUp: msg.length,
        bytesDown,
        outcome,
        ...(entry ? { destination: entry.destination.protocol === 'https:' ? 'https' : 'http' } : {}),
        ...(error ? { error } : {}),
      });
    const reply = (bytes: Buffer) => {
      bytesDown = bytes.length;
      if (!closing) socket.send(bytes, rinfo.port, rinfo.address);
    };
    try {
      if (entry === undefined) {
        throw new Refusal('ERR_BEAM_NOT_CONFIGURED', "the SIM's group has no enabled SoracomBeam udp entry");
      }
      const [headers, cert] = await Promise.all([
        headersFor(owner, entry),
        entry.clientCert && entry.destination.protocol === 'https:'
          ? clientCert(owner, entry.clientCert)
          : undefined,
      ]);
      const body = Buffer.from(JSON.stringify({ payload: msg.toString('base64') }), 'utf8');
      // The answer goes back with "<status> " in front, so its body gets what is left of a datagram.
      const room = maxDatagram - (entry.skipStatusCode ? 0 : 4);
      const answer = await upstream.post(entry.destination, headers, body, room, cert);
      reply(answerOf(answer.status, answer.body, entry.skipStatusCode));
      count('delivered', '');
      record('delivered');
    } catch (e) {
      const r =
        e instanceof Refusal
          ? e
          : e instanceof UpstreamError
            ? new Refusal(
                e.failure.kind === 'refused'
                  ? 'ERR_BEAM_DESTINATION_REFUSED'
                  : e.failure.kind === 'timeout'
                    ? 'ERR_BEAM_DESTINATION_TIMEOUT'
                    : 'ERR_BEAM_DESTINATION_FAILED',
                e.failure.message,
                e.failure.kind === 'refused' ? 'refused' : 'failed',
              )
            : new Refusal('ERR_BEAM_DESTINATION_FAILED', 'the datagram could not be forwarded', 'failed');
      count(r.outcome, r.code);
      reply(
        Buffer.from(`${ERROR_CODES[r.code].status} ${r.code}: ${r.message}`, 'utf8').subarray(0, maxDatagram),
      );
      record(r.outcome, r.code);
      logger.warn(
        {
          simId: owner.simId,
          ...(entry ? { entry: entry.key, destination: entry.destination.origin } : {}),
          code: r.code,
          reason: r.message,
        },
        'beam udp: not delivered',
      );
    }
  }

  async function clientCert(owner: SessionOwner, ref: CredentialsRef): Promise<ClientCertificate> {
    const c = await resolve(owner, ref);
    if (c.type !== 'x509' || typeof c.cert !== 'string' || typeof c.key !== 'string') {
      throw new Refusal(
        'ERR_BEAM_CREDENTIALS',
        `credential set ${ref.credentialsId} is not of type x509 (certificate and key)`,
      );
    }
    return { cert: c.cert, key: c.key, ca: typeof c.ca === 'string' ? c.ca : undefined };
  }

  return {
    stats,
    bind: (host, port) =>
      new Promise((ok, fail) => {
        socket.once('error', fail);
        socket.bind(port, host, () => {
          socket.off('error', fail);
          bound = true;
          logger.info({ host, port: socket.address().port }, 'beam udp: UDP → HTTP(S) entry point listening');
          ok({ host, port: socket.address().port });
        });
      }),
    async close() {
      closing = true;
      await Promise.allSettled([...pending]);
      if (bound) await new Promise<void>((r) => socket.close(() => r()));
      await upstream.close();
    },
  };
}
