// Starts the MFA gateway listener when applications are configured (gatewayUpstream or
// gatewayApplications), for `simtrust serve`/`up` and for `simtrust gateway`; also opens the SMS
// providers' long-lived links (the SMPP bind) and runs the MFA housekeeping (expired login
// transactions and sessions) every ten minutes.

import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Platform } from '../../platform/platform.js';
import { gatewayApplications } from './applications.js';
import { buildGateway } from './gateway.js';

export interface RunningGateway {
  /** e.g. http://127.0.0.1:8081 */
  readonly url: string;
  readonly applications: readonly string[];
  close(): Promise<void>;
}

const HOUSEKEEPING_MS = 10 * 60_000;

/** Connects the SMS providers (logging through `logger`); idempotent. */
export function startSms(platform: Platform, logger: Logger): void {
  platform.sms.useLogger(logger.child({ component: 'sms' }));
  platform.sms.start();
}

export async function startGateway(platform: Platform, logger: Logger): Promise<RunningGateway | undefined> {
  const { config } = platform;
  const applications = gatewayApplications(config);
  if (applications.length === 0) return undefined;
  startSms(platform, logger);
  const app = await buildGateway({ platform, logger, applications });
  await app.listen({ host: config.gatewayHost, port: config.gatewayPort });
  const { port } = app.server.address() as AddressInfo;
  const host = config.gatewayHost.includes(':') ? `[${config.gatewayHost}]` : config.gatewayHost;
  const scheme = config.gatewayTlsCertFile !== undefined ? 'https' : 'http';
  const housekeeping = setInterval(() => {
    Promise.all([platform.mfa.purge(), platform.gatewaySessions.purge()]).catch((e: unknown) =>
      logger.error({ err: e }, 'mfa housekeeping failed'),
    );
  }, HOUSEKEEPING_MS);
  housekeeping.unref();
  return {
    url: `${scheme}://${host}:${port}`,
    applications: applications.map((a) => `${a.name} ${a.prefix} → ${a.upstream}`),
    async close() {
      clearInterval(housekeeping);
      await app.close();
    },
  };
}
