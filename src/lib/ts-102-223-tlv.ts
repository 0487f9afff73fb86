// Card application toolkit data objects (ETSI TS 102 223 §8, tags in TS 101 220 §7.2 Table 7.23):
// the COMPREHENSION-TLVs inside proactive commands, terminal responses and envelopes, and the
// BER-TLV templates that carry them (TS 101 220 §7.2 Table 7.22). Each is declared once with its
// codec and example bytes; most examples are the TS 102 384 / TS 31.124 byte vectors carried in
// ofono's unit/test-stkutil.c.

import { decodePlmn, encodePlmn, type Plmn } from './bcd.js';
import { concatBytes } from './ber-tlv.js';
import { decodeComprehensionTlvList, encodeComprehensionTlv } from './comprehension-tlv.js';
import { fromHex, toHex } from './hex.js';
import { decodeMobileIdentity, encodeMobileIdentity } from './identities.js';
import { decodeError, ok, type Result } from './result.js';
import {
  type BerTlvDefinition,
  type ComprehensionTlvDefinition,
  defineBerTlv,
  defineComprehensionTlv,
  enumCodec,
  hexCodec,
  uintCodec,
  type ValueCodec,
} from './tlv-registry.js';
import { packSeptets, septetsToText, textToSeptets, unpackSeptets } from './ts-23-038-gsm-alphabet.js';

const fixedLength = (value: Uint8Array, n: number, what: string): Result<never> | undefined =>
  value.length === n
    ? undefined
    : decodeError('TLV_VALUE_LENGTH', `${what} is ${n} bytes, got ${value.length}`);

// --- §8.6 Command details -------------------------------------------------------------------------

export interface CommandDetails {
  readonly commandNumber: number;
  /** Type of command (TS 102 223 §9.4), e.g. 0x26 PROVIDE LOCAL INFORMATION. */
  readonly typeOfCommand: number;
  readonly commandQualifier: number;
}

export const CommandDetailsTlv = defineComprehensionTlv<CommandDetails>({
  name: 'Command details',
  spec: 'TS 102 223 §8.6',
  tag: 0x01,
  cr: true,
  codec: {
    decode(v) {
      return (
        fixedLength(v, 3, 'command details') ??
        ok({ commandNumber: v[0] as number, typeOfCommand: v[1] as number, commandQualifier: v[2] as number })
      );
    },
    encode: (c) => Uint8Array.of(c.commandNumber, c.typeOfCommand, c.commandQualifier),
  },
  examples: [{ hex: '8103012601', value: { commandNumber: 1, typeOfCommand: 0x26, commandQualifier: 1 } }],
});

// --- §8.7 Device identities -----------------------------------------------------------------------

export const DEVICE_IDENTITY = {
  keypad: 0x01,
  display: 0x02,
  earpiece: 0x03,
  channel1: 0x21,
  channel2: 0x22,
  channel3: 0x23,
  channel4: 0x24,
  channel5: 0x25,
  channel6: 0x26,
  channel7: 0x27,
  uicc: 0x81,
  terminal: 0x82,
  network: 0x83,
} as const;
export type DeviceIdentity = keyof typeof DEVICE_IDENTITY;

const deviceCodec = enumCodec(DEVICE_IDENTITY);

export const DeviceIdentitiesTlv = defineComprehensionTlv<{
  source: DeviceIdentity;
  destination: DeviceIdentity;
}>({
  name: 'Device identities',
  spec: 'TS 102 223 §8.7',
  tag: 0x02,
  cr: true,
  codec: {
    decode(v) {
      const bad = fixedLength(v, 2, 'device identities');
      if (bad) return bad;
      const source = deviceCodec.decode(v.subarray(0, 1));
      if (!source.ok) return source;
      const destination = deviceCodec.decode(v.subarray(1, 2));
      if (!destination.ok) return destination;
      return ok({ source: source.value, destination: destination.value });
    },
    encode: ({ source, destination }) => Uint8Array.of(DEVICE_IDENTITY[source], DEVICE_IDENTITY[destination]),
  },
  examples: [
    { hex: '82028182', value: { source: 'uicc', destination: 'terminal' } },
    { hex: '82028281', value: { source: 'terminal', destination: 'uicc' } },
  ],
});

// --- §8.12 Result ---------------------------------------------------------------------------------

