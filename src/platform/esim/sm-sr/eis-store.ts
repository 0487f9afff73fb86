// The SM-SR's EIS store (tables: migration 0013-esim-sm-sr): the EIS rows read and written as the
// es-soap model (sgp-02-xml-types.ts), ISD-R key sets sealed with the key ring, the audit trail, and
// the procedure rows whose unique `active_eid` is the one-procedure-per-eUICC lock.

import { randomUUID } from 'node:crypto';
import { type Selectable, sql } from 'kysely';
import type { KeyRing } from '../../secrets/key-ring.js';
import type { Executor } from '../../store/database.js';
import { param, prepared } from '../../store/prepared.js';
import type { EsimSrProceduresTable, EsimSrProfilesTable } from '../../store/schema.js';
import type { FunctionExecutionStatus } from '../es-soap/sgp-02-status-codes.js';
import type {
  AuditTrailRecord,
  Eis,
  EumSignature,
  EumSignedInfo,
  Keyset,
  Pol2,
  ProfileInfo,
  SecurityDomain,
} from '../es-soap/sgp-02-xml-types.js';

/** ProfileInfo state plus the SM-SR-internal "In-Creation" (esim.md §1.1), never shown in an EIS. */
export type SrProfileState = ProfileInfo['state'] | 'In-Creation';

// JSON with bytes and dates (the EIS model holds both).
export function toJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
    const raw = this[key];
    if (raw instanceof Uint8Array) return { $hex: Buffer.from(raw).toString('hex') };
    if (raw instanceof Date) return { $date: raw.toISOString() };
    return v;
  });
}

export function fromJson<T>(text: string): T {
  return JSON.parse(text, revive) as T;
}

/** fromJson's reviver: `{$hex}` → bytes, `{$date}` → Date (objects with that one key only). */
function revive(_key: string, v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as { $hex?: unknown; $date?: unknown };
  if (typeof o.$hex === 'string' && onlyKey(o, '$hex')) return new Uint8Array(Buffer.from(o.$hex, 'hex'));
  if (typeof o.$date === 'string' && onlyKey(o, '$date')) return new Date(o.$date);
  return v;
}

/** Whether `key` is the object's one key (without allocating its key list). */
function onlyKey(o: object, key: string): boolean {
  for (const k in o) if (k !== key) return false;
  return true;
}

export const keysetContext = (eid: string, kvn: number) => `esim-sr-keyset:${eid}:${kvn}`;

export interface StoredSignedPart {
  readonly eumSignedInfo: EumSignedInfo;
  readonly eumSignature: EumSignature;
}

/** Writes a newly registered EIS: the row, its profiles, its ISD-R key sets (sealed). */
export async function insertEis(
  db: Executor,
  keyRing: KeyRing,
  eis: Eis,
  eumCertificate: string,
  now: number,
): Promise<void> {
  const eid = eis.eumSignedInfo.eid;
  await db
    .insertInto('esim_sr_eis')
    .values({
      eid,
      eum_id: eis.eumSignedInfo.eumId,
      smsr_id: eis.smsrId,
      signed_info: toJson({ eumSignedInfo: eis.eumSignedInfo, eumSignature: eis.eumSignature }),
      eum_certificate: eumCertificate,
      ecasd: toJson(eis.eumSignedInfo.ecasd),
      isdr: toJson(withoutKeyValues(eis.isdR)),
      remaining_memory: eis.remainingMemory,
      available_memory: eis.availableMemoryForProfiles,
      last_audit_at: eis.lastAuditDate?.getTime() ?? null,
      additional_properties: eis.additionalProperties === undefined ? null : toJson(eis.additionalProperties),
      registered_at: now,
      updated_at: now,
    })
    .execute();
  for (const p of eis.profiles) await insertProfile(db, eid, p, p.state, now);
  for (const ks of eis.isdR.keysets) {
    if (ks.type !== 'SCP80' && ks.type !== 'SCP81') continue;
    await db
      .insertInto('esim_sr_keysets')
      .values({
        eid,
        kvn: ks.version,
        type: ks.type,
        secrets: keyRing.seal(
          Buffer.from(toJson(ks.keys.map((k) => ({ index: k.index, components: k.components })))),
          keysetContext(eid, ks.version),
        ),
        counter: ks.cntr ?? 0,
        created_at: now,
      })
      .execute();
  }
}

