// 3GPP TS 31.102 (USIM application): the EFs of ADF.USIM this card carries (§4.2), the USIM service
// table numbers it uses, and the AUTHENTICATE command (§7.1.2) data and response formats, for both
// the card and a terminal talking to it.

import { decodePlmn, encodePlmn, type Plmn } from '../lib/bcd.js';
import { concatBytes } from '../lib/ber-tlv.js';
import { fromHex, toHex } from '../lib/hex.js';
import { decodeEfImsi, encodeEfImsi } from '../lib/identities.js';
import { decodeError, ok, type Result } from '../lib/result.js';
import type { ValueCodec } from '../lib/tlv-registry.js';
import { AddressTlv, alphaCodec } from '../lib/ts-102-223-tlv.js';
import type { DfDeclaration, EfDeclaration } from './file-system.js';
import { efArr, USIM_AID } from './ts-102-221.js';

const hexField = (bytes: Uint8Array): string => toHex(bytes).toUpperCase();
const bytesOf = (text: string, length: number): Uint8Array => {
  const out = new Uint8Array(length).fill(0xff);
  out.set((fromHex(text) ?? new Uint8Array(0)).subarray(0, length));
  return out;
};

/** A PLMN field where FFFFFF means "none" (deleted LAI/RAI/TAI, empty FPLMN entry). */
function decodeOptionalPlmn(bytes: Uint8Array): Result<Plmn | null> {
  if (bytes.every((b) => b === 0xff)) return ok(null);
  return decodePlmn(bytes);
}
const encodeOptionalPlmn = (plmn: Plmn | null): Uint8Array =>
  plmn === null ? Uint8Array.of(0xff, 0xff, 0xff) : encodePlmn(plmn);

const exactLength = (value: Uint8Array, n: number, name: string): Result<never> | undefined =>
  value.length === n ? undefined : decodeError('EF_LENGTH', `${name} is ${n} bytes, got ${value.length}`);

/** A one-byte status field with named values. */
function statusNames<N extends string>(names: readonly N[]) {
  return {
    decode: (b: number): Result<N> => {
      const name = names[b];
      return name === undefined ? decodeError('EF_STATUS', `unknown update status ${b}`) : ok(name);
    },
    encode: (name: N): number => names.indexOf(name),
  };
}

// --- USIM service table (§4.2.8) ------------------------------------------------------------------

/** Service numbers of EF.UST this card announces (and checks itself). */
export const USIM_SERVICE = {
  SERVICE_PROVIDER_NAME: 19,
  MSISDN: 21,
  GSM_ACCESS: 27,
  /** "Shall be set to 1" (packet switched domain). */
  PACKET_SWITCHED_DOMAIN: 33,
  GSM_SECURITY_CONTEXT: 38,
  EPS_MOBILITY_MANAGEMENT_INFORMATION: 85,
} as const;

/**
 * A service table of `size` bytes: bit (n−1) mod 8 of byte ⌊(n−1)/8⌋ means service n. Unused bytes
 * are 00 (not the FF filler of other EFs, which would announce every service).
 */
const serviceTableCodec = (size: number): ValueCodec<number[]> => ({
  decode(value) {
    const services: number[] = [];
    value.forEach((b, i) => {
      for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) services.push(i * 8 + bit + 1);
    });
    return ok(services);
  },
  encode(services) {
    const out = new Uint8Array(size);
    for (const n of services) {
      if (n >= 1 && n <= size * 8) out[(n - 1) >> 3] = (out[(n - 1) >> 3] as number) | (1 << ((n - 1) & 7));
    }
    return out;
  },
});

export function hasService(ust: Uint8Array, service: number): boolean {
  return (((ust[(service - 1) >> 3] ?? 0) >> ((service - 1) & 7)) & 1) === 1;
}

// --- EF declarations ------------------------------------------------------------------------------