export const ResultTlv = defineComprehensionTlv<{ generalResult: number; additionalInformation: string }>({
  name: 'Result',
  spec: 'TS 102 223 §8.12',
  tag: 0x03,
  cr: true,
  codec: {
    decode(v) {
      if (v.length < 1) return decodeError('TLV_VALUE_LENGTH', 'result needs a general result byte');
      return ok({ generalResult: v[0] as number, additionalInformation: toHex(v.subarray(1)) });
    },
    encode: (r) =>
      concatBytes([Uint8Array.of(r.generalResult), fromHex(r.additionalInformation) ?? new Uint8Array(0)]),
  },
  examples: [
    { hex: '830100', value: { generalResult: 0x00, additionalInformation: '' } },
    { hex: '83022004', value: { generalResult: 0x20, additionalInformation: '04' } },
  ],
});

// --- §8.8 Duration --------------------------------------------------------------------------------

const TIME_UNIT = { minutes: 0x00, seconds: 0x01, tenths_of_seconds: 0x02 } as const;
const timeUnitCodec = enumCodec(TIME_UNIT);

export const DurationTlv = defineComprehensionTlv<{ unit: keyof typeof TIME_UNIT; interval: number }>({
  name: 'Duration',
  spec: 'TS 102 223 §8.8',
  tag: 0x04,
  cr: true,
  codec: {
    decode(v) {
      const bad = fixedLength(v, 2, 'duration');
      if (bad) return bad;
      const unit = timeUnitCodec.decode(v.subarray(0, 1));
      if (!unit.ok) return unit;
      if (v[1] === 0) return decodeError('TLV_VALUE', 'time interval 0 is reserved', 1);
      return ok({ unit: unit.value, interval: v[1] as number });
    },
    encode: ({ unit, interval }) => Uint8Array.of(TIME_UNIT[unit], interval),
  },
  examples: [{ hex: '8402010A', value: { unit: 'seconds', interval: 10 } }],
});

// --- §8.2 Alpha identifier (TS 102 221 Annex A coding) ----------------------------------------------

/** Text in the SMS default alphabet, one character per byte (b8 = 0), FF-padded; or UCS2 after '80'. */
export const alphaCodec: ValueCodec<string> = {
  decode(v) {
    if (v[0] === 0x80) {
      if ((v.length - 1) % 2 !== 0) return decodeError('TLV_VALUE', 'UCS2 text has an odd number of bytes');
      let text = '';
      for (let i = 1; i < v.length; i += 2) {
        const code = ((v[i] as number) << 8) | (v[i + 1] as number);
        if (code === 0xffff) break;
        text += String.fromCharCode(code);
      }
      return ok(text);
    }
    let end = v.length;
    while (end > 0 && v[end - 1] === 0xff) end--;
    return septetsToText(v.subarray(0, end));
  },
  encode(text) {
    const septets = textToSeptets(text);
    if (septets !== undefined) return Uint8Array.from(septets);
    const out = [0x80];
    for (const c of text) {
      const code = c.charCodeAt(0);
      out.push(code >> 8, code & 0xff);
    }
    return Uint8Array.from(out);
  },
};

export const AlphaIdentifierTlv = defineComprehensionTlv<string>({
  name: 'Alpha identifier',
  spec: 'TS 102 223 §8.2',
  tag: 0x05,
  cr: false,
  codec: alphaCodec,
  examples: [
    { hex: '850753656E6420534D', value: 'Send SM' },
    { hex: '85058004020423', value: 'ЂУ' },
  ],
});

// --- §8.1 Address ---------------------------------------------------------------------------------

/** Digits of an address in extended BCD (TS 102 223 §8.1: 0-9, *, #, and the DTMF letters). */
const ADDRESS_DIGITS = '0123456789*#abc';

export interface Address {
  /** Type of number (b7..b5): 0 unknown, 1 international, 2 national, … */
  readonly ton: number;
  /** Numbering plan (b4..b1): 1 ISDN/telephony (E.164), … */
  readonly npi: number;
  readonly number: string;
}