/** The ISD-R as stored in the EIS row and shown in GetEIS: key sets without key values. */
function withoutKeyValues(sd: SecurityDomain): SecurityDomain {
  return { ...sd, keysets: sd.keysets.map((k): Keyset => ({ ...k, keys: [] })) };
}

export async function insertProfile(
  db: Executor,
  eid: string,
  p: Omit<ProfileInfo, 'state'>,
  state: SrProfileState,
  now: number,
): Promise<void> {
  await db
    .insertInto('esim_sr_profiles')
    .values({
      eid,
      iccid: p.iccid,
      isdp_aid: p.isdPAid.toUpperCase(),
      mno_id: p.mnoId,
      smdp_id: p.smdpId ?? null,
      state,
      fallback: p.fallbackAttribute ? 1 : 0,
      imsi: p.subscriptionAddress.imsi ?? null,
      msisdn: p.subscriptionAddress.msisdn ?? null,
      profile_type: p.profileType ?? null,
      allocated_memory: p.allocatedMemory,
      pol2: JSON.stringify(p.pol2),
      created_at: now,
      updated_at: now,
    })
    .execute();
}

export type ProfileRow = Selectable<EsimSrProfilesTable>;
export type ProcedureRow = Selectable<EsimSrProceduresTable>;

export const profilesOf = (db: Executor, eid: string): Promise<ProfileRow[]> =>
  db.selectFrom('esim_sr_profiles').selectAll().where('eid', '=', eid).orderBy('isdp_aid').execute();

export const pol2Of = (row: ProfileRow): Pol2 => JSON.parse(row.pol2) as Pol2;

export function profileInfo(row: ProfileRow): ProfileInfo {
  return {
    iccid: row.iccid,
    isdPAid: row.isdp_aid,
    mnoId: row.mno_id,
    fallbackAttribute: Number(row.fallback) === 1,
    subscriptionAddress: {
      ...(row.imsi === null ? {} : { imsi: row.imsi }),
      ...(row.msisdn === null ? {} : { msisdn: row.msisdn }),
    },
    state: row.state as ProfileInfo['state'],
    ...(row.smdp_id === null ? {} : { smdpId: row.smdp_id }),
    ...(row.profile_type === null ? {} : { profileType: row.profile_type }),
    allocatedMemory: Number(row.allocated_memory),
    pol2: pol2Of(row),
  };
}

// The statements every procedure runs, built once (store/prepared.ts): building a Kysely query costs
// more than SQLite takes to run it, and these run several times per procedure.
const updateProfileState = prepared((db) =>
  db
    .updateTable('esim_sr_profiles')
    .set({ state: param('state'), updated_at: param('now') })
    .where('eid', '=', param('eid'))
    .where('iccid', '=', param('iccid')),
);

export async function setProfileState(
  db: Executor,
  eid: string,
  iccid: string,
  state: SrProfileState,
  now: number,
): Promise<void> {
  await updateProfileState(db, { state, now, eid, iccid });
}

/** Moves the EIS's remaining memory by `delta` (never below 0), in one statement. */
export async function addRemainingMemory(
  db: Executor,
  eid: string,
  delta: number,
  now: number,
): Promise<void> {
  const moved = sql<number>`remaining_memory + ${delta}`;
  await db
    .updateTable('esim_sr_eis')
    .set({ remaining_memory: sql`case when ${moved} < 0 then 0 else ${moved} end`, updated_at: now })
    .where('eid', '=', eid)
    .execute();
}

