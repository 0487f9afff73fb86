// SGP.02 §2.5.2 / §4.1.3.3 SCP03t: GP Amd D SCP03 framed in BER-TLVs instead of APDUs, for the ES8
// profile download (the SM-DP talks to the ISD-P through ES3.SendData → ES5). Same keys, KDF,
// cryptograms, MAC chaining and encryption counter as gp-scp03.ts (whose Scp03Channel is reused);
// only the framing differs:
//   84 0A  KVN KID host-challenge(8)                  → 84 L <INITIALIZE UPDATE response data>
//   85 11  SL host-cryptogram(8) C-MAC(8)            → 85 00
//   86 L   AES-CBC(S-ENC, ICV, segment ‖ 80 00…) ‖ C-MAC(8)   → 86 00 | 86 L <enc data ‖ R-MAC(8)>
//   errors: 9F44 01 rr (for 84), 9F45 01 rr (for 85), 9F46 01 rr (for 86)
// C-MAC input = chaining value ‖ tag ‖ length (counting the 8 MAC bytes) ‖ data, no CLA/INS
// (reference/esim.md §4.3, from njiwa dp/Scp03.java and whty Scp03t.java). Security level 33 only.
//
// Points the public sources leave open, decided here once — to verify against SGP.02 §4.1.3.3 and
// GPC Amd D §6.2.5:
//   • the R-MAC of a `86` response covers chaining value ‖ 86 ‖ L ‖ encrypted data (the mirror of the
//     C-MAC); a `86 00` answer carries no R-MAC (nothing to protect, as with APDU responses without data);
//   • the error reason byte values (SCP03T_ERROR_REASON below) and `9F44` for `84` (only 9F45/9F46 are
//     attested);
//   • a segment's limit (1024 bytes, [CS]) applies to the whole `86` TLV the host sends, which meets
//     either reading; the card accepts plain segments up to 1024 bytes.

import { randomBytes } from 'node:crypto';
import { decodeError, ok, type Result } from '../lib/result.js';
import { constantTimeEqual } from './constant-time.js';
import {
  concat,
  decodeInitializeUpdateResponse,
  deriveScp03SessionKeys,
  encodeInitializeUpdateResponse,
  type InitializeUpdateResponse,
  SCP03_I,
  Scp03Channel,
  type Scp03Keys,
  type Scp03SessionKeys,
  scp03CardCryptogram,
  scp03HostCryptogram,
  scp03PseudoRandomCardChallenge,
} from './gp-scp03.js';

export const SCP03T_TAG = {
  initializeUpdate: 0x84,
  externalAuthenticate: 0x85,
  data: 0x86,
  initializeUpdateError: 0x9f44,
  externalAuthenticateError: 0x9f45,
  dataError: 0x9f46,
} as const;

/** SGP.02 requires all four protections on SCP03t (C-MAC, C-DEC, R-MAC, R-ENC). */
export const SCP03T_SECURITY_LEVEL = 0x33;

/** Reason byte of an error TLV — to verify against SGP.02 §4.1.3.3 (values chosen here). */
export const SCP03T_ERROR_REASON = {
  /** The TLV is not what was expected at this point (wrong tag, length, state). */
  incorrectData: 0x01,
  /** Unknown key set (KVN/KID) or unsupported security level. */
  referencedDataNotFound: 0x02,
  /** Cryptogram, C-MAC or padding verification failed; the session is closed. */
  securityError: 0x03,
} as const;

/** The largest `86` TLV the host emits; the card accepts plain segments up to the same size. */
export const SCP03T_MAX_SEGMENT = 1024;
const S8 = 8;
const BLOCK = 16;
/** Plain bytes that fit one `86` TLV of SCP03T_MAX_SEGMENT: 86 82 LL LL ‖ ciphertext ‖ MAC(8). */
export const SCP03T_MAX_PLAIN_SEGMENT = Math.floor((SCP03T_MAX_SEGMENT - 4 - S8) / BLOCK) * BLOCK - 1;

