// SM-SR change, what follows the commit point and what the card's reach does to it (SGP.02 §3.8,
// issue 16): HandleSMSRChangeNotification (steps 31–32) through the durable outbox,
// UpdateSMSRAddressingParameters (step 26), the eUICC out of reach during the handover (ES5 sent
// again until the validity period), the change's own expiry, and the KVN SM-SR2 picks.
// Threats: an operator or SM-DP never told that another SM-SR manages the eUICC (its next request
// goes to the old one), or told twice; a card out of reach that leaves both SM-SRs — or neither — in
// charge; a generic expiry job cutting a change short after the commit; two deployments with the same
// default KVN asking the card to replace the key set the current SM-SR still uses.

import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifyEisSignature } from '../../../../src/platform/esim/es-soap/sgp-02-eis-signature.js';
import type { FunctionExecutionStatus } from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import type { Eis } from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import { loadEis } from '../../../../src/platform/esim/sm-sr/eis-store.js';
import {
  deadlineOf,
  freeScp80Kvn,
  MAX_VALIDITY_SECONDS,
  SM_SR_CHANGE_FUNCTIONS,
} from '../../../../src/platform/esim/sm-sr-change/sm-sr-change-service.js';
import { euiccOf } from '../../../card/euicc/fixture.js';
import { createTestPki, type TestPki } from '../../../helpers/esim-pki.js';
import {
  type Deployment,
  EID,
  MNO_ID,
  POR_TIMEOUT_MS,
  type Rig,
  SMSR1_ID,
  SMSR2_ID,
  SMSR2_KVN,
  twoSmSrs,
  VALIDITY_MS,
} from './fixture.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function start(o?: Parameters<typeof twoSmSrs>[1]): Promise<Rig> {
  const r = await twoSmSrs(pki, o);
  rig = r;
  return r;
}

/** Each test opens two databases and runs ~10 SCP80 round trips through the card model. */
const TEST_MS = 120_000;

let calls = 0;
const fcid = () => `fcc-${++calls}`;
const prepare = (r: Rig, at: Deployment = r.sr2, current = SMSR1_ID) =>
  at.change
    .es4For(MNO_ID)
    .prepareSMSRChange({ functionCallIdentifier: fcid(), eid: EID, currentSmsrId: current })
    .then((a) => a.functionExecutionStatus);
const change = (r: Rig, o: { at?: Deployment; target?: string; validityPeriod?: number } = {}) =>
  (o.at ?? r.sr1).change
    .es4For(MNO_ID)
    .smsrChange({
      functionCallIdentifier: fcid(),
      eid: EID,
      targetSmsrId: o.target ?? SMSR2_ID,
      ...(o.validityPeriod === undefined ? {} : { validityPeriod: o.validityPeriod }),
    })
    .then((a) => a.functionExecutionStatus);
const audit = (at: Deployment) =>
  at.smsr
    .es4For(MNO_ID)
    .auditEIS({ functionCallIdentifier: fcid(), eid: EID, iccids: [] })
    .then((a) => a.functionExecutionStatus);
const cardKvns = (r: Rig) => {
  const s = euiccOf(r.d.card).persistentState();
  return { scp80: s.scp80.map((k) => k.kvn), scp81: s.scp81.map((k) => k.kvn) };
};
const codes = (s: FunctionExecutionStatus) => [s.status, s.statusCodeData?.subject, s.statusCodeData?.reason];
const sends = (r: Rig, from: 'sr1' | 'sr2', what: string) =>
  r.sent.filter((s) => s.from === from && s.what === what).length;
const changeNotices = (r: Rig) => r.heard.filter((h) => h.method === 'HandleSMSRChangeNotification');
const outbox = (at: Deployment) =>
  at.db.store.db
    .selectFrom('esim_notification_outbox')
    .select(['interface', 'receiver_id', 'kind', 'state', 'attempts', 'last_error'])
    .orderBy('id')
    .execute();
