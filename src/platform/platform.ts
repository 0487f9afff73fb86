// Composition root of the domain: opens the store and key ring and builds the services. Servers
// and the CLI receive a Platform; nothing here opens a socket.

import type { Config } from '../config/defaults.js';
import { type Clock, systemClock } from '../lib/clock.js';
import { AaaService, airConfigurationValidator } from './aaa/aaa-service.js';
import { AuthenticationCentre } from './aaa/auc.js';
import { BEAM_NAMESPACE, validateBeamParameter } from './beam/beam-config.js';
import { FUNK_NAMESPACE, validateFunkParameter } from './beam/funk-config.js';
import { FUNNEL_NAMESPACE, validateFunnelParameter } from './beam/funnel-config.js';
import { registerStatsExports } from './beam/stats-export.js';
import { BeamUsage } from './beam/usage.js';
import { CredentialService } from './credentials/credential-sets.js';
import { DirectoryService } from './directories/directory-service.js';
import { validateEndorseParameter } from './endorse/config.js';
import { EndorseService } from './endorse/endorse-service.js';
import { EsimPki } from './esim/ci/pki-service.js';
import { EsimOperations } from './esim/operations/operations-service.js';
import { EventEngine } from './events/engine.js';
import { EventHandlerService } from './events/event-handlers.js';
import { mailExecutor } from './events/mail.js';
import { outboundPolicy } from './events/outbound-policy.js';
import { webRequestExecutor } from './events/web-request.js';
import { ExportService, exportsDir } from './exports/export-service.js';
import { AccessManagement } from './iam/access.js';
import { MfaEngine } from './mfa/engine.js';
import { GatewaySessions } from './mfa/gateway-sessions.js';
import { MfaKeys } from './mfa/keys.js';
import { PlatformSmsMfa } from './mfa/platform-sms.js';
import { SmsDispatcher } from './mfa/sms-providers/dispatcher.js';
import { OtaService } from './ota/ota-service.js';
import { KeyRing } from './secrets/key-ring.js';
import { SimImporter } from './sims/csv-import.js';
import { SimExpiry } from './sims/expiry.js';
import { GroupService } from './sims/groups.js';
import { SimService } from './sims/sim-service.js';
import { openStore, type Store } from './store/database.js';
import { GroupCommit } from './store/group-commit.js';
import { VpgService, validateAirVpgId } from './vpg/vpg-service.js';

export interface Platform {
  readonly config: Config;
  readonly clock: Clock;
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly sims: SimService;
  /** SIM expiry carried out (setSimExpiryTime; servers/sim-expiry-job.ts runs it). */
  readonly expiry: SimExpiry;
  readonly groups: GroupService;
  readonly importer: SimImporter;
  /** Users, roles, permissions, auth keys, MFA, login (docs/access-management.md). */
  readonly access: AccessManagement;
  /** SIM-attested identity tokens: issuing, AKA challenges, signing keys (docs/endorse.md). */
  readonly endorse: EndorseService;
  /** The authentication centre: vectors, SQN, resync (docs/aaa.md). */
  readonly auc: AuthenticationCentre;
  /** Admission, addresses, accounting, NAS clients, sessions (docs/aaa.md). */
  readonly aaa: AaaService;
  /** Directories of application users for the MFA gateway (docs/mfa-gateway.md). */
  readonly directories: DirectoryService;
  /** The MFA engine: login transactions, SMS one-time codes, limits (docs/mfa-gateway.md). */
  readonly mfa: MfaEngine;
  /** Outgoing SMS through the configured providers, with failover and delivery records. */
  readonly sms: SmsDispatcher;
  /** Sessions of the MFA gateway. */
  readonly gatewaySessions: GatewaySessions;
  /** SMS one-time codes as the second factor of platform accounts. */
  readonly smsMfa: PlatformSmsMfa;
  /** OTA key sets, anti-theft commands, PoRs and alerts (docs/anti-theft.md, "Platform side"). */
  readonly ota: OtaService;
  /** Event handlers: rules on usage, state and security events and their actions (docs/event-handlers.md). */
  readonly eventHandlers: EventHandlerService;
  /** The event handlers' engine: outbox, rule evaluation, scheduled actions (servers/event-handlers-job.ts runs it). */
  readonly events: EventEngine;
  /** The eSIM PKI: CI, EUM, SM-DP/SM-SR and eUICC certificates, chain verification (docs/esim.md). */
  readonly esimPki: EsimPki;
  /**
   * eUICC SIMs and profile operations (docs/esim.md, "Profiles and operations"); the SM-SR/SM-DP
   * are plugged in with esimOperations.connect(ports), and their progress goes to it (EsimProgressPort).
   */
  readonly esimOperations: EsimOperations;
  /** Credential sets: the API's CRUD and resolve() for Beam, Funnel and Funk (docs/credentials.md). */
  readonly credentials: CredentialService;
  /**
   * Beam/Funnel/Funk usage per SIM: entry points call record() (synchronous, buffered); the
   * beam-usage job flushes it, close() flushes what is left (docs/stats.md).
   */
  readonly beamUsage: BeamUsage;
  /** Exported files (stats exports): CSV under dataDir/exports, short-lived download URLs (docs/stats.md). */
  readonly exports: ExportService;
  /** Virtual private gateways: desired state the data plane programs (docs/vpg.md). */
  readonly vpg: VpgService;
  close(): Promise<void>;
}

