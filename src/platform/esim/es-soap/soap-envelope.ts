// SGP.02 Annex B: the SOAP 1.2 binding of the off-card interfaces — an envelope whose header carries
// WS-Addressing 1.0 (From, To, ReplyTo, MessageID, Action, RelatesTo) and whose body holds exactly
// one esim-messaging element from the message table. Built and read with a DOM (@xmldom/xmldom),
// never by string concatenation; received text goes through parseXmlSafely (no DTD, bounded).
// decodeSoapMessage is total: any text gives a message or a SoapDecodeError with a stable code.
import { randomUUID } from 'node:crypto';
import { DOMImplementation, type Element, XMLSerializer } from '@xmldom/xmldom';
import { SimtrustError } from '../../../lib/errors.js';
import { err, ok, type Result } from '../../../lib/result.js';
import {
  childElements,
  DEFAULT_XML_LIMITS,
  parseXmlSafely,
  textOf,
  type XmlLimits,
} from '../../../lib/safe-xml.js';
import { MESSAGE_BY_ELEMENT, type Message, type MessageSpec } from './sgp-02-messages.js';
import {
  type FunctionExecutionStatus,
  failed,
  REASON_CODES,
  type ReasonCode,
  SUBJECT_CODES,
  type SubjectCode,
} from './sgp-02-status-codes.js';
import {
  decodeFields,
  type Eis,
  ESIM_MESSAGING_NS,
  encodeFields,
  type FieldSpec,
  isXmlText,
  SchemaViolation,
} from './sgp-02-xml-types.js';

export const SOAP12_NS = 'http://www.w3.org/2003/05/soap-envelope';
export const WSA_NS = 'http://www.w3.org/2005/08/addressing';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
/** WS-Addressing §3.2: "reply to whoever sent it" — not usable for asynchronous responses. */
export const WSA_ANONYMOUS = 'http://www.w3.org/2005/08/addressing/anonymous';

export interface WsAddressing {
  readonly action: string;
  readonly messageId: string;
  readonly to: string;
  readonly from?: string;
  readonly replyTo?: string;
  readonly relatesTo?: string;
}

export interface SoapMessage {
  readonly addressing: WsAddressing;
  readonly message: Message;
}

export interface DecodedSoapMessage extends SoapMessage {
  readonly spec: MessageSpec;
  /** Each EIS in the body with its received element, for signature verification on the received form. */
  readonly eisElements: ReadonlyArray<{ readonly eis: Eis; readonly element: Element }>;
}

export type SoapDecodeCode =
  | 'XML_TOO_LARGE'
  | 'XML_DTD_FORBIDDEN'
  | 'XML_MALFORMED'
  | 'XML_PI_FORBIDDEN'
  | 'XML_TOO_MANY_ELEMENTS'
  | 'XML_TOO_DEEP'
  | 'SOAP_NOT_AN_ENVELOPE'
  | 'SOAP_HEADER_INVALID'
  | 'SOAP_MUST_UNDERSTAND'
  | 'SOAP_BODY_INVALID'
  | 'SOAP_WRONG_NAMESPACE'
  | 'SOAP_UNKNOWN_MESSAGE'
  | 'SOAP_ACTION_MISMATCH'
  | 'SOAP_FIELD_MISSING'
  | 'SOAP_FIELD_INVALID'
  | 'SOAP_UNEXPECTED_ELEMENT'
  | 'SOAP_SIGNATURE_FORMAT';

export interface SoapDecodeError {
  readonly code: SoapDecodeCode;
  readonly message: string;
  /** What could be read of the addressing before the failure (to correlate a fault). */
  readonly addressing?: Partial<WsAddressing>;
  /** The body element, when it was recognised. */
  readonly element?: string;
}

const MAX_URI = 2048;

export function newMessageId(): string {
  return `urn:uuid:${randomUUID()}`;
}

