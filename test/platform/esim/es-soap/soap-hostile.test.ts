// Hostile SOAP input. Threats: XXE (external entities reading files or URLs), entity expansion
// ("billion laughs"), memory/stack exhaustion (huge, wide or deep documents), and confusion attacks
// (wrong namespace, an Action that does not match the body, duplicated or unknown mandatory
// headers, missing or malformed fields). Each gives a typed error with a stable code and a FAILED
// FunctionExecutionStatus with Subject/Reason — never an exception.
import { describe, expect, it } from 'vitest';
import { MESSAGE_BY_ELEMENT } from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import {
  decodeSoapMessage,
  encodeSoapMessage,
  statusForDecodeError,
} from '../../../../src/platform/esim/es-soap/soap-envelope.js';
import { EID } from './fixtures.js';

const ACTION = 'http://gsma.com/ES3/ProfileManagement/ES3-EnableProfile';
const VALID = encodeSoapMessage({
  addressing: { action: ACTION, messageId: 'urn:uuid:1', to: 'https://sr/es3', replyTo: 'https://dp/es3' },
  message: {
    element: 'ES3-EnableProfileRequest',
    body: { functionCallIdentifier: 'f-1', eid: EID, iccid: '8988211000000467285' },
  },
});

function codeOf(xml: string): string {
  const decoded = decodeSoapMessage(xml, { maxChars: 65_536, maxElements: 2_000, maxDepth: 32 });
  if (decoded.ok) return 'OK';
  const status = statusForDecodeError(decoded.error);
  expect(status.status).toBe('FAILED');
  expect(status.statusCodeData?.subject).toMatch(/^\d+(\.\d+)*$/);
  expect(status.statusCodeData?.reason).toMatch(/^\d+(\.\d+)*$/);
  expect(status.statusCodeData?.message?.startsWith(`${decoded.error.code}: `)).toBe(true);
  return decoded.error.code;
}

