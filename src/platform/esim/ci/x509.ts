// X.509 certificates of the eSIM PKI (SGP.02 §2.3.1; profile of SGP.14): the CI's self-signed root
// and the EUM certificates it issues. NIST P-256, ECDSA-SHA256; subject and authority key
// identifiers by RFC 5280 §4.2.1.2 method 1, which the GP certificates below them carry in `42` and
// `C9`. `openssl verify -CAfile ci.pem eum.pem` accepts the pair (test/platform/esim/pki-x509).

import 'reflect-metadata';
import { type KeyObject, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { keyIdentifierOf, p256Point } from '../../../crypto/sgp-02-certificate-chain.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC_P256: webcrypto.EcKeyImportParams = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function webKeys(privateKey: KeyObject | undefined, publicKey: KeyObject) {
  return {
    privateKey:
      privateKey === undefined
        ? undefined
        : await webcrypto.subtle.importKey(
            'pkcs8',
            privateKey.export({ format: 'der', type: 'pkcs8' }),
            EC_P256,
            false,
            ['sign'],
          ),
    publicKey: await webcrypto.subtle.importKey(
      'spki',
      publicKey.export({ format: 'der', type: 'spki' }),
      EC_P256,
      true,
      ['verify'],
    ),
  };
}

/** A positive 16-byte serial (RFC 5280 §4.1.2.2: ≤ 20 octets, positive). */
const serial = () => {
  const s = randomBytes(16);
  s[0] = ((s[0] as number) & 0x7f) | 0x01;
  return s.toString('hex');
};

export interface CertificateValidity {
  readonly notBefore: number;
  readonly notAfter: number;
}

/** The CI root: self-signed, CA, keyCertSign + cRLSign, SKI = SHA-1 of the point. */
export async function createCiCertificate(
  keyPair: { privateKey: KeyObject; publicKey: KeyObject },
  name: string,
  validity: CertificateValidity,
): Promise<string> {
  const keys = await webKeys(keyPair.privateKey, keyPair.publicKey);
  const keyId = hex(keyIdentifierOf(p256Point(keyPair.publicKey)));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: name,
    issuer: name,
    notBefore: new Date(validity.notBefore),
    notAfter: new Date(validity.notAfter),
    signingAlgorithm: ECDSA_SHA256,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey as webcrypto.CryptoKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectKeyIdentifierExtension(keyId),
      new x509.AuthorityKeyIdentifierExtension(keyId),
    ],
  });
  return cert.toString('pem');
}

/**
 * An EUM certificate issued by the CI: CA with path length 0 (it issues only the eUICCs' ECASD
 * certificates, which are GP format), keyCertSign, SKI of its key and AKI of the CI's.
 */
export async function createEumCertificate(options: {
  readonly ci: { privateKey: KeyObject; publicKey: KeyObject; name: string };
  readonly eumPublicKey: KeyObject;
  readonly name: string;
  readonly validity: CertificateValidity;
}): Promise<string> {
  const ciKeys = await webKeys(options.ci.privateKey, options.ci.publicKey);
  const eumKeys = await webKeys(undefined, options.eumPublicKey);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: options.name,
    issuer: options.ci.name,
    notBefore: new Date(options.validity.notBefore),
    notAfter: new Date(options.validity.notAfter),
    signingAlgorithm: ECDSA_SHA256,
    publicKey: eumKeys.publicKey,
    signingKey: ciKeys.privateKey as webcrypto.CryptoKey,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectKeyIdentifierExtension(hex(keyIdentifierOf(p256Point(options.eumPublicKey)))),
      new x509.AuthorityKeyIdentifierExtension(hex(keyIdentifierOf(p256Point(options.ci.publicKey)))),
    ],
  });
  return cert.toString('pem');
}
