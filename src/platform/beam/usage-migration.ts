// Migration 0021 (issue 17): usage of Beam, Funnel and Funk per SIM, written by beam/usage.ts.
// - beam_usage: hour and day buckets per operator, IMSI, service, entry point and destination
//   (requests, delivered, refused, failed, bytes up and down). Stats queries read one IMSI's range
//   through the primary key; the operator's export reads (operator_id, service, period, bucket_start)
//   through beam_usage_export; retention deletes hour/day buckets by (period, bucket_start).
// - beam_sim_status: the last delivery and the last error (time, entry point, safe text) per SIM and
//   service, shown with the SIM (GET /sims/{sim_id}/beam, the console).
// Registered in store/migrations.ts.

import type { Kysely } from 'kysely';
import type { Dialect } from '../store/database.js';

export async function beamUsageMigration(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('beam_usage')
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('imsi', 'text', (c) => c.notNull())
    // beam | funnel | funk
    .addColumn('service', 'text', (c) => c.notNull())
    // http | mqtt | tcp | udp
    .addColumn('entry_point', 'text', (c) => c.notNull())
    // https, mqtts, amqp, … ('' when the entry point named none)
    .addColumn('destination', 'text', (c) => c.notNull())
    .addColumn('period', 'text', (c) => c.notNull())
    .addColumn('bucket_start', 'bigint', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('requests', 'bigint', (c) => c.notNull())
    .addColumn('delivered', 'bigint', (c) => c.notNull())
    .addColumn('refused', 'bigint', (c) => c.notNull())
    .addColumn('failed', 'bigint', (c) => c.notNull())
    .addColumn('bytes_up', 'bigint', (c) => c.notNull())
    .addColumn('bytes_down', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('beam_usage_pk', [
      'operator_id',
      'imsi',
      'service',
      'period',
      'bucket_start',
      'entry_point',
      'destination',
    ])
    .execute();
  await s
    .createIndex('beam_usage_export')
    .on('beam_usage')
    .columns(['operator_id', 'service', 'period', 'bucket_start'])
    .execute();
  await s.createIndex('beam_usage_retention').on('beam_usage').columns(['period', 'bucket_start']).execute();

  await s
    .createTable('beam_sim_status')
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('service', 'text', (c) => c.notNull())
    .addColumn('imsi', 'text', (c) => c.notNull())
    .addColumn('last_delivery_at', 'bigint')
    .addColumn('last_delivery_entry_point', 'text')
    .addColumn('last_error_at', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('last_error_entry_point', 'text')
    .addPrimaryKeyConstraint('beam_sim_status_pk', ['operator_id', 'sim_id', 'service'])
    .execute();
}
