// Request data of a switch that becomes a lookup key, under fast-check (issue 16). Threats: a body
// or path value that reaches the partners registry or the target's inventory as something else than
// what was validated (an id that is no OID, a path segment with separators), a 500 instead of a typed
// refusal, an operation created for a request that was refused; on the target side, a partner's
// profile type, ICCID or FunctionCallIdentifier that makes the SM-DP download a profile outside the
// owner's switch pool, or answers one partner with another's download.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageBodies } from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import {
  failed,
  REASON_CODES,
  SUBJECT_CODES,
} from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import type { Es2Caller } from '../../../../src/platform/esim/sm-dp/sm-dp-service.js';
import { EsimSwitchTarget, SWITCH_POOL_TAG } from '../../../../src/platform/esim/switch/target.js';
import { DEFAULT_SPEED_CLASS } from '../../../../src/platform/sims/model.js';
import { newSimRow } from '../../../../src/platform/sims/sim-service.js';
import { startTestApi, type TestApi, vendorCsv } from '../../../helpers/app.js';

const EID = '89049032123451234512345678901235';
const SMSR_ID = '1.3.6.1.4.1.99999.1.2';
const OID = /^[0-2](\.(0|[1-9][0-9]{0,8}))+$/;

let api: TestApi;
const asked: { smsr: string[]; smdp: string[] } = { smsr: [], smdp: [] };
beforeAll(async () => {
  api = await startTestApi();
  const op = api.operator.operatorId;
  const now = Date.now();
  // An eUICC SIM of the operator at our SM-SR (rows as registration writes them).
  await api.platform.store.db
    .insertInto('sims')
    .values(
      newSimRow(op, EID, now, {
        type: 'euicc',
        speedClass: DEFAULT_SPEED_CLASS,
        groupId: null,
        serialNumber: null,
      }),
    )
    .execute();
  await api.platform.store.db
    .insertInto('esim_euiccs')
    .values({ sim_id: EID, operator_id: op, eid: EID, smsr_id: SMSR_ID, created_at: now })
    .execute();
  const never = async () => ({ functionExecutionStatus: failed('1.2', '4.2', 'not in this test') });
  api.platform.esimOperations.connect({
    smsrId: SMSR_ID,
    es1: () => ({ registerEIS: never }),
    es2: () => undefined,
    es4: () => undefined,
    mnoId: () => '1.3.6.1.4.1.99999.3.1',
    smsrChange: () => ({ smsrChange: never }),
    // No partner at all: every lookup is recorded, and refused.
    partnerSmsr: (_op, id) => {
      asked.smsr.push(id);
      return undefined;
    },
    partnerSmdp: (_op, id) => {
      asked.smdp.push(id);
      return undefined;
    },
  });
});
afterAll(() => api.close());

const oidish = fc.oneof(
  // Valid ids of no partner (weighted: most runs then reach the registry lookup).
  { arbitrary: fc.constantFrom('1.3.6.1.4.1.99999.1.3', '2.999.15', '0.0'), weight: 4 },
  fc.string({ maxLength: 140 }),
  fc.stringMatching(/^[0-9.]{0,40}$/),
  fc.array(fc.nat({ max: 4_000_000_000 }), { minLength: 1, maxLength: 12 }).map((a) => a.join('.')),
  fc.constantFrom(SMSR_ID, '1.3.6.1.4.1.99999.1.3', '__proto__', '0.0', '2.999.15', '1..2', '3.1', '1.02'),
);

describe('POST /v1/sims/{simId}/switch_operator, hostile values', () => {
  it('every body and path value gets a typed 400/404, only valid OIDs reach the partners registry, nothing is created', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { arbitrary: fc.constant(EID), weight: 4 },
          fc.string({ maxLength: 80 }),
          fc.constantFrom('..', '%2F', '__proto__'),
        ),
        oidish,
        oidish,
        fc.oneof({ arbitrary: fc.constant('simtrust-usim'), weight: 3 }, fc.string({ maxLength: 120 })),
        fc.option(fc.oneof(fc.stringMatching(/^[0-9]{0,22}[fF]?$/), fc.string({ maxLength: 30 })), {
          nil: undefined,
        }),
        async (simId, targetSmsrId, targetSmdpId, profileType, iccid) => {
          const before = { smsr: asked.smsr.length, smdp: asked.smdp.length };
          const res = await api.call({
            method: 'POST',
            url: `/v1/sims/${encodeURIComponent(simId)}/switch_operator`,
            payload: { targetSmsrId, targetSmdpId, profileType, ...(iccid === undefined ? {} : { iccid }) },
          });
          expect([400, 404], res.body).toContain(res.statusCode);
          expect(typeof res.json().code).toBe('string');
          for (const id of [...asked.smsr.slice(before.smsr), ...asked.smdp.slice(before.smdp)]) {
            expect(id).toMatch(OID);
            expect(id.length).toBeLessThanOrEqual(128);
          }
          // A lookup happened only for the eUICC and a body the schema took.
          if (asked.smsr.length > before.smsr) {
            expect(simId).toBe(EID);
            expect(targetSmsrId).toBe(asked.smsr.at(-1));
            expect(res.json().code).toBe('ERR_ESIM_PARTNER_NOT_FOUND');
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(asked.smsr.length).toBeGreaterThan(0);
    expect(
      await api.platform.store.db.selectFrom('esim_operations').select('operation_id').execute(),
    ).toEqual([]);
    expect(await api.platform.store.db.selectFrom('esim_switches').select('operation_id').execute()).toEqual(
      [],
    );
  }, 120_000);
});

