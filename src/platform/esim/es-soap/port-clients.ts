// The ES ports of es-ports.ts (and the SM-DP's ES2 port) backed by SGP.02 SOAP: each port function
// sends its typed request to one partner (SoapNode.call over pinned mutual TLS, ReplyTo = our
// listener) and resolves with the partner's asynchronous `*Response` — so an SM-DP holding an
// `Es3Port` runs the same code whether the SM-SR lives in this process or in another operator's.
//
// The port contract holds across the wire: a function never rejects for what happened to it.
//   - the partner answered                       → its response body, whatever its status;
//   - no answer within the request's ValidityPeriod (+ grace for the network)
//                                                 → EXPIRED (SGP.02 §5.1.1.2: the requester gave
//                                                   up; the provider expires it on its side too);
//   - the partner refused the message (SOAP fault) → FAILED with the fault's status;
//   - the partner cannot be reached / no answer    → FAILED, Subject 1.2 (function provider),
//                                                   Reason 3.7 (unavailable), naming the partner.
// Notifications are fire-and-acknowledge: a notification port rejects when the partner did not
// acknowledge (the SM-SR logs it through onNotifyError; the audit trail keeps the operation).
import { SimtrustError } from '../../../lib/errors.js';
import type { Es1Port, Es3NotificationPort, Es3Port, Es4NotificationPort, Es4Port } from '../es-ports.js';
import type { Es2NotificationPort, Es2Port } from '../sm-dp/sm-dp-service.js';
import type { Es4SmSrChangePort, Es7Port } from '../sm-sr-change/sm-sr-change-service.js';
import type { MessageBodies } from './sgp-02-messages.js';
import {
  EXPIRED,
  type FunctionExecutionStatus,
  failed,
  REASON_CODES,
  SUBJECT_CODES,
} from './sgp-02-status-codes.js';
import type { NotificationElement, RequestElement, ResponseOf } from './soap-endpoint.js';

/** What the clients need of a SoapNode (the node itself fits). */
export interface SoapCaller {
  call<R extends RequestElement>(
    partner: string,
    element: R,
    body: MessageBodies[R],
    options?: { timeoutMs?: number },
  ): Promise<MessageBodies[ResponseOf<R>]>;
  notify<N extends NotificationElement>(partner: string, element: N, body: MessageBodies[N]): Promise<void>;
}

export interface SoapPortOptions {
  /** The partner's name in the SoapNode (its entity id in the partners registry). */
  readonly partner: string;
  /** Time added to a request's ValidityPeriod for the transport before we call it EXPIRED. */
  readonly graceMs?: number;
}

const DEFAULT_GRACE_MS = 5_000;

