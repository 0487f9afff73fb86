// The SM-SR's ES1/ES3/ES4 functions on both databases, in front of the software eUICC (the real ES5
// APDUs on the real card model). Threats and failures covered: an EIS not signed by its EUM or whose
// ECASD does not chain to a trusted CI registered; ISD-R keys readable in the database or an answer;
// an SM-DP or operator acting on a profile that is not theirs; a command sent against POL2; two
// procedures interleaving on one eUICC; a crash between a command and its answer leaving a profile
// half registered; a hostile notification crashing the SM-SR.

import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIFE_CYCLE } from '../../../../src/card/euicc/euicc-state.js';
import { isdpAid } from '../../../../src/card/euicc/sgp-02-annex-h.js';
import { encodeNotification } from '../../../../src/lib/sgp-02-es5.js';
import { REASON_CODES, SUBJECT_CODES } from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import { EUICC_BUSY } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { euiccOf, SECOND_PROFILE } from '../../../card/euicc/fixture.js';
import { newKeyPair } from '../../../helpers/esim-pki.js';
import {
  type Bench,
  BOOTSTRAP,
  bench,
  EID,
  eisOf,
  ICCID,
  MNO_ID,
  OTHER_MNO,
  SMDP_ID,
  settle,
} from './fixture.js';

const SECOND_ICCID = SECOND_PROFILE.identity.iccid;
const SECOND_AID = isdpAid(0x11);
let b: Bench;
let n = 0;
const fc_ = () => ({ functionCallIdentifier: `call-${++n}` });

beforeEach(async () => {
  b = await bench();
});
afterEach(() => b.db.cleanup());

const es3 = () => b.smsr.es3For(SMDP_ID);
const es4 = () => b.smsr.es4For(MNO_ID);
const isdps = () => euiccOf(b.card).snapshot().isdps;
const profiles = async () => {
  const r = await es4().getEIS({ ...fc_(), eid: EID });
  return Object.fromEntries((r.eis?.profiles ?? []).map((p) => [p.iccid, p.state]));
};
const step = async (fn: string) =>
  (
    await b.db.store.db
      .selectFrom('esim_sr_procedures')
      .select('step')
      .where('function', '=', fn)
      .where('active_eid', '=', EID)
      .executeTakeFirst()
  )?.step;

