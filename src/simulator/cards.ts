// The simulated fleet's SIM cards: software UICCs (src/card) built from the card vendor CSV the
// platform imports (`iccid,imsi,msisdn,ki,opc`, optional further columns such as `imei`), or newly
// made. Each card is driven through APDUs only (card/terminal.ts), as a modem drives its SIM.
//
// Anti-theft cards (docs/anti-theft.md) carry an AES OTA key set and the anti-theft applet. In the
// vendor CSV they have the OTA columns `kic,kid,kvn,quarantine_imsi`, the same the platform's import
// provisions its side from: one key set, shared by the card and the platform.

import { randomBytes, randomInt } from 'node:crypto';
import { ANTI_THEFT_TAR } from '../card/applets/anti-theft/applet.js';
import {
  type AppletSection,
  type CardFile,
  cardFromFile,
  csvLine,
  keysOf,
  type NewCardOptions,
  newCardFile,
  type OtaSection,
  readCardFile,
} from '../card/card-file.js';
import { Terminal } from '../card/terminal.js';
import type { Uicc } from '../card/uicc.js';
import { fromHex, toHex } from '../lib/hex.js';
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

/**
 * Cards from card files (`simtrust card new`, `simtrust card new --euicc`): each file as it is on
 * disk, with its applets, OTA key sets and eUICC. The simulator reads the files and never writes them
 * back: a run changes its cards in memory only (a profile enabled during a run is gone at the next).
 * Errors name the file.
 */
export function cardsFromFiles(paths: readonly string[]): Result<SimulatedCard[]> {
  const cards: SimulatedCard[] = [];
  for (const path of paths) {
    const file = readCardFile(path);
    if (!file.ok) return decodeError(file.error.code, `${path}: ${file.error.message}`);
    cards.push(simulatedCard(file.value));
  }
  return ok(cards);
}

/** One subscription a card can attach with: the vendor CSV's profile columns. */
export interface CardProfile {
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn?: string;
  readonly ki: string;
  readonly opc: string;
}

/**
 * Every profile a card holds: its live one (the card file's top level) and, for an eUICC, each
 * profile stored in a disabled ISD-P — the subscriptions the platform must know for the device to
 * attach after a profile switch.
 */
export function profilesOf(f: CardFile): CardProfile[] {
  const live: CardProfile = {
    iccid: f.iccid,
    imsi: f.imsi,
    ...(f.msisdn === undefined ? {} : { msisdn: f.msisdn }),
    ki: f.ki,
    opc: toHex(keysOf(f).opc),
  };
  const stored = (f.euicc?.isdps ?? []).flatMap((i) => (i.profile === undefined ? [] : [i.profile]));
  return [
    live,
    ...stored.map((p) => ({
      iccid: p.iccid,
      imsi: p.imsi,
      ...(p.msisdn === undefined ? {} : { msisdn: p.msisdn }),
      ki: p.ki,
      opc: p.opc,
    })),
  ];
}

/** The anti-theft applet's settings a card is made with (applet install parameters). */
export interface AntiTheftSettings {
  /** Where the applet's alerts go: the platform's OTA number (otaSmppSourceAddr). */
  readonly alertDestination: string;
  /** Length of the learning period after the first boot, in seconds (default 3600). */
  readonly learningSeconds?: number;
}

/** The OTA columns of the vendor CSV, after the profile's. */
export const OTA_COLUMNS = ['kic', 'kid', 'kvn', 'quarantine_imsi'] as const;

/** The quarantine IMSI of a generated anti-theft card: the same digits on test PLMN 001/99. */
export const quarantineImsiOf = (imsi: string): string => `00199${imsi.slice(5)}`.slice(0, 15);

/**
 * Card options with an AES-128 OTA key set (KVN 1, random unless given) and the anti-theft applet
 * installed, its alerts secured by that key set.
 */
export function withAntiTheft(
  o: NewCardOptions,
  settings: AntiTheftSettings & {
    readonly quarantineImsi?: string;
    readonly kvn?: number;
    readonly kic?: Uint8Array;
    readonly kid?: Uint8Array;
  },
): NewCardOptions {
  const kvn = settings.kvn ?? 1;
  const ota: OtaSection = {
    keysets: [
      {
        kvn,
        kicAlgorithm: 'aes-cbc',
        kic: toHex(settings.kic ?? new Uint8Array(randomBytes(16))),
        kidAlgorithm: 'aes-cmac',
        kid: toHex(settings.kid ?? new Uint8Array(randomBytes(16))),
      },
    ],
  };
  const applet: AppletSection = {
    name: 'anti-theft',
    tar: ANTI_THEFT_TAR,
    reportKvn: kvn,
    parameters: {
      quarantineImsi: settings.quarantineImsi ?? quarantineImsiOf(o.imsi),
      alertDestination: settings.alertDestination,
      ...(settings.learningSeconds === undefined ? {} : { learningSeconds: settings.learningSeconds }),
    },
  };
  return { ...o, ota, applets: [applet] };
}

/** The card's OTA key set and quarantine IMSI as the CSV's OTA columns (empty for other cards). */
export function otaColumns(f: CardFile): string[] {
  const applet = f.applets?.find((a) => a.name === 'anti-theft');
  const keyset = f.ota?.keysets.find((k) => k.kvn === (applet?.reportKvn ?? f.ota?.keysets[0]?.kvn));
  if (keyset === undefined || keyset.kicAlgorithm !== 'aes-cbc' || keyset.kidAlgorithm !== 'aes-cmac')
    return ['', '', '', ''];
  const quarantine = applet?.parameters.quarantineImsi;
  return [keyset.kic, keyset.kid, String(keyset.kvn), typeof quarantine === 'string' ? quarantine : ''];
}

