// Issue 15 acceptance, "Refused … nothing left half done: … a SIGKILL of the SM-SR mid-procedure
// followed by restart". Threat: a crash between two messages of a procedure leaving a profile half
// registered — an ISD-P on the card that the EIS does not know (or the reverse), an operation that
// says something the card does not bear out, or the eUICC locked busy for good.
//
// The SM-SR and SM-DP run in `simtrust serve` (a child process, esimOperatorId, SCP81 listener, OTA
// link to the lab SMSC) on this test's database; the eUICC lives in the test process (euicc-lab.ts)
// and keeps its state across the server's death. An operator downloads profile B with enable through
// the API; the child is killed with SIGKILL right after the card ran a chosen command (its answer
// not yet on the way back), then `simtrust serve` starts again on the same database. Each kill point
// must end cleanly: the operation resumed to success, or failed with a FunctionExecutionStatus code
// and the new ISD-P gone from the card (the SM-DP's error sub-routine); the card's ISD-Ps, the EIS and
// the SIM view agree; and a new procedure on the eUICC is accepted and succeeds.
// SQLite by default, PostgreSQL with SIMTRUST_TEST_DATABASE=postgres.

import { afterEach, describe, expect, it } from 'vitest';
import { LIFE_CYCLE } from '../../../src/card/euicc/euicc-state.js';
import { waitFor } from '../../helpers/anti-theft.js';
import { testDialect } from '../../helpers/database.js';
import { type CardEvent, type EsimOperation, type EuiccLab, isdpsOf, startEuiccLab } from './euicc-lab.js';

let lab: EuiccLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const dgi = (data: Uint8Array, hi: number, lo: number) => data[0] === hi && data[1] === lo;

/** Where the child dies: right after the card ran this command, before its answer left the device. */
interface KillPoint {
  readonly name: string;
  readonly at: (e: CardEvent, lab: EuiccLab) => boolean;
}

const KILL_POINTS: readonly KillPoint[] = [
  {
    // Key establishment: the card derived the ISD-P keys (3A02), the SM-DP never sees the receipt.
    name: 'after the card answered STORE DATA 3A02 (key agreement)',
    at: (e) => e.kind === 'isdr' && e.apdu.ins === 0xe2 && dgi(e.apdu.data, 0x3a, 0x02),
  },
  {
    // SCP03t opened with the new keys; not one segment of the package sent yet.
    name: 'after the card answered the SCP03t INITIALIZE UPDATE (84)',
    at: (e) => e.kind === 'isdp' && e.data[0] === 0x84,
  },
  {
    // The last segment is installed on the card; its EUICCResponse never reaches the SM-DP.
    name: 'after the card installed the last SCP03t segment (86)',
    at: (e, l) =>
      e.kind === 'isdp' &&
      e.data[0] === 0x86 &&
      isdpsOf(l.euicc).some((i) => i.iccid === l.profileB.iccid && i.state === LIFE_CYCLE.DISABLED),
  },
  {
    // Between ProfileDownloadCompleted and the end of Enable: the card enabled B (3A03), the PoR and
    // the card's notification are still to come.
    name: 'after the card ran EnableProfile (3A03), before its PoR',
    at: (e) => e.kind === 'isdr' && e.apdu.ins === 0xe2 && dgi(e.apdu.data, 0x3a, 0x03),
  },
];

const EIS_STATE: Record<number, string> = {
  [LIFE_CYCLE.ENABLED]: 'Enabled',
  [LIFE_CYCLE.DISABLED]: 'Disabled',
  [LIFE_CYCLE.SELECTABLE]: 'Created',
  [LIFE_CYCLE.PERSONALIZED]: 'Created',
};

/** The card, the SM-SR's EIS and the SIM view say the same; nothing runs. */
async function expectAgreement(l: EuiccLab): Promise<Record<string, string>> {
  await l.quiet();
  const card = isdpsOf(l.euicc)
    .map((i) => ({ aid: i.aid, state: EIS_STATE[i.state] ?? `life cycle ${i.state}` }))
    .sort((a, b) => a.aid.localeCompare(b.aid));
  const eis = (
    await l.api.db.store.db
      .selectFrom('esim_sr_profiles')
      .select(['isdp_aid', 'state', 'iccid'])
      .where('eid', '=', l.eid)
      .execute()
  )
    .map((p) => ({ aid: p.isdp_aid.toUpperCase(), state: p.state }))
    .sort((a, b) => a.aid.localeCompare(b.aid));
  expect(eis, 'the EIS holds exactly the ISD-Ps on the card, in the same states').toEqual(card);
  const view = await l.call<{ profiles: Record<string, { state?: string }> }>('GET', `/v1/sims/${l.eid}`);
  expect(view.status).toBe(200);
  const states = Object.fromEntries(Object.entries(view.body.profiles).map(([k, v]) => [k, v.state ?? '']));
  const byIccid = Object.fromEntries(
    isdpsOf(l.euicc)
      .filter((i) => i.iccid !== undefined)
      .map((i) => [i.iccid as string, EIS_STATE[i.state] ?? '']),
  );
  expect(states, 'the SIM view shows the profiles the card holds').toEqual(byIccid);
  return states;
}

