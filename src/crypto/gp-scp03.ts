// GlobalPlatform Card Specification v2.3 Amendment D (Secure Channel Protocol '03'), AES with S8 MACs.
// The KDF and cryptograms (§4.1.5, §6.2.2), session keys (§6.2.1), the pseudo-random card challenge
// (§6.2.2.1), INITIALIZE UPDATE / EXTERNAL AUTHENTICATE (§7.1.1, §7.1.2) for both the off-card host
// and the card, command C-MAC / C-DECRYPTION (§6.2.4, §6.2.6) and response R-MAC / R-ENCRYPTION
// (§6.2.5, §6.2.7). Pure: Uint8Array in and out, AES from node:crypto, CMAC from RFC 4493.
//
// Three layers: the maths (scp03Kdf …), a Scp03Channel holding what a session keeps (session keys,
// MAC chaining value, encryption counter) used by both APDU SCP03 and SCP03t (sgp-02-scp03t.ts), and
// the two APDU ends, Scp03HostSession and Scp03CardSession. Bytes received from the other end never
// throw: they give a Result whose error carries a stable code and the status word a card answers.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { decodeError, ok, type Result } from '../lib/result.js';
import { constantTimeEqual } from './constant-time.js';
import { aesCmac } from './rfc-4493-aes-cmac.js';

/** Amd D §4.1.5 Table 4-1: data derivation constants. */
export const SCP03_DERIVATION_CONSTANT = {
  cardCryptogram: 0x00,
  hostCryptogram: 0x01,
  cardChallenge: 0x02,
  sEnc: 0x04,
  sMac: 0x06,
  sRmac: 0x07,
} as const;

/** Amd D §5.1 Table 5-1: the "i" parameter bits this implementation reads and writes. */
export const SCP03_I = {
  /** b1: S16 mode (16-byte challenges/MACs). Not supported here: SGP.02 and every vector use S8. */
  s16: 0x01,
  /** b5: pseudo-random card challenge (from a sequence counter) instead of a random one. */
  pseudoRandomChallenge: 0x10,
  /** b6: R-MAC supported. */
  rMac: 0x20,
  /** b7: R-ENCRYPTION supported. */
  rEnc: 0x40,
} as const;

/** Amd D §7.1.2.1 Table 7-5: P1 of EXTERNAL AUTHENTICATE. C-MAC is always on in an open session. */
export type Scp03SecurityLevel = 0x01 | 0x03 | 0x11 | 0x13 | 0x33;
export const SCP03_SECURITY_LEVELS: readonly Scp03SecurityLevel[] = [0x01, 0x03, 0x11, 0x13, 0x33];
const C_DEC = 0x02;
const R_MAC = 0x10;
const R_ENC = 0x20;

export const isScp03SecurityLevel = (value: number): value is Scp03SecurityLevel =>
  (SCP03_SECURITY_LEVELS as readonly number[]).includes(value);

/** The static keys of one SCP03 key set (Key-ENC, Key-MAC, Key-DEK), all of one AES length. */
export interface Scp03Keys {
  readonly enc: Uint8Array;
  readonly mac: Uint8Array;
  readonly dek: Uint8Array;
}

export interface Scp03SessionKeys {
  readonly sEnc: Uint8Array;
  readonly sMac: Uint8Array;
  readonly sRmac: Uint8Array;
}

/** A failure on bytes received from the other end: a stable code and the SW a card answers with. */
export interface Scp03Error {
  readonly code: string;
  readonly message: string;
  /** ISO 7816-4 status word for a card to return (6982 security status, 6A86 wrong P1/P2 …). */
  readonly sw: number;
  readonly offset?: number;
}

const fail = (code: string, message: string, sw: number): Result<never, Scp03Error> => ({
  ok: false,
  error: { code, message, sw },
});

const BLOCK = 16;
const S8 = 8;
/** Status words that carry R-MAC/R-ENC (Amd D §6.2.5): 9000 and the warnings 62xx, 63xx. */
const isProtectedSw = (sw: number): boolean => sw === 0x9000 || sw >> 8 === 0x62 || sw >> 8 === 0x63;

function checkAesKey(name: string, key: Uint8Array): void {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new RangeError(`${name} must be an AES-128/192/256 key (16, 24 or 32 bytes), got ${key.length}`);
  }
}

/**
 * Amd D §4.1.5: KDF in counter mode (NIST SP 800-108) with AES-CMAC as PRF, fields in the order
 * label(11 × 00 ‖ constant) ‖ 00 ‖ L(16 bits) ‖ i(8 bits) ‖ context.
 */
