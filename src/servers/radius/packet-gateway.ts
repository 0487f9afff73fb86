// Packet-gateway authorisation (3GPP TS 29.061 §16.4.1–16.4.2): a GGSN/P-GW asks, in an
// Access-Request carrying 3GPP-IMSI, 3GPP-IMEISV, 3GPP-User-Location-Info and the APN in
// Called-Station-Id, whether the subscriber may open a PDP context / PDN connection, and which
// address it gets. Steps:
//
//   read facts → admission (status, IMEI lock, APN policy) → allocate Framed-IP-Address → Accept
//
// A refusal answers Access-Reject with Reply-Message (the admission reason, safe to show); admission
// records it. The Accept carries Framed-IP-Address (RFC 2865 §5.8), the speed class's rate as
// WISPr-Bandwidth-Max-Up/-Down (the same pair a later CoA-Request changes) and Acct-Interim-Interval
// (RFC 2869 §5.16), the reporting period a session that goes silent is judged by (stale-sessions.ts).

import type { Logger } from 'pino';
import type { AttributeInput } from '../../lib/radius/attributes.js';
import { FRAMED_PROTOCOL, SERVICE_TYPE } from '../../lib/radius/dictionary.js';
import { RADIUS_CODES, type RadiusPacket } from '../../lib/radius/rfc-2865-packet.js';
import { rateOf } from '../../platform/aaa/speed-classes.js';
import type { Platform } from '../../platform/platform.js';
import { gatewayFacts } from './ts-29-061.js';

export interface AccessDecision {
  readonly code: number;
  readonly attributes: AttributeInput[];
  /** For logs and metrics. */
  readonly outcome: 'accept' | 'reject';
  readonly reason?: string;
}

const reject = (reason: string): AccessDecision => ({
  code: RADIUS_CODES['Access-Reject'],
  attributes: [['Reply-Message', reason]],
  outcome: 'reject',
  reason,
});

export async function authorizePacketGateway(
  platform: Platform,
  packet: RadiusPacket,
  nas: { address: string; operatorId: string },
  logger: Logger,
): Promise<AccessDecision> {
  const facts = gatewayFacts(packet);
  if (!facts.ok) return reject(`malformed ${facts.attribute}`);
  const { imsi, imeisv, apn } = facts.value;
  if (imsi === undefined) return reject('no 3GPP-IMSI');

  const admitted = await platform.aaa.admit({
    imsi,
    imeisv,
    apn,
    access: 'packet-gateway',
    operatorId: nas.operatorId,
    nasAddress: nas.address,
  });
  if (!admitted.ok) {
    logger.info(
      { imsi, code: admitted.error.code, reason: admitted.error.reason, nas: nas.address },
      'access refused',
    );
    return reject(admitted.error.reason);
  }
  const subscriber = admitted.value;
  if (subscriber.activated) logger.info({ simId: subscriber.simId }, 'SIM activated by its first session');

  const address = await platform.aaa.allocateAddress(subscriber, apn);
  if (address === undefined) {
    logger.warn(
      { simId: subscriber.simId, pool: subscriber.addressPool ?? 'default' },
      'address pool exhausted',
    );
    return reject('address pool exhausted');
  }
  const rate = rateOf(subscriber.speedClass);
  return {
    code: RADIUS_CODES['Access-Accept'],
    outcome: 'accept',
    attributes: [
      ['Service-Type', SERVICE_TYPE.Framed],
      ['Framed-Protocol', FRAMED_PROTOCOL['GPRS-PDP-Context']],
      ['Framed-IP-Address', address],
      ['Framed-IP-Netmask', '255.255.255.255'],
      ['WISPr-Bandwidth-Max-Up', rate.up],
      ['WISPr-Bandwidth-Max-Down', rate.down],
      ['Acct-Interim-Interval', platform.config.radiusInterimIntervalSeconds],
    ],
  };
}
