// serve's SM-DP as receiver of a partner SM-SR's ES3 HandleSMSRChangeNotification over the SGP.02
// SOAP listener (mutual TLS; esim-runtime.ts binds the SM-DP's ES3 notification port to the partner
// that sends). Threat: a registered SM-SR that points this SM-DP's downloads of an eUICC at another
// SM-SR (the notification names one, the sender is another) — refused, nothing changes; the new
// SM-SR's own notification is taken: the download points at it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ENTITY_IDS, PLATFORM_OWNER } from '../../../src/platform/esim/ci/pki-service.js';
import { soapEs3Notifications } from '../../../src/platform/esim/es-soap/port-clients.js';
import { signEis } from '../../../src/platform/esim/es-soap/sgp-02-eis-signature.js';
import { MESSAGE_BY_ELEMENT } from '../../../src/platform/esim/es-soap/sgp-02-messages.js';
import type { Eis } from '../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import { EsimPartners } from '../../../src/platform/esim/partners/partners-registry.js';
import { insertDownload } from '../../../src/platform/esim/sm-dp/download-store.js';
import { type RunningEsim, startEsim } from '../../../src/servers/esim/esim-runtime.js';
import { SoapNode } from '../../../src/servers/esim/soap-node.js';
import { waitFor } from '../../helpers/anti-theft.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { sampleBody } from '../../platform/esim/es-soap/fixtures.js';
import { issueTlsIdentity, type TlsIdentity } from './tls-fixtures.js';

const NEW_SMSR = '1.3.6.1.4.1.99999.1.3';
const OTHER_SMSR = '1.3.6.1.4.1.99999.1.77';
const MNO = '1.3.6.1.4.1.99999.3.1';
const EID = '89049032123451234512345678901235';
let dir: string;
let ours: TlsIdentity;
let api: TestApi | undefined;
let esim: RunningEsim | undefined;
let node: SoapNode | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'esim-smdp-soap-'));
  ours = await issueTlsIdentity('sm-dp.this-deployment');
  writeFileSync(join(dir, 'key.pem'), ours.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'cert.pem'), ours.certificatePem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await node?.close();
  node = undefined;
  await esim?.close();
  esim = undefined;
  await api?.platform.esimOperations.drained();
  await api?.close();
  api = undefined;
});

describe('serve: the SM-DP takes an SM-SR change notification from the new SM-SR only', () => {
  it('a partner SM-SR naming another SM-SR is refused (logged, nothing changes); naming itself, the download points at it', async () => {
    // The listener's handler errors, as the log has them.
    const logged: { msg?: string; err?: { message?: string } }[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _enc, done) {
          logged.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    api = await startTestApi({
      config: {
        esimSoapPort: 0,
        esimSoapKeyFile: join(dir, 'key.pem'),
        esimSoapCertificateFile: join(dir, 'cert.pem'),
      },
    });
    const { eum } = await api.platform.esimPki.ensureDemo();
    const operatorId = api.operator.operatorId;
    esim = await startEsim(api.platform, operatorId, log);
    const url = esim.soap?.url ?? '';

    // The new SM-SR of another deployment, registered here as role sm-sr.
    const tls = await issueTlsIdentity('sm-sr.new');
    node = await SoapNode.start({
      name: 'sm-sr.new',
      tls,
      partners: [{ name: 'sm-dp', url, certificatePem: ours.certificatePem }],
      handlers: {},
    });
    await new EsimPartners(api.platform.store, api.platform.clock).add({
      operatorId,
      entityId: NEW_SMSR,
      role: 'sm-sr',
      endpoint: node.url,
      certificatePem: tls.certificatePem,
    });
    await esim.soap?.refresh();

    // Our SM-DP installed a profile on EID through our own SM-SR.
    const db = api.platform.store.db;
    const now = api.platform.clock.now();
    await db.transaction().execute((tx) =>
      insertDownload(
        tx,
        {
          download_id: 'dl-soap-1',
          operator_id: operatorId,
          mno_id: MNO,
          function_call_id: 'fc-dl',
          eid: EID,
          smsr_id: esim?.smsrId ?? '',
          iccid: '8944000000000000017',
          active_iccid: null,
          profile_type: 'simtrust-usim',
          enable: 0,
          deadline: null,
          created_at: now,
          updated_at: now,
        },
        'prepare-profile',
      ),
    );
    await db
      .updateTable('esim_dp_downloads')
      .set({ status: 'EXECUTED_SUCCESS' })
      .where('download_id', '=', 'dl-soap-1')
      .execute();

    // The EIS the new SM-SR holds, signed by the EUM this deployment knows.
    const sample = sampleBody(
      MESSAGE_BY_ELEMENT.get('ES3-HandleSMSRChangeNotification') ?? (undefined as never),
    ) as unknown as { eis: Eis };
    const eumKey = await api.platform.esimPki.signingKey(eum.certId, PLATFORM_OWNER);
    const eisNaming = (smsrId: string): Eis =>
      signEis(
        {
          ...sample.eis,
          smsrId,
          eumSignedInfo: { ...sample.eis.eumSignedInfo, eid: EID, eumId: DEMO_ENTITY_IDS.eum },
        },
        eumKey.privateKey,
      );
    const port = soapEs3Notifications(node, { partner: 'sm-dp' });
    const smsrOf = async () =>
      (
        await db
          .selectFrom('esim_dp_downloads')
          .select('smsr_id')
          .where('download_id', '=', 'dl-soap-1')
          .executeTakeFirstOrThrow()
      ).smsr_id;

    // Sent by NEW_SMSR, naming OTHER_SMSR: refused with its reason.
    await port.handleSMSRChangeNotification?.({
      eis: eisNaming(OTHER_SMSR),
      mnoId: MNO,
      completionTimestamp: new Date(now),
    });
    const refusal = await waitFor(
      'the refusal in the log',
      () => logged.find((l) => l.err?.message?.startsWith('refused: ')),
      (l) => l !== undefined,
      20_000,
    );
    expect(refusal?.err?.message).toMatch(/only the new SM-SR notifies/);
    expect(await smsrOf()).toBe(esim.smsrId);

    // Sent by NEW_SMSR, naming itself: taken.
    await port.handleSMSRChangeNotification?.({
      eis: eisNaming(NEW_SMSR),
      mnoId: MNO,
      completionTimestamp: new Date(now),
    });
    expect(await waitFor('the download repointed', smsrOf, (s) => s === NEW_SMSR, 20_000)).toBe(NEW_SMSR);
    expect(logged.filter((l) => l.err?.message?.startsWith('refused: '))).toHaveLength(1);
  }, 60_000);
});
