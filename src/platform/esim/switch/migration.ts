// Migration 0018-esim-switch (issue 16, "switch carrier"). Registered in store/migrations.ts.
//
//   esim_switches   one row per switch operation (esim_operations kind `switch`, same operation_id):
//                   the target deployment's SM-SR and SM-DP (partners of the operator), the profile
//                   type asked for, the ICCID (asked for, or the one the target's SM-DP answered) and
//                   `step` — the orchestration step stored BEFORE its message leaves (prepare →
//                   smsr-change → download → ended), so a restarted platform knows what may have
//                   happened and resumes from there (switch-service.ts, recover()).
//   esim_euiccs     gains handed_over_to / handed_over_at: the SM-SR this operator's eUICC was handed
//                   over to by an SM-SR change, and when (null while this deployment's SM-SR manages
//                   it). Set with the SM-SR change's success, cleared when the eUICC comes back.

import type { Kysely } from 'kysely';
import type { Dialect } from '../../store/database.js';

export async function esimSwitchMigration(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('esim_switches')
    .addColumn('operation_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('eid', 'text', (c) => c.notNull())
    .addColumn('source_smsr_id', 'text', (c) => c.notNull())
    .addColumn('target_smsr_id', 'text', (c) => c.notNull())
    .addColumn('target_smdp_id', 'text', (c) => c.notNull())
    .addColumn('profile_type', 'text', (c) => c.notNull())
    .addColumn('iccid', 'text')
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await s.alterTable('esim_euiccs').addColumn('handed_over_to', 'text').execute();
  await s.alterTable('esim_euiccs').addColumn('handed_over_at', 'bigint').execute();
}
