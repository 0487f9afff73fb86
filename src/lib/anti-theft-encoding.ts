// The anti-theft applet's data on the air and in its memory, declared once as data with byte examples
// (STYLE.md §1; test/card/toolkit/anti-theft-encoding.test.ts walks every declaration: decode, encode,
// round-trip). Three contexts, each a flat list of BER-TLVs:
//
//   command  (secured data of an OTA command packet to the applet's TAR; several commands in a row)
//   response (the PoR data: a result, then the state when READ STATE was asked)
//   report   (the data of an alert SMS, or of a local information report)
//
// Values reuse the TS 102 223 codings: an IMEI as in TLV 14 (8 octets, TS 24.008 mobile identity),
// a cell as in TLV 13 (PLMN, LAC/TAC, cell identity: 7 or 9 octets), an address as in TLV 06.

import { concatBytes, decodeBerTlvList, encodeBerTlv } from './ber-tlv.js';
import { decodeError, ok, type Result } from './result.js';
import {
  type BerTlvDefinition,
  defineBerTlv,
  enumCodec,
  uintCodec,
  type ValueCodec,
} from './tlv-registry.js';
import {
  type ACCESS_TECHNOLOGY,
  AccessTechnologyTlv,
  type Address,
  AddressTlv,
  ImeiTlv,
  type LocationInformation,
  LocationInformationTlv,
} from './ts-102-223-tlv.js';

export type Cell = LocationInformation;

export const MODE = { learning: 0x00, armed: 0x01, blocked: 0x02 } as const;
export type Mode = keyof typeof MODE;

export const REASON = {
  none: 0x00,
  imei_mismatch: 0x01,
  cell_not_registered: 0x02,
  remote_block: 0x03,
} as const;
export type Reason = keyof typeof REASON;

/** Result codes of a command (the response's `RESULT`). */
export const RESULT = {
  ok: 0x00,
  unknown_command: 0x01,
  bad_value: 0x02,
  list_full: 0x03,
  not_found: 0x04,
} as const;
export type ResultCode = keyof typeof RESULT;

export interface Tolerance {
  /** Consecutive location reports from unregistered cells that block (1..255). */
  readonly strikes: number;
  /** Seconds after the first unregistered cell that block if no registered cell came back (0: off). */
  readonly windowSeconds: number;
}

const empty: ValueCodec<null> = {
  decode: (v) => (v.length === 0 ? ok(null) : decodeError('TLV_VALUE_LENGTH', 'this command has no value')),
  encode: () => new Uint8Array(0),
};

const imei = ImeiTlv.codec;
const cell = LocationInformationTlv.codec;
const address = AddressTlv.codec;

const toleranceCodec: ValueCodec<Tolerance> = {
  decode(v) {
    if (v.length !== 3) return decodeError('TLV_VALUE_LENGTH', 'tolerance is strikes(1) window(2)');
    const strikes = v[0] as number;
    if (strikes === 0) return decodeError('TLV_VALUE', 'strikes is 1..255', 0);
    return ok({ strikes, windowSeconds: ((v[1] as number) << 8) | (v[2] as number) });
  },
  encode: (t) => Uint8Array.of(t.strikes, t.windowSeconds >> 8, t.windowSeconds & 0xff),
};

