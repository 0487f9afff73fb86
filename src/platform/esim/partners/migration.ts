// Migration 0016-esim-partners (issue 15/16): the SGP.02 partners of this deployment — who may call
// our SOAP listener and whom we call (platform/esim/partners). Registered in store/migrations.ts.
//
//   esim_partners   one row per partner of an owner (an operator, or '' for the platform's own
//                   SM-DP/SM-SR): its entity id (OID) and role, the listener URL we send to (the only
//                   ReplyTo it may give), its TLS certificate (PEM) pinned by SHA-256 fingerprint.
//                   UNIQUE (owner, entity, role): one endpoint per entity; UNIQUE (owner,
//                   fingerprint): a certificate names one partner, else the listener could not tell
//                   who called.

import type { Kysely } from 'kysely';
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
