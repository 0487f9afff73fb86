// `simtrust anti-theft …` against a running `simtrust serve` process whose OTA link binds to the lab
// SMSC in this process, which hands SIM data to the real software card here: show and events (no
// key material printed), configure and unblock over OTA with the PoRs verified by the server, and a
// SIM without the applet gives the error that says what to do.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateOtaKeySet, type OtaKeySetInput, OtaService } from '../../src/platform/ota/ota-service.js';
import { KeyRing } from '../../src/platform/secrets/key-ring.js';
import { openStore } from '../../src/platform/store/database.js';
import {
  appletState,
  cell,
  type Device,
  device,
  IMEI,
  newCard,
  OTHER_IMEI,
} from '../card/toolkit/fixture.js';
import { LabNetwork, OTA_ACCOUNT, OTA_KEY_SET, provisionAntiTheft, waitFor } from '../helpers/anti-theft.js';
import { runCli, type ServerProcess, seedOperator, startServeProcess } from '../helpers/cli.js';
import { freshDatabaseUrl, testDialect } from '../helpers/database.js';

let db: { url: string; drop: () => Promise<void> };
let server: ServerProcess;
let env: Record<string, string>;
let network: LabNetwork;
let current: Device | undefined;
const masterKey = randomBytes(32);
const keys = generateOtaKeySet(1);
const MSISDN = '819012340301';
/** What `simtrust anti-theft show` prints, as far as these tests read it. */
interface Shown {
  readonly lastPor: unknown;
  readonly reported: { readonly cells: unknown[] };
  readonly localInfo: unknown;
}

/** Re-runs the CLI command until `done` holds (the PoR travels back asynchronously). */
const untilCli = <T>(what: string, args: string[], done: (v: T) => boolean): Promise<T> =>
  waitFor(what, async () => JSON.parse((await runCli(args, env)).stdout) as T, done, 30_000);

/** Provisions the SIM's OTA key set and applet in the server's database, as the platform would. */
async function provision(simId: string, quarantineImsi: string, keySet: OtaKeySetInput): Promise<void> {
  const store = await openStore(db.url, { migrate: false });
  try {
    const operator = await store.db
      .selectFrom('sims')
      .select('operator_id')
      .where('sim_id', '=', simId)
      .executeTakeFirstOrThrow();
    const ota = new OtaService(store, await KeyRing.open(store, masterKey), { now: () => Date.now() });
    await provisionAntiTheft(ota, store.db, operator.operator_id, simId, quarantineImsi, keySet);
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  db = freshDatabaseUrl();
  network = await LabNetwork.start();
  network.routeDevice(MSISDN, () => current);
  server = await startServeProcess({
    SIMTRUST_DATABASE_URL: db.url,
    SIMTRUST_MASTER_KEY: masterKey.toString('base64'),
    SIMTRUST_OTA_SMPP_URL: network.smsc.url,
    SIMTRUST_OTA_SMPP_SYSTEM_ID: OTA_ACCOUNT.systemId,
    SIMTRUST_OTA_SMPP_PASSWORD: OTA_ACCOUNT.password,
    SIMTRUST_OTA_SMPP_SOURCE_ADDR: OTA_ACCOUNT.sourceAddr,
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
  await network?.close();
  await db?.drop();
});

async function createSim(imsi: string, msisdn?: string): Promise<string> {
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
      ...(msisdn ? ['--msisdn', msisdn] : []),
    ],
    env,
  );
  expect(r.stderr).toBe('');
  return (JSON.parse(r.stdout) as { simId: string }).simId;
}

describe(`simtrust anti-theft (${testDialect})`, () => {
  it('shows the applet and its events; never a key', async () => {
    const simId = await createSim('001019000000301');
    await provision(simId, '001019999000301', keys);
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

  it('configure and unblock over OTA through the server, the SMSC and the real card', async () => {
    const simId = await createSim('001019000000303', MSISDN);
    await provision(simId, '001019999000303', OTA_KEY_SET);
    const card = newCard();
    device(card, IMEI, cell(1)).modem.boot();
    current = device(card, IMEI, cell(1));
    current.modem.boot();
    // The server's link binds shortly after start.
    await waitFor(
      'the server to bind its OTA link',
      () => network.smsc.binds,
      (n) => n > 0,
      30_000,
    );

    const configured = await runCli(
      [
        'anti-theft',
        'configure',
        simId,
        '--cell',
        '440,10,6699,0000009F',
        '--strikes',
        '2',
        '--window',
        '600',
      ],
      env,
    );
    expect(configured.stderr).toBe('');
    expect(JSON.parse(configured.stdout)).toMatchObject({ status: 'pending' });
    const shown = await untilCli<Shown>(
      'the configure PoR',
      ['anti-theft', 'show', simId],
      (v) => v.lastPor !== null,
    );
    expect(shown.lastPor).toMatchObject({ status: 'applied' });
    expect(shown.reported.cells).toContainEqual({
      mcc: '440',
      mnc: '10',
      areaCode: 6699,
      cellIdentity: '0000009F',
    });
    expect(appletState(card).tolerance).toEqual({ strikes: 2, windowSeconds: 600 });

    current = current.moveCardTo(OTHER_IMEI, cell(1));
    current.modem.boot();
    network.forward(MSISDN, current);
    await untilCli<unknown[]>('the alert', ['anti-theft', 'events', simId], (v) => v.length === 1);
    const unblocked = await runCli(['anti-theft', 'unblock', simId], env);
    expect(JSON.parse(unblocked.stdout)).toMatchObject({ status: 'pending' });
    const events = await untilCli<{ event: string }[]>(
      'ANTITHEFT_UNBLOCKED',
      ['anti-theft', 'events', simId],
      (v) => v.length === 2,
    );
    expect(events.map((e) => e.event)).toEqual(['ANTITHEFT_UNBLOCKED', 'ANTITHEFT_IMEI_BLOCKED']);
    expect(appletState(card).mode).not.toBe('blocked');

    // simtrust sims report-local-info: the card in the other device reports its IMEI and cell now.
    const reported = await runCli(['sims', 'report-local-info', simId], env);
    expect(reported.stderr).toBe('');
    expect(JSON.parse(reported.stdout)).toMatchObject({ simId });
    const located = await untilCli<Shown>(
      'the local information report',
      ['anti-theft', 'show', simId],
      (v) => v.localInfo !== null,
    );
    expect(located.localInfo).toMatchObject({
      imei: OTHER_IMEI,
      cell: { mcc: '440', mnc: '10', tac: 0x1a2b, eci: 1 },
    });
    const table = await runCli(['anti-theft', 'show', simId, '--output', 'table'], env);
    expect(table.stdout).toContain(OTHER_IMEI);
    expect(table.stdout).toContain('440-10 6699 1');
  }, 120_000);

  it('a SIM without the applet: exit 1 and the error says how to fix it', async () => {
    const simId = await createSim('001019000000302');
    const r = await runCli(['anti-theft', 'show', simId], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_ANTI_THEFT_NOT_PROVISIONED/);
    expect(r.stderr).toMatch(/provision/);
  });
});
