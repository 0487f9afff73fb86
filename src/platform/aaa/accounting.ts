// Accounting (RFC 2866; TS 29.061 §16.4.3): Start / Interim-Update / Stop / Accounting-On/Off become
// session rows, session events (Created / Modified / Deleted) and usage per SIM per hour and day.
//
// Usage is counted from deltas: a session keeps the highest cumulative counters reported so far,
// and a record adds only what exceeds them. A retransmitted or repeated Interim-Update (same
// totals), or one that arrives late (lower totals), adds nothing — usage can never be counted twice.
//
// Durability and throughput: records are group-committed. Records that arrive while a batch commits
// form the next batch, which is applied with a handful of multi-row statements whatever its size,
// in one transaction; a caller's promise resolves only after that transaction committed, and only
// then does the RADIUS server send Accounting-Response (RFC 2866 §4.1: "only … after successfully
// recording"). On PostgreSQL the batch locks its session rows (SELECT … FOR UPDATE, in key order)
// before reading the stored totals, so two instances never count the same delta.

import { randomUUID } from 'node:crypto';
import { CompiledQuery } from 'kysely';
import type { Clock } from '../../lib/clock.js';
import type { Dialect, Executor, Store } from '../store/database.js';
import { gather } from '../store/group-commit.js';
import type { SimSessionEventsTable, SimSessionsTable, SimUsageTable } from '../store/schema.js';
import type { Cell } from './sessions.js';
import { STALE_SESSION_CAUSE } from './stale-sessions.js';

export type AccountingKind = 'start' | 'interim' | 'stop' | 'accounting-on' | 'accounting-off';

export interface AccountingRecord {
  readonly kind: AccountingKind;
  /** The NAS (source address of the request). */
  readonly nasAddress: string;
  /** Operator owning the NAS client: only its SIMs are recorded. */
  readonly operatorId: string;
  /** Acct-Session-Id (absent only for Accounting-On/Off). */
  readonly acctSessionId: string;
  readonly imsi?: string | undefined;
  /** 15-digit IMEI. */
  readonly imei?: string | undefined;
  readonly ueIp?: string | undefined;
  readonly apn?: string | undefined;
  readonly cell?: Cell | undefined;
  /** Cumulative counters of the session (Gigawords already folded in). */
  readonly inputOctets?: number | undefined;
  readonly outputOctets?: number | undefined;
  readonly inputPackets?: number | undefined;
  readonly outputPackets?: number | undefined;
  readonly terminateCause?: string | undefined;
  /** When the event happened at the NAS (ms). */
  readonly time: number;
}

export type AccountingOutcome = 'recorded' | 'unknown-subscriber';

/** What a committed batch added to one SIM's usage of one UTC day (summed over its speed classes' rows). */
export interface UsageDelta {
  readonly operatorId: string;
  readonly simId: string;
  /** The UTC day's start (ms), as `sim_usage.bucket_start` of period `day`. */
  readonly day: number;
  /** Bytes up and down. */
  readonly bytes: number;
}

export interface AccountingStats {
  records: number;
  batches: number;
  unknownSubscriber: number;
  failedBatches: number;
  largestBatch: number;
  /** Time spent inside batch transactions (ms), for the batch-cost metric. */
  transactionMs: number;
}

interface Pending {
  readonly record: AccountingRecord;
  readonly resolve: (outcome: AccountingOutcome) => void;
  readonly reject: (error: unknown) => void;
}

type SessionRow = SimSessionsTable;
type NewUsage = SimUsageTable;
type NewEvent = Omit<SimSessionEventsTable, 'id'>;

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Rows per multi-row statement (SQLite allows 32,766 bound values per statement). */
const CHUNK = 500;
/** IN-list size for lookups. */
const LOOKUP_CHUNK = 900;

const sessionKey = (nasAddress: string, acctSessionId: string) => `${nasAddress}\0${acctSessionId}`;

/**
 * Pieces of 256, 64, 16, 4 and 1 rows: multi-row statements then come in five shapes only, so the
 * store's statement cache serves them (preparing a 500-row statement costs about 1.5 ms).
 */
function sizedChunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (const size of [256, 64, 16, 4, 1]) {
    while (items.length - i >= size) {
      out.push(items.slice(i, i + size));
      i += size;
    }
  }
  return out;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface AccountingWriterOptions {
  readonly maxBatch: number;
  /** Batches in flight at once on PostgreSQL. */
  readonly concurrency: number;
  /** How long a freed address stays reserved after Start/Interim (lease renewal). */
  readonly leaseMs: number;
}

