// The operator API in front of the real SM-SR (SmSr on the platform's own database) and the software
// eUICC behind it (real ES5 APDUs through the ISD-R). The SM-DP is an in-test ES2 port: it records
// each DownloadProfile call, runs the SM-SR side of a download for real (ES3 CreateISDP, the profile
// installed on the card — the ES8 key establishment and SCP03t are the SM-DP's and are tested there —
// ES3 ProfileDownloadCompleted, ES3 EnableProfile when asked) and reports each step on the progress
// port, as the SM-DP service is to do.

import { randomUUID } from 'node:crypto';
import type { CardFile } from '../../../../src/card/card-file.js';
import type { Uicc } from '../../../../src/card/uicc.js';
import { verifyCertificateChain } from '../../../../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../../../../src/lib/clock.js';
import { encodeNotification } from '../../../../src/lib/sgp-02-es5.js';
import type { MessageBodies } from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import { MESSAGE_BY_ELEMENT } from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import {
  failed,
  REASON_CODES,
  SUBJECT_CODES,
  SUCCESS,
} from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import type { Eis } from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import { encodeSoapMessage } from '../../../../src/platform/esim/es-soap/soap-envelope.js';
import type { Es2DownloadPort } from '../../../../src/platform/esim/operations/ports.js';
import { SmSr } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { EID, euiccFile, euiccOf, newEuicc, SECOND_PROFILE } from '../../../card/euicc/fixture.js';
import { startTestApi, type TestApi } from '../../../helpers/app.js';
import { createTestPki, PKI_NOW, type TestPki } from '../../../helpers/esim-pki.js';
import { CardTransport, eisOf, MNO_ID, SMDP_ID, SMSR_ID } from '../sm-sr/fixture.js';

export { EID, MNO_ID, SECOND_PROFILE };

export interface OpsBench {
  api: TestApi;
  smsr: SmSr;
  card: Uicc;
  transport: CardTransport;
  pki: TestPki;
  eis: Eis;
  /** ES2 DownloadProfile requests the fake SM-DP received. */
  downloads: MessageBodies['ES2-DownloadProfileRequest'][];
  /** The next download is refused by the SM-DP with this status. */
  refuseNextDownload?: MessageBodies['ES2-DownloadProfileResponse']['functionExecutionStatus'];
  /** The ES1-RegisterEISRequest envelope of the card's EIS. */
  registerEisRequest(eis?: Eis): string;
  /** The card restarts and attaches: its pending notifications reach the SM-SR. */
  attach(): Promise<number>;
  /** Runs until the SM-SR's procedure for `fn` waits for the card's notification. */
  awaitingNotification(fn: string): Promise<void>;
  close(): Promise<void>;
}

/** The ES1-RegisterEISRequest SOAP envelope of a card file's EIS (what an EUM sends). */
export function registerEisRequestOf(file: CardFile, pki: TestPki, ecasdCertificate: Uint8Array): string {
  return registerEisEnvelope(eisOf(file, pki, ecasdCertificate));
}

function registerEisEnvelope(eis: Eis): string {
  const spec = MESSAGE_BY_ELEMENT.get('ES1-RegisterEISRequest');
  return encodeSoapMessage({
    addressing: {
      action: spec?.action ?? '',
      messageId: `urn:uuid:${randomUUID()}`,
      to: 'https://smsr.test/ES1',
    },
    message: { element: 'ES1-RegisterEISRequest', body: { functionCallIdentifier: 'reg-1', eis } },
  });
}

