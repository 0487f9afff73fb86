// `simtrust event-handlers …` against a running server (issue 14): create from --body and from a
// file, list (JSON and table, by target kind, per IMSI and per SIM), get, update, ignore/unignore,
// delete, the server's validation errors passed through with their code, and usage errors.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vendorCsv } from '../helpers/app.js';
import { runCli, type ServerProcess, seedOperator, startServeProcess } from '../helpers/cli.js';
import { freshDatabaseUrl, testDialect } from '../helpers/database.js';

let db: { url: string; drop: () => Promise<void> };
let server: ServerProcess;
let env: Record<string, string>;
let dir: string;
let sim: { iccid: string; imsi: string };

beforeAll(async () => {
  db = freshDatabaseUrl();
  server = await startServeProcess({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
  });
  await seedOperator(db.url, 'cli-eh@example.com', 'cli-eh-password');
  env = {
    SIMTRUST_ENDPOINT: server.apiUrl,
    SIMTRUST_EMAIL: 'cli-eh@example.com',
    SIMTRUST_PASSWORD: 'cli-eh-password',
  };
  dir = mkdtempSync(join(tmpdir(), 'simtrust-eh-'));
  const { csv, rows } = vendorCsv(2);
  writeFileSync(join(dir, 'sims.csv'), csv);
  const imported = await runCli(['sims', 'import', join(dir, 'sims.csv')], env);
  expect(imported.code, imported.stderr).toBe(0);
  sim = rows[0] as { iccid: string; imsi: string };
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const handler = (over: Record<string, unknown> = {}) => ({
  name: 'slow heavy SIM',
  status: 'active',
  targetSimId: sim.iccid,
  ruleConfig: {
    type: 'SubscriberDailyTrafficRule',
    properties: { limitTotalTrafficMegaByte: '100', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
  },
  actionConfigList: [
    {
      type: 'ChangeSpeedClassAction',
      properties: { speedClass: 's1.minimum', executionDateTimeConst: 'IMMEDIATELY' },
    },
  ],
  ...over,
});

describe(`simtrust event-handlers (${testDialect})`, () => {
  it('creates, lists, gets, updates, ignores and deletes handlers', async () => {
    const created = await runCli(['event-handlers', 'create', '--body', JSON.stringify(handler())], env);
    expect(created.code, created.stderr).toBe(0);
    const h = JSON.parse(created.stdout) as { handlerId: string; targetSimId: string };
    expect(h).toMatchObject({ name: 'slow heavy SIM', targetSimId: sim.iccid });

    const file = join(dir, 'imsi-handler.json');
    writeFileSync(
      file,
      JSON.stringify(handler({ targetSimId: undefined, targetImsi: sim.imsi, name: 'on imsi' })),
    );
    const fromFile = await runCli(['event-handlers', 'create', '--body-file', file], env);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const h2 = JSON.parse(fromFile.stdout) as { handlerId: string };

    const table = await runCli(['event-handlers', 'list', '--output', 'table'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      new RegExp(
        `slow heavy SIM\\s+active\\s+sim:${sim.iccid}\\s+SubscriberDailyTrafficRule\\s+ChangeSpeedClassAction`,
      ),
    );
    expect(table.stdout).toContain(`imsi:${sim.imsi}`);
    const ofImsi = await runCli(['event-handlers', 'list', '--target', 'imsi'], env);
    expect((JSON.parse(ofImsi.stdout) as Array<{ handlerId: string }>).map((x) => x.handlerId)).toEqual([
      h2.handlerId,
    ]);
    const bySim = await runCli(['event-handlers', 'list', '--sim-id', sim.iccid], env);
    expect((JSON.parse(bySim.stdout) as unknown[]).length).toBe(2);
    const byImsi = await runCli(['event-handlers', 'list', '--imsi', sim.imsi], env);
    expect((JSON.parse(byImsi.stdout) as unknown[]).length).toBe(2);

    const history = await runCli(['event-handlers', 'executions', h.handlerId, '--sim-id', sim.iccid], env);
    expect(history.code, history.stderr).toBe(0);
    expect(JSON.parse(history.stdout)).toEqual([]);

    const got = await runCli(['event-handlers', 'get', h.handlerId], env);
    expect(JSON.parse(got.stdout)).toEqual(JSON.parse(created.stdout));

    const updated = await runCli(
      ['event-handlers', 'update', h.handlerId, '--body', JSON.stringify(handler({ status: 'inactive' }))],
      env,
    );
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ handlerId: h.handlerId, status: 'inactive' });

    const ignored = await runCli(['event-handlers', 'ignore', h.handlerId, '--imsi', sim.imsi], env);
    expect(ignored.code, ignored.stderr).toBe(0);
    expect(JSON.parse(ignored.stdout)).toEqual({ handlerId: h.handlerId, ignored: sim.imsi });
    const unignored = await runCli(['event-handlers', 'unignore', h.handlerId, '--sim-id', sim.iccid], env);
    expect(unignored.code, unignored.stderr).toBe(0);
    const twice = await runCli(['event-handlers', 'unignore', h.handlerId, '--sim-id', sim.iccid], env);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/ERR_EVENT_HANDLER_NOT_IGNORED, HTTP 404/);

    for (const id of [h.handlerId, h2.handlerId]) {
      const deleted = await runCli(['event-handlers', 'delete', id], env);
      expect(deleted.code).toBe(0);
      expect(JSON.parse(deleted.stdout)).toEqual({ deleted: id });
    }
    const empty = await runCli(['event-handlers', 'list'], env);
    expect(JSON.parse(empty.stdout)).toEqual([]);
  });

  it("passes the server's validation errors through and refuses bad usage", async () => {
    const bad = handler({
      ruleConfig: { type: 'SubscriberDailyTrafficRule', properties: { inactiveTimeoutDateConst: 'NEVER' } },
    });
    const refused = await runCli(['event-handlers', 'create', '--body', JSON.stringify(bad)], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /limitTotalTrafficMegaByte is required for SubscriberDailyTrafficRule \(ERR_VALIDATION, HTTP 400\)/,
    );

    const notJson = await runCli(['event-handlers', 'create', '--body', '{name:'], env);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/not JSON/);
    const neither = await runCli(['event-handlers', 'create'], env);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/--body JSON or --body-file FILE/);
    const both = await runCli(['event-handlers', 'ignore', 'x', '--imsi', '1', '--sim-id', '2'], env);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--imsi IMSI or --sim-id SIM_ID/);

    const help = await runCli(['event-handlers', 'create', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Example:\n {2}\$ simtrust event-handlers create --body/);
  });
});
