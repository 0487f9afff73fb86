// Migration 0017-esim-notifications (issues 15 and 14). Registered in store/migrations.ts.
//
//   esim_notification_outbox   the SM-SR's ES3/ES4 and the SM-DP's ES2 profile notifications
//                              (Enabled/Disabled/Deleted), each written in the transaction of the EIS
//                              (or download) change it reports; notification-outbox.ts delivers them
//                              with retries and backoff, and a row that failed maxAttempts times is
//                              `dead` (listed, retried by hand). idempotency_key unique: a notification
//                              the SM-DP receives twice (at-least-once from the SM-SR) is relayed once.
//
// And the eSIM operation outcome as an event source of the event handler (SimSubscriptionStatusRule):
// triggers on esim_operations write `esim-operation` events to event_outbox in the transaction that
// starts an operation (insert: otaStatus `started`) or ends it (status running → succeeded / failed:
// `finished` / `failed`), like the triggers of migration 0010 — only for operators with an active
// handler.

import { type CreateTableBuilder, type Kysely, sql } from 'kysely';
import type { Dialect } from '../../store/database.js';

const serialKey =
  (dialect: Dialect, name: string) =>
  <B extends CreateTableBuilder<string, string>>(table: B): B =>
    (dialect === 'postgres'
      ? table.addColumn(name, 'bigserial', (c) => c.primaryKey())
      : table.addColumn(name, 'integer', (c) => c.primaryKey().autoIncrement())) as B;

export async function esimNotificationsMigration(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const s = db.schema;
  await s
    .createTable('esim_notification_outbox')
    .$call(serialKey(dialect, 'id'))
    .addColumn('sender_id', 'text', (c) => c.notNull())
    .addColumn('interface', 'text', (c) => c.notNull())
    .addColumn('receiver_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('eid', 'text', (c) => c.notNull())
    .addColumn('iccid', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.unique())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('claimed_until', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('delivered_at', 'bigint')
    .execute();
  // The delivery job's scan: a sender's pending rows in order.
  await s
    .createIndex('esim_notification_outbox_due')
    .on('esim_notification_outbox')
    .columns(['sender_id', 'state', 'id'])
    .execute();
  await operationTriggers(db, dialect);
}

async function operationTriggers(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const watched = (operator: string) =>
    sql.raw(
      `exists (select 1 from event_handlers h where h.operator_id = ${operator} and h.status = 'active')`,
    );
  if (dialect === 'postgres') {
    await sql`create function event_outbox_esim_operations() returns trigger language plpgsql as $$
      begin
        if not ${watched('new.operator_id')} then return null; end if;
        if tg_op = 'INSERT' then
          insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
            'esim-operation', json_build_object('otaStatus', 'started', 'operationId', new.operation_id,
              'operationKind', new.kind, 'eid', new.eid, 'iccid', new.iccid)::text, new.created_at);
        elsif old.status = 'running' and new.status in ('succeeded', 'failed') then
          insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
            'esim-operation', json_build_object('otaStatus',
              case when new.status = 'succeeded' then 'finished' else 'failed' end,
              'operationId', new.operation_id, 'operationKind', new.kind, 'eid', new.eid, 'iccid', new.iccid,
              'result', new.result::json)::text, new.updated_at);
        end if;
        return null;
      end $$`.execute(db);
    await sql`create trigger event_outbox_esim_operations after insert or update of status on esim_operations
      for each row execute function event_outbox_esim_operations()`.execute(db);
    return;
  }
  await sql`create trigger event_outbox_esim_operations_started after insert on esim_operations
    when ${watched('new.operator_id')}
    begin
      insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
        'esim-operation', json_object('otaStatus', 'started', 'operationId', new.operation_id,
          'operationKind', new.kind, 'eid', new.eid, 'iccid', new.iccid), new.created_at);
    end`.execute(db);
  await sql`create trigger event_outbox_esim_operations_ended after update of status on esim_operations
    when old.status = 'running' and new.status in ('succeeded', 'failed') and ${watched('new.operator_id')}
    begin
      insert into event_outbox (operator_id, sim_id, kind, detail, at) values (new.operator_id, new.sim_id,
        'esim-operation', json_object('otaStatus',
          case when new.status = 'succeeded' then 'finished' else 'failed' end,
          'operationId', new.operation_id, 'operationKind', new.kind, 'eid', new.eid, 'iccid', new.iccid,
          'result', json(new.result)), new.updated_at);
    end`.execute(db);
}
