// The one SGP.02 chain verifier. Threat: a receiver (eUICC, SM-DP, SM-SR) accepting a certificate
// it should not — another CI's, another role's, an expired one, a tampered one — would let a rogue
// server establish keys on the card or a rogue card receive a profile. Every refusal must name
// its reason; any changed byte of a valid chain must be refused.

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CHAIN_REFUSALS,
  type ChainRefusalCode,
  certificateDer,
  ecdsaSignP256,
  ecdsaVerifyP256,
  keyIdentifierOf,
  p256Point,
  p256PublicKey,
  trustedCiFromCertificate,
  verifyCertificateChain,
  verifyEumCertificate,
  verifyGpCertificate,
} from '../../src/crypto/sgp-02-certificate-chain.js';
import { decodeGpCertificate, GP_KEY_USAGE } from '../../src/lib/gp-certificate.js';
import { createEumCertificate } from '../../src/platform/esim/ci/x509.js';
import { createTestPki, newKeyPair, PKI_NOW, type TestPki } from '../helpers/esim-pki.js';

const DAY = 86_400_000;
let pki: TestPki;
let other: TestPki;

beforeAll(async () => {
  pki = await createTestPki();
  other = await createTestPki({ ciName: 'CN=Another CI,O=elsewhere' });
});

const refusal = (r: { ok: boolean; error?: { code: ChainRefusalCode } }) =>
  r.ok ? 'accepted' : r.error?.code;

