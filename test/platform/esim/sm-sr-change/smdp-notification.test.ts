// The SM-DP as receiver of SM-SR2's ES3 HandleSMSRChangeNotification after a real SM-SR change
// (SGP.02 §3.8 steps 31–32, issue 16): two deployments of the two-SM-SR fixture, the real SmDp on
// SM-SR1's deployment (it downloaded the eUICC's profile through SM-SR1), SM-SR2's outbox delivering
// to it through its ES3 notification port bound to SM-SR2. Threat: an SM-DP never told — its next
// request for the eUICC goes to SM-SR1, which no longer knows it — or told by the wrong SM-SR.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyCertificateChain } from '../../../../src/crypto/sgp-02-certificate-chain.js';
import type { Eis } from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import { insertDownload } from '../../../../src/platform/esim/sm-dp/download-store.js';
import {
  type Es2NotificationPort,
  SMSR_CHANGED_STEP,
  SmDp,
} from '../../../../src/platform/esim/sm-dp/sm-dp-service.js';
import { testDialect } from '../../../helpers/database.js';
import { createTestPki, type TestPki } from '../../../helpers/esim-pki.js';
import { EUM_ID } from '../sm-sr/fixture.js';
import { EID, MNO_ID, type Rig, SMDP_ID, SMSR1_ID, SMSR2_ID, twoSmSrs } from './fixture.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

let rig: Rig | undefined;
let smdp: SmDp | undefined;
afterEach(async () => {
  await smdp?.close();
  await rig?.close();
  rig = undefined;
  smdp = undefined;
});

const TEST_MS = 120_000;
let calls = 0;
const fcid = () => `smdp-fc-${++calls}`;

describe(`SM-SR change → the SM-DP (ES3) → the operator (ES2), on ${testDialect}`, () => {
  it(
    'SM-SR2 notifies the SM-DP, which repoints its download at SM-SR2 and relays ES2 HandleSMSRChangeNotification once; its ES2 GetEIS then goes to SM-SR2',
    async () => {
      const relayed: { eis: Eis; completionTimestamp: Date }[] = [];
      const operator: Es2NotificationPort = {
        handleProfileEnabledNotification: async () => undefined,
        handleProfileDisabledNotification: async () => undefined,
        handleProfileDeletedNotification: async () => undefined,
        handleSMSRChangeNotification: async (b) => {
          relayed.push(b);
        },
      };
      const opHeard: string[] = [];
      const r = await twoSmSrs(pki, {
        // SM-SR2's SM-DP receiver is the real SM-DP (bound to SM-SR2 as sender); operators record.
        directory: (from) => ({
          smdp: (id) =>
            id === SMDP_ID ? smdp?.es3Notifications(from === 'sr2' ? SMSR2_ID : SMSR1_ID) : undefined,
          operator: (id) =>
            id === MNO_ID
              ? {
                  handleProfileEnabledNotification: async () => undefined,
                  handleProfileDisabledNotification: async () => undefined,
                  handleProfileDeletedNotification: async () => undefined,
                  handleSMSRChangeNotification: async () => {
                    opHeard.push(from);
                  },
                }
              : undefined,
        }),
      });
      rig = r;
      const sr1 = r.sr1;
      smdp = new SmDp({
        store: sr1.db.store,
        keyRing: sr1.keyRing,
        clock: r.clock,
        smdpId: SMDP_ID,
        smsr: (id) =>
          id === SMSR1_ID
            ? r.sr1.smsr.es3For(SMDP_ID)
            : id === SMSR2_ID
              ? r.sr2.smsr.es3For(SMDP_ID)
              : undefined,
        signer: async () => ({ certificate: pki.smdp.certificate, privateKey: pki.smdp.privateKey }),
        verify: async (input) =>
          verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: r.clock.now() }),
        eumCertificate: async (id) => (id === EUM_ID ? pki.eum.pem : undefined),
        operators: (id) => (id === MNO_ID ? operator : undefined),
      });
      // The SM-DP downloaded the eUICC's profile through SM-SR1 (its installed download row).
      const iccid = r.eis.profiles[0]?.iccid ?? '';
      const now = r.clock.now();
      await sr1.db.store.db.transaction().execute((tx) =>
        insertDownload(
          tx,
          {
            download_id: 'dl-1',
            operator_id: 'op-1',
            mno_id: MNO_ID,
            function_call_id: 'fc-dl-1',
            eid: EID,
            smsr_id: SMSR1_ID,
            iccid,
            active_iccid: iccid,
            profile_type: 'simtrust-usim',
            enable: 0,
            deadline: null,
            created_at: now,
            updated_at: now,
          },
          'prepare-profile',
        ),
      );
      await sr1.db.store.db
        .updateTable('esim_dp_downloads')
        .set({ status: 'EXECUTED_SUCCESS', active_iccid: null })
        .where('download_id', '=', 'dl-1')
        .execute();

      const prepared = await r.sr2.change
        .es4For(MNO_ID)
        .prepareSMSRChange({ functionCallIdentifier: fcid(), eid: EID, currentSmsrId: SMSR1_ID });
      expect(prepared.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      const changed = await r.sr1.change
        .es4For(MNO_ID)
        .smsrChange({ functionCallIdentifier: fcid(), eid: EID, targetSmsrId: SMSR2_ID });
      expect(changed.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');

      // SM-SR2's ES3 row reached the SM-DP (delivered, not refused), and its ES4 row the operator.
      const outbox = await r.sr2.db.store.db
        .selectFrom('esim_notification_outbox')
        .select(['interface', 'receiver_id', 'state', 'last_error'])
        .orderBy('id')
        .execute();
      expect(outbox).toEqual([
        { interface: 'ES4', receiver_id: MNO_ID, state: 'delivered', last_error: null },
        { interface: 'ES3', receiver_id: SMDP_ID, state: 'delivered', last_error: null },
      ]);
      expect(opHeard).toEqual(['sr2']);
      // The SM-DP's download points at SM-SR2, the change in its trail.
      const dl = await sr1.db.store.db
        .selectFrom('esim_dp_downloads')
        .select('smsr_id')
        .where('download_id', '=', 'dl-1')
        .executeTakeFirstOrThrow();
      expect(dl.smsr_id).toBe(SMSR2_ID);
      const trail = await sr1.db.store.db
        .selectFrom('esim_dp_steps')
        .select('detail')
        .where('download_id', '=', 'dl-1')
        .where('step', '=', SMSR_CHANGED_STEP)
        .execute();
      expect(trail.map((t) => JSON.parse(t.detail))).toEqual([
        expect.objectContaining({ previousSmsrId: SMSR1_ID, smsrId: SMSR2_ID }),
      ]);
      // The operator got the ES2 relay once (the SM-DP's outbox), with the EIS SM-SR2 holds.
      expect(relayed).toHaveLength(1);
      expect(relayed[0]?.eis.smsrId).toBe(SMSR2_ID);
      expect(relayed[0]?.eis.profiles.map((p) => p.iccid)).toEqual([iccid]);
      expect(await smdp.notifications.runDue()).toEqual({ delivered: 0, retried: 0, dead: 0 });

      // The SM-DP's next request for the eUICC, naming SM-SR1 as the operator still may, is
      // answered by SM-SR2 (SM-SR1 no longer has the EIS).
      const eis = await smdp
        .es2For({ operatorId: 'op-1', mnoId: MNO_ID })
        .getEIS({ functionCallIdentifier: fcid(), eid: EID, smsrId: SMSR1_ID });
      expect(eis.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      expect(eis.eis?.smsrId).toBe(SMSR2_ID);
    },
    TEST_MS,
  );
});
