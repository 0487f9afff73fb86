// Certificates from a CI held elsewhere (issue 16: two deployments, one common CI), on both
// databases. Deployment 2 trusts deployment 1's CI without its key (importCi), makes its SM-SR key
// itself (requestCertificate), the CI holder signs the request (signRequest) and deployment 2
// imports the answer (importCertificate); an EUM's X.509 certificate is imported to trust.
//
// Threats: a CI key copied between deployments (it never is: only the request and the certificate
// travel); a certificate signed for a key the requester does not hold (the request must verify
// with its own key); an imported certificate of another CI, another key, role or subject becoming
// an operator's identity; a pending request or a trusted-only EUM used to sign.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyCertificateChain } from '../../../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { SimtrustError } from '../../../src/lib/errors.js';
import { decodeGpCertificate, decodeOid } from '../../../src/lib/gp-certificate.js';
import { listAudit } from '../../../src/platform/audit/audit-log.js';
import { ESIM_PKI_OPERATIONS, EsimPki, PLATFORM_OWNER } from '../../../src/platform/esim/ci/pki-service.js';
import { createOperator } from '../../../src/platform/iam/operators.js';
import { PLATFORM_AUDIT_OPERATOR } from '../../../src/platform/iam/principal.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

interface Deployment {
  readonly db: TestDatabase;
  readonly pki: EsimPki;
  readonly operatorId: string;
}

let clock: ManualClock;
let one: Deployment;
let two: Deployment;
let third: Deployment | undefined;

const open = async (): Promise<Deployment> => {
  const db = await openTestDatabase();
  const keyRing = await KeyRing.open(db.store, randomBytes(32));
  const operatorId = (
    await createOperator(db.store, clock, {
      email: `esim-${randomBytes(4).toString('hex')}@example.com`,
      password: randomBytes(12).toString('hex'),
    })
  ).operatorId;
  return { db, pki: new EsimPki(db.store, keyRing, clock), operatorId };
};

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    if (!(e instanceof SimtrustError)) throw e;
    const details = e.details as { refusal?: string } | undefined;
    return details?.refusal === undefined ? e.code : `${e.code}/${details.refusal}`;
  }
};

const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

beforeEach(async () => {
  clock = new ManualClock(Date.UTC(2026, 11, 7, 12));
  one = await open();
  two = await open();
  await one.pki.ensureDemo();
  await two.pki.importCi((await one.pki.listCis())[0]?.certificate as string);
});
afterEach(async () => {
  await one.db.cleanup();
  await two.db.cleanup();
  await third?.db.cleanup();
  third = undefined;
});

