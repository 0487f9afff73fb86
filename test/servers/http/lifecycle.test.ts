// The SIM lifecycle through the API: every (status, action) pair is tried. Valid moves change the
// status and add one history row; every invalid move answers 409 with its code and leaves the
// status and the history exactly as they were.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIFECYCLE, LIFECYCLE_ACTIONS } from '../../../src/platform/sims/lifecycle.js';
import { SIM_STATUSES, type SimStatus } from '../../../src/platform/sims/model.js';
import { startTestApi, type TestApi, vendorCsv } from '../../helpers/app.js';

let api: TestApi;
let simIds: string[];
let next = 0;

/** The API calls that bring a fresh (ready) SIM to each status. */
const PATH_TO: Record<SimStatus, string[]> = {
  ready: [],
  active: ['activate'],
  inactive: ['activate', 'deactivate'],
  standby: ['set_to_standby'],
  suspended: ['activate', 'suspend'],
  terminated: ['enable_termination', 'terminate'],
};

beforeAll(async () => {
  api = await startTestApi();
  const { csv, rows } = vendorCsv(SIM_STATUSES.length * (LIFECYCLE_ACTIONS.length + 1));
  const res = await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    payload: csv,
    headers: { 'content-type': 'text/csv' },
  });
  expect(res.statusCode).toBe(200);
  simIds = rows.map((r) => r.iccid);
});
afterAll(() => api.close());

async function simIn(status: SimStatus): Promise<string> {
  const simId = simIds[next++] as string;
  for (const verb of PATH_TO[status]) {
    const res = await api.call({ method: 'POST', url: `/v1/sims/${simId}/${verb}` });
    expect(res.statusCode, `${verb}: ${res.body}`).toBe(200);
  }
  const sim = await api.call({ method: 'GET', url: `/v1/sims/${simId}` });
  expect(sim.json().status).toBe(status);
  return simId;
}

const history = async (simId: string) =>
  (await api.call({ method: 'GET', url: `/v1/sims/${simId}/statuses/history` })).json() as Array<{
    status: string;
  }>;

describe('SIM lifecycle', () => {
  for (const status of SIM_STATUSES) {
    for (const action of LIFECYCLE_ACTIONS) {
      const rule = LIFECYCLE[action];
      const allowed = (rule.from as readonly string[]).includes(status);
      it(`${action} from ${status} → ${allowed ? rule.to : '409'}`, async () => {
        const simId = await simIn(status);
        // Termination protection is part of the rule: enable it so only the state machine decides.
        if (action === 'terminate' && status !== 'terminated') {
          await api.call({ method: 'POST', url: `/v1/sims/${simId}/enable_termination` });
        }
        const before = await history(simId);
        const res = await api.call({ method: 'POST', url: `/v1/sims/${simId}/${action}` });
        const after = await history(simId);
        const sim = (await api.call({ method: 'GET', url: `/v1/sims/${simId}` })).json();
        if (allowed) {
          expect(res.statusCode).toBe(200);
          expect(res.json().status).toBe(rule.to);
          expect(after).toHaveLength(before.length + 1);
          expect(after[0]).toMatchObject({
            status: rule.to,
            previousStatus: status,
            operation: `Sim:${rule.operationId}`,
          });
        } else {
          expect(res.statusCode).toBe(409);
          // issue 11: a terminated SIM is its own case (use another SIM), as docs/sims.md says.
          expect(res.json().code).toBe(
            status === 'terminated' ? 'ERR_SIM_TERMINATED' : 'ERR_INVALID_TRANSITION',
          );
          expect(sim.status).toBe(status);
          expect(after).toEqual(before);
        }
      });
    }
  }

  it('terminate without enable_termination answers 409 ERR_TERMINATION_PROTECTED and changes nothing', async () => {
    const simId = await simIn('active');
    const before = await history(simId);
    const res = await api.call({ method: 'POST', url: `/v1/sims/${simId}/terminate` });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('ERR_TERMINATION_PROTECTED');
    expect((await api.call({ method: 'GET', url: `/v1/sims/${simId}` })).json().status).toBe('active');
    expect(await history(simId)).toEqual(before);
  });

  it('a terminated SIM refuses every other change with 409', async () => {
    const simId = await simIn('terminated');
    for (const [url, payload] of [
      [`/v1/sims/${simId}/activate`, undefined],
      [`/v1/sims/${simId}/update_speed_class`, { speedClass: 's1.fast' }],
      [`/v1/sims/${simId}/disable_termination`, undefined],
      [`/v1/sims/${simId}/set_imei_lock`, { imei: '490154203237518' }],
    ] as const) {
      const res = await api.call({ method: 'POST', url, ...(payload ? { payload } : {}) });
      expect(res.statusCode, url).toBe(409);
      expect(res.json().code).toBe('ERR_SIM_TERMINATED');
    }
  });

  it('issue 11: activate on a terminated SIM answers ERR_SIM_TERMINATED, saying it cannot come back', async () => {
    const simId = await simIn('terminated');
    const res = await api.call({ method: 'POST', url: `/v1/sims/${simId}/activate` });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({
      code: 'ERR_SIM_TERMINATED',
      message: `SIM ${simId} is terminated; termination is final, so it cannot be reactivated or changed (only its tags can). Use another SIM`,
    });
    const docs = readFileSync('docs/sims.md', 'utf8');
    expect(docs).toMatch(/terminated SIM\s+cannot be reactivated[\s\S]*ERR_SIM_TERMINATED/);
  });

  it('every status change is in the audit log with its operation', async () => {
    const simId = await simIn('suspended');
    const res = await api.call({ method: 'GET', url: '/v1/audit_logs?operation_id=Sim:suspendSim' });
    const records = res.json() as Array<{ params: Record<string, string>; result: string }>;
    expect(records.some((r) => r.params.sim_id === simId && r.result === 'success')).toBe(true);
  });
});
