// SGP.02 §5 off-card functions (ES1, ES2, ES3, ES4, ES7) as one table: for each function its
// interface, its service group (for the WS-Addressing Action), and the fields of its request and
// response, or of its notification — in XSD sequence order, with schema types from
// sgp-02-xml-types.ts. Element names follow the esim-messaging v3 XSD (`ES3-SendDataRequest`,
// `ES3-HandleProfileEnabledNotification`, …), including its spelling quirks (ES2 `SmSr-id` beside
// `Smsr-id`, ES3 `completionTimestamp`). The v4.x additions (PLMA, ONC, emergency profile) are not
// in the v3 schema and are not listed.
import type { FieldSpec, ValueTypes } from './sgp-02-xml-types.js';

export type EsInterface = 'ES1' | 'ES2' | 'ES3' | 'ES4' | 'ES7';
/**
 * Service group of the Action URI. To verify against SGP.02 Annex B: njiwa uses
 * `http://gsma.com/ES4/eUICCManagement/ES4-PrepareSMSRChange`, `…/ES3/ProfileManagement/ES3-SendData`
 * and `…CallBack/…` for asynchronous responses; the grouping of each function below follows the
 * SGP.02 §5 chapter it is described in (eUICC management vs. profile management).
 */
export type ServiceGroup = 'eUICCManagement' | 'ProfileManagement';

interface FunctionSpecInput {
  readonly iface: EsInterface;
  readonly name: string;
  readonly service: ServiceGroup;
  readonly request?: readonly FieldSpec[];
  readonly response?: readonly FieldSpec[];
  readonly notification?: readonly FieldSpec[];
}

// Field building blocks reused by many functions (XSD element names).
const eid = { xml: 'Eid', key: 'eid', type: 'eid' } as const;
const iccid = { xml: 'Iccid', key: 'iccid', type: 'iccid' } as const;
const eis = { xml: 'Eis', key: 'eis', type: 'eis' } as const;
const optionalEis = { xml: 'Eis', key: 'eis', type: 'eis', occurs: 'optional' } as const;
const smsrId = { xml: 'Smsr-id', key: 'smsrId', type: 'oid' } as const;
const smSrId = { xml: 'SmSr-id', key: 'smsrId', type: 'oid' } as const;
const mnoId = { xml: 'Mno-id', key: 'mnoId', type: 'oid' } as const;
const pol2 = { xml: 'pol2', key: 'pol2', type: 'pol2' } as const;
const optionalPol2 = { xml: 'pol2', key: 'pol2', type: 'pol2', occurs: 'optional' } as const;
const euiccResponseData = {
  xml: 'EuiccResponseData',
  key: 'euiccResponseData',
  type: 'hex',
  occurs: 'optional',
} as const;
const completion = { xml: 'CompletionTimestamp', key: 'completionTimestamp', type: 'dateTime' } as const;
const newAddress = {
  xml: 'newSubscriptionAddress',
  key: 'newSubscriptionAddress',
  type: 'subscriptionAddress',
} as const;
const auditIccids = { xml: 'Iccid', key: 'iccids', type: 'iccid', occurs: 'many', max: 64 } as const;

const profileNotifications = (iface: 'ES2' | 'ES4', service: ServiceGroup) =>
  (
    [
      'HandleProfileDisabledNotification',
      'HandleProfileEnabledNotification',
      'HandleProfileDeletedNotification',
    ] as const
  ).map((name) => ({ iface, name, service, notification: [eid, iccid, completion] }) as const);

