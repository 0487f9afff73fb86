// The switch's rows (migration 0018): the orchestration state of one switch operation, and the
// inventory's record that an eUICC went to another SM-SR. Plain statements; the transactions are the
// caller's (switch-service.ts, operations-service.ts).

import type { Executor } from '../../store/database.js';
import type { EsimSwitchesTable } from '../../store/schema.js';

export type SwitchRow = EsimSwitchesTable;

/**
 * The orchestration steps in order, each stored before its message leaves: at `prepare` the
 * PrepareSMSRChange may have reached the target SM-SR, at `smsr-change` the SMSRChange our SM-SR,
 * at `download` the DownloadProfile the target SM-DP; `ended` once the operation has its outcome.
 */
export const SWITCH_STEPS = ['prepare', 'smsr-change', 'download', 'ended'] as const;
export type SwitchStep = (typeof SWITCH_STEPS)[number];

export function insertSwitch(trx: Executor, row: SwitchRow): Promise<unknown> {
  return trx.insertInto('esim_switches').values(row).execute();
}

export function loadSwitch(db: Executor, operationId: string): Promise<SwitchRow | undefined> {
  return db
    .selectFrom('esim_switches')
    .selectAll()
    .where('operation_id', '=', operationId)
    .executeTakeFirst();
}

export async function loadSwitches(
  db: Executor,
  operationIds: readonly string[],
): Promise<Map<string, SwitchRow>> {
  if (operationIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('esim_switches')
    .selectAll()
    .where('operation_id', 'in', operationIds)
    .execute();
  return new Map(rows.map((r) => [r.operation_id, r]));
}

/** Moves the switch to `step` (and records the ICCID once known). */
export function setSwitchStep(
  db: Executor,
  operationId: string,
  step: SwitchStep,
  now: number,
  iccid?: string,
): Promise<unknown> {
  return db
    .updateTable('esim_switches')
    .set({ step, updated_at: now, ...(iccid === undefined ? {} : { iccid }) })
    .where('operation_id', '=', operationId)
    .execute();
}

/**
 * The eUICC left this deployment's SM-SR for `smsrId` (SGP.02 §3.8: SM-SR1 deleted its EIS): the SIM
 * records where it went and when, and its profiles here are `handed-over` — this operator can no
 * longer change them through its own SM-SR.
 */
export async function markHandedOver(
  trx: Executor,
  simId: string,
  smsrId: string,
  now: number,
): Promise<void> {
  await trx
    .updateTable('esim_euiccs')
    .set({ handed_over_to: smsrId, handed_over_at: now })
    .where('sim_id', '=', simId)
    .execute();
  await trx
    .updateTable('esim_profiles')
    .set({ state: 'handed-over', updated_at: now })
    .where('sim_id', '=', simId)
    .execute();
}