/** Encode a message; throws ERR_ESIM_SOAP_INVALID_MESSAGE when a value breaks the schema. */
export function encodeSoapMessage(soap: SoapMessage): string {
  const spec = MESSAGE_BY_ELEMENT.get(soap.message.element);
  if (spec === undefined) {
    throw new SimtrustError('ERR_ESIM_SOAP_INVALID_MESSAGE', `unknown message ${soap.message.element}`);
  }
  if (soap.addressing.action !== spec.action) {
    throw new SimtrustError(
      'ERR_ESIM_SOAP_INVALID_MESSAGE',
      `the Action of ${spec.element} is ${spec.action}, not ${soap.addressing.action}`,
    );
  }
  const doc = new DOMImplementation().createDocument(SOAP12_NS, 'env:Envelope', null);
  const envelope = doc.documentElement as Element;
  envelope.setAttributeNS(XMLNS_NS, 'xmlns:wsa', WSA_NS);
  const header = doc.createElementNS(SOAP12_NS, 'env:Header');
  const a = soap.addressing;
  const text = (name: string, value: string | undefined) => {
    if (value === undefined) return;
    checkUri(name, value);
    const el = doc.createElementNS(WSA_NS, `wsa:${name}`);
    el.appendChild(doc.createTextNode(value));
    header.appendChild(el);
  };
  const endpoint = (name: string, value: string | undefined) => {
    if (value === undefined) return;
    checkUri(name, value);
    const el = doc.createElementNS(WSA_NS, `wsa:${name}`);
    const address = doc.createElementNS(WSA_NS, 'wsa:Address');
    address.appendChild(doc.createTextNode(value));
    el.appendChild(address);
    header.appendChild(el);
  };
  endpoint('From', a.from);
  text('To', a.to);
  endpoint('ReplyTo', a.replyTo);
  text('MessageID', a.messageId);
  text('Action', a.action);
  text('RelatesTo', a.relatesTo);
  envelope.appendChild(header);
  const body = doc.createElementNS(SOAP12_NS, 'env:Body');
  const root = doc.createElementNS(ESIM_MESSAGING_NS, spec.element);
  // Default namespace on the body element: the EIS signature is computed over this form.
  root.setAttributeNS(XMLNS_NS, 'xmlns', ESIM_MESSAGING_NS);
  try {
    encodeFields(
      doc,
      root,
      fieldsFor(spec, soap.message.body as Record<string, unknown>),
      soap.message.body,
      spec.element,
    );
  } catch (e) {
    if (e instanceof SchemaViolation) {
      throw new SimtrustError('ERR_ESIM_SOAP_INVALID_MESSAGE', e.message, { details: { path: e.path } });
    }
    throw e;
  }
  body.appendChild(root);
  envelope.appendChild(body);
  return new XMLSerializer().serializeToString(doc);
}

function checkUri(name: string, value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_URI || /\s/.test(value)) {
    throw new SimtrustError('ERR_ESIM_SOAP_INVALID_MESSAGE', `wsa:${name} must be a URI without spaces`);
  }
}

/**
 * A response whose status is FAILED or EXPIRED may omit the function's own mandatory outputs (the
 * XSD documents them as "empty when not applicable"); everything else is strict.
 */
function fieldsFor(spec: MessageSpec, body: Readonly<Record<string, unknown>>): readonly FieldSpec[] {
  if (spec.kind !== 'response') return spec.fields;
  const status = (body.functionExecutionStatus as FunctionExecutionStatus | undefined)?.status;
  if (status !== 'FAILED' && status !== 'EXPIRED') return spec.fields;
  return spec.fields.map((f) =>
    f.key === 'functionExecutionStatus' || f.occurs !== undefined || body[f.key] !== undefined
      ? f
      : { ...f, occurs: 'optional' as const },
  );
}

