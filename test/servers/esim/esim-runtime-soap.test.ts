// serve's SGP.02 SOAP listener (esim-runtime.ts with esimSoapPort): the deployment's real SM-SR
// answers a partner SM-DP of another deployment registered in the partners registry, over mutual TLS;
// its SmSrChange answers a partner operator on ES4 (PrepareSMSRChange) and a partner SM-SR on ES7,
// each as the identity its certificate names; a party that is not registered gets nothing; the
// listener is refused without its TLS files; an SM-SR change interrupted by the previous run is
// settled by SmSrChange.recover() at start.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  soapEs3Port,
  soapEs4SmSrChangePort,
  soapEs7Port,
} from '../../../src/platform/esim/es-soap/port-clients.js';
import { MESSAGE_BY_ELEMENT } from '../../../src/platform/esim/es-soap/sgp-02-messages.js';
import {
  type FunctionExecutionStatus,
  REASON_CODES,
  SUBJECT_CODES,
} from '../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import type { Eis } from '../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import { EsimPartners } from '../../../src/platform/esim/partners/partners-registry.js';
import { beginProcedure } from '../../../src/platform/esim/sm-sr/eis-store.js';
import { SM_SR_CHANGE_FUNCTIONS } from '../../../src/platform/esim/sm-sr-change/sm-sr-change-service.js';
import { type RunningEsim, startEsim } from '../../../src/servers/esim/esim-runtime.js';
import { SoapNode } from '../../../src/servers/esim/soap-node.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { sampleBody } from '../../platform/esim/es-soap/fixtures.js';
import { issueTlsIdentity, type TlsIdentity } from './tls-fixtures.js';

const silent = pino({ level: 'silent' });
const PARTNER_SMDP = '1.3.6.1.4.1.99999.1.1';
const PARTNER_SMSR = '1.3.6.1.4.1.99999.1.2';
const PARTNER_MNO = '1.3.6.1.4.1.99999.3.1';
const EID = '89049032123451234512345678901235';
let dir: string;
let ours: TlsIdentity;
let api: TestApi | undefined;
let esim: RunningEsim | undefined;
const nodes: SoapNode[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'esim-soap-'));
  ours = await issueTlsIdentity('sm-sr.this-deployment');
  writeFileSync(join(dir, 'key.pem'), ours.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'cert.pem'), ours.certificatePem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
  await esim?.close();
  esim = undefined;
  await api?.platform.esimOperations.drained();
  await api?.close();
  api = undefined;
});

async function partnerNode(name: string, url: string): Promise<{ node: SoapNode; tls: TlsIdentity }> {
  const tls = await issueTlsIdentity(name);
  const node = await SoapNode.start({
    name,
    tls,
    partners: [{ name: 'sm-sr', url, certificatePem: ours.certificatePem }],
    handlers: {},
  });
  nodes.push(node);
  return { node, tls };
}

const soapConfig = () => ({
  esimSoapPort: 0,
  esimSoapKeyFile: join(dir, 'key.pem'),
  esimSoapCertificateFile: join(dir, 'cert.pem'),
});
const codes = (s: FunctionExecutionStatus) => [s.status, s.statusCodeData?.subject, s.statusCodeData?.reason];
/** The deployment's take-over row of EID (ReceiveSMSRChange). */
const takeOverRow = (a: TestApi) =>
  a.platform.store.db
    .selectFrom('esim_sr_procedures')
    .selectAll()
    .where('eid', '=', EID)
    .where('function', '=', SM_SR_CHANGE_FUNCTIONS.takeOver)
    .executeTakeFirst();

