// OTA key sets and the anti-theft applet of a SIM, where SIMs come in (docs/anti-theft.md,
// "Provisioning"): the `ota` section of POST /v1/sims (a simtrust extension beside SORACOM's createSim
// fields) and the OTA columns of the card vendor CSV (kic, kid, kvn, quarantine_imsi).
//
// Pure checks: what they return goes to OtaService.provision in the transaction that creates the SIM.
// KIc and KID are secrets like Ki: no reason returned here ever contains their value.

import type { ChecksumAlgorithm, CipherAlgorithm } from '../../crypto/ts-102-225-scp80.js';
import { isValidChecksumKey, isValidCipherKey } from '../../crypto/ts-102-225-scp80.js';
import { fromHex } from '../../lib/hex.js';
import { applicationTarProblem } from '../../lib/ts-101-220-tar.js';
import type { AntiTheftProvision, OtaKeySetInput } from '../ota/ota-service.js';
import type { Executor } from '../store/database.js';

/** The CSV columns of this module, all optional; kic and kid go together. */
export const OTA_CSV_COLUMNS = ['kic', 'kid', 'kvn', 'quarantine_imsi'] as const;

const CIPHERS: readonly CipherAlgorithm[] = ['aes-cbc', '3des-2key-cbc', '3des-3key-cbc', 'des-cbc'];
const CHECKSUMS: readonly ChecksumAlgorithm[] = [
  'aes-cmac',
  '3des-2key-cbc-mac',
  '3des-3key-cbc-mac',
  'des-cbc-mac',
];

/** One key set as the API takes it (hex keys; AES unless said otherwise). */
export interface OtaKeySetFields {
  readonly kvn: number;
  readonly kic: string;
  readonly kid: string;
  readonly kicAlgorithm?: CipherAlgorithm | undefined;
  readonly kidAlgorithm?: ChecksumAlgorithm | undefined;
}

/** The `ota` section of POST /v1/sims. */
export interface SimOtaInput {
  readonly keySets: readonly OtaKeySetFields[];
  readonly antiTheft?:
    | {
        readonly quarantineImsi: string;
        /** The key set commands are secured with; default: the first key set's. */
        readonly kvn?: number | undefined;
        /** The key set the applet's alerts come under; default: kvn. */
        readonly reportKvn?: number | undefined;
        readonly tar?: string | undefined;
      }
    | undefined;
}

export interface ValidSimOta {
  readonly keysets: readonly OtaKeySetInput[];
  readonly antiTheft?: AntiTheftProvision;
}

export type OtaCheck = { ok: true; ota: ValidSimOta } | { ok: false; reason: string };

const isKvn = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 15;

function keyOf(text: string, name: string, kvn: number, fits: (key: Uint8Array) => boolean) {
  const key = /^[0-9a-fA-F]*$/.test(text.trim()) ? fromHex(text.trim()) : undefined;
  if (key === undefined || key.length === 0 || !fits(key))
    return `${name} of key version ${kvn} must be hex of its algorithm's key length (AES: 32, 48 or 64 hex digits)`;
  return key;
}

