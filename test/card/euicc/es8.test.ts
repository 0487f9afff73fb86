// ES8 on the card (SGP.02 §3.1.2–3.1.3): EstablishISDPKeySet through the ISD-R over SCP80/SMS
// (INSTALL [for personalization], STORE DATA 3A01 → RC, 3A02 → DR + receipt), then
// DownloadAndInstallation over SCP03t into the ISD-P, a profile package built as the SM-DP builds it,
// and EnableProfile: the card then authenticates with the downloaded Ki/OPc. The SM-DP side is the
// project's own (src/crypto, src/lib), the PKI the test CI/EUM/SM-DP of test/helpers/esim-pki.ts.
// Threats: only a certificate of the SM-DP role under the card's CI makes the card answer with RC; a
// key agreement signed by anyone else, or out of order, gives no key set; a tampered SCP03t segment
// installs nothing.

import { describe, expect, it } from 'vitest';
import { cardFromFile } from '../../../src/card/card-file.js';
import { LIFE_CYCLE } from '../../../src/card/euicc/euicc-state.js';
import { ISD_P_LOAD_FILE_AID, ISD_P_MODULE_AID } from '../../../src/card/euicc/sgp-02-annex-h.js';
import type { Uicc } from '../../../src/card/uicc.js';
import { generateVector } from '../../../src/crypto/milenage.js';
import {
  buildKeyEstablishmentRequest,
  type KeyEstablishmentParameters,
  scp03KeysFromKeyset,
  verifyKeyEstablishmentReceipt,
} from '../../../src/crypto/sgp-02-key-establishment.js';
import { Scp03tHost, segmentProfilePackage } from '../../../src/crypto/sgp-02-scp03t.js';
import { concatBytes } from '../../../src/lib/ber-tlv.js';
import { ManualClock } from '../../../src/lib/clock.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../../src/lib/identities.js';
import { buildProfilePackage, decodeEuiccResponse } from '../../../src/lib/saip-profile-package.js';
import { createIsdpApdu, enableProfileApdu, encodeDgi } from '../../../src/lib/sgp-02-es5.js';
import { createTestPki, PKI_NOW, type TestPki } from '../../helpers/esim-pki.js';
import { booted, cell, type Device, EID, es5, euiccFile, euiccOf, SECOND } from './fixture.js';

const PARAMETERS: KeyEstablishmentParameters = {
  keyUsageQualifier: 0x5c,
  kvn: 0x30,
  kid: 0x01,
  initialCounter: new Uint8Array(0),
};

const PROFILE = {
  iccid: iccidWithCheckDigit('894400000000000777'),
  imsi: '001010000000777',
  ki: hex('4f4e4d4c4b4a49484746454443424140'),
  opc: hex('0102030405060708090a0b0c0d0e0f10'),
};

const installForPersonalization = (aid: string) =>
  concatBytes([
    Uint8Array.of(0x80, 0xe6, 0x20, 0x00, 6 + 16, 0x00, 0x00, 16),
    hex(aid),
    Uint8Array.of(0, 0, 0),
  ]);
const storeData = (p1: number, p2: number, data: Uint8Array) =>
  concatBytes([Uint8Array.of(0x80, 0xe2, p1, p2, data.length), data]);

/** An eUICC whose ECASD key and certificate come from the test EUM, with PK.CI of the test CI. */
async function pkiCard(): Promise<{ pki: TestPki; d: Device; ecasdPublicKey: Uint8Array }> {
  const pki = await createTestPki();
  const ecasd = pki.ecasd(EID);
  const file = euiccFile();
  const jwk = ecasd.privateKey.export({ format: 'jwk' });
  const spki = ecasd.publicKey.export({ format: 'der', type: 'spki' });
  const e = file.euicc;
  if (e === undefined) throw new Error('no euicc');
  const card = cardFromFile(
    {
      ...file,
      euicc: {
        ...e,
        ecasd: {
          certificate: toHex(ecasd.certificate),
          privateKey: Buffer.from(jwk.d ?? '', 'base64url').toString('hex'),
          ci: { keyId: toHex(pki.ci.trusted.keyId), publicKey: toHex(pki.ci.trusted.publicKey) },
        },
      },
    },
    { clock: new ManualClock(PKI_NOW) },
  );
  return { pki, d: booted(card), ecasdPublicKey: new Uint8Array(spki.subarray(spki.length - 65)) };
}