export async function opsBench(): Promise<OpsBench> {
  const api = await startTestApi();
  const pki = await createTestPki();
  const clock = new ManualClock(PKI_NOW);
  const file = euiccFile();
  const card = newEuicc(file);
  const transport = new CardTransport(card);
  const sent: unknown[] = [];
  const notify = async (b: unknown) => {
    sent.push(b);
  };
  const smsr = new SmSr({
    store: api.platform.store,
    keyRing: api.platform.keyRing,
    clock,
    transport,
    smsrId: SMSR_ID,
    chains: {
      verify: async (input) =>
        verifyCertificateChain({ ...input, trustedCis: [pki.ci.trusted], now: clock.now() }),
    },
    directory: {
      smdp: () => ({
        handleProfileEnabledNotification: notify,
        handleProfileDisabledNotification: notify,
        handleProfileDeletedNotification: notify,
      }),
      operator: () => undefined,
    },
  });
  const eis = eisOf(file, pki, pki.ecasd(EID).certificate);
  const ops = api.platform.esimOperations;
  const downloads: OpsBench['downloads'] = [];

  const b: OpsBench = {
    api,
    smsr,
    card,
    transport,
    pki,
    eis,
    downloads,
    registerEisRequest(e = eis) {
      return registerEisEnvelope(e);
    },
    async attach() {
      const euicc = euiccOf(card);
      euicc.reset();
      const { send } = euicc.connectivity(0);
      for (const n of send) {
        const e1 = encodeNotification({ eid: euicc.eid, type: n.type, aid: n.aid, seq: n.seq });
        if (!e1.ok) throw new Error(e1.error.message);
        await smsr.handleNotification(euicc.eid, e1.value);
      }
      return send.length;
    },
    async awaitingNotification(fn) {
      // Polled, not timed: the request may come from a CLI child process that is still starting.
      for (let i = 0; i < 6000; i++) {
        const row = await api.platform.store.db
          .selectFrom('esim_sr_procedures')
          .select('step')
          .where('function', '=', fn)
          .where('active_eid', '=', EID)
          .executeTakeFirst();
        if (row?.step === 'awaiting-notification') return;
        await new Promise((r) => (i < 1000 ? setImmediate(r) : setTimeout(r, 10)));
      }
      throw new Error(`${fn} never waited for the notification`);
    },
    async close() {
      await ops.drained();
      await api.close();
    },
  };

  const es3 = smsr.es3For(SMDP_ID);
  const step = (id: string, name: string, state: 'running' | 'succeeded' | 'failed', detail?: string) =>
    ops.report({ functionCallIdentifier: id, step: name, state, ...(detail ? { detail } : {}) });
  const es2: Es2DownloadPort = {
    async downloadProfile(req) {
      downloads.push(req);
      const id = req.functionCallIdentifier;
      if (b.refuseNextDownload !== undefined) {
        const status = b.refuseNextDownload;
        b.refuseNextDownload = undefined;
        await ops.report({ functionCallIdentifier: id, step: 'CreateISDP', state: 'failed', status });
        return { functionExecutionStatus: status };
      }
      if (req.iccid !== SECOND_PROFILE.identity.iccid)
        return {
          functionExecutionStatus: failed(
            SUBJECT_CODES.PROFILE_ICCID,
            REASON_CODES.UNKNOWN,
            'not prepared here',
          ),
        };
      await step(id, 'CreateISDP', 'running');
      const created = await es3.createISDP({
        functionCallIdentifier: `${id}.1`,
        eid: req.eid,
        iccid: req.iccid,
        mnoId: MNO_ID,
        requiredMemory: 32_000,
      });
      if (created.functionExecutionStatus.status !== 'EXECUTED_SUCCESS') {
        await ops.report({
          functionCallIdentifier: id,
          step: 'CreateISDP',
          state: 'failed',
          status: created.functionExecutionStatus,
        });
        return { functionExecutionStatus: created.functionExecutionStatus };
      }
      await step(id, 'CreateISDP', 'succeeded', created.isdPAid);
      await step(id, 'DownloadAndInstallation', 'running');
      const installed = euiccOf(card).installProfile(created.isdPAid, SECOND_PROFILE);
      if (!installed.ok) throw new Error('install failed');
      await step(id, 'DownloadAndInstallation', 'succeeded');
      await step(id, 'ProfileDownloadCompleted', 'running');
      const done = await es3.profileDownloadCompleted({
        functionCallIdentifier: `${id}.2`,
        eid: req.eid,
        iccid: req.iccid,
        subscriptionAddress: { imsi: SECOND_PROFILE.identity.imsi, msisdn: SECOND_PROFILE.identity.msisdn },
        pol2: { rules: [] },
      });
      await ops.report({
        functionCallIdentifier: id,
        step: 'ProfileDownloadCompleted',
        state: done.functionExecutionStatus.status === 'EXECUTED_SUCCESS' ? 'succeeded' : 'failed',
        status: done.functionExecutionStatus,
      });
      return { functionExecutionStatus: done.functionExecutionStatus, iccid: req.iccid };
    },
  };

  const own = api.operator.operatorId;
  ops.connect({
    smsrId: SMSR_ID,
    es1: (pem) => smsr.es1For(pem),
    es2: (operatorId) => (operatorId === own ? es2 : undefined),
    es4: (operatorId) => (operatorId === own ? smsr.es4For(MNO_ID) : undefined),
    mnoId: (operatorId) => (operatorId === own ? MNO_ID : undefined),
  });
  return b;
}

export { SUCCESS };