export class AccountingWriter {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private readonly idle: Array<() => void> = [];
  private readonly committed = new Set<
    (records: readonly AccountingRecord[], usage: readonly UsageDelta[]) => void
  >();
  readonly stats: AccountingStats = {
    records: 0,
    batches: 0,
    unknownSubscriber: 0,
    failedBatches: 0,
    largestBatch: 0,
    transactionMs: 0,
  };

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly options: AccountingWriterOptions,
  ) {}

  /** Resolves once the record is durable (or known to concern no SIM of the NAS's operator). */
  record(record: AccountingRecord): Promise<AccountingOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Calls `listener` after each committed batch with its records that concerned a SIM and the usage
   * the batch added per SIM and day (the event handlers' engine evaluates their traffic rules at once,
   * from these deltas). Returns the unsubscribe function.
   */
  onCommitted(
    listener: (records: readonly AccountingRecord[], usage: readonly UsageDelta[]) => void,
  ): () => void {
    this.committed.add(listener);
    return () => this.committed.delete(listener);
  }

  drained(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * One batch at a time on SQLite (one writer anyway); on PostgreSQL a few, which lock their
   * session rows in key order (so they wait for each other instead of deadlocking) — and a batch
   * that still fails is split and retried.
   */
  private schedule(): void {
    const concurrency = this.store.dialect === 'postgres' ? this.options.concurrency : 1;
    while (this.inFlight < concurrency && this.queue.length > 0) {
      this.inFlight++;
      void this.flush().finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.schedule();
        else if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  private async flush(): Promise<void> {
    await gather(this.queue, this.options.maxBatch);
    const batch = this.queue.splice(0, this.options.maxBatch);
    if (batch.length === 0) return;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    await this.commit(batch);
  }

  private async commit(batch: Pending[]): Promise<void> {
    const started = performance.now();
    // Listeners are told after the try: one that throws must not make a committed batch retry.
    let recorded: AccountingRecord[] = [];
    let usage: UsageDelta[] = [];
    try {
      const applied = await this.apply(batch.map((p) => p.record));
      const outcomes = applied.outcomes;
      usage = applied.usage;
      this.stats.transactionMs += performance.now() - started;
      this.stats.batches++;
      this.stats.records += batch.length;
      batch.forEach((p, i) => {
        const outcome = outcomes[i] ?? 'recorded';
        if (outcome === 'unknown-subscriber') this.stats.unknownSubscriber++;
        p.resolve(outcome);
      });
      recorded = batch.filter((_, i) => outcomes[i] !== 'unknown-subscriber').map((p) => p.record);
    } catch (e) {
      this.stats.failedBatches++;
      if (batch.length === 1) {
        batch[0]?.reject(e);
        return;
      }
      // One record the database refuses must not keep the others from committing: split and retry
      // (a PostgreSQL deadlock between instances also lands here and succeeds on the retry).
      const half = Math.ceil(batch.length / 2);
      await this.commit(batch.slice(0, half));
      await this.commit(batch.slice(half));
    }
    if (recorded.length > 0) for (const listener of this.committed) listener(recorded, usage);
  }

  /** Applies a batch in one transaction; returns each record's outcome in order and the usage it added. */
  private apply(
    records: readonly AccountingRecord[],
  ): Promise<{ outcomes: AccountingOutcome[]; usage: UsageDelta[] }> {
    const now = this.clock.now();
    const dialect = this.store.dialect;
    const postgres = dialect === 'postgres';
    return this.store.transaction(async (trx) => {
      const outcomes: AccountingOutcome[] = records.map(() => 'recorded');
      const nasReset = records.filter((r) => r.kind === 'accounting-on' || r.kind === 'accounting-off');
      for (const r of nasReset) await endSessionsOfNas(trx, r, now);

      const sessionRecords = records
        .map((r, i) => ({ r, i }))
        .filter(({ r }) => r.kind !== 'accounting-on' && r.kind !== 'accounting-off');
      if (sessionRecords.length === 0) return { outcomes, usage: [] };

      // 1. the sessions the batch touches
      const keys = new Map<string, AccountingRecord>();
      for (const { r } of sessionRecords) keys.set(sessionKey(r.nasAddress, r.acctSessionId), r);
      let sessions = await loadSessions(trx, dialect, [...keys.values()], false);

      // 2. sessions not seen before (Start, or Interim/Stop whose Start was lost): their SIM
      const missing = [...keys.entries()].filter(([k]) => !sessions.has(k));
      const created = new Set<string>();
      if (missing.length > 0) {
        const sims = await loadSims(
          trx,
          missing.map(([, r]) => r.imsi).filter((i): i is string => !!i),
        );
        const placeholders: SessionRow[] = [];
        for (const [key, r] of missing) {
          const sim = r.imsi === undefined ? undefined : sims.get(r.imsi);
          if (!sim || sim.operator_id !== r.operatorId) continue;
          placeholders.push({
            session_id: randomUUID(),
            operator_id: sim.operator_id,
            sim_id: sim.sim_id,
            imsi: r.imsi as string,
            imei: null,
            ue_ip: null,
            apn: null,
            nas_address: r.nasAddress,
            acct_session_id: r.acctSessionId,
            cell: null,
            status: 'online',
            speed_class: sim.speed_class,
            input_octets: 0,
            output_octets: 0,
            input_packets: 0,
            output_packets: 0,
            created_at: clampTime(r.time, now),
            updated_at: clampTime(r.time, now),
            ended_at: null,
            terminate_cause: null,
          });
          created.add(key);
        }
        // ON CONFLICT DO NOTHING: another instance may have created the session meanwhile; then its
        // row (re-read below) wins and this batch does not claim it as new.
        const inserted = new Set<string>();
        for (const part of chunks(placeholders, CHUNK)) {
          const rows = await trx
            .insertInto('sim_sessions')
            .values(part)
            .onConflict((oc) => oc.columns(['acct_session_id', 'nas_address']).doNothing())
            .returning(['acct_session_id', 'nas_address'])
            .execute();
          for (const row of rows) inserted.add(sessionKey(row.nas_address, row.acct_session_id));
        }
        for (const key of created) if (!inserted.has(key)) created.delete(key);
        if (!postgres)
          for (const p of placeholders)
            if (created.has(sessionKey(p.nas_address, p.acct_session_id)))
              sessions.set(sessionKey(p.nas_address, p.acct_session_id), { ...p });
      }
      // 3. PostgreSQL: lock every session row of the batch (in key order) and read the current totals.
      if (postgres) sessions = await loadSessions(trx, dialect, [...keys.values()], true);

      // 4. fold the records, in arrival order, into final session rows, usage deltas and events
      const usage = new Map<string, NewUsage>();
      const events: NewEvent[] = [];
      const touched = new Map<string, SessionRow>();
      const releases: Array<{ simId: string; address: string }> = [];
      const renew = new Map<string, string>();
      // Sessions whose identity, address, location or state changed; the others (the steady stream
      // of Interim-Updates) only move counters, written with a narrower statement that leaves the
      // indexes alone.
      const reshaped = new Set<string>();
      // SIMs whose records carried counters (with a delta or not), each with a day of its records.
      const counted = new Map<string, { operatorId: string; day: number }>();
      const halfLease = this.options.leaseMs / 2;
      for (const { r, i } of sessionRecords) {
        const key = sessionKey(r.nasAddress, r.acctSessionId);
        const current = touched.get(key) ?? sessions.get(key);
        if (!current || current.operator_id !== r.operatorId) {
          outcomes[i] = 'unknown-subscriber';
          continue;
        }
        const time = clampTime(r.time, now);
        const next = { ...current };
        const wasOnline = current.status === 'online';
        const isNew = created.has(key) && !touched.has(key);
        // A session the stale sweep closed (stale-sessions.ts) that reports again is alive after all.
        const closedAsStale = current.status === 'offline' && current.terminate_cause === STALE_SESSION_CAUSE;
        const revived = closedAsStale && r.kind === 'interim';
        if (revived) {
          next.status = 'online';
          next.ended_at = null;
          next.terminate_cause = null;
        }
        // Counters: only what exceeds the stored totals counts.
        const delta = {
          upload_bytes: advance(next, 'input_octets', r.inputOctets),
          download_bytes: advance(next, 'output_octets', r.outputOctets),
          upload_packets: advance(next, 'input_packets', r.inputPackets),
          download_packets: advance(next, 'output_packets', r.outputPackets),
        };
        if (r.inputOctets !== undefined || r.outputOctets !== undefined)
          counted.set(next.sim_id, { operatorId: next.operator_id, day: Math.floor(time / DAY) * DAY });
        if (delta.upload_bytes || delta.download_bytes || delta.upload_packets || delta.download_packets) {
          for (const [period, size] of [
            ['hour', HOUR],
            ['day', DAY],
          ] as const) {
            addUsage(usage, {
              sim_id: next.sim_id,
              period,
              bucket_start: Math.floor(time / size) * size,
              speed_class: next.speed_class,
              operator_id: next.operator_id,
              ...delta,
            });
          }
        }
        const cell = r.cell === undefined ? undefined : JSON.stringify(r.cell);
        const changed =
          (r.imei !== undefined && r.imei !== next.imei) ||
          (r.ueIp !== undefined && r.ueIp !== next.ue_ip) ||
          (cell !== undefined && cell !== next.cell) ||
          (r.apn !== undefined && r.apn !== next.apn);
        if (r.imei !== undefined) next.imei = r.imei;
        if (r.ueIp !== undefined) next.ue_ip = r.ueIp;
        if (r.apn !== undefined) next.apn = r.apn;
        if (cell !== undefined) next.cell = cell;
        if (time > next.updated_at || changed) next.updated_at = Math.max(time, next.updated_at);

        const event = (name: NewEvent['event']) =>
          events.push({
            operator_id: next.operator_id,
            sim_id: next.sim_id,
            session_id: next.session_id,
            event: name,
            imsi: next.imsi,
            imei: next.imei,
            ue_ip: next.ue_ip,
            apn: next.apn,
            cell: next.cell,
            at: time,
          });
        if (isNew || revived) event('Created');
        else if (changed && next.status === 'online') event('Modified');
        if (r.kind === 'stop') {
          if (wasOnline || isNew) {
            next.status = 'offline';
            next.ended_at = time;
            next.terminate_cause = r.terminateCause ?? null;
            event('Deleted');
            if (next.ue_ip) releases.push({ simId: next.sim_id, address: next.ue_ip });
          } else if (closedAsStale) {
            // The Stop the sweep gave up on arrived after all: it says when and why the session ended.
            next.ended_at = time;
            next.terminate_cause = r.terminateCause ?? null;
            if (next.ue_ip) releases.push({ simId: next.sim_id, address: next.ue_ip });
          }
        } else if (
          next.status === 'online' &&
          next.ue_ip &&
          // Renew the address lease at Start and each time half a lease has passed in the session.
          (r.kind === 'start' ||
            revived ||
            changed ||
            Math.floor((time - next.created_at) / halfLease) >
              Math.floor((current.updated_at - next.created_at) / halfLease))
        ) {
          renew.set(next.sim_id, next.ue_ip);
        }
        if (isNew || changed || revived || closedAsStale || next.status !== current.status) reshaped.add(key);
        touched.set(key, next);
      }

      // 5. write: sessions, usage (additive upsert), events, leases
      const counting: SessionRow[] = [];
      const full: SessionRow[] = [];
      for (const [key, row] of touched) (reshaped.has(key) ? full : counting).push(row);
      for (const part of sizedChunks(counting)) await trx.executeQuery(SESSION_COUNTERS[dialect](part));
      for (const part of sizedChunks(full)) await trx.executeQuery(SESSION_FULL[dialect](part));
      // Sorted, so two PostgreSQL instances take the usage row locks in the same order.
      // (Plain code-unit order on the map's keys: localeCompare would cost more than the batch.)
      const usageRows = [...usage.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, u]) => u);
      for (const part of sizedChunks(usageRows)) await trx.executeQuery(USAGE_ADD[dialect](part));
      for (const part of chunks(events, CHUNK))
        await trx.insertInto('sim_session_events').values(part).execute();
      if (renew.size > 0) {
        for (const part of chunks([...renew.entries()], LOOKUP_CHUNK)) {
          await trx
            .updateTable('ip_leases')
            .set({ expires_at: now + this.options.leaseMs, updated_at: now })
            .where(
              'sim_id',
              'in',
              part.map(([simId]) => simId),
            )
            .where(
              'address',
              'in',
              part.map(([, address]) => address),
            )
            .where('expires_at', '>', now)
            .execute();
        }
      }
      // Per SIM and day what the batch added; a SIM whose records carried counters but added no bytes
      // comes with 0 (its rules are still evaluated, as a re-armed rule may fire on its usage so far).
      const added: UsageDelta[] = [];
      for (const u of usageRows) {
        const bytes = u.upload_bytes + u.download_bytes;
        if (u.period !== 'day' || bytes === 0) continue;
        added.push({ operatorId: u.operator_id, simId: u.sim_id, day: u.bucket_start, bytes });
        counted.delete(u.sim_id);
      }
      for (const [simId, { operatorId, day }] of counted) added.push({ operatorId, simId, day, bytes: 0 });
      for (const { simId, address } of releases) {
        await trx
          .updateTable('ip_leases')
          .set({ expires_at: now, updated_at: now })
          .where('sim_id', '=', simId)
          .where('address', '=', address)
          .execute();
      }
      return { outcomes, usage: added };
    });
  }
}

