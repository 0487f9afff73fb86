// A card with the anti-theft applet and an AES OTA key set, a modem around it, and the platform-side
// helpers (src/lib, the same the platform uses) to secure commands and open PoRs and alerts.

import { ANTI_THEFT_TAR } from '../../../src/card/applets/anti-theft/applet.js';
import {
  type CardFile,
  cardFromFile,
  type NewCardOptions,
  newCardFile,
  withState,
} from '../../../src/card/card-file.js';
import { Terminal } from '../../../src/card/terminal.js';
import { type ServingCell, ToolkitModem } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import type { Uicc } from '../../../src/card/uicc.js';
import type { OtaKeySet } from '../../../src/crypto/ts-102-225-scp80.js';
import { type AntiTheftState, StateMemoryTlv } from '../../../src/lib/anti-theft-encoding.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import {
  decodeSmsSubmit,
  decodeUserData,
  encodeSmsDeliver,
  encodeUserData,
  IEI,
  internationalAddress,
  reassembleSecuredPacket,
  segmentSecuredPacket,
  simDataDownload,
  type UserData,
} from '../../../src/lib/ts-23-040-sms-tpdu.js';
import {
  decodeSpi,
  openResponsePacket,
  type Spi,
  secureCommandPacket,
} from '../../../src/lib/ts-102-225-secured-packet.js';
import { fixtureOptions } from '../fixture.js';

export const KIC = '000102030405060708090a0b0c0d0e0f';
export const KID = '101112131415161718191a1b1c1d1e1f';
export const KEYS: OtaKeySet = {
  kic: { algorithm: 'aes-cbc', key: hex(KIC) },
  kid: { algorithm: 'aes-cmac', key: hex(KID) },
};
export const KIC_BYTE = 0x12; // KVN 1, AES-CBC
export const KID_BYTE = 0x12; // KVN 1, AES-CMAC
export const TAR = hex(ANTI_THEFT_TAR);
export const RFM_TAR = hex('B00000');
export const QUARANTINE_IMSI = '001019999000001';
export const PLATFORM = '8170000999';
export const IMEI = '358408000000019';
export const OTHER_IMEI = '358408000000027';

/** SPI 16 39: CC, ciphered, counter must be higher; PoR CC + ciphered by SMS-SUBMIT. */
export const SPI_SUBMIT = spi('1639');
/** SPI 16 19: the same, PoR in the envelope response (SMS-DELIVER-REPORT). */
export const SPI_REPORT = spi('1619');

function spi(h: string): Spi {
  const s = decodeSpi(hex(h));
  if (!s.ok) throw new Error(h);
  return s.value;
}

export const cell = (cellIdentity: number, o: Partial<ServingCell> = {}): ServingCell => ({
  mcc: '440',
  mnc: '10',
  areaCode: 0x1a2b,
  cellIdentity: `${cellIdentity.toString(16).padStart(7, '0')}F`.toUpperCase(),
  accessTechnology: 'e_utran',
  ...o,
});

/**
 * The fixture card with the anti-theft applet and OTA key set 1 (KIC/KID). `card` replaces the card's
 * identity (IMSI, ICCID, MSISDN, Ki, OPc) when several cards are needed at once.
 */
export function antiTheftCardFile(
  parameters: Record<string, unknown> = {},
  card: Partial<Pick<NewCardOptions, 'imsi' | 'iccid' | 'msisdn' | 'ki' | 'opc'>> = {},
): CardFile {
  return newCardFile({
    ...fixtureOptions,
    ...card,
    pin1Enabled: false,
    ota: {
      keysets: [{ kvn: 1, kicAlgorithm: 'aes-cbc', kic: KIC, kidAlgorithm: 'aes-cmac', kid: KID }],
      rfmTar: 'B00000',
    },
    applets: [
      {
        name: 'anti-theft',
        tar: ANTI_THEFT_TAR,
        reportKvn: 1,
        parameters: { quarantineImsi: QUARANTINE_IMSI, alertDestination: PLATFORM, ...parameters },
      },
    ],
  });
}

export interface Device {
  readonly card: Uicc;
  readonly modem: ToolkitModem;
  readonly sms: Uint8Array[];
  readonly refreshes: { qualifier: number; imsi: string | undefined }[];
  /** Swap the device (same card, another IMEI/cell): a new modem around the same card. */
  moveCardTo(imei: string, servingCell: ServingCell): Device;
}

export function device(card: Uicc, imei = IMEI, servingCell = cell(1)): Device {
  const sms: Uint8Array[] = [];
  const refreshes: { qualifier: number; imsi: string | undefined }[] = [];
  card.reset();
  const modem = new ToolkitModem(new Terminal((apdu) => card.transmit(apdu)), {
    imei,
    cell: servingCell,
    reset: () => card.reset(),
    onSms: (tpdu) => sms.push(tpdu),
    onRefresh: (e) => refreshes.push({ qualifier: e.qualifier, imsi: e.imsi }),
  });
  return { card, modem, sms, refreshes, moveCardTo: (i, c) => device(card, i, c) };
}

