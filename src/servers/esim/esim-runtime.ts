// This deployment's own SM-SR and SM-DP in the server process (docs/esim.md, Running it in serve):
// what `simtrust serve` / `up` start when esimOperatorId is set (demo mode: the demo operator).
//
//   certificates  the operator's SM-SR and SM-DP GP certificates from the eSIM PKI (issued once from the
//                 deployment's CI when it has none valid; an imported CI without key cannot issue them)
//   ES5           SMS: SCP80 packets to the ISD-R over the platform's OTA SMPP link (the anti-theft OTA's
//                 link, OtaService.sharedLink); PoRs and notifications come back through OtaInbound.
//                 HTTPS (esimScp81Port): the script waits in the SCP81 sessions, a push SMS names the
//                 listener and the ISD-R SCP81 key set, the card connects over PSK-TLS.
//   roles         SmSr (ES1/ES3/ES4, notifications) and SmDp (ES2, ES3 to the SM-SR in-process), both
//                 reporting progress to the operator layer, their writes (and Es5Sms's counters) one
//                 group commit; every operator of the deployment is an MNO to them (mnoIdOf);
//                 esimOperations.connect(ports); recover() of all three once the
//                 OTA link is bound (in the background: recovery talks to cards over ES5).
//   SM-SR change  SmSrChange beside the SmSr (same store, ES5 transport, CERT.SR.ECDSA/SK.SR.ECDSA),
//                 ES7 to the partner SM-SRs of the registry over SOAP; its recover() runs before the
//                 SmSr's; hand-overs whose HandoverEUICC got no answer are asked again every 30 s.
//   switch        the operator layer's switch carrier (switch/): SMSRChange at our SmSrChange, the
//                 target's SM-SR (ES4) and SM-DP (ES2) as partners over SOAP; as a target, a partner
//                 operator's ES2 DownloadProfile served from our operator's switch pool
//                 (EsimSwitchTarget); switches a stopped process left are resumed every 30 s.
//
// PSK-TLS asks for the key synchronously during the handshake, while the ISD-R key sets are sealed in
// the database: the key of an eUICC is opened when its push leaves and kept in memory only while its
// session may come (pskTtlMs), so no key of an idle eUICC sits in memory.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/defaults.js';
import { SimtrustError } from '../../lib/errors.js';
import { encodePskIdentity, type PskIdentity } from '../../lib/gp-amd-b-ram-over-http.js';
import { PLATFORM_OWNER } from '../../platform/esim/ci/pki-service.js';
import type { Es4NotificationPort } from '../../platform/esim/es-ports.js';
import { failed, REASON_CODES, SUBJECT_CODES } from '../../platform/esim/es-soap/sgp-02-status-codes.js';
import type { NotificationView } from '../../platform/esim/notifications/notification-outbox.js';
import type { EsimRolePorts } from '../../platform/esim/operations/ports.js';
import type { EsimProgressPort } from '../../platform/esim/operations/progress.js';
import { type Es2NotificationPort, SmDp } from '../../platform/esim/sm-dp/sm-dp-service.js';
import { loadIsdrKeyset } from '../../platform/esim/sm-sr/eis-store.js';
import { Es5Https } from '../../platform/esim/sm-sr/es5-https.js';
import { Es5Router } from '../../platform/esim/sm-sr/es5-router.js';
import { Es5Sms } from '../../platform/esim/sm-sr/es5-sms.js';
import { type Es5Outcome, type Es5Transport, ISD_R_AID } from '../../platform/esim/sm-sr/es5-transport.js';
import { adminSessionTrigger, RamOverHttpSessions } from '../../platform/esim/sm-sr/ram-over-http.js';
import { SmSr } from '../../platform/esim/sm-sr/sm-sr-service.js';
import { SmSrChange } from '../../platform/esim/sm-sr-change/sm-sr-change-service.js';
import { EsimSwitchTarget } from '../../platform/esim/switch/target.js';
import { findOperatorByEmail } from '../../platform/iam/operators.js';
import type { Platform } from '../../platform/platform.js';
import { GroupCommit } from '../../platform/store/group-commit.js';
import { registerNotificationMetrics } from './notification-metrics.js';
import { type Scp81Listener, startScp81Listener } from './scp81-listener.js';
import { EsimSoapListener } from './soap-listener.js';

