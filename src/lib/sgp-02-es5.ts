// The data of the ES5 interface between the SM-SR and the ISD-R (GSMA SGP.02 §4.1.1; byte layouts in
// esim.md §1.5), both ends: the C-APDUs the SM-SR sends (CreateISDP, Enable/Disable/DeleteProfile,
// SetFallbackAttribute, AuditEIS, UpdateSMSRAddressingParameters, NotificationConfirmation), the STORE
// DATA DGIs, the default notification (`E1`) the eUICC sends and the answers it gives. Pure and total:
// every decoder returns a value or a typed error. The card side is src/card/euicc/sgp-02-isd-r.ts (and,
// for the SM-SR change's EstablishISDRKeySet and FinaliseISDRhandover, src/card/euicc/sgp-02-isd-r-keysets.ts).
//
// Points esim.md marks open are pinned here, once, for both ends (each says "to verify"):
//  - DELETE P2: '40' as njiwa sends it (GP: delete related objects) [?]; the card accepts '00' too.
//  - 3A07 content: '80' SM-SR destination address, '81' SMS centre address, each TON/NPI ‖ TBCD as a
//    TS 23.040 address value; other TLVs (HTTPS/DNS parameters) kept opaque — to verify against SGP.02
//    §4.1.1.10 (whatever_ty nests an SMSC address as A3{81{85 …}}).
//  - GET STATUS answer per ISD-P: 'E3' {4F AID, 9F70 life cycle, 53 properties (b1 fall-back),
//    8F memory granted, 91 memory remaining} as njiwa reads it ("Table 28 SGP.02 v4.1") — to verify.
//  - ECASD certificate: GET DATA 'BF30' with tag list '5C 02 7F21', answer 'BF30' {7F21 …} — to verify
//    against SGP.02 §4.1.1.5.
//  - FinaliseISDRhandover: DELETE P2 '00' with 'F2 03 KVN KIDfirst KIDlast' per key set, as njiwa and
//    whatever_ty send it (GP's DELETE [key] uses D0/D2) — to verify against SGP.02 §4.1.1.9.

import { decodeTbcd, encodeTbcd } from './bcd.js';
import { concatBytes, decodeBerTlvList, encodeBerTlv } from './ber-tlv.js';
import { fromHex, toHex } from './hex.js';
import { decodeError, ok, type Result } from './result.js';
import { decodeEid, encodeEid } from './sgp-02-eid.js';

// --- DGIs (GP Card Specification §11.11.2.3: STORE DATA in DGI format) ------------------------------

/** The STORE DATA DGIs of ES5 (esim.md §1.5). */
export const DGI = {
  ENABLE_PROFILE: 0x3a03,
  DISABLE_PROFILE: 0x3a04,
  SET_FALLBACK_ATTRIBUTE: 0x3a05,
  UPDATE_SMSR_ADDRESSING: 0x3a07,
  NOTIFICATION_CONFIRMATION: 0x3a08,
  /** Key establishment (esim.md §4.2): the off-card entity's certificate, then the key agreement. */
  KEYSET_CERTIFICATE: 0x3a01,
  KEYSET_KEY_AGREEMENT: 0x3a02,
} as const;

export interface Dgi {
  readonly tag: number;
  readonly value: Uint8Array;
}

/** DGI ‖ length (one octet, or 'FF' and two octets from 255 on) ‖ value. */
export function encodeDgi(tag: number, value: Uint8Array): Uint8Array {
  const length =
    value.length < 0xff
      ? Uint8Array.of(value.length)
      : Uint8Array.of(0xff, value.length >> 8, value.length & 0xff);
  return concatBytes([Uint8Array.of(tag >> 8, tag & 0xff), length, value]);
}

/** Exactly one DGI filling `bytes`. */
export function decodeDgi(bytes: Uint8Array): Result<Dgi> {
  if (bytes.length < 3) return decodeError('DGI_TRUNCATED', 'a DGI has a 2-octet tag and a length');
  const tag = ((bytes[0] as number) << 8) | (bytes[1] as number);
  let length = bytes[2] as number;
  let start = 3;
  if (length === 0xff) {
    if (bytes.length < 5) return decodeError('DGI_TRUNCATED', 'the long DGI length is cut off', 2);
    length = ((bytes[3] as number) << 8) | (bytes[4] as number);
    start = 5;
  }
  if (start + length !== bytes.length)
    return decodeError(
      'DGI_LENGTH',
      `the DGI length ${length} does not match the ${bytes.length - start} octets`,
      2,
    );
  return ok({ tag, value: bytes.slice(start) });
}