/**
 * A multi-row `INSERT … ON CONFLICT … DO UPDATE` as SQL text, built by hand and cached by row count:
 * for a batch of hundreds of rows Kysely's builder costs more CPU than the statement itself.
 */
function multiRowUpsert<T>(
  dialect: Dialect,
  table: string,
  columns: readonly (keyof T & string)[],
  conflict: string,
  update: string,
): (rows: readonly T[]) => CompiledQuery {
  const texts = new Map<number, string>();
  return (rows) => {
    let text = texts.get(rows.length);
    if (text === undefined) {
      let n = 0;
      const tuples = rows.map(
        () => `(${columns.map(() => (dialect === 'postgres' ? `$${++n}` : '?')).join(', ')})`,
      );
      text = `insert into ${table} (${columns.join(', ')}) values ${tuples.join(', ')} on conflict (${conflict}) do update set ${update}`;
      if (texts.size > 64) texts.clear();
      texts.set(rows.length, text);
    }
    const parameters: unknown[] = [];
    for (const row of rows) for (const c of columns) parameters.push(row[c]);
    return CompiledQuery.raw(text, parameters);
  };
}

const SESSION_COLUMNS = [
  'session_id',
  'operator_id',
  'sim_id',
  'imsi',
  'imei',
  'ue_ip',
  'apn',
  'nas_address',
  'acct_session_id',
  'cell',
  'status',
  'speed_class',
  'input_octets',
  'output_octets',
  'input_packets',
  'output_packets',
  'created_at',
  'updated_at',
  'ended_at',
  'terminate_cause',
] as const satisfies readonly (keyof SessionRow)[];
const excluded = (columns: readonly string[]) => columns.map((c) => `${c} = excluded.${c}`).join(', ');
const perDialect = <T>(make: (d: Dialect) => T): Record<Dialect, T> => ({
  sqlite: make('sqlite'),
  postgres: make('postgres'),
});
/** Interim-Updates that only move counters: the indexed columns are left alone. */
const SESSION_COUNTERS = perDialect((d) =>
  multiRowUpsert<SessionRow>(
    d,
    'sim_sessions',
    SESSION_COLUMNS,
    'acct_session_id, nas_address',
    excluded(['input_octets', 'output_octets', 'input_packets', 'output_packets', 'updated_at']),
  ),
);
const SESSION_FULL = perDialect((d) =>
  multiRowUpsert<SessionRow>(
    d,
    'sim_sessions',
    SESSION_COLUMNS,
    'acct_session_id, nas_address',
    excluded([
      'imei',
      'ue_ip',
      'apn',
      'cell',
      'status',
      'input_octets',
      'output_octets',
      'input_packets',
      'output_packets',
      'updated_at',
      'ended_at',
      'terminate_cause',
    ]),
  ),
);
const USAGE_COUNTERS = ['upload_bytes', 'download_bytes', 'upload_packets', 'download_packets'] as const;
/** Usage is additive: the batch's deltas are added to what the row holds. */
const USAGE_ADD = perDialect((d) =>
  multiRowUpsert<NewUsage>(
    d,
    'sim_usage',
    ['sim_id', 'period', 'bucket_start', 'speed_class', 'operator_id', ...USAGE_COUNTERS],
    'sim_id, period, bucket_start, speed_class',
    USAGE_COUNTERS.map((c) => `${c} = sim_usage.${c} + excluded.${c}`).join(', '),
  ),
);

