// The SGP.02 partners registry on both databases. Threats: a partner whose certificate the registry
// would admit without pinning it exactly (a CA, several certificates, an expired one); two partners
// sharing a certificate (the listener could not tell who called); racing adds of one partner; a
// partner removed from the registry still calling our listener.
import 'reflect-metadata';
import { webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/lib/clock.js';
import { SimtrustError } from '../../../../src/lib/errors.js';
import {
  MESSAGE_BY_ELEMENT,
  type MessageSpec,
} from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import type { Eis } from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import {
  EsimPartners,
  INTERFACES_BY_ROLE,
  peerOfName,
  soapPartnersOf,
} from '../../../../src/platform/esim/partners/partners-registry.js';
import { soapHandlersFor } from '../../../../src/servers/esim/soap-dispatch.js';
import { SoapNode } from '../../../../src/servers/esim/soap-node.js';
import { SoapPartnerSync } from '../../../../src/servers/esim/soap-partners.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../../helpers/database.js';
import { issueTlsIdentity, type TlsIdentity } from '../../../servers/esim/tls-fixtures.js';
import { sampleBody } from '../es-soap/fixtures.js';

const OP = 'OP0000000001';
const SMDP = '1.3.6.1.4.1.99999.1.1';
const SMSR = '1.3.6.1.4.1.99999.1.2';
let db: TestDatabase;
let clock: ManualClock;
let partners: EsimPartners;
let tls: TlsIdentity;

const add = (o: Partial<Parameters<EsimPartners['add']>[0]> = {}) =>
  partners.add({
    operatorId: OP,
    entityId: SMDP,
    role: 'sm-dp',
    endpoint: 'https://sm-dp.example.test:8443/esim/soap',
    certificatePem: tls.certificatePem,
    ...o,
  });

async function refusal(p: Promise<unknown>): Promise<{ code: string; field?: unknown }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SimtrustError)
      return { code: e.code, field: (e.details as { field?: unknown } | undefined)?.field };
    throw e;
  }
  throw new Error('not refused');
}

async function caCertificatePem(): Promise<string> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Some CA',
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  return cert.toString('pem');
}

beforeEach(async () => {
  db = await openTestDatabase();
  clock = new ManualClock(Date.now());
  partners = new EsimPartners(db.store, clock);
  tls = await issueTlsIdentity('sm-dp.partner');
});
afterEach(() => db.cleanup());

