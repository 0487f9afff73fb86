// The TCA (formerly SIMalliance) eUICC Profile Package, "Interoperable Format" (SAIP): the DER
// sequence of ProfileElements an SM-DP sends to an ISD-P in ES8 DownloadAndInstallation, and the
// EUICCResponse the eUICC answers with. Every PE of the ASN.1 module PEDefinitions decodes to a
// value shaped by its declaration (saip/pe-definitions.ts, component names as in the ASN.1);
// a PE whose tag is not in the module is kept as a generic TLV. The decoder is total and a decoded
// package re-encodes byte for byte.
//
// On top: what the eUICC acts on (readProfile: ICCID, IMSI, AD, UST, the AKA algorithm and keys,
// PINs/PUKs, security-domain keys, RFM), a builder from inventory data (buildProfilePackage), and the
// per-PE check that yields a PEStatus (checkProfileElement).

import { decodeEfIccid, decodeEfImsi, encodeEfIccid, encodeEfImsi, isIccid, isImsi } from './identities.js';
import { decodeError, ok, type Result } from './result.js';
import {
  type Asn1Record,
  type Asn1Value,
  decodeDer,
  encodeDer,
  encodeGeneric,
  type GenericTlv,
  splitTlvs,
} from './saip/der-schema.js';
import { EUICC_RESPONSE, PE_TYPES, type PeType, SERVICES } from './saip/pe-definitions.js';

export type { Asn1Record, Asn1Value, GenericTlv } from './saip/der-schema.js';
export { type PeType, SERVICES, TEMPLATE_FILES, type TemplatePeType } from './saip/pe-definitions.js';

/** One ProfileElement: its CHOICE alternative and the decoded SEQUENCE (ASN.1 component names). */
export type ProfileElement =
  | { readonly type: PeType; readonly value: Asn1Record }
  /** A PE this version of the module does not define: kept whole. */
  | { readonly type: 'unknown'; readonly value: GenericTlv };

const BY_TAG = new Map(PE_TYPES.map((t) => [t.tag, t]));
const BY_TYPE = new Map(PE_TYPES.map((t) => [t.type, t]));

/** The tag of a PE type ('a0' header … 'bf21' opt-iot). */
export function peTag(type: PeType): number {
  return (BY_TYPE.get(type) as { tag: number }).tag;
}

/** Decode one ProfileElement TLV (`bytes` holds exactly it). `offset` is used in errors. */
export function decodeProfileElement(bytes: Uint8Array, offset = 0): Result<ProfileElement> {
  const split = splitTlvs(bytes);
  if (!split.ok)
    return decodeError(split.error.code, split.error.message, offset + (split.error.offset ?? 0));
  if (split.value.length !== 1) return decodeError('TLV_TRAILING', 'bytes after the ProfileElement', offset);
  const tag = (split.value[0] as { tag: number }).tag;
  const def = BY_TAG.get(tag);
  if (!def) {
    const generic = decodeDer({ kind: 'any' }, tag, bytes, offset);
    return generic.ok ? ok({ type: 'unknown', value: generic.value as GenericTlv }) : generic;
  }
  const v = decodeDer(def.schema, tag, bytes, offset);
  if (!v.ok) return decodeError(v.error.code, `${def.type}: ${v.error.message}`, v.error.offset);
  return ok({ type: def.type, value: v.value as Asn1Record });
}

/** A decoded PE with where it sits in the package (for EUICCResponse offsets and error reports). */
export interface LocatedProfileElement {
  readonly element: ProfileElement;
  readonly offset: number;
  readonly raw: Uint8Array;
}

/** Decode a whole profile package: the concatenated DER ProfileElements. */
export function decodeProfilePackage(bytes: Uint8Array): Result<ProfileElement[]> {
  const located = decodeProfilePackageLocated(bytes);
  return located.ok ? ok(located.value.map((l) => l.element)) : located;
}

export function decodeProfilePackageLocated(bytes: Uint8Array): Result<LocatedProfileElement[]> {
  if (bytes.length === 0) return decodeError('SAIP_EMPTY', 'the profile package is empty');
  const split = splitTlvs(bytes);
  if (!split.ok) return split;
  const out: LocatedProfileElement[] = [];
  for (const { raw, offset } of split.value) {
    const pe = decodeProfileElement(raw, offset);
    if (!pe.ok) return pe;
    out.push({ element: pe.value, offset, raw });
  }
  return ok(out);
}

export function encodeProfileElement(pe: ProfileElement): Uint8Array {
  if (pe.type === 'unknown') return encodeGeneric(pe.value);
  const def = BY_TYPE.get(pe.type) as { tag: number; schema: Parameters<typeof encodeDer>[0] };
  return encodeDer(def.schema, def.tag, pe.value);
}

