// Migration 0013-esim-sm-sr (issue 15): the SM-SR's EIS store. Registered in store/migrations.ts.
//
//   esim_sr_eis          one row per registered eUICC (EID): the EUM-signed part of the EIS kept as
//                        received (JSON of EumSignedInfo + EumSignature, re-verifiable), the EUM
//                        certificate it was verified with, memory figures, the managing SM-SR
//   esim_sr_profiles     ProfileInfo rows (SGP.02 §5.1.1.1): one per ISD-P the SM-SR knows, with
//                        its state (In-Creation | Created | Disabled | Enabled), POL2, owner ids
//   esim_sr_keysets      ISD-R key sets (SCP80 KVN 01–0F, SCP81 KVN 40–4F), keys sealed with the key
//                        ring (context `esim-sr-keyset:<eid>:<kvn>`), the SCP80 command counter moved
//                        by one guarded statement (as ota_key_sets)
//   esim_sr_audit        the EIS audit trail (operation codes of SGP.02 Annex 1)
//   esim_sr_procedures   one row per function run on an eUICC; `active_eid` is the EID while the
//                        procedure runs and null once it ended, and is UNIQUE: the one-procedure-per-
//                        eUICC lock, taken by an insert (both databases refuse a second row)
//   esim_sr_notifications the last default notification handled per (EID, sequence number), so a
//                        repeated MO SMS is confirmed again but applied once (a row is replaced when
//                        the 2-octet number wraps and comes back with another type or ISD-P)

import type { Kysely } from 'kysely';
import type { Dialect } from '../../store/database.js';

export async function esimSmSrMigration(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('esim_sr_eis')
    .addColumn('eid', 'text', (c) => c.primaryKey())
    .addColumn('eum_id', 'text', (c) => c.notNull())
    .addColumn('smsr_id', 'text', (c) => c.notNull())
    .addColumn('signed_info', 'text', (c) => c.notNull())
    .addColumn('eum_certificate', 'text', (c) => c.notNull())
    .addColumn('ecasd', 'text', (c) => c.notNull())
    .addColumn('isdr', 'text', (c) => c.notNull())
    .addColumn('remaining_memory', 'bigint', (c) => c.notNull())
    .addColumn('available_memory', 'bigint', (c) => c.notNull())
    .addColumn('last_audit_at', 'bigint')
    .addColumn('additional_properties', 'text')
    .addColumn('registered_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await s
    .createTable('esim_sr_profiles')
    .addColumn('eid', 'text', (c) => c.notNull())
    .addColumn('iccid', 'text', (c) => c.notNull())
    .addColumn('isdp_aid', 'text', (c) => c.notNull())
    .addColumn('mno_id', 'text', (c) => c.notNull())
    .addColumn('smdp_id', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('fallback', 'integer', (c) => c.notNull())
    .addColumn('imsi', 'text')
    .addColumn('msisdn', 'text')
    .addColumn('profile_type', 'text')
    .addColumn('allocated_memory', 'bigint', (c) => c.notNull())
    .addColumn('pol2', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('esim_sr_profiles_pk', ['eid', 'iccid'])
    .addUniqueConstraint('esim_sr_profiles_isdp', ['eid', 'isdp_aid'])
    .execute();

  await s
    .createTable('esim_sr_keysets')
    .addColumn('eid', 'text', (c) => c.notNull())
    .addColumn('kvn', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('secrets', 'text', (c) => c.notNull())
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('esim_sr_keysets_pk', ['eid', 'kvn'])
    .execute();

  const serial =
    dialect === 'postgres'
      ? s.createTable('esim_sr_audit').addColumn('id', 'bigserial', (c) => c.primaryKey())
      : s.createTable('esim_sr_audit').addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  await serial
    .addColumn('eid', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('operation_type', 'text', (c) => c.notNull())
    .addColumn('requester_id', 'text')
    .addColumn('status', 'text')
    .addColumn('isdp_aid', 'text')
    .addColumn('iccid', 'text')
    .addColumn('imei', 'text')
    .execute();
  await s.createIndex('esim_sr_audit_eid').on('esim_sr_audit').columns(['eid', 'id']).execute();

  await s
    .createTable('esim_sr_procedures')
    .addColumn('procedure_id', 'text', (c) => c.primaryKey())
    .addColumn('eid', 'text', (c) => c.notNull())
    .addColumn('active_eid', 'text', (c) => c.unique())
    .addColumn('function', 'text', (c) => c.notNull())
    .addColumn('requester', 'text', (c) => c.notNull())
    .addColumn('function_call_id', 'text', (c) => c.notNull())
    .addColumn('step', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('result', 'text')
    .addColumn('deadline', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createIndex('esim_sr_procedures_eid')
    .on('esim_sr_procedures')
    .columns(['eid', 'created_at'])
    .execute();

  await s
    .createTable('esim_sr_notifications')
    .addColumn('eid', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('type', 'integer', (c) => c.notNull())
    .addColumn('isdp_aid', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('esim_sr_notifications_pk', ['eid', 'seq'])
    .execute();
}
