// Step "check binding". Enforces that the identity, the subscriber and the conversation belong
// together:
// - the subscriber belongs to the operator that owns the NAS (tenant isolation);
// - a permanent identity in a 3gppnetwork.org realm names the subscriber's own home network, the MCC
//   and MNC of its IMSI (TS 23.003 §14.3, §19.3.2) — another PLMN means a forged or misrouted NAI;
// - a later round continues with the subscriber the conversation started with.

import { parseEapIdentity } from '../../../../lib/eap/ts-23-003-nai.js';
import { refuseBeforeChallenge, type Step } from '../turn.js';

/** MNC in the realm always has 3 digits; the IMSI's MNC has 2 or 3 (TS 23.003 §19.3.2). */
function realmMatchesImsi(imsi: string, plmn: { mcc: string; mnc3: string }): boolean {
  return (
    plmn.mcc === imsi.slice(0, 3) && (plmn.mnc3 === imsi.slice(3, 6) || plmn.mnc3 === `0${imsi.slice(3, 5)}`)
  );
}

export const checkBinding: Step = (t) => {
  const subscriber = t.subscriber;
  if (subscriber === undefined) return undefined;
  if (subscriber.operatorId !== t.request.client.operatorId) {
    return refuseBeforeChallenge(t, 'BINDING', 'subscriber belongs to another operator than the NAS');
  }
  if (t.conversation.imsi !== undefined && t.conversation.imsi !== subscriber.imsi) {
    return refuseBeforeChallenge(
      t,
      'BINDING',
      'identity changed to another subscriber during the conversation',
    );
  }
  if (t.identity?.kind === 'permanent' && t.presented !== undefined) {
    const parsed = parseEapIdentity(t.presented);
    const plmn = parsed.ok ? parsed.value.realmPlmn : undefined;
    if (plmn !== undefined && !realmMatchesImsi(subscriber.imsi, plmn)) {
      return refuseBeforeChallenge(t, 'BINDING', 'the NAI realm names another home network than the IMSI');
    }
  }
  return undefined;
};
