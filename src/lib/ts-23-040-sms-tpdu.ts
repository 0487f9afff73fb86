// 3GPP TS 23.040 SMS transfer-layer PDUs as SIM OTA uses them: SMS-DELIVER (MT, SMSC → ME → card
// by ENVELOPE SMS-PP DOWNLOAD; TP-PID 7F "SIM data download", TP-DCS F6 class 2 8-bit, TP-UDHI set)
// and SMS-SUBMIT (MO, card → SMSC: PoRs and applet alerts), their addresses (§9.1.2.5), the user data
// header (§9.2.3.24) with the SIM toolkit IEIs 70/71 of TS 31.115, and concatenation of secured
// packets longer than one SMS (§9.2.3.24.1).
//
// TP-UDL is kept as carried and the user data is every octet after it (a TPDU ends with its user data).
// pySim's SMS-DELIVER test vector (esim.md §5.3) says TP-UDL 3 while 37 octets follow: it decodes,
// with `userDataLength` 3 and the whole UD, and re-encodes byte for byte; the builders below always
// write the true length. A TP-UDL promising more octets than are present is refused.

import { concatBytes } from './ber-tlv.js';
import { decodeError, ok, type Result } from './result.js';

// ---------------------------------------------------------------------------------------------------
// Addresses — TS 23.040 §9.1.2.5

/** An address of digits: semi-octets 0–9, '*', '#', 'a', 'b', 'c' (TS 23.040 §9.1.2.3 / TS 24.008 Table 10.5.118). */
export interface DigitsAddress {
  readonly kind: 'digits';
  /** Type of number, bits 7–5 of the type-of-address octet: 0 unknown, 1 international, 2 national, … (not 5). */
  readonly ton: number;
  /** Numbering plan identification, bits 4–1: 1 ISDN/E.164, … */
  readonly npi: number;
  readonly digits: string;
}

/** TON 101: GSM 7-bit packed characters, kept packed (length field in semi-octets). */
export interface AlphanumericAddress {
  readonly kind: 'alphanumeric';
  readonly npi: number;
  readonly semiOctets: number;
  readonly packed: Uint8Array;
}

export type SmsAddress = DigitsAddress | AlphanumericAddress;

const SEMI_OCTETS = '0123456789*#abc';
/** TS 23.040 §9.1.2.5: an address value is at most 10 octets (20 semi-octets). */
const MAX_SEMI_OCTETS = 20;

export const internationalAddress = (digits: string): DigitsAddress => ({
  kind: 'digits',
  ton: 1,
  npi: 1,
  digits,
});

/** TS 23.040 §9.1.2.5: length (useful semi-octets), type of address, value (semi-octets, F filler). */
export function encodeAddress(address: SmsAddress): Result<Uint8Array> {
  if (!Number.isInteger(address.npi) || address.npi < 0 || address.npi > 15)
    return decodeError('SMS_ADDRESS_TYPE', 'NPI is 0 … 15');
  if (address.kind === 'alphanumeric') {
    const octets = Math.ceil(address.semiOctets / 2);
    if (address.semiOctets > MAX_SEMI_OCTETS || octets !== address.packed.length)
      return decodeError('SMS_ADDRESS_LENGTH', 'the length does not match the packed octets');
    return ok(
      concatBytes([Uint8Array.of(address.semiOctets, 0x80 | (5 << 4) | address.npi), address.packed]),
    );
  }
  if (!Number.isInteger(address.ton) || address.ton < 0 || address.ton > 7 || address.ton === 5)
    return decodeError('SMS_ADDRESS_TYPE', 'TON is 0 … 7 (5 is alphanumeric)');
  const { digits } = address;
  if (digits.length > MAX_SEMI_OCTETS) return decodeError('SMS_ADDRESS_LENGTH', 'at most 20 digits');
  const value = new Uint8Array(Math.ceil(digits.length / 2));
  for (let i = 0; i < digits.length; i++) {
    const nibble = SEMI_OCTETS.indexOf(digits[i] as string);
    if (nibble < 0) return decodeError('SMS_ADDRESS_DIGIT', `"${digits[i]}" is not a semi-octet digit`);
    value[i >> 1] = (value[i >> 1] as number) | (i & 1 ? nibble << 4 : nibble);
  }
  if (digits.length & 1) value[value.length - 1] = (value[value.length - 1] as number) | 0xf0;
  return ok(concatBytes([Uint8Array.of(digits.length, 0x80 | (address.ton << 4) | address.npi), value]));
}

