// EsimSwitchTarget's pool under concurrent partner switches (issue 16, `bench esim --switch --pool`
// ended 0–3 of 50 switches "no free profile" with 50 profiles for 50 switches). The cause: a request
// picked a free profile, another switch's download reserved it before the request's own pool check,
// and that check's failure was answered "no free profile" instead of taking another free one.
//
// The real SmDp reserves the ICCIDs (its unique running download, esim_dp_downloads.active_iccid) on
// this test's database; its SM-SR is an ES3 port whose GetEIS waits until the test answers it, so
// every started download stays running (its profile held) as long as the test wants, then fails —
// which must release the profile. SQLite and PostgreSQL (SIMTRUST_TEST_DATABASE=postgres).

import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../../src/lib/clock.js';
import type { Es3Port } from '../../../../src/platform/esim/es-ports.js';
import type { MessageBodies } from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import {
  failed,
  REASON_CODES,
  SUBJECT_CODES,
} from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import { SmDp } from '../../../../src/platform/esim/sm-dp/sm-dp-service.js';
import { EsimSwitchTarget, SWITCH_POOL_TAG } from '../../../../src/platform/esim/switch/target.js';
import { startTestApi, type TestApi, vendorCsv } from '../../../helpers/app.js';

const SMSR_ID = '1.3.6.1.4.1.99999.1.3';
const SMDP_ID = '1.3.6.1.4.1.99999.1.4';
const OWNER_MNO = '1.3.6.1.4.1.99999.3.2';
const PARTNER = '1.3.6.1.4.1.99999.3.1';
const TYPE = 'simtrust-usim';
const N = 12;
/** How long a test waits for the downloads it expects (a deadline, not a measurement). */
const WAIT_MS = 60_000;

const eidOf = (i: number) => `8904903200000000000000000000${String(i).padStart(4, '0')}`;

/** The SM-SR as the SM-DP sees it: GetEIS is held until the test answers it; nothing else is reached. */
class HeldSmsr {
  readonly events = new EventEmitter();
  readonly #held = new Map<string, () => void>();