/** The ISD-R SCP81 key set the push names (SGP.02 Table 4; `simtrust card new --euicc` makes KVN 40). */
export const SCP81_KVN = 0x40;
const SCP81_KID = 1;

/** An operator of this deployment as the in-process SM-SR and SM-DP know it (its MNO id, an OID). */
export function mnoIdOf(operatorId: string): string {
  return `2.999.15.4.${Number.parseInt(operatorId.replace(/\D/g, '') || '0', 10)}`;
}

export interface RunningEsim {
  readonly smsrId: string;
  readonly smdpId: string;
  readonly operatorId: string;
  /** The SCP81 listener's port, when ES5 goes over HTTPS. */
  readonly scp81Port: number | undefined;
  /** The SGP.02 SOAP listener (esimSoapPort): ES1-ES4 with the registered partners. */
  readonly soap: EsimSoapListener | undefined;
  /** Hand to startOtaLink: the PoRs and notifications of the SM-SR's eUICCs. */
  readonly sms: Es5Sms;
  readonly smsr: SmSr;
  /** SM-SR change (SGP.02 §3.8) of this SM-SR: ES4 PrepareSMSRChange/SMSRChange, ES7 with partners. */
  readonly change: SmSrChange;
  readonly smdp: SmDp;
  /** Settles once the previous run's procedures are recovered (after the OTA link bound). */
  readonly recovery: Promise<void>;
  close(): Promise<void>;
}

/** The operator the roles run under: esimOperatorId, or the demo operator in demo mode. */
export async function esimOperatorOf(platform: Platform): Promise<string | undefined> {
  const c = platform.config;
  if (c.esimOperatorId !== undefined) return c.esimOperatorId;
  if (!c.demo) return undefined;
  return (await findOperatorByEmail(platform.store.db, c.demoOperatorEmail))?.operatorId;
}

/**
 * Starts the SM-SR and SM-DP for `operatorId` and connects them to the operator layer. The caller
 * starts the OTA link with `sms` afterwards (MO SMS need the receiver; sends wait for the link).
 */