/** Decode a SOAP message received from a partner. Never throws. */
export function decodeSoapMessage(
  text: string,
  limits: XmlLimits = DEFAULT_XML_LIMITS,
): Result<DecodedSoapMessage, SoapDecodeError> {
  const parsed = parseXmlSafely(text, limits);
  if (!parsed.ok) return err({ code: parsed.error.code as SoapDecodeCode, message: parsed.error.message });
  const envelope = parsed.value.documentElement as Element;
  if (envelope.namespaceURI !== SOAP12_NS || envelope.localName !== 'Envelope') {
    return err({ code: 'SOAP_NOT_AN_ENVELOPE', message: 'the root is not a SOAP 1.2 env:Envelope' });
  }
  const parts = childElements(envelope);
  const headerEl =
    parts[0]?.namespaceURI === SOAP12_NS && parts[0].localName === 'Header' ? parts[0] : undefined;
  const rest = headerEl === undefined ? parts : parts.slice(1);
  if (rest.length !== 1 || rest[0]?.namespaceURI !== SOAP12_NS || rest[0].localName !== 'Body') {
    return err({ code: 'SOAP_NOT_AN_ENVELOPE', message: 'an envelope has an optional Header then one Body' });
  }
  const header = readHeader(headerEl);
  if (!header.ok) return header;
  const addressing = header.value;
  const fail = (code: SoapDecodeCode, message: string, element?: string): Result<never, SoapDecodeError> =>
    err({ code, message, addressing, ...(element === undefined ? {} : { element }) });
  const bodyChildren = childElements(rest[0] as Element);
  if (bodyChildren.length !== 1)
    return fail('SOAP_BODY_INVALID', 'the Body holds exactly one message element');
  const root = bodyChildren[0] as Element;
  if (root.namespaceURI !== ESIM_MESSAGING_NS) {
    return fail(
      'SOAP_WRONG_NAMESPACE',
      `the body element is not in ${ESIM_MESSAGING_NS}`,
      root.localName ?? undefined,
    );
  }
  const spec = MESSAGE_BY_ELEMENT.get(root.localName ?? '');
  if (spec === undefined)
    return fail('SOAP_UNKNOWN_MESSAGE', `no message ${root.localName}`, root.localName ?? undefined);
  for (const name of ['messageId', 'action', 'to'] as const) {
    if (addressing[name] === undefined)
      return fail('SOAP_HEADER_INVALID', `wsa:${wsaName(name)} is required`, spec.element);
  }
  if (addressing.action !== spec.action) {
    return fail('SOAP_ACTION_MISMATCH', `the Action of ${spec.element} is ${spec.action}`, spec.element);
  }
  if (root.attributes.length > 0) {
    for (let i = 0; i < root.attributes.length; i += 1) {
      const attr = root.attributes.item(i);
      if (attr !== null && attr.name !== 'xmlns' && attr.prefix !== 'xmlns') {
        return fail('SOAP_BODY_INVALID', `unexpected attribute ${attr.name}`, spec.element);
      }
    }
  }
  const eisElements: Array<{ eis: Eis; element: Element }> = [];
  let body: Record<string, unknown>;
  try {
    const status = statusOf(root);
    const lenient = spec.kind === 'response' && (status === 'FAILED' || status === 'EXPIRED');
    const fields = lenient
      ? spec.fields.map((f) =>
          f.key === 'functionExecutionStatus' || f.occurs !== undefined
            ? f
            : { ...f, occurs: 'optional' as const },
        )
      : spec.fields;
    body = decodeFields(root, fields, spec.element, {
      onEis: (eis, element) => eisElements.push({ eis, element }),
    });
  } catch (e) {
    if (e instanceof SchemaViolation) return fail(e.code, e.message, spec.element);
    throw e;
  }
  return ok({
    addressing: addressing as WsAddressing,
    message: { element: spec.element, body } as Message,
    spec,
    eisElements,
  });
}

function statusOf(root: Element): string | undefined {
  for (const child of childElements(root)) {
    if (child.localName === 'FunctionExecutionStatus' && child.namespaceURI === ESIM_MESSAGING_NS) {
      const status = childElements(child)[0];
      return status === undefined ? undefined : textOf(status).trim();
    }
  }
  return undefined;
}

const WSA_FIELDS = {
  From: 'from',
  To: 'to',
  ReplyTo: 'replyTo',
  MessageID: 'messageId',
  Action: 'action',
  RelatesTo: 'relatesTo',
} as const satisfies Record<string, keyof WsAddressing>;

function wsaName(key: keyof WsAddressing): string {
  return Object.entries(WSA_FIELDS).find(([, k]) => k === key)?.[0] ?? key;
}

function readHeader(header: Element | undefined): Result<Partial<WsAddressing>, SoapDecodeError> {
  const out: Record<string, string> = {};
  if (header === undefined) return ok(out);
  for (const block of childElements(header)) {
    const name = block.localName ?? '';
    if (block.namespaceURI !== WSA_NS || !(name in WSA_FIELDS)) {
      const mu = block.getAttributeNS(SOAP12_NS, 'mustUnderstand');
      if (mu === 'true' || mu === '1') {
        return err({
          code: 'SOAP_MUST_UNDERSTAND',
          message: `header block ${name} is not understood`,
          addressing: out,
        });
      }
      continue;
    }
    const key = WSA_FIELDS[name as keyof typeof WSA_FIELDS];
    if (out[key] !== undefined)
      return err({ code: 'SOAP_HEADER_INVALID', message: `wsa:${name} appears twice`, addressing: out });
    let value: string;
    if (name === 'From' || name === 'ReplyTo') {
      const kids = childElements(block);
      const address = kids.find((k) => k.namespaceURI === WSA_NS && k.localName === 'Address');
      if (address === undefined)
        return err({
          code: 'SOAP_HEADER_INVALID',
          message: `wsa:${name} has no wsa:Address`,
          addressing: out,
        });
      value = textOf(address).trim();
    } else {
      if (childElements(block).length > 0) {
        return err({ code: 'SOAP_HEADER_INVALID', message: `wsa:${name} is a URI`, addressing: out });
      }
      value = textOf(block).trim();
    }
    if (value.length === 0 || value.length > MAX_URI || /\s/.test(value)) {
      return err({ code: 'SOAP_HEADER_INVALID', message: `wsa:${name} is not a URI`, addressing: out });
    }
    out[key] = value;
  }
  return ok(out);
}

