// The background purge of a running instance (issue 11): started by the runtime, it purges a minute
// after start and then every retentionPurgeIntervalSeconds, counts what it deleted in /metrics, and
// stops cleanly (waiting for a run in progress) when the process stops.

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openPlatform, type Platform } from '../../src/platform/platform.js';
import { startPurgeJob } from '../../src/servers/retention-job.js';
import { testConfig } from '../helpers/app.js';
import { openTestDatabase, type TestDatabase } from '../helpers/database.js';

let db: TestDatabase | undefined;
let platform: Platform | undefined;
afterEach(async () => {
  vi.useRealTimers();
  // The platform owns nothing else here (no SMS providers started): closing the store ends it.
  await db?.cleanup();
  platform = undefined;
  db = undefined;
});

async function start(config: Parameters<typeof testConfig>[0] = {}) {
  db = await openTestDatabase();
  const masterKey = randomBytes(32);
  platform = await openPlatform(testConfig({ databaseUrl: db.url, masterKey, ...config }), {
    masterKey,
    store: db.store,
  });
  const now = platform.clock.now();
  for (let i = 0; i < 3; i++)
    await platform.store.db
      .insertInto('api_tokens')
      .values({
        token_hash: `old-${i}`,
        operator_id: 'op',
        api_key: 'k',
        user_name: null,
        expires_at: now - 1,
        created_at: now - 10,
        auth_key_id: null,
      })
      .execute();
  return platform;
}

const tokens = async (p: Platform) =>
  (await p.store.db.selectFrom('api_tokens').select('token_hash').execute()).length;

describe('background purge job', () => {
  it('runs a minute after start, counts what it deleted, and stops', async () => {
    // Only the schedule's timers are faked; the purge's own yields (setImmediate) and I/O are real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] });
    const p = await start({ retentionPurgeIntervalSeconds: 3600 });
    const metrics = new Registry();
    const job = startPurgeJob(p, pino({ level: 'silent' }), metrics);
    expect(await tokens(p)).toBe(3);
    vi.advanceTimersByTime(59_999);
    await job.settled();
    expect(await tokens(p)).toBe(3);
    vi.advanceTimersByTime(1);
    await job.settled(); // the run the first timer started
    expect(await tokens(p)).toBe(0);
    await job.stop();
    expect(await metrics.metrics()).toMatch(/^simtrust_retention_purged_rows_total\{kind="api-tokens"\} 3$/m);
  });

  it('retentionPurgeIntervalSeconds 0 turns it off', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] });
    const p = await start({ retentionPurgeIntervalSeconds: 0 });
    const metrics = new Registry();
    const job = startPurgeJob(p, pino({ level: 'silent' }), metrics);
    vi.advanceTimersByTime(86_400_000);
    await job.stop();
    expect(await tokens(p)).toBe(3);
    expect(await metrics.metrics()).not.toContain('simtrust_retention_purged_rows_total');
  });
});
