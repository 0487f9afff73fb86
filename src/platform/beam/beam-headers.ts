// The identity Beam vouches for (soracom.md §5.1): X-Soracom-IMSI / -IMEI / -MSISDN / -SIM-ID as the
// entry's add*Header flags ask, X-Soracom-Timestamp, and with addSignature the version-20151001
// signature over them. Every entry point that forwards over HTTP (the HTTP entry point, UDP/TCP →
// HTTP) builds its headers here, so they cannot differ.

import { BEAM_SIGNATURE_VERSION, beamSignature20151001 } from '../../crypto/soracom-beam-signature.js';
import type { BeamEntry } from './beam-config.js';
import type { SessionOwner } from './session-owner.js';

export type BeamIdentity = Pick<SessionOwner, 'imsi' | 'imei' | 'msisdn' | 'simId'>;

/**
 * The X-Soracom-* headers for one forwarded request, names as SORACOM writes them. `psk` is the
 * resolved pre-shared key when the entry signs (addSignature); an identity the session does not
 * have (no IMEI reported, no MSISDN) is left out rather than sent empty.
 */
export function beamIdentityHeaders(
  owner: BeamIdentity,
  entry: Pick<
    BeamEntry,
    'addSubscriberHeader' | 'addEquipmentHeader' | 'addSimIdHeader' | 'addMsisdnHeader' | 'addSignature'
  >,
  psk: string | undefined,
  nowMs: number,
): Record<string, string> {
  const h: Record<string, string> = {};
  if (entry.addSubscriberHeader) h['X-Soracom-IMSI'] = owner.imsi;
  if (entry.addEquipmentHeader && owner.imei) h['X-Soracom-IMEI'] = owner.imei;
  if (entry.addMsisdnHeader && owner.msisdn) h['X-Soracom-MSISDN'] = owner.msisdn;
  if (entry.addSimIdHeader) h['X-Soracom-SIM-ID'] = owner.simId;
  h['X-Soracom-Timestamp'] = String(Math.trunc(nowMs));
  if (entry.addSignature && psk !== undefined) {
    h['X-Soracom-Signature-Version'] = BEAM_SIGNATURE_VERSION;
    h['X-Soracom-Signature'] = beamSignature20151001(psk, h);
  }
  return h;
}