/** Checks the API's `ota` section for a SIM whose IMSI is `imsi`. */
export function checkSimOta(input: SimOtaInput, imsi: string): OtaCheck {
  if (!Array.isArray(input.keySets) || input.keySets.length === 0 || input.keySets.length > 15)
    return { ok: false, reason: 'ota.keySets must hold 1 to 15 key sets' };
  const keysets: OtaKeySetInput[] = [];
  for (const k of input.keySets) {
    if (!isKvn(k.kvn)) return { ok: false, reason: 'ota.keySets[].kvn must be 1 to 15' };
    if (keysets.some((x) => x.kvn === k.kvn))
      return { ok: false, reason: `ota.keySets: key version ${k.kvn} appears twice` };
    const kicAlgorithm = k.kicAlgorithm ?? 'aes-cbc';
    const kidAlgorithm = k.kidAlgorithm ?? 'aes-cmac';
    if (!CIPHERS.includes(kicAlgorithm))
      return { ok: false, reason: `ota.keySets[].kicAlgorithm must be one of ${CIPHERS.join(', ')}` };
    if (!CHECKSUMS.includes(kidAlgorithm))
      return { ok: false, reason: `ota.keySets[].kidAlgorithm must be one of ${CHECKSUMS.join(', ')}` };
    const kic = keyOf(String(k.kic ?? ''), 'kic', k.kvn, (key) =>
      isValidCipherKey({ algorithm: kicAlgorithm, key }),
    );
    if (typeof kic === 'string') return { ok: false, reason: kic };
    const kid = keyOf(String(k.kid ?? ''), 'kid', k.kvn, (key) =>
      isValidChecksumKey({ algorithm: kidAlgorithm, key }),
    );
    if (typeof kid === 'string') return { ok: false, reason: kid };
    keysets.push({ kvn: k.kvn, kicAlgorithm, kic, kidAlgorithm, kid });
  }
  const a = input.antiTheft;
  if (a === undefined) return { ok: true, ota: { keysets } };
  const kvn = a.kvn ?? (keysets[0] as OtaKeySetInput).kvn;
  const reportKvn = a.reportKvn ?? kvn;
  if (!keysets.some((k) => k.kvn === kvn) || !keysets.some((k) => k.kvn === reportKvn))
    return {
      ok: false,
      reason: 'ota.antiTheft.kvn and reportKvn must name key versions given in ota.keySets',
    };
  const quarantineImsi = String(a.quarantineImsi ?? '').trim();
  if (!/^\d{6,15}$/.test(quarantineImsi))
    return { ok: false, reason: 'ota.antiTheft.quarantineImsi must have 6 to 15 digits' };
  if (quarantineImsi === imsi)
    return { ok: false, reason: "ota.antiTheft.quarantineImsi must differ from the SIM's own IMSI" };
  if (a.tar !== undefined && (typeof a.tar !== 'string' || !/^[0-9A-Fa-f]{6}$/.test(a.tar)))
    return { ok: false, reason: 'ota.antiTheft.tar must be 6 hex digits' };
  // The same rule as the card file's applets[].tar (TS 101 220 §6): no TAR of a reserved block.
  const tarProblem = a.tar === undefined ? undefined : applicationTarProblem(a.tar);
  if (tarProblem !== undefined) return { ok: false, reason: `ota.antiTheft.tar ${tarProblem}` };
  return {
    ok: true,
    ota: {
      keysets,
      antiTheft: {
        kvn,
        reportKvn,
        quarantineImsi,
        ...(a.tar === undefined ? {} : { tar: a.tar.toUpperCase() }),
      },
    },
  };
}

/**
 * The OTA columns of one CSV row: none filled → undefined (a SIM without OTA); otherwise kic and kid
 * (AES, hex), kvn (1–15, default 1) and, for the anti-theft applet, quarantine_imsi (its command and
 * report key set are that kvn). Reasons name the column, never its value.
 */
export function otaOfCsvRow(
  field: (name: (typeof OTA_CSV_COLUMNS)[number]) => string | undefined,
  imsi: string,
): { ok: true; ota: ValidSimOta | undefined } | { ok: false; reason: string } {
  const [kic, kid, kvnText, quarantine] = OTA_CSV_COLUMNS.map((c) => field(c)?.trim() ?? '');
  if (kic === '' && kid === '' && kvnText === '' && quarantine === '') return { ok: true, ota: undefined };
  if (kic === '' || kid === '')
    return { ok: false, reason: 'OTA keys need both kic and kid (hex; kvn and quarantine_imsi optional)' };
  if (kvnText !== '' && !/^\d{1,2}$/.test(kvnText as string))
    return { ok: false, reason: 'kvn must be a key version from 1 to 15' };
  const kvn = kvnText === '' ? 1 : Number(kvnText);
  if (!isKvn(kvn)) return { ok: false, reason: 'kvn must be a key version from 1 to 15' };
  const checked = checkSimOta(
    {
      keySets: [{ kvn, kic: kic as string, kid: kid as string }],
      ...(quarantine === '' ? {} : { antiTheft: { quarantineImsi: quarantine as string } }),
    },
    imsi,
  );
  if (!checked.ok)
    return {
      ok: false,
      reason: checked.reason
        .replace('ota.antiTheft.quarantineImsi', 'quarantine_imsi')
        .replace(/ of key version \d+/, ''),
    };
  return { ok: true, ota: checked.ota };
}

/**
 * Which of these quarantine IMSIs are taken: another SIM's quarantine identity, or a subscriber's
 * IMSI (a quarantine identity must be no subscriber, or the AAA would admit it).
 */
export async function takenQuarantineImsis(db: Executor, imsis: readonly string[]): Promise<Set<string>> {
  if (imsis.length === 0) return new Set();
  const [quarantined, subscribers] = await Promise.all([
    db
      .selectFrom('anti_theft_sims')
      .select('quarantine_imsi')
      .where('quarantine_imsi', 'in', imsis)
      .execute(),
    db.selectFrom('sim_profiles').select('imsi').where('imsi', 'in', imsis).execute(),
  ]);
  return new Set([...quarantined.map((r) => r.quarantine_imsi), ...subscribers.map((r) => r.imsi)]);
}

export const quarantineTaken = (imsi: string) =>
  `quarantine IMSI ${imsi} is already a subscriber IMSI or another SIM's quarantine identity; choose an unused IMSI`;
