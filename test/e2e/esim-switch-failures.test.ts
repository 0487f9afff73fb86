// Issue 16's failure paths between two real deployments: the carrier switch of esim-switch.test.ts
// between two `simtrust serve` processes (esim-switch-fixture.ts: own databases and keys, SOAP over
// mutual TLS, set up only through their CLI and API, one roaming device), driven through operator 1's
// API, while something goes wrong: SM-SR2 refuses the prepare, the device is out of coverage during the
// handover, either serve process is SIGKILLed at a step of the switch (seen through the operation's
// steps and the SMS the radio holds back) and started again on its database.
//
// Threat: a failure that leaves the two deployments disagreeing — both or neither managing the eUICC,
// operator 1 reporting "nothing moved" while SM-SR2 took the eUICC over, a switch that never ends, a
// second switch beside the first — or a restart that loses track of a change half done.
//
// One pair of deployments serves every case, in this order: the cases before the commit point leave
// SM-SR1 in charge, the last one hands the eUICC over. With SIMTRUST_TEST_DATABASE=postgres (operator
// 1 on PostgreSQL, operator 2 on SQLite) only the representative case runs: operator 1's serve killed
// before the commit point and restarted on its PostgreSQL database.
//
// The deployments run with a switch ValidityPeriod of VALIDITY_S (esimSwitchValiditySeconds), so a
// change that cannot go on ends within it; a serve process resumes a switch idle for 90 s, checked
// every 30 s (docs/esim-switch.md). Each case takes about one to two minutes of that.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIFE_CYCLE } from '../../src/card/euicc/euicc-state.js';
import { openStore } from '../../src/platform/store/database.js';
import { waitFor } from '../helpers/anti-theft.js';
import { testDialect } from '../helpers/database.js';
import {
  addPartners,
  type Deployment,
  PROFILE_TYPE,
  removeLabFiles,
  SETTLE_MS,
  type SwitchLab,
  soapStatusFrom,
  startSwitchLab,
} from './esim-switch-fixture.js';

const pg = testDialect === 'postgres';
const dialects = pg ? (['postgres', 'sqlite'] as const) : (['sqlite', 'sqlite'] as const);
/** Only on the SQLite run: the PostgreSQL run keeps to the representative case. */
const sqliteOnly = pg ? it.skip : it;
/** The switch's ValidityPeriod in both deployments (PrepareSMSRChange, SMSRChange, seconds). */
const VALIDITY_S = 90;
/** Operator 1's serve resumes a switch idle for 90 s, looking every 30 s; then the change's waits. */
const RESUMED_MS = (90 + 30 + VALIDITY_S + 60) * 1000;

type Step = { name: string; state: string; status?: { message?: string } };
type Operation = {
  operationId: string;
  kind: string;
  status: string;
  result?: { status: string; subject?: string; reason?: string; message?: string } | null;
  steps: Step[];
};
type SimView = {
  type?: string;
  activeProfileId?: string | null;
  handedOver?: { smsrId: string } | null;
  profiles?: Record<string, { state: string }>;
};

const stepsOf = (op: Operation) => op.steps.map((s) => [s.name, s.state]);