export const AddressTlv = defineComprehensionTlv<Address>({
  name: 'Address',
  spec: 'TS 102 223 §8.1',
  tag: 0x06,
  cr: false,
  codec: {
    decode(v) {
      const first = v[0];
      if (first === undefined) return decodeError('TLV_VALUE_LENGTH', 'address needs a TON/NPI byte');
      if ((first & 0x80) === 0) return decodeError('TLV_VALUE', 'TON/NPI byte must have b8 = 1', 0);
      let number = '';
      for (let i = 1; i < v.length; i++) {
        const b = v[i] as number;
        for (const [n, isLast] of [
          [b & 0x0f, false],
          [b >> 4, true],
        ] as const) {
          if (n === 0x0f) {
            if (!(isLast && i === v.length - 1)) return decodeError('TLV_VALUE', 'filler before the end', i);
            break;
          }
          number += ADDRESS_DIGITS[n];
        }
      }
      return ok({ ton: (first >> 4) & 0x07, npi: first & 0x0f, number });
    },
    encode({ ton, npi, number }) {
      const nibbles = [...number].map((c) => ADDRESS_DIGITS.indexOf(c));
      if (nibbles.length % 2 === 1) nibbles.push(0x0f);
      const out = [0x80 | (ton << 4) | npi];
      for (let i = 0; i < nibbles.length; i += 2)
        out.push((nibbles[i] as number) | ((nibbles[i + 1] as number) << 4));
      return Uint8Array.from(out);
    },
  },
  examples: [
    {
      hex: '86099111223344556677F8',
      value: { ton: 1, npi: 1, number: '112233445566778' },
    },
  ],
});

export const SmsTpduTlv = defineComprehensionTlv<string>({
  name: 'SMS TPDU',
  spec: 'TS 102 223 §8.13',
  tag: 0x0b,
  cr: true,
  codec: hexCodec(),
  examples: [{ hex: '8B0401000991', value: '01000991' }],
});

// --- §8.15 Text string ----------------------------------------------------------------------------

export interface TextString {
  /** Data coding scheme (TS 23.038 §4): 00/F0 packed 7-bit, 04/F4 8-bit (unpacked alphabet), 08 UCS2. */
  readonly dcs: number;
  readonly text: string;
}

type TextCoding = 'packed' | 'unpacked' | 'ucs2';

function textCoding(dcs: number): TextCoding | undefined {
  // General data coding group 00xx: bits 3..2 give the alphabet; coding group 1111: bit 2.
  if ((dcs & 0xc0) === 0x00) return (['packed', 'unpacked', 'ucs2'] as const)[(dcs >> 2) & 0x03];
  if ((dcs & 0xf0) === 0xf0) return dcs & 0x04 ? 'unpacked' : 'packed';
  return undefined;
}

export const TextStringTlv = defineComprehensionTlv<TextString>({
  name: 'Text string',
  spec: 'TS 102 223 §8.15',
  tag: 0x0d,
  cr: true,
  codec: {
    decode(v) {
      const dcs = v[0];
      if (dcs === undefined) return ok({ dcs: 0, text: '' });
      const coding = textCoding(dcs);
      const body = v.subarray(1);
      if (coding === 'packed') {
        const text = septetsToText(unpackSeptets(body));
        return text.ok ? ok({ dcs, text: text.value }) : text;
      }
      if (coding === 'unpacked') {
        const text = septetsToText(body);
        return text.ok ? ok({ dcs, text: text.value }) : text;
      }
      if (coding === 'ucs2') {
        if (body.length % 2 !== 0) return decodeError('TLV_VALUE', 'UCS2 text has an odd number of bytes');
        let text = '';
        for (let i = 0; i < body.length; i += 2)
          text += String.fromCharCode(((body[i] as number) << 8) | (body[i + 1] as number));
        return ok({ dcs, text });
      }
      return decodeError('TLV_VALUE', `data coding scheme ${dcs} is not supported`, 0);
    },
    encode({ dcs, text }) {
      const coding = textCoding(dcs);
      if (coding === 'ucs2') {
        const out = [dcs];
        for (const c of text) out.push(c.charCodeAt(0) >> 8, c.charCodeAt(0) & 0xff);
        return Uint8Array.from(out);
      }
      const septets = textToSeptets(text) ?? [];
      const body = coding === 'packed' ? packSeptets(septets) : Uint8Array.from(septets);
      return concatBytes([Uint8Array.of(dcs), body]);
    },
  },
  examples: [
    { hex: '0D08F4557365724C6F67', value: { dcs: 0xf4, text: 'UserLog' } },
    { hex: '8D0F04546F6F6C6B697420546573742031', value: { dcs: 0x04, text: 'Toolkit Test 1' } },
    // The packing example of TS 23.038 §6.1.2.1.1 texts: "hellohello" in 9 bytes.
    { hex: '0D0A00E8329BFD4697D9EC37', value: { dcs: 0x00, text: 'hellohello' } },
  ],
});

// --- §8.18 File list ------------------------------------------------------------------------------

