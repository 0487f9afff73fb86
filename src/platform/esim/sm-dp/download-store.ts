// Rows of the SM-DP's DownloadProfile procedures (migration 0014, migration.ts). Every write that
// moves a procedure is one transaction: the row's step and the trail entries together. A step whose
// messages leave nothing to resume from (before the key set; a restart runs those steps again from
// the start) does not move the row: its trail entry, with the time it began, is written with the
// next write (DownloadTrail). The key set of a running download is sealed with the key ring
// (context `esim-dp-download:<id>`) once, when it exists, and dropped when the procedure ends.

import type { Selectable } from 'kysely';
import type { EstablishedKeyset, KeyUsageQualifier } from '../../../crypto/sgp-02-key-establishment.js';
import { fromHex, toHex } from '../../../lib/hex.js';
import type { KeyRing } from '../../secrets/key-ring.js';
import type { Executor, Store } from '../../store/database.js';
import type { GroupCommit } from '../../store/group-commit.js';
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

/** Inserts a download at its first step (trail entry 1); the row as stored. */
export async function insertDownload(
  db: Executor,
  row: Omit<
    DownloadRow,
    'step' | 'attempt' | 'isdp_aid' | 'progress' | 'secrets' | 'status' | 'result' | 'failure_code'
  >,
  firstStep: string,
): Promise<DownloadRow> {
  const stored: DownloadRow = {
    ...row,
    step: firstStep,
    attempt: 1,
    isdp_aid: null,
    progress: '{}',
    secrets: null,
    status: 'running',
    result: null,
    failure_code: null,
  };
  await db.insertInto('esim_dp_downloads').values(stored).execute();
  await db
    .insertInto('esim_dp_steps')
    .values({ download_id: row.download_id, seq: 1, step: firstStep, detail: '{}', at: row.created_at })
    .execute();
  return stored;
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

/**
 * The writer of one running download's row and trail (one per runner; the trail's sequence numbers
 * are kept here, read once after a restart). `note` records a step that need not be stored before
 * it runs; `enter` stores a step before its message leaves; `end` ends the procedure. Each write is
 * one transaction with the trail entries noted since the last one.
 */
export class DownloadTrail {
  readonly #store: Store;
  /** Where the writes go: the SM-DP's group commit (store/group-commit.ts), or a transaction each. */
  readonly #writer: GroupCommit | undefined;
  readonly #id: string;
  /** Made by resume(): the download continues after a restart. */
  readonly resumed: boolean;
  #seq: number;
  readonly #noted: { step: string; detail: string; at: number }[] = [];

  constructor(store: Store, id: string, lastSeq: number, resumed = false, writer?: GroupCommit) {
    this.#store = store;
    this.#writer = writer;
    this.#id = id;
    this.#seq = lastSeq;
    this.resumed = resumed;
  }

  /** The trail of a download already in the table (after a restart): continues after its last entry. */
  static async resume(store: Store, id: string, writer?: GroupCommit): Promise<DownloadTrail> {
    const last = await store.db
      .selectFrom('esim_dp_steps')
      .select((e) => e.fn.max('seq').as('seq'))
      .where('download_id', '=', id)
      .executeTakeFirst();
    return new DownloadTrail(store, id, Number(last?.seq ?? 0), true, writer);
  }

  /** A step that runs without moving the row (a restart runs it again): its entry waits for the next write. */
  note(step: string, now: number, detail: Record<string, unknown> = {}): void {
    this.#noted.push({ step, detail: JSON.stringify(detail), at: now });
  }

  /** Enter `step` (stored before its message leaves) with what the previous steps learnt. */
  async enter(step: string, patch: StepPatch, now: number): Promise<void> {
    this.note(step, now, patch.detail);
    await this.#commit(async (tx) => {
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
        .where('download_id', '=', this.#id)
        .execute();
      await this.#write(tx);
    });
    this.#written();
  }

  /** The procedure ends: its outcome, the ICCID lock released, the key set forgotten. */
  async end(status: FunctionExecutionStatus, failureCode: SmdpFailureCode | undefined, now: number) {
    await this.#commit(async (tx) => {
      await endDownload(tx, this.#id, status, failureCode, now);
      await this.#write(tx);
    });
    this.#written();
  }

  /** One durable unit of writes: in the group commit, else in a transaction of its own. */
  #commit(op: (tx: Executor) => Promise<void>): Promise<void> {
    return this.#writer === undefined ? this.#store.db.transaction().execute(op) : this.#writer.run(op);
  }

  /** The noted entries, in `tx`; they leave the list once it committed (#written). */
  async #write(tx: Executor): Promise<void> {
    const rows = this.#noted.map((n, i) => ({
      download_id: this.#id,
      seq: this.#seq + i + 1,
      step: n.step,
      detail: n.detail,
      at: n.at,
    }));
    if (rows.length > 0) await tx.insertInto('esim_dp_steps').values(rows).execute();
  }

  #written(): void {
    this.#seq += this.#noted.length;
    this.#noted.length = 0;
  }
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