/** Remote commands (tag → operation). */
export const COMMANDS = {
  readState: defineBerTlv<null>({
    name: 'READ STATE',
    spec: 'TS 102 225 secured data, docs/anti-theft.md',
    tag: 0x80,
    codec: empty,
    examples: [{ hex: '8000', value: null }],
  }),
  addImei: defineBerTlv<string>({
    name: 'ADD IMEI',
    spec: 'TS 102 223 §8.20 value',
    tag: 0x81,
    codec: imei,
    examples: [{ hex: '81081A32547698103254', value: '123456789012345' }],
  }),
  removeImei: defineBerTlv<string>({
    name: 'REMOVE IMEI',
    spec: 'TS 102 223 §8.20 value',
    tag: 0x82,
    codec: imei,
    examples: [{ hex: '82081A32547698103254', value: '123456789012345' }],
  }),
  addCell: defineBerTlv<Cell>({
    name: 'ADD CELL',
    spec: 'TS 102 223 §8.19 value',
    tag: 0x83,
    codec: cell,
    examples: [
      {
        hex: '830944F0011A2B0123456F',
        value: { mcc: '440', mnc: '10', areaCode: 0x1a2b, cellIdentity: '0123456F' },
      },
      { hex: '830700F11000010001', value: { mcc: '001', mnc: '01', areaCode: 1, cellIdentity: '0001' } },
    ],
  }),
  removeCell: defineBerTlv<Cell>({
    name: 'REMOVE CELL',
    spec: 'TS 102 223 §8.19 value',
    tag: 0x84,
    codec: cell,
    examples: [
      { hex: '840700F11000010001', value: { mcc: '001', mnc: '01', areaCode: 1, cellIdentity: '0001' } },
    ],
  }),
  startLearning: defineBerTlv<null>({
    name: 'START LEARNING',
    spec: 'docs/anti-theft.md',
    tag: 0x85,
    codec: empty,
    examples: [{ hex: '8500', value: null }],
  }),
  block: defineBerTlv<null>({
    name: 'BLOCK',
    spec: 'docs/anti-theft.md',
    tag: 0x86,
    codec: empty,
    examples: [{ hex: '8600', value: null }],
  }),
  unblock: defineBerTlv<null>({
    name: 'UNBLOCK',
    spec: 'docs/anti-theft.md',
    tag: 0x87,
    codec: empty,
    examples: [{ hex: '8700', value: null }],
  }),
  setAlertDestination: defineBerTlv<Address>({
    name: 'SET ALERT DESTINATION',
    spec: 'TS 102 223 §8.1 value',
    tag: 0x88,
    codec: address,
    examples: [{ hex: '8804918121F3', value: { ton: 1, npi: 1, number: '18123' } }],
  }),
  setTolerance: defineBerTlv<Tolerance>({
    name: 'SET TOLERANCE',
    spec: 'docs/anti-theft.md',
    tag: 0x89,
    codec: toleranceCodec,
    examples: [{ hex: '8903030384', value: { strikes: 3, windowSeconds: 900 } }],
  }),
  reportLocalInfo: defineBerTlv<null>({
    name: 'REPORT LOCAL INFO',
    spec: 'TS 102 223 §6.4.15 (PROVIDE LOCAL INFORMATION), docs/anti-theft.md',
    tag: 0x8a,
    codec: empty,
    examples: [{ hex: '8A00', value: null }],
  }),
} as const;

export type Command =
  | { readonly op: 'readState' }
  | { readonly op: 'addImei' | 'removeImei'; readonly imei: string }
  | { readonly op: 'addCell' | 'removeCell'; readonly cell: Cell }
  | { readonly op: 'startLearning' | 'block' | 'unblock' | 'reportLocalInfo' }
  | { readonly op: 'setAlertDestination'; readonly address: Address }
  | { readonly op: 'setTolerance'; readonly tolerance: Tolerance };

/** One command per TLV; an unknown tag or a bad value is reported with its position. */
export function decodeCommands(
  bytes: Uint8Array,
): Result<Command[], { index: number; result: ResultCode; message: string }> {
  const fail = (index: number, result: ResultCode, message: string) =>
    ({ ok: false, error: { index, result, message } }) as const;
  const list = decodeBerTlvList(bytes);
  if (!list.ok) return fail(0, 'bad_value', list.error.message);
  const out: Command[] = [];
  for (const [index, tlv] of list.value.entries()) {
    const entry = Object.entries(COMMANDS).find(([, d]) => d.tag === tlv.tag);
    if (entry === undefined) return fail(index, 'unknown_command', `tag ${tlv.tag.toString(16)}`);
    const [op, def] = entry as [Command['op'], BerTlvDefinition<unknown>];
    const value = def.fromTlv(tlv);
    if (!value.ok) return fail(index, 'bad_value', value.error.message);
    if (op === 'addImei' || op === 'removeImei') out.push({ op, imei: value.value as string });
    else if (op === 'addCell' || op === 'removeCell') out.push({ op, cell: value.value as Cell });
    else if (op === 'setAlertDestination') out.push({ op, address: value.value as Address });
    else if (op === 'setTolerance') out.push({ op, tolerance: value.value as Tolerance });
    else out.push({ op } as Command);
  }
  return ok(out);
}

