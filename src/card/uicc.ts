// The software UICC with its USIM: everything happens through `transmit(commandApdu)`, which always
// returns a response APDU (data + status word) and never throws. Behaviour follows ETSI TS 102 221
// §11 and 3GPP TS 31.102 §7; the refusals and their status words are listed in docs/card.md and
// exercised by test/card/apdu-scripts.test.ts.
//
// Ki and OPc live in private fields that no command reads: AUTHENTICATE uses them and returns only
// derived values (RES, CK, IK, Kc, AUTS), which is the property the rest of the project relies on.

import { type AkaAlgorithm, akaBuildAuts, akaGsm, akaVerifyAutn } from '../crypto/aka-algorithm.js';
import { constantTimeEqual } from '../crypto/constant-time.js';
import { c3Kc } from '../crypto/gsm-milenage.js';
import { toHex } from '../lib/hex.js';
import { DfNameTlv } from '../lib/ts-102-221-tlv.js';
import type { Euicc, SecurityDomain } from './euicc/euicc.js';
import type { EuiccState } from './euicc/euicc-state.js';
import {
  type AccessCondition,
  type DfNode,
  type EfNode,
  type FileNode,
  isDf,
  isEf,
  walk,
} from './file-system.js';
import { type CommandApdu, encodeResponseApdu, expectedLength, parseCommandApdu } from './iso-7816-4.js';
import { CARD_TREE } from './profile.js';
import {
  CardToolkit,
  emptyToolkitState,
  type ToolkitSetup,
  type ToolkitState,
} from './toolkit/ts-102-223-runtime.js';
import {
  AUTH_CONTEXT,
  decodeGsmChallenge,
  decodeUmtsChallenge,
  EF_UST,
  encodeGsmResult,
  encodeUmtsResult,
  hasService,
  USIM_SERVICE,
} from './ts-31-102.js';
import { checkFreshness, type SqnPolicy } from './ts-33-102-sqn.js';
import { ATR, buildFcp, INS, type InstructionName, KEY_REFERENCE, SW } from './ts-102-221.js';

/** A PIN or PUK: its value (8 bytes, ASCII digits padded with FF) and retry counter. */
export interface SecretCode {
  value: Uint8Array;
  remaining: number;
  readonly max: number;
}

/** Everything about the card that survives a power cycle (and goes into the card file). */
export interface CardState {
  /** File contents by path ('3F00/7FF0/6F07'); record EFs hold one array per record. */
  files: Map<string, Uint8Array | Uint8Array[]>;
  pin1: SecretCode;
  puk1: SecretCode;
  adm1: SecretCode;
  pin1Enabled: boolean;
  readonly sqnPolicy: SqnPolicy;
  seqArray: number[];
  /** Applet stores, OTA counters, report counter (absent on a card made before the toolkit). */
  toolkit?: ToolkitState;
  /** An eUICC's ECASD, ISD-R and ISD-Ps, without keys (snapshots only; the Euicc holds the live state). */
  euicc?: EuiccState;
}

export interface CardKeys {
  readonly ki: Uint8Array;
  readonly opc: Uint8Array;
  /** The USIM's AKA algorithm: Milenage unless the profile says the TS 34.108 test algorithm. */
  readonly algorithm?: AkaAlgorithm;
}

/** TS 102 221 §9.5.2: a PIN is 4 to 8 ASCII digits, padded to 8 bytes with FF. */
export function encodePin(pin: string): Uint8Array {
  const out = new Uint8Array(8).fill(0xff);
  for (let i = 0; i < pin.length && i < 8; i++) out[i] = pin.charCodeAt(i);
  return out;
}

export function isPinFormat(bytes: Uint8Array, minDigits = 4): boolean {
  let digits = 0;
  while (digits < 8 && (bytes[digits] as number) >= 0x30 && (bytes[digits] as number) <= 0x39) digits++;
  for (let i = digits; i < 8; i++) if (bytes[i] !== 0xff) return false;
  return bytes.length === 8 && digits >= minDigits;
}

type Reply = { readonly data?: Uint8Array; readonly sw: number };

const reply = (sw: number, data?: Uint8Array): Reply => (data === undefined ? { sw } : { sw, data });

/** Map from INS byte to its declaration. */
const INSTRUCTIONS = new Map<number, { name: InstructionName; cla: 'iso' | 'proprietary' }>(
  (Object.entries(INS) as [InstructionName, (typeof INS)[InstructionName]][]).map(([name, d]) => [
    d.ins,
    { name, cla: d.cla },
  ]),
);

