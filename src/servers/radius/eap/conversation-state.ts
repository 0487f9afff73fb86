// The EAP conversation state, carried by the NAS in RADIUS State (RFC 2865 §5.24, RFC 3579 §2.6.1)
// instead of being kept in this process: any instance can continue a conversation that another one
// started (docs/aaa.md, "EAP state"). The NAS only stores and echoes the octets, so they are sealed:
//
//   State = version(1) ‖ key id(1) ‖ AES-256-GCM box = iv(12) ‖ tag(16) ‖ fields
//
// with the NAS client's name as associated data (a State lifted from one NAS does not open on
// another) and an expiry inside. The fields are a small TLV list declared once, below, as data.
// RADIUS limits State to 253 octets, leaving 223 for the fields: the state holds keys derived for
// this round, never a whole key schedule.

import { randomBytes } from 'node:crypto';
import { openAesGcm, sealAesGcm } from '../../../crypto/aes-gcm.js';
import { decodeTbcd, encodeTbcd } from '../../../lib/bcd.js';
import type { SimAkaMethod } from '../../../lib/eap/rfc-4187-messages.js';
import { decodeError, ok, type Result } from '../../../lib/result.js';
import type { EapStateKeys } from './state-keys.js';

/** Where the conversation stands: what the last request we sent was. */
export const PHASES = [
  /** EAP-Request/Identity sent (the NAS sent EAP-Start). */
  'identity',
  /** EAP-Request/AKA-Identity or EAP-Request/SIM-Start sent. */
  'method-identity',
  /** EAP-Request/AKA-Challenge or SIM-Challenge sent. */
  'challenge',
  /** EAP-Request/…-Re-authentication sent. */
  'reauth',
  /** Authenticated; a success notification (result indication) sent, EAP-Success follows. */
  'notify-success',
  /** Refused; a failure notification sent, EAP-Failure follows. */
  'notify-failure',
] as const;
export type Phase = (typeof PHASES)[number];

const METHODS = ['sim', 'aka', 'akaPrime'] as const satisfies readonly SimAkaMethod[];

/** Identity requests already made in this conversation (RFC 4187 §4.1.5: each at most once). */
export const ID_REQUESTED = { any: 1, fullauth: 2, permanent: 4 } as const;

export interface Conversation {
  readonly phase: Phase;
  /** The method in use once chosen. */
  readonly method?: SimAkaMethod;
  /** EAP Identifier of the last request we sent; the response must carry it (RFC 3748 §4.1). */
  readonly identifier: number;
  /** Unix ms after which the state is refused. */
  readonly expiresAt: number;
  /** Random; names the conversation (pseudonym derivation, replay guard of the final write). */
  readonly conversationId: Uint8Array;
  /** The peer switched method with a Nak once (no second switch). */
  readonly naked?: true;
  /** The identity in use: EAP-Response/Identity or the last AT_IDENTITY (RFC 4187 §7: MK input). */
  readonly identity?: Uint8Array;
  readonly idRequested?: number;
  /** AKA-Identity requests and responses so far, in order (AT_CHECKCODE input, RFC 4187 §10.13). */
  readonly idRounds?: readonly Uint8Array[];
  readonly imsi?: string;
  /** Who is authenticating (from the admission before the challenge; the outcome names them). */
  readonly operatorId?: string;
  readonly simId?: string;
  /** The SIM was `ready`/`standby`: it becomes `active` once it has authenticated. */
  readonly firstUse?: true;
  /** AT_CHECKCODE value of this conversation, fixed once the identity rounds end. */
  readonly checkcode?: Uint8Array;
  /** RAND of the challenge (AKA: 16 octets; SIM: n × 16). */
  readonly rand?: Uint8Array;
  /** MK (EAP-SIM, EAP-AKA) or IK' ‖ CK' (EAP-AKA') of the challenge. */
  readonly keyMaterial?: Uint8Array;
  /** What the response must prove: XRES (AKA), n × SRES (SIM, the AT_MAC extra data). */
  readonly expected?: Uint8Array;
  /** NONCE_S of a re-authentication. */
  readonly nonce?: Uint8Array;
  /** AT_COUNTER of a re-authentication. */
  readonly counter?: number;
  /** K_aut ‖ K_encr ‖ MK | K_re of the re-authentication record in use. */
  readonly reauthKeys?: Uint8Array;
  /** AUTS resynchronisations in this conversation. */
  readonly resyncs?: number;
  /** Both sides asked for protected result indications (AT_RESULT_IND). */
  readonly resultInd?: true;
  /** For the success notification round: the keys to check it and the MSK to deliver after it. */
  readonly kAut?: Uint8Array;
  readonly kEncr?: Uint8Array;
  readonly msk?: Uint8Array;
}

interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T | undefined;
}

const bytes: Codec<Uint8Array> = { encode: (v) => v, decode: (b) => b.slice() };
const u8: Codec<number> = {
  encode: (v) => Uint8Array.of(v & 0xff),
  decode: (b) => (b.length === 1 ? (b[0] ?? 0) : undefined),
};
const u16: Codec<number> = {
  encode: (v) => Uint8Array.of((v >> 8) & 0xff, v & 0xff),
  decode: (b) => (b.length === 2 ? ((b[0] ?? 0) << 8) | (b[1] ?? 0) : undefined),
};
/** Unix ms kept at one-second resolution (rounded up) in 4 octets. */
const time: Codec<number> = {
  encode: (v) => {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, Math.min(0xffffffff, Math.ceil(v / 1000)));
    return out;
  },
  decode: (b) => (b.length === 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0) * 1000 : undefined),
};
/** IMSI digits as TBCD (TS 29.002 §17.7.8): 8 octets instead of 15. */
const imsi: Codec<string> = {
  encode: (v) => encodeTbcd(v),
  decode: (b) => {
    const digits = decodeTbcd(b);
    return digits.ok && /^\d{6,15}$/.test(digits.value) ? digits.value : undefined;
  },
};
const PERMANENT_NAI = /^([016])(\d{6,15})@wlan\.mnc(\d{3})\.mcc(\d{3})\.3gppnetwork\.org$/;
/**
 * An identity, with the usual permanent root NAI (TS 23.003 §14.3) folded to 0x01 ‖ prefix ‖
 * MNC(3 digits) ‖ MCC ‖ IMSI as TBCD — 14 octets instead of about 50 — and anything else kept as
 * 0x00 ‖ the octets.
 */
const identity: Codec<Uint8Array> = {
  encode: (v) => {
    const m = PERMANENT_NAI.exec(new TextDecoder().decode(v));
    if (m === null || new TextEncoder().encode(m[0]).length !== v.length) return Uint8Array.of(0, ...v);
    const [, prefix = '', digits = '', mnc = '', mcc = ''] = m;
    return Uint8Array.of(1, ...encodeTbcd(`${prefix}${mnc}${mcc}`), ...encodeTbcd(digits));
  },
  decode: (b) => {
    if (b[0] === 0) return b.slice(1);
    if (b[0] !== 1 || b.length < 5) return undefined;
    const head = decodeTbcd(b.subarray(1, 5));
    const digits = decodeTbcd(b.subarray(5));
    if (!head.ok || !digits.ok || head.value.length !== 7) return undefined;
    const [prefix, mnc, mcc] = [head.value.slice(0, 1), head.value.slice(1, 4), head.value.slice(4, 7)];
    return new TextEncoder().encode(`${prefix}${digits.value}@wlan.mnc${mnc}.mcc${mcc}.3gppnetwork.org`);
  },
};
const text: Codec<string> = {
  encode: (v) => new TextEncoder().encode(v),
  decode: (b) => {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      return undefined;
    }
  },
};
const flag: Codec<true> = {
  encode: () => new Uint8Array(0),
  decode: (b) => (b.length === 0 ? true : undefined),
};
const oneOf = <T extends string>(values: readonly T[]): Codec<T> => ({
  encode: (v) => Uint8Array.of(values.indexOf(v)),
  decode: (b) => (b.length === 1 ? values[b[0] ?? 255] : undefined),
});
/** A list of octet strings, each with a 2-octet length. */
const packets: Codec<readonly Uint8Array[]> = {
  encode: (list) => {
    const out = new Uint8Array(list.reduce((n, p) => n + 2 + p.length, 0));
    let i = 0;
    for (const p of list) {
      out[i] = p.length >> 8;
      out[i + 1] = p.length & 0xff;
      out.set(p, i + 2);
      i += 2 + p.length;
    }
    return out;
  },
  decode: (b) => {
    const list: Uint8Array[] = [];
    for (let i = 0; i < b.length; ) {
      if (b.length - i < 2) return undefined;
      const n = ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
      if (i + 2 + n > b.length) return undefined;
      list.push(b.slice(i + 2, i + 2 + n));
      i += 2 + n;
    }
    return list;
  },
};

type Fields = {
  readonly [K in keyof Conversation]-?: readonly [tag: number, codec: Codec<NonNullable<Conversation[K]>>];
};