export function encodeCommands(commands: readonly Command[]): Uint8Array {
  return concatBytes(
    commands.map((c) => {
      switch (c.op) {
        case 'addImei':
        case 'removeImei':
          return COMMANDS[c.op].encode(c.imei);
        case 'addCell':
        case 'removeCell':
          return COMMANDS[c.op].encode(c.cell);
        case 'setAlertDestination':
          return COMMANDS.setAlertDestination.encode(c.address);
        case 'setTolerance':
          return COMMANDS.setTolerance.encode(c.tolerance);
        default:
          return COMMANDS[c.op].encode(null);
      }
    }),
  );
}

// --- the applet's state (its memory, and READ STATE's answer) --------------------------------------

export interface AntiTheftState {
  readonly mode: Mode;
  readonly reason: Reason;
  /** Consecutive unregistered-cell reports so far. */
  readonly strikes: number;
  readonly tolerance: Tolerance;
  readonly imeis: readonly string[];
  readonly cells: readonly Cell[];
  /** EF.IMSI as it was before blocking (9 octets), to put back on unblock. */
  readonly savedImsi?: Uint8Array;
  readonly alertDestination?: Address;
  /** An alert that could not be sent yet (no service): sent at the next normal-service report. */
  readonly pendingAlert?: Reason;
}

const modeCodec = enumCodec(MODE);
const reasonCodec = enumCodec(REASON);

/** Child elements of the state template, each declared once. */
export const STATE_FIELDS = {
  mode: defineBerTlv<Mode>({
    name: 'mode',
    spec: 'docs/anti-theft.md',
    tag: 0x80,
    codec: modeCodec,
    examples: [{ hex: '800101', value: 'armed' }],
  }),
  reason: defineBerTlv<Reason>({
    name: 'block reason',
    spec: 'docs/anti-theft.md',
    tag: 0x81,
    codec: reasonCodec,
    examples: [{ hex: '810102', value: 'cell_not_registered' }],
  }),
  strikes: defineBerTlv<number>({
    name: 'strikes',
    spec: 'docs/anti-theft.md',
    tag: 0x82,
    codec: uintCodec(1),
    examples: [{ hex: '820102', value: 2 }],
  }),
  tolerance: defineBerTlv<Tolerance>({
    name: 'tolerance',
    spec: 'docs/anti-theft.md',
    tag: 0x83,
    codec: toleranceCodec,
    examples: [{ hex: '8303030000', value: { strikes: 3, windowSeconds: 0 } }],
  }),
  imei: defineBerTlv<string>({
    name: 'registered IMEI',
    spec: 'TS 102 223 §8.20 value',
    tag: 0x84,
    codec: imei,
    examples: [{ hex: '84081A32547698103254', value: '123456789012345' }],
  }),
  cell: defineBerTlv<Cell>({
    name: 'registered cell',
    spec: 'TS 102 223 §8.19 value',
    tag: 0x85,
    codec: cell,
    examples: [
      { hex: '850700F11000010001', value: { mcc: '001', mnc: '01', areaCode: 1, cellIdentity: '0001' } },
    ],
  }),
  savedImsi: defineBerTlv<string>({
    name: 'saved EF.IMSI',
    spec: 'TS 31.102 §4.2.2 content',
    tag: 0x86,
    codec: {
      decode: (v) =>
        v.length === 9
          ? ok(Buffer.from(v).toString('hex'))
          : decodeError('TLV_VALUE_LENGTH', 'EF.IMSI is 9 octets'),
      encode: (h) => Uint8Array.from(Buffer.from(h, 'hex')),
    },
    examples: [{ hex: '8609080910101032547698', value: '080910101032547698' }],
  }),
  alertDestination: defineBerTlv<Address>({
    name: 'alert destination',
    spec: 'TS 102 223 §8.1 value',
    tag: 0x87,
    codec: address,
    examples: [{ hex: '8704918121F3', value: { ton: 1, npi: 1, number: '18123' } }],
  }),
  pendingAlert: defineBerTlv<Reason>({
    name: 'pending alert',
    spec: 'docs/anti-theft.md',
    tag: 0x88,
    codec: reasonCodec,
    examples: [{ hex: '880101', value: 'imei_mismatch' }],
  }),
} as const;

