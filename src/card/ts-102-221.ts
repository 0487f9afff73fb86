// ETSI TS 102 221 (UICC-terminal interface): status words (§10.2), instructions (§10.1.2), the ATR
// (§6.3), key references (§9.5.1), access rules in EF.ARR (§9.5.1 expanded format), the FCP the card
// returns (§11.1.1.3), and the files under the MF (§13): EF.DIR, EF.ICCID, EF.PL, EF.ARR, DF.TELECOM.

import { decodeBerTlvList, encodeBerTlv } from '../lib/ber-tlv.js';
import { decodeEfIccid, encodeEfIccid } from '../lib/identities.js';
import { decodeError, ok, type Result } from '../lib/result.js';
import type { ValueCodec } from '../lib/tlv-registry.js';
import { ApplicationTemplateTlv, type Fcp, FcpTemplateTlv } from '../lib/ts-102-221-tlv.js';
import type { AccessCondition, DfDeclaration, DfNode, EfDeclaration, FileNode } from './file-system.js';

// --- §10.2 status words ---------------------------------------------------------------------------

/** The status words this card sends, named; `STATUS_WORDS` below gives their meaning. */
export const SW = {
  OK: 0x9000,
  /** '91XX': normal ending, and a proactive command of XX bytes is waiting for FETCH (§10.2.1.1). */
  PROACTIVE_COMMAND_PENDING: 0x9100,
  /** '9300': the toolkit is busy, the ENVELOPE cannot be processed now; retry later (§10.2.1.2). */
  TOOLKIT_BUSY: 0x9300,
  /** '61XX': XX more response bytes, fetch with GET RESPONSE (T=0). */
  MORE_DATA: 0x6100,
  END_OF_FILE: 0x6282,
  /** '63CX': verification failed, X retries left. */
  VERIFICATION_FAILED: 0x63c0,
  MEMORY_PROBLEM: 0x6581,
  WRONG_LENGTH: 0x6700,
  LOGICAL_CHANNEL_NOT_SUPPORTED: 0x6881,
  SECURE_MESSAGING_NOT_SUPPORTED: 0x6882,
  INCOMPATIBLE_FILE_STRUCTURE: 0x6981,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  AUTH_METHOD_BLOCKED: 0x6983,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  NO_EF_SELECTED: 0x6986,
  INCORRECT_DATA: 0x6a80,
  FILE_NOT_FOUND: 0x6a82,
  RECORD_NOT_FOUND: 0x6a83,
  INCORRECT_P1_P2: 0x6a86,
  REFERENCED_DATA_NOT_FOUND: 0x6a88,
  WRONG_OFFSET: 0x6b00,
  /** '6CXX': wrong Le, XX is the exact length. */
  WRONG_LE: 0x6c00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  TECHNICAL_PROBLEM: 0x6f00,
  /** TS 31.102 §7.3: authentication error, incorrect MAC. */
  AUTH_MAC_FAILURE: 0x9862,
  /** TS 31.102 §7.3: authentication error, security context not supported. */
  AUTH_CONTEXT_NOT_SUPPORTED: 0x9864,
} as const;

/** §10.2.1 status word meanings, with 'XX'/'X' wildcards as in pySim's CardProfileUICC.sw. */
export const STATUS_WORDS: readonly { readonly pattern: string; readonly meaning: string }[] = [
  { pattern: '9000', meaning: 'Normal ending of the command' },
  { pattern: '91XX', meaning: 'Normal ending, a proactive command of XX bytes is pending: FETCH it' },
  { pattern: '9300', meaning: 'Toolkit busy: the ENVELOPE cannot be processed now, retry later' },
  { pattern: '61XX', meaning: 'Response data available: XX bytes, retrieve with GET RESPONSE' },
  { pattern: '6282', meaning: 'End of file reached before reading Le bytes' },
  { pattern: '63CX', meaning: 'Verification failed, X retries remaining' },
  { pattern: '6581', meaning: 'Memory problem (the card file could not be written)' },
  { pattern: '6700', meaning: 'Wrong length' },
  { pattern: '6881', meaning: 'Logical channel not supported' },
  { pattern: '6882', meaning: 'Secure messaging not supported' },
  { pattern: '6981', meaning: 'Command incompatible with file structure' },
  { pattern: '6982', meaning: 'Security status not satisfied' },
  { pattern: '6983', meaning: 'Authentication/PIN method blocked' },
  { pattern: '6985', meaning: 'Conditions of use not satisfied' },
  { pattern: '6986', meaning: 'Command not allowed (no EF selected)' },
  { pattern: '6A80', meaning: 'Incorrect parameters in the data field' },
  { pattern: '6A82', meaning: 'File or application not found' },
  { pattern: '6A83', meaning: 'Record not found' },
  { pattern: '6A86', meaning: 'Incorrect parameters P1 to P2' },
  { pattern: '6A88', meaning: 'Referenced data not found' },
  { pattern: '6B00', meaning: 'Wrong parameter(s) P1-P2 (offset outside the EF)' },
  { pattern: '6CXX', meaning: 'Wrong length Le: XX is the exact length' },
  { pattern: '6D00', meaning: 'Instruction code not supported or invalid' },
  { pattern: '6E00', meaning: 'Class not supported' },
  { pattern: '6F00', meaning: 'Technical problem, no precise diagnosis' },
  { pattern: '9862', meaning: 'Authentication error, incorrect MAC (TS 31.102)' },
  { pattern: '9864', meaning: 'Authentication error, security context not supported (TS 31.102)' },
];

