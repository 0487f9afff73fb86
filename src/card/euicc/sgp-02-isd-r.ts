// The ISD-R's ES5 on-card functions (GSMA SGP.02 §4.1.1; APDUs in esim.md §1.5, procedures §3.3–3.5):
// one C-APDU in, one R-APDU out, over the eUICC's persistent state. The SM-SR's commands reach here
// only through a secured channel (SCP80 to the ISD-R TAR, isd-r-ota.ts); the terminal cannot send
// them (euicc.ts answers '6982'). Each function is a row of a table; each checks first, then changes
// state, so a refused command leaves nothing behind.
//
// Status words (esim.md §3.3 after whatever_ty's checkResp tables): '6A88' no such ISD-P, '6985' the
// state forbids it (enabled, fall-back, not installed, a change awaiting confirmation), '69E1' POL1
// forbids it, '6A84' not enough memory, '6A80' malformed data, '6A86' P1/P2, '6D00' other INS.
// STORE DATA 3A01/3A02 (without a personalization target) and DELETE of 'F2' key references belong to
// the SM-SR change: sgp-02-isd-r-keysets.ts, with its own table of refusals.

import { concatBytes, decodeBerTlvList, encodeBerTlv } from '../../lib/ber-tlv.js';
import { toHex } from '../../lib/hex.js';
import { encodeEid } from '../../lib/sgp-02-eid.js';
import {
  DGI,
  decodeAidTlv,
  decodeConfirmation,
  decodeDgi,
  decodeSmsrAddressing,
  encodeCardResources,
  encodeConfirmationResponse,
  encodeIsdpStatus,
} from '../../lib/sgp-02-es5.js';
import type { CommandApdu } from '../iso-7816-4.js';
import { SW } from '../ts-102-221.js';
import { type EuiccState, filesSize, type Isdp, LIFE_CYCLE, NOTIFICATION_TYPE } from './euicc-state.js';
import { ISD_P_LOAD_FILE_AID, ISD_P_MODULE_AID, isIsdpAid } from './sgp-02-annex-h.js';
import type { Es8 } from './sgp-02-es8.js';
import type { IsdrKeysets, SecureSession } from './sgp-02-isd-r-keysets.js';

/** SGP.02 / whatever_ty: POL1 of the (current) profile forbids the operation. */
export const SW_POL1 = 0x69e1;
export const SW_NOT_ENOUGH_MEMORY = 0x6a84;

export interface RApdu {
  readonly data: Uint8Array;
  readonly sw: number;
}

/** What the ISD-R may do to the card beyond its own state. */
export interface IsdrHost {
  readonly state: EuiccState;
  /** Disable `from` (when there is one) and enable `to`: `to`'s USIM becomes the live one. */
  switchProfile(from: Isdp | undefined, to: Isdp): void;
  /** The persistent state changed (the card file must be saved). */
  changed(): void;
  /** ES8 personalization (EstablishISDPKeySet) through the ISD-R; absent: not supported. */
  readonly es8?: Es8;
  /** The ISD-R's own key sets (EstablishISDRKeySet, FinaliseISDRhandover); absent: not supported. */
  readonly keysets?: IsdrKeysets;
}

/**
 * The script's context and effects beyond its responses: the key set securing it (given by the
 * channel; absent when the caller does not know one) and a REFRESH (UICC reset) once it is done.
 */
export interface ScriptEffects {
  refresh: boolean;
  readonly session?: SecureSession;
}

const done = (sw: number, data: Uint8Array = new Uint8Array(0)): RApdu => ({ data, sw });

type Handler = (host: IsdrHost, c: CommandApdu, fx: ScriptEffects) => RApdu;

/** ES5 by INS (GP Card Specification §11). */
const BY_INS: ReadonlyMap<number, Handler> = new Map<number, Handler>([
  [0xe6, install],
  [0xe2, storeData],
  [0xe4, deleteCommand],
  [0xca, getData],
  [0xf2, getStatus],
]);