/** The template of the state: memory (tag A0) and READ STATE answer (tag A2, without saved IMSI). */
const stateCodec: ValueCodec<AntiTheftState> = {
  decode(value) {
    const list = decodeBerTlvList(value);
    if (!list.ok) return list;
    let mode: Mode = 'learning';
    let reason: Reason = 'none';
    let strikes = 0;
    let tolerance: Tolerance = DEFAULT_TOLERANCE;
    const imeis: string[] = [];
    const cells: Cell[] = [];
    let savedImsi: Uint8Array | undefined;
    let alertDestination: Address | undefined;
    let pendingAlert: Reason | undefined;
    for (const tlv of list.value) {
      const entry = Object.entries(STATE_FIELDS).find(([, d]) => d.tag === tlv.tag);
      if (entry === undefined) return decodeError('ANTI_THEFT_STATE', `unknown tag ${tlv.tag.toString(16)}`);
      const v = (entry[1] as BerTlvDefinition<unknown>).fromTlv(tlv);
      if (!v.ok) return v;
      switch (entry[0]) {
        case 'mode':
          mode = v.value as Mode;
          break;
        case 'reason':
          reason = v.value as Reason;
          break;
        case 'strikes':
          strikes = v.value as number;
          break;
        case 'tolerance':
          tolerance = v.value as Tolerance;
          break;
        case 'imei':
          imeis.push(v.value as string);
          break;
        case 'cell':
          cells.push(v.value as Cell);
          break;
        case 'savedImsi':
          savedImsi = Uint8Array.from(Buffer.from(v.value as string, 'hex'));
          break;
        case 'pendingAlert':
          pendingAlert = v.value as Reason;
          break;
        default:
          alertDestination = v.value as Address;
      }
    }
    return ok({
      mode,
      reason,
      strikes,
      tolerance,
      imeis,
      cells,
      ...(savedImsi ? { savedImsi } : {}),
      ...(alertDestination ? { alertDestination } : {}),
      ...(pendingAlert ? { pendingAlert } : {}),
    });
  },
  encode(s) {
    return concatBytes([
      STATE_FIELDS.mode.encode(s.mode),
      STATE_FIELDS.reason.encode(s.reason),
      STATE_FIELDS.strikes.encode(s.strikes),
      STATE_FIELDS.tolerance.encode(s.tolerance),
      ...s.imeis.map((i) => STATE_FIELDS.imei.encode(i)),
      ...s.cells.map((c) => STATE_FIELDS.cell.encode(c)),
      ...(s.savedImsi ? [STATE_FIELDS.savedImsi.encode(Buffer.from(s.savedImsi).toString('hex'))] : []),
      ...(s.alertDestination ? [STATE_FIELDS.alertDestination.encode(s.alertDestination)] : []),
      ...(s.pendingAlert ? [STATE_FIELDS.pendingAlert.encode(s.pendingAlert)] : []),
    ]);
  },
};

export const DEFAULT_TOLERANCE: Tolerance = { strikes: 3, windowSeconds: 0 };

