// The in-process ports between the eSIM roles of SGP.02 §5 (ES1, ES3, ES4 and their notifications),
// typed with the es-soap message bodies. Each function takes the request body and resolves with the
// response body, whose FunctionExecutionStatus says how it went: a port never rejects for a refusal
// or a failure of the function (those are FAILED / EXPIRED statuses with a Subject/Reason code); a
// rejection means the port itself broke (a bug, the process going down).
//
// A port is bound to its caller: the SM-SR hands an SM-DP its own `Es3Port` (requests are checked
// against that SM-DP's identity) and an operator its own `Es4Port`. Between processes the same ports
// are backed by SOAP clients (es-soap SoapNode.call with the mutual-TLS identity as the caller), so
// the code on either side is the same.
import type { MessageBodies } from './es-soap/sgp-02-messages.js';

type Fn<Req extends keyof MessageBodies, Res extends keyof MessageBodies> = (
  body: MessageBodies[Req],
) => Promise<MessageBodies[Res]>;
type Notify<N extends keyof MessageBodies> = (body: MessageBodies[N]) => Promise<void>;

/** ES1 (EUM → SM-SR), SGP.02 §5.2. */
export interface Es1Port {
  readonly registerEIS: Fn<'ES1-RegisterEISRequest', 'ES1-RegisterEISResponse'>;
}

/** ES3 (SM-DP → SM-SR), SGP.02 §5.4: the SM-SR's functions as seen by one SM-DP. */
export interface Es3Port {
  readonly getEIS: Fn<'ES3-GetEISRequest', 'ES3-GetEISResponse'>;
  readonly auditEIS: Fn<'ES3-AuditEISRequest', 'ES3-AuditEISResponse'>;
  readonly createISDP: Fn<'ES3-CreateISDPRequest', 'ES3-CreateISDPResponse'>;
  /** Carries ES8 (key establishment, SCP03t segments) to the ISD-P; `euiccResponseData` = the card's answer. */
  readonly sendData: Fn<'ES3-SendDataRequest', 'ES3-SendDataResponse'>;
  readonly profileDownloadCompleted: Fn<
    'ES3-ProfileDownloadCompletedRequest',
    'ES3-ProfileDownloadCompletedResponse'
  >;
  readonly updatePolicyRules: Fn<'ES3-UpdatePolicyRulesRequest', 'ES3-UpdatePolicyRulesResponse'>;
  readonly updateSubscriptionAddress: Fn<
    'ES3-UpdateSubscriptionAddressRequest',
    'ES3-UpdateSubscriptionAddressResponse'
  >;
  readonly enableProfile: Fn<'ES3-EnableProfileRequest', 'ES3-EnableProfileResponse'>;
  readonly disableProfile: Fn<'ES3-DisableProfileRequest', 'ES3-DisableProfileResponse'>;
  readonly deleteISDP: Fn<'ES3-DeleteISDPRequest', 'ES3-DeleteISDPResponse'>;
}

/** ES4 (operator → SM-SR), SGP.02 §5.5: the SM-SR's functions as seen by one operator. */
export interface Es4Port {
  readonly getEIS: Fn<'ES4-GetEISRequest', 'ES4-GetEISResponse'>;
  readonly auditEIS: Fn<'ES4-AuditEISRequest', 'ES4-AuditEISResponse'>;
  readonly updatePolicyRules: Fn<'ES4-UpdatePolicyRulesRequest', 'ES4-UpdatePolicyRulesResponse'>;
  readonly updateSubscriptionAddress: Fn<
    'ES4-UpdateSubscriptionAddressRequest',
    'ES4-UpdateSubscriptionAddressResponse'
  >;
  readonly enableProfile: Fn<'ES4-EnableProfileRequest', 'ES4-EnableProfileResponse'>;
  readonly disableProfile: Fn<'ES4-DisableProfileRequest', 'ES4-DisableProfileResponse'>;
  readonly deleteProfile: Fn<'ES4-DeleteProfileRequest', 'ES4-DeleteProfileResponse'>;
}

/** SM-SR → SM-DP notifications (ES3, SGP.02 §5.4.11–13); the SM-DP relays them to the operator on ES2. */
export interface Es3NotificationPort {
  readonly handleProfileEnabledNotification: Notify<'ES3-HandleProfileEnabledNotification'>;
  readonly handleProfileDisabledNotification: Notify<'ES3-HandleProfileDisabledNotification'>;
  readonly handleProfileDeletedNotification: Notify<'ES3-HandleProfileDeletedNotification'>;
  /** SGP.02 §3.8 step 32: the eUICC has a new SM-SR (the EIS it holds now). */
  readonly handleSMSRChangeNotification?: Notify<'ES3-HandleSMSRChangeNotification'>;
}

/** SM-SR → operator notifications (ES4, SGP.02 §5.5). */
export interface Es4NotificationPort {
  readonly handleProfileEnabledNotification: Notify<'ES4-HandleProfileEnabledNotification'>;
  readonly handleProfileDisabledNotification: Notify<'ES4-HandleProfileDisabledNotification'>;
  readonly handleProfileDeletedNotification: Notify<'ES4-HandleProfileDeletedNotification'>;
  /** SGP.02 §3.8 step 31: the eUICC has a new SM-SR (the EIS it holds now). */
  readonly handleSMSRChangeNotification?: Notify<'ES4-HandleSMSRChangeNotification'>;
}

/**
 * Where the SM-SR sends notifications: the SM-DP that acts for a profile's operator (by SM-DP id)
 * and the operator itself (by MNO id). An unknown party resolves to undefined (nothing is sent; the
 * audit trail still records the operation).
 */
export interface EsNotificationDirectory {
  smdp(smdpId: string): Es3NotificationPort | undefined;
  operator(mnoId: string): Es4NotificationPort | undefined;
}
