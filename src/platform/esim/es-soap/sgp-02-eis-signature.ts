// SGP.02 §5.1.1.1 / Annex E: the EUM signs EumSignedInfo of the EIS (EumSignature, ds:SignatureType)
// with its ECDSA key; the SM-SR verifies it at ES1 RegisterEIS, the new SM-SR at ES7 HandoverEUICC.
//
// The signature profile (one variant, both ends; to verify against SGP.02 Annex E and the EUM
// certificate profile of SGP.14):
// - Reference: a single ds:Reference WITHOUT URI — XML-DSig §4.3.3.1 lets the application identify
//   the data; here it is always the sibling EumSignedInfo element (the schema gives it no Id
//   attribute to point at), transformed by exclusive C14N (no comments);
// - DigestMethod SHA-256; SignatureMethod ECDSA-SHA256 (RFC 6931 §2.3.6), SignatureValue = r ‖ s
//   (RFC 4050 §3.3 / XML-DSig 1.1: the plain concatenation, not DER);
// - CanonicalizationMethod exclusive C14N over ds:SignedInfo; no KeyInfo — the verifier takes the
//   EUM public key from the EUM certificate it already holds (checked up to the CI).
// Exclusive C14N renders only the namespaces an element visibly uses, so the canonical bytes of
// EumSignedInfo are the same inside a SOAP envelope and alone — which is why it is used here.
// xml-crypto's SignedXml cannot reference an element without Id and has no ECDSA, so this module
// uses its exclusive canonicaliser and node:crypto; verification works on the RECEIVED elements.
import { createHash, createPublicKey, type KeyObject, sign, timingSafeEqual, verify } from 'node:crypto';
import { DOMImplementation, type Element } from '@xmldom/xmldom';
import { ExclusiveCanonicalization } from 'xml-crypto';
import { SimtrustError } from '../../../lib/errors.js';
import { childElements } from '../../../lib/safe-xml.js';
import {
  buildSignedInfo,
  type Eis,
  ESIM_MESSAGING_NS,
  type EumSignature,
  type EumSignedInfo,
  encodeValue,
  XMLDSIG_NS,
} from './sgp-02-xml-types.js';

function canonical(el: Element): Buffer {
  // The canonicaliser types its argument with the DOM lib's Element; xmldom's is the same shape.
  const text = new ExclusiveCanonicalization().process(el as never, {}) as string;
  return Buffer.from(text, 'utf8');
}

/** The EumSignedInfo element as this codec writes it (default namespace, schema order). */
function eumSignedInfoElement(info: EumSignedInfo): Element {
  const doc = new DOMImplementation().createDocument(ESIM_MESSAGING_NS, 'EumSignedInfo', null);
  const el = doc.documentElement as Element;
  el.setAttributeNS('http://www.w3.org/2000/xmlns/', 'xmlns', ESIM_MESSAGING_NS);
  encodeValue(doc, el, 'eumSignedInfo', info, 'EumSignedInfo');
  return el;
}

function signedInfoElement(digest: Uint8Array): Element {
  const doc = new DOMImplementation().createDocument(XMLDSIG_NS, 'ds:Root', null);
  const signedInfo = buildSignedInfo(doc, digest);
  (doc.documentElement as Element).appendChild(signedInfo);
  return signedInfo;
}

/** Sign EumSignedInfo with the EUM private key (ECDSA P-256 / SHA-256). */
export function signEumSignedInfo(info: EumSignedInfo, eumPrivateKey: KeyObject): EumSignature {
  if (eumPrivateKey.asymmetricKeyType !== 'ec') {
    throw new SimtrustError('ERR_ESIM_EIS_SIGNATURE_INVALID', 'the EUM key must be an EC key');
  }
  const digestValue = new Uint8Array(
    createHash('sha256')
      .update(canonical(eumSignedInfoElement(info)))
      .digest(),
  );
  const signedInfo = canonical(signedInfoElement(digestValue));
  const signatureValue = new Uint8Array(
    sign('sha256', signedInfo, { key: eumPrivateKey, dsaEncoding: 'ieee-p1363' }),
  );
  return { digestValue, signatureValue };
}

/** Attach a fresh EUM signature to an EIS (the rest of the EIS is not signed). */
export function signEis(eis: Omit<Eis, 'eumSignature'>, eumPrivateKey: KeyObject): Eis {
  return { ...eis, eumSignature: signEumSignedInfo(eis.eumSignedInfo, eumPrivateKey) } as Eis;
}

export interface ReceivedEis {
  readonly eis: Eis;
  /** The Eis element as received (from DecodedSoapMessage.eisElements). */
  readonly element: Element;
}

/**
 * Verify EumSignature with the EUM public key. With the received element the check runs on the
 * bytes as they arrived (so another implementation's serialisation verifies); with a model only,
 * it runs on this codec's own serialisation. Throws ERR_ESIM_EIS_SIGNATURE_INVALID.
 */
export function verifyEisSignature(source: Eis | ReceivedEis, eumPublicKey: KeyObject | string): void {
  const key = typeof eumPublicKey === 'string' ? createPublicKey(eumPublicKey) : eumPublicKey;
  let signedPart: Buffer;
  let signedInfo: Buffer;
  let signature: EumSignature;
  if ('element' in source) {
    const [infoEl, sigEl] = childElements(source.element);
    const signedInfoEl = sigEl === undefined ? undefined : childElements(sigEl)[0];
    if (infoEl === undefined || signedInfoEl === undefined || infoEl.localName !== 'EumSignedInfo') {
      throw new SimtrustError(
        'ERR_ESIM_EIS_SIGNATURE_INVALID',
        'the EIS has no EumSignedInfo / EumSignature',
      );
    }
    signedPart = canonical(infoEl);
    signedInfo = canonical(signedInfoEl);
    signature = source.eis.eumSignature;
  } else {
    signedPart = canonical(eumSignedInfoElement(source.eumSignedInfo));
    signedInfo = canonical(signedInfoElement(source.eumSignature.digestValue));
    signature = source.eumSignature;
  }
  const digest = createHash('sha256').update(signedPart).digest();
  const claimed = Buffer.from(signature.digestValue);
  if (claimed.length !== digest.length || !timingSafeEqual(claimed, digest)) {
    throw new SimtrustError('ERR_ESIM_EIS_SIGNATURE_INVALID', 'EumSignedInfo does not match its digest');
  }
  let valid = false;
  try {
    valid = verify('sha256', signedInfo, { key, dsaEncoding: 'ieee-p1363' }, signature.signatureValue);
  } catch {
    valid = false;
  }
  if (!valid)
    throw new SimtrustError(
      'ERR_ESIM_EIS_SIGNATURE_INVALID',
      'EumSignature does not verify with the EUM key',
    );
}