/** The meaning of a status word, from STATUS_WORDS. */
export function describeStatusWord(sw: number): string {
  const text = sw.toString(16).toUpperCase().padStart(4, '0');
  for (const { pattern, meaning } of STATUS_WORDS) {
    if ([...pattern].every((c, i) => c === 'X' || c === text[i])) return meaning;
  }
  return 'Unknown status word';
}

// --- §10.1.2 instructions -------------------------------------------------------------------------

/** Instruction codes, and whether they go with the ISO class ('0X') or the proprietary one ('8X'). */
export const INS = {
  SELECT: { ins: 0xa4, cla: 'iso', spec: 'TS 102 221 §11.1.1' },
  STATUS: { ins: 0xf2, cla: 'proprietary', spec: 'TS 102 221 §11.1.2' },
  READ_BINARY: { ins: 0xb0, cla: 'iso', spec: 'TS 102 221 §11.1.3' },
  UPDATE_BINARY: { ins: 0xd6, cla: 'iso', spec: 'TS 102 221 §11.1.4' },
  READ_RECORD: { ins: 0xb2, cla: 'iso', spec: 'TS 102 221 §11.1.5' },
  UPDATE_RECORD: { ins: 0xdc, cla: 'iso', spec: 'TS 102 221 §11.1.6' },
  VERIFY_PIN: { ins: 0x20, cla: 'iso', spec: 'TS 102 221 §11.1.9' },
  CHANGE_PIN: { ins: 0x24, cla: 'iso', spec: 'TS 102 221 §11.1.10' },
  DISABLE_PIN: { ins: 0x26, cla: 'iso', spec: 'TS 102 221 §11.1.11' },
  ENABLE_PIN: { ins: 0x28, cla: 'iso', spec: 'TS 102 221 §11.1.12' },
  UNBLOCK_PIN: { ins: 0x2c, cla: 'iso', spec: 'TS 102 221 §11.1.13' },
  AUTHENTICATE: { ins: 0x88, cla: 'iso', spec: 'TS 31.102 §7.1.2' },
  GET_RESPONSE: { ins: 0xc0, cla: 'iso', spec: 'TS 102 221 §11.1.14' },
  MANAGE_CHANNEL: { ins: 0x70, cla: 'iso', spec: 'TS 102 221 §11.1.17' },
  TERMINAL_PROFILE: { ins: 0x10, cla: 'proprietary', spec: 'TS 102 221 §11.2.1' },
  ENVELOPE: { ins: 0xc2, cla: 'proprietary', spec: 'TS 102 221 §11.2.2' },
  FETCH: { ins: 0x12, cla: 'proprietary', spec: 'TS 102 221 §11.2.3' },
  TERMINAL_RESPONSE: { ins: 0x14, cla: 'proprietary', spec: 'TS 102 221 §11.2.4' },
} as const;

export type InstructionName = keyof typeof INS;

// --- §6.3 ATR -------------------------------------------------------------------------------------

/**
 * Answer To Reset: direct convention (TS 3B); T0 = 8A (TD1 present, 10 historical bytes);
 * TD1 = 80 (TD2 present, T=0); TD2 = 1F (TA3 present, T=15 global); TA3 = C7 (clock stop allowed,
 * classes A, B and C); historical bytes (ISO 7816-4 §8.1.1) 80 = compact-TLV follows: 31 E0 card
 * service data (selection by full and partial DF name, EF.DIR present), 73 FE 21 00 card
 * capabilities, 82 90 00 status; then TCK (XOR of T0..last historical byte, required since T=15 is
 * announced). Only T=0 is offered, so terminals fetch case 4 responses with GET RESPONSE.
 */
