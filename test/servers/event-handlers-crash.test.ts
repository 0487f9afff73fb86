// Issue 14 acceptance, exactly once across a crash: `simtrust serve` fires a handler (SIM suspended →
// slow it down, call a web hook) and is killed with SIGKILL while the web request is in flight; the
// restarted server takes the interrupted run over after its lease and finishes it — the SIM was
// slowed down once, the rule fired once, and the hook's two deliveries carry the same idempotency
// key so the receiver can drop the repeat. SQLite and PostgreSQL, as separate processes.

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/platform/store/database.js';
import { vendorCsv } from '../helpers/app.js';
import { loginToken, type ServerProcess, seedOperator, startServeProcess } from '../helpers/cli.js';
import { freshDatabaseUrl, testDialect } from '../helpers/database.js';

let db: { url: string; drop: () => Promise<void> };
let env: Record<string, string>;
let serve: ServerProcess | undefined;
let hook: Server;
let hookUrl: string;
let store: Store;
const deliveries: IncomingMessage[] = [];

beforeAll(async () => {
  hook = createServer((req, res) => {
    req.resume();
    deliveries.push(req);
    // The first delivery never gets an answer: the server is killed while it waits.
    if (deliveries.length > 1) res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  db = freshDatabaseUrl();
  env = {
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
    SIMTRUST_EVENT_WEB_REQUEST_ALLOWED_NETWORKS: '127.0.0.1/32',
    SIMTRUST_EVENT_WEB_REQUEST_TIMEOUT_MS: '60000',
    SIMTRUST_EVENT_ACTION_LEASE_SECONDS: '2',
  };
  serve = await startServeProcess(env);
  await seedOperator(db.url, 'crash@example.com', 'crash-password-1');
  store = await openStore(db.url, { migrate: false });
}, 120_000);
afterAll(async () => {
  await serve?.stop('SIGKILL');
  hook.closeAllConnections();
  await new Promise((resolve) => hook.close(resolve));
  await store?.close();
  await db?.drop();
});

async function api(token: string, method: string, path: string, body?: unknown, type = 'application/json') {
  const res = await fetch(`${serve?.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': type }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const runsOf = (handlerId: string) =>
  store.db
    .selectFrom('event_action_runs')
    .select(['action_type', 'status', 'attempts', 'idempotency_key'])
    .where('handler_id', '=', handlerId)
    .orderBy('action_index')
    .execute();

describe(`event handler actions across a SIGKILL (${testDialect})`, () => {
  it('run once after a restart: the interrupted web request is delivered again with the same key', async () => {
    let token = await loginToken(serve?.apiUrl as string, 'crash@example.com', 'crash-password-1');
    const { csv, rows } = vendorCsv(1, { start: 77 });
    await api(token, 'POST', '/v1/sims/import', csv, 'text/csv');
    const simId = (rows[0] as { iccid: string }).iccid;
    await api(token, 'POST', `/v1/sims/${simId}/activate`);
    const handler = await api(token, 'POST', '/v1/event_handlers', {
      name: 'stolen?',
      status: 'active',
      targetSimId: simId,
      ruleConfig: {
        type: 'SimStatusAttributeRule',
        properties: { targetStatus: 'suspended', inactiveTimeoutDateConst: 'NEVER' },
      },
      actionConfigList: [
        {
          type: 'ChangeSpeedClassAction',
          properties: { speedClass: 's1.minimum', executionDateTimeConst: 'IMMEDIATELY' },
        },
        {
          type: 'ExecuteWebRequestAction',
          properties: {
            url: hookUrl,
            httpMethod: 'POST',
            contentType: 'application/json',
            headers: '{}',
            body: '{"sim":"${simId}"}',
            executionDateTimeConst: 'IMMEDIATELY',
          },
        },
      ],
    });
    await api(token, 'POST', `/v1/sims/${simId}/suspend`);

    // The hook is being called (it never answers the first delivery) and the speed class run, which
    // finished first, has been recorded: kill the server mid-request. (Outcomes are recorded as runs
    // finish, a moment after; a crash in that moment re-runs an executor that is idempotent by the
    // state it sets, which the SIM's speed class already is.)
    await until('the first delivery and the recorded speed class run', async () =>
      deliveries.length >= 1 && (await runsOf(handler.handlerId))[0]?.status === 'succeeded'
        ? true
        : undefined,
    );
    await serve?.stop('SIGKILL');
    expect((await runsOf(handler.handlerId)).map((r) => [r.action_type, r.status, r.attempts])).toEqual([
      ['ChangeSpeedClassAction', 'succeeded', 1],
      ['ExecuteWebRequestAction', 'running', 1],
    ]);

    serve = await startServeProcess(env);
    const runs = await until('the interrupted run to finish', async () => {
      const r = await runsOf(handler.handlerId);
      return r[1]?.status === 'succeeded' ? r : undefined;
    });
    expect(runs.map((r) => [r.status, r.attempts])).toEqual([
      ['succeeded', 1],
      ['succeeded', 2],
    ]);
    expect(deliveries).toHaveLength(2);
    expect(deliveries[1]?.headers['x-simtrust-idempotency-key']).toBe(runs[1]?.idempotency_key);
    expect(deliveries[0]?.headers['x-simtrust-idempotency-key']).toBe(runs[1]?.idempotency_key);

    const firings = await store.db
      .selectFrom('event_firings')
      .select('id')
      .where('handler_id', '=', handler.handlerId)
      .execute();
    expect(firings).toHaveLength(1);
    const speedChanges = await store.db
      .selectFrom('audit_logs')
      .select('id')
      .where('operation_id', '=', 'EventHandler:ChangeSpeedClassAction')
      .execute();
    expect(speedChanges).toHaveLength(1);
    token = await loginToken(serve.apiUrl, 'crash@example.com', 'crash-password-1');
    expect((await api(token, 'GET', `/v1/sims/${simId}`)).speedClass).toBe('s1.minimum');
    // And it stays that way: nothing more runs.
    await new Promise((r) => setTimeout(r, 2500));
    expect(deliveries).toHaveLength(2);
    expect(await store.db.selectFrom('event_outbox').selectAll().execute()).toEqual([]);
  });
});
