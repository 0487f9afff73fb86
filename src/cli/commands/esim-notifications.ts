// `simtrust esim notifications list|retry`: the SM-SR's and SM-DP's profile notifications
// (platform/esim/notifications) on the configured database directly, like `esim partners`: a
// notification that failed every attempt is `dead` and waits here for the administrator — listed with
// the error of its last attempt, sent again by `retry` once the partner is back (a running `simtrust
// serve` picks it up at its next delivery pass).

import { type Command, Option } from 'commander';
import { systemClock } from '../../lib/clock.js';
import { SimtrustError } from '../../lib/errors.js';
import type { NotificationView } from '../../platform/esim/notifications/notification-outbox.js';
import type { Store } from '../../platform/store/database.js';
import { print } from '../context.js';
import type { Column } from '../output.js';
import { configFromFlags } from './serve.js';

const example = (c: Command, text: string) => c.addHelpText('after', `\nExample:\n  $ ${text}`);

const COLUMNS: ReadonlyArray<Column<NotificationView>> = [
  ['id', (n) => String(n.id)],
  ['state', (n) => n.state],
  ['interface', (n) => n.interface],
  ['receiverId', (n) => n.receiverId],
  ['kind', (n) => n.kind],
  ['eid', (n) => n.eid],
  ['iccid', (n) => n.iccid],
  ['attempts', (n) => String(n.attempts)],
  ['lastError', (n) => n.lastError ?? ''],
  ['created', (n) => new Date(n.createdTime).toISOString()],
];

const withDatabase = (c: Command) =>
  c
    .option('--config <file>', 'JSON config file (default $SIMTRUST_CONFIG)')
    .option('--database-url <url>', 'database (default $SIMTRUST_DATABASE_URL or sqlite:./data/simtrust.db)')
    .option('--data-dir <dir>', 'data directory (default ./data)')
    .option('--demo', 'the demo deployment (as `simtrust up --demo`)');

async function withStore<T>(o: Record<string, unknown>, run: (store: Store) => Promise<T>): Promise<T> {
  const config = configFromFlags(o, o.demo === true);
  const { openStore } = await import('../../platform/store/database.js');
  const store = await openStore(config.databaseUrl, { poolSize: 2 });
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

export function registerEsimNotificationCommands(esim: Command): void {
  const notifications = esim
    .command('notifications')
    .description(
      "The SM-SR's and SM-DP's profile notifications (Enabled/Disabled/Deleted to SM-DPs and operators): dead ones after their last attempt, pending ones, retry",
    );

  example(
    withDatabase(
      notifications
        .command('list')
        .description('Notifications in a state, oldest first (default: dead)')
        .addOption(
          new Option('--state <state>', 'which ones')
            .choices(['dead', 'pending', 'delivered'])
            .default('dead'),
        )
        .option('--limit <n>', 'at most this many', '100'),
    ),
    'simtrust esim notifications list --output table',
  ).action(async (o: Record<string, unknown>, command: Command) => {
    const limit = Number.parseInt(String(o.limit), 10);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000)
      throw new SimtrustError('ERR_CLI_USAGE', '--limit must be an integer from 1 to 10000');
    const { listNotifications } = await import('../../platform/esim/notifications/notification-outbox.js');
    const list = await withStore(o, (s) =>
      listNotifications(s.db, { state: o.state as 'dead' | 'pending' | 'delivered', limit }),
    );
    print(command, list, COLUMNS);
  });

  example(
    withDatabase(
      notifications
        .command('retry')
        .description('Send a dead notification again: pending with its attempts reset')
        .argument('<id>', 'the notification id (from list)'),
    ),
    'simtrust esim notifications retry 42',
  ).action(async (id: string, o: Record<string, unknown>, command: Command) => {
    const n = Number.parseInt(id, 10);
    if (!/^\d{1,15}$/.test(id) || !Number.isSafeInteger(n))
      throw new SimtrustError(
        'ERR_CLI_USAGE',
        'the notification id is a number (see `simtrust esim notifications list`)',
      );
    const { listNotifications, retryNotification } = await import(
      '../../platform/esim/notifications/notification-outbox.js'
    );
    const view = await withStore(o, async (s) => {
      if (!(await retryNotification(s.db, n, systemClock.now())))
        throw new SimtrustError(
          'ERR_NOT_FOUND',
          `no dead notification ${n} (see \`simtrust esim notifications list\`)`,
        );
      return (await listNotifications(s.db, { state: 'pending', limit: 10_000 })).find((v) => v.id === n);
    });
    print(command, view === undefined ? [] : [view], COLUMNS);
  });
}