export const EF_IMSI: EfDeclaration<string> = {
  kind: 'ef',
  name: 'EF.IMSI',
  fid: '6F07',
  sfi: 0x07,
  spec: 'TS 31.102 §4.2.2',
  description: 'IMSI: length byte, then the TS 24.008 mobile identity',
  structure: 'transparent',
  size: 9,
  read: 'PIN1',
  update: 'ADM',
  codec: { decode: decodeEfImsi, encode: encodeEfImsi },
  example: { hex: '080910101032547698', value: '001010123456789' },
  initial: (id) => id.imsi,
};

export interface Keys {
  /** Key set identifier; 7 means no key is available. */
  readonly ksi: number;
  readonly ck: string;
  readonly ik: string;
}

const keysCodec: ValueCodec<Keys> = {
  decode: (v) =>
    exactLength(v, 33, 'EF.Keys') ??
    ok({ ksi: (v[0] as number) & 0x07, ck: hexField(v.subarray(1, 17)), ik: hexField(v.subarray(17, 33)) }),
  encode: (k) => concatBytes([Uint8Array.of(k.ksi), bytesOf(k.ck, 16), bytesOf(k.ik, 16)]),
};

const NO_KEYS: Keys = { ksi: 7, ck: 'FF'.repeat(16), ik: 'FF'.repeat(16) };

const keysEf = (
  name: string,
  fid: string,
  sfi: number,
  spec: string,
  domain: string,
): EfDeclaration<Keys> => ({
  kind: 'ef',
  name,
  fid,
  sfi,
  spec,
  description: `Ciphering and integrity keys for the ${domain} domain (written by the terminal)`,
  structure: 'transparent',
  size: 33,
  read: 'PIN1',
  update: 'PIN1',
  codec: keysCodec,
  example: {
    hex: `02${'11'.repeat(16)}${'22'.repeat(16)}`,
    value: { ksi: 2, ck: '11'.repeat(16), ik: '22'.repeat(16) },
  },
  initial: () => NO_KEYS,
});

export const EF_KEYS = keysEf('EF.Keys', '6F08', 0x08, 'TS 31.102 §4.2.4', 'CS');
export const EF_KEYSPS = keysEf('EF.KeysPS', '6F09', 0x09, 'TS 31.102 §4.2.5', 'PS');

/** Access control classes 0..15 (TS 22.011 §4); byte 1 b8 = ACC15 … byte 2 b1 = ACC0. */
const accCodec: ValueCodec<number[]> = {
  decode(v) {
    const bad = exactLength(v, 2, 'EF.ACC');
    if (bad) return bad;
    const bits = ((v[0] as number) << 8) | (v[1] as number);
    const classes: number[] = [];
    for (let c = 0; c < 16; c++) if (bits & (1 << c)) classes.push(c);
    return ok(classes);
  },
  encode(classes) {
    let bits = 0;
    for (const c of classes) bits |= 1 << c;
    return Uint8Array.of(bits >> 8, bits & 0xff);
  },
};

export const EF_ACC: EfDeclaration<number[]> = {
  kind: 'ef',
  name: 'EF.ACC',
  fid: '6F78',
  sfi: 0x06,
  spec: 'TS 31.102 §4.2.15',
  description: 'Access control class (one of 0-9 from the IMSI, plus any special classes 11-15)',
  structure: 'transparent',
  size: 2,
  read: 'PIN1',
  update: 'ADM',
  codec: accCodec,
  example: { hex: '0200', value: [9] },
  // TS 22.011 §4.2: classes 0-9 are allocated at random; the last IMSI digit is the usual choice.
  initial: (id) => [Number(id.imsi.at(-1) ?? '0')],
};

const plmnListCodec: ValueCodec<(Plmn | null)[]> = {
  decode(v) {
    if (v.length % 3 !== 0) return decodeError('EF_LENGTH', 'a PLMN list is a multiple of 3 bytes');
    const out: (Plmn | null)[] = [];
    for (let i = 0; i < v.length; i += 3) {
      const plmn = decodeOptionalPlmn(v.subarray(i, i + 3));
      if (!plmn.ok) return decodeError(plmn.error.code, plmn.error.message, i);
      out.push(plmn.value);
    }
    return ok(out);
  },
  encode: (list) => concatBytes(list.map(encodeOptionalPlmn)),
};