/** Decode the address at `offset`; returns it and the offset after it. */
export function decodeAddressAt(
  bytes: Uint8Array,
  offset: number,
): Result<{ address: SmsAddress; next: number }> {
  const length = bytes[offset];
  const type = bytes[offset + 1];
  if (length === undefined || type === undefined)
    return decodeError('SMS_TRUNCATED', 'address expected', offset);
  if (length > MAX_SEMI_OCTETS) return decodeError('SMS_ADDRESS_LENGTH', 'at most 20 semi-octets', offset);
  if ((type & 0x80) === 0)
    return decodeError('SMS_ADDRESS_TYPE', 'bit 8 of the type of address is 1', offset + 1);
  const octets = Math.ceil(length / 2);
  const start = offset + 2;
  if (start + octets > bytes.length)
    return decodeError('SMS_TRUNCATED', 'the address continues past the end', offset);
  const value = bytes.subarray(start, start + octets);
  const ton = (type >> 4) & 0x07;
  const npi = type & 0x0f;
  if (ton === 5) {
    return ok({
      address: { kind: 'alphanumeric', npi, semiOctets: length, packed: value.slice() },
      next: start + octets,
    });
  }
  let digits = '';
  for (let i = 0; i < length; i++) {
    const nibble = i & 1 ? (value[i >> 1] as number) >> 4 : (value[i >> 1] as number) & 0x0f;
    if (nibble === 0x0f)
      return decodeError('SMS_ADDRESS_DIGIT', 'filler F inside the digits', start + (i >> 1));
    digits += SEMI_OCTETS[nibble];
  }
  if (length & 1 && (value[octets - 1] as number) >> 4 !== 0x0f)
    return decodeError(
      'SMS_ADDRESS_DIGIT',
      'an odd number of digits ends with the filler F',
      start + octets - 1,
    );
  return ok({ address: { kind: 'digits', ton, npi, digits }, next: start + octets });
}

// ---------------------------------------------------------------------------------------------------
// Service centre time stamp — TS 23.040 §9.2.3.11 (semi-octets swapped; time zone in quarter hours)

export interface TimeStamp {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** Offset from UTC in quarters of an hour, −79 … 79. */
  readonly timeZoneQuarters: number;
}

export function decodeTimeStamp(bytes: Uint8Array): Result<TimeStamp> {
  if (bytes.length !== 7) return decodeError('SMS_SCTS_LENGTH', 'the time stamp is 7 octets');
  const fields: number[] = [];
  for (let i = 0; i < 7; i++) {
    const b = bytes[i] as number;
    const low = i === 6 ? b & 0x07 : b & 0x0f;
    const high = b >> 4;
    if (low > 9 || high > 9) return decodeError('SMS_SCTS_DIGIT', 'time stamp semi-octets are decimal', i);
    fields.push(low * 10 + high);
  }
  const [year, month, day, hour, minute, second, tz] = fields as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const negative = ((bytes[6] as number) & 0x08) !== 0;
  // A "minus zero" offset would decode like +0 and re-encode differently: one meaning, one encoding.
  if (negative && tz === 0) return decodeError('SMS_SCTS_DIGIT', 'a time zone of minus zero', 6);
  return ok({ year, month, day, hour, minute, second, timeZoneQuarters: negative ? -tz : tz });
}

