// Starts the RADIUS side of the platform: the authentication and accounting listeners (with the EAP
// methods of ./eap as their EapHandler) and the RFC 5176 client that disconnects and re-rates
// sessions when a SIM changes. `startServers` (servers/runtime.ts) calls this when radiusEnabled.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Platform } from '../../platform/platform.js';
import { createEapServer } from './eap/index.js';
import type { EapHandler } from './eap-handler.js';
import { DynamicAuthorizationClient } from './rfc-5176-dynamic-authorization.js';
import { RadiusServer } from './server.js';

export interface RunningRadius {
  readonly server: RadiusServer;
  readonly dynamicAuthorization: DynamicAuthorizationClient;
  readonly authPort: number;
  readonly acctPort: number;
  close(): Promise<void>;
}

export interface StartRadiusOptions {
  readonly platform: Platform;
  readonly logger: Logger;
  readonly metrics?: Registry | undefined;
  /** Replaces the EAP-SIM/AKA/AKA' server (tests). */
  readonly eapHandler?: EapHandler;
  readonly host?: string;
  readonly authPort?: number;
  readonly acctPort?: number;
}

export async function startRadius(o: StartRadiusOptions): Promise<RunningRadius> {
  const { platform } = o;
  const eapHandler =
    o.eapHandler ??
    (await createEapServer({
      store: platform.store,
      keyRing: platform.keyRing,
      clock: platform.clock,
      config: platform.config,
      auc: platform.auc,
      logger: o.logger.child({ component: 'eap' }),
      writer: platform.aaa.writer,
    }));
  const server = await RadiusServer.start({
    platform,
    logger: o.logger,
    eapHandler,
    metrics: o.metrics,
    ...(o.host === undefined ? {} : { host: o.host }),
    ...(o.authPort === undefined ? {} : { authPort: o.authPort }),
    ...(o.acctPort === undefined ? {} : { acctPort: o.acctPort }),
  });
  let dynamicAuthorization: DynamicAuthorizationClient;
  try {
    dynamicAuthorization = await DynamicAuthorizationClient.start({
      platform,
      clients: server.clients,
      logger: o.logger.child({ component: 'rfc5176' }),
      host: o.host ?? platform.config.radiusHost,
    });
  } catch (e) {
    await server.close();
    throw e;
  }
  return {
    server,
    dynamicAuthorization,
    authPort: server.port('auth'),
    acctPort: server.port('acct'),
    async close() {
      await server.close();
      await dynamicAuthorization.close();
    },
  };
}