/** CreateISDP + the profile installed on the card (the ES8 part is the SM-DP's) + ProfileDownloadCompleted. */
async function download(pol2 = { rules: [] as never[] }) {
  const created = await es3().createISDP({
    ...fc_(),
    eid: EID,
    iccid: SECOND_ICCID,
    mnoId: MNO_ID,
    requiredMemory: 32_000,
  });
  expect(created.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  const installed = euiccOf(b.card).installProfile(created.isdPAid, SECOND_PROFILE);
  expect(installed.ok).toBe(true);
  const done = await es3().profileDownloadCompleted({
    ...fc_(),
    eid: EID,
    iccid: SECOND_ICCID,
    subscriptionAddress: { imsi: SECOND_PROFILE.identity.imsi },
    pol2,
  });
  expect(done.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  return created.isdPAid;
}

/** Runs a profile change to its end: the command, the card's REFRESH and attach, the notification. */
async function change<T>(call: Promise<T>): Promise<T> {
  await settle(
    async () =>
      (await step('EnableProfile')) === 'awaiting-notification' ||
      (await step('DisableProfile')) === 'awaiting-notification',
  );
  expect(await b.attach()).toBe(1);
  return call;
}

describe('ES1 RegisterEIS', () => {
  it('registers an EIS signed by its EUM whose ECASD chains to the CI; no key value is readable', async () => {
    const r = await es4().getEIS({ ...fc_(), eid: EID });
    expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(r.eis?.eumSignedInfo.eid).toBe(EID);
    expect(r.eis?.isdR.keysets.every((k) => k.keys.length === 0)).toBe(true);
    const rows = JSON.stringify(await b.db.store.db.selectFrom('esim_sr_keysets').selectAll().execute());
    const eisRow = JSON.stringify(await b.db.store.db.selectFrom('esim_sr_eis').selectAll().execute());
    for (const secret of ['000102030405060708090a0b0c0d0e0f', '101112131415161718191a1b1c1d1e1f']) {
      expect(rows.toLowerCase()).not.toContain(secret);
      expect(eisRow.toLowerCase()).not.toContain(secret);
      expect(JSON.stringify(r).toLowerCase()).not.toContain(secret);
    }
    const again = await b.smsr.es1For(b.pki.eum.pem).registerEIS({ ...fc_(), eis: b.eis });
    expect(again.functionExecutionStatus.statusCodeData).toMatchObject({
      subject: SUBJECT_CODES.EID,
      reason: REASON_CODES.ALREADY_IN_USE,
    });
  });

  it('refuses a tampered EIS, another EUM, an ECASD of another EID, another SM-SR, an unknown CI', async () => {
    const fresh = await bench({ register: false });
    try {
      const es1 = fresh.smsr.es1For(fresh.pki.eum.pem);
      const refusal = async (eis: typeof fresh.eis, pem = fresh.pki.eum.pem) =>
        (await fresh.smsr.es1For(pem).registerEIS({ ...fc_(), eis })).functionExecutionStatus;
      const tampered = {
        ...fresh.eis,
        eumSignedInfo: { ...fresh.eis.eumSignedInfo, platformVersion: '9.9.9' },
      };
      expect(await refusal(tampered)).toMatchObject({
        status: 'FAILED',
        statusCodeData: { subject: SUBJECT_CODES.EIS, reason: REASON_CODES.VERIFICATION_FAILED },
      });
      const otherEum = eisOf(
        fresh.file,
        fresh.pki,
        fresh.pki.ecasd(EID).certificate,
        newKeyPair().privateKey,
      );
      expect((await refusal(otherEum)).statusCodeData?.reason).toBe(REASON_CODES.VERIFICATION_FAILED);
      const wrongEid = eisOf(
        fresh.file,
        fresh.pki,
        fresh.pki.ecasd('89049032123451234512345678901282').certificate,
      );
      expect((await refusal(wrongEid)).statusCodeData).toMatchObject({
        subject: SUBJECT_CODES.ECASD,
        reason: REASON_CODES.INVALID,
      });
      const otherSmsr = { ...fresh.eis, smsrId: '1.2.3' };
      expect((await refusal(otherSmsr)).statusCodeData?.subject).toBe(SUBJECT_CODES.SM_SR);
      // An EUM certificate from another CI: the EIS signature verifies, the chain does not.
      const foreign = await (await import('../../../helpers/esim-pki.js')).createTestPki({
        ciName: 'CN=Other CI',
      });
      const foreignEis = eisOf(fresh.file, foreign, foreign.ecasd(EID).certificate, foreign.eum.privateKey);
      const chainRefusal = await refusal(foreignEis, foreign.eum.pem);
      expect(chainRefusal.statusCodeData).toMatchObject({
        subject: SUBJECT_CODES.ECASD,
        reason: REASON_CODES.VERIFICATION_FAILED,
      });
      expect(chainRefusal.statusCodeData?.message).toMatch(/^CERT_/);
      expect((await es1.registerEIS({ ...fc_(), eis: fresh.eis })).functionExecutionStatus.status).toBe(
        'EXECUTED_SUCCESS',
      );
      expect(await fresh.db.store.db.selectFrom('esim_sr_eis').select('eid').execute()).toHaveLength(1);
    } finally {
      await fresh.db.cleanup();
    }
  });
});

describe('profile life cycle on the card', () => {
  it('CreateISDP → ProfileDownloadCompleted → Enable (notification, confirmation) → Disable → Delete', async () => {
    const aid = await download();
    expect(aid).toBe(SECOND_AID);
    expect(await profiles()).toEqual({ [ICCID]: 'Enabled', [SECOND_ICCID]: 'Disabled' });

    const enabled = await change(es3().enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID }));
    expect(enabled.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(isdps().find((i) => i.aid === SECOND_AID)?.state).toBe(LIFE_CYCLE.ENABLED);
    expect(euiccOf(b.card).snapshot().notifications).toEqual([]); // confirmed with 3A08
    expect(await profiles()).toEqual({ [ICCID]: 'Disabled', [SECOND_ICCID]: 'Enabled' });
    expect(b.sent).toEqual(
      expect.arrayContaining([
        { to: 'smdp', kind: 'enabled', iccid: SECOND_ICCID },
        { to: 'operator', kind: 'enabled', iccid: SECOND_ICCID },
        { to: 'operator', kind: 'disabled', iccid: ICCID },
      ]),
    );

    const disabled = await change(es4().disableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID }));
    expect(disabled.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(await profiles()).toEqual({ [ICCID]: 'Enabled', [SECOND_ICCID]: 'Disabled' });

    const deleted = await es4().deleteProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID });
    expect(deleted.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(isdps().map((i) => i.aid)).toEqual([BOOTSTRAP]);
    expect(await profiles()).toEqual({ [ICCID]: 'Enabled' });
    expect(b.sent).toContainEqual({ to: 'operator', kind: 'deleted', iccid: SECOND_ICCID });

    const trail = (await es4().getEIS({ ...fc_(), eid: EID })).eis?.auditTrail?.records.map(
      (r) => r.operationType,
    );
    expect(trail).toEqual(expect.arrayContaining(['0200', '0300', '0400']));
    const smdpTrail = (await es3().getEIS({ ...fc_(), eid: EID })).eis?.auditTrail?.records.map(
      (r) => r.operationType,
    );
    expect(smdpTrail).toEqual(expect.arrayContaining(['0100', '0200']));
  });

  it('the card refuses: POL1 of the bootstrap forbids its deletion, the enabled profile cannot be deleted', async () => {
    const s0 = b.transport.scripts.length;
    const r = await es4().deleteProfile({ ...fc_(), eid: EID, iccid: ICCID });
    expect(r.functionExecutionStatus).toMatchObject({
      status: 'FAILED',
      statusCodeData: { reason: REASON_CODES.REFUSED },
    });
    expect(b.transport.scripts).toHaveLength(s0); // refused by the EIS state before any command
    await download();
    await change(es3().enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID }));
    const scripts = b.transport.scripts.length;
    const pol1 = await es4().deleteProfile({ ...fc_(), eid: EID, iccid: ICCID });
    // The bootstrap is the fall-back profile: the ISD-R answers 6985, the EIS keeps it.
    expect(pol1.functionExecutionStatus.status).toBe('FAILED');
    expect(b.transport.scripts.length).toBe(scripts + 1);
    expect(await profiles()).toMatchObject({ [ICCID]: 'Disabled' });
  });

  it('AuditEIS follows the card: a profile installed behind the SM-SR becomes Disabled', async () => {
    const created = await es3().createISDP({
      ...fc_(),
      eid: EID,
      iccid: SECOND_ICCID,
      mnoId: MNO_ID,
      requiredMemory: 32_000,
    });
    expect(await profiles()).toMatchObject({ [SECOND_ICCID]: 'Created' });
    euiccOf(b.card).installProfile(created.isdPAid, SECOND_PROFILE);
    const audit = await es3().auditEIS({ ...fc_(), eid: EID, iccids: [SECOND_ICCID] });
    expect(audit.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(audit.eis?.profiles.map((p) => [p.iccid, p.state])).toEqual([[SECOND_ICCID, 'Disabled']]);
    expect(audit.eis?.lastAuditDate?.getTime()).toBe(b.clock.now());
  });

  it('POL2: Not-Allowed refuses before any command; Auto-Delete deletes the profile once disabled', async () => {
    await download({
      rules: [{ subject: 'PROFILE', action: 'ENABLE', qualification: 'Not-Allowed' }] as never[],
    });
    const before = b.transport.scripts.length;
    const refused = await es4().enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID });
    expect(refused.functionExecutionStatus).toMatchObject({
      status: 'FAILED',
      statusCodeData: { subject: SUBJECT_CODES.PROFILE_ICCID, reason: REASON_CODES.REFUSED },
    });
    expect(b.transport.scripts.length).toBe(before);

    const pol2 = {
      rules: [{ subject: 'PROFILE', action: 'DISABLE', qualification: 'Auto-Delete' }],
    } as const;
    expect(
      (await es4().updatePolicyRules({ ...fc_(), eid: EID, iccid: SECOND_ICCID, pol2 }))
        .functionExecutionStatus.status,
    ).toBe('EXECUTED_SUCCESS');
    await change(es4().enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID }));
    const disabled = await change(es4().disableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID }));
    expect(disabled.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(isdps().map((i) => i.aid)).toEqual([BOOTSTRAP]);
    expect(await profiles()).toEqual({ [ICCID]: 'Enabled' });
    expect(b.sent).toContainEqual({ to: 'smdp', kind: 'deleted', iccid: SECOND_ICCID });

    // Disabling the enabled profile against its POL2.
    await es4().updatePolicyRules({
      ...fc_(),
      eid: EID,
      iccid: ICCID,
      pol2: { rules: [{ subject: 'PROFILE', action: 'DISABLE', qualification: 'Not-Allowed' }] },
    });
    const n0 = b.transport.scripts.length;
    expect(
      (await es4().disableProfile({ ...fc_(), eid: EID, iccid: ICCID })).functionExecutionStatus.status,
    ).toBe('FAILED');
    expect(b.transport.scripts.length).toBe(n0);
  });

  it('a profile is reachable only by its SM-DP and its operator', async () => {
    await download();
    const other = b.smsr.es4For(OTHER_MNO);
    const r = await other.enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID });
    expect(r.functionExecutionStatus.statusCodeData).toMatchObject({ reason: REASON_CODES.NOT_ALLOWED });
    const otherDp = b.smsr.es3For('1.2.3.4');
    const s = await otherDp.sendData({
      ...fc_(),
      eid: EID,
      sdAid: SECOND_AID,
      data: Uint8Array.of(0x80, 0xca, 0x00, 0x66, 0x00),
    });
    expect(s.functionExecutionStatus.statusCodeData).toMatchObject({ reason: REASON_CODES.NOT_ALLOWED });
    const unknown = await es4().getEIS({ ...fc_(), eid: '89049032123451234512345678901282' });
    expect(unknown.functionExecutionStatus.statusCodeData).toMatchObject({
      subject: SUBJECT_CODES.EID,
      reason: REASON_CODES.UNKNOWN,
    });
  });
});