const usageKey = (u: NewUsage) => `${u.sim_id}\0${u.period}\0${u.bucket_start}\0${u.speed_class}`;

function addUsage(usage: Map<string, NewUsage>, row: NewUsage): void {
  const key = usageKey(row);
  const seen = usage.get(key);
  if (!seen) {
    usage.set(key, row);
    return;
  }
  seen.upload_bytes += row.upload_bytes;
  seen.download_bytes += row.download_bytes;
  seen.upload_packets += row.upload_packets;
  seen.download_packets += row.download_packets;
}

/** Raises the stored cumulative counter to `reported`; returns the increase (0 when not higher). */
function advance(
  row: SessionRow,
  column: 'input_octets' | 'output_octets' | 'input_packets' | 'output_packets',
  reported: number | undefined,
): number {
  if (reported === undefined) return 0;
  const stored = Number(row[column]);
  if (reported <= stored) return 0;
  row[column] = reported;
  return reported - stored;
}

/** A NAS clock far off is not trusted: its events are placed at the server's time. */
function clampTime(time: number, now: number): number {
  return time > now + 300_000 || time < now - 7 * DAY ? now : time;
}

const SESSION_SELECT = perDialect((dialect) => {
  const texts = new Map<string, string>();
  return (ids: readonly string[], lock: boolean): CompiledQuery<SessionRow> => {
    const shape = `${ids.length}${lock}`;
    let text = texts.get(shape);
    if (text === undefined) {
      const list = ids.map((_, n) => (dialect === 'postgres' ? `$${n + 1}` : '?')).join(', ');
      text = `select * from sim_sessions where acct_session_id in (${list}) order by acct_session_id, nas_address${lock ? ' for update' : ''}`;
      texts.set(shape, text);
    }
    return CompiledQuery.raw(text, [...ids]) as CompiledQuery<SessionRow>;
  };
});

