// Retention (issue 11): sessions, usage buckets, refusals, audit records and SMS records grew
// without bound, and expired tokens, counters and one-time values were never removed. The purge
// deletes exactly what is past its retention or expired, in batches, on both databases; the audit
// log stays append-only for everything but the purge.

import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/defaults.js';
import { ManualClock } from '../../src/lib/clock.js';
import {
  countTableRows,
  PURGE_TARGETS,
  type PurgeProgress,
  purge,
  TableRowCounts,
} from '../../src/platform/retention.js';
import type { Store } from '../../src/platform/store/database.js';
import { startTestApi, testConfig } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { openTestDatabase, type TestDatabase } from '../helpers/database.js';

const DAY = 86_400_000;
// The present, so that `simtrust admin purge` (the real clock) agrees with the test's clock.
const NOW = Date.now();

const retention = (overrides: Partial<Config> = {}) => ({
  ...testConfig(),
  retentionPurgeBatchRows: 10,
  ...overrides,
});

let db: TestDatabase;
let store: Store;
const clock = new ManualClock(NOW);
beforeEach(async () => {
  db = await openTestDatabase();
  store = db.store;
});
afterEach(() => db.cleanup());

let serial = 0;
const id = (prefix: string) => `${prefix}-${++serial}`;

/** One row of every kind the purge handles, `ageDays` old (for expiring kinds: expired that long ago). */
async function seed(ageDays: number, count = 1): Promise<void> {
  const at = NOW - ageDays * DAY;
  for (let i = 0; i < count; i++) {
    const session = id('s');
    await store.db
      .insertInto('sim_sessions')
      .values({
        session_id: session,
        operator_id: 'op',
        sim_id: 'sim',
        imsi: '001010000000001',
        imei: null,
        ue_ip: null,
        apn: null,
        nas_address: '127.0.0.1',
        acct_session_id: session,
        cell: null,
        status: 'offline',
        speed_class: 's1.standard',
        input_octets: 0,
        output_octets: 0,
        input_packets: 0,
        output_packets: 0,
        created_at: at - 1000,
        updated_at: at,
        ended_at: at,
        terminate_cause: 'User-Request',
      })
      .execute();
    await store.db
      .insertInto('sim_session_events')
      .values({
        operator_id: 'op',
        sim_id: 'sim',
        session_id: session,
        event: 'Deleted',
        imsi: '001010000000001',
        imei: null,
        ue_ip: null,
        apn: null,
        cell: null,
        at,
      })
      .execute();
    await store.db
      .insertInto('radius_dynamic_requests')
      .values({
        operator_id: 'op',
        sim_id: 'sim',
        session_id: session,
        kind: 'coa',
        reason: 'speed',
        nas_address: '127.0.0.1',
        detail: '{}',
        status: 'ack',
        attempts: 1,
        error_cause: null,
        created_at: at,
        completed_at: at,
      })
      .execute();
    for (const period of ['hour', 'day'] as const)
      await store.db
        .insertInto('sim_usage')
        .values({
          sim_id: id('sim'),
          period,
          bucket_start: at,
          speed_class: 's1.standard',
          operator_id: 'op',
          upload_bytes: 1,
          download_bytes: 1,
          upload_packets: 1,
          download_packets: 1,
        })
        .execute();
    for (const period of ['hour', 'day'] as const)
      await store.db
        .insertInto('beam_usage')
        .values({
          operator_id: 'op',
          imsi: id('imsi'),
          service: 'beam',
          entry_point: 'http',
          destination: 'https',
          period,
          bucket_start: at,
          sim_id: 'sim',
          requests: 1,
          delivered: 1,
          refused: 0,
          failed: 0,
          bytes_up: 1,
          bytes_down: 1,
        })
        .execute();
    await store.db
      .insertInto('aaa_refusals')
      .values({
        operator_id: 'op',
        sim_id: 'sim',
        imsi: '001010000000001',
        imei: null,
        code: 'IMEI_MISMATCH',
        reason: 'r',
        access: 'radius',
        apn: null,
        nas_address: null,
        at,
      })
      .execute();
    await store.db
      .insertInto('audit_logs')
      .values({
        operator_id: 'op',
        at,
        actor_kind: 'operator',
        actor_id: 'op',
        operation_id: 'Sim:createSim',
        method: 'POST',
        path: '/v1/sims',
        params: '{}',
        source_ip: null,
        request_id: null,
        result: 'success',
        status_code: 201,
        detail: '{}',
        user_name: null,
        auth_key_id: null,
      })
      .execute();
    await store.db
      .insertInto('sms_messages')
      .values({
        message_id: id('m'),
        operator_id: 'op',
        purpose: 'otp',
        subject: 'u',
        phone_number: '+819000000000',
        provider: null,
        provider_message_id: null,
        status: 'delivered',
        error_code: null,
        attempts: 1,
        created_at: at,
        updated_at: at,
      })
      .execute();
    await store.db
      .insertInto('api_tokens')
      .values({
        token_hash: id('t'),
        operator_id: 'op',
        api_key: 'k',
        user_name: null,
        expires_at: at,
        created_at: at - DAY,
        auth_key_id: null,
      })
      .execute();
    await store.db
      .insertInto('counters')
      .values({ scope: 'api-rate', key: id('c'), value: 1, window_start: at - 60_000, expires_at: at })
      .execute();
    await store.db
      .insertInto('one_time_values')
      .values({ scope: 'aka', key: id('o'), value: 'x', expires_at: at, created_at: at - 60_000 })
      .execute();
    await store.db
      .insertInto('mfa_transactions')
      .values({
        transaction_hash: id('x'),
        operator_id: 'op',
        application: 'app',
        subject: 'u',
        user_id: 'u',
        factors: '[]',
        factor: null,
        state: 'done',
        return_to: '/',
        code_generation: 0,
        message_id: null,
        source_ip: null,
        created_at: at - 600_000,
        expires_at: at,
      })
      .execute();
    await eventFiring(at, 'succeeded');
  }
}