/** One request/response function of a partner as a port function. */
export function soapFunction<R extends RequestElement>(
  caller: SoapCaller,
  element: R,
  options: SoapPortOptions,
): (body: MessageBodies[R]) => Promise<MessageBodies[ResponseOf<R>]> {
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  return async (body) => {
    const answer = (status: FunctionExecutionStatus) =>
      ({ functionExecutionStatus: status }) as MessageBodies[ResponseOf<R>];
    const period = (body as { validityPeriod?: number }).validityPeriod;
    if (period === undefined) {
      try {
        return await caller.call(options.partner, element, body);
      } catch (e) {
        return answer(statusOfCallError(e, options.partner));
      }
    }
    // The requester's own deadline: the node keeps waiting a little longer (a late answer is then
    // dropped by the node as unexpected), we answer EXPIRED at validity + grace.
    const deadlineMs = period * 1000 + grace;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<MessageBodies[ResponseOf<R>]>((resolve) => {
      timer = setTimeout(() => resolve(answer(EXPIRED)), deadlineMs);
    });
    const called = caller
      .call(options.partner, element, body, { timeoutMs: deadlineMs + grace + 1_000 })
      .catch((e: unknown) => answer(statusOfCallError(e, options.partner)));
    try {
      return await Promise.race([called, expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** A FunctionExecutionStatus for a call that did not produce the partner's response. */
export function statusOfCallError(error: unknown, partner: string): FunctionExecutionStatus {
  if (error instanceof SimtrustError && error.code === 'ERR_ESIM_SOAP_REJECTED') {
    const status = (error.details as { status?: FunctionExecutionStatus } | undefined)?.status;
    if (status !== undefined && status.status === 'FAILED') return status;
    return failed(SUBJECT_CODES.FUNCTION_PROVIDER, REASON_CODES.REFUSED, `${partner} refused the message`);
  }
  const code = error instanceof SimtrustError ? error.code : 'ERR_ESIM_SOAP_TRANSPORT';
  return failed(
    SUBJECT_CODES.FUNCTION_PROVIDER,
    REASON_CODES.UNAVAILABLE,
    `${partner} did not answer (${code})`,
  );
}

function soapNotification<N extends NotificationElement>(
  caller: SoapCaller,
  element: N,
  options: SoapPortOptions,
): (body: MessageBodies[N]) => Promise<void> {
  return (body) => caller.notify(options.partner, element, body);
}

/** ES1 at an SM-SR, as an EUM calls it. */
export function soapEs1Port(caller: SoapCaller, options: SoapPortOptions): Es1Port {
  return { registerEIS: soapFunction(caller, 'ES1-RegisterEISRequest', options) };
}

/** ES2 at an SM-DP, as an operator calls it. */
export function soapEs2Port(caller: SoapCaller, options: SoapPortOptions): Es2Port {
  const f = <R extends RequestElement>(e: R) => soapFunction(caller, e, options);
  return {
    getEIS: f('ES2-GetEISRequest'),
    downloadProfile: f('ES2-DownloadProfileRequest'),
    updatePolicyRules: f('ES2-UpdatePolicyRulesRequest'),
    updateSubscriptionAddress: f('ES2-UpdateSubscriptionAddressRequest'),
    enableProfile: f('ES2-EnableProfileRequest'),
    disableProfile: f('ES2-DisableProfileRequest'),
    deleteProfile: f('ES2-DeleteProfileRequest'),
  };
}

/** ES3 at an SM-SR, as an SM-DP calls it. */
export function soapEs3Port(caller: SoapCaller, options: SoapPortOptions): Es3Port {
  const f = <R extends RequestElement>(e: R) => soapFunction(caller, e, options);
  return {
    getEIS: f('ES3-GetEISRequest'),
    auditEIS: f('ES3-AuditEISRequest'),
    createISDP: f('ES3-CreateISDPRequest'),
    sendData: f('ES3-SendDataRequest'),
    profileDownloadCompleted: f('ES3-ProfileDownloadCompletedRequest'),
    updatePolicyRules: f('ES3-UpdatePolicyRulesRequest'),
    updateSubscriptionAddress: f('ES3-UpdateSubscriptionAddressRequest'),
    enableProfile: f('ES3-EnableProfileRequest'),
    disableProfile: f('ES3-DisableProfileRequest'),
    deleteISDP: f('ES3-DeleteISDPRequest'),
  };
}

/** ES4 at an SM-SR, as an operator calls it. */
export function soapEs4Port(caller: SoapCaller, options: SoapPortOptions): Es4Port {
  const f = <R extends RequestElement>(e: R) => soapFunction(caller, e, options);
  return {
    getEIS: f('ES4-GetEISRequest'),
    auditEIS: f('ES4-AuditEISRequest'),
    updatePolicyRules: f('ES4-UpdatePolicyRulesRequest'),
    updateSubscriptionAddress: f('ES4-UpdateSubscriptionAddressRequest'),
    enableProfile: f('ES4-EnableProfileRequest'),
    disableProfile: f('ES4-DisableProfileRequest'),
    deleteProfile: f('ES4-DeleteProfileRequest'),
  };
}

/**
 * ES4 PrepareSMSRChange / SMSRChange at an SM-SR, as an operator calls them (SGP.02 §3.8 steps 1
 * and 4): PrepareSMSRChange to the new SM-SR, SMSRChange to the current one.
 */
export function soapEs4SmSrChangePort(caller: SoapCaller, options: SoapPortOptions): Es4SmSrChangePort {
  return {
    prepareSMSRChange: soapFunction(caller, 'ES4-PrepareSMSRChangeRequest', options),
    smsrChange: soapFunction(caller, 'ES4-SMSRChangeRequest', options),
  };
}

/**
 * ES7 at a partner SM-SR, as the other SM-SR of an SM-SR change calls it (SGP.02 §5.7):
 * HandoverEUICC to the new SM-SR; AuthenticateSMSR and CreateAdditionalKeySet to the current one.
 * A HandoverEUICC without an answer (FAILED 1.2/3.7, EXPIRED) has an unknown outcome: the caller
 * must not conclude it is still in charge (SmSrChange keeps its row open and asks again).
 */
export function soapEs7Port(caller: SoapCaller, options: SoapPortOptions): Es7Port {
  return {
    handoverEUICC: soapFunction(caller, 'ES7-HandoverEUICCRequest', options),
    authenticateSMSR: soapFunction(caller, 'ES7-AuthenticateSMSRRequest', options),
    createAdditionalKeySet: soapFunction(caller, 'ES7-CreateAdditionalKeySetRequest', options),
  };
}

/** ES2 notifications to an operator, as an SM-DP sends them. */
export function soapEs2Notifications(caller: SoapCaller, options: SoapPortOptions): Es2NotificationPort {
  return {
    handleProfileEnabledNotification: soapNotification(
      caller,
      'ES2-HandleProfileEnabledNotification',
      options,
    ),
    handleProfileDisabledNotification: soapNotification(
      caller,
      'ES2-HandleProfileDisabledNotification',
      options,
    ),
    handleProfileDeletedNotification: soapNotification(
      caller,
      'ES2-HandleProfileDeletedNotification',
      options,
    ),
    handleSMSRChangeNotification: soapNotification(caller, 'ES2-HandleSMSRChangeNotification', options),
  };
}

/** ES3 notifications to an SM-DP, as an SM-SR sends them. */
export function soapEs3Notifications(caller: SoapCaller, options: SoapPortOptions): Es3NotificationPort {
  return {
    handleProfileEnabledNotification: soapNotification(
      caller,
      'ES3-HandleProfileEnabledNotification',
      options,
    ),
    handleProfileDisabledNotification: soapNotification(
      caller,
      'ES3-HandleProfileDisabledNotification',
      options,
    ),
    handleProfileDeletedNotification: soapNotification(
      caller,
      'ES3-HandleProfileDeletedNotification',
      options,
    ),
    handleSMSRChangeNotification: soapNotification(caller, 'ES3-HandleSMSRChangeNotification', options),
  };
}

/** ES4 notifications to an operator, as an SM-SR sends them. */
export function soapEs4Notifications(caller: SoapCaller, options: SoapPortOptions): Es4NotificationPort {
  return {
    handleProfileEnabledNotification: soapNotification(
      caller,
      'ES4-HandleProfileEnabledNotification',
      options,
    ),
    handleProfileDisabledNotification: soapNotification(
      caller,
      'ES4-HandleProfileDisabledNotification',
      options,
    ),
    handleProfileDeletedNotification: soapNotification(
      caller,
      'ES4-HandleProfileDeletedNotification',
      options,
    ),
    handleSMSRChangeNotification: soapNotification(caller, 'ES4-HandleSMSRChangeNotification', options),
  };
}
