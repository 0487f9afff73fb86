// The eSIM PKI service on both databases. Threats: a private key readable from the database or
// an answer (keys sealed at rest, bound to their row); a second CI splitting trust; certificates
// issued under an imported CI whose key this deployment does not hold; receivers trusting a CI
// they were not given.

import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { p256Point, verifyCertificateChain } from '../../../src/crypto/sgp-02-certificate-chain.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { SimtrustError } from '../../../src/lib/errors.js';
import { decodeGpCertificate, decodeOid } from '../../../src/lib/gp-certificate.js';
import { listAudit } from '../../../src/platform/audit/audit-log.js';
import { ESIM_PKI_OPERATIONS, EsimPki } from '../../../src/platform/esim/ci/pki-service.js';
import { createOperator } from '../../../src/platform/iam/operators.js';
import { PLATFORM_AUDIT_OPERATOR } from '../../../src/platform/iam/principal.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';
import { createTestPki } from '../../helpers/esim-pki.js';

const EID = '89049032123451234512345678901235';
let db: TestDatabase;
let keyRing: KeyRing;
let clock: ManualClock;
let pki: EsimPki;
let A: string;
let B: string;

const newOperator = async () =>
  (
    await createOperator(db.store, clock, {
      email: `esim-${randomBytes(4).toString('hex')}@example.com`,
      password: randomBytes(12).toString('hex'),
    })
  ).operatorId;

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof SimtrustError ? e.code : String(e);
  }
};

beforeEach(async () => {
  db = await openTestDatabase();
  keyRing = await KeyRing.open(db.store, randomBytes(32));
  clock = new ManualClock(Date.UTC(2026, 11, 7, 12));
  pki = new EsimPki(db.store, keyRing, clock);
  A = await newOperator();
  B = await newOperator();
});
afterEach(() => db.cleanup());

