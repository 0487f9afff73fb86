// The statements that move the OTA counters (tables: migration 0009-ota, rows in store/schema.ts). Each counter
// moves in one guarded statement, so several processes on one SQLite file or several instances on
// one PostgreSQL never hand out a command counter twice or accept one alert counter twice (the race
// semantics are those of store/atomic.ts: the row lock on PostgreSQL, the write lock on SQLite).

import type { Executor } from '../store/database.js';

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
  const row = await db
    .updateTable('ota_key_sets')
    .set((eb) => ({ counter: eb('counter', '+', 1) }))
    .where('sim_id', '=', simId)
    .where('kvn', '=', kvn)
    .where('counter', '<', max)
    .returning('counter')
    .executeTakeFirst();
  return row === undefined ? undefined : Number(row.counter);
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