  readonly port: Es3Port = (() => {
    const never = async () => {
      throw new Error('this test answers only GetEIS');
    };
    return {
      getEIS: (b: MessageBodies['ES3-GetEISRequest']) =>
        new Promise<MessageBodies['ES3-GetEISResponse']>((resolve) => {
          this.#held.set(b.eid, () =>
            resolve({
              functionExecutionStatus: failed(SUBJECT_CODES.EID, REASON_CODES.UNKNOWN, 'held by the test'),
            }),
          );
          this.events.emit('held', b.eid);
        }),
      auditEIS: never,
      createISDP: never,
      sendData: never,
      profileDownloadCompleted: never,
      updatePolicyRules: never,
      updateSubscriptionAddress: never,
      enableProfile: never,
      disableProfile: never,
      deleteISDP: never,
    };
  })();

  get heldEids(): string[] {
    return [...this.#held.keys()];
  }

  /** Resolves once GetEIS of each of `eids` is held; rejects at the deadline or when `abort` settles first. */
  async until(eids: readonly string[], abort: Promise<unknown> = new Promise(() => {})): Promise<void> {
    const missing = () => eids.filter((e) => !this.#held.has(e));
    if (missing().length === 0) return;
    let onHeld: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => {
          onHeld = () => {
            if (missing().length === 0) resolve();
          };
          this.events.on('held', onHeld);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no download reached the SM-SR for ${missing().join(', ')}`)),
            WAIT_MS,
          );
        }),
        abort.then((v) => {
          throw new Error(`a request answered before every download was held: ${JSON.stringify(v)}`);
        }),
      ]);
    } finally {
      if (onHeld !== undefined) this.events.off('held', onHeld);
      clearTimeout(timer);
    }
  }

  /** Answers every held GetEIS (the downloads fail, so their profiles must be free again). */
  releaseAll(): void {
    for (const [eid, release] of this.#held) {
      this.#held.delete(eid);
      release();
    }
  }
}

let api: TestApi;
let smsr: HeldSmsr;
let smdp: SmDp;
let pool: string[];

beforeAll(async () => {
  api = await startTestApi();
  const { csv, rows } = vendorCsv(N, { start: 700 });
  const imported = await api.call({
    method: 'POST',
    url: '/v1/sims/import',
    headers: { 'content-type': 'text/csv' },
    payload: csv,
  });
  if (imported.statusCode >= 300) throw new Error(`import: ${imported.body}`);
  pool = rows.map((r) => r.iccid).sort();
  for (const iccid of pool) {
    const { sim_id } = await api.platform.store.db
      .selectFrom('sim_profiles')
      .select('sim_id')
      .where('iccid', '=', iccid)
      .executeTakeFirstOrThrow();
    const tagged = await api.call({
      method: 'PUT',
      url: `/v1/sims/${sim_id}/tags`,
      payload: [{ tagName: SWITCH_POOL_TAG, tagValue: TYPE }],
    });
    if (tagged.statusCode !== 200) throw new Error(`tag ${iccid}: ${tagged.body}`);
  }
  smsr = new HeldSmsr();
  smdp = new SmDp({
    store: api.platform.store,
    keyRing: api.platform.keyRing,
    clock: systemClock,
    smdpId: SMDP_ID,
    smsr: (id) => (id === SMSR_ID ? smsr.port : undefined),
    signer: async () => undefined,
    verify: async () => {
      throw new Error('no download gets past GetEIS in this test');
    },
    eumCertificate: async () => undefined,
  });
}, 120_000);
afterAll(async () => {
  smsr?.releaseAll();
  await smdp?.close();
  await api?.close();
});

const targetWith = (pick?: (free: readonly string[]) => string | Promise<string>) =>
  new EsimSwitchTarget({
    store: api.platform.store,
    smdp,
    owner: { operatorId: api.operator.operatorId, mnoId: OWNER_MNO },
    adopt: async () => {
      throw new Error('nothing is installed in this test');
    },
    pollMs: 5,
    ...(pick === undefined ? {} : { pick }),
  });

let calls = 0;
const request = (
  eid: string,
  iccid?: string,
): MessageBodies['ES2-DownloadProfileRequest'] & { functionCallIdentifier: string } => ({
  functionCallIdentifier: `op-${++calls}`,
  eid,
  smsrId: SMSR_ID,
  profileType: TYPE,
  enableProfile: true,
  ...(iccid === undefined ? {} : { iccid }),
});

/** The ICCID each of `eids` has a running download of (reserved in the SM-DP). */
async function running(eids: readonly string[]): Promise<Map<string, string>> {
  const rows = await api.platform.store.db
    .selectFrom('esim_dp_downloads')
    .select(['eid', 'iccid', 'active_iccid'])
    .where('status', '=', 'running')
    .where('eid', 'in', [...eids])
    .execute();
  for (const r of rows) expect(r.active_iccid).toBe(r.iccid);
  return new Map(rows.map((r) => [r.eid, r.iccid]));
}

async function noneRunning(): Promise<void> {
  const rows = await api.platform.store.db
    .selectFrom('esim_dp_downloads')
    .select(['iccid', 'active_iccid'])
    .where('status', '=', 'running')
    .execute();
  expect(rows).toEqual([]);
}

describe('EsimSwitchTarget pool, concurrent switches', () => {
  it('a profile reserved by another switch between the pick and the reservation: another free one is taken, not "no free profile"', async () => {
    const [first, second] = pool as [string, string];
    const rival = eidOf(1);
    const mine = eidOf(2);
    let rivalAnswer: Promise<unknown> | undefined;
    // The pick takes the first free profile and, before the request goes on, another partner's
    // switch (a download the SM-DP runs for it) reserves exactly that profile.
    const target = targetWith(async (free) => {
      const picked = free[0] as string;
      if (rivalAnswer === undefined) {
        expect(picked).toBe(first);
        rivalAnswer = targetWith().es2For(PARTNER).downloadProfile(request(rival, picked));
        await smsr.until([rival]);
      }
      return picked;
    });
    const answer = target.es2For(PARTNER).downloadProfile(request(mine));
    await smsr.until([mine], answer);
    // Both downloads run at once, each holding its own profile of the pool.
    expect(Object.fromEntries(await running([rival, mine]))).toEqual({ [rival]: first, [mine]: second });
    smsr.releaseAll();
    for (const a of [await answer, await rivalAnswer]) {
      // The SM-SR's refusal, relayed: the pool answered neither request.
      expect((a as MessageBodies['ES2-DownloadProfileResponse']).functionExecutionStatus).toMatchObject({
        status: 'FAILED',
        statusCodeData: { message: 'held by the test' },
      });
    }
    await noneRunning();
  });

  it(`${N} concurrent switches over ${N} free profiles: each reserves its own; failed downloads release them for the next ${N}`, async () => {
    for (const round of [0, 1]) {
      const eids = Array.from({ length: N }, (_, i) => eidOf(100 + round * N + i));
      const target = targetWith();
      const answers = eids.map((eid) => target.es2For(PARTNER).downloadProfile(request(eid)));
      // No request may answer while the others hold their profiles: each must have reserved one.
      await smsr.until(eids, Promise.race(answers));
      const reserved = await running(eids);
      expect(reserved.size).toBe(N);
      expect([...reserved.values()].sort()).toEqual(pool);

      // One more switch while all N are held: nothing free, the pool is being taken — retry.
      const late = await target.es2For(PARTNER).downloadProfile(request(eidOf(99)));
      expect(late.functionExecutionStatus).toMatchObject({
        status: 'FAILED',
        statusCodeData: { subject: '8.2.1', reason: '3.7' },
      });
      expect(late.functionExecutionStatus.statusCodeData?.message).toContain('being taken; retry');

      smsr.releaseAll();
      for (const a of await Promise.all(answers))
        expect(a.functionExecutionStatus.statusCodeData?.message).toBe('held by the test');
      // The failed downloads hold nothing: the next round gets all N again.
      await noneRunning();
    }
  });
});