// ---------------------------------------------------------------------------------------------
// Decode errors as FunctionExecutionStatus (SGP.02 §5.1.6): what a provider answers when it cannot
// even read the request.

const STATUS_OF_CODE: Readonly<Record<SoapDecodeCode, readonly [SubjectCode, ReasonCode]>> = {
  XML_TOO_LARGE: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  XML_DTD_FORBIDDEN: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  XML_MALFORMED: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  XML_PI_FORBIDDEN: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  XML_TOO_MANY_ELEMENTS: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  XML_TOO_DEEP: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  SOAP_NOT_AN_ENVELOPE: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  SOAP_HEADER_INVALID: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  SOAP_MUST_UNDERSTAND: [SUBJECT_CODES.FUNCTION, REASON_CODES.UNSUPPORTED],
  SOAP_BODY_INVALID: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  SOAP_WRONG_NAMESPACE: [SUBJECT_CODES.FUNCTION, REASON_CODES.UNSUPPORTED],
  SOAP_UNKNOWN_MESSAGE: [SUBJECT_CODES.FUNCTION, REASON_CODES.UNSUPPORTED],
  SOAP_ACTION_MISMATCH: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  SOAP_FIELD_MISSING: [SUBJECT_CODES.FUNCTION, REASON_CODES.MANDATORY_ELEMENT_MISSING],
  SOAP_FIELD_INVALID: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  SOAP_UNEXPECTED_ELEMENT: [SUBJECT_CODES.FUNCTION, REASON_CODES.INVALID],
  SOAP_SIGNATURE_FORMAT: [SUBJECT_CODES.EIS, REASON_CODES.INVALID],
};

/** FAILED, with Subject/Reason from the table above and the stable code leading the Message. */
export function statusForDecodeError(error: SoapDecodeError): FunctionExecutionStatus {
  const [subject, reason] = STATUS_OF_CODE[error.code];
  return failed(subject, reason, `${error.code}: ${error.message}`.slice(0, 512));
}

// ---------------------------------------------------------------------------------------------
// SOAP 1.2 faults (§5.4): the synchronous answer to a message that is refused before any function
// runs. The Detail carries the FunctionExecutionStatus (FAILED + Subject/Reason) so the requester
// gets the same status shape as in an asynchronous response; the Reason text starts with the code.

export interface SoapFault {
  /** `Sender`: the message is at fault; `Receiver`: the provider failed. */
  readonly side: 'Sender' | 'Receiver';
  /** Stable code (a SoapDecodeCode or a transport code such as `SOAP_PEER_UNKNOWN`). */
  readonly code: string;
  readonly reason: string;
  readonly status: FunctionExecutionStatus;
  readonly relatesTo?: string;
}

const FAULT_ACTION = 'http://www.w3.org/2005/08/addressing/soap/fault';

/** `text` with what XML 1.0 text cannot carry (NUL, lone surrogates, U+FFFE…) replaced by `?`. */
function xmlSafe(text: string): string {
  return isXmlText(text) ? text : Array.from(text, (ch) => (isXmlText(ch) ? ch : '?')).join('');
}

