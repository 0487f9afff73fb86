// Migration 0020-credentials (issue 17): credential sets per operator (platform/credentials), the
// secrets Beam, Funnel and Funk add on a device's behalf. Registered in store/migrations.ts.
//
//   credential_sets   one row per (operator, credentials id): the SORACOM type, a description, the
//                     credentials sealed with the key ring as one JSON object (context
//                     `credential-set:<operator>:<id>`, so a sealed value copied to another row or
//                     operator does not open), the fields a response may show (never a secret), the
//                     create/update times and the last time an entry point used the set (written at
//                     most once a minute per set).

import type { Kysely } from 'kysely';
import type { Dialect } from '../store/database.js';

export async function credentialsMigration(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('credential_sets')
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('credentials_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('credentials', 'text', (c) => c.notNull())
    .addColumn('public_credentials', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addPrimaryKeyConstraint('credential_sets_pk', ['operator_id', 'credentials_id'])
    .execute();
}