async function loadSessions(
  db: Executor,
  dialect: Dialect,
  records: readonly AccountingRecord[],
  lock: boolean,
): Promise<Map<string, SessionRow>> {
  const out = new Map<string, SessionRow>();
  const ids = [...new Set(records.map((r) => r.acctSessionId))].sort();
  const wanted = new Set(records.map((r) => sessionKey(r.nasAddress, r.acctSessionId)));
  for (const part of sizedChunks(ids)) {
    const { rows } = await db.executeQuery(SESSION_SELECT[dialect](part, lock));
    for (const row of rows) {
      const key = sessionKey(row.nas_address, row.acct_session_id);
      if (wanted.has(key)) out.set(key, row);
    }
  }
  return out;
}

async function loadSims(
  db: Executor,
  imsis: readonly string[],
): Promise<Map<string, { sim_id: string; operator_id: string; speed_class: string }>> {
  const out = new Map<string, { sim_id: string; operator_id: string; speed_class: string }>();
  for (const part of chunks([...new Set(imsis)], LOOKUP_CHUNK)) {
    const rows = await db
      .selectFrom('sim_profiles')
      .innerJoin('sims', 'sims.sim_id', 'sim_profiles.sim_id')
      .select(['sim_profiles.imsi', 'sims.sim_id', 'sims.operator_id', 'sims.speed_class'])
      .where('sim_profiles.imsi', 'in', part)
      .execute();
    for (const r of rows) out.set(r.imsi, r);
  }
  return out;
}

/** Accounting-On/Off (RFC 2866 §5.1): the NAS restarted, so every session it held has ended. */
async function endSessionsOfNas(db: Executor, r: AccountingRecord, now: number): Promise<void> {
  const time = clampTime(r.time, now);
  const online = await db
    .selectFrom('sim_sessions')
    .selectAll()
    .where('nas_address', '=', r.nasAddress)
    .where('operator_id', '=', r.operatorId)
    .where('status', '=', 'online')
    .execute();
  if (online.length === 0) return;
  await db
    .updateTable('sim_sessions')
    .set({ status: 'offline', ended_at: time, updated_at: time, terminate_cause: 'NAS-Reboot' })
    .where(
      'session_id',
      'in',
      online.map((s) => s.session_id),
    )
    .execute();
  for (const part of chunks(online, CHUNK)) {
    await db
      .insertInto('sim_session_events')
      .values(
        part.map((s) => ({
          operator_id: s.operator_id,
          sim_id: s.sim_id,
          session_id: s.session_id,
          event: 'Deleted' as const,
          imsi: s.imsi,
          imei: s.imei,
          ue_ip: s.ue_ip,
          apn: s.apn,
          cell: s.cell,
          at: time,
        })),
      )
      .execute();
  }
}
