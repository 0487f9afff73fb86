// The SM-DP side of an SM-SR change (SGP.02 §3.8 step 32, issue 16): the new SM-SR's ES3
// HandleSMSRChangeNotification. SM-SR2 here is a second real SmSr on its own database, holding the
// EIS SM-SR1 held (the take-over itself is tested in sm-sr-change/), reaching the same software
// eUICC. Threats: a notification that would point this SM-DP's downloads at an SM-SR of an
// attacker's choosing — sent by another SM-SR than the one it names, naming an SM-SR that is not a
// partner, for an eUICC or operator this SM-DP has no profile for, or with an EIS whose EUM
// signature fails — is refused with its reason and changes nothing.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyCertificateChain } from '../../../../src/crypto/sgp-02-certificate-chain.js';
import { hex } from '../../../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../../../src/lib/identities.js';
import type { Eis } from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import { stepsOf } from '../../../../src/platform/esim/sm-dp/download-store.js';
import { SMSR_CHANGED_STEP } from '../../../../src/platform/esim/sm-dp/sm-dp-service.js';
import { loadEis } from '../../../../src/platform/esim/sm-sr/eis-store.js';
import { SmSr } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { KeyRing } from '../../../../src/platform/secrets/key-ring.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../../helpers/database.js';
import { OTHER_MNO } from '../sm-sr/fixture.js';
import { type DpBench, dpBench, EID, MNO_ID, OPERATOR, type Sim, SMDP_ID, SMSR_ID } from './fixture.js';

const SMSR2_ID = '1.3.6.1.4.1.99999.1.3';
const COMPLETED = new Date('2026-12-07T10:00:00Z');
const sim = (n: string): Sim => ({
  iccid: iccidWithCheckDigit(`89440000000000${n}`),
  imsi: `00101000000${n}`,
  ki: hex('465b5ce8b199b49faa5f0a2ee238a6bc'),
  opc: hex('cd63cb71954a9f4e48a5994e37a02baf'),
  algorithm: 'milenage',
});
const A = sim('0701');
const B = sim('0702');

let b: DpBench;
let db2: TestDatabase;
let sr2: SmSr;
let n = 0;
const call = () => ({ functionCallIdentifier: `op-call-${++n}` });
const es2 = () => b.smdp.es2For({ operatorId: OPERATOR, mnoId: MNO_ID });
const download = (s: Sim, smsrId = SMSR_ID) =>
  es2().downloadProfile({ ...call(), eid: EID, smsrId, iccid: s.iccid, enableProfile: false });
const rows = () =>
  b.db.store.db.selectFrom('esim_dp_downloads').selectAll().orderBy('created_at').orderBy('iccid').execute();

/** The EIS as SM-SR2 holds it after the take-over (its Smsr-id; the ES3 body has no audit trail). */
async function eisAtSr2(): Promise<Eis> {
  const eis = await loadEis(db2.store.db, EID);
  if (eis === undefined) throw new Error('no EIS at SM-SR2');
  const { auditTrail: _t, ...body } = eis;
  return body;
}
const notification = async (o: { eis?: Eis; mnoId?: string } = {}) => ({
  eis: o.eis ?? (await eisAtSr2()),
  mnoId: o.mnoId ?? MNO_ID,
  completionTimestamp: COMPLETED,
});

beforeEach(async () => {
  b = await dpBench();
  await b.addSim(A);
  await b.addSim(B);
  // Profile A, downloaded through SM-SR1 before the change.
  const first = await download(A);
  expect(first.functionExecutionStatus).toEqual({ status: 'EXECUTED_SUCCESS' });
  // SM-SR2: its own database, the EIS SM-SR1 held (with profile A) under its own Smsr-id.
  db2 = await openTestDatabase();
  sr2 = new SmSr({
    store: db2.store,
    keyRing: await KeyRing.open(db2.store, randomBytes(32)),
    clock: b.clock,
    transport: b.transport,
    smsrId: SMSR2_ID,
    chains: {
      verify: async (input) =>
        verifyCertificateChain({ ...input, trustedCis: [b.pki.ci.trusted], now: b.clock.now() }),
    },
    directory: { smdp: () => undefined, operator: () => undefined },
  });
  const held = await loadEis(b.db.store.db, EID);
  if (held === undefined) throw new Error('no EIS at SM-SR1');
  const { auditTrail: _t, ...eis } = held;
  const r = await sr2
    .es1For(b.pki.eum.pem)
    .registerEIS({ functionCallIdentifier: 'reg-2', eis: { ...eis, smsrId: SMSR2_ID } });
  expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
  b.otherSmsrs.set(SMSR2_ID, () => sr2.es3For(SMDP_ID));
});
afterEach(async () => {
  await sr2?.close();
  await db2?.cleanup();
  await b.db.cleanup();
});