describe(`carrier switch failures between two deployments (operator 1 on ${dialects[0]}, operator 2 on ${dialects[1]})`, () => {
  let lab: SwitchLab;

  beforeAll(async () => {
    lab = await startSwitchLab(dialects, {
      env: { SIMTRUST_ESIM_SWITCH_VALIDITY_SECONDS: String(VALIDITY_S) },
    });
    // The device is online with profile A, its eUICC declaration confirmed by SM-SR1.
    await lab.attachedAs(lab.profileA.imsi);
    await waitFor(
      'the eUICC declaration confirmed',
      () => euicc().snapshot().notifications.length,
      (n) => n === 0,
      SETTLE_MS,
    );
  }, 600_000);

  afterAll(async () => {
    await lab?.close();
    removeLabFiles();
  });

  const euicc = () => {
    const e = lab.card.uicc.euicc;
    if (e === undefined) throw new Error('not an eUICC');
    return e;
  };
  /** The failure message of a case: the serve processes' last lines. */
  const logs = () => `\n--- operator 1 ---\n${lab.one.logTail()}\n--- operator 2 ---\n${lab.two.logTail()}`;

  const ask = () =>
    lab.one.call<Operation & { code?: string; message?: string }>(
      'POST',
      `/v1/sims/${lab.eid}/switch_operator`,
      { targetSmsrId: lab.two.smsrId, targetSmdpId: lab.two.smdpId, profileType: PROFILE_TYPE },
    );
  const operation = async (id: string) =>
    (await lab.one.call<Operation>('GET', `/v1/esim/operations/${id}`)).body;
  const ended = (id: string, ms: number) =>
    waitFor(
      `switch ${id} to end`,
      () => operation(id),
      (o) => o?.status !== undefined && o.status !== 'running',
      ms,
    );

  /** Both deployments' SM-SR tables about the eUICC, read from their databases. */
  async function srView(d: Deployment) {
    const store = await openStore(d.databaseUrl, { migrate: false, poolSize: 1 });
    try {
      const db = store.db;
      const eis = await db
        .selectFrom('esim_sr_eis')
        .select('smsr_id')
        .where('eid', '=', lab.eid)
        .executeTakeFirst();
      const profiles = await db
        .selectFrom('esim_sr_profiles')
        .select(['iccid', 'state'])
        .where('eid', '=', lab.eid)
        .execute();
      const kvns = (await db.selectFrom('esim_sr_keysets').select('kvn').where('eid', '=', lab.eid).execute())
        .map((k) => Number(k.kvn))
        .sort((a, b) => a - b);
      const running = await db
        .selectFrom('esim_sr_procedures')
        .select(['function', 'step'])
        .where('active_eid', '=', lab.eid)
        .execute();
      return {
        smsrId: eis?.smsr_id,
        profiles: Object.fromEntries(profiles.map((p) => [p.iccid, p.state])),
        kvns,
        running,
      };
    } finally {
      await store.close();
    }
  }
  const cardKvns = () => {
    const c = euicc().snapshot();
    return [...c.scp80, ...c.scp81].map((k) => k.kvn).sort((a, b) => a - b);
  };
  const cardProfiles = () =>
    Object.fromEntries(
      euicc()
        .snapshot()
        .isdps.filter((i) => i.profile !== undefined)
        .map((i) => [i.profile?.identity.iccid, i.state]),
    );

  /**
   * Nothing moved: SM-SR1 manages the eUICC (its EIS, its key sets on the card, nothing locked), profile
   * A enabled on the card and in both views of operator 1, operator 2 knows no such SIM and SM-SR2 holds
   * nothing of it — and SM-SR1 still reaches the card (an audit through operator 1's API succeeds).
   */
  async function sr1InCharge(): Promise<void> {
    const { one, two, eid, profileA } = lab;
    const sr1 = await srView(one);
    expect(sr1, logs()).toMatchObject({
      smsrId: one.smsrId,
      profiles: { [profileA.iccid]: 'Enabled' },
      running: [],
    });
    expect(await srView(two)).toEqual({ smsrId: undefined, profiles: {}, kvns: [], running: [] });
    expect(cardProfiles()).toEqual({ [profileA.iccid]: LIFE_CYCLE.ENABLED });
    expect(cardKvns()).toEqual(sr1.kvns);
    const atOne = await one.call<SimView>('GET', `/v1/sims/${eid}`);
    expect(atOne.body).toMatchObject({ type: 'euicc', activeProfileId: profileA.iccid, handedOver: null });
    expect((await two.call('GET', `/v1/sims/${eid}`)).status).toBe(404);
    const audit = await one.call<Operation>('POST', `/v1/sims/${eid}/profiles/audit`);
    expect(audit.status, JSON.stringify(audit.body)).toBe(202);
    const audited = await ended(audit.body.operationId, SETTLE_MS);
    expect(audited.status, JSON.stringify(audited) + logs()).toBe('succeeded');
  }

  /** A switch that ended before the commit point, saying so. */
  function failedBeforeCommit(op: Operation): void {
    expect(op.status, JSON.stringify(op) + logs()).toBe('failed');
    expect(stepsOf(op)).toEqual([
      ['ES4.PrepareSMSRChange', 'succeeded'],
      ['ES4.SMSRChange', 'failed'],
    ]);
    expect(op.result?.message).toMatch(
      /before its commit point: this deployment's SM-SR still manages the eUICC/,
    );
  }

  sqliteOnly(
    'SM-SR2 refuses the prepare (SM-SR1 is not its partner), and of two switches asked at once one runs: nothing moves',
    async () => {
      const { one, two, eid } = lab;
      // At operator 2, operator 1 stays a partner as an operator (PrepareSMSRChange reaches SM-SR2)
      // but no longer as an SM-SR: both roles out until the listener refuses its certificate, then the
      // operator role back until it takes it again — its registry read once more, without the SM-SR.
      await two.cli(['esim', 'partners', 'remove', '--operator-id', two.operator.operatorId, one.smsrId]);
      await two.cli(['esim', 'partners', 'remove', '--operator-id', two.operator.operatorId, one.mnoId]);
      await waitFor(
        'operator 2 to refuse operator 1',
        () => soapStatusFrom(one.tls, two),
        (s) => s === 403,
        SETTLE_MS,
      );
      await addPartners(two, one, [{ role: 'operator', entityId: one.mnoId }]);

      const [a, b] = await Promise.all([ask(), ask()]);
      expect([a.status, b.status].sort()).toEqual([202, 409]);
      const loser = a.status === 409 ? a : b;
      const winner = a.status === 202 ? a : b;
      expect(loser.body.code).toBe('ERR_ESIM_OPERATION_IN_PROGRESS');
      const op = await ended(winner.body.operationId, SETTLE_MS);
      expect(op.status, JSON.stringify(op) + logs()).toBe('failed');
      expect(stepsOf(op)).toEqual([['ES4.PrepareSMSRChange', 'failed']]);
      expect(op.result).toMatchObject({ status: 'FAILED', subject: '8.7', reason: '3.9' });
      expect(op.result?.message).toMatch(/did not prepare the SM-SR change, nothing moved/);
      // It ran once: one operation of the eUICC at operator 1.
      const ops = await one.call<Operation[]>('GET', `/v1/sims/${eid}/esim/operations`);
      expect(ops.body.filter((o) => o.kind === 'switch').map((o) => o.operationId)).toEqual([op.operationId]);
      await sr1InCharge();

      // Operator 1 back as both partners at operator 2 (the same two steps, ending with both roles).
      await two.cli(['esim', 'partners', 'remove', '--operator-id', two.operator.operatorId, one.mnoId]);
      await waitFor(
        'operator 2 to refuse operator 1',
        () => soapStatusFrom(one.tls, two),
        (s) => s === 403,
        SETTLE_MS,
      );
      await addPartners(two, one, [
        { role: 'sm-sr', entityId: one.smsrId },
        { role: 'operator', entityId: one.mnoId },
      ]);
    },
    300_000,
  );

  sqliteOnly(
    'the device out of coverage during the handover: SM-SR1 tries the card until the validity period ends, the switch fails before the commit point, SM-SR1 in charge',
    async () => {
      const { one } = lab;
      // The network no longer delivers SM-SR1's SMS to the device (its HTTPS session needs the push).
      lab.radio.cut(one.smsrNumber, 'drop');
      const dropped = lab.radio.dropped.length;
      const asked = await ask();
      expect(asked.status, JSON.stringify(asked.body)).toBe(202);
      const op = await ended(asked.body.operationId, (VALIDITY_S + 120) * 1000);
      lab.radio.restore();
      failedBeforeCommit(op);
      // SM-SR2 ended HandoverEUICC with SM-SR1's relay of EstablishISDRKeySet: the card never answered.
      expect(op.result?.message).toMatch(/EstablishISDRKeySet \(certificate\)/);
      expect(op.result?.message).toMatch(/ES5_TIMEOUT/);
      // Retried: SM-SR1's push for the relay went again while the validity period lasted (each
      // 60 s that brought no session), and was lost each time.
      expect(
        lab.radio.dropped.slice(dropped).filter((m) => m.source === one.smsrNumber).length,
      ).toBeGreaterThanOrEqual(2);
      await sr1InCharge();
    },
    (VALIDITY_S + 240) * 1000,
  );

  it(
    'SIGKILL of operator 1’s serve during the key establishment (before the receipt), restarted on its database: the switch fails before the commit point, SM-SR1 in charge',
    async () => {
      const { one } = lab;
      // SM-SR1's next SMS to the card (the push that carries its relay of EstablishISDRKeySet 3A01 for
      // SM-SR2's AuthenticateSMSR) waits in the network: the kill comes while the relay runs.
      lab.radio.cut(one.smsrNumber, 'hold');
      const asked = await ask();
      expect(asked.status, JSON.stringify(asked.body)).toBe(202);
      const id = asked.body.operationId;
      await waitFor(
        'SMSRChange running and SM-SR1 sending to the card',
        () => operation(id),
        (o) =>
          o.steps.some((s) => s.name === 'ES4.SMSRChange' && s.state === 'running') &&
          lab.radio.held.some((m) => m.source === one.smsrNumber),
        SETTLE_MS,
      );
      await one.kill();
      // The SMS went down with the process's session: never delivered.
      lab.radio.restore();
      // Meanwhile SM-SR2 holds the eUICC's take-over, waiting for SM-SR1's answer.
      expect((await srView(lab.two)).running).toEqual([
        { function: 'ReceiveSMSRChange', step: 'authenticate-sent' },
      ]);
      await one.restart();
      const op = await ended(id, RESUMED_MS);
      failedBeforeCommit(op);
      await sr1InCharge();
    },
    RESUMED_MS + 240_000,
  );

  sqliteOnly(
    'SIGKILL of operator 2’s serve after the commit point (FinaliseISDRhandover due), restarted on its database: SM-SR2 manages the eUICC, the switch ends succeeded',
    async () => {
      const { one, two, eid, profileA, profileB } = lab;
      // SM-SR2's first SMS to the card is FinaliseISDRhandover, under the key set it committed.
      lab.radio.cut(two.smsrNumber, 'hold');
      const from = lab.events.length;
      const asked = await ask();
      expect(asked.status, JSON.stringify(asked.body)).toBe(202);
      const id = asked.body.operationId;
      await waitFor(
        'SMSRChange running and SM-SR2 sending to the card',
        () => operation(id),
        (o) =>
          o.steps.some((s) => s.name === 'ES4.SMSRChange' && s.state === 'running') &&
          lab.radio.held.some((m) => m.source === two.smsrNumber),
        SETTLE_MS,
      );
      expect((await srView(two)).running).toEqual([{ function: 'ReceiveSMSRChange', step: 'finalise-sent' }]);
      await two.kill();
      lab.radio.restore();
      await two.restart();
      const op = await ended(id, RESUMED_MS);
      expect(op.status, JSON.stringify(op) + logs()).toBe('succeeded');
      expect(stepsOf(op)).toEqual([
        ['ES4.PrepareSMSRChange', 'succeeded'],
        ['ES4.SMSRChange', 'succeeded'],
        ['ES2.DownloadProfile', 'succeeded'],
        ['EnableProfile', 'succeeded'],
      ]);
      // SM-SR1 did not hear HandoverEUICC's answer; asked again, SM-SR2 said it manages the eUICC.
      expect(op.result?.status).toBe('EXECUTED_WITHWARNING');

      // SM-SR2 manages the eUICC (its key sets only, on the card too); SM-SR1 holds nothing of it.
      const sr2 = await srView(two);
      expect(sr2).toMatchObject({
        smsrId: two.smsrId,
        profiles: { [profileB.iccid]: 'Enabled' },
        running: [],
      });
      expect(cardKvns()).toEqual(sr2.kvns);
      expect(await srView(one)).toEqual({ smsrId: undefined, profiles: {}, kvns: [], running: [] });
      expect(cardProfiles()).toEqual({
        [profileA.iccid]: LIFE_CYCLE.DISABLED,
        [profileB.iccid]: LIFE_CYCLE.ENABLED,
      });
      // Operator 2 has the SIM with its profile, operator 1 shows it handed over and is refused.
      const atTwo = await two.call<SimView>('GET', `/v1/sims/${eid}`);
      expect(atTwo.body).toMatchObject({ type: 'euicc', activeProfileId: profileB.iccid });
      const atOne = await one.call<SimView>('GET', `/v1/sims/${eid}`);
      expect(atOne.body.handedOver).toMatchObject({ smsrId: two.smsrId });
      const audit = await one.call<{ code?: string }>('POST', `/v1/sims/${eid}/profiles/audit`);
      expect(audit.status).toBe(409);
      expect(audit.body.code).toBe('ERR_ESIM_HANDED_OVER');
      // The device attaches with operator 2's profile, through its restarted AuC.
      await lab.attachedAs(profileB.imsi, from);
    },
    RESUMED_MS + 240_000,
  );
});
