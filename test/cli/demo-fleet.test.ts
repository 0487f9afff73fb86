// `npm start` also runs a demo fleet: 20 simulated devices on the first demo SIMs attach over GSUP
// and RADIUS (sessions with a 127.64.x address, IMEI and cell visible in the API), and the one
// IMEI-locked to another device is refused — in the API's refusals and in the log. Its card keys
// are in a demo-only file the seeding wrote with mode 0600. Four demo SIMs carry the anti-theft
// applet, their OTA keys provisioned on both sides at seeding: the platform's OTA link binds to the
// lab SMSC the demo started, one SIM is moved into another device and one device is stolen, and
// both reach blocked with their alert in the API (demoTheftSeconds shortened for the test). The two
// demo event handlers act: the heavy device's SIM crosses its daily limit and is slowed down (the mail
// to the operator is recorded as failed: the demo has no SMTP server), and the IMEI-refused SIM is
// suspended — both seen in the handlers' executions through the API. The demo eUICC device gets
// profile B downloaded and enabled and attaches with it.

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCardFile } from '../../src/card/card-file.js';
import {
  DEMO_ANTI_THEFT_SIMS,
  DEMO_HANDLERS,
  demoIccid,
  demoQuarantineImsi,
} from '../../src/platform/demo.js';
import { SimtrustClient } from '../../src/sdk/client.js';
import { startDemo } from '../helpers/cli.js';

