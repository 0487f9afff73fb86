// `simtrust simulate` against a running `simtrust serve` (GSUP listener on): it imports its new cards
// and registers its packet gateway through the API, runs the devices for the duration — GSUP
// authentication, RADIUS sessions with traffic — prints the summary line, stops every session and
// removes its NAS client again.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimtrustClient } from '../../src/sdk/client.js';
import { type SimtrustProcess, startSimtrust } from '../interop/helpers/simtrust-platform.js';

describe('simtrust simulate', () => {
  let simtrust: SimtrustProcess;
  beforeAll(async () => {
    simtrust = await startSimtrust({ gsup: true });
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
});
