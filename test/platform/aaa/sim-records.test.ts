// A SIM's refusals and dynamic-authorization requests, listed newest first and keyset-paged by id.
// Threats: a page that repeats or skips a record, a cursor that reads another SIM's or another
// tenant's records, a malformed cursor that errors instead of starting from the newest.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDynamicRequests } from '../../../src/platform/aaa/dynamic-requests.js';
import { listRefusals } from '../../../src/platform/aaa/sessions.js';
import { createOperator } from '../../../src/platform/iam/operators.js';
import { createSim, startTestApi, type TestApi, type TestSim } from './fixture.js';

let api: TestApi;
let sim: TestSim;
let neighbour: TestSim;
let otherOperator: string;

beforeAll(async () => {
  api = await startTestApi();
  sim = await createSim(api);
  neighbour = await createSim(api);
  ({ operatorId: otherOperator } = await createOperator(api.platform.store, api.platform.clock, {
    email: 'other@example.com',
    password: 'another operator password',
  }));
  const db = api.platform.store.db;
  for (let i = 0; i < 7; i++) {
    for (const target of [sim, neighbour]) {
      await db
        .insertInto('aaa_refusals')
        .values({
          operator_id: api.operator.operatorId,
          sim_id: target.simId,
          imsi: target.imsi,
          imei: null,
          code: 'IMEI_MISMATCH',
          reason: `refusal ${i}`,
          access: 'packet-gateway',
          apn: null,
          nas_address: '127.0.0.1',
          at: 1_000 + i,
        })
        .execute();
      await db
        .insertInto('radius_dynamic_requests')
        .values({
          operator_id: api.operator.operatorId,
          sim_id: target.simId,
          session_id: `session-${i}`,
          kind: 'disconnect',
          reason: `request ${i}`,
          nas_address: '127.0.0.1',
          detail: '{}',
          status: 'ack',
          attempts: 1,
          error_cause: null,
          created_at: 1_000 + i,
          completed_at: 1_001 + i,
        })
        .execute();
    }
  }
});
afterAll(async () => {
  await api.close();
});

const lists = {
  refusals: listRefusals,
  'dynamic requests': listDynamicRequests,
} as const;

describe.each(Object.entries(lists))('%s of a SIM', (_, list) => {
  const reasons = (items: readonly { reason: string }[]) => items.map((i) => i.reason.split(' ')[1]);

  it('walks every record once, newest first, in pages of 3', async () => {
    const db = api.platform.store.db;
    const seen: (string | undefined)[] = [];
    const cursors: (string | undefined)[] = [];
    let after: string | undefined;
    do {
      const page = await list(db, api.operator.operatorId, sim.simId, { limit: 3, after });
      seen.push(...reasons(page.items));
      cursors.push(page.nextKey);
      after = page.nextKey;
    } while (after !== undefined);
    expect(seen).toEqual(['6', '5', '4', '3', '2', '1', '0']);
    expect(cursors.length).toBe(3);
    expect(cursors.at(-1)).toBeUndefined();
  });

  it('has no next page when the records fit exactly', async () => {
    const page = await list(api.platform.store.db, api.operator.operatorId, sim.simId, { limit: 7 });
    expect(page.items).toHaveLength(7);
    expect(page.nextKey).toBeUndefined();
  });

  it("reads neither another SIM's nor another operator's records", async () => {
    const db = api.platform.store.db;
    const own = await list(db, api.operator.operatorId, sim.simId, { limit: 100 });
    const ids = new Set(own.items.map((i) => i.id));
    const theirs = await list(db, api.operator.operatorId, neighbour.simId, { limit: 100 });
    expect(theirs.items.some((i) => ids.has(i.id))).toBe(false);
    expect((await list(db, otherOperator, sim.simId, { limit: 100 })).items).toEqual([]);
  });

  it('starts from the newest when the cursor is not an id', async () => {
    for (const after of ['', 'abc', '-1', '1.5', '9'.repeat(40)]) {
      const page = await list(api.platform.store.db, api.operator.operatorId, sim.simId, {
        limit: 2,
        after,
      });
      expect(reasons(page.items)).toEqual(['6', '5']);
    }
  });
});
