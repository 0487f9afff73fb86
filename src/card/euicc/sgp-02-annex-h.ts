// The fixed identifiers of an SGP.02 eUICC (GSMA SGP.02 §2.2.3 and Annex H; pySim pySim/euicc.py,
// esim.md §1.1). Every AID of the eUICC's security domains is RID 'A0 00 00 05 59' ‖ PIX
// '10 10 FF FF FF FF 89' ‖ TAR (3 octets) ‖ '00', so the TAR a secured packet addresses is read out of
// the AID: the ISD-R's AID ends '00 00 01 00', which is why its TAR is '00 00 01' (SGP.02 §2.2.3: the
// SM-SR addresses the ISD-R by this TAR over SCP80; TS 101 220 Annex D keeps only '00 00 00' for the
// issuer security domain, so '00 00 01' is outside the ETSI/3GPP block). The ISD-P AIDs the SM-SR
// chooses in CreateISDP follow the same layout, with TARs from '00 00 10' on — to verify against
// SGP.02 Annex H (the allocation rule of ISD-P AIDs is listed as open in esim.md §7 item 5).

import { fromHex, toHex } from '../../lib/hex.js';

/** RID ‖ PIX prefix shared by every SGP.02 security domain AID (Annex H). */
export const SGP02_AID_PREFIX = 'A0000005591010FFFFFFFF89';

export const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';
export const ECASD_AID = 'A0000005591010FFFFFFFF8900000200';
/** The executable load file and module CreateISDP instantiates (INSTALL [for install]). */
export const ISD_P_LOAD_FILE_AID = 'A0000005591010FFFFFFFF8900000D00';
export const ISD_P_MODULE_AID = 'A0000005591010FFFFFFFF8900000E00';

/** The TAR of an SGP.02 AID: octets 13–15 (Annex H). */
export function tarOfAid(aid: string): string | undefined {
  const bytes = fromHex(aid);
  if (bytes?.length !== 16 || !aid.toUpperCase().startsWith(SGP02_AID_PREFIX)) return undefined;
  return toHex(bytes.subarray(12, 15)).toUpperCase();
}

export const ISD_R_TAR = '000001';

/** Lowest TAR of an ISD-P (below: ISD-R 000001, ECASD 000002, the load file and module 00000D/00000E). */
const FIRST_ISD_P_TAR = 0x000010;

/** An AID the SM-SR may give a new ISD-P: the Annex H layout, last octet '00', TAR from '000010'. */
export function isIsdpAid(aid: string): boolean {
  const tar = tarOfAid(aid);
  if (tar === undefined || !aid.endsWith('00')) return false;
  return Number.parseInt(tar, 16) >= FIRST_ISD_P_TAR;
}

/** The ISD-P AID with TAR `n` (n ≥ 0x10), e.g. 0x10 → A0000005591010FFFFFFFF8900001000. */
export function isdpAid(n: number): string {
  return `${SGP02_AID_PREFIX}${n.toString(16).toUpperCase().padStart(6, '0')}00`;
}