export interface Scp03tError {
  readonly code: string;
  readonly message: string;
  /** The error TLV the card sends back (9F44/9F45/9F46 01 reason), when the card is the one failing. */
  readonly response?: Uint8Array;
  readonly offset?: number;
}

type R<T> = Result<T, Scp03tError>;
const fail = (code: string, message: string, response?: Uint8Array): R<never> => ({
  ok: false,
  error: response === undefined ? { code, message } : { code, message, response },
});

// --- TLV framing ------------------------------------------------------------------------------------

export interface Scp03tTlv {
  readonly tag: number;
  readonly value: Uint8Array;
  /** The tag and length bytes as received (they are part of the MAC input). */
  readonly header: Uint8Array;
}

/** BER length (ISO 7816-4 §5.2.2.2) of 1 to 3 bytes: SCP03t TLVs never exceed 65535 bytes. */
function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  if (length < 0x100) return Uint8Array.of(0x81, length);
  if (length < 0x10000) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  throw new RangeError(`an SCP03t TLV holds at most 65535 bytes, got ${length}`);
}

function tlv(tag: number, value: Uint8Array): Uint8Array {
  const tagBytes = tag > 0xff ? Uint8Array.of(tag >> 8, tag & 0xff) : Uint8Array.of(tag);
  return concat(tagBytes, encodeLength(value.length), value);
}

/** Decodes one SCP03t TLV at `offset`; total (typed error for any bytes). */
export function decodeScp03tTlvAt(
  bytes: Uint8Array,
  offset: number,
): Result<{ tlv: Scp03tTlv; next: number }> {
  const first = bytes[offset];
  if (first === undefined) return decodeError('SCP03T_TRUNCATED', 'tag expected', offset);
  let at = offset + 1;
  let tag = first;
  if (first === 0x9f) {
    const second = bytes[at];
    if (second === undefined) return decodeError('SCP03T_TRUNCATED', 'the tag continues past the end', at);
    tag = 0x9f00 | second;
    at += 1;
  }
  const l0 = bytes[at];
  if (l0 === undefined) return decodeError('SCP03T_TRUNCATED', 'length expected', at);
  let length = l0;
  let lengthBytes = 1;
  if (l0 === 0x81 || l0 === 0x82) {
    lengthBytes = l0 === 0x81 ? 2 : 3;
    if (at + lengthBytes > bytes.length)
      return decodeError('SCP03T_TRUNCATED', 'the length continues past the end', at);
    length =
      l0 === 0x81 ? (bytes[at + 1] as number) : ((bytes[at + 1] as number) << 8) | (bytes[at + 2] as number);
    if (length < (l0 === 0x81 ? 0x80 : 0x100))
      return decodeError('SCP03T_LENGTH', 'the length is not minimal (DER)', at);
  } else if (l0 >= 0x80) {
    return decodeError('SCP03T_LENGTH', `length byte ${l0.toString(16)} is not a short or 81/82 form`, at);
  }
  at += lengthBytes;
  if (at + length > bytes.length)
    return decodeError('SCP03T_TRUNCATED', `the value of ${length} bytes runs past the end`, at);
  return ok({
    tlv: { tag, header: bytes.slice(offset, at), value: bytes.slice(at, at + length) },
    next: at + length,
  });
}

/** Splits the data of one ES3.SendData into its SCP03t TLVs (several `86` segments may travel together). */
export function splitScp03tTlvs(bytes: Uint8Array): Result<Scp03tTlv[]> {
  const out: Scp03tTlv[] = [];
  for (let at = 0; at < bytes.length; ) {
    const r = decodeScp03tTlvAt(bytes, at);
    if (!r.ok) return r;
    out.push(r.value.tlv);
    at = r.value.next;
  }
  return ok(out);
}