describe('demo fleet of simtrust up --demo', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'simtrust-demo-fleet-'));
  let demo: Awaited<ReturnType<typeof startDemo>> | undefined;

  afterAll(async () => {
    await demo?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('attaches the demo devices, refuses the IMEI-locked one, blocks the moved and the stolen anti-theft SIM, and its event handlers act', async () => {
    demo = await startDemo(cwd, ['--demo-theft-seconds', '9']);
    expect(demo.screen).toMatch(/Demo fleet\s+20 simulated devices/);
    expect(demo.screen).toMatch(/Anti-theft\s+4 SIMs carry the anti-theft applet/);
    expect(demo.screen).toContain(`npx simtrust anti-theft show ${demoIccid(3)}`);
    const url = /API docs\s+(http:\/\/[\d.:]+)\/docs/.exec(demo.screen)?.[1] as string;
    const session = await new SimtrustClient({ endpoint: url }).auth(
      'demo@simtrust.local',
      'simtrust-demo-password',
    );
    const api = new SimtrustClient({ endpoint: url, token: session.token });

    type Sim = {
      status: string;
      sessionStatus?: { online: boolean; ueIpAddress?: string; imei?: string; cell?: unknown };
    };
    let sim: Sim | undefined;
    for (let i = 0; i < 100; i++) {
      sim = await api.request<Sim>('GET', `/v1/sims/${demoIccid(1)}`);
      if (sim.sessionStatus?.online) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(sim?.status).toBe('active');
    expect(sim?.sessionStatus).toMatchObject({ online: true, imei: expect.stringMatching(/^35840800/) });
    expect(sim?.sessionStatus?.ueIpAddress).toMatch(/^127\.64\./);
    expect(sim?.sessionStatus?.cell).toMatchObject({ mcc: '001', mnc: '01' });

    let refusals: Array<{ code: string }> = [];
    for (let i = 0; i < 100 && refusals.length === 0; i++) {
      refusals = await api.request('GET', `/v1/sims/${demoIccid(20)}/events/refusals`);
      if (refusals.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(refusals[0]).toMatchObject({ code: 'IMEI_MISMATCH' });
    const log = readFileSync(join(cwd, 'data', 'simtrust.log'), 'utf8');
    expect(log).toMatch(/"code":"IMEI_MISMATCH"/);
    expect(log).toMatch(/demo device refused: SIM is IMEI-locked to another device/);
    // The demo-only key file, readable by its owner only; no secret of it reaches the log.
    const file = join(cwd, 'data', 'demo-fleet', 'cards.csv');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const ki = readFileSync(file, 'utf8').split('\n')[1]?.split(',')[3] ?? '';
    expect(ki).toMatch(/^[0-9a-f]{32}$/);
    expect(log).not.toContain(ki);

    // Anti-theft: SIM 2 is moved into another device, the device with SIM 3 is stolen.
    const header = readFileSync(file, 'utf8').split('\n')[0];
    expect(header).toBe('iccid,imsi,msisdn,ki,opc,kic,kid,kvn,quarantine_imsi,imei');
    const [moved, stolen] = [demoIccid(2), demoIccid(3)];
    const events = (iccid: string) =>
      api
        .request<Array<{ event: string }>>('GET', `/v1/sims/${iccid}/events/anti_theft`)
        .then((e) => e.map((x) => x.event));
    const waitFor = async (what: string, check: () => Promise<boolean>) => {
      for (let i = 0; i < 600; i++) {
        if (await check()) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`timed out waiting for ${what}`);
    };
    await waitFor('the moved SIM’s alert', async () =>
      (await events(moved)).includes('ANTITHEFT_IMEI_BLOCKED'),
    );
    await waitFor('the stolen SIM’s alert', async () =>
      (await events(stolen)).includes('ANTITHEFT_CELL_BLOCKED'),
    );
    for (const [iccid, serial] of [
      [moved, 2],
      [stolen, 3],
    ] as const) {
      const view = await api.request<{ quarantineImsi: string; lastAlert: { reason?: string } | null }>(
        'GET',
        `/v1/sims/${iccid}/anti_theft`,
      );
      expect(view.quarantineImsi).toBe(demoQuarantineImsi(serial));
      expect(view.lastAlert).toBeTruthy();
      // Blocked: the device attaches with the quarantine identity, which the network refuses.
      await waitFor('the blocked device offline', async () => {
        const sim = await api.request<Sim>('GET', `/v1/sims/${iccid}`);
        return sim.sessionStatus?.online !== true;
      });
    }
    // The other anti-theft SIMs stay unblocked; their keys never reach the log.
    for (let i = 4; i <= 1 + DEMO_ANTI_THEFT_SIMS; i++) expect(await events(demoIccid(i))).toEqual([]);
    // The demo event handlers: listed by the banner's commands, and acting on the fleet.
    expect(demo.screen).toContain('npx simtrust event-handlers list --output table');
    expect(demo.screen).toContain('no SMTP server is configured');
    type Handler = { handlerId: string; name: string };
    const handlers = await api.request<Handler[]>('GET', '/v1/event_handlers');
    const idOf = (name: string) => handlers.find((h) => h.name === name)?.handlerId as string;
    const [traffic, imei] = [idOf(DEMO_HANDLERS.traffic), idOf(DEMO_HANDLERS.imei)];
    expect(traffic).toBeTruthy();
    expect(imei).toBeTruthy();
    expect(demo.screen).toContain(`npx simtrust event-handlers executions ${traffic}`);
    type Execution = {
      simId: string;
      actions: Array<{ type: string; status: string; result: Record<string, unknown> | null }>;
    };
    const executions = (id: string) => api.request<Execution[]>('GET', `/v1/event_handlers/${id}/executions`);
    const settled = (e: Execution | undefined, n: number) =>
      e !== undefined && e.actions.slice(0, n).every((a) => a.status !== 'pending' && a.status !== 'running');
    await waitFor('the IMEI-mismatch handler to run', async () => settled((await executions(imei))[0], 1));
    const [suspended] = await executions(imei);
    expect(suspended).toMatchObject({
      simId: demoIccid(20),
      actions: [{ type: 'SuspendAction', status: 'succeeded' }],
    });
    expect((await api.request<Sim>('GET', `/v1/sims/${demoIccid(20)}`)).status).toBe('suspended');
    // The heavy device's first Interim-Update (30 s of traffic) is over the daily limit.
    await waitFor('the daily-traffic handler to run', async () => settled((await executions(traffic))[0], 2));
    const [slowed] = await executions(traffic);
    expect(slowed).toMatchObject({
      simId: demoIccid(1),
      actions: [
        { type: 'ChangeSpeedClassAction', status: 'succeeded' },
        {
          type: 'SendMailToOperatorAction',
          status: 'failed',
          result: { error: expect.stringContaining('no SMTP server is configured') },
        },
        { type: 'ChangeSpeedClassAction', status: 'pending' },
      ],
    });
    expect((await api.request<{ speedClass: string }>('GET', `/v1/sims/${demoIccid(1)}`)).speedClass).toBe(
      's1.minimum',
    );

    // eSIM (docs/esim.md, Demo): the eUICC device runs profile A; the operator downloads B with
    // enable through this deployment's SM-DP and SM-SR — push SMS through the lab SMSC, BIP from the
    // simulated modem, PSK-TLS to the SCP81 listener, key establishment, SCP03t — and the device,
    // reset by the REFRESH, attaches with B's IMSI, authenticated by the AuC with B's keys.
    const esim =
      /eSIM\s+one more device carries eUICC (\d{32}) .*?profile (\d{19}) enabled;\s+download profile (\d{19})/s.exec(
        demo.screen,
      );
    const [, eid, profileA, profileB] = esim ?? [];
    expect(eid).toBeTruthy();
    type Operation = { operationId: string; status: string; steps: Array<{ name: string; state: string }> };
    const started = await api.request<Operation>('POST', `/v1/sims/${eid}/profiles`, {
      body: { iccid: profileB, profileType: 'simtrust-usim', enable: true },
    });
    let operation = started;
    await waitFor('the download with enable to end', async () => {
      operation = await api.request<Operation>('GET', `/v1/esim/operations/${started.operationId}`);
      return operation.status !== 'running';
    });
    expect(operation.status).toBe('succeeded');
    expect(operation.steps.filter((x) => x.state === 'succeeded').map((x) => x.name)).toEqual(
      expect.arrayContaining(['CreateISDP', 'DownloadAndInstallation', 'EnableProfile']),
    );
    await waitFor('the eUICC device attached as profile B', async () => {
      const sim = await api.request<Sim>('GET', `/v1/sims/${profileB}`);
      return sim.sessionStatus?.online === true;
    });
    const euicc = await api.request<{ profiles: Record<string, { state?: string }> }>(
      'GET',
      `/v1/sims/${eid}`,
    );
    expect(euicc.profiles[profileB as string]?.state).toBe('Enabled');
    expect(euicc.profiles[profileA as string]?.state).toBe('Disabled');

    const kic = readFileSync(file, 'utf8').split('\n')[2]?.split(',')[5] ?? '';
    expect(kic).toMatch(/^[0-9a-f]{32}$/);
    expect(readFileSync(join(cwd, 'data', 'simtrust.log'), 'utf8')).not.toContain(kic);
    const stopped = await demo.stop();
    demo = undefined;
    expect(stopped.code).toBe(0);
    // The anti-theft cards keep their memory across restarts, in demo-only files of mode 0600.
    const saved = join(cwd, 'data', 'demo-fleet', 'cards', `${moved}.json`);
    expect(statSync(saved).mode & 0o777).toBe(0o600);
    const card = readCardFile(saved);
    if (!card.ok) throw new Error(card.error.message);
    expect(card.value.toolkit?.reportCounter).toBeGreaterThan(0);
    // The eUICC keeps its profiles too: B enabled after the restart.
    const euiccFile = join(cwd, 'data', 'demo-fleet', 'euicc.json');
    expect(statSync(euiccFile).mode & 0o777).toBe(0o600);
    const saved2 = readCardFile(euiccFile);
    if (!saved2.ok) throw new Error(saved2.error.message);
    expect(saved2.value.iccid).toBe(profileB);
  }, 240_000);
});
