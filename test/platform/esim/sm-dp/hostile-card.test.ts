// Threat: a card (or whatever sits between the SM-SR and the card) answering the SM-DP's ES8 traffic
// with arbitrary bytes — a short RC, a truncated receipt, garbage instead of an SCP03t TLV or an
// EUICCResponse, a status word of its own. Whatever answer comes at whatever point, the download ends
// with a definite FunctionExecutionStatus (never an exception, never a hang): FAILED with a failure
// code and no ISD-P left on the card, or — when the bytes happen not to matter — installed.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hex } from '../../../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../../../src/lib/identities.js';
import type { Es3Port } from '../../../../src/platform/esim/es-ports.js';
import { SMDP_FAILURES } from '../../../../src/platform/esim/sm-dp/failure-codes.js';
import { euiccOf } from '../../../card/euicc/fixture.js';
import { testDialect } from '../../../helpers/database.js';
import { type DpBench, dpBench, EID, MNO_ID, OPERATOR, SMSR_ID } from './fixture.js';

let b: DpBench;
beforeAll(async () => {
  b = await dpBench({ segmentSize: 200 });
});
afterAll(() => b.db.cleanup());

describe(`hostile ES8 answers on ${testDialect}`, () => {
  it('any bytes as the card answer of any SendData end the download definitely, the ISD-P gone when it failed', async () => {
    let serial = 100;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 9 }),
        fc.oneof(
          fc.uint8Array({ maxLength: 48 }),
          fc.uint8Array({ maxLength: 48 }).map((d) => Uint8Array.of(...d, 0x90, 0x00)),
        ),
        async (at, answer) => {
          const iccid = iccidWithCheckDigit(`894400000000001${String(serial++).padStart(3, '0')}`);
          await b.addSim({
            iccid,
            imsi: `00101000000${String(serial).padStart(4, '0')}`,
            ki: hex('465b5ce8b199b49faa5f0a2ee238a6bc'),
            opc: hex('cd63cb71954a9f4e48a5994e37a02baf'),
            algorithm: 'milenage',
          });
          let calls = 0;
          b.es3.port = (real: Es3Port): Es3Port => ({
            ...real,
            sendData: async (q) => {
              const r = await real.sendData(q);
              return calls++ === at ? { ...r, euiccResponseData: answer } : r;
            },
          });
          const smdp = b.restartSmdp();
          const r = await smdp.es2For({ operatorId: OPERATOR, mnoId: MNO_ID }).downloadProfile({
            functionCallIdentifier: `h-${serial}`,
            eid: EID,
            smsrId: SMSR_ID,
            iccid,
            enableProfile: false,
          });
          const row = await b.db.store.db
            .selectFrom('esim_dp_downloads')
            .select(['status', 'failure_code', 'active_iccid', 'secrets'])
            .where('iccid', '=', iccid)
            .executeTakeFirstOrThrow();
          expect(row.active_iccid).toBeNull();
          expect(row.secrets).toBeNull();
          const onCard = euiccOf(b.card)
            .snapshot()
            .isdps.find((i) => i.profile?.identity.iccid === iccid);
          if (r.functionExecutionStatus.status === 'FAILED') {
            expect(row.failure_code && row.failure_code in SMDP_FAILURES).toBe(true);
            expect(r.functionExecutionStatus.statusCodeData?.subject).toBeDefined();
            expect(euiccOf(b.card).snapshot().isdps.length).toBe(1);
          } else {
            expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
            expect(onCard).toBeDefined();
            // Make room again for the next run.
            const del = await smdp
              .es2For({ operatorId: OPERATOR, mnoId: MNO_ID })
              .deleteProfile({ functionCallIdentifier: `d-${serial}`, eid: EID, smsrId: SMSR_ID, iccid });
            expect(del.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});
