// The terminal (modem) side of the card interface: what a UE does to use its USIM — select the
// application, verify PIN1 when needed, run AUTHENTICATE — using nothing but APDUs. The bridges
// (wpa_supplicant external_sim) and the tests drive the card through this, never through its code.

import { toHex } from '../lib/hex.js';
import { decodeEfImsi } from '../lib/identities.js';
import { decodeError, ok, type Result } from '../lib/result.js';
import { encodeCommandApdu, parseResponseApdu, swHex } from './iso-7816-4.js';
import {
  AUTH_CONTEXT,
  decodeGsmResult,
  decodeUmtsResult,
  encodeGsmChallenge,
  encodeUmtsChallenge,
  type UmtsAuthResult,
} from './ts-31-102.js';
import { describeStatusWord, SW, USIM_AID } from './ts-102-221.js';
import { encodePin } from './uicc.js';

export type Transmit = (apdu: Uint8Array) => Uint8Array;

export interface CardResponse {
  readonly data: Uint8Array;
  readonly sw: number;
}

/** The card answered with an unexpected status word. */
const swError = (what: string, sw: number) =>
  decodeError('CARD_SW', `${what}: ${swHex(sw)} (${describeStatusWord(sw)})`);

export class Terminal {
  readonly #transmit: Transmit;

  constructor(transmit: Transmit) {
    this.#transmit = transmit;
  }

  /**
   * Send a command and collect the whole answer: '61XX' → GET RESPONSE (T=0, ISO 7816-3 §12.2.4),
   * '6CXX' → the same command again with Le = XX.
   */
  send(apdu: Uint8Array): CardResponse {
    let r = this.#exchange(apdu);
    if ((r.sw & 0xff00) === SW.WRONG_LE) {
      const again = apdu.length === 5 ? apdu.slice() : Uint8Array.from([...apdu, 0]);
      again[again.length - 1] = r.sw & 0xff;
      r = this.#exchange(again);
    }
    let data = r.data;
    while ((r.sw & 0xff00) === SW.MORE_DATA) {
      r = this.#exchange(encodeCommandApdu({ cla: 0x00, ins: 0xc0, p1: 0, p2: 0, le: r.sw & 0xff }));
      data = Uint8Array.from([...data, ...r.data]);
    }
    return { data, sw: r.sw };
  }

  #exchange(apdu: Uint8Array): CardResponse {
    const parsed = parseResponseApdu(this.#transmit(apdu));
    return parsed.ok ? parsed.value : { data: new Uint8Array(0), sw: SW.TECHNICAL_PROBLEM };
  }

  /** SELECT ADF.USIM by its (partial) AID: RID A000000087 + application code 1002. */
  selectUsim(): Result<true> {
    const aid = Uint8Array.from(Buffer.from(USIM_AID.slice(0, 14), 'hex'));
    const r = this.send(encodeCommandApdu({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x04, data: aid }));
    return r.sw === SW.OK ? ok(true) : swError('SELECT ADF.USIM', r.sw);
  }

  /** Verify PIN1 if the card still needs it (VERIFY without data answers 9000 when it does not). */
  verifyPin1IfNeeded(pin: string | undefined): Result<true> {
    const status = this.send(encodeCommandApdu({ cla: 0x00, ins: 0x20, p1: 0, p2: 0x01 }));
    if (status.sw === SW.OK) return ok(true);
    if (pin === undefined) return swError('PIN1 is required (give --pin)', status.sw);
    const r = this.send(encodeCommandApdu({ cla: 0x00, ins: 0x20, p1: 0, p2: 0x01, data: encodePin(pin) }));
    return r.sw === SW.OK ? ok(true) : swError('VERIFY PIN1', r.sw);
  }

  /** READ BINARY of EF.IMSI by its SFI (07) in the current application. */
  readImsi(): Result<string> {
    const r = this.send(encodeCommandApdu({ cla: 0x00, ins: 0xb0, p1: 0x87, p2: 0, le: 9 }));
    if (r.sw !== SW.OK) return swError('READ BINARY EF.IMSI', r.sw);
    return decodeEfImsi(r.data);
  }

  /** TS 31.102 §7.1.2 AUTHENTICATE in 3G context. A MAC failure is a result, not an error. */
  authenticateUmts(rand: Uint8Array, autn: Uint8Array): Result<UmtsAuthResult | { kind: 'mac_failure' }> {
    const r = this.send(
      encodeCommandApdu({
        cla: 0x00,
        ins: 0x88,
        p1: 0,
        p2: AUTH_CONTEXT.UMTS,
        data: encodeUmtsChallenge(rand, autn),
      }),
    );
    if (r.sw === SW.AUTH_MAC_FAILURE) return ok({ kind: 'mac_failure' });
    if (r.sw !== SW.OK) return swError('AUTHENTICATE (3G)', r.sw);
    return decodeUmtsResult(r.data);
  }

  /** TS 31.102 §7.1.2 AUTHENTICATE in GSM context. */
  authenticateGsm(rand: Uint8Array): Result<{ sres: Uint8Array; kc: Uint8Array }> {
    const r = this.send(
      encodeCommandApdu({
        cla: 0x00,
        ins: 0x88,
        p1: 0,
        p2: AUTH_CONTEXT.GSM,
        data: encodeGsmChallenge(rand),
      }),
    );
    if (r.sw !== SW.OK) return swError('AUTHENTICATE (GSM)', r.sw);
    return decodeGsmResult(r.data);
  }
}

/** `<data hex> <SW>` as `simtrust card apdu` prints a response. */
export const formatResponse = (r: CardResponse): string =>
  r.data.length === 0 ? swHex(r.sw) : `${toHex(r.data).toUpperCase()} ${swHex(r.sw)}`;