/** The change row at a deployment: the running one, else the last (the test clock mostly stands still). */
const row = async (at: Deployment, fn: string) => {
  const rows = await at.db.store.db
    .selectFrom('esim_sr_procedures')
    .selectAll()
    .where('function', '=', fn)
    .orderBy('created_at')
    .orderBy('updated_at')
    .execute();
  return rows.find((p) => p.active_eid !== null) ?? rows.at(-1);
};
/** SM-SR1 in charge: its EIS, none at SM-SR2, SM-SR1 audits the card over its own key set. */
async function sr1InCharge(r: Rig) {
  expect((await loadEis(r.sr1.db.store.db, EID))?.smsrId).toBe(SMSR1_ID);
  expect(await loadEis(r.sr2.db.store.db, EID)).toBeUndefined();
  expect((await audit(r.sr1)).status).toBe('EXECUTED_SUCCESS');
}

describe('SM-SR change: notifications, addressing, the card out of reach, expiry, KVN', () => {
  it(
    'steps 31–32: SM-SR2 notifies the operator (ES4) and the SM-DP (ES3, with the Mno-id) of the EIS it now holds, through its outbox',
    async () => {
      const r = await start();
      expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
      expect((await change(r)).status).toBe('EXECUTED_SUCCESS');
      const notices = changeNotices(r);
      expect(notices.map((h) => [h.from, h.to])).toEqual([
        ['sr2', 'operator'],
        ['sr2', 'smdp'],
      ]);
      const [toOperator, toSmdp] = notices;
      // The bodies of ES4- and ES3-HandleSMSRChangeNotification, nothing else.
      expect(Object.keys(toOperator?.body ?? {}).sort()).toEqual(['completionTimestamp', 'eis']);
      expect(Object.keys(toSmdp?.body ?? {}).sort()).toEqual(['completionTimestamp', 'eis', 'mnoId']);
      expect(toSmdp?.body.mnoId).toBe(MNO_ID);
      const eis = toOperator?.body.eis as Eis;
      expect(eis.smsrId).toBe(SMSR2_ID);
      expect(eis.isdR.keysets.map((k) => [k.type, k.version, k.keys.length])).toEqual([
        ['SCP80', SMSR2_KVN, 0],
        ['SCP81', 0x40, 0],
      ]);
      expect(eis.auditTrail).toBeUndefined();
      // The EUM's signature survived the outbox row (its bytes included).
      expect(() => verifyEisSignature(eis, pki.eum.pem)).not.toThrow();
      expect(toOperator?.body.completionTimestamp).toBeInstanceOf(Date);
      expect(await outbox(r.sr2)).toEqual([
        expect.objectContaining({
          interface: 'ES4',
          receiver_id: MNO_ID,
          kind: 'smsr-changed',
          state: 'delivered',
        }),
        expect.objectContaining({ interface: 'ES3', kind: 'smsr-changed', state: 'delivered' }),
      ]);
      // SM-SR1 notifies nobody of the change.
      expect(await outbox(r.sr1)).toEqual([]);
    },
    TEST_MS,
  );

  it(
    'the notifications survive receivers that are down and a restart: the next instance delivers each once',
    async () => {
      const r = await start();
      r.receiversDown = true;
      expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
      expect((await change(r)).status).toBe('EXECUTED_SUCCESS');
      expect(changeNotices(r)).toEqual([]);
      const pending = await outbox(r.sr2);
      expect(pending.map((n) => [n.interface, n.state, Number(n.attempts)])).toEqual([
        ['ES4', 'pending', 1],
        ['ES3', 'pending', 1],
      ]);
      expect(pending[0]?.last_error).toMatch(/does not answer/);
      await r.restart();
      r.receiversDown = false;
      r.clock.advance(60_000); // past the first backoff
      expect(await r.sr2.smsr.notifications.runDue()).toEqual({ delivered: 2, retried: 0, dead: 0 });
      expect(await r.sr2.smsr.notifications.runDue()).toEqual({ delivered: 0, retried: 0, dead: 0 });
      expect(changeNotices(r).map((h) => [h.from, h.to])).toEqual([
        ['sr2', 'operator'],
        ['sr2', 'smdp'],
      ]);
    },
    TEST_MS,
  );

  it(
    'SM-SR2 dies in phase 5 and restarts: it resumes, ends with a warning and notifies once (a second recover writes nothing)',
    async () => {
      const r = await start();
      expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
      const dying = r.sr2;
      r.tamper = (fn) => {
        if (fn === 'CreateAdditionalKeySet') dying.transport.hang = 'before';
        return undefined;
      };
      void change(r);
      await vi.waitFor(
        async () => expect((await row(dying, SM_SR_CHANGE_FUNCTIONS.takeOver))?.step).toBe('finalise-sent'),
        { timeout: 60_000, interval: 50 },
      );
      r.tamper = undefined;
      expect(changeNotices(r)).toEqual([]);
      await r.restart();
      expect(await r.sr2.change.recover()).toBe(1);
      expect(changeNotices(r).map((h) => [h.from, h.to])).toEqual([
        ['sr2', 'operator'],
        ['sr2', 'smdp'],
      ]);
      expect(await r.sr2.change.recover()).toBe(0);
      expect((await outbox(r.sr2)).length).toBe(2);
      expect(cardKvns(r)).toEqual({ scp80: [SMSR2_KVN], scp81: [0x40] });
    },
    TEST_MS,
  );

  it(
    "step 26: UpdateSMSRAddressingParameters under KS2 gives the ISD-R SM-SR2's SMS address and centre; a refusal of it is a warning",
    async () => {
      const addressing = { destination: '819012345678', smsc: '819000000099' };
      const r = await start({ addressing });
      expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
      expect((await change(r)).status).toBe('EXECUTED_SUCCESS');
      expect(
        r.sent.filter((s) => s.from === 'sr2' && s.what.startsWith('ES5')).map((s) => [s.what, s.step]),
      ).toEqual([
        ['ES5 80e40000', 'finalise-sent'],
        ['ES5 80e28800', 'addressing-sent'],
        ['ES5 80e20900', 'scp81-sent'],
        ['ES5 80e28901', 'scp81-sent'],
      ]);
      const card = euiccOf(r.d.card);
      expect(card.smsrDestination).toBe(addressing.destination);
      expect(card.persistentState().smsr.smsc).toBe(addressing.smsc);

      // Back to SM-SR1, whose card refuses the 3A07 this time: a warning, the SCP81 key set all the same.
      expect((await prepare(r, r.sr1, SMSR2_ID)).status).toBe('EXECUTED_SUCCESS');
      r.sr1.transport.refuse = (apdu) => apdu[5] === 0x3a && apdu[6] === 0x07;
      const back = await change(r, { at: r.sr2, target: SMSR1_ID });
      expect(codes(back)).toEqual(['EXECUTED_WITHWARNING', '8.1', '4.2']);
      expect(back.statusCodeData?.message).toMatch(/UpdateSMSRAddressingParameters: ES5 ES5_POR_ERROR/);
      expect(cardKvns(r)).toEqual({ scp80: [1], scp81: [0x40] });
      expect((await loadEis(r.sr1.db.store.db, EID))?.isdR.keysets.map((k) => k.type)).toEqual([
        'SCP80',
        'SCP81',
      ]);
    },
    TEST_MS,
  );

  it(
    'the eUICC out of reach before the commit point: SM-SR1 sends the certificate again while the validity period lasts, then the change fails and SM-SR1 stays in charge',
    async () => {
      const r = await start();
      expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
      r.sr1.transport.fail = true;
      const s = await change(r, { validityPeriod: 300 });
      expect(codes(s)).toEqual(['FAILED', '8.7', '3.8']);
      expect(s.statusCodeData?.message).toMatch(
        /AuthenticateSMSR at the current SM-SR: EstablishISDRKeySet \(certificate\): ES5 ES5_TIMEOUT: .*\(5 attempts within the validity period\)/,
      );
      // One attempt per PoR timeout of the test clock: 300 s / 60 s.
      expect(sends(r, 'sr1', 'ES5 80e20900')).toBe(300_000 / POR_TIMEOUT_MS);
      expect(r.sent.some((x) => x.what === 'ES7 CreateAdditionalKeySet')).toBe(false);
      expect(cardKvns(r)).toEqual({ scp80: [1], scp81: [0x40] });
      r.sr1.transport.fail = false;
      await sr1InCharge(r);
    },
    TEST_MS,
  );

  it(
    'the eUICC out of reach for a while: the command goes again after a wait and the change completes',
    async () => {
      const r = await start();
      expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
      r.sr1.transport.failNext = 2;
      expect((await change(r)).status).toBe('EXECUTED_SUCCESS');
      expect(sends(r, 'sr1', 'ES5 80e20900')).toBe(3);
      expect(cardKvns(r)).toEqual({ scp80: [SMSR2_KVN], scp81: [0x40] });
      expect(await loadEis(r.sr1.db.store.db, EID)).toBeUndefined();
      expect((await audit(r.sr2)).status).toBe('EXECUTED_SUCCESS');
    },
    TEST_MS,
  );

  it(
    'the eUICC out of reach after the commit point: SM-SR2 sends FinaliseISDRhandover again until the validity period, then ends with a warning; SM-SR1 deletes its EIS; SM-SR2 reaches the card when it is back',
    async () => {
      const r = await start();
      expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
      const sr2 = r.sr2;
      r.tamper = (fn) => {
        if (fn === 'CreateAdditionalKeySet') sr2.transport.fail = true;
        return undefined;
      };
      const s = await change(r, { validityPeriod: 300 });
      expect(codes(s)).toEqual(['EXECUTED_WITHWARNING', '8.1', '4.2']);
      expect(s.statusCodeData?.message).toMatch(
        /the eUICC is managed here; FinaliseISDRhandover: ES5 ES5_TIMEOUT: .* attempts within the validity period\).*SCP81 key set/,
      );
      expect(sends(r, 'sr2', 'ES5 80e40000')).toBeGreaterThan(1);
      expect(await loadEis(r.sr1.db.store.db, EID)).toBeUndefined();
      expect((await loadEis(r.sr2.db.store.db, EID))?.smsrId).toBe(SMSR2_ID);
      // The take-over ended; the notifications went all the same (the operator must know).
      expect((await row(r.sr2, SM_SR_CHANGE_FUNCTIONS.takeOver))?.active_eid).toBeNull();
      expect(changeNotices(r).length).toBe(2);
      sr2.transport.fail = false;
      expect(cardKvns(r).scp80).toEqual([1, SMSR2_KVN]);
      expect((await audit(sr2)).status).toBe('EXECUTED_SUCCESS');
    },
    TEST_MS,
  );

  it(
    'expiry: SmSr.expireProcedures never ends a change row; SmSrChange.expireProcedures ends a prepare nobody followed, and a new prepare replaces a stale one',
    async () => {
      const r = await start();
      expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
      r.clock.advance(VALIDITY_MS + 1);
      expect(await r.sr2.smsr.expireProcedures()).toBe(0);
      expect((await row(r.sr2, SM_SR_CHANGE_FUNCTIONS.takeOver))?.step).toBe('prepared');
      expect(await r.sr2.change.expireProcedures()).toBe(1);
      const ended = await row(r.sr2, SM_SR_CHANGE_FUNCTIONS.takeOver);
      expect(ended?.active_eid).toBeNull();
      expect(JSON.parse(ended?.result ?? '{}').status).toBe('EXPIRED');
      // A stale prepare (no expiry job ran) gives way to a new one.
      expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
      r.clock.advance(VALIDITY_MS + 1);
      expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
      expect(await r.sr2.change.expireProcedures()).toBe(0);

      // A change running past its deadline (SM-SR2 stuck in phase 5): no expiry job ends either row.
      const stuck = r.sr2;
      r.tamper = (fn) => {
        if (fn === 'CreateAdditionalKeySet') stuck.transport.hang = 'before';
        return undefined;
      };
      void change(r);
      await vi.waitFor(
        async () => expect((await row(stuck, SM_SR_CHANGE_FUNCTIONS.takeOver))?.step).toBe('finalise-sent'),
        { timeout: 60_000, interval: 50 },
      );
      r.clock.advance(3 * VALIDITY_MS);
      for (const at of [r.sr1, r.sr2]) {
        expect(await at.smsr.expireProcedures()).toBe(0);
        expect(await at.change.expireProcedures()).toBe(0);
      }
      expect((await row(r.sr2, SM_SR_CHANGE_FUNCTIONS.takeOver))?.step).toBe('finalise-sent');
      expect((await row(r.sr1, SM_SR_CHANGE_FUNCTIONS.handOver))?.active_eid).toBe(EID);
    },
    TEST_MS,
  );

  it(
    'two deployments with the same default KVN: SM-SR2 takes a KVN free in the EIS and its Es5Sms secures with it; back to SM-SR1, which gets its KVN again',
    async () => {
      const r = await start({ kvns: { sr1: 1, sr2: 1 } });
      expect((await prepare(r)).status).toBe('EXECUTED_SUCCESS');
      expect((await change(r)).status).toBe('EXECUTED_SUCCESS');
      expect(cardKvns(r)).toEqual({ scp80: [2], scp81: [0x40] });
      expect((await loadEis(r.sr2.db.store.db, EID))?.isdR.keysets.map((k) => [k.type, k.version])).toEqual([
        ['SCP80', 2],
        ['SCP81', 0x40],
      ]);
      expect((await audit(r.sr2)).status).toBe('EXECUTED_SUCCESS');
      expect((await prepare(r, r.sr1, SMSR2_ID)).status).toBe('EXECUTED_SUCCESS');
      expect((await change(r, { at: r.sr2, target: SMSR1_ID })).status).toBe('EXECUTED_SUCCESS');
      expect(cardKvns(r)).toEqual({ scp80: [1], scp81: [0x40] });
      expect((await audit(r.sr1)).status).toBe('EXECUTED_SUCCESS');
    },
    TEST_MS,
  );
});