export interface AuditInput {
  readonly eid: string;
  readonly operationType: string;
  readonly requesterId?: string | undefined;
  readonly status?: FunctionExecutionStatus | undefined;
  readonly isdPAid?: string | undefined;
  readonly iccid?: string | undefined;
  readonly imei?: string | undefined;
}

const insertAudit = prepared((db) =>
  db.insertInto('esim_sr_audit').values({
    eid: param<string>('eid'),
    at: param<number>('at'),
    operation_type: param<string>('operationType'),
    requester_id: param<string | null>('requesterId'),
    status: param<string | null>('status'),
    isdp_aid: param<string | null>('isdpAid'),
    iccid: param<string | null>('iccid'),
    imei: param<string | null>('imei'),
  }),
);

export async function recordAudit(db: Executor, a: AuditInput, now: number): Promise<void> {
  await insertAudit(db, {
    eid: a.eid,
    at: now,
    operationType: a.operationType,
    requesterId: a.requesterId ?? null,
    status: a.status === undefined ? null : JSON.stringify(a.status),
    isdpAid: a.isdPAid ?? null,
    iccid: a.iccid ?? null,
    imei: a.imei ?? null,
  });
}

/**
 * What an ES3/ES4 function reads of its eUICC, once, after it took the eUICC's lock (nothing else
 * changes the EIS while the lock is held): the EIS row's remaining memory and EUM-signed part, and
 * every profile row (In-Creation included). One statement (the EIS row joined to its profiles).
 */
export interface EisSnapshot {
  readonly remainingMemory: number;
  /** The EUM-signed part as stored (StoredSignedPart JSON); parsed by the function that needs it. */
  readonly signedInfo: string;
  /** Ordered by ISD-P AID, as profilesOf. */
  readonly profiles: readonly ProfileRow[];
  /** A hand-over given up with its outcome unknown (esim_sr_eis.handover_unknown JSON), or null. */
  readonly handoverUnknown: string | null;
}

const eisSnapshot = prepared((db) =>
  db
    .selectFrom('esim_sr_eis as e')
    .leftJoin('esim_sr_profiles as p', 'p.eid', 'e.eid')
    .select([
      'e.remaining_memory as eis_remaining_memory',
      'e.signed_info as eis_signed_info',
      'e.handover_unknown as eis_handover_unknown',
    ])
    .selectAll('p')
    .where('e.eid', '=', param('eid'))
    .orderBy('p.isdp_aid'),
);

export async function readEisSnapshot(db: Executor, eid: string): Promise<EisSnapshot | undefined> {
  const rows = await eisSnapshot(db, { eid });
  const first = rows[0];
  if (first === undefined) return undefined;
  const profiles: ProfileRow[] = [];
  for (const { eis_remaining_memory: _m, eis_signed_info: _s, eis_handover_unknown: _h, ...p } of rows)
    if (p.iccid !== null) profiles.push(p as ProfileRow);
  return {
    remainingMemory: Number(first.eis_remaining_memory),
    signedInfo: first.eis_signed_info,
    profiles,
    handoverUnknown: first.eis_handover_unknown,
  };
}

