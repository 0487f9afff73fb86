// The EAP-SIM / EAP-AKA / EAP-AKA' server behind the RADIUS listener (eap-handler.ts is the
// contract). Its conversation state travels sealed in RADIUS State, so it keeps nothing in memory
// between rounds and any instance can answer any round (docs/aaa.md, "EAP state").

import type { Logger } from 'pino';
import type { Config } from '../../../config/defaults.js';
import type { Clock } from '../../../lib/clock.js';
import { admit } from '../../../platform/aaa/admission.js';
import type { AuthenticationCentre } from '../../../platform/aaa/auc.js';
import type { KeyRing } from '../../../platform/secrets/key-ring.js';
import { incrementCounter, readCounter } from '../../../platform/store/atomic.js';
import type { Store } from '../../../platform/store/database.js';
import type { EapHandler } from '../eap-handler.js';
import { handleEapTurn } from './flow.js';
import { EapIdentityStore, type Writer } from './identity-store.js';
import { EapStateKeys } from './state-keys.js';
import type { EapDependencies, EapSettings } from './turn.js';

const FAILURE_SCOPE = 'eap-failures';

export interface EapServerOptions {
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly clock: Clock;
  readonly config: Pick<
    Config,
    | 'eapConversationSeconds'
    | 'eapResultIndication'
    | 'eapPseudonymSeconds'
    | 'eapReauthSeconds'
    | 'eapReauthMaxCount'
    | 'eapFailureLimit'
    | 'eapFailureWindowSeconds'
  >;
  readonly auc: Pick<AuthenticationCentre, 'vectors' | 'triplets'>;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Batches the identity writes with other small writes (the platform's group commit). */
  readonly writer?: Writer;
}

export function eapSettings(config: EapServerOptions['config']): EapSettings {
  return {
    conversationMs: config.eapConversationSeconds * 1000,
    resultIndication: config.eapResultIndication,
    pseudonymMs: config.eapPseudonymSeconds * 1000,
    reauthMs: config.eapReauthSeconds * 1000,
    reauthMaxCount: config.eapReauthMaxCount,
    failureLimit: config.eapFailureLimit,
    failureWindowMs: config.eapFailureWindowSeconds * 1000,
  };
}

export async function createEapServer(o: EapServerOptions): Promise<EapHandler> {
  const db = o.store.db;
  const settings = eapSettings(o.config);
  const writer: Writer = o.writer ?? { run: (op) => op(db) };
  const deps: EapDependencies = {
    keys: await EapStateKeys.open(o.store, o.keyRing, o.clock.now()),
    identities: new EapIdentityStore(db, writer, o.keyRing),
    auc: o.auc,
    admit: (imsi, a) =>
      admit(db, {
        imsi,
        access: 'wifi',
        operatorId: a.operatorId,
        nasAddress: a.nasAddress,
        activate: a.activate,
        now: a.now,
      }),
    attempts: {
      failures: async (imsi, now) => (await readCounter(db, FAILURE_SCOPE, imsi, now))?.value ?? 0,
      fail: async (imsi, now) => {
        await incrementCounter(db, {
          scope: FAILURE_SCOPE,
          key: imsi,
          now,
          windowMs: settings.failureWindowMs,
        });
      },
    },
    settings,
    clock: o.clock,
    log: o.logger,
  };
  return { handle: (request) => handleEapTurn(deps, request) };
}