export const EF_FPLMN: EfDeclaration<(Plmn | null)[]> = {
  kind: 'ef',
  name: 'EF.FPLMN',
  fid: '6F7B',
  sfi: 0x0d,
  spec: 'TS 31.102 §4.2.16',
  description: 'Forbidden PLMNs (4 entries)',
  structure: 'transparent',
  size: 12,
  read: 'PIN1',
  update: 'PIN1',
  codec: plmnListCodec,
  example: { hex: '62F210FFFFFFFFFFFFFFFFFF', value: [{ mcc: '262', mnc: '01' }, null, null, null] },
  initial: () => [null, null, null, null],
};

const locationStatus = statusNames([
  'updated',
  'not_updated',
  'plmn_not_allowed',
  'location_area_not_allowed',
] as const);

export interface Loci {
  readonly tmsi: string;
  readonly plmn: Plmn | null;
  readonly lac: string;
  readonly rfu: number;
  readonly updateStatus: 'updated' | 'not_updated' | 'plmn_not_allowed' | 'location_area_not_allowed';
}

const lociCodec: ValueCodec<Loci> = {
  decode(v) {
    const bad = exactLength(v, 11, 'EF.LOCI');
    if (bad) return bad;
    const plmn = decodeOptionalPlmn(v.subarray(4, 7));
    if (!plmn.ok) return plmn;
    const status = locationStatus.decode(v[10] as number);
    if (!status.ok) return status;
    return ok({
      tmsi: hexField(v.subarray(0, 4)),
      plmn: plmn.value,
      lac: hexField(v.subarray(7, 9)),
      rfu: v[9] as number,
      updateStatus: status.value,
    });
  },
  encode: (l) =>
    concatBytes([
      bytesOf(l.tmsi, 4),
      encodeOptionalPlmn(l.plmn),
      bytesOf(l.lac, 2),
      Uint8Array.of(l.rfu, locationStatus.encode(l.updateStatus)),
    ]),
};

/** A fresh card has no TMSI, the home PLMN, the "deleted" LAC FFFE and status "not updated". */
const homePlmn = (imsi: string, mncLength: 2 | 3): Plmn => ({
  mcc: imsi.slice(0, 3),
  mnc: imsi.slice(3, 3 + mncLength),
});

export const EF_LOCI: EfDeclaration<Loci> = {
  kind: 'ef',
  name: 'EF.LOCI',
  fid: '6F7E',
  sfi: 0x0b,
  spec: 'TS 31.102 §4.2.17',
  description: 'CS location information: TMSI, LAI, update status',
  structure: 'transparent',
  size: 11,
  read: 'PIN1',
  update: 'PIN1',
  codec: lociCodec,
  // pySim's example: TMSI 47D1264A, 262-01, LAC 3721.
  example: {
    hex: '47D1264A62F21037211E00',
    value: {
      tmsi: '47D1264A',
      plmn: { mcc: '262', mnc: '01' },
      lac: '3721',
      rfu: 0x1e,
      updateStatus: 'updated',
    },
  },
  initial: (id) => ({
    tmsi: 'FFFFFFFF',
    plmn: homePlmn(id.imsi, id.mncLength),
    lac: 'FFFE',
    rfu: 0xff,
    updateStatus: 'not_updated',
  }),
};

const routingStatus = statusNames([
  'updated',
  'not_updated',
  'plmn_not_allowed',
  'routing_area_not_allowed',
] as const);

export interface Psloci {
  readonly ptmsi: string;
  readonly ptmsiSignature: string;
  readonly plmn: Plmn | null;
  readonly lac: string;
  readonly rac: string;
  readonly updateStatus: 'updated' | 'not_updated' | 'plmn_not_allowed' | 'routing_area_not_allowed';
}