/** An event handler firing at `at` with one action run of `status` that ran then. */
async function eventFiring(at: number, status: string, runAt = at): Promise<number> {
  const firing = await store.db
    .insertInto('event_firings')
    .values({
      operator_id: 'op',
      handler_id: 'h',
      sim_id: 'sim',
      firing_key: id('f'),
      rule_type: 'SimStatusAttributeRule',
      detail: '{}',
      at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await store.db
    .insertInto('event_action_runs')
    .values({
      operator_id: 'op',
      handler_id: 'h',
      firing_id: Number(firing.id),
      sim_id: 'sim',
      action_index: 0,
      action_type: 'SuspendAction',
      action: '{}',
      idempotency_key: id('k'),
      status,
      run_at: runAt,
      attempts: status === 'pending' ? 0 : 1,
      claimed_until: null,
      result: null,
      created_at: at,
      updated_at: status === 'pending' ? at : runAt,
    })
    .execute();
  return Number(firing.id);
}

const TABLES = [...new Set(PURGE_TARGETS.map((t) => t.table))];

async function counts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of TABLES) {
    const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(store.db);
    out[table] = Number(r.rows[0]?.n);
  }
  return out;
}

describe('retention purge', () => {
  it('deletes what is past each kind’s retention or expired, and keeps the rest', async () => {
    await seed(500); // past every retention
    await seed(200); // past sessions, refusals, SMS and hourly usage (93 days); within daily usage and audit
    await seed(2, 1); // within every retention; its tokens, counters and one-time values expired 2 days ago
    // Not yet expired: these stay whatever retention says.
    await store.db
      .insertInto('api_tokens')
      .values({
        token_hash: 'live',
        operator_id: 'op',
        api_key: 'k',
        user_name: null,
        expires_at: NOW + 1000,
        created_at: NOW,
        auth_key_id: null,
      })
      .execute();
    await store.db
      .insertInto('counters')
      .values({ scope: 'api-rate', key: 'live', value: 3, window_start: NOW, expires_at: NOW + 1 })
      .execute();
    await store.db
      .insertInto('one_time_values')
      .values({ scope: 'aka', key: 'live', value: 'x', expires_at: NOW + 1, created_at: NOW })
      .execute();

    const results = await purge(store, clock, retention());
    const deleted = Object.fromEntries(results.map((r) => [r.kind, r.deleted]));
    expect(deleted).toEqual({
      sessions: 2,
      'session-events': 2,
      'dynamic-requests': 2,
      'usage-hourly': 2,
      'usage-daily': 1,
      'beam-usage-hourly': 2,
      'beam-usage-daily': 1,
      refusals: 2,
      'audit-logs': 1,
      sms: 2,
      'event-action-runs': 2,
      'event-firings': 2,
      'api-tokens': 3,
      counters: 3,
      'one-time-values': 3,
      'mfa-transactions': 3,
    });
    expect(await counts()).toEqual({
      sim_sessions: 1,
      sim_session_events: 1,
      radius_dynamic_requests: 1,
      sim_usage: 3, // 2 days old (hour and day) and the 200-day-old daily bucket
      beam_usage: 3, // the same as sim_usage
      aaa_refusals: 1,
      audit_logs: 2,
      sms_messages: 1,
      event_action_runs: 1,
      event_firings: 1,
      api_tokens: 1,
      counters: 1,
      one_time_values: 1,
      mfa_transactions: 0,
    });
    // A second run finds nothing more.
    expect((await purge(store, clock, retention())).every((r) => r.deleted === 0)).toBe(true);
  });

  it('keeps a kind forever when its retention is 0', async () => {
    await seed(5000);
    const results = await purge(
      store,
      clock,
      retention({
        retentionSessionsDays: 0,
        retentionUsageHourlyDays: 0,
        retentionUsageDailyDays: 0,
        retentionRefusalsDays: 0,
        retentionAuditLogDays: 0,
        retentionSmsDays: 0,
        retentionEventHistoryDays: 0,
      }),
    );
    for (const r of results.filter((x) =>
      [
        'sessions',
        'usage-daily',
        'refusals',
        'audit-logs',
        'sms',
        'event-action-runs',
        'event-firings',
      ].includes(x.kind),
    )) {
      expect(r.cutoff).toBeUndefined();
      expect(r.deleted).toBe(0);
    }
    const left = await counts();
    expect(left.audit_logs).toBe(1);
    expect(left.sim_sessions).toBe(1);
    expect(left.api_tokens).toBe(0);
  });

  it('deletes in batches of retentionPurgeBatchRows and reports progress per batch', async () => {
    await seed(1000, 25);
    const progress: PurgeProgress[] = [];
    await purge(store, clock, retention({ retentionPurgeBatchRows: 10 }), {
      onProgress: (p) => progress.push(p),
    });
    const audit = progress.filter((p) => p.kind === 'audit-logs');
    expect(audit.map((p) => p.deleted)).toEqual([10, 20, 25]);
    expect(audit.map((p) => p.done)).toEqual([false, false, true]);
    const sessions = progress.filter((p) => p.kind === 'sessions');
    expect(sessions.at(-1)).toMatchObject({ deleted: 25, done: true });
    expect(sessions.length).toBe(3);
    expect(Object.values(await counts()).every((n) => n === 0)).toBe(true);
  });

  it('stops at the first young record of an append-only table (ids grow with time)', async () => {
    await seed(1000, 3);
    await seed(1, 1);
    // A late writer: an old timestamp behind a young one waits for the next run after it.
    await seed(1000, 1);
    const results = await purge(store, clock, retention());
    expect(results.find((r) => r.kind === 'audit-logs')?.deleted).toBe(3);
    expect(results.find((r) => r.kind === 'refusals')?.deleted).toBe(3);
    // Kinds chosen through an index take every old row.
    expect(results.find((r) => r.kind === 'sessions')?.deleted).toBe(4);
  });

  it('keeps event handler history while a run is pending or running, and drops it once finished and old', async () => {
    // Threat to the history's meaning: a firing purged while its action (scheduled far ahead, or
    // in flight) has still to run would leave a run without the facts it needs (detail, variables).
    const old = NOW - 200 * DAY;
    const pending = await eventFiring(old, 'pending', NOW + 30 * DAY);
    const running = await eventFiring(old, 'running');
    const dead = await eventFiring(old, 'dead');
    const young = await eventFiring(NOW - DAY, 'succeeded');
    const results = await purge(store, clock, retention({ retentionEventHistoryDays: 90 }));
    const deleted = Object.fromEntries(results.map((r) => [r.kind, r.deleted]));
    expect(deleted).toMatchObject({ 'event-action-runs': 1, 'event-firings': 1 });
    const firings = await store.db.selectFrom('event_firings').select('id').orderBy('id').execute();
    expect(firings.map((f) => Number(f.id))).toEqual([pending, running, young]);
    expect(
      (await store.db.selectFrom('event_action_runs').select('firing_id').execute()).map((r) =>
        Number(r.firing_id),
      ),
    ).not.toContain(dead);
    // The scheduled run happens and fails for good: 90 days on its history is still there, 91 days
    // on it goes (with the young firing, old by then); the run still running stays.
    await store.db
      .updateTable('event_action_runs')
      .set({ status: 'failed', updated_at: NOW + 30 * DAY })
      .where('firing_id', '=', pending)
      .execute();
    const kept = await purge(
      store,
      new ManualClock(NOW + 119 * DAY),
      retention({ retentionEventHistoryDays: 90 }),
    );
    expect(Object.fromEntries(kept.map((r) => [r.kind, r.deleted]))).toMatchObject({
      'event-action-runs': 1,
      'event-firings': 1,
    });
    const again = await purge(
      store,
      new ManualClock(NOW + 121 * DAY),
      retention({ retentionEventHistoryDays: 90 }),
    );
    expect(Object.fromEntries(again.map((r) => [r.kind, r.deleted]))).toMatchObject({
      'event-action-runs': 1,
      'event-firings': 1,
    });
    const left = await store.db.selectFrom('event_firings').select('id').orderBy('id').execute();
    expect(left.map((f) => Number(f.id))).toEqual([running]);
  });

  it('ends early when told to stop between batches', async () => {
    await seed(1000, 25);
    let batches = 0;
    const results = await purge(store, clock, retention(), {
      onProgress: () => batches++,
      shouldContinue: () => batches < 2,
    });
    expect(results.map((r) => r.deleted)).toEqual([20]);
  });

  it('runs from two processes at once (`simtrust admin purge` twice) without errors or double counting', async () => {
    await seed(1000, 40);
    const args = ['admin', 'purge', '--database-url', db.url, '--retention-purge-batch-rows', '10'];
    const [a, b] = await Promise.all([runCli(args), runCli(args)]);
    expect(a.stderr + b.stderr).not.toMatch(/error|ERR_/i);
    expect([a.code, b.code]).toEqual([0, 0]);
    const deleted = (r: { stdout: string }) =>
      new Map(
        (JSON.parse(r.stdout) as Array<{ kind: string; deleted: number }>).map((x) => [x.kind, x.deleted]),
      );
    const [da, dbb] = [deleted(a), deleted(b)];
    for (const { kind } of PURGE_TARGETS) expect((da.get(kind) ?? 0) + (dbb.get(kind) ?? 0), kind).toBe(40);
    expect(Object.values(await counts()).every((n) => n === 0)).toBe(true);
    // Progress went to stderr, one line per finished kind at least.
    expect(a.stderr).toMatch(/audit-logs: \d+ rows deleted\n/);
  });
});

