// Schema migrations, run at start (and by every test database). One list for both dialects: the
// only dialect difference is how an auto-increment key is declared.

import type { CreateTableBuilder, Kysely, Migration, MigrationProvider } from 'kysely';
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

/** Ordered migrations; append, never edit one that has shipped. */
export const MIGRATIONS: ReadonlyArray<readonly [name: string, up: Builder]> = [['0001-initial', initial]];

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, up] of MIGRATIONS) out[name] = { up: (db) => up(db, dialect) };
      return out;
    },
  };
}
