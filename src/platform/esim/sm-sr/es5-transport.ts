// ES5 transport (SGP.02 §2.4.3, esim.md §1.2): how the SM-SR's C-APDUs reach a security domain of an
// eUICC (the ISD-R, or an ISD-P through it) and their R-APDUs come back. Implementations: SMS (SCP80
// command packet to the ISD-R TAR 000001, PoR back through the MO path) and HTTPS (SCP81, RAM over
// HTTP, ram-over-http.ts); tests plug in the software card directly. The procedures above do not
// know which one runs: a transport answers the responses of the commands it ran (it stops at the
// first failing status word, TS 102 226 §5.2.1) or a typed failure — it never throws for the
// card's or the network's reasons.

export interface Es5Response {
  readonly data: Uint8Array;
  /** Status word, e.g. 0x9000. */
  readonly sw: number;
}

export type Es5FailureCode =
  /** No answer within the transport's time (no PoR, HTTPS session never came). */
  | 'ES5_TIMEOUT'
  /** The card's PoR reported a security error (counter, CC, ciphering, TAR unknown). */
  | 'ES5_POR_ERROR'
  /** The SM-SR holds no usable ISD-R key set for this eUICC (or its counter is exhausted). */
  | 'ES5_NO_KEYSET'
  /** The message could not be sent (SMSC refused, link down). */
  | 'ES5_SEND_FAILED'
  /** The answer did not decode. */
  | 'ES5_BAD_RESPONSE';

export type Es5Outcome =
  | { readonly ok: true; readonly responses: readonly Es5Response[] }
  | { readonly ok: false; readonly code: Es5FailureCode; readonly message: string };

/**
 * Addressing convention shared with the SM-DP (ES3 SendData carries one ES8 unit): `targetAid` names
 * the security domain the data is for. GP C-APDUs for an ISD-P (INSTALL [for personalization], STORE
 * DATA 3A01/3A02 of key establishment) travel in a script to the ISD-R, which handles them for the
 * ISD-P; SCP03t TLVs (84/85/86, SGP.02 §4.1.3.3) go raw to the ISD-P itself (X-Admin-Targeted-
 * Application over HTTPS). To verify against SGP.02 §4.1.3 / Annex K.
 */
export interface Es5Transport {
  /** Run `commands` (C-APDUs, in order) on the security domain `targetAid` of the eUICC `eid`. */
  send(
    eid: string,
    targetAid: string,
    commands: readonly Uint8Array[],
    options?: Es5SendOptions,
  ): Promise<Es5Outcome>;
}

export interface Es5SendOptions {
  /**
   * The caller has more to send at once (ES3.SendData MoreToDo): HTTPS keeps its session open for it
   * (ram-over-http.ts); SMS ignores it.
   */
  readonly moreToDo?: boolean;
}

/** GP / ISO 7816-4: 90xx, 61xx (more data) and the warnings 62xx / 63xx complete a command. */
export const isCompleted = (sw: number): boolean => {
  const sw1 = sw >> 8;
  return sw1 === 0x90 || sw1 === 0x61 || sw1 === 0x62 || sw1 === 0x63;
};

export const ISD_R_AID = 'A0000005591010FFFFFFFF8900000100';

/** An SCP03t TLV (InitializeUpdate 84, ExternalAuthenticate 85, segment 86) rather than a C-APDU. */
export const isScp03tTlv = (bytes: Uint8Array | undefined): boolean =>
  bytes !== undefined && (bytes[0] === 0x84 || bytes[0] === 0x85 || bytes[0] === 0x86);