/** Paths from the MF ('3F00…'), each a string of 4-hex-digit file ids. */
export const FileListTlv = defineComprehensionTlv<string[]>({
  name: 'File list',
  spec: 'TS 102 223 §8.18',
  tag: 0x12,
  cr: true,
  codec: {
    decode(v) {
      const count = v[0];
      if (count === undefined) return decodeError('TLV_VALUE_LENGTH', 'file list needs a count byte');
      if ((v.length - 1) % 2 !== 0) return decodeError('TLV_VALUE', 'file ids are 2 bytes each');
      const paths: string[] = [];
      for (let i = 1; i < v.length; i += 2) {
        const fid = toHex(v.subarray(i, i + 2)).toUpperCase();
        if (fid === '3F00') paths.push(fid);
        else if (paths.length === 0) return decodeError('TLV_VALUE', 'a path must start with 3F00', i);
        else paths[paths.length - 1] += fid;
      }
      if (paths.length !== count)
        return decodeError('TLV_VALUE', `count says ${count} files, found ${paths.length}`, 0);
      return ok(paths);
    },
    encode: (paths) =>
      concatBytes([Uint8Array.of(paths.length), ...paths.map((p) => fromHex(p) ?? new Uint8Array(0))]),
  },
  examples: [
    { hex: '9205013F002FE2', value: ['3F002FE2'] },
    {
      hex: '9213033F007FFF6F073F007FFF6F7E3F007FFF6FE3',
      value: ['3F007FFF6F07', '3F007FFF6F7E', '3F007FFF6FE3'],
    },
  ],
});

// --- §8.19 Location information -------------------------------------------------------------------

export interface LocationInformation extends Plmn {
  /** LAC (GERAN/UTRAN) or TAC (E-UTRAN), 16 bits. */
  readonly areaCode: number;
  /** Cell identity bytes as sent: 2 (GERAN), 4 (UTRAN with extension, or E-UTRAN ECI + 'F'). */
  readonly cellIdentity: string;
}

export const LocationInformationTlv = defineComprehensionTlv<LocationInformation>({
  name: 'Location information',
  spec: 'TS 102 223 §8.19',
  tag: 0x13,
  cr: true,
  codec: {
    decode(v) {
      if (v.length !== 7 && v.length !== 9) {
        return decodeError('TLV_VALUE_LENGTH', `location information is 7 or 9 bytes, got ${v.length}`);
      }
      const plmn = decodePlmn(v.subarray(0, 3));
      if (!plmn.ok) return plmn;
      return ok({
        ...plmn.value,
        areaCode: ((v[3] as number) << 8) | (v[4] as number),
        cellIdentity: toHex(v.subarray(5)).toUpperCase(),
      });
    },
    encode: (l) =>
      concatBytes([
        encodePlmn(l),
        Uint8Array.of(l.areaCode >> 8, l.areaCode & 0xff),
        fromHex(l.cellIdentity) ?? new Uint8Array(0),
      ]),
  },
  examples: [
    { hex: '930700F11000010001', value: { mcc: '001', mnc: '01', areaCode: 1, cellIdentity: '0001' } },
    {
      hex: '930944F0011A2B0123456F',
      value: { mcc: '440', mnc: '10', areaCode: 0x1a2b, cellIdentity: '0123456F' },
    },
  ],
});

// --- §8.20 IMEI and §8.81 IMEISV (TS 24.008 mobile identity without IEI and length) ----------------

const mobileIdentityDigits = (type: 'imei' | 'imeisv', length: number): ValueCodec<string> => ({
  decode(v) {
    const bad = fixedLength(v, length, type.toUpperCase());
    if (bad) return bad;
    const id = decodeMobileIdentity(v);
    if (!id.ok) return id;
    if (id.value.type !== type)
      return decodeError('TLV_VALUE', `identity type is ${id.value.type}, not ${type}`, 0);
    return ok(id.value.digits);
  },
  encode: (digits) => encodeMobileIdentity(type, digits),
});

export const ImeiTlv = defineComprehensionTlv<string>({
  name: 'IMEI',
  spec: 'TS 102 223 §8.20',
  tag: 0x14,
  cr: true,
  codec: mobileIdentityDigits('imei', 8),
  examples: [{ hex: '94081A32547698103254', value: '123456789012345' }],
});

export const ImeisvTlv = defineComprehensionTlv<string>({
  name: 'IMEISV',
  spec: 'TS 102 223 §8.81',
  tag: 0x62,
  cr: true,
  codec: mobileIdentityDigits('imeisv', 9),
  examples: [{ hex: 'E209133254769810325' + '4F6', value: '1234567890123456' }],
});