export const EF_PSLOCI: EfDeclaration<Psloci> = {
  kind: 'ef',
  name: 'EF.PSLOCI',
  fid: '6F73',
  sfi: 0x0c,
  spec: 'TS 31.102 §4.2.23',
  description: 'PS location information: P-TMSI, signature, RAI, routing area update status',
  structure: 'transparent',
  size: 14,
  read: 'PIN1',
  update: 'PIN1',
  codec: {
    decode(v) {
      const bad = exactLength(v, 14, 'EF.PSLOCI');
      if (bad) return bad;
      const plmn = decodeOptionalPlmn(v.subarray(7, 10));
      if (!plmn.ok) return plmn;
      const status = routingStatus.decode(v[13] as number);
      if (!status.ok) return status;
      return ok({
        ptmsi: hexField(v.subarray(0, 4)),
        ptmsiSignature: hexField(v.subarray(4, 7)),
        plmn: plmn.value,
        lac: hexField(v.subarray(10, 12)),
        rac: hexField(v.subarray(12, 13)),
        updateStatus: status.value,
      });
    },
    encode: (p) =>
      concatBytes([
        bytesOf(p.ptmsi, 4),
        bytesOf(p.ptmsiSignature, 3),
        encodeOptionalPlmn(p.plmn),
        bytesOf(p.lac, 2),
        bytesOf(p.rac, 1),
        Uint8Array.of(routingStatus.encode(p.updateStatus)),
      ]),
  },
  example: {
    hex: 'C2D3E4F5A1B2C300F1100001FF00',
    value: {
      ptmsi: 'C2D3E4F5',
      ptmsiSignature: 'A1B2C3',
      plmn: { mcc: '001', mnc: '01' },
      lac: '0001',
      rac: 'FF',
      updateStatus: 'updated',
    },
  },
  initial: (id) => ({
    ptmsi: 'FFFFFFFF',
    ptmsiSignature: 'FFFFFF',
    plmn: homePlmn(id.imsi, id.mncLength),
    lac: 'FFFE',
    rac: 'FF',
    updateStatus: 'not_updated',
  }),
};

const epsStatus = statusNames(['updated', 'not_updated', 'roaming_not_allowed'] as const);

export interface Epsloci {
  /** GUTI as stored (TS 24.301 §9.9.3.12 without IEI), or FF…FF when none. */
  readonly guti: string;
  readonly plmn: Plmn | null;
  readonly tac: string;
  readonly updateStatus: 'updated' | 'not_updated' | 'roaming_not_allowed';
}

export const EF_EPSLOCI: EfDeclaration<Epsloci> = {
  kind: 'ef',
  name: 'EF.EPSLOCI',
  fid: '6FE3',
  sfi: 0x1e,
  spec: 'TS 31.102 §4.2.91',
  description: 'EPS location information: GUTI, last visited TAI, EPS update status',
  structure: 'transparent',
  size: 18,
  read: 'PIN1',
  update: 'PIN1',
  codec: {
    decode(v) {
      const bad = exactLength(v, 18, 'EF.EPSLOCI');
      if (bad) return bad;
      const plmn = decodeOptionalPlmn(v.subarray(12, 15));
      if (!plmn.ok) return plmn;
      const status = epsStatus.decode(v[17] as number);
      if (!status.ok) return status;
      return ok({
        guti: hexField(v.subarray(0, 12)),
        plmn: plmn.value,
        tac: hexField(v.subarray(15, 17)),
        updateStatus: status.value,
      });
    },
    encode: (e) =>
      concatBytes([
        bytesOf(e.guti, 12),
        encodeOptionalPlmn(e.plmn),
        bytesOf(e.tac, 2),
        Uint8Array.of(epsStatus.encode(e.updateStatus)),
      ]),
  },
  example: {
    hex: '0BF600F110800101C2D3E4F500F110000100',
    value: {
      guti: '0BF600F110800101C2D3E4F5',
      plmn: { mcc: '001', mnc: '01' },
      tac: '0001',
      updateStatus: 'updated',
    },
  },
  initial: (id) => ({
    guti: 'FF'.repeat(12),
    plmn: homePlmn(id.imsi, id.mncLength),
    tac: '0000',
    updateStatus: 'not_updated',
  }),
};