/** One C-APDU addressed to the ISD-R. Total: every input gives a status word. */
export function processIsdrCommand(host: IsdrHost, c: CommandApdu, fx: ScriptEffects): RApdu {
  if ((c.cla & 0xf0) !== 0x80 && (c.cla & 0xf0) !== 0x00) return done(SW.CLA_NOT_SUPPORTED);
  const handler = BY_INS.get(c.ins);
  return handler === undefined ? done(SW.INS_NOT_SUPPORTED) : handler(host, c, fx);
}

// --- helpers ---------------------------------------------------------------------------------------

const find = (s: EuiccState, aid: string): Isdp | undefined => s.isdps.find((i) => i.aid === aid);
export const enabledIsdp = (s: EuiccState): Isdp | undefined =>
  s.isdps.find((i) => i.state === LIFE_CYCLE.ENABLED);
export const fallbackIsdp = (s: EuiccState): Isdp | undefined => s.isdps.find((i) => i.fallback);

export function freeMemory(s: EuiccState): number {
  return s.memory - s.isdps.reduce((n, i) => n + i.memoryQuota, 0);
}

/** Queue a default notification (esim.md §3.5); its sequence number is 2 octets and never 0. */
export function queueNotification(s: EuiccState, type: number, aid: string): number {
  const seq = s.nextSeq;
  s.nextSeq = seq >= 0xffff ? 1 : seq + 1;
  s.notifications.push({ seq, type, aid });
  return seq;
}

/** Enable `to` in place of the enabled profile, record the change and its notification. */
export function changeProfile(host: IsdrHost, to: Isdp, type: number): void {
  const s = host.state;
  const from = enabledIsdp(s);
  host.switchProfile(from, to);
  const seq = queueNotification(s, type, to.aid);
  if (from !== undefined && type === NOTIFICATION_TYPE.PROFILE_CHANGE_SUCCEEDED)
    s.change = { from: from.aid, to: to.aid, seq };
  else delete s.change;
  s.attached = false;
  host.changed();
}

// --- INSTALL [for install and make selectable]: ES5.CreateISDP ---------------------------------------

/** Read the LV fields of an INSTALL command. */
function readLvs(data: Uint8Array, count: number): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const n = data[at];
    if (n === undefined || at + 1 + n > data.length) return undefined;
    out.push(data.slice(at + 1, at + 1 + n));
    at += 1 + n;
  }
  return at === data.length ? out : undefined;
}

/** The memory quota of the install parameters: `EF` {83 L <bytes>} after `C9` (esim.md §1.5). */
function quotaOf(params: Uint8Array): number | undefined | 'bad' {
  const list = decodeBerTlvList(params);
  if (!list.ok) return 'bad';
  const ef = list.value.find((t) => t.tag === 0xef);
  if (ef === undefined) return undefined;
  const inner = decodeBerTlvList(ef.value);
  if (!inner.ok) return 'bad';
  const v = inner.value.find((t) => t.tag === 0x83)?.value;
  if (v === undefined) return undefined;
  if (v.length < 1 || v.length > 4) return 'bad';
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}

function install(host: IsdrHost, c: CommandApdu): RApdu {
  // P1 '20' = for personalization: ES8.EstablishISDPKeySet (sgp-02-es8.ts).
  if (c.p1 === 0x20 && c.p2 === 0x00 && host.es8 !== undefined) return host.es8.installForPersonalization(c);
  // P1 '0C' = for install + make selectable.
  if (c.p1 !== 0x0c || c.p2 !== 0x00) return done(SW.INCORRECT_P1_P2);
  const fields = readLvs(c.data, 6);
  if (fields === undefined) return done(SW.INCORRECT_DATA);
  const [elf, module, aidBytes, , params] = fields as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  const upper = (b: Uint8Array) => toHex(b).toUpperCase();
  if (upper(elf) !== ISD_P_LOAD_FILE_AID || upper(module) !== ISD_P_MODULE_AID)
    return done(SW.REFERENCED_DATA_NOT_FOUND);
  const aid = upper(aidBytes);
  if (!isIsdpAid(aid)) return done(SW.INCORRECT_DATA);
  const s = host.state;
  if (find(s, aid) !== undefined) return done(SW.CONDITIONS_NOT_SATISFIED);
  const quota = quotaOf(params);
  if (quota === 'bad') return done(SW.INCORRECT_DATA);
  if ((quota ?? 0) > freeMemory(s)) return done(SW_NOT_ENOUGH_MEMORY);
  s.isdps.push({
    aid,
    state: LIFE_CYCLE.SELECTABLE,
    fallback: false,
    memoryQuota: quota ?? 0,
    pol1: { disableNotAllowed: false, deleteNotAllowed: false, deleteWhenDisabled: false },
  });
  host.changed();
  // GP §11.5.3: the response data of INSTALL is a single '00'.
  return done(SW.OK, Uint8Array.of(0x00));
}