/** The EIS of `eid` as the es-soap model (no key values), or undefined when not registered. */
export async function loadEis(db: Executor, eid: string): Promise<Eis | undefined> {
  const row = await db.selectFrom('esim_sr_eis').selectAll().where('eid', '=', eid).executeTakeFirst();
  if (row === undefined) return undefined;
  const signed = fromJson<StoredSignedPart>(row.signed_info);
  const profiles = (await profilesOf(db, eid)).filter((p) => p.state !== 'In-Creation').map(profileInfo);
  const audit = await db
    .selectFrom('esim_sr_audit')
    .selectAll()
    .where('eid', '=', eid)
    .orderBy('id')
    .execute();
  const records: AuditTrailRecord[] = audit.map((a) => ({
    eid: a.eid,
    smsrId: row.smsr_id,
    operationDate: new Date(Number(a.at)),
    operationType: a.operation_type,
    ...(a.requester_id === null ? {} : { requesterId: a.requester_id }),
    ...(a.status === null ? {} : { operationExecutionStatus: JSON.parse(a.status) }),
    ...(a.isdp_aid === null ? {} : { isdPAid: a.isdp_aid }),
    ...(a.iccid === null ? {} : { iccid: a.iccid }),
    ...(a.imei === null ? {} : { imei: new Uint8Array(Buffer.from(a.imei, 'hex')) }),
  }));
  return {
    eumSignedInfo: signed.eumSignedInfo,
    eumSignature: signed.eumSignature,
    remainingMemory: Number(row.remaining_memory),
    availableMemoryForProfiles: Number(row.available_memory),
    ...(row.last_audit_at === null ? {} : { lastAuditDate: new Date(Number(row.last_audit_at)) }),
    smsrId: row.smsr_id,
    profiles,
    isdR: fromJson<SecurityDomain>(row.isdr),
    ...(records.length === 0 ? {} : { auditTrail: { records } }),
    ...(row.additional_properties === null
      ? {}
      : { additionalProperties: fromJson(row.additional_properties) }),
  };
}

export interface IsdrKeyset {
  readonly kvn: number;
  readonly type: 'SCP80' | 'SCP81';
  readonly keys: readonly { index: number; components: readonly { type: number; value: Uint8Array }[] }[];
}

/** An ISD-R key set, opened (for the ES5 transports only; never in an answer or a log). */
export async function loadIsdrKeyset(
  db: Executor,
  keyRing: KeyRing,
  eid: string,
  kvn: number,
): Promise<IsdrKeyset | undefined> {
  const row = await db
    .selectFrom('esim_sr_keysets')
    .selectAll()
    .where('eid', '=', eid)
    .where('kvn', '=', kvn)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const keys = fromJson<IsdrKeyset['keys']>(
    keyRing.open(row.secrets, keysetContext(eid, kvn)).toString('utf8'),
  );
  return { kvn, type: row.type as IsdrKeyset['type'], keys };
}

/**
 * Takes the next SCP80 command counter of the eUICC's ISD-R key set that commands are secured with —
 * `preferredKvn` when the EIS lists that SCP80 key set (KVN 01–0F), else the lowest SCP80 KVN it
 * lists — in one guarded statement that also returns the key set's sealed keys (two senders never get
 * the same counter; the row lock on PostgreSQL, the write lock on SQLite). Undefined when there is no
 * such key set or its 5-octet counter is spent.
 */
const reserveCommandCounter = prepared((db) =>
  db
    .updateTable('esim_sr_keysets')
    .set((eb) => ({ counter: eb('counter', '+', 1) }))
    .where('eid', '=', param('eid'))
    .where('kvn', '=', (eb) =>
      eb
        .selectFrom('esim_sr_keysets as k')
        .select('k.kvn')
        .where('k.eid', '=', param('eid'))
        .where('k.type', '=', 'SCP80')
        .where('k.kvn', '>=', 0x01)
        .where('k.kvn', '<=', 0x0f)
        .orderBy(sql`case when k.kvn = ${param('kvn')} then 0 else 1 end`)
        .orderBy('k.kvn')
        .limit(1),
    )
    .where('counter', '<', 0xff_ffff_ffff)
    .returning(['kvn', 'counter', 'secrets']),
);

export async function reserveIsdrCommandCounter(
  db: Executor,
  eid: string,
  preferredKvn: number,
): Promise<{ kvn: number; counter: number; secrets: string } | undefined> {
  const [r] = await reserveCommandCounter(db, { eid, kvn: preferredKvn });
  return r === undefined ? undefined : { kvn: Number(r.kvn), counter: Number(r.counter), secrets: r.secrets };
}

// --- procedures -------------------------------------------------------------------------------------

export interface NewProcedure {
  readonly eid: string;
  readonly function: string;
  readonly requester: string;
  readonly functionCallId: string;
  readonly step: string;
  readonly data: unknown;
  readonly deadline: number;
}

