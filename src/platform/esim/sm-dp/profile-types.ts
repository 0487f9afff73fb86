// SM-DP profile preparation (SGP.02 §3.1 step 1: the ProfileType of ES2.DownloadProfile): a small
// registry of profile types, each turning one SIM of the inventory (ICCID, IMSI, MSISDN, Ki/OPc and
// the AKA algorithm sealed with them) into a TCA/SIMalliance eUICC Profile Package (DER).
//
//   simtrust-usim  built for the SIM by the SAIP builder (MF, USIM, Milenage akaParameter, PINs);
//   ts48-generic   the GSMA TS.48 generic test profile v1 A exactly as published (test algorithm,
//                  K 000102…0f): its contents are fixed, so it is only prepared for an inventory SIM
//                  that IS that profile (same ICCID, IMSI and K, sealed as a test-algorithm SIM) —
//                  the AuC then serves the downloaded profile.
//
// The package holds Ki/OPc in clear: it only lives in the SM-DP's memory during a download (rebuilt
// from the inventory when a restarted download needs it), is never stored, logged or returned.

import { constantTimeEqual } from '../../../crypto/constant-time.js';
import { err, ok, type Result } from '../../../lib/result.js';
import { buildProfilePackage, decodeProfilePackage, readProfile } from '../../../lib/saip-profile-package.js';
import type { SmdpFailureCode } from './failure-codes.js';
import { TS48_V1_A_BASE64 } from './ts48-generic-profile.js';

/** A SIM of the inventory as the SM-DP sees it while preparing its profile. */
export interface InventorySim {
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn?: string | undefined;
  readonly ki: Uint8Array;
  readonly opc: Uint8Array;
  readonly algorithm: 'milenage' | 'test';
}

export interface PreparationError {
  readonly code: Extract<SmdpFailureCode, `SMDP_PROFILE_${string}`>;
  readonly message: string;
}

export interface ProfileType {
  readonly name: string;
  /** ES3.CreateISDP RequiredMemory (bytes) for a profile of this type. */
  readonly requiredMemory: number;
  prepare(sim: InventorySim): Result<Uint8Array, PreparationError>;
}

const refuse = (code: PreparationError['code'], message: string): Result<never, PreparationError> =>
  err({ code, message });

const simtrustUsim: ProfileType = {
  name: 'simtrust-usim',
  requiredMemory: 32 * 1024,
  prepare(sim) {
    if (sim.algorithm !== 'milenage')
      return refuse('SMDP_PROFILE_ALGORITHM', 'simtrust-usim profiles run Milenage; this SIM does not');
    try {
      return ok(
        buildProfilePackage({
          iccid: sim.iccid,
          imsi: sim.imsi,
          ...(sim.msisdn ? { msisdn: sim.msisdn } : {}),
          ki: sim.ki,
          opc: sim.opc,
          profileType: 'simtrust-usim',
        }),
      );
    } catch (e) {
      // The builder refuses values a profile cannot carry (RangeError); never echo key material.
      return refuse(
        'SMDP_PROFILE_BUILD',
        `the inventory data does not make a profile: ${(e as Error).message}`,
      );
    }
  },
};

const TS48 = new Uint8Array(Buffer.from(TS48_V1_A_BASE64, 'base64'));

const ts48Generic: ProfileType = {
  name: 'ts48-generic',
  requiredMemory: 32 * 1024,
  prepare(sim) {
    const pes = decodeProfilePackage(TS48);
    const contents = pes.ok ? readProfile(pes.value) : pes;
    if (!contents.ok) return refuse('SMDP_PROFILE_BUILD', contents.error.message);
    const p = contents.value;
    const aka = p.aka.find((a) => a.naa === 'usim') ?? p.aka[0];
    if (
      sim.algorithm !== 'test' ||
      sim.iccid !== p.iccid ||
      sim.imsi !== p.imsi ||
      aka === undefined ||
      !constantTimeEqual(sim.ki, aka.k)
    )
      return refuse(
        'SMDP_PROFILE_MISMATCH',
        'the TS.48 generic profile is fixed: the inventory SIM must carry its ICCID, IMSI and K (test algorithm)',
      );
    return ok(TS48.slice());
  },
};

export const PROFILE_TYPES: ReadonlyMap<string, ProfileType> = new Map(
  [simtrustUsim, ts48Generic].map((t) => [t.name, t]),
);

export const DEFAULT_PROFILE_TYPE = 'simtrust-usim';

/** The published TS.48 package (a copy), e.g. to import its SIM into the inventory. */
export function ts48GenericPackage(): Uint8Array {
  return TS48.slice();
}