export async function startEsim(
  platform: Platform,
  operatorId: string,
  logger: Logger,
  options: { scp81Port?: number | undefined; metrics?: Registry | undefined } = {},
): Promise<RunningEsim> {
  const c: Config = platform.config;
  const { store, keyRing, clock, esimPki: pki, esimOperations } = platform;
  const exists = await store.db
    .selectFrom('operators')
    .select('operator_id')
    .where('operator_id', '=', operatorId)
    .executeTakeFirst();
  if (exists === undefined)
    throw new SimtrustError('ERR_CONFIG', `esimOperatorId: no operator ${operatorId} (docs/esim.md)`);
  // Demo: the deployment's CI and EUM are made here when missing (production imports its CI).
  if (c.demo) await pki.ensureDemo();
  const srCert = await pki.ensureOperatorCertificate(operatorId, 'sm-sr');
  const dpCert = await pki.ensureOperatorCertificate(operatorId, 'sm-dp');
  const smsrId = srCert.subject;
  const smdpId = dpCert.subject;
  const scp81Port = options.scp81Port ?? c.esimScp81Port;
  // Read before anything starts: a listener without its TLS files is a configuration error.
  const soapTls = c.esimSoapPort === undefined ? undefined : soapTlsOf(c);
  const pushAddress = c.esimScp81PushAddress ?? c.esimScp81Host;
  if (scp81Port !== undefined && isIP(pushAddress) === 0)
    throw new SimtrustError(
      'ERR_CONFIG',
      `esimScp81PushAddress (or esimScp81Host) must be an IPv4 or IPv6 address, not ${pushAddress}: the push SMS carries an address`,
    );

  let smsr: SmSr | undefined;
  let smdp: SmDp | undefined;
  // A notification that failed every attempt: listed by `simtrust esim notifications`, retried there.
  const deadNotification = (n: NotificationView) =>
    logger.error(
      {
        notification: n.id,
        interface: n.interface,
        receiver: n.receiverId,
        kind: n.kind,
        error: n.lastError,
      },
      'eSIM: a notification is dead after its last attempt (simtrust esim notifications retry)',
    );
  let soap: EsimSoapListener | undefined;
  // One group commit for the SM-SR's and the SM-DP's procedure writes, their notification outboxes and
  // the SCP80 counter reservations: on SQLite the writes of many procedures share a transaction and
  // an fsync (store/group-commit.ts), each acknowledged only once committed.
  const writer = new GroupCommit(store, { maxBatch: 256, concurrency: 2 });
  const sms = new Es5Sms({
    store,
    keyRing,
    writer,
    link: platform.ota.sharedLink,
    notifications: async (eid, e1) => {
      if (smsr === undefined) throw new Error('the SM-SR is not running');
      return smsr.handleNotification(eid, e1);
    },
  });

  // ES5 over HTTPS: the SCP81 sessions and listener, the PSKs of eUICCs whose push is out.
  const psks = new Map<string, { key: Uint8Array; timer: NodeJS.Timeout }>();
  const pskKey = (eid: string, kvn: number) => `${eid.toUpperCase()}:${kvn}`;
  const sessions = new RamOverHttpSessions();
  const pskTtlMs = 300_000 + 60_000;
  let listener: Scp81Listener | undefined;
  let https: Es5Https | undefined;
  if (scp81Port !== undefined) {
    listener = await startScp81Listener({
      host: c.esimScp81Host,
      port: scp81Port,
      sessions,
      psk: (id: PskIdentity) => psks.get(pskKey(id.eid, id.kvn))?.key,
      onRefused: (reason) => logger.info({ reason }, 'SCP81 handshake refused'),
    });
    const port = listener.port;
    https = new Es5Https({
      sessions,
      trigger: (eid) =>
        adminSessionTrigger({
          eid,
          isdRAid: ISD_R_AID,
          kvn: SCP81_KVN,
          kid: SCP81_KID,
          address: pushAddress,
          port,
          adminUri: sessions.adminUri,
        }),
      push: async (eid, securedData): Promise<Es5Outcome> => {
        const ks = await loadIsdrKeyset(store.db, keyRing, eid, SCP81_KVN);
        const psk = ks?.type === 'SCP81' ? ks.keys[0]?.components[0]?.value : undefined;
        if (psk === undefined)
          return { ok: false, code: 'ES5_NO_KEYSET', message: 'no ISD-R SCP81 key set (KVN 40)' };
        const k = pskKey(eid, SCP81_KVN);
        const old = psks.get(k);
        if (old !== undefined) clearTimeout(old.timer);
        const timer = setTimeout(() => {
          psks.get(k)?.key.fill(0);
          psks.delete(k);
        }, pskTtlMs);
        timer.unref();
        psks.set(k, { key: psk, timer });
        return sms.push(eid, securedData);
      },
    });
  }
  // Small scripts by SMS, SCP03t and large scripts over HTTPS (es5-router.ts); SMS only without HTTPS.
  const transport: Es5Transport = new Es5Router({
    sms,
    ...(https === undefined ? {} : { https }),
    smsMaxScriptBytes: c.esimEs5SmsMaxScriptBytes,
    // No SCP81 key set here (SM-SR2 right after an SM-SR change): long scripts go by SMS.
    httpsUsable: async (eid) =>
      (await store.db
        .selectFrom('esim_sr_keysets')
        .select('kvn')
        .where('eid', '=', eid)
        .where('kvn', '=', SCP81_KVN)
        .where('type', '=', 'SCP81')
        .executeTakeFirst()) !== undefined,
  });

  const verify = (input: Parameters<typeof pki.verify>[0]) => pki.verify(input);
  // The EUM certificate of an EIS: one of the PKI's EUMs, else the one the SM-SR verified when it
  // registered the EIS (an EUM of elsewhere).
  const eumCertificate = async (eumId: string) => {
    const own = (await pki.list({ operatorId: PLATFORM_OWNER, role: 'eum' })).find(
      (e) => e.subject === eumId,
    );
    if (own !== undefined) return own.certificate;
    const row = await store.db
      .selectFrom('esim_sr_eis')
      .select('eum_certificate')
      .where('eum_id', '=', eumId)
      .executeTakeFirst();
    return row?.eum_certificate;
  };
  // The SM-SR reports per function. The end of a function whose operation this process does not run
  // (after a restart: ended by recover() or by the card's notification) ends that operation.
  const smsrProgress: EsimProgressPort = {
    async report(r) {
      await esimOperations.report(r);
      if (r.state !== 'running' && r.status !== undefined)
        await esimOperations.finish(r.functionCallIdentifier, r.status).catch((e: unknown) => {
          logger.error({ err: e }, 'eSIM: an operation ended by the SM-SR could not be recorded');
        });
    },
  };
  const directory = {
    // Our own SM-DP in-process; a partner SM-DP over SOAP (undefined: not a partner, nothing sent).
    // (its ES3 port is bound to our SM-SR as sender: a change notification must come from the new SM-SR).
    smdp: (id: string) => (id === smdpId ? smdp?.es3Notifications(smsrId) : soap?.es3NotificationsOf(id)),
    // A partner operator over SOAP; our own operators' layer in-process, so the inventory and an
    // audit record follow what the card did on its own (fall-back, a change asked by another party).
    operator: (mnoId: string) => soap?.es4NotificationsOf(mnoId) ?? esimOperations.es4Notifications(mnoId),
  };
  smsr = new SmSr({
    store,
    keyRing,
    clock,
    transport,
    smsrId,
    writer,
    chains: { verify },
    directory,
    progress: smsrProgress,
    onNotifyError: (e) => logger.warn({ err: e }, 'eSIM: a notification attempt failed (retried)'),
    notificationOutbox: { onDead: deadNotification },
  });
  const signer = await pki.signingKey(dpCert.certId, operatorId);
  smdp = new SmDp({
    store,
    keyRing,
    clock,
    smdpId,
    writer,
    smsr: (id) => (id === smsrId ? smsr?.es3For(smdpId) : soap?.es3PortOf(id)),
    signer: async () => ({ certificate: signer.certificate, privateKey: signer.privateKey }),
    verify,
    eumCertificate,
    progress: esimOperations,
    // ES2 relays (SGP.02 §5.3) to a partner operator over SOAP; our own operators hear the SM-SR's ES4
    // notifications directly (an in-process relay too would record each of them twice).
    operators: (mnoId) => soap?.es2NotificationsOf(mnoId),
    onError: (e) => logger.error({ err: e }, 'eSIM SM-DP: a download step failed unexpectedly'),
    notificationOutbox: {
      onError: (e) => logger.warn({ err: e }, 'eSIM: a notification attempt failed (retried)'),
      onDead: deadNotification,
    },
  });
  // SM-SR change: the SM-SR's GP identity signs the key agreement (SM-SR2), partners over ES7 SOAP.
  const srSigner = await pki.signingKey(srCert.certId, operatorId);
  const change = new SmSrChange({
    store,
    keyRing,
    clock,
    transport,
    chains: { verify },
    smsrId,
    identity: { certificate: srSigner.certificate, privateKey: srSigner.privateKey },
    partner: (id) => soap?.es7PortOf(id),
    eumCertificate,
    // A preference: SM-SR2 takes the lowest KVN the EIS does not list when 1 is taken.
    scp80Kvn: 1,
    // Steps 31–32: HandleSMSRChangeNotification to the eUICC's operators and SM-DPs, through the
    // SmSr's durable outbox and the same directory.
    notifications: { outbox: smsr.notifications, directory },
    // UpdateSMSRAddressingParameters: the card's notifications come to our OTA number from now on.
    ...(c.otaSmppSourceAddr === undefined ? {} : { addressing: { destination: c.otaSmppSourceAddr } }),
  });
  const ports: EsimRolePorts = {
    smsrId,
    es1: (pem) => (smsr as SmSr).es1For(pem),
    es2: (id) => (smdp as SmDp).es2For({ operatorId: id, mnoId: mnoIdOf(id) }),
    es4: (id) => (smsr as SmSr).es4For(mnoIdOf(id)),
    mnoId: (id) => mnoIdOf(id),
    // Switch carrier (docs/esim-switch.md): SMSRChange here; the target's SM-SR and SM-DP are the
    // partners of esimOperatorId's registry, over SOAP.
    smsrChange: (id) => change.es4For(mnoIdOf(id)),
    partnerSmsr: (id, target) => (id === operatorId ? soap?.es4SmSrChangePortOf(target) : undefined),
    partnerSmdp: (id, target) => (id === operatorId ? soap?.es2PortOf(target) : undefined),
  };
  // The target side of a partner operator's switch: ES2 DownloadProfile from this operator's switch
  // pool, the eUICC then in its inventory.
  const switchTarget = new EsimSwitchTarget({
    store,
    smdp,
    owner: { operatorId, mnoId: mnoIdOf(operatorId) },
    adopt: (id, eid, detail) => esimOperations.adoptEuicc(id, eid, detail),
  });
  // A switch's ValidityPeriod (esimSwitchValiditySeconds): its PrepareSMSRChange and SMSRChange.
  if (c.esimSwitchValiditySeconds !== undefined)
    esimOperations.switchTiming = {
      ...esimOperations.switchTiming,
      prepareValiditySeconds: c.esimSwitchValiditySeconds,
      changeValiditySeconds: c.esimSwitchValiditySeconds,
    };
  esimOperations.connect(ports);
  if (soapTls !== undefined) {
    try {
      soap = await startSoap(platform, operatorId, soapTls, smsr, change, smdp, switchTarget, logger);
    } catch (e) {
      // E.g. the port is taken: nothing of this start stays connected or listening.
      esimOperations.connect(undefined);
      await listener?.close();
      throw e;
    }
  }
  logger.info(
    { smsrId, smdpId, operatorId, scp81Port: listener?.port, soapUrl: soap?.url },
    'eSIM: SM-SR and SM-DP running in this process',
  );
  // A restart: procedures and downloads continue or end from what the card reports (GET STATUS,
  // DeleteISDP, the download resumed), which takes ES5 — and its SMS leg is the OTA link the caller
  // binds after this returns. So recovery runs in the background once the link is bound (at once
  // without otaSmppUrl: nothing reaches a card then); a download it ends ends its operation;
  // operations idle past the SM-SR's procedure validity end failed.
  let stopRecovery: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stopRecovery = resolve;
  });
  let closing = false;
  const recovery = (async () => {
    if (c.otaSmppUrl !== undefined) await Promise.race([platform.ota.linked(), stopped]);
    if (closing) return;
    // SM-SR change rows first: SmSr.recover() leaves them to it.
    const changes = await change.recover();
    const ended = await (smsr as SmSr).recover();
    const downloads = await (smdp as SmDp).recover();
    for (const d of downloads) {
      const row = await store.db
        .selectFrom('esim_dp_downloads')
        .select('function_call_id')
        .where('download_id', '=', d.downloadId)
        .executeTakeFirst();
      if (row !== undefined) await esimOperations.finish(row.function_call_id, d.status);
    }
    const recovered = {
      smsrChange: changes,
      smsr: ended,
      smdp: downloads.length,
      operations: await esimOperations.recover(),
    };
    logger.info({ recovered }, 'eSIM: procedures of the previous run settled');
  })().catch((e: unknown) => {
    if (!closing) logger.error({ err: e }, 'eSIM: recovery of the previous run failed');
  });
  // Notifications left pending (a partner down, a crash after the commit) go out now and then.
  smsr.notifications.start();
  smdp.notifications.start();
  if (options.metrics !== undefined) registerNotificationMetrics(options.metrics, store, [smsrId, smdpId]);
  let resolving: Promise<unknown> | undefined;
  const expiry = setInterval(() => {
    smsr?.expireProcedures().catch((e: unknown) => logger.error({ err: e }, 'eSIM procedure expiry failed'));
    // A prepare (PrepareSMSRChange) nobody followed within its validity period.
    change
      .expireProcedures()
      .catch((e: unknown) => logger.error({ err: e }, 'eSIM SM-SR change expiry failed'));
    // Switches a stopped process left (idle past SWITCH_IDLE_MS) go on from their stored step.
    void recovery
      .then(() => (closing ? 0 : esimOperations.recover({ onlySwitches: true })))
      .catch((e: unknown) => logger.error({ err: e }, 'eSIM: resuming a switch failed'));
    // Hand-overs whose HandoverEUICC got no answer: ask the new SM-SR again (after recovery: it asks
    // them first), one round at a time.
    if (resolving === undefined)
      resolving = recovery
        .then(() => (closing ? 0 : change.resolveHandovers()))
        .catch((e: unknown) => logger.error({ err: e }, 'eSIM: asking a new SM-SR again failed'))
        .finally(() => {
          resolving = undefined;
        });
  }, 30_000);
  expiry.unref();
  return {
    smsrId,
    smdpId,
    operatorId,
    scp81Port: listener?.port,
    soap,
    sms,
    smsr,
    change,
    smdp,
    recovery,
    async close() {
      closing = true;
      stopRecovery();
      clearInterval(expiry);
      // Wakes its ES5 retry waits (the rows stay for the next start's recover()).
      change.close();
      await smsr?.close();
      await smdp?.close();
      // Operations still running are not waited for (a card may take minutes): the next start's
      // recover() settles them from what the SM-SR and the card hold.
      esimOperations.connect(undefined);
      await listener?.close();
      // Closing the node fails a HandoverEUICC still waiting (its hand-over stays open for the next
      // start); then the round of resolveHandovers() ends.
      await soap?.close();
      await resolving;
      for (const { key, timer } of psks.values()) {
        clearTimeout(timer);
        key.fill(0);
      }
      psks.clear();
    },
  };
}

