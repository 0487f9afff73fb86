// Fuzz: 100,000 mutated SOAP bodies (byte edits, deletions, duplications and XML-token insertions
// into real encoded messages). The decoder is total: every input gives a value or an error with a
// known code, and whatever decodes re-encodes and decodes to the same value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MESSAGE_BY_ELEMENT } from '../../../../src/platform/esim/es-soap/sgp-02-messages.js';
import { failed } from '../../../../src/platform/esim/es-soap/sgp-02-status-codes.js';
import {
  decodeSoapFault,
  decodeSoapMessage,
  encodeSoapFault,
  encodeSoapMessage,
  type SoapDecodeCode,
  statusForDecodeError,
} from '../../../../src/platform/esim/es-soap/soap-envelope.js';
import { sampleBody } from './fixtures.js';

const KNOWN: ReadonlySet<SoapDecodeCode> = new Set<SoapDecodeCode>([
  'XML_TOO_LARGE',
  'XML_DTD_FORBIDDEN',
  'XML_MALFORMED',
  'XML_PI_FORBIDDEN',
  'XML_TOO_MANY_ELEMENTS',
  'XML_TOO_DEEP',
  'SOAP_NOT_AN_ENVELOPE',
  'SOAP_HEADER_INVALID',
  'SOAP_MUST_UNDERSTAND',
  'SOAP_BODY_INVALID',
  'SOAP_WRONG_NAMESPACE',
  'SOAP_UNKNOWN_MESSAGE',
  'SOAP_ACTION_MISMATCH',
  'SOAP_FIELD_MISSING',
  'SOAP_FIELD_INVALID',
  'SOAP_UNEXPECTED_ELEMENT',
  'SOAP_SIGNATURE_FORMAT',
]);

function seed(element: string, allHeaders = false): string {
  const spec = MESSAGE_BY_ELEMENT.get(element);
  if (spec === undefined) throw new Error(element);
  const extra = allHeaders ? { from: 'https://e/f', replyTo: 'https://c/d', relatesTo: 'urn:6' } : {};
  return encodeSoapMessage({
    addressing: { action: spec.action, messageId: 'urn:7', to: 'x:y', ...extra },
    message: { element: spec.element, body: sampleBody(spec) } as never,
  });
}

// Small messages (most with only the mandatory headers) keep 100k runs fast; together they cover requests, responses with status data,
// notifications, lists, optional fields and nested types.
const SEEDS = [
  seed('ES3-SendDataRequest', true),
  seed('ES3-CreateISDPResponse'),
  seed('ES4-HandleProfileEnabledNotification'),
  seed('ES3-AuditEISRequest'),
  seed('ES2-UpdateSubscriptionAddressRequest'),
  seed('ES7-CreateAdditionalKeySetRequest'),
];

const TOKENS = [
  '<',
  '>',
  '</',
  '/>',
  '&',
  '&amp;',
  '&#0;',
  '&#x10FFFF;',
  '&#13;',
  '<![CDATA[',
  ']]>',
  '<!--',
  '-->',
  '<?pi x?>',
  '<!DOCTYPE a>',
  'xmlns=""',
  ' xmlns:env="urn:x"',
  '<Eid>',
  '</Eid>',
  '<Data>00</Data>',
  '<x:y/>',
  '\u0000',
  '\uffff',
  '\ud800',
  'é',
  ' ',
  '"',
  "'",
  '=',
  ':',
  'true',
  '99999999999999999999',
];

type Edit =
  | { kind: 'replace'; at: number; text: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'duplicate'; at: number; length: number; to: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    text: fc.string({ minLength: 1, maxLength: 2 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...TOKENS) }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 60 }),
    to: fc.nat(),
  }),
);

function apply(text: string, edits: readonly Edit[]): string {
  let out = text;
  for (const e of edits) {
    const at = out.length === 0 ? 0 : e.at % out.length;
    if (e.kind === 'replace') out = out.slice(0, at) + e.text + out.slice(at + 1);
    else if (e.kind === 'delete') out = out.slice(0, at) + out.slice(at + e.length);
    else if (e.kind === 'insert') out = out.slice(0, at) + e.text + out.slice(at);
    else {
      const to = out.length === 0 ? 0 : e.to % out.length;
      out = out.slice(0, to) + out.slice(at, at + e.length) + out.slice(to);
    }
  }
  return out;
}

