// Starts Beam's entry points as configured (docs/beam.md): each listens on beamHost at its own port
// (beamHttpPort, beamMqttPort, beamTcpPort, beamUdpPort), none unless its port is set; demo mode
// turns the HTTP entry point on at a free port. Every entry point identifies the SIM by the source
// address of its session and forwards only to destinations the deployment's policy allows.
//
// One block per entry point below; each owner adds theirs in its own hunk.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { destinationPolicyOf } from '../../platform/beam/destination-policy.js';
import type { Platform } from '../../platform/platform.js';
import { createFunk } from './funk.js';
import { funnelWanted, startFunnel } from './funnel/start.js';
import { createBeamHttpEntry, readCaFile } from './http-entry.js';
import { BeamMqttEntry } from './mqtt-entry.js';
import { createBeamTcpEntry } from './tcp-entry.js';
import { createBeamUdpEntry } from './udp-entry.js';

export interface BeamAddress {
  readonly host: string;
  readonly port: number;
}

export interface RunningBeam {
  /** Where each running entry point listens (absent: not running). */
  readonly addresses: {
    readonly http?: BeamAddress;
    readonly mqtt?: BeamAddress;
    readonly tcp?: BeamAddress;
    readonly udp?: BeamAddress;
  };
  /** Where Funk's entry points listen, when any runs (docs/funnel-funk.md, Funk). */
  readonly funk?: { readonly http?: BeamAddress; readonly tcp?: BeamAddress; readonly udp?: BeamAddress };
  /** Where Funnel's entry points listen, when any runs (docs/funnel-funk.md). */
  readonly funnel?: { readonly http?: BeamAddress; readonly tcp?: BeamAddress; readonly udp?: BeamAddress };
  close(): Promise<void>;
}

