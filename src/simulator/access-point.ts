// A Wi-Fi access point as RADIUS sees it (RFC 3579, RFC 3580): it relays a device's EAP conversation
// in Access-Requests — EAP-Message split into 253-octet attributes, the server's State echoed back,
// Message-Authenticator always — until Access-Accept or -Reject, and takes the MSK from
// MS-MPPE-Recv-Key / -Send-Key (RFC 2548, decrypted with the shared secret) to check it against the
// device's own, as 802.11 does with the PMK. Used by the EAP benchmark and the tests.

import { constantTimeEqual } from '../crypto/constant-time.js';
import type { AttributeInput } from '../lib/radius/attributes.js';
import { getAttribute } from '../lib/radius/attributes.js';
import { NAS_PORT_TYPE } from '../lib/radius/dictionary.js';
import { decryptMppeKey } from '../lib/radius/rfc-2548-mppe.js';
import type { Secret } from '../lib/radius/rfc-2865-authenticators.js';
import { RADIUS_CODES } from '../lib/radius/rfc-2865-packet.js';
import { eapMessageAttributes, reassembleEapMessage } from '../lib/radius/rfc-3579-eap-message.js';
import type { EapPeer } from './eap-peer.js';
import type { RadiusClient } from './radius-client.js';

export interface ApAuthentication {
  readonly accepted: boolean;
  /** Access-Requests it took. */
  readonly roundTrips: number;
  /** MS-MPPE-Recv-Key ‖ Send-Key equal the device's MSK[0..64) (undefined when not accepted). */
  readonly keysMatch?: boolean;
  readonly reason?: string;
}

const MAX_ROUNDS = 12;

export async function authenticateThroughAp(
  radius: RadiusClient,
  secret: Secret,
  peer: EapPeer,
  o: { userName: string; calledStationId?: string; callingStationId?: string },
): Promise<ApAuthentication> {
  let eap = peer.start(Math.floor(Math.random() * 256));
  let state: Uint8Array | undefined;
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    const attributes: AttributeInput[] = [
      ['User-Name', o.userName],
      ['NAS-Port-Type', NAS_PORT_TYPE['Wireless-802.11']],
      ['Called-Station-Id', o.calledStationId ?? '02-00-00-00-00-01:simtrust'],
      ['Calling-Station-Id', o.callingStationId ?? '02-00-00-00-00-02'],
      ['Framed-MTU', 1400],
      ...eapMessageAttributes(eap),
      ...(state === undefined ? [] : ([['State', state]] as const)),
    ];
    const { packet, requestAuthenticator } = await radius.request(RADIUS_CODES['Access-Request'], attributes);
    const message = reassembleEapMessage(packet);
    if (!message.ok || message.value === undefined)
      return { accepted: false, roundTrips: round, reason: 'answer without EAP-Message' };
    const next = peer.respond(message.value);
    if (packet.code === RADIUS_CODES['Access-Reject']) {
      return {
        accepted: false,
        roundTrips: round,
        reason: next.kind === 'failure' ? next.reason : 'Access-Reject',
      };
    }
    if (packet.code === RADIUS_CODES['Access-Accept']) {
      if (next.kind !== 'success')
        return { accepted: true, roundTrips: round, keysMatch: false, reason: 'peer did not succeed' };
      const recv = getAttribute(packet, 'MS-MPPE-Recv-Key');
      const send = getAttribute(packet, 'MS-MPPE-Send-Key');
      const msk = next.msk;
      let keysMatch = false;
      if (recv?.ok && send?.ok && msk !== undefined) {
        const r = decryptMppeKey(recv.value, secret, requestAuthenticator);
        const s = decryptMppeKey(send.value, secret, requestAuthenticator);
        keysMatch =
          r.ok &&
          s.ok &&
          constantTimeEqual(r.value, msk.subarray(0, 32)) &&
          constantTimeEqual(s.value, msk.subarray(32, 64));
      }
      return { accepted: true, roundTrips: round, keysMatch };
    }
    if (next.kind !== 'respond')
      return {
        accepted: false,
        roundTrips: round,
        reason: next.kind === 'failure' ? next.reason : 'peer ended early',
      };
    const s = getAttribute(packet, 'State');
    state = s?.ok ? s.value : undefined;
    eap = next.packet;
  }
  return { accepted: false, roundTrips: MAX_ROUNDS, reason: 'too many rounds' };
}
