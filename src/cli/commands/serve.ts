// `simtrust serve` runs the platform; `simtrust up --demo` does the same on embedded SQLite with a
// demo operator and fleet, and prints what to try next.

import { createWriteStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Config, SettingName } from '../../config/defaults.js';
import { SETTINGS } from '../../config/defaults.js';
import { loadConfig } from '../../config/load.js';
import { flagName } from '../../config/setting.js';
import type { RunningServers } from '../../servers/runtime.js';

// The server side (Fastify, Kysely, drivers) is imported when a server command runs, so the API
// commands of the CLI start fast.
const serverModules = async () => ({
  ...(await import('../../servers/runtime.js')),
  ...(await import('../../servers/logger.js')),
  ...(await import('../../platform/demo.js')),
  ...(await import('../demo-fleet.js')),
  ...(await import('../demo-data-flow.js')),
});

/** Adds one --flag per non-secret setting (secrets belong in the environment, not in `ps`). */
export function addSettingFlags(command: Command): Command {
  command.option('--config <file>', 'JSON config file (default $SIMTRUST_CONFIG)');
  for (const [name, setting] of Object.entries(SETTINGS)) {
    if ('secret' in setting && setting.secret) continue;
    command.option(`${flagName(name)} <value>`, setting.doc.split('. ')[0] ?? setting.doc);
  }
  return command;
}

export function configFromFlags(opts: Record<string, unknown>, demo: boolean): Config {
  const flags: Partial<Record<SettingName, unknown>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[])
    if (opts[name] !== undefined) flags[name] = opts[name];
  return loadConfig({ flags, demo, ...(typeof opts.config === 'string' ? { file: opts.config } : {}) });
}