// --- small TLV helpers ------------------------------------------------------------------------------

/** The TLVs of `bytes` by tag (first occurrence); a decode error when they do not parse. */
function tlvMap(bytes: Uint8Array): Result<Map<number, Uint8Array>> {
  const list = decodeBerTlvList(bytes);
  if (!list.ok) return list;
  const out = new Map<number, Uint8Array>();
  for (const t of list.value) if (!out.has(t.tag)) out.set(t.tag, t.value);
  return ok(out);
}

const aidTlv = (aid: string): Uint8Array => encodeBerTlv(0x4f, fromHex(aid) ?? new Uint8Array(0));

/** `4F L AID` alone (the content of 3A03/3A04/3A05 and of DELETE): the AID as upper-case hex. */
export function decodeAidTlv(bytes: Uint8Array): Result<string> {
  const list = decodeBerTlvList(bytes);
  if (!list.ok) return list;
  const first = list.value[0];
  if (list.value.length !== 1 || first?.tag !== 0x4f)
    return decodeError('ES5_AID', "expected one '4F' TLV with the ISD-P AID");
  if (first.value.length < 5 || first.value.length > 16)
    return decodeError('ES5_AID', 'an AID is 5 to 16 octets');
  return ok(toHex(first.value).toUpperCase());
}

const u16 = (n: number) => Uint8Array.of((n >> 8) & 0xff, n & 0xff);

/** An unsigned big-endian integer of 1 to 4 octets. */
function readUnsigned(bytes: Uint8Array): number | undefined {
  if (bytes.length < 1 || bytes.length > 4) return undefined;
  let n = 0;
  for (const b of bytes) n = n * 256 + b;
  return n;
}

/** The shortest big-endian encoding (at least one octet). */
function writeUnsigned(n: number): Uint8Array {
  const out: number[] = [];
  let v = Math.max(0, Math.floor(n));
  do {
    out.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0 && out.length < 4);
  return Uint8Array.from(out);
}

// --- TS 23.040 address values (TON/NPI ‖ TBCD digits) ---------------------------------------------

const INTERNATIONAL = 0x91;

export function encodeAddressValue(digits: string): Uint8Array {
  return concatBytes([Uint8Array.of(INTERNATIONAL), encodeTbcd(digits)]);
}

export function decodeAddressValue(bytes: Uint8Array): Result<string> {
  if (bytes.length < 2 || bytes.length > 11)
    return decodeError('ES5_ADDRESS', 'an address is 2 to 11 octets');
  if (((bytes[0] as number) & 0x80) === 0)
    return decodeError('ES5_ADDRESS', 'TON/NPI octet must have b8 set');
  const digits = decodeTbcd(bytes.subarray(1));
  if (!digits.ok) return decodeError('ES5_ADDRESS', digits.error.message);
  if (digits.value.length === 0) return decodeError('ES5_ADDRESS', 'no digits');
  return ok(digits.value);
}

// --- the C-APDUs of ES5 (SM-SR side) ----------------------------------------------------------------

const apdu = (cla: number, ins: number, p1: number, p2: number, data: Uint8Array, le?: number): Uint8Array =>
  concatBytes([
    Uint8Array.of(cla, ins, p1, p2, data.length),
    data,
    le === undefined ? new Uint8Array(0) : Uint8Array.of(le),
  ]);

const lv = (bytes: Uint8Array) => concatBytes([Uint8Array.of(bytes.length), bytes]);

/** GP privileges of an ISD-P: security domain, trusted path, authorised management (esim.md §1.5). */
export const ISD_P_PRIVILEGES = Uint8Array.of(0x80, 0xc0, 0x00);

/**
 * ES5.CreateISDP: INSTALL [for install and make selectable] `80 E6 0C 00` with the ISD-P load file
 * and module AIDs, the new ISD-P's AID, its privileges and install parameters `C9 04 81 02 03 70`
 * (SCP03, i = 70) and, with a quota, `EF 04 83 02 <memory>` — esim.md §1.5 after njiwa
 * CreateISDPTransaction ("Table 10 §4.1.1 v4.2").
 */