// --- STORE DATA: ES5 functions by DGI ------------------------------------------------------------------

type DgiHandler = (host: IsdrHost, value: Uint8Array, fx: ScriptEffects) => RApdu;

const BY_DGI: ReadonlyMap<number, DgiHandler> = new Map<number, DgiHandler>([
  [DGI.ENABLE_PROFILE, enableProfile],
  [DGI.DISABLE_PROFILE, disableProfile],
  [DGI.SET_FALLBACK_ATTRIBUTE, setFallbackAttribute],
  [DGI.UPDATE_SMSR_ADDRESSING, updateSmsrAddressing],
  [DGI.NOTIFICATION_CONFIRMATION, confirmNotification],
]);

function storeData(host: IsdrHost, c: CommandApdu, fx: ScriptEffects): RApdu {
  // After INSTALL [for personalization], 3A01/3A02 go to the ISD-P being personalized.
  const keyEstablishment = c.data[0] === 0x3a && (c.data[1] === 0x01 || c.data[1] === 0x02);
  if (host.es8?.personalizing && keyEstablishment) return host.es8.storeData(c);
  // Otherwise 3A01/3A02 establish a key set of the ISD-R itself: ES5.EstablishISDRKeySet.
  if (keyEstablishment && host.keysets !== undefined) return host.keysets.storeData(c, fx.session);
  // GP §11.11.2.1 P1: b8 last block, b5b4 '01' DGI format; one block per function here, P2 block 0.
  if ((c.p1 & 0x80) === 0 || ((c.p1 >> 3) & 0x03) !== 0x01 || c.p2 !== 0x00) return done(SW.INCORRECT_P1_P2);
  const dgi = decodeDgi(c.data);
  if (!dgi.ok) return done(SW.INCORRECT_DATA);
  const handler = BY_DGI.get(dgi.value.tag);
  return handler === undefined ? done(SW.REFERENCED_DATA_NOT_FOUND) : handler(host, dgi.value.value, fx);
}

/** The ISD-P a 3A03/3A04/3A05/DELETE names, or the status word refusing it. */
function target(host: IsdrHost, value: Uint8Array): Isdp | RApdu {
  const aid = decodeAidTlv(value);
  if (!aid.ok) return done(SW.INCORRECT_DATA);
  return find(host.state, aid.value) ?? done(SW.REFERENCED_DATA_NOT_FOUND);
}

const isRefusal = (t: Isdp | RApdu): t is RApdu => 'sw' in t;

// ES5.EnableProfile (§4.1.1.2, procedure §3.2.1): check the target is a disabled profile, the current
// profile's POL1 allows disabling it and no earlier change waits for confirmation; then swap, queue
// notification 02 and ask for a REFRESH (UICC reset).
function enableProfile(host: IsdrHost, value: Uint8Array, fx: ScriptEffects): RApdu {
  const t = target(host, value);
  if (isRefusal(t)) return t;
  const s = host.state;
  if (t.state !== LIFE_CYCLE.DISABLED || t.profile === undefined) return done(SW.CONDITIONS_NOT_SATISFIED);
  if (s.change !== undefined) return done(SW.CONDITIONS_NOT_SATISFIED);
  if (enabledIsdp(s)?.pol1.disableNotAllowed) return done(SW_POL1);
  changeProfile(host, t, NOTIFICATION_TYPE.PROFILE_CHANGE_SUCCEEDED);
  fx.refresh = true;
  return done(SW.OK);
}

