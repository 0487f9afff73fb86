// Schema migrations, run at start (and by every test database). One list for both dialects: the
// only dialect difference is how an auto-increment key is declared.

import { type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';
import { beamUsageMigration } from '../beam/usage-migration.js';
import { credentialsMigration } from '../credentials/migration.js';
import { esimPkiMigration } from '../esim/ci/migration.js';
import { esimNotificationsMigration } from '../esim/notifications/migration.js';
import { esimOperationsMigration } from '../esim/operations/migration.js';
import { esimPartnerRolesMigration, esimPartnersMigration } from '../esim/partners/migration.js';
import { esimDpIccidMigration } from '../esim/sm-dp/iccid-migration.js';
import { esimSmDpMigration } from '../esim/sm-dp/migration.js';
import { esimSrAddressesMigration } from '../esim/sm-sr/addresses-migration.js';
import { esimSmSrMigration } from '../esim/sm-sr/migration.js';
import { esimSrHandoverMigration } from '../esim/sm-sr-change/migration.js';
import { esimSwitchMigration } from '../esim/switch/migration.js';
import { eventHandlersMigration } from '../events/migration.js';
import { exportsMigration } from '../exports/migration.js';
import { simExpiryMigration } from '../sims/expiry-migration.js';
import { vpgMigration } from '../vpg/migration.js';
import type { Dialect } from './database.js';

type Builder = (db: Kysely<unknown>, dialect: Dialect) => Promise<void>;

/** Adds an auto-increment bigint primary key named `name`, in either dialect. */
const serialKey =
  (dialect: Dialect, name: string) =>
  <B extends CreateTableBuilder<string, string>>(table: B): B =>
    (dialect === 'postgres'
      ? table.addColumn(name, 'bigserial', (c) => c.primaryKey())
      : table.addColumn(name, 'integer', (c) => c.primaryKey().autoIncrement())) as B;

const initial: Builder = async (db, dialect) => {
  const s = db.schema;
  await s
    .createTable('operators')
    .addColumn('operator_id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await s
    .createTable('api_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('api_key', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text')
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await s.createIndex('api_tokens_operator').on('api_tokens').columns(['operator_id', 'user_name']).execute();

  await s
    .createTable('data_keys')
    .$call(serialKey(dialect, 'key_id'))
    .addColumn('kek_id', 'text', (c) => c.notNull())
    .addColumn('wrapped_key', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await s
    .createTable('groups')
    .addColumn('group_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await s.createIndex('groups_operator').on('groups').columns(['operator_id', 'group_id']).execute();
  await s
    .createTable('group_tags')
    .addColumn('group_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_tags_pk', ['group_id', 'name'])
    .execute();
  await s
    .createTable('group_configuration')
    .addColumn('group_id', 'text', (c) => c.notNull())
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_configuration_pk', ['group_id', 'namespace', 'key'])
    .execute();

  await s
    .createTable('sims')
    .addColumn('sim_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('speed_class', 'text', (c) => c.notNull())
    .addColumn('group_id', 'text')
    .addColumn('imei_lock', 'text')
    .addColumn('imei_lock_anonymous', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('termination_enabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('serial_number', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  // Keyset pagination walks (operator_id, [filter column], sim_id) in order: one index per filter.
  await s.createIndex('sims_operator').on('sims').columns(['operator_id', 'sim_id']).execute();
  await s.createIndex('sims_status').on('sims').columns(['operator_id', 'status', 'sim_id']).execute();
  await s
    .createIndex('sims_speed_class')
    .on('sims')
    .columns(['operator_id', 'speed_class', 'sim_id'])
    .execute();
  await s.createIndex('sims_group').on('sims').columns(['operator_id', 'group_id', 'sim_id']).execute();

  await s
    .createTable('sim_profiles')
    .addColumn('iccid', 'text', (c) => c.primaryKey())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('imsi', 'text', (c) => c.notNull().unique())
    .addColumn('msisdn', 'text')
    .addColumn('secrets', 'text', (c) => c.notNull())
    .addColumn('amf', 'text', (c) => c.notNull())
    .addColumn('sqn', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('ind_bits', 'integer', (c) => c.notNull().defaultTo(5))
    .addColumn('is_primary', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await s.createIndex('sim_profiles_sim').on('sim_profiles').columns(['sim_id']).execute();
  await s
    .createIndex('sim_profiles_operator_imsi')
    .on('sim_profiles')
    .columns(['operator_id', 'imsi'])
    .execute();
  await s
    .createIndex('sim_profiles_operator_iccid')
    .on('sim_profiles')
    .columns(['operator_id', 'iccid'])
    .execute();

  await s
    .createTable('sim_tags')
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('sim_tags_pk', ['sim_id', 'name'])
    .execute();
  await s
    .createIndex('sim_tags_lookup')
    .on('sim_tags')
    .columns(['operator_id', 'name', 'value', 'sim_id'])
    .execute();

  await s
    .createTable('sim_status_history')
    .$call(serialKey(dialect, 'id'))
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('previous_status', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('operation', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await s.createIndex('sim_status_history_sim').on('sim_status_history').columns(['sim_id', 'id']).execute();

  await s
    .createTable('audit_logs')
    .$call(serialKey(dialect, 'id'))
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('operation_id', 'text', (c) => c.notNull())
    .addColumn('method', 'text')
    .addColumn('path', 'text')
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('source_ip', 'text')
    .addColumn('request_id', 'text')
    .addColumn('result', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('detail', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('audit_logs_operator').on('audit_logs').columns(['operator_id', 'id']).execute();

  await s
    .createTable('counters')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'bigint', (c) => c.notNull())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('counters_pk', ['scope', 'key'])
    .execute();

  await s
    .createTable('one_time_values')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('one_time_values_pk', ['scope', 'key'])
    .execute();
};

// Issue 3: access management — sub-users, roles, default permissions, auth keys, account MFA, the
// auth key a token came from, who (user, key) in the audit log, and the audit log made append-only
// in the database itself. Root rows use user_name '' where a key column cannot be NULL.
const accessManagement: Builder = async (db, dialect) => {
  const s = db.schema;
  await s
    .createTable('users')
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('console_login', 'integer', (c) => c.notNull())
    .addColumn('permission', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('users_pk', ['operator_id', 'user_name'])
    .execute();
  await s
    .createTable('roles')
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('role_id', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('permission', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('roles_pk', ['operator_id', 'role_id'])
    .execute();
  await s
    .createTable('user_roles')
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('role_id', 'text', (c) => c.notNull())
    .addColumn('attached_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('user_roles_pk', ['operator_id', 'user_name', 'role_id'])
    .execute();
  await s
    .createIndex('user_roles_role')
    .on('user_roles')
    .columns(['operator_id', 'role_id', 'user_name'])
    .execute();
  await s
    .createTable('default_permissions')
    .addColumn('operator_id', 'text', (c) => c.primaryKey())
    .addColumn('permission', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createTable('auth_keys')
    .addColumn('auth_key_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .execute();
  await s.createIndex('auth_keys_owner').on('auth_keys').columns(['operator_id', 'user_name']).execute();
  await s
    .createTable('account_mfa')
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('account_mfa_pk', ['operator_id', 'user_name'])
    .execute();
  await s
    .createTable('mfa_backup_codes')
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('mfa_backup_codes_pk', ['operator_id', 'user_name', 'code_hash'])
    .execute();
  await s.alterTable('api_tokens').addColumn('auth_key_id', 'text').execute();
  await s.createIndex('api_tokens_auth_key').on('api_tokens').columns(['auth_key_id']).execute();
  await s.alterTable('audit_logs').addColumn('user_name', 'text').execute();
  await s.alterTable('audit_logs').addColumn('auth_key_id', 'text').execute();
  // Append-only, enforced by the database: no UPDATE, DELETE (or TRUNCATE) of an audit record
  // succeeds, whatever code path or SQL console attempts it.
  if (dialect === 'postgres') {
    await sql`create function audit_logs_append_only() returns trigger language plpgsql as $$
      begin raise exception 'audit_logs is append-only'; end $$`.execute(db);
    await sql`create trigger audit_logs_no_change before update or delete on audit_logs
      for each row execute function audit_logs_append_only()`.execute(db);
    await sql`create trigger audit_logs_no_truncate before truncate on audit_logs
      for each statement execute function audit_logs_append_only()`.execute(db);
  } else {
    await sql`create trigger audit_logs_no_update before update on audit_logs
      begin select raise(abort, 'audit_logs is append-only'); end`.execute(db);
    await sql`create trigger audit_logs_no_delete before delete on audit_logs
      begin select raise(abort, 'audit_logs is append-only'); end`.execute(db);
  }
};

// Issue 6: signing keys of the SIM-attested identity tokens. Platform-wide on purpose (no
// operator_id): the platform is the one issuer, and verifiers fetch one JWKS without credentials.
const endorse: Builder = async (db) => {
  await db.schema
    .createTable('endorse_signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('compat_kid', 'text', (c) => c.notNull().unique())
    .addColumn('alg', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('certificate', 'text', (c) => c.notNull())
    .addColumn('private_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('activates_at', 'bigint', (c) => c.notNull())
    .addColumn('unpublish_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('endorse_signing_keys_alg')
    .on('endorse_signing_keys')
    .columns(['alg', 'activates_at'])
    .execute();
};

// Issue 7: the MFA gateway — application-user directories, login transactions, gateway sessions,
// SMS delivery records, platform users' SMS enrolment and the engine's HMAC keys.
const mfaGateway: Builder = async (db) => {
  const s = db.schema;
  await s
    .createTable('directories')
    .addColumn('directory_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('directories_operator_name', ['operator_id', 'name'])
    .execute();
  await s
    .createTable('directory_users')
    .addColumn('directory_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text')
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('phone_number', 'text')
    .addColumn('phone_verified_at', 'bigint')
    .addColumn('totp_secret', 'text')
    .addColumn('sim_imsi', 'text')
    .addColumn('sim_imei', 'text')
    .addColumn('groups', 'text', (c) => c.notNull())
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('directory_users_pk', ['directory_id', 'user_id'])
    .execute();
  await s
    .createTable('mfa_transactions')
    .addColumn('transaction_hash', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('application', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('factors', 'text', (c) => c.notNull())
    .addColumn('factor', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('return_to', 'text', (c) => c.notNull())
    .addColumn('code_generation', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('message_id', 'text')
    .addColumn('source_ip', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await s.createIndex('mfa_transactions_expiry').on('mfa_transactions').columns(['expires_at']).execute();
  await s
    .createTable('gateway_sessions')
    .addColumn('session_hash', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('application', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('groups', 'text', (c) => c.notNull())
    .addColumn('amr', 'text', (c) => c.notNull())
    .addColumn('source_ip', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createIndex('gateway_sessions_subject')
    .on('gateway_sessions')
    .columns(['operator_id', 'subject'])
    .execute();
  await s
    .createTable('sms_messages')
    .addColumn('message_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('phone_number', 'text', (c) => c.notNull())
    .addColumn('provider', 'text')
    .addColumn('provider_message_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createIndex('sms_messages_operator')
    .on('sms_messages')
    .columns(['operator_id', 'created_at', 'message_id'])
    .execute();
  await s
    .createIndex('sms_messages_provider_id')
    .on('sms_messages')
    .columns(['provider', 'provider_message_id'])
    .execute();
  await s
    .createTable('mfa_sms_enrollments')
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('principal', 'text', (c) => c.notNull())
    .addColumn('phone_number', 'text', (c) => c.notNull())
    .addColumn('verified_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('mfa_sms_enrollments_pk', ['operator_id', 'principal'])
    .execute();
  await s
    .createTable('mfa_keys')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
};

/** Issue 5 (AAA): RADIUS clients, sessions, session events, usage, address leases, refusals, CoA. */
const aaa: Builder = async (db, dialect) => {
  const s = db.schema;
  await s
    .createTable('radius_clients')
    .addColumn('client_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    // Normalised CIDR text ("127.0.0.1/32"); one client per network, whoever owns it.
    .addColumn('address', 'text', (c) => c.notNull().unique())
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('coa_port', 'integer', (c) => c.notNull())
    .addColumn('require_message_authenticator', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createIndex('radius_clients_operator')
    .on('radius_clients')
    .columns(['operator_id', 'client_id'])
    .execute();

  await s
    .createTable('sim_sessions')
    .addColumn('session_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('imsi', 'text', (c) => c.notNull())
    .addColumn('imei', 'text')
    .addColumn('ue_ip', 'text')
    .addColumn('apn', 'text')
    .addColumn('nas_address', 'text', (c) => c.notNull())
    .addColumn('acct_session_id', 'text', (c) => c.notNull())
    .addColumn('cell', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('speed_class', 'text', (c) => c.notNull())
    .addColumn('input_octets', 'bigint', (c) => c.notNull())
    .addColumn('output_octets', 'bigint', (c) => c.notNull())
    .addColumn('input_packets', 'bigint', (c) => c.notNull())
    .addColumn('output_packets', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .addColumn('terminate_cause', 'text')
    .execute();
  // RFC 2866 §5.5: Acct-Session-Id is unique per NAS; accounting finds its session by the pair.
  await s
    .createIndex('sim_sessions_acct')
    .on('sim_sessions')
    .columns(['acct_session_id', 'nas_address'])
    .unique()
    .execute();
  // The token endpoint finds the online session from the device's source address.
  await s.createIndex('sim_sessions_ue_ip').on('sim_sessions').columns(['ue_ip', 'status']).execute();
  // sessionStatus / previousSession of a SIM: its online session, and its last ended one.
  await s
    .createIndex('sim_sessions_sim')
    .on('sim_sessions')
    .columns(['sim_id', 'status', 'ended_at'])
    .execute();

  await s
    .createTable('sim_session_events')
    .$call(serialKey(dialect, 'id'))
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('imsi', 'text', (c) => c.notNull())
    .addColumn('imei', 'text')
    .addColumn('ue_ip', 'text')
    .addColumn('apn', 'text')
    .addColumn('cell', 'text')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createIndex('sim_session_events_sim')
    .on('sim_session_events')
    .columns(['sim_id', 'at', 'id'])
    .execute();

  await s
    .createTable('sim_usage')
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('period', 'text', (c) => c.notNull())
    .addColumn('bucket_start', 'bigint', (c) => c.notNull())
    .addColumn('speed_class', 'text', (c) => c.notNull())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('upload_bytes', 'bigint', (c) => c.notNull())
    .addColumn('download_bytes', 'bigint', (c) => c.notNull())
    .addColumn('upload_packets', 'bigint', (c) => c.notNull())
    .addColumn('download_packets', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('sim_usage_pk', ['sim_id', 'period', 'bucket_start', 'speed_class'])
    .execute();

  await s
    .createTable('ip_leases')
    .addColumn('pool', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('apn', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('ip_leases_pk', ['pool', 'address'])
    .execute();
  await s.createIndex('ip_leases_sim').on('ip_leases').columns(['sim_id', 'pool', 'apn']).execute();

  await s
    .createTable('aaa_refusals')
    .$call(serialKey(dialect, 'id'))
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('imsi', 'text', (c) => c.notNull())
    .addColumn('imei', 'text')
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('access', 'text', (c) => c.notNull())
    .addColumn('apn', 'text')
    .addColumn('nas_address', 'text')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await s.createIndex('aaa_refusals_sim').on('aaa_refusals').columns(['sim_id', 'id']).execute();
  // The event-handler issue consumes refusals (IMEI mismatch) in order.
  await s.createIndex('aaa_refusals_operator').on('aaa_refusals').columns(['operator_id', 'id']).execute();

  await s
    .createTable('radius_dynamic_requests')
    .$call(serialKey(dialect, 'id'))
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('nas_address', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('error_cause', 'integer')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('completed_at', 'bigint')
    .execute();
  await s
    .createIndex('radius_dynamic_requests_sim')
    .on('radius_dynamic_requests')
    .columns(['sim_id', 'id'])
    .execute();
  // Requests a crashed instance left pending are found and sent again at start.
  await s
    .createIndex('radius_dynamic_requests_status')
    .on('radius_dynamic_requests')
    .columns(['status', 'created_at'])
    .execute();
};

/**
 * Issue 5 (EAP-SIM/AKA/AKA', src/servers/radius/eap): the key that seals EAP conversation state
 * carried in RADIUS State (platform-wide, itself sealed by the key ring), and per subscriber the
 * pseudonym and fast re-authentication identity last issued (RFC 4187 §4.1.1.7–8, §5).
 */
const eap: Builder = async (db) => {
  const s = db.schema;
  await s
    .createTable('eap_state_keys')
    .addColumn('key_id', 'integer', (c) => c.primaryKey())
    .addColumn('sealed_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createTable('eap_identities')
    .addColumn('imsi', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    // Usernames without the method prefix digit; the peer presents them in clear, so they are
    // not secret, only unlinkable to the IMSI for an observer.
    .addColumn('pseudonym', 'text', (c) => c.unique())
    .addColumn('pseudonym_expires_at', 'bigint')
    .addColumn('reauth_id', 'text', (c) => c.unique())
    // K_aut ‖ K_encr ‖ MK (EAP-SIM/AKA) or K_aut ‖ K_encr ‖ K_re (EAP-AKA'), sealed with the key ring.
    .addColumn('reauth_keys', 'text')
    .addColumn('reauth_counter', 'integer', (c) => c.notNull())
    .addColumn('reauth_expires_at', 'bigint')
    // The conversation that last wrote the row: a replayed final round finds it already there.
    .addColumn('conversation', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
};

/**
 * Issue 11: SIM-token signing keys per operator. Until now one key set signed for every tenant;
 * each key now belongs to one operator (`operator_id`), signs only that operator's tokens and is
 * published only in that operator's JWKS. The shared keys go to the operator that used them: the
 * oldest operator with a group whose Endorse namespace has `enabled: true`, else the oldest
 * operator; every other operator gets fresh keys when it first needs them (docs/endorse.md). A
 * site with no operator has signed nothing, so its keys are dropped.
 *
 * The private keys were sealed with the context `endorse-signing-key:<kid>` (`seal_version` 1);
 * new keys are sealed with `endorse-signing-key:<operatorId>:<kid>` (2). Migrations have no key
 * ring, so the platform reseals the version-1 rows the first time it reads them.
 */
const endorsePerOperator: Builder = async (db) => {
  const s = db.schema;
  await s
    .alterTable('endorse_signing_keys')
    .addColumn('operator_id', 'text', (c) => c.notNull().defaultTo(''))
    .execute();
  await s
    .alterTable('endorse_signing_keys')
    .addColumn('seal_version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await s
    .createIndex('endorse_signing_keys_operator')
    .on('endorse_signing_keys')
    .columns(['operator_id', 'alg', 'activates_at'])
    .execute();
  const owner = await sql<{ operator_id: string }>`
    select o.operator_id from operators o
    order by case when exists (
        select 1 from groups g join group_configuration c on c.group_id = g.group_id
        where g.operator_id = o.operator_id and c.namespace = 'Endorse' and c.key = 'enabled'
          and c.value = 'true') then 0 else 1 end,
      o.created_at, o.operator_id
    limit 1`.execute(db);
  const operatorId = owner.rows[0]?.operator_id;
  if (operatorId === undefined) {
    await sql`delete from endorse_signing_keys`.execute(db);
  } else {
    await sql`update endorse_signing_keys set operator_id = ${operatorId} where operator_id = ''`.execute(db);
  }
};

/**
 * Issue 11 (retention): indexes that let the purge find what it may delete without scanning
 * (platform/retention.ts), and the audit log's append-only guard opened for the purge alone. A
 * DELETE on audit_logs succeeds only for records older than the `before` of a row in
 * audit_log_purge_gate; the purge inserts that row, deletes a batch and removes the row in one
 * transaction, so no other connection ever sees it. UPDATE and TRUNCATE stay refused.
 */
const retention: Builder = async (db, dialect) => {
  const s = db.schema;
  await s.createIndex('sim_sessions_ended').on('sim_sessions').columns(['ended_at']).execute();
  await s.createIndex('sim_usage_expiry').on('sim_usage').columns(['period', 'bucket_start']).execute();
  await s.createIndex('sms_messages_created').on('sms_messages').columns(['created_at']).execute();
  await s.createIndex('api_tokens_expiry').on('api_tokens').columns(['expires_at']).execute();
  await s.createIndex('counters_expiry').on('counters').columns(['expires_at']).execute();
  await s.createIndex('one_time_values_expiry').on('one_time_values').columns(['expires_at']).execute();
  await s
    .createTable('audit_log_purge_gate')
    .addColumn('before', 'bigint', (c) => c.notNull())
    .execute();
  if (dialect === 'postgres') {
    await sql`drop trigger audit_logs_no_change on audit_logs`.execute(db);
    await sql`create trigger audit_logs_no_update before update on audit_logs
      for each row execute function audit_logs_append_only()`.execute(db);
    await sql`create function audit_logs_purge_only() returns trigger language plpgsql as $$
      begin
        if old.at < (select max(before) from audit_log_purge_gate) then return old; end if;
        raise exception 'audit_logs is append-only (records leave only by the retention purge)';
      end $$`.execute(db);
    await sql`create trigger audit_logs_no_delete before delete on audit_logs
      for each row execute function audit_logs_purge_only()`.execute(db);
  } else {
    await sql`drop trigger audit_logs_no_delete`.execute(db);
    await sql`create trigger audit_logs_no_delete before delete on audit_logs
      when not (old.at < coalesce((select max(before) from audit_log_purge_gate), -1))
      begin select raise(abort, 'audit_logs is append-only (records leave only by the retention purge)'); end`.execute(
      db,
    );
  }
};

/**
 * Issue 13 (platform/ota): SCP80 key sets per SIM (KIc/KID sealed with the key ring like Ki/OPc,
 * context `ota-key-set:<sim_id>:<kvn>`), the last command counter sent and the last report counter
 * accepted per key set (both moved by single guarded statements, platform/ota/ota-store.ts), the
 * anti-theft applet of a SIM (its TAR, key sets, quarantine IMSI, desired and reported state), the
 * OTA commands sent (pending/applied, PoR) and the verified alerts.
 */
const ota: Builder = async (db, dialect) => {
  const s = db.schema;
  await s
    .createTable('ota_key_sets')
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('kvn', 'integer', (c) => c.notNull())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('kic_algorithm', 'text', (c) => c.notNull())
    .addColumn('kid_algorithm', 'text', (c) => c.notNull())
    .addColumn('secrets', 'text', (c) => c.notNull())
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .addColumn('report_counter', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('ota_key_sets_pk', ['sim_id', 'kvn'])
    .execute();
  await s
    .createTable('anti_theft_sims')
    .addColumn('sim_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('tar', 'text', (c) => c.notNull())
    .addColumn('kvn', 'integer', (c) => c.notNull())
    .addColumn('report_kvn', 'integer', (c) => c.notNull())
    .addColumn('quarantine_imsi', 'text', (c) => c.notNull().unique())
    .addColumn('desired', 'text')
    .addColumn('reported', 'text')
    .addColumn('reported_at', 'bigint')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createTable('ota_commands')
    .$call(serialKey(dialect, 'id'))
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('kvn', 'integer', (c) => c.notNull())
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .addColumn('tar', 'text', (c) => c.notNull())
    .addColumn('commands', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('por_status', 'integer')
    .addColumn('result', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createIndex('ota_commands_counter')
    .on('ota_commands')
    .columns(['sim_id', 'kvn', 'counter'])
    .unique()
    .execute();
  await s
    .createTable('anti_theft_alerts')
    .$call(serialKey(dialect, 'id'))
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('imei', 'text')
    .addColumn('cell', 'text')
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await s.createIndex('anti_theft_alerts_sim').on('anti_theft_alerts').columns(['sim_id', 'id']).execute();
  // MO SMS (PoRs, alerts) name their sender by MSISDN: platform/ota/ota-inbound.ts looks it up.
  await s.createIndex('sim_profiles_msisdn').on('sim_profiles').columns(['msisdn']).execute();
};

/** Ordered migrations; append, never edit one that has shipped. */
export const MIGRATIONS: ReadonlyArray<readonly [name: string, up: Builder]> = [
  ['0001-initial', initial],
  ['0002-access-management', accessManagement],
  ['0003-aaa', aaa],
  ['0004-eap', eap],
  ['0005-endorse', endorse],
  ['0006-mfa-gateway', mfaGateway],
  ['0007-endorse-per-operator', endorsePerOperator],
  ['0008-retention', retention],
  ['0009-ota', ota],
  ['0010-event-handlers', eventHandlersMigration],
  ['0011-sim-expiry', simExpiryMigration],
  ['0012-esim-pki', esimPkiMigration],
  ['0013-esim-sm-sr', esimSmSrMigration],
  ['0014-esim-sm-dp', esimSmDpMigration],
  ['0015-esim-operations', esimOperationsMigration],
  ['0016-esim-partners', esimPartnersMigration],
  ['0017-esim-notifications', esimNotificationsMigration],
  ['0018-esim-switch', esimSwitchMigration],
  ['0019-esim-partner-roles', esimPartnerRolesMigration],
  ['0020-credentials', credentialsMigration],
  ['0021-beam-usage', beamUsageMigration],
  ['0022-exports', exportsMigration],
  ['0023-esim-sr-addresses', esimSrAddressesMigration],
  ['0024-vpg', vpgMigration],
  ['0025-esim-dp-iccid', esimDpIccidMigration],
  ['0026-esim-sr-handover', esimSrHandoverMigration],
];

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, up] of MIGRATIONS) out[name] = { up: (db) => up(db, dialect) };
      return out;
    },
  };
}