export const newCard = (parameters: Record<string, unknown> = {}): Uicc =>
  cardFromFile(antiTheftCardFile(parameters));

/** The applet's memory, decoded. */
export function appletState(card: Uicc): AntiTheftState {
  const bytes = card.snapshot().toolkit?.appletData.get('anti-theft');
  if (bytes === undefined) throw new Error('no applet memory');
  const s = StateMemoryTlv.decode(bytes);
  if (!s.ok) throw new Error(s.error.message);
  return s.value;
}

/** The whole persistent state as one comparable string (files, PINs, SQN, toolkit). */
export function persistent(card: Uicc, file: CardFile = antiTheftCardFile()): string {
  const f = withState(file, card);
  return JSON.stringify({ files: f.files, sqn: f.sqn, retries: f.retries, toolkit: f.toolkit });
}

const SCTS = hex('62011211000000');

export interface CommandOptions {
  readonly tar?: Uint8Array;
  readonly spi?: Spi;
  readonly keys?: OtaKeySet;
  readonly kic?: number;
  readonly kid?: number;
  readonly reference?: number;
  /** Flip the last bit of the secured packet (its ciphered tail): the CC no longer verifies. */
  readonly corrupt?: boolean;
}

/** Platform side: secure `data` for `tar` as the user data of one SMS or more (UDH 70, or concatenated). */
export function commandUserData(data: Uint8Array, counter: number, o: CommandOptions = {}): UserData[] {
  const packet = secureCommandPacket({
    spi: o.spi ?? SPI_SUBMIT,
    kic: o.kic ?? KIC_BYTE,
    kid: o.kid ?? KID_BYTE,
    tar: o.tar ?? TAR,
    counter,
    keys: o.keys ?? KEYS,
    data,
  });
  if (!packet.ok) throw new Error(packet.error.message);
  const bytes = packet.value.slice();
  if (o.corrupt) bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
  const segments = segmentSecuredPacket(bytes, IEI.COMMAND_PACKET, o.reference ?? 7);
  if (!segments.ok) throw new Error(segments.error.message);
  return segments.value;
}

/** Platform side: secure `data` for `tar` and wrap it in SMS-DELIVER TPDUs (several when long). */
export function commandSms(data: Uint8Array, counter: number, o: CommandOptions = {}): Uint8Array[] {
  return commandUserData(data, counter, o).map((userData) => simDataDeliver(userData));
}

/** SIM data as the network hands it to the card: an SMS-DELIVER (SIM data download) from `from`. */
export function simDataDeliver(userData: UserData, from: string = PLATFORM): Uint8Array {
  const tpdu = encodeSmsDeliver(
    simDataDownload({
      originatingAddress: internationalAddress(from),
      serviceCentreTimeStamp: SCTS,
      userData,
    }),
  );
  if (!tpdu.ok) throw new Error(tpdu.error.message);
  return tpdu.value;
}

/** Platform side: the secured packet (and the UDH it came with) carried by SMS-SUBMITs from the card. */
export function packetOfSubmits(tpdus: readonly Uint8Array[]): {
  packet: Uint8Array;
  udh: Uint8Array;
  destination: string;
} {
  const uds: UserData[] = [];
  let destination = '';
  for (const t of tpdus) {
    const s = decodeSmsSubmit(t);
    if (!s.ok) throw new Error(s.error.message);
    if (s.value.destinationAddress.kind === 'digits') destination = s.value.destinationAddress.digits;
    uds.push(s.value.userData);
  }
  const r = reassembleSecuredPacket(uds);
  if (!r.ok) throw new Error(r.error.message);
  const first = uds[0] as UserData;
  const udh =
    uds.length === 1
      ? encodeUserData({ header: first.header ?? [], body: new Uint8Array(0) })
      : Uint8Array.of(0x02, 0x71, 0x00);
  return { packet: r.value.packet, udh, destination };
}

/** Platform side: open a PoR / report secured with CC + ciphering by key set 1. */
export function openSecured(packet: Uint8Array, udh: Uint8Array = Uint8Array.of(0x02, 0x71, 0x00)) {
  const opened = openResponsePacket(packet, {
    integrity: 'cc',
    ciphered: true,
    keys: KEYS,
    kic: KIC_BYTE,
    kid: KID_BYTE,
    udh,
  });
  if (!opened.ok) throw new Error(`${opened.error.code}: ${opened.error.message}`);
  return opened.value;
}

/** The PoR returned in the envelope response (UDH 02 71 00 ‖ packet). */
export function packetOfReport(data: Uint8Array): { packet: Uint8Array; udh: Uint8Array } {
  const ud = decodeUserData(data, true);
  if (!ud.ok) throw new Error(ud.error.message);
  return { packet: ud.value.body, udh: data.subarray(0, 1 + (data[0] as number)) };
}

export { toHex };