// ES5.DisableProfile (§4.1.1.3, procedure §3.4): the target is the enabled profile, its POL1 allows
// disabling, and there is a fall-back profile (another one) to enable in its place.
function disableProfile(host: IsdrHost, value: Uint8Array, fx: ScriptEffects): RApdu {
  const t = target(host, value);
  if (isRefusal(t)) return t;
  const s = host.state;
  if (t.state !== LIFE_CYCLE.ENABLED) return done(SW.CONDITIONS_NOT_SATISFIED);
  if (t.pol1.disableNotAllowed) return done(SW_POL1);
  const fallback = fallbackIsdp(s);
  if (fallback === undefined || fallback === t || fallback.state !== LIFE_CYCLE.DISABLED)
    return done(SW.CONDITIONS_NOT_SATISFIED);
  if (s.change !== undefined) return done(SW.CONDITIONS_NOT_SATISFIED);
  changeProfile(host, fallback, NOTIFICATION_TYPE.PROFILE_CHANGE_SUCCEEDED);
  fx.refresh = true;
  return done(SW.OK);
}

// ES5.SetFallBackAttribute (§3.16): one fall-back profile at a time, and only an installed one.
function setFallbackAttribute(host: IsdrHost, value: Uint8Array): RApdu {
  const t = target(host, value);
  if (isRefusal(t)) return t;
  if (t.profile === undefined) return done(SW.CONDITIONS_NOT_SATISFIED);
  for (const i of host.state.isdps) i.fallback = i === t;
  host.changed();
  return done(SW.OK);
}

// ES5.UpdateSMSRAddressingParameters (§4.1.1.10; layout pinned in src/lib/sgp-02-es5.ts).
function updateSmsrAddressing(host: IsdrHost, value: Uint8Array): RApdu {
  const u = decodeSmsrAddressing(value);
  if (!u.ok) return done(SW.INCORRECT_DATA);
  const smsr = host.state.smsr;
  if (u.value.destination !== undefined) smsr.destination = u.value.destination;
  if (u.value.smsc !== undefined) smsr.smsc = u.value.smsc;
  if (u.value.other !== undefined && u.value.other.length > 0) smsr.other = u.value.other.slice();
  host.changed();
  return done(SW.OK);
}

// ES5.NotificationConfirmation (§4.1.1.12): the notification is done; a confirmed profile change can no
// longer be rolled back, and the profile it disabled is deleted when its POL1 says so (not the
// fall-back profile, §3.16). The answer lists the ISD-Ps deleted.
function confirmNotification(host: IsdrHost, value: Uint8Array): RApdu {
  const seq = decodeConfirmation(value);
  if (!seq.ok) return done(SW.INCORRECT_DATA);
  const s = host.state;
  const at = s.notifications.findIndex((n) => n.seq === seq.value);
  if (at < 0) return done(SW.REFERENCED_DATA_NOT_FOUND);
  s.notifications.splice(at, 1);
  const deleted: string[] = [];
  if (s.change?.seq === seq.value) {
    const previous = find(s, s.change.from);
    delete s.change;
    if (
      previous !== undefined &&
      previous.state === LIFE_CYCLE.DISABLED &&
      previous.pol1.deleteWhenDisabled &&
      !previous.fallback
    ) {
      s.isdps = s.isdps.filter((i) => i !== previous);
      deleted.push(previous.aid);
    }
  }
  host.changed();
  return done(SW.OK, encodeConfirmationResponse(deleted));
}

// --- DELETE: ES5.DeleteProfile, ES5.FinaliseISDRhandover ----------------------------------------------