function stopOnSignals(servers: RunningServers, onStop?: () => void): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      onStop?.();
      await servers.close();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function welcome(
  config: Config,
  apiUrl: string,
  deviceUrl: string,
  logFile: string,
  simCount: number,
  exampleSimId: string,
  radius?: { authPort: number; acctPort: number },
  fleet?: {
    devices: number;
    gsupPort: number;
    refusedIccid: string;
    activeIccid: string;
    antiTheft: { moved?: string; stolen?: string; all: readonly string[] };
    handlers?: { traffic: string; imei: string; limitMiB: number };
    euicc?: { eid: string; profileA: string; profileB: string };
    /** Beam and Funnel demo data: where it flows, or why not. */
    dataFlow?: readonly string[];
  },
): string {
  const login = `--endpoint ${apiUrl} --email ${config.demoOperatorEmail} --password ${config.demoOperatorPassword}`;
  return [
    '',
    'simtrust is running in demo mode.',
    '',
    `  Console      ${apiUrl}/console/   (sign in with the demo login below; docs/console.md)`,
    `  API          ${apiUrl}/v1`,
    `  API docs     ${apiUrl}/docs   (OpenAPI: ${apiUrl}/openapi.json)`,
    `  Device token ${deviceUrl}/   (JWKS: ${deviceUrl}/.well-known/jwks.json; docs/endorse.md)`,
    ...(radius
      ? [
          `  RADIUS       ${config.radiusHost} auth ${radius.authPort}, accounting ${radius.acctPort} (docs/aaa.md)`,
        ]
      : []),
    ...(fleet
      ? [
          `  Demo fleet   ${fleet.devices} simulated devices attach over GSUP (${config.gsupHost}:${fleet.gsupPort}) and RADIUS and send`,
          `               traffic (docs/simulator.md); SIM ${fleet.refusedIccid} is IMEI-locked to another device and refused`,
          ...(fleet.antiTheft.all.length > 0
            ? [
                `  Anti-theft   ${fleet.antiTheft.all.length} SIMs carry the anti-theft applet, managed over OTA SMS through the lab SMSC at ${config.otaSmppUrl} (docs/anti-theft.md);`,
                ...(fleet.antiTheft.moved
                  ? [
                      `               SIM ${fleet.antiTheft.moved} is moved into another device after ${Math.max(1, Math.floor(config.demoTheftSeconds / 3))} s`,
                    ]
                  : []),
                ...(fleet.antiTheft.stolen
                  ? [
                      `               the device with SIM ${fleet.antiTheft.stolen} is stolen after ${config.demoTheftSeconds} s`,
                    ]
                  : []),
                '               both SIMs then block themselves: attach refused, alert in the API',
              ]
            : []),
          ...(fleet.euicc
            ? [
                `  eSIM         one more device carries eUICC ${fleet.euicc.eid} (docs/esim.md, Demo): profile ${fleet.euicc.profileA} enabled;`,
                `               download profile ${fleet.euicc.profileB} from its SIM page in the console (eSIM panel) or the CLI`,
              ]
            : []),
          ...(fleet.dataFlow ?? []),
          ...(fleet.handlers
            ? [
                '  Event handlers (docs/event-handlers.md), acting on the demo fleet:',
                `               SIM ${fleet.activeIccid} (heavy traffic) over ${fleet.handlers.limitMiB} MiB today → slowed to s1.minimum, mail to the operator`,
                config.smtpUrl === undefined
                  ? '               (no mail server in the demo: that mail run is recorded as failed, "no SMTP server is configured"; set SIMTRUST_SMTP_URL to send it)'
                  : '               (the mail goes to the SMTP server of SIMTRUST_SMTP_URL)',
                `               SIM ${fleet.refusedIccid} refused by its IMEI lock → suspended`,
              ]
            : []),
        ]
      : []),
    `  Demo login   ${config.demoOperatorEmail} / ${config.demoOperatorPassword}`,
    `  Data         ${config.databaseUrl}, ${simCount} demo SIMs in 2 groups`,
    `  Logs         ${logFile}`,
    '',
    'Try next (in another terminal):',
    `  npx simtrust login ${login}`,
    '  npx simtrust sims list --output table',
    `  npx simtrust sims activate ${exampleSimId} --output table`,
    ...(fleet
      ? [
          `  npx simtrust sims get ${fleet.activeIccid}     # sessionStatus: online, IP, IMEI, cell`,
          `  npx simtrust sims get ${fleet.refusedIccid}     # then GET /v1/sims/${fleet.refusedIccid}/events/refusals`,
          `  grep IMEI_MISMATCH ${logFile}`,
          ...[fleet.antiTheft.moved, fleet.antiTheft.stolen].flatMap((iccid) =>
            iccid === undefined
              ? []
              : [
                  `  npx simtrust anti-theft show ${iccid} --output table     # blocked, last alert`,
                  `  npx simtrust anti-theft events ${iccid}`,
                ],
          ),
          ...(fleet.antiTheft.stolen ? [`  npx simtrust anti-theft unblock ${fleet.antiTheft.stolen}`] : []),
          ...(fleet.euicc
            ? [
                `  npx simtrust esim profiles download ${fleet.euicc.eid} --iccid ${fleet.euicc.profileB} --profile-type simtrust-usim --enable --wait`,
              ]
            : []),
          ...(fleet.handlers
            ? [
                '  npx simtrust event-handlers list --output table',
                `  npx simtrust event-handlers executions ${fleet.handlers.traffic}     # slowed down, mail`,
                `  npx simtrust event-handlers executions ${fleet.handlers.imei}     # suspended`,
              ]
            : []),
        ]
      : []),
    '',
    'Demo mode uses a generated master key kept under the data directory: not for real SIMs.',
    'Press Ctrl-C to stop.',
    '',
  ].join('\n');
}