describe('an SM-SR certificate for deployment 2 from the CI of deployment 1', () => {
  it('request → sign → import: deployment 2 holds the key, the certificate chains to the one CI', async () => {
    // Deployment 2 cannot issue under a CI it only trusts.
    expect(await refusal(two.pki.ensureOperatorCertificate(two.operatorId, 'sm-sr'))).toBe(
      'ERR_ESIM_CI_NO_KEY',
    );
    const { view, request } = await two.pki.requestCertificate({
      role: 'sm-sr',
      operatorId: two.operatorId,
      entityId: '2.999.16.3.2',
    });
    expect(view).toMatchObject({ role: 'sm-sr', subject: '2.999.16.3.2', pending: true, notAfter: 0 });
    // Pending: no identity yet, nothing signs with it.
    expect(await two.pki.current(two.operatorId, 'sm-sr')).toBeUndefined();
    expect(await refusal(two.pki.signingKey(view.certId, two.operatorId))).toBe(
      'ERR_ESIM_CERTIFICATE_NOT_FOUND',
    );

    const signed = await one.pki.signRequest(bytes(request));
    expect(signed).toMatchObject({ role: 'sm-sr', entityId: '2.999.16.3.2', keyId: view.keyId });
    const imported = await two.pki.importCertificate(signed.certificate);
    expect(imported).toMatchObject({ certId: view.certId, pending: false, certificate: signed.certificate });
    expect(imported.notAfter).toBeGreaterThan(clock.now());

    // The identity now: the key made at deployment 2, the certificate under deployment 1's CI.
    const current = await two.pki.current(two.operatorId, 'sm-sr');
    expect(current?.certId).toBe(view.certId);
    const key = await two.pki.signingKey(view.certId, two.operatorId);
    const chain = verifyCertificateChain({
      certificate: key.certificate,
      role: 'sm-sr',
      trustedCis: await one.pki.trustedCis(),
      now: clock.now(),
    });
    expect(chain.ok).toBe(true);
    const decoded = decodeGpCertificate(key.certificate);
    expect(decoded.ok && decodeOid(decoded.value.subjectId)).toBe('2.999.16.3.2');
    // ensureOperatorCertificate (what serve calls) finds it and issues nothing.
    expect((await two.pki.ensureOperatorCertificate(two.operatorId, 'sm-sr')).certId).toBe(view.certId);

    // Deployment 1 stored nothing of the key, only its audit record of the signature.
    expect(await one.pki.list({ role: 'sm-sr' })).toEqual([]);
    const audit = await listAudit(one.db.store.db, PLATFORM_AUDIT_OPERATOR, {
      operationId: ESIM_PKI_OPERATIONS.signRequest,
      limit: 5,
    });
    expect(audit.records.map((r) => r.detail)).toEqual([
      expect.objectContaining({ role: 'sm-sr', entityId: '2.999.16.3.2', keyId: view.keyId }),
    ]);

    // A second import of the same answer: nothing pending any more.
    expect(await refusal(two.pki.importCertificate(signed.certificate))).toBe(
      'ERR_ESIM_NO_CERTIFICATE_REQUEST',
    );
  });

  it('a request not signed by its own key, or mutated anywhere, is refused by the CI holder', async () => {
    const { request } = await two.pki.requestCertificate({
      role: 'sm-dp',
      operatorId: two.operatorId,
      entityId: '2.999.16.2.2',
    });
    const genuine = bytes(request);
    // A certificate issued by a CI is not a request (not signed by the key it certifies).
    const issued = await one.pki.ensureOperatorCertificate(one.operatorId, 'sm-dp');
    expect(await refusal(one.pki.signRequest(bytes(issued.certificate)))).toBe(
      'ERR_ESIM_CERTIFICATE_REJECTED/CERT_WRONG_CI',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: genuine.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (at, flip) => {
          const mutated = genuine.slice();
          mutated[at] = (mutated[at] as number) ^ flip;
          expect(await refusal(one.pki.signRequest(mutated))).toMatch(/^ERR_ESIM_CERTIFICATE_REJECTED\//);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('an expired request is refused; the answer is refused for another key, another CI, another subject', async () => {
    const a = await two.pki.requestCertificate({
      role: 'sm-sr',
      operatorId: two.operatorId,
      entityId: '2.999.16.3.2',
    });
    // Another deployment's request, signed by the CI: deployment 2 has no request for that key.
    third = await open();
    await third.pki.importCi((await one.pki.listCis())[0]?.certificate as string);
    const foreign = await third.pki.requestCertificate({
      role: 'sm-sr',
      operatorId: third.operatorId,
      entityId: '2.999.16.3.3',
    });
    const foreignSigned = await one.pki.signRequest(bytes(foreign.request));
    expect(await refusal(two.pki.importCertificate(foreignSigned.certificate))).toBe(
      'ERR_ESIM_NO_CERTIFICATE_REQUEST',
    );
    // The request signed by a CI deployment 2 does not trust (the third deployment's own).
    const other = await open();
    try {
      await other.pki.ensureDemo();
      const wrongCi = await other.pki.signRequest(bytes(a.request));
      expect(await refusal(two.pki.importCertificate(wrongCi.certificate))).toBe(
        'ERR_ESIM_CERTIFICATE_REJECTED/CERT_WRONG_CI',
      );
    } finally {
      await other.db.cleanup();
    }
    // A request waits 30 days for its answer.
    clock.advance(31 * 86_400_000);
    expect(await refusal(one.pki.signRequest(bytes(a.request)))).toBe(
      'ERR_ESIM_CERTIFICATE_REJECTED/CERT_EXPIRED',
    );
    expect((await two.pki.list({ role: 'sm-sr' })).map((c) => c.pending)).toEqual([true]);
  });
});

describe("the eUICC's EUM, trusted at deployment 2", () => {
  it('imported without its key: listed for the EIS checks, never used to issue', async () => {
    const eum = (await one.pki.list({ role: 'eum', operatorId: PLATFORM_OWNER }))[0];
    if (eum === undefined) throw new Error('no EUM');
    expect(await refusal(two.pki.importCertificate(eum.certificate))).toBe('ERR_BAD_REQUEST');
    const imported = await two.pki.importCertificate(eum.certificate, { entityId: eum.subject });
    expect(imported).toMatchObject({ role: 'eum', subject: eum.subject, keyId: eum.keyId, format: 'x509' });
    // Idempotent.
    expect((await two.pki.importCertificate(eum.certificate, { entityId: eum.subject })).certId).toBe(
      imported.certId,
    );
    expect((await two.pki.list({ role: 'eum' })).map((c) => c.subject)).toEqual([eum.subject]);
    // Trusted only: deployment 2 issues no eUICC certificate with it.
    expect(await refusal(two.pki.issueEcasd({ eid: '89049032123451234512345678901235' }))).toBe(
      'ERR_ESIM_NO_EUM',
    );
    // An EUM of a CI deployment 2 does not trust is refused.
    const other = await open();
    try {
      const { eum: foreign } = await other.pki.ensureDemo();
      expect(await refusal(two.pki.importCertificate(foreign.certificate, { entityId: '2.999.16.1' }))).toBe(
        'ERR_ESIM_CERTIFICATE_REJECTED/CERT_WRONG_CI',
      );
    } finally {
      await other.db.cleanup();
    }
  });
});
