// simtrust_esim_notifications{state} on /metrics: the notifications of this deployment's SM-SR and
// SM-DP that wait (pending) or failed every attempt (dead) — what an alert on a partner down for hours
// watches. Another sender's rows on the same database are not counted. SQLite and PostgreSQL.

import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enqueueNotification } from '../../../src/platform/esim/notifications/notification-outbox.js';
import {
  NOTIFICATIONS_METRIC,
  registerNotificationMetrics,
} from '../../../src/servers/esim/notification-metrics.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

let db: TestDatabase;
beforeEach(async () => {
  db = await openTestDatabase();
});
afterEach(() => db.cleanup());

async function add(senderId: string, state: 'pending' | 'dead' | 'delivered', n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = await enqueueNotification(
      db.store.db,
      {
        senderId,
        interface: 'ES4',
        receiverId: '1.3.6.1.4.1.99999.3.1',
        kind: 'enabled',
        body: {
          eid: '89049032000000000000000000000042',
          iccid: `8981${i}`,
          completionTimestamp: new Date(0),
        },
      },
      0,
    );
    await db.store.db
      .updateTable('esim_notification_outbox')
      .set({ state })
      .where('id', '=', id ?? 0)
      .execute();
  }
}

describe('simtrust_esim_notifications', () => {
  it('counts the pending and dead notifications of the given senders at each scrape', async () => {
    const registry = new Registry();
    registerNotificationMetrics(registry, db.store, ['smsr', 'smdp']);
    const values = async () =>
      Object.fromEntries(
        (await registry.getSingleMetric(NOTIFICATIONS_METRIC)?.get())?.values.map((v) => [
          v.labels.state,
          v.value,
        ]) ?? [],
      );
    expect(await values()).toEqual({ pending: 0, dead: 0 });
    await add('smsr', 'pending', 2);
    await add('smdp', 'pending', 1);
    await add('smsr', 'dead', 1);
    await add('smsr', 'delivered', 3);
    await add('another-smsr', 'dead', 5);
    expect(await values()).toEqual({ pending: 3, dead: 1 });
    // Registered again (a restart in-process): one metric, the same figures.
    registerNotificationMetrics(registry, db.store, ['smsr', 'smdp']);
    expect(await registry.metrics()).toContain(`${NOTIFICATIONS_METRIC}{state="dead"} 1`);
  });
});
