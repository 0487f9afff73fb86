// The data plane without the kernel's permission: the platform runs on, one log line says the data
// plane is off and why, and VPG changes are refused with ERR_DATAPLANE_UNAVAILABLE naming the reason
// (the probe is replaced by one that answers "no", so this runs without root too).

import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { DataPlane } from '../../../src/servers/dataplane/reconciler.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

describe('data plane off', () => {
  it('logs once why, refuses VPG changes with the reason, and schedules nothing', async () => {
    let logs = '';
    const sink = new Writable({
      write(chunk, _e, done) {
        logs += chunk.toString();
        done();
      },
    });
    const dataplane = new DataPlane(api.platform.vpg, pino({ level: 'info' }, sink), {
      intervalMs: 60_000,
      probe: async () => ({ available: false, reason: 'cannot create a network namespace (test)' }),
    });
    await dataplane.start();
    expect(dataplane.available).toBe(false);
    const lines = logs.trim().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 40,
      reason: 'cannot create a network namespace (test)',
    });
    expect(lines[0]).toMatch(/data plane off/);

    const ctx = systemContext(api.operator.operatorId, 'VirtualPrivateGateway:test', 'test');
    await expect(api.platform.vpg.create(ctx, {})).rejects.toMatchObject({
      code: 'ERR_DATAPLANE_UNAVAILABLE',
      message: expect.stringMatching(/cannot create a network namespace \(test\).*CAP_NET_ADMIN/),
    });
    dataplane.schedule();
    await dataplane.settled();
    expect(dataplane.passes).toBe(0);
    await dataplane.close();
    expect(logs.trim().split('\n')).toHaveLength(1);
  });
});
