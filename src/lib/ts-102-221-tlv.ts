// BER-TLV data objects of the UICC (ETSI TS 102 221): the FCP template returned by SELECT and STATUS
// (§11.1.1.3, objects in §11.1.1.4) and the application template of EF.DIR records (§13.1).
// Each object is declared once with its codec and example bytes (see tlv-registry.ts).

import { decodeBerTlvList } from './ber-tlv.js';
import { fromHex, toHex } from './hex.js';
import { decodeError, ok, type Result } from './result.js';
import {
  type BerTlvDefinition,
  type DecodedBy,
  defineBerTlv,
  enumCodec,
  templateCodec,
  uintCodec,
  type ValueCodec,
} from './tlv-registry.js';

/** Upper-case hex of a fixed or bounded number of bytes (file ids, AIDs are written this way). */
const upperHexCodec = (min: number, max: number): ValueCodec<string> => ({
  decode(value) {
    if (value.length < min || value.length > max) {
      return decodeError('TLV_VALUE_LENGTH', `value must be ${min}..${max} bytes, got ${value.length}`);
    }
    return ok(toHex(value).toUpperCase());
  },
  encode: (text) => fromHex(text) ?? new Uint8Array(0),
});

/** Printable ASCII (application labels use the SMS default alphabet, whose printable core is ASCII). */
const asciiCodec: ValueCodec<string> = {
  decode(value) {
    for (let i = 0; i < value.length; i++) {
      const b = value[i] as number;
      if (b < 0x20 || b > 0x7e) return decodeError('TLV_VALUE', 'label is not printable ASCII', i);
    }
    return ok(String.fromCharCode(...value));
  },
  encode: (text) => Uint8Array.from(text, (c) => c.charCodeAt(0)),
};

// --- §11.1.1.4.3 File descriptor ------------------------------------------------------------------

export type FileType = 'working_ef' | 'internal_ef' | 'df';
export type EfStructure = 'transparent' | 'linear_fixed' | 'cyclic' | 'ber_tlv';

export interface FileDescriptor {
  readonly shareable: boolean;
  readonly type: FileType;
  /** Absent for a DF/ADF. */
  readonly structure?: EfStructure;
  /** Linear fixed and cyclic EFs only. */
  readonly recordLength?: number;
  readonly numberOfRecords?: number;
}

const FILE_TYPE_BITS: Record<FileType, number> = { working_ef: 0x00, internal_ef: 0x08, df: 0x38 };
const STRUCTURE_BITS: Record<EfStructure, number> = {
  transparent: 1,
  linear_fixed: 2,
  cyclic: 6,
  ber_tlv: 1,
};
/** Table 11.5: data coding byte, always '21' for a UICC. */
const DATA_CODING = 0x21;

const fileDescriptorCodec: ValueCodec<FileDescriptor> = {
  decode(value): Result<FileDescriptor> {
    if (value.length !== 2 && value.length !== 5) {
      return decodeError('TLV_VALUE_LENGTH', `file descriptor is 2 or 5 bytes, got ${value.length}`);
    }
    const fdb = value[0] as number;
    if (fdb & 0x80) return decodeError('TLV_VALUE', 'file descriptor byte b8 must be 0', 0);
    if (value[1] !== DATA_CODING) return decodeError('TLV_VALUE', 'data coding byte must be 21', 1);
    const shareable = (fdb & 0x40) !== 0;
    const typeBits = fdb & 0x38;
    const structBits = fdb & 0x07;
    let type: FileType;
    let structure: EfStructure | undefined;
    if (typeBits === 0x38) {
      if (structBits === 0) type = 'df';
      else if (structBits === 1) {
        type = 'working_ef';
        structure = 'ber_tlv';
      } else return decodeError('TLV_VALUE', 'unknown DF/BER-TLV structure bits', 0);
    } else if (typeBits === 0x00 || typeBits === 0x08) {
      type = typeBits === 0 ? 'working_ef' : 'internal_ef';
      structure = ({ 1: 'transparent', 2: 'linear_fixed', 6: 'cyclic' } as const)[structBits as 1 | 2 | 6];
      if (structure === undefined) return decodeError('TLV_VALUE', `unknown EF structure ${structBits}`, 0);
    } else return decodeError('TLV_VALUE', 'unknown file type bits', 0);
    const isRecord = structure === 'linear_fixed' || structure === 'cyclic';
    if (isRecord !== (value.length === 5)) {
      return decodeError('TLV_VALUE_LENGTH', 'record length and count come with record EFs only');
    }
    if (!isRecord) return ok(structure === undefined ? { shareable, type } : { shareable, type, structure });
    return ok({
      shareable,
      type,
      structure: structure as EfStructure,
      recordLength: ((value[2] as number) << 8) | (value[3] as number),
      numberOfRecords: value[4] as number,
    });
  },
  encode(fd) {
    const fdb =
      (fd.shareable ? 0x40 : 0) |
      (fd.structure === 'ber_tlv' ? 0x38 : FILE_TYPE_BITS[fd.type]) |
      (fd.structure === undefined ? 0 : STRUCTURE_BITS[fd.structure]);
    if (fd.recordLength === undefined) return Uint8Array.of(fdb, DATA_CODING);
    return Uint8Array.of(
      fdb,
      DATA_CODING,
      fd.recordLength >> 8,
      fd.recordLength & 0xff,
      fd.numberOfRecords ?? 0,
    );
  },
};

