// The persistent state of the eUICC (GSMA SGP.02 §2.2.1, esim.md §1.1): the ECASD (EID, CERT.ECASD.ECKA,
// SK.ECASD.ECKA), the ISD-R (its SCP80 and SCP81 key sets, the SM-SR's addressing parameters, the
// default notifications waiting for confirmation) and the ISD-Ps, each with its life-cycle state,
// POL1, fall-back attribute, memory quota and installed profile.
//
// The ENABLED profile is special: its file system, SQN array and keys are the card's live USIM (the
// Uicc's files, seqArray, Ki/OPc) that AUTHENTICATE and READ BINARY use, so its ISD-P keeps only
// identity and keys; enabling another profile swaps the live content with the stored one
// (euicc.ts). Every other installed profile keeps its files and SQN array here.

import type { ChecksumAlgorithm, CipherAlgorithm } from '../../crypto/ts-102-225-scp80.js';
import type { CardIdentity } from '../file-system.js';

/** GP life-cycle states of an ISD-P (SGP.02 Table 1, esim.md §1.1). */
export const LIFE_CYCLE = {
  INSTALLED: 0x03,
  SELECTABLE: 0x07,
  PERSONALIZED: 0x0f,
  DISABLED: 0x1f,
  ENABLED: 0x3f,
} as const;
export type LifeCycle = (typeof LIFE_CYCLE)[keyof typeof LIFE_CYCLE];
export const LIFE_CYCLES: readonly number[] = Object.values(LIFE_CYCLE);

/** POL1 of a profile (SGP.02 §2.4.x / esim.md §3.4): the rules the ISD-R enforces itself. */
export interface Pol1 {
  disableNotAllowed: boolean;
  deleteNotAllowed: boolean;
  deleteWhenDisabled: boolean;
}

export const NO_POL1: Pol1 = { disableNotAllowed: false, deleteNotAllowed: false, deleteWhenDisabled: false };

export type FileContents = Map<string, Uint8Array | Uint8Array[]>;

/** An installed profile: the USIM's identity and keys, and (unless it is enabled) its files and SQN. */
export interface ProfileRecord {
  identity: CardIdentity;
  ki: Uint8Array;
  opc: Uint8Array;
  /** The USIM's AKA algorithm (akaParameter algorithmID); absent = Milenage. */
  algorithm?: 'milenage' | 'test';
  /** Absent while the profile is ENABLED: then its content is the card's live file system. */
  stored?: { files: FileContents; seqArray: number[] };
}

export interface Isdp {
  /** 32 upper-case hex digits (Annex H layout). */
  readonly aid: string;
  state: LifeCycle;
  fallback: boolean;
  /** Non-volatile memory granted at CreateISDP (bytes). */
  readonly memoryQuota: number;
  pol1: Pol1;
  profile?: ProfileRecord;
  /** The SCP03 key set EstablishISDPKeySet gave it (secret), and its SCP03t sequence counter. */
  keyset?: IsdpKeyset;
}

export interface IsdpKeyset {
  readonly kvn: number;
  readonly kid: number;
  /** One key (ENC = MAC = DEK) or three (ENC, MAC, DEK), AES-128. */
  readonly keys: readonly Uint8Array[];
  sequenceCounter: number;
}

/** An ISD-R SCP80 key set (KVN 01–0F): KIc, KID and DEK (esim.md §4.4, "KIc=KI1, KID=KI2, DEK=KI3"). */
export interface Scp80KeySet {
  readonly kvn: number;
  readonly kicAlgorithm: CipherAlgorithm;
  readonly kic: Uint8Array;
  readonly kidAlgorithm: ChecksumAlgorithm;
  readonly kid: Uint8Array;
  readonly dek: Uint8Array;
}

/** An ISD-R SCP81 key set (KVN 40–4F): the PSK of the PSK-TLS session (esim.md §4.5). */
export interface Scp81KeySet {
  readonly kvn: number;
  readonly psk: Uint8Array;
}

/** Where the ISD-R sends what it originates (UpdateSMSRAddressingParameters, STORE DATA 3A07). */
export interface SmsrAddressing {
  /** The SM-SR's SMS address (TP-DA of the notification SMS), digits. */
  destination?: string;
  /** The SMS centre to use, digits (informational: the modem's own SMSC is used otherwise). */
  smsc?: string;
  /** The other parameter TLVs of 3A07 as received (HTTPS, DNS): kept and given back by an audit. */
  other: Uint8Array;
}

