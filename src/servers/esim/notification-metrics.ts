// /metrics for the eSIM notification outbox (platform/esim/notifications): how many of this
// deployment's SM-SR and SM-DP notifications wait (`pending`: a partner down, backing off) and how
// many failed every attempt (`dead`: `simtrust esim notifications list`, then `retry`). Read from the
// database at each scrape, so every instance reports the same figures.

import { Gauge, type Registry } from 'prom-client';
import type { Store } from '../../platform/store/database.js';

export const NOTIFICATIONS_METRIC = 'simtrust_esim_notifications';

export function registerNotificationMetrics(
  registry: Registry,
  store: Store,
  senderIds: readonly string[],
): void {
  // A server started again on the same registry (tests, a restart in-process) replaces it.
  registry.removeSingleMetric(NOTIFICATIONS_METRIC);
  new Gauge({
    name: NOTIFICATIONS_METRIC,
    help: 'SM-SR/SM-DP profile notifications not delivered, by state (pending: to be sent or retried; dead: failed every attempt, see simtrust esim notifications list)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const rows = await store.db
        .selectFrom('esim_notification_outbox')
        .select(['state', (e) => e.fn.countAll<number | string>().as('n')])
        .where('sender_id', 'in', [...senderIds])
        .where('state', 'in', ['pending', 'dead'])
        .groupBy('state')
        .execute();
      for (const state of ['pending', 'dead'] as const)
        this.set({ state }, Number(rows.find((r) => r.state === state)?.n ?? 0));
    },
  });
}