export const FileDescriptorTlv = defineBerTlv<FileDescriptor>({
  name: 'File descriptor',
  spec: 'TS 102 221 §11.1.1.4.3',
  tag: 0x82,
  codec: fileDescriptorCodec,
  examples: [
    { hex: '82027821', value: { shareable: true, type: 'df' } },
    { hex: '82024121', value: { shareable: true, type: 'working_ef', structure: 'transparent' } },
    {
      hex: '82054221' + '0020' + '0A',
      value: {
        shareable: true,
        type: 'working_ef',
        structure: 'linear_fixed',
        recordLength: 32,
        numberOfRecords: 10,
      },
    },
    {
      hex: '82054621' + '000F' + '04',
      value: {
        shareable: true,
        type: 'working_ef',
        structure: 'cyclic',
        recordLength: 15,
        numberOfRecords: 4,
      },
    },
    { hex: '82023921', value: { shareable: false, type: 'working_ef', structure: 'ber_tlv' } },
  ],
});

export const FileIdentifierTlv = defineBerTlv<string>({
  name: 'File identifier',
  spec: 'TS 102 221 §11.1.1.4.4',
  tag: 0x83,
  codec: upperHexCodec(2, 2),
  examples: [{ hex: '83026F07', value: '6F07' }],
});

export const DfNameTlv = defineBerTlv<string>({
  name: 'DF name (AID)',
  spec: 'TS 102 221 §11.1.1.4.5',
  tag: 0x84,
  codec: upperHexCodec(1, 16),
  examples: [{ hex: '8410A0000000871002FF33FF018900000100', value: 'A0000000871002FF33FF018900000100' }],
});

export const UiccCharacteristicsTlv = defineBerTlv<number>({
  name: 'UICC characteristics',
  spec: 'TS 102 221 §11.1.1.4.6.1',
  tag: 0x80,
  codec: uintCodec(1),
  examples: [{ hex: '800171', value: 0x71 }],
});

export const ProprietaryInformationTlv = defineBerTlv({
  name: 'Proprietary information',
  spec: 'TS 102 221 §11.1.1.4.6',
  tag: 0xa5,
  codec: templateCodec({ uiccCharacteristics: UiccCharacteristicsTlv }),
  examples: [{ hex: 'A503800171', value: { uiccCharacteristics: 0x71 } }],
});

/** Table 11.7 life cycle status integer (the canonical value of each state). */
export const LIFE_CYCLE_STATUS = {
  no_information: 0x00,
  creation: 0x01,
  initialisation: 0x03,
  operational_deactivated: 0x04,
  operational_activated: 0x05,
  terminated: 0x0c,
} as const;
export type LifeCycleStatus = keyof typeof LIFE_CYCLE_STATUS;

export const LifeCycleStatusTlv = defineBerTlv<LifeCycleStatus>({
  name: 'Life cycle status integer',
  spec: 'TS 102 221 §11.1.1.4.9',
  tag: 0x8a,
  codec: enumCodec(LIFE_CYCLE_STATUS),
  examples: [
    { hex: '8A0105', value: 'operational_activated' },
    { hex: '8A0104', value: 'operational_deactivated' },
  ],
});

export interface SecurityAttributesReferenced {
  /** File id of the EF.ARR holding the access rules. */
  readonly arrFid: string;
  /** Record of that EF.ARR that applies. */
  readonly record: number;
}

