// SGP.02 §5.1.1.1 EIS: the typed model and its XML form, and the EUM signature over EumSignedInfo.
// Threat: an EIS whose signed part (EID, ECASD keys and certificate, capabilities) was changed on
// the way — by a network attacker or by an SM-SR handing it over — must not be accepted.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyEisSignature } from '../../../../src/platform/esim/es-soap/sgp-02-eis-signature.js';
import type { Eis } from '../../../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import {
  decodeSoapMessage,
  encodeSoapMessage,
  newMessageId,
} from '../../../../src/platform/esim/es-soap/soap-envelope.js';
import { EUM_KEYS, sampleEis } from './fixtures.js';

const REGISTER_ACTION = 'http://gsma.com/ES1/eUICCManagement/ES1-RegisterEIS';

function registerXml(eis: Eis): string {
  return encodeSoapMessage({
    addressing: {
      action: REGISTER_ACTION,
      messageId: newMessageId(),
      to: 'https://sr/es1',
      replyTo: 'https://eum/es1',
    },
    message: { element: 'ES1-RegisterEISRequest', body: { functionCallIdentifier: 'reg-1', eis } },
  });
}

function received(xml: string) {
  const decoded = decodeSoapMessage(xml);
  if (!decoded.ok) throw new Error(`${decoded.error.code}: ${decoded.error.message}`);
  const [first] = decoded.value.eisElements;
  if (first === undefined) throw new Error('no EIS');
  return first;
}

describe('EIS', () => {
  it('round-trips the whole model (ProfileInfo, ISD-R/ECASD keysets and certificates, audit trail, properties)', () => {
    const eis = sampleEis();
    const { eis: decoded } = received(registerXml(eis));
    expect(decoded).toEqual(eis);
  });

  it('text keeps its spaces, line breaks and tabs, in elements and in attributes', () => {
    const eis: Eis = {
      ...sampleEis(),
      additionalProperties: { properties: [{ key: ' ', value: ' a\n\tb  ' }] },
    };
    expect(received(registerXml(eis)).eis.additionalProperties).toEqual(eis.additionalProperties);
  });

  it('a signed EIS verifies from the model and from the received element', () => {
    const eis = sampleEis();
    expect(() => verifyEisSignature(eis, EUM_KEYS.publicKey)).not.toThrow();
    expect(() => verifyEisSignature(received(registerXml(eis)), EUM_KEYS.publicKey)).not.toThrow();
    // PEM form of the key works too.
    expect(() =>
      verifyEisSignature(eis, EUM_KEYS.publicKey.export({ format: 'pem', type: 'spki' }) as string),
    ).not.toThrow();
  });

  it('the signature survives a different envelope serialisation (exclusive C14N ignores unused ancestors)', () => {
    const xml = registerXml(sampleEis())
      .replaceAll('env:', 'soap12:')
      .replace('xmlns:env=', 'xmlns:extra="urn:unused" xmlns:soap12=');
    expect(xml).toContain('<soap12:Body>');
    expect(() => verifyEisSignature(received(xml), EUM_KEYS.publicKey)).not.toThrow();
  });

  it.each([
    [
      'EID',
      (x: string) =>
        x.replace(
          '<Eid>89049032123451234512345678901235</Eid>',
          '<Eid>89049032123451234512345678901200</Eid>',
        ),
    ],
    ['ECASD certificate', (x: string) => x.replace('<Value>7F2181D093</Value>', '<Value>7F2181D094</Value>')],
    [
      'capabilities',
      (x: string) => x.replace('<HttpSupport>true</HttpSupport>', '<HttpSupport>false</HttpSupport>'),
    ],
    ['whitespace inside the signed part', (x: string) => x.replace('<EumSignedInfo>', '<EumSignedInfo> ')],
    ['digest', (x: string) => x.replace(/<ds:DigestValue>./, '<ds:DigestValue>A')],
  ])('a change of the %s is detected on receipt', (_what, tamper) => {
    const xml = registerXml(sampleEis());
    const changed = tamper(xml);
    expect(changed).not.toBe(xml);
    expect(() => verifyEisSignature(received(changed), EUM_KEYS.publicKey)).toThrow(
      expect.objectContaining({ code: 'ERR_ESIM_EIS_SIGNATURE_INVALID' }),
    );
  });

  it('the parts outside EumSignedInfo (memory, SM-SR id, profiles) are the SM-SR’s and stay outside the signature', () => {
    const eis = sampleEis();
    const updated: Eis = { ...eis, remainingMemory: 1, smsrId: '1.2.3', profiles: [] };
    expect(() => verifyEisSignature(updated, EUM_KEYS.publicKey)).not.toThrow();
  });

  it('another key, a changed model or a garbage signature value is refused', () => {
    const eis = sampleEis();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(() => verifyEisSignature(eis, other)).toThrow(
      expect.objectContaining({ code: 'ERR_ESIM_EIS_SIGNATURE_INVALID' }),
    );
    const changed: Eis = { ...eis, eumSignedInfo: { ...eis.eumSignedInfo, platformVersion: '9.9.9' } };
    expect(() => verifyEisSignature(changed, EUM_KEYS.publicKey)).toThrow(
      expect.objectContaining({ code: 'ERR_ESIM_EIS_SIGNATURE_INVALID' }),
    );
    const garbage: Eis = { ...eis, eumSignature: { ...eis.eumSignature, signatureValue: new Uint8Array(3) } };
    expect(() => verifyEisSignature(garbage, EUM_KEYS.publicKey)).toThrow(
      expect.objectContaining({ code: 'ERR_ESIM_EIS_SIGNATURE_INVALID' }),
    );
  });

  it('the signature element has exactly the documented profile (exc-c14n, ecdsa-sha256, sha256, no URI)', () => {
    const xml = registerXml(sampleEis());
    expect(xml).toContain(
      '<EumSignature><ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">' +
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>' +
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>' +
        '<ds:Reference><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>' +
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>',
    );
    // A signature pointing elsewhere (URI) or with another algorithm is not read at all.
    const withUri = xml.replace('<ds:Reference>', '<ds:Reference URI="#other">');
    const d1 = decodeSoapMessage(withUri);
    expect(d1.ok ? 'ok' : d1.error.code).toBe('SOAP_SIGNATURE_FORMAT');
    const rsa = xml.replace('xmldsig-more#ecdsa-sha256', 'xmldsig-more#rsa-sha256');
    const d2 = decodeSoapMessage(rsa);
    expect(d2.ok ? 'ok' : d2.error.code).toBe('SOAP_SIGNATURE_FORMAT');
  });
});