describe('SOAP decoder fuzz', () => {
  it('100,000 mutated bodies: a value or a known error code, never an exception; values re-encode', () => {
    let decodedCount = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...SEEDS),
        fc.array(edit, { minLength: 1, maxLength: 3 }),
        (base, edits) => {
          const text = apply(base, edits);
          const result = decodeSoapMessage(text);
          if (!result.ok) {
            expect(KNOWN.has(result.error.code)).toBe(true);
            return;
          }
          decodedCount += 1;
          const again = decodeSoapMessage(encodeSoapMessage(result.value));
          expect(again.ok && again.value.message).toEqual(result.value.message);
        },
      ),
      { numRuns: 100_000 },
    );
    // The mutations are not all fatal: some still decode and exercise the re-encoding path.
    expect(decodedCount).toBeGreaterThan(100);
  }, 300_000);

  it('SM-SR change (ES7, ES4 PrepareSMSRChange/SMSRChange, HandleSMSRChangeNotification): 20,000 mutated bodies, a value or a known error code; values re-encode', () => {
    // Every message of the SM-SR change, as the two SM-SRs and the operator send it (an EIS inside
    // HandoverEUICC, AuthenticateSMSR and the notifications; the key agreement's byte fields).
    const seeds = [
      seed('ES7-HandoverEUICCRequest', true),
      seed('ES7-HandoverEUICCResponse'),
      seed('ES7-AuthenticateSMSRRequest'),
      seed('ES7-AuthenticateSMSRResponse'),
      seed('ES7-CreateAdditionalKeySetRequest', true),
      seed('ES7-CreateAdditionalKeySetResponse'),
      seed('ES4-PrepareSMSRChangeRequest', true),
      seed('ES4-PrepareSMSRChangeResponse'),
      seed('ES4-SMSRChangeRequest', true),
      seed('ES4-SMSRChangeResponse'),
      seed('ES4-HandleSMSRChangeNotification'),
      seed('ES3-HandleSMSRChangeNotification'),
    ];
    const decodedElements = new Set<string>();
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(edit, { minLength: 1, maxLength: 3 }),
        (base, edits) => {
          const result = decodeSoapMessage(apply(base, edits));
          if (!result.ok) {
            expect(KNOWN.has(result.error.code)).toBe(true);
            return;
          }
          decodedElements.add(result.value.message.element);
          const again = decodeSoapMessage(encodeSoapMessage(result.value));
          expect(again.ok && again.value.message).toEqual(result.value.message);
        },
      ),
      { numRuns: 20_000 },
    );
    // Mutants of most seeds still decode, so their re-encoding is exercised too.
    expect(decodedElements.size).toBeGreaterThan(seeds.length / 2);
  }, 300_000);

  it('a refused body whose parser error quotes what XML cannot carry (a NUL in a tag) still gets a fault', () => {
    // Found by the fuzz through the SM-SR's listener: encodeSoapFault threw inside the HTTP handler.
    for (const text of [
      SEEDS[0]?.replace('</Eid>', '</E\u0000id>'),
      '<a\u0000b/>',
      `<x>${'\ud83d\ude00'.repeat(600)}`,
    ]) {
      const decoded = decodeSoapMessage(text ?? '');
      if (decoded.ok) throw new Error('expected a refusal');
      const fault = {
        side: 'Sender' as const,
        code: decoded.error.code,
        reason: decoded.error.message,
        status: statusForDecodeError(decoded.error),
      };
      const back = decodeSoapFault(encodeSoapFault(fault));
      expect(back?.code).toBe(decoded.error.code);
      expect(back?.status.status).toBe('FAILED');
    }
  });

  it('faults: 5,000 mutated faults decode to a fault or to nothing, never throw', () => {
    const fault = encodeSoapFault({
      side: 'Sender',
      code: 'SOAP_FIELD_MISSING',
      reason: 'Eid is missing',
      status: failed('1.6', '2.2', 'SOAP_FIELD_MISSING: Eid is missing'),
      relatesTo: 'urn:uuid:1',
    });
    expect(decodeSoapFault(fault)?.code).toBe('SOAP_FIELD_MISSING');
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        const result = decodeSoapFault(apply(fault, edits));
        if (result !== undefined) expect(typeof result.code).toBe('string');
      }),
      { numRuns: 5_000 },
    );
  });
});
