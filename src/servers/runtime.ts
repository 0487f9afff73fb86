// Starts the platform's servers from a Config: the API now; later issues add RADIUS, the device
// token listener and the MFA gateway here, so `simtrust serve` / `up` start everything configured.

import type { Logger } from 'pino';
import type { Config } from '../config/defaults.js';
import { openPlatform, type Platform } from '../platform/platform.js';
import { resolveMasterKey } from '../platform/secrets/master-key.js';
import { buildApp } from './http/app.js';

export interface RunningServers {
  readonly platform: Platform;
  /** Base URL of the API, e.g. http://127.0.0.1:8080 */
  readonly apiUrl: string;
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
  try {
    await prepare?.(platform);
    const { app, drained } = await buildApp({ platform, logger });
    await app.listen({ host: config.httpHost, port: config.httpPort });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.httpPort;
    const host = config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost;
    return {
      platform,
      apiUrl: `http://${host}:${port}`,
      async close() {
        await app.close();
        await drained();
        await platform.close();
      },
    };
  } catch (e) {
    await platform.close();
    throw e;
  }
}