export function createIsdpApdu(o: {
  loadFileAid: string;
  moduleAid: string;
  isdpAid: string;
  memory?: number;
}): Uint8Array {
  const params = concatBytes([
    hexBytes('C90481020370'),
    o.memory === undefined
      ? new Uint8Array(0)
      : encodeBerTlv(0xef, encodeBerTlv(0x83, memoryBytes(o.memory))),
  ]);
  const data = concatBytes([
    lv(hexBytes(o.loadFileAid)),
    lv(hexBytes(o.moduleAid)),
    lv(hexBytes(o.isdpAid)),
    lv(ISD_P_PRIVILEGES),
    lv(params),
    lv(new Uint8Array(0)),
  ]);
  return apdu(0x80, 0xe6, 0x0c, 0x00, data);
}

const memoryBytes = (n: number) => (n <= 0xffff ? u16(n) : writeUnsigned(n));

const hexBytes = (h: string) => fromHex(h) ?? new Uint8Array(0);

/** STORE DATA, DGI format, last block: P1 '88' without response data, '89' with (esim.md §1.5). */
export const storeDataApdu = (dgi: number, value: Uint8Array, response = false): Uint8Array =>
  apdu(0x80, 0xe2, response ? 0x89 : 0x88, 0x00, encodeDgi(dgi, value));

export const enableProfileApdu = (aid: string) => storeDataApdu(DGI.ENABLE_PROFILE, aidTlv(aid));
export const disableProfileApdu = (aid: string) => storeDataApdu(DGI.DISABLE_PROFILE, aidTlv(aid));
export const setFallbackAttributeApdu = (aid: string) =>
  storeDataApdu(DGI.SET_FALLBACK_ATTRIBUTE, aidTlv(aid));

/** ES5.DeleteProfile: DELETE `80 E4 00 40 Lc 4F L AID` (P2 '40' as njiwa, to verify). */
export const deleteProfileApdu = (aid: string) => apdu(0x80, 0xe4, 0x00, 0x40, aidTlv(aid));

/** ES5.AuditEIS, first command: GET DATA 'BF30' for the ECASD certificate ('5C 02 7F21'). */
export const getEcasdCertificateApdu = () => apdu(0x80, 0xca, 0xbf, 0x30, hexBytes('5C027F21'), 0x00);
/** GET DATA 'FF21': extended card resources (TS 102 226 §8.2.1.7.2), as njiwa's AuditEIS sends. */
export const getCardResourcesApdu = () => concatBytes([Uint8Array.of(0x80, 0xca, 0xff, 0x21, 0x00)]);
/** ES5.AuditEIS per ISD-P: GET STATUS `80 F2 40 02 Lc 4F L AID` (an empty AID: every ISD-P). */
export const getStatusApdu = (aid?: string) =>
  apdu(0x80, 0xf2, 0x40, 0x02, aid === undefined ? Uint8Array.of(0x4f, 0x00) : aidTlv(aid), 0x00);

/** ES5.NotificationConfirmation: STORE DATA '3A08' {4E 02 seq}, response expected. */
export const notificationConfirmationApdu = (seq: number) =>
  storeDataApdu(DGI.NOTIFICATION_CONFIRMATION, encodeBerTlv(0x4e, u16(seq)), true);

export interface SmsrAddressingUpdate {
  readonly destination?: string;
  readonly smsc?: string;
  /** Further parameter TLVs, passed as they are. */
  readonly other?: Uint8Array;
}

export function encodeSmsrAddressing(u: SmsrAddressingUpdate): Uint8Array {
  return concatBytes([
    u.destination === undefined ? new Uint8Array(0) : encodeBerTlv(0x80, encodeAddressValue(u.destination)),
    u.smsc === undefined ? new Uint8Array(0) : encodeBerTlv(0x81, encodeAddressValue(u.smsc)),
    u.other ?? new Uint8Array(0),
  ]);
}

export function decodeSmsrAddressing(
  bytes: Uint8Array,
): Result<Required<SmsrAddressingUpdate> | SmsrAddressingUpdate> {
  const list = decodeBerTlvList(bytes);
  if (!list.ok) return list;
  let destination: string | undefined;
  let smsc: string | undefined;
  const other: Uint8Array[] = [];
  for (const t of list.value) {
    if (t.tag === 0x80 || t.tag === 0x81) {
      const digits = decodeAddressValue(t.value);
      if (!digits.ok) return digits;
      if (t.tag === 0x80) destination = digits.value;
      else smsc = digits.value;
    } else other.push(encodeBerTlv(t.tag, t.value));
  }
  return ok({
    ...(destination === undefined ? {} : { destination }),
    ...(smsc === undefined ? {} : { smsc }),
    other: concatBytes(other),
  });
}

