// `simtrust simulate` against a running `simtrust serve` (GSUP listener on): it imports its new cards
// and registers its packet gateway through the API, runs the devices for the duration — GSUP
// authentication, RADIUS sessions with traffic — prints the summary line, stops every session and
// removes its NAS client again. With --smsc it runs the lab SMSC the platform's OTA link binds to:
// anti-theft cards (imported with their OTA columns), one moved into another device and one stolen,
// block themselves and their alerts reach the API. `card new --anti-theft --csv-line` imported with
// `sims import` provisions the platform's side.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimtrustClient } from '../../src/sdk/client.js';
import { BIN, runCli, tempHome } from '../helpers/cli.js';
import { type SimtrustProcess, startSimtrust } from '../interop/helpers/simtrust-platform.js';

const OTA_NUMBER = '8170000914';
const SMSC_PASSWORD = 'lab-smsc-password';

/** A loopback TCP port free right now (for the SMSC the platform is told about before it runs). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const until = async (what: string, check: () => Promise<boolean>, ms = 90_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
};

describe('simtrust simulate', () => {
  let simtrust: SimtrustProcess;
  let smscPort: number;
  beforeAll(async () => {
    smscPort = await freePort();
    simtrust = await startSimtrust({
      gsup: true,
      env: {
        SIMTRUST_OTA_SMPP_URL: `smpp://127.0.0.1:${smscPort}`,
        SIMTRUST_OTA_SMPP_PASSWORD: SMSC_PASSWORD,
        SIMTRUST_OTA_SMPP_SOURCE_ADDR: OTA_NUMBER,
      },
    });
  });
  afterAll(async () => {
    await simtrust?.stop();
  });

  it('runs a small fleet end to end through the protocols only', async () => {
    const r = await simtrust.cli([
      'simulate',
      '--devices',
      '3',
      '--duration',
      '4',
      '--interim',
      '1',
      '--heavy',
      '1',
      '--auth-port',
      String(simtrust.radius.authPort),
      '--acct-port',
      String(simtrust.radius.acctPort),
      '--gsup',
      `127.0.0.1:${simtrust.gsupPort}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('imported 3 SIMs');
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    expect(last).toMatch(/^devices 3 \| attached 0 \| rejected 0 \| sessions 3 \| up [\d.]+ [kM]B/);

    const login = await new SimtrustClient({ endpoint: simtrust.server.apiUrl }).auth(
      simtrust.email,
      simtrust.password,
    );
    const api = new SimtrustClient({ endpoint: simtrust.server.apiUrl, token: login.token });
    const sims = await api.request<Array<{ simId: string; status: string; previousSession?: unknown }>>(
      'GET',
      '/v1/sims',
    );
    expect(sims).toHaveLength(3);
    expect(sims.every((s) => s.status === 'active')).toBe(true);
    const events = await api.request<Array<{ event: string }>>(
      'GET',
      `/v1/sims/${sims[0]?.simId}/events/sessions`,
    );
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['Created', 'Deleted']));
    // The run's NAS client was removed at the end.
    expect(await api.request<unknown[]>('GET', '/v1/radius_clients')).toEqual([]);
  });

  const api = async () => {
    const login = await new SimtrustClient({ endpoint: simtrust.server.apiUrl }).auth(
      simtrust.email,
      simtrust.password,
    );
    return new SimtrustClient({ endpoint: simtrust.server.apiUrl, token: login.token });
  };

  it('with --smsc: a moved and a stolen anti-theft SIM block themselves and their alerts reach the API', async () => {
    const cardsFile = join(simtrust.dir, 'anti-theft-cards.csv');
    const child = spawn(
      process.execPath,
      [
        BIN,
        'simulate',
        '--devices',
        '3',
        '--anti-theft',
        '2',
        '--alert-destination',
        OTA_NUMBER,
        '--learning',
        '2',
        '--swap',
        '1',
        '--swap-after',
        '3',
        '--steal',
        '1',
        '--steal-after',
        '6',
        '--smsc',
        `127.0.0.1:${smscPort}`,
        '--save-cards',
        cardsFile,
        '--auth-port',
        String(simtrust.radius.authPort),
        '--acct-port',
        String(simtrust.radius.acctPort),
        '--gsup',
        `127.0.0.1:${simtrust.gsupPort}`,
      ],
      {
        env: {
          PATH: process.env.PATH,
          HOME: tempHome(),
          SIMTRUST_ENDPOINT: simtrust.server.apiUrl,
          SIMTRUST_EMAIL: simtrust.email,
          SIMTRUST_PASSWORD: simtrust.password,
          SIMTRUST_SMSC_PASSWORD: SMSC_PASSWORD,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await until('the simulator running', async () => stderr.includes('imported 3 SIMs'));
      const client = await api();
      // The first two cards carry the applet: the first is moved into another device, the second stolen.
      const lines = readFileSync(cardsFile, 'utf8').trim().split('\n');
      expect(lines[0]).toBe('iccid,imsi,msisdn,ki,opc,kic,kid,kvn,quarantine_imsi');
      const [moved, stolen] = lines.slice(1).map((l) => l.split(',')[0] as string);
      const eventsOf = (iccid: string) =>
        client
          .request<Array<{ event: string }>>('GET', `/v1/sims/${iccid}/events/anti_theft`)
          .then((e) => e.map((x) => x.event));
      await until('the moved SIM’s alert', async () =>
        (await eventsOf(moved as string)).includes('ANTITHEFT_IMEI_BLOCKED'),
      );
      await until('the stolen SIM’s alert', async () =>
        (await eventsOf(stolen as string)).includes('ANTITHEFT_CELL_BLOCKED'),
      );
      const view = await client.request<{ quarantineImsi: string; lastAlert: unknown }>(
        'GET',
        `/v1/sims/${stolen}/anti_theft`,
      );
      expect(view.quarantineImsi).toMatch(/^00199/);
      expect(view.lastAlert).toBeTruthy();
      await until('both blocked in the summary', async () => /blocked by SIM 2/.test(stdout));
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited, stderr).toBe(0);
    expect(stdout.trim().split('\n').at(-1)).toMatch(/blocked by SIM 2$/);
    expect(stderr).toMatch(/lab SMSC at smpp:\/\/127\.0\.0\.1:\d+/);
    expect(stderr).toMatch(/"kind":"stolen"/);
  });

  it('card new --anti-theft --csv-line imported with sims import provisions the platform side', async () => {
    const made = await runCli([
      'card',
      'new',
      '--imsi',
      '001010000000077',
      '--msisdn',
      '817000000077',
      '--anti-theft',
      '--alert-destination',
      OTA_NUMBER,
      '--csv-header',
      '--csv-line',
    ]);
    expect(made.code, made.stderr).toBe(0);
    const file = join(simtrust.dir, 'card-new.csv');
    writeFileSync(file, made.stdout, { mode: 0o600 });
    const imported = await simtrust.cli(['sims', 'import', file]);
    expect(imported.code, imported.stderr).toBe(0);
    const iccid = made.stdout.trim().split('\n')[1]?.split(',')[0] as string;
    const client = await api();
    const view = await client.request<{ quarantineImsi: string }>('GET', `/v1/sims/${iccid}/anti_theft`);
    expect(view.quarantineImsi).toBe('001990000000077');
    const kic = made.stdout.trim().split('\n')[1]?.split(',')[5] as string;
    expect(JSON.stringify(view)).not.toContain(kic);
    expect(imported.stdout + imported.stderr).not.toContain(kic);
  });
  it('--card runs eUICC card files (simtrust card new --euicc): imported, attached, no SIM counted as blocked', async () => {
    const file = join(simtrust.dir, 'euicc-card.json');
    const made = await runCli([
      'card',
      'new',
      '--euicc',
      '--imsi',
      '001010000000088',
      '--msisdn',
      '817000000088',
      '--smsr-address',
      OTA_NUMBER,
      '--out',
      file,
    ]);
    expect(made.code, made.stderr).toBe(0);
    const simulate = (extra: string[]) =>
      simtrust.cli([
        'simulate',
        ...extra,
        '--duration',
        '3',
        '--auth-port',
        String(simtrust.radius.authPort),
        '--acct-port',
        String(simtrust.radius.acctPort),
        '--gsup',
        `127.0.0.1:${simtrust.gsupPort}`,
      ]);
    const before = readFileSync(file, 'utf8');
    const r = await simulate(['--card', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('imported 1 SIMs');
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(
      /^devices 1 \| attached 0 \| rejected 0 \| sessions 1 \| .* blocked by SIM 0$/,
    );
    const client = await api();
    const sims = await client.request<unknown[]>('GET', '/v1/sims');
    expect(JSON.stringify(sims)).toContain('001010000000088');
    // The card file is read, never written back (a run changes its card in memory only).
    expect(readFileSync(file, 'utf8')).toBe(before);
    const refused = await simulate(['--card', file, '--devices', '2']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--card runs one device per card file');
  });
});