export const NetworkMeasurementResultsTlv = defineComprehensionTlv<string>({
  name: 'Network measurement results',
  spec: 'TS 102 223 §8.22',
  tag: 0x16,
  cr: true,
  codec: hexCodec({ min: 16, max: 16 }),
  examples: [{ hex: '96103F3F3F3F3F3F3F3F3F3F3F3F3F3F3F3F', value: '3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f' }],
});

// --- §8.25 Event list, §8.27 Location status --------------------------------------------------------

export const EventListTlv = defineComprehensionTlv<number[]>({
  name: 'Event list',
  spec: 'TS 102 223 §8.25',
  tag: 0x19,
  cr: true,
  codec: { decode: (v) => ok([...v]), encode: (events) => Uint8Array.from(events) },
  examples: [
    { hex: '990103', value: [0x03] },
    { hex: '9902030B', value: [0x03, 0x0b] },
  ],
});

export const LOCATION_STATUS = { normal_service: 0x00, limited_service: 0x01, no_service: 0x02 } as const;

export const LocationStatusTlv = defineComprehensionTlv<keyof typeof LOCATION_STATUS>({
  name: 'Location status',
  spec: 'TS 102 223 §8.27',
  tag: 0x1b,
  cr: true,
  codec: enumCodec(LOCATION_STATUS),
  examples: [
    { hex: '9B0100', value: 'normal_service' },
    { hex: '9B0102', value: 'no_service' },
  ],
});

export const AidTlv = defineComprehensionTlv<string>({
  name: 'AID',
  spec: 'TS 102 223 §8.60',
  tag: 0x2f,
  cr: true,
  codec: {
    decode: (v) =>
      v.length >= 1 && v.length <= 16
        ? ok(toHex(v).toUpperCase())
        : decodeError('TLV_VALUE_LENGTH', 'AID is 1..16 bytes'),
    encode: (aid) => fromHex(aid) ?? new Uint8Array(0),
  },
  examples: [{ hex: 'AF07A0000000871002', value: 'A0000000871002' }],
});

// --- BIP: §8.52 bearer description, §8.55 buffer size, §8.59 transport level, §8.58 other address ---

export const BearerDescriptionTlv = defineComprehensionTlv<{ bearerType: number; parameters: string }>({
  name: 'Bearer description',
  spec: 'TS 102 223 §8.52',
  tag: 0x35,
  cr: true,
  codec: {
    decode: (v) =>
      v.length < 1
        ? decodeError('TLV_VALUE_LENGTH', 'bearer description needs a bearer type')
        : ok({ bearerType: v[0] as number, parameters: toHex(v.subarray(1)) }),
    encode: (b) => concatBytes([Uint8Array.of(b.bearerType), fromHex(b.parameters) ?? new Uint8Array(0)]),
  },
  examples: [{ hex: '350702030403041F02', value: { bearerType: 0x02, parameters: '030403041f02' } }],
});

export const BufferSizeTlv = defineComprehensionTlv<number>({
  name: 'Buffer size',
  spec: 'TS 102 223 §8.55',
  tag: 0x39,
  cr: true,
  codec: uintCodec(2),
  examples: [{ hex: '39020578', value: 1400 }],
});

export const TransportLevelTlv = defineComprehensionTlv<{ protocol: number; port: number }>({
  name: 'UICC/terminal interface transport level',
  spec: 'TS 102 223 §8.59',
  tag: 0x3c,
  cr: true,
  codec: {
    decode: (v) =>
      fixedLength(v, 3, 'transport level') ??
      ok({ protocol: v[0] as number, port: ((v[1] as number) << 8) | (v[2] as number) }),
    encode: ({ protocol, port }) => Uint8Array.of(protocol, port >> 8, port & 0xff),
  },
  examples: [{ hex: '3C0301AD9C', value: { protocol: 0x01, port: 44444 } }],
});

// --- BIP: §8.53 channel data, §8.54 channel data length, §8.56 channel status -----------------------

export const ChannelDataTlv = defineComprehensionTlv<string>({
  name: 'Channel data',
  spec: 'TS 102 223 §8.53',
  tag: 0x36,
  cr: true,
  codec: hexCodec(),
  examples: [{ hex: 'B603000102', value: '000102' }],
});

