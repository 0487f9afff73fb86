// Migration 0025-esim-dp-iccid (issue 15). Registered in store/migrations.ts.
//
//   esim_dp_downloads_iccid   ES2.DownloadProfile refuses an ICCID already downloaded (a download of it
//                             ended EXECUTED_SUCCESS / WITHWARNING) before it starts one. The table's
//                             indexes were (eid, iccid), status and the running ICCID: the check went
//                             through the status index, i.e. every successful download so far.

import type { Kysely } from 'kysely';

export async function esimDpIccidMigration(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('esim_dp_downloads_iccid').on('esim_dp_downloads').column('iccid').execute();
}
