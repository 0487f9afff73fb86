// Migration 0016-esim-partners (issue 15/16): the SGP.02 partners of this deployment — who may call
// our SOAP listener and whom we call (platform/esim/partners). Registered in store/migrations.ts.
//
//   esim_partners   one row per partner of an owner (an operator, or '' for the platform's own
//                   SM-DP/SM-SR): its entity id (OID) and role, the listener URL we send to (the only
//                   ReplyTo it may give), its TLS certificate (PEM) pinned by SHA-256 fingerprint.
//                   UNIQUE (owner, entity, role): one endpoint per entity; UNIQUE (owner,
//                   fingerprint): a certificate names one partner, else the listener could not tell
//                   who called (0019 below: one partner per certificate and role).

import { type Kysely, sql } from 'kysely';
import type { Dialect } from '../../store/database.js';

export async function esimPartnersMigration(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('esim_partners')
    .addColumn('partner_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('entity_id', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('endpoint', 'text', (c) => c.notNull())
    .addColumn('certificate', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('not_after', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('esim_partners_entity', ['operator_id', 'entity_id', 'role'])
    .addUniqueConstraint('esim_partners_fingerprint', ['operator_id', 'fingerprint'])
    .execute();
}

// Migration 0019-esim-partner-roles (issue 16): one party, several roles. A deployment has one SOAP
// TLS certificate, but the other deployment must know it as an SM-SR (ES7) and as an operator (ES4
// PrepareSMSRChange, ES2 DownloadProfile). UNIQUE (owner, fingerprint) becomes UNIQUE (owner,
// fingerprint, role): a certificate still names one partner per role, so the listener tells who
// called by the certificate and the role the function is for (soap-dispatch); `add` requires the
// rows of one certificate to share the endpoint (one party, one listener).
export async function esimPartnerRolesMigration(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect === 'postgres') {
    await db.schema.alterTable('esim_partners').dropConstraint('esim_partners_fingerprint').execute();
    await db.schema
      .alterTable('esim_partners')
      .addUniqueConstraint('esim_partners_fingerprint_role', ['operator_id', 'fingerprint', 'role'])
      .execute();
    return;
  }
  // SQLite cannot drop a table constraint: the table is rebuilt with the new one (no foreign keys
  // refer to it).
  await db.schema
    .createTable('esim_partners_new')
    .addColumn('partner_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('entity_id', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('endpoint', 'text', (c) => c.notNull())
    .addColumn('certificate', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('not_after', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('esim_partners_entity', ['operator_id', 'entity_id', 'role'])
    .addUniqueConstraint('esim_partners_fingerprint_role', ['operator_id', 'fingerprint', 'role'])
    .execute();
  await sql`insert into esim_partners_new select partner_id, operator_id, entity_id, role, endpoint,
    certificate, fingerprint, not_after, created_at from esim_partners`.execute(db);
  await db.schema.dropTable('esim_partners').execute();
  await db.schema.alterTable('esim_partners_new').renameTo('esim_partners').execute();
}
