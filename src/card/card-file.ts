// The card definition file (JSON): identity, keys, PINs and the card's persistent state (SQN array,
// retry counters, file contents). Loading is total (any JSON gives a card or a typed error); saving
// is atomic (write a temporary file, fsync, rename, fsync the directory), so a crash leaves either
// the old or the new state and the SQN array never goes backwards. docs/card.md describes the format.

import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { computeOpc, sqnToNumber } from '../crypto/milenage.js';
import { isDigits } from '../lib/bcd.js';
import { fromHex, toHex } from '../lib/hex.js';
import { iccidWithCheckDigit, isIccid, isImsi } from '../lib/identities.js';
import { type DecodeError, decodeError, ok, type Result } from '../lib/result.js';
import { type CardIdentity, type EfNode, initialContent, isEf, walk } from './file-system.js';
import { CARD_TREE } from './profile.js';
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
  return ok(json as unknown as CardFile);
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
export function keysOf(f: CardFile): { ki: Uint8Array; opc: Uint8Array } {
  const ki = hexBytes(f.ki);
  return { ki, opc: f.opc !== undefined ? hexBytes(f.opc) : computeOpc(ki, hexBytes(f.op ?? '')) };
}

export const sqnPolicyOf = (f: CardFile): SqnPolicy =>
  f.sqn.ageLimit === undefined
    ? { indBits: f.sqn.indBits, delta: f.sqn.delta }
    : { indBits: f.sqn.indBits, delta: f.sqn.delta, ageLimit: f.sqn.ageLimit };

/** The card described by a (validated) card file. */
export function cardFromFile(f: CardFile): Uicc {
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
  const state: CardState = {
    files,
    pin1: code(f.pin1, f.retries.pin1, MAX_RETRIES.pin1),
    puk1: code(f.puk1, f.retries.puk1, MAX_RETRIES.puk1),
    adm1: code(f.adm1, f.retries.adm1, MAX_RETRIES.adm1),
    pin1Enabled: f.pin1Enabled,
    sqnPolicy: sqnPolicyOf(f),
    seqArray: [...f.sqn.seq],
  };
  return new Uicc(keysOf(f), state);
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
  return {
    ...f,
    pin1: pinText(s.pin1.value),
    puk1: pinText(s.puk1.value),
    adm1: pinText(s.adm1.value),
    pin1Enabled: s.pin1Enabled,
    retries: { pin1: s.pin1.remaining, puk1: s.puk1.remaining, adm1: s.adm1.remaining },
    sqn: { ...f.sqn, seq: s.seqArray },
    files,
  };
}

// --- a new card -----------------------------------------------------------------------------------

export interface NewCardOptions {
  readonly imsi: string;
  readonly iccid?: string;
  readonly msisdn?: string;
  readonly mncLength?: 2 | 3;
  readonly spn?: string;
  readonly ki?: Uint8Array;
  readonly opc?: Uint8Array;
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