export const SecurityAttributesReferencedTlv = defineBerTlv<SecurityAttributesReferenced>({
  name: 'Security attributes (referenced to expanded format)',
  spec: 'TS 102 221 §11.1.1.4.7.3',
  tag: 0x8b,
  codec: {
    decode(value) {
      if (value.length !== 3)
        return decodeError('TLV_VALUE_LENGTH', `expected 3 bytes (EF.ARR id, record), got ${value.length}`);
      return ok({ arrFid: toHex(value.subarray(0, 2)).toUpperCase(), record: value[2] as number });
    },
    encode: ({ arrFid, record }) => {
      const fid = fromHex(arrFid) ?? new Uint8Array(2);
      return Uint8Array.of(fid[0] ?? 0, fid[1] ?? 0, record);
    },
  },
  examples: [{ hex: '8B032F0601', value: { arrFid: '2F06', record: 1 } }],
});

export interface PinStatusEntry {
  /** Key reference (TS 102 221 Table 9.3): 01 PIN1, 81 PIN2, 0A ADM1, 11 universal PIN, … */
  readonly keyReference: number;
  /** Whether verification of this key is enabled (its bit in the PS_DO). */
  readonly enabled: boolean;
  /** Usage qualifier ('95') when present: 08 = user authentication, knowledge based. */
  readonly usageQualifier?: number;
}

/**
 * §9.5.2 / §11.1.1.4.10 PIN status template DO 'C6': a PS_DO ('90', one bit per key reference that
 * follows, b8 of the first byte first) then, per key, an optional usage qualifier and a key reference.
 */
const pinStatusCodec: ValueCodec<PinStatusEntry[]> = {
  decode(value) {
    const list = decodeBerTlvList(value);
    if (!list.ok) return list;
    const [psDo, ...rest] = list.value;
    if (psDo === undefined || psDo.tag !== 0x90)
      return decodeError('TLV_VALUE', 'PIN status template must start with PS_DO 90');
    const out: PinStatusEntry[] = [];
    let qualifier: number | undefined;
    for (const tlv of rest) {
      if (tlv.tag === 0x95 && tlv.value.length === 1 && qualifier === undefined) {
        qualifier = tlv.value[0] as number;
        continue;
      }
      if (tlv.tag !== 0x83 || tlv.value.length !== 1)
        return decodeError('TLV_VALUE', 'expected key reference 83 01 xx');
      const index = out.length;
      if (index >> 3 >= psDo.value.length)
        return decodeError('TLV_VALUE', 'PS_DO too short for the key references');
      const bit = ((psDo.value[index >> 3] as number) >> (7 - (index & 7))) & 1;
      const entry: PinStatusEntry = { keyReference: tlv.value[0] as number, enabled: bit === 1 };
      out.push(qualifier === undefined ? entry : { ...entry, usageQualifier: qualifier });
      qualifier = undefined;
    }
    if (qualifier !== undefined) return decodeError('TLV_VALUE', 'usage qualifier without key reference');
    return ok(out);
  },
  encode(entries) {
    const ps = new Uint8Array(Math.max(1, Math.ceil(entries.length / 8)));
    const parts: number[] = [];
    entries.forEach((e, i) => {
      if (e.enabled) ps[i >> 3] = (ps[i >> 3] as number) | (0x80 >> (i & 7));
      if (e.usageQualifier !== undefined) parts.push(0x95, 0x01, e.usageQualifier);
      parts.push(0x83, 0x01, e.keyReference);
    });
    return Uint8Array.from([0x90, ps.length, ...ps, ...parts]);
  },
};

export const PinStatusTemplateTlv = defineBerTlv<PinStatusEntry[]>({
  name: 'PIN status template DO',
  spec: 'TS 102 221 §11.1.1.4.10',
  tag: 0xc6,
  codec: pinStatusCodec,
  examples: [
    {
      hex: 'C60C900180830101' + '9501088301' + '0A',
      value: [
        { keyReference: 0x01, enabled: true },
        { keyReference: 0x0a, enabled: false, usageQualifier: 0x08 },
      ],
    },
  ],
});

export const FileSizeTlv = defineBerTlv<number>({
  name: 'File size',
  spec: 'TS 102 221 §11.1.1.4.1',
  tag: 0x80,
  codec: uintCodec(2, 4),
  examples: [{ hex: '80020009', value: 9 }],
});