describe('one procedure per eUICC, durability', () => {
  it('a second function while one runs gets FAILED busy; the eUICC is free again after', async () => {
    await download();
    const enabling = es4().enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID });
    await settle(async () => (await step('EnableProfile')) === 'awaiting-notification');
    const busy = await es3().auditEIS({ ...fc_(), eid: EID, iccids: [] });
    expect(busy.functionExecutionStatus).toEqual(EUICC_BUSY);
    const racing = await Promise.all(
      [1, 2, 3].map(() => es4().disableProfile({ ...fc_(), eid: EID, iccid: ICCID })),
    );
    expect(
      racing.every(
        (r) => r.functionExecutionStatus.statusCodeData?.message === EUICC_BUSY.statusCodeData?.message,
      ),
    ).toBe(true);
    await b.attach();
    expect((await enabling).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect((await es3().auditEIS({ ...fc_(), eid: EID, iccids: [] })).functionExecutionStatus.status).toBe(
      'EXECUTED_SUCCESS',
    );
  });

  it('a restart after the card created the ISD-P but before the answer: recover() registers it as Created', async () => {
    const s0 = b.transport.scripts.length;
    b.transport.mode = 'crash-after';
    void es3().createISDP({ ...fc_(), eid: EID, iccid: SECOND_ICCID, mnoId: MNO_ID, requiredMemory: 32_000 });
    await settle(
      async () => (await step('CreateISDP')) === 'install-sent' && b.transport.scripts.length === s0 + 1,
    );
    expect(await profiles()).toEqual({ [ICCID]: 'Enabled' }); // In-Creation is not shown
    const restarted = b.restart();
    expect(await restarted.recover()).toBe(1);
    expect(await profiles()).toEqual({ [ICCID]: 'Enabled', [SECOND_ICCID]: 'Created' });
    const proc = await b.db.store.db
      .selectFrom('esim_sr_procedures')
      .selectAll()
      .where('function', '=', 'CreateISDP')
      .executeTakeFirstOrThrow();
    expect(proc.active_eid).toBeNull();
    expect(JSON.parse(proc.result ?? '{}').status).toBe('EXECUTED_SUCCESS');
  });

  it('a restart before the INSTALL reached the card: the entry goes, the eUICC is free', async () => {
    b.transport.mode = 'crash-before';
    void es3().createISDP({ ...fc_(), eid: EID, iccid: SECOND_ICCID, mnoId: MNO_ID, requiredMemory: 32_000 });
    await settle(async () => (await step('CreateISDP')) === 'install-sent');
    const restarted = b.restart();
    await restarted.recover();
    expect(await profiles()).toEqual({ [ICCID]: 'Enabled' });
    expect(await b.db.store.db.selectFrom('esim_sr_profiles').select('iccid').execute()).toHaveLength(1);
    expect(isdps().map((i) => i.aid)).toEqual([BOOTSTRAP]);
    const r = await restarted
      .es3For(SMDP_ID)
      .createISDP({ ...fc_(), eid: EID, iccid: SECOND_ICCID, mnoId: MNO_ID, requiredMemory: 32_000 });
    expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  });

  it('a restart after EnableProfile ran on the card: the procedure resumes and ends with the notification', async () => {
    await download();
    b.transport.mode = 'crash-after';
    void es4().enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID });
    await settle(
      async () =>
        (await step('EnableProfile')) === 'command-sent' &&
        isdps().some((i) => i.aid === SECOND_AID && i.state === LIFE_CYCLE.ENABLED),
    );
    const restarted = b.restart();
    expect(await restarted.recover()).toBe(0); // still waiting for the notification
    expect(await step('EnableProfile')).toBe('awaiting-notification');
    await b.attach(restarted);
    expect(await step('EnableProfile')).toBeUndefined();
    expect(await profiles()).toEqual({ [ICCID]: 'Disabled', [SECOND_ICCID]: 'Enabled' });
    expect(euiccOf(b.card).snapshot().notifications).toEqual([]);
  });

  it('a notification that never comes: the validity period ends the procedure EXPIRED', async () => {
    await download();
    const enabling = es4().enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID, validityPeriod: 60 });
    await settle(async () => (await step('EnableProfile')) === 'awaiting-notification');
    expect(await b.smsr.expireProcedures()).toBe(0);
    b.clock.advance(60_000);
    expect(await b.smsr.expireProcedures()).toBe(1);
    expect((await enabling).functionExecutionStatus.status).toBe('EXPIRED');
  });

  it('an unreachable eUICC: FAILED with the transport code, nothing half registered', async () => {
    b.transport.mode = 'down';
    const r = await es3().createISDP({
      ...fc_(),
      eid: EID,
      iccid: SECOND_ICCID,
      mnoId: MNO_ID,
      requiredMemory: 32_000,
    });
    expect(r.functionExecutionStatus).toMatchObject({
      status: 'FAILED',
      statusCodeData: { subject: SUBJECT_CODES.EUICC, reason: REASON_CODES.EXECUTION_ERROR },
    });
    expect(r.functionExecutionStatus.statusCodeData?.message).toContain('ES5_TIMEOUT');
    expect(await profiles()).toEqual({ [ICCID]: 'Enabled' });
    b.transport.mode = 'up';
    const audit = await es4().auditEIS({ ...fc_(), eid: EID, iccids: [] });
    expect(audit.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(await b.db.store.db.selectFrom('esim_sr_profiles').select('iccid').execute()).toHaveLength(1);
  });
});

