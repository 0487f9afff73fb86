// The statements that move the OTA counters (tables: migration 0009-ota, rows in store/schema.ts). Each counter
// moves in one guarded statement, so several processes on one SQLite file or several instances on
// one PostgreSQL never hand out a command counter twice or accept one alert counter twice (the race
// semantics are those of store/atomic.ts: the row lock on PostgreSQL, the write lock on SQLite).
// The statements of the send and receive paths run once per command each, so they are prepared
// (store/prepared.ts): built and compiled once, only bound at each run.

import type { Executor } from '../store/database.js';
import { param, prepared } from '../store/prepared.js';
import type { OtaCommandStatus } from '../store/schema.js';

export type { OtaCommandStatus } from '../store/schema.js';

/**
 * The next command counter of a key set: `counter = counter + 1` in one statement, returned. Racing
 * callers each get a different value; undefined when the key set does not exist or the counter is
 * exhausted (TS 102 225: 5 octets).
 */
export async function nextCommandCounter(
  db: Executor,
  simId: string,
  kvn: number,
  max: number,
): Promise<number | undefined> {
  const [row] = await bumpCommandCounter(db, { simId, kvn, max });
  return row === undefined ? undefined : Number(row.counter);
}

const bumpCommandCounter = prepared((db) =>
  db
    .updateTable('ota_key_sets')
    .set((eb) => ({ counter: eb('counter', '+', 1) }))
    .where('sim_id', '=', param('simId'))
    .where('kvn', '=', param('kvn'))
    .where('counter', '<', param('max'))
    .returning('counter'),
);

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

/** The SIM's anti-theft row (any operator: the receive path knows the SIM by its sender only). */
export const appletOfSim = prepared((db) =>
  db.selectFrom('anti_theft_sims').selectAll().where('sim_id', '=', param('simId')),
);

/** The SIM's anti-theft row, scoped to its operator. */
export const appletOfOperatorSim = prepared((db) =>
  db
    .selectFrom('anti_theft_sims')
    .selectAll()
    .where('sim_id', '=', param('simId'))
    .where('operator_id', '=', param('operatorId')),
);

/** The MSISDN of the SIM's primary profile, where its command packets go. */
export const primaryMsisdn = prepared((db) =>
  db
    .selectFrom('sim_profiles')
    .select('msisdn')
    .where('sim_id', '=', param('simId'))
    .where('operator_id', '=', param('operatorId'))
    .where('is_primary', '=', 1),
);

/** Records a command as pending under the counter just reserved for it. */
export const insertPendingCommand = prepared((db) =>
  db
    .insertInto('ota_commands')
    .values({
      operator_id: param('operatorId'),
      sim_id: param('simId'),
      kvn: param('kvn'),
      counter: param('counter'),
      tar: param('tar'),
      commands: param('commands'),
      status: 'pending',
      por_status: null,
      result: null,
      created_at: param('now'),
      updated_at: param('now'),
    })
    .returning('id'),
);

/**
 * Settles the pending command a verified PoR answers (a guarded update: a replayed PoR, or a second
 * delivery of one, finds nothing pending and changes nothing).
 */
export const settlePendingCommand = prepared((db) =>
  db
    .updateTable('ota_commands')
    .set({
      status: param<OtaCommandStatus>('status'),
      por_status: param('porStatus'),
      result: param('result'),
      updated_at: param('now'),
    })
    .where('sim_id', '=', param('simId'))
    .where('kvn', '=', param('kvn'))
    .where('counter', '=', param('counter'))
    .where('status', '=', 'pending')
    .returning(['id', 'commands']),
);

/** The applet state the card reported in a verified PoR. */
export const recordReportedState = prepared((db) =>
  db
    .updateTable('anti_theft_sims')
    .set({ reported: param('reported'), reported_at: param('now'), updated_at: param('now') })
    .where('sim_id', '=', param('simId')),
);
