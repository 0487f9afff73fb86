// Rows of the SM-DP's DownloadProfile procedures (migration 0014, migration.ts). Every write that
// moves a procedure is one transaction: the row's step and the trail entry together. The key set of
// a running download is sealed with the key ring (context `esim-dp-download:<id>`) and dropped when
// the procedure ends.

import type { Selectable } from 'kysely';
import type { EstablishedKeyset, KeyUsageQualifier } from '../../../crypto/sgp-02-key-establishment.js';
import { fromHex, toHex } from '../../../lib/hex.js';
import type { KeyRing } from '../../secrets/key-ring.js';
import type { Executor, Store } from '../../store/database.js';
import type { EsimDpDownloadsTable } from '../../store/schema.js';
import type { FunctionExecutionStatus } from '../es-soap/sgp-02-status-codes.js';
import type { SmdpFailureCode } from './failure-codes.js';

export type DownloadRow = Selectable<EsimDpDownloadsTable>;

/** Non-secret progress kept between steps. */
export interface DownloadProgress {
  /** PK.ECASD.ECKA (04‖X‖Y) from the verified CERT.ECASD.ECKA, hex. */
  readonly ecasdPublicKey?: string;
}

export const downloadSecretContext = (id: string) => `esim-dp-download:${id}`;

export async function insertDownload(
  db: Executor,
  row: Omit<
    DownloadRow,
    'step' | 'attempt' | 'isdp_aid' | 'progress' | 'secrets' | 'status' | 'result' | 'failure_code'
  >,
  firstStep: string,
): Promise<void> {
  await db
    .insertInto('esim_dp_downloads')
    .values({
      ...row,
      step: firstStep,
      attempt: 1,
      isdp_aid: null,
      progress: '{}',
      secrets: null,
      status: 'running',
      result: null,
      failure_code: null,
    })
    .execute();
  await db
    .insertInto('esim_dp_steps')
    .values({ download_id: row.download_id, seq: 1, step: firstStep, detail: '{}', at: row.created_at })
    .execute();
}

export async function loadDownload(db: Executor, id: string): Promise<DownloadRow | undefined> {
  return db.selectFrom('esim_dp_downloads').selectAll().where('download_id', '=', id).executeTakeFirst();
}

export async function runningDownloads(db: Executor): Promise<DownloadRow[]> {
  return db.selectFrom('esim_dp_downloads').selectAll().where('status', '=', 'running').execute();
}

/** The finished downloads of (eid, iccid) whose profile was installed. */
export async function installedDownload(
  db: Executor,
  eid: string,
  iccid: string,
): Promise<DownloadRow | undefined> {
  return db
    .selectFrom('esim_dp_downloads')
    .selectAll()
    .where('eid', '=', eid)
    .where('iccid', '=', iccid)
    .where('status', 'in', ['EXECUTED_SUCCESS', 'EXECUTED_WITHWARNING'])
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
}

export interface StepPatch {
  readonly isdpAid?: string | null;
  readonly progress?: DownloadProgress;
  /** undefined: unchanged; null: dropped. */
  readonly secrets?: string | null;
  readonly attempt?: number;
  readonly detail?: Record<string, unknown>;
}

/** Enter `step` (stored before its message leaves) with what the previous steps learnt. */
export async function enterStep(store: Store, id: string, step: string, patch: StepPatch, now: number) {
  await store.db.transaction().execute(async (tx) => {
    const last = await tx
      .selectFrom('esim_dp_steps')
      .select((e) => e.fn.max('seq').as('seq'))
      .where('download_id', '=', id)
      .executeTakeFirst();
    await tx
      .updateTable('esim_dp_downloads')
      .set({
        step,
        updated_at: now,
        ...(patch.isdpAid !== undefined ? { isdp_aid: patch.isdpAid } : {}),
        ...(patch.progress !== undefined ? { progress: JSON.stringify(patch.progress) } : {}),
        ...(patch.secrets !== undefined ? { secrets: patch.secrets } : {}),
        ...(patch.attempt !== undefined ? { attempt: patch.attempt } : {}),
      })
      .where('download_id', '=', id)
      .execute();
    await tx
      .insertInto('esim_dp_steps')
      .values({
        download_id: id,
        seq: Number(last?.seq ?? 0) + 1,
        step,
        detail: JSON.stringify(patch.detail ?? {}),
        at: now,
      })
      .execute();
  });
}

/** The procedure ends: its outcome, the ICCID lock released, the key set forgotten. */
export async function endDownload(
  db: Executor,
  id: string,
  status: FunctionExecutionStatus,
  failureCode: SmdpFailureCode | undefined,
  now: number,
): Promise<void> {
  await db
    .updateTable('esim_dp_downloads')
    .set({
      status: status.status,
      result: JSON.stringify(status),
      failure_code: failureCode ?? null,
      active_iccid: null,
      secrets: null,
      updated_at: now,
    })
    .where('download_id', '=', id)
    .execute();
}

export async function stepsOf(db: Executor, id: string): Promise<string[]> {
  const rows = await db
    .selectFrom('esim_dp_steps')
    .select('step')
    .where('download_id', '=', id)
    .orderBy('seq')
    .execute();
  return rows.map((r) => r.step);
}

// --- the sealed key set -------------------------------------------------------------------------------

interface SealedKeyset {
  readonly q: number;
  readonly kvn: number;
  readonly kid: number;
  readonly counter: string;
  readonly keys: readonly string[];
}

export function sealKeyset(keyRing: KeyRing, id: string, keyset: EstablishedKeyset): string {
  const v: SealedKeyset = {
    q: keyset.keyUsageQualifier,
    kvn: keyset.kvn,
    kid: keyset.kid,
    counter: toHex(keyset.initialCounter),
    keys: keyset.keys.map((k) => toHex(k)),
  };
  return keyRing.seal(Buffer.from(JSON.stringify(v)), downloadSecretContext(id));
}

export function openKeyset(keyRing: KeyRing, id: string, sealed: string): EstablishedKeyset {
  const v = JSON.parse(keyRing.open(sealed, downloadSecretContext(id)).toString('utf8')) as SealedKeyset;
  return {
    keyUsageQualifier: v.q as KeyUsageQualifier,
    kvn: v.kvn,
    kid: v.kid,
    initialCounter: fromHex(v.counter) ?? new Uint8Array(0),
    keys: v.keys.map((k) => fromHex(k) ?? new Uint8Array(0)),
  };
}