describe('default notifications', () => {
  it('a repeated notification is confirmed again and applied once', async () => {
    await download();
    await change(es4().enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID }));
    const sent = b.sent.length;
    const e1 = encodeNotification({ eid: EID, type: 2, aid: SECOND_AID, seq: 1 });
    if (!e1.ok) throw new Error('encode');
    const trail = async () => (await b.db.store.db.selectFrom('esim_sr_audit').select('id').execute()).length;
    const n0 = await trail();
    expect((await b.smsr.handleNotification(EID, e1.value)).status).toBe('EXECUTED_SUCCESS');
    expect(b.sent.length).toBe(sent);
    expect(await trail()).toBe(n0);
  });

  it('a notification the card kept from before (an eUICC declaration never confirmed) does not answer the Enable: confirmed, changes nothing; the change’s own ends it', async () => {
    // A card whose first attach was never confirmed — its declaration went to another SM-SR (before
    // an SM-SR change) or was lost — so it still holds it (sequence 1, naming the bootstrap profile).
    await b.db.cleanup();
    b = await bench({ register: false });
    const registered = await b.smsr
      .es1For(b.pki.eum.pem)
      .registerEIS({ functionCallIdentifier: 'reg-1', eis: b.eis });
    expect(registered.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const euicc = euiccOf(b.card);
    euicc.reset();
    expect(euicc.connectivity(0).send.map((x) => [x.type, x.aid])).toEqual([[1, BOOTSTRAP]]);
    await download();
    const enabling = es4().enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID });
    await settle(async () => (await step('EnableProfile')) === 'awaiting-notification');
    const sentBefore = b.sent.length;
    // REFRESH, attach: the old declaration first, then the profile change (type 02, the new profile).
    expect(await b.attach()).toBe(2);
    const r = await enabling;
    expect(r.functionExecutionStatus, JSON.stringify(r)).toEqual({ status: 'EXECUTED_SUCCESS' });
    expect(await profiles()).toEqual({ [ICCID]: 'Disabled', [SECOND_ICCID]: 'Enabled' });
    // Both confirmed: the card holds nothing; the enable notified and audited once.
    expect(euicc.snapshot().notifications).toEqual([]);
    expect(b.sent.slice(sentBefore).filter((x) => x.kind === 'enabled')).toHaveLength(2); // SM-DP + operator
    const audited = await b.db.store.db
      .selectFrom('esim_sr_audit')
      .select('operation_type')
      .where('operation_type', 'in', ['0200', '0300'])
      .execute();
    expect(audited.map((a) => a.operation_type).sort()).toEqual(['0200', '0300']);
  });

  it('the notification overtaking the PoR still ends the Enable (the change is claimed at command-sent)', async () => {
    await download();
    b.transport.beforeAnswer = () => b.attach();
    const r = await es4().enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID });
    expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(await profiles()).toEqual({ [ICCID]: 'Disabled', [SECOND_ICCID]: 'Enabled' });
    expect(euiccOf(b.card).snapshot().notifications).toEqual([]);
  });

  it('two deliveries of one notification racing: applied and notified once, the procedure ends once', async () => {
    await download();
    const enabling = es4().enableProfile({ ...fc_(), eid: EID, iccid: SECOND_ICCID });
    await settle(async () => (await step('EnableProfile')) === 'awaiting-notification');
    const euicc = euiccOf(b.card);
    euicc.reset();
    const [n1] = euicc.connectivity(0).send;
    if (n1 === undefined) throw new Error('no notification');
    const e1 = encodeNotification({ eid: EID, type: n1.type, aid: n1.aid, seq: n1.seq });
    if (!e1.ok) throw new Error('encode');
    const sentBefore = b.sent.length;
    await Promise.all([b.smsr.handleNotification(EID, e1.value), b.smsr.handleNotification(EID, e1.value)]);
    expect((await enabling).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(b.sent.slice(sentBefore).filter((x) => x.kind === 'enabled')).toHaveLength(2); // SM-DP + operator, once each
    const enables = await b.db.store.db
      .selectFrom('esim_sr_audit')
      .select('id')
      .where('operation_type', '=', '0200')
      .execute();
    expect(enables).toHaveLength(1);
    expect(euicc.snapshot().notifications).toEqual([]);
  });

  it('hostile notification bytes always give a status, never a throw or an EIS change', async () => {
    const before = await profiles();
    const e1 = encodeNotification({ eid: EID, type: 2, aid: SECOND_AID, seq: 7 });
    if (!e1.ok) throw new Error('encode');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.tuple(fc.nat(e1.value.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const m = e1.value.slice();
            m[i] = (m[i] as number) ^ x;
            return m.subarray(0, i === 0 ? m.length : m.length);
          }),
        ),
        async (bytes) => {
          const s = await b.smsr.handleNotification(EID, bytes);
          expect(['EXECUTED_SUCCESS', 'FAILED']).toContain(s.status);
        },
      ),
      { numRuns: 300 },
    );
    // Mutations that still decode name an unknown ISD-P or another EID: the known profiles keep their state.
    expect(Object.keys(await profiles())).toEqual(Object.keys(before));
  });
});