export function encodeTimeStamp(t: TimeStamp): Uint8Array {
  const swap = (n: number) => ((n % 10) << 4) | Math.floor(n / 10);
  const tz = Math.abs(t.timeZoneQuarters);
  return Uint8Array.of(
    swap(t.year % 100),
    swap(t.month),
    swap(t.day),
    swap(t.hour),
    swap(t.minute),
    swap(t.second),
    swap(tz) | (t.timeZoneQuarters < 0 ? 0x08 : 0),
  );
}

// ---------------------------------------------------------------------------------------------------
// User data header — TS 23.040 §9.2.3.24

export interface InformationElement {
  readonly iei: number;
  readonly data: Uint8Array;
}

/**
 * The IEIs this layer gives meaning to, declared once with their bytes (STYLE.md §1); other IEIs
 * decode generically and pass through unchanged.
 */
export const INFORMATION_ELEMENTS = [
  {
    iei: 0x00,
    name: 'concatenated short messages, 8-bit reference',
    spec: 'TS 23.040 §9.2.3.24.1',
    dataLength: 3,
    example: '0003a70201',
  },
  {
    iei: 0x70,
    name: '(U)SIM toolkit security header: command packet identifier',
    spec: 'TS 23.040 §9.2.3.24 (IEI 70), TS 31.115 §4',
    dataLength: 0,
    example: '7000',
  },
  {
    iei: 0x71,
    name: '(U)SIM toolkit security header: response packet identifier',
    spec: 'TS 23.040 §9.2.3.24 (IEI 71), TS 31.115 §6',
    dataLength: 0,
    example: '7100',
  },
] as const;

export const IEI = { CONCATENATION_8BIT: 0x00, COMMAND_PACKET: 0x70, RESPONSE_PACKET: 0x71 } as const;

export interface UserData {
  /** Present when TP-UDHI is set (possibly empty: UDHL 00). */
  readonly header?: readonly InformationElement[];
  /** The octets after the header (for 7-bit coding: still packed, fill bits included). */
  readonly body: Uint8Array;
}

/** TS 23.040 §9.2.3.24: UDHL then the information elements; returns the elements and the body. */
export function decodeUserData(ud: Uint8Array, hasHeader: boolean): Result<UserData> {
  if (!hasHeader) return ok({ body: ud.slice() });
  const udhl = ud[0];
  if (udhl === undefined) return decodeError('SMS_UDH_TRUNCATED', 'TP-UDHI is set but there is no UDHL');
  if (1 + udhl > ud.length)
    return decodeError('SMS_UDH_TRUNCATED', 'the header is longer than the user data', 0);
  const header: InformationElement[] = [];
  let at = 1;
  while (at < 1 + udhl) {
    const iei = ud[at] as number;
    const length = ud[at + 1];
    if (length === undefined || at + 2 + length > 1 + udhl)
      return decodeError('SMS_UDH_ELEMENT', 'an information element overruns the header', at);
    header.push({ iei, data: ud.slice(at + 2, at + 2 + length) });
    at += 2 + length;
  }
  return ok({ header, body: ud.slice(1 + udhl) });
}

export function encodeUserData(ud: UserData): Uint8Array {
  if (!ud.header) return ud.body;
  const elements = ud.header.map((ie) => concatBytes([Uint8Array.of(ie.iei, ie.data.length), ie.data]));
  const udh = concatBytes(elements);
  return concatBytes([Uint8Array.of(udh.length), udh, ud.body]);
}

// ---------------------------------------------------------------------------------------------------
// TPDUs

/** TS 23.038 §4: whether TP-UDL counts septets (GSM 7-bit, uncompressed) rather than octets. */
export function countsSeptets(dcs: number): boolean {
  const group = dcs >> 4;
  if (group <= 0x3) return (dcs & 0x20) === 0 && ((dcs >> 2) & 0x03) === 0; // general data coding
  if (group <= 0x7) return (dcs & 0x20) === 0 && ((dcs >> 2) & 0x03) === 0; // automatic deletion
  if (group === 0xc || group === 0xd) return true; // message waiting, GSM 7-bit
  if (group === 0xe) return false; // message waiting, UCS2
  if (group === 0xf) return (dcs & 0x04) === 0; // data coding / message class
  return true; // 1000–1011 reserved: "assumed to be the GSM 7 bit default alphabet"
}