/** A fault's texts often quote the refused message (a parser error): made XML-safe, so this never throws. */
export function encodeSoapFault(fault: SoapFault): string {
  const doc = new DOMImplementation().createDocument(SOAP12_NS, 'env:Envelope', null);
  const envelope = doc.documentElement as Element;
  envelope.setAttributeNS(XMLNS_NS, 'xmlns:wsa', WSA_NS);
  const header = doc.createElementNS(SOAP12_NS, 'env:Header');
  const action = doc.createElementNS(WSA_NS, 'wsa:Action');
  action.appendChild(doc.createTextNode(FAULT_ACTION));
  header.appendChild(action);
  if (fault.relatesTo !== undefined && fault.relatesTo.length <= MAX_URI && !/\s/.test(fault.relatesTo)) {
    const relates = doc.createElementNS(WSA_NS, 'wsa:RelatesTo');
    relates.appendChild(doc.createTextNode(fault.relatesTo));
    header.appendChild(relates);
  }
  envelope.appendChild(header);
  const body = doc.createElementNS(SOAP12_NS, 'env:Body');
  const f = doc.createElementNS(SOAP12_NS, 'env:Fault');
  const code = doc.createElementNS(SOAP12_NS, 'env:Code');
  const value = doc.createElementNS(SOAP12_NS, 'env:Value');
  value.appendChild(doc.createTextNode(`env:${fault.side}`));
  code.appendChild(value);
  const reason = doc.createElementNS(SOAP12_NS, 'env:Reason');
  const reasonText = doc.createElementNS(SOAP12_NS, 'env:Text');
  reasonText.setAttributeNS('http://www.w3.org/XML/1998/namespace', 'xml:lang', 'en');
  reasonText.appendChild(doc.createTextNode(xmlSafe(`${fault.code}: ${fault.reason}`.slice(0, 1024))));
  reason.appendChild(reasonText);
  const detail = doc.createElementNS(SOAP12_NS, 'env:Detail');
  const data = fault.status.statusCodeData;
  const status: FunctionExecutionStatus =
    data === undefined
      ? fault.status
      : {
          ...fault.status,
          statusCodeData: {
            ...data,
            ...(data.message === undefined ? {} : { message: xmlSafe(data.message.slice(0, 4096)) }),
            ...(data.subjectIdentifier === undefined
              ? {}
              : { subjectIdentifier: xmlSafe(data.subjectIdentifier.slice(0, 4096)) }),
          },
        };
  encodeFields(doc, detail, FAULT_STATUS_FIELDS, { status }, 'Fault');
  f.appendChild(code);
  f.appendChild(reason);
  f.appendChild(detail);
  body.appendChild(f);
  envelope.appendChild(body);
  return new XMLSerializer().serializeToString(doc);
}

const FAULT_STATUS_FIELDS: readonly FieldSpec[] = [
  { xml: 'FunctionExecutionStatus', key: 'status', type: 'executionStatus' },
];

/** Read a SOAP fault (total: undefined when the text is not one). */
export function decodeSoapFault(text: string, limits: XmlLimits = DEFAULT_XML_LIMITS): SoapFault | undefined {
  const parsed = parseXmlSafely(text, limits);
  if (!parsed.ok) return undefined;
  const envelope = parsed.value.documentElement as Element;
  if (envelope.namespaceURI !== SOAP12_NS || envelope.localName !== 'Envelope') return undefined;
  const body = childElements(envelope).find((e) => e.namespaceURI === SOAP12_NS && e.localName === 'Body');
  const fault = body === undefined ? undefined : childElements(body)[0];
  if (fault === undefined || fault.namespaceURI !== SOAP12_NS || fault.localName !== 'Fault')
    return undefined;
  const part = (parent: Element | undefined, name: string) =>
    parent === undefined
      ? undefined
      : childElements(parent).find((e) => e.namespaceURI === SOAP12_NS && e.localName === name);
  const value = textOf(part(part(fault, 'Code'), 'Value') ?? fault).trim();
  const reason = textOf(part(part(fault, 'Reason'), 'Text') ?? fault).trim();
  const detail = part(fault, 'Detail');
  let status: FunctionExecutionStatus = failed(
    SUBJECT_CODES.FUNCTION_PROVIDER,
    REASON_CODES.EXECUTION_ERROR,
    reason,
  );
  if (detail !== undefined) {
    try {
      status = decodeFields(detail, FAULT_STATUS_FIELDS, 'Fault/Detail', {})
        .status as FunctionExecutionStatus;
    } catch (e) {
      if (!(e instanceof SchemaViolation)) throw e;
    }
  }
  const colon = reason.indexOf(': ');
  const code =
    colon > 0 && /^[A-Z0-9_]+$/.test(reason.slice(0, colon)) ? reason.slice(0, colon) : 'SOAP_FAULT';
  return {
    side: value.endsWith('Sender') ? 'Sender' : 'Receiver',
    code,
    reason: colon > 0 ? reason.slice(colon + 2) : reason,
    status,
  };
}