/** SendData #1 and #2 of §3.1.2 through the SM-SR over SMS; the SM-DP's key set from the receipt. */
function establish(pki: TestPki, d: Device, ecasdPublicKey: Uint8Array, counter: number) {
  const first = es5(
    d,
    [installForPersonalization(SECOND), storeData(0x09, 0x00, encodeDgi(0x3a01, pki.smdp.certificate))],
    counter,
  );
  expect(first.answers.map((a) => a.sw)).toEqual(['9000', '9000']);
  const rcTlv = hex(first.answers[1]?.data ?? '');
  expect(rcTlv[0]).toBe(0x85);
  const rc = rcTlv.subarray(2);
  const request = buildKeyEstablishmentRequest({
    curve: 'P-256',
    parameters: PARAMETERS,
    signingKey: pki.smdp.privateKey,
    randomChallenge: rc,
  });
  const second = es5(d, [storeData(0x89, 0x01, request.storeData)], counter + 1);
  expect(second.answers.map((a) => a.sw)).toEqual(['9000']);
  const keyset = verifyKeyEstablishmentReceipt({
    curve: 'P-256',
    parameters: PARAMETERS,
    ephemeralPrivateKey: request.ephemeral.privateKey,
    ecasdPublicKey,
    response: hex(second.answers[0]?.data ?? ''),
  });
  if (!keyset.ok) throw new Error(keyset.error.message);
  return keyset.value;
}

function authenticates(card: Uicc, ki: Uint8Array, opc: Uint8Array): boolean {
  const rand = hex('0123456789abcdef0123456789abcdef');
  const v = generateVector(ki, opc, rand, hex('000000000020'), hex('8000'));
  card.transmit(hex('00A4040C07A0000000871002'));
  const r = card.transmit(hex(`008800812210${toHex(rand)}10${toHex(v.autn)}00`));
  return toHex(r.subarray(r.length - 2)) === '9000' && toHex(r.subarray(2, 10)) === toHex(v.res);
}

