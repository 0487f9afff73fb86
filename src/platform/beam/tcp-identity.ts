// The identity line Beam's TCP → TCP/TCPS entry point sends upstream before any byte of the
// device (SORACOM: developers.soracom.io/en/docs/beam/signature-verification, "TCP/TCPS endpoint";
// users.soracom.io/ja-jp/docs/beam/tcp-tcp). The line holds `name=value` pairs separated by one
// space, in the documented order imei, imsi, msisdn, simId, then timestamp=<ms>; with a signature
// the pairs are followed by `;signature=<hex> version=20150901`, where
//   signature = hex(SHA-256(psk + <the line up to the semicolon>))
// — a plain hash, not an HMAC, exactly as the HTTP entry point's version 20151001 is. SORACOM's
// test server (soracom/beamtest tcp/) checks it that way: psk `topsecret` and
// `imsi=440101234567890 timestamp=1608251959862` give 9b7c3587…a850b (the unit test's vector).
//
// The line ends with a single LF. A value the network did not report (the IMEI, the MSISDN of a
// SIM without one) is left out — of the line and so of the signature — rather than sent as a
// placeholder. Values are identifiers from the store; anything but printable ASCII without space,
// `;` or `=` would let a value forge a pair, so such a value refuses the line (the caller refuses the
// connection) instead of being sent.

import { createHash } from 'node:crypto';

/** The signature version SORACOM writes after the TCP signature (not the HTTP one, 20151001). */
export const TCP_SIGNATURE_VERSION = '20150901';

/** Which pairs go into the line: SORACOM's add*Header switches of the entry point's configuration. */
export interface TcpIdentityFlags {
  /** addEquipmentHeader */
  readonly imei: boolean;
  /** addSubscriberHeader */
  readonly imsi: boolean;
  /** addMsisdnHeader */
  readonly msisdn: boolean;
  /** addSimIdHeader */
  readonly simId: boolean;
}

export interface TcpIdentityValues {
  readonly imei: string | null;
  readonly imsi: string;
  readonly msisdn: string | null;
  readonly simId: string;
}

const SAFE_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]{1,64}$/;

/** Whether any pair is switched on: with none, SORACOM sends no first line at all. */
export const sendsIdentityLine = (flags: TcpIdentityFlags): boolean =>
  flags.imei || flags.imsi || flags.msisdn || flags.simId;

/**
 * The string before the semicolon: the pairs and the timestamp. Undefined when no pair is switched
 * on. Throws when a value could forge a pair (see the file comment).
 */
export function tcpStringToSign(
  values: TcpIdentityValues,
  flags: TcpIdentityFlags,
  timestampMs: number,
): string | undefined {
  if (!sendsIdentityLine(flags)) return undefined;
  const pairs: string[] = [];
  const add = (name: string, on: boolean, value: string | null) => {
    if (!on || value === null || value === '') return;
    if (!SAFE_VALUE.test(value))
      throw new Error(`the SIM's ${name} cannot be written into the identity line`);
    pairs.push(`${name}=${value}`);
  };
  add('imei', flags.imei, values.imei);
  add('imsi', flags.imsi, values.imsi);
  add('msisdn', flags.msisdn, values.msisdn);
  add('simId', flags.simId, values.simId);
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) throw new Error('timestamp out of range');
  pairs.push(`timestamp=${timestampMs}`);
  return pairs.join(' ');
}

/** hex(SHA-256(psk + stringToSign)) — SORACOM's TCP signature. */
export function tcpSignature(psk: string, stringToSign: string): string {
  return createHash('sha256').update(psk, 'utf8').update(stringToSign, 'utf8').digest('hex');
}

/**
 * The whole first line, LF included, or undefined when the configuration sends none. With `psk`
 * (the configuration has addSignature and a pre-shared key) the signature and version follow.
 */
export function tcpIdentityLine(
  values: TcpIdentityValues,
  flags: TcpIdentityFlags,
  timestampMs: number,
  psk?: string,
): string | undefined {
  const toSign = tcpStringToSign(values, flags, timestampMs);
  if (toSign === undefined) return undefined;
  if (psk === undefined) return `${toSign}\n`;
  return `${toSign};signature=${tcpSignature(psk, toSign)} version=${TCP_SIGNATURE_VERSION}\n`;
}
