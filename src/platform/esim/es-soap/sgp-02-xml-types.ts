// The esim-messaging schema types (SGP.02 Annex B; GSMA "esim-messaging/3" XSD package,
// euicc.common.types.xsd), each declared once as data: simple types as codecs, complex types as
// ordered field lists. One generic engine encodes a typed value to DOM elements and decodes DOM
// elements back, strictly (sequence order, occurrence, no unknown children, value patterns).
// Elements of the schema are unqualified-by-prefix members of ESIM_MESSAGING_NS.
import type { Document, Element } from '@xmldom/xmldom';
import { fromHex, toHex } from '../../../lib/hex.js';
import { childElements, textOf } from '../../../lib/safe-xml.js';
import { EXECUTION_STATUSES, type FunctionExecutionStatus } from './sgp-02-status-codes.js';

/**
 * The body namespace. The v3 XSD package uses `/3`; njiwa's WSDL binding uses `/1`.
 * To verify against SGP.02 Annex B (the version this deployment claims): one constant, both ends.
 */
export const ESIM_MESSAGING_NS = 'http://namespaces.gsma.org/esim-messaging/3';
export const XMLDSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';

// ---------------------------------------------------------------------------------------------
// Typed model (what the codec produces and accepts)

export interface SubscriptionAddress {
  readonly imsi?: string;
  readonly msisdn?: string;
}
export type Pol2Action = 'ENABLE' | 'DISABLE' | 'DELETE';
export type Pol2Qualification = 'Not-Allowed' | 'Auto-Delete';
export interface Pol2Rule {
  readonly subject: 'PROFILE';
  readonly action: Pol2Action;
  readonly qualification: Pol2Qualification;
}
/** POL2 (SGP.02 §3.4): an empty rule list is legal and explicit. */
export interface Pol2 {
  readonly rules: readonly Pol2Rule[];
}
export interface KeyComponent {
  /** GP key type coding (1 byte, e.g. 0x88 AES). */
  readonly type: number;
  /** Raw (or, at ES1 registration, transport-key-encrypted) key value. */
  readonly value: Uint8Array;
}
export interface Key {
  readonly index: number;
  readonly components: readonly KeyComponent[];
  readonly kcv: Uint8Array;
}
export interface GpCertificateEntry {
  readonly index: number;
  readonly caId: string;
  /** GP-format certificate (7F21 …) as stored on card. */
  readonly value: Uint8Array;
}
export type KeysetUsage = 'SCP03' | 'SCP80' | 'SCP81' | 'TokenGeneration' | 'ReceiptVerification' | 'CA';
export interface Keyset {
  readonly version: number;
  readonly type?: KeysetUsage;
  readonly cntr?: number;
  readonly keys: readonly Key[];
  readonly certificates: readonly GpCertificateEntry[];
}
export interface SecurityDomain {
  readonly aid: string;
  readonly tars: readonly string[];
  readonly sin: Uint8Array;
  readonly sdin: Uint8Array;
  readonly role: 'ISD-R' | 'ECASD';
  readonly keysets: readonly Keyset[];
}
export interface EuiccCapabilities {
  readonly cattpSupport: boolean;
  readonly cattpVersion?: string;
  readonly httpSupport: boolean;
  readonly httpVersion?: string;
  readonly securePacketVersion: string;
  readonly remoteProvisioningVersion: string;
}
export interface EumSignedInfo {
  readonly eid: string;
  readonly eumId: string;
  readonly productionDate: Date;
  readonly platformType: string;
  readonly platformVersion: string;
  readonly isdPLoadFileAid: string;
  readonly isdPModuleAid: string;
  readonly ecasd: SecurityDomain;
  readonly euiccCapabilities: EuiccCapabilities;
}
/** The XML-DSig values of EumSignature; the algorithms are fixed (see sgp-02-eis-signature.ts). */
export interface EumSignature {
  readonly digestValue: Uint8Array;
  readonly signatureValue: Uint8Array;
}
export type ProfileState = 'Created' | 'Disabled' | 'Enabled';
export interface ProfileInfo {
  readonly iccid: string;
  readonly isdPAid: string;
  readonly mnoId: string;
  readonly fallbackAttribute: boolean;
  readonly subscriptionAddress: SubscriptionAddress;
  readonly state: ProfileState;
  readonly smdpId?: string;
  readonly profileType?: string;
  readonly allocatedMemory: number;
  readonly freeMemory?: number;
  readonly pol2: Pol2;
}
export interface AuditTrailRecord {
  readonly eid: string;
  readonly smsrId: string;
  readonly operationDate: Date;
  /** 2-byte hex operation code, SGP.02 Annex 1 (see AUDIT_OPERATION_TYPES). */
  readonly operationType: string;
  readonly requesterId?: string;
  readonly operationExecutionStatus?: FunctionExecutionStatus;
  readonly isdPAid?: string;
  readonly iccid?: string;
  readonly imei?: Uint8Array;
  readonly meid?: Uint8Array;
}
export interface Property {
  readonly key: string;
  readonly value: string;
}
/** eUICC Information Set (SGP.02 §5.1.1.1 / Annex E; EISType). */
export interface Eis {
  readonly eumSignedInfo: EumSignedInfo;
  readonly eumSignature: EumSignature;
  readonly remainingMemory: number;
  readonly availableMemoryForProfiles: number;
  readonly lastAuditDate?: Date;
  readonly smsrId: string;
  readonly profiles: readonly ProfileInfo[];
  readonly isdR: SecurityDomain;
  readonly auditTrail?: { readonly records: readonly AuditTrailRecord[] };
  readonly additionalProperties?: { readonly properties: readonly Property[] };
}