const ALL_NODES = walk(CARD_TREE);
const APPLICATIONS = ALL_NODES.filter((n): n is DfNode => n.decl.kind === 'adf');
const UST_PATH = ALL_NODES.find((n) => n.decl === EF_UST)?.path ?? '';

export class Uicc {
  #ki: Uint8Array;
  #opc: Uint8Array;
  #algorithm: AkaAlgorithm;
  readonly #state: CardState;
  readonly #toolkit: CardToolkit;
  readonly #euicc: Euicc | undefined;
  #version = 0;

  // Session state, cleared by reset(): what is selected and which keys were verified.
  #currentDf: DfNode = CARD_TREE;
  #currentEf: EfNode | undefined;
  #currentRecord: number | undefined;
  #currentApp: DfNode | undefined;
  #verified = new Set<'pin1' | 'adm1'>();
  #pending: Uint8Array | undefined;
  /** eUICC: the security domain selected by AID (ECASD or ISD-R), until another SELECT. */
  #sd: SecurityDomain | undefined;

  /**
   * `toolkit` installs applets and OTA key sets (secrets like Ki: kept by the toolkit runtime, never in
   * a snapshot). Without it the card still answers the toolkit instructions, with no applet.
   * `euicc` makes it an eUICC (euicc/euicc.ts): `keys` are then the enabled profile's, and enabling
   * another profile swaps the live files, SQN array and keys through the hooks given here.
   */
  constructor(keys: CardKeys, state: CardState, toolkit?: ToolkitSetup, euicc?: Euicc) {
    if (keys.ki.length !== 16 || keys.opc.length !== 16) throw new RangeError('Ki and OPc are 16 bytes');
    this.#ki = keys.ki.slice();
    this.#opc = keys.opc.slice();
    this.#algorithm = keys.algorithm ?? 'milenage';
    this.#state = state;
    this.#euicc = euicc;
    euicc?.attach({
      files: state.files,
      getSeqArray: () => state.seqArray,
      setSeqArray: (seq) => {
        state.seqArray = seq;
      },
      // An enabled profile brings its keys, and its algorithm when its akaParameter names one.
      setKeys: (ki: Uint8Array, opc: Uint8Array, algorithm: AkaAlgorithm = 'milenage') => {
        this.#ki = ki.slice();
        this.#opc = opc.slice();
        this.#algorithm = algorithm;
      },
      changed: () => this.#changed(),
    });
    state.toolkit ??= emptyToolkitState();
    this.#toolkit = new CardToolkit(
      toolkit ?? { applets: [], keysets: new Map() },
      state.toolkit,
      state.files,
      () => this.#changed(),
    );
  }

  get atr(): Uint8Array {
    return ATR.slice();
  }

  /** The eUICC this card carries, if it is one (the card file saves its state). */
  get euicc(): Euicc | undefined {
    return this.#euicc;
  }

  /** Toolkit sessions ended because applet code threw (see CardToolkit.faults); 0 on a sound card. */
  get toolkitFaults(): number {
    return this.#toolkit.faults;
  }

  /** Increases whenever persistent state (files, counters, PIN state, SQN) changes. */
  get version(): number {
    return this.#version;
  }

  /** A copy of the persistent state, to save. Never includes Ki or OPc. */
  snapshot(): CardState {
    const files = new Map<string, Uint8Array | Uint8Array[]>();
    for (const [path, content] of this.#state.files) {
      files.set(path, Array.isArray(content) ? content.map((r) => r.slice()) : content.slice());
    }
    const copy = (c: SecretCode): SecretCode => ({
      value: c.value.slice(),
      remaining: c.remaining,
      max: c.max,
    });
    return {
      files,
      pin1: copy(this.#state.pin1),
      puk1: copy(this.#state.puk1),
      adm1: copy(this.#state.adm1),
      pin1Enabled: this.#state.pin1Enabled,
      sqnPolicy: this.#state.sqnPolicy,
      seqArray: [...this.#state.seqArray],
      toolkit: copyToolkitState(this.#state.toolkit ?? emptyToolkitState()),
      ...(this.#euicc === undefined ? {} : { euicc: this.#euicc.snapshot() }),
    };
  }

  /** Cold or warm reset (ISO 7816-3): selection, verified PINs and pending data are forgotten. */
  reset(): Uint8Array {
    this.#currentDf = CARD_TREE;
    this.#currentEf = undefined;
    this.#currentRecord = undefined;
    this.#currentApp = undefined;
    this.#verified = new Set();
    this.#pending = undefined;
    this.#sd = undefined;
    this.#toolkit.reset();
    this.#euicc?.reset();
    return this.atr;
  }

  /** Process one command APDU and return the response APDU. Never throws. */
  transmit(command: Uint8Array): Uint8Array {
    const pending = this.#pending;
    this.#pending = undefined;
    let r: Reply;
    try {
      r = this.#withProactive(this.#dispatch(command, pending));
    } catch {
      // A bug must not take the reader loop down; 6F00 is what a card answers to its own fault, and
      // the fuzz test fails on it so such bugs do not stay hidden.
      this.#pending = undefined;
      r = reply(SW.TECHNICAL_PROBLEM);
    }
    return encodeResponseApdu(r.data ?? new Uint8Array(0), r.sw);
  }

  /**
   * TS 102 221 §7.4.2.2 / §10.2.1.1: while a proactive command waits for FETCH, a command that ends
   * normally ('9000') answers '91XX' instead, XX the command's length.
   */
  #withProactive(r: Reply): Reply {
    const n = this.#toolkit.pendingLength();
    if (r.sw !== SW.OK || n === undefined) return r;
    return reply(SW.PROACTIVE_COMMAND_PENDING | (n & 0xff), r.data);
  }

  #dispatch(bytes: Uint8Array, pending: Uint8Array | undefined): Reply {
    const parsed = parseCommandApdu(bytes);
    if (!parsed.ok) return reply(SW.WRONG_LENGTH);
    const c = parsed.value;
    const cls = classOf(c.cla);
    if (typeof cls === 'number' && cls === SW.CLA_NOT_SUPPORTED) return reply(cls);
    if (this.#euicc !== undefined) {
      const r = this.#securityDomain(c, this.#euicc);
      if (r !== undefined) return r;
    }
    const ins = INSTRUCTIONS.get(c.ins);
    if (ins === undefined) return reply(SW.INS_NOT_SUPPORTED);
    if (typeof cls === 'number') return reply(cls);
    if (ins.cla !== cls) return reply(SW.CLA_NOT_SUPPORTED);
    switch (ins.name) {
      case 'SELECT':
        return this.#select(c);
      case 'STATUS':
        return this.#status(c);
      case 'READ_BINARY':
        return this.#readBinary(c);
      case 'UPDATE_BINARY':
        return this.#updateBinary(c);
      case 'READ_RECORD':
        return this.#readRecord(c);
      case 'UPDATE_RECORD':
        return this.#updateRecord(c);
      case 'VERIFY_PIN':
        return this.#verifyPin(c);
      case 'CHANGE_PIN':
        return this.#changePin(c);
      case 'DISABLE_PIN':
      case 'ENABLE_PIN':
        return this.#setPinEnabled(c, ins.name === 'ENABLE_PIN');
      case 'UNBLOCK_PIN':
        return this.#unblockPin(c);
      case 'AUTHENTICATE':
        return this.#authenticate(c);
      case 'GET_RESPONSE':
        return this.#getResponse(c, pending);
      case 'MANAGE_CHANNEL':
        return reply(SW.LOGICAL_CHANNEL_NOT_SUPPORTED);
      case 'TERMINAL_PROFILE':
        if (c.p1 !== 0 || c.p2 !== 0) return reply(SW.INCORRECT_P1_P2);
        return this.#toolkit.terminalProfile(c.data);
      case 'FETCH':
        if (c.p1 !== 0 || c.p2 !== 0) return reply(SW.INCORRECT_P1_P2);
        return this.#toolkit.fetch(c.le);
      case 'TERMINAL_RESPONSE':
        if (c.p1 !== 0 || c.p2 !== 0) return reply(SW.INCORRECT_P1_P2);
        return this.#toolkit.terminalResponse(c.data);
      case 'ENVELOPE': {
        if (c.p1 !== 0 || c.p2 !== 0) return reply(SW.INCORRECT_P1_P2);
        const r = this.#toolkit.envelope(c.data);
        return r.data === undefined ? reply(r.sw) : this.#respond(c, r.data, r.sw);
      }
    }
  }

  /**
   * eUICC: SELECT of the ECASD or ISD-R by AID, and the GlobalPlatform commands (GET DATA, STORE DATA,
   * INSTALL, DELETE, GET STATUS) while one is selected. Undefined: the command is the UICC's.
   */
  #securityDomain(c: CommandApdu, euicc: Euicc): Reply | undefined {
    if (c.ins === 0xa4) {
      this.#sd = undefined;
      if (c.p1 !== 0x04 || c.data.length < 5 || this.#resolveAid(c.data) !== undefined) return undefined;
      const selected = euicc.terminalSelect(c.data);
      if (selected === undefined) return undefined;
      if (c.p2 !== 0x00 && c.p2 !== 0x04 && c.p2 !== 0x0c) return reply(SW.INCORRECT_P1_P2);
      this.#sd = selected.sd;
      return c.p2 === 0x0c ? reply(SW.OK) : this.#respond(c, selected.fci);
    }
    if (this.#sd === undefined || !GP_INSTRUCTIONS.has(c.ins)) return undefined;
    const r = euicc.terminalCommand(this.#sd, c);
    return r.data.length === 0 ? reply(r.sw) : this.#respond(c, r.data, r.sw);
  }

  // --- response data: T=0 GET RESPONSE and Le handling ---------------------------------------------

  /**
   * Outgoing data of a case 4 command. Without Le (a T=0 TPDU cannot carry both Lc and Le) the data
   * waits for GET RESPONSE behind '61XX'; with Le it is returned at once, up to Ne bytes.
   */
  #respond(c: CommandApdu, data: Uint8Array, sw: number = SW.OK): Reply {
    if (data.length === 0) return reply(sw);
    if (c.le === undefined) return this.#defer(data);
    const ne = expectedLength(c.le);
    if (data.length <= ne) return reply(sw, data);
    this.#pending = data.slice(ne);
    return reply(SW.MORE_DATA | (this.#pending.length & 0xff), data.slice(0, ne));
  }

  #defer(data: Uint8Array): Reply {
    this.#pending = data;
    return reply(SW.MORE_DATA | (data.length & 0xff));
  }

  /** Outgoing data of a case 2 command whose length the terminal must know: '6CXX' otherwise. */
  #respondExact(c: CommandApdu, data: Uint8Array): Reply {
    if (c.le === undefined) return reply(SW.WRONG_LENGTH);
    if (c.le !== 0 && c.le !== data.length) return reply(SW.WRONG_LE | (data.length & 0xff));
    return reply(SW.OK, data);
  }

  // TS 102 221 §11.1.14 GET RESPONSE
  #getResponse(c: CommandApdu, pending: Uint8Array | undefined): Reply {
    if (c.p1 !== 0 || c.p2 !== 0) return reply(SW.INCORRECT_P1_P2);
    if (pending === undefined) return reply(SW.CONDITIONS_NOT_SATISFIED);
    if (c.le === undefined) {
      this.#pending = pending;
      return reply(SW.WRONG_LENGTH);
    }
    const ne = c.le === 0 ? Math.min(256, pending.length) : c.le;
    if (ne > pending.length) {
      this.#pending = pending;
      return reply(SW.WRONG_LE | (pending.length & 0xff));
    }
    if (ne < pending.length) {
      this.#pending = pending.slice(ne);
      return reply(SW.MORE_DATA | (this.#pending.length & 0xff), pending.slice(0, ne));
    }
    return reply(SW.OK, pending);
  }

  // --- selection ----------------------------------------------------------------------------------

  // TS 102 221 §11.1.1 SELECT
  #select(c: CommandApdu): Reply {
    if (c.p2 !== 0x04 && c.p2 !== 0x0c) return reply(SW.INCORRECT_P1_P2);
    let target: FileNode | undefined;
    switch (c.p1) {
      case 0x00:
        if (c.data.length !== 2) return reply(SW.WRONG_LENGTH);
        target = this.#resolveFid(fidOf(c.data, 0));
        break;
      case 0x04:
        if (c.data.length < 1 || c.data.length > 16) return reply(SW.WRONG_LENGTH);
        target = this.#resolveAid(c.data);
        break;
      case 0x08:
      case 0x09:
        if (c.data.length < 2 || c.data.length % 2 !== 0) return reply(SW.WRONG_LENGTH);
        target = this.#resolvePath(c.data, c.p1 === 0x08 ? CARD_TREE : this.#currentDf);
        break;
      default:
        return reply(SW.INCORRECT_P1_P2);
    }
    if (target === undefined) return reply(SW.FILE_NOT_FOUND);
    if (isDf(target)) {
      this.#currentDf = target;
      this.#currentEf = undefined;
      if (target.decl.kind === 'adf') this.#currentApp = target;
    } else if (isEf(target) && target.parent) {
      this.#currentDf = target.parent;
      if (target.parent.decl.kind === 'adf') this.#currentApp = target.parent;
      if (this.#currentEf !== target) this.#currentRecord = undefined;
      this.#currentEf = target;
    }
    if (c.p2 === 0x0c) return reply(SW.OK);
    return this.#respond(c, buildFcp(target, this.#state.pin1Enabled));
  }

  /** §8.4.1: what a file id can reach from the current DF. */
  #resolveFid(fid: string): FileNode | undefined {
    if (fid === '3F00') return CARD_TREE;
    if (fid === '7FFF') return this.#currentApp;
    const df = this.#currentDf;
    const child = df.children.find((n) => n.decl.fid === fid);
    if (child) return child;
    if (df.decl.fid === fid) return df;
    if (df.parent?.decl.fid === fid) return df.parent;
    return df.parent?.children.find((n) => isDf(n) && n.decl.fid === fid);
  }

  #resolvePath(data: Uint8Array, start: DfNode): FileNode | undefined {
    let node: FileNode = start;
    for (let i = 0; i < data.length; i += 2) {
      const fid = fidOf(data, i);
      if (!isDf(node)) return undefined;
      if (i === 0 && fid === '7FFF') {
        if (this.#currentApp === undefined) return undefined;
        node = this.#currentApp;
        continue;
      }
      const next: FileNode | undefined = node.children.find((n) => n.decl.fid === fid);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  /** Selection by (right-truncated) DF name: the AID starts with the bytes given. */
  #resolveAid(partial: Uint8Array): DfNode | undefined {
    const prefix = toHex(partial).toUpperCase();
    return APPLICATIONS.find((app) => (app.decl.aid ?? '').startsWith(prefix));
  }

  // TS 102 221 §11.1.2 STATUS
  #status(c: CommandApdu): Reply {
    if (c.p1 > 0x02) return reply(SW.INCORRECT_P1_P2);
    switch (c.p2) {
      case 0x00:
        return this.#respondExact(c, buildFcp(this.#currentDf, this.#state.pin1Enabled));
      case 0x01: {
        const aid = this.#currentApp?.decl.aid;
        if (aid === undefined) return reply(SW.CONDITIONS_NOT_SATISFIED);
        return this.#respondExact(c, DfNameTlv.encode(aid));
      }
      case 0x0c:
        return reply(SW.OK);
      default:
        return reply(SW.INCORRECT_P1_P2);
    }
  }

  // --- transparent EFs ----------------------------------------------------------------------------

  /** The EF a READ/UPDATE BINARY addresses: by SFI in P1, or the current EF. */
  #binaryTarget(c: CommandApdu): { ef: EfNode; offset: number } | Reply {
    if (c.p1 & 0x80) {
      if (c.p1 & 0x60) return reply(SW.INCORRECT_P1_P2);
      const ef = this.#efBySfi(c.p1 & 0x1f);
      return ef === undefined ? reply(SW.FILE_NOT_FOUND) : { ef, offset: c.p2 };
    }
    if (this.#currentEf === undefined) return reply(SW.NO_EF_SELECTED);
    return { ef: this.#currentEf, offset: ((c.p1 & 0x7f) << 8) | c.p2 };
  }

  #efBySfi(sfi: number): EfNode | undefined {
    if (sfi === 0) return undefined;
    return this.#currentDf.children.find((n): n is EfNode => isEf(n) && n.decl.sfi === sfi);
  }

  #makeCurrentEf(ef: EfNode): void {
    if (this.#currentEf !== ef) this.#currentRecord = undefined;
    this.#currentEf = ef;
  }

  // TS 102 221 §11.1.3 READ BINARY
  #readBinary(c: CommandApdu): Reply {
    const t = this.#binaryTarget(c);
    if ('sw' in t) return t;
    if (t.ef.decl.structure !== 'transparent') return reply(SW.INCOMPATIBLE_FILE_STRUCTURE);
    if (!this.#satisfied(t.ef.decl.read)) return reply(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (c.le === undefined) return reply(SW.WRONG_LENGTH);
    const content = this.#transparent(t.ef);
    if (t.offset >= content.length) return reply(SW.WRONG_OFFSET);
    this.#makeCurrentEf(t.ef);
    const available = content.length - t.offset;
    if (c.le === 0) return reply(SW.OK, content.slice(t.offset, t.offset + Math.min(256, available)));
    if (c.le > available) return reply(SW.END_OF_FILE, content.slice(t.offset));
    return reply(SW.OK, content.slice(t.offset, t.offset + c.le));
  }

  // TS 102 221 §11.1.4 UPDATE BINARY
  #updateBinary(c: CommandApdu): Reply {
    const t = this.#binaryTarget(c);
    if ('sw' in t) return t;
    if (t.ef.decl.structure !== 'transparent') return reply(SW.INCOMPATIBLE_FILE_STRUCTURE);
    if (!this.#satisfied(t.ef.decl.update)) return reply(SW.SECURITY_STATUS_NOT_SATISFIED);
    if (c.data.length === 0) return reply(SW.WRONG_LENGTH);
    const content = this.#transparent(t.ef);
    if (t.offset >= content.length) return reply(SW.WRONG_OFFSET);
    if (t.offset + c.data.length > content.length) return reply(SW.WRONG_LENGTH);
    this.#makeCurrentEf(t.ef);
    content.set(c.data, t.offset);
    this.#changed();
    return reply(SW.OK);
  }

  #transparent(ef: EfNode): Uint8Array {
    const content = this.#state.files.get(ef.path);
    if (!(content instanceof Uint8Array)) throw new Error(`no content for ${ef.path}`);
    return content;
  }

  #records(ef: EfNode): Uint8Array[] {
    const content = this.#state.files.get(ef.path);
    if (!Array.isArray(content)) throw new Error(`no records for ${ef.path}`);
    return content;
  }

  // --- record EFs ---------------------------------------------------------------------------------

  /** The EF of a record command (SFI in P2 b8..b4, or the current EF) and the record it addresses. */
  #recordTarget(c: CommandApdu, forUpdate: boolean): { ef: EfNode; record: number } | Reply {
    const sfi = c.p2 >> 3;
    const ef = sfi === 0 ? this.#currentEf : this.#efBySfi(sfi);
    if (ef === undefined) return reply(sfi === 0 ? SW.NO_EF_SELECTED : SW.FILE_NOT_FOUND);
    const d = ef.decl;
    if (d.structure === 'transparent') return reply(SW.INCOMPATIBLE_FILE_STRUCTURE);
    if (!this.#satisfied(forUpdate ? d.update : d.read)) return reply(SW.SECURITY_STATUS_NOT_SATISFIED);
    const count = d.records;
    const current = ef === this.#currentEf ? this.#currentRecord : undefined;
    let record: number;
    switch (c.p2 & 0x07) {
      case 0x04: // absolute, or the current record when P1 = 0
        record = c.p1 === 0 ? (current ?? 0) : c.p1;
        if (record < 1 || record > count) return reply(SW.RECORD_NOT_FOUND);
        break;
      case 0x02: // next
        if (c.p1 !== 0) return reply(SW.INCORRECT_P1_P2);
        record = current === undefined ? 1 : current + 1;
        if (record > count) return reply(SW.RECORD_NOT_FOUND);
        break;
      case 0x03: // previous
        if (c.p1 !== 0) return reply(SW.INCORRECT_P1_P2);
        record = current === undefined ? count : current - 1;
        if (record < 1) return reply(SW.RECORD_NOT_FOUND);
        break;
      default:
        return reply(SW.INCORRECT_P1_P2);
    }
    return { ef, record };
  }

  // TS 102 221 §11.1.5 READ RECORD
  #readRecord(c: CommandApdu): Reply {
    const t = this.#recordTarget(c, false);
    if ('sw' in t) return t;
    if (c.le === undefined) return reply(SW.WRONG_LENGTH);
    const data = this.#records(t.ef)[t.record - 1] as Uint8Array;
    if (c.le !== 0 && c.le !== data.length) return reply(SW.WRONG_LE | (data.length & 0xff));
    this.#makeCurrentEf(t.ef);
    this.#currentRecord = t.record;
    return reply(SW.OK, data.slice());
  }

  // TS 102 221 §11.1.6 UPDATE RECORD
  #updateRecord(c: CommandApdu): Reply {
    const t = this.#recordTarget(c, true);
    if ('sw' in t) return t;
    if (c.data.length !== t.ef.decl.size) return reply(SW.WRONG_LENGTH);
    this.#makeCurrentEf(t.ef);
    this.#records(t.ef)[t.record - 1] = c.data.slice();
    this.#currentRecord = t.record;
    this.#changed();
    return reply(SW.OK);
  }

  // --- PINs (TS 102 221 §11.1.9 – §11.1.13) -----------------------------------------------------------

  #satisfied(condition: AccessCondition): boolean {
    switch (condition) {
      case 'ALW':
        return true;
      case 'NEV':
        return false;
      case 'PIN1':
        return !this.#state.pin1Enabled || this.#verified.has('pin1');
      case 'ADM':
        return this.#verified.has('adm1');
    }
  }

  #key(p2: number): 'pin1' | 'adm1' | undefined {
    if (p2 === KEY_REFERENCE.PIN1) return 'pin1';
    if (p2 === KEY_REFERENCE.ADM1) return 'adm1';
    return undefined;
  }

  /** Compare a presented code; count the attempt. Returns the status word of a failure, or OK. */
  #present(code: SecretCode, presented: Uint8Array): number {
    if (constantTimeEqual(code.value, presented)) {
      if (code.remaining !== code.max) {
        code.remaining = code.max;
        this.#changed();
      }
      return SW.OK;
    }
    code.remaining = Math.max(0, code.remaining - 1);
    this.#changed();
    return SW.VERIFICATION_FAILED | code.remaining;
  }

  // §11.1.9 VERIFY PIN
  #verifyPin(c: CommandApdu): Reply {
    if (c.p1 !== 0) return reply(SW.INCORRECT_P1_P2);
    const key = this.#key(c.p2);
    if (key === undefined) return reply(SW.REFERENCED_DATA_NOT_FOUND);
    const code = this.#state[key];
    const disabled = key === 'pin1' && !this.#state.pin1Enabled;
    if (c.data.length === 0) {
      // ISO 7816-4 §11.5.6: without data, report whether verification is still needed.
      if (code.remaining === 0) return reply(SW.AUTH_METHOD_BLOCKED);
      if (disabled || this.#verified.has(key)) return reply(SW.OK);
      return reply(SW.VERIFICATION_FAILED | code.remaining);
    }
    if (c.data.length !== 8) return reply(SW.WRONG_LENGTH);
    if (code.remaining === 0) return reply(SW.AUTH_METHOD_BLOCKED);
    if (disabled) return reply(SW.CONDITIONS_NOT_SATISFIED);
    const sw = this.#present(code, c.data);
    if (sw === SW.OK) this.#verified.add(key);
    else this.#verified.delete(key);
    return reply(sw);
  }

  // §11.1.10 CHANGE PIN
  #changePin(c: CommandApdu): Reply {
    if (c.p1 !== 0) return reply(SW.INCORRECT_P1_P2);
    const key = this.#key(c.p2);
    if (key === undefined) return reply(SW.REFERENCED_DATA_NOT_FOUND);
    if (c.data.length !== 16) return reply(SW.WRONG_LENGTH);
    const code = this.#state[key];
    if (code.remaining === 0) return reply(SW.AUTH_METHOD_BLOCKED);
    if (key === 'pin1' && !this.#state.pin1Enabled) return reply(SW.CONDITIONS_NOT_SATISFIED);
    const next = c.data.slice(8, 16);
    if (!isPinFormat(next, key === 'adm1' ? 1 : 4)) return reply(SW.INCORRECT_DATA);
    const sw = this.#present(code, c.data.subarray(0, 8));
    if (sw !== SW.OK) {
      this.#verified.delete(key);
      return reply(sw);
    }
    code.value = next;
    this.#verified.add(key);
    this.#changed();
    return reply(SW.OK);
  }

  // §11.1.11 DISABLE PIN / §11.1.12 ENABLE PIN (PIN1 only; ADM cannot be disabled)
  #setPinEnabled(c: CommandApdu, enable: boolean): Reply {
    if (c.p1 !== 0) return reply(SW.INCORRECT_P1_P2);
    const key = this.#key(c.p2);
    if (key === undefined) return reply(SW.REFERENCED_DATA_NOT_FOUND);
    if (key === 'adm1') return reply(SW.CONDITIONS_NOT_SATISFIED);
    if (c.data.length !== 8) return reply(SW.WRONG_LENGTH);
    const code = this.#state.pin1;
    if (code.remaining === 0) return reply(SW.AUTH_METHOD_BLOCKED);
    const sw = this.#present(code, c.data);
    if (sw !== SW.OK) {
      this.#verified.delete('pin1');
      return reply(sw);
    }
    if (this.#state.pin1Enabled !== enable) {
      this.#state.pin1Enabled = enable;
      this.#changed();
    }
    if (enable) this.#verified.add('pin1');
    return reply(SW.OK);
  }

  // §11.1.13 UNBLOCK PIN (PIN1 by PUK1)
  #unblockPin(c: CommandApdu): Reply {
    if (c.p1 !== 0) return reply(SW.INCORRECT_P1_P2);
    const key = this.#key(c.p2);
    if (key === undefined) return reply(SW.REFERENCED_DATA_NOT_FOUND);
    if (key === 'adm1') return reply(SW.CONDITIONS_NOT_SATISFIED);
    const puk = this.#state.puk1;
    if (c.data.length === 0) {
      return reply(puk.remaining === 0 ? SW.AUTH_METHOD_BLOCKED : SW.VERIFICATION_FAILED | puk.remaining);
    }
    if (c.data.length !== 16) return reply(SW.WRONG_LENGTH);
    if (puk.remaining === 0) return reply(SW.AUTH_METHOD_BLOCKED);
    const next = c.data.slice(8, 16);
    if (!isPinFormat(next)) return reply(SW.INCORRECT_DATA);
    const sw = this.#present(puk, c.data.subarray(0, 8));
    if (sw !== SW.OK) return reply(sw);
    this.#state.pin1.value = next;
    this.#state.pin1.remaining = this.#state.pin1.max;
    this.#changed();
    return reply(SW.OK);
  }

  // --- TS 31.102 §7.1.2 AUTHENTICATE ----------------------------------------------------------------

  #authenticate(c: CommandApdu): Reply {
    if (c.p1 !== 0) return reply(SW.INCORRECT_P1_P2);
    if (c.p2 !== AUTH_CONTEXT.UMTS && c.p2 !== AUTH_CONTEXT.GSM) return reply(SW.INCORRECT_P1_P2);
    if (this.#currentApp === undefined) return reply(SW.CONDITIONS_NOT_SATISFIED);
    if (!this.#satisfied('PIN1')) return reply(SW.SECURITY_STATUS_NOT_SATISFIED);
    const ust = this.#state.files.get(UST_PATH);
    const services = ust instanceof Uint8Array ? ust : new Uint8Array(0);

    if (c.p2 === AUTH_CONTEXT.GSM) {
      if (!hasService(services, USIM_SERVICE.GSM_SECURITY_CONTEXT))
        return reply(SW.AUTH_CONTEXT_NOT_SUPPORTED);
      if (c.data.length !== 17) return reply(SW.WRONG_LENGTH);
      const rand = decodeGsmChallenge(c.data);
      if (!rand.ok) return reply(SW.INCORRECT_DATA);
      const { sres, kc } = akaGsm(this.#algorithm, this.#ki, this.#opc, rand.value);
      return this.#respond(c, encodeGsmResult(sres, kc));
    }

    if (c.data.length !== 34) return reply(SW.WRONG_LENGTH);
    const challenge = decodeUmtsChallenge(c.data);
    if (!challenge.ok) return reply(SW.INCORRECT_DATA);
    const { rand, autn } = challenge.value;
    // TS 33.102 §6.3.3: MAC-A first (a forged AUTN must not learn anything about SQN), then SQN.
    const checked = akaVerifyAutn(this.#algorithm, this.#ki, this.#opc, rand, autn);
    if (!checked.ok) return reply(SW.AUTH_MAC_FAILURE);
    const fresh = checkFreshness(this.#state.sqnPolicy, this.#state.seqArray, checked.value.sqn);
    if (!fresh.fresh) {
      const auts = akaBuildAuts(this.#algorithm, this.#ki, this.#opc, rand, fresh.sqnMs);
      return this.#respond(c, encodeUmtsResult({ kind: 'sync_failure', auts }));
    }
    this.#state.seqArray = fresh.seqArray;
    this.#changed();
    const { res, ck, ik } = checked.value;
    const withKc = hasService(services, USIM_SERVICE.GSM_ACCESS);
    const result = withKc
      ? { kind: 'success' as const, res, ck, ik, kc: c3Kc(ck, ik) }
      : { kind: 'success' as const, res, ck, ik };
    return this.#respond(c, encodeUmtsResult(result));
  }

  #changed(): void {
    this.#version++;
  }
}

function copyToolkitState(t: ToolkitState): ToolkitState {
  return {
    appletData: new Map([...t.appletData].map(([id, bytes]) => [id, bytes.slice()])),
    counters: new Map(t.counters),
    reportCounter: t.reportCounter,
  };
}

/**
 * CLA coding (TS 102 221 §10.1.1): '0X' ISO and '8X' proprietary, with b4..b3 secure messaging and
 * b2..b1 the logical channel; '4X'/'CX' address channels 4-19. Anything else is an unknown class.
 */
function classOf(cla: number): 'iso' | 'proprietary' | number {
  const high = cla & 0xf0;
  if (high === 0x40 || high === 0xc0) return SW.LOGICAL_CHANNEL_NOT_SUPPORTED;
  if (high !== 0x00 && high !== 0x80) return SW.CLA_NOT_SUPPORTED;
  if (cla & 0x0c) return SW.SECURE_MESSAGING_NOT_SUPPORTED;
  if (cla & 0x03) return SW.LOGICAL_CHANNEL_NOT_SUPPORTED;
  return high === 0x00 ? 'iso' : 'proprietary';
}

/** GlobalPlatform instructions a selected security domain answers (GP Card Specification §11). */
const GP_INSTRUCTIONS = new Set([0xca, 0xe2, 0xe4, 0xe6, 0xf2]);

const fidOf = (data: Uint8Array, offset: number): string =>
  (((data[offset] as number) << 8) | (data[offset + 1] as number))
    .toString(16)
    .toUpperCase()
    .padStart(4, '0');
