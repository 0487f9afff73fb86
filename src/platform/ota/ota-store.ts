// The statements that move the OTA counters (tables: migration 0009-ota, rows in store/schema.ts). Each counter
// moves in one guarded statement, so several processes on one SQLite file or several instances on
// one PostgreSQL never hand out a command counter twice or accept one alert counter twice (the race
// semantics are those of store/atomic.ts: the row lock on PostgreSQL, the write lock on SQLite).
// The send and receive paths write in batches (ota-batch.ts): one statement moves the counters of a
// whole batch of sends, one settles a whole batch of PoRs. The per-command lookups are prepared
// (store/prepared.ts): built and compiled once, only bound at each run.

import { sql } from 'kysely';
import type { Executor, Store } from '../store/database.js';
import { param, prepared } from '../store/prepared.js';
import type { OtaCommandStatus } from '../store/schema.js';

export type { OtaCommandStatus } from '../store/schema.js';

/**
 * Moves the command counters of several key sets at once, each by `n` (one statement for a whole
 * batch of sends): the counters `last - n + 1 … last` are the caller's. A key set is left alone,
 * and missing from the answer, when it does not exist or has fewer than `n` counters left (TS 102
 * 225: 5 octets). Keys: `simId:kvn`; each key set at most once in `wants`.
 */
export async function reserveCommandCounters(
  db: Executor,
  wants: readonly { readonly simId: string; readonly kvn: number; readonly n: number }[],
  max: number,
): Promise<Map<string, number>> {
  if (wants.length === 0) return new Map();
  // VALUES columns are column1… on SQLite and PostgreSQL alike; the casts type PostgreSQL's
  // parameters. Sorted, so two instances' batches lock key sets in one order.
  const rows = [...wants]
    .sort((a, b) => (a.simId === b.simId ? a.kvn - b.kvn : a.simId < b.simId ? -1 : 1))
    .map((w) => sql`(${w.simId}, cast(${w.kvn} as integer), cast(${w.n} as bigint))`);
  const moved = await sql<{ sim_id: string; kvn: number; counter: number | string }>`
    update ota_key_sets set counter = ota_key_sets.counter + v.n
    from (select column1 as sim_id, column2 as kvn, column3 as n from (values ${sql.join(rows)}) as t) as v
    where ota_key_sets.sim_id = v.sim_id and ota_key_sets.kvn = v.kvn and ota_key_sets.counter + v.n <= ${max}
    returning ota_key_sets.sim_id, ota_key_sets.kvn, ota_key_sets.counter`.execute(db);
  return new Map(moved.rows.map((r) => [`${r.sim_id}:${Number(r.kvn)}`, Number(r.counter)]));
}

/**
 * Accepts a report counter only when it is higher than the last one accepted (a compare-and-set in
 * the WHERE clause): of any number of racing deliveries of one alert exactly one wins, and a replay
 * (equal or lower counter) changes nothing.
 */