export function registerServeCommands(program: Command): void {
  addSettingFlags(
    program
      .command('serve')
      .description('Run the platform (API; needs SIMTRUST_MASTER_KEY unless --demo)')
      .option('--demo', 'demo mode: generated master key under the data directory')
      .addHelpText(
        'after',
        '\nExample:\n  $ SIMTRUST_MASTER_KEY=$(cat /run/secrets/simtrust-master-key) simtrust serve --http-port 8080',
      ),
  ).action(async (opts: Record<string, unknown>) => {
    const config = configFromFlags(opts, opts.demo === true);
    const { createLogger, startServers } = await serverModules();
    // A data directory an earlier version created world-readable is made private (docs/operations.md).
    if (existsSync(config.dataDir))
      (await import('../../platform/private-files.js')).ensurePrivateDir(config.dataDir);
    const logger = createLogger(config);
    const servers = await startServers(config, logger);
    logger.info(
      {
        apiUrl: servers.apiUrl,
        deviceUrl: servers.deviceUrl,
        ...(servers.radius
          ? { radiusAuthPort: servers.radius.authPort, radiusAcctPort: servers.radius.acctPort }
          : {}),
        ...(servers.gsup ? { gsupPort: servers.gsup.port } : {}),
        // Where partners and devices reach the eSIM roles (ports picked by the system when 0).
        ...(servers.esim?.soap ? { esimSoapUrl: servers.esim.soap.url } : {}),
        ...(servers.esim?.scp81Port !== undefined ? { esimScp81Port: servers.esim.scp81Port } : {}),
      },
      'simtrust is serving',
    );
    await stopOnSignals(servers, () => logger.info('stopping'));
  });

  addSettingFlags(
    program
      .command('up')
      .description(
        'Run everything configured; with --demo: embedded SQLite, a demo operator and 50 demo SIMs',
      )
      .option('--demo', 'demo mode (what `npm start` runs)')
      .addHelpText('after', '\nExample:\n  $ simtrust up --demo'),
  ).action(async (opts: Record<string, unknown>) => {
    const demo = opts.demo === true;
    const configured = configFromFlags(opts, demo);
    const {
      createLogger,
      startServers,
      ensureDemoFleet,
      demoIccid,
      startDemoFleet,
      startDemoSmsc,
      startDemoDataFlow,
      DEMO_DAILY_LIMIT_MIB,
    } = await serverModules();
    // The demo fleet's network side needs the GSUP listener (on a free port unless one is set) and,
    // for the anti-theft SIMs, the lab SMSC the platform's OTA link binds to (unless one is set).
    const fleetOn = demo && configured.demoFleetDevices > 0;
    const demoSmsc =
      fleetOn && configured.otaSmppUrl === undefined ? await startDemoSmsc(configured) : undefined;
    const config: Config =
      fleetOn && (configured.gsupPort === undefined || demoSmsc !== undefined)
        ? Object.freeze({
            ...configured,
            ...(configured.gsupPort === undefined ? { gsupPort: 0 } : {}),
            ...(demoSmsc ? demoSmsc.config : {}),
          })
        : configured;
    const { ensurePrivateDir, ensurePrivateFile } = await import('../../platform/private-files.js');
    ensurePrivateDir(config.dataDir);
    const logFile = join(config.dataDir, 'simtrust.log');
    ensurePrivateFile(logFile);
    const logger = createLogger(config, createWriteStream(logFile, { flags: 'a', mode: 0o600 }));
    let simCount = 0;
    let operatorId = '';
    let handlers: { traffic: string; imei: string } | undefined;
    const servers = await startServers(config, logger, async (platform) => {
      if (!demo) return;
      const seeded = await ensureDemoFleet(platform);
      simCount = seeded.simCount;
      operatorId = seeded.operatorId;
      handlers = seeded.handlers;
    });
    const fleet =
      demo && servers.radius && servers.gsup && config.demoFleetDevices > 0
        ? await startDemoFleet({
            platform: servers.platform,
            operatorId,
            gsupPort: servers.gsup.port,
            radius: servers.radius,
            logger,
            ...(demoSmsc ? { sms: demoSmsc } : {}),
            ...(servers.esim ? { esim: servers.esim } : {}),
          })
        : undefined;
    // Data through Beam (MQTT → Mosquitto) and Funnel (HTTP → RabbitMQ) from two fleet devices.
    const dataFlow = fleet
      ? await startDemoDataFlow({
          platform: servers.platform,
          operatorId,
          logger,
          deviceAddress: (imsi) => fleet.deviceAddress(imsi),
          fleetDevices: fleet.devices,
          beamMqtt: servers.beam.addresses.mqtt,
          funnelHttp: servers.beam.funnel?.http,
        }).catch((e: unknown) => {
          logger.error({ err: e }, 'demo data flow: not started');
          return undefined;
        })
      : undefined;
    process.stdout.write(
      demo
        ? welcome(
            config,
            servers.apiUrl,
            servers.deviceUrl,
            logFile,
            simCount,
            demoIccid(1),
            servers.radius,
            fleet &&
              servers.gsup && {
                devices: fleet.devices,
                gsupPort: servers.gsup.port,
                refusedIccid: demoIccid(fleet.devices),
                ...(fleet.euicc ? { euicc: fleet.euicc } : {}),
                activeIccid: demoIccid(1),
                antiTheft: fleet.antiTheft,
                ...(handlers ? { handlers: { ...handlers, limitMiB: DEMO_DAILY_LIMIT_MIB } } : {}),
                dataFlow: dataFlow?.lines ?? [],
              },
          )
        : `simtrust is serving at ${servers.apiUrl} (logs: ${logFile})\n`,
    );
    const running: RunningServers = {
      ...servers,
      async close() {
        await dataFlow?.stop();
        await fleet?.stop();
        await servers.close();
        await demoSmsc?.smsc.close();
      },
    };
    await stopOnSignals(running, () => process.stdout.write('\nstopping…\n'));
    process.stdout.write('stopped.\n');
  });
}