describe('audit log stays append-only outside the purge (issue 11)', () => {
  it('refuses DELETE and UPDATE of any record, old or new, from ordinary statements', async () => {
    await seed(1000);
    await seed(1);
    await expect(store.db.deleteFrom('audit_logs').execute()).rejects.toThrow(/append-only/);
    await expect(
      store.db
        .deleteFrom('audit_logs')
        .where('at', '<', NOW - 500 * DAY)
        .execute(),
    ).rejects.toThrow(/append-only/);
    await expect(store.db.updateTable('audit_logs').set({ detail: 'x' }).execute()).rejects.toThrow(
      /append-only/,
    );
    expect((await counts()).audit_logs).toBe(2);
  });

  it('the purge gate never outlives the purge’s own transaction', async () => {
    await seed(1000, 15);
    await purge(store, clock, retention());
    expect(await store.db.selectFrom('audit_log_purge_gate').selectAll().execute()).toEqual([]);
    // An open gate admits only records older than its cutoff, even inside a transaction.
    await seed(1);
    await expect(
      store.transaction(async (trx) => {
        await trx
          .insertInto('audit_log_purge_gate')
          .values({ before: NOW - 10 * DAY })
          .execute();
        await trx.deleteFrom('audit_logs').execute();
      }),
    ).rejects.toThrow(/append-only/);
    expect((await counts()).audit_logs).toBe(1);
  });
});

