// `simtrust gateway`: runs the MFA gateway on its own (the API need not run in the same process;
// both use the same database and master key). `--upstream URL` protects one application at `/`;
// several applications come from gatewayApplications in the config file.

import type { Command } from 'commander';
import { SimtrustError } from '../../lib/errors.js';
import { addSettingFlags, configFromFlags } from './serve.js';

function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new SimtrustError('ERR_CLI_USAGE', '--listen must be HOST:PORT, e.g. 0.0.0.0:8443');
  return { host: (m[1] ?? m[2]) as string, port };
}

export function registerGatewayCommand(program: Command): void {
  addSettingFlags(
    program
      .command('gateway')
      .description('Run the MFA gateway: a reverse proxy that asks for a password and a second factor')
      .option('--upstream <url>', 'the application to protect (at /); same as --gateway-upstream')
      .option('--listen <host:port>', 'where the gateway listens (default 127.0.0.1:8081)')
      .option('--directory <id>', 'directory whose users may log in (default: the platform users)')
      .option('--factors <list>', 'second factors: sms-otp,totp,sim-token (a choice when several)')
      .option('--demo', 'demo mode: generated master key, SMS printed to the terminal')
      .addHelpText(
        'after',
        '\nExample:\n  $ SIMTRUST_MASTER_KEY=… simtrust gateway --upstream http://127.0.0.1:3000 --listen 0.0.0.0:8443 --directory dir-0123456789abcdef --config gateway.json',
      ),
  ).action(async (opts: Record<string, unknown>) => {
    const listen = typeof opts.listen === 'string' ? parseListen(opts.listen) : undefined;
    const config = configFromFlags(
      {
        ...opts,
        ...(opts.upstream !== undefined ? { gatewayUpstream: opts.upstream } : {}),
        ...(opts.directory !== undefined ? { gatewayDirectory: opts.directory } : {}),
        ...(opts.factors !== undefined ? { gatewayFactors: opts.factors } : {}),
        ...(listen ? { gatewayHost: listen.host, gatewayPort: String(listen.port) } : {}),
      },
      opts.demo === true,
    );
    const { createLogger } = await import('../../servers/logger.js');
    const { openPlatform } = await import('../../platform/platform.js');
    const { resolveMasterKey } = await import('../../platform/secrets/master-key.js');
    const { startGateway } = await import('../../servers/gateway/start.js');
    const logger = createLogger(config);
    const platform = await openPlatform(config, { masterKey: resolveMasterKey(config).key });
    let running: Awaited<ReturnType<typeof startGateway>>;
    try {
      // The identity assertion is signed with the platform's own key set; make sure it exists.
      const { PLATFORM_KEY_OWNER } = await import('../../platform/endorse/signing-keys.js');
      await platform.endorse.keys.ensure(PLATFORM_KEY_OWNER);
      running = await startGateway(platform, logger);
      if (running === undefined) {
        throw new SimtrustError(
          'ERR_CLI_USAGE',
          'nothing to protect: give --upstream URL or gatewayApplications',
        );
      }
    } catch (e) {
      await platform.close();
      throw e;
    }
    logger.info(
      { gatewayUrl: running.url, applications: running.applications },
      'simtrust gateway is serving',
    );
    await new Promise<void>((resolve) => {
      const stop = async () => {
        await running?.close();
        await platform.close();
        resolve();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  });
}
