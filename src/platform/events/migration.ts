// Migration 0010 (issue 14): the event handler's tables. Registered in store/migrations.ts.
//
//   event_handlers        the resource (SORACOM's EventHandlerModel), rule and actions as JSON text
//   event_handler_ignores SIMs a handler skips (setIgnoreEventHandler)
//   event_outbox          events written in the transaction of the change that caused them; the
//                         engine claims, evaluates and deletes them in one transaction
//   event_rule_states     per (handler, target key): when a fired rule is armed again
//   event_firings         every firing; (handler_id, firing_key) unique = fired once per cause
//   event_action_runs     every action run; idempotency_key unique = each action of a firing once
//
// The events come from triggers, so each is written in the transaction of the change that caused it
// whoever makes the change (API, AAA, OTA): a SIM's status or speed class changing (sims), a session
// created or deleted (sim_session_events), an IMEI-lock refusal (aaa_refusals), an anti-theft alert
// or unblock the OTA receive path recorded (anti_theft_alerts; not the location reports). Only operators with
// an active handler get rows, so a platform without handlers writes nothing more.

import { type CreateTableBuilder, type Kysely, sql } from 'kysely';
import type { Dialect } from '../store/database.js';
import { ANTI_THEFT_EVENTS } from './rules.js';

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
  // A firing's runs (the executions listing; the purge keeps a firing while it has runs).
  await s.createIndex('event_action_runs_firing').on('event_action_runs').columns(['firing_id']).execute();

  await eventTriggers(db, dialect);
}

/** The outbox triggers (see the header). `at` is the changed row's own time: the platform's clock. */
async function eventTriggers(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // The events SimAntiTheftRule watches, as SQL string literals (constants, not request data).
  const antiTheftEvents = sql.raw(ANTI_THEFT_EVENTS.map((e) => `'${e}'`).join(', '));
  const watched = (operator: string) =>
    sql.raw(
      `exists (select 1 from event_handlers h where h.operator_id = ${operator} and h.status = 'active')`,
    );
  if (dialect === 'postgres') {
    await sql`create function event_outbox_sims() returns trigger language plpgsql as $$
      begin
        if not ${watched('new.operator_id')} then return null; end if;
        if new.status is distinct from old.status then
          insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
            'status', json_build_object('from', old.status, 'to', new.status)::text, new.updated_at);
        end if;
        if new.speed_class is distinct from old.speed_class then
          insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
            'speed-class', json_build_object('from', old.speed_class, 'to', new.speed_class)::text, new.updated_at);
        end if;
        return null;
      end $$`.execute(db);
    await sql`create trigger event_outbox_sims after update of status, speed_class on sims
      for each row execute function event_outbox_sims()`.execute(db);
    await sql`create function event_outbox_sessions() returns trigger language plpgsql as $$
      begin
        if new.event in ('Created', 'Deleted') and ${watched('new.operator_id')} then
          insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
            'session', json_build_object('status', new.event, 'imsi', new.imsi, 'imei', new.imei,
              'sessionId', new.session_id)::text, new.at);
        end if;
        return null;
      end $$`.execute(db);
    await sql`create trigger event_outbox_sessions after insert on sim_session_events
      for each row execute function event_outbox_sessions()`.execute(db);
    await sql`create function event_outbox_refusals() returns trigger language plpgsql as $$
      begin
        if new.code = 'IMEI_MISMATCH' and ${watched('new.operator_id')} then
          insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
            'imei-mismatch', json_build_object('imsi', new.imsi, 'imei', new.imei)::text, new.at);
        end if;
        return null;
      end $$`.execute(db);
    await sql`create trigger event_outbox_refusals after insert on aaa_refusals
      for each row execute function event_outbox_refusals()`.execute(db);
    await sql`create function event_outbox_anti_theft() returns trigger language plpgsql as $$
      begin
        if new.event in (${antiTheftEvents}) and ${watched('new.operator_id')} then
          insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
            'anti-theft', json_build_object('antiTheftEvent', new.event, 'reason', new.reason, 'imei', new.imei,
              'cell', new.cell)::text, new.at);
        end if;
        return null;
      end $$`.execute(db);
    await sql`create trigger event_outbox_anti_theft after insert on anti_theft_alerts
      for each row execute function event_outbox_anti_theft()`.execute(db);
    return;
  }
  await sql`create trigger event_outbox_sims_status after update of status on sims
    when new.status is not old.status and ${watched('new.operator_id')}
    begin
      insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
        'status', json_object('from', old.status, 'to', new.status), new.updated_at);
    end`.execute(db);
  await sql`create trigger event_outbox_sims_speed_class after update of speed_class on sims
    when new.speed_class is not old.speed_class and ${watched('new.operator_id')}
    begin
      insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
        'speed-class', json_object('from', old.speed_class, 'to', new.speed_class), new.updated_at);
    end`.execute(db);
  await sql`create trigger event_outbox_sessions after insert on sim_session_events
    when new.event in ('Created', 'Deleted') and ${watched('new.operator_id')}
    begin
      insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
        'session', json_object('status', new.event, 'imsi', new.imsi, 'imei', new.imei, 'sessionId', new.session_id),
        new.at);
    end`.execute(db);
  await sql`create trigger event_outbox_refusals after insert on aaa_refusals
    when new.code = 'IMEI_MISMATCH' and ${watched('new.operator_id')}
    begin
      insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
        'imei-mismatch', json_object('imsi', new.imsi, 'imei', new.imei), new.at);
    end`.execute(db);
  await sql`create trigger event_outbox_anti_theft after insert on anti_theft_alerts
    when new.event in (${antiTheftEvents}) and ${watched('new.operator_id')}
    begin
      insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
        'anti-theft', json_object('antiTheftEvent', new.event, 'reason', new.reason, 'imei', new.imei,
          'cell', new.cell), new.at);
    end`.execute(db);
}