export async function acceptReportCounter(
  db: Executor,
  simId: string,
  kvn: number,
  counter: number,
): Promise<boolean> {
  const r = await db
    .updateTable('ota_key_sets')
    .set({ report_counter: counter })
    .where('sim_id', '=', simId)
    .where('kvn', '=', kvn)
    .where('report_counter', '<', counter)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * The SIM an MO SMS comes from and its applet, in one statement (one round trip per PoR): the SIM
 * whose MSISDN is the sender, else whose IMSI, else whose quarantine identity it is (a blocked
 * card). `sim_id` (the applet's) is null when that SIM has no applet; no row when no SIM matches.
 */
export const appletOfSender = prepared((db) =>
  db
    .selectFrom(
      db
        .selectFrom('sim_profiles')
        .select([sql<number>`1`.as('rank'), 'sim_id'])
        .where('msisdn', '=', param('sender'))
        .unionAll(
          db
            .selectFrom('sim_profiles')
            .select([sql<number>`2`.as('rank'), 'sim_id'])
            .where('imsi', '=', param('sender')),
        )
        .unionAll(
          db
            .selectFrom('anti_theft_sims')
            .select([sql<number>`3`.as('rank'), 'sim_id'])
            .where('quarantine_imsi', '=', param('sender')),
        )
        .as('s'),
    )
    .leftJoin('anti_theft_sims as a', 'a.sim_id', 's.sim_id')
    .select(['s.sim_id as sender_sim_id', 'a.sim_id', 'a.operator_id', 'a.tar', 'a.kvn', 'a.report_kvn'])
    .orderBy('s.rank')
    .limit(1),
);

/** The SIM's anti-theft row (any operator: the receive path knows the SIM by its sender only). */
export const appletOfSim = prepared((db) =>
  db.selectFrom('anti_theft_sims').selectAll().where('sim_id', '=', param('simId')),
);

export interface Settlement {
  readonly simId: string;
  readonly kvn: number;
  readonly counter: number;
  readonly status: OtaCommandStatus;
  readonly porStatus: number;
  /** JSON, or null. */
  readonly result: string | null;
  readonly now: number;
}

/**
 * Settles the pending commands verified PoRs answer, all in one statement (a guarded update: a
 * replayed PoR, or a second delivery of one, finds nothing pending and changes nothing). Answers
 * the settled rows by `simId:kvn:counter`; each command at most once in `settlements`.
 */
export async function settlePendingCommands(
  db: Executor,
  settlements: readonly Settlement[],
): Promise<Map<string, { id: number; commands: string }>> {
  if (settlements.length === 0) return new Map();
  const rows = settlements.map(
    (x) =>
      sql`(${x.simId}, cast(${x.kvn} as integer), cast(${x.counter} as bigint), ${x.status}, cast(${x.porStatus} as integer), cast(${x.result} as text), cast(${x.now} as bigint))`,
  );
  const settled = await sql<{ id: number; sim_id: string; kvn: number; counter: number; commands: string }>`
    update ota_commands
    set status = v.status, por_status = v.por_status, result = v.result, updated_at = v.now
    from (
      select column1 as sim_id, column2 as kvn, column3 as counter, column4 as status,
        column5 as por_status, column6 as result, column7 as now
      from (values ${sql.join(rows)}) as t
    ) as v
    where ota_commands.sim_id = v.sim_id and ota_commands.kvn = v.kvn
      and ota_commands.counter = v.counter and ota_commands.status = 'pending'
    returning ota_commands.id, ota_commands.sim_id, ota_commands.kvn, ota_commands.counter, ota_commands.commands`.execute(
    db,
  );
  return new Map(
    settled.rows.map((r) => [
      `${r.sim_id}:${Number(r.kvn)}:${Number(r.counter)}`,
      { id: Number(r.id), commands: r.commands },
    ]),
  );
}

/** The applet states the cards reported in verified PoRs, one statement (each SIM at most once). */
export async function recordReportedStates(
  db: Executor,
  states: readonly { readonly simId: string; readonly reported: string; readonly now: number }[],
): Promise<void> {
  if (states.length === 0) return;
  const rows = states.map((x) => sql`(${x.simId}, cast(${x.reported} as text), cast(${x.now} as bigint))`);
  await sql`
    update anti_theft_sims set reported = v.reported, reported_at = v.now, updated_at = v.now
    from (select column1 as sim_id, column2 as reported, column3 as now from (values ${sql.join(rows)}) as t) as v
    where anti_theft_sims.sim_id = v.sim_id`.execute(db);
}

/**
 * Runs `fn`'s reads on one consistent snapshot of the database, so rows written by one commit are
 * seen all or not at all: a read-only REPEATABLE READ transaction on PostgreSQL, a deferred (read)
 * transaction on SQLite (WAL: its snapshot is taken at the first read and kept to the end).
 */
export function readSnapshot<T>(store: Store, fn: (db: Executor) => Promise<T>): Promise<T> {
  if (store.dialect === 'postgres')
    return store.db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn);
  return store.db.connection().execute(async (conn) => {
    await sql`begin`.execute(conn);
    try {
      const result = await fn(conn);
      await sql`commit`.execute(conn);
      return result;
    } catch (e) {
      await sql`rollback`.execute(conn);
      throw e;
    }
  });
}
