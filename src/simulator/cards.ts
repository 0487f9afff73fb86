// The simulated fleet's SIM cards: software UICCs (src/card) built from the card vendor CSV the
// platform imports (`iccid,imsi,msisdn,ki,opc`, optional further columns such as `imei`), or newly
// made. Each card is driven through APDUs only (card/terminal.ts), as a modem drives its SIM.

import { randomInt } from 'node:crypto';
import { type CardFile, cardFromFile, csvLine, newCardFile } from '../card/card-file.js';
import { Terminal } from '../card/terminal.js';
import type { Uicc } from '../card/uicc.js';
import { fromHex } from '../lib/hex.js';
import { imeiWithCheckDigit, isIccid, isImsi } from '../lib/identities.js';
import { decodeError, ok, type Result } from '../lib/result.js';

export interface SimulatedCard {
  readonly file: CardFile;
  /** Extra CSV columns that came with the card (e.g. `imei`). */
  readonly extra: Readonly<Record<string, string>>;
  readonly uicc: Uicc;
  readonly terminal: Terminal;
}

export function simulatedCard(file: CardFile, extra: Record<string, string> = {}): SimulatedCard {
  const uicc = cardFromFile(file);
  uicc.reset();
  return { file, extra, uicc, terminal: new Terminal((apdu) => uicc.transmit(apdu)) };
}

/** Parse the vendor CSV (header line required) into cards; errors name the line. */
export function cardsFromCsv(text: string): Result<SimulatedCard[]> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const header = lines
    .shift()
    ?.split(',')
    .map((h) => h.trim().toLowerCase());
  if (header === undefined || !['iccid', 'imsi', 'ki'].every((h) => header.includes(h)))
    return decodeError('SIM_CSV_HEADER', 'the CSV needs a header with at least iccid, imsi, ki and opc');
  const cards: SimulatedCard[] = [];
  for (const [n, line] of lines.entries()) {
    const cells = line.split(',').map((c) => c.trim());
    const row = Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
    const where = `line ${n + 2}`;
    const { iccid = '', imsi = '', msisdn = '', ki = '', opc = '', amf = '' } = row;
    if (!isIccid(iccid) || !isImsi(imsi)) return decodeError('SIM_CSV_ROW', `${where}: bad iccid or imsi`);
    const k = fromHex(ki);
    const o = fromHex(opc);
    if (k?.length !== 16 || o?.length !== 16)
      return decodeError('SIM_CSV_ROW', `${where}: ki and opc must be 32 hex digits`);
    const file = newCardFile({
      imsi,
      iccid,
      ki: k,
      opc: o,
      ...(msisdn === '' ? {} : { msisdn }),
      ...(/^[0-9a-f]{4}$/i.test(amf) ? { amf: amf.toLowerCase() } : {}),
    });
    const extra = Object.fromEntries(
      Object.entries(row).filter(([h]) => !['iccid', 'imsi', 'msisdn', 'ki', 'opc', 'amf'].includes(h)),
    );
    cards.push(simulatedCard(file, extra));
  }
  return ok(cards);
}

/** `count` new cards on the test PLMN 001/01 (TS 23.003), IMSIs from a random block. */
export function newCards(count: number, o: { imsiPrefix?: string } = {}): SimulatedCard[] {
  const prefix = o.imsiPrefix ?? `00101${String(randomInt(0, 10_000)).padStart(4, '0')}`;
  const width = 15 - prefix.length;
  return Array.from({ length: count }, (_, i) =>
    simulatedCard(newCardFile({ imsi: `${prefix}${String(i + 1).padStart(width, '0')}` })),
  );
}

/** The CSV the platform imports (POST /v1/sims/import): holds Ki and OPc, handle as a secret. */
export function importCsv(cards: readonly SimulatedCard[]): string {
  return `iccid,imsi,msisdn,ki,opc\n${cards.map((c) => csvLine(c.file)).join('\n')}\n`;
}

/** A Luhn-correct IMEI (TS 23.003 §6.2.1) from a TAC of the simulator's and a serial number. */
export function simulatedImei(serial: number, tac = '35840800'): string {
  return imeiWithCheckDigit(`${tac}${String(serial % 1_000_000).padStart(6, '0')}`);
}