export const ATR: Uint8Array = (() => {
  const body = [0x8a, 0x80, 0x1f, 0xc7, 0x80, 0x31, 0xe0, 0x73, 0xfe, 0x21, 0x00, 0x82, 0x90, 0x00];
  const tck = body.reduce((a, b) => a ^ b, 0);
  return Uint8Array.from([0x3b, ...body, tck]);
})();

// --- §9.5.1 key references ------------------------------------------------------------------------

/** Table 9.3 key references this card holds. */
export const KEY_REFERENCE = { PIN1: 0x01, ADM1: 0x0a } as const;

// --- §9.5.1 EF.ARR access rules (expanded format) ---------------------------------------------------

/** Access mode byte bits for EFs (ISO 7816-4 Table 17). */
const AM_READ = 0x01;
const AM_UPDATE = 0x02;
/** Access mode bits for DFs: delete self, terminate, activate, deactivate, create DF/EF, delete child. */
const AM_DF_ADMIN = 0x7f;

export interface AccessRuleEntry {
  /** Access mode byte: which commands the condition applies to. */
  readonly accessMode: number;
  readonly condition: AccessCondition;
}

/**
 * The records of EF.ARR, in order (record n = index n − 1). FCPs point at them with tag 8B. Each EF
 * declaration's (read, update) pair must be one of these; DFs use the last record.
 */
export const ARR_RECORDS: readonly (readonly AccessRuleEntry[])[] = [
  [
    { accessMode: AM_READ, condition: 'ALW' },
    { accessMode: AM_UPDATE, condition: 'ADM' },
  ],
  [
    { accessMode: AM_READ, condition: 'PIN1' },
    { accessMode: AM_UPDATE, condition: 'ADM' },
  ],
  [
    { accessMode: AM_READ, condition: 'PIN1' },
    { accessMode: AM_UPDATE, condition: 'PIN1' },
  ],
  [
    { accessMode: AM_READ, condition: 'ALW' },
    { accessMode: AM_UPDATE, condition: 'PIN1' },
  ],
  [
    { accessMode: AM_READ, condition: 'ALW' },
    { accessMode: AM_UPDATE, condition: 'NEV' },
  ],
  [{ accessMode: AM_DF_ADMIN, condition: 'ADM' }],
];

export const DF_ARR_RECORD = ARR_RECORDS.length;

/** The EF.ARR record number that describes an EF's (read, update) conditions. */
export function arrRecordFor(read: AccessCondition, update: AccessCondition): number {
  const index = ARR_RECORDS.findIndex(
    (r) =>
      r.length === 2 &&
      r.some((e) => e.accessMode === AM_READ && e.condition === read) &&
      r.some((e) => e.accessMode === AM_UPDATE && e.condition === update),
  );
  if (index < 0)
    throw new Error(`no EF.ARR record for read ${read} / update ${update}; add one to ARR_RECORDS`);
  return index + 1;
}

const PIN_CRT: Record<'PIN1' | 'ADM', number> = { PIN1: KEY_REFERENCE.PIN1, ADM: KEY_REFERENCE.ADM1 };

/** SC_DO of §9.5.1: 90 00 always, 97 00 never, A4 {83 key reference, 95 usage qualifier 08} for a PIN. */
function encodeCondition(condition: AccessCondition): Uint8Array {
  if (condition === 'ALW') return Uint8Array.of(0x90, 0x00);
  if (condition === 'NEV') return Uint8Array.of(0x97, 0x00);
  return Uint8Array.of(0xa4, 0x06, 0x83, 0x01, PIN_CRT[condition], 0x95, 0x01, 0x08);
}

function decodeCondition(tag: number, value: Uint8Array): Result<AccessCondition> {
  if (tag === 0x90 && value.length === 0) return ok('ALW');
  if (tag === 0x97 && value.length === 0) return ok('NEV');
  if (tag === 0xa4) {
    const crt = decodeBerTlvList(value);
    if (!crt.ok) return crt;
    const keyRef = crt.value.find((t) => t.tag === 0x83)?.value;
    if (keyRef?.length === 1 && keyRef[0] === KEY_REFERENCE.PIN1) return ok('PIN1');
    if (keyRef?.length === 1 && keyRef[0] === KEY_REFERENCE.ADM1) return ok('ADM');
  }
  return decodeError('ARR_CONDITION', 'unsupported security condition');
}