function soapTlsOf(c: Config): { keyPem: string; certificatePem: string } {
  if (c.esimSoapKeyFile === undefined || c.esimSoapCertificateFile === undefined)
    throw new SimtrustError('ERR_CONFIG', 'esimSoapPort needs esimSoapKeyFile and esimSoapCertificateFile');
  let tls: { keyPem: string; certificatePem: string };
  try {
    tls = {
      keyPem: readFileSync(c.esimSoapKeyFile, 'utf8'),
      certificatePem: readFileSync(c.esimSoapCertificateFile, 'utf8'),
    };
  } catch (e) {
    throw new SimtrustError('ERR_CONFIG', `esimSoapKeyFile/esimSoapCertificateFile: ${(e as Error).message}`);
  }
  return tls;
}

/**
 * The SGP.02 SOAP listener with the registered partners of `operatorId`: a partner SM-DP calls our
 * SM-SR on ES3 (bound to its entity id), a partner operator on ES4 (PrepareSMSRChange/SMSRChange to
 * our SmSrChange), a partner SM-SR on ES7, a partner EUM registers eUICCs on ES1 with its EUM
 * certificate from the PKI, a partner SM-SR notifies our SM-DP on ES3 and our operator on ES4, a
 * partner SM-DP relays to our operator on ES2 (operatorEs2Notifications).
 */
