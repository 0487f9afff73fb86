// `simtrust esim notifications list|retry` on the configured database (SQLite or PostgreSQL), as an
// administrator runs them after a partner was down for longer than the notifications' attempts: the
// dead notification listed with its last error, sent again by retry (pending, attempts reset), a
// second retry refused with its code.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueNotification } from '../../src/platform/esim/notifications/notification-outbox.js';
import { openStore } from '../../src/platform/store/database.js';
import { runCli } from '../helpers/cli.js';
import { freshDatabaseUrl } from '../helpers/database.js';

const EID = '89049032000000000000000000000042';
let db: { url: string; drop: () => Promise<void> };
let env: Record<string, string>;

beforeAll(() => {
  db = freshDatabaseUrl();
  env = { SIMTRUST_DATABASE_URL: db.url };
});
afterAll(async () => {
  await db.drop();
});

describe('simtrust esim notifications', () => {
  it('lists a dead notification with its error, retries it once, refuses a second retry', async () => {
    // What a notification whose partner stayed down looks like (the outbox's own tests make them).
    const store = await openStore(db.url, { poolSize: 2 });
    const id = await store.transaction((tx) =>
      enqueueNotification(
        tx,
        {
          senderId: '1.3.6.1.4.1.99999.1.2',
          interface: 'ES3',
          receiverId: '1.3.6.1.4.1.99999.1.1',
          kind: 'enabled',
          body: {
            eid: EID,
            iccid: '8944000000000000027',
            mnoId: '1.3.6.1.4.1.99999.3.1',
            completionTimestamp: new Date(),
          },
        },
        Date.now(),
      ),
    );
    await store.db
      .updateTable('esim_notification_outbox')
      .set({ state: 'dead', attempts: 16, last_error: 'ES_SOAP_TIMEOUT: no answer from the SM-DP' })
      .where('id', '=', id ?? 0)
      .execute();
    await store.close();

    const list = await runCli(['esim', 'notifications', 'list'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject([
      {
        id,
        state: 'dead',
        interface: 'ES3',
        kind: 'enabled',
        eid: EID,
        attempts: 16,
        lastError: 'ES_SOAP_TIMEOUT: no answer from the SM-DP',
      },
    ]);
    const table = await runCli(['esim', 'notifications', 'list', '--output', 'table'], env);
    expect(table.stdout, table.stderr).toContain(EID);

    const retried = await runCli(['esim', 'notifications', 'retry', String(id)], env);
    expect(retried.code, retried.stderr).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject([{ id, state: 'pending', attempts: 0 }]);
    expect(JSON.parse((await runCli(['esim', 'notifications', 'list'], env)).stdout)).toEqual([]);
    expect(
      JSON.parse((await runCli(['esim', 'notifications', 'list', '--state', 'pending'], env)).stdout),
    ).toHaveLength(1);

    const again = await runCli(['esim', 'notifications', 'retry', String(id)], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no dead notification.*\(ERR_NOT_FOUND\)/);
    const bad = await runCli(['esim', 'notifications', 'retry', 'x1'], env);
    expect(bad.code).toBe(2); // a usage error
    expect(bad.stderr).toMatch(/\(ERR_CLI_USAGE\)/);
  }, 120_000);
});