export interface AdministrativeData {
  /** UE operation mode (byte 1): 00 normal, 80 type approval, 01 normal + specific facilities, … */
  readonly operationMode: number;
  /** Bytes 2-3 (additional information, ciphering indicator). */
  readonly additionalInformation: string;
  readonly mncLength: 2 | 3;
}

export const EF_AD: EfDeclaration<AdministrativeData> = {
  kind: 'ef',
  name: 'EF.AD',
  fid: '6FAD',
  sfi: 0x03,
  spec: 'TS 31.102 §4.2.18',
  description: 'Administrative data: UE operation mode and the length of the MNC in the IMSI',
  structure: 'transparent',
  size: 4,
  read: 'ALW',
  update: 'ADM',
  codec: {
    decode(v) {
      const bad = exactLength(v, 4, 'EF.AD');
      if (bad) return bad;
      const mnc = (v[3] as number) & 0x0f;
      if (mnc !== 2 && mnc !== 3) return decodeError('EF_AD', `MNC length ${mnc} is not 2 or 3`, 3);
      return ok({
        operationMode: v[0] as number,
        additionalInformation: hexField(v.subarray(1, 3)),
        mncLength: mnc,
      });
    },
    encode: (ad) =>
      concatBytes([
        Uint8Array.of(ad.operationMode),
        bytesOf(ad.additionalInformation, 2),
        Uint8Array.of(ad.mncLength),
      ]),
  },
  example: { hex: '00000003', value: { operationMode: 0, additionalInformation: '0000', mncLength: 3 } },
  initial: (id) => ({ operationMode: 0, additionalInformation: '0000', mncLength: id.mncLength }),
};

export const EF_UST: EfDeclaration<number[]> = {
  kind: 'ef',
  name: 'EF.UST',
  fid: '6F38',
  sfi: 0x04,
  spec: 'TS 31.102 §4.2.8',
  description: 'USIM service table: which optional services the USIM supports',
  structure: 'transparent',
  size: 11,
  read: 'PIN1',
  update: 'ADM',
  codec: serviceTableCodec(11),
  example: { hex: '0000140420000000000010', value: [19, 21, 27, 38, 85] },
  initial: () => Object.values(USIM_SERVICE),
};

export const EF_EST: EfDeclaration<number[]> = {
  kind: 'ef',
  name: 'EF.EST',
  fid: '6F56',
  sfi: 0x05,
  spec: 'TS 31.102 §4.2.47',
  description: 'Enabled services table (FDN, BDN, APN control list): none enabled',
  structure: 'transparent',
  size: 1,
  read: 'PIN1',
  update: 'ADM',
  codec: serviceTableCodec(1),
  example: { hex: '05', value: [1, 3] },
  initial: () => [],
};

export interface DiallingNumber {
  readonly alpha: string;
  readonly ton: number;
  readonly npi: number;
  readonly number: string;
}

/** Alpha identifier length X of the MSISDN records (record length = X + 14). */
const MSISDN_ALPHA = 12;

/** TS 31.102 §4.4.2.3 (EF.ADN layout): alpha(X), BCD length, TON/NPI, 10 BCD bytes, CCP2, Ext5. */
const diallingNumberCodec: ValueCodec<DiallingNumber | null> = {
  decode(v) {
    const bad = exactLength(v, MSISDN_ALPHA + 14, 'an EF.MSISDN record');
    if (bad) return bad;
    if (v.every((b) => b === 0xff)) return ok(null);
    const alpha = alphaCodec.decode(v.subarray(0, MSISDN_ALPHA));
    if (!alpha.ok) return alpha;
    const len = v[MSISDN_ALPHA] as number;
    if (len < 1 || len > 11) return decodeError('EF_MSISDN', `BCD length ${len} out of range`, MSISDN_ALPHA);
    const address = AddressTlv.codec.decode(v.subarray(MSISDN_ALPHA + 1, MSISDN_ALPHA + 1 + len));
    if (!address.ok) return address;
    return ok({ alpha: alpha.value, ...address.value });
  },
  encode(record) {
    const out = new Uint8Array(MSISDN_ALPHA + 14).fill(0xff);
    if (record === null) return out;
    out.set(alphaCodec.encode(record.alpha).subarray(0, MSISDN_ALPHA));
    const address = AddressTlv.codec.encode(record);
    out[MSISDN_ALPHA] = address.length;
    out.set(address, MSISDN_ALPHA + 1);
    return out;
  },
};

