// Steps for the answers that end a conversation from the peer's side, and for what fits no flow:
// - an AKA-Authentication-Reject (RFC 4187 §6.3.2: the card refused AUTN — wrong keys, or a network
//   it does not trust) counts as a failed authentication of the SIM;
// - a Client-Error (RFC 4187 §6.3.2, RFC 4186 §6.3.2) ends it;
// - the acknowledgement of our failure notification gets the EAP-Failure it announced;
// - anything unexpected for the phase ends the conversation (RFC 3748 §4.1 would discard it, but a
//   RADIUS server must answer, and a conversation out of step cannot continue safely).

import { findAttribute, SIM_AKA_SUBTYPES } from '../../../../lib/eap/rfc-4187-messages.js';
import { eapFailurePacket } from '../server-messages.js';
import { refuse, type Step } from '../turn.js';

export const authenticationRejected: Step = (t) =>
  refuse(t, 'PEER_REJECT', 'the peer rejected the network authentication (AUTN)', { countFailure: true });

export const clientError: Step = (t) => {
  const code = t.message === undefined ? undefined : findAttribute(t.message, 'AT_CLIENT_ERROR_CODE');
  return refuse(t, 'CLIENT_ERROR', `the peer reported client error ${code ?? '(none)'}`);
};

export const failureAcknowledged: Step = (t) => {
  const failure = eapFailurePacket(t.eap.identifier);
  return {
    code: 'reject',
    eapMessage: failure.ok ? failure.value : new Uint8Array([4, t.eap.identifier, 0, 4]),
  };
};

const SUBTYPE_NAMES = new Map<number, string>(Object.entries(SIM_AKA_SUBTYPES).map(([name, n]) => [n, name]));

export const unexpected: Step = (t) => {
  const what =
    t.message === undefined
      ? `EAP type ${t.eap.type ?? 'none'}`
      : `${t.message.method} ${SUBTYPE_NAMES.get(t.message.subtype) ?? `subtype ${t.message.subtype}`}`;
  return refuse(t, 'UNEXPECTED', `unexpected ${what} while in phase ${t.conversation.phase}`);
};