/** Audit trail operation codes (SGP.02 Annex 1, "OperationType"). */
export const AUDIT_OPERATION_TYPES = {
  CreateISDP: '0100',
  EnableProfile: '0200',
  DisableProfile: '0300',
  DeleteProfile: '0400',
  eUICCCapabilityAudit: '0500',
  MasterDelete: '0600',
  SetFallbackAttribute: '0700',
  EstablishISDRkeyset: '0800',
  FinaliseISDRhandover: '0900',
} as const;

export type EccKeyLength = 'ECC-256' | 'ECC-384' | 'ECC-512' | 'ECC-521';

// ---------------------------------------------------------------------------------------------
// Simple types

/** A field failed to decode; the engine turns it into a DecodeError at its boundary. */
export class SchemaViolation extends Error {
  constructor(
    readonly code:
      | 'SOAP_FIELD_MISSING'
      | 'SOAP_FIELD_INVALID'
      | 'SOAP_UNEXPECTED_ELEMENT'
      | 'SOAP_SIGNATURE_FORMAT',
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

interface SimpleCodec<T> {
  decode(text: string): T | undefined;
  encode(value: T): string | undefined;
}

function pattern(re: RegExp, max = 4096): SimpleCodec<string> {
  return {
    decode: (t) => {
      const v = t.trim();
      return v.length <= max && re.test(v) ? v : undefined;
    },
    encode: (v) => (typeof v === 'string' && v.length <= max && re.test(v) ? v : undefined),
  };
}

function hexString(minBytes: number, maxBytes: number): SimpleCodec<string> {
  const ok = (v: string) =>
    /^[0-9A-Fa-f]*$/.test(v) && v.length % 2 === 0 && v.length >= minBytes * 2 && v.length <= maxBytes * 2;
  return {
    decode: (t) => {
      const v = t.trim();
      return ok(v) ? v.toUpperCase() : undefined;
    },
    encode: (v) => (typeof v === 'string' && ok(v) ? v.toUpperCase() : undefined),
  };
}

function hexBytes(maxBytes = Number.MAX_SAFE_INTEGER, minBytes = 0): SimpleCodec<Uint8Array> {
  return {
    decode: (t) => {
      const v = t.trim();
      if (v.length > maxBytes * 2 || v.length < minBytes * 2) return undefined;
      return fromHex(v);
    },
    encode: (v) =>
      v instanceof Uint8Array && v.length <= maxBytes && v.length >= minBytes
        ? toHex(v).toUpperCase()
        : undefined,
  };
}

function integer(min: number, max: number): SimpleCodec<number> {
  return {
    decode: (t) => {
      const v = t.trim();
      if (!/^\+?\d{1,16}$/.test(v)) return undefined;
      const n = Number(v);
      return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
    },
    encode: (v) => (Number.isSafeInteger(v) && v >= min && v <= max ? String(v) : undefined),
  };
}

function oneOf<T extends string>(values: readonly T[]): SimpleCodec<T> {
  return {
    decode: (t) => ((values as readonly string[]).includes(t.trim()) ? (t.trim() as T) : undefined),
    encode: (v) => ((values as readonly string[]).includes(v) ? v : undefined),
  };
}

/**
 * Text an XML document can carry unchanged: no control characters but tab and LF, no lone
 * surrogates, and none of CR, NEL (U+0085) or LINE SEPARATOR (U+2028), which the parser turns into
 * LF (XML 1.0 §2.11; XML 1.1 adds NEL and LS, and @xmldom/xmldom applies both). U+2029 and U+FFFD
 * are refused too: @xmldom/xmldom 0.9 changes the first and rejects the second (found by the
 * round-trip property over every code point).
 */
export function isXmlText(v: string): boolean {
  for (const ch of v) {
    const c = ch.codePointAt(0) as number;
    const allowed =
      c === 0x09 ||
      c === 0x0a ||
      (c >= 0x20 && c <= 0xd7ff && c !== 0x85 && c !== 0x2028 && c !== 0x2029) ||
      (c >= 0xe000 && c <= 0xfffc) ||
      (c >= 0x10000 && c <= 0x10ffff);
    if (!allowed) return false;
  }
  return true;
}

const DATE_TIME = /^-?\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/;

const SIMPLE = {
  /** SGP.02 §2.2.2: 16 bytes, 32 digits (EIDType is hexBinary). */
  eid: hexString(16, 16),
  /** ICCIDType `89[0-9fF]{4,18}`. */
  iccid: pattern(/^89[0-9fF]{4,18}$/),
  aid: hexString(5, 16),
  tar: hexString(3, 3),
  opType: hexString(2, 2),
  oid: pattern(/^(\d+\.)*\d+$/, 128),
  hex: hexBytes(),
  hex16: hexBytes(16),
  byte: {
    decode: (t: string) => {
      const b = hexBytes(1, 1).decode(t);
      return b === undefined ? undefined : (b[0] as number);
    },
    encode: (v: number) =>
      Number.isInteger(v) && v >= 0 && v <= 255 ? v.toString(16).padStart(2, '0').toUpperCase() : undefined,
  } satisfies SimpleCodec<number>,
  boolean: {
    decode: (t: string) => {
      const v = t.trim();
      return v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : undefined;
    },
    encode: (v: boolean) => (typeof v === 'boolean' ? String(v) : undefined),
  } satisfies SimpleCodec<boolean>,
  integer: integer(0, Number.MAX_SAFE_INTEGER),
  kvn: integer(1, 127),
  keyIndex: integer(0, 127),
  dateTime: {
    decode: (t: string) => {
      const v = t.trim();
      if (!DATE_TIME.test(v)) return undefined;
      const d = new Date(v);
      return Number.isNaN(d.getTime()) ? undefined : d;
    },
    // Years outside 0000-9999 have no xs:dateTime form this codec reads back; refuse them here.
    encode: (v: Date) => {
      if (!(v instanceof Date) || Number.isNaN(v.getTime())) return undefined;
      const text = v.toISOString();
      return /^\d{4}-/.test(text) ? text : undefined;
    },
  } satisfies SimpleCodec<Date>,
  // XML 1.0 §2.2 cannot carry control characters (other than tab, LF, CR) or lone surrogates; a
  // parser turns CR and CR LF into LF (§2.11), so CR is refused rather than silently changed.
  string: {
    decode: (t: string) => (t.length <= 4096 && isXmlText(t) ? t : undefined),
    encode: (v: string) => (typeof v === 'string' && v.length <= 4096 && isXmlText(v) ? v : undefined),
  } satisfies SimpleCodec<string>,
  // PropertyType@key: minLength 1, spaces are content (an attribute is not trimmed).
  nonEmptyString: {
    decode: (t: string) => (t.length > 0 && t.length <= 4096 && isXmlText(t) ? t : undefined),
    encode: (v: string) =>
      typeof v === 'string' && v.length > 0 && v.length <= 4096 && isXmlText(v) ? v : undefined,
  } satisfies SimpleCodec<string>,
  string100: {
    decode: (t: string) => (t.length <= 100 && isXmlText(t) ? t : undefined),
    encode: (v: string) => (typeof v === 'string' && v.length <= 100 && isXmlText(v) ? v : undefined),
  } satisfies SimpleCodec<string>,
  version: pattern(/^\d{1,9}\.\d{1,9}\.\d{1,9}$/),
  imsi: pattern(/^\d{0,15}$/),
  msisdn: pattern(/^\d{3,15}$/),
  status: oneOf(EXECUTION_STATUSES),
  profileState: oneOf(['Created', 'Disabled', 'Enabled'] as const),
  sdRole: oneOf(['ISD-R', 'ECASD'] as const),
  keysetType: oneOf(['SCP03', 'SCP80', 'SCP81', 'TokenGeneration', 'ReceiptVerification', 'CA'] as const),
  pol2Subject: oneOf(['PROFILE'] as const),
  pol2Action: oneOf(['ENABLE', 'DISABLE', 'DELETE'] as const),
  pol2Qualification: oneOf(['Not-Allowed', 'Auto-Delete'] as const),
  eccKeyLength: oneOf(['ECC-256', 'ECC-384', 'ECC-512', 'ECC-521'] as const),
} as const;

type SimpleName = keyof typeof SIMPLE;

// ---------------------------------------------------------------------------------------------
// Complex types, as ordered field lists (XSD sequence order)

export interface FieldSpec {
  /** Element (or, with `attribute`, attribute) name in the schema. */
  readonly xml: string;
  /** Property name in the typed model. */
  readonly key: string;
  /** A TypeName (checked at compile time below; a plain string here to keep the table acyclic). */
  readonly type: string;
  /** `optional` = minOccurs 0; `many` = 0..n; `some` = 1..n. Default: exactly one. */
  readonly occurs?: 'optional' | 'many' | 'some';
  readonly max?: number;
  readonly attribute?: true;
}

const COMPLEX = {
  subscriptionAddress: [
    { xml: 'Imsi', key: 'imsi', type: 'imsi', occurs: 'optional' },
    { xml: 'Msisdn', key: 'msisdn', type: 'msisdn', occurs: 'optional' },
  ],
  pol2Rule: [
    { xml: 'Subject', key: 'subject', type: 'pol2Subject' },
    { xml: 'Action', key: 'action', type: 'pol2Action' },
    { xml: 'Qualification', key: 'qualification', type: 'pol2Qualification' },
  ],
  pol2: [{ xml: 'Rule', key: 'rules', type: 'pol2Rule', occurs: 'many', max: 16 }],
  statusCodeData: [
    { xml: 'Subject', key: 'subject', type: 'oid' },
    { xml: 'Reason', key: 'reason', type: 'oid' },
    { xml: 'SubjectIdentifier', key: 'subjectIdentifier', type: 'string', occurs: 'optional' },
    { xml: 'Message', key: 'message', type: 'string', occurs: 'optional' },
  ],
  executionStatus: [
    { xml: 'Status', key: 'status', type: 'status' },
    { xml: 'StatusCodeData', key: 'statusCodeData', type: 'statusCodeData', occurs: 'optional' },
  ],
  keyComponent: [
    { xml: 'type', key: 'type', type: 'byte', attribute: true },
    { xml: 'value', key: 'value', type: 'hex', attribute: true },
  ],
  key: [
    { xml: 'kcv', key: 'kcv', type: 'hex', attribute: true },
    { xml: 'Index', key: 'index', type: 'keyIndex' },
    { xml: 'KeyComponents', key: 'components', type: 'keyComponent', occurs: 'some', max: 8 },
  ],
  certificate: [
    { xml: 'Index', key: 'index', type: 'keyIndex' },
    { xml: 'CaId', key: 'caId', type: 'oid' },
    { xml: 'Value', key: 'value', type: 'hex' },
  ],
  // The XSD allows Key and Certificate interleaved (xs:choice 0..128); this codec writes all keys
  // then all certificates and reads only that order — to relax if a partner interleaves them.
  keyset: [
    { xml: 'Version', key: 'version', type: 'kvn' },
    { xml: 'Type', key: 'type', type: 'keysetType', occurs: 'optional' },
    { xml: 'Cntr', key: 'cntr', type: 'integer', occurs: 'optional' },
    { xml: 'Key', key: 'keys', type: 'key', occurs: 'many', max: 128 },
    { xml: 'Certificate', key: 'certificates', type: 'certificate', occurs: 'many', max: 128 },
  ],
  securityDomain: [
    { xml: 'Aid', key: 'aid', type: 'aid' },
    { xml: 'Tar', key: 'tars', type: 'tar', occurs: 'many', max: 16 },
    { xml: 'Sin', key: 'sin', type: 'hex16' },
    { xml: 'Sdin', key: 'sdin', type: 'hex16' },
    { xml: 'Role', key: 'role', type: 'sdRole' },
    { xml: 'Keyset', key: 'keysets', type: 'keyset', occurs: 'some', max: 127 },
  ],
  euiccCapabilities: [
    { xml: 'CattpSupport', key: 'cattpSupport', type: 'boolean' },
    { xml: 'CattpVersion', key: 'cattpVersion', type: 'version', occurs: 'optional' },
    { xml: 'HttpSupport', key: 'httpSupport', type: 'boolean' },
    { xml: 'HttpVersion', key: 'httpVersion', type: 'version', occurs: 'optional' },
    { xml: 'SecurePacketVersion', key: 'securePacketVersion', type: 'version' },
    { xml: 'RemoteProvisioningVersion', key: 'remoteProvisioningVersion', type: 'version' },
  ],
  eumSignedInfo: [
    { xml: 'Eid', key: 'eid', type: 'eid' },
    { xml: 'Eum-id', key: 'eumId', type: 'oid' },
    { xml: 'ProductionDate', key: 'productionDate', type: 'dateTime' },
    { xml: 'PlatformType', key: 'platformType', type: 'string100' },
    { xml: 'PlatformVersion', key: 'platformVersion', type: 'version' },
    { xml: 'Isd-p-loadfile-aid', key: 'isdPLoadFileAid', type: 'aid' },
    { xml: 'Isd-p-module-aid', key: 'isdPModuleAid', type: 'aid' },
    { xml: 'Ecasd', key: 'ecasd', type: 'securityDomain' },
    { xml: 'EuiccCapabilities', key: 'euiccCapabilities', type: 'euiccCapabilities' },
  ],
  profileInfo: [
    { xml: 'Iccid', key: 'iccid', type: 'iccid' },
    { xml: 'Isd-p-aid', key: 'isdPAid', type: 'aid' },
    { xml: 'Mno-id', key: 'mnoId', type: 'oid' },
    { xml: 'FallbackAttribute', key: 'fallbackAttribute', type: 'boolean' },
    { xml: 'SubscriptionAddress', key: 'subscriptionAddress', type: 'subscriptionAddress' },
    { xml: 'State', key: 'state', type: 'profileState' },
    { xml: 'Smdp-id', key: 'smdpId', type: 'oid', occurs: 'optional' },
    { xml: 'ProfileType', key: 'profileType', type: 'string100', occurs: 'optional' },
    { xml: 'AllocatedMemory', key: 'allocatedMemory', type: 'integer' },
    { xml: 'FreeMemory', key: 'freeMemory', type: 'integer', occurs: 'optional' },
    { xml: 'pol2', key: 'pol2', type: 'pol2' },
  ],
  auditTrailRecord: [
    { xml: 'Eid', key: 'eid', type: 'eid' },
    { xml: 'Smsr-id', key: 'smsrId', type: 'oid' },
    { xml: 'OperationDate', key: 'operationDate', type: 'dateTime' },
    { xml: 'OperationType', key: 'operationType', type: 'opType' },
    { xml: 'RequesterId', key: 'requesterId', type: 'oid', occurs: 'optional' },
    {
      xml: 'OperationExecutionStatus',
      key: 'operationExecutionStatus',
      type: 'executionStatus',
      occurs: 'optional',
    },
    { xml: 'Isd-p-aid', key: 'isdPAid', type: 'aid', occurs: 'optional' },
    { xml: 'Iccid', key: 'iccid', type: 'iccid', occurs: 'optional' },
    { xml: 'Imei', key: 'imei', type: 'hex', occurs: 'optional' },
    { xml: 'Meid', key: 'meid', type: 'hex', occurs: 'optional' },
  ],
  auditTrail: [{ xml: 'Record', key: 'records', type: 'auditTrailRecord', occurs: 'many', max: 1000 }],
  property: [
    { xml: 'key', key: 'key', type: 'nonEmptyString', attribute: true },
    { xml: 'value', key: 'value', type: 'string', attribute: true },
  ],
  additionalProperties: [{ xml: 'Property', key: 'properties', type: 'property', occurs: 'some', max: 100 }],
  eis: [
    { xml: 'EumSignedInfo', key: 'eumSignedInfo', type: 'eumSignedInfo' },
    { xml: 'EumSignature', key: 'eumSignature', type: 'eumSignature' },
    { xml: 'RemainingMemory', key: 'remainingMemory', type: 'integer' },
    { xml: 'AvailableMemoryForProfiles', key: 'availableMemoryForProfiles', type: 'integer' },
    { xml: 'LastAuditDate', key: 'lastAuditDate', type: 'dateTime', occurs: 'optional' },
    { xml: 'Smsr-id', key: 'smsrId', type: 'oid' },
    { xml: 'ProfileInfo', key: 'profiles', type: 'profileInfo', occurs: 'many', max: 64 },
    { xml: 'Isd-r', key: 'isdR', type: 'securityDomain' },
    { xml: 'AuditTrail', key: 'auditTrail', type: 'auditTrail', occurs: 'optional' },
    {
      xml: 'AdditionalProperties',
      key: 'additionalProperties',
      type: 'additionalProperties',
      occurs: 'optional',
    },
  ],
} as const satisfies Record<string, readonly FieldSpec[]>;

type ComplexName = keyof typeof COMPLEX;
export type TypeName = SimpleName | ComplexName | 'eumSignature';
// Every type a complex type names exists.
type UsedTypeNames = (typeof COMPLEX)[ComplexName][number]['type'];
const usedTypeNamesExist: [UsedTypeNames] extends [TypeName] ? true : never = true;
void usedTypeNamesExist;

/** TypeScript value of each schema type (the typed message table derives its bodies from this). */
export interface ValueTypes {
  eid: string;
  iccid: string;
  aid: string;
  tar: string;
  opType: string;
  oid: string;
  hex: Uint8Array;
  hex16: Uint8Array;
  byte: number;
  boolean: boolean;
  integer: number;
  kvn: number;
  keyIndex: number;
  dateTime: Date;
  string: string;
  nonEmptyString: string;
  string100: string;
  version: string;
  imsi: string;
  msisdn: string;
  status: FunctionExecutionStatus['status'];
  profileState: ProfileState;
  sdRole: SecurityDomain['role'];
  keysetType: KeysetUsage;
  pol2Subject: 'PROFILE';
  pol2Action: Pol2Action;
  pol2Qualification: Pol2Qualification;
  eccKeyLength: EccKeyLength;
  subscriptionAddress: SubscriptionAddress;
  pol2Rule: Pol2Rule;
  pol2: Pol2;
  statusCodeData: NonNullable<FunctionExecutionStatus['statusCodeData']>;
  executionStatus: FunctionExecutionStatus;
  keyComponent: KeyComponent;
  key: Key;
  certificate: GpCertificateEntry;
  keyset: Keyset;
  securityDomain: SecurityDomain;
  euiccCapabilities: EuiccCapabilities;
  eumSignedInfo: EumSignedInfo;
  eumSignature: EumSignature;
  profileInfo: ProfileInfo;
  auditTrailRecord: AuditTrailRecord;
  auditTrail: NonNullable<Eis['auditTrail']>;
  property: Property;
  additionalProperties: NonNullable<Eis['additionalProperties']>;
  eis: Eis;
}

// ---------------------------------------------------------------------------------------------
// Engine

export interface DecodeHooks {
  /** Called with each decoded EIS and its element (the signature is checked on the received form). */
  readonly onEis?: (eis: Eis, element: Element) => void;
}

/** Append `fields` of `value` under `parent` (elements in ESIM_MESSAGING_NS, default prefix). */
export function encodeFields(
  doc: Document,
  parent: Element,
  fields: readonly FieldSpec[],
  value: Readonly<Record<string, unknown>>,
  path: string,
): void {
  for (const field of fields) {
    const v = value[field.key];
    const at = `${path}/${field.xml}`;
    if (field.attribute) {
      if (v === undefined) throw new SchemaViolation('SOAP_FIELD_MISSING', at, 'missing');
      parent.setAttribute(field.xml, encodeSimple(field.type as SimpleName, v, at));
      continue;
    }
    const many = field.occurs === 'many' || field.occurs === 'some';
    if (v === undefined) {
      if (field.occurs === 'optional' || field.occurs === 'many') continue;
      throw new SchemaViolation('SOAP_FIELD_MISSING', at, 'missing');
    }
    const items = many ? (Array.isArray(v) ? v : undefined) : [v];
    if (items === undefined) throw new SchemaViolation('SOAP_FIELD_INVALID', at, 'expected a list');
    if (field.occurs === 'some' && items.length === 0)
      throw new SchemaViolation('SOAP_FIELD_MISSING', at, 'at least one');
    if (field.max !== undefined && items.length > field.max) {
      throw new SchemaViolation('SOAP_FIELD_INVALID', at, `at most ${field.max}`);
    }
    for (const item of items) {
      const el = doc.createElementNS(ESIM_MESSAGING_NS, field.xml);
      encodeValue(doc, el, field.type as TypeName, item, at);
      parent.appendChild(el);
    }
  }
}

export function encodeValue(doc: Document, el: Element, type: TypeName, value: unknown, path: string): void {
  if (type === 'eumSignature') {
    encodeSignature(doc, el, value as EumSignature, path);
  } else if (type in COMPLEX) {
    if (typeof value !== 'object' || value === null)
      throw new SchemaViolation('SOAP_FIELD_INVALID', path, 'expected a structure');
    encodeFields(doc, el, COMPLEX[type as ComplexName], value as Record<string, unknown>, path);
  } else {
    el.appendChild(doc.createTextNode(encodeSimple(type as SimpleName, value, path)));
  }
}

function encodeSimple(type: SimpleName, value: unknown, path: string): string {
  const text = (SIMPLE[type] as SimpleCodec<unknown>).encode(value);
  if (text === undefined) throw new SchemaViolation('SOAP_FIELD_INVALID', path, `not a valid ${type}`);
  return text;
}

/** Decode the children (and attributes) of `el` against `fields`; strict. */
export function decodeFields(
  el: Element,
  fields: readonly FieldSpec[],
  path: string,
  hooks: DecodeHooks,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const children = childElements(el);
  let i = 0;
  for (const field of fields) {
    const at = `${path}/${field.xml}`;
    if (field.attribute) {
      if (!el.hasAttribute(field.xml))
        throw new SchemaViolation('SOAP_FIELD_MISSING', at, 'missing attribute');
      out[field.key] = decodeSimple(field.type as SimpleName, el.getAttribute(field.xml) ?? '', at);
      continue;
    }
    const items: unknown[] = [];
    while (i < children.length) {
      const child = children[i] as Element;
      if (child.localName !== field.xml || child.namespaceURI !== ESIM_MESSAGING_NS) break;
      if (field.max !== undefined && items.length >= field.max) {
        throw new SchemaViolation('SOAP_FIELD_INVALID', at, `at most ${field.max}`);
      }
      items.push(decodeValue(child, field.type as TypeName, at, hooks));
      i += 1;
      if (field.occurs === undefined || field.occurs === 'optional') break;
    }
    if (field.occurs === 'many' || field.occurs === 'some') {
      if (field.occurs === 'some' && items.length === 0)
        throw new SchemaViolation('SOAP_FIELD_MISSING', at, 'missing');
      out[field.key] = items;
    } else if (items.length === 1) {
      out[field.key] = items[0];
    } else if (field.occurs !== 'optional') {
      throw new SchemaViolation('SOAP_FIELD_MISSING', at, 'missing');
    }
  }
  if (i < children.length) {
    const extra = children[i] as Element;
    const ns = extra.namespaceURI === ESIM_MESSAGING_NS ? '' : ` in namespace ${String(extra.namespaceURI)}`;
    throw new SchemaViolation(
      'SOAP_UNEXPECTED_ELEMENT',
      `${path}/${extra.localName}`,
      `unexpected element${ns}`,
    );
  }
  return out;
}

export function decodeValue(el: Element, type: TypeName, path: string, hooks: DecodeHooks): unknown {
  if (type === 'eumSignature') return decodeSignature(el, path);
  if (type in COMPLEX) {
    const value = decodeFields(el, COMPLEX[type as ComplexName], path, hooks);
    if (type === 'eis') hooks.onEis?.(value as unknown as Eis, el);
    return value;
  }
  if (childElements(el).length > 0)
    throw new SchemaViolation('SOAP_UNEXPECTED_ELEMENT', path, 'a simple value has no child elements');
  return decodeSimple(type as SimpleName, textOf(el), path);
}

function decodeSimple(type: SimpleName, text: string, path: string): unknown {
  const v = (SIMPLE[type] as SimpleCodec<unknown>).decode(text);
  if (v === undefined) throw new SchemaViolation('SOAP_FIELD_INVALID', path, `not a valid ${type}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// EumSignature (ds:SignatureType): one fixed profile of XML-DSig — exclusive C14N, ECDSA-SHA256,
// SHA-256, a single Reference without URI (the application knows it is the sibling EumSignedInfo;
// XML-DSig §4.3.3.1 allows one such Reference). See sgp-02-eis-signature.ts for why.

export const XMLDSIG_ALGORITHMS = {
  c14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  signature: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  digest: 'http://www.w3.org/2001/04/xmlenc#sha256',
} as const;

/** Build the ds:SignedInfo element for a digest (shared by the signer and the encoder). */
export function buildSignedInfo(doc: Document, digestValue: Uint8Array): Element {
  const ds = (name: string) => doc.createElementNS(XMLDSIG_NS, `ds:${name}`);
  const signedInfo = ds('SignedInfo');
  const c14n = ds('CanonicalizationMethod');
  c14n.setAttribute('Algorithm', XMLDSIG_ALGORITHMS.c14n);
  const method = ds('SignatureMethod');
  method.setAttribute('Algorithm', XMLDSIG_ALGORITHMS.signature);
  const reference = ds('Reference');
  const transforms = ds('Transforms');
  const transform = ds('Transform');
  transform.setAttribute('Algorithm', XMLDSIG_ALGORITHMS.c14n);
  transforms.appendChild(transform);
  const digestMethod = ds('DigestMethod');
  digestMethod.setAttribute('Algorithm', XMLDSIG_ALGORITHMS.digest);
  const digest = ds('DigestValue');
  digest.appendChild(doc.createTextNode(Buffer.from(digestValue).toString('base64')));
  reference.appendChild(transforms);
  reference.appendChild(digestMethod);
  reference.appendChild(digest);
  signedInfo.appendChild(c14n);
  signedInfo.appendChild(method);
  signedInfo.appendChild(reference);
  return signedInfo;
}

function encodeSignature(doc: Document, el: Element, sig: EumSignature, path: string): void {
  if (!(sig?.digestValue instanceof Uint8Array) || !(sig.signatureValue instanceof Uint8Array)) {
    throw new SchemaViolation('SOAP_FIELD_INVALID', path, 'digestValue and signatureValue are bytes');
  }
  el.appendChild(buildSignedInfo(doc, sig.digestValue));
  const value = doc.createElementNS(XMLDSIG_NS, 'ds:SignatureValue');
  value.appendChild(doc.createTextNode(Buffer.from(sig.signatureValue).toString('base64')));
  el.appendChild(value);
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

function dsChildren(el: Element, names: readonly string[], path: string): Element[] {
  const kids = childElements(el);
  if (
    kids.length !== names.length ||
    kids.some((k, i) => k.namespaceURI !== XMLDSIG_NS || k.localName !== names[i])
  ) {
    throw new SchemaViolation('SOAP_SIGNATURE_FORMAT', path, `expected ds:${names.join(', ds:')}`);
  }
  return kids;
}

function algorithmOf(el: Element, expected: string, path: string): void {
  if (el.getAttribute('Algorithm') !== expected || childElements(el).length > 0) {
    throw new SchemaViolation('SOAP_SIGNATURE_FORMAT', path, `algorithm must be ${expected}`);
  }
}

function base64Of(el: Element, path: string): Uint8Array {
  const text = textOf(el);
  if (!BASE64.test(text) || text.length > 8192)
    throw new SchemaViolation('SOAP_SIGNATURE_FORMAT', path, 'not base64');
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'base64'));
}

function decodeSignature(el: Element, path: string): EumSignature {
  const [signedInfo, signatureValue] = dsChildren(el, ['SignedInfo', 'SignatureValue'], path) as [
    Element,
    Element,
  ];
  const [c14n, method, reference] = dsChildren(
    signedInfo,
    ['CanonicalizationMethod', 'SignatureMethod', 'Reference'],
    `${path}/SignedInfo`,
  ) as [Element, Element, Element];
  algorithmOf(c14n, XMLDSIG_ALGORITHMS.c14n, `${path}/SignedInfo/CanonicalizationMethod`);
  algorithmOf(method, XMLDSIG_ALGORITHMS.signature, `${path}/SignedInfo/SignatureMethod`);
  if (reference.hasAttribute('URI')) {
    throw new SchemaViolation(
      'SOAP_SIGNATURE_FORMAT',
      `${path}/Reference`,
      'the Reference has no URI (it is EumSignedInfo)',
    );
  }
  const [transforms, digestMethod, digestValue] = dsChildren(
    reference,
    ['Transforms', 'DigestMethod', 'DigestValue'],
    `${path}/Reference`,
  ) as [Element, Element, Element];
  const [transform] = dsChildren(transforms, ['Transform'], `${path}/Reference/Transforms`) as [Element];
  algorithmOf(transform, XMLDSIG_ALGORITHMS.c14n, `${path}/Reference/Transforms/Transform`);
  algorithmOf(digestMethod, XMLDSIG_ALGORITHMS.digest, `${path}/Reference/DigestMethod`);
  const digest = base64Of(digestValue, `${path}/Reference/DigestValue`);
  if (digest.length !== 32)
    throw new SchemaViolation('SOAP_SIGNATURE_FORMAT', path, 'a SHA-256 digest has 32 bytes');
  return { digestValue: digest, signatureValue: base64Of(signatureValue, `${path}/SignatureValue`) };
}

export { COMPLEX as SCHEMA_COMPLEX_TYPES };