export const EF_MSISDN: EfDeclaration<DiallingNumber | null> = {
  kind: 'ef',
  name: 'EF.MSISDN',
  fid: '6F40',
  spec: 'TS 31.102 §4.2.26',
  description: "The subscriber's own number(s)",
  structure: 'linear_fixed',
  size: MSISDN_ALPHA + 14,
  records: 2,
  read: 'PIN1',
  update: 'PIN1',
  codec: diallingNumberCodec,
  example: {
    hex: `4D79206E756D626572FFFFFF0791180700000010${'FF'.repeat(6)}`,
    value: { alpha: 'My number', ton: 1, npi: 1, number: '817000000001' },
  },
  initial: (id) => [id.msisdn === undefined ? null : { alpha: '', ton: 1, npi: 1, number: id.msisdn }, null],
};

export interface ServiceProviderName {
  /** Byte 1: b1 = show the registered PLMN, b2 = do not show the SPN when roaming. */
  readonly displayCondition: number;
  readonly name: string;
}

export const EF_SPN: EfDeclaration<ServiceProviderName> = {
  kind: 'ef',
  name: 'EF.SPN',
  fid: '6F46',
  spec: 'TS 31.102 §4.2.12',
  description: 'Service provider name shown by the terminal',
  structure: 'transparent',
  size: 17,
  read: 'ALW',
  update: 'ADM',
  codec: {
    decode(v) {
      const bad = exactLength(v, 17, 'EF.SPN');
      if (bad) return bad;
      const name = alphaCodec.decode(v.subarray(1));
      return name.ok ? ok({ displayCondition: v[0] as number, name: name.value }) : name;
    },
    encode: (spn) => concatBytes([Uint8Array.of(spn.displayCondition), alphaCodec.encode(spn.name)]),
  },
  example: { hex: `0173696D7472757374${'FF'.repeat(8)}`, value: { displayCondition: 1, name: 'simtrust' } },
  initial: (id) => ({ displayCondition: 0x01, name: id.spn ?? 'simtrust' }),
};

/** ADF.USIM and its files. FID 7FF0 is the conventional file id of the first ADF. */
export const ADF_USIM: DfDeclaration = {
  kind: 'adf',
  name: 'ADF.USIM',
  fid: '7FF0',
  aid: USIM_AID,
  label: 'USIM',
  spec: 'TS 31.102 §4.2',
  description: 'The USIM application',
  children: [
    EF_IMSI,
    EF_KEYS,
    EF_KEYSPS,
    EF_ACC,
    EF_FPLMN,
    EF_LOCI,
    EF_AD,
    EF_UST,
    EF_EST,
    EF_PSLOCI,
    EF_EPSLOCI,
    EF_MSISDN,
    EF_SPN,
    efArr('6F06', 0x17, 'TS 31.102 §4.2 (ADF-level EF.ARR)'),
  ],
};

// --- §7.1.2 AUTHENTICATE ------------------------------------------------------------------------------

/** P2 of AUTHENTICATE: b8 = 1 (specific reference data), then the security context. */
export const AUTH_CONTEXT = { GSM: 0x80, UMTS: 0x81 } as const;

/** Command data of the 3G context: L RAND L AUTN. */
export function encodeUmtsChallenge(rand: Uint8Array, autn: Uint8Array): Uint8Array {
  return concatBytes([Uint8Array.of(rand.length), rand, Uint8Array.of(autn.length), autn]);
}

export function decodeUmtsChallenge(data: Uint8Array): Result<{ rand: Uint8Array; autn: Uint8Array }> {
  if (data.length !== 34 || data[0] !== 16 || data[17] !== 16) {
    return decodeError('AUTH_DATA', '3G context data is 10 RAND 10 AUTN');
  }
  return ok({ rand: data.slice(1, 17), autn: data.slice(18, 34) });
}

