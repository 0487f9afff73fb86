// An eSIM PKI in memory for tests (no database): a CI, an EUM under it, SM-DP and SM-SR GP
// certificates, and a factory of eUICC ECASD certificates. Same code paths as the platform's
// service (x509.ts for the X.509 part, signGpCertificate for the GP part).

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  keyIdentifierOf,
  p256Point,
  signGpCertificate,
  type TrustedCi,
  trustedCiFromCertificate,
} from '../../src/crypto/sgp-02-certificate-chain.js';
import {
  encodeOid,
  GP_CERT_ROLE_BYTES,
  GP_KEY_USAGE,
  type GpCertificateBody,
} from '../../src/lib/gp-certificate.js';
import { createCiCertificate, createEumCertificate } from '../../src/platform/esim/ci/x509.js';

export const PKI_NOW = Date.UTC(2026, 11, 7, 12);
const DAY = 86_400_000;

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface TestPki {
  ci: KeyPair & { pem: string; trusted: TrustedCi; name: string };
  eum: KeyPair & { pem: string; keyId: Uint8Array };
  smdp: KeyPair & { certificate: Uint8Array };
  smsr: KeyPair & { certificate: Uint8Array };
  /** A fresh eUICC key and its CERT.ECASD.ECKA signed by the EUM. */
  ecasd(eid?: string): KeyPair & { certificate: Uint8Array };
  /** A GP certificate with the given changes, signed by `signer` (default: the CI). */
  gp(overrides: Partial<GpCertificateBody>, signer?: KeyObject): Uint8Array;
}

export const newKeyPair = (): KeyPair => generateKeyPairSync('ec', { namedCurve: 'P-256' });

export async function createTestPki(options: { ciName?: string; now?: number } = {}): Promise<TestPki> {
  const now = options.now ?? PKI_NOW;
  const name = options.ciName ?? 'CN=Test eSIM CI,O=simtrust test';
  const ciKeys = newKeyPair();
  const ciPem = await createCiCertificate(ciKeys, name, { notBefore: now - DAY, notAfter: now + 3650 * DAY });
  const trusted = trustedCiFromCertificate(ciPem);
  if (!trusted.ok) throw new Error(trusted.error.message);
  const eumKeys = newKeyPair();
  const eumPem = await createEumCertificate({
    ci: { ...ciKeys, name },
    eumPublicKey: eumKeys.publicKey,
    name: 'CN=Test EUM,O=simtrust test',
    validity: { notBefore: now - DAY, notAfter: now + 1825 * DAY },
  });
  const eumKeyId = keyIdentifierOf(p256Point(eumKeys.publicKey));
  const ciKeyId = trusted.value.keyId;

  const smBody = (role: 'sm-dp' | 'sm-sr', key: KeyObject): GpCertificateBody => ({
    serial: Uint8Array.of(0x01, role === 'sm-dp' ? 0x01 : 0x02),
    caId: ciKeyId,
    subjectId: encodeOid(role === 'sm-dp' ? '1.3.6.1.4.1.99999.1.1' : '1.3.6.1.4.1.99999.1.2'),
    keyUsage: GP_KEY_USAGE.signatureVerification,
    effectiveDate: '20261201',
    expirationDate: '20311130',
    roleByte: GP_CERT_ROLE_BYTES[role],
    authorityKeyId: ciKeyId,
    publicKey: { point: p256Point(key), curveRef: 0 },
  });
  const smdp = newKeyPair();
  const smsr = newKeyPair();
  return {
    ci: { ...ciKeys, pem: ciPem, trusted: trusted.value, name },
    eum: { ...eumKeys, pem: eumPem, keyId: eumKeyId },
    smdp: { ...smdp, certificate: signGpCertificate(smBody('sm-dp', smdp.publicKey), ciKeys.privateKey) },
    smsr: { ...smsr, certificate: signGpCertificate(smBody('sm-sr', smsr.publicKey), ciKeys.privateKey) },
    ecasd(eid = '89049032123451234512345678901235') {
      const pair = newKeyPair();
      const certificate = signGpCertificate(
        {
          serial: Uint8Array.of(0x42),
          caId: eumKeyId,
          subjectId: Buffer.from(eid, 'hex'),
          keyUsage: GP_KEY_USAGE.keyAgreement,
          effectiveDate: '20261201',
          expirationDate: '20401231',
          authorityKeyId: eumKeyId,
          publicKey: { point: p256Point(pair.publicKey), curveRef: 0 },
        },
        eumKeys.privateKey,
      );
      return { ...pair, certificate };
    },
    gp(overrides, signer = ciKeys.privateKey) {
      return signGpCertificate({ ...smBody('sm-dp', smdp.publicKey), ...overrides }, signer);
    },
  };
}