export const StateMemoryTlv = defineBerTlv<AntiTheftState>({
  name: 'anti-theft memory',
  spec: 'docs/anti-theft.md',
  tag: 0xa0,
  codec: stateCodec,
  examples: [
    {
      hex: 'A021800101810100820100830303000084081A32547698103254850700F11000010001',
      value: {
        mode: 'armed',
        reason: 'none',
        strikes: 0,
        tolerance: { strikes: 3, windowSeconds: 0 },
        imeis: ['123456789012345'],
        cells: [{ mcc: '001', mnc: '01', areaCode: 1, cellIdentity: '0001' }],
      },
    },
  ],
});

/** READ STATE's answer: the state without the saved IMSI. */
export const StateReportTlv = defineBerTlv<AntiTheftState>({
  name: 'anti-theft state',
  spec: 'docs/anti-theft.md',
  tag: 0xa2,
  codec: stateCodec,
  examples: [
    {
      hex: 'A218800102810101820100830303000084081A32547698103254',
      value: {
        mode: 'blocked',
        reason: 'imei_mismatch',
        strikes: 0,
        tolerance: { strikes: 3, windowSeconds: 0 },
        imeis: ['123456789012345'],
        cells: [],
      },
    },
  ],
});

/** The response to a command sequence: how many ran, and the result of the last one (TS 102 226 style). */
export interface CommandResult {
  readonly executed: number;
  readonly result: ResultCode;
}

export const ResultTlv = defineBerTlv<CommandResult>({
  name: 'command result',
  spec: 'docs/anti-theft.md',
  tag: 0x90,
  codec: {
    decode(v) {
      if (v.length !== 2) return decodeError('TLV_VALUE_LENGTH', 'result is executed(1) result(1)');
      const r = enumCodec(RESULT).decode(v.subarray(1));
      return r.ok ? ok({ executed: v[0] as number, result: r.value }) : r;
    },
    encode: (r) => Uint8Array.of(r.executed, RESULT[r.result]),
  },
  examples: [
    { hex: '90020300', value: { executed: 3, result: 'ok' } },
    { hex: '90020101', value: { executed: 1, result: 'unknown_command' } },
  ],
});

/** An alert: why, and what the terminal reported (IMEI, cell) at that moment. */
export interface Alert {
  readonly reason: Reason;
  readonly imei?: string;
  readonly cell?: Cell;
}

export const AlertTlv = defineBerTlv<Alert>({
  name: 'anti-theft alert',
  spec: 'docs/anti-theft.md',
  tag: 0xa3,
  codec: {
    decode(value) {
      const list = decodeBerTlvList(value);
      if (!list.ok) return list;
      let reason: Reason | undefined;
      let imeiValue: string | undefined;
      let cellValue: Cell | undefined;
      for (const tlv of list.value) {
        if (tlv.tag === 0x81 && reason === undefined) {
          const r = reasonCodec.decode(tlv.value);
          if (!r.ok) return r;
          reason = r.value;
        } else if (tlv.tag === 0x94 && imeiValue === undefined) {
          const r = imei.decode(tlv.value);
          if (!r.ok) return r;
          imeiValue = r.value;
        } else if (tlv.tag === 0x93 && cellValue === undefined) {
          const r = cell.decode(tlv.value);
          if (!r.ok) return r;
          cellValue = r.value;
        } else return decodeError('ANTI_THEFT_ALERT', `unexpected tag ${tlv.tag.toString(16)}`);
      }
      if (reason === undefined) return decodeError('ANTI_THEFT_ALERT', 'an alert carries a reason (81)');
      return ok({
        reason,
        ...(imeiValue === undefined ? {} : { imei: imeiValue }),
        ...(cellValue === undefined ? {} : { cell: cellValue }),
      });
    },
    encode: (a) =>
      concatBytes([
        encodeBerTlv(0x81, reasonCodec.encode(a.reason)),
        ...(a.imei === undefined ? [] : [encodeBerTlv(0x94, imei.encode(a.imei))]),
        ...(a.cell === undefined ? [] : [encodeBerTlv(0x93, cell.encode(a.cell))]),
      ]),
  },
  examples: [
    {
      hex: 'A31881010294081A32547698103254930944F0011A2B0123456F',
      value: {
        reason: 'cell_not_registered',
        imei: '123456789012345',
        cell: { mcc: '440', mnc: '10', areaCode: 0x1a2b, cellIdentity: '0123456F' },
      },
    },
  ],
});