/** Command data of the GSM context: L RAND. */
export const encodeGsmChallenge = (rand: Uint8Array): Uint8Array =>
  concatBytes([Uint8Array.of(rand.length), rand]);

export function decodeGsmChallenge(data: Uint8Array): Result<Uint8Array> {
  if (data.length !== 17 || data[0] !== 16) return decodeError('AUTH_DATA', 'GSM context data is 10 RAND');
  return ok(data.slice(1, 17));
}

/** Successful 3G context response tag ('DB') and synchronisation failure tag ('DC'). */
export const AUTH_TAG = { SUCCESS: 0xdb, SYNC_FAILURE: 0xdc } as const;

export type UmtsAuthResult =
  | {
      readonly kind: 'success';
      readonly res: Uint8Array;
      readonly ck: Uint8Array;
      readonly ik: Uint8Array;
      readonly kc?: Uint8Array;
    }
  | { readonly kind: 'sync_failure'; readonly auts: Uint8Array };

/** DB L RES L CK L IK [L Kc] — lengths inline, no overall length. */
export function encodeUmtsResult(r: UmtsAuthResult): Uint8Array {
  if (r.kind === 'sync_failure')
    return concatBytes([Uint8Array.of(AUTH_TAG.SYNC_FAILURE, r.auts.length), r.auts]);
  const parts = [
    Uint8Array.of(AUTH_TAG.SUCCESS),
    Uint8Array.of(r.res.length),
    r.res,
    Uint8Array.of(16),
    r.ck,
    Uint8Array.of(16),
    r.ik,
  ];
  if (r.kc) parts.push(Uint8Array.of(8), r.kc);
  return concatBytes(parts);
}

/** Terminal side: parse the response data of a 3G AUTHENTICATE. */
export function decodeUmtsResult(data: Uint8Array): Result<UmtsAuthResult> {
  const field = (offset: number): { value: Uint8Array; next: number } | undefined => {
    const len = data[offset];
    if (len === undefined || offset + 1 + len > data.length) return undefined;
    return { value: data.slice(offset + 1, offset + 1 + len), next: offset + 1 + len };
  };
  if (data[0] === AUTH_TAG.SYNC_FAILURE) {
    const auts = field(1);
    if (auts?.value.length !== 14 || auts.next !== data.length)
      return decodeError('AUTH_RESPONSE', 'DC must carry a 14-byte AUTS');
    return ok({ kind: 'sync_failure', auts: auts.value });
  }
  if (data[0] !== AUTH_TAG.SUCCESS) return decodeError('AUTH_RESPONSE', 'response must start with DB or DC');
  const res = field(1);
  const ck = res && field(res.next);
  const ik = ck && field(ck.next);
  if (
    !res ||
    !ck ||
    !ik ||
    res.value.length < 4 ||
    res.value.length > 16 ||
    ck.value.length !== 16 ||
    ik.value.length !== 16
  ) {
    return decodeError('AUTH_RESPONSE', 'DB response must carry RES, CK and IK');
  }
  if (ik.next === data.length) return ok({ kind: 'success', res: res.value, ck: ck.value, ik: ik.value });
  const kc = field(ik.next);
  if (kc?.value.length !== 8 || kc.next !== data.length) return decodeError('AUTH_RESPONSE', 'bad Kc field');
  return ok({ kind: 'success', res: res.value, ck: ck.value, ik: ik.value, kc: kc.value });
}

/** GSM context response: L SRES L Kc. */
export const encodeGsmResult = (sres: Uint8Array, kc: Uint8Array): Uint8Array =>
  concatBytes([Uint8Array.of(sres.length), sres, Uint8Array.of(kc.length), kc]);

export function decodeGsmResult(data: Uint8Array): Result<{ sres: Uint8Array; kc: Uint8Array }> {
  if (data.length !== 14 || data[0] !== 4 || data[5] !== 8)
    return decodeError('AUTH_RESPONSE', 'GSM response is 04 SRES 08 Kc');
  return ok({ sres: data.slice(1, 5), kc: data.slice(6, 14) });
}
