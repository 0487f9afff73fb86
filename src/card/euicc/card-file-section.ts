// The `euicc` section of the card file (docs/euicc.md): ECASD, ISD-R key sets and SM-SR addressing,
// the ISD-Ps with their stored profiles, the notifications waiting for confirmation. Checking is total
// (any JSON gives the section or a typed error). The ENABLED ISD-P carries no `profile` here: its
// profile is the card file's own top level (iccid, imsi, ki, opc, files, sqn), the live USIM.

import type { ChecksumAlgorithm, CipherAlgorithm } from '../../crypto/ts-102-225-scp80.js';
import { KIC_ALGORITHMS, KID_ALGORITHMS } from '../../crypto/ts-102-225-scp80.js';
import { isDigits } from '../../lib/bcd.js';
import { fromHex, toHex } from '../../lib/hex.js';
import { isIccid, isImsi } from '../../lib/identities.js';
import { decodeError, ok, type Result } from '../../lib/result.js';
import { isEid } from '../../lib/sgp-02-eid.js';
import { type CardIdentity, type EfNode, isEf, walk } from '../file-system.js';
import { CARD_TREE } from '../profile.js';
import {
  type EuiccState,
  type FileContents,
  type Isdp,
  LIFE_CYCLE,
  LIFE_CYCLES,
  type LifeCycle,
  type Pol1,
} from './euicc-state.js';
import { isIsdpAid } from './sgp-02-annex-h.js';

export interface StoredProfileSection {
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn?: string;
  readonly mncLength: 2 | 3;
  readonly spn?: string;
  readonly ki: string;
  readonly opc: string;
  /** 'test' for a TS 34.108 test-algorithm profile; absent = Milenage. */
  readonly algorithm?: 'test';
  readonly files: Readonly<Record<string, string | readonly string[]>>;
  readonly seq: readonly number[];
}

export interface IsdpSection {
  readonly aid: string;
  /** GP life-cycle byte: 3 installed, 7 selectable, 15 personalized, 31 disabled, 63 enabled. */
  readonly state: number;
  readonly fallback: boolean;
  readonly memory: number;
  readonly pol1: Pol1;
  readonly profile?: StoredProfileSection;
  /** The SCP03 key set of EstablishISDPKeySet (secret): keys hex, SCP03t sequence counter. */
  readonly keyset?: {
    readonly kvn: number;
    readonly kid: number;
    readonly keys: readonly string[];
    readonly counter: number;
  };
}