function single(bytes: Uint8Array): Result<Scp03tTlv> {
  const r = decodeScp03tTlvAt(bytes, 0);
  if (!r.ok) return r;
  if (r.value.next !== bytes.length)
    return decodeError('SCP03T_TRAILING', 'bytes after the TLV', r.value.next);
  return ok(r.value.tlv);
}

const errorTlv = (tag: number, reason: number): Uint8Array => tlv(tag, Uint8Array.of(reason));

/**
 * Profile package → plain segments that each fit one `86` TLV of at most SCP03T_MAX_SEGMENT bytes.
 * Order matters: the MAC chain and counter make the card refuse any other order.
 */
export function segmentProfilePackage(upp: Uint8Array, maxPlain = SCP03T_MAX_PLAIN_SEGMENT): Uint8Array[] {
  if (!Number.isInteger(maxPlain) || maxPlain < 1 || maxPlain > SCP03T_MAX_PLAIN_SEGMENT) {
    throw new RangeError(`segment size must be 1 … ${SCP03T_MAX_PLAIN_SEGMENT}`);
  }
  const out: Uint8Array[] = [];
  for (let at = 0; at < upp.length; at += maxPlain) out.push(upp.slice(at, at + maxPlain));
  return out;
}

// --- the SM-DP (host) end ---------------------------------------------------------------------------

export interface Scp03tHostOptions {
  readonly keys: Scp03Keys;
  readonly kvn: number;
  /** Key identifier of the first key of the set (01 for SCP03). */
  readonly kid?: number;
  /** 8 bytes; random when left out. Fixed only in tests. */
  readonly hostChallenge?: Uint8Array;
}

type HostState = 'start' | 'sent-84' | 'sent-85' | 'open' | 'closed';

/** The SM-DP end of SCP03t: 84 → 85 → 86* and the card's answers. */
export class Scp03tHost {
  readonly #options: Scp03tHostOptions;
  readonly hostChallenge: Uint8Array;
  #state: HostState = 'start';
  #channel: Scp03Channel | undefined;
  #card: InitializeUpdateResponse | undefined;
  #awaiting = false;

  constructor(options: Scp03tHostOptions) {
    this.#options = options;
    this.hostChallenge = options.hostChallenge?.slice() ?? new Uint8Array(randomBytes(S8));
    if (this.hostChallenge.length !== S8) throw new RangeError('the host challenge is 8 bytes');
  }

  get state(): HostState {
    return this.#state;
  }

  get channel(): Scp03Channel | undefined {
    return this.#channel;
  }

  get cardInfo(): InitializeUpdateResponse | undefined {
    return this.#card;
  }