describe('progress', () => {
  it('each function reports running then its end, keyed by the FunctionCallIdentifier; busy is reported failed', async () => {
    const reports: { functionCallIdentifier: string; step: string; state: string }[] = [];
    const tracked = b.restartWith({ progress: { report: async (r) => void reports.push(r) } });
    await tracked.es3For(SMDP_ID).createISDP({
      functionCallIdentifier: 'op-1',
      eid: EID,
      iccid: SECOND_ICCID,
      mnoId: MNO_ID,
      requiredMemory: 10_000,
    });
    await settle(async () => reports.length >= 2);
    expect(reports.map((r) => [r.functionCallIdentifier, r.step, r.state])).toEqual([
      ['op-1', 'CreateISDP', 'running'],
      ['op-1', 'CreateISDP', 'succeeded'],
    ]);
    b.transport.mode = 'crash-before';
    void tracked.es4For(MNO_ID).auditEIS({ functionCallIdentifier: 'op-2', eid: EID, iccids: [] });
    await settle(async () => (await step('AuditEIS')) === 'audit-sent' && reports.length >= 3);
    await tracked.es4For(MNO_ID).auditEIS({ functionCallIdentifier: 'op-3', eid: EID, iccids: [] });
    await settle(async () => (await step('AuditEIS')) === 'audit-sent' && reports.length >= 4);
    expect(reports.slice(2).map((r) => [r.functionCallIdentifier, r.state])).toEqual([
      ['op-2', 'running'],
      ['op-3', 'failed'],
    ]);
  });
});