describe('EsimSwitchTarget, hostile partner requests', () => {
  it('downloads only the free profile of the pool, of its type, and keeps partners apart', async () => {
    const owner = api.operator.operatorId;
    const { csv, rows } = vendorCsv(2, { start: 900 });
    const imported = await api.call({
      method: 'POST',
      url: '/v1/sims/import',
      headers: { 'content-type': 'text/csv' },
      payload: csv,
    });
    expect(imported.statusCode, imported.body).toBeLessThan(300);
    const [pooled, other] = rows.map((r) => r.iccid) as [string, string];
    const simOf = async (iccid: string) =>
      (
        await api.platform.store.db
          .selectFrom('sim_profiles')
          .select('sim_id')
          .where('iccid', '=', iccid)
          .executeTakeFirstOrThrow()
      ).sim_id;
    await api.call({
      method: 'PUT',
      url: `/v1/sims/${await simOf(pooled)}/tags`,
      payload: [{ tagName: SWITCH_POOL_TAG, tagValue: 'simtrust-usim' }],
    });
    await api.call({
      method: 'PUT',
      url: `/v1/sims/${await simOf(other)}/tags`,
      payload: [{ tagName: 'site', tagValue: 'simtrust-usim' }],
    });
    // The SM-DP records what it was asked and refuses (nothing is consumed).
    const smdp: Array<{
      iccid: string | undefined;
      type: string | undefined;
      fcid: string;
      caller: Es2Caller;
    }> = [];
    const target = new EsimSwitchTarget({
      store: api.platform.store,
      owner: { operatorId: owner, mnoId: '2.999.15.4.2' },
      smdp: {
        async downloadProfile(b, caller) {
          smdp.push({ iccid: b.iccid, type: b.profileType, fcid: b.functionCallIdentifier, caller });
          return {
            downloadId: '',
            iccid: b.iccid ?? '',
            status: failed(SUBJECT_CODES.EUICC, REASON_CODES.EXECUTION_ERROR, 'test'),
            installed: false,
          };
        },
      },
      adopt: async () => {
        throw new Error('nothing is installed in this test');
      },
      pollMs: 1,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom('1.3.6.1.4.1.99999.3.1', '1.3.6.1.4.1.99999.3.9'),
          fc.string({ maxLength: 40 }),
        ),
        fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('esop-1', "' or 1=1 --", 'switch:x:y')),
        fc.option(
          fc.oneof(fc.constantFrom('simtrust-usim', 'ts48-generic', "simtrust-usim' --"), fc.string()),
          {
            nil: undefined,
          },
        ),
        fc.option(
          fc.oneof(fc.constantFrom(pooled, other, `${pooled}F`, `${pooled} `), fc.string({ maxLength: 22 })),
          {
            nil: undefined,
          },
        ),
        async (partner, fcid, profileType, iccid) => {
          const n = smdp.length;
          const body: MessageBodies['ES2-DownloadProfileRequest'] = {
            functionCallIdentifier: fcid,
            eid: EID,
            smsrId: SMSR_ID,
            enableProfile: true,
            ...(profileType === undefined ? {} : { profileType }),
            ...(iccid === undefined ? {} : { iccid }),
          };
          const r = await target.es2For(partner).downloadProfile(body);
          expect(['FAILED', 'EXPIRED']).toContain(r.functionExecutionStatus.status);
          expect(r.iccid).toBeUndefined();
          for (const call of smdp.slice(n)) {
            // Only the pooled profile, only as its type, only for the owner, under this partner's key.
            expect(call.iccid).toBe(pooled);
            expect(call.type).toBe('simtrust-usim');
            expect(call.caller).toEqual({ operatorId: owner, mnoId: '2.999.15.4.2' });
            expect(call.fcid).toBe(`switch:${partner}:${fcid}`);
          }
          if (smdp.length > n) expect(profileType).toBe('simtrust-usim');
        },
      ),
      { numRuns: 300 },
    );
    expect(smdp.length).toBeGreaterThan(0);
    // The rest of ES2 is refused to a partner.
    const port = target.es2PortFor('1.3.6.1.4.1.99999.3.1');
    const refused = await port.enableProfile({
      functionCallIdentifier: 'x',
      eid: EID,
      smsrId: SMSR_ID,
      iccid: pooled,
    });
    expect(refused.functionExecutionStatus.statusCodeData).toMatchObject({ subject: '1.1', reason: '1.2' });
  }, 120_000);
});