  /** `84 0A KVN KID host-challenge`. */
  initializeUpdate(): Uint8Array {
    if (this.#state !== 'start') throw new Error('SCP03t: INITIALIZE UPDATE is sent once, first');
    this.#state = 'sent-84';
    return tlv(
      SCP03T_TAG.initializeUpdate,
      concat(Uint8Array.of(this.#options.kvn, this.#options.kid ?? 0x01), this.hostChallenge),
    );
  }

  /** Checks the card's `84` answer (card cryptogram) and returns `85 11 33 host-cryptogram C-MAC`. */
  externalAuthenticate(response: Uint8Array): R<Uint8Array> {
    if (this.#state !== 'sent-84')
      return fail('SCP03T_STATE', 'no INITIALIZE UPDATE is waiting for its answer');
    const t = single(response);
    if (!t.ok) return this.#close(t.error.code, t.error.message);
    if (t.value.tag === SCP03T_TAG.initializeUpdateError) {
      return this.#close(
        'SCP03T_CARD_ERROR',
        `the card refused INITIALIZE UPDATE (${hexByte(t.value.value)})`,
      );
    }
    if (t.value.tag !== SCP03T_TAG.initializeUpdate)
      return this.#close('SCP03T_TAG', 'expected the 84 answer');
    const r = decodeInitializeUpdateResponse(t.value.value);
    if (!r.ok) return this.#close(r.error.code, r.error.message);
    if (r.value.kvn !== this.#options.kvn)
      return this.#close('SCP03T_KVN', `the card answered with KVN ${r.value.kvn}`);
    if ((r.value.i & (SCP03_I.rMac | SCP03_I.rEnc)) !== (SCP03_I.rMac | SCP03_I.rEnc)) {
      return this.#close('SCP03T_SECURITY_LEVEL', 'the card does not offer R-MAC and R-ENC');
    }
    const keys = deriveScp03SessionKeys(this.#options.keys, this.hostChallenge, r.value.cardChallenge);
    const expected = scp03CardCryptogram(keys.sMac, this.hostChallenge, r.value.cardChallenge);
    if (!constantTimeEqual(expected, r.value.cardCryptogram)) {
      return this.#close(
        'SCP03T_CARD_CRYPTOGRAM',
        'the card cryptogram is wrong: the ISD-P does not hold these keys',
      );
    }
    this.#card = r.value;
    const channel = new Scp03Channel(keys, SCP03T_SECURITY_LEVEL);
    const body = concat(
      Uint8Array.of(SCP03T_SECURITY_LEVEL),
      scp03HostCryptogram(keys.sMac, this.hostChallenge, r.value.cardChallenge),
    );
    const header = Uint8Array.of(SCP03T_TAG.externalAuthenticate, body.length + S8);
    const mac = channel.computeCommandMac(concat(header, body));
    this.#channel = channel;
    this.#state = 'sent-85';
    return ok(concat(header, body, mac));
  }

  /** The card's answer to `85`: `85 00` opens the session. */
  externalAuthenticateResponse(response: Uint8Array): R<void> {
    if (this.#state !== 'sent-85')
      return fail('SCP03T_STATE', 'no EXTERNAL AUTHENTICATE is waiting for its answer');
    const t = single(response);
    if (!t.ok) return this.#close(t.error.code, t.error.message);
    if (t.value.tag === SCP03T_TAG.externalAuthenticateError) {
      return this.#close(
        'SCP03T_CARD_ERROR',
        `the card refused EXTERNAL AUTHENTICATE (${hexByte(t.value.value)})`,
      );
    }
    if (t.value.tag !== SCP03T_TAG.externalAuthenticate || t.value.value.length !== 0) {
      return this.#close('SCP03T_TAG', 'expected 85 00');
    }
    this.#state = 'open';
    return ok(undefined);
  }

  /** One plain segment → `86 L AES-CBC(segment ‖ pad) ‖ C-MAC`. Wait for its answer before the next. */
  wrapSegment(segment: Uint8Array): Uint8Array {
    const channel = this.#channel;
    if (this.#state !== 'open' || !channel) throw new Error('SCP03t: the session is not open');
    if (this.#awaiting) throw new Error('SCP03t: the answer to the previous segment has not been read');
    if (segment.length === 0 || segment.length > SCP03T_MAX_PLAIN_SEGMENT) {
      throw new RangeError(`a segment holds 1 … ${SCP03T_MAX_PLAIN_SEGMENT} bytes, got ${segment.length}`);
    }
    channel.nextCommand();
    const encrypted = channel.encryptCommandData(segment);
    const header = concat(Uint8Array.of(SCP03T_TAG.data), encodeLength(encrypted.length + S8));
    const mac = channel.computeCommandMac(concat(header, encrypted));
    this.#awaiting = true;
    return concat(header, encrypted, mac);
  }

  /** The card's answer to a `86`: `86 00` (nothing), `86 L enc ‖ R-MAC` (data), or `9F46 01 rr`. */
  unwrapResponse(response: Uint8Array): R<Uint8Array> {
    const channel = this.#channel;
    if (this.#state !== 'open' || !channel || !this.#awaiting)
      return fail('SCP03T_STATE', 'no segment is waiting for its answer');
    this.#awaiting = false;
    const t = single(response);
    if (!t.ok) return this.#close(t.error.code, t.error.message);
    if (t.value.tag === SCP03T_TAG.dataError) {
      return this.#close('SCP03T_CARD_ERROR', `the card refused the segment (${hexByte(t.value.value)})`);
    }
    if (t.value.tag !== SCP03T_TAG.data) return this.#close('SCP03T_TAG', 'expected an 86 answer');
    const body = t.value.value;
    if (body.length === 0) return ok(new Uint8Array(0));
    if (body.length < BLOCK + S8)
      return this.#close('SCP03T_R_MAC', 'the answer has no room for data and R-MAC');
    const data = body.subarray(0, body.length - S8);
    const expected = channel.computeResponseMac(concat(t.value.header, data));
    if (!constantTimeEqual(expected, body.subarray(body.length - S8)))
      return this.#close('SCP03T_R_MAC', 'the R-MAC is wrong');
    const plain = channel.decryptResponseData(data);
    if (!plain.ok) return this.#close(plain.error.code.replace(/^SCP03_/, 'SCP03T_'), plain.error.message);
    return ok(plain.value);
  }

  #close(code: string, message: string): R<never> {
    this.#state = 'closed';
    return fail(code, message);
  }
}

// --- the ISD-P (card) end ---------------------------------------------------------------------------

export interface Scp03tCardOptions {
  readonly keys: Scp03Keys;
  readonly kvn: number;
  /** Key identifier of the first key (01 unless the key set says otherwise). */
  readonly kid?: number;
  readonly keyDiversificationData: Uint8Array;
  /** AID of the ISD-P: input of the pseudo-random card challenge. */
  readonly sdAid: Uint8Array;
  /** The ISD-P's sequence counter for this session; the caller stores `nextSequenceCounter` afterwards. */
  readonly sequenceCounter: number;
}

export type Scp03tCardEvent =
  | { readonly kind: 'initialize-update'; readonly response: Uint8Array }
  | { readonly kind: 'external-authenticate'; readonly response: Uint8Array }
  /** A plain segment of the profile package; answer with `wrapResponse(data)` once it is handled. */
  | { readonly kind: 'segment'; readonly segment: Uint8Array };

type CardState = 'start' | 'initialized' | 'open' | 'closed';

/** The ISD-P end of SCP03t. `receive` is the decoder: total over any bytes, never throws. */
export class Scp03tCard {
  readonly #options: Scp03tCardOptions;
  #state: CardState = 'start';
  #hostChallenge: Uint8Array | undefined;
  #cardChallenge: Uint8Array | undefined;
  #keys: Scp03SessionKeys | undefined;
  #channel: Scp03Channel | undefined;
  #awaiting = false;

  constructor(options: Scp03tCardOptions) {
    if (options.keyDiversificationData.length !== 10)
      throw new RangeError('key diversification data is 10 bytes');
    this.#options = options;
  }

  get state(): CardState {
    return this.#state;
  }

  get nextSequenceCounter(): number {
    return this.#options.sequenceCounter + 1;
  }

  get channel(): Scp03Channel | undefined {
    return this.#channel;
  }

  /** One TLV from the SM-DP. An error carries the error TLV to send back; it closes the session. */
  receive(bytes: Uint8Array): R<Scp03tCardEvent> {
    const t = single(bytes);
    const tag = t.ok ? t.value.tag : bytes[0];
    const errorTag =
      tag === SCP03T_TAG.initializeUpdate
        ? SCP03T_TAG.initializeUpdateError
        : tag === SCP03T_TAG.externalAuthenticate
          ? SCP03T_TAG.externalAuthenticateError
          : SCP03T_TAG.dataError;
    if (this.#state === 'closed') {
      return fail(
        'SCP03T_STATE',
        'the session is closed',
        errorTlv(errorTag, SCP03T_ERROR_REASON.incorrectData),
      );
    }
    if (!t.ok) return this.#close(t.error.code, t.error.message, errorTag, SCP03T_ERROR_REASON.incorrectData);
    switch (t.value.tag) {
      case SCP03T_TAG.initializeUpdate:
        return this.#initializeUpdate(t.value);
      case SCP03T_TAG.externalAuthenticate:
        return this.#externalAuthenticate(t.value);
      case SCP03T_TAG.data:
        return this.#segment(t.value);
      default:
        return this.#close(
          'SCP03T_TAG',
          `tag ${t.value.tag.toString(16)} is not 84, 85 or 86`,
          errorTag,
          SCP03T_ERROR_REASON.incorrectData,
        );
    }
  }

  #initializeUpdate(t: Scp03tTlv): R<Scp03tCardEvent> {
    const E = SCP03T_TAG.initializeUpdateError;
    if (this.#state !== 'start')
      return this.#close(
        'SCP03T_STATE',
        'INITIALIZE UPDATE comes once, first',
        E,
        SCP03T_ERROR_REASON.incorrectData,
      );
    if (t.value.length !== 2 + S8)
      return this.#close(
        'SCP03T_LENGTH',
        '84 carries KVN, KID and an 8-byte challenge',
        E,
        SCP03T_ERROR_REASON.incorrectData,
      );
    const [kvn, kid] = t.value;
    if ((kvn !== 0 && kvn !== this.#options.kvn) || (kid !== 0 && kid !== (this.#options.kid ?? 0x01))) {
      return this.#close(
        'SCP03T_KVN',
        `no key set ${kvn}/${kid}`,
        E,
        SCP03T_ERROR_REASON.referencedDataNotFound,
      );
    }
    const hostChallenge = t.value.slice(2);
    const cardChallenge = scp03PseudoRandomCardChallenge(
      this.#options.keys.enc,
      this.#options.sequenceCounter,
      this.#options.sdAid,
    );
    const keys = deriveScp03SessionKeys(this.#options.keys, hostChallenge, cardChallenge);
    this.#hostChallenge = hostChallenge;
    this.#cardChallenge = cardChallenge;
    this.#keys = keys;
    this.#state = 'initialized';
    const data = encodeInitializeUpdateResponse({
      keyDiversificationData: this.#options.keyDiversificationData,
      kvn: this.#options.kvn,
      i: SCP03_I.pseudoRandomChallenge | SCP03_I.rMac | SCP03_I.rEnc,
      cardChallenge,
      cardCryptogram: scp03CardCryptogram(keys.sMac, hostChallenge, cardChallenge),
      sequenceCounter: this.#options.sequenceCounter,
    });
    return ok({ kind: 'initialize-update', response: tlv(SCP03T_TAG.initializeUpdate, data) });
  }

  #externalAuthenticate(t: Scp03tTlv): R<Scp03tCardEvent> {
    const E = SCP03T_TAG.externalAuthenticateError;
    const keys = this.#keys;
    const hc = this.#hostChallenge;
    const cc = this.#cardChallenge;
    if (this.#state !== 'initialized' || !keys || !hc || !cc) {
      return this.#close(
        'SCP03T_STATE',
        'EXTERNAL AUTHENTICATE must follow INITIALIZE UPDATE',
        E,
        SCP03T_ERROR_REASON.incorrectData,
      );
    }
    if (t.value.length !== 1 + 2 * S8)
      return this.#close(
        'SCP03T_LENGTH',
        '85 carries SL, cryptogram and C-MAC',
        E,
        SCP03T_ERROR_REASON.incorrectData,
      );
    if (t.value[0] !== SCP03T_SECURITY_LEVEL) {
      return this.#close(
        'SCP03T_SECURITY_LEVEL',
        'SCP03t runs at security level 33',
        E,
        SCP03T_ERROR_REASON.referencedDataNotFound,
      );
    }
    if (!constantTimeEqual(scp03HostCryptogram(keys.sMac, hc, cc), t.value.subarray(1, 1 + S8))) {
      return this.#close(
        'SCP03T_HOST_CRYPTOGRAM',
        'the host cryptogram is wrong',
        E,
        SCP03T_ERROR_REASON.securityError,
      );
    }
    const channel = new Scp03Channel(keys, SCP03T_SECURITY_LEVEL);
    if (!channel.verifyCommandMac(concat(t.header, t.value.subarray(0, 1 + S8)), t.value.subarray(1 + S8))) {
      return this.#close('SCP03T_C_MAC', 'the C-MAC of 85 is wrong', E, SCP03T_ERROR_REASON.securityError);
    }
    this.#channel = channel;
    this.#state = 'open';
    return ok({
      kind: 'external-authenticate',
      response: Uint8Array.of(SCP03T_TAG.externalAuthenticate, 0x00),
    });
  }

  #segment(t: Scp03tTlv): R<Scp03tCardEvent> {
    const E = SCP03T_TAG.dataError;
    const channel = this.#channel;
    if (this.#state !== 'open' || !channel)
      return this.#close('SCP03T_STATE', 'no open session for 86', E, SCP03T_ERROR_REASON.incorrectData);
    if (this.#awaiting)
      return this.#close(
        'SCP03T_STATE',
        'the previous segment has not been answered',
        E,
        SCP03T_ERROR_REASON.incorrectData,
      );
    const v = t.value;
    if (
      v.length < BLOCK + S8 ||
      (v.length - S8) % BLOCK !== 0 ||
      v.length - S8 > SCP03T_MAX_SEGMENT + BLOCK
    ) {
      return this.#close(
        'SCP03T_LENGTH',
        '86 carries whole AES blocks (≤ 1024 plain bytes) and a C-MAC',
        E,
        SCP03T_ERROR_REASON.incorrectData,
      );
    }
    channel.nextCommand();
    const encrypted = v.subarray(0, v.length - S8);
    if (!channel.verifyCommandMac(concat(t.header, encrypted), v.subarray(v.length - S8))) {
      return this.#close(
        'SCP03T_C_MAC',
        'the C-MAC of the segment is wrong (tampered, replayed or out of order)',
        E,
        SCP03T_ERROR_REASON.securityError,
      );
    }
    const plain = channel.decryptCommandData(encrypted);
    if (!plain.ok || plain.value.length === 0 || plain.value.length > SCP03T_MAX_SEGMENT) {
      return this.#close(
        'SCP03T_PADDING',
        'the segment does not decrypt to 1 … 1024 bytes with 80 00… padding',
        E,
        SCP03T_ERROR_REASON.securityError,
      );
    }
    this.#awaiting = true;
    return ok({ kind: 'segment', segment: plain.value });
  }

  /** The answer to the last segment: `86 00` without data, else `86 L AES-CBC(data ‖ pad) ‖ R-MAC`. */
  wrapResponse(data: Uint8Array = new Uint8Array(0)): Uint8Array {
    const channel = this.#channel;
    if (this.#state !== 'open' || !channel || !this.#awaiting)
      throw new Error('SCP03t: no segment to answer');
    this.#awaiting = false;
    if (data.length === 0) return Uint8Array.of(SCP03T_TAG.data, 0x00);
    const encrypted = channel.encryptResponseData(data);
    const header = concat(Uint8Array.of(SCP03T_TAG.data), encodeLength(encrypted.length + S8));
    return concat(header, encrypted, channel.computeResponseMac(concat(header, encrypted)));
  }

  /** A segment the ISD-P could not install: `9F46 01 rr`; the session stays open unless security failed. */
  errorResponse(reason: number): Uint8Array {
    if (this.#awaiting) this.#awaiting = false;
    return errorTlv(SCP03T_TAG.dataError, reason & 0xff);
  }

  #close(code: string, message: string, errorTag: number, reason: number): R<never> {
    this.#state = 'closed';
    return fail(code, message, errorTlv(errorTag, reason));
  }
}

const hexByte = (value: Uint8Array): string => Buffer.from(value).toString('hex') || 'no reason';