describe('hostile requests', () => {
  it('arbitrary EIDs, ICCIDs and sizes always give a status, never a throw, and leave the eUICC free', async () => {
    const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(EID, ICCID, SECOND_ICCID, '', '89'));
    await fc.assert(
      fc.asyncProperty(text, text, fc.integer(), async (eid, iccid, memory) => {
        const rs = [
          await es4().enableProfile({ ...fc_(), eid, iccid }),
          await es4().deleteProfile({ ...fc_(), eid, iccid }),
          await es3().createISDP({ ...fc_(), eid, iccid: `${iccid}`, mnoId: MNO_ID, requiredMemory: memory }),
          await es4().getEIS({ ...fc_(), eid }),
        ];
        for (const r of rs)
          expect(['EXECUTED_SUCCESS', 'FAILED']).toContain(r.functionExecutionStatus.status);
        expect(await step('EnableProfile')).toBeUndefined();
      }),
      { numRuns: 60 },
    );
    // Whatever was created on the way is either on the card and in the EIS, or in neither.
    const audit = await es3().auditEIS({ ...fc_(), eid: EID, iccids: [] });
    expect(audit.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    const onCard = isdps()
      .map((i) => i.aid)
      .sort();
    const rows = await b.db.store.db
      .selectFrom('esim_sr_profiles')
      .select('isdp_aid')
      .where('eid', '=', EID)
      .execute();
    expect(rows.map((r) => r.isdp_aid).sort()).toEqual(onCard);
  });
});