async function startSoap(
  platform: Platform,
  operatorId: string,
  tls: { keyPem: string; certificatePem: string },
  smsr: SmSr,
  change: SmSrChange,
  smdp: SmDp,
  switchTarget: EsimSwitchTarget,
  logger: Logger,
): Promise<EsimSoapListener> {
  const c = platform.config;
  const pki = platform.esimPki;
  return EsimSoapListener.start({
    store: platform.store,
    clock: platform.clock,
    operatorId,
    tls,
    host: c.esimSoapHost,
    port: c.esimSoapPort,
    ...(c.esimSoapPublicUrl === undefined ? {} : { publicUrl: c.esimSoapPublicUrl }),
    refreshMs: c.esimSoapPartnersRefreshSeconds * 1000,
    log: logger,
    ports: {
      es1: (peer) => ({
        registerEIS: async (body) => {
          const eum = (await pki.list({ role: 'eum' })).find((e) => e.subject === peer.entityId);
          if (eum === undefined)
            return {
              functionExecutionStatus: failed(
                SUBJECT_CODES.FUNCTION_REQUESTER,
                REASON_CODES.UNKNOWN,
                'no EUM certificate for this EUM in the eSIM PKI',
                peer.entityId,
              ),
            };
          return smsr.es1For(eum.certificate).registerEIS(body);
        },
      }),
      es3: (peer) => smsr.es3For(peer.entityId),
      es4: (peer) => smsr.es4For(peer.entityId),
      es4Change: (peer) => change.es4For(peer.entityId),
      // A partner operator's switch of an eUICC to us: DownloadProfile from our operator's switch pool.
      es2: (peer) => switchTarget.es2PortFor(peer.entityId),
      es7: (peer) => change.es7For(peer.entityId),
      // Bound to the partner SM-SR that sends (HandleSMSRChangeNotification: only the new SM-SR).
      es3Notifications: (peer) => smdp.es3Notifications(peer.entityId),
      // A partner SM-SR notifying our operator (e.g. the new SM-SR after an SM-SR change, ES4).
      es4Notifications: () => platform.esimOperations.es4Notifications(mnoIdOf(operatorId)),
      // A partner SM-DP relaying to our operator (ES2): the same receiver, bound to that SM-DP.
      es2Notifications: (peer) =>
        operatorEs2Notifications(
          platform.esimOperations.es4Notifications(mnoIdOf(operatorId)),
          mnoIdOf(operatorId),
          peer.entityId,
        ),
    },
  });
}

