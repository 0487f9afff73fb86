// The VPG desired state on SQLite and PostgreSQL. Threats: a device of another operator, an
// offline session or an address outside the VPG's range put into a VPG's device set (it would be
// let through the VPG); status transitions that skip the data plane's confirmation; a terminated
// VPG still kept in the kernel.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountingRecord } from '../../../src/platform/aaa/accounting.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi } from '../aaa/fixture.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
  api.platform.vpg.setDataPlane({ available: true, reason: '' });
});
afterAll(() => api.close());

const ip = (text: string) => text.split('.').reduce((n, p) => n * 256 + Number(p), 0);

describe(`VPG desired state on ${testDialect}`, () => {
  it('holds exactly the online devices of the VPG operator’s groups naming it, inside its range', async () => {
    const A = api.operator.operatorId;
    const B = (await api.newOperator()).operatorId;
    const ctxA = systemContext(A, 'VirtualPrivateGateway:test', 'test');
    const vpg = await api.platform.vpg.create(ctxA, { deviceSubnetCidrRange: '10.90.0.0/16' });
    const groupA = await api.platform.groups.create(systemContext(A, 'Group:test', 'test'), {
      configuration: { SoracomAir: { vpgId: vpg.vpgId } },
    });
    const groupB = await api.platform.groups.create(systemContext(B, 'Group:test', 'test'), {
      configuration: { SoracomAir: { vpgId: vpg.vpgId } },
    });
    const plainA = await api.platform.groups.create(systemContext(A, 'Group:test', 'test'), {});
    const sims = {
      inside: await createSim(api, { groupId: groupA.groupId }),
      outside: await createSim(api, { groupId: groupA.groupId }),
      offline: await createSim(api, { groupId: groupA.groupId }),
      otherGroup: await createSim(api, { groupId: plainA.groupId }),
      otherOperator: await createSim(api, { groupId: groupB.groupId, operatorId: B }),
    };
    const start = (sim: { imsi: string; simId: string }, ueIp: string, operatorId = A): AccountingRecord => ({
      kind: 'start',
      nasAddress: '127.0.0.1',
      operatorId,
      acctSessionId: `s-${sim.simId}`,
      imsi: sim.imsi,
      ueIp,
      time: api.platform.clock.now(),
    });
    const rec = (r: AccountingRecord) => api.platform.aaa.accounting.record(r);
    await rec(start(sims.inside, '10.90.1.2'));
    await rec(start(sims.outside, '10.91.1.2'));
    await rec(start(sims.offline, '10.90.1.3'));
    await rec({ ...start(sims.offline, '10.90.1.3'), kind: 'stop' });
    await rec(start(sims.otherGroup, '10.90.1.4'));
    await rec(start(sims.otherOperator, '10.90.1.5', B));

    const state = (await api.platform.vpg.desiredStates()).find((s) => s.vpgId === vpg.vpgId);
    expect(state?.deviceAddresses).toEqual([ip('10.90.1.2')]);
  });

  it('moves creating → running → terminating → terminated, and failed → running, only as the data plane reports', async () => {
    const ctx = systemContext(api.operator.operatorId, 'VirtualPrivateGateway:test', 'test');
    const vpg = await api.platform.vpg.create(ctx, {});
    const status = async () => (await api.platform.vpg.get(api.operator.operatorId, vpg.vpgId)).status;
    expect(await status()).toBe('creating');
    await api.platform.vpg.markApplied(vpg.vpgId, { ok: false, reason: 'nft -f - failed: test' });
    expect(await status()).toBe('failed');
    expect((await api.platform.vpg.get(api.operator.operatorId, vpg.vpgId)).statusReason).toMatch(/nft/);
    await api.platform.vpg.markApplied(vpg.vpgId, { ok: true });
    expect(await status()).toBe('running');
    await api.platform.vpg.terminate(ctx, vpg.vpgId);
    expect(await status()).toBe('terminating');
    expect((await api.platform.vpg.desiredStates()).some((s) => s.vpgId === vpg.vpgId)).toBe(true);
    await api.platform.vpg.markApplied(vpg.vpgId, { ok: true });
    expect(await status()).toBe('terminated');
    expect((await api.platform.vpg.desiredStates()).some((s) => s.vpgId === vpg.vpgId)).toBe(false);
  });

  it('tells listeners on changes and on session start/stop', async () => {
    const seen: (string | undefined)[] = [];
    const off = api.platform.vpg.onChange((id) => seen.push(id));
    const ctx = systemContext(api.operator.operatorId, 'VirtualPrivateGateway:test', 'test');
    const vpg = await api.platform.vpg.create(ctx, {});
    await api.platform.vpg.setTrafficFiltering(ctx, vpg.vpgId, true);
    const sim = await createSim(api);
    await api.platform.aaa.accounting.record({
      kind: 'start',
      nasAddress: '127.0.0.1',
      operatorId: api.operator.operatorId,
      acctSessionId: `n-${sim.simId}`,
      imsi: sim.imsi,
      ueIp: '10.128.0.9',
      time: api.platform.clock.now(),
    });
    await api.platform.aaa.drained();
    off();
    expect(seen).toEqual([vpg.vpgId, vpg.vpgId, undefined]);
  });
});