/** One EF.ARR record: pairs of AM_DO (80) and SC_DO, FF-padded. */
export const arrRecordCodec: ValueCodec<AccessRuleEntry[]> = {
  decode(value) {
    const list = decodeBerTlvList(value, { padding: true });
    if (!list.ok) return list;
    const out: AccessRuleEntry[] = [];
    for (let i = 0; i < list.value.length; i += 2) {
      const am = list.value[i];
      const sc = list.value[i + 1];
      if (am?.tag !== 0x80 || am.value.length !== 1 || sc === undefined) {
        return decodeError('ARR_RULE', 'expected an access mode (80) followed by a security condition');
      }
      const condition = decodeCondition(sc.tag, sc.value);
      if (!condition.ok) return condition;
      out.push({ accessMode: am.value[0] as number, condition: condition.value });
    }
    return ok(out);
  },
  encode(rules) {
    const parts = rules.flatMap((r) => [
      encodeBerTlv(0x80, Uint8Array.of(r.accessMode)),
      encodeCondition(r.condition),
    ]);
    return Uint8Array.from(parts.flatMap((p) => [...p]));
  },
};

// --- §11.1.1.3 FCP --------------------------------------------------------------------------------

/** The EF.ARR that governs a file: the nearest DF (itself or above) holding one. */
function arrFidFor(node: FileNode): string {
  for (
    let df: DfNode | undefined = node.decl.kind === 'ef' ? node.parent : (node as DfNode);
    df;
    df = df.parent
  ) {
    const arr = df.decl.children.find((c) => c.name === 'EF.ARR');
    if (arr) return arr.fid;
  }
  return '2F06';
}

/** UICC characteristics (§11.1.1.4.6.1): clock stop allowed, no preferred level; supply classes. */
const UICC_CHARACTERISTICS = 0x71;

export function buildFcp(node: FileNode, pin1Enabled: boolean): Uint8Array {
  const d = node.decl;
  const securityAttributes = {
    arrFid: arrFidFor(node),
    record: d.kind === 'ef' ? arrRecordFor(d.read, d.update) : DF_ARR_RECORD,
  };
  if (d.kind === 'ef') {
    const isRecord = d.structure !== 'transparent';
    const fcp: Fcp = {
      fileDescriptor: isRecord
        ? {
            shareable: true,
            type: 'working_ef',
            structure: d.structure,
            recordLength: d.size,
            numberOfRecords: d.records ?? 0,
          }
        : { shareable: true, type: 'working_ef', structure: 'transparent' },
      fileIdentifier: d.fid,
      lifeCycleStatus: 'operational_activated',
      securityAttributes,
      fileSize: isRecord ? d.size * (d.records ?? 0) : d.size,
      shortFileId: d.sfi ?? null,
    };
    return FcpTemplateTlv.encode(fcp);
  }
  const fcp: Fcp = {
    fileDescriptor: { shareable: true, type: 'df' },
    fileIdentifier: d.fid,
    ...(d.aid === undefined ? {} : { dfName: d.aid }),
    ...(d.kind === 'mf' ? { proprietary: { uiccCharacteristics: UICC_CHARACTERISTICS } } : {}),
    lifeCycleStatus: 'operational_activated',
    securityAttributes,
    pinStatus: [
      { keyReference: KEY_REFERENCE.PIN1, enabled: pin1Enabled },
      { keyReference: KEY_REFERENCE.ADM1, enabled: true, usageQualifier: 0x08 },
    ],
  };
  return FcpTemplateTlv.encode(fcp);
}

// --- §13 files under the MF -----------------------------------------------------------------------

/** The USIM application identifier: RID A000000087, application code 1002, then provider bytes. */
export const USIM_AID = 'A0000000871002FF33FF018900000100';

export type DirRecord = { readonly aid: string; readonly label?: string } | null;

/** An EF.DIR record: one application template (61), FF-padded; an all-FF record is empty. */
const dirRecordCodec: ValueCodec<DirRecord> = {
  decode(value) {
    if (value.every((b) => b === 0xff)) return ok(null);
    const list = decodeBerTlvList(value, { padding: true });
    if (!list.ok) return list;
    const [first, ...rest] = list.value;
    if (first === undefined || rest.length > 0)
      return decodeError('EF_DIR_RECORD', 'expected one application template');
    const app = ApplicationTemplateTlv.fromTlv(first);
    if (!app.ok) return app;
    if (app.value.aid === undefined) return decodeError('EF_DIR_RECORD', 'application template without AID');
    return ok(
      app.value.label === undefined ? { aid: app.value.aid } : { aid: app.value.aid, label: app.value.label },
    );
  },
  encode: (record) => (record === null ? new Uint8Array(0) : ApplicationTemplateTlv.encode(record)),
};

