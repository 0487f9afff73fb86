// The card definition file (JSON): identity, keys, PINs and the card's persistent state (SQN array,
// retry counters, file contents). Loading is total (any JSON gives a card or a typed error); saving
// is atomic (write a temporary file, fsync, rename, fsync the directory), so a crash leaves either
// the old or the new state and the SQN array never goes backwards. docs/card.md describes the format.

import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AKA_ALGORITHMS, type AkaAlgorithm } from '../crypto/aka-algorithm.js';
import { computeOpc, sqnToNumber } from '../crypto/milenage.js';
import {
  type ChecksumAlgorithm,
  type CipherAlgorithm,
  KIC_ALGORITHMS,
  KID_ALGORITHMS,
  type OtaKeySet,
} from '../crypto/ts-102-225-scp80.js';
import { isDigits } from '../lib/bcd.js';
import type { Clock } from '../lib/clock.js';
import { fromHex, toHex } from '../lib/hex.js';
import { iccidWithCheckDigit, isIccid, isImsi } from '../lib/identities.js';
import { type DecodeError, decodeError, ok, type Result } from '../lib/result.js';
import { isApplicationTar, isRfmTar } from '../lib/ts-101-220-tar.js';
import { APPLET_CLASSES } from './applets/index.js';
import {
  checkEuiccSection,
  type EuiccSection,
  euiccSectionOf,
  euiccStateOf,
} from './euicc/card-file-section.js';
import { Euicc } from './euicc/euicc.js';
import { isdrApplets } from './euicc/isd-r-ota.js';
import { ISD_R_TAR } from './euicc/sgp-02-annex-h.js';
import { type CardIdentity, type EfNode, initialContent, isEf, walk } from './file-system.js';
import { CARD_TREE } from './profile.js';
import type { InstalledApplet, ToolkitSetup, ToolkitState } from './toolkit/ts-102-223-runtime.js';
import type { InstallParameters } from './toolkit/ts-102-241-applet-api.js';
import { DEFAULT_SQN_POLICY, emptySeqArray, type SqnPolicy } from './ts-33-102-sqn.js';
import { SW } from './ts-102-221.js';
import { type CardState, encodePin, isPinFormat, type SecretCode, Uicc } from './uicc.js';

export const CARD_FILE_FORMAT = 'simtrust-card/1';

/** Retry counters of a new card (TS 102 221 leaves them to the issuer; these are the usual values). */
export const MAX_RETRIES = { pin1: 3, puk1: 10, adm1: 10 } as const;

export interface CardFile {
  readonly format: typeof CARD_FILE_FORMAT;
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn?: string;
  readonly mncLength: 2 | 3;
  readonly spn?: string;
  /** Hex. Exactly one of opc and op; with op the card derives OPc itself (TS 35.206 §4.1). */
  readonly ki: string;
  readonly opc?: string;
  readonly op?: string;
  /** The USIM's AKA algorithm; absent means Milenage ('test': TS 34.108 §8.1.2, as the TS.48 profiles). */
  readonly algorithm?: AkaAlgorithm;
  /** The AMF an AuC should use for this card (hex); '8000' has the separation bit EAP-AKA' needs. */
  readonly amf: string;
  readonly pin1: string;
  readonly puk1: string;
  readonly adm1: string;
  readonly pin1Enabled: boolean;
  /** Remaining attempts. */
  readonly retries: { readonly pin1: number; readonly puk1: number; readonly adm1: number };
  /** TS 33.102 Annex C: IND length, Δ, optional L, and SEQ_MS per IND. */
  readonly sqn: {
    readonly indBits: number;
    readonly delta: number;
    readonly ageLimit?: number;
    readonly seq: readonly number[];
  };
  /** File contents by path ('3F00/7FF0/6F07': hex, or one hex string per record). */
  readonly files?: Readonly<Record<string, string | readonly string[]>>;
  /** SCP80 key sets (secrets, like Ki) and the TAR of remote file management. */
  readonly ota?: OtaSection;
  /** Toolkit applets installed on the card, in the order they get events. */
  readonly applets?: readonly AppletSection[];
  /** The toolkit's persistent state: applet memory, OTA counters, report counter. */
  readonly toolkit?: ToolkitSection;
  /**
   * An eUICC (docs/euicc.md): EID, ECASD, ISD-R key sets, ISD-Ps. The top-level identity, keys, files
   * and SQN are then those of the enabled profile.
   */
  readonly euicc?: EuiccSection;
}