/** Bytes available in the Rx buffer (RECEIVE DATA, Data available) or free in the Tx buffer (SEND DATA); 'FF' = 255 or more. */
export const ChannelDataLengthTlv = defineComprehensionTlv<number>({
  name: 'Channel data length',
  spec: 'TS 102 223 §8.54',
  tag: 0x37,
  cr: true,
  codec: uintCodec(1),
  examples: [
    { hex: 'B701C8', value: 200 },
    { hex: '3701FF', value: 255 },
  ],
});

export interface ChannelStatus {
  /** Channel identifier 1..7 (0: no channel). */
  readonly channel: number;
  /** b8 of the first byte: the link (TCP connection, PDP context) is established. */
  readonly established: boolean;
  /** Further information: 00 none, 05 link dropped (TS 102 223 §8.56). */
  readonly info: number;
}

export const CHANNEL_STATUS_INFO = { NONE: 0x00, LINK_DROPPED: 0x05 } as const;

export const ChannelStatusTlv = defineComprehensionTlv<ChannelStatus>({
  name: 'Channel status',
  spec: 'TS 102 223 §8.56',
  tag: 0x38,
  cr: true,
  codec: {
    decode(v) {
      const bad = fixedLength(v, 2, 'channel status');
      if (bad) return bad;
      const first = v[0] as number;
      return ok({ channel: first & 0x07, established: (first & 0x80) !== 0, info: v[1] as number });
    },
    encode: ({ channel, established, info }) =>
      Uint8Array.of((channel & 0x07) | (established ? 0x80 : 0), info),
  },
  examples: [
    // The Data available event of the TS 102 241 test suites: channel 1, link established.
    { hex: '38028100', value: { channel: 1, established: true, info: 0 } },
    { hex: 'B8020105', value: { channel: 1, established: false, info: 5 } },
  ],
});

export type OtherAddress = { readonly type: 'ipv4' | 'ipv6'; readonly address: string };

export const OtherAddressTlv = defineComprehensionTlv<OtherAddress>({
  name: 'Other address',
  spec: 'TS 102 223 §8.58',
  tag: 0x3e,
  cr: true,
  codec: {
    decode(v) {
      if (v[0] === 0x21 && v.length === 5) return ok({ type: 'ipv4', address: [...v.subarray(1)].join('.') });
      if (v[0] === 0x57 && v.length === 17) {
        const groups: string[] = [];
        for (let i = 1; i < 17; i += 2)
          groups.push((((v[i] as number) << 8) | (v[i + 1] as number)).toString(16));
        return ok({ type: 'ipv6', address: groups.join(':') });
      }
      return decodeError('TLV_VALUE', 'other address is 21 + IPv4 or 57 + IPv6');
    },
    encode({ type, address }) {
      if (type === 'ipv4') return Uint8Array.from([0x21, ...address.split('.').map(Number)]);
      const out = [0x57];
      for (const g of address.split(':'))
        out.push(Number.parseInt(g, 16) >> 8, Number.parseInt(g, 16) & 0xff);
      return Uint8Array.from(out);
    },
  },
  examples: [
    { hex: '3E052101010101', value: { type: 'ipv4', address: '1.1.1.1' } },
    {
      hex: 'BE115720010DB8000000000000000000000001',
      value: { type: 'ipv6', address: '2001:db8:0:0:0:0:0:1' },
    },
  ],
});

export const ACCESS_TECHNOLOGY = {
  gsm: 0x00,
  tia_eia_553: 0x01,
  tia_eia_136: 0x02,
  utran: 0x03,
  tetra: 0x04,
  tia_eia_95: 0x05,
  cdma2000_1x: 0x06,
  cdma2000_hrpd: 0x07,
  e_utran: 0x08,
  ehrpd: 0x09,
  ng_ran: 0x0a,
} as const;

export const AccessTechnologyTlv = defineComprehensionTlv<keyof typeof ACCESS_TECHNOLOGY>({
  name: 'Access technology',
  spec: 'TS 102 223 §8.61',
  tag: 0x3f,
  cr: true,
  codec: enumCodec(ACCESS_TECHNOLOGY),
  examples: [{ hex: 'BF0108', value: 'e_utran' }],
});

