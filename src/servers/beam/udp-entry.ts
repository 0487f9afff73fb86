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
// The POST and the answer bytes are built in segment-forward.ts, shared with TCP → HTTP(S).
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
import { BEAM_NAMESPACE, beamConfig } from '../../platform/beam/beam-config.js';
import type { DestinationPolicy } from '../../platform/beam/destination-policy.js';
import { sessionOwner } from '../../platform/beam/session-owner.js';
import type { BeamUsageEvent } from '../../platform/beam/usage.js';
import type { Platform } from '../../platform/platform.js';
import { plainSourceAddress, RefusalLog, SourceRate } from './device-limits.js';
import { ForwardRefusal, segmentForwarder } from './segment-forward.js';
import { UpstreamHttp } from './upstream-http.js';

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
  const forwarder = segmentForwarder(platform, upstream, 'udp');
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
        throw new ForwardRefusal(
          'ERR_BEAM_NOT_CONFIGURED',
          "the SIM's group has no enabled SoracomBeam udp entry",
        );
      }
      reply(await forwarder.forward(owner, entry, msg, maxDatagram));
      count('delivered', '');
      record('delivered');
    } catch (e) {
      const r =
        e instanceof ForwardRefusal
          ? e
          : new ForwardRefusal(
              'ERR_BEAM_DESTINATION_FAILED',
              'the datagram could not be forwarded',
              'failed',
            );
      count(r.outcome, r.code);
      reply(r.toBytes().subarray(0, maxDatagram));
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