/** TS 23.040 §9.2.3.16: at most 140 octets of user data (160 septets). */
const MAX_UD_OCTETS = 140;

export interface SmsDeliver {
  readonly type: 'deliver';
  /** TP-MMS inverted: true when bit 3 is 0 ("more messages are waiting"). */
  readonly moreMessagesToSend: boolean;
  readonly loopPrevention: boolean;
  readonly statusReportIndication: boolean;
  readonly replyPath: boolean;
  readonly originatingAddress: SmsAddress;
  readonly protocolIdentifier: number;
  readonly dataCodingScheme: number;
  /** TP-SCTS as carried (decode with `decodeTimeStamp`). */
  readonly serviceCentreTimeStamp: Uint8Array;
  /** TP-UDL as carried. */
  readonly userDataLength: number;
  readonly userData: UserData;
}

export type ValidityPeriod =
  | { readonly format: 'none' }
  | { readonly format: 'relative'; readonly value: number }
  | { readonly format: 'enhanced' | 'absolute'; readonly value: Uint8Array };

export interface SmsSubmit {
  readonly type: 'submit';
  readonly rejectDuplicates: boolean;
  readonly statusReportRequest: boolean;
  readonly replyPath: boolean;
  readonly messageReference: number;
  readonly destinationAddress: SmsAddress;
  readonly protocolIdentifier: number;
  readonly dataCodingScheme: number;
  readonly validityPeriod: ValidityPeriod;
  readonly userDataLength: number;
  readonly userData: UserData;
}

/** The TP-UDL that `ud` needs under `dcs` (for 7-bit: the septets the octets can hold). */
export function userDataLengthFor(dcs: number, ud: UserData): number {
  const octets = encodeUserData(ud).length;
  return countsSeptets(dcs) ? Math.floor((octets * 8) / 7) : octets;
}

function readUserData(
  bytes: Uint8Array,
  at: number,
  dcs: number,
  hasHeader: boolean,
): Result<{ userDataLength: number; userData: UserData }> {
  const udl = bytes[at];
  if (udl === undefined) return decodeError('SMS_TRUNCATED', 'TP-UDL expected', at);
  const septets = countsSeptets(dcs);
  if (udl > (septets ? 160 : MAX_UD_OCTETS)) return decodeError('SMS_UDL', 'TP-UDL above the maximum', at);
  const ud = bytes.subarray(at + 1);
  const needed = septets ? Math.ceil((udl * 7) / 8) : udl;
  if (ud.length < needed)
    return decodeError('SMS_TRUNCATED', `TP-UDL ${udl} promises more than is present`, at);
  if (ud.length > MAX_UD_OCTETS) return decodeError('SMS_UDL', 'more than 140 octets of user data', at + 1);
  const userData = decodeUserData(ud, hasHeader);
  if (!userData.ok) return decodeError(userData.error.code, userData.error.message, at + 1);
  return ok({ userDataLength: udl, userData: userData.value });
}