export const EF_DIR: EfDeclaration<DirRecord> = {
  kind: 'ef',
  name: 'EF.DIR',
  fid: '2F00',
  sfi: 0x1e,
  spec: 'TS 102 221 §13.1',
  description: 'Application directory: one application template per record',
  structure: 'linear_fixed',
  size: 32,
  records: 2,
  read: 'ALW',
  update: 'ADM',
  codec: dirRecordCodec,
  example: {
    hex: `61184F10${USIM_AID}50045553494D${'FF'.repeat(6)}`,
    value: { aid: USIM_AID, label: 'USIM' },
  },
  initial: () => [{ aid: USIM_AID, label: 'USIM' }, null],
};

export const EF_ICCID: EfDeclaration<string> = {
  kind: 'ef',
  name: 'EF.ICCID',
  fid: '2FE2',
  sfi: 0x02,
  spec: 'TS 102 221 §13.2',
  description: 'ICC identification (ICCID), swapped-nibble BCD',
  structure: 'transparent',
  size: 10,
  read: 'ALW',
  update: 'NEV',
  codec: { decode: decodeEfIccid, encode: encodeEfIccid },
  example: { hex: '989444000000115513F4', value: '8949440000001155314' },
  initial: (id) => id.iccid,
};

/** EF.PL: preferred languages as ISO 639 alpha-2 pairs; FFFF marks an unused entry. */
const languagesCodec: ValueCodec<string[]> = {
  decode(value) {
    if (value.length % 2 !== 0) return decodeError('EF_PL', 'language codes are 2 bytes');
    const out: string[] = [];
    for (let i = 0; i < value.length; i += 2) {
      const a = value[i] as number;
      const b = value[i + 1] as number;
      if (a === 0xff && b === 0xff) continue;
      if (a < 0x61 || a > 0x7a || b < 0x61 || b > 0x7a)
        return decodeError('EF_PL', 'not a lower-case language code', i);
      out.push(String.fromCharCode(a, b));
    }
    return ok(out);
  },
  encode: (codes) => Uint8Array.from(codes.flatMap((c) => [c.charCodeAt(0), c.charCodeAt(1)])),
};

export const EF_PL: EfDeclaration<string[]> = {
  kind: 'ef',
  name: 'EF.PL',
  fid: '2F05',
  sfi: 0x05,
  spec: 'TS 102 221 §13.3',
  description: 'Preferred languages',
  structure: 'transparent',
  size: 10,
  read: 'ALW',
  update: 'PIN1',
  codec: languagesCodec,
  example: { hex: '656E6A61FFFFFFFFFFFF', value: ['en', 'ja'] },
  initial: () => ['en'],
};

/**
 * EF.ARR: one access rule per record, referenced from each FCP by tag 8B. Under the MF it is 2F06
 * with SFI 06 (TS 102 221 §13.4); ADF.USIM has its own, 6F06 with SFI 17 (TS 31.102 §4.2).
 */
export const efArr = (fid: string, sfi: number, spec: string): EfDeclaration<AccessRuleEntry[]> => ({
  kind: 'ef',
  name: 'EF.ARR',
  fid,
  sfi,
  spec,
  description: 'Access rule reference: security conditions in expanded format',
  structure: 'linear_fixed',
  size: 32,
  records: ARR_RECORDS.length,
  read: 'ALW',
  update: 'ADM',
  codec: arrRecordCodec,
  example: {
    hex: `800101A406830101950108800102A40683010A950108${'FF'.repeat(10)}`,
    value: [
      { accessMode: AM_READ, condition: 'PIN1' },
      { accessMode: AM_UPDATE, condition: 'ADM' },
    ],
  },
  initial: () => ARR_RECORDS.map((r) => [...r]),
});

export const DF_TELECOM: DfDeclaration = {
  kind: 'df',
  name: 'DF.TELECOM',
  fid: '7F10',
  spec: 'TS 102 221 §8.6, TS 51.011 §10.5',
  description: 'Telecom directory (present, empty: no phone book on an IoT card)',
  children: [],
};
