// Migration 0024-vpg (issue 18): virtual private gateways, the desired state the data plane
// (servers/dataplane) programs into Linux. Registered in store/migrations.ts.
//
//   vpgs          one row per VPG: operator, SORACOM type, status (creating → running,
//                 terminating → terminated), device subnet range, whether traffic filtering is on and
//                 its uplink rules (JSON of the parsed rules, filter-rules.ts), the internet gateway
//                 flag, times.
//   vpg_tags      SORACOM tags of a VPG (name → value).
// Groups use a VPG through their `SoracomAir.vpgId` configuration key (as SORACOM's groups do).

import type { Kysely } from 'kysely';
import type { Dialect } from '../store/database.js';

export async function vpgMigration(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('vpgs')
    .addColumn('vpg_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('type', 'integer', (c) => c.notNull())
    .addColumn('placement', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('device_subnet', 'text', (c) => c.notNull())
    .addColumn('use_internet_gateway', 'integer', (c) => c.notNull())
    .addColumn('traffic_filtering', 'integer', (c) => c.notNull())
    .addColumn('uplink_rules', 'text', (c) => c.notNull())
    .addColumn('status_reason', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('vpgs_operator').on('vpgs').columns(['operator_id', 'vpg_id']).execute();
  await db.schema
    .createTable('vpg_tags')
    .addColumn('vpg_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('vpg_tags_pk', ['vpg_id', 'name'])
    .execute();
}
