// Prometheus metrics (prom-client) at GET /metrics: process defaults plus request counts and
// latencies by route template (never by raw URL, which would carry ids), and the rows of each table
// (simtrust_table_rows, from platform/retention.ts: exact on SQLite, the planner's estimate on
// PostgreSQL; recounted at most once a minute whatever the scrape rate).

import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { TableRowCounts } from '../../../platform/retention.js';

export function registerMetrics(
  app: FastifyInstance,
  registry = new Registry(),
  tableRows?: TableRowCounts,
): Registry {
  collectDefaultMetrics({ register: registry });
  if (tableRows !== undefined) {
    new Gauge({
      name: 'simtrust_table_rows',
      help: 'Rows per database table (SQLite: exact count; PostgreSQL: pg_class.reltuples estimate, exact up to 1e6 for a table never analysed); at most a minute old',
      labelNames: ['table'] as const,
      registers: [registry],
      async collect() {
        for (const t of await tableRows.get()) this.set({ table: t.table }, t.rows);
      },
    });
  }
  const duration = new Histogram({
    name: 'simtrust_http_request_duration_seconds',
    help: 'API request latency by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    duration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: reply.statusCode,
      },
      reply.elapsedTime / 1000,
    );
  });
  app.get(
    '/metrics',
    {
      config: { public: true },
      schema: { tags: ['System'], operationId: 'getMetrics', summary: 'Prometheus metrics', hide: true },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
  return registry;
}
