// Admission: may this subscriber open a session now? One table of small steps, each saying what it
// enforces, shared by the packet gateway (TS 29.061 §16 Access-Request) and Wi-Fi (EAP):
//
//   load subscriber → check status → check IMEI lock → check APN policy → activate on first use
//
// A refusal names a stable code and a reason that is safe to send to the NAS in Reply-Message (it
// never reveals the IMEI a SIM is locked to). Refusals of a known SIM are recorded in
// `aaa_refusals`; the event-handler issue consumes them (IMEI_MISMATCH raises an event).

import { luhnCheckDigit } from '../../lib/luhn.js';
import { err, ok, type Result } from '../../lib/result.js';
import { writeAudit } from '../audit/audit-log.js';
import { systemContext } from '../iam/principal.js';
import type { Executor } from '../store/database.js';
import { param, prepared } from '../store/prepared.js';

/** Where the session was asked for; `gsup`: a PS UpdateLocation (src/servers/gsup/hlr.ts). */
export type AccessKind = 'packet-gateway' | 'wifi' | 'gsup';

export interface AdmissionRequest {
  readonly imsi: string;
  /** 3GPP-IMEISV as reported (IMEISV, or IMEI with or without check digit). */
  readonly imeisv?: string | undefined;
  /** Called-Station-Id of a packet gateway (TS 29.061 §16.4.1: the APN). */
  readonly apn?: string | undefined;
  readonly access: AccessKind;
  /** Only subscribers of this operator (the operator owning the NAS) are admitted. */
  readonly operatorId?: string | undefined;
  /** Recorded with a refusal. */
  readonly nasAddress?: string | undefined;
  /** Time of the decision (default Date.now()). */
  readonly now?: number | undefined;
  /**
   * Move a `ready`/`standby` SIM to `active` when admitted (default true). EAP checks admission before
   * its challenge with `false` (an unauthenticated peer must not change the SIM) and again, with
   * activation, once the SIM has authenticated.
   */
  readonly activate?: boolean | undefined;
  /**
   * Runs the activation's writes (a transaction) — e.g. the platform's group commit, so an attach
   * storm of new SIMs shares fsyncs. Default: a transaction of its own on `db`.
   */
  readonly writer?: { run<T>(op: (trx: Executor) => Promise<T>): Promise<T> } | undefined;
}

export interface Subscriber {
  readonly operatorId: string;
  readonly simId: string;
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn: string | null;
  /** The status after admission (`ready`/`standby` have become `active`). */
  readonly status: string;
  readonly groupId: string | null;
  readonly speedClass: string;
  /** 15-digit IMEI from the reported IMEISV, or null when none (or an unreadable one) was reported. */
  readonly imei: string | null;
  /** `SoracomAir.addressPool` of the SIM's group, when set. */
  readonly addressPool: string | undefined;
  /** True when this admission moved the SIM from ready/standby to active. */
  readonly activated: boolean;
}

export type AdmissionCode =
  | 'UNKNOWN_SUBSCRIBER'
  | 'SIM_NOT_ALLOWED'
  | 'IMEI_MISMATCH'
  | 'APN_NOT_ALLOWED'
  | 'ANTI_THEFT_BLOCKED';

export interface AdmissionRefusal {
  readonly code: AdmissionCode;
  /** Safe to show to the NAS (Reply-Message) and the operator. */
  readonly reason: string;
}

/** Group configuration namespace and keys the AAA layer reads (docs/aaa.md). */
export const AIR_NAMESPACE = 'SoracomAir';
export const AIR_KEYS = { allowedApns: 'allowedApns', addressPool: 'addressPool' } as const;

/** Statuses that may connect; `ready` and `standby` become `active` on their first session. */
const CONNECTABLE = new Set(['active', 'ready', 'standby']);
const FIRST_USE = new Set(['ready', 'standby']);

