// Admission policy. Threats: a suspended/terminated SIM still getting a data session; a stolen SIM
// used in another device despite its IMEI lock; a NAS of one operator authenticating another
// operator's SIMs; a group's APN restriction bypassed. Every refusal must be recorded for the
// event handler, and the reason sent to the NAS must not reveal the locked IMEI.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admit, imeiFromReported } from '../../../src/platform/aaa/admission.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi } from './fixture.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api.close();
});

const ctx = (op: string) => systemContext(api.operator.operatorId, op, 'test');
const IMEI = '353432191080009'; // TAC+SNR 35343219108000, Luhn check digit 9
const IMEISV_SAME = '3534321910800007'; // same TAC+SNR, software version 07
const IMEISV_OTHER = '3534321910800995';

describe(`admission on ${testDialect}`, () => {
  it('reads the IMEI out of IMEISV, IMEI and IMEI-without-check-digit alike', () => {
    expect(imeiFromReported(IMEISV_SAME)).toBe(IMEI);
    expect(imeiFromReported(IMEI)).toBe(IMEI);
    expect(imeiFromReported(IMEI.slice(0, 14))).toBe(IMEI);
    expect(imeiFromReported('12345')).toBeUndefined();
    expect(imeiFromReported('35343219108000x1')).toBeUndefined();
    expect(imeiFromReported(undefined)).toBeUndefined();
  });

  it('activates a ready SIM on its first session, with status history and audit record', async () => {
    const sim = await createSim(api);
    const r = await admit(api.db.store.db, { imsi: sim.imsi, access: 'packet-gateway' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ simId: sim.simId, status: 'active', activated: true, imei: null });
    expect((await api.platform.sims.get(api.operator.operatorId, sim.simId)).status).toBe('active');
    const history = await api.platform.sims.statusHistory(api.operator.operatorId, sim.simId);
    expect(history[0]).toMatchObject({ status: 'active', previousStatus: 'ready', actor: 'system:aaa' });
    const audit = await api.db.store.db
      .selectFrom('audit_logs')
      .selectAll()
      .where('operation_id', '=', 'Aaa:activateOnFirstSession')
      .execute();
    expect(audit.some((a) => JSON.parse(a.detail).simId === sim.simId)).toBe(true);
    // A second session changes nothing.
    const again = await admit(api.db.store.db, { imsi: sim.imsi, access: 'packet-gateway' });
    expect(again.ok && again.value.activated).toBe(false);
    // EAP's identity round checks without activating.
    const other = await createSim(api);
    const check = await admit(api.db.store.db, { imsi: other.imsi, access: 'wifi', activate: false });
    expect(check.ok && check.value).toMatchObject({ status: 'ready', activated: false });
    expect((await api.platform.sims.get(api.operator.operatorId, other.simId)).status).toBe('ready');
  });

  it('of racing first sessions exactly one records the activation', async () => {
    const sim = await createSim(api);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => api.platform.aaa.admit({ imsi: sim.imsi, access: 'packet-gateway' })),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.filter((r) => r.ok && r.value.activated)).toHaveLength(1);
    const history = await api.platform.sims.statusHistory(api.operator.operatorId, sim.simId);
    expect(history.filter((h) => h.status === 'active')).toHaveLength(1);
  });

  it('refuses suspended, inactive and terminated SIMs and records why', async () => {
    for (const [steps, status] of [
      [['activate', 'suspend'], 'suspended'],
      [['activate', 'deactivate'], 'inactive'],
      [['terminate'], 'terminated'],
    ] as const) {
      const sim = await createSim(api);
      if (status === 'terminated')
        await api.platform.sims.setTermination(ctx('Sim:enableSimTermination'), sim.simId, true);
      for (const step of steps) await api.platform.sims.transition(ctx(`Sim:${step}`), sim.simId, step);
      const r = await api.platform.aaa.admit({
        imsi: sim.imsi,
        access: 'packet-gateway',
        nasAddress: '127.0.0.9',
      });
      expect(r).toEqual({ ok: false, error: { code: 'SIM_NOT_ALLOWED', reason: `SIM is ${status}` } });
      const refusals = await api.db.store.db
        .selectFrom('aaa_refusals')
        .selectAll()
        .where('sim_id', '=', sim.simId)
        .execute();
      expect(refusals).toHaveLength(1);
      expect(refusals[0]).toMatchObject({
        code: 'SIM_NOT_ALLOWED',
        access: 'packet-gateway',
        nas_address: '127.0.0.9',
      });
    }
    const standby = await createSim(api);
    await api.platform.sims.transition(ctx('Sim:setSimToStandby'), standby.simId, 'set_to_standby');
    const r = await api.platform.aaa.admit({ imsi: standby.imsi, access: 'wifi' });
    expect(r.ok && r.value.status).toBe('active');
  });

  it('enforces the IMEI lock, with ANONYMOUS admitting a request without IMEI, and records the mismatch', async () => {
    const sim = await createSim(api);
    await api.platform.sims.setImeiLock(ctx('Sim:setSimImeiLock'), sim.simId, IMEI);
    const ok = await api.platform.aaa.admit({
      imsi: sim.imsi,
      imeisv: IMEISV_SAME,
      access: 'packet-gateway',
    });
    expect(ok.ok && ok.value.imei).toBe(IMEI);
    const other = await api.platform.aaa.admit({
      imsi: sim.imsi,
      imeisv: IMEISV_OTHER,
      access: 'packet-gateway',
    });
    expect(other).toEqual({
      ok: false,
      error: { code: 'IMEI_MISMATCH', reason: 'SIM is IMEI-locked to another device' },
    });
    // The reason sent to the NAS never names the locked IMEI.
    expect(JSON.stringify(other)).not.toContain(IMEI.slice(0, 14));
    const none = await api.platform.aaa.admit({ imsi: sim.imsi, access: 'packet-gateway' });
    expect(none.ok ? undefined : none.error.code).toBe('IMEI_MISMATCH');
    const garbage = await api.platform.aaa.admit({ imsi: sim.imsi, imeisv: 'not-an-imei', access: 'wifi' });
    expect(garbage.ok ? undefined : garbage.error.code).toBe('IMEI_MISMATCH');

    await api.platform.sims.setImeiLock(ctx('Sim:setSimImeiLock'), sim.simId, `${IMEI}|ANONYMOUS`);
    expect((await api.platform.aaa.admit({ imsi: sim.imsi, access: 'packet-gateway' })).ok).toBe(true);
    const stillOther = await api.platform.aaa.admit({
      imsi: sim.imsi,
      imeisv: IMEISV_OTHER,
      access: 'packet-gateway',
    });
    expect(stillOther.ok).toBe(false);

    const recorded = await api.db.store.db
      .selectFrom('aaa_refusals')
      .selectAll()
      .where('sim_id', '=', sim.simId)
      .where('code', '=', 'IMEI_MISMATCH')
      .orderBy('id')
      .execute();
    expect(recorded.map((r) => r.imei)).toEqual([
      imeiFromReported(IMEISV_OTHER),
      null,
      null,
      imeiFromReported(IMEISV_OTHER),
    ]);
  });

  it('applies the group APN policy (SoracomAir.allowedApns) to packet gateways only', async () => {
    const group = await api.platform.groups.create(ctx('Group:createGroup'), {
      configuration: { SoracomAir: { allowedApns: ['iot.example', 'Backup.Example'] } },
    });
    const sim = await createSim(api, { groupId: group.groupId });
    expect(
      (await api.platform.aaa.admit({ imsi: sim.imsi, apn: 'IOT.example', access: 'packet-gateway' })).ok,
    ).toBe(true);
    expect(
      (await api.platform.aaa.admit({ imsi: sim.imsi, apn: 'backup.example', access: 'packet-gateway' })).ok,
    ).toBe(true);
    expect(
      await api.platform.aaa.admit({ imsi: sim.imsi, apn: 'internet', access: 'packet-gateway' }),
    ).toEqual({
      ok: false,
      error: { code: 'APN_NOT_ALLOWED', reason: 'APN internet is not allowed' },
    });
    const noApn = await api.platform.aaa.admit({ imsi: sim.imsi, access: 'packet-gateway' });
    expect(noApn.ok ? undefined : noApn.error.code).toBe('APN_NOT_ALLOWED');
    expect((await api.platform.aaa.admit({ imsi: sim.imsi, access: 'wifi' })).ok).toBe(true);
    // A malformed policy is refused when written, not when a device attaches.
    await expect(
      api.platform.groups.putConfiguration(
        ctx('Group:putConfigurationParameters'),
        group.groupId,
        'SoracomAir',
        [{ key: 'allowedApns', value: 'iot.example' }],
      ),
    ).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
    await expect(
      api.platform.groups.putConfiguration(
        ctx('Group:putConfigurationParameters'),
        group.groupId,
        'SoracomAir',
        [{ key: 'addressPool', value: '10.0.0.0/31' }],
      ),
    ).rejects.toMatchObject({ code: 'ERR_VALIDATION' });
  });

  it("admits only the NAS operator's subscribers, and unknown IMSIs as UNKNOWN_SUBSCRIBER", async () => {
    const sim = await createSim(api);
    const other = await api.newOperator();
    const r = await api.platform.aaa.admit({
      imsi: sim.imsi,
      access: 'packet-gateway',
      operatorId: other.operatorId,
    });
    expect(r).toEqual({ ok: false, error: { code: 'UNKNOWN_SUBSCRIBER', reason: 'unknown subscriber' } });
    expect(await api.platform.aaa.admit({ imsi: '999999999999999', access: 'wifi' })).toEqual({
      ok: false,
      error: { code: 'UNKNOWN_SUBSCRIBER', reason: 'unknown subscriber' },
    });
    // The other operator learns nothing: no refusal row under either operator.
    const rows = await api.db.store.db
      .selectFrom('aaa_refusals')
      .selectAll()
      .where('sim_id', '=', sim.simId)
      .execute();
    expect(rows).toHaveLength(0);
  });
});
