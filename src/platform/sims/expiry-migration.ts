// Migration 0011 (SIM expiry, setSimExpiryTime): the SIM's expiry time and action, and an index of
// the SIMs that have one in due-time order, which the expiry job (servers/sim-expiry-job.ts →
// sims/expiry.ts) walks to claim the SIMs due. Registered in store/migrations.ts.

import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../store/database.js';

export async function simExpiryMigration(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  const s = db.schema;
  // Unix ms; null: the SIM has no expiry.
  await s.alterTable('sims').addColumn('expiry_time', 'bigint').execute();
  await s.alterTable('sims').addColumn('expiry_action', 'text').execute();
  // Partial: only SIMs with an expiry are in it, so the job's scan is a short range however large the
  // inventory (both dialects support partial indexes).
  await s
    .createIndex('sims_expiry_due')
    .on('sims')
    .columns(['expiry_time', 'sim_id'])
    .where(sql.ref('expiry_time'), 'is not', null)
    .execute();
}