/** ES5.UpdateSMSRAddressingParameters: STORE DATA '3A07'. */
export const updateSmsrAddressingApdu = (u: SmsrAddressingUpdate) =>
  storeDataApdu(DGI.UPDATE_SMSR_ADDRESSING, encodeSmsrAddressing(u));

// --- SM-SR change: EstablishISDRKeySet and FinaliseISDRhandover (§3.8, esim.md §3.2 steps 8–26) ------

/** A short C-APDU (Lc one octet): what fits an SCP80 script; longer data is a caller's bug. */
function shortApdu(ins: number, p1: number, p2: number, data: Uint8Array): Uint8Array {
  if (data.length > 0xff) throw new RangeError(`a short APDU carries at most 255 octets, not ${data.length}`);
  return apdu(0x80, ins, p1, p2, data);
}

/**
 * ES5.EstablishISDRKeySet, first command (esim.md §4.2 (b)), sent by SM-SR1 with SM-SR2's
 * certificate from ES7 AuthenticateSMSR: STORE DATA `80 E2 09 00` {3A01 L CERT.SR.ECDSA} — DGI format,
 * more blocks follow, response expected. The answer is `85 L RC` (decodeRandomChallenge).
 */
export const establishIsdrKeySetCertificateApdu = (certificate: Uint8Array): Uint8Array =>
  shortApdu(0xe2, 0x09, 0x00, encodeDgi(DGI.KEYSET_CERTIFICATE, certificate));

/**
 * ES5.EstablishISDRKeySet, second command (esim.md §4.2 (c)), sent by SM-SR1 with what SM-SR2 gave in
 * ES7 CreateAdditionalKeySet: STORE DATA `80 E2 89 01` {3A02 L A6-CRT} 7F49 ePK 5F37 signature — the
 * `storeData` of src/crypto buildKeyEstablishmentRequest. The answer is `85 L DR 86 L receipt`
 * (src/crypto decodeKeyEstablishmentResponse / verifyKeyEstablishmentReceipt).
 */
export const establishIsdrKeySetApdu = (storeData: Uint8Array): Uint8Array =>
  shortApdu(0xe2, 0x89, 0x01, storeData);

/** The answer to the 3A01 STORE DATA: `85 L RC`, RC 16 to 32 octets. */
export function decodeRandomChallenge(bytes: Uint8Array): Result<Uint8Array> {
  const list = decodeBerTlvList(bytes);
  if (!list.ok) return list;
  const rc = list.value[0];
  if (list.value.length !== 1 || rc?.tag !== 0x85)
    return decodeError('ES5_RANDOM_CHALLENGE', "expected one '85' TLV with the random challenge");
  if (rc.value.length < 16 || rc.value.length > 32)
    return decodeError('ES5_RANDOM_CHALLENGE', 'RC is 16 to 32 octets');
  return ok(rc.value.slice());
}

/** One key set to delete: its KVN and the range of key identifiers (`F2 03 KVN KIDfirst KIDlast`). */
export interface KeysetReference {
  readonly kvn: number;
  readonly kidFirst: number;
  readonly kidLast: number;
}

/**
 * The whole of an ISD-R key set: SCP80 (KVN 01–0F) KIDs 01–03 (KIc, KID, DEK), SCP81 (KVN 40–4F)
 * KID 01 (the PSK); njiwa sends `F2 03 kvn 01 03` for the SCP80 set.
 */
export function isdrKeysetReference(kvn: number): KeysetReference {
  return { kvn, kidFirst: 0x01, kidLast: kvn >= 0x40 && kvn <= 0x4f ? 0x01 : 0x03 };
}

export const encodeKeysetDeletion = (refs: readonly KeysetReference[]): Uint8Array =>
  concatBytes(refs.map((r) => Uint8Array.of(0xf2, 0x03, r.kvn & 0xff, r.kidFirst & 0xff, r.kidLast & 0xff)));

