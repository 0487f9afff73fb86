// Migration 0010 (issue 14): the event handler's tables. Registered in store/migrations.ts.
//
//   event_handlers        the resource (SORACOM's EventHandlerModel), rule and actions as JSON text
//   event_handler_ignores SIMs a handler skips (setIgnoreEventHandler)
//   event_outbox          events written in the transaction of the change that caused them; the
//                         engine claims, evaluates and deletes them in one transaction
//   event_rule_states     per (handler, target key): when a fired rule is armed again
//   event_firings         every firing; (handler_id, firing_key) unique = fired once per cause
//   event_action_runs     every action run; idempotency_key unique = each action of a firing once

import type { CreateTableBuilder, Kysely } from 'kysely';
import type { Dialect } from '../store/database.js';

const serialKey =
  (dialect: Dialect, name: string) =>
  <B extends CreateTableBuilder<string, string>>(table: B): B =>
    (dialect === 'postgres'
      ? table.addColumn(name, 'bigserial', (c) => c.primaryKey())
      : table.addColumn(name, 'integer', (c) => c.primaryKey().autoIncrement())) as B;

export async function eventHandlersMigration(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('event_handlers')
    .addColumn('handler_id', 'text', (c) => c.primaryKey())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('target_kind', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('rule_type', 'text', (c) => c.notNull())
    .addColumn('rule_config', 'text', (c) => c.notNull())
    .addColumn('action_config_list', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createIndex('event_handlers_operator')
    .on('event_handlers')
    .columns(['operator_id', 'handler_id'])
    .execute();
  // Handlers of one target (the per-target limit, and the engine's lookup for a SIM).
  await s
    .createIndex('event_handlers_target')
    .on('event_handlers')
    .columns(['operator_id', 'target_kind', 'target_id'])
    .execute();

  await s
    .createTable('event_handler_ignores')
    .addColumn('handler_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('event_handler_ignores_pk', ['handler_id', 'sim_id'])
    .execute();

  await s
    .createTable('event_outbox')
    .$call(serialKey(dialect, 'id'))
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();

  await s
    .createTable('event_rule_states')
    .addColumn('handler_id', 'text', (c) => c.notNull())
    .addColumn('target_key', 'text', (c) => c.notNull())
    .addColumn('fired_at', 'bigint', (c) => c.notNull())
    // null: never armed again (NEVER).
    .addColumn('rearm_at', 'bigint')
    .addPrimaryKeyConstraint('event_rule_states_pk', ['handler_id', 'target_key'])
    .execute();

  await s
    .createTable('event_firings')
    .$call(serialKey(dialect, 'id'))
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('handler_id', 'text', (c) => c.notNull())
    .addColumn('sim_id', 'text')
    .addColumn('firing_key', 'text', (c) => c.notNull())
    .addColumn('rule_type', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await s
    .createIndex('event_firings_key')
    .on('event_firings')
    .columns(['handler_id', 'firing_key'])
    .unique()
    .execute();
  await s.createIndex('event_firings_handler').on('event_firings').columns(['handler_id', 'id']).execute();

  await s
    .createTable('event_action_runs')
    .$call(serialKey(dialect, 'id'))
    .addColumn('operator_id', 'text', (c) => c.notNull())
    .addColumn('handler_id', 'text', (c) => c.notNull())
    .addColumn('firing_id', 'bigint', (c) => c.notNull())
    .addColumn('sim_id', 'text')
    .addColumn('action_index', 'integer', (c) => c.notNull())
    .addColumn('action_type', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('run_at', 'bigint', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('claimed_until', 'bigint')
    .addColumn('result', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  // The scheduler's scan: due pending runs in time order.
  await s
    .createIndex('event_action_runs_due')
    .on('event_action_runs')
    .columns(['status', 'run_at'])
    .execute();
  await s
    .createIndex('event_action_runs_handler')
    .on('event_action_runs')
    .columns(['handler_id', 'id'])
    .execute();
}
