// The SIM inventory's vocabulary: types, statuses, speed classes, and validation of the fields a
// SIM profile is made of (ICCID per ITU-T E.118, IMSI per 3GPP TS 23.003 §2, Ki/OPc per TS 35.206).

import type { AkaAlgorithm } from '../../crypto/aka-algorithm.js';
import { computeOpc } from '../../crypto/milenage.js';
import { fromHex } from '../../lib/hex.js';
import { hasValidLuhn } from '../../lib/luhn.js';
import type { PreviousSession, SessionStatus } from '../aaa/sessions.js';
import type { SimLocalInfo } from '../ota/local-info.js';
import type { SpeedClass } from './statuses.js';

export const SIM_TYPES = ['uicc', 'euicc', 'virtual'] as const;
export type SimType = (typeof SIM_TYPES)[number];

export {
  EXPIRY_ACTIONS,
  type ExpiryAction,
  SIM_STATUSES,
  type SimStatus,
  SPEED_CLASSES,
  type SpeedClass,
} from './statuses.js';

export const DEFAULT_SPEED_CLASS: SpeedClass = 's1.standard';

/** AMF with the separation bit (TS 33.102 Annex H) set, as EPS and EAP-AKA' require. */
export const DEFAULT_AMF = '8000';

export interface ImeiLock {
  readonly imei: string;
  /** Admit a session that reports no IMEI (SORACOM's `<imei>|ANONYMOUS`). */
  readonly allowAnonymous: boolean;
}

export interface SubscriberView {
  readonly imsi: string;
  readonly msisdn: string | null;
}

export interface ProfileView {
  readonly iccid: string;
  readonly primaryImsi: string;
  readonly subscribers: Record<string, SubscriberView>;
  /** eUICC profiles only: Created | Disabled | Enabled | handed-over (SGP.02 §5.1.1.1). */
  readonly state?: string;
  /** eUICC profiles only: the MNO id (OID) owning the profile. */
  readonly mnoId?: string;
  /** eUICC profiles only: the SM-DP profile type it was downloaded as (null: not known). */
  readonly profileType?: string | null;
}

/** What the API returns for a SIM. It has no field that could carry Ki or OPc. */
export interface SimView {
  readonly simId: string;
  readonly operatorId: string;
  readonly type: string;
  /** eUICC SIMs only: the EID (SGP.02; the SIM id of an eUICC is its EID). */
  readonly eid?: string;
  /** eUICC SIMs only: the SM-SR a switch handed the eUICC over to, and when (null: ours manages it). */
  readonly handedOver?: { readonly smsrId: string; readonly time: number } | null;
  readonly status: string;
  readonly speedClass: string;
  readonly groupId: string | null;
  readonly tags: Record<string, string>;
  readonly imeiLock: ImeiLock | null;
  readonly terminationEnabled: boolean;
  readonly serialNumber: string | null;
  readonly activeProfileId: string | null;
  readonly profiles: Record<string, ProfileView>;
  /** The data session as accounting reports it (null before the first one). */
  readonly sessionStatus: SessionStatus | null;
  /** The session that ended last (null when none has ended). */
  readonly previousSession: PreviousSession | null;
  /** The IMEI and cell the card last reported through the toolkit (report_local_info); null: never. */
  readonly localInfo: SimLocalInfo | null;
  /** Unix ms when the SIM expires (setSimExpiryTime); null: no expiry. */
  readonly expiryTime: number | null;
  /** What happens at expiryTime (EXPIRY_ACTIONS); null with no expiry. */
  readonly expiryAction: string | null;
  readonly createdTime: number;
  readonly lastModifiedTime: number;
}

/** The fields of one SIM profile as a card vendor delivers them (strings, unvalidated). */
export interface ProfileInput {
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn?: string | undefined;
  readonly ki: string;
  readonly opc?: string | undefined;
  readonly op?: string | undefined;
  readonly amf?: string | undefined;
}

/** A validated profile: identity fields normalised, Ki and OPc as bytes (OP already folded in). */
export interface ValidProfile {
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn: string | null;
  readonly ki: Uint8Array;
  readonly opc: Uint8Array;
  readonly amf: string;
}

export type ProfileCheck = { ok: true; profile: ValidProfile } | { ok: false; reason: string };

