// The HLR side of GSUP (Osmocom's MAP replacement, libosmocore gsm/gsup.h; osmo-hlr is the
// reference): what each request gets, independent of the connection it came on.
// - SendAuthInfo (TS 29.002 §8.5.2 in MAP terms): UMTS vectors from the AuC, each with the GSM
//   SRES/Kc derived by c2/c3 (TS 33.102 §6.8.1.2) as osmo-hlr sends them; with AUTS + RAND the AuC
//   resynchronises first (TS 33.102 §6.3.5).
// - UpdateLocation: a SIM whose status allows service gets InsertSubscriberData (MSISDN, and a PDP
//   context for the PS domain), then the Result; others an Error with a GMM cause (TS 24.008
//   §10.5.5.14) as osmo-hlr gives them.
// - PurgeMS: acknowledged for a known IMSI.
// - A SIM's anti-theft quarantine identity (the IMSI its applet writes into EF.IMSI when it blocks,
//   docs/anti-theft.md) stays reachable for SMS, so the operator can unblock it over OTA: it is
//   authenticated with its SIM's keys (the same USIM answers), its CS UpdateLocation is served with
//   the SIM's MSISDN, and its PS UpdateLocation — a data session — is refused with "GPRS services
//   not allowed" and recorded on the SIM as the RADIUS admission records it (ANTI_THEFT_BLOCKED).
// GSUP has no tenants: the listener serves every operator's SIMs to trusted core elements, which is
// why it is off unless configured and binds to loopback by default (docs/aaa.md).

import { c2Sres, c3Kc } from '../../crypto/gsm-milenage.js';
import {
  type AuthTuple,
  CN_DOMAIN,
  GMM_CAUSE,
  GSUP_MESSAGE_TYPE,
  type GsupMessage,
  gsupErrorType,
  gsupResultType,
} from '../../lib/gsup/gsup.js';
import { recordQuarantineRefusal } from '../../platform/aaa/admission.js';
import type { AuthenticationCentre } from '../../platform/aaa/auc.js';
import type { Executor } from '../../platform/store/database.js';

/** libosmocore OSMO_GSUP_MAX_NUM_AUTH_INFO: a SendAuthInfo result carries at most five tuples. */
export const MAX_TUPLES = 5;
/** Statuses that may attach (platform/aaa/admission.ts: the same set the RADIUS admission uses). */
const SERVICEABLE = new Set(['active', 'ready', 'standby']);

export interface HlrStats {
  sendAuthInfo: number;
  resyncs: number;
  updateLocation: number;
  purgeMs: number;
  errors: number;
}

export interface HlrDependencies {
  readonly db: Executor;
  readonly auc: Pick<AuthenticationCentre, 'vectors'>;
}

const error = (request: GsupMessage, cause: number): GsupMessage => ({
  type: gsupErrorType(request.type),
  imsi: request.imsi,
  cause,
});

export async function sendAuthInfo(
  deps: HlrDependencies,
  request: GsupMessage,
  stats: HlrStats,
): Promise<GsupMessage> {
  stats.sendAuthInfo++;
  const resync = request.auts !== undefined || request.rand !== undefined;
  if (resync && (request.auts === undefined || request.rand === undefined)) {
    stats.errors++;
    return error(request, GMM_CAUSE['Invalid-Mandatory-Information']);
  }
  const count = Math.min(MAX_TUPLES, Math.max(1, request.numVectorsRequested ?? MAX_TUPLES));
  const options = {
    count,
    ...(request.auts !== undefined && request.rand !== undefined
      ? { resync: { auts: request.auts, rand: request.rand } }
      : {}),
  };
  let vectors = await deps.auc.vectors(request.imsi, options);
  if (!vectors.ok && vectors.error === 'UNKNOWN_SUBSCRIBER') {
    // A quarantine identity is the same USIM under another IMSI: its SIM's Ki, OPc and SQN.
    const quarantined = await loadQuarantined(deps.db, request.imsi);
    if (quarantined !== undefined) vectors = await deps.auc.vectors(quarantined.profileImsi, options);
  }
  if (!vectors.ok) {
    stats.errors++;
    // As osmo-hlr 1.5 answers (test/interop/gsup-simtrust.test.ts compares): "IMSI unknown in HLR"
    // for an unknown subscriber and also for an AUTS whose MAC-S does not verify — its AuC error
    // path maps both to that cause, and core elements treat either as "no vectors for this IMSI".
    return error(request, GMM_CAUSE['IMSI-Unknown-In-HLR']);
  }
  if (resync) stats.resyncs++;
  const authTuple: AuthTuple[] = vectors.value.map((v) => ({
    rand: v.rand,
    ...(v.xres.length === 8 ? { sres: c2Sres(v.xres) } : {}),
    kc: c3Kc(v.ck, v.ik),
    ik: v.ik,
    ck: v.ck,
    autn: v.autn,
    res: v.xres,
  }));
  return { type: GSUP_MESSAGE_TYPE['SendAuthInfo-Result'], imsi: request.imsi, authTuple };
}