describe('ES8: key establishment, download and installation, enable', () => {
  it('the SM-DP and the ISD-P agree on a key set; the package streams over SCP03t, installs, and the enabled profile authenticates', async () => {
    const { pki, d, ecasdPublicKey } = await pkiCard();
    const create = createIsdpApdu({
      loadFileAid: ISD_P_LOAD_FILE_AID,
      moduleAid: ISD_P_MODULE_AID,
      isdpAid: SECOND,
    });
    expect(es5(d, [create], 1).answers[0]?.sw).toBe('9000');
    const keyset = establish(pki, d, ecasdPublicKey, 2);
    const e = euiccOf(d.card);
    expect(e.snapshot().isdps.find((i) => i.aid === SECOND)?.state).toBe(LIFE_CYCLE.PERSONALIZED);

    // DownloadAndInstallation (§3.1.3), as the SM-SR relays it to the ISD-P.
    const host = new Scp03tHost({ keys: scp03KeysFromKeyset(keyset), kvn: 0x30 });
    const iu = e.processIsdpData(SECOND, host.initializeUpdate());
    const ext = host.externalAuthenticate(iu);
    if (!ext.ok) throw new Error(ext.error.message);
    expect(host.externalAuthenticateResponse(e.processIsdpData(SECOND, ext.value)).ok).toBe(true);
    const upp = buildProfilePackage(PROFILE);
    let last: Uint8Array = new Uint8Array(0);
    for (const segment of segmentProfilePackage(upp, 200)) {
      const answer = host.unwrapResponse(e.processIsdpData(SECOND, host.wrapSegment(segment)));
      if (!answer.ok) throw new Error(answer.error.message);
      last = answer.value;
    }
    const response = decodeEuiccResponse(last);
    expect(response.ok && response.value.peStatus.every((s) => s.status === 0)).toBe(true);
    const installed = e.snapshot().isdps.find((i) => i.aid === SECOND);
    expect(installed?.state).toBe(LIFE_CYCLE.DISABLED);
    expect(installed?.profile?.identity).toMatchObject({ iccid: PROFILE.iccid, imsi: PROFILE.imsi });

    expect(es5(d, [enableProfileApdu(SECOND)], 4).answers[0]?.sw).toBe('9000');
    expect(d.modem.imsi).toBe(PROFILE.imsi);
    expect(authenticates(d.card, PROFILE.ki, PROFILE.opc)).toBe(true);
    d.modem.moveTo(cell(2));
  });

  it('refuses a certificate of the wrong role (SM-SR), a 3A02 without RC, and a key agreement signed by another key', async () => {
    const { pki, d } = await pkiCard();
    const create = createIsdpApdu({
      loadFileAid: ISD_P_LOAD_FILE_AID,
      moduleAid: ISD_P_MODULE_AID,
      isdpAid: SECOND,
    });
    es5(d, [create], 1);
    const wrongRole = es5(
      d,
      [installForPersonalization(SECOND), storeData(0x09, 0x00, encodeDgi(0x3a01, pki.smsr.certificate))],
      2,
    );
    expect(wrongRole.answers.map((a) => a.sw)).toEqual(['9000', '6982']);
    const rc = new Uint8Array(16);
    const request = buildKeyEstablishmentRequest({
      curve: 'P-256',
      parameters: PARAMETERS,
      signingKey: pki.smdp.privateKey,
      randomChallenge: rc,
    });
    expect(es5(d, [storeData(0x89, 0x01, request.storeData)], 3).answers.map((a) => a.sw)).not.toEqual([
      '9000',
    ]);
    const ok3a01 = es5(
      d,
      [installForPersonalization(SECOND), storeData(0x09, 0x00, encodeDgi(0x3a01, pki.smdp.certificate))],
      4,
    );
    const realRc = hex(ok3a01.answers[1]?.data ?? '').subarray(2);
    const forged = buildKeyEstablishmentRequest({
      curve: 'P-256',
      parameters: PARAMETERS,
      signingKey: pki.smsr.privateKey,
      randomChallenge: realRc,
    });
    expect(es5(d, [storeData(0x89, 0x01, forged.storeData)], 5).answers.map((a) => a.sw)).toEqual(['6982']);
    const s = euiccOf(d.card)
      .snapshot()
      .isdps.find((i) => i.aid === SECOND);
    expect(s?.state).toBe(LIFE_CYCLE.SELECTABLE);
    expect(s?.keyset).toBeUndefined();
  });

  it('a tampered SCP03t segment closes the session and installs nothing', async () => {
    const { pki, d, ecasdPublicKey } = await pkiCard();
    es5(
      d,
      [createIsdpApdu({ loadFileAid: ISD_P_LOAD_FILE_AID, moduleAid: ISD_P_MODULE_AID, isdpAid: SECOND })],
      1,
    );
    const keyset = establish(pki, d, ecasdPublicKey, 2);
    const e = euiccOf(d.card);
    const host = new Scp03tHost({ keys: scp03KeysFromKeyset(keyset), kvn: 0x30 });
    const ext = host.externalAuthenticate(e.processIsdpData(SECOND, host.initializeUpdate()));
    if (!ext.ok) throw new Error(ext.error.message);
    expect(host.externalAuthenticateResponse(e.processIsdpData(SECOND, ext.value)).ok).toBe(true);
    const [segment] = segmentProfilePackage(buildProfilePackage(PROFILE));
    const wrapped = host.wrapSegment(segment ?? new Uint8Array(0)).slice();
    wrapped[wrapped.length - 1] = (wrapped[wrapped.length - 1] as number) ^ 1;
    expect(toHex(e.processIsdpData(SECOND, wrapped)).startsWith('9f46')).toBe(true);
    expect(e.snapshot().isdps.find((i) => i.aid === SECOND)?.profile).toBeUndefined();
  });
});