/** Every field once: its tag in the TLV list and its codec (test/servers/radius/eap-state.test.ts walks them). */
export const CONVERSATION_FIELDS: Fields = {
  phase: [1, oneOf(PHASES)],
  method: [2, oneOf(METHODS)],
  identifier: [3, u8],
  expiresAt: [4, time],
  conversationId: [5, bytes],
  naked: [6, flag],
  identity: [7, identity],
  idRequested: [8, u8],
  idRounds: [9, packets],
  imsi: [10, imsi],
  operatorId: [11, text],
  simId: [12, text],
  checkcode: [13, bytes],
  rand: [14, bytes],
  keyMaterial: [15, bytes],
  expected: [16, bytes],
  nonce: [17, bytes],
  counter: [18, u16],
  reauthKeys: [19, bytes],
  resyncs: [21, u8],
  resultInd: [22, flag],
  kAut: [23, bytes],
  kEncr: [24, bytes],
  msk: [25, bytes],
  firstUse: [26, flag],
};

const ENTRIES = Object.entries(CONVERSATION_FIELDS) as [
  keyof Conversation,
  readonly [number, Codec<unknown>],
][];
const BY_TAG = new Map(ENTRIES.map(([key, [tag, codec]]) => [tag, { key, codec }]));

/** The fields as TLVs: tag(1) length(1) value. */
export function encodeConversation(c: Conversation): Result<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const [key, [tag, codec]] of ENTRIES) {
    const value = c[key];
    if (value === undefined) continue;
    const v = codec.encode(value);
    if (v.length > 255) return decodeError('EAP_STATE_TOO_LONG', `state field ${key} has ${v.length} octets`);
    parts.push(Uint8Array.of(tag, v.length), v);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return ok(out);
}

/** Total: any octets give a conversation or an error. */
export function decodeConversation(b: Uint8Array): Result<Conversation> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < b.length; ) {
    if (b.length - i < 2) return decodeError('EAP_STATE_TRUNCATED', 'state field header cut short', i);
    const tag = b[i] ?? 0;
    const n = b[i + 1] ?? 0;
    if (i + 2 + n > b.length) return decodeError('EAP_STATE_OVERRUN', `state field ${tag} overruns`, i);
    const field = BY_TAG.get(tag);
    if (field === undefined) return decodeError('EAP_STATE_FIELD', `unknown state field ${tag}`, i);
    const value = field.codec.decode(b.subarray(i + 2, i + 2 + n));
    if (value === undefined)
      return decodeError('EAP_STATE_FIELD', `state field ${field.key} is malformed`, i);
    out[field.key] = value;
    i += 2 + n;
  }
  if (out.phase === undefined || out.identifier === undefined || out.expiresAt === undefined) {
    return decodeError('EAP_STATE_INCOMPLETE', 'state lacks phase, identifier or expiry');
  }
  if (!(out.conversationId instanceof Uint8Array))
    return decodeError('EAP_STATE_INCOMPLETE', 'state lacks its id');
  return ok(out as unknown as Conversation);
}

const VERSION = 1;
/** RFC 2865 §5: an attribute value is at most 253 octets. */
export const STATE_MAX_OCTETS = 253;
const AAD_PREFIX = 'simtrust eap state\0';

export const newConversationId = (): Uint8Array => new Uint8Array(randomBytes(8));

/** Seal for the RADIUS State of an Access-Challenge to `clientName`; an error when it does not fit. */
export function sealConversation(
  keys: EapStateKeys,
  c: Conversation,
  clientName: string,
): Result<Uint8Array> {
  const key = keys.current;
  const fields = encodeConversation(c);
  if (!fields.ok) return fields;
  const box = sealAesGcm(key.key, fields.value, new TextEncoder().encode(AAD_PREFIX + clientName));
  if (2 + box.length > STATE_MAX_OCTETS) {
    return decodeError('EAP_STATE_TOO_LONG', `conversation state needs ${2 + box.length} octets > 253`);
  }
  const out = new Uint8Array(2 + box.length);
  out[0] = VERSION;
  out[1] = key.id;
  out.set(box, 2);
  return ok(out);
}

/** Open a State received from `clientName`; refuses foreign, tampered and expired states. */
export function openConversation(
  keys: EapStateKeys,
  state: Uint8Array,
  clientName: string,
  now: number,
): Result<Conversation> {
  if (state.length < 2 || state[0] !== VERSION)
    return decodeError('EAP_STATE_VERSION', 'not an EAP state of ours');
  const key = keys.byId(state[1] ?? 0);
  if (key === undefined) return decodeError('EAP_STATE_KEY', 'state sealed with an unknown key');
  const plain = openAesGcm(key, state.subarray(2), new TextEncoder().encode(AAD_PREFIX + clientName));
  if (plain === undefined)
    return decodeError('EAP_STATE_SEAL', 'state does not open (tampered or from another NAS)');
  const c = decodeConversation(new Uint8Array(plain));
  if (!c.ok) return c;
  if (c.value.expiresAt <= now) return decodeError('EAP_STATE_EXPIRED', 'conversation timed out');
  return c;
}
