// SGP.02 §5.1.6 — FunctionExecutionStatus (ExecutionStatusType of the esim-messaging schema) and the
// Subject / Reason codes this project raises. The codes are OIDs in dotted form; only codes actually
// used are listed, each once, so both ends of every interface read the same table.
// To verify against SGP.02 §5.1.6.4 (Subject codes) and §5.1.6.5 (Reason codes): the values below
// follow the public implementations (njiwa ES4Impl/ReceiveEISHandoverTransaction) and the SGP.22
// tables that reuse the SGP.02 scheme; the full tables are not in the public schema package.

export const EXECUTION_STATUSES = ['EXECUTED_SUCCESS', 'EXECUTED_WITHWARNING', 'FAILED', 'EXPIRED'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

export interface StatusCodeData {
  /** Subject code (OID): the system element concerned, e.g. `8.1.1` (EID). */
  readonly subject: string;
  /** Reason code (OID): why, e.g. `3.9` (unknown). */
  readonly reason: string;
  readonly subjectIdentifier?: string;
  /** Human-readable; never carries secrets. */
  readonly message?: string;
}

export interface FunctionExecutionStatus {
  readonly status: ExecutionStatus;
  /** Present for EXECUTED_WITHWARNING, FAILED and EXPIRED (SGP.02 §5.1.6.2). */
  readonly statusCodeData?: StatusCodeData;
}

/** Subject codes (SGP.02 §5.1.6.4). */
export const SUBJECT_CODES = {
  FUNCTION_REQUESTER: '1.1',
  FUNCTION_PROVIDER: '1.2',
  /** The function call as a whole (its validity period, its message). */
  FUNCTION: '1.6',
  EUICC: '8.1',
  EID: '8.1.1',
  PROFILE_ICCID: '8.2.1',
  ISD_P: '8.4',
  EIS: '8.6',
  SM_SR: '8.7',
  SM_SR_CERTIFICATE: '8.7.1',
  ECASD: '8.5',
} as const;
export type SubjectCode = (typeof SUBJECT_CODES)[keyof typeof SUBJECT_CODES];

/** Reason codes (SGP.02 §5.1.6.5). */
export const REASON_CODES = {
  /** Access error: the requester is unknown (identification / authentication). */
  UNKNOWN_REQUESTER: '1.1',
  /** Access error: not allowed (authorisation). */
  NOT_ALLOWED: '1.2',
  /** Format error: a value is invalid. */
  INVALID: '2.1',
  /** Format error: a mandatory element is missing. */
  MANDATORY_ELEMENT_MISSING: '2.2',
  /** Conditions of use: the function is not supported by the provider. */
  UNSUPPORTED: '3.1',
  ALREADY_IN_USE: '3.3',
  UNAVAILABLE: '3.7',
  REFUSED: '3.8',
  /** Conditions of use: the identified element is unknown. */
  UNKNOWN: '3.9',
  /** Processing error: execution error. */
  EXECUTION_ERROR: '4.2',
  INSUFFICIENT_MEMORY: '4.8',
  /** Transaction error: the validity period has passed (njiwa uses 1.6 / 5.3). */
  TRANSACTION_EXPIRED: '5.3',
  /** Security error: verification (signature, certificate) failed. */
  VERIFICATION_FAILED: '6.1',
} as const;
export type ReasonCode = (typeof REASON_CODES)[keyof typeof REASON_CODES];

export const SUCCESS: FunctionExecutionStatus & { readonly status: 'EXECUTED_SUCCESS' } = Object.freeze({
  status: 'EXECUTED_SUCCESS',
});

export function failed(
  subject: SubjectCode,
  reason: ReasonCode,
  message?: string,
  subjectIdentifier?: string,
): FunctionExecutionStatus & { readonly status: 'FAILED' } {
  return statusWith('FAILED', subject, reason, message, subjectIdentifier) as FunctionExecutionStatus & {
    status: 'FAILED';
  };
}

export function withWarning(
  subject: SubjectCode,
  reason: ReasonCode,
  message?: string,
  subjectIdentifier?: string,
): FunctionExecutionStatus & { readonly status: 'EXECUTED_WITHWARNING' } {
  return statusWith(
    'EXECUTED_WITHWARNING',
    subject,
    reason,
    message,
    subjectIdentifier,
  ) as FunctionExecutionStatus & {
    status: 'EXECUTED_WITHWARNING';
  };
}

/** SGP.02 §5.1.6.2: the validity period of the request elapsed before it could be executed. */
export const EXPIRED: FunctionExecutionStatus & { readonly status: 'EXPIRED' } = Object.freeze({
  status: 'EXPIRED',
  statusCodeData: Object.freeze({
    subject: SUBJECT_CODES.FUNCTION,
    reason: REASON_CODES.TRANSACTION_EXPIRED,
    message: 'the validity period of the request has passed',
  }),
});

function statusWith(
  status: ExecutionStatus,
  subject: SubjectCode,
  reason: ReasonCode,
  message?: string,
  subjectIdentifier?: string,
): FunctionExecutionStatus {
  return {
    status,
    statusCodeData: {
      subject,
      reason,
      ...(subjectIdentifier === undefined ? {} : { subjectIdentifier }),
      ...(message === undefined ? {} : { message }),
    },
  };
}

/**
 * ValidityPeriod (BaseRequestType, seconds): a request received at `receivedAtMs` may still be
 * executed at `nowMs` only while the period lasts. No period means no limit from the requester.
 */
export function isExpired(
  validityPeriodSeconds: number | undefined,
  receivedAtMs: number,
  nowMs: number,
): boolean {
  if (validityPeriodSeconds === undefined) return false;
  return nowMs - receivedAtMs >= validityPeriodSeconds * 1000;
}
