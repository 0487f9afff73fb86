// Issuing an eUICC, as its manufacturer (EUM) would: an EID, the ECASD key pair (SK/PK.ECASD.ECKA on
// NIST P-256), the ISD-R key sets (SCP80 KVN 01: AES KIc/KID/DEK; SCP81 KVN 40: a PSK) and the first
// ISD-P holding the bootstrap profile (enabled, fall-back attribute set) — and the EIS, the eUICC
// Information Set the EUM registers at the SM-SR over ES1 (esim.md §2, SGP.02 Annex E). CERT.ECASD.ECKA
// is the EUM's to sign (src/platform/esim/ci): it is given here as bytes when known, and left empty
// otherwise (the EIS then carries the public key for the EUM to certify).

import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import { toHex } from '../../lib/hex.js';
import { parseEid, withEidCheckDigits } from '../../lib/sgp-02-eid.js';
import { type CardFile, type NewCardOptions, newCardFile } from '../card-file.js';
import type { EuiccSection } from './card-file-section.js';
import { LIFE_CYCLE } from './euicc-state.js';
import {
  ECASD_AID,
  ISD_P_LOAD_FILE_AID,
  ISD_P_MODULE_AID,
  ISD_R_AID,
  ISD_R_TAR,
  isdpAid,
  tarOfAid,
} from './sgp-02-annex-h.js';

export interface NewEuiccOptions extends NewCardOptions {
  /** 32 digits (check digits verified) or 30 (completed); default: 89 + a test EUM prefix + random. */
  readonly eid?: string;
  /** CERT.ECASD.ECKA from the EUM (GP certificate bytes). */
  readonly ecasdCertificate?: Uint8Array;
  /** The SM-SR's SMS address: where the ISD-R sends its notifications. */
  readonly smsrAddress?: string;
  /** The SM-SR that manages the eUICC (its OID), recorded in the EIS. */
  readonly smsrId?: string;
  readonly eumId?: string;
  /** Memory for ISD-Ps (bytes); default 256 KiB. */
  readonly memory?: number;
  /** PK.CI.ECDSA and its key identifier: the ECASD verifies SM-DP/SM-SR certificates with it. */
  readonly ci?: { readonly keyId: Uint8Array; readonly publicKey: Uint8Array };
}

export const DEFAULT_EUICC_MEMORY = 256 * 1024;
const BOOTSTRAP_QUOTA = 16 * 1024;

/** The ECASD key pair: P-256 private scalar (32 bytes) and the public point 04‖X‖Y. */
export function newEcasdKeyPair(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = privateKey.export({ format: 'jwk' });
  const pub = publicKey.export({ format: 'der', type: 'spki' });
  return {
    privateKey: new Uint8Array(Buffer.from(jwk.d ?? '', 'base64url')),
    // SubjectPublicKeyInfo of a P-256 key ends with the 65-byte uncompressed point.
    publicKey: new Uint8Array(pub.subarray(pub.length - 65)),
  };
}

export interface IssuedEuicc {
  readonly file: CardFile;
  /** The EIS for RegisterEIS (holds ISD-R keys: keep it as secret as the card file). */
  readonly eis: Eis;
}

export interface Eis {
  readonly eid: string;
  readonly eumId?: string;
  readonly productionDate: string;
  readonly platformType: string;
  readonly platformVersion: string;
  readonly isdPLoadFileAid: string;
  readonly isdPModuleAid: string;
  readonly ecasd: {
    readonly aid: string;
    readonly role: 'ECASD';
    readonly certificate: string;
    readonly publicKey: string;
  };
  readonly euiccCapabilities: {
    readonly cattpSupport: boolean;
    readonly httpSupport: boolean;
    readonly securePacketVersion: string;
    readonly remoteProvisioningVersion: string;
  };
  readonly remainingMemory: number;
  readonly availableMemoryForProfiles: number;
  readonly smsrId?: string;
  readonly profiles: readonly {
    readonly iccid: string;
    readonly isdPAid: string;
    readonly state: 'Enabled' | 'Disabled' | 'Created';
    readonly fallbackAttribute: boolean;
    readonly subscriptionAddress: { readonly imsi: string; readonly msisdn?: string };
    readonly allocatedMemory: number;
    readonly pol2: readonly never[];
  }[];
  readonly isdR: {
    readonly aid: string;
    readonly tar: readonly string[];
    readonly role: 'ISD-R';
    readonly keysets: readonly {
      readonly version: number;
      readonly type: 'SCP80' | 'SCP81';
      readonly cntr?: number;
      /** Key type '88' = AES (GP); index 1 KIc / PSK, 2 KID, 3 DEK. */
      readonly keys: readonly { readonly index: number; readonly type: '88'; readonly value: string }[];
    }[];
  };
}

