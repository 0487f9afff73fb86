// SGP.02 §3.1.2 across modules: the certificates of the eSIM PKI (sgp-02-certificate-chain.ts) feed
// key establishment (sgp-02-key-establishment.ts), and the key set opens SCP03t. Threat: an SM-DP
// whose certificate the card accepted is the only party that can make the ISD-P take a key set, and
// the SM-DP only trusts a receipt from the ECASD its chain verified.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyCertificateChain, verifyGpCertificate } from '../../src/crypto/sgp-02-certificate-chain.js';
import {
  buildKeyEstablishmentRequest,
  establishKeysOnCard,
  type KeyEstablishmentParameters,
  scp03KeysFromKeyset,
  verifyKeyEstablishmentReceipt,
} from '../../src/crypto/sgp-02-key-establishment.js';
import { Scp03tCard, Scp03tHost, segmentProfilePackage } from '../../src/crypto/sgp-02-scp03t.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { createTestPki, PKI_NOW } from '../helpers/esim-pki.js';

const ISD_P_AID = hex('A0000005591010FFFFFFFF8900001000');

describe('certificates → key establishment → SCP03t', () => {
  it('the SM-DP and the ISD-P end with the same key set and stream a profile package', async () => {
    const pki = await createTestPki();
    const euicc = pki.ecasd();
    // SM-DP side: CERT.ECASD.ECKA → EUM → CI gives PK.ECASD.ECKA.
    const ecasdChain = verifyCertificateChain({
      certificate: euicc.certificate,
      role: 'ecasd',
      eumCertificate: pki.eum.pem,
      trustedCis: [pki.ci.trusted],
      now: PKI_NOW,
    });
    if (!ecasdChain.ok) throw new Error(ecasdChain.error.message);
    // Card side (3A01): CERT.DP.ECDSA against PK.CI gives PK.DP.ECDSA, then RC.
    const dpCert = verifyGpCertificate(pki.smdp.certificate, {
      role: 'sm-dp',
      issuers: [pki.ci.trusted],
      now: PKI_NOW,
    });
    if (!dpCert.ok) throw new Error(dpCert.error.message);
    const rc = new Uint8Array(randomBytes(16));

    const parameters: KeyEstablishmentParameters = {
      keyUsageQualifier: 0x5c,
      kvn: 0x30,
      kid: 0x01,
      initialCounter: new Uint8Array(0),
    };
    const request = buildKeyEstablishmentRequest({
      curve: 'P-256',
      parameters,
      signingKey: pki.smdp.privateKey,
      randomChallenge: rc,
    });
    const card = establishKeysOnCard({
      storeData: request.storeData,
      curve: 'P-256',
      ecasdPrivateKey: euicc.privateKey,
      offCardPublicKey: dpCert.value.publicKey,
      randomChallenge: rc,
    });
    if (!card.ok) throw new Error(card.error.message);
    const smdp = verifyKeyEstablishmentReceipt({
      curve: 'P-256',
      parameters,
      ephemeralPrivateKey: request.ephemeral.privateKey,
      ecasdPublicKey: ecasdChain.value.publicKey,
      response: card.value.response,
    });
    if (!smdp.ok) throw new Error(smdp.error.message);
    expect(smdp.value.keys.map(toHex)).toEqual(card.value.keyset.keys.map(toHex));

    const host = new Scp03tHost({ keys: scp03KeysFromKeyset(smdp.value), kvn: 0x30 });
    const isdp = new Scp03tCard({
      keys: scp03KeysFromKeyset(card.value.keyset),
      kvn: 0x30,
      keyDiversificationData: new Uint8Array(10),
      sdAid: ISD_P_AID,
      sequenceCounter: 0,
    });
    const iu = isdp.receive(host.initializeUpdate());
    if (!iu.ok || iu.value.kind !== 'initialize-update') throw new Error('84');
    const ext = host.externalAuthenticate(iu.value.response);
    if (!ext.ok) throw new Error(ext.error.message);
    const ea = isdp.receive(ext.value);
    if (!ea.ok || ea.value.kind !== 'external-authenticate') throw new Error('85');
    expect(host.externalAuthenticateResponse(ea.value.response).ok).toBe(true);
    const upp = new Uint8Array(randomBytes(5000));
    const got: number[] = [];
    for (const segment of segmentProfilePackage(upp)) {
      const r = isdp.receive(host.wrapSegment(segment));
      if (!r.ok || r.value.kind !== 'segment') throw new Error('86');
      got.push(...r.value.segment);
      expect(host.unwrapResponse(isdp.wrapResponse()).ok).toBe(true);
    }
    expect(toHex(Uint8Array.from(got))).toBe(toHex(upp));
  });

  it('the SM-SR key (a valid certificate of another role) cannot make the card take a key set signed for the SM-DP', async () => {
    const pki = await createTestPki();
    const euicc = pki.ecasd();
    const dpCert = verifyGpCertificate(pki.smdp.certificate, {
      role: 'sm-dp',
      issuers: [pki.ci.trusted],
      now: PKI_NOW,
    });
    if (!dpCert.ok) throw new Error(dpCert.error.message);
    const rc = new Uint8Array(randomBytes(16));
    const parameters: KeyEstablishmentParameters = {
      keyUsageQualifier: 0x5c,
      kvn: 0x30,
      kid: 0x01,
      initialCounter: new Uint8Array(0),
    };
    const forged = buildKeyEstablishmentRequest({
      curve: 'P-256',
      parameters,
      signingKey: pki.smsr.privateKey,
      randomChallenge: rc,
    });
    const r = establishKeysOnCard({
      storeData: forged.storeData,
      curve: 'P-256',
      ecasdPrivateKey: euicc.privateKey,
      offCardPublicKey: dpCert.value.publicKey,
      randomChallenge: rc,
    });
    expect(!r.ok && r.error.code).toBe('SGP02_KE_SIGNATURE');
  });
});