interface HlrSubscriber {
  readonly status: string;
  readonly msisdn: string | null;
}

function loadSubscriber(db: Executor, imsi: string): Promise<HlrSubscriber | undefined> {
  return db
    .selectFrom('sim_profiles')
    .innerJoin('sims', 'sims.sim_id', 'sim_profiles.sim_id')
    .select(['sims.status', 'sim_profiles.msisdn'])
    .where('sim_profiles.imsi', '=', imsi)
    .executeTakeFirst();
}

interface QuarantinedSubscriber extends HlrSubscriber {
  readonly simId: string;
  readonly operatorId: string;
  /** The IMSI of the SIM's primary profile, whose keys the card still holds. */
  readonly profileImsi: string;
}

/** The SIM whose anti-theft quarantine identity `imsi` is (looked up only for an unknown IMSI). */
async function loadQuarantined(db: Executor, imsi: string): Promise<QuarantinedSubscriber | undefined> {
  if (!/^\d{6,15}$/.test(imsi)) return undefined;
  const row = await db
    .selectFrom('anti_theft_sims')
    .innerJoin('sims', 'sims.sim_id', 'anti_theft_sims.sim_id')
    .innerJoin('sim_profiles', 'sim_profiles.sim_id', 'anti_theft_sims.sim_id')
    .select(['sims.sim_id', 'sims.operator_id', 'sims.status', 'sim_profiles.msisdn', 'sim_profiles.imsi'])
    .where('anti_theft_sims.quarantine_imsi', '=', imsi)
    .where('sim_profiles.is_primary', '=', 1)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : {
        simId: row.sim_id,
        operatorId: row.operator_id,
        status: row.status,
        msisdn: row.msisdn,
        profileImsi: row.imsi,
      };
}

/**
 * UpdateLocation: the InsertSubscriberData to send first (undefined with an Error answer), and the
 * Result to send once the peer acknowledged it. `peer`: the core element's address, recorded with a
 * refusal of a quarantine identity.
 */
export async function updateLocation(
  deps: HlrDependencies,
  request: GsupMessage,
  stats: HlrStats,
  peer?: string,
): Promise<{ insert: GsupMessage; result: GsupMessage } | { error: GsupMessage }> {
  stats.updateLocation++;
  const domain = request.cnDomain ?? CN_DOMAIN.CS;
  let subscriber: HlrSubscriber | undefined = await loadSubscriber(deps.db, request.imsi);
  if (subscriber === undefined) {
    const quarantined = await loadQuarantined(deps.db, request.imsi);
    if (quarantined === undefined) {
      stats.errors++;
      return { error: error(request, GMM_CAUSE['IMSI-Unknown-In-HLR']) };
    }
    if (domain === CN_DOMAIN.PS) {
      stats.errors++;
      await recordQuarantineRefusal(
        deps.db,
        quarantined,
        { imsi: request.imsi, access: 'gsup', nasAddress: peer },
        Date.now(),
      );
      return { error: error(request, GMM_CAUSE['GPRS-Not-Allowed']) };
    }
    // CS (SMS): served as its SIM, under the SIM's MSISDN, so OTA still reaches the card.
    subscriber = quarantined;
  }
  if (!SERVICEABLE.has(subscriber.status)) {
    stats.errors++;
    // osmo-hlr answers a subscriber barred from the domain with "GPRS services not allowed" (PS)
    // or "PLMN not allowed" (CS).
    return {
      error: error(
        request,
        domain === CN_DOMAIN.PS ? GMM_CAUSE['GPRS-Not-Allowed'] : GMM_CAUSE['PLMN-Not-Allowed'],
      ),
    };
  }
  const insert: GsupMessage = {
    type: GSUP_MESSAGE_TYPE['InsertSubscriberData-Request'],
    imsi: request.imsi,
    ...(subscriber.msisdn === null ? {} : { msisdn: subscriber.msisdn }),
    cnDomain: domain,
    // TS 29.060 §7.7.27 PDP type IPv4 (0x0121) with the wildcard APN, as osmo-hlr sends by default.
    ...(domain === CN_DOMAIN.PS ? { pdpInfo: [{ contextId: 1, pdpType: 0x0121, apn: '*' }] } : {}),
  };
  return { insert, result: { type: gsupResultType(request.type), imsi: request.imsi } };
}

export async function purgeMs(
  deps: HlrDependencies,
  request: GsupMessage,
  stats: HlrStats,
): Promise<GsupMessage> {
  stats.purgeMs++;
  const subscriber =
    (await loadSubscriber(deps.db, request.imsi)) ?? (await loadQuarantined(deps.db, request.imsi));
  if (subscriber === undefined) {
    stats.errors++;
    return error(request, GMM_CAUSE['IMSI-Unknown-In-HLR']);
  }
  return { type: gsupResultType(request.type), imsi: request.imsi };
}