/**
 * A partner SM-DP's ES2 notifications to our operator `mnoId` (SGP.02 §5.3: the SM-DP relays what the
 * SM-SR told it about a profile it installed; §3.8 step 32: the SM-SR change). They reach the same
 * operator-layer receiver as an SM-SR's ES4 ones, with its checks: an eUICC of the inventory, a
 * profile of this MNO or an eUICC of its operator, a repeat changes nothing. The SM-SR change is also
 * bound to the sender, as the SM-DP binds its ES3 one: the EIS (filtered to this MNO's profiles by the
 * relaying SM-DP) must list a profile of `mnoId` that `smdpId` installed (its Smdp-id), else it is
 * refused — thrown, so the listener logs the reason — and nothing changes.
 */
export function operatorEs2Notifications(
  operator: Es4NotificationPort,
  mnoId: string,
  smdpId: string,
): Es2NotificationPort {
  const smsrChanged = operator.handleSMSRChangeNotification;
  return {
    handleProfileEnabledNotification: (b) => operator.handleProfileEnabledNotification(b),
    handleProfileDisabledNotification: (b) => operator.handleProfileDisabledNotification(b),
    handleProfileDeletedNotification: (b) => operator.handleProfileDeletedNotification(b),
    ...(smsrChanged === undefined
      ? {}
      : {
          handleSMSRChangeNotification: async (b) => {
            if (!b.eis.profiles.some((p) => p.mnoId === mnoId && p.smdpId === smdpId))
              throw new Error(
                `refused: SM-DP ${smdpId} relayed the SM-SR change of eUICC ${b.eis.eumSignedInfo.eid}, but the EIS lists no profile of operator ${mnoId} it installed; only that profile's SM-DP relays it (the new SM-SR's own ES4 notification is taken)`,
              );
            await smsrChanged(b);
          },
        }),
  };
}

/** For tests and logs: the PSK identity text the push names for an eUICC. */
export const pskIdentityOf = (eid: string): string =>
  encodePskIdentity({ eid, aid: ISD_R_AID, kvn: SCP81_KVN, kid: SCP81_KID });