/** The vendor CSV header for these cards: with the OTA columns when any card has OTA keys. */
export function vendorCsvHeader(files: readonly CardFile[], extra: readonly string[] = []): string {
  const ota = files.some((f) => f.ota !== undefined);
  return ['iccid', 'imsi', 'msisdn', 'ki', 'opc', ...(ota ? OTA_COLUMNS : []), ...extra].join(',');
}

/** One card as a line under vendorCsvHeader (`ota`: the header has the OTA columns). */
export const vendorCsvLine = (f: CardFile, ota: boolean, extra: readonly string[] = []): string =>
  [csvLine(f), ...(ota ? otaColumns(f) : []), ...extra].join(',');

/**
 * Parse the vendor CSV (header line required) into cards; errors name the line. Rows with OTA
 * columns make anti-theft cards, with `antiTheft`'s settings (required then).
 */
export function cardsFromCsv(text: string, antiTheft?: AntiTheftSettings): Result<SimulatedCard[]> {
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
    const options: NewCardOptions = {
      imsi,
      iccid,
      ki: k,
      opc: o,
      ...(msisdn === '' ? {} : { msisdn }),
      ...(/^[0-9a-f]{4}$/i.test(amf) ? { amf: amf.toLowerCase() } : {}),
    };
    const { kic = '', kid = '', kvn = '', quarantine_imsi: quarantine = '' } = row;
    let file: CardFile;
    if (kic === '' && kid === '' && quarantine === '') file = newCardFile(options);
    else {
      const kicBytes = fromHex(kic);
      const kidBytes = fromHex(kid);
      const version = kvn === '' ? 1 : Number(kvn);
      if (kicBytes?.length !== 16 || kidBytes?.length !== 16)
        return decodeError('SIM_CSV_ROW', `${where}: kic and kid must be 32 hex digits (AES-128)`);
      if (!Number.isInteger(version) || version < 1 || version > 15)
        return decodeError('SIM_CSV_ROW', `${where}: kvn must be 1 to 15`);
      if (!isImsi(quarantine))
        return decodeError('SIM_CSV_ROW', `${where}: an anti-theft card needs its quarantine_imsi`);
      if (antiTheft === undefined)
        return decodeError(
          'SIM_CSV_ROW',
          `${where}: an anti-theft card needs the platform's alert number (the OTA SMSC settings)`,
        );
      file = newCardFile(
        withAntiTheft(options, {
          ...antiTheft,
          quarantineImsi: quarantine,
          kvn: version,
          kic: kicBytes,
          kid: kidBytes,
        }),
      );
    }
    const extra = Object.fromEntries(
      Object.entries(row).filter(
        ([h]) => !['iccid', 'imsi', 'msisdn', 'ki', 'opc', 'amf', ...OTA_COLUMNS].includes(h),
      ),
    );
    cards.push(simulatedCard(file, extra));
  }
  return ok(cards);
}

/**
 * `count` new cards on the test PLMN 001/01 (TS 23.003), IMSIs from a random block, each with an
 * MSISDN (SMS reach it). The first `antiTheft.count` carry the anti-theft applet and an OTA key set.
 */
export function newCards(
  count: number,
  o: { imsiPrefix?: string; antiTheft?: AntiTheftSettings & { readonly count: number } } = {},
): SimulatedCard[] {
  const prefix = o.imsiPrefix ?? `00101${String(randomInt(0, 10_000)).padStart(4, '0')}`;
  const width = 15 - prefix.length;
  return Array.from({ length: count }, (_, i) => {
    const imsi = `${prefix}${String(i + 1).padStart(width, '0')}`;
    const options: NewCardOptions = { imsi, msisdn: `8199${imsi.slice(-11)}` };
    const at = o.antiTheft;
    return simulatedCard(
      newCardFile(at !== undefined && i < at.count ? withAntiTheft(options, at) : options),
    );
  });
}

/**
 * The CSV the platform imports (POST /v1/sims/import), with the OTA columns when a card has OTA keys:
 * holds Ki, OPc, KIc and KID, handle as a secret.
 */
export function importCsv(cards: readonly SimulatedCard[]): string {
  const files = cards.map((c) => c.file);
  const ota = files.some((f) => f.ota !== undefined);
  // An eUICC's stored profiles follow its live one, each a SIM of its own (no OTA columns: the ISD-R's
  // keys are the SM-SR's, registered with the EIS).
  const stored = files.flatMap((f) =>
    profilesOf(f)
      .slice(1)
      .map((p) =>
        [p.iccid, p.imsi, p.msisdn ?? '', p.ki, p.opc, ...(ota ? OTA_COLUMNS.map(() => '') : [])].join(','),
      ),
  );
  const lines = [...files.map((f) => vendorCsvLine(f, ota)), ...stored];
  return `${vendorCsvHeader(files)}\n${lines.join('\n')}\n`;
}

/** The card's Ki and OPc as hex (for a platform test that registers the SIM itself). */
export const profileKeysOf = (f: CardFile): { ki: string; opc: string } => {
  const k = keysOf(f);
  return { ki: toHex(k.ki), opc: toHex(k.opc) };
};

/** A Luhn-correct IMEI (TS 23.003 §6.2.1) from a TAC of the simulator's and a serial number. */
export function simulatedImei(serial: number, tac = '35840800'): string {
  return imeiWithCheckDigit(`${tac}${String(serial % 1_000_000).padStart(6, '0')}`);
}
