// Step "resynchronise" (RFC 4187 §6.3.1, TS 33.102 §6.3.5): the card found the challenge's SQN out
// of range and answered AT_AUTS. Enforces: AUTS is checked by the AuC (MAC-S over the RAND of our
// challenge) before the SQN moves; a bad one counts as a failed authentication; at most MAX_RESYNCS
// per conversation, so a card that keeps refusing cannot loop us through vectors.

import { findAttribute } from '../../../../lib/eap/rfc-4187-messages.js';
import { refuse, type Step } from '../turn.js';
import { akaChallenge, MAX_RESYNCS } from './challenge.js';

export const resynchronise: Step = (t) => {
  const c = t.conversation;
  const auts = t.message === undefined ? undefined : findAttribute(t.message, 'AT_AUTS');
  if (auts === undefined || c.rand === undefined)
    return refuse(t, 'MALFORMED', 'Synchronization-Failure without AT_AUTS');
  const resyncs = (c.resyncs ?? 0) + 1;
  if (resyncs > MAX_RESYNCS) return refuse(t, 'RESYNC', `more than ${MAX_RESYNCS} synchronisation failures`);
  t.conversation = { ...c, resyncs };
  return akaChallenge(t, { rand: c.rand, auts });
};
