// Starts Funnel's entry points as configured (docs/funnel-funk.md): HTTP, TCP and UDP on beamHost at
// funnelHttpPort, funnelTcpPort and funnelUdpPort — none unless its port is set; demo mode turns the
// HTTP entry point on at a free port. One delivery (and one pool of broker connections) serves all
// three.

import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../../../config/defaults.js';
import type { DestinationPolicy } from '../../../platform/beam/destination-policy.js';
import type { BeamUsageRecorder } from '../../../platform/beam/usage.js';
import type { Store } from '../../../platform/store/database.js';
import type { FunnelAdapter } from './adapter.js';
import { amqpAdapter } from './adapters/amqp.js';
import { mqttAdapter } from './adapters/mqtt.js';
import { natsJetStreamAdapter } from './adapters/nats-jetstream.js';
import { type CredentialResolver, FunnelDelivery } from './delivery.js';
import { type Listening, startFunnelHttp } from './http-entry.js';
import { FunnelIngress } from './ingress.js';
import { startFunnelTcp } from './tcp-entry.js';
import { startFunnelUdp } from './udp-entry.js';

export interface FunnelAddress {
  readonly host: string;
  readonly port: number;
}

export interface RunningFunnel {
  readonly addresses: {
    readonly http?: FunnelAddress;
    readonly tcp?: FunnelAddress;
    readonly udp?: FunnelAddress;
  };
  readonly ingress: FunnelIngress;
  readonly delivery: FunnelDelivery;
  close(): Promise<void>;
}

export interface StartFunnelOptions {
  readonly config: Config;
  readonly store: Store;
  readonly credentials: CredentialResolver;
  readonly usage: BeamUsageRecorder | undefined;
  readonly policy: Pick<DestinationPolicy, 'refusalFor'>;
  readonly extraCa?: string | undefined;
  readonly logger: Logger;
  readonly metrics?: Registry | undefined;
  /** Replaces the built-in adapters (tests). */
  readonly adapters?: Readonly<Record<'amqp' | 'nats' | 'mqtt', FunnelAdapter>>;
}

/** Whether any Funnel entry point would run with this configuration. */
export const funnelWanted = (config: Config): boolean =>
  config.funnelHttpPort !== undefined ||
  config.funnelTcpPort !== undefined ||
  config.funnelUdpPort !== undefined ||
  config.demo;

export async function startFunnel(o: StartFunnelOptions): Promise<RunningFunnel> {
  const { config } = o;
  const delivery = new FunnelDelivery({
    credentials: o.credentials,
    policy: o.policy,
    extraCa: o.extraCa,
    adapters: o.adapters ?? {
      amqp: amqpAdapter,
      nats: natsJetStreamAdapter(config.funnelPublishTimeoutSeconds * 1000),
      mqtt: mqttAdapter,
    },
    publishTimeoutMs: config.funnelPublishTimeoutSeconds * 1000,
    connectTimeoutMs: config.funnelConnectTimeoutSeconds * 1000,
    maxPublishers: config.funnelMaxBrokerConnections,
    idleMs: config.funnelBrokerIdleSeconds * 1000,
    maxInFlightPerPublisher: config.funnelMaxInFlightPerBrokerConnection,
  });
  const ingress = new FunnelIngress({ store: o.store, delivery, usage: o.usage, logger: o.logger });
  const opened: Listening[] = [];
  const addresses: { http?: FunnelAddress; tcp?: FunnelAddress; udp?: FunnelAddress } = {};
  const limits = {
    maxConnections: config.funnelMaxConnections,
    maxConnectionsPerSource: config.funnelMaxConnectionsPerSource,
    idleTimeoutMs: config.funnelIdleTimeoutSeconds * 1000,
  };
  try {
    const httpPort = config.funnelHttpPort ?? (config.demo ? 0 : undefined);
    if (httpPort !== undefined) {
      const http = await startFunnelHttp(
        { ingress, logger: o.logger, maxBodyBytes: config.funnelMaxBodyBytes, ...limits },
        config.beamHost,
        httpPort,
      );
      opened.push(http);
      addresses.http = { host: http.host, port: http.port };
    }
    if (config.funnelTcpPort !== undefined) {
      const tcp = await startFunnelTcp(
        { ingress, logger: o.logger, ...limits },
        config.beamHost,
        config.funnelTcpPort,
      );
      opened.push(tcp);
      addresses.tcp = { host: tcp.host, port: tcp.port };
    }
    if (config.funnelUdpPort !== undefined) {
      const udp = await startFunnelUdp(
        {
          ingress,
          logger: o.logger,
          packetsPerSecondPerSource: config.funnelUdpPacketsPerSecondPerSource,
          maxInFlight: config.funnelUdpMaxInFlight,
        },
        config.beamHost,
        config.funnelUdpPort,
      );
      opened.push(udp);
      addresses.udp = { host: udp.host, port: udp.port };
    }
  } catch (e) {
    for (const l of opened.reverse()) await l.close().catch(() => undefined);
    await delivery.close();
    throw e;
  }
  if (o.metrics) registerFunnelMetrics(o.metrics, ingress, delivery);
  return {
    addresses,
    ingress,
    delivery,
    async close() {
      for (const l of opened.reverse()) await l.close();
      await delivery.close();
    },
  };
}

function registerFunnelMetrics(registry: Registry, ingress: FunnelIngress, delivery: FunnelDelivery): void {
  // Started again on the same registry (tests, an in-process restart): the new one replaces the old.
  for (const name of [
    'simtrust_funnel_messages_total',
    'simtrust_funnel_errors_total',
    'simtrust_funnel_broker_connections',
  ])
    registry.removeSingleMetric(name);
  new Counter({
    name: 'simtrust_funnel_messages_total',
    help: 'Funnel device messages by outcome: delivered (the broker confirmed), refused (the device or its configuration), failed (the broker or its credentials)',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, n] of Object.entries(ingress.stats.messages)) this.inc({ outcome }, n);
    },
  });
  new Counter({
    name: 'simtrust_funnel_errors_total',
    help: "Funnel messages not delivered, by error: an ERR_* code or the adapter's error table code (AMQP_UNROUTABLE, NATS_NO_STREAM, MQTT_NOT_AUTHORIZED, …)",
    labelNames: ['code'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, n] of ingress.stats.errors) this.inc({ code }, n);
    },
  });
  new Gauge({
    name: 'simtrust_funnel_broker_connections',
    help: 'Broker connections (publishers) Funnel holds now, one per operator, destination and credential',
    registers: [registry],
    collect() {
      this.set(delivery.publishers);
    },
  });
}
