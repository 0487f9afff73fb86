// The contract between the RADIUS server (RFC 3579 transport) and the EAP methods (EAP-AKA, EAP-AKA',
// EAP-SIM in ./eap/). The server hands every Access-Request that carries EAP-Message to an
// EapHandler and turns its outcome into the answer: Access-Accept / -Reject / -Challenge with the EAP
// packet split over EAP-Message attributes, State, MS-MPPE-Recv/Send-Key from `msk` (RFC 2548),
// Message-Authenticator and the Response Authenticator. The handler never sees the shared secret.

import type { RadiusPacket } from '../../lib/radius/rfc-2865-packet.js';

export interface EapRequestContext {
  /** The decoded Access-Request (already authenticated: Message-Authenticator verified). */
  readonly packet: RadiusPacket;
  /** The EAP packet, reassembled from the EAP-Message attributes (RFC 3579 §3.1). */
  readonly eapMessage: Uint8Array;
  /** The State attribute of the request, when present (RFC 2865 §5.24). */
  readonly state: Uint8Array | undefined;
  /**
   * The NAS client the request came from. `operatorId` (an addition to the first draft of this
   * contract) is the operator owning the NAS: subscribers of other operators must be refused.
   */
  readonly client: { readonly address: string; readonly name: string; readonly operatorId: string };
  /** Source IP address of the datagram. */
  readonly sourceAddress: string;
}

export interface EapOutcome {
  readonly code: 'accept' | 'reject' | 'challenge';
  /** The EAP packet to send (Request, Success or Failure). */
  readonly eapMessage: Uint8Array;
  /** Sent as State (≤ 253 octets) so the next round can continue, on this or another instance. */
  readonly state?: Uint8Array;
  /** With `accept`: the 64-octet MSK, sent as MS-MPPE-Recv-Key (MSK[0..31]) / Send-Key (MSK[32..63]). */
  readonly msk?: Uint8Array;
  /** With `accept`: User-Name for the Access-Accept (RFC 3579 §2.6.2: the identity to account under). */
  readonly userName?: string;
  /** With `accept`: who was authenticated (for logs and metrics). */
  readonly subscriber?: { readonly operatorId: string; readonly simId: string; readonly imsi: string };
}

export interface EapHandler {
  handle(ctx: EapRequestContext): Promise<EapOutcome>;
}