/** TS 23.040 §9.2.2.1: SMS-DELIVER (TP-MTI 00, in the MT direction). */
export function decodeSmsDeliver(bytes: Uint8Array): Result<SmsDeliver> {
  const first = bytes[0];
  if (first === undefined) return decodeError('SMS_TRUNCATED', 'empty TPDU');
  if ((first & 0x03) !== 0x00) return decodeError('SMS_MTI', 'TP-MTI is not SMS-DELIVER', 0);
  if (first & 0x10)
    return decodeError('SMS_RESERVED', 'bit 5 of an SMS-DELIVER first octet is unused and 0', 0);
  const oa = decodeAddressAt(bytes, 1);
  if (!oa.ok) return oa;
  let at = oa.value.next;
  if (at + 9 > bytes.length) return decodeError('SMS_TRUNCATED', 'TP-PID, TP-DCS and TP-SCTS expected', at);
  const pid = bytes[at] as number;
  const dcs = bytes[at + 1] as number;
  const scts = bytes.slice(at + 2, at + 9);
  at += 9;
  const ud = readUserData(bytes, at, dcs, (first & 0x40) !== 0);
  if (!ud.ok) return ud;
  return ok({
    type: 'deliver',
    moreMessagesToSend: (first & 0x04) === 0,
    loopPrevention: (first & 0x08) !== 0,
    statusReportIndication: (first & 0x20) !== 0,
    replyPath: (first & 0x80) !== 0,
    originatingAddress: oa.value.address,
    protocolIdentifier: pid,
    dataCodingScheme: dcs,
    serviceCentreTimeStamp: scts,
    ...ud.value,
  });
}

export function encodeSmsDeliver(tpdu: SmsDeliver): Result<Uint8Array> {
  const oa = encodeAddress(tpdu.originatingAddress);
  if (!oa.ok) return oa;
  if (tpdu.serviceCentreTimeStamp.length !== 7)
    return decodeError('SMS_SCTS_LENGTH', 'the time stamp is 7 octets');
  const first =
    (tpdu.moreMessagesToSend ? 0 : 0x04) |
    (tpdu.loopPrevention ? 0x08 : 0) |
    (tpdu.statusReportIndication ? 0x20 : 0) |
    (tpdu.userData.header ? 0x40 : 0) |
    (tpdu.replyPath ? 0x80 : 0);
  return finish(
    [
      Uint8Array.of(first),
      oa.value,
      Uint8Array.of(tpdu.protocolIdentifier, tpdu.dataCodingScheme),
      tpdu.serviceCentreTimeStamp,
    ],
    tpdu,
  );
}

const VPF = { none: 0, enhanced: 1, relative: 2, absolute: 3 } as const;

/** TS 23.040 §9.2.2.2: SMS-SUBMIT (TP-MTI 01, in the MO direction). */
export function decodeSmsSubmit(bytes: Uint8Array): Result<SmsSubmit> {
  const first = bytes[0];
  const mr = bytes[1];
  if (first === undefined || mr === undefined)
    return decodeError('SMS_TRUNCATED', 'first octet and TP-MR expected');
  if ((first & 0x03) !== 0x01) return decodeError('SMS_MTI', 'TP-MTI is not SMS-SUBMIT', 0);
  const da = decodeAddressAt(bytes, 2);
  if (!da.ok) return da;
  let at = da.value.next;
  if (at + 2 > bytes.length) return decodeError('SMS_TRUNCATED', 'TP-PID and TP-DCS expected', at);
  const pid = bytes[at] as number;
  const dcs = bytes[at + 1] as number;
  at += 2;
  let validityPeriod: ValidityPeriod;
  const vpf = (first >> 3) & 0x03;
  if (vpf === VPF.none) validityPeriod = { format: 'none' };
  else if (vpf === VPF.relative) {
    const v = bytes[at];
    if (v === undefined) return decodeError('SMS_TRUNCATED', 'TP-VP expected', at);
    validityPeriod = { format: 'relative', value: v };
    at += 1;
  } else {
    if (at + 7 > bytes.length) return decodeError('SMS_TRUNCATED', 'a 7-octet TP-VP expected', at);
    validityPeriod = {
      format: vpf === VPF.absolute ? 'absolute' : 'enhanced',
      value: bytes.slice(at, at + 7),
    };
    at += 7;
  }
  const ud = readUserData(bytes, at, dcs, (first & 0x40) !== 0);
  if (!ud.ok) return ud;
  return ok({
    type: 'submit',
    rejectDuplicates: (first & 0x04) !== 0,
    statusReportRequest: (first & 0x20) !== 0,
    replyPath: (first & 0x80) !== 0,
    messageReference: mr,
    destinationAddress: da.value.address,
    protocolIdentifier: pid,
    dataCodingScheme: dcs,
    validityPeriod,
    ...ud.value,
  });
}