describe(`SM-DP: ES3 HandleSMSRChangeNotification on ${testDialect}`, () => {
  it('records the new SM-SR, relays ES2 HandleSMSRChangeNotification to the operator once, and later calls for the eUICC go through SM-SR2', async () => {
    const before = (await rows())[0];
    const body = await notification();
    await b.smdp.es3Notifications(SMSR2_ID).handleSMSRChangeNotification?.(body);

    // The installed download points at SM-SR2, with the change in its trail.
    const after = (await rows())[0];
    expect(after).toMatchObject({ download_id: before?.download_id, smsr_id: SMSR2_ID });
    expect((await stepsOf(b.db.store.db, after?.download_id ?? '')).at(-1)).toBe(SMSR_CHANGED_STEP);
    const trail = await b.db.store.db
      .selectFrom('esim_dp_steps')
      .select('detail')
      .where('step', '=', SMSR_CHANGED_STEP)
      .execute();
    expect(trail.map((t) => JSON.parse(t.detail))).toEqual([
      { previousSmsrId: SMSR_ID, smsrId: SMSR2_ID, completionTimestamp: COMPLETED.getTime() },
    ]);

    // The operator got the ES2 relay: the EIS with its own profiles, the EUM signature kept.
    const relayed = b.notified.filter((x) => x.kind === 'smsr-changed');
    expect(relayed).toHaveLength(1);
    expect(relayed[0]?.body).toEqual({
      eis: { ...body.eis, profiles: body.eis.profiles.filter((p) => p.mnoId === MNO_ID) },
      completionTimestamp: COMPLETED,
    });

    // A repeat (the SM-SR's outbox sends at least once) changes nothing and is not relayed again.
    await b.smdp.es3Notifications(SMSR2_ID).handleSMSRChangeNotification?.(body);
    await b.smdp.notifications.runDue();
    expect(b.notified.filter((x) => x.kind === 'smsr-changed')).toHaveLength(1);
    expect(
      await b.db.store.db
        .selectFrom('esim_dp_steps')
        .select('seq')
        .where('step', '=', SMSR_CHANGED_STEP)
        .execute(),
    ).toHaveLength(1);

    // A later download naming the SM-SR the eUICC left goes through SM-SR2: SM-SR2's EIS gets
    // profile B, SM-SR1's does not.
    const createIsdp = async () =>
      (
        await b.db.store.db
          .selectFrom('esim_sr_procedures')
          .select('procedure_id')
          .where('function', '=', 'CreateISDP')
          .execute()
      ).length;
    const sr1Creates = await createIsdp();
    const r = await download(B);
    expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect((await rows()).find((x) => x.iccid === B.iccid)?.smsr_id).toBe(SMSR2_ID);
    expect((await loadEis(db2.store.db, EID))?.profiles.map((p) => p.iccid)).toContain(B.iccid);
    expect((await loadEis(b.db.store.db, EID))?.profiles.map((p) => p.iccid)).not.toContain(B.iccid);
    expect(await createIsdp()).toBe(sr1Creates);
    // ES2 GetEIS naming either SM-SR answers from SM-SR2.
    for (const smsrId of [SMSR_ID, SMSR2_ID]) {
      const eis = await es2().getEIS({ ...call(), eid: EID, smsrId });
      expect(eis.eis?.smsrId).toBe(SMSR2_ID);
    }
    // An ES2 relay for profile A naming SM-SR2 (or the old one) reaches SM-SR2.
    for (const smsrId of [SMSR2_ID, SMSR_ID]) {
      const p = await es2().updateSubscriptionAddress({
        ...call(),
        eid: EID,
        iccid: A.iccid,
        smsrId,
        newSubscriptionAddress: { imsi: A.imsi, msisdn: `81700000${smsrId === SMSR_ID ? '1' : '2'}` },
      });
      expect(p.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    }
    const atSr2 = (await loadEis(db2.store.db, EID))?.profiles.find((p) => p.iccid === A.iccid);
    expect(atSr2?.subscriptionAddress).toMatchObject({ msisdn: '817000001' });
    const atSr1 = (await loadEis(b.db.store.db, EID))?.profiles.find((p) => p.iccid === A.iccid);
    expect(atSr1?.subscriptionAddress?.msisdn).toBeUndefined();
  });

  it('refuses, with its reason, a notification from another SM-SR than the one it names, from a non-partner, for an unknown eUICC or operator, or with a bad EUM signature — nothing changes', async () => {
    const body = await notification();
    const refusal = (sender: string, b2: typeof body) =>
      b.smdp.es3Notifications(sender).handleSMSRChangeNotification?.(b2);
    // Sent by SM-SR1 (or anyone) naming SM-SR2: only the new SM-SR notifies.
    await expect(refusal(SMSR_ID, body)).rejects.toThrow(/only the new SM-SR notifies/);
    // Naming an SM-SR this SM-DP has no port to (not a partner), sent by it.
    const stranger = '1.3.6.1.4.1.99999.1.66';
    await expect(refusal(stranger, { ...body, eis: { ...body.eis, smsrId: stranger } })).rejects.toThrow(
      /is not a partner of SM-DP .*role sm-sr/,
    );
    // Another eUICC (no profile of ours) — its EID is under the EUM signature, which then fails too,
    // but the unknown EID is the reason given first.
    const otherEid = `${EID.slice(0, -4)}9999`;
    await expect(
      refusal(SMSR2_ID, {
        ...body,
        eis: { ...body.eis, eumSignedInfo: { ...body.eis.eumSignedInfo, eid: otherEid } },
      }),
    ).rejects.toThrow(/knows no eUICC/);
    // Another operator's notification for this eUICC: no profile of that operator here.
    await expect(refusal(SMSR2_ID, { ...body, mnoId: OTHER_MNO })).rejects.toThrow(/installed no profile/);
    // The EUM signature does not verify (a changed signed field).
    const forged = {
      ...body,
      eis: {
        ...body.eis,
        eumSignedInfo: { ...body.eis.eumSignedInfo, platformVersion: '9.9.9' },
      },
    };
    await expect(refusal(SMSR2_ID, forged)).rejects.toThrow(/EUM signature .* does not verify/);

    expect((await rows()).map((r) => r.smsr_id)).toEqual([SMSR_ID]);
    expect(
      await b.db.store.db
        .selectFrom('esim_dp_steps')
        .select('seq')
        .where('step', '=', SMSR_CHANGED_STEP)
        .execute(),
    ).toHaveLength(0);
    expect(b.notified.filter((x) => x.kind === 'smsr-changed')).toHaveLength(0);
    // Downloads still go to SM-SR1.
    expect((await download(B)).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect((await rows()).find((x) => x.iccid === B.iccid)?.smsr_id).toBe(SMSR_ID);
  });

  it('property: any sender, named SM-SR, EID and MNO id but the partner SM-SR2 naming itself for this eUICC and operator — refused, nothing stored', async () => {
    const body = await notification();
    const ids = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(SMSR_ID, SMSR2_ID, '', ' '));
    await fc.assert(
      fc.asyncProperty(ids, ids, fc.string({ maxLength: 40 }), ids, async (sender, smsrId, eid, mnoId) => {
        // The one accepted notification, and the eUICC's present SM-SR naming itself (a no-op).
        fc.pre(
          !(sender === smsrId && [SMSR_ID, SMSR2_ID].includes(smsrId) && eid === EID && mnoId === MNO_ID),
        );
        const b2 = {
          ...body,
          mnoId,
          eis: { ...body.eis, smsrId, eumSignedInfo: { ...body.eis.eumSignedInfo, eid } },
        };
        await expect(b.smdp.es3Notifications(sender).handleSMSRChangeNotification?.(b2)).rejects.toThrow(
          /^refused: /,
        );
      }),
      { numRuns: 200 },
    );
    expect((await rows()).map((r) => r.smsr_id)).toEqual([SMSR_ID]);
    expect(b.notified.filter((x) => x.kind === 'smsr-changed')).toHaveLength(0);
  });
});