describe(`eSIM partners registry (${testDialect})`, () => {
  it('adds, lists, and removes a partner; the certificate is pinned by its SHA-256 fingerprint; audited', async () => {
    const p = await add();
    expect(p).toMatchObject({ operatorId: OP, entityId: SMDP, role: 'sm-dp', subject: 'CN=sm-dp.partner' });
    expect(p.fingerprint).toBe(new X509Certificate(tls.certificatePem).fingerprint256);
    expect(p.partnerId).toMatch(/^EP-[0-9a-f]{16}$/);
    const sr = await add({
      entityId: SMSR,
      role: 'sm-sr',
      certificatePem: (await issueTlsIdentity('sr')).certificatePem,
    });
    expect((await partners.list(OP)).map((x) => x.entityId)).toEqual([SMDP, SMSR]);
    expect(await partners.list('OP0000000002')).toEqual([]);
    // The node's view: name per role and entity, interfaces by role, reversible for the dispatch.
    const nodes = soapPartnersOf(await partners.list(OP));
    expect(nodes.map((n) => [n.name, n.interfaces])).toEqual([
      [`sm-dp:${SMDP}`, INTERFACES_BY_ROLE['sm-dp']],
      [`sm-sr:${SMSR}`, INTERFACES_BY_ROLE['sm-sr']],
    ]);
    expect(peerOfName(`sm-sr:${SMSR}`)).toEqual({ role: 'sm-sr', entityId: SMSR });
    expect(peerOfName('stranger')).toBeUndefined();

    expect((await partners.remove(OP, sr.partnerId)).map((x) => x.entityId)).toEqual([SMSR]);
    expect((await partners.remove(OP, SMDP)).map((x) => x.partnerId)).toEqual([p.partnerId]);
    expect(await partners.list(OP)).toEqual([]);
    expect((await refusal(partners.remove(OP, SMDP))).code).toBe('ERR_ESIM_PARTNER_NOT_FOUND');
    const audits = await db.store.db
      .selectFrom('audit_logs')
      .select(['operation_id', 'operator_id'])
      .where('operation_id', 'like', 'Esim:%Partner')
      .orderBy('id')
      .execute();
    expect(audits.map((a) => a.operation_id)).toEqual([
      'Esim:addPartner',
      'Esim:addPartner',
      'Esim:removePartner',
      'Esim:removePartner',
    ]);
    expect(new Set(audits.map((a) => a.operator_id))).toEqual(new Set([OP]));
  });

  it('refuses what it cannot pin or reach, naming the field', async () => {
    const expired = await issueTlsIdentity('old', {
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const future = await issueTlsIdentity('future', {
      notBefore: new Date(Date.now() + 86_400_000),
      notAfter: new Date(Date.now() + 10 * 86_400_000),
    });
    const other = await issueTlsIdentity('other');
    const cases: [Partial<Parameters<EsimPartners['add']>[0]>, string][] = [
      [{ entityId: 'not-an-oid' }, 'entityId'],
      [{ entityId: '3.1.2' }, 'entityId'],
      [{ entityId: '1.03.4' }, 'entityId'],
      [{ role: 'smdp' }, 'role'],
      [{ endpoint: 'http://sm-dp.example.test/esim/soap' }, 'endpoint'],
      [{ endpoint: 'https://user:pw@sm-dp.example.test/' }, 'endpoint'],
      [{ endpoint: 'https://sm-dp.example.test/#x' }, 'endpoint'],
      [{ endpoint: 'sm-dp.example.test' }, 'endpoint'],
      [{ certificatePem: 'garbage' }, 'certificate'],
      [{ certificatePem: `${tls.certificatePem}${other.certificatePem}` }, 'certificate'],
      [{ certificatePem: tls.certificatePem.replace(/[A-Za-z]{8}\n/, 'AAAAAAAA\n') }, 'certificate'],
      [{ certificatePem: expired.certificatePem }, 'certificate'],
      [{ certificatePem: future.certificatePem }, 'certificate'],
      [{ certificatePem: await caCertificatePem() }, 'certificate'],
    ];
    for (const [input, field] of cases) {
      expect(await refusal(add(input)), JSON.stringify(input).slice(0, 80)).toEqual({
        code: 'ERR_ESIM_PARTNER_INVALID',
        field,
      });
    }
    expect(await partners.list(OP)).toEqual([]);
  });

  it('one partner per entity and role, one partner per certificate and role; another owner is separate', async () => {
    await add();
    expect((await refusal(add({ endpoint: 'https://elsewhere.example.test/' }))).code).toBe(
      'ERR_ESIM_PARTNER_EXISTS',
    );
    // The same certificate for another entity in the same role: the listener could not tell them apart.
    expect((await refusal(add({ entityId: SMSR }))).code).toBe('ERR_ESIM_PARTNER_EXISTS');
    // The same certificate in another role at another endpoint: one party has one listener.
    expect(
      await refusal(add({ entityId: SMSR, role: 'sm-sr', endpoint: 'https://elsewhere.example.test/' })),
    ).toEqual({ code: 'ERR_ESIM_PARTNER_INVALID', field: 'endpoint' });
    // The same entity in another role with its own certificate is another partner.
    const eum = await add({ role: 'eum', certificatePem: (await issueTlsIdentity('eum')).certificatePem });
    expect(eum.role).toBe('eum');
    expect((await add({ operatorId: 'OP0000000002' })).operatorId).toBe('OP0000000002');
  });

  it('one party in several roles (one certificate, one endpoint): one node partner; each role reaches only its functions, as its own entity', async () => {
    // A deployment known here as an SM-SR (ES7) and as an operator (ES4), with its one certificate.
    const MNO = '1.3.6.1.4.1.99999.3.1';
    const me = await issueTlsIdentity('sm-sr.here');
    const other = await issueTlsIdentity('deployment.other');
    const seen: string[] = [];
    let sync: SoapPartnerSync | undefined;
    const node = await SoapNode.start({
      name: 'here',
      tls: me,
      partners: [],
      handlers: soapHandlersFor(
        {
          es4: (peer) =>
            ({
              getEIS: async () => {
                seen.push(`es4 ${peer.role} ${peer.entityId}`);
                return { functionExecutionStatus: { status: 'EXECUTED_SUCCESS' } };
              },
            }) as never,
          es7: (peer) =>
            ({
              authenticateSMSR: async () => {
                seen.push(`es7 ${peer.role} ${peer.entityId}`);
                return {
                  functionExecutionStatus: { status: 'EXECUTED_SUCCESS' },
                  randomChallenge: Uint8Array.of(1),
                };
              },
            }) as never,
        },
        (name) => sync?.peerOf(name),
      ),
    });
    const caller = await SoapNode.start({ name: 'other', tls: other, partners: [], handlers: {} });
    try {
      sync = new SoapPartnerSync(node);
      await add({
        entityId: SMSR,
        role: 'sm-sr',
        endpoint: caller.url,
        certificatePem: other.certificatePem,
      });
      await add({
        entityId: MNO,
        role: 'operator',
        endpoint: caller.url,
        certificatePem: other.certificatePem,
      });
      const rows = await partners.list(OP);
      expect(soapPartnersOf(rows).map((p) => [p.name, p.interfaces])).toEqual([
        [`operator:${MNO},sm-sr:${SMSR}`, ['ES2', 'ES4', 'ES3', 'ES7']],
      ]);
      expect(sync.apply(rows)).toEqual({ added: 1, removed: 0 });
      expect(sync.nodeNameOf('sm-sr', SMSR)).toBe(`operator:${MNO},sm-sr:${SMSR}`);
      expect(sync.nodeNameOf('operator', MNO)).toBe(`operator:${MNO},sm-sr:${SMSR}`);
      expect(sync.nodeNameOf('sm-dp', SMSR)).toBeUndefined();
      caller.addPartner({ name: 'here', url: node.url, certificatePem: me.certificatePem });
      const eid = '89049032123451234512345678901235';
      const es4 = await caller.call('here', 'ES4-GetEISRequest', { functionCallIdentifier: 'a', eid });
      expect(es4.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      const eis = sampleBody(MESSAGE_BY_ELEMENT.get('ES7-AuthenticateSMSRRequest') as MessageSpec).eis as Eis;
      const es7 = await caller.call('here', 'ES7-AuthenticateSMSRRequest', {
        functionCallIdentifier: 'b',
        eis,
        smsrCertificate: Uint8Array.of(1),
      });
      expect(es7.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      // Each function ran as the entity of the role it is for.
      expect(seen).toEqual([`es4 operator ${MNO}`, `es7 sm-sr ${SMSR}`]);
      // Without the operator role the same certificate may no longer call ES4 functions (an SM-SR
      // partner's ES4 traffic is notifications): the dispatch refuses, nothing runs.
      await partners.remove(OP, MNO);
      expect(sync.apply(await partners.list(OP))).toEqual({ added: 1, removed: 1 });
      const refused = await caller.call('here', 'ES4-GetEISRequest', { functionCallIdentifier: 'c', eid });
      expect(refused.functionExecutionStatus).toMatchObject({
        status: 'FAILED',
        statusCodeData: { subject: '1.1', reason: '1.2' },
      });
      expect(seen).toHaveLength(2);
    } finally {
      await caller.close();
      await node.close();
    }
  });

  it('racing adds of one partner: exactly one row, the others ERR_ESIM_PARTNER_EXISTS', async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => add()));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as SimtrustError).code).toBe('ERR_ESIM_PARTNER_EXISTS');
    }
    expect(await partners.list(OP)).toHaveLength(1);
  });

  it('a partner removed from the registry is refused by the listener afterwards', async () => {
    const me = await issueTlsIdentity('sm-sr.here');
    const calls: string[] = [];
    let sync: SoapPartnerSync | undefined;
    const node = await SoapNode.start({
      name: 'sm-sr',
      tls: me,
      partners: [],
      handlers: soapHandlersFor(
        {
          es3: (peer) =>
            ({
              getEIS: async () => {
                calls.push(peer.entityId);
                return { functionExecutionStatus: { status: 'EXECUTED_SUCCESS' } };
              },
            }) as never,
        },
        (name) => sync?.peerOf(name),
      ),
    });
    const caller = await SoapNode.start({
      name: 'sm-dp',
      tls,
      partners: [],
      handlers: {},
    });
    try {
      sync = new SoapPartnerSync(node);
      await add({ endpoint: caller.url });
      expect(sync.apply(await partners.list(OP))).toEqual({ added: 1, removed: 0 });
      expect(sync.apply(await partners.list(OP))).toEqual({ added: 0, removed: 0 });
      caller.addPartner({ name: 'sm-sr', url: node.url, certificatePem: me.certificatePem });
      const ok = await caller.call('sm-sr', 'ES3-GetEISRequest', {
        functionCallIdentifier: 'a',
        eid: '89049032123451234512345678901235',
      });
      expect(ok.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      expect(calls).toEqual([SMDP]);

      await partners.remove(OP, SMDP);
      expect(sync.apply(await partners.list(OP))).toEqual({ added: 0, removed: 1 });
      const refused = await caller
        .call('sm-sr', 'ES3-GetEISRequest', {
          functionCallIdentifier: 'b',
          eid: '89049032123451234512345678901235',
        })
        .then(
          () => undefined,
          (e: SimtrustError) => e,
        );
      expect(refused?.code).toBe('ERR_ESIM_SOAP_REJECTED');
      expect(refused?.details).toMatchObject({ httpStatus: 403, fault: 'SOAP_PEER_UNKNOWN' });
      expect(calls).toEqual([SMDP]);
    } finally {
      await caller.close();
      await node.close();
    }
  });
});
