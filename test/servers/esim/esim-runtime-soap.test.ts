// serve's SGP.02 SOAP listener (esim-runtime.ts with esimSoapPort): the deployment's real SM-SR
// answers a partner SM-DP of another deployment registered in the partners registry, over mutual TLS;
// a party that is not registered gets nothing; the listener is refused without its TLS files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { soapEs3Port } from '../../../src/platform/esim/es-soap/port-clients.js';
import { REASON_CODES, SUBJECT_CODES } from '../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import { EsimPartners } from '../../../src/platform/esim/partners/partners-registry.js';
import { type RunningEsim, startEsim } from '../../../src/servers/esim/esim-runtime.js';
import { SoapNode } from '../../../src/servers/esim/soap-node.js';
import { startTestApi, type TestApi } from '../../helpers/app.js';
import { issueTlsIdentity, type TlsIdentity } from './tls-fixtures.js';

const silent = pino({ level: 'silent' });
const PARTNER_SMDP = '1.3.6.1.4.1.99999.1.1';
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

  it('esimSoapPort without the TLS files is a configuration error', async () => {
    api = await startTestApi({ config: { esimSoapPort: 0 } });
    await api.platform.esimPki.ensureDemo();
    await expect(startEsim(api.platform, api.operator.operatorId, silent)).rejects.toMatchObject({
      code: 'ERR_CONFIG',
    });
  }, 60_000);
});