export interface OtaKeySetSection {
  /** Key version number 1..15: the high nibble of KIc/KID. */
  readonly kvn: number;
  readonly kicAlgorithm: CipherAlgorithm;
  readonly kic: string;
  readonly kidAlgorithm: ChecksumAlgorithm;
  readonly kid: string;
}

export interface OtaSection {
  readonly keysets: readonly OtaKeySetSection[];
  /** TAR of remote file management (6 hex digits), e.g. 'B00000'; absent: no RFM. */
  readonly rfmTar?: string;
}

export interface AppletSection {
  /** The applet class (APPLET_CLASSES), e.g. 'anti-theft'; also the key of its memory. */
  readonly name: string;
  /** Its TAR, 6 hex digits. */
  readonly tar: string;
  /** The key set its reports are secured with. */
  readonly reportKvn: number;
  readonly parameters: InstallParameters;
}

export interface ToolkitSection {
  /** KVN → last accepted CNTR. */
  readonly counters: Readonly<Record<string, number>>;
  readonly reportCounter: number;
  /** Applet name → its persistent memory (hex). */
  readonly appletData: Readonly<Record<string, string>>;
}

const EF_NODES: readonly EfNode[] = walk(CARD_TREE).filter(isEf);
const EF_BY_PATH = new Map(EF_NODES.map((n) => [n.path, n]));

// --- validation (total) ---------------------------------------------------------------------------

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isHexOf = (v: unknown, bytes: number): v is string =>
  typeof v === 'string' && fromHex(v)?.length === bytes;
const isCount = (v: unknown, max: number): v is number =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max;

function fail(field: string, message: string): Result<never> {
  return decodeError('CARD_FILE', `${field}: ${message}`);
}

