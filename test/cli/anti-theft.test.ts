// `simtrust anti-theft show|events` against a running server: the applet of a SIM provisioned with
// OTA key sets, as JSON and as a table, with no key material printed; a SIM without the applet
// gives the error that says what to do.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateOtaKeySet, OtaService } from '../../src/platform/ota/ota-service.js';
import { KeyRing } from '../../src/platform/secrets/key-ring.js';
import { openStore } from '../../src/platform/store/database.js';
import { runCli, type ServerProcess, seedOperator, startServeProcess } from '../helpers/cli.js';
import { freshDatabaseUrl, testDialect } from '../helpers/database.js';

let db: { url: string; drop: () => Promise<void> };
let server: ServerProcess;
let env: Record<string, string>;
const masterKey = randomBytes(32);
const keys = generateOtaKeySet(1);

beforeAll(async () => {
  db = freshDatabaseUrl();
  server = await startServeProcess({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: masterKey.toString('base64'),
  });
  await seedOperator(db.url, 'cli-at@example.com', 'cli-at-password');
  env = {
    SIMTRUST_ENDPOINT: server.apiUrl,
    SIMTRUST_EMAIL: 'cli-at@example.com',
    SIMTRUST_PASSWORD: 'cli-at-password',
  };
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

async function createSim(imsi: string): Promise<string> {
  const r = await runCli(
    [
      'sims',
      'create',
      '--imsi',
      imsi,
      '--ki',
      randomBytes(16).toString('hex'),
      '--opc',
      randomBytes(16).toString('hex'),
    ],
    env,
  );
  expect(r.stderr).toBe('');
  return (JSON.parse(r.stdout) as { simId: string }).simId;
}

describe(`simtrust anti-theft (${testDialect})`, () => {
  it('shows the applet and its events; never a key', async () => {
    const simId = await createSim('001019000000301');
    const store = await openStore(db.url, { migrate: false });
    try {
      const operator = await store.db
        .selectFrom('sims')
        .select('operator_id')
        .where('sim_id', '=', simId)
        .executeTakeFirstOrThrow();
      const ota = new OtaService(store, await KeyRing.open(store, masterKey), { now: () => Date.now() });
      await ota.provision(store.db, operator.operator_id, simId, [keys], {
        kvn: 1,
        reportKvn: 1,
        quarantineImsi: '001019999000301',
      });
    } finally {
      await store.close();
    }
    const shown = await runCli(['anti-theft', 'show', simId], env);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      simId,
      tar: 'C0A7C0',
      quarantineImsi: '001019999000301',
      reported: null,
      lastAlert: null,
      pendingCommands: [],
    });
    for (const k of [keys.kic, keys.kid]) expect(shown.stdout).not.toContain(Buffer.from(k).toString('hex'));
    const table = await runCli(['anti-theft', 'show', simId, '--output', 'table'], env);
    expect(table.stdout).toMatch(/\(not reported yet\)/);
    const events = await runCli(['anti-theft', 'events', simId], env);
    expect(events.code).toBe(0);
    expect(JSON.parse(events.stdout)).toEqual([]);
  });

  it('a SIM without the applet: exit 1 and the error says how to fix it', async () => {
    const simId = await createSim('001019000000302');
    const r = await runCli(['anti-theft', 'show', simId], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_ANTI_THEFT_NOT_PROVISIONED/);
    expect(r.stderr).toMatch(/provision/);
  });
});