describe('freeScp80Kvn (the KVN SM-SR2 asks the card for)', () => {
  it('is a KVN 01–0F the EIS does not list — the preferred one when free, else the lowest — or none when all are listed', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -1, max: 0x100 }), { maxLength: 40 }),
        fc.integer({ min: -1, max: 0x100 }),
        (listed, preferred) => {
          const kvn = freeScp80Kvn(listed, preferred);
          const free = Array.from({ length: 15 }, (_, i) => i + 1).filter((v) => !listed.includes(v));
          if (free.length === 0) return kvn === undefined;
          if (kvn === undefined || !free.includes(kvn)) return false;
          return kvn === (free.includes(preferred) ? preferred : free[0]);
        },
      ),
      { numRuns: 2000 },
    );
    expect(
      freeScp80Kvn(
        Array.from({ length: 15 }, (_, i) => i + 1),
        1,
      ),
    ).toBeUndefined();
    expect(freeScp80Kvn([1, 0x40], 1)).toBe(2);
    expect(freeScp80Kvn([2, 0x40], 1)).toBe(1);
  });
});

describe("deadlineOf (a request's ValidityPeriod becomes the lock and retry bound)", () => {
  it('is 1 s … 1 day after now for any ValidityPeriod, the given one when in range, the default when absent', () => {
    const now = Date.UTC(2026, 0, 1);
    fc.assert(
      fc.property(
        fc.option(fc.oneof(fc.integer(), fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity)), {
          nil: undefined,
        }),
        (validity) => {
          const d = deadlineOf(now, validity, 600);
          if (!(d >= now + 1000 && d <= now + MAX_VALIDITY_SECONDS * 1000)) return false;
          if (validity === undefined || !Number.isFinite(validity)) return d === now + 600_000;
          const s = Math.floor(validity);
          return s >= 1 && s <= MAX_VALIDITY_SECONDS ? d === now + s * 1000 : true;
        },
      ),
      { numRuns: 2000 },
    );
    expect(deadlineOf(now, 300, 600)).toBe(now + 300_000);
    expect(deadlineOf(now, 1e12, 600)).toBe(now + MAX_VALIDITY_SECONDS * 1000);
    expect(deadlineOf(now, -5, 600)).toBe(now + 1000);
  });
});