/** §8.70: the APN in TS 23.003 §9.1 label form (length-prefixed labels). */
export const NetworkAccessNameTlv = defineComprehensionTlv<string>({
  name: 'Network access name',
  spec: 'TS 102 223 §8.70',
  tag: 0x47,
  cr: true,
  codec: {
    decode(v) {
      const labels: string[] = [];
      let i = 0;
      while (i < v.length) {
        const len = v[i] as number;
        if (len === 0 || i + 1 + len > v.length) return decodeError('TLV_VALUE', 'bad APN label length', i);
        const label = v.subarray(i + 1, i + 1 + len);
        if (label.some((b) => b < 0x21 || b > 0x7e))
          return decodeError('TLV_VALUE', 'APN label is not printable', i);
        labels.push(String.fromCharCode(...label));
        i += 1 + len;
      }
      if (labels.length === 0) return decodeError('TLV_VALUE_LENGTH', 'APN is empty');
      return ok(labels.join('.'));
    },
    encode: (apn) =>
      concatBytes(
        apn.split('.').map((l) => Uint8Array.from([l.length, ...[...l].map((c) => c.charCodeAt(0))])),
      ),
  },
  examples: [{ hex: 'C70908696E7465726E6574', value: 'internet' }],
});

// --- §8.37 Timer identifier, §8.38 Timer value ----------------------------------------------------

export const TimerIdentifierTlv = defineComprehensionTlv<number>({
  name: 'Timer identifier',
  spec: 'TS 102 223 §8.37',
  tag: 0x24,
  cr: true,
  codec: {
    decode(v) {
      const bad = fixedLength(v, 1, 'timer identifier');
      if (bad) return bad;
      const id = v[0] as number;
      return id >= 1 && id <= 8 ? ok(id) : decodeError('TLV_VALUE', `timer identifier ${id} is not 1..8`, 0);
    },
    encode: (id) => Uint8Array.of(id),
  },
  examples: [
    { hex: 'A40101', value: 1 },
    { hex: 'A40108', value: 8 },
  ],
});

/** Seconds as TS 102 223 §8.38 codes them: hours, minutes, seconds, each in swapped-nibble BCD. */
export const TimerValueTlv = defineComprehensionTlv<number>({
  name: 'Timer value',
  spec: 'TS 102 223 §8.38',
  tag: 0x25,
  cr: true,
  codec: {
    decode(v) {
      const bad = fixedLength(v, 3, 'timer value');
      if (bad) return bad;
      const parts: number[] = [];
      for (let i = 0; i < 3; i++) {
        const b = v[i] as number;
        const lo = b & 0x0f;
        const hi = b >> 4;
        if (lo > 9 || hi > 9) return decodeError('TLV_VALUE', 'timer value digits are BCD', i);
        parts.push(lo * 10 + hi);
      }
      const [h, m, s] = parts as [number, number, number];
      if (m > 59 || s > 59) return decodeError('TLV_VALUE', 'minutes and seconds are 0..59');
      return ok(h * 3600 + m * 60 + s);
    },
    encode(seconds) {
      const h = Math.floor(seconds / 3600);
      const m = Math.floor((seconds % 3600) / 60);
      const s = seconds % 60;
      const swap = (n: number) => ((n % 10) << 4) | Math.floor(n / 10);
      return Uint8Array.of(swap(h), swap(m), swap(s));
    },
  },
  examples: [
    // 01:02:03 and 5 minutes.
    { hex: 'A503102030', value: 3723 },
    { hex: 'A503005000', value: 300 },
  ],
});

export const CAT_DATA_OBJECTS: readonly ComprehensionTlvDefinition<unknown>[] = [
  CommandDetailsTlv,
  DeviceIdentitiesTlv,
  ResultTlv,
  DurationTlv,
  AlphaIdentifierTlv,
  AddressTlv,
  SmsTpduTlv,
  TextStringTlv,
  FileListTlv,
  LocationInformationTlv,
  ImeiTlv,
  NetworkMeasurementResultsTlv,
  EventListTlv,
  LocationStatusTlv,
  AidTlv,
  BearerDescriptionTlv,
  BufferSizeTlv,
  TransportLevelTlv,
  OtherAddressTlv,
  ChannelDataTlv,
  ChannelDataLengthTlv,
  ChannelStatusTlv,
  AccessTechnologyTlv,
  NetworkAccessNameTlv,
  ImeisvTlv,
  TimerIdentifierTlv,
  TimerValueTlv,
];

// --- BER-TLV templates (TS 101 220 §7.2 Table 7.22) -------------------------------------------------

/** One simple TLV inside a toolkit template; unknown tags keep their bytes (hex). */
export interface CatObject {
  readonly name: string;
  readonly tag: number;
  readonly cr: boolean;
  readonly value: unknown;
}

const BY_TAG = new Map(CAT_DATA_OBJECTS.map((d) => [d.tag, d]));

