// `npm run bench -- esim-notifications [--db sqlite|postgres] [--rows N] [--queues Q]`: how fast the
// SM-SR/SM-DP notification outbox (src/platform/esim/notifications) drains a backlog — N notifications
// over Q queues (EIDs) to one receiver that answers at once, as after a partner came back — one
// instance, each row claimed (one guarded UPDATE … RETURNING), sent and settled (one UPDATE). Beside it,
// in the same run on the same database: the same number of two-statement rounds of bare single-row
// UPDATEs by primary key, the floor of that work.

import { systemClock } from '../src/lib/clock.js';
import {
  enqueueNotification,
  NotificationOutbox,
  type NotificationPort,
} from '../src/platform/esim/notifications/notification-outbox.js';
import { openStore } from '../src/platform/store/database.js';
import { type BenchDialect, flag, fmt, freshDatabase, table } from './_support.js';

export async function run(args: string[]): Promise<void> {
  const rows = Number(flag(args, '--rows') ?? 2000);
  const queues = Number(flag(args, '--queues') ?? 100);
  const dialects = (
    flag(args, '--db') === undefined ? ['sqlite', 'postgres'] : [flag(args, '--db')]
  ) as BenchDialect[];
  const out: Array<Record<string, string | number>> = [];
  for (const dialect of dialects) {
    const db = await freshDatabase(dialect);
    const store = await openStore(db.url, { poolSize: 4 });
    try {
      const now = systemClock.now();
      await store.transaction(async (tx) => {
        for (let i = 0; i < rows; i++)
          await enqueueNotification(
            tx,
            {
              senderId: 'bench-smsr',
              interface: 'ES4',
              receiverId: 'bench-mno',
              kind: 'enabled',
              body: {
                eid: `89${String(i % queues).padStart(30, '0')}`,
                iccid: `8981${i}`,
                completionTimestamp: new Date(now),
              },
            },
            now,
          );
      });
      let delivered = 0;
      const received = async () => {
        delivered++;
      };
      const port: NotificationPort = {
        handleProfileEnabledNotification: received,
        handleProfileDisabledNotification: received,
        handleProfileDeletedNotification: received,
      };
      const outbox = new NotificationOutbox({
        store,
        clock: systemClock,
        senderId: 'bench-smsr',
        receiver: () => port,
      });
      const t0 = performance.now();
      for (let pass = 0; pass < 50 && delivered < rows; pass++) await outbox.runDue();
      const drainS = (performance.now() - t0) / 1000;

      // Reference: two single-row UPDATEs by id per row (the claim and the settle, with nothing else).
      const ids = (await store.db.selectFrom('esim_notification_outbox').select('id').execute()).map((r) =>
        Number(r.id),
      );
      const t1 = performance.now();
      for (const id of ids) {
        await store.db
          .updateTable('esim_notification_outbox')
          .set({ updated_at: 1 })
          .where('id', '=', id)
          .execute();
        await store.db
          .updateTable('esim_notification_outbox')
          .set({ updated_at: 2 })
          .where('id', '=', id)
          .execute();
      }
      const refS = (performance.now() - t1) / 1000;
      out.push({
        database: dialect,
        rows,
        queues,
        delivered,
        'drain s': fmt(drainS, 2),
        'notifications/s': fmt(delivered / drainS),
        'reference rounds/s (2 bare UPDATEs)': fmt(ids.length / refS),
        'drain / reference': fmt(delivered / drainS / (ids.length / refS), 2),
      });
    } finally {
      await store.close();
      await db.drop();
    }
  }
  table(out);
}
