// `npm start` also runs a demo fleet: 20 simulated devices on the first demo SIMs attach over GSUP
// and RADIUS (sessions with a 127.64.x address, IMEI and cell visible in the API), and the one
// IMEI-locked to another device is refused — in the API's refusals and in the log. Its card keys
// are in a demo-only file the seeding wrote with mode 0600.

import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoIccid } from '../../src/platform/demo.js';
import { SimtrustClient } from '../../src/sdk/client.js';
import { startDemo } from '../helpers/cli.js';

describe('demo fleet of simtrust up --demo', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'simtrust-demo-fleet-'));
  let demo: Awaited<ReturnType<typeof startDemo>> | undefined;

  afterAll(async () => {
    await demo?.stop();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('attaches the demo devices and refuses the IMEI-locked one', async () => {
    demo = await startDemo(cwd);
    expect(demo.screen).toMatch(/Demo fleet\s+20 simulated devices/);
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
    const stopped = await demo.stop();
    demo = undefined;
    expect(stopped.code).toBe(0);
  });
});