describe('SM-DP and SM-SR certificates → CI', () => {
  it('accepts a valid SM-DP and SM-SR certificate and returns the certified key', () => {
    const dp = verifyCertificateChain({
      certificate: pki.smdp.certificate,
      role: 'sm-dp',
      trustedCis: [pki.ci.trusted],
      now: PKI_NOW,
    });
    expect(dp.ok && dp.value.publicKey).toEqual(p256Point(pki.smdp.publicKey));
    expect(dp.ok && dp.value.ci).toBe(pki.ci.trusted);
    const sr = verifyCertificateChain({
      certificate: pki.smsr.certificate,
      role: 'sm-sr',
      trustedCis: [other.ci.trusted, pki.ci.trusted],
      now: PKI_NOW,
    });
    expect(sr.ok && sr.value.role).toBe('sm-sr');
  });

  it('the card side verifies with PK.CI only (no X.509)', () => {
    const r = verifyGpCertificate(pki.smdp.certificate, {
      role: 'sm-dp',
      issuers: [{ keyId: pki.ci.trusted.keyId, publicKey: pki.ci.trusted.publicKey }],
      now: PKI_NOW,
    });
    expect(r.ok).toBe(true);
  });

  it('refuses "wrong role": an SM-SR certificate as SM-DP, and the reverse', () => {
    const r = verifyCertificateChain({
      certificate: pki.smsr.certificate,
      role: 'sm-dp',
      trustedCis: [pki.ci.trusted],
      now: PKI_NOW,
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('CERT_WRONG_ROLE');
      expect(r.error.reason).toBe('wrong role');
      expect(r.error.message).toMatch(/expected an SM-DP certificate, got an SM-SR one/);
    }
    expect(
      refusal(
        verifyCertificateChain({
          certificate: pki.smdp.certificate,
          role: 'sm-sr',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW,
        }),
      ),
    ).toBe('CERT_WRONG_ROLE');
  });

  it('refuses "wrong role" when the key usage is not that of the role (a signed SM-DP cert with key agreement usage)', () => {
    const cert = pki.gp({ keyUsage: GP_KEY_USAGE.keyAgreement });
    expect(
      refusal(
        verifyCertificateChain({
          certificate: cert,
          role: 'sm-dp',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW,
        }),
      ),
    ).toBe('CERT_WRONG_ROLE');
  });

  it('refuses "issued by another CI"', () => {
    const r = verifyCertificateChain({
      certificate: other.smdp.certificate,
      role: 'sm-dp',
      trustedCis: [pki.ci.trusted],
      now: PKI_NOW,
    });
    expect(r.ok ? '' : r.error.reason).toBe('issued by another CI');
    // The right C9 but a CA identifier naming someone else.
    expect(
      refusal(
        verifyCertificateChain({
          certificate: pki.gp({ caId: other.ci.trusted.keyId }),
          role: 'sm-dp',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW,
        }),
      ),
    ).toBe('CERT_WRONG_CI');
  });

  it('refuses "bad signature": our CI key id, another key signed it', () => {
    const forged = pki.gp({}, other.ci.privateKey);
    const r = verifyCertificateChain({
      certificate: forged,
      role: 'sm-dp',
      trustedCis: [pki.ci.trusted],
      now: PKI_NOW,
    });
    expect(r.ok ? '' : r.error.reason).toBe('bad signature');
  });

  it('refuses "expired" after the last valid day and "not yet valid" before the effective date (injectable clock)', () => {
    const cert = pki.gp({ effectiveDate: '20261201', expirationDate: '20261231' });
    // The CI root without a start, so only the certificate's own dates count.
    const ci = { ...pki.ci.trusted, notBefore: undefined };
    const at = (ms: number) =>
      refusal(verifyCertificateChain({ certificate: cert, role: 'sm-dp', trustedCis: [ci], now: ms }));
    expect(at(Date.UTC(2026, 11, 1))).toBe('accepted');
    expect(at(Date.UTC(2026, 11, 31, 23, 59, 59, 999))).toBe('accepted');
    expect(at(Date.UTC(2027, 0, 1))).toBe('CERT_EXPIRED');
    expect(at(Date.UTC(2026, 10, 30, 23, 59, 59, 999))).toBe('CERT_NOT_YET_VALID');
  });

  it('refuses a certificate whose CI root has expired', () => {
    expect(
      refusal(
        verifyCertificateChain({
          certificate: pki.smdp.certificate,
          role: 'sm-dp',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW + 3651 * DAY,
        }),
      ),
    ).toBe('CERT_EXPIRED');
  });

  it('refuses another curve and a key off the curve', () => {
    expect(
      refusal(
        verifyCertificateChain({
          certificate: pki.gp({ publicKey: { point: p256Point(pki.smdp.publicKey), curveRef: 3 } }),
          role: 'sm-dp',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW,
        }),
      ),
    ).toBe('CERT_UNSUPPORTED_CURVE');
    const bad = p256Point(pki.smdp.publicKey).slice();
    bad[64] = (bad[64] as number) ^ 1;
    expect(
      refusal(
        verifyCertificateChain({
          certificate: pki.gp({ publicKey: { point: bad, curveRef: 0 } }),
          role: 'sm-dp',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW,
        }),
      ),
    ).toBe('CERT_BAD_PUBLIC_KEY');
  });

  it('refuses malformed bytes with CERT_MALFORMED naming the decoder code', () => {
    const r = verifyCertificateChain({
      certificate: Uint8Array.of(0x7f, 0x21, 0x05),
      role: 'sm-dp',
      trustedCis: [pki.ci.trusted],
      now: PKI_NOW,
    });
    expect(r.ok ? '' : r.error.message).toMatch(/^malformed certificate: TLV_TRUNCATED/);
  });

  it('property: any single mutated byte of a valid SM-DP certificate is refused', () => {
    const valid = pki.smdp.certificate;
    fc.assert(
      fc.property(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const bytes = valid.slice();
        bytes[at] = (bytes[at] as number) ^ xor;
        const r = verifyCertificateChain({
          certificate: bytes,
          role: 'sm-dp',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW,
        });
        expect(r.ok).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('every position of the certificate is covered: flipping each byte in turn is refused', () => {
    const valid = pki.smsr.certificate;
    const accepted: number[] = [];
    for (let at = 0; at < valid.length; at++) {
      const bytes = valid.slice();
      bytes[at] = (bytes[at] as number) ^ 0x01;
      if (
        verifyCertificateChain({
          certificate: bytes,
          role: 'sm-sr',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW,
        }).ok
      )
        accepted.push(at);
    }
    expect(accepted).toEqual([]);
  });
});

describe('ECASD certificate → EUM (X.509) → CI', () => {
  it('accepts an eUICC certificate with its EUM and returns PK.ECASD.ECKA', () => {
    const ecasd = pki.ecasd();
    const r = verifyCertificateChain({
      certificate: ecasd.certificate,
      eumCertificate: pki.eum.pem,
      role: 'ecasd',
      trustedCis: [pki.ci.trusted],
      now: PKI_NOW,
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.publicKey).toEqual(p256Point(ecasd.publicKey));
    expect(Buffer.from(r.value.certificate.subjectId).toString('hex')).toBe(
      '89049032123451234512345678901235',
    );
    expect(r.value.eum?.subject).toBe('CN=Test EUM, O=simtrust test');
  });

  it('refuses "issued to another subject": a valid ECASD certificate of another eUICC than the EIS names', () => {
    const other = pki.ecasd('89086030202200000022000023022943');
    const expect89049 = Buffer.from('89049032123451234512345678901235', 'hex');
    const r = verifyCertificateChain({
      certificate: other.certificate,
      eumCertificate: pki.eum.pem,
      role: 'ecasd',
      trustedCis: [pki.ci.trusted],
      now: PKI_NOW,
      subjectId: expect89049,
    });
    expect(r.ok ? '' : r.error.reason).toBe('issued to another subject');
    const mine = pki.ecasd();
    expect(
      verifyCertificateChain({
        certificate: mine.certificate,
        eumCertificate: pki.eum.pem,
        role: 'ecasd',
        trustedCis: [pki.ci.trusted],
        now: PKI_NOW,
        subjectId: expect89049,
      }).ok,
    ).toBe(true);
  });

  it('refuses an ECASD certificate without its EUM, with another EUM, or as an SM-DP', () => {
    const ecasd = pki.ecasd();
    expect(
      refusal(
        verifyCertificateChain({
          certificate: ecasd.certificate,
          role: 'ecasd',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW,
        }),
      ),
    ).toBe('CERT_WRONG_EUM');
    // Another EUM under the same CI.
    return (async () => {
      const eum2 = newKeyPair();
      const pem2 = await createEumCertificate({
        ci: { ...pki.ci, name: pki.ci.name },
        eumPublicKey: eum2.publicKey,
        name: 'CN=EUM 2',
        validity: { notBefore: PKI_NOW - DAY, notAfter: PKI_NOW + DAY },
      });
      expect(
        refusal(
          verifyCertificateChain({
            certificate: ecasd.certificate,
            eumCertificate: pem2,
            role: 'ecasd',
            trustedCis: [pki.ci.trusted],
            now: PKI_NOW,
          }),
        ),
      ).toBe('CERT_WRONG_EUM');
      expect(
        refusal(
          verifyCertificateChain({
            certificate: ecasd.certificate,
            role: 'sm-dp',
            trustedCis: [pki.ci.trusted],
            now: PKI_NOW,
          }),
        ),
      ).toBe('CERT_WRONG_CI');
    })();
  });

  it('refuses "issued by another CI" for an EUM of another CI, and an SM-DP certificate presented as ECASD', () => {
    const ecasd = other.ecasd();
    expect(
      refusal(
        verifyCertificateChain({
          certificate: ecasd.certificate,
          eumCertificate: other.eum.pem,
          role: 'ecasd',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW,
        }),
      ),
    ).toBe('CERT_WRONG_CI');
    // An SM-DP certificate is CI-issued: as an ECASD certificate its issuer is not the EUM.
    expect(
      refusal(
        verifyCertificateChain({
          certificate: pki.smdp.certificate,
          eumCertificate: pki.eum.pem,
          role: 'ecasd',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW,
        }),
      ),
    ).toBe('CERT_WRONG_EUM');
  });

  it('refuses an EUM certificate signed by another key under our CI name and key id', async () => {
    const eum = newKeyPair();
    const forged = await createEumCertificate({
      ci: { ...other.ci, publicKey: pki.ci.publicKey, name: pki.ci.name },
      eumPublicKey: eum.publicKey,
      name: 'CN=Forged EUM',
      validity: { notBefore: PKI_NOW - DAY, notAfter: PKI_NOW + DAY },
    });
    expect(refusal(verifyEumCertificate(forged, [pki.ci.trusted], PKI_NOW))).toBe('CERT_BAD_SIGNATURE');
  });

  it('memoised parses cannot be changed through a result: a caller scribbling on one changes no later verdict', () => {
    const first = verifyEumCertificate(pki.eum.pem, [pki.ci.trusted], PKI_NOW);
    expect(first.ok).toBe(true);
    if (first.ok) {
      first.value.keyId.fill(0);
      first.value.publicKey.fill(0);
    }
    const ecasd = pki.ecasd();
    const again = verifyCertificateChain({
      certificate: ecasd.certificate,
      eumCertificate: pki.eum.pem,
      role: 'ecasd',
      trustedCis: [pki.ci.trusted],
      now: PKI_NOW,
    });
    expect(again.ok).toBe(true);
    const anchor = trustedCiFromCertificate(pki.ci.pem);
    if (anchor.ok) anchor.value.keyId.fill(0);
    expect(
      trustedCiFromCertificate(pki.ci.pem).ok &&
        (trustedCiFromCertificate(pki.ci.pem) as { value: { keyId: Uint8Array } }).value.keyId,
    ).toEqual(pki.ci.trusted.keyId);
  });

  it('refuses an expired EUM certificate', () => {
    expect(refusal(verifyEumCertificate(pki.eum.pem, [pki.ci.trusted], PKI_NOW + 1826 * DAY))).toBe(
      'CERT_EXPIRED',
    );
  });

  it('property: any single mutated byte of the EUM certificate (DER) or the ECASD certificate is refused', () => {
    const ecasd = pki.ecasd();
    const eumDer = certificateDer(pki.eum.pem);
    fc.assert(
      fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), (inEum, pos, xor) => {
        const eum = eumDer.slice();
        const cert = ecasd.certificate.slice();
        const target = inEum ? eum : cert;
        const at = pos % target.length;
        target[at] = (target[at] as number) ^ xor;
        const r = verifyCertificateChain({
          certificate: cert,
          eumCertificate: eum,
          role: 'ecasd',
          trustedCis: [pki.ci.trusted],
          now: PKI_NOW,
        });
        expect(r.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('fuzz', () => {
  it('2,000 multi-byte mutations of the EUM DER and the ECASD certificate: always a refusal, never a throw', async () => {
    const { mutate, seededRandom } = await import('../helpers/fuzz.js');
    const random = seededRandom(0xec);
    const ecasd = pki.ecasd();
    const eumDer = certificateDer(pki.eum.pem);
    const codes = new Set<string>();
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
    for (let i = 0; i < 2_000; i++) {
      const mutateEum = i % 2 === 0;
      const certificate = mutateEum ? ecasd.certificate : mutate(random, ecasd.certificate);
      const eumCertificate = mutateEum ? mutate(random, eumDer) : eumDer;
      // The mutator can give back its input (a byte overwritten by itself): not a mutation.
      if (same(certificate, ecasd.certificate) && same(eumCertificate, eumDer)) continue;
      const r = verifyCertificateChain({
        certificate,
        eumCertificate,
        role: 'ecasd',
        trustedCis: [pki.ci.trusted],
        now: PKI_NOW,
      });
      if (!r.ok) codes.add(r.error.code);
      else codes.add('accepted');
    }
    expect(codes.has('accepted')).toBe(false);
    expect([...codes].every((c) => c in CHAIN_REFUSALS)).toBe(true);
  });
});

describe('trust anchors and primitives', () => {
  it('a CI certificate must be self-signed, CA, P-256', async () => {
    expect(trustedCiFromCertificate(pki.ci.pem).ok).toBe(true);
    expect(refusal(trustedCiFromCertificate(pki.eum.pem))).toBe('CERT_BAD_SIGNATURE');
    expect(refusal(trustedCiFromCertificate('not a certificate'))).toBe('CERT_MALFORMED');
    // The endorse module's self-signed leaf certificates are not CAs.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaf = await createEumCertificate({
      ci: { privateKey, publicKey, name: 'CN=Self' },
      eumPublicKey: publicKey,
      name: 'CN=Self',
      validity: { notBefore: PKI_NOW - DAY, notAfter: PKI_NOW + DAY },
    });
    // Self-signed and a CA (the EUM profile), so it is a usable anchor; its children still need its key id.
    expect(trustedCiFromCertificate(leaf).ok).toBe(true);
  });

  it('the key identifier is SHA-1 of the point (RFC 5280 §4.2.1.2 method 1), and what the CI certificate says', () => {
    expect(pki.ci.trusted.keyId).toEqual(keyIdentifierOf(p256Point(pki.ci.publicKey)));
    const d = decodeGpCertificate(pki.smdp.certificate);
    expect(d.ok && d.value.authorityKeyId).toEqual(pki.ci.trusted.keyId);
  });

  it('plain r‖s ECDSA-SHA256: 64 bytes, verifies, refuses other lengths and other data', () => {
    const data = Uint8Array.of(1, 2, 3);
    const sig = ecdsaSignP256(pki.smdp.privateKey, data);
    expect(sig.length).toBe(64);
    const pub = p256PublicKey(p256Point(pki.smdp.publicKey));
    expect(pub && ecdsaVerifyP256(pub, data, sig)).toBe(true);
    expect(pub && ecdsaVerifyP256(pub, Uint8Array.of(1, 2, 4), sig)).toBe(false);
    expect(pub && ecdsaVerifyP256(pub, data, sig.subarray(0, 63))).toBe(false);
    expect(p256PublicKey(Uint8Array.of(4, 1, 2))).toBeUndefined();
  });

  it('every refusal code has a reason and a description, and docs/esim.md lists each with its reason', () => {
    const doc = readFileSync('docs/esim.md', 'utf8');
    const listed = [...doc.matchAll(/^\| `(CERT_[A-Z_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2]?.trim()]);
    expect(listed).toEqual(Object.entries(CHAIN_REFUSALS).map(([code, spec]) => [code, spec.reason]));
    for (const [code, spec] of Object.entries(CHAIN_REFUSALS)) {
      expect(code).toMatch(/^CERT_[A-Z_]+$/);
      expect(spec.reason.length).toBeGreaterThan(3);
      expect(spec.description.length).toBeGreaterThan(20);
    }
  });
});
