// SORACOM Beam signature, version 20151001 (reference: soracom.md §5.2): the hex SHA-256 of the
// pre-shared key followed by every X-Soracom-* header Beam added — except the signature headers —
// written `<lower-case name>=<value>`, sorted, joined with nothing. A plain hash, not an HMAC, as
// SORACOM defines it; receivers check X-Soracom-Timestamp for freshness.

import { createHash } from 'node:crypto';

export const BEAM_SIGNATURE_VERSION = '20151001';

/** The string the signature hashes (exported for tests; holds the PSK, never log it). */
export function beamStringToSign(psk: string, headers: Readonly<Record<string, string>>): string {
  const pairs: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-soracom-') && !lower.startsWith('x-soracom-signature')) {
      pairs.push(`${lower}=${value}`);
    }
  }
  pairs.sort();
  return psk + pairs.join('');
}

/** X-Soracom-Signature (version 20151001) for the X-Soracom-* headers in `headers`, lower-case hex. */
export function beamSignature20151001(psk: string, headers: Readonly<Record<string, string>>): string {
  return createHash('sha256').update(beamStringToSign(psk, headers), 'utf8').digest('hex');
}