export const TotalFileSizeTlv = defineBerTlv<number>({
  name: 'Total file size',
  spec: 'TS 102 221 §11.1.1.4.2',
  tag: 0x81,
  codec: uintCodec(2, 4),
  examples: [{ hex: '81020200', value: 512 }],
});

/** §11.1.1.4.8: absent = SFI is the low 5 bits of the FID; empty = no SFI; one byte = SFI in b8..b4. */
export const ShortFileIdentifierTlv = defineBerTlv<number | null>({
  name: 'Short file identifier',
  spec: 'TS 102 221 §11.1.1.4.8',
  tag: 0x88,
  codec: {
    decode(value) {
      if (value.length === 0) return ok(null);
      if (value.length !== 1 || ((value[0] as number) & 0x07) !== 0) {
        return decodeError('TLV_VALUE', 'SFI is one byte with b3..b1 = 0');
      }
      return ok((value[0] as number) >> 3);
    },
    encode: (sfi) => (sfi === null ? new Uint8Array(0) : Uint8Array.of(sfi << 3)),
  },
  examples: [
    { hex: '880138', value: 7 },
    { hex: '8800', value: null },
  ],
});

/** §11.1.1.3 FCP template; children in the order the specification lists them. */
export const FcpTemplateTlv = defineBerTlv({
  name: 'FCP template',
  spec: 'TS 102 221 §11.1.1.3',
  tag: 0x62,
  codec: templateCodec({
    fileDescriptor: FileDescriptorTlv,
    fileIdentifier: FileIdentifierTlv,
    dfName: DfNameTlv,
    proprietary: ProprietaryInformationTlv,
    lifeCycleStatus: LifeCycleStatusTlv,
    securityAttributes: SecurityAttributesReferencedTlv,
    pinStatus: PinStatusTemplateTlv,
    fileSize: FileSizeTlv,
    totalFileSize: TotalFileSizeTlv,
    shortFileId: ShortFileIdentifierTlv,
  }),
  examples: [
    {
      // EF.IMSI as the software card returns it after SELECT with P2 = 04.
      hex: '6217' + '82024121' + '83026F07' + '8A0105' + '8B036F0602' + '80020009' + '880138',
      value: {
        fileDescriptor: { shareable: true, type: 'working_ef', structure: 'transparent' },
        fileIdentifier: '6F07',
        lifeCycleStatus: 'operational_activated',
        securityAttributes: { arrFid: '6F06', record: 2 },
        fileSize: 9,
        shortFileId: 7,
      },
    },
  ],
});

export type Fcp = DecodedBy<typeof FcpTemplateTlv>;

// --- §13.1 EF.DIR ---------------------------------------------------------------------------------

export const ApplicationIdentifierTlv = defineBerTlv<string>({
  name: 'Application identifier',
  spec: 'TS 102 221 §13.1',
  tag: 0x4f,
  codec: upperHexCodec(1, 16),
  examples: [{ hex: '4F07A0000000871002', value: 'A0000000871002' }],
});

export const ApplicationLabelTlv = defineBerTlv<string>({
  name: 'Application label',
  spec: 'TS 102 221 §13.1',
  tag: 0x50,
  codec: asciiCodec,
  examples: [{ hex: '50045553494D', value: 'USIM' }],
});

export const ApplicationTemplateTlv = defineBerTlv({
  name: 'Application template',
  spec: 'TS 102 221 §13.1',
  tag: 0x61,
  codec: templateCodec({ aid: ApplicationIdentifierTlv, label: ApplicationLabelTlv }),
  examples: [
    {
      hex: '6118' + '4F10A0000000871002FF33FF018900000100' + '50045553494D',
      value: { aid: 'A0000000871002FF33FF018900000100', label: 'USIM' },
    },
  ],
});

export const TS_102_221_TLVS: readonly BerTlvDefinition<unknown>[] = [
  FileDescriptorTlv,
  FileIdentifierTlv,
  DfNameTlv,
  UiccCharacteristicsTlv,
  ProprietaryInformationTlv,
  LifeCycleStatusTlv,
  SecurityAttributesReferencedTlv,
  PinStatusTemplateTlv,
  FileSizeTlv,
  TotalFileSizeTlv,
  ShortFileIdentifierTlv,
  FcpTemplateTlv,
  ApplicationIdentifierTlv,
  ApplicationLabelTlv,
  ApplicationTemplateTlv,
];