export const FUNCTIONS = [
  // ---- ES1 (EUM → SM-SR), SGP.02 §5.2
  { iface: 'ES1', name: 'RegisterEIS', service: 'eUICCManagement', request: [eis], response: [] },

  // ---- ES2 (Operator → SM-DP), SGP.02 §5.3
  {
    iface: 'ES2',
    name: 'GetEIS',
    service: 'eUICCManagement',
    request: [eid, smsrId],
    response: [optionalEis],
  },
  {
    iface: 'ES2',
    name: 'DownloadProfile',
    service: 'ProfileManagement',
    request: [
      eid,
      smSrId,
      { xml: 'ProfileType', key: 'profileType', type: 'string100', occurs: 'optional' },
      { xml: 'Iccid', key: 'iccid', type: 'iccid', occurs: 'optional' },
      { xml: 'EnableProfile', key: 'enableProfile', type: 'boolean' },
    ],
    response: [{ xml: 'Iccid', key: 'iccid', type: 'iccid', occurs: 'optional' }],
  },
  {
    iface: 'ES2',
    name: 'UpdatePolicyRules',
    service: 'ProfileManagement',
    request: [eid, iccid, smsrId, optionalPol2],
    response: [],
  },
  {
    iface: 'ES2',
    name: 'UpdateSubscriptionAddress',
    service: 'ProfileManagement',
    request: [eid, smsrId, iccid, newAddress],
    response: [],
  },
  {
    iface: 'ES2',
    name: 'EnableProfile',
    service: 'ProfileManagement',
    request: [eid, smSrId, iccid],
    response: [],
  },
  {
    iface: 'ES2',
    name: 'DisableProfile',
    service: 'ProfileManagement',
    request: [eid, smsrId, iccid],
    response: [],
  },
  {
    iface: 'ES2',
    name: 'DeleteProfile',
    service: 'ProfileManagement',
    request: [eid, iccid, smsrId],
    response: [],
  },
  ...profileNotifications('ES2', 'ProfileManagement'),
  {
    iface: 'ES2',
    name: 'HandleSMSRChangeNotification',
    service: 'eUICCManagement',
    notification: [eis, completion],
  },

  // ---- ES3 (SM-DP → SM-SR), SGP.02 §5.4
  { iface: 'ES3', name: 'GetEIS', service: 'eUICCManagement', request: [eid], response: [optionalEis] },
  {
    iface: 'ES3',
    name: 'AuditEIS',
    service: 'eUICCManagement',
    request: [eid, auditIccids],
    response: [optionalEis],
  },
  {
    iface: 'ES3',
    name: 'CreateISDP',
    service: 'ProfileManagement',
    request: [
      eid,
      iccid,
      mnoId,
      { xml: 'RequiredMemory', key: 'requiredMemory', type: 'integer' },
      { xml: 'MoreToDo', key: 'moreToDo', type: 'boolean', occurs: 'optional' },
    ],
    response: [{ xml: 'Isd-p-aid', key: 'isdPAid', type: 'aid' }, euiccResponseData],
  },
  {
    // Carries the ES8 traffic (EstablishISDPKeySet, DownloadAndInstallation) to the ISD-P.
    iface: 'ES3',
    name: 'SendData',
    service: 'ProfileManagement',
    request: [
      eid,
      { xml: 'Sd-aid', key: 'sdAid', type: 'aid' },
      { xml: 'Data', key: 'data', type: 'hex' },
      { xml: 'MoreToDo', key: 'moreToDo', type: 'boolean', occurs: 'optional' },
    ],
    response: [euiccResponseData],
  },
  {
    iface: 'ES3',
    name: 'ProfileDownloadCompleted',
    service: 'ProfileManagement',
    request: [
      eid,
      iccid,
      { xml: 'ProfileType', key: 'profileType', type: 'string', occurs: 'optional' },
      {
        xml: 'SubscriptionAddress',
        key: 'subscriptionAddress',
        type: 'subscriptionAddress',
        occurs: 'optional',
      },
      optionalPol2,
    ],
    response: [],
  },
  {
    iface: 'ES3',
    name: 'UpdatePolicyRules',
    service: 'ProfileManagement',
    request: [eid, iccid, optionalPol2],
    response: [],
  },
  {
    iface: 'ES3',
    name: 'UpdateSubscriptionAddress',
    service: 'ProfileManagement',
    request: [eid, iccid, newAddress],
    response: [],
  },
  {
    iface: 'ES3',
    name: 'EnableProfile',
    service: 'ProfileManagement',
    request: [eid, iccid],
    response: [euiccResponseData],
  },
  {
    iface: 'ES3',
    name: 'DisableProfile',
    service: 'ProfileManagement',
    request: [eid, iccid],
    response: [euiccResponseData],
  },
  {
    iface: 'ES3',
    name: 'DeleteISDP',
    service: 'ProfileManagement',
    request: [eid, iccid],
    response: [euiccResponseData],
  },
  {
    iface: 'ES3',
    name: 'UpdateConnectivityParameters',
    service: 'ProfileManagement',
    request: [eid, iccid, { xml: 'ConnectivityParameters', key: 'connectivityParameters', type: 'hex' }],
    response: [euiccResponseData],
  },
  ...(
    [
      'HandleProfileDisabledNotification',
      'HandleProfileEnabledNotification',
      'HandleProfileDeletedNotification',
    ] as const
  ).map(
    (name) =>
      ({
        iface: 'ES3',
        name,
        service: 'ProfileManagement',
        notification: [eid, iccid, mnoId, completion],
      }) as const,
  ),
  {
    iface: 'ES3',
    name: 'HandleSMSRChangeNotification',
    service: 'eUICCManagement',
    notification: [eis, mnoId, { xml: 'completionTimestamp', key: 'completionTimestamp', type: 'dateTime' }],
  },

  // ---- ES4 (Operator → SM-SR), SGP.02 §5.5
  { iface: 'ES4', name: 'GetEIS', service: 'eUICCManagement', request: [eid], response: [optionalEis] },
  {
    iface: 'ES4',
    name: 'AuditEIS',
    service: 'eUICCManagement',
    request: [eid, auditIccids],
    response: [optionalEis],
  },
  {
    iface: 'ES4',
    name: 'UpdatePolicyRules',
    service: 'ProfileManagement',
    request: [eid, iccid, pol2],
    response: [],
  },
  {
    iface: 'ES4',
    name: 'UpdateSubscriptionAddress',
    service: 'ProfileManagement',
    request: [eid, iccid, newAddress],
    response: [],
  },
  {
    iface: 'ES4',
    name: 'EnableProfile',
    service: 'ProfileManagement',
    request: [eid, iccid],
    response: [euiccResponseData],
  },
  {
    iface: 'ES4',
    name: 'DisableProfile',
    service: 'ProfileManagement',
    request: [eid, iccid],
    response: [euiccResponseData],
  },
  {
    iface: 'ES4',
    name: 'DeleteProfile',
    service: 'ProfileManagement',
    request: [eid, iccid],
    response: [euiccResponseData],
  },
  {
    // Sent to the new SM-SR (SM-SR2), SGP.02 §3.8.
    iface: 'ES4',
    name: 'PrepareSMSRChange',
    service: 'eUICCManagement',
    request: [eid, { xml: 'CurrentSMSRid', key: 'currentSmsrId', type: 'oid' }],
    response: [],
  },
  {
    // Sent to the current SM-SR (SM-SR1).
    iface: 'ES4',
    name: 'SMSRChange',
    service: 'eUICCManagement',
    request: [eid, { xml: 'Target-Smsr-id', key: 'targetSmsrId', type: 'oid' }],
    response: [],
  },
  ...profileNotifications('ES4', 'ProfileManagement'),
  {
    iface: 'ES4',
    name: 'HandleSMSRChangeNotification',
    service: 'eUICCManagement',
    notification: [eis, completion],
  },

  // ---- ES7 (SM-SR ↔ SM-SR), SGP.02 §5.7
  { iface: 'ES7', name: 'HandoverEUICC', service: 'eUICCManagement', request: [eis], response: [] },
  {
    // The XSD types the first field as an EIS (njiwa sends the EID); the XSD wins here.
    iface: 'ES7',
    name: 'AuthenticateSMSR',
    service: 'eUICCManagement',
    request: [eis, { xml: 'SmsrCertificate', key: 'smsrCertificate', type: 'hex' }],
    response: [{ xml: 'RandomChallenge', key: 'randomChallenge', type: 'hex' }],
  },
  {
    iface: 'ES7',
    name: 'CreateAdditionalKeySet',
    service: 'eUICCManagement',
    request: [
      eid,
      { xml: 'KeyVersionNumber', key: 'keyVersionNumber', type: 'kvn' },
      { xml: 'InitialSequenceCounter', key: 'initialSequenceCounter', type: 'integer' },
      { xml: 'ECCKeyLength', key: 'eccKeyLength', type: 'eccKeyLength' },
      { xml: 'ScenarioParameter', key: 'scenarioParameter', type: 'byte' },
      { xml: 'HostId', key: 'hostId', type: 'hex' },
      { xml: 'EphemeralPublicKey', key: 'ephemeralPublicKey', type: 'hex' },
      { xml: 'Signature', key: 'signature', type: 'hex' },
    ],
    response: [
      { xml: 'DerivationRandom', key: 'derivationRandom', type: 'hex' },
      { xml: 'Receipt', key: 'receipt', type: 'hex' },
    ],
  },
  {
    iface: 'ES7',
    name: 'HandleSMSRChangeNotification',
    service: 'eUICCManagement',
    notification: [eis, completion],
  },
] as const satisfies readonly FunctionSpecInput[];