/**
 * Starts a procedure on `eid`, taking its lock: the insert sets `active_eid`, which is unique, so of
 * two racing starts on one eUICC exactly one inserts; the other's insert does nothing (ON CONFLICT DO
 * NOTHING: no error, so it can run inside a transaction or a group commit on both databases).
 * Undefined when another procedure is running.
 */
export async function beginProcedure(
  db: Executor,
  p: NewProcedure,
  now: number,
): Promise<string | undefined> {
  const id = randomUUID();
  const inserted = await insertProcedure(db, {
    id,
    eid: p.eid,
    function: p.function,
    requester: p.requester,
    functionCallId: p.functionCallId,
    step: p.step,
    data: toJson(p.data),
    deadline: p.deadline,
    now,
  });
  return inserted.length === 1 ? id : undefined;
}

const insertProcedure = prepared((db) =>
  db
    .insertInto('esim_sr_procedures')
    .values({
      procedure_id: param<string>('id'),
      eid: param<string>('eid'),
      active_eid: param<string>('eid'),
      function: param<string>('function'),
      requester: param<string>('requester'),
      function_call_id: param<string>('functionCallId'),
      step: param<string>('step'),
      data: param<string>('data'),
      result: null,
      deadline: param<number>('deadline'),
      created_at: param<number>('now'),
      updated_at: param<number>('now'),
    })
    .onConflict((oc) => oc.column('active_eid').doNothing())
    .returning('procedure_id'),
);

/** Moves a running procedure's deadline; false when it had already ended. */
export async function extendProcedure(
  db: Executor,
  id: string,
  deadline: number,
  now: number,
): Promise<boolean> {
  return (await extendRunning(db, { id, deadline, now })).length === 1;
}

const extendRunning = prepared((db) =>
  db
    .updateTable('esim_sr_procedures')
    .set({ deadline: param('deadline'), updated_at: param('now') })
    .where('procedure_id', '=', param('id'))
    .where('active_eid', 'is not', null)
    .returning('procedure_id'),
);

/** Records a step (and the data it needs to resume) before the step's message leaves. */
export async function recordStep(
  db: Executor,
  id: string,
  step: string,
  data: unknown,
  now: number,
): Promise<void> {
  await recordRunningStep(db, { id, step, data: toJson(data), now });
}

const recordRunningStep = prepared((db) =>
  db
    .updateTable('esim_sr_procedures')
    .set({ step: param('step'), data: param('data'), updated_at: param('now') })
    .where('procedure_id', '=', param('id'))
    .where('active_eid', 'is not', null),
);

/** Removes a procedure that found no EIS (its lock taken for nothing); it never sent anything. */
export async function discardProcedure(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('esim_sr_procedures').where('procedure_id', '=', id).execute();
}

/** Ends a running procedure with its status and releases the eUICC; false when it had already ended. */
export async function endProcedure(
  db: Executor,
  id: string,
  status: FunctionExecutionStatus,
  now: number,
): Promise<boolean> {
  return (await endRunning(db, { id, result: JSON.stringify(status), now })).length === 1;
}

const endRunning = prepared((db) =>
  db
    .updateTable('esim_sr_procedures')
    .set({ active_eid: null, step: 'ended', result: param('result'), updated_at: param('now') })
    .where('procedure_id', '=', param('id'))
    .where('active_eid', 'is not', null)
    .returning('procedure_id'),
);

export const activeProcedure = (db: Executor, eid: string): Promise<ProcedureRow | undefined> =>
  db.selectFrom('esim_sr_procedures').selectAll().where('active_eid', '=', eid).executeTakeFirst();

export const runningProcedures = (db: Executor): Promise<ProcedureRow[]> =>
  db.selectFrom('esim_sr_procedures').selectAll().where('active_eid', 'is not', null).execute();

export const procedureById = (db: Executor, id: string): Promise<ProcedureRow | undefined> =>
  db.selectFrom('esim_sr_procedures').selectAll().where('procedure_id', '=', id).executeTakeFirst();
