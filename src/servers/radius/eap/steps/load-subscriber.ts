// Step "load subscriber". Enforces: the SIM exists and the admission policy lets it on Wi-Fi now —
// suspended, inactive and terminated SIMs are refused, and so is an IMEI-locked SIM unless its lock
// admits a device that reports no IMEI (platform/aaa/admission.ts). Checked before any challenge,
// so a refused SIM never spends an authentication vector. It does not activate a `ready` SIM: an
// unauthenticated peer must not change a SIM; that waits until the SIM has authenticated.

import { refuseBeforeChallenge, type Step } from '../turn.js';

export const loadSubscriber: Step = async (t) => {
  const identity = t.identity;
  if (identity === undefined || !('imsi' in identity)) return undefined;
  const admitted = await t.deps.admit(identity.imsi, {
    operatorId: t.request.client.operatorId,
    nasAddress: t.request.sourceAddress,
    activate: false,
    now: t.now,
  });
  if (!admitted.ok) {
    return refuseBeforeChallenge(
      t,
      admitted.error.code === 'UNKNOWN_SUBSCRIBER' ? 'UNKNOWN_SUBSCRIBER' : 'ADMISSION',
      `${admitted.error.code}: ${admitted.error.reason}`,
    );
  }
  t.subscriber = admitted.value;
  return undefined;
};