// ---------------------------------------------------------------------------------------------
// Common parts (BaseRequestType / BaseResponseType / BaseNotificationType, euicc.common.request.xsd)

export const BASE_REQUEST_FIELDS = [
  { xml: 'FunctionCallIdentifier', key: 'functionCallIdentifier', type: 'string' },
  /** Seconds the requester gives the provider to execute the function. */
  { xml: 'ValidityPeriod', key: 'validityPeriod', type: 'integer', occurs: 'optional' },
] as const satisfies readonly FieldSpec[];

export const BASE_RESPONSE_FIELDS = [
  { xml: 'ProcessingStart', key: 'processingStart', type: 'dateTime', occurs: 'optional' },
  { xml: 'ProcessingEnd', key: 'processingEnd', type: 'dateTime', occurs: 'optional' },
  { xml: 'AcceptableValidityPeriod', key: 'acceptableValidityPeriod', type: 'integer', occurs: 'optional' },
  { xml: 'FunctionExecutionStatus', key: 'functionExecutionStatus', type: 'executionStatus' },
] as const satisfies readonly FieldSpec[];

// ---------------------------------------------------------------------------------------------
// Types derived from the table

type FunctionSpec = (typeof FUNCTIONS)[number];
type FieldValue<F> = F extends { type: infer T extends keyof ValueTypes }
  ? F extends { occurs: 'many' | 'some' }
    ? readonly ValueTypes[T][]
    : ValueTypes[T]
  : never;