/**
 * A sequence of COMPREHENSION-TLVs, each decoded by its declaration. An undeclared tag is kept as
 * hex unless it has the comprehension-required flag, which TS 102 223 §6.10 says must be refused.
 */
const catSequenceCodec: ValueCodec<CatObject[]> = {
  decode(v) {
    const list = decodeComprehensionTlvList(v);
    if (!list.ok) return list;
    const out: CatObject[] = [];
    for (const tlv of list.value) {
      const def = BY_TAG.get(tlv.tag);
      if (def === undefined) {
        if (tlv.cr)
          return decodeError('TLV_UNKNOWN_REQUIRED', `tag ${tlv.tag.toString(16)} is required but unknown`);
        out.push({ name: 'unknown', tag: tlv.tag, cr: tlv.cr, value: toHex(tlv.value) });
        continue;
      }
      const value = def.codec.decode(tlv.value);
      if (!value.ok) return value;
      out.push({ name: def.name, tag: tlv.tag, cr: tlv.cr, value: value.value });
    }
    return ok(out);
  },
  encode: (objects) =>
    concatBytes(
      objects.map((o) => {
        const def = BY_TAG.get(o.tag);
        const value =
          def === undefined ? (fromHex(String(o.value)) ?? new Uint8Array(0)) : def.codec.encode(o.value);
        return encodeComprehensionTlv(o.tag, o.cr, value);
      }),
    ),
};

const command = (typeOfCommand: number, commandQualifier: number): CatObject => ({
  name: 'Command details',
  tag: 0x01,
  cr: true,
  value: { commandNumber: 1, typeOfCommand, commandQualifier },
});
const devices = (source: DeviceIdentity, destination: DeviceIdentity): CatObject => ({
  name: 'Device identities',
  tag: 0x02,
  cr: true,
  value: { source, destination },
});

export const ProactiveCommandTlv = defineBerTlv<CatObject[]>({
  name: 'Proactive UICC command',
  spec: 'TS 101 220 §7.2 (TS 102 223 §6.6)',
  tag: 0xd0,
  codec: catSequenceCodec,
  examples: [
    { hex: 'D009810301260182028182', value: [command(0x26, 0x01), devices('uicc', 'terminal')] },
    {
      hex: 'D0108103010101820281829205013F002FE2',
      value: [
        command(0x01, 0x01),
        devices('uicc', 'terminal'),
        { name: 'File list', tag: 0x12, cr: true, value: ['3F002FE2'] },
      ],
    },
  ],
});

export const SmsPpDownloadTlv = defineBerTlv<CatObject[]>({
  name: 'SMS-PP download',
  spec: 'TS 101 220 §7.2 (TS 102 223 §7.1.1)',
  tag: 0xd1,
  codec: catSequenceCodec,
  examples: [
    {
      hex: 'D10F82028381' + '0603911032' + '8B0401000991',
      value: [
        devices('network', 'uicc'),
        { name: 'Address', tag: 0x06, cr: false, value: { ton: 1, npi: 1, number: '0123' } },
        { name: 'SMS TPDU', tag: 0x0b, cr: true, value: '01000991' },
      ],
    },
  ],
});

export const EventDownloadTlv = defineBerTlv<CatObject[]>({
  name: 'Event download',
  spec: 'TS 101 220 §7.2 (TS 102 223 §7.5)',
  tag: 0xd6,
  codec: catSequenceCodec,
  examples: [
    {
      hex: 'D60A990103820282819B0102',
      value: [
        { name: 'Event list', tag: 0x19, cr: true, value: [0x03] },
        devices('terminal', 'uicc'),
        { name: 'Location status', tag: 0x1b, cr: true, value: 'no_service' },
      ],
    },
  ],
});

export const TimerExpirationTlv = defineBerTlv<CatObject[]>({
  name: 'Timer expiration',
  spec: 'TS 101 220 §7.2 (TS 102 223 §7.4)',
  tag: 0xd7,
  codec: catSequenceCodec,
  examples: [
    {
      hex: 'D70C82028281A40101A503000030',
      value: [
        devices('terminal', 'uicc'),
        { name: 'Timer identifier', tag: 0x24, cr: true, value: 1 },
        { name: 'Timer value', tag: 0x25, cr: true, value: 3 },
      ],
    },
  ],
});

export const CAT_TEMPLATES: readonly BerTlvDefinition<unknown>[] = [
  ProactiveCommandTlv,
  SmsPpDownloadTlv,
  EventDownloadTlv,
  TimerExpirationTlv,
];