export function isValidIccid(iccid: string): boolean {
  return /^\d{18,20}$/.test(iccid) && hasValidLuhn(iccid);
}

/** Checks a vendor profile. Reasons name the field and the rule but never echo Ki/OP/OPc. */
export function checkProfile(input: ProfileInput): ProfileCheck {
  const iccid = input.iccid.trim();
  const imsi = input.imsi.trim();
  const msisdn = input.msisdn?.trim().replace(/^\+/, '') || null;
  if (!/^\d{18,20}$/.test(iccid)) return { ok: false, reason: 'iccid must have 18 to 20 digits' };
  if (!hasValidLuhn(iccid)) return { ok: false, reason: 'iccid has a bad Luhn check digit' };
  if (!/^\d{6,15}$/.test(imsi)) return { ok: false, reason: 'imsi must have 6 to 15 digits' };
  if (msisdn !== null && !/^\d{1,15}$/.test(msisdn))
    return { ok: false, reason: 'msisdn must have 1 to 15 digits' };
  const ki = fromHex(input.ki.trim());
  if (ki?.length !== 16) return { ok: false, reason: 'ki must be 32 hex digits' };
  const opcText = input.opc?.trim() ?? '';
  const opText = input.op?.trim() ?? '';
  if ((opcText === '') === (opText === '')) return { ok: false, reason: 'give exactly one of opc or op' };
  let opc: Uint8Array;
  if (opcText !== '') {
    const bytes = fromHex(opcText);
    if (bytes?.length !== 16) return { ok: false, reason: 'opc must be 32 hex digits' };
    opc = bytes;
  } else {
    const op = fromHex(opText);
    if (op?.length !== 16) return { ok: false, reason: 'op must be 32 hex digits' };
    // TS 35.206 §4.1: OPc = E_K(OP) ⊕ OP. Only OPc is stored, so OP never sits beside a Ki.
    opc = computeOpc(ki, op);
  }
  const amf = (input.amf?.trim() || DEFAULT_AMF).toLowerCase();
  if (!/^[0-9a-f]{4}$/.test(amf)) return { ok: false, reason: 'amf must be 4 hex digits' };
  return { ok: true, profile: { iccid, imsi, msisdn, ki, opc, amf } };
}

/** Parses SORACOM's IMEI-lock form `<imei>` or `<imei>|ANONYMOUS`. */
export function parseImeiLock(text: string): ImeiLock | { error: string } {
  const [imei = '', suffix, ...rest] = text.trim().split('|');
  if (rest.length > 0 || (suffix !== undefined && suffix !== 'ANONYMOUS')) {
    return { error: 'imei must be <IMEI> or <IMEI>|ANONYMOUS' };
  }
  if (!/^\d{14,15}$/.test(imei) || (imei.length === 15 && !hasValidLuhn(imei))) {
    return { error: 'imei must be 14 digits, or 15 digits with a valid Luhn check digit' };
  }
  return { imei, allowAnonymous: suffix === 'ANONYMOUS' };
}

/** Ki ‖ OPc, the plaintext sealed in `sim_profiles.secrets`, bound to the ICCID. */
export const profileSecretContext = (iccid: string) => `sim-profile:${iccid}`;

/**
 * Ki ‖ OPc, then one byte `03` when the USIM runs the TS 34.108 test algorithm (SAIP algorithmID 3)
 * instead of Milenage. The choice is sealed with the keys on purpose: the test algorithm's AUTN
 * carries K ⊕ RAND in clear, so a database write that switched a SIM to it would leak the SIM's Ki
 * over the air; inside the sealed value it cannot be changed without the key ring.
 */
export function packSecrets(ki: Uint8Array, opc: Uint8Array, algorithm: AkaAlgorithm = 'milenage'): Buffer {
  return algorithm === 'test' ? Buffer.concat([ki, opc, TEST_ALGORITHM_MARK]) : Buffer.concat([ki, opc]);
}

const TEST_ALGORITHM_MARK = Uint8Array.of(0x03);

export function unpackSecrets(packed: Uint8Array): { ki: Buffer; opc: Buffer; algorithm: AkaAlgorithm } {
  const b = Buffer.from(packed);
  const algorithm = b.length === 33 && b[32] === 0x03 ? 'test' : 'milenage';
  return { ki: b.subarray(0, 16), opc: b.subarray(16, 32), algorithm };
}