type Optional<F> = F extends { occurs: 'optional' } ? true : false;
export type FieldsValue<Fs extends readonly unknown[]> = {
  readonly [F in Fs[number] as Optional<F> extends true
    ? never
    : F extends { key: infer K extends string }
      ? K
      : never]: FieldValue<F>;
} & {
  readonly [F in Fs[number] as Optional<F> extends true
    ? F extends { key: infer K extends string }
      ? K
      : never
    : never]?: FieldValue<F>;
};

export type BaseRequest = FieldsValue<typeof BASE_REQUEST_FIELDS>;
export type BaseResponse = FieldsValue<typeof BASE_RESPONSE_FIELDS>;

export type MessageKind = 'request' | 'response' | 'notification';

export type MessageBodies = {
  [F in FunctionSpec as F extends { request: unknown }
    ? `${F['iface']}-${F['name']}Request`
    : never]: BaseRequest & FieldsValue<F extends { request: infer R extends readonly unknown[] } ? R : []>;
} & {
  [F in FunctionSpec as F extends { response: unknown }
    ? `${F['iface']}-${F['name']}Response`
    : never]: BaseResponse & FieldsValue<F extends { response: infer R extends readonly unknown[] } ? R : []>;
} & {
  [F in FunctionSpec as F extends { notification: unknown }
    ? `${F['iface']}-${F['name']}`
    : never]: FieldsValue<F extends { notification: infer R extends readonly unknown[] } ? R : []>;
};

export type MessageElement = keyof MessageBodies & string;

/** A decoded (or to-be-encoded) body: its element name and typed value. */
export type Message = {
  [E in MessageElement]: { readonly element: E; readonly body: MessageBodies[E] };
}[MessageElement];

// ---------------------------------------------------------------------------------------------
// The flat message table (one row per XML element)

export interface MessageSpec {
  readonly element: MessageElement;
  readonly iface: EsInterface;
  /** Function name without interface prefix (`SendData`, `HandleProfileEnabledNotification`). */
  readonly function: string;
  readonly kind: MessageKind;
  /** WS-Addressing Action of a message with this body. */
  readonly action: string;
  /** All fields in order, the base type's first. */
  readonly fields: readonly FieldSpec[];
}

export const ACTION_BASE = 'http://gsma.com';

function actionOf(iface: EsInterface, service: ServiceGroup, name: string, kind: MessageKind): string {
  // Asynchronous responses travel as calls of the requester's callback service.
  return `${ACTION_BASE}/${iface}/${service}${kind === 'response' ? 'CallBack' : ''}/${iface}-${name}`;
}

function buildTable(): readonly MessageSpec[] {
  const rows: MessageSpec[] = [];
  for (const f of FUNCTIONS as readonly FunctionSpecInput[]) {
    if (f.request !== undefined) {
      rows.push({
        element: `${f.iface}-${f.name}Request` as MessageElement,
        iface: f.iface,
        function: f.name,
        kind: 'request',
        action: actionOf(f.iface, f.service, f.name, 'request'),
        fields: [...BASE_REQUEST_FIELDS, ...f.request],
      });
    }
    if (f.response !== undefined) {
      rows.push({
        element: `${f.iface}-${f.name}Response` as MessageElement,
        iface: f.iface,
        function: f.name,
        kind: 'response',
        action: actionOf(f.iface, f.service, f.name, 'response'),
        fields: [...BASE_RESPONSE_FIELDS, ...f.response],
      });
    }
    if (f.notification !== undefined) {
      rows.push({
        element: `${f.iface}-${f.name}` as MessageElement,
        iface: f.iface,
        function: f.name,
        kind: 'notification',
        action: actionOf(f.iface, f.service, f.name, 'notification'),
        fields: f.notification,
      });
    }
  }
  return Object.freeze(rows);
}

export const MESSAGES: readonly MessageSpec[] = buildTable();
export const MESSAGE_BY_ELEMENT: ReadonlyMap<string, MessageSpec> = new Map(
  MESSAGES.map((m) => [m.element, m]),
);
export const MESSAGE_BY_ACTION: ReadonlyMap<string, MessageSpec> = new Map(
  MESSAGES.map((m) => [m.action, m]),
);

/** The response row of a request row (same function), if the function has one. */
export function responseSpecOf(request: MessageSpec): MessageSpec | undefined {
  return MESSAGE_BY_ELEMENT.get(`${request.iface}-${request.function}Response`);
}