export type AccessTechnology = keyof typeof ACCESS_TECHNOLOGY;

/**
 * What the terminal reported when REPORT LOCAL INFO asked (PROVIDE LOCAL INFORMATION 01, 00, 06):
 * each part only when the terminal gave it (no cell without service).
 */
export interface LocalInfo {
  readonly imei?: string;
  readonly cell?: Cell;
  readonly accessTechnology?: AccessTechnology;
}

const accessTechnology = AccessTechnologyTlv.codec;

/** The local information report (data of the report SMS): `A4 { 94 IMEI, 93 cell, 95 access technology }`. */
export const LocalInfoTlv = defineBerTlv<LocalInfo>({
  name: 'local information report',
  spec: 'TS 102 223 §8.19, §8.20, §8.61 values; docs/anti-theft.md',
  tag: 0xa4,
  codec: {
    decode(value) {
      const list = decodeBerTlvList(value);
      if (!list.ok) return list;
      let imeiValue: string | undefined;
      let cellValue: Cell | undefined;
      let technology: AccessTechnology | undefined;
      for (const tlv of list.value) {
        if (tlv.tag === 0x94 && imeiValue === undefined) {
          const r = imei.decode(tlv.value);
          if (!r.ok) return r;
          imeiValue = r.value;
        } else if (tlv.tag === 0x93 && cellValue === undefined) {
          const r = cell.decode(tlv.value);
          if (!r.ok) return r;
          cellValue = r.value;
        } else if (tlv.tag === 0x95 && technology === undefined) {
          const r = accessTechnology.decode(tlv.value);
          if (!r.ok) return r;
          technology = r.value;
        } else return decodeError('ANTI_THEFT_LOCAL_INFO', `unexpected tag ${tlv.tag.toString(16)}`);
      }
      return ok({
        ...(imeiValue === undefined ? {} : { imei: imeiValue }),
        ...(cellValue === undefined ? {} : { cell: cellValue }),
        ...(technology === undefined ? {} : { accessTechnology: technology }),
      });
    },
    encode: (r) =>
      concatBytes([
        ...(r.imei === undefined ? [] : [encodeBerTlv(0x94, imei.encode(r.imei))]),
        ...(r.cell === undefined ? [] : [encodeBerTlv(0x93, cell.encode(r.cell))]),
        ...(r.accessTechnology === undefined
          ? []
          : [encodeBerTlv(0x95, accessTechnology.encode(r.accessTechnology))]),
      ]),
  },
  examples: [
    {
      hex: 'A41894081A32547698103254930944F0011A2B0123456F950108',
      value: {
        imei: '123456789012345',
        cell: { mcc: '440', mnc: '10', areaCode: 0x1a2b, cellIdentity: '0123456F' },
        accessTechnology: 'e_utran',
      },
    },
    { hex: 'A40A94081A32547698103254', value: { imei: '123456789012345' } },
  ],
});

/** Every declaration, for the generic test. */
export const ANTI_THEFT_TLVS: readonly BerTlvDefinition<unknown>[] = [
  ...Object.values(COMMANDS),
  ...Object.values(STATE_FIELDS),
  StateMemoryTlv,
  StateReportTlv,
  ResultTlv,
  AlertTlv,
  LocalInfoTlv,
] as BerTlvDefinition<unknown>[];

export const sameCell = (a: Cell, b: Cell): boolean =>
  a.mcc === b.mcc && a.mnc === b.mnc && a.areaCode === b.areaCode && a.cellIdentity === b.cellIdentity;
