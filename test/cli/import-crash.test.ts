// Acceptance: the server is killed (SIGKILL) in the middle of a large import. After a restart the
// database is consistent — every SIM whole (row, profile, first history entry), nothing half
// written — and re-running the import completes it without duplicates.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/lib/clock.js';
import { createOperator } from '../../src/platform/iam/operators.js';
import { vendorCsv } from '../helpers/app.js';
import { runCli, type ServerProcess, startServeProcess } from '../helpers/cli.js';
import { openTestDatabase, type TestDatabase } from '../helpers/database.js';

const COUNT = 60_000;
let t: TestDatabase;
let file: string;
let env: Record<string, string>;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  t = await openTestDatabase();
  await createOperator(t.store, systemClock, { email: 'crash@example.com', password: 'crash-test-password' });
  file = join(mkdtempSync(join(tmpdir(), 'simtrust-crash-')), 'big.csv');
  writeFileSync(file, vendorCsv(COUNT).csv);
  env = { SIMTRUST_DATABASE_URL: t.url, SIMTRUST_MASTER_KEY: randomBytes(32).toString('base64') };
});
afterAll(async () => {
  for (const s of servers) await s.stop('SIGKILL');
  await t.cleanup();
});

const count = async (table: 'sims' | 'sim_profiles' | 'sim_status_history') =>
  Number(
    (
      await t.store.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('SIGKILL during a large import', () => {
  it('leaves whole SIMs only, and a re-run completes the import without duplicates', async () => {
    const first = await startServeProcess(env);
    servers.push(first);
    const cliEnv = {
      SIMTRUST_ENDPOINT: first.apiUrl,
      SIMTRUST_EMAIL: 'crash@example.com',
      SIMTRUST_PASSWORD: 'crash-test-password',
    };
    const importing = runCli(['sims', 'import', file], cliEnv);

    // Kill once some batches are committed but well before the end.
    let committed = 0;
    for (let i = 0; i < 600 && committed < 3000; i++) {
      await new Promise((r) => setTimeout(r, 50));
      committed = await count('sims');
    }
    expect(committed).toBeGreaterThan(0);
    await first.stop('SIGKILL');
    const interrupted = await importing;
    expect(interrupted.code).not.toBe(0);
    const afterCrash = await count('sims');
    expect(afterCrash).toBeLessThan(COUNT);

    // Consistent: as many profiles and first-history rows as SIMs, and every SIM has its profile.
    expect(await count('sim_profiles')).toBe(afterCrash);
    expect(await count('sim_status_history')).toBe(afterCrash);
    const orphans = await t.store.db
      .selectFrom('sims')
      .leftJoin('sim_profiles', 'sim_profiles.sim_id', 'sims.sim_id')
      .select('sims.sim_id')
      .where('sim_profiles.iccid', 'is', null)
      .execute();
    expect(orphans).toEqual([]);

    const second = await startServeProcess(env);
    servers.push(second);
    const rerun = await runCli(['sims', 'import', file], { ...cliEnv, SIMTRUST_ENDPOINT: second.apiUrl });
    expect(rerun.code, rerun.stderr).toBe(0);
    const summary = JSON.parse(rerun.stdout);
    expect(summary).toMatchObject({
      rows: COUNT,
      rejected: 0,
      unchanged: afterCrash,
      created: COUNT - afterCrash,
    });
    expect(await count('sims')).toBe(COUNT);
    expect(await count('sim_profiles')).toBe(COUNT);
    await second.stop();
  });
});