/** Check a parsed JSON value against the card file format. */
export function parseCardFile(json: unknown): Result<CardFile> {
  if (!isObject(json)) return fail('card', 'must be a JSON object');
  const j = json;
  if (j.format !== CARD_FILE_FORMAT) return fail('format', `must be "${CARD_FILE_FORMAT}"`);
  if (typeof j.iccid !== 'string' || !isIccid(j.iccid))
    return fail('iccid', '19 or 20 digits with a valid Luhn check digit');
  if (typeof j.imsi !== 'string' || !isImsi(j.imsi)) return fail('imsi', '6 to 15 digits');
  if (j.msisdn !== undefined && (typeof j.msisdn !== 'string' || !isDigits(j.msisdn, 1, 15))) {
    return fail('msisdn', '1 to 15 digits');
  }
  if (j.mncLength !== 2 && j.mncLength !== 3) return fail('mncLength', 'must be 2 or 3');
  if (j.spn !== undefined && (typeof j.spn !== 'string' || j.spn.length > 16))
    return fail('spn', 'at most 16 characters');
  if (!isHexOf(j.ki, 16)) return fail('ki', '32 hex digits');
  if ((j.opc === undefined) === (j.op === undefined)) return fail('opc', 'give exactly one of opc and op');
  if (j.opc !== undefined && !isHexOf(j.opc, 16)) return fail('opc', '32 hex digits');
  if (j.op !== undefined && !isHexOf(j.op, 16)) return fail('op', '32 hex digits');
  if (j.algorithm !== undefined && !AKA_ALGORITHMS.includes(j.algorithm as AkaAlgorithm))
    return fail('algorithm', `one of ${AKA_ALGORITHMS.join(', ')}`);
  if (!isHexOf(j.amf, 2)) return fail('amf', '4 hex digits');
  for (const [field, min] of [
    ['pin1', 4],
    ['puk1', 8],
    ['adm1', 1],
  ] as const) {
    const v = j[field];
    if (typeof v !== 'string' || !isPinFormat(encodePin(v), min) || v.length > 8) {
      return fail(field, `${min} to 8 digits`);
    }
  }
  if (typeof j.pin1Enabled !== 'boolean') return fail('pin1Enabled', 'true or false');
  const retries = j.retries;
  if (!isObject(retries)) return fail('retries', 'an object with pin1, puk1, adm1');
  for (const key of ['pin1', 'puk1', 'adm1'] as const) {
    if (!isCount(retries[key], MAX_RETRIES[key])) return fail(`retries.${key}`, `0 to ${MAX_RETRIES[key]}`);
  }
  const sqn = j.sqn;
  if (!isObject(sqn)) return fail('sqn', 'an object with indBits, delta and seq');
  if (!isCount(sqn.indBits, 10)) return fail('sqn.indBits', '0 to 10');
  if (!isCount(sqn.delta, 2 ** 43)) return fail('sqn.delta', 'a non-negative integer');
  if (sqn.ageLimit !== undefined && !isCount(sqn.ageLimit, 2 ** 43))
    return fail('sqn.ageLimit', 'a non-negative integer');
  const maxSeq = 2 ** (48 - sqn.indBits) - 1;
  if (
    !Array.isArray(sqn.seq) ||
    sqn.seq.length !== 2 ** sqn.indBits ||
    !sqn.seq.every((s) => isCount(s, maxSeq))
  ) {
    return fail('sqn.seq', `an array of 2^indBits = ${2 ** sqn.indBits} SEQ values`);
  }
  if (j.files !== undefined) {
    if (!isObject(j.files)) return fail('files', 'an object of path → hex');
    for (const [path, content] of Object.entries(j.files)) {
      const checked = checkFileContent(path, content);
      if (!checked.ok) return checked;
    }
  }
  const toolkit = checkToolkitSections(j);
  if (!toolkit.ok) return toolkit;
  if (j.euicc !== undefined) {
    const ota = isObject(j.ota) && Array.isArray(j.ota.keysets) ? j.ota.keysets : [];
    const kvns = new Set(ota.map((k) => (isObject(k) ? Number(k.kvn) : 0)));
    const euicc = checkEuiccSection(j.euicc, kvns, sqn.seq.length);
    if (!euicc.ok) return euicc;
    const applets = Array.isArray(j.applets) ? j.applets : [];
    if (applets.some((a) => isObject(a) && typeof a.tar === 'string' && a.tar.toUpperCase() === ISD_R_TAR))
      return fail('applets', "TAR 000001 is the ISD-R's on an eUICC (SGP.02 Annex H)");
  }
  return ok(json as unknown as CardFile);
}

const isTar = (v: unknown): v is string => isHexOf(v, 3);
const isKvn = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 15;

