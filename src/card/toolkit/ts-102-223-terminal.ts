// The terminal's side of the card application toolkit (TS 102 223 §5–§7, TS 31.111): what a modem does
// with a proactive SIM, using nothing but APDUs. At boot it sends TERMINAL PROFILE and serves the
// proactive loop ('91XX' → FETCH → act → TERMINAL RESPONSE, until '9000'); it answers PROVIDE LOCAL
// INFORMATION with its IMEI and serving cell, keeps the event list from SET UP EVENT LIST and sends
// location status events when its cell or service changes, runs the card's timers on a clock the
// owner advances, delivers SMS-PP to the card, hands the card's SMS-SUBMITs to a callback, and on
// REFRESH re-reads EF.IMSI and tells its owner to attach again.

import { concatBytes, encodeBerTlv } from '../../lib/ber-tlv.js';
import { decodeComprehensionTlvList, encodeComprehensionTlv } from '../../lib/comprehension-tlv.js';
import { decodeError, ok, type Result } from '../../lib/result.js';
import {
  ACCESS_TECHNOLOGY,
  FileListTlv,
  ImeiTlv,
  type LocationInformation,
  LocationInformationTlv,
  TextStringTlv,
  TimerValueTlv,
} from '../../lib/ts-102-223-tlv.js';
import { encodeCommandApdu, swHex } from '../iso-7816-4.js';
import type { Terminal } from '../terminal.js';
import { SW } from '../ts-102-221.js';
import { type BipOptions, BipRelay } from './ts-102-223-bip-terminal.js';
import {
  EVENT_CODE,
  GENERAL_RESULT,
  PLI,
  PRO_CMD,
  type ProfileFacility,
  profileWith,
  REFRESH,
  TERMINAL_UNABLE_CAUSE,
  TIMER_OPERATION,
} from './ts-102-223-constants.js';

export interface ServingCell extends LocationInformation {
  readonly accessTechnology: keyof typeof ACCESS_TECHNOLOGY;
}

export type ServiceState = 'normal_service' | 'limited_service' | 'no_service';

/** The facilities this terminal implements, announced in its TERMINAL PROFILE. */
export const MODEM_FACILITIES: readonly ProfileFacility[] = [
  'PROFILE_DOWNLOAD',
  'SMS_PP_DATA_DOWNLOAD',
  'TIMER_EXPIRATION',
  'DISPLAY_TEXT',
  'REFRESH',
  'SEND_SHORT_MESSAGE',
  'PROVIDE_LOCAL_INFORMATION',
  'SET_UP_EVENT_LIST',
  'EVENT_LOCATION_STATUS',
  'TIMER_MANAGEMENT_START_STOP',
  'TIMER_MANAGEMENT_GET_VALUE',
  'PLI_ACCESS_TECHNOLOGY',
];

export interface ModemOptions {
  readonly imei: string;
  readonly cell: ServingCell;
  readonly service?: ServiceState;
  /** TERMINAL PROFILE bytes (default: MODEM_FACILITIES). */
  readonly profile?: Uint8Array;
  /** Cold reset of the card (REFRESH UICC reset); the modem boots again afterwards. */
  readonly reset?: () => void;
  /** The card sent an SMS (SEND SHORT MESSAGE): the SMS-SUBMIT TPDU. */
  readonly onSms?: (tpdu: Uint8Array) => void;
  /** The card asked for REFRESH: EF.IMSI was re-read (`imsi`); the owner attaches again. */
  readonly onRefresh?: (event: { qualifier: number; files: string[]; imsi: string | undefined }) => void;
  readonly onDisplayText?: (text: string) => void;
  /**
   * How many of the latest proactive exchanges `log` keeps (default MODEM_LOG_SIZE; 0 keeps none).
   * A simulated device runs for days: an unbounded record of every exchange would only grow.
   */
  readonly logSize?: number;
  /** Bearer Independent Protocol: the modem relays the card's TCP channel (ts-102-223-bip-terminal.ts). */
  readonly bip?: BipOptions;
}

