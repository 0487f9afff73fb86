// `simtrust sims set-expiry / unset-expiry` and `simtrust event-handlers retry` against a running
// `simtrust serve` (its expiry job carries the expiry out): --at as ISO time or Unix ms, --action,
// the SIM suspended by the server once its time came, usage errors for a bad --at or index, and the
// server's refusals passed through with their code. parseExpiryAt is checked on hostile input.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExpiryAt } from '../../src/cli/commands/sims.js';
import { isSimtrustError } from '../../src/lib/errors.js';
import { vendorCsv } from '../helpers/app.js';
import { runCli, type ServerProcess, seedOperator, startServeProcess } from '../helpers/cli.js';
import { freshDatabaseUrl, testDialect } from '../helpers/database.js';

describe('parseExpiryAt', () => {
  it('reads Unix ms and ISO times with a zone; refuses a time without one and anything else', () => {
    expect(parseExpiryAt('1781085600000')).toBe(1_781_085_600_000);
    expect(parseExpiryAt('2026-06-10T10:00:00Z')).toBe(Date.UTC(2026, 5, 10, 10));
    expect(parseExpiryAt('2026-06-10T19:00+09:00')).toBe(Date.UTC(2026, 5, 10, 10));
    expect(parseExpiryAt('2026-06-10')).toBe(Date.UTC(2026, 5, 10));
    for (const bad of ['2026-06-10T10:00:00', 'tomorrow', '', '-5', '1e12', '12345678901234567890']) {
      expect(() => parseExpiryAt(bad), bad).toThrow(/--at must be/);
    }
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          expect(Number.isSafeInteger(parseExpiryAt(text))).toBe(true);
        } catch (e) {
          expect(isSimtrustError(e) && e.code === 'ERR_CLI_USAGE').toBe(true);
        }
      }),
    );
  });
});

let db: { url: string; drop: () => Promise<void> };
let server: ServerProcess;
let env: Record<string, string>;
let sims: Array<{ iccid: string; imsi: string }>;

beforeAll(async () => {
  db = freshDatabaseUrl();
  server = await startServeProcess({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64'),
  });
  await seedOperator(db.url, 'cli-expiry@example.com', 'cli-expiry-password');
  env = {
    SIMTRUST_ENDPOINT: server.apiUrl,
    SIMTRUST_EMAIL: 'cli-expiry@example.com',
    SIMTRUST_PASSWORD: 'cli-expiry-password',
  };
  const dir = mkdtempSync(join(tmpdir(), 'simtrust-expiry-'));
  const { csv, rows } = vendorCsv(2);
  writeFileSync(join(dir, 'sims.csv'), csv);
  const imported = await runCli(['sims', 'import', join(dir, 'sims.csv')], env);
  expect(imported.code, imported.stderr).toBe(0);
  sims = rows as Array<{ iccid: string; imsi: string }>;
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const cli = async (args: string[]) => runCli(args, env);

describe(`simtrust sims set-expiry (${testDialect})`, () => {
  it('sets an expiry the server carries out (suspend), unsets one, and passes refusals through', async () => {
    const a = sims[0] as { iccid: string };
    const b = sims[1] as { iccid: string };
    expect((await cli(['sims', 'activate', a.iccid])).code).toBe(0);
    // An hour ahead as ISO, then unset: nothing happens.
    const later = new Date(Date.now() + 3_600_000).toISOString();
    let r = await cli(['sims', 'set-expiry', b.iccid, '--at', later, '--action', 'deactivate']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ expiryTime: Date.parse(later), expiryAction: 'deactivate' });
    r = await cli(['sims', 'unset-expiry', b.iccid, '--output', 'table']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/expiryTime/);

    // Seconds ahead (a CLI start takes one or two), as Unix ms: the server's expiry job suspends the SIM once it is due.
    const at = Date.now() + 5000;
    r = await cli(['sims', 'set-expiry', a.iccid, '--at', String(at), '--action', 'suspend']);
    expect(r.code, r.stderr).toBe(0);
    let sim: { status: string; expiryTime: number | null } = JSON.parse(r.stdout);
    expect(sim).toMatchObject({ expiryTime: at, expiryAction: 'suspend' });
    for (let i = 0; i < 60 && sim.status !== 'suspended'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      sim = JSON.parse((await cli(['sims', 'get', a.iccid])).stdout);
    }
    expect(sim).toMatchObject({ status: 'suspended', expiryTime: null, expiryAction: null });
    const history = JSON.parse((await cli(['sims', 'history', a.iccid])).stdout) as Array<{
      operation: string;
    }>;
    expect(history.filter((h) => h.operation === 'Sim:expireSim')).toHaveLength(1);

    // Refusals: the past (server), a time without a zone and an unknown action (CLI).
    r = await cli(['sims', 'set-expiry', b.iccid, '--at', '2000-01-01T00:00:00Z']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_VALIDATION');
    expect(r.stderr).toContain('not in the future');
    r = await cli(['sims', 'set-expiry', b.iccid, '--at', '2099-01-01T00:00:00']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--at must be');
    r = await cli(['sims', 'set-expiry', b.iccid, '--at', '2099-01-01', '--action', 'explode']);
    expect(r.code).not.toBe(0);
    r = await cli(['sims', 'set-expiry', b.iccid, '--at', '2099-01-01', '--action', 'terminate']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_TERMINATION_PROTECTED');
  });

  it('event-handlers retry: usage errors, the server’s 404, and a failed run of the expiry rule retried to success', async () => {
    const created = await cli([
      'event-handlers',
      'create',
      '--body',
      JSON.stringify({
        name: 'on expiry',
        status: 'active',
        targetSimId: sims[1]?.iccid,
        ruleConfig: { type: 'SimExpiredRule', properties: { inactiveTimeoutDateConst: 'IMMEDIATELY' } },
        actionConfigList: [{ type: 'SuspendAction', properties: { executionDateTimeConst: 'IMMEDIATELY' } }],
      }),
    ]);
    expect(created.code, created.stderr).toBe(0);
    const { handlerId } = JSON.parse(created.stdout) as { handlerId: string };
    let r = await cli(['event-handlers', 'retry', handlerId, '1', 'x']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('actionIndex must be');
    r = await cli(['event-handlers', 'retry', handlerId, '999999', '0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_EVENT_EXECUTION_NOT_FOUND');

    // The SIM (ready) expires: SimExpiredRule fires, its SuspendAction fails (only an active SIM can
    // be suspended). Activated, the run is retried from the CLI and the server suspends it.
    const b = sims[1]?.iccid as string;
    r = await cli(['sims', 'set-expiry', b, '--at', String(Date.now() + 5000)]);
    expect(r.code, r.stderr).toBe(0);
    type Execution = { executionId: number; actions: Array<{ status: string }> };
    let executions: Execution[] = [];
    for (let i = 0; i < 60 && executions[0]?.actions[0]?.status !== 'failed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      executions = JSON.parse((await cli(['event-handlers', 'executions', handlerId])).stdout);
    }
    expect(executions[0]?.actions[0]?.status).toBe('failed');
    expect((await cli(['sims', 'activate', b])).code).toBe(0);
    r = await cli(['event-handlers', 'retry', handlerId, String(executions[0]?.executionId), '0']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ actionIndex: 0, status: 'pending', attempts: 0 });
    let sim = { status: '' };
    for (let i = 0; i < 60 && sim.status !== 'suspended'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      sim = JSON.parse((await cli(['sims', 'get', b])).stdout);
    }
    expect(sim.status).toBe('suspended');
  });
});