function checkToolkitSections(j: Obj): Result<true> {
  const kvns = new Set<number>();
  if (j.ota !== undefined) {
    const ota = j.ota;
    if (!isObject(ota) || !Array.isArray(ota.keysets)) return fail('ota', 'an object with keysets');
    for (const [i, k] of ota.keysets.entries()) {
      const where = `ota.keysets[${i}]`;
      if (!isObject(k) || !isKvn(k.kvn)) return fail(where, 'kvn 1..15');
      if (kvns.has(k.kvn)) return fail(where, `kvn ${k.kvn} appears twice`);
      kvns.add(k.kvn);
      const kic = KIC_ALGORITHMS.find((a) => a.algorithm === k.kicAlgorithm);
      const kid = KID_ALGORITHMS.find((a) => a.algorithm === k.kidAlgorithm);
      if (!kic) return fail(`${where}.kicAlgorithm`, KIC_ALGORITHMS.map((a) => a.algorithm).join(', '));
      if (!kid) return fail(`${where}.kidAlgorithm`, KID_ALGORITHMS.map((a) => a.algorithm).join(', '));
      if (typeof k.kic !== 'string' || !kic.keyLengths.includes(fromHex(k.kic)?.length ?? -1))
        return fail(`${where}.kic`, `a key of ${kic.keyLengths.join(' or ')} bytes (hex)`);
      if (typeof k.kid !== 'string' || !kid.keyLengths.includes(fromHex(k.kid)?.length ?? -1))
        return fail(`${where}.kid`, `a key of ${kid.keyLengths.join(' or ')} bytes (hex)`);
    }
    if (ota.rfmTar !== undefined && !isTar(ota.rfmTar)) return fail('ota.rfmTar', '6 hex digits');
    if (ota.rfmTar !== undefined && !isRfmTar(ota.rfmTar))
      return fail('ota.rfmTar', "a remote file management TAR, 'B00000' to 'B0FFFF' (TS 101 220 Annex D)");
  }
  const names = new Set<string>();
  if (j.applets !== undefined) {
    if (!Array.isArray(j.applets)) return fail('applets', 'an array');
    for (const [i, a] of j.applets.entries()) {
      const where = `applets[${i}]`;
      if (!isObject(a)) return fail(where, 'an object with name, tar, reportKvn, parameters');
      const cls = APPLET_CLASSES.find((c) => c.name === a.name);
      if (!cls) return fail(`${where}.name`, APPLET_CLASSES.map((c) => c.name).join(', '));
      if (names.has(cls.name)) return fail(`${where}.name`, `${cls.name} is installed twice`);
      names.add(cls.name);
      if (!isTar(a.tar)) return fail(`${where}.tar`, '6 hex digits');
      if (!isApplicationTar(a.tar))
        return fail(
          `${where}.tar`,
          "a TAR outside '000000' and 'B00000'-'BFFFFF', which TS 101 220 keeps for the issuer security domain and ETSI/3GPP (RFM); e.g. C0A7C0",
        );
      if (!isKvn(a.reportKvn)) return fail(`${where}.reportKvn`, 'kvn 1..15');
      if (!isObject(a.parameters)) return fail(`${where}.parameters`, 'an object');
      const problem = cls.validate(a.parameters);
      if (problem !== undefined) return fail(`${where}.parameters`, problem);
    }
  }
  if (j.toolkit !== undefined) {
    const t = j.toolkit;
    if (!isObject(t) || !isObject(t.counters) || !isObject(t.appletData))
      return fail('toolkit', 'an object with counters, reportCounter, appletData');
    for (const [kvn, n] of Object.entries(t.counters)) {
      if (!isKvn(Number(kvn)) || String(Number(kvn)) !== kvn || !isCount(n, 0xff_ffff_ffff))
        return fail(`toolkit.counters["${kvn}"]`, 'a kvn 1..15 → a counter 0..FFFFFFFFFF');
    }
    if (!isCount(t.reportCounter, 0xff_ffff_ffff)) return fail('toolkit.reportCounter', '0..FFFFFFFFFF');
    for (const [name, hex] of Object.entries(t.appletData)) {
      if (typeof hex !== 'string' || fromHex(hex) === undefined || hex.length > 4096)
        return fail(`toolkit.appletData["${name}"]`, 'hex, at most 2048 bytes');
    }
  }
  return ok(true);
}

function checkFileContent(path: string, content: unknown): Result<true> {
  const node = EF_BY_PATH.get(path);
  if (node === undefined) return fail(`files["${path}"]`, 'no such EF on this card');
  const d = node.decl;
  if (d.structure === 'transparent') {
    return isHexOf(content, d.size) ? ok(true) : fail(`files["${path}"]`, `${d.size} bytes of hex`);
  }
  if (!Array.isArray(content) || content.length !== d.records || !content.every((r) => isHexOf(r, d.size))) {
    return fail(`files["${path}"]`, `${d.records} records of ${d.size} bytes of hex`);
  }
  return ok(true);
}

// --- building the card ----------------------------------------------------------------------------

export const identityOf = (f: CardFile): CardIdentity => ({
  iccid: f.iccid,
  imsi: f.imsi,
  mncLength: f.mncLength,
  ...(f.msisdn === undefined ? {} : { msisdn: f.msisdn }),
  ...(f.spn === undefined ? {} : { spn: f.spn }),
});