/** Facilities a modem with `bip` adds to its TERMINAL PROFILE. */
export const BIP_FACILITIES: readonly ProfileFacility[] = [
  'EVENT_DATA_AVAILABLE',
  'EVENT_CHANNEL_STATUS',
  'OPEN_CHANNEL',
  'CLOSE_CHANNEL',
  'RECEIVE_DATA',
  'SEND_DATA',
  'GET_CHANNEL_STATUS',
  'TCP_CLIENT_REMOTE',
];

function bipProfile(): Uint8Array {
  const profile = profileWith([...MODEM_FACILITIES, ...BIP_FACILITIES], 17);
  // Byte 13 b8..b6: number of channels supported (one).
  profile[12] = (profile[12] as number) | (1 << 5);
  return profile;
}

/** One exchange of the proactive loop, for tests and logs. */
export interface ProactiveExchange {
  readonly typeOfCommand: number;
  readonly qualifier: number;
  readonly command: Uint8Array;
  readonly response: Uint8Array | undefined;
}

const MAX_LOOP = 64;
/** The exchanges `ToolkitModem.log` keeps by default: a few boots' worth, enough for any test to read. */
export const MODEM_LOG_SIZE = 64;

export class ToolkitModem {
  readonly #terminal: Terminal;
  readonly #o: ModemOptions;
  #cell: ServingCell;
  #service: ServiceState;
  #events = new Set<number>();
  /** Timer id → seconds left. */
  #timers = new Map<number, number>();
  #imsi: string | undefined;
  #registeredAgain = false;
  /** The service state last reported to the card since power on (undefined: none yet). */
  #reported: ServiceState | undefined;
  /** The latest proactive exchanges, oldest first, at most `logSize` of them (tests read it). */
  readonly log: ProactiveExchange[] = [];
  readonly #logSize: number;
  readonly #bip: BipRelay | undefined;

  constructor(terminal: Terminal, options: ModemOptions) {
    this.#terminal = terminal;
    this.#o = options;
    this.#cell = options.cell;
    this.#service = options.service ?? 'normal_service';
    this.#logSize = Math.max(0, Math.floor(options.logSize ?? MODEM_LOG_SIZE));
    this.#bip =
      options.bip === undefined
        ? undefined
        : new BipRelay(
            {
              envelope: (bytes) => {
                this.#envelope(bytes);
              },
              // TS 102 221 §11.1.2 STATUS, no data returned: '91XX' if the card has something to say.
              poll: () => {
                const r = this.#terminal.send(encodeCommandApdu({ cla: 0x80, ins: 0xf2, p1: 0, p2: 0x0c }));
                this.#loop(r.sw);
              },
              eventListHas: (code) => this.#events.has(code),
            },
            options.bip,
          );
  }

  /** The BIP relay, when the modem has one (tests look at whether a channel is open). */
  get bip(): BipRelay | undefined {
    return this.#bip;
  }

  get imsi(): string | undefined {
    return this.#imsi;
  }

  get cell(): ServingCell {
    return this.#cell;
  }