const download = (l: EuiccLab) =>
  l.call<EsimOperation>('POST', `/v1/sims/${l.eid}/profiles`, {
    iccid: l.profileB.iccid,
    profileType: 'simtrust-usim',
    enable: true,
  });

describe(`SIGKILL of the server running the SM-SR and SM-DP mid-procedure, then restart (${testDialect})`, () => {
  for (const point of KILL_POINTS) {
    it(`download with enable, killed ${point.name}: ends cleanly after the restart`, async () => {
      const l = await startEuiccLab();
      lab = l;
      await l.start();
      // The eUICC's declaration (first attach) is confirmed: nothing else runs on it.
      await l.quiet();

      let killed: { exited: Promise<void> } | undefined;
      l.tap = (e) => {
        if (killed === undefined && point.at(e, l)) killed = l.kill();
      };
      const started = await download(l);
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const operationId = started.body.operationId;
      const kill = await waitFor(
        'the kill point',
        () => killed,
        (k) => k !== undefined,
        120_000,
      );
      await kill?.exited;
      l.tap = undefined;

      // What the dead server had stored: a procedure in the middle.
      const db = l.api.db.store.db;
      const dp = await db
        .selectFrom('esim_dp_downloads')
        .select(['step', 'status'])
        .where('iccid', '=', l.profileB.iccid)
        .executeTakeFirstOrThrow();
      expect(dp.status).toBe('running');
      const running = await db
        .selectFrom('esim_sr_procedures')
        .select(['function', 'step'])
        .where('active_eid', 'is not', null)
        .execute();
      console.info(`${point.name}: killed with the SM-DP at ${dp.step}, the SM-SR at`, running);

      await l.start();
      const done = await l.settled(operationId);
      const states = await expectAgreement(l);
      const { profileA, profileB } = l;
      const row = await db
        .selectFrom('esim_dp_downloads')
        .select(['status', 'failure_code', 'attempt'])
        .where('iccid', '=', l.profileB.iccid)
        .executeTakeFirstOrThrow();
      expect(row.status, 'the SM-DP ended the download as the operation says').toBe(done.result?.status);
      if (done.status === 'succeeded') {
        // Enabled as asked: a plain success (a warning would say "installed, not enabled").
        expect(done.result).toEqual({ status: 'EXECUTED_SUCCESS' });
        expect(states).toEqual({ [profileA.iccid]: 'Disabled', [profileB.iccid]: 'Enabled' });
        expect(l.modem.imsi).toBe(profileB.imsi);
      } else {
        // Failed with a FunctionExecutionStatus code, and nothing of B left anywhere.
        expect(done.result, JSON.stringify(done)).toMatchObject({
          status: 'FAILED',
          subject: expect.any(String),
          reason: expect.any(String),
        });
        expect(row.failure_code).toMatch(/^SMDP_/);
        expect(states).toEqual({ [profileA.iccid]: 'Enabled' });
        expect(isdpsOf(l.euicc)).toHaveLength(1);
        expect(l.modem.imsi).toBe(profileA.imsi);
      }
      console.info(
        `${point.name}: after the restart the operation ${done.status} (SM-DP attempt ${row.attempt})`,
        done.result,
      );

      // The eUICC is not left busy: a new procedure is accepted and succeeds.
      const next =
        done.status === 'succeeded'
          ? await l.call<EsimOperation>('POST', `/v1/sims/${l.eid}/profiles/${profileA.iccid}/enable`)
          : await download(l);
      expect(next.status, JSON.stringify(next.body)).toBe(202);
      const after = await l.settled(next.body.operationId);
      expect(after.status, JSON.stringify(after)).toBe('succeeded');
      const final = await expectAgreement(l);
      expect(final[done.status === 'succeeded' ? profileA.iccid : profileB.iccid]).toBe('Enabled');
    }, 400_000);
  }
});