const hexBytes = (text: string): Uint8Array => fromHex(text) ?? new Uint8Array(0);

/** Ki and OPc of a card file (OPc computed from OP when the card holds OP). */
export function keysOf(f: CardFile): { ki: Uint8Array; opc: Uint8Array; algorithm?: AkaAlgorithm } {
  const ki = hexBytes(f.ki);
  return {
    ki,
    opc: f.opc !== undefined ? hexBytes(f.opc) : computeOpc(ki, hexBytes(f.op ?? '')),
    ...(f.algorithm === undefined ? {} : { algorithm: f.algorithm }),
  };
}

export const sqnPolicyOf = (f: CardFile): SqnPolicy =>
  f.sqn.ageLimit === undefined
    ? { indBits: f.sqn.indBits, delta: f.sqn.delta }
    : { indBits: f.sqn.indBits, delta: f.sqn.delta, ageLimit: f.sqn.ageLimit };

/** The card described by a (validated) card file; `clock` is the eUICC's (certificate validity). */
export function cardFromFile(f: CardFile, options: { readonly clock?: Clock } = {}): Uicc {
  const identity = identityOf(f);
  const files = new Map<string, Uint8Array | Uint8Array[]>();
  for (const node of EF_NODES) {
    const stored = f.files?.[node.path];
    if (stored === undefined) files.set(node.path, initialContent(node.decl, identity));
    else files.set(node.path, typeof stored === 'string' ? hexBytes(stored) : stored.map(hexBytes));
  }
  const code = (value: string, remaining: number, max: number): SecretCode => ({
    value: encodePin(value),
    remaining,
    max,
  });
  const toolkit = toolkitStateOf(f);
  const state: CardState = {
    files,
    pin1: code(f.pin1, f.retries.pin1, MAX_RETRIES.pin1),
    puk1: code(f.puk1, f.retries.puk1, MAX_RETRIES.puk1),
    adm1: code(f.adm1, f.retries.adm1, MAX_RETRIES.adm1),
    pin1Enabled: f.pin1Enabled,
    sqnPolicy: sqnPolicyOf(f),
    seqArray: [...f.sqn.seq],
    toolkit,
  };
  const keys = keysOf(f);
  if (f.euicc === undefined) return new Uicc(keys, state, toolkitSetupOf(f));
  // An eUICC: the ISD-R joins the toolkit runtime at its TAR, with its SCP80 key sets.
  const euiccState = euiccStateOf(f.euicc, { identity, ...keys });
  const euicc = new Euicc(euiccState, sqnPolicyOf(f), options.clock);
  const setup = toolkitSetupOf(f);
  const keysets = new Map(setup.keysets);
  // The ISD-R puts its SCP80 key sets (and their counters) there, and keeps them in step as they change.
  euicc.useOta({ keysets, counters: toolkit.counters });
  const psk = (kvn: number) => euiccState.scp81.find((k) => k.kvn === kvn)?.psk;
  return new Uicc(
    keys,
    state,
    { ...setup, keysets, applets: [...isdrApplets(euicc, psk), ...setup.applets] },
    euicc,
  );
}

function toolkitStateOf(f: CardFile): ToolkitState {
  const t = f.toolkit;
  return {
    counters: new Map(Object.entries(t?.counters ?? {}).map(([kvn, n]) => [Number(kvn), n])),
    reportCounter: t?.reportCounter ?? 0,
    appletData: new Map(Object.entries(t?.appletData ?? {}).map(([name, h]) => [name, hexBytes(h)])),
  };
}

/** Applet instances and key sets of a (validated) card file. */
export function toolkitSetupOf(f: CardFile): ToolkitSetup {
  const keysets = new Map<number, OtaKeySet>(
    (f.ota?.keysets ?? []).map((k) => [
      k.kvn,
      {
        kic: { algorithm: k.kicAlgorithm, key: hexBytes(k.kic) },
        kid: { algorithm: k.kidAlgorithm, key: hexBytes(k.kid) },
      },
    ]),
  );
  const applets: InstalledApplet[] = [];
  for (const a of f.applets ?? []) {
    const cls = APPLET_CLASSES.find((c) => c.name === a.name);
    if (cls === undefined) continue;
    applets.push({
      id: a.name,
      tar: hexBytes(a.tar),
      reportKvn: a.reportKvn,
      applet: cls.create(a.parameters),
    });
  }
  return {
    applets,
    keysets,
    ...(f.ota?.rfmTar === undefined ? {} : { rfmTar: hexBytes(f.ota.rfmTar) }),
  };
}