export interface OpenPlatformOptions {
  readonly masterKey: Uint8Array;
  readonly clock?: Clock;
  /** Use an already-open store (tests); it is closed with the platform. */
  readonly store?: Store;
}

export async function openPlatform(config: Config, options: OpenPlatformOptions): Promise<Platform> {
  const clock = options.clock ?? systemClock;
  const store = options.store ?? (await openStore(config.databaseUrl, { poolSize: config.databasePoolSize }));
  try {
    const keyRing = await KeyRing.open(store, options.masterKey);
    const groups = new GroupService(store, clock, {
      Endorse: validateEndorseParameter,
      SoracomAir: (key, value) => {
        airConfigurationValidator(key, value);
        validateAirVpgId(key, value);
      },
      [BEAM_NAMESPACE]: validateBeamParameter,
      [FUNK_NAMESPACE]: validateFunkParameter,
      [FUNNEL_NAMESPACE]: validateFunnelParameter,
    });
    // One group commit for the AAA's small writes (SQN advances, EAP identities): they share fsyncs.
    const writer = new GroupCommit(store, {
      maxBatch: 500,
      concurrency: Math.max(1, config.databasePoolSize >> 1),
    });
    const auc = new AuthenticationCentre(store, keyRing, clock, writer, {
      resyncFailureLimit: config.aucResyncFailureLimit,
      resyncFailureWindowMs: config.aucResyncFailureWindowSeconds * 1000,
    });
    const aaa = new AaaService(store, keyRing, clock, config, writer);
    const endorse = new EndorseService({
      config,
      store,
      keyRing,
      clock,
      auc,
    });
    const mfaKeys = new MfaKeys(store, keyRing, clock);
    const sms = new SmsDispatcher({
      store,
      clock,
      keys: mfaKeys,
      entries: config.smsProviders,
      demo: config.demo,
      sender: config.smsSender,
    });
    const mfa = new MfaEngine(store, clock, config, mfaKeys, sms);
    const access = new AccessManagement(store, keyRing, clock, config);
    const sims = new SimService(store, keyRing, clock);
    // Event handlers: web requests never reach this platform or private networks unless allowed.
    const outbound = outboundPolicy({
      allowed: config.eventWebRequestAllowedNetworks,
      selfAddresses: [config.httpHost, config.deviceHttpHost],
    });
    const eventHandlers = new EventHandlerService(store, clock, keyRing, outbound);
    const events = new EventEngine(store, clock, sims, { leaseMs: config.eventActionLeaseSeconds * 1000 });
    // Usage just recorded is evaluated against the traffic rules at the engine's next tick, from the
    // per-SIM deltas the writer hands over.
    aaa.accounting.onCommitted((_records, usage) => events.noteAccounting(usage));
    events.useExecutor(
      'ExecuteWebRequestAction',
      webRequestExecutor({
        policy: outbound,
        clock,
        timeoutMs: config.eventWebRequestTimeoutMs,
        unseal: (value, handlerId) => eventHandlers.unseal(value, handlerId),
      }),
    );
    const mail = mailExecutor({
      smtpUrl: config.smtpUrl,
      from: config.smtpFrom,
      store,
      clock,
      timeoutMs: config.eventWebRequestTimeoutMs,
    });
    events.useExecutor('SendMailAction', mail);
    events.useExecutor('SendMailToOperatorAction', mail);
    // Platform accounts may use SMS one-time codes as their second factor (issue 7).
    const smsMfa = new PlatformSmsMfa(store, clock, mfa, access.mfa);
    const esimOperations = new EsimOperations(store, clock);
    const credentials = new CredentialService(store, keyRing, clock);
    const beamUsage = new BeamUsage(store, clock, { metricsSimSeries: config.beamMetricsSimSeries });
    const exports = new ExportService(store, clock, {
      dir: exportsDir(config.dataDir),
      urlTtlMs: config.exportUrlTtlSeconds * 1000,
      retentionMs: config.exportRetentionHours * 3_600_000,
    });
    registerStatsExports(exports);
    const vpg = new VpgService(store, clock);
    // Session start/stop changes which devices a VPG holds: the data plane hears it at once.
    aaa.accounting.onCommitted((records) => {
      if (records.some((r) => r.kind !== 'interim')) vpg.notify();
    });
    access.login.useSmsSecondFactor(smsMfa);
    return {
      config,
      clock,
      store,
      keyRing,
      sims,
      expiry: new SimExpiry(store, clock, sims, { sessionControl: () => aaa.sessionControl }),
      groups,
      importer: new SimImporter(store, keyRing, clock),
      access,
      endorse,
      auc,
      aaa,
      directories: new DirectoryService(store, keyRing, clock),
      mfa,
      sms,
      smsMfa,
      ota: new OtaService(store, keyRing, clock),
      eventHandlers,
      events,
      esimPki: new EsimPki(store, keyRing, clock),
      esimOperations,
      credentials,
      beamUsage,
      exports,
      vpg,
      gatewaySessions: new GatewaySessions(store, clock, {
        idleSeconds: config.gatewaySessionIdleSeconds,
        absoluteSeconds: config.gatewaySessionAbsoluteSeconds,
      }),
      close: async () => {
        await esimOperations.drained();
        await sms.close();
        await aaa.drained();
        await credentials.drained();
        // Usage recorded by the entry points (already closed) is written before the store goes.
        try {
          await exports.drained();
          await beamUsage.close();
        } finally {
          await store.close();
        }
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}
