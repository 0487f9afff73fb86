// A card with known keys for tests: Milenage test set 20 (hostapd's default AKA subscriber).

import { type CardFile, cardFromFile, newCardFile } from '../../src/card/card-file.js';
import { parseResponseApdu } from '../../src/card/iso-7816-4.js';
import { formatResponse } from '../../src/card/terminal.js';
import type { Uicc } from '../../src/card/uicc.js';
import { hex } from '../../src/lib/hex.js';

export const KI = '90dca4eda45b53cf0f12d7c9c3bc6a89';
export const OPC = 'cb9cccc4b9258e6dca4760379fb82581';
export const IMSI = '001010000000001';
export const ICCID = '8949440000001155314';
export const PIN1 = '1234';
export const PUK1 = '12345678';
export const ADM1 = '87654321';

export const fixtureOptions = {
  imsi: IMSI,
  iccid: ICCID,
  msisdn: '817000000001',
  ki: hex(KI),
  opc: hex(OPC),
  pin1: PIN1,
  puk1: PUK1,
  adm1: ADM1,
} as const;

export function fixtureFile(overrides: { pin1Enabled?: boolean } = {}): CardFile {
  return newCardFile({ ...fixtureOptions, pin1Enabled: overrides.pin1Enabled ?? true });
}

export const fixtureCard = (overrides: { pin1Enabled?: boolean } = {}): Uicc =>
  cardFromFile(fixtureFile(overrides));

/** Send hex, get "<DATA> <SW>" (upper case) as `simtrust card apdu` prints it. */
export function sendHex(card: { transmit(a: Uint8Array): Uint8Array }, apdu: string): string {
  const r = parseResponseApdu(card.transmit(hex(apdu)));
  if (!r.ok) throw new Error('card returned fewer than 2 bytes');
  return formatResponse(r.value);
}

/** A PIN as VERIFY data: ASCII digits padded with FF to 8 bytes. */
export const pinHex = (pin: string): string =>
  Buffer.from(pin, 'ascii').toString('hex').toUpperCase().padEnd(16, 'F');