/** The data of FinaliseISDRhandover's DELETE: one or more `F2 03 KVN KIDfirst KIDlast`, nothing else. */
export function decodeKeysetDeletion(bytes: Uint8Array): Result<KeysetReference[]> {
  const list = decodeBerTlvList(bytes);
  if (!list.ok) return list;
  if (list.value.length === 0) return decodeError('ES5_KEYSET', "expected at least one 'F2' key reference");
  const out: KeysetReference[] = [];
  for (const t of list.value) {
    if (t.tag !== 0xf2 || t.value.length !== 3)
      return decodeError('ES5_KEYSET', "expected 'F2 03' KVN, first and last key identifier");
    const kvn = t.value[0] as number;
    const kidFirst = t.value[1] as number;
    const kidLast = t.value[2] as number;
    if (kidFirst > kidLast) return decodeError('ES5_KEYSET', 'the first key identifier is after the last');
    out.push({ kvn, kidFirst, kidLast });
  }
  return ok(out);
}

/**
 * ES5.FinaliseISDRhandover (esim.md §1.5, njiwa "§4.1.1.9"): DELETE `80 E4 00 00` {F2 03 KVN
 * KIDfirst KIDlast}… — SM-SR2, over its own key set, deletes SM-SR1's SCP80 and SCP81 key sets.
 */
export const finaliseIsdrHandoverApdu = (refs: readonly KeysetReference[]): Uint8Array =>
  shortApdu(0xe4, 0x00, 0x00, encodeKeysetDeletion(refs));

// --- the default notification (eUICC → SM-SR) ------------------------------------------------------

export interface DefaultNotification {
  readonly eid: string;
  /** NOTIFICATION_TYPE of src/card/euicc/euicc-state.ts: 01 declaration … 05 after fall-back. */
  readonly type: number;
  readonly aid: string;
  readonly seq: number;
  readonly imei?: string;
}

/**
 * `E1` {4C EID, 4D type, 2F ISD-P AID, [14 IMEI], 4E seq} (esim.md §1.5 after njiwa
 * NotificationMessage "§4.1.1.11"; the AID and IMEI tags are read there as '2F'/'AF' and '14'/'94').
 */
export function encodeNotification(n: DefaultNotification): Result<Uint8Array> {
  const eid = encodeEid(n.eid);
  if (!eid.ok) return eid;
  const aid = fromHex(n.aid);
  if (aid === undefined || aid.length < 5 || aid.length > 16)
    return decodeError('ES5_AID', 'an AID is 5 to 16 octets');
  return ok(
    encodeBerTlv(
      0xe1,
      concatBytes([
        encodeBerTlv(0x4c, eid.value),
        encodeBerTlv(0x4d, Uint8Array.of(n.type & 0xff)),
        encodeBerTlv(0x2f, aid),
        n.imei === undefined ? new Uint8Array(0) : encodeBerTlv(0x14, encodeTbcd(n.imei)),
        encodeBerTlv(0x4e, u16(n.seq)),
      ]),
    ),
  );
}

export function decodeNotification(bytes: Uint8Array): Result<DefaultNotification> {
  const outer = decodeBerTlvList(bytes);
  if (!outer.ok) return outer;
  const e1 = outer.value[0];
  if (outer.value.length !== 1 || e1?.tag !== 0xe1)
    return decodeError('ES5_NOTIFICATION', "a notification is one 'E1' TLV");
  const m = tlvMap(e1.value);
  if (!m.ok) return m;
  const eidBytes = m.value.get(0x4c);
  const type = m.value.get(0x4d);
  const aid = m.value.get(0x2f) ?? m.value.get(0xaf);
  const seq = m.value.get(0x4e);
  if (eidBytes === undefined || type?.length !== 1 || aid === undefined || seq?.length !== 2)
    return decodeError(
      'ES5_NOTIFICATION',
      "'4C' EID, '4D' type, '2F' AID and '4E' sequence number are required",
    );
  const eid = decodeEid(eidBytes);
  if (!eid.ok) return eid;
  if (aid.length < 5 || aid.length > 16) return decodeError('ES5_AID', 'an AID is 5 to 16 octets');
  const imeiBytes = m.value.get(0x14) ?? m.value.get(0x94);
  let imei: string | undefined;
  if (imeiBytes !== undefined) {
    const d = decodeTbcd(imeiBytes);
    if (!d.ok) return decodeError('ES5_NOTIFICATION', `IMEI: ${d.error.message}`);
    imei = d.value;
  }
  return ok({
    eid: eid.value,
    type: type[0] as number,
    aid: toHex(aid).toUpperCase(),
    seq: ((seq[0] as number) << 8) | (seq[1] as number),
    ...(imei === undefined ? {} : { imei }),
  });
}