describe('CI', () => {
  it('init creates one CI with its key; a second init is refused', async () => {
    const ci = await pki.initCi();
    expect(ci).toMatchObject({
      origin: 'created',
      canIssue: true,
      subject: 'CN=simtrust eSIM CI, O=simtrust',
    });
    expect(ci.certificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(await code(pki.initCi())).toBe('ERR_ESIM_CI_EXISTS');
    expect(await code(new EsimPki(db.store, keyRing, clock).initCi())).toBe('ERR_ESIM_CI_EXISTS');
    expect((await pki.listCis()).length).toBe(1);
    const audit = await listAudit(db.store.db, PLATFORM_AUDIT_OPERATOR, {
      operationId: ESIM_PKI_OPERATIONS.initCi,
      limit: 5,
    });
    expect(audit.records.length).toBe(1);
  });

  it('two instances racing to init end with one CI', async () => {
    const other = new EsimPki(db.store, keyRing, clock);
    const results = await Promise.all([code(pki.initCi()), code(other.initCi())]);
    expect(results.filter((r) => r === 'resolved').length).toBe(1);
    expect((await pki.listCis()).length).toBe(1);
  });

  it('nothing is issued before a CI exists; an imported CI (no key) trusts but does not issue', async () => {
    expect(await code(pki.issue({ role: 'sm-dp', operatorId: A, entityId: '1.3.6.1.4.1.99999.1.1' }))).toBe(
      'ERR_ESIM_NO_CI',
    );
    const external = await createTestPki();
    const imported = await pki.importCi(external.ci.pem);
    expect(imported).toMatchObject({ origin: 'imported', canIssue: false });
    expect(await pki.importCi(external.ci.pem)).toEqual(imported);
    expect(await code(pki.issue({ role: 'sm-dp', operatorId: A, entityId: '1.3.6.1.4.1.99999.1.1' }))).toBe(
      'ERR_ESIM_CI_NO_KEY',
    );
    // Certificates the external CI issued verify against it.
    const ok = await pki.verify({ certificate: external.smdp.certificate, role: 'sm-dp' });
    expect(ok.ok).toBe(true);
    const ecasd = external.ecasd();
    const chain = await pki.verify({
      certificate: ecasd.certificate,
      eumCertificate: external.eum.pem,
      role: 'ecasd',
    });
    expect(chain.ok).toBe(true);
  });

  it('import refuses what is not a self-signed CA certificate', async () => {
    const external = await createTestPki();
    expect(await code(pki.importCi(external.eum.pem))).toBe('ERR_ESIM_CERTIFICATE_REJECTED');
    expect(await code(pki.importCi('garbage'))).toBe('ERR_ESIM_CERTIFICATE_REJECTED');
  });
});

describe('issuing', () => {
  beforeEach(async () => {
    await pki.initCi();
  });

  it('issues SM-DP and SM-SR GP certificates per operator that verify against the trusted CI', async () => {
    const dp = await pki.issue({ role: 'sm-dp', operatorId: A, entityId: '1.3.6.1.4.1.99999.1.1' });
    const sr = await pki.issue({ role: 'sm-sr', operatorId: B, entityId: '1.3.6.1.4.1.99999.2.2' });
    expect(dp).toMatchObject({ role: 'sm-dp', operatorId: A, format: 'gp' });
    const bytes = Buffer.from(dp.certificate, 'hex');
    const decoded = decodeGpCertificate(bytes);
    expect(decoded.ok && decoded.value.role).toBe('sm-dp');
    expect(decoded.ok && decodeOid(decoded.value.subjectId)).toBe('1.3.6.1.4.1.99999.1.1');
    expect((await pki.verify({ certificate: bytes, role: 'sm-dp' })).ok).toBe(true);
    const wrong = await pki.verify({ certificate: Buffer.from(sr.certificate, 'hex'), role: 'sm-dp' });
    expect(wrong.ok ? '' : wrong.error.reason).toBe('wrong role');
    expect(
      await code(pki.requireChain({ certificate: Buffer.from(sr.certificate, 'hex'), role: 'sm-dp' })),
    ).toBe('ERR_ESIM_CERTIFICATE_REJECTED');
    // The list is per operator, newest first.
    expect((await pki.list({ operatorId: A })).map((c) => c.certId)).toEqual([dp.certId]);
    expect((await pki.current(B, 'sm-sr'))?.certId).toBe(sr.certId);
  });

  it('the signing key signs what the certified key verifies; only its operator gets it', async () => {
    const dp = await pki.issue({ role: 'sm-dp', operatorId: A, entityId: '1.3.6.1.4.1.99999.1.1' });
    const { certificate, privateKey } = await pki.signingKey(dp.certId, A);
    const chain = await pki.requireChain({ certificate, role: 'sm-dp' });
    expect(chain.publicKey).toEqual(p256Point(privateKey));
    expect(await code(pki.signingKey(dp.certId, B))).toBe('ERR_ESIM_CERTIFICATE_NOT_FOUND');
  });

  it('issues an EUM (X.509) and ECASD certificates under it; the chain verifies to the CI', async () => {
    const eum = await pki.issue({ role: 'eum', operatorId: '', entityId: '1.3.6.1.4.1.99999.3' });
    expect(eum).toMatchObject({ format: 'x509', operatorId: '' });
    const issued = await pki.issueEcasd({ eid: EID });
    expect(issued.privateKey).toBeDefined();
    const chain = await pki.requireChain({
      certificate: issued.certificate,
      eumCertificate: issued.eumCertificate,
      role: 'ecasd',
    });
    expect(Buffer.from(chain.certificate.subjectId).toString('hex')).toBe(EID);
    expect(chain.publicKey).toEqual(issued.publicKey);
    // With the card's own public key, nothing secret is generated.
    const own = await pki.issueEcasd({ eid: EID, publicKey: issued.publicKey });
    expect(own.privateKey).toBeUndefined();
    expect((await pki.list({ role: 'ecasd' })).length).toBe(2);
    expect(await code(pki.issueEcasd({ eid: '8904', publicKey: issued.publicKey }))).toBe('ERR_BAD_REQUEST');
    expect(await code(pki.issueEcasd({ eid: EID, publicKey: Uint8Array.of(4, 1, 2) }))).toBe(
      'ERR_BAD_REQUEST',
    );
  });

  it('ECASD certificates need an EUM; SM-DP/SM-SR need an operator and an OID', async () => {
    expect(await code(pki.issueEcasd({ eid: EID }))).toBe('ERR_ESIM_NO_EUM');
    expect(await code(pki.issue({ role: 'sm-dp', operatorId: '', entityId: '1.2.3' }))).toBe(
      'ERR_BAD_REQUEST',
    );
    expect(await code(pki.issue({ role: 'sm-dp', operatorId: 'OP0000000000', entityId: '1.2.3' }))).toBe(
      'ERR_NOT_FOUND',
    );
    expect(await code(pki.issue({ role: 'sm-dp', operatorId: A, entityId: 'smdp.example' }))).toBe(
      'ERR_BAD_REQUEST',
    );
  });

  it('validity follows the clock: a certificate expires with its last day, and never outlives the CI', async () => {
    const dp = await pki.issue({ role: 'sm-dp', operatorId: A, entityId: '1.2.3', validityDays: 10 });
    const bytes = Buffer.from(dp.certificate, 'hex');
    expect(dp.notAfter).toBe(Date.UTC(2026, 11, 17));
    clock.set(dp.notAfter - 1);
    expect((await pki.verify({ certificate: bytes, role: 'sm-dp' })).ok).toBe(true);
    clock.set(dp.notAfter);
    const r = await pki.verify({ certificate: bytes, role: 'sm-dp' });
    expect(r.ok ? '' : r.error.reason).toBe('expired');
    const long = await pki.issue({ role: 'sm-sr', operatorId: A, entityId: '1.2.3', validityDays: 36_500 });
    const ci = (await pki.listCis())[0];
    expect(long.notAfter).toBeLessThanOrEqual(ci?.notAfter ?? 0);
  });

  it('a certificate of another deployment is refused as issued by another CI', async () => {
    const elsewhere = await createTestPki();
    const r = await pki.verify({ certificate: elsewhere.smdp.certificate, role: 'sm-dp' });
    expect(r.ok ? '' : r.error.reason).toBe('issued by another CI');
    // …and a card of this deployment (PK.CI only) refuses it too.
    const trusted = await pki.trustedCis();
    expect(
      verifyCertificateChain({
        certificate: elsewhere.smdp.certificate,
        role: 'sm-dp',
        trustedCis: trusted,
        now: clock.now(),
      }).ok,
    ).toBe(false);
  });
});

describe('demo set-up', () => {
  it('ensureDemo creates the CI and a platform EUM once, however many instances call it', async () => {
    const other = new EsimPki(db.store, keyRing, clock);
    const [a, b] = await Promise.all([pki.ensureDemo(), other.ensureDemo()]);
    expect(a.ci.ciId).toBe(b.ci.ciId);
    expect((await pki.listCis()).length).toBe(1);
    expect(a.eum.certId).toBe(b.eum.certId);
    expect((await pki.list({ role: 'eum' })).length).toBe(1);
    const again = await pki.ensureDemo();
    expect(again.eum.certId).toBe((await pki.current('', 'eum'))?.certId);
    // Enough to issue a card's certificate and an operator's SM-DP / SM-SR certificates.
    const issued = await pki.issueEcasd({ eid: EID });
    expect(
      (
        await pki.verify({
          certificate: issued.certificate,
          eumCertificate: issued.eumCertificate,
          role: 'ecasd',
        })
      ).ok,
    ).toBe(true);
    const [dp, dp2] = await Promise.all([
      pki.ensureOperatorCertificate(A, 'sm-dp'),
      other.ensureOperatorCertificate(A, 'sm-dp'),
    ]);
    expect(dp2).toEqual(dp);
    expect(await pki.ensureOperatorCertificate(A, 'sm-dp')).toEqual(dp);
    expect(dp.subject).toBe(`2.999.15.2.${Number.parseInt(A.slice(2), 10)}`);
    const sr = await pki.ensureOperatorCertificate(A, 'sm-sr');
    expect((await pki.verify({ certificate: Buffer.from(sr.certificate, 'hex'), role: 'sm-sr' })).ok).toBe(
      true,
    );
  });
});

describe('keys at rest', () => {
  it('private keys are sealed in the database, bound to their row, and in no view', async () => {
    await pki.initCi();
    const dp = await pki.issue({ role: 'sm-dp', operatorId: A, entityId: '1.2.3' });
    const { privateKey } = await pki.signingKey(dp.certId, A);
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    const d = privateKey.export({ format: 'jwk' }).d as string;

    const rows = [
      ...(await db.store.db.selectFrom('esim_cis').selectAll().execute()),
      ...(await db.store.db.selectFrom('esim_certificates').selectAll().execute()),
    ];
    const dump = JSON.stringify(rows);
    for (const secret of [
      pkcs8.toString('base64'),
      pkcs8.toString('hex'),
      d,
      Buffer.from(d, 'base64url').toString('hex'),
    ])
      expect(dump).not.toContain(secret);
    for (const r of rows) expect(r.private_key).toMatch(/^s1\./);

    // A sealed key copied to another row does not open there.
    const ciRow = await db.store.db.selectFrom('esim_cis').select('private_key').executeTakeFirstOrThrow();
    await db.store.db
      .updateTable('esim_certificates')
      .set({ private_key: ciRow.private_key })
      .where('cert_id', '=', dp.certId)
      .execute();
    expect(await code(pki.signingKey(dp.certId, A))).toBe('ERR_DECRYPT');

    // Views: no private key field, nothing that decodes to the key.
    const views = JSON.stringify([await pki.listCis(), await pki.list()]);
    expect(views).not.toMatch(/private|s1\./i);
    expect(views).not.toContain(createHash('sha256').update(pkcs8).digest('hex'));
  });
});