/** `4F` names an ISD-P (DeleteProfile), `F2` the ISD-R's key sets (FinaliseISDRhandover). */
function deleteCommand(host: IsdrHost, c: CommandApdu, fx: ScriptEffects): RApdu {
  if (c.data[0] === 0xf2 && host.keysets !== undefined) return host.keysets.deleteKeysets(c, fx.session);
  return deleteIsdp(host, c);
}

// §3.6: never the enabled profile nor the fall-back profile ('6985'), never against POL1 ('69E1').
function deleteIsdp(host: IsdrHost, c: CommandApdu): RApdu {
  if (c.p1 !== 0x00 || (c.p2 !== 0x00 && c.p2 !== 0x40)) return done(SW.INCORRECT_P1_P2);
  const t = target(host, c.data);
  if (isRefusal(t)) return t;
  if (t.state === LIFE_CYCLE.ENABLED || t.fallback) return done(SW.CONDITIONS_NOT_SATISFIED);
  if (t.pol1.deleteNotAllowed) return done(SW_POL1);
  const s = host.state;
  s.isdps = s.isdps.filter((i) => i !== t);
  s.notifications = s.notifications.filter((n) => n.aid !== t.aid);
  host.changed();
  return done(SW.OK);
}

// --- GET DATA and GET STATUS: ES5.AuditEIS (§4.1.1.5) -----------------------------------------------

/** GET DATA through the ISD-R: EID ('5A'), the ECASD certificate ('BF30'), card resources ('FF21'). */
export function getData(host: { readonly state: EuiccState }, c: CommandApdu): RApdu {
  const tag = (c.p1 << 8) | c.p2;
  const s = host.state;
  switch (tag) {
    case 0x005a: {
      const eid = encodeEid(s.eid);
      return eid.ok
        ? done(SW.OK, concatBytes([Uint8Array.of(0x5a, 0x10), eid.value]))
        : done(SW.TECHNICAL_PROBLEM);
    }
    case 0xbf30: {
      // The tag list '5C 02 7F21' may be given; anything else in it is refused.
      if (c.data.length > 0 && toHex(c.data).toUpperCase() !== '5C027F21')
        return done(SW.REFERENCED_DATA_NOT_FOUND);
      if (s.ecasdCertificate.length === 0) return done(SW.REFERENCED_DATA_NOT_FOUND);
      return done(SW.OK, encodeBerTlv(0xbf30, s.ecasdCertificate));
    }
    case 0xff21:
      return done(
        SW.OK,
        encodeCardResources({
          applications: s.isdps.length,
          freeMemory: Math.max(0, freeMemory(s)),
          freeVolatile: 0,
        }),
      );
    default:
      return done(SW.REFERENCED_DATA_NOT_FOUND);
  }
}

function getStatus(host: IsdrHost, c: CommandApdu): RApdu {
  // P1 '40': applications and security domains; P2 '02': TLV answer (GP §11.4.2).
  if (c.p1 !== 0x40 || (c.p2 & 0xfe) !== 0x02) return done(SW.INCORRECT_P1_P2);
  const list = decodeBerTlvList(c.data);
  if (!list.ok) return done(SW.INCORRECT_DATA);
  const criteria = list.value.find((t) => t.tag === 0x4f);
  if (criteria === undefined) return done(SW.INCORRECT_DATA);
  const wanted = toHex(criteria.value).toUpperCase();
  const s = host.state;
  const matching = s.isdps.filter((i) => i.aid.startsWith(wanted));
  if (matching.length === 0) return done(SW.REFERENCED_DATA_NOT_FOUND);
  return done(
    SW.OK,
    concatBytes(
      matching.map((i) => {
        const used = i.profile?.stored === undefined ? 0 : filesSize(i.profile.stored.files);
        return encodeIsdpStatus({
          aid: i.aid,
          lifeCycle: i.state,
          fallback: i.fallback,
          memoryGranted: i.memoryQuota,
          memoryRemaining: Math.max(0, i.memoryQuota - used),
        });
      }),
    ),
  );
}
