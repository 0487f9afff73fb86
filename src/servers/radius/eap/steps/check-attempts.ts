// Step "check attempts". Enforces: an IMSI with eapFailureLimit failed authentications (wrong RES or
// AT_MAC, a rejected AUTN, a bad AUTS) within eapFailureWindowSeconds gets no new challenge until the
// window ends. Every challenge spends an SQN and a vector; a stream of failures is a SIM being probed
// or a card out of step, and neither is helped by more challenges.

import { refuseBeforeChallenge, type Step } from '../turn.js';

export const checkAttempts: Step = async (t) => {
  const imsi = t.subscriber?.imsi;
  if (imsi === undefined) return undefined;
  const failures = await t.deps.attempts.failures(imsi, t.now);
  if (failures >= t.deps.settings.failureLimit) {
    return refuseBeforeChallenge(
      t,
      'ATTEMPTS',
      `${failures} failed authentications within the window (limit ${t.deps.settings.failureLimit})`,
    );
  }
  return undefined;
};