export function encodeSmsSubmit(tpdu: SmsSubmit): Result<Uint8Array> {
  const da = encodeAddress(tpdu.destinationAddress);
  if (!da.ok) return da;
  const vp = tpdu.validityPeriod;
  let vpBytes: Uint8Array = new Uint8Array(0);
  if (vp.format === 'relative') vpBytes = Uint8Array.of(vp.value);
  else if (vp.format !== 'none') {
    if (vp.value.length !== 7)
      return decodeError('SMS_VP_LENGTH', 'an enhanced or absolute TP-VP is 7 octets');
    vpBytes = vp.value;
  }
  const first =
    0x01 |
    (tpdu.rejectDuplicates ? 0x04 : 0) |
    (VPF[vp.format] << 3) |
    (tpdu.statusReportRequest ? 0x20 : 0) |
    (tpdu.userData.header ? 0x40 : 0) |
    (tpdu.replyPath ? 0x80 : 0);
  return finish(
    [
      Uint8Array.of(first, tpdu.messageReference),
      da.value,
      Uint8Array.of(tpdu.protocolIdentifier, tpdu.dataCodingScheme),
      vpBytes,
    ],
    tpdu,
  );
}

function finish(
  parts: Uint8Array[],
  tpdu: { userDataLength: number; userData: UserData },
): Result<Uint8Array> {
  const ud = encodeUserData(tpdu.userData);
  if (ud.length > MAX_UD_OCTETS) return decodeError('SMS_UDL', 'more than 140 octets of user data');
  if (!Number.isInteger(tpdu.userDataLength) || tpdu.userDataLength < 0 || tpdu.userDataLength > 0xff)
    return decodeError('SMS_UDL', 'TP-UDL is one octet');
  return ok(concatBytes([...parts, Uint8Array.of(tpdu.userDataLength), ud]));
}

/** TS 23.040 §9.2.3.9 / §9.2.3.10: the TP-PID and TP-DCS of SIM data download (class 2, 8-bit). */
export const SIM_DATA_DOWNLOAD = { protocolIdentifier: 0x7f, dataCodingScheme: 0xf6 } as const;

/** An SMS-DELIVER for SIM data download carrying `userData`, with the true TP-UDL. */
export function simDataDownload(options: {
  originatingAddress: SmsAddress;
  serviceCentreTimeStamp: Uint8Array;
  userData: UserData;
}): SmsDeliver {
  return {
    type: 'deliver',
    moreMessagesToSend: true,
    loopPrevention: false,
    statusReportIndication: false,
    replyPath: false,
    ...SIM_DATA_DOWNLOAD,
    originatingAddress: options.originatingAddress,
    serviceCentreTimeStamp: options.serviceCentreTimeStamp,
    userDataLength: userDataLengthFor(SIM_DATA_DOWNLOAD.dataCodingScheme, options.userData),
    userData: options.userData,
  };
}

// ---------------------------------------------------------------------------------------------------
// Secured packets over one or more SMS — TS 31.115 §4/§6 with TS 23.040 §9.2.3.24.1 concatenation

export interface Concatenation {
  readonly reference: number;
  readonly total: number;
  readonly sequence: number;
}

/** The 8-bit-reference concatenation element of a header, if any (TS 23.040 §9.2.3.24.1). */
export function concatenationOf(
  header: readonly InformationElement[] | undefined,
): Concatenation | undefined {
  const ie = header?.find((e) => e.iei === IEI.CONCATENATION_8BIT);
  if (ie?.data.length !== 3) return undefined;
  return { reference: ie.data[0] as number, total: ie.data[1] as number, sequence: ie.data[2] as number };
}

