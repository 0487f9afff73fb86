// Migration 0014-esim-sm-dp (issue 15): the SM-DP's durable DownloadProfile procedures. Registered in
// store/migrations.ts.
//
//   esim_dp_downloads  one row per ES2.DownloadProfile: the request (EID, SM-SR, ICCID, profile type,
//                      enable), the step the procedure is at (stored BEFORE that step's message
//                      leaves, so a restart knows what may have reached the card), the ISD-P AID, the
//                      non-secret progress (PK.ECASD.ECKA, RC) and the secrets of the key
//                      establishment (the ephemeral key, then the ISD-P key set) sealed with the key
//                      ring under `esim-dp-download:<id>`; the outcome (FunctionExecutionStatus JSON
//                      and a stable failure code), the deadline its ValidityPeriod sets. `active_iccid` is the ICCID while the procedure
//                      runs and null once it ended, and is UNIQUE: one download per ICCID at a time.
//   esim_dp_steps      the procedure's trail: one row per step entered (never secrets)

import type { Kysely } from 'kysely';
import type { Dialect } from '../../store/database.js';

export async function esimSmDpMigration(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('esim_dp_downloads')
    .addColumn('download_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('mno_id', 'text', (c) => c.notNull())
    .addColumn('function_call_id', 'text', (c) => c.notNull())
    .addColumn('eid', 'text', (c) => c.notNull())
    .addColumn('smsr_id', 'text', (c) => c.notNull())
    .addColumn('iccid', 'text', (c) => c.notNull())
    .addColumn('active_iccid', 'text', (c) => c.unique())
    .addColumn('profile_type', 'text', (c) => c.notNull())
    .addColumn('enable', 'integer', (c) => c.notNull())
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('isdp_aid', 'text')
    .addColumn('progress', 'text', (c) => c.notNull())
    .addColumn('secrets', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('result', 'text')
    .addColumn('failure_code', 'text')
    .addColumn('deadline', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await s.createIndex('esim_dp_downloads_eid').on('esim_dp_downloads').columns(['eid', 'iccid']).execute();
  await s.createIndex('esim_dp_downloads_status').on('esim_dp_downloads').columns(['status']).execute();

  await s
    .createTable('esim_dp_steps')
    .addColumn('download_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('esim_dp_steps_pk', ['download_id', 'seq'])
    .execute();
}