const pinText = (value: Uint8Array): string => {
  let s = '';
  for (const b of value) if (b !== 0xff) s += String.fromCharCode(b);
  return s;
};

/** The card file with the card's current persistent state. */
export function withState(f: CardFile, card: Uicc): CardFile {
  const s = card.snapshot();
  const files: Record<string, string | string[]> = {};
  for (const [path, content] of s.files) {
    files[path] = Array.isArray(content) ? content.map((r) => toHex(r)) : toHex(content);
  }
  const euicc = card.euicc === undefined ? undefined : euiccSectionOf(card.euicc.persistentState());
  const live = euicc?.live;
  return {
    ...f,
    ...(live === undefined
      ? {}
      : {
          iccid: live.identity.iccid,
          imsi: live.identity.imsi,
          msisdn: live.identity.msisdn,
          mncLength: live.identity.mncLength,
          spn: live.identity.spn,
          ki: live.ki,
          opc: live.opc,
          op: undefined,
          // The enabled profile's AKA algorithm follows it (a TS.48 profile runs the test algorithm).
          algorithm: live.algorithm,
        }),
    ...(euicc === undefined ? {} : { euicc: euicc.section }),
    pin1: pinText(s.pin1.value),
    puk1: pinText(s.puk1.value),
    adm1: pinText(s.adm1.value),
    pin1Enabled: s.pin1Enabled,
    retries: { pin1: s.pin1.remaining, puk1: s.puk1.remaining, adm1: s.adm1.remaining },
    sqn: { ...f.sqn, seq: s.seqArray },
    files,
    ...(s.toolkit === undefined || (f.toolkit === undefined && isEmptyToolkit(s.toolkit))
      ? {}
      : {
          toolkit: {
            counters: Object.fromEntries([...s.toolkit.counters].map(([k, n]) => [String(k), n])),
            reportCounter: s.toolkit.reportCounter,
            appletData: Object.fromEntries([...s.toolkit.appletData].map(([k, b]) => [k, toHex(b)])),
          },
        }),
  };
}

const isEmptyToolkit = (t: ToolkitState): boolean =>
  t.counters.size === 0 && t.appletData.size === 0 && t.reportCounter === 0;

// --- a new card -----------------------------------------------------------------------------------

export interface NewCardOptions {
  readonly imsi: string;
  readonly iccid?: string;
  readonly msisdn?: string;
  readonly mncLength?: 2 | 3;
  readonly spn?: string;
  readonly ki?: Uint8Array;
  readonly opc?: Uint8Array;
  readonly algorithm?: AkaAlgorithm;
  readonly amf?: string;
  readonly pin1?: string;
  readonly pin1Enabled?: boolean;
  readonly puk1?: string;
  readonly adm1?: string;
  readonly sqnPolicy?: SqnPolicy;
  /**
   * Start as if the card had already accepted this SQN's SEQ in every IND slot: a card that is
   * ahead of its AuC whichever IND the AuC uses (e.g. after serving another network).
   */
  readonly acceptedSqn?: Uint8Array;
  /** OTA key sets and RFM TAR; toolkit applets to install. */
  readonly ota?: OtaSection;
  readonly applets?: readonly AppletSection[];
}

const randomDigits = (n: number): string => Array.from({ length: n }, () => String(randomInt(10))).join('');

