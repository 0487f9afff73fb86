// What the operator layer needs from the eSIM roles, whether they run in this process (SmSr,
// the SM-DP service) or elsewhere (the same interfaces backed by es-soap SoapNode clients):
//   ES1 RegisterEIS at the SM-SR   — registering an eUICC (POST /v1/esim/euiccs)
//   ES2 DownloadProfile at the SM-DP — downloading a profile (the SM-DP drives ES3/ES8 itself)
//   ES4 Enable/Disable/DeleteProfile and GetEIS at the SM-SR — the other operations, sent directly:
//       SGP.02 §3.2–3.4 let the operator go to the SM-SR (ES4) or through the SM-DP (ES2 → ES3); the
//       direct path has one hop less and the same outcome, so this layer uses it.
//   "switch carrier" (issue 16): ES4 PrepareSMSRChange at a partner SM-SR (the target deployment's),
//       ES4 SMSRChange at this deployment's SM-SR, ES2 DownloadProfile at the partner's SM-DP.
// Each port is bound to the operator it acts for (the SM-SR checks profile ownership by MNO id).

import type { Es1Port, Es4Port } from '../es-ports.js';
import type { MessageBodies } from '../es-soap/sgp-02-messages.js';
import type { Es4SmSrChangePort } from '../sm-sr-change/sm-sr-change-service.js';

/** ES2 (operator → SM-DP), SGP.02 §5.3.2: the function this layer calls. */
export interface Es2DownloadPort {
  readonly downloadProfile: (
    body: MessageBodies['ES2-DownloadProfileRequest'],
  ) => Promise<MessageBodies['ES2-DownloadProfileResponse']>;
}

export interface EsimRolePorts {
  /** The SM-SR's entity id (OID) the eUICCs are registered at. */
  readonly smsrId: string;
  /** ES1 for the EUM whose certificate (PEM) signed the EIS. */
  es1(eumCertificate: string): Es1Port;
  /** The SM-DP's ES2 as this operator's; undefined: no SM-DP serves it. */
  es2(operatorId: string): Es2DownloadPort | undefined;
  /** The SM-SR's ES4 as this operator's; undefined: the operator has no MNO identity at the SM-SR. */
  es4(operatorId: string): Es4Port | undefined;
  /** The operator's MNO id (OID) as the SM-SR and SM-DP know it. */
  mnoId(operatorId: string): string | undefined;
  /** This deployment's SM-SR change (SmSrChange.es4For) as this operator's; undefined: none runs here. */
  smsrChange?(operatorId: string): Pick<Es4SmSrChangePort, 'smsrChange'> | undefined;
  /** ES4 at a partner SM-SR of this operator (PrepareSMSRChange); undefined: not a partner SM-SR. */
  partnerSmsr?(operatorId: string, smsrId: string): Pick<Es4SmSrChangePort, 'prepareSMSRChange'> | undefined;
  /** ES2 at a partner SM-DP of this operator; undefined: not a partner SM-DP. */
  partnerSmdp?(operatorId: string, smdpId: string): Es2DownloadPort | undefined;
}