/**
 * The IMEI (14 digits + Luhn check digit, TS 23.003 §6.2.1) of a reported 3GPP-IMEISV value:
 * IMEISV (16 digits, TAC ‖ SNR ‖ SVN), IMEI (15) or IMEI without check digit (14). Undefined for
 * anything else.
 */
export function imeiFromReported(text: string | undefined): string | undefined {
  if (text === undefined || !/^\d{14,16}$/.test(text)) return undefined;
  const tacSnr = text.slice(0, 14);
  return `${tacSnr}${luhnCheckDigit(tacSnr)}`;
}

interface Loaded {
  readonly operator_id: string;
  readonly sim_id: string;
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn: string | null;
  readonly status: string;
  readonly group_id: string | null;
  readonly speed_class: string;
  readonly imei_lock: string | null;
  readonly imei_lock_anonymous: number;
}

type Step = (
  db: Executor,
  request: AdmissionRequest,
  sim: Loaded,
  air: AirPolicy,
) => AdmissionRefusal | undefined;

interface AirPolicy {
  readonly allowedApns: readonly string[] | undefined;
  readonly addressPool: string | undefined;
}

/** The SIM's status allows a session: suspended, inactive and terminated SIMs are refused. */
const checkStatus: Step = (_db, _request, sim) =>
  CONNECTABLE.has(sim.status) ? undefined : { code: 'SIM_NOT_ALLOWED', reason: `SIM is ${sim.status}` };

/**
 * IMEI lock (SORACOM semantics): the device's IMEI must be the locked one; a lock with ANONYMOUS also
 * admits a request that reports no IMEI. Compared on TAC ‖ SNR (the check digit and SVN carry no
 * identity).
 */
const checkImeiLock: Step = (_db, request, sim) => {
  if (sim.imei_lock === null) return undefined;
  if (request.imeisv === undefined || request.imeisv === '') {
    return sim.imei_lock_anonymous === 1
      ? undefined
      : { code: 'IMEI_MISMATCH', reason: 'SIM is IMEI-locked and no IMEI was reported' };
  }
  const reported = imeiFromReported(request.imeisv);
  if (reported !== undefined && reported.slice(0, 14) === sim.imei_lock.slice(0, 14)) return undefined;
  return { code: 'IMEI_MISMATCH', reason: 'SIM is IMEI-locked to another device' };
};

/** The group's `SoracomAir.allowedApns`, when set, lists the APNs a packet gateway may open. */
const checkApn: Step = (_db, request, _sim, air) => {
  if (request.access !== 'packet-gateway' || air.allowedApns === undefined) return undefined;
  const apn = request.apn?.toLowerCase();
  if (apn !== undefined && air.allowedApns.some((a) => a.toLowerCase() === apn)) return undefined;
  return {
    code: 'APN_NOT_ALLOWED',
    reason: apn === undefined ? 'no APN given and the group restricts APNs' : `APN ${apn} is not allowed`,
  };
};

const STEPS: readonly Step[] = [checkStatus, checkImeiLock, checkApn];

/**
 * Decides whether `request.imsi` may open a session. On success a `ready`/`standby` SIM becomes
 * `active` (status history and audit record in one transaction). A refusal of a known SIM is
 * recorded in `aaa_refusals`.
 */
export async function admit(
  db: Executor,
  request: AdmissionRequest,
): Promise<Result<Subscriber, AdmissionRefusal>> {
  const now = request.now ?? Date.now();
  const sim = await loadSubscriber(db, request);
  if (!sim) return refuseQuarantined(db, request, now);
  const air = await loadAirPolicy(db, sim.group_id);
  for (const step of STEPS) {
    const refusal = step(db, request, sim, air);
    if (refusal) {
      await recordRefusal(db, request, sim, refusal, now);
      return err(refusal);
    }
  }
  const activated =
    request.activate !== false &&
    FIRST_USE.has(sim.status) &&
    (await activateOnFirstUse(db, sim, now, request.writer));
  return ok({
    operatorId: sim.operator_id,
    simId: sim.sim_id,
    iccid: sim.iccid,
    imsi: sim.imsi,
    msisdn: sim.msisdn,
    status: FIRST_USE.has(sim.status) && request.activate !== false ? 'active' : sim.status,
    groupId: sim.group_id,
    speedClass: sim.speed_class,
    imei: imeiFromReported(request.imeisv) ?? null,
    addressPool: air.addressPool,
    activated,
  });
}