  get eventList(): readonly number[] {
    return [...this.#events];
  }

  /** Power on: TERMINAL PROFILE, the proactive loop, then select the USIM and read EF.IMSI. */
  boot(): Result<string> {
    this.#events = new Set();
    this.#timers = new Map();
    this.#reported = undefined;
    const profile =
      this.#o.profile ?? (this.#bip === undefined ? profileWith(MODEM_FACILITIES) : bipProfile());
    this.#bip?.shutdown();
    const r = this.#terminal.send(encodeCommandApdu({ cla: 0x80, ins: 0x10, p1: 0, p2: 0, data: profile }));
    const looped = this.#loop(r.sw);
    if (!looped.ok) return looped;
    return this.#readImsi();
  }

  /** The device moved (cell reselection, handover) or its service changed: location status event. */
  moveTo(cell: ServingCell, service: ServiceState = 'normal_service'): Result<true> {
    const changed =
      service !== this.#service ||
      !(
        cell.mcc === this.#cell.mcc &&
        cell.mnc === this.#cell.mnc &&
        cell.areaCode === this.#cell.areaCode &&
        cell.cellIdentity === this.#cell.cellIdentity
      );
    this.#cell = cell;
    this.#service = service;
    if (!changed) return ok(true);
    return this.#locationEvent();
  }

  /**
   * The network answered the terminal's registration (attach / location update, TS 24.301 §5.5.1):
   * accepted (normal service) or refused (limited service: the network is there, the identity is not
   * let in; no service: no network). The terminal reports its location status (TS 102 223 §4.7,
   * §7.5.2) when it differs from what it last told the card since power on — after a REFRESH (UICC
   * reset) the card has been told nothing yet, so the first registration result always goes out.
   * This is how an eUICC learns that a newly enabled profile failed to attach (SGP.02 §3.2.2).
   */
  registered(service: ServiceState): Result<true> {
    this.#service = service;
    if (this.#reported === service) return ok(true);
    return this.#locationEvent();
  }

  /** EVENT DOWNLOAD location status (TS 102 223 §7.5.2), when the card asked for it. */
  #locationEvent(): Result<true> {
    if (!this.#events.has(EVENT_CODE.LOCATION_STATUS)) return ok(true);
    const service = this.#service;
    this.#reported = service;
    const cell = this.#cell;
    const objects = [
      encodeComprehensionTlv(0x19, true, Uint8Array.of(EVENT_CODE.LOCATION_STATUS)),
      encodeComprehensionTlv(0x02, true, Uint8Array.of(0x82, 0x81)),
      encodeComprehensionTlv(
        0x1b,
        true,
        Uint8Array.of(service === 'normal_service' ? 0 : service === 'limited_service' ? 1 : 2),
      ),
      ...(service === 'normal_service' ? [LocationInformationTlv.encode(cell, false)] : []),
    ];
    return this.#envelope(encodeBerTlv(0xd6, concatBytes(objects))).ok
      ? ok(true)
      : decodeError('MODEM_ENVELOPE', 'location status refused');
  }

  /**
   * SMS-PP download (TS 31.111 §7.1.1): an SMS-DELIVER for the card. Returns the data the card gave
   * for the RP-ACK (a PoR in the DELIVER-REPORT), if any.
   */
  deliverSms(tpdu: Uint8Array, smsc: Uint8Array = Uint8Array.of(0x91, 0x11, 0x11)): Result<Uint8Array> {
    const objects = [
      encodeComprehensionTlv(0x02, true, Uint8Array.of(0x83, 0x81)),
      encodeComprehensionTlv(0x06, false, smsc),
      encodeComprehensionTlv(0x0b, true, tpdu),
    ];
    return this.#envelope(encodeBerTlv(0xd1, concatBytes(objects)));
  }

  /** Let `seconds` pass on the terminal's clock: expired card timers are sent as TIMER EXPIRATION. */
  advance(seconds: number): Result<true> {
    for (const [id, left] of [...this.#timers]) {
      const remaining = left - seconds;
      if (remaining > 0) {
        this.#timers.set(id, remaining);
        continue;
      }
      this.#timers.delete(id);
      const objects = [
        encodeComprehensionTlv(0x02, true, Uint8Array.of(0x82, 0x81)),
        encodeComprehensionTlv(0x24, true, Uint8Array.of(id)),
        encodeComprehensionTlv(0x25, true, encodeTimerValue(0)),
      ];
      const r = this.#envelope(encodeBerTlv(0xd7, concatBytes(objects)));
      if (!r.ok) return r;
    }
    return ok(true);
  }

  /** Timers the card is running (id → seconds left). */
  get timers(): ReadonlyMap<number, number> {
    return this.#timers;
  }

  #envelope(data: Uint8Array): Result<Uint8Array> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = this.#terminal.send(encodeCommandApdu({ cla: 0x80, ins: 0xc2, p1: 0, p2: 0, data, le: 0 }));
      if (r.sw === SW.TOOLKIT_BUSY) {
        // The card is in a proactive session: finish it, then try once more.
        const looped = this.#loop(SW.PROACTIVE_COMMAND_PENDING);
        if (!looped.ok) return looped;
        continue;
      }
      const looped = this.#loop(r.sw);
      if (!looped.ok) return looped;
      if (r.sw !== SW.OK && (r.sw & 0xff00) !== SW.PROACTIVE_COMMAND_PENDING)
        return decodeError('MODEM_ENVELOPE', `ENVELOPE answered ${swHex(r.sw)}`);
      return ok(r.data);
    }
    return decodeError('MODEM_ENVELOPE', 'the toolkit stayed busy');
  }

  /** Keeps the newest `logSize` exchanges: the oldest goes as a new one comes. */
  #record(exchange: ProactiveExchange): void {
    if (this.#logSize === 0) return;
    this.log.push(exchange);
    if (this.log.length > this.#logSize) this.log.splice(0, this.log.length - this.#logSize);
  }

  /** '91XX': FETCH, act, TERMINAL RESPONSE, until the card has nothing more to say. */
  #loop(sw: number): Result<true> {
    let status = sw;
    for (let i = 0; (status & 0xff00) === SW.PROACTIVE_COMMAND_PENDING && i < MAX_LOOP; i++) {
      const fetched = this.#terminal.send(
        encodeCommandApdu({ cla: 0x80, ins: 0x12, p1: 0, p2: 0, le: status & 0xff }),
      );
      if (fetched.sw !== SW.OK && (fetched.sw & 0xff00) !== SW.PROACTIVE_COMMAND_PENDING) return ok(true);
      const handled = this.#handle(fetched.data);
      if (handled === 'reset') return this.#afterReset();
      const tr = this.#terminal.send(
        encodeCommandApdu({ cla: 0x80, ins: 0x14, p1: 0, p2: 0, data: handled.response }),
      );
      this.#record({ ...handled.exchange, response: handled.response });
      status = tr.sw;
    }
    if (this.#registeredAgain && (status & 0xff00) !== SW.PROACTIVE_COMMAND_PENDING) {
      this.#registeredAgain = false;
      return this.#locationEvent();
    }
    return ok(true);
  }

  #afterReset(): Result<true> {
    this.#o.reset?.();
    const booted = this.boot();
    if (!booted.ok) return booted;
    this.#o.onRefresh?.({ qualifier: REFRESH.UICC_RESET, files: [], imsi: this.#imsi });
    return ok(true);
  }

  #handle(
    command: Uint8Array,
  ): { response: Uint8Array; exchange: Omit<ProactiveExchange, 'response'> } | 'reset' {
    const body = command[0] === 0xd0 ? command.subarray(command[1] === 0x81 ? 3 : 2) : new Uint8Array(0);
    const list = decodeComprehensionTlvList(body);
    const tlvs = new Map<number, Uint8Array>();
    if (list.ok) for (const t of list.value) if (!tlvs.has(t.tag)) tlvs.set(t.tag, t.value);
    const details = tlvs.get(0x01) ?? Uint8Array.of(0, 0, 0);
    const type = details[1] ?? 0;
    const qualifier = details[2] ?? 0;
    const exchange = { typeOfCommand: type, qualifier, command: command.slice() };
    const answer = (result: number[], ...objects: Uint8Array[]) => ({
      exchange,
      response: concatBytes([
        encodeComprehensionTlv(0x01, true, details),
        encodeComprehensionTlv(0x02, true, Uint8Array.of(0x82, 0x81)),
        encodeComprehensionTlv(0x03, true, Uint8Array.from(result)),
        ...objects,
      ]),
    });
    switch (type) {
      case PRO_CMD.PROVIDE_LOCAL_INFORMATION:
        if (qualifier === PLI.IMEI) return answer([GENERAL_RESULT.OK], ImeiTlv.encode(this.#o.imei));
        if (qualifier === PLI.LOCATION_INFORMATION) {
          if (this.#service !== 'normal_service')
            return answer([GENERAL_RESULT.TERMINAL_UNABLE, TERMINAL_UNABLE_CAUSE.NO_SERVICE]);
          return answer([GENERAL_RESULT.OK], LocationInformationTlv.encode(this.#cell));
        }
        if (qualifier === PLI.ACCESS_TECHNOLOGY)
          return answer(
            [GENERAL_RESULT.OK],
            encodeComprehensionTlv(0x3f, true, Uint8Array.of(ACCESS_TECHNOLOGY[this.#cell.accessTechnology])),
          );
        return answer([GENERAL_RESULT.BEYOND_TERMINAL_CAPABILITIES]);
      case PRO_CMD.SET_UP_EVENT_LIST:
        this.#events = new Set(tlvs.get(0x19) ?? []);
        return answer([GENERAL_RESULT.OK]);
      case PRO_CMD.SEND_SHORT_MESSAGE: {
        const tpdu = tlvs.get(0x0b);
        if (tpdu === undefined) return answer([GENERAL_RESULT.REQUIRED_VALUES_MISSING]);
        if (this.#service === 'no_service')
          return answer([GENERAL_RESULT.TERMINAL_UNABLE, TERMINAL_UNABLE_CAUSE.NO_SERVICE]);
        this.#o.onSms?.(tpdu.slice());
        return answer([GENERAL_RESULT.OK]);
      }
      case PRO_CMD.REFRESH: {
        if (qualifier === REFRESH.UICC_RESET) return 'reset';
        const files = tlvs.get(0x12);
        const list = files === undefined ? undefined : FileListTlv.codec.decode(files);
        if (qualifier === REFRESH.FCN && !list?.ok) return answer([GENERAL_RESULT.REQUIRED_VALUES_MISSING]);
        const read = this.#readImsi();
        this.#o.onRefresh?.({
          qualifier,
          files: list?.ok ? list.value : [],
          imsi: read.ok ? read.value : undefined,
        });
        // NAA initialisation: the terminal registers again, and reports its location status afresh.
        if (qualifier !== REFRESH.FCN) this.#registeredAgain = true;
        return answer([GENERAL_RESULT.OK]);
      }
      case PRO_CMD.TIMER_MANAGEMENT: {
        const id = tlvs.get(0x24)?.[0];
        if (id === undefined || id < 1 || id > 8) return answer([GENERAL_RESULT.REQUIRED_VALUES_MISSING]);
        const operation = qualifier & 0x03;
        if (operation === TIMER_OPERATION.START) {
          const value = tlvs.get(0x25);
          const seconds = value === undefined ? undefined : decodeTimerValue(value);
          if (seconds === undefined) return answer([GENERAL_RESULT.DATA_NOT_UNDERSTOOD]);
          this.#timers.set(id, seconds);
          return answer([GENERAL_RESULT.OK], encodeComprehensionTlv(0x24, true, Uint8Array.of(id)));
        }
        const left = this.#timers.get(id);
        if (left === undefined) return answer([GENERAL_RESULT.BEYOND_TERMINAL_CAPABILITIES]);
        if (operation === TIMER_OPERATION.DEACTIVATE) this.#timers.delete(id);
        return answer(
          [GENERAL_RESULT.OK],
          encodeComprehensionTlv(0x24, true, Uint8Array.of(id)),
          encodeComprehensionTlv(0x25, true, encodeTimerValue(left)),
        );
      }
      case PRO_CMD.DISPLAY_TEXT: {
        const text = tlvs.get(0x0d);
        const decoded = text === undefined ? undefined : TextStringTlv.codec.decode(text);
        if (!decoded?.ok) return answer([GENERAL_RESULT.DATA_NOT_UNDERSTOOD]);
        this.#o.onDisplayText?.(decoded.value.text);
        return answer([GENERAL_RESULT.OK]);
      }
      case PRO_CMD.OPEN_CHANNEL:
      case PRO_CMD.CLOSE_CHANNEL:
      case PRO_CMD.RECEIVE_DATA:
      case PRO_CMD.SEND_DATA:
      case PRO_CMD.GET_CHANNEL_STATUS: {
        if (this.#bip === undefined) return answer([GENERAL_RESULT.BEYOND_TERMINAL_CAPABILITIES]);
        const destination = tlvs.get(0x02)?.[1] ?? 0;
        const done = this.#bip.handle(type, qualifier, tlvs, destination);
        return answer(done.result, ...done.objects);
      }
      default:
        return answer([GENERAL_RESULT.BEYOND_TERMINAL_CAPABILITIES]);
    }
  }

  #readImsi(): Result<string> {
    const selected = this.#terminal.selectUsim();
    if (!selected.ok) return selected;
    const imsi = this.#terminal.readImsi();
    this.#imsi = imsi.ok ? imsi.value : undefined;
    return imsi;
  }
}

const encodeTimerValue = (seconds: number): Uint8Array => TimerValueTlv.codec.encode(seconds);

function decodeTimerValue(v: Uint8Array): number | undefined {
  const r = TimerValueTlv.codec.decode(v);
  return r.ok ? r.value : undefined;
}
