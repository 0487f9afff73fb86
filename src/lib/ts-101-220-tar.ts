// Toolkit Application Reference values (ETSI TS 101 220 §6 and Annex D "Allocated TAR values"): which
// TARs an application of our own may use. The TAR is three octets. As this project reads TS 101 220,
// '00 00 00' is the issuer security domain (remote application management, TS 102 226 §8) and the
// block 'B0 00 00' to 'BF FF FF' holds the values ETSI and 3GPP allocate, remote file management from
// 'B0 00 00' (TS 102 226 §7; pySim's OTA vectors use 'B0 00 00' and 'B0 00 11', esim.md §5.3); the
// rest is left to card issuers and application providers. The Annex D table itself was not at hand:
// docs/ota.md says what was and was not checked. Deny by default: the whole 'B0'–'BF' block is kept.

import { fromHex } from './hex.js';

export type TarAllocation = 'issuer_security_domain' | 'etsi_3gpp' | 'application';

/** The allocation blocks, as data (inclusive bounds, 24-bit values). */
export const TAR_BLOCKS: readonly {
  readonly from: number;
  readonly to: number;
  readonly use: TarAllocation;
}[] = [
  { from: 0x000000, to: 0x000000, use: 'issuer_security_domain' },
  { from: 0xb00000, to: 0xbfffff, use: 'etsi_3gpp' },
];

/** Remote file management (TS 102 226 §7): the first block ETSI allocated within 'B0 …'. */
export const RFM_TAR_BLOCK = { from: 0xb00000, to: 0xb0ffff } as const;

/** Which block a TAR (6 hex digits) falls in; undefined when it is not 6 hex digits. */
export function tarAllocation(tar: string): TarAllocation | undefined {
  const bytes = /^[0-9A-Fa-f]{6}$/.test(tar) ? fromHex(tar) : undefined;
  if (bytes?.length !== 3) return undefined;
  const value = ((bytes[0] as number) << 16) | ((bytes[1] as number) << 8) | (bytes[2] as number);
  return TAR_BLOCKS.find((b) => value >= b.from && value <= b.to)?.use ?? 'application';
}

/** A TAR an application of our own (a toolkit applet) may take: outside the reserved blocks. */
export const isApplicationTar = (tar: string): boolean => tarAllocation(tar) === 'application';

const APPLICATION_TARS =
  "an applet takes a TAR outside '000000' and 'B00000'-'BFFFFF', such as the anti-theft default C0A7C0";

/**
 * Why an applet may not take `tar`, as a phrase to follow the field's name; undefined when it may.
 * The card file (applets[].tar) and the platform's provisioning apply this same rule.
 */
export function applicationTarProblem(tar: string): string | undefined {
  switch (tarAllocation(tar)) {
    case 'application':
      return undefined;
    case undefined:
      return `must be 6 hex digits; ${APPLICATION_TARS}`;
    case 'issuer_security_domain':
      return `is '000000', the issuer security domain's TAR (TS 101 220 Annex D); ${APPLICATION_TARS}`;
    case 'etsi_3gpp':
      return `${tar.toUpperCase()} is in 'B00000'-'BFFFFF', which TS 101 220 keeps for ETSI/3GPP applications (remote file management from 'B00000'); ${APPLICATION_TARS}`;
  }
}

/** A TAR in the remote file management block. */
export function isRfmTar(tar: string): boolean {
  const bytes = /^[0-9A-Fa-f]{6}$/.test(tar) ? fromHex(tar) : undefined;
  if (bytes?.length !== 3) return false;
  const value = ((bytes[0] as number) << 16) | ((bytes[1] as number) << 8) | (bytes[2] as number);
  return value >= RFM_TAR_BLOCK.from && value <= RFM_TAR_BLOCK.to;
}