export interface EuiccSection {
  readonly eid: string;
  /** CERT.ECASD.ECKA (hex GP certificate, '7F21 …') and SK.ECASD.ECKA (hex; secret). */
  readonly ecasd: {
    readonly certificate: string;
    readonly privateKey: string;
    /** PK.CI.ECDSA (04‖X‖Y hex) and its key identifier (hex): what SM-DP/SM-SR certificates chain to. */
    readonly ci?: { readonly keyId: string; readonly publicKey: string };
  };
  readonly isdr: {
    readonly scp80: readonly {
      readonly kvn: number;
      readonly kicAlgorithm: CipherAlgorithm;
      readonly kic: string;
      readonly kidAlgorithm: ChecksumAlgorithm;
      readonly kid: string;
      readonly dek: string;
    }[];
    readonly scp81: readonly { readonly kvn: number; readonly psk: string }[];
    readonly smsr: { readonly destination?: string; readonly smsc?: string; readonly other?: string };
  };
  /** Memory for ISD-Ps in total (bytes). */
  readonly memory: number;
  readonly isdps: readonly IsdpSection[];
  readonly notifications: {
    readonly next: number;
    readonly pending: readonly { readonly seq: number; readonly type: number; readonly aid: string }[];
  };
  readonly change?: { readonly from: string; readonly to: string; readonly seq: number };
  readonly attached: boolean;
  readonly declared: boolean;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isHexOf = (v: unknown, min: number, max = min): v is string => {
  if (typeof v !== 'string') return false;
  const n = fromHex(v)?.length ?? -1;
  return n >= min && n <= max;
};
const isInt = (v: unknown, min: number, max: number): v is number =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const fail = (field: string, message: string) => decodeError('CARD_FILE', `euicc.${field}: ${message}`);

const EF_BY_PATH = new Map(
  walk(CARD_TREE)
    .filter(isEf)
    .map((n): [string, EfNode] => [n.path, n]),
);

function checkFiles(where: string, files: unknown): Result<true> {
  if (!isObject(files)) return fail(where, 'an object of path → hex');
  for (const [path, content] of Object.entries(files)) {
    const node = EF_BY_PATH.get(path);
    if (node === undefined) return fail(`${where}["${path}"]`, 'no such EF on this card');
    const d = node.decl;
    if (d.structure === 'transparent') {
      if (!isHexOf(content, d.size)) return fail(`${where}["${path}"]`, `${d.size} bytes of hex`);
    } else if (
      !Array.isArray(content) ||
      content.length !== d.records ||
      !content.every((r) => isHexOf(r, d.size))
    ) {
      return fail(`${where}["${path}"]`, `${d.records} records of ${d.size} bytes of hex`);
    }
  }
  for (const path of EF_BY_PATH.keys()) if (!(path in files)) return fail(where, `${path} is missing`);
  return ok(true);
}

function checkPol1(where: string, p: unknown): Result<true> {
  if (!isObject(p))
    return fail(where, 'an object with disableNotAllowed, deleteNotAllowed, deleteWhenDisabled');
  for (const k of ['disableNotAllowed', 'deleteNotAllowed', 'deleteWhenDisabled'])
    if (typeof p[k] !== 'boolean') return fail(`${where}.${k}`, 'true or false');
  return ok(true);
}

/** Check the section (`otaKvns`: the KVNs the card file's `ota` already uses). */
export function checkEuiccSection(e: unknown, otaKvns: ReadonlySet<number>, seqLength: number): Result<true> {
  if (!isObject(e)) return fail('', 'an object');
  if (typeof e.eid !== 'string' || !isEid(e.eid))
    return fail('eid', '32 digits starting 89 with valid check digits');
  const ecasd = e.ecasd;
  if (!isObject(ecasd) || !isHexOf(ecasd.certificate, 0, 2048) || !isHexOf(ecasd.privateKey, 0, 66))
    return fail('ecasd', 'certificate (hex) and privateKey (hex)');
  if (
    ecasd.ci !== undefined &&
    (!isObject(ecasd.ci) || !isHexOf(ecasd.ci.keyId, 1, 32) || !isHexOf(ecasd.ci.publicKey, 65))
  )
    return fail('ecasd.ci', 'keyId (hex) and publicKey (65 bytes hex, 04‖X‖Y)');
  const isdr = e.isdr;
  if (!isObject(isdr) || !Array.isArray(isdr.scp80) || !Array.isArray(isdr.scp81) || !isObject(isdr.smsr))
    return fail('isdr', 'an object with scp80, scp81 and smsr');
  const kvns = new Set<number>();
  for (const [i, k] of isdr.scp80.entries()) {
    const where = `isdr.scp80[${i}]`;
    if (!isObject(k) || !isInt(k.kvn, 1, 15))
      return fail(where, 'kvn 1..15 (SGP.02: ISD-R SCP80 key sets 01-0F)');
    if (kvns.has(k.kvn) || otaKvns.has(k.kvn)) return fail(where, `kvn ${k.kvn} is used twice`);
    kvns.add(k.kvn);
    const kic = KIC_ALGORITHMS.find((a) => a.algorithm === k.kicAlgorithm);
    const kid = KID_ALGORITHMS.find((a) => a.algorithm === k.kidAlgorithm);
    if (!kic) return fail(`${where}.kicAlgorithm`, KIC_ALGORITHMS.map((a) => a.algorithm).join(', '));
    if (!kid) return fail(`${where}.kidAlgorithm`, KID_ALGORITHMS.map((a) => a.algorithm).join(', '));
    if (typeof k.kic !== 'string' || !kic.keyLengths.includes(fromHex(k.kic)?.length ?? -1))
      return fail(`${where}.kic`, `a key of ${kic.keyLengths.join(' or ')} bytes (hex)`);
    if (typeof k.kid !== 'string' || !kid.keyLengths.includes(fromHex(k.kid)?.length ?? -1))
      return fail(`${where}.kid`, `a key of ${kid.keyLengths.join(' or ')} bytes (hex)`);
    if (!isHexOf(k.dek, 16, 32)) return fail(`${where}.dek`, '16 to 32 bytes of hex');
  }
  const pskKvns = new Set<number>();
  for (const [i, k] of isdr.scp81.entries()) {
    const where = `isdr.scp81[${i}]`;
    if (!isObject(k) || !isInt(k.kvn, 0x40, 0x4f))
      return fail(where, 'kvn 64..79 (SGP.02: ISD-R SCP81 key sets 40-4F)');
    if (pskKvns.has(k.kvn)) return fail(where, `kvn ${k.kvn} is used twice`);
    pskKvns.add(k.kvn);
    if (!isHexOf(k.psk, 16, 32)) return fail(`${where}.psk`, '16 to 32 bytes of hex');
  }
  const smsr = isdr.smsr;
  for (const k of ['destination', 'smsc'])
    if (smsr[k] !== undefined && (typeof smsr[k] !== 'string' || !isDigits(smsr[k] as string, 1, 20)))
      return fail(`isdr.smsr.${k}`, '1 to 20 digits');
  if (smsr.other !== undefined && !isHexOf(smsr.other, 0, 1024)) return fail('isdr.smsr.other', 'hex');
  if (!isInt(e.memory, 0, 2 ** 31)) return fail('memory', 'bytes, a non-negative integer');
  if (!Array.isArray(e.isdps)) return fail('isdps', 'an array');
  const aids = new Set<string>();
  const iccids = new Set<string>();
  let enabled = 0;
  let fallbacks = 0;
  for (const [i, d] of e.isdps.entries()) {
    const where = `isdps[${i}]`;
    if (!isObject(d) || typeof d.aid !== 'string' || !isIsdpAid(d.aid.toUpperCase()))
      return fail(`${where}.aid`, 'an ISD-P AID (A0000005591010FFFFFFFF89 ‖ TAR from 000010 ‖ 00)');
    if (aids.has(d.aid.toUpperCase())) return fail(`${where}.aid`, 'appears twice');
    aids.add(d.aid.toUpperCase());
    if (!LIFE_CYCLES.includes(d.state as number))
      return fail(`${where}.state`, `one of ${LIFE_CYCLES.join(', ')}`);
    if (typeof d.fallback !== 'boolean') return fail(`${where}.fallback`, 'true or false');
    if (!isInt(d.memory, 0, 2 ** 31)) return fail(`${where}.memory`, 'bytes');
    const pol1 = checkPol1(`${where}.pol1`, d.pol1);
    if (!pol1.ok) return pol1;
    if (d.keyset !== undefined) {
      const k = d.keyset;
      if (
        !isObject(k) ||
        !isInt(k.kvn, 1, 0x7f) ||
        !isInt(k.kid, 1, 0x7f) ||
        !Array.isArray(k.keys) ||
        (k.keys.length !== 1 && k.keys.length !== 3) ||
        !k.keys.every((x) => isHexOf(x, 16)) ||
        !isInt(k.counter, 0, 0xffffff)
      )
        return fail(`${where}.keyset`, 'kvn, kid, 1 or 3 AES-128 keys (hex) and counter');
    }
    const installed = d.state === LIFE_CYCLE.DISABLED || d.state === LIFE_CYCLE.ENABLED;
    if (d.fallback && !installed)
      return fail(`${where}.fallback`, 'only an installed profile can be the fall-back');
    if (d.fallback) fallbacks++;
    if (d.state === LIFE_CYCLE.ENABLED) {
      enabled++;
      if (d.profile !== undefined)
        return fail(`${where}.profile`, "the enabled profile is the card file's top level, not stored here");
      continue;
    }
    if ((d.state === LIFE_CYCLE.DISABLED) !== (d.profile !== undefined))
      return fail(`${where}.profile`, 'present exactly when the ISD-P is disabled (state 31)');
    if (d.profile === undefined) continue;
    const p = d.profile;
    if (!isObject(p)) return fail(`${where}.profile`, 'an object');
    if (typeof p.iccid !== 'string' || !isIccid(p.iccid))
      return fail(`${where}.profile.iccid`, 'a valid ICCID');
    if (iccids.has(p.iccid)) return fail(`${where}.profile.iccid`, 'appears twice');
    iccids.add(p.iccid);
    if (typeof p.imsi !== 'string' || !isImsi(p.imsi)) return fail(`${where}.profile.imsi`, '6 to 15 digits');
    if (p.msisdn !== undefined && (typeof p.msisdn !== 'string' || !isDigits(p.msisdn, 1, 15)))
      return fail(`${where}.profile.msisdn`, '1 to 15 digits');
    if (p.mncLength !== 2 && p.mncLength !== 3) return fail(`${where}.profile.mncLength`, '2 or 3');
    if (p.spn !== undefined && (typeof p.spn !== 'string' || p.spn.length > 16))
      return fail(`${where}.profile.spn`, 'at most 16 characters');
    if (!isHexOf(p.ki, 16) || !isHexOf(p.opc, 16))
      return fail(`${where}.profile`, 'ki and opc, 32 hex digits each');
    if (p.algorithm !== undefined && p.algorithm !== 'test')
      return fail(`${where}.profile.algorithm`, "'test' or absent (Milenage)");
    const files = checkFiles(`${where}.profile.files`, p.files);
    if (!files.ok) return files;
    if (!Array.isArray(p.seq) || p.seq.length !== seqLength || !p.seq.every((n) => isInt(n, 0, 2 ** 48)))
      return fail(`${where}.profile.seq`, `${seqLength} SEQ values`);
  }
  if (enabled !== 1) return fail('isdps', 'exactly one ISD-P is enabled (state 63): the top-level profile');
  if (fallbacks > 1) return fail('isdps', 'at most one fall-back profile');
  const n = e.notifications;
  if (!isObject(n) || !isInt(n.next, 1, 0xffff) || !Array.isArray(n.pending))
    return fail('notifications', 'next (1..65535) and pending');
  for (const [i, p] of n.pending.entries())
    if (
      !isObject(p) ||
      !isInt(p.seq, 1, 0xffff) ||
      !isInt(p.type, 1, 5) ||
      typeof p.aid !== 'string' ||
      !aids.has(p.aid.toUpperCase())
    )
      return fail(`notifications.pending[${i}]`, 'seq, type 1..5 and the AID of an ISD-P');
  if (e.change !== undefined) {
    const c = e.change;
    if (!isObject(c) || typeof c.from !== 'string' || typeof c.to !== 'string' || !isInt(c.seq, 1, 0xffff))
      return fail('change', 'from, to (AIDs) and seq');
  }
  if (typeof e.attached !== 'boolean' || typeof e.declared !== 'boolean')
    return fail('attached', 'attached and declared are true or false');
  return ok(true);
}

const bytes = (h: string | undefined) => fromHex(h ?? '') ?? new Uint8Array(0);

function filesOf(files: Readonly<Record<string, string | readonly string[]>>): FileContents {
  return new Map(
    Object.entries(files).map(([p, c]): [string, Uint8Array | Uint8Array[]] => [
      p,
      typeof c === 'string' ? bytes(c) : c.map(bytes),
    ]),
  );
}

/** The eUICC state of a checked section; `live` is the enabled profile (the card file's top level). */
export function euiccStateOf(
  e: EuiccSection,
  live: { identity: CardIdentity; ki: Uint8Array; opc: Uint8Array; algorithm?: 'milenage' | 'test' },
): EuiccState {
  return {
    eid: e.eid,
    ecasdCertificate: bytes(e.ecasd.certificate),
    ecasdPrivateKey: bytes(e.ecasd.privateKey),
    ...(e.ecasd.ci === undefined
      ? {}
      : { ci: { keyId: bytes(e.ecasd.ci.keyId), publicKey: bytes(e.ecasd.ci.publicKey) } }),
    scp80: e.isdr.scp80.map((k) => ({
      kvn: k.kvn,
      kicAlgorithm: k.kicAlgorithm,
      kic: bytes(k.kic),
      kidAlgorithm: k.kidAlgorithm,
      kid: bytes(k.kid),
      dek: bytes(k.dek),
    })),
    scp81: e.isdr.scp81.map((k) => ({ kvn: k.kvn, psk: bytes(k.psk) })),
    smsr: {
      ...(e.isdr.smsr.destination === undefined ? {} : { destination: e.isdr.smsr.destination }),
      ...(e.isdr.smsr.smsc === undefined ? {} : { smsc: e.isdr.smsr.smsc }),
      other: bytes(e.isdr.smsr.other),
    },
    memory: e.memory,
    isdps: e.isdps.map((d): Isdp => {
      const p = d.profile;
      const base = {
        aid: d.aid.toUpperCase(),
        state: d.state as LifeCycle,
        fallback: d.fallback,
        memoryQuota: d.memory,
        pol1: { ...d.pol1 },
        ...(d.keyset === undefined
          ? {}
          : {
              keyset: {
                kvn: d.keyset.kvn,
                kid: d.keyset.kid,
                keys: d.keyset.keys.map(bytes),
                sequenceCounter: d.keyset.counter,
              },
            }),
      };
      if (d.state === LIFE_CYCLE.ENABLED)
        return {
          ...base,
          profile: {
            identity: { ...live.identity },
            ki: live.ki.slice(),
            opc: live.opc.slice(),
            ...(live.algorithm === 'test' ? { algorithm: 'test' as const } : {}),
          },
        };
      if (p === undefined) return base;
      return {
        ...base,
        profile: {
          identity: {
            iccid: p.iccid,
            imsi: p.imsi,
            mncLength: p.mncLength,
            ...(p.msisdn === undefined ? {} : { msisdn: p.msisdn }),
            ...(p.spn === undefined ? {} : { spn: p.spn }),
          },
          ki: bytes(p.ki),
          opc: bytes(p.opc),
          ...(p.algorithm === 'test' ? { algorithm: 'test' as const } : {}),
          stored: { files: filesOf(p.files), seqArray: [...p.seq] },
        },
      };
    }),
    nextSeq: e.notifications.next,
    notifications: e.notifications.pending.map((n) => ({ ...n, aid: n.aid.toUpperCase() })),
    ...(e.change === undefined ? {} : { change: { ...e.change } }),
    attached: e.attached,
    declared: e.declared,
  };
}

const fileSection = (files: FileContents) =>
  Object.fromEntries([...files].map(([p, c]) => [p, Array.isArray(c) ? c.map((r) => toHex(r)) : toHex(c)]));

/** The section for a state (with keys), and the enabled profile for the card file's top level. */
export function euiccSectionOf(s: EuiccState): {
  section: EuiccSection;
  live: { identity: CardIdentity; ki: string; opc: string; algorithm?: 'test' } | undefined;
} {
  let live: { identity: CardIdentity; ki: string; opc: string; algorithm?: 'test' } | undefined;
  const isdps = s.isdps.map((d): IsdpSection => {
    const base = {
      aid: d.aid,
      state: d.state,
      fallback: d.fallback,
      memory: d.memoryQuota,
      pol1: { ...d.pol1 },
      ...(d.keyset === undefined
        ? {}
        : {
            keyset: {
              kvn: d.keyset.kvn,
              kid: d.keyset.kid,
              keys: d.keyset.keys.map((k) => toHex(k)),
              counter: d.keyset.sequenceCounter,
            },
          }),
    };
    const p = d.profile;
    if (p === undefined) return base;
    if (p.stored === undefined) {
      live = {
        identity: { ...p.identity },
        ki: toHex(p.ki),
        opc: toHex(p.opc),
        ...(p.algorithm === 'test' ? { algorithm: 'test' as const } : {}),
      };
      return base;
    }
    return {
      ...base,
      profile: {
        iccid: p.identity.iccid,
        imsi: p.identity.imsi,
        ...(p.identity.msisdn === undefined ? {} : { msisdn: p.identity.msisdn }),
        mncLength: p.identity.mncLength,
        ...(p.identity.spn === undefined ? {} : { spn: p.identity.spn }),
        ki: toHex(p.ki),
        opc: toHex(p.opc),
        ...(p.algorithm === 'test' ? { algorithm: 'test' as const } : {}),
        files: fileSection(p.stored.files),
        seq: [...p.stored.seqArray],
      },
    };
  });
  return {
    live,
    section: {
      eid: s.eid,
      ecasd: {
        certificate: toHex(s.ecasdCertificate),
        privateKey: toHex(s.ecasdPrivateKey),
        ...(s.ci === undefined ? {} : { ci: { keyId: toHex(s.ci.keyId), publicKey: toHex(s.ci.publicKey) } }),
      },
      isdr: {
        scp80: s.scp80.map((k) => ({
          kvn: k.kvn,
          kicAlgorithm: k.kicAlgorithm,
          kic: toHex(k.kic),
          kidAlgorithm: k.kidAlgorithm,
          kid: toHex(k.kid),
          dek: toHex(k.dek),
        })),
        scp81: s.scp81.map((k) => ({ kvn: k.kvn, psk: toHex(k.psk) })),
        smsr: {
          ...(s.smsr.destination === undefined ? {} : { destination: s.smsr.destination }),
          ...(s.smsr.smsc === undefined ? {} : { smsc: s.smsr.smsc }),
          ...(s.smsr.other.length === 0 ? {} : { other: toHex(s.smsr.other) }),
        },
      },
      memory: s.memory,
      isdps,
      notifications: { next: s.nextSeq, pending: s.notifications.map((n) => ({ ...n })) },
      ...(s.change === undefined ? {} : { change: { ...s.change } }),
      attached: s.attached,
      declared: s.declared,
    },
  };
}