/** Notification types of the `E1` TLV (esim.md §1.5, njiwa NotificationMessage "§4.1.1.11"). */
export const NOTIFICATION_TYPE = {
  EUICC_DECLARATION: 0x01,
  PROFILE_CHANGE_SUCCEEDED: 0x02,
  PROFILE_CHANGE_FAILED_ROLLBACK: 0x03,
  VOID: 0x04,
  PROFILE_CHANGE_AFTER_FALLBACK: 0x05,
} as const;

export interface PendingNotification {
  readonly seq: number;
  readonly type: number;
  /** The ISD-P the notification is about (the one now enabled). */
  readonly aid: string;
}

/** A profile change whose notification is not confirmed yet: what a connectivity failure rolls back. */
export interface PendingChange {
  readonly from: string;
  readonly to: string;
  readonly seq: number;
}

export interface EuiccState {
  readonly eid: string;
  /** CERT.ECASD.ECKA as the GP certificate TLV ('7F21 …'), opaque here (the PKI issues it). */
  ecasdCertificate: Uint8Array;
  /** SK.ECASD.ECKA (secret; used by key establishment, ES8). */
  readonly ecasdPrivateKey: Uint8Array;
  /** PK.CI.ECDSA and its key identifier: the root the ECASD verifies SM-DP/SM-SR certificates with. */
  ci?: { readonly keyId: Uint8Array; readonly publicKey: Uint8Array };
  scp80: Scp80KeySet[];
  scp81: Scp81KeySet[];
  smsr: SmsrAddressing;
  /** Non-volatile memory available for ISD-Ps in total (bytes). */
  readonly memory: number;
  isdps: Isdp[];
  /** Next notification sequence number (2 octets, wraps from FFFF to 0001). */
  nextSeq: number;
  notifications: PendingNotification[];
  change?: PendingChange;
  /** The enabled profile has had normal service since it was enabled (connectivity checks, §3.2.2). */
  attached: boolean;
  /** The eUICC declaration (type 01, first attach) has been queued once. */
  declared: boolean;
}

const copyFiles = (files: FileContents): FileContents =>
  new Map([...files].map(([p, c]) => [p, Array.isArray(c) ? c.map((r) => r.slice()) : c.slice()]));

/** A deep copy. `withSecrets: false` leaves keys out (zero-length), as Uicc.snapshot() promises. */
export function copyEuiccState(s: EuiccState, withSecrets: boolean): EuiccState {
  const secret = (b: Uint8Array) => (withSecrets ? b.slice() : new Uint8Array(0));
  return {
    eid: s.eid,
    ecasdCertificate: s.ecasdCertificate.slice(),
    ecasdPrivateKey: secret(s.ecasdPrivateKey),
    ...(s.ci === undefined ? {} : { ci: { keyId: s.ci.keyId.slice(), publicKey: s.ci.publicKey.slice() } }),
    scp80: s.scp80.map((k) => ({ ...k, kic: secret(k.kic), kid: secret(k.kid), dek: secret(k.dek) })),
    scp81: s.scp81.map((k) => ({ kvn: k.kvn, psk: secret(k.psk) })),
    smsr: { ...s.smsr, other: s.smsr.other.slice() },
    memory: s.memory,
    isdps: s.isdps.map((i) => ({
      aid: i.aid,
      state: i.state,
      fallback: i.fallback,
      memoryQuota: i.memoryQuota,
      pol1: { ...i.pol1 },
      ...(i.keyset === undefined ? {} : { keyset: { ...i.keyset, keys: i.keyset.keys.map(secret) } }),
      ...(i.profile === undefined
        ? {}
        : {
            profile: {
              identity: { ...i.profile.identity },
              ki: secret(i.profile.ki),
              opc: secret(i.profile.opc),
              ...(i.profile.algorithm === undefined ? {} : { algorithm: i.profile.algorithm }),
              ...(i.profile.stored === undefined
                ? {}
                : {
                    stored: {
                      files: copyFiles(i.profile.stored.files),
                      seqArray: [...i.profile.stored.seqArray],
                    },
                  }),
            },
          }),
    })),
    nextSeq: s.nextSeq,
    notifications: s.notifications.map((n) => ({ ...n })),
    ...(s.change === undefined ? {} : { change: { ...s.change } }),
    attached: s.attached,
    declared: s.declared,
  };
}

export const copyFileContents = copyFiles;

/** Bytes a profile's files take (the memory an ISD-P uses, for the audit's remaining memory). */
export function filesSize(files: FileContents): number {
  let n = 0;
  for (const c of files.values()) n += Array.isArray(c) ? c.reduce((a, r) => a + r.length, 0) : c.length;
  return n;
}