describe('row counts for /metrics', () => {
  it('counts every table but the migration bookkeeping', async () => {
    await seed(3, 4);
    const rows = await countTableRows(store);
    const names = rows.map((r) => r.table);
    expect(names).toContain('sims');
    expect(names).toContain('audit_logs');
    expect(names.some((n) => n.startsWith('kysely_') || n.startsWith('sqlite_'))).toBe(false);
    const audit = rows.find((r) => r.table === 'audit_logs');
    if (store.dialect === 'sqlite') expect(audit).toEqual({ table: 'audit_logs', rows: 4, exact: true });
    else {
      // PostgreSQL: the planner's estimate once the table was analysed.
      await store.analyze(['audit_logs']);
      expect((await countTableRows(store)).find((r) => r.table === 'audit_logs')).toEqual({
        table: 'audit_logs',
        rows: 4,
        exact: false,
      });
    }
  });

  it('GET /metrics shows simtrust_table_rows per table', async () => {
    const api = await startTestApi();
    try {
      const res = await api.call({ method: 'GET', url: '/metrics', token: null });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('# TYPE simtrust_table_rows gauge');
      // One operator was created; a table never analysed is counted exactly on PostgreSQL too.
      expect(res.body).toMatch(/^simtrust_table_rows\{table="operators"\} 1$/m);
      expect(res.body).toMatch(/^simtrust_table_rows\{table="audit_logs"\} \d+$/m);
      expect(res.body).not.toContain('kysely_');
    } finally {
      await api.close();
    }
  });

  it('recounts at most once per period, however often it is asked', async () => {
    const c = new ManualClock(NOW);
    const cache = new TableRowCounts(store, c, 60_000);
    const first = await cache.get();
    const sims = () => first.find((r) => r.table === 'sms_messages')?.rows;
    expect(sims()).toBe(0);
    await seed(1);
    if (store.dialect === 'postgres') await store.analyze(['sms_messages']);
    c.advance(59_000);
    expect((await cache.get()).find((r) => r.table === 'sms_messages')?.rows).toBe(0);
    c.advance(1_000);
    expect((await cache.get()).find((r) => r.table === 'sms_messages')?.rows).toBe(1);
  });
});
