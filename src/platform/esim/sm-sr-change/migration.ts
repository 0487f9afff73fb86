// Migration 0026-esim-sr-handover (issue 16). Registered in store/migrations.ts.
//
//   esim_sr_eis.handover_unknown   set at SM-SR1 when the operator gives up a hand-over whose
//                                  HandoverEUICC never got a final answer (SmSrChange.abandonHandover):
//                                  JSON {target, functionCallId, requester, procedureId, since, by, why}.
//                                  While set, the EIS stays but nothing of this SM-SR runs on the eUICC
//                                  except AuditEIS (SM-SR2 may have committed); it goes when SM-SR2
//                                  answers (resolveHandovers): with the EIS (taken over) or alone
//                                  (not taken over: SM-SR1 in charge again).

import type { Kysely } from 'kysely';

export async function esimSrHandoverMigration(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('esim_sr_eis').addColumn('handover_unknown', 'text').execute();
}
