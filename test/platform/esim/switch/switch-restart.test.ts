// A switch survives the restart of the platform that runs it (issue 16: "runs asynchronously and
// durably"): each step is stored before its message leaves, and recover() at the next start goes on
// from there. Threats: a restart that leaves the operation running forever, or that ends it with an
// outcome the SM-SRs and the card do not bear out; a resumed switch that downloads a second profile
// or runs the SM-SR change twice. Two deployments in process (fixture.ts), SQLite or PostgreSQL.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MessageBodies } from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import type { EsimOperationView } from '../../../../src/platform/esim/operations/operations-service.js';
import { loadEis } from '../../../../src/platform/esim/sm-sr/eis-store.js';
import type { SimView } from '../../../../src/platform/sims/model.js';
import { createTestPki, type TestPki } from '../../../helpers/esim-pki.js';
import { EID, PROFILE_B, PROFILE_TYPE, SMDP2_ID, SMSR2_ID, type SwitchRig, switchRig } from './fixture.js';

const B = PROFILE_B.identity.iccid;
let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

let s: SwitchRig | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const start = (r: SwitchRig) =>
  r.op1
    .call({
      method: 'POST',
      url: `/v1/sims/${EID}/switch_operator`,
      payload: { targetSmsrId: SMSR2_ID, targetSmdpId: SMDP2_ID, profileType: PROFILE_TYPE },
    })
    .then((res) => {
      expect(res.statusCode, res.body).toBe(202);
      return (res.json() as EsimOperationView).operationId;
    });

/** Polls (by time, generous deadline) until `check` holds. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const switchStep = async (r: SwitchRig, id: string) =>
  (
    await r.op1.platform.store.db
      .selectFrom('esim_switches')
      .select('step')
      .where('operation_id', '=', id)
      .executeTakeFirst()
  )?.step;

describe('a switch across a restart of the platform running it', () => {
  it('resumed in the download step, the target answers the download it already ran: one profile, one download', async () => {
    const r = await switchRig(pki);
    s = r;
    // The target runs the download, but its answer never reaches operator 1 (the process died).
    let lost: ((a: MessageBodies['ES2-DownloadProfileResponse']) => void) | undefined;
    r.answer = async (run) => {
      await run();
      r.answer = undefined;
      return new Promise((resolve) => {
        lost = () => resolve({ functionExecutionStatus: { status: 'FAILED' } });
      });
    };
    const id = await start(r);
    await until(async () => lost !== undefined, 'the target ran the download');
    expect(await switchStep(r, id)).toBe('download');
    const dp = () => r.op2.platform.store.db.selectFrom('esim_dp_downloads').selectAll().execute();
    expect((await dp()).map((d) => d.status)).toEqual(['EXECUTED_SUCCESS']);

    // The platform restarts: a new operator layer; recover() takes the switch up where it stopped.
    const ops = r.restartOperator1();
    ops.switchTiming = { ...ops.switchTiming, downloadRetryMs: [] };
    expect(await ops.recover({ switchIdleMs: 0 })).toBe(1);
    await ops.drained();
    const op = await r.ended(id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    expect(op.iccid).toBe(B);
    expect(op.steps.map((x) => [x.name, x.state])).toEqual([
      ['ES4.PrepareSMSRChange', 'succeeded'],
      ['ES4.SMSRChange', 'succeeded'],
      ['ES2.DownloadProfile', 'succeeded'],
      ['EnableProfile', 'succeeded'],
    ]);
    // Asked twice under one FunctionCallIdentifier, downloaded once.
    expect(r.downloads).toEqual([id, id]);
    expect(await dp()).toHaveLength(1);
    const two = (await r.op2.call({ method: 'GET', url: `/v1/sims/${EID}` })).json() as SimView;
    expect(two.activeProfileId).toBe(B);
    // The old run's answer arriving late changes nothing.
    lost?.({ functionExecutionStatus: { status: 'FAILED' } });
    expect((await r.ended(id)).status).toBe('succeeded');
  }, 240_000);

  it('cut during the SM-SR change after its commit: both SM-SRs recover, the resumed switch sees it handed over and downloads', async () => {
    const r = await switchRig(pki);
    s = r;
    // SM-SR2 dies with FinaliseISDRhandover in flight (after its commit point): SMSRChange at SM-SR1
    // never answers, and operator 1's platform goes down with it.
    r.rig.tamper = (fn) => {
      if (fn === 'CreateAdditionalKeySet') r.rig.sr2.transport.hang = 'before';
      return undefined;
    };
    const id = await start(r);
    await until(
      async () =>
        (
          await r.rig.sr2.db.store.db
            .selectFrom('esim_sr_procedures')
            .select('step')
            .where('function', '=', 'ReceiveSMSRChange')
            .where('active_eid', '=', EID)
            .executeTakeFirst()
        )?.step === 'finalise-sent',
      'SM-SR2 committed and sent FinaliseISDRhandover',
    );
    expect(await switchStep(r, id)).toBe('smsr-change');
    r.rig.tamper = undefined;
    await r.restart();
    await r.rig.sr2.change.recover();
    await r.rig.sr1.change.recover();
    expect(await loadEis(r.rig.sr1.db.store.db, EID)).toBeUndefined();

    const ops = r.restartOperator1();
    expect(await ops.recover({ switchIdleMs: 0 })).toBe(1);
    await ops.drained();
    const op = await r.ended(id);
    expect(op.status, JSON.stringify(op)).toBe('succeeded');
    const change = op.steps.find((x) => x.name === 'ES4.SMSRChange');
    expect(change?.status?.message).toMatch(/before the restart/);
    expect(op.steps.map((x) => x.name)).toEqual([
      'ES4.PrepareSMSRChange',
      'ES4.SMSRChange',
      'ES2.DownloadProfile',
      'EnableProfile',
    ]);
    const one = (await r.op1.call({ method: 'GET', url: `/v1/sims/${EID}` })).json() as SimView;
    expect(one.handedOver).toMatchObject({ smsrId: SMSR2_ID });
    const two = (await r.op2.call({ method: 'GET', url: `/v1/sims/${EID}` })).json() as SimView;
    expect(two.activeProfileId).toBe(B);
    // One SM-SR change ran: SM-SR1 has a single SMSRChange procedure.
    const changes = await r.rig.sr1.db.store.db
      .selectFrom('esim_sr_procedures')
      .select('procedure_id')
      .where('function', '=', 'SMSRChange')
      .execute();
    expect(changes).toHaveLength(1);
  }, 240_000);

  it('a live run is not taken over: recover() leaves a switch whose row moved recently', async () => {
    const r = await switchRig(pki);
    s = r;
    let release: (() => void) | undefined;
    r.answer = async (run) => {
      await new Promise<void>((go) => {
        release = go;
      });
      return run();
    };
    const id = await start(r);
    await until(async () => release !== undefined, 'the download was asked for');
    // Another instance starting now (default idle bound) does not resume it.
    expect(await r.op1.platform.esimOperations.recover()).toBe(0);
    release?.();
    expect((await r.ended(id)).status).toBe('succeeded');
    expect(r.downloads).toEqual([id]);
  }, 240_000);
});