/** A new card with random Ki and OPc (unless given) and random PUK1/ADM1. */
export function newCardFile(o: NewCardOptions): CardFile {
  const ki = o.ki ?? new Uint8Array(randomBytes(16));
  const opc = o.opc ?? new Uint8Array(randomBytes(16));
  const policy = o.sqnPolicy ?? DEFAULT_SQN_POLICY;
  const seq = emptySeqArray(policy);
  if (o.acceptedSqn !== undefined) seq.fill(Math.floor(sqnToNumber(o.acceptedSqn) / 2 ** policy.indBits));
  return {
    format: CARD_FILE_FORMAT,
    // ITU-T E.118: 89 (telecom) + a test issuer prefix, random account digits, Luhn check digit.
    iccid: o.iccid ?? iccidWithCheckDigit(`8900000${randomDigits(11)}`),
    imsi: o.imsi,
    ...(o.msisdn === undefined ? {} : { msisdn: o.msisdn }),
    mncLength: o.mncLength ?? 2,
    ...(o.spn === undefined ? {} : { spn: o.spn }),
    ki: toHex(ki),
    opc: toHex(opc),
    ...(o.algorithm === undefined || o.algorithm === 'milenage' ? {} : { algorithm: o.algorithm }),
    amf: o.amf ?? '8000',
    pin1: o.pin1 ?? '1234',
    puk1: o.puk1 ?? randomDigits(8),
    adm1: o.adm1 ?? randomDigits(8),
    pin1Enabled: o.pin1Enabled ?? false,
    retries: { ...MAX_RETRIES },
    sqn: {
      indBits: policy.indBits,
      delta: policy.delta,
      ...(policy.ageLimit === undefined ? {} : { ageLimit: policy.ageLimit }),
      seq,
    },
    ...(o.ota === undefined ? {} : { ota: o.ota }),
    ...(o.applets === undefined ? {} : { applets: o.applets }),
  };
}

/** The vendor-style CSV line the platform imports: iccid,imsi,msisdn,ki,opc. */
export function csvLine(f: CardFile): string {
  return [f.iccid, f.imsi, f.msisdn ?? '', f.ki, toHex(keysOf(f).opc)].join(',');
}

// --- files on disk --------------------------------------------------------------------------------

export function readCardFile(path: string): Result<CardFile> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return decodeError(
      'CARD_FILE_READ',
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return decodeError('CARD_FILE_JSON', `${path} is not valid JSON`);
  }
  return parseCardFile(json);
}

/**
 * Write atomically: a temporary file in the same directory, fsync, rename over the old file, fsync
 * the directory so the rename itself is durable. Mode 0600: the file holds Ki.
 */
export function writeCardFile(path: string, f: CardFile): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(f, null, 1)}\n`);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * A card bound to its file: every command that changes persistent state is saved before its
 * response is returned. If saving fails the card goes back to the last saved state and answers
 * '6581' (memory problem), as a card whose EEPROM write failed would.
 */
export class PersistentCard {
  #card: Uicc;
  #saved: CardFile;
  #savedVersion: number;
  readonly path: string;

  private constructor(path: string, file: CardFile) {
    this.path = path;
    this.#saved = file;
    this.#card = cardFromFile(file);
    this.#savedVersion = this.#card.version;
  }

  static open(path: string): Result<PersistentCard, DecodeError> {
    const file = readCardFile(path);
    return file.ok ? ok(new PersistentCard(path, file.value)) : file;
  }

  get atr(): Uint8Array {
    return this.#card.atr;
  }

  /** The card file as last saved (identity, AMF, …), e.g. for a bridge's log line. */
  get file(): CardFile {
    return this.#saved;
  }

  reset(): Uint8Array {
    return this.#card.reset();
  }

  transmit(apdu: Uint8Array): Uint8Array {
    const response = this.#card.transmit(apdu);
    if (this.#card.version === this.#savedVersion) return response;
    const next = withState(this.#saved, this.#card);
    try {
      writeCardFile(this.path, next);
    } catch {
      this.#card = cardFromFile(this.#saved);
      this.#savedVersion = this.#card.version;
      return Uint8Array.of(SW.MEMORY_PROBLEM >> 8, SW.MEMORY_PROBLEM & 0xff);
    }
    this.#saved = next;
    this.#savedVersion = this.#card.version;
    return response;
  }
}