/** The 3A08 content: `4E 02 seq`. */
export function decodeConfirmation(bytes: Uint8Array): Result<number> {
  const m = tlvMap(bytes);
  if (!m.ok) return m;
  const seq = m.value.get(0x4e);
  if (seq?.length !== 2) return decodeError('ES5_CONFIRMATION', "expected '4E 02' with the sequence number");
  return ok(((seq[0] as number) << 8) | (seq[1] as number));
}

/** The answer to a confirmation: `80 L {4F L AID}*`, the ISD-Ps deleted as a follow-up (POL1). */
export const encodeConfirmationResponse = (deleted: readonly string[]): Uint8Array =>
  encodeBerTlv(0x80, concatBytes(deleted.map(aidTlv)));

export function decodeConfirmationResponse(bytes: Uint8Array): Result<string[]> {
  const outer = decodeBerTlvList(bytes);
  if (!outer.ok) return outer;
  const t = outer.value[0];
  if (outer.value.length !== 1 || t?.tag !== 0x80)
    return decodeError('ES5_CONFIRMATION', "expected one '80' TLV");
  const inner = decodeBerTlvList(t.value);
  if (!inner.ok) return inner;
  const out: string[] = [];
  for (const a of inner.value) {
    if (a.tag !== 0x4f || a.value.length < 5 || a.value.length > 16)
      return decodeError('ES5_AID', "expected '4F' AIDs of 5 to 16 octets");
    out.push(toHex(a.value).toUpperCase());
  }
  return ok(out);
}

// --- audit (GET STATUS per ISD-P) ---------------------------------------------------------------------

export interface IsdpStatus {
  readonly aid: string;
  readonly lifeCycle: number;
  readonly fallback: boolean;
  readonly memoryGranted: number;
  readonly memoryRemaining: number;
}

export const encodeIsdpStatus = (s: IsdpStatus): Uint8Array =>
  encodeBerTlv(
    0xe3,
    concatBytes([
      aidTlv(s.aid),
      encodeBerTlv(0x9f70, Uint8Array.of(s.lifeCycle & 0xff)),
      encodeBerTlv(0x53, Uint8Array.of(s.fallback ? 0x01 : 0x00)),
      encodeBerTlv(0x8f, writeUnsigned(s.memoryGranted)),
      encodeBerTlv(0x91, writeUnsigned(s.memoryRemaining)),
    ]),
  );

/** The `E3` records of a GET STATUS answer. */
export function decodeIsdpStatusList(bytes: Uint8Array): Result<IsdpStatus[]> {
  const list = decodeBerTlvList(bytes);
  if (!list.ok) return list;
  const out: IsdpStatus[] = [];
  for (const e3 of list.value) {
    if (e3.tag !== 0xe3) return decodeError('ES5_STATUS', "expected 'E3' records");
    const m = tlvMap(e3.value);
    if (!m.ok) return m;
    const aid = m.value.get(0x4f);
    const lcs = m.value.get(0x9f70);
    const props = m.value.get(0x53);
    const granted = readUnsigned(m.value.get(0x8f) ?? new Uint8Array(0));
    const remaining = readUnsigned(m.value.get(0x91) ?? new Uint8Array(0));
    if (
      aid === undefined ||
      aid.length < 5 ||
      aid.length > 16 ||
      lcs?.length !== 1 ||
      props?.length !== 1 ||
      granted === undefined ||
      remaining === undefined
    )
      return decodeError('ES5_STATUS', "an 'E3' record needs 4F, 9F70, 53, 8F and 91");
    out.push({
      aid: toHex(aid).toUpperCase(),
      lifeCycle: lcs[0] as number,
      fallback: ((props[0] as number) & 0x01) !== 0,
      memoryGranted: granted,
      memoryRemaining: remaining,
    });
  }
  return ok(out);
}

/** Extended card resources (TS 102 226 §8.2.1.7.2): `FF21` {81 apps, 82 free NVM, 83 free RAM}. */
export const encodeCardResources = (r: { applications: number; freeMemory: number; freeVolatile: number }) =>
  encodeBerTlv(
    0xff21,
    concatBytes([
      encodeBerTlv(0x81, writeUnsigned(r.applications)),
      encodeBerTlv(0x82, writeUnsigned(r.freeMemory)),
      encodeBerTlv(0x83, writeUnsigned(r.freeVolatile)),
    ]),
  );