// The two lookups of every admission, prepared (this runs for each Access-Request).
const SUBSCRIBER_COLUMNS = [
  'sims.operator_id',
  'sims.sim_id',
  'sim_profiles.iccid',
  'sim_profiles.imsi',
  'sim_profiles.msisdn',
  'sims.status',
  'sims.group_id',
  'sims.speed_class',
  'sims.imei_lock',
  'sims.imei_lock_anonymous',
] as const;
const subscriberByImsi = prepared((db) =>
  db
    .selectFrom('sim_profiles')
    .innerJoin('sims', 'sims.sim_id', 'sim_profiles.sim_id')
    .select(SUBSCRIBER_COLUMNS)
    .where('sim_profiles.imsi', '=', param('imsi')),
);
const subscriberOfOperator = prepared((db) =>
  db
    .selectFrom('sim_profiles')
    .innerJoin('sims', 'sims.sim_id', 'sim_profiles.sim_id')
    .select(SUBSCRIBER_COLUMNS)
    .where('sim_profiles.imsi', '=', param('imsi'))
    .where('sims.operator_id', '=', param('operatorId')),
);
const airConfiguration = prepared((db) =>
  db
    .selectFrom('group_configuration')
    .select(['key', 'value'])
    .where('group_id', '=', param('groupId'))
    .where('namespace', '=', AIR_NAMESPACE)
    .where('key', 'in', [AIR_KEYS.allowedApns, AIR_KEYS.addressPool]),
);

async function loadSubscriber(db: Executor, request: AdmissionRequest): Promise<Loaded | undefined> {
  if (!/^\d{6,15}$/.test(request.imsi)) return undefined;
  const rows =
    request.operatorId === undefined
      ? await subscriberByImsi(db, { imsi: request.imsi })
      : await subscriberOfOperator(db, { imsi: request.imsi, operatorId: request.operatorId });
  return rows[0];
}

/**
 * An IMSI that is no subscriber may be a SIM's quarantine identity: the IMSI its anti-theft applet
 * writes into EF.IMSI when it blocks (docs/anti-theft.md). That identity never gets a data session;
 * the refusal is recorded on the SIM and names anti-theft, so the operator sees why the device is
 * refused. Any other unknown IMSI stays an unknown subscriber (and is not recorded).
 */
async function refuseQuarantined(
  db: Executor,
  request: AdmissionRequest,
  now: number,
): Promise<Result<Subscriber, AdmissionRefusal>> {
  const unknown = err({ code: 'UNKNOWN_SUBSCRIBER', reason: 'unknown subscriber' } as const);
  const owner = await quarantineOwnerOf(db, request.imsi);
  if (owner === undefined || (request.operatorId !== undefined && owner.operatorId !== request.operatorId))
    return unknown;
  return err(await recordQuarantineRefusal(db, owner, request, now));
}

/** The SIM whose anti-theft quarantine identity `imsi` is (anti_theft_sims.quarantine_imsi), if any. */
export async function quarantineOwnerOf(
  db: Executor,
  imsi: string,
): Promise<{ simId: string; operatorId: string } | undefined> {
  if (!/^\d{6,15}$/.test(imsi)) return undefined;
  const row = await db
    .selectFrom('anti_theft_sims')
    .select(['sim_id', 'operator_id'])
    .where('quarantine_imsi', '=', imsi)
    .executeTakeFirst();
  return row === undefined ? undefined : { simId: row.sim_id, operatorId: row.operator_id };
}