export function scp03Kdf(key: Uint8Array, constant: number, context: Uint8Array, bits: number): Uint8Array {
  checkAesKey('the KDF key', key);
  if (bits <= 0 || bits % 8 !== 0 || bits > 0xffff) throw new RangeError(`KDF output of ${bits} bits`);
  const bytes = bits / 8;
  const out = new Uint8Array(Math.ceil(bytes / BLOCK) * BLOCK);
  const input = new Uint8Array(16 + context.length);
  input[11] = constant & 0xff;
  input[13] = bits >> 8;
  input[14] = bits & 0xff;
  input.set(context, 16);
  for (let i = 1; (i - 1) * BLOCK < bytes; i++) {
    input[15] = i;
    out.set(aesCmac(key, input), (i - 1) * BLOCK);
  }
  return out.slice(0, bytes);
}

/** Amd D §6.2.1: S-ENC, S-MAC, S-RMAC from context = host challenge ‖ card challenge. */
export function deriveScp03SessionKeys(
  keys: Scp03Keys,
  hostChallenge: Uint8Array,
  cardChallenge: Uint8Array,
): Scp03SessionKeys {
  checkAesKey('Key-ENC', keys.enc);
  checkAesKey('Key-MAC', keys.mac);
  const context = concat(hostChallenge, cardChallenge);
  return {
    sEnc: scp03Kdf(keys.enc, SCP03_DERIVATION_CONSTANT.sEnc, context, keys.enc.length * 8),
    sMac: scp03Kdf(keys.mac, SCP03_DERIVATION_CONSTANT.sMac, context, keys.mac.length * 8),
    sRmac: scp03Kdf(keys.mac, SCP03_DERIVATION_CONSTANT.sRmac, context, keys.mac.length * 8),
  };
}

/** Amd D §6.2.2.2: card cryptogram (S8). */
export const scp03CardCryptogram = (sMac: Uint8Array, hostChallenge: Uint8Array, cardChallenge: Uint8Array) =>
  scp03Kdf(sMac, SCP03_DERIVATION_CONSTANT.cardCryptogram, concat(hostChallenge, cardChallenge), 64);

/** Amd D §6.2.2.3: host cryptogram (S8). */
export const scp03HostCryptogram = (sMac: Uint8Array, hostChallenge: Uint8Array, cardChallenge: Uint8Array) =>
  scp03Kdf(sMac, SCP03_DERIVATION_CONSTANT.hostCryptogram, concat(hostChallenge, cardChallenge), 64);

/**
 * Amd D §6.2.2.1: pseudo-random card challenge = KDF(Key-ENC, 02, sequence counter(3) ‖ AID of the
 * invoking security domain, 64). Checked against pySim's card traces, whose card is an ISD-R.
 */
export function scp03PseudoRandomCardChallenge(
  keyEnc: Uint8Array,
  sequenceCounter: number,
  sdAid: Uint8Array,
): Uint8Array {
  return scp03Kdf(
    keyEnc,
    SCP03_DERIVATION_CONSTANT.cardChallenge,
    concat(counter3(sequenceCounter), sdAid),
    64,
  );
}

function counter3(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffff) {
    throw new RangeError(`the SCP03 sequence counter is 3 bytes, got ${value}`);
  }
  return Uint8Array.of(value >> 16, (value >> 8) & 0xff, value & 0xff);
}

// --- the state a session keeps -------------------------------------------------------------------

/**
 * One open SCP03 session: session keys, security level, the MAC chaining value and the encryption
 * counter (Amd D §6.2.4, §6.2.6). Both ends keep one; SCP03t frames the same operations in TLVs.
 */
export class Scp03Channel {
  readonly keys: Scp03SessionKeys;
  readonly securityLevel: Scp03SecurityLevel;
  /** §6.2.4: starts as 16 × 00; after each command it is that command's full C-MAC. */
  #chain: Uint8Array = new Uint8Array(BLOCK);
  /** §6.2.6: number of commands protected so far after EXTERNAL AUTHENTICATE (the ICV counter). */
  #counter = 0;

  constructor(keys: Scp03SessionKeys, securityLevel: Scp03SecurityLevel) {
    this.keys = keys;
    this.securityLevel = securityLevel;
  }

  get encryptionCounter(): number {
    return this.#counter;
  }

  get macChainingValue(): Uint8Array {
    return this.#chain.slice();
  }

  get commandEncryption(): boolean {
    return (this.securityLevel & C_DEC) !== 0;
  }

  get responseMac(): boolean {
    return (this.securityLevel & R_MAC) !== 0;
  }

  get responseEncryption(): boolean {
    return (this.securityLevel & R_ENC) !== 0;
  }