describe('serve: the SGP.02 SOAP listener', () => {
  it('a registered partner SM-DP reaches the real SM-SR on ES3; an unregistered one is refused', async () => {
    api = await startTestApi({
      config: {
        esimSoapPort: 0,
        esimSoapKeyFile: join(dir, 'key.pem'),
        esimSoapCertificateFile: join(dir, 'cert.pem'),
      },
    });
    await api.platform.esimPki.ensureDemo();
    const operatorId = api.operator.operatorId;
    esim = await startEsim(api.platform, operatorId, silent);
    const url = esim.soap?.url ?? '';
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/esim\/soap$/);

    const partner = await partnerNode('sm-dp.other-deployment', url);
    await new EsimPartners(api.platform.store, api.platform.clock).add({
      operatorId,
      entityId: PARTNER_SMDP,
      role: 'sm-dp',
      endpoint: partner.node.url,
      certificatePem: partner.tls.certificatePem,
    });
    await esim.soap?.refresh();
    // The real SM-SR answers (an EID it does not know), so the request crossed the dispatch.
    const r = await soapEs3Port(partner.node, { partner: 'sm-sr' }).getEIS({
      functionCallIdentifier: 'g1',
      eid: EID,
    });
    expect(r.functionExecutionStatus.status).toBe('FAILED');
    expect(r.functionExecutionStatus.statusCodeData).toMatchObject({
      subject: SUBJECT_CODES.EID,
      reason: REASON_CODES.UNKNOWN,
    });
    // The in-process SM-DP now has a SOAP Es3Port for nothing but registered SM-SRs.
    expect(esim.soap?.es3PortOf('1.3.6.1.4.1.99999.1.2')).toBeUndefined();

    const stranger = await partnerNode('sm-dp.stranger', url);
    const refused = await soapEs3Port(stranger.node, { partner: 'sm-sr' }).getEIS({
      functionCallIdentifier: 'g2',
      eid: EID,
    });
    expect(refused.functionExecutionStatus.statusCodeData).toMatchObject({
      subject: SUBJECT_CODES.FUNCTION_REQUESTER,
      reason: REASON_CODES.UNKNOWN_REQUESTER,
    });
  }, 60_000);

  it('the SM-SR change over the listener: a partner operator prepares (ES4), the partner SM-SR it names reaches SmSrChange on ES7 as itself; other roles and strangers are refused', async () => {
    api = await startTestApi({ config: soapConfig() });
    await api.platform.esimPki.ensureDemo();
    const operatorId = api.operator.operatorId;
    esim = await startEsim(api.platform, operatorId, silent);
    const url = esim.soap?.url ?? '';
    const partners = new EsimPartners(api.platform.store, api.platform.clock);
    const operator = await partnerNode('operator.other-deployment', url);
    const smsr = await partnerNode('sm-sr.other-deployment', url);
    await partners.add({
      operatorId,
      entityId: PARTNER_MNO,
      role: 'operator',
      endpoint: operator.node.url,
      certificatePem: operator.tls.certificatePem,
    });
    await partners.add({
      operatorId,
      entityId: PARTNER_SMSR,
      role: 'sm-sr',
      endpoint: smsr.node.url,
      certificatePem: smsr.tls.certificatePem,
    });
    await esim.soap?.refresh();
    expect(esim.soap?.es7PortOf(PARTNER_SMSR)).toBeDefined();
    expect(esim.soap?.es7PortOf(PARTNER_SMDP)).toBeUndefined();

    // The operator prepares our SM-SR to take the eUICC over from its partner SM-SR.
    const prepared = await soapEs4SmSrChangePort(operator.node, { partner: 'sm-sr' }).prepareSMSRChange({
      functionCallIdentifier: 'p1',
      eid: EID,
      currentSmsrId: PARTNER_SMSR,
    });
    expect(codes(prepared.functionExecutionStatus)).toEqual(['EXECUTED_SUCCESS', undefined, undefined]);
    const row = await takeOverRow(api);
    expect(row).toMatchObject({ step: 'prepared', active_eid: EID, requester: `operator:${PARTNER_MNO}` });

    // ES7 from the partner SM-SR reaches the take-over as that SM-SR: its EIS names another SM-SR,
    // so the take-over ends there (a check only the SmSrChange makes).
    const sample = sampleBody(
      MESSAGE_BY_ELEMENT.get('ES7-HandoverEUICCRequest') ?? (undefined as never),
    ) as unknown as { eis: Eis };
    const eis: Eis = {
      ...sample.eis,
      smsrId: '1.3.6.1.4.1.99999.1.50',
      eumSignedInfo: { ...sample.eis.eumSignedInfo, eid: EID },
    };
    // The operator may not use ES7; a stranger gets nothing — the prepare is untouched by both.
    const byOperator = await soapEs7Port(operator.node, { partner: 'sm-sr' }).handoverEUICC({
      functionCallIdentifier: 'h0',
      eis,
    });
    expect(codes(byOperator.functionExecutionStatus)).toEqual(['FAILED', '1.1', '1.2']);
    const stranger = await partnerNode('sm-sr.stranger', url);
    const byStranger = await soapEs7Port(stranger.node, { partner: 'sm-sr' }).handoverEUICC({
      functionCallIdentifier: 'h1',
      eis,
    });
    expect(codes(byStranger.functionExecutionStatus)).toEqual(['FAILED', '1.1', '1.1']);
    expect((await takeOverRow(api))?.step).toBe('prepared');

    const handover = await soapEs7Port(smsr.node, { partner: 'sm-sr' }).handoverEUICC({
      functionCallIdentifier: 'h2',
      eis,
    });
    expect(codes(handover.functionExecutionStatus)).toEqual(['FAILED', '8.6', '2.1']);
    expect(handover.functionExecutionStatus.statusCodeData?.message).toMatch(/names another SM-SR/);
    expect((await takeOverRow(api))?.active_eid).toBeNull();
    // The partner SM-SR asking for a relay we never started is refused by the SmSrChange too.
    const auth = await soapEs7Port(smsr.node, { partner: 'sm-sr' }).authenticateSMSR({
      functionCallIdentifier: 'a1',
      eis,
      smsrCertificate: Uint8Array.of(0x7f, 0x21, 0x00),
    });
    expect(codes(auth.functionExecutionStatus)).toEqual(['FAILED', '1.1', '1.2']);
  }, 60_000);

  it('an SM-SR change the previous run left before its commit point is ended by SmSrChange.recover() at start (the SmSr’s recovery leaves change rows to it)', async () => {
    api = await startTestApi({ config: soapConfig() });
    await api.platform.esimPki.ensureDemo();
    // The previous run: our SM-SR was taking the eUICC over and had asked the current SM-SR to
    // authenticate it when the process died.
    await beginProcedure(
      api.platform.store.db,
      {
        eid: EID,
        function: SM_SR_CHANGE_FUNCTIONS.takeOver,
        requester: `operator:${PARTNER_MNO}`,
        functionCallId: 'old-run',
        step: 'authenticate-sent',
        data: { current: PARTNER_SMSR, requester: PARTNER_MNO },
        deadline: api.platform.clock.now() + 600_000,
      },
      api.platform.clock.now(),
    );
    esim = await startEsim(api.platform, api.operator.operatorId, silent);
    await esim.recovery;
    const row = await takeOverRow(api);
    expect(row?.active_eid).toBeNull();
    const result = JSON.parse(row?.result ?? '{}') as FunctionExecutionStatus;
    expect(codes(result)).toEqual(['FAILED', '8.7', '4.2']);
    expect(result.statusCodeData?.message).toMatch(/before the commit point/);
  }, 60_000);

  it('esimSoapPort without the TLS files is a configuration error', async () => {
    api = await startTestApi({ config: { esimSoapPort: 0 } });
    await api.platform.esimPki.ensureDemo();
    await expect(startEsim(api.platform, api.operator.operatorId, silent)).rejects.toMatchObject({
      code: 'ERR_CONFIG',
    });
  }, 60_000);
});