/**
 * Split a secured packet into user data of at most 140 octets: one SMS with UDH `02 70 00` (or 71)
 * when it fits, otherwise a first segment with `07 70 00 00 03 ref n 01` and further ones with
 * `05 00 03 ref n i` (esim.md §4.4).
 */
export function segmentSecuredPacket(
  packet: Uint8Array,
  identifier: typeof IEI.COMMAND_PACKET | typeof IEI.RESPONSE_PACKET,
  reference: number,
): Result<UserData[]> {
  if (!Number.isInteger(reference) || reference < 0 || reference > 0xff)
    return decodeError('SMS_CONCAT_REFERENCE', 'the concatenation reference is one octet');
  const packetIe: InformationElement = { iei: identifier, data: new Uint8Array(0) };
  if (3 + packet.length <= MAX_UD_OCTETS) return ok([{ header: [packetIe], body: packet.slice() }]);
  const first = MAX_UD_OCTETS - 8;
  const next = MAX_UD_OCTETS - 6;
  const total = 1 + Math.ceil((packet.length - first) / next);
  if (total > 0xff) return decodeError('SMS_CONCAT_TOTAL', 'a packet of more than 255 segments');
  const segments: UserData[] = [];
  for (let i = 1; i <= total; i++) {
    const start = i === 1 ? 0 : first + (i - 2) * next;
    const end = i === 1 ? first : start + next;
    const concat: InformationElement = {
      iei: IEI.CONCATENATION_8BIT,
      data: Uint8Array.of(reference, total, i),
    };
    segments.push({ header: i === 1 ? [packetIe, concat] : [concat], body: packet.slice(start, end) });
  }
  return ok(segments);
}

/**
 * Rebuild a secured packet from its segments (any order): a single SMS must carry IEI 70 or 71;
 * segments must share one reference and total, cover 1 … total once each, and the first must carry
 * the packet identifier.
 */
export function reassembleSecuredPacket(
  segments: readonly UserData[],
): Result<{ identifier: typeof IEI.COMMAND_PACKET | typeof IEI.RESPONSE_PACKET; packet: Uint8Array }> {
  const identifierOf = (ud: UserData) =>
    ud.header?.find(
      (e) => (e.iei === IEI.COMMAND_PACKET || e.iei === IEI.RESPONSE_PACKET) && e.data.length === 0,
    )?.iei as typeof IEI.COMMAND_PACKET | typeof IEI.RESPONSE_PACKET | undefined;
  const only = segments[0];
  if (only && segments.length === 1 && !concatenationOf(only.header)) {
    const identifier = identifierOf(only);
    if (identifier === undefined) return decodeError('SMS_NOT_SECURED_PACKET', 'no IEI 70/71 in the header');
    return ok({ identifier, packet: only.body.slice() });
  }
  const parts = segments.map((s) => ({ s, c: concatenationOf(s.header) }));
  const c0 = parts[0]?.c;
  if (!c0) return decodeError('SMS_CONCAT_MISSING', 'a segment without a concatenation element');
  const ordered: (UserData | undefined)[] = new Array(c0.total).fill(undefined);
  for (const { s, c } of parts) {
    if (!c || c.reference !== c0.reference || c.total !== c0.total)
      return decodeError('SMS_CONCAT_MISMATCH', 'segments of different messages');
    if (c.sequence < 1 || c.sequence > c.total || ordered[c.sequence - 1])
      return decodeError('SMS_CONCAT_SEQUENCE', 'a sequence number out of range or repeated');
    ordered[c.sequence - 1] = s;
  }
  if (segments.length !== c0.total)
    return decodeError('SMS_CONCAT_INCOMPLETE', `${segments.length} of ${c0.total} segments`);
  const identifier = identifierOf(ordered[0] as UserData);
  if (identifier === undefined)
    return decodeError('SMS_NOT_SECURED_PACKET', 'the first segment has no IEI 70/71');
  return ok({ identifier, packet: concatBytes(ordered.map((s) => (s as UserData).body)) });
}
