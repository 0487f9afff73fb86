// Starts the platform's servers from a Config — the API, the device token listener, RADIUS, GSUP and
// the MFA gateway, each as configured — so `simtrust serve` / `up` start everything in one process.

import type { Logger } from 'pino';
import type { Config } from '../config/defaults.js';
import { PLATFORM_KEY_OWNER } from '../platform/endorse/signing-keys.js';
import { startOtaLink } from '../platform/ota/ota-runtime.js';
import { openPlatform, type Platform } from '../platform/platform.js';
import { resolveMasterKey } from '../platform/secrets/master-key.js';
import { type RunningBeam, startBeam } from './beam/start.js';
import { startBeamUsageJob } from './beam-usage-job.js';
import { DataPlane } from './dataplane/reconciler.js';
import { buildDeviceApp } from './device/app.js';
import { esimOperatorOf, type RunningEsim, startEsim } from './esim/esim-runtime.js';
import { startEventHandlersJob } from './event-handlers-job.js';
import { startExportsJob } from './exports-job.js';
import { type RunningGateway, startGateway, startSms } from './gateway/start.js';
import { GsupServer } from './gsup/server.js';
import { buildApp } from './http/app.js';
import { type RunningRadius, startRadius } from './radius/index.js';
import { startPurgeJob } from './retention-job.js';
import { startSimExpiryJob } from './sim-expiry-job.js';
import { startStaleSessionJob } from './stale-sessions-job.js';

export interface RunningServers {
  readonly platform: Platform;
  /** Base URL of the API, e.g. http://127.0.0.1:8080 */
  readonly apiUrl: string;
  /** Base URL of the device-facing token listener, e.g. http://127.0.0.1:8082 */
  readonly deviceUrl: string;
  /** UDP ports of the RADIUS listeners, when radiusEnabled. */
  readonly radius: { readonly authPort: number; readonly acctPort: number } | undefined;
  /** TCP port of the GSUP (HLR/AuC) listener, when gsupPort is set. */
  readonly gsup: { readonly port: number } | undefined;
  /** The MFA gateway, when gatewayUpstream or gatewayApplications is set. */
  readonly gateway: RunningGateway | undefined;
  /** This deployment's SM-SR and SM-DP, when esimOperatorId is set (demo: the demo operator). */
  readonly esim: RunningEsim | undefined;
  /** Beam's entry points and where they listen (none unless their ports are set; demo: HTTP). */
  readonly beam: RunningBeam;
  /** The data plane (docs/vpg.md), when dataplaneEnabled; `available` says whether the kernel took it. */
  readonly dataplane: DataPlane | undefined;
  close(): Promise<void>;
}

