// What a packet gateway tells its AAA server (3GPP TS 29.061 §16.4): the subscriber (3GPP-IMSI, or a
// numeric User-Name), the device (3GPP-IMEISV), the APN (Called-Station-Id), the serving cell
// (3GPP-User-Location-Info, 3GPP-RAT-Type) and, in accounting, the address and counters. Reading is
// total: an attribute that does not decode is reported by name, never thrown.

import { getAttribute, getAttributes } from '../../lib/radius/attributes.js';
import { RAT_TYPE } from '../../lib/radius/dictionary.js';
import type { RadiusPacket } from '../../lib/radius/rfc-2865-packet.js';
import type { UserLocationInfo } from '../../lib/radius/ts-29-061-location.js';
import type { Cell } from '../../platform/aaa/sessions.js';

export interface GatewayFacts {
  readonly imsi: string | undefined;
  readonly imeisv: string | undefined;
  readonly apn: string | undefined;
  readonly cell: Cell | undefined;
  readonly framedIp: string | undefined;
}

export type Facts<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly attribute: string };

const RAT_NAMES = new Map<number, string>([
  [RAT_TYPE.UTRAN, 'utran'],
  [RAT_TYPE.GERAN, 'geran'],
  [RAT_TYPE.WLAN, 'wlan'],
  [RAT_TYPE['HSPA-Evolution'], 'utran'],
  [RAT_TYPE.EUTRAN, 'eutran'],
  [RAT_TYPE['EUTRAN-NB-IoT'], 'nb-iot'],
  [RAT_TYPE['LTE-M'], 'lte-m'],
  [RAT_TYPE.NR, 'nr'],
]);

/** The API's cell from a User-Location-Info (TS 29.061 §16.4.7.2) and the RAT type, if any. */
export function cellOf(uli: UserLocationInfo, ratType: number | undefined): Cell | undefined {
  const rat = ratType === undefined ? undefined : RAT_NAMES.get(ratType);
  switch (uli.type) {
    case 'CGI':
      return { radioType: rat ?? 'geran', mcc: uli.mcc, mnc: uli.mnc, lac: uli.lac, ci: uli.ci };
    case 'SAI':
      return { radioType: rat ?? 'utran', mcc: uli.mcc, mnc: uli.mnc, lac: uli.lac, sac: uli.sac };
    case 'RAI':
      return { radioType: rat ?? 'utran', mcc: uli.mcc, mnc: uli.mnc, lac: uli.lac, rac: uli.rac };
    case 'TAI':
      return { radioType: rat ?? 'eutran', mcc: uli.mcc, mnc: uli.mnc, tac: uli.tac };
    case 'ECGI':
      return { radioType: rat ?? 'eutran', mcc: uli.mcc, mnc: uli.mnc, eci: uli.eci };
    case 'TAI+ECGI':
      return { radioType: rat ?? 'eutran', mcc: uli.mcc, mnc: uli.mnc, tac: uli.tac, eci: uli.eci };
    default:
      return undefined;
  }
}

/** Reads the TS 29.061 §16.4 subscriber, device, APN, location and address facts of a request. */
export function gatewayFacts(packet: RadiusPacket): Facts<GatewayFacts> {
  const imsiAttr = getAttribute(packet, '3GPP-IMSI');
  if (imsiAttr && !imsiAttr.ok) return { ok: false, attribute: '3GPP-IMSI' };
  let imsi = imsiAttr?.value;
  if (imsi === undefined) {
    // TS 29.061 §16.4.2: User-Name is whatever the gateway is configured to send; a bare IMSI is common.
    const user = getAttribute(packet, 'User-Name');
    if (user?.ok && /^\d{6,15}$/.test(user.value)) imsi = user.value;
  }
  const imeisv = getAttribute(packet, '3GPP-IMEISV');
  if (imeisv && !imeisv.ok) return { ok: false, attribute: '3GPP-IMEISV' };
  const apn = getAttribute(packet, 'Called-Station-Id');
  if (apn && !apn.ok) return { ok: false, attribute: 'Called-Station-Id' };
  const uli = getAttribute(packet, '3GPP-User-Location-Info');
  if (uli && !uli.ok) return { ok: false, attribute: '3GPP-User-Location-Info' };
  const rat = getAttribute(packet, '3GPP-RAT-Type');
  if (rat && !rat.ok) return { ok: false, attribute: '3GPP-RAT-Type' };
  const ip = getAttribute(packet, 'Framed-IP-Address');
  if (ip && !ip.ok) return { ok: false, attribute: 'Framed-IP-Address' };
  return {
    ok: true,
    value: {
      imsi,
      imeisv: imeisv?.value.trim() || undefined,
      apn: apn?.value.trim().toLowerCase() || undefined,
      cell: uli ? cellOf(uli.value, rat?.value) : undefined,
      framedIp: ip?.value,
    },
  };
}

/** RFC 2865 §5.33: Proxy-State attributes are copied, unmodified and in order, into the answer. */
export function proxyStates(packet: RadiusPacket): Array<readonly ['Proxy-State', Uint8Array]> {
  const states = getAttributes(packet, 'Proxy-State');
  return states.ok ? states.value.map((v) => ['Proxy-State', v] as const) : [];
}