export async function startBeam(
  platform: Platform,
  logger: Logger,
  metrics: Registry | undefined,
): Promise<RunningBeam> {
  const { config } = platform;
  const policy = destinationPolicyOf(config);
  const opened: Array<{ close(): Promise<void> }> = [];
  const addresses: { -readonly [K in keyof RunningBeam['addresses']]: BeamAddress } = {};
  let funkAddresses: { http?: BeamAddress; tcp?: BeamAddress; udp?: BeamAddress } | undefined;
  let funnelAddresses: RunningBeam['funnel'];
  try {
    // --- HTTP → HTTP(S) (beamhttp)
    const httpPort = config.beamHttpPort ?? (config.demo ? 0 : undefined);
    if (httpPort !== undefined) {
      const entry = createBeamHttpEntry({
        platform,
        logger: logger.child({ listener: 'beam-http' }),
        metrics,
        policy,
        extraCa: readCaFile(config.beamDestinationCaFile),
        maxConnections: config.beamHttpMaxConnections,
        maxConnectionsPerSource: config.beamHttpMaxConnectionsPerSource,
        idleTimeoutMs: config.beamHttpIdleTimeoutSeconds * 1000,
        bodyLimitBytes: config.beamHttpBodyLimitBytes,
        timeoutMs: config.beamHttpTimeoutSeconds * 1000,
        connectionsPerDestination: config.beamHttpConnectionsPerDestination,
      });
      opened.push(entry);
      addresses.http = await entry.listen(config.beamHost, httpPort);
      logger.info({ address: addresses.http }, 'Beam HTTP entry point listening');
    }
    // --- MQTT → MQTT(S) (beammqtt)
    const mqttPort = config.beamMqttPort ?? (config.demo ? 0 : undefined);
    if (mqttPort !== undefined) {
      const entry = await BeamMqttEntry.start({
        platform,
        host: config.beamHost,
        port: mqttPort,
        logger: logger.child({ listener: 'beam-mqtt' }),
        destinations: policy,
        trustedCa: readCaFile(config.beamDestinationCaFile),
        metrics,
        limits: {
          maxConnections: config.beamMqttMaxConnections,
          maxConnectionsPerSource: config.beamMqttMaxConnectionsPerSource,
          maxPacketBytes: config.beamMqttMaxPacketBytes,
          maxTopicBytes: config.beamMqttMaxTopicBytes,
          idleTimeoutMs: config.beamMqttIdleTimeoutSeconds * 1000,
          maxInflight: config.beamMqttMaxInflight,
          sessionCheckMs: config.beamMqttSessionCheckSeconds * 1000,
        },
      });
      opened.push(entry);
      addresses.mqtt = { host: config.beamHost, port: entry.port };
    }
    // --- TCP → TCP(S) and UDP → HTTP(S) (beamtcp); demo mode turns both on at free ports
    const tcpPort = config.beamTcpPort ?? (config.demo ? 0 : undefined);
    if (tcpPort !== undefined) {
      const entry = createBeamTcpEntry({
        platform,
        logger: logger.child({ listener: 'beam-tcp' }),
        metrics,
        policy,
        extraCa: readCaFile(config.beamDestinationCaFile),
        maxConnections: config.beamTcpMaxConnections,
        maxConnectionsPerSource: config.beamTcpMaxConnectionsPerSource,
        idleTimeoutMs: config.beamTcpIdleTimeoutSeconds * 1000,
        connectTimeoutMs: config.beamHttpTimeoutSeconds * 1000,
        connectionsPerDestination: config.beamHttpConnectionsPerDestination,
      });
      opened.push(entry);
      addresses.tcp = await entry.listen(config.beamHost, tcpPort);
    }
    const udpPort = config.beamUdpPort ?? (config.demo ? 0 : undefined);
    if (udpPort !== undefined) {
      const entry = createBeamUdpEntry({
        platform,
        logger: logger.child({ listener: 'beam-udp' }),
        metrics,
        policy,
        extraCa: readCaFile(config.beamDestinationCaFile),
        maxDatagramBytes: config.beamUdpMaxDatagramBytes,
        packetsPerSecondPerSource: config.beamUdpPacketsPerSecondPerSource,
        maxInFlight: config.beamUdpMaxInFlight,
        timeoutMs: config.beamHttpTimeoutSeconds * 1000,
        connectionsPerDestination: config.beamHttpConnectionsPerDestination,
      });
      opened.push(entry);
      addresses.udp = await entry.bind(config.beamHost, udpPort);
    }
    // --- Funk: HTTP, TCP and UDP → a function over HTTPS (beamtcp); demo mode: all three at free ports
    const funkPorts = {
      http: config.funkHttpPort ?? (config.demo ? 0 : undefined),
      tcp: config.funkTcpPort ?? (config.demo ? 0 : undefined),
      udp: config.funkUdpPort ?? (config.demo ? 0 : undefined),
    };
    if (funkPorts.http !== undefined || funkPorts.tcp !== undefined || funkPorts.udp !== undefined) {
      const funk = createFunk({
        platform,
        logger: logger.child({ listener: 'funk' }),
        metrics,
        policy,
        extraCa: readCaFile(config.beamDestinationCaFile),
        timeoutMs: config.funkTimeoutSeconds * 1000,
        maxBodyBytes: config.funkMaxBodyBytes,
        connectionsPerFunction: config.funkConnectionsPerFunction,
        maxConnections: config.beamTcpMaxConnections,
        maxConnectionsPerSource: config.beamTcpMaxConnectionsPerSource,
        idleTimeoutMs: config.beamTcpIdleTimeoutSeconds * 1000,
        maxDatagramBytes: config.beamUdpMaxDatagramBytes,
        packetsPerSecondPerSource: config.beamUdpPacketsPerSecondPerSource,
        maxInFlight: config.beamUdpMaxInFlight,
      });
      opened.push(funk);
      funkAddresses = {};
      const host = config.beamHost;
      if (funkPorts.http !== undefined) funkAddresses.http = await funk.listenHttp(host, funkPorts.http);
      if (funkPorts.tcp !== undefined) funkAddresses.tcp = await funk.listenTcp(host, funkPorts.tcp);
      if (funkPorts.udp !== undefined) funkAddresses.udp = await funk.bindUdp(host, funkPorts.udp);
    }
    // --- Funnel: HTTP, TCP and UDP → message brokers (funnel)
    if (funnelWanted(config)) {
      const funnel = await startFunnel({
        config,
        store: platform.store,
        credentials: platform.credentials,
        usage: platform.beamUsage,
        policy,
        extraCa: readCaFile(config.beamDestinationCaFile),
        logger: logger.child({ listener: 'funnel' }),
        metrics,
      });
      opened.push(funnel);
      funnelAddresses = funnel.addresses;
    }
  } catch (e) {
    for (const o of opened.reverse()) await o.close().catch(() => undefined);
    throw e;
  }
  return {
    addresses,
    ...(funkAddresses === undefined ? {} : { funk: funkAddresses }),
    ...(funnelAddresses === undefined ? {} : { funnel: funnelAddresses }),
    async close() {
      for (const o of opened.reverse()) await o.close();
    },
  };
}