export async function startServers(
  config: Config,
  logger: Logger,
  prepare?: (platform: Platform) => Promise<void>,
): Promise<RunningServers> {
  const master = resolveMasterKey(config);
  if (master.demoKeyFile) {
    logger.warn(
      { keyFile: master.demoKeyFile },
      'demo mode: using a generated master key stored beside the data; set SIMTRUST_MASTER_KEY for real use',
    );
  }
  const platform = await openPlatform(config, { masterKey: master.key });
  const opened: Array<{ close(): Promise<unknown> }> = [];
  try {
    await prepare?.(platform);
    // The platform's own key set (the gateway's assertions) exists before the first request; each
    // operator's SIM-token keys are made when that operator first signs or publishes its JWKS. The
    // schedule rotates them all.
    await platform.endorse.keys.ensure(PLATFORM_KEY_OWNER);
    const device = await buildDeviceApp({ platform, logger: logger.child({ listener: 'device' }) });
    opened.push(device);
    await device.listen({ host: config.deviceHttpHost, port: config.deviceHttpPort });
    const { app, drained, metrics } = await buildApp({ platform, logger });
    opened.push(app);
    await app.listen({ host: config.httpHost, port: config.httpPort });
    let radius: RunningRadius | undefined;
    if (config.radiusEnabled) {
      radius = await startRadius({ platform, logger: logger.child({ listener: 'radius' }), metrics });
      opened.push(radius);
    }
    let gsup: GsupServer | undefined;
    if (config.gsupPort !== undefined) {
      gsup = await GsupServer.start({
        db: platform.store.db,
        auc: platform.auc,
        host: config.gsupHost,
        port: config.gsupPort,
        logger: logger.child({ listener: 'gsup' }),
        allowedNetworks: config.gsupAllowedNetworks,
        allowedUnitNames: config.gsupAllowedUnitNames,
        maxConnectionsPerSource: config.gsupMaxConnectionsPerSource,
        maxConnections: config.gsupMaxConnections,
        idleTimeoutMs: config.gsupIdleTimeoutSeconds * 1000,
        metrics,
      });
      opened.push(gsup);
    }
    // eSIM (docs/esim.md, Running it): this deployment's SM-SR and SM-DP, before the OTA link that
    // brings their eUICCs' PoRs and notifications. Without them the eSIM routes answer 503.
    const esimOperator = await esimOperatorOf(platform);
    let esim: RunningEsim | undefined;
    if (esimOperator !== undefined) {
      esim = await startEsim(platform, esimOperator, logger.child({ component: 'esim' }), {
        scp81Port: config.esimScp81Port ?? (config.demo ? 0 : undefined),
        metrics,
      });
      opened.push(esim);
    }
    // OTA to the cards' anti-theft applets (docs/anti-theft.md): one SMPP link, kept bound.
    const otaLink =
      config.otaSmppUrl === undefined
        ? undefined
        : startOtaLink(platform, logger.child({ component: 'ota' }), esim?.sms);
    if (otaLink) opened.push(otaLink);
    // SMS providers connect now (the SMPP bind), whether or not this process runs the gateway.
    startSms(platform, logger);
    const gateway = await startGateway(platform, logger);
    if (gateway) opened.push(gateway);
    // Beam (docs/beam.md): credential-injecting entry points for devices on their SIM sessions.
    const beam = await startBeam(platform, logger.child({ component: 'beam' }), metrics);
    opened.push(beam);
    // Data plane (docs/vpg.md): VPGs as network namespaces + nftables, rebuilt from the database.
    const dataplane = config.dataplaneEnabled
      ? new DataPlane(platform.vpg, logger.child({ component: 'dataplane' }), {
          intervalMs: config.vpgReconcileIntervalSeconds * 1000,
        })
      : undefined;
    if (dataplane) {
      await dataplane.start();
      opened.push(dataplane);
    } else {
      platform.vpg.setDataPlane({
        available: false,
        reason: 'dataplaneEnabled is false in the configuration',
      });
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.httpPort;
    const host = config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost;
    const deviceAddress = device.server.address();
    const devicePort =
      typeof deviceAddress === 'object' && deviceAddress ? deviceAddress.port : config.deviceHttpPort;
    const deviceHost = config.deviceHttpHost.includes(':')
      ? `[${config.deviceHttpHost}]`
      : config.deviceHttpHost;
    const keySchedule = setInterval(() => {
      platform.endorse.keys.runSchedule().then(
        (r) =>
          r.rotated.length > 0 &&
          logger.info(
            { rotated: r.rotated },
            'token signing keys rotated on schedule (see each operator audit log)',
          ),
        (e: unknown) => logger.error({ err: e }, 'token signing key schedule failed'),
      );
    }, 60_000);
    keySchedule.unref();
    // Sessions whose accounting went silent are closed (docs/aaa.md, Accounting).
    const staleSessions = startStaleSessionJob(platform, logger.child({ component: 'accounting' }), metrics);
    // Retention and expiry (docs/operations.md), in batches that leave the hot paths running.
    const purgeJob = startPurgeJob(platform, logger.child({ component: 'retention' }), metrics);
    // Event handlers: events, traffic rules and scheduled actions (docs/event-handlers.md).
    const eventsJob = startEventHandlersJob(platform, logger.child({ component: 'events' }), metrics);
    // SIM expiry (setSimExpiryTime): due SIMs get their expiry action once (docs/sims.md, Expiry).
    const expiryJob = startSimExpiryJob(platform, logger.child({ component: 'sim-expiry' }), metrics);
    // Beam/Funnel/Funk usage recorded by the entry points, written every 2 s (docs/stats.md).
    const beamUsageJob = startBeamUsageJob(platform, logger.child({ component: 'beam-usage' }), metrics);
    // Exported files: exports left half-written by a stopped process, and expiry (docs/stats.md).
    const exportsJob = startExportsJob(platform, logger.child({ component: 'exports' }));
    return {
      platform,
      apiUrl: `http://${host}:${port}`,
      deviceUrl: `http://${deviceHost}:${devicePort}`,
      radius: radius && { authPort: radius.authPort, acctPort: radius.acctPort },
      gsup: gsup && { port: gsup.port },
      gateway,
      esim,
      beam,
      dataplane,
      async close() {
        clearInterval(keySchedule);
        await staleSessions.stop();
        await purgeJob.stop();
        await expiryJob.stop();
        await eventsJob.stop();
        await beam.close();
        await dataplane?.close();
        await gateway?.close();
        await otaLink?.close();
        await esim?.close();
        await gsup?.close();
        await radius?.close();
        await device.close();
        await app.close();
        await drained();
        await beamUsageJob.stop();
        await exportsJob.stop();
        await platform.close();
      },
    };
  } catch (e) {
    for (const server of opened.reverse()) await server.close().catch(() => undefined);
    await platform.close();
    throw e;
  }
}