export const ANTI_THEFT_REFUSAL: AdmissionRefusal = {
  code: 'ANTI_THEFT_BLOCKED',
  reason:
    'anti-theft: the SIM blocked itself (quarantine identity); no data session until the operator unblocks it',
};

/**
 * Records on the owning SIM that its quarantine identity was refused a data session (RADIUS, EAP or
 * a GSUP PS UpdateLocation): one `aaa_refusals` row, listed by GET /v1/sims/{sim_id}/events/refusals.
 */
export async function recordQuarantineRefusal(
  db: Executor,
  owner: { simId: string; operatorId: string },
  request: Pick<AdmissionRequest, 'imsi' | 'imeisv' | 'access' | 'apn' | 'nasAddress'>,
  now: number,
): Promise<AdmissionRefusal> {
  await db
    .insertInto('aaa_refusals')
    .values({
      operator_id: owner.operatorId,
      sim_id: owner.simId,
      imsi: request.imsi,
      imei: imeiFromReported(request.imeisv) ?? null,
      code: ANTI_THEFT_REFUSAL.code,
      reason: ANTI_THEFT_REFUSAL.reason,
      access: request.access,
      apn: request.apn ?? null,
      nas_address: request.nasAddress ?? null,
      at: now,
    })
    .execute();
  return ANTI_THEFT_REFUSAL;
}

async function loadAirPolicy(db: Executor, groupId: string | null): Promise<AirPolicy> {
  if (groupId === null) return { allowedApns: undefined, addressPool: undefined };
  const rows = await airConfiguration(db, { groupId });
  let allowedApns: string[] | undefined;
  let addressPool: string | undefined;
  for (const row of rows) {
    const value = parseJson(row.value);
    if (row.key === AIR_KEYS.allowedApns && Array.isArray(value))
      allowedApns = value.filter((v): v is string => typeof v === 'string');
    if (row.key === AIR_KEYS.addressPool && typeof value === 'string') addressPool = value;
  }
  return { allowedApns, addressPool };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * `ready`/`standby` → `active` on the first admitted session. Guarded on the status read, so of two
 * racing admissions exactly one records the change; the other finds it done.
 */
async function activateOnFirstUse(
  db: Executor,
  sim: Loaded,
  now: number,
  writer: AdmissionRequest['writer'],
): Promise<boolean> {
  const change = async (trx: Executor): Promise<boolean> => {
    const updated = await trx
      .updateTable('sims')
      .set({ status: 'active', updated_at: now })
      .where('sim_id', '=', sim.sim_id)
      .where('status', '=', sim.status)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) return false;
    const ctx = systemContext(sim.operator_id, 'Aaa:activateOnFirstSession', 'aaa');
    await trx
      .insertInto('sim_status_history')
      .values({
        sim_id: sim.sim_id,
        operator_id: sim.operator_id,
        previous_status: sim.status,
        status: 'active',
        operation: ctx.operationId,
        actor: 'system:aaa',
        at: now,
      })
      .execute();
    await writeAudit(trx, {
      context: ctx,
      result: 'success',
      detail: { simId: sim.sim_id, from: sim.status, to: 'active' },
      at: now,
    });
    return true;
  };
  if (db.isTransaction) return change(db);
  return writer ? writer.run(change) : db.transaction().execute(change);
}

async function recordRefusal(
  db: Executor,
  request: AdmissionRequest,
  sim: Loaded,
  refusal: AdmissionRefusal,
  now: number,
): Promise<void> {
  await db
    .insertInto('aaa_refusals')
    .values({
      operator_id: sim.operator_id,
      sim_id: sim.sim_id,
      imsi: sim.imsi,
      imei: imeiFromReported(request.imeisv) ?? null,
      code: refusal.code,
      reason: refusal.reason,
      access: request.access,
      apn: request.apn ?? null,
      nas_address: request.nasAddress ?? null,
      at: now,
    })
    .execute();
}
