// Migration 0015-esim-operations (issue 15): the operator layer's eUICC inventory and operations.
// Registered in store/migrations.ts.
//
//   esim_euiccs            one row per eUICC SIM of an operator: the SIM (`sims.type` = 'euicc',
//                          sim_id = the EID) and the SM-SR it is registered at
//   esim_profiles          the profiles on that eUICC as the operator layer last learnt them (from the
//                          EIS at registration, then from each operation and the SM-SR's GetEIS):
//                          ICCID, state, MNO id, IMSI/MSISDN of its subscription address
//   esim_operations        one row per operation (download, enable, disable, delete): the request,
//                          its outcome (FunctionExecutionStatus JSON) and `active_sim_id` = the SIM
//                          while it runs, null once it ended, UNIQUE: one operation per eUICC at a
//                          time, taken by the insert on both databases
//   esim_operation_steps   the operation's steps as they were reported: name, state, start/end,
//                          FunctionExecutionStatus (status, subject, reason, message) — no secrets

import type { Kysely } from 'kysely';
import type { Dialect } from '../../store/database.js';

export async function esimOperationsMigration(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('esim_euiccs')
    .addColumn('sim_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('eid', 'text', (c) => c.notNull().unique())
    .addColumn('smsr_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await s
    .createTable('esim_profiles')
    .addColumn('iccid', 'text', (c) => c.primaryKey())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('mno_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('imsi', 'text')
    .addColumn('msisdn', 'text')
    .addColumn('profile_type', 'text')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await s.createIndex('esim_profiles_sim').on('esim_profiles').columns(['sim_id']).execute();

  await s
    .createTable('esim_operations')
    .addColumn('operation_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('eid', 'text', (c) => c.notNull())
    .addColumn('iccid', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('profile_type', 'text')
    .addColumn('enable', 'integer', (c) => c.notNull())
    .addColumn('active_sim_id', 'text', (c) => c.unique())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('result', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .execute();
  await s
    .createIndex('esim_operations_sim')
    .on('esim_operations')
    .columns(['operator_id', 'sim_id', 'created_at'])
    .execute();

  await s
    .createTable('esim_operation_steps')
    .addColumn('operation_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .addColumn('status', 'text')
    .addColumn('subject', 'text')
    .addColumn('reason', 'text')
    .addColumn('message', 'text')
    .addPrimaryKeyConstraint('esim_operation_steps_pk', ['operation_id', 'seq'])
    .execute();
}