export function encodeProfilePackage(pes: readonly ProfileElement[]): Uint8Array {
  const parts = pes.map(encodeProfileElement);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// --- reading what the eUICC acts on ----------------------------------------------------------------

/** A File (SEQUENCE OF CHOICE) item. */
export type FileItem =
  | { readonly doNotCreate: null }
  | { readonly fileDescriptor: Asn1Record }
  | { readonly fillFileOffset: number }
  | { readonly fillFileContent: Uint8Array };

/**
 * SAIP §8.3.3: the content a File's fill items write — each fillFileContent at the current
 * position, fillFileOffset skipping bytes. Unwritten bytes are 'FF' (the TS 102 222 default).
 * Returns undefined when the PE gives no content (the template's default applies).
 */
export function fileContent(file: readonly FileItem[] | undefined): Uint8Array | undefined {
  if (!file) return undefined;
  const writes: { at: number; bytes: Uint8Array }[] = [];
  let at = 0;
  for (const item of file) {
    if ('fillFileOffset' in item) at += item.fillFileOffset;
    else if ('fillFileContent' in item) {
      writes.push({ at, bytes: item.fillFileContent });
      at += item.fillFileContent.length;
    }
  }
  if (writes.length === 0) return undefined;
  const out = new Uint8Array(at).fill(0xff);
  for (const w of writes) out.set(w.bytes, w.at);
  return out;
}

/** SAIP header ICCID: 10 bytes of BCD in reading order (not nibble-swapped as EF.ICCID), F-padded. */
export function encodeHeaderIccid(iccid: string): Uint8Array {
  if (!/^\d{1,20}$/.test(iccid)) throw new RangeError('ICCID must be 1..20 digits');
  const padded = iccid.padEnd(20, 'f');
  return Uint8Array.from({ length: 10 }, (_, i) => Number.parseInt(padded.slice(2 * i, 2 * i + 2), 16));
}

export function decodeHeaderIccid(bytes: Uint8Array): Result<string> {
  if (bytes.length !== 10) return decodeError('SAIP_ICCID', `header ICCID is 10 bytes, got ${bytes.length}`);
  const text = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  const digits = text.replace(/f+$/, '');
  if (!/^\d+$/.test(digits)) return decodeError('SAIP_ICCID', 'header ICCID is not BCD digits');
  return ok(digits);
}

export type AkaAlgorithm = 'milenage' | 'tuak' | 'test';
const ALGORITHM_IDS: Record<number, AkaAlgorithm> = { 1: 'milenage', 2: 'tuak', 3: 'test' };
export const ALGORITHM_ID: Record<AkaAlgorithm, number> = { milenage: 1, tuak: 2, test: 3 };

/** PE-AKAParameter as the NAA uses it. */
export interface AkaParameters {
  /** The NAA PE this akaParameter follows (e.g. 'usim', 'isim'). */
  readonly naa: string;
  readonly algorithm: AkaAlgorithm;
  readonly algorithmOptions: number;
  readonly k: Uint8Array;
  /** OPc for Milenage; ignored by the test algorithm. */
  readonly opc: Uint8Array;
  readonly sqnOptions?: number;
  readonly sqnDelta?: Uint8Array;
  readonly sqnAgeLimit?: Uint8Array;
}

export interface PinConfiguration {
  /** The file-system PE before it: 'mf' for global PINs, an NAA for local ones. */
  readonly context: string;
  /** PINKeyReferenceValue (1..8 PIN, 10..14/138..142 ADM, 129..136 second PIN). */
  readonly keyReference: number;
  /** The value as stored: ASCII digits, 'FF'-padded to 8 bytes. */
  readonly value: Uint8Array;
  readonly unblockingReference?: number;
  /** pinAttributes, DEFAULT 7. */
  readonly attributes: number;
  /** High nibble: maximum attempts; low nibble: retries left (DEFAULT 0x33 PIN, 0xAA PUK). */
  readonly maxAttempts: number;
  readonly retriesLeft: number;
}

export interface SecurityDomainKey {
  readonly usageQualifier: Uint8Array;
  readonly identifier: number;
  readonly version: number;
  readonly components: readonly { readonly type: Uint8Array; readonly data: Uint8Array }[];
}

/** Everything of a profile package the eUICC acts on. */
export interface ProfileContents {
  readonly version: { readonly major: number; readonly minor: number };
  readonly profileType?: string;
  readonly iccid: string;
  readonly mandatoryServices: readonly string[];
  readonly mandatoryGfste: readonly string[];
  /** The header's profile policy rules (POL1), when given; see decodePol1. */
  readonly pol1?: Pol1Rules;
  /** The header's connectivityParameters (SGP.02 SMS/HTTPS addressing), as sent. */
  readonly connectivityParameters?: Uint8Array;
  /** EF.ICCID under the MF (TS 102 221 §13.2), when the MF PE fills it. */
  readonly efIccid?: string;
  /** EF.IMSI of the (first) USIM. */
  readonly imsi?: string;
  readonly efAd?: Uint8Array;
  readonly efUst?: Uint8Array;
  /** The USIM's ADF name (AID). */
  readonly usimAid?: Uint8Array;
  readonly aka: readonly AkaParameters[];
  readonly pins: readonly PinConfiguration[];
  readonly puks: readonly PinConfiguration[];
  readonly securityDomainKeys: readonly SecurityDomainKey[];
  readonly rfm: readonly { readonly instanceAid: Uint8Array; readonly tars: readonly Uint8Array[] }[];
  /** Present when the last PE is 'end'. */
  readonly complete: boolean;
}

const NAAS = new Set(['usim', 'isim', 'csim', 'iot']);
const asRecord = (v: Asn1Value | undefined): Asn1Record => (v ?? {}) as Asn1Record;
const asBytes = (v: Asn1Value | undefined): Uint8Array | undefined =>
  v instanceof Uint8Array ? v : undefined;
const asNumber = (v: Asn1Value | undefined): number | undefined => (typeof v === 'number' ? v : undefined);
const asFile = (v: Asn1Value | undefined): readonly FileItem[] | undefined =>
  Array.isArray(v) ? (v as readonly FileItem[]) : undefined;

function pinConfig(context: string, r: Asn1Record, defaultCounter: number, pinKey: string): PinConfiguration {
  const counter = asNumber(r['maxNumOfAttemps-retryNumLeft']) ?? defaultCounter;
  const unblocking = asNumber(r.unblockingPINReference);
  return {
    context,
    keyReference: asNumber(r.keyReference) ?? 0,
    value: asBytes(r[pinKey]) ?? new Uint8Array(0),
    ...(unblocking === undefined ? {} : { unblockingReference: unblocking }),
    attributes: asNumber(r.pinAttributes) ?? 7,
    maxAttempts: counter >> 4,
    retriesLeft: counter & 0x0f,
  };
}

/**
 * What the eUICC installs from a decoded package. Values are checked (lengths, BCD) — a package
 * that decodes but carries unusable values gives a typed error naming the PE.
 */
export function readProfile(pes: readonly ProfileElement[]): Result<ProfileContents> {
  const first = pes[0];
  if (first?.type !== 'header') return decodeError('SAIP_ORDER', 'the first PE must be the header');
  const h = first.value;
  const iccid = decodeHeaderIccid(asBytes(h.iccid) ?? new Uint8Array(0));
  if (!iccid.ok) return iccid;
  let context = 'mf';
  let efIccid: string | undefined;
  let imsi: string | undefined;
  let efAd: Uint8Array | undefined;
  let efUst: Uint8Array | undefined;
  let usimAid: Uint8Array | undefined;
  const aka: AkaParameters[] = [];
  const pins: PinConfiguration[] = [];
  const puks: PinConfiguration[] = [];
  const securityDomainKeys: SecurityDomainKey[] = [];
  const rfm: { instanceAid: Uint8Array; tars: Uint8Array[] }[] = [];
  for (const [index, pe] of pes.entries()) {
    if (pe.type === 'unknown') continue;
    const v = pe.value;
    switch (pe.type) {
      case 'mf': {
        const content = fileContent(asFile(v['ef-iccid']));
        if (content) {
          const d = decodeEfIccid(content);
          if (!d.ok) return decodeError(d.error.code, `PE ${index} mf ef-iccid: ${d.error.message}`);
          efIccid = d.value;
        }
        break;
      }
      case 'usim':
        if (imsi === undefined) {
          const content = fileContent(asFile(v['ef-imsi']));
          if (content) {
            const d = decodeEfImsi(content);
            if (!d.ok) return decodeError(d.error.code, `PE ${index} usim ef-imsi: ${d.error.message}`);
            imsi = d.value;
          }
          efAd = fileContent(asFile(v['ef-ad']));
          efUst = fileContent(asFile(v['ef-ust']));
          const adf = asFile(v['adf-usim'])?.find((i) => 'fileDescriptor' in i) as
            | { fileDescriptor: Asn1Record }
            | undefined;
          usimAid = asBytes(adf?.fileDescriptor.dfName);
        }
        break;
      case 'akaParameter': {
        const config = asRecord(v.algoConfiguration);
        const p = config.algoParameter as Asn1Record | undefined;
        if (!p) return decodeError('SAIP_UNSUPPORTED', `PE ${index}: mappingParameter is not supported`);
        const algorithm = ALGORITHM_IDS[asNumber(p.algorithmID) ?? 0];
        if (!algorithm)
          return decodeError('SAIP_UNSUPPORTED', `PE ${index}: unknown algorithmID ${p.algorithmID}`);
        const k = asBytes(p.key) ?? new Uint8Array(0);
        const opc = asBytes(p.opc) ?? new Uint8Array(0);
        if (k.length !== 16 && !(algorithm === 'tuak' && k.length === 32))
          return decodeError('SAIP_BAD_VALUE', `PE ${index}: key must be 16 bytes`);
        if (algorithm === 'milenage' && opc.length !== 16)
          return decodeError('SAIP_BAD_VALUE', `PE ${index}: OPc must be 16 bytes`);
        const sqnOptions = asBytes(v.sqnOptions);
        const sqnDelta = asBytes(v.sqnDelta);
        const sqnAgeLimit = asBytes(v.sqnAgeLimit);
        aka.push({
          naa: context,
          algorithm,
          algorithmOptions: asBytes(p.algorithmOptions)?.[0] ?? 0,
          k,
          opc,
          ...(sqnOptions?.length === 1 ? { sqnOptions: sqnOptions[0] as number } : {}),
          ...(sqnDelta ? { sqnDelta } : {}),
          ...(sqnAgeLimit ? { sqnAgeLimit } : {}),
        });
        break;
      }
      case 'pinCodes': {
        const list = asRecord(v.pinCodes).pinconfig;
        if (Array.isArray(list))
          for (const r of list as Asn1Record[]) {
            const pin = pinConfig(context, r, 0x33, 'pinValue');
            if (pin.value.length !== 8)
              return decodeError('SAIP_BAD_VALUE', `PE ${index}: pinValue must be 8 bytes`);
            pins.push(pin);
          }
        break;
      }
      case 'pukCodes':
        for (const r of (v.pukCodes ?? []) as Asn1Record[]) {
          const puk = pinConfig(context, r, 0xaa, 'pukValue');
          if (puk.value.length !== 8)
            return decodeError('SAIP_BAD_VALUE', `PE ${index}: pukValue must be 8 bytes`);
          puks.push(puk);
        }
        break;
      case 'securityDomain':
        for (const key of (v.keyList ?? []) as Asn1Record[]) {
          securityDomainKeys.push({
            usageQualifier: asBytes(key.keyUsageQualifier) ?? new Uint8Array(0),
            identifier: asBytes(key.keyIdentifier)?.[0] ?? 0,
            version: asBytes(key.keyVersionNumber)?.[0] ?? 0,
            components: ((key.keyComponents ?? []) as Asn1Record[]).map((c) => ({
              type: asBytes(c.keyType) ?? new Uint8Array(0),
              data: asBytes(c.keyData) ?? new Uint8Array(0),
            })),
          });
        }
        break;
      case 'rfm':
        rfm.push({
          instanceAid: asBytes(v.instanceAID) ?? new Uint8Array(0),
          tars: ((v.tarList ?? []) as Uint8Array[]).slice(),
        });
        break;
      default:
        break;
    }
    if (NAAS.has(pe.type) || pe.type === 'mf' || pe.type === 'telecom') context = pe.type;
  }
  const services = asRecord(h['eUICC-Mandatory-services']);
  const pol = asBytes(h.pol);
  const pol1 = pol === undefined ? undefined : decodePol1(pol);
  if (pol1 && !pol1.ok) return pol1;
  const connectivityParameters = asBytes(h.connectivityParameters);
  return ok({
    version: { major: asNumber(h['major-version']) ?? 0, minor: asNumber(h['minor-version']) ?? 0 },
    ...(typeof h.profileType === 'string' ? { profileType: h.profileType } : {}),
    iccid: iccid.value,
    mandatoryServices: SERVICES.filter((s) => services[s] !== undefined),
    mandatoryGfste: ((h['eUICC-Mandatory-GFSTEList'] ?? []) as string[]).slice(),
    ...(pol1?.ok ? { pol1: pol1.value } : {}),
    ...(connectivityParameters ? { connectivityParameters } : {}),
    ...(efIccid === undefined ? {} : { efIccid }),
    ...(imsi === undefined ? {} : { imsi }),
    ...(efAd ? { efAd } : {}),
    ...(efUst ? { efUst } : {}),
    ...(usimAid ? { usimAid } : {}),
    aka,
    pins,
    puks,
    securityDomainKeys,
    rfm,
    complete: pes[pes.length - 1]?.type === 'end',
  });
}

// --- EUICCResponse -----------------------------------------------------------------------------------

/** PEStatus.status values (PEDefinitions); '6xxx'/'9xxx' ISO statuses are 24576.. / 36864.. */
export const PE_STATUS = {
  ok: 0,
  'pe-not-supported': 1,
  'memory-failure': 2,
  'bad-values': 3,
  'not-enough-memory': 4,
  'invalid-request-format': 5,
  'invalid-parameter': 6,
  'runtime-not-supported': 7,
  'lib-not-supported': 8,
  'template-not-supported': 9,
  'feature-not-supported': 10,
  'pin-code-missing': 11,
  'unsupported-profile-version': 31,
} as const;

export type PeStatusName = keyof typeof PE_STATUS;

export interface PeStatus {
  readonly status: number;
  /** Identification number of the PE (its PEHeader identification) the status is about. */
  readonly identification?: number;
  readonly additionalInformation?: number;
  /** Byte offset, within the PE, of the part that caused the status. */
  readonly offset?: number;
}

export interface EuiccResponse {
  readonly peStatus: readonly PeStatus[];
  readonly profileInstallationAborted?: boolean;
  readonly statusMessage?: string;
}

/** The status name for a code, when it has one. */
export function peStatusName(status: number): PeStatusName | undefined {
  return (Object.keys(PE_STATUS) as PeStatusName[]).find((k) => PE_STATUS[k] === status);
}

export function encodeEuiccResponse(r: EuiccResponse): Uint8Array {
  const value: Record<string, Asn1Value> = {
    peStatus: r.peStatus.map((s) => {
      const out: Record<string, Asn1Value> = { status: s.status };
      if (s.identification !== undefined) out.identification = s.identification;
      if (s.additionalInformation !== undefined) out['additional-information'] = s.additionalInformation;
      if (s.offset !== undefined) out.offset = s.offset;
      return out;
    }),
  };
  if (r.profileInstallationAborted) value.profileInstallationAborted = null;
  if (r.statusMessage !== undefined) value.statusMessage = r.statusMessage;
  return encodeDer(EUICC_RESPONSE, 0x30, value);
}

/**
 * Components a later version of the module appends (EXTENSIBILITY IMPLIED) are skipped: the SM-DP
 * acts on the statuses it knows.
 */
export function decodeEuiccResponse(bytes: Uint8Array): Result<EuiccResponse> {
  const v = decodeDer(EUICC_RESPONSE, 0x30, bytes);
  if (!v.ok) return v;
  const r = v.value as Asn1Record;
  const peStatus = (r.peStatus as Asn1Record[]).map((s) => {
    const identification = asNumber(s.identification);
    const additionalInformation = asNumber(s['additional-information']);
    const offset = asNumber(s.offset);
    return {
      status: s.status as number,
      ...(identification === undefined ? {} : { identification }),
      ...(additionalInformation === undefined ? {} : { additionalInformation }),
      ...(offset === undefined ? {} : { offset }),
    };
  });
  return ok({
    peStatus,
    ...(r.profileInstallationAborted === null ? { profileInstallationAborted: true } : {}),
    ...(typeof r.statusMessage === 'string' ? { statusMessage: r.statusMessage } : {}),
  });
}

// --- the eUICC's check of each PE -----------------------------------------------------------------------

/** What this eUICC supports; PEs asking for more are refused with the matching PEStatus. */
export interface EuiccCapabilities {
  /** Profile package major versions accepted (SAIP 2.x and 3.x decode with the 3.3.1 module). */
  readonly majorVersions: readonly number[];
  readonly algorithms: readonly AkaAlgorithm[];
  /** Services of the header's eUICC-Mandatory-services the eUICC offers. */
  readonly services: readonly string[];
}

/** The software eUICC: Milenage and the test algorithm; TUAK and CAVE are not implemented. */
export const SOFTWARE_EUICC_CAPABILITIES: EuiccCapabilities = {
  majorVersions: [2, 3],
  algorithms: ['milenage', 'test'],
  services: SERVICES.filter((s) => s !== 'tuak128' && s !== 'tuak256' && s !== 'cave' && s !== 'eaka'),
};

/** TS 35.206 §4.1 r1..r5 in bytes (64, 0, 32, 64, 96 bits) and c1..c5 — the ASN.1 DEFAULTs. */
const MILENAGE_ROTATIONS = Uint8Array.of(0x40, 0x00, 0x20, 0x40, 0x60);
const MILENAGE_XORINGS = Uint8Array.from({ length: 80 }, (_, i) =>
  i % 16 === 15 ? ([0, 1, 2, 4, 8][i >> 4] as number) : 0,
);

/** Absent (the DEFAULT applies) or equal to `expected`. */
function sameBytes(v: Uint8Array | undefined, expected: Uint8Array): boolean {
  return v === undefined || (v.length === expected.length && v.every((b, i) => b === expected[i]));
}

/** The identification of a PE's PEHeader, its first component (the header PE has none). */
function peIdentification(pe: ProfileElement): number | undefined {
  if (pe.type === 'unknown' || pe.type === 'header') return undefined;
  const first = Object.values(pe.value)[0];
  return asNumber(isAsn1Record(first) ? first.identification : undefined);
}

function isAsn1Record(v: Asn1Value | undefined): v is Asn1Record {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !Array.isArray(v);
}

/**
 * The eUICC's answer to one PE at position `index` of the package (SAIP §8.2: header first, end
 * last): ok, or the PEStatus that stops installation. Checks what this eUICC acts on — version,
 * services, AKA algorithm and key lengths, PIN/PUK lengths, the ICCID — and accepts every other
 * PE that decodes.
 */
export function checkProfileElement(
  pe: ProfileElement,
  index: number,
  capabilities: EuiccCapabilities = SOFTWARE_EUICC_CAPABILITIES,
): PeStatus {
  const identification = peIdentification(pe);
  const status = (name: PeStatusName, extra: Partial<PeStatus> = {}): PeStatus => ({
    status: PE_STATUS[name],
    ...(identification === undefined ? {} : { identification }),
    ...extra,
  });
  if (pe.type === 'unknown' || pe.type.startsWith('rfu')) return status('pe-not-supported');
  if ((index === 0) !== (pe.type === 'header')) return status('invalid-request-format');
  const v = pe.value;
  switch (pe.type) {
    case 'header': {
      if (!capabilities.majorVersions.includes(asNumber(v['major-version']) ?? -1))
        return status('unsupported-profile-version');
      if (!decodeHeaderIccid(asBytes(v.iccid) ?? new Uint8Array(0)).ok) return status('bad-values');
      const pol = asBytes(v.pol);
      if (pol !== undefined && !decodePol1(pol).ok) return status('bad-values');
      const services = asRecord(v['eUICC-Mandatory-services']);
      if (SERVICES.some((s) => services[s] !== undefined && !capabilities.services.includes(s)))
        return status('feature-not-supported');
      return status('ok');
    }
    case 'akaParameter': {
      const p = asRecord(v.algoConfiguration).algoParameter as Asn1Record | undefined;
      if (!p) return status('feature-not-supported');
      const algorithm = ALGORITHM_IDS[asNumber(p.algorithmID) ?? 0];
      if (!algorithm || !capabilities.algorithms.includes(algorithm)) return status('feature-not-supported');
      if (asBytes(p.key)?.length !== 16) return status('bad-values');
      if (algorithm === 'milenage') {
        if (asBytes(p.opc)?.length !== 16) return status('bad-values');
        // Our Milenage (crypto/milenage.ts) has the TS 35.206 r1..r5 and c1..c5 built in; a profile
        // that customises them cannot be served, so it is refused rather than authenticated wrongly.
        if (!sameBytes(asBytes(p.rotationConstants), MILENAGE_ROTATIONS))
          return status('feature-not-supported');
        if (!sameBytes(asBytes(p.xoringConstants), MILENAGE_XORINGS)) return status('feature-not-supported');
      }
      return status('ok');
    }
    case 'pinCodes': {
      const list = asRecord(v.pinCodes).pinconfig;
      if (Array.isArray(list) && (list as Asn1Record[]).some((r) => asBytes(r.pinValue)?.length !== 8))
        return status('bad-values');
      return status('ok');
    }
    case 'pukCodes':
      if (((v.pukCodes ?? []) as Asn1Record[]).some((r) => asBytes(r.pukValue)?.length !== 8))
        return status('bad-values');
      return status('ok');
    default:
      return status('ok');
  }
}

/**
 * Install-side walk of a whole package: decode each PE and check it; the first failure stops
 * installation (profileInstallationAborted) with its PEStatus. On success the response holds one
 * 'ok' PEStatus per PE, in order — the "each PE answered" form the SM-DP reports per PE.
 */
export function answerProfilePackage(
  bytes: Uint8Array,
  capabilities: EuiccCapabilities = SOFTWARE_EUICC_CAPABILITIES,
): { response: EuiccResponse; elements: ProfileElement[] } {
  const split = splitTlvs(bytes);
  if (!split.ok || split.value.length === 0) {
    return {
      response: {
        peStatus: [
          { status: PE_STATUS['invalid-request-format'], offset: split.ok ? 0 : (split.error.offset ?? 0) },
        ],
        profileInstallationAborted: true,
      },
      elements: [],
    };
  }
  const statuses: PeStatus[] = [];
  const elements: ProfileElement[] = [];
  for (const [index, { raw, offset }] of split.value.entries()) {
    const pe = decodeProfileElement(raw, offset);
    const s = pe.ok
      ? checkProfileElement(pe.value, index, capabilities)
      : { status: PE_STATUS['invalid-request-format'], offset: (pe.error.offset ?? offset) - offset };
    statuses.push(s);
    if (s.status !== PE_STATUS.ok)
      return { response: { peStatus: statuses, profileInstallationAborted: true }, elements };
    if (pe.ok) elements.push(pe.value);
  }
  if (elements[elements.length - 1]?.type !== 'end') {
    statuses.push({ status: PE_STATUS['invalid-request-format'] });
    return { response: { peStatus: statuses, profileInstallationAborted: true }, elements };
  }
  return { response: { peStatus: statuses }, elements };
}

// --- building a package from inventory data ---------------------------------------------------------

/** TCA template OIDs (joint-iso-itu-t(2) international-organizations(23) tca(143) …). */
export const TEMPLATE_OID = {
  mf: '2.23.143.1.2.1',
  usim: '2.23.143.1.2.4',
  'opt-usim': '2.23.143.1.2.5',
} as const;

/** The USIM AID of TS 31.102 (RID A000000087, app code 1002) with the PIX of the TS.48 profiles. */
export const DEFAULT_USIM_AID = Uint8Array.from([
  0xa0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02, 0xff, 0x49, 0xff, 0x05, 0x89,
]);

/**
 * algorithmOptions byte written for each algorithm. The TS.48 packages carry '02' with the test
 * algorithm; '00' for Milenage is our choice — to verify against the SAIP specification §8.6
 * (akaParameter) before claiming interop with a third-party eUICC.
 */
export const DEFAULT_ALGORITHM_OPTIONS: Record<AkaAlgorithm, number> = {
  milenage: 0x00,
  tuak: 0x00,
  test: 0x02,
};

export interface ProfileInput {
  readonly iccid: string;
  readonly imsi: string;
  /** E.164 digits without '+'; filled into EF.MSISDN of opt-usim when given. */
  readonly msisdn?: string;
  readonly ki: Uint8Array;
  /** Required for Milenage; ignored (zeros written) for the test algorithm. */
  readonly opc?: Uint8Array;
  readonly algorithm?: 'milenage' | 'test';
  /** MNC length written into EF.AD (TS 31.102 §4.2.18); default 2. */
  readonly mncLength?: 2 | 3;
  /** PIN1, PUK1 and ADM1 as digit strings (4–8 digits); defaults: 0000, 12345678, 88888888. */
  readonly pin1?: string;
  readonly puk1?: string;
  readonly adm1?: string;
  readonly profileType?: string;
  /** UST content (TS 31.102 §4.2.8); default: services 1–8 off except what a data device needs. */
  readonly ust?: Uint8Array;
  readonly usimAid?: Uint8Array;
  /** POL1 written into the header; absent = no rules. */
  readonly pol1?: Pol1Rules;
}

const header = (identification: number): Asn1Record => ({ mandated: null, identification });

/** SGP.02 POL1 rules of a profile. */
export interface Pol1Rules {
  readonly disableNotAllowed: boolean;
  readonly deleteNotAllowed: boolean;
  readonly deleteWhenDisabled: boolean;
}

/**
 * The header's `pol` as one byte of POL1 bits: b1 disabling not allowed, b2 deletion not allowed,
 * b3 deletion mandatory when disabled; other bits must be 0. Our choice of coding, in this one
 * module for the SM-DP and the eUICC — to verify against SGP.02 §2.4.x (POL1) and the SAIP header.
 */
export function encodePol1(rules: Pol1Rules): Uint8Array {
  return Uint8Array.of(
    (rules.disableNotAllowed ? 0x01 : 0) |
      (rules.deleteNotAllowed ? 0x02 : 0) |
      (rules.deleteWhenDisabled ? 0x04 : 0),
  );
}

export function decodePol1(bytes: Uint8Array): Result<Pol1Rules> {
  const b = bytes[0];
  if (bytes.length !== 1 || b === undefined || (b & 0xf8) !== 0)
    return decodeError('SAIP_POL', 'POL1 is one byte with bits b1..b3');
  return ok({
    disableNotAllowed: (b & 1) !== 0,
    deleteNotAllowed: (b & 2) !== 0,
    deleteWhenDisabled: (b & 4) !== 0,
  });
}

/** A PIN/PUK value as SAIP stores it: ASCII digits, 'FF'-padded to 8 bytes. */
export function encodePinValue(digits: string): Uint8Array {
  if (!/^\d{4,8}$/.test(digits)) throw new RangeError('a PIN or PUK is 4 to 8 digits');
  const out = new Uint8Array(8).fill(0xff);
  for (let i = 0; i < digits.length; i++) out[i] = digits.charCodeAt(i);
  return out;
}

/** TS 31.102 §4.2.26 EF.MSISDN record without alpha identifier: length, TON/NPI, BCD, CCP, Ext. */
export function encodeMsisdnRecord(msisdn: string): Uint8Array {
  if (!/^\d{1,20}$/.test(msisdn)) throw new RangeError('MSISDN must be 1..20 digits');
  const out = new Uint8Array(14).fill(0xff);
  const bcd = Uint8Array.from({ length: Math.ceil(msisdn.length / 2) }, (_, i) => {
    const lo = Number(msisdn[2 * i]);
    const hi = 2 * i + 1 < msisdn.length ? Number(msisdn[2 * i + 1]) : 0xf;
    return (hi << 4) | lo;
  });
  out[0] = bcd.length + 1;
  out[1] = 0x91; // international number, ISDN/telephony numbering plan
  out.set(bcd, 2);
  return out;
}

/** Default EF.UST: the TS.48 USIM's service table. */
const DEFAULT_UST = Uint8Array.from([
  0x9e, 0xff, 0xbf, 0x1d, 0xff, 0x3e, 0x00, 0x83, 0x41, 0x03, 0x10, 0x01, 0x04, 0x00, 0x40, 0x6e, 0x09,
]);

/**
 * SM-DP profile preparation: a profile package (header, MF with EF.ICCID and EF.DIR, PUK and PIN
 * codes, USIM with EF.IMSI, EF.AD, EF.UST, opt-USIM with EF.MSISDN when given, the USIM's
 * akaParameter, end). Files not filled keep their template defaults. Throws RangeError on bad
 * input (validate inventory data first).
 */
export function buildProfileElements(input: ProfileInput): ProfileElement[] {
  if (!isIccid(input.iccid)) throw new RangeError('ICCID must be 19 or 20 digits with a valid Luhn digit');
  if (!isImsi(input.imsi)) throw new RangeError('IMSI must be 6 to 15 digits');
  if (input.ki.length !== 16) throw new RangeError('Ki must be 16 bytes');
  const algorithm = input.algorithm ?? 'milenage';
  const opc = input.opc ?? new Uint8Array(16);
  if (opc.length !== 16) throw new RangeError('OPc must be 16 bytes');
  if (algorithm === 'milenage' && !input.opc) throw new RangeError('Milenage needs OPc');
  const aid = input.usimAid ?? DEFAULT_USIM_AID;
  const label = new TextEncoder().encode('USIM');
  // TS 102 221 §13.1 EF.DIR record: 61 { 4F AID, 50 label }
  const dirRecord = Uint8Array.from([
    0x61,
    aid.length + label.length + 4,
    0x4f,
    aid.length,
    ...aid,
    0x50,
    label.length,
    ...label,
  ]);
  let id = 1;
  const next = () => id++;
  const services: Record<string, Asn1Value> = { usim: null };
  services[algorithm === 'test' ? 'usim-test-algorithm' : 'milenage'] = null;
  const gfste = [TEMPLATE_OID.mf, TEMPLATE_OID.usim, ...(input.msisdn ? [TEMPLATE_OID['opt-usim']] : [])];
  const pes: ProfileElement[] = [
    {
      type: 'header',
      value: {
        'major-version': 2,
        'minor-version': 3,
        profileType: input.profileType ?? 'simtrust',
        iccid: encodeHeaderIccid(input.iccid),
        ...(input.pol1 ? { pol: encodePol1(input.pol1) } : {}),
        'eUICC-Mandatory-services': services,
        'eUICC-Mandatory-GFSTEList': gfste,
      },
    },
    {
      type: 'mf',
      value: {
        'mf-header': header(next()),
        templateID: TEMPLATE_OID.mf,
        mf: [],
        'ef-iccid': [{ fillFileContent: encodeEfIccid(input.iccid) }],
        'ef-dir': [{ fillFileContent: dirRecord }],
        'ef-arr': [],
      },
    },
    {
      type: 'pukCodes',
      value: {
        'puk-Header': header(next()),
        pukCodes: [{ keyReference: 1, pukValue: encodePinValue(input.puk1 ?? '12345678') }],
      },
    },
    {
      type: 'pinCodes',
      value: {
        'pin-Header': header(next()),
        pinCodes: {
          pinconfig: [
            { keyReference: 1, pinValue: encodePinValue(input.pin1 ?? '0000'), unblockingPINReference: 1 },
            { keyReference: 10, pinValue: encodePinValue(input.adm1 ?? '88888888') },
          ],
        },
      },
    },
    {
      type: 'usim',
      value: {
        'usim-header': header(next()),
        templateID: TEMPLATE_OID.usim,
        'adf-usim': [{ fileDescriptor: { fileID: Uint8Array.of(0x7f, 0xd0), dfName: aid } }],
        'ef-imsi': [{ fillFileContent: encodeEfImsi(input.imsi) }],
        'ef-arr': [],
        'ef-ust': [{ fillFileContent: input.ust ?? DEFAULT_UST }],
        'ef-spn': [],
        'ef-est': [],
        'ef-acc': [],
        // TS 31.102 §4.2.18: UE operation mode normal, no additional info, MNC length
        'ef-ad': [{ fillFileContent: Uint8Array.of(0x00, 0x00, 0x00, input.mncLength ?? 2) }],
        'ef-ecc': [],
      },
    },
  ];
  if (input.msisdn) {
    pes.push({
      type: 'opt-usim',
      value: {
        'optusim-header': header(next()),
        templateID: TEMPLATE_OID['opt-usim'],
        // One 28-byte record: a 14-byte alpha identifier left 'FF', then the number (as TS.48's EF.MSISDN).
        'ef-msisdn': [
          {
            fileDescriptor: {
              fileDescriptor: Uint8Array.of(0x42, 0x21, 0x00, 0x1c),
              efFileSize: Uint8Array.of(0x1c),
            },
          },
          { fillFileOffset: 14 },
          { fillFileContent: encodeMsisdnRecord(input.msisdn) },
        ],
      },
    });
  }
  pes.push(
    {
      type: 'akaParameter',
      value: {
        'aka-header': header(next()),
        algoConfiguration: {
          algoParameter: {
            algorithmID: ALGORITHM_ID[algorithm],
            algorithmOptions: Uint8Array.of(DEFAULT_ALGORITHM_OPTIONS[algorithm]),
            key: input.ki,
            opc,
          },
        },
      },
    },
    { type: 'end', value: { 'end-header': header(next()) } },
  );
  return pes;
}

/** buildProfileElements, encoded: the DER profile package the SM-DP downloads. */
export function buildProfilePackage(input: ProfileInput): Uint8Array {
  return encodeProfilePackage(buildProfileElements(input));
}