describe('hostile SOAP input', () => {
  it('the valid message decodes (control)', () => {
    expect(codeOf(VALID)).toBe('OK');
  });

  it('XXE: an external entity is refused before parsing (no file is read)', () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${VALID.replace(
      'f-1',
      '&xxe;',
    )}`;
    expect(codeOf(xxe)).toBe('XML_DTD_FORBIDDEN');
    const decoded = decodeSoapMessage(xxe);
    expect(JSON.stringify(decoded)).not.toContain('root:');
  });

  it('billion laughs: entity declarations are refused, nothing is expanded', () => {
    let dtd = '<!ENTITY l0 "ha">';
    for (let i = 1; i < 10; i += 1) dtd += `<!ENTITY l${i} "${`&l${i - 1};`.repeat(10)}">`;
    expect(codeOf(`<!DOCTYPE e [${dtd}]>${VALID.replace('f-1', '&l9;')}`)).toBe('XML_DTD_FORBIDDEN');
    // Lower case, parameter entities and a bare ENTITY are refused alike.
    expect(codeOf(`<!doctype e>${VALID}`)).toBe('XML_DTD_FORBIDDEN');
    expect(codeOf(VALID.replace('f-1', '<!ENTITY % p "x">'))).toBe('XML_DTD_FORBIDDEN');
    // An undeclared entity reference is simply malformed.
    expect(codeOf(VALID.replace('f-1', '&l9;'))).toBe('XML_MALFORMED');
  });

  it('huge, wide and deep documents stop at the limits', () => {
    expect(codeOf(VALID.replace('f-1', 'x'.repeat(70_000)))).toBe('XML_TOO_LARGE');
    expect(
      codeOf(VALID.replace('<FunctionCallIdentifier>', `${'<x/>'.repeat(3_000)}<FunctionCallIdentifier>`)),
    ).toBe('XML_TOO_MANY_ELEMENTS');
    expect(codeOf(VALID.replace('f-1', `${'<d>'.repeat(100)}${'</d>'.repeat(100)}`))).toBe('XML_TOO_DEEP');
  });

  it('processing instructions are refused', () => {
    expect(codeOf(VALID.replace('f-1', '<?xml-stylesheet href="x"?>'))).toBe('XML_PI_FORBIDDEN');
  });

  it('namespaces: SOAP 1.1, another esim-messaging version, a body element without namespace', () => {
    expect(
      codeOf(
        VALID.replaceAll(
          'http://www.w3.org/2003/05/soap-envelope',
          'http://schemas.xmlsoap.org/soap/envelope/',
        ),
      ),
    ).toBe('SOAP_NOT_AN_ENVELOPE');
    expect(codeOf(VALID.replace('esim-messaging/3', 'esim-messaging/1'))).toBe('SOAP_WRONG_NAMESPACE');
    expect(codeOf(VALID.replace(' xmlns="http://namespaces.gsma.org/esim-messaging/3"', ''))).toBe(
      'SOAP_WRONG_NAMESPACE',
    );
  });

  it('headers: a missing MessageID, a duplicated Action, an Action of another function, an unknown mustUnderstand block', () => {
    expect(codeOf(VALID.replace(/<wsa:MessageID>[^<]*<\/wsa:MessageID>/, ''))).toBe('SOAP_HEADER_INVALID');
    expect(
      codeOf(VALID.replace('<wsa:MessageID>', `<wsa:Action>${ACTION}</wsa:Action><wsa:MessageID>`)),
    ).toBe('SOAP_HEADER_INVALID');
    expect(
      codeOf(VALID.replace(`>${ACTION}<`, '>http://gsma.com/ES3/ProfileManagement/ES3-DeleteISDP<')),
    ).toBe('SOAP_ACTION_MISMATCH');
    expect(
      codeOf(
        VALID.replace(
          '<env:Header>',
          '<env:Header><sec:Security xmlns:sec="urn:s" env:mustUnderstand="true"/>',
        ),
      ),
    ).toBe('SOAP_MUST_UNDERSTAND');
    // The same block without mustUnderstand is ignored (SOAP 1.2 §2.4).
    expect(codeOf(VALID.replace('<env:Header>', '<env:Header><sec:Security xmlns:sec="urn:s"/>'))).toBe('OK');
  });

  it('body: two messages, an unknown message, missing, invalid and unexpected fields', () => {
    expect(codeOf(VALID.replace('</env:Body>', '<x xmlns="urn:y"/></env:Body>'))).toBe('SOAP_BODY_INVALID');
    expect(codeOf(VALID.replaceAll('ES3-EnableProfileRequest', 'ES3-FormatCardRequest'))).toBe(
      'SOAP_UNKNOWN_MESSAGE',
    );
    expect(codeOf(VALID.replace(/<Eid>[^<]*<\/Eid>/, ''))).toBe('SOAP_FIELD_MISSING');
    expect(codeOf(VALID.replace('<Iccid>8988211000000467285</Iccid>', '<Iccid>12345</Iccid>'))).toBe(
      'SOAP_FIELD_INVALID',
    );
    expect(codeOf(VALID.replace(`<Eid>${EID}</Eid>`, '<Eid>89ZZ</Eid>'))).toBe('SOAP_FIELD_INVALID');
    expect(codeOf(VALID.replace('</Iccid>', '</Iccid><Extra>1</Extra>'))).toBe('SOAP_UNEXPECTED_ELEMENT');
    expect(codeOf(VALID.replace('<Iccid>', '<Iccid><b>1</b>'))).toBe('SOAP_UNEXPECTED_ELEMENT');
    expect(codeOf(VALID.replace('f-1', '&#13;'))).toBe('SOAP_FIELD_INVALID');
  });

  it('bodies that are not XML at all', () => {
    for (const text of ['', 'null', '{"a":1}', '<', '\u0000', '<env:Envelope/>', '\ufeff<a/>']) {
      expect(codeOf(text)).not.toBe('OK');
    }
  });

  it('every message of the table names its response in its Action table (routing data is complete)', () => {
    for (const spec of MESSAGE_BY_ELEMENT.values())
      expect(spec.action.startsWith(`http://gsma.com/${spec.iface}/`)).toBe(true);
  });
});