/** A new eUICC card file and its EIS. */
export function newEuiccCardFile(o: NewEuiccOptions): IssuedEuicc {
  // A test EUM's prefix and 14 random digits; a given EID of 32 digits must carry its check digits.
  const given =
    o.eid ??
    `8904903200000000${String(randomInt(1e7)).padStart(7, '0')}${String(randomInt(1e7)).padStart(7, '0')}`;
  const eid = given.length === 32 ? parseEid(given) : withEidCheckDigits(given);
  if (!eid.ok) throw new RangeError(eid.error.message);
  const base = newCardFile(o);
  const ecasd = newEcasdKeyPair();
  const kic = toHex(randomBytes(16));
  const kid = toHex(randomBytes(16));
  const dek = toHex(randomBytes(16));
  const psk = toHex(randomBytes(16));
  const memory = o.memory ?? DEFAULT_EUICC_MEMORY;
  const bootstrap = isdpAid(0x10);
  const section: EuiccSection = {
    eid: eid.value,
    ecasd: {
      certificate: toHex(o.ecasdCertificate ?? new Uint8Array(0)),
      privateKey: toHex(ecasd.privateKey),
      ...(o.ci === undefined ? {} : { ci: { keyId: toHex(o.ci.keyId), publicKey: toHex(o.ci.publicKey) } }),
    },
    isdr: {
      scp80: [{ kvn: 1, kicAlgorithm: 'aes-cbc', kic, kidAlgorithm: 'aes-cmac', kid, dek }],
      scp81: [{ kvn: 0x40, psk }],
      smsr: o.smsrAddress === undefined ? {} : { destination: o.smsrAddress },
    },
    memory,
    isdps: [
      {
        aid: bootstrap,
        state: LIFE_CYCLE.ENABLED,
        fallback: true,
        memory: BOOTSTRAP_QUOTA,
        pol1: { disableNotAllowed: false, deleteNotAllowed: true, deleteWhenDisabled: false },
      },
    ],
    notifications: { next: 1, pending: [] },
    attached: false,
    declared: false,
  };
  const file: CardFile = { ...base, euicc: section };
  const eis: Eis = {
    eid: eid.value,
    ...(o.eumId === undefined ? {} : { eumId: o.eumId }),
    productionDate: new Date().toISOString(),
    platformType: 'simtrust-software-euicc',
    platformVersion: '1.0.0',
    isdPLoadFileAid: ISD_P_LOAD_FILE_AID,
    isdPModuleAid: ISD_P_MODULE_AID,
    ecasd: {
      aid: ECASD_AID,
      role: 'ECASD',
      certificate: section.ecasd.certificate,
      publicKey: toHex(ecasd.publicKey),
    },
    euiccCapabilities: {
      cattpSupport: false,
      httpSupport: true,
      securePacketVersion: '9.2.0',
      remoteProvisioningVersion: '3.1.0',
    },
    remainingMemory: memory - BOOTSTRAP_QUOTA,
    availableMemoryForProfiles: memory,
    ...(o.smsrId === undefined ? {} : { smsrId: o.smsrId }),
    profiles: [
      {
        iccid: base.iccid,
        isdPAid: bootstrap,
        state: 'Enabled',
        fallbackAttribute: true,
        subscriptionAddress: {
          imsi: base.imsi,
          ...(base.msisdn === undefined ? {} : { msisdn: base.msisdn }),
        },
        allocatedMemory: BOOTSTRAP_QUOTA,
        pol2: [],
      },
    ],
    isdR: {
      aid: ISD_R_AID,
      tar: [tarOfAid(ISD_R_AID) ?? ISD_R_TAR],
      role: 'ISD-R',
      keysets: [
        {
          version: 1,
          type: 'SCP80',
          cntr: 0,
          keys: [
            { index: 1, type: '88', value: kic },
            { index: 2, type: '88', value: kid },
            { index: 3, type: '88', value: dek },
          ],
        },
        { version: 0x40, type: 'SCP81', keys: [{ index: 1, type: '88', value: psk }] },
      ],
    },
  };
  return { file, eis };
}