  /** §6.2.4: full 16-byte C-MAC over chain ‖ input; becomes the new chaining value. Send its first 8 bytes. */
  computeCommandMac(input: Uint8Array): Uint8Array {
    const mac = aesCmac(this.keys.sMac, concat(this.#chain, input));
    this.#chain = mac;
    return mac.subarray(0, S8);
  }

  /** Card side of computeCommandMac: the chain moves only when the MAC is right. */
  verifyCommandMac(input: Uint8Array, received: Uint8Array): boolean {
    const mac = aesCmac(this.keys.sMac, concat(this.#chain, input));
    if (!constantTimeEqual(mac.subarray(0, S8), received)) return false;
    this.#chain = mac;
    return true;
  }

  /** §6.2.5: R-MAC over chain (the C-MAC of this command) ‖ response data ‖ SW. */
  computeResponseMac(dataAndSw: Uint8Array): Uint8Array {
    return aesCmac(this.keys.sRmac, concat(this.#chain, dataAndSw)).subarray(0, S8);
  }

  /** §6.2.6: the counter moves on before every command, with or without data. */
  nextCommand(): void {
    this.#counter += 1;
  }

  /** §6.2.6: ICV = AES(S-ENC, counter as a 16-byte block); §6.2.7: the same with MSB '80' for responses. */
  #icv(response: boolean): Uint8Array {
    const block = new Uint8Array(BLOCK);
    let c = this.#counter;
    for (let i = BLOCK - 1; i >= 0 && c > 0; i--) {
      block[i] = c & 0xff;
      c = Math.floor(c / 256);
    }
    if (response) block[0] = 0x80;
    return aesBlock(this.keys.sEnc, block);
  }

  /** §6.2.6: AES-CBC(S-ENC, ICV, data ‖ 80 00…) with the counter of the current command. */
  encryptCommandData(data: Uint8Array): Uint8Array {
    return aesCbc(this.keys.sEnc, this.#icv(false), pad80(data), true);
  }

  decryptCommandData(data: Uint8Array): Result<Uint8Array, Scp03Error> {
    if (data.length === 0 || data.length % BLOCK !== 0) {
      return fail('SCP03_CIPHERTEXT_LENGTH', 'encrypted data is a non-empty multiple of 16 bytes', 0x6982);
    }
    return unpad80(aesCbc(this.keys.sEnc, this.#icv(false), data, false));
  }

  /** §6.2.7: response encryption with the counter of the command being answered. */
  encryptResponseData(data: Uint8Array): Uint8Array {
    return aesCbc(this.keys.sEnc, this.#icv(true), pad80(data), true);
  }

  decryptResponseData(data: Uint8Array): Result<Uint8Array, Scp03Error> {
    if (data.length === 0 || data.length % BLOCK !== 0) {
      return fail(
        'SCP03_CIPHERTEXT_LENGTH',
        'encrypted response data is a non-empty multiple of 16 bytes',
        0x6982,
      );
    }
    return unpad80(aesCbc(this.keys.sEnc, this.#icv(true), data, false));
  }
}

// --- INITIALIZE UPDATE / EXTERNAL AUTHENTICATE ----------------------------------------------------

export interface InitializeUpdateResponse {
  /** Key diversification data (10 bytes). */
  readonly keyDiversificationData: Uint8Array;
  readonly kvn: number;
  /** The "i" parameter (Table 5-1). */
  readonly i: number;
  readonly cardChallenge: Uint8Array;
  readonly cardCryptogram: Uint8Array;
  /** Present when the card uses pseudo-random challenges (i b5). */
  readonly sequenceCounter?: number;
}

/** Amd D §7.1.1.6 Table 7-3: 10 ‖ KVN ‖ 03 ‖ i ‖ card challenge(8) ‖ card cryptogram(8) ‖ [counter(3)]. */
export function encodeInitializeUpdateResponse(r: InitializeUpdateResponse): Uint8Array {
  if (r.keyDiversificationData.length !== 10) throw new RangeError('key diversification data is 10 bytes');
  const parts = [
    r.keyDiversificationData,
    Uint8Array.of(r.kvn, 0x03, r.i),
    r.cardChallenge,
    r.cardCryptogram,
  ];
  if (r.sequenceCounter !== undefined) parts.push(counter3(r.sequenceCounter));
  return concat(...parts);
}

export function decodeInitializeUpdateResponse(bytes: Uint8Array): Result<InitializeUpdateResponse> {
  if (bytes.length !== 29 && bytes.length !== 32) {
    return decodeError(
      'SCP03_INIT_UPDATE_LENGTH',
      `an S8 INITIALIZE UPDATE response is 29 or 32 bytes, got ${bytes.length}`,
    );
  }
  if (bytes[11] !== 0x03) return decodeError('SCP03_PROTOCOL', 'the SCP identifier is not 03', 11);
  const i = bytes[12] as number;
  if (i & SCP03_I.s16) return decodeError('SCP03_S16_UNSUPPORTED', 'S16 mode is not supported', 12);
  const pseudo = (i & SCP03_I.pseudoRandomChallenge) !== 0;
  if (pseudo !== (bytes.length === 32)) {
    return decodeError(
      'SCP03_SEQUENCE_COUNTER',
      'a sequence counter comes exactly with pseudo-random challenges',
      29,
    );
  }
  return ok({
    keyDiversificationData: bytes.slice(0, 10),
    kvn: bytes[10] as number,
    i,
    cardChallenge: bytes.slice(13, 21),
    cardCryptogram: bytes.slice(21, 29),
    ...(pseudo
      ? {
          sequenceCounter:
            ((bytes[29] as number) << 16) | ((bytes[30] as number) << 8) | (bytes[31] as number),
        }
      : {}),
  });
}

// --- the off-card end -----------------------------------------------------------------------------

export interface Scp03HostOptions {
  readonly keys: Scp03Keys;
  /** KVN of the key set (30-3F for SCP03; 00 = the first available). */
  readonly kvn: number;
  readonly securityLevel: Scp03SecurityLevel;
  /** 8 bytes; random when left out. Fixed only in tests. */
  readonly hostChallenge?: Uint8Array;
}

/** The host (off-card entity): builds INITIALIZE UPDATE, checks the card, then wraps commands. */
export class Scp03HostSession {
  readonly #options: Scp03HostOptions;
  readonly hostChallenge: Uint8Array;
  #channel: Scp03Channel | undefined;
  #card: InitializeUpdateResponse | undefined;

  constructor(options: Scp03HostOptions) {
    checkAesKey('Key-ENC', options.keys.enc);
    checkAesKey('Key-MAC', options.keys.mac);
    if (!isScp03SecurityLevel(options.securityLevel)) throw new RangeError('unsupported security level');
    this.#options = options;
    this.hostChallenge = options.hostChallenge?.slice() ?? new Uint8Array(randomBytes(S8));
    if (this.hostChallenge.length !== S8) throw new RangeError('the host challenge is 8 bytes (S8 mode)');
  }

  /** §7.1.1: 80 50 KVN 00 08 <host challenge> 00. */
  initializeUpdate(): Uint8Array {
    return concat(
      Uint8Array.of(0x80, 0x50, this.#options.kvn, 0x00, S8),
      this.hostChallenge,
      Uint8Array.of(0),
    );
  }

  /**
   * Checks the INITIALIZE UPDATE response (data, without SW): SCP03, the card cryptogram, the
   * card's support for the requested R-MAC/R-ENC; then returns EXTERNAL AUTHENTICATE (§7.1.2):
   * 84 82 SL 00 10 <host cryptogram> <C-MAC>.
   */
  externalAuthenticate(initializeUpdateResponse: Uint8Array): Result<Uint8Array, Scp03Error> {
    if (this.#card) return fail('SCP03_STATE', 'INITIALIZE UPDATE was already answered', 0x6985);
    const decoded = decodeInitializeUpdateResponse(initializeUpdateResponse);
    if (!decoded.ok) return fail(decoded.error.code, decoded.error.message, 0x6a80);
    const r = decoded.value;
    if (this.#options.kvn !== 0 && r.kvn !== this.#options.kvn) {
      return fail('SCP03_KVN', `the card answered with KVN ${r.kvn}`, 0x6a88);
    }
    const sl = this.#options.securityLevel;
    if ((sl & R_MAC && !(r.i & SCP03_I.rMac)) || (sl & R_ENC && !(r.i & SCP03_I.rEnc))) {
      return fail(
        'SCP03_SECURITY_LEVEL',
        'the card does not support the requested response protection',
        0x6a86,
      );
    }
    const keys = deriveScp03SessionKeys(this.#options.keys, this.hostChallenge, r.cardChallenge);
    const expected = scp03CardCryptogram(keys.sMac, this.hostChallenge, r.cardChallenge);
    if (!constantTimeEqual(expected, r.cardCryptogram)) {
      return fail(
        'SCP03_CARD_CRYPTOGRAM',
        'the card cryptogram is wrong: the card does not hold these keys',
        0x6300,
      );
    }
    this.#card = r;
    const channel = new Scp03Channel(keys, sl);
    const hostCryptogram = scp03HostCryptogram(keys.sMac, this.hostChallenge, r.cardChallenge);
    const header = Uint8Array.of(0x84, 0x82, sl, 0x00, S8 * 2);
    const mac = channel.computeCommandMac(concat(header, hostCryptogram));
    this.#channel = channel;
    return ok(concat(header, hostCryptogram, mac));
  }

  /** The open channel (after externalAuthenticate), e.g. for its counters. */
  get channel(): Scp03Channel | undefined {
    return this.#channel;
  }

  get cardInfo(): InitializeUpdateResponse | undefined {
    return this.#card;
  }

  /**
   * §6.2.4/§6.2.6: C-DECRYPTION (when the level asks) then C-MAC; CLA gets b3 (secure messaging).
   * Only short APDUs of cases 1-4; throws RangeError for an APDU the host should never build.
   */
  wrapCommand(apdu: Uint8Array): Uint8Array {
    const channel = this.#open();
    const c = parseShortApdu(apdu);
    if (!c.ok) throw new RangeError(c.error.message);
    const { cla, ins, p1, p2, le } = c.value;
    let data = c.value.data;
    channel.nextCommand();
    if (channel.commandEncryption && data.length > 0) data = channel.encryptCommandData(data);
    const lc = data.length + S8;
    if (lc > 255) throw new RangeError(`the wrapped command data (${lc} bytes) exceeds a short APDU`);
    // The MAC covers CLA with the logical channel zeroed and b3 set; the sent CLA keeps its channel.
    const mac = channel.computeCommandMac(concat(Uint8Array.of((cla & 0xf0) | 0x04, ins, p1, p2, lc), data));
    const header = Uint8Array.of(cla | 0x04, ins, p1, p2, lc);
    // A response may come back longer than the plain Le (R-MAC, padding), so any Le is sent as 00.
    return concat(header, data, mac, le === undefined ? new Uint8Array(0) : Uint8Array.of(0));
  }

  /** §6.2.5/§6.2.7: checks the R-MAC and decrypts; `response` = data ‖ SW1 SW2 as received. */
  unwrapResponse(response: Uint8Array): Result<{ data: Uint8Array; sw: number }, Scp03Error> {
    const channel = this.#open();
    if (response.length < 2) return fail('SCP03_RESPONSE_LENGTH', 'a response has at least SW1 SW2', 0x6f00);
    const sw = ((response[response.length - 2] as number) << 8) | (response[response.length - 1] as number);
    const body = response.subarray(0, response.length - 2);
    if (!channel.responseMac || !isProtectedSw(sw)) {
      if (!isProtectedSw(sw) && body.length > 0) {
        return fail('SCP03_RESPONSE_LENGTH', 'an error status word comes without data', 0x6f00);
      }
      return ok({ data: body.slice(), sw });
    }
    if (body.length < S8) return fail('SCP03_R_MAC', 'the response has no R-MAC', 0x6f00);
    const data = body.subarray(0, body.length - S8);
    const expected = channel.computeResponseMac(concat(data, Uint8Array.of(sw >> 8, sw & 0xff)));
    if (!constantTimeEqual(expected, body.subarray(body.length - S8))) {
      return fail('SCP03_R_MAC', 'the R-MAC is wrong', 0x6f00);
    }
    if (!channel.responseEncryption || data.length === 0) return ok({ data: data.slice(), sw });
    const plain = channel.decryptResponseData(data);
    return plain.ok ? ok({ data: plain.value, sw }) : plain;
  }

  #open(): Scp03Channel {
    if (!this.#channel) throw new Error('the SCP03 session is not open: call externalAuthenticate first');
    return this.#channel;
  }
}

// --- the card end ---------------------------------------------------------------------------------

export interface Scp03CardOptions {
  readonly keys: Scp03Keys;
  /** KVN of the key set this security domain holds. */
  readonly kvn: number;
  readonly keyDiversificationData: Uint8Array;
  /** AID of the security domain: input of the pseudo-random challenge. */
  readonly sdAid: Uint8Array;
  /**
   * Pseudo-random challenges (i = 70): the sequence counter to use for this session. The card
   * persists `nextSequenceCounter` afterwards so no challenge is ever produced twice.
   * Random challenges (i = 60): leave it out.
   */
  readonly sequenceCounter?: number;
  /** For random challenges in tests; ignored with a sequence counter. */
  readonly cardChallenge?: Uint8Array;
  /** The least protection this security domain accepts (default C-MAC only). */
  readonly minimumSecurityLevel?: Scp03SecurityLevel;
}

/** The card (security domain) end: answers INITIALIZE UPDATE, EXTERNAL AUTHENTICATE, then unwraps. */
export class Scp03CardSession {
  readonly #options: Scp03CardOptions;
  #hostChallenge: Uint8Array | undefined;
  #cardChallenge: Uint8Array | undefined;
  #keys: Scp03SessionKeys | undefined;
  #channel: Scp03Channel | undefined;
  #closed = false;

  constructor(options: Scp03CardOptions) {
    checkAesKey('Key-ENC', options.keys.enc);
    checkAesKey('Key-MAC', options.keys.mac);
    if (options.keyDiversificationData.length !== 10)
      throw new RangeError('key diversification data is 10 bytes');
    if (options.sequenceCounter !== undefined) counter3(options.sequenceCounter);
    this.#options = options;
  }

  get i(): number {
    return (
      (this.#options.sequenceCounter === undefined ? 0 : SCP03_I.pseudoRandomChallenge) |
      SCP03_I.rMac |
      SCP03_I.rEnc
    );
  }

  /** The value the card stores for its next session (the counter moves on at each INITIALIZE UPDATE). */
  get nextSequenceCounter(): number | undefined {
    const s = this.#options.sequenceCounter;
    return s === undefined ? undefined : s + 1;
  }

  get channel(): Scp03Channel | undefined {
    return this.#channel;
  }

  /** Whether a session failed (wrong MAC, cryptogram …): GP closes it; the host must start again. */
  get closed(): boolean {
    return this.#closed;
  }

  /** §7.1.1: the INITIALIZE UPDATE command APDU → its response data (the caller adds 9000). */
  initializeUpdate(apdu: Uint8Array): Result<Uint8Array, Scp03Error> {
    const c = parseShortApdu(apdu);
    if (!c.ok) return fail(c.error.code, c.error.message, 0x6700);
    const { cla, ins, p1, p2, data } = c.value;
    if ((cla & 0xfc) !== 0x80 || ins !== 0x50) return fail('SCP03_COMMAND', 'not INITIALIZE UPDATE', 0x6d00);
    if (this.#hostChallenge) return fail('SCP03_STATE', 'INITIALIZE UPDATE was already processed', 0x6985);
    if (p2 !== 0x00) return fail('SCP03_P1P2', 'P2 of INITIALIZE UPDATE is 00', 0x6a86);
    if (p1 !== 0x00 && p1 !== this.#options.kvn)
      return fail('SCP03_KVN', `no key set with KVN ${p1}`, 0x6a88);
    if (data.length !== S8) return fail('SCP03_HOST_CHALLENGE', 'the host challenge is 8 bytes', 0x6700);
    const counter = this.#options.sequenceCounter;
    const cardChallenge =
      counter !== undefined
        ? scp03PseudoRandomCardChallenge(this.#options.keys.enc, counter, this.#options.sdAid)
        : (this.#options.cardChallenge?.slice() ?? new Uint8Array(randomBytes(S8)));
    const keys = deriveScp03SessionKeys(this.#options.keys, data, cardChallenge);
    this.#hostChallenge = data.slice();
    this.#cardChallenge = cardChallenge;
    this.#keys = keys;
    return ok(
      encodeInitializeUpdateResponse({
        keyDiversificationData: this.#options.keyDiversificationData,
        kvn: this.#options.kvn,
        i: this.i,
        cardChallenge,
        cardCryptogram: scp03CardCryptogram(keys.sMac, data, cardChallenge),
        ...(counter !== undefined ? { sequenceCounter: counter } : {}),
      }),
    );
  }

  /** §7.1.2: checks the host cryptogram and the C-MAC; on success the session is open (answer 9000). */
  externalAuthenticate(apdu: Uint8Array): Result<Scp03SecurityLevel, Scp03Error> {
    const keys = this.#keys;
    const hostChallenge = this.#hostChallenge;
    const cardChallenge = this.#cardChallenge;
    if (!keys || !hostChallenge || !cardChallenge || this.#channel || this.#closed) {
      return fail('SCP03_STATE', 'EXTERNAL AUTHENTICATE must follow INITIALIZE UPDATE once', 0x6985);
    }
    const c = parseShortApdu(apdu);
    if (!c.ok) return this.#close(c.error.code, c.error.message, 0x6700);
    const { cla, ins, p1, p2, data } = c.value;
    if ((cla & 0xfc) !== 0x84 || ins !== 0x82)
      return this.#close('SCP03_COMMAND', 'not EXTERNAL AUTHENTICATE', 0x6d00);
    if (p2 !== 0x00 || !isScp03SecurityLevel(p1))
      return this.#close('SCP03_SECURITY_LEVEL', 'P1 is not a security level', 0x6a86);
    const minimum = this.#options.minimumSecurityLevel ?? 0x01;
    if ((p1 & minimum) !== minimum) {
      return this.#close(
        'SCP03_SECURITY_LEVEL',
        'the security level is below what this domain requires',
        0x6982,
      );
    }
    if (data.length !== S8 * 2)
      return this.#close('SCP03_HOST_CRYPTOGRAM', 'data is host cryptogram ‖ C-MAC', 0x6700);
    const expected = scp03HostCryptogram(keys.sMac, hostChallenge, cardChallenge);
    if (!constantTimeEqual(expected, data.subarray(0, S8))) {
      return this.#close('SCP03_HOST_CRYPTOGRAM', 'the host cryptogram is wrong', 0x6300);
    }
    const channel = new Scp03Channel(keys, p1);
    const header = Uint8Array.of((cla & 0xf0) | 0x04, ins, p1, p2, S8 * 2);
    if (!channel.verifyCommandMac(concat(header, data.subarray(0, S8)), data.subarray(S8))) {
      return this.#close('SCP03_C_MAC', 'the C-MAC of EXTERNAL AUTHENTICATE is wrong', 0x6982);
    }
    this.#channel = channel;
    return ok(p1);
  }

  /**
   * §6.2.4/§6.2.6 card side: checks the C-MAC, decrypts, gives the plain APDU (CLA b3 cleared, Lc
   * of the plain data, Le kept). A wrong MAC or padding closes the session (GP: 6982).
   */
  unwrapCommand(apdu: Uint8Array): Result<Uint8Array, Scp03Error> {
    const channel = this.#channel;
    if (!channel || this.#closed) return fail('SCP03_STATE', 'no open secure channel session', 0x6985);
    const c = parseShortApdu(apdu);
    if (!c.ok) return this.#close(c.error.code, c.error.message, 0x6700);
    const { cla, ins, p1, p2, data, le } = c.value;
    if ((cla & 0x04) === 0 || data.length < S8) {
      return this.#close('SCP03_C_MAC', 'the command carries no C-MAC', 0x6982);
    }
    channel.nextCommand();
    const body = data.subarray(0, data.length - S8);
    const header = Uint8Array.of((cla & 0xf0) | 0x04, ins, p1, p2, data.length);
    if (!channel.verifyCommandMac(concat(header, body), data.subarray(data.length - S8))) {
      return this.#close('SCP03_C_MAC', 'the C-MAC is wrong', 0x6982);
    }
    let plain: Uint8Array = body.slice();
    if (channel.commandEncryption && body.length > 0) {
      const d = channel.decryptCommandData(body);
      if (!d.ok) return this.#close(d.error.code, d.error.message, 0x6982);
      plain = d.value;
    }
    if (plain.length > 255) return this.#close('SCP03_LENGTH', 'plain data exceeds a short APDU', 0x6700);
    const out = [cla & ~0x04 & 0xff, ins, p1, p2];
    if (plain.length > 0) out.push(plain.length, ...plain);
    if (le !== undefined) out.push(le);
    return ok(Uint8Array.from(out));
  }

  /** §6.2.5/§6.2.7: response data ‖ [R-MAC] ‖ SW; errors (not 9000/62xx/63xx) go out as the SW alone. */
  wrapResponse(data: Uint8Array, sw: number): Uint8Array {
    const channel = this.#channel;
    const swBytes = Uint8Array.of(sw >> 8, sw & 0xff);
    if (!isProtectedSw(sw)) return swBytes;
    if (!channel?.responseMac) return concat(data, swBytes);
    const body = channel.responseEncryption && data.length > 0 ? channel.encryptResponseData(data) : data;
    return concat(body, channel.computeResponseMac(concat(body, swBytes)), swBytes);
  }

  #close(code: string, message: string, sw: number): Result<never, Scp03Error> {
    this.#closed = true;
    return fail(code, message, sw);
  }
}

// --- helpers --------------------------------------------------------------------------------------

interface ShortApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data: Uint8Array;
  readonly le: number | undefined;
}

/** ISO 7816-4 §5.1 short cases 1-4 (crypto may not import card/, so the four cases are read here). */
function parseShortApdu(bytes: Uint8Array): Result<ShortApdu> {
  if (bytes.length < 4) return decodeError('APDU_SHORT', 'an APDU has at least 4 bytes');
  const [cla = 0, ins = 0, p1 = 0, p2 = 0] = bytes;
  if (bytes.length === 4) return ok({ cla, ins, p1, p2, data: new Uint8Array(0), le: undefined });
  const p3 = bytes[4] as number;
  if (bytes.length === 5) return ok({ cla, ins, p1, p2, data: new Uint8Array(0), le: p3 });
  if (p3 === 0) return decodeError('APDU_EXTENDED', 'extended length APDUs are not supported', 4);
  if (bytes.length === 5 + p3) return ok({ cla, ins, p1, p2, data: bytes.slice(5), le: undefined });
  if (bytes.length === 6 + p3)
    return ok({ cla, ins, p1, p2, data: bytes.slice(5, 5 + p3), le: bytes[5 + p3] as number });
  return decodeError('APDU_LENGTH', `Lc = ${p3} does not match the ${bytes.length - 5} bytes that follow`, 4);
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** GP Card Spec §B.2.3 / ISO 9797-1 method 2: 80 then 00s to the next 16-byte boundary (always added). */
export function pad80(data: Uint8Array): Uint8Array {
  const out = new Uint8Array((Math.floor(data.length / BLOCK) + 1) * BLOCK);
  out.set(data);
  out[data.length] = 0x80;
  return out;
}

/** Inverse of pad80; padding that is not 80 00… is an error, never silently accepted. */
export function unpad80(data: Uint8Array): Result<Uint8Array, Scp03Error> {
  let i = data.length - 1;
  while (i >= 0 && data[i] === 0x00 && data.length - i <= BLOCK) i--;
  if (i < 0 || data[i] !== 0x80 || data.length - i > BLOCK) {
    return fail('SCP03_PADDING', 'the decrypted data does not end in 80 00… padding', 0x6982);
  }
  return ok(data.slice(0, i));
}

function aesBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  c.setAutoPadding(false);
  return new Uint8Array(c.update(block));
}

function aesCbc(key: Uint8Array, iv: Uint8Array, data: Uint8Array, encrypt: boolean): Uint8Array {
  const c = encrypt
    ? createCipheriv(`aes-${key.length * 8}-cbc`, key, iv)
    : createDecipheriv(`aes-${key.length * 8}-cbc`, key, iv);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

// --- keys under the DEK (PUT KEY) -----------------------------------------------------------------

/** Amd D §6.2.8 / GP Card Spec §11.8.2.3: the check value of an AES key = AES(key, 16 × 01)[0:3]. */
export function scp03KeyCheckValue(key: Uint8Array): Uint8Array {
  checkAesKey('the key', key);
  return aesBlock(key, new Uint8Array(BLOCK).fill(0x01)).slice(0, 3);
}

/**
 * GP Card Spec §11.8.2.3 Tables 11-70/11-71 with Amd D: a key component encrypted under Key-DEK
 * (AES-CBC, IV zero). Whole blocks go as they are; otherwise the clear length comes first and the
 * value is zero-padded to a block.
 */
export function encryptKeyWithDek(dek: Uint8Array, key: Uint8Array): Uint8Array {
  checkAesKey('Key-DEK', dek);
  if (key.length === 0 || key.length > 127) throw new RangeError('a key component is 1 … 127 bytes');
  const whole = key.length % BLOCK === 0;
  const padded = new Uint8Array(Math.ceil(key.length / BLOCK) * BLOCK);
  padded.set(key);
  const encrypted = aesCbc(dek, new Uint8Array(BLOCK), padded, true);
  return whole ? encrypted : concat(Uint8Array.of(key.length), encrypted);
}

export function decryptKeyWithDek(dek: Uint8Array, block: Uint8Array): Result<Uint8Array, Scp03Error> {
  checkAesKey('Key-DEK', dek);
  const whole = block.length > 0 && block.length % BLOCK === 0;
  const clearLength = whole ? block.length : (block[0] ?? 0);
  const encrypted = whole ? block : block.subarray(1);
  if (
    encrypted.length === 0 ||
    encrypted.length % BLOCK !== 0 ||
    clearLength === 0 ||
    clearLength > encrypted.length
  ) {
    return fail(
      'SCP03_KEY_BLOCK',
      'a key component block is whole AES blocks, or a length then whole blocks',
      0x6a80,
    );
  }
  if (!whole && clearLength % BLOCK === 0) {
    return fail('SCP03_KEY_BLOCK', 'a length prefix is only used for keys that are not whole blocks', 0x6a80);
  }
  const plain = aesCbc(dek, new Uint8Array(BLOCK), encrypted, false);
  if (plain.subarray(clearLength).some((b) => b !== 0)) {
    return fail('SCP03_KEY_BLOCK', 'the padding of the key component is not zero', 0x6a80);
  }
  return ok(plain.slice(0, clearLength));
}
