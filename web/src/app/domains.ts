// Every domain folder contributes its routes and its navigation entry here — one line per domain.
// A new capability (anti-theft, event handlers, eSIM profiles, …) adds a folder and a line.

import { auditRoutes } from '../audit/routes';
import { credentialRoutes } from '../credentials/routes';
import { eventHandlerRoutes } from '../event-handlers/routes';
import { gatewayRoutes } from '../gateway/routes';
import { groupRoutes } from '../groups/routes';
import type { MessageKey } from '../i18n/en';
import { importRoutes } from '../import/routes';
import { keyRoutes } from '../keys/routes';
import { radiusRoutes } from '../radius/routes';
import { accountRoutes, samRoutes } from '../sam/routes';
import { simRoutes } from '../sims/routes';
import type { RouteDef } from './router';

export interface Domain {
  readonly routes: readonly RouteDef[];
  /** The entry in the main navigation. */
  readonly nav?: { readonly to: string; readonly label: MessageKey };
}

export const DOMAINS: readonly Domain[] = [
  simRoutes,
  importRoutes,
  groupRoutes,
  eventHandlerRoutes,
  samRoutes,
  radiusRoutes,
  credentialRoutes,
  keyRoutes,
  gatewayRoutes,
  auditRoutes,
  accountRoutes,
];
