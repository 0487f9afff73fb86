// The card application toolkit runtime of the software UICC (ETSI TS 102 223 / 3GPP TS 31.111, with the
// applet model of TS 102 241): TERMINAL PROFILE, the proactive session ('91XX' → FETCH → TERMINAL
// RESPONSE), ENVELOPE (SMS-PP download, event download, timer expiration), event registration and the
// SET UP EVENT LIST the runtime issues for its applets, timers, and the OTA dispatcher (secured packets
// by TAR to an applet or to remote file management, PoR by SEND SHORT MESSAGE or in the envelope
// response). The UICC (uicc.ts) calls in here for the four toolkit instructions and asks
// `pendingLength()` to turn '9000' into '91XX'.
//
// Session state (what is pending, the terminal profile, SMS segments) is RAM and goes with a reset;
// applet stores, OTA counters and the report counter are persistent (ToolkitState, in the card file).

import type { OtaKeySet } from '../../crypto/ts-102-225-scp80.js';
import { concatBytes, decodeBerTlv, encodeBerTlv } from '../../lib/ber-tlv.js';
import { decodeComprehensionTlvList, encodeComprehensionTlv } from '../../lib/comprehension-tlv.js';
import {
  concatenationOf,
  decodeSmsDeliver,
  IEI,
  reassembleSecuredPacket,
  type UserData,
} from '../../lib/ts-23-040-sms-tpdu.js';
import { DEVICE_IDENTITY, type DeviceIdentity } from '../../lib/ts-102-223-tlv.js';
import {
  type CommandHeader,
  DEFAULT_MINIMUM_SECURITY,
  type MinimumSecurityLevel,
} from '../../lib/ts-102-225-secured-packet.js';
import { kvnOf, openCommand, porUserData, secureReport } from '../ota/ts-102-225-card.js';
import { runRemoteFileScript } from '../ota/ts-102-226-rfm.js';
import { SW } from '../ts-102-221.js';
import { encodeSubmitTpdu } from './ts-23-040-submit.js';
import {
  EVENT,
  EVENT_CODE,
  PRO_CMD,
  profileSupports,
  TEMPLATE_TAG,
  type ToolkitEvent,
} from './ts-102-223-constants.js';
import type {
  EnvelopeHandler,
  PersistentStore,
  ProactiveCommand,
  ProactiveHandler,
  ProactiveResponseHandler,
  TerminalResponseBytes,
  ToolkitApplet,
  ToolkitContext,
  ToolkitRegistry,
  ToolkitSession,
} from './ts-102-241-applet-api.js';
import { CardFileView, type FileContents } from './ts-102-241-file-view.js';

/** An applet as installed on this card. */
export interface InstalledApplet {
  /** Instance name: the key of its persistent store in the card file. */
  readonly id: string;
  /** Toolkit Application Reference (TS 101 220 §6), 3 octets. */
  readonly tar: Uint8Array;
  readonly applet: ToolkitApplet;
  /** Key set (KVN) securing the applet's reports (alerts). */
  readonly reportKvn: number;
  readonly minimumSecurity?: MinimumSecurityLevel;
}

export interface ToolkitSetup {
  readonly applets: readonly InstalledApplet[];
  /** SCP80 key sets by key version number (the KIc/KID high nibble). Secret: never in a snapshot. */
  readonly keysets: ReadonlyMap<number, OtaKeySet>;
  /** TAR of remote file management (TS 102 226 §6); undefined: no RFM. */
  readonly rfmTar?: Uint8Array;
}

/** The toolkit's persistent state (saved in the card file). */
export interface ToolkitState {
  /** Applet id → its persistent bytes. */
  appletData: Map<string, Uint8Array>;
  /** KVN → last accepted CNTR (TS 102 225 §5.1.1 counter management). */
  counters: Map<number, number>;
  /** CNTR of the last secured report the card sent. */
  reportCounter: number;
}

export const emptyToolkitState = (): ToolkitState => ({
  appletData: new Map(),
  counters: new Map(),
  reportCounter: 0,
});

type Reply = { readonly sw: number; readonly data?: Uint8Array };
const reply = (sw: number, data?: Uint8Array): Reply => (data === undefined ? { sw } : { sw, data });

interface Active {
  readonly session: ToolkitSession;
  command: Uint8Array;
  /** Command details as sent (number, type, qualifier): the TERMINAL RESPONSE must repeat them. */
  details: Uint8Array;
  /** FETCH has returned it: no longer announced by '91XX', waiting for the TERMINAL RESPONSE. */
  fetched: boolean;
}

/** A suspended session that already produced `first`: yields it again, then carries on. */
function* continueFrom(first: ProactiveCommand, session: ToolkitSession): ToolkitSession {
  let input = yield first;
  for (;;) {
    const step = session.next(input);
    if (step.done) return;
    input = yield step.value;
  }
}

/** At most this many concatenated command SMS are buffered at once, each up to 32 segments. */
const MAX_PARTIAL_MESSAGES = 4;
const MAX_SEGMENTS = 32;
const TIMERS = 8;

/** The TLVs of a TERMINAL RESPONSE or envelope, first occurrence per tag (CR flag dropped). */
function tlvMap(bytes: Uint8Array): Map<number, Uint8Array> | undefined {
  const list = decodeComprehensionTlvList(bytes);
  if (!list.ok) return undefined;
  const out = new Map<number, Uint8Array>();
  for (const t of list.value) if (!out.has(t.tag)) out.set(t.tag, t.value);
  return out;
}

const tagOf = (tag: number) => tag & 0x7f;

class ResponseView implements ProactiveResponseHandler {
  readonly #tlvs: Map<number, Uint8Array>;
  constructor(tlvs: Map<number, Uint8Array>) {
    this.#tlvs = tlvs;
  }
  getGeneralResult(): number {
    return this.#tlvs.get(0x03)?.[0] ?? 0xff;
  }
  getAdditionalInformation(): Uint8Array {
    return this.#tlvs.get(0x03)?.slice(1) ?? new Uint8Array(0);
  }
  findTlv(tag: number): Uint8Array | undefined {
    return this.#tlvs.get(tagOf(tag))?.slice();
  }
}

export class CardToolkit {
  readonly #setup: ToolkitSetup;
  readonly #state: ToolkitState;
  readonly #files: FileContents;
  readonly #changed: () => void;
  readonly #events: Set<ToolkitEvent>[];
  readonly #timers: (number | undefined)[] = new Array(TIMERS).fill(undefined);

  // Session (RAM) state.
  #profile: Uint8Array | undefined;
  #active: Active | undefined;
  #queue: (() => ToolkitSession)[] = [];
  #messageReference = 0;
  #segments = new Map<string, UserData[]>();
  #eventListSent: string | undefined;
  #faults = 0;

  constructor(setup: ToolkitSetup, state: ToolkitState, files: FileContents, changed: () => void) {
    this.#setup = setup;
    this.#state = state;
    this.#files = files;
    this.#changed = changed;
    this.#events = setup.applets.map(() => new Set<ToolkitEvent>());
    setup.applets.forEach((a, i) => {
      a.applet.install(this.#registry(i), this.#store(i));
    });
  }

  /**
   * Sessions ended because applet code threw. The card carries on (a faulty applet must not take the
   * card down), and the fuzz tests require this to stay 0 so such bugs do not stay hidden.
   */
  get faults(): number {
    return this.#faults;
  }

  /** Length of the proactive command waiting for FETCH, if any ('91XX'). */
  pendingLength(): number | undefined {
    // Work that arrived between commands (an applet asked for the proactive handler from outside a
    // session: the SCP81 agent when its TLS engine has bytes to send) starts here, so any command —
    // the terminal's STATUS polling among them — can answer '91XX' for it.
    if (
      this.#active === undefined &&
      this.#profile !== undefined &&
      this.#events.some((e) => e.has(EVENT.EVENT_PROACTIVE_HANDLER_AVAILABLE))
    )
      this.#advance();
    const active = this.#active;
    return active === undefined || active.fetched ? undefined : active.command.length;
  }

  reset(): void {
    this.#profile = undefined;
    this.#active = undefined;
    this.#queue = [];
    this.#segments = new Map();
    this.#eventListSent = undefined;
  }

  // --- TS 102 221 §11.2.1 TERMINAL PROFILE -------------------------------------------------------

  terminalProfile(data: Uint8Array): Reply {
    if (data.length === 0) return reply(SW.WRONG_LENGTH);
    this.#profile = data.slice();
    this.#active = undefined;
    this.#queue = [];
    this.#eventListSent = undefined;
    this.#queueEventList();
    this.#trigger(EVENT.EVENT_PROFILE_DOWNLOAD);
    this.#advance();
    return reply(SW.OK);
  }

  // --- §11.2.2 FETCH -----------------------------------------------------------------------------

  fetch(le: number | undefined): Reply {
    const active = this.#active;
    if (active === undefined) return reply(SW.CONDITIONS_NOT_SATISFIED);
    const n = active.command.length;
    if (le === undefined) return reply(SW.WRONG_LENGTH);
    if (le !== 0 && le !== n) return reply(SW.WRONG_LE | (n & 0xff));
    active.fetched = true;
    return reply(SW.OK, active.command.slice());
  }

  // --- §11.2.3 TERMINAL RESPONSE -----------------------------------------------------------------

  terminalResponse(data: Uint8Array): Reply {
    const active = this.#active;
    if (active === undefined || !active.fetched) return reply(SW.CONDITIONS_NOT_SATISFIED);
    const tlvs = tlvMap(data);
    const details = tlvs?.get(0x01);
    const devices = tlvs?.get(0x02);
    const result = tlvs?.get(0x03);
    if (
      details === undefined ||
      details.length !== 3 ||
      !details.every((b, i) => b === active.details[i]) ||
      devices?.length !== 2 ||
      devices[1] !== DEVICE_IDENTITY.uicc ||
      result === undefined ||
      result.length === 0
    )
      return reply(SW.INCORRECT_DATA);
    this.#resume(active.session, { bytes: data.slice() });
    this.#advance();
    return reply(SW.OK);
  }

  // --- §11.2.4 ENVELOPE --------------------------------------------------------------------------

  envelope(data: Uint8Array): Reply {
    const tlv = decodeBerTlv(data);
    if (!tlv.ok) return reply(SW.INCORRECT_DATA);
    const tlvs = tlvMap(tlv.value.value);
    if (tlvs === undefined) return reply(SW.INCORRECT_DATA);
    const busy = this.#active !== undefined || this.#queue.length > 0;
    switch (tlv.value.tag) {
      case TEMPLATE_TAG.SMS_PP_DOWNLOAD:
        if (busy) return reply(SW.TOOLKIT_BUSY);
        return this.#smsPpDownload(tlvs);
      case TEMPLATE_TAG.EVENT_DOWNLOAD: {
        const events = tlvs.get(0x19);
        if (events?.length !== 1) return reply(SW.INCORRECT_DATA);
        if (events[0] === EVENT_CODE.DATA_AVAILABLE || events[0] === EVENT_CODE.CHANNEL_STATUS) {
          // TS 102 223 §7.5.10/§7.5.11: a channel status is required in both.
          if (tlvs.get(0x38)?.length !== 2) return reply(SW.INCORRECT_DATA);
          if (busy) return reply(SW.TOOLKIT_BUSY);
          const event =
            events[0] === EVENT_CODE.DATA_AVAILABLE
              ? EVENT.EVENT_EVENT_DOWNLOAD_DATA_AVAILABLE
              : EVENT.EVENT_EVENT_DOWNLOAD_CHANNEL_STATUS;
          this.#trigger(event, this.#envelopeView(tlv.value.tag, tlvs));
          this.#advance();
          return reply(SW.OK);
        }
        if (events[0] !== EVENT_CODE.LOCATION_STATUS) return reply(SW.OK);
        const status = tlvs.get(0x1b);
        if (status?.length !== 1 || (status[0] as number) > 2) return reply(SW.INCORRECT_DATA);
        if (busy) return reply(SW.TOOLKIT_BUSY);
        this.#trigger(EVENT.EVENT_EVENT_DOWNLOAD_LOCATION_STATUS, this.#envelopeView(tlv.value.tag, tlvs));
        this.#advance();
        return reply(SW.OK);
      }
      case TEMPLATE_TAG.TIMER_EXPIRATION: {
        const id = tlvs.get(0x24);
        if (id?.length !== 1 || (id[0] as number) < 1 || (id[0] as number) > TIMERS)
          return reply(SW.INCORRECT_DATA);
        const owner = this.#timers[(id[0] as number) - 1];
        if (busy) return reply(SW.TOOLKIT_BUSY);
        if (owner !== undefined && this.#events[owner]?.has(EVENT.EVENT_TIMER_EXPIRATION)) {
          const view = this.#envelopeView(tlv.value.tag, tlvs);
          this.#queue.push(() => this.#process(owner, EVENT.EVENT_TIMER_EXPIRATION, view));
          this.#advance();
        }
        return reply(SW.OK);
      }
      default:
        return reply(SW.INCORRECT_DATA);
    }
  }

  // --- sessions ------------------------------------------------------------------------------------

  /** Start queued sessions until one suspends on a proactive command (or none is left). */
  #advance(): void {
    while (this.#active === undefined) {
      const next = this.#queue.shift();
      if (next === undefined) {
        if (this.#queueEventList()) continue;
        if (this.#queueHandlerAvailable()) continue;
        return;
      }
      let session: ToolkitSession;
      try {
        session = next();
      } catch {
        this.#faults++;
        continue;
      }
      this.#resume(session, undefined);
    }
  }

  /** Run a session to its next proactive command; an applet that throws ends its session there. */
  #resume(session: ToolkitSession, input: TerminalResponseBytes | undefined): void {
    this.#active = undefined;
    let step: IteratorResult<ProactiveCommand, void>;
    try {
      step =
        input === undefined
          ? session.next(undefined as unknown as TerminalResponseBytes)
          : session.next(input);
    } catch {
      this.#faults++;
      return;
    }
    if (step.done) return;
    const cmd = step.value.bytes;
    const parsed = decodeBerTlv(cmd);
    const details = parsed.ok ? tlvMap(parsed.value.value)?.get(0x01) : undefined;
    // A command that is not a proactive command, or too long for '91XX' (one octet of length), is an
    // applet fault: its session ends.
    if (
      details === undefined ||
      details.length !== 3 ||
      cmd.length > 0xff ||
      cmd[0] !== TEMPLATE_TAG.PROACTIVE_COMMAND
    ) {
      this.#faults++;
      try {
        session.return(undefined);
      } catch {
        // the applet's own clean-up failed too; the session is over either way
      }
      return;
    }
    this.#active = { session, command: cmd, details, fetched: false };
  }

  /**
   * TS 102 241 EVENT_PROACTIVE_HANDLER_AVAILABLE: once the card has nothing else to send, each applet
   * that asked for it gets the proactive handler. The registration is one-shot (cleared as it fires).
   */
  #queueHandlerAvailable(): boolean {
    if (this.#profile === undefined) return false;
    let queued = false;
    this.#events.forEach((events, i) => {
      if (!events.delete(EVENT.EVENT_PROACTIVE_HANDLER_AVAILABLE)) return;
      this.#queue.push(() => this.#process(i, EVENT.EVENT_PROACTIVE_HANDLER_AVAILABLE, undefined));
      queued = true;
    });
    return queued;
  }

  #trigger(event: ToolkitEvent, envelope?: EnvelopeHandler): void {
    this.#setup.applets.forEach((_, i) => {
      if (this.#events[i]?.has(event)) this.#queue.push(() => this.#process(i, event, envelope));
    });
  }

  #process(
    index: number,
    event: ToolkitEvent,
    envelope: EnvelopeHandler | undefined,
    post?: (data: Uint8Array) => void,
  ): ToolkitSession {
    const installed = this.#setup.applets[index] as InstalledApplet;
    const context: ToolkitContext = {
      registry: this.#registry(index),
      proactive: this.#proactiveHandler(),
      envelope,
      envelopeResponse: post === undefined ? undefined : { post },
      terminalProfile: this.#profile?.slice() ?? new Uint8Array(0),
      files: new CardFileView(this.#files, this.#changed),
      store: this.#store(index),
      reports: { secure: (data) => this.#secureReport(installed, data) },
    };
    return installed.applet.processToolkit(event, context);
  }

  #registry(index: number): ToolkitRegistry {
    const events = this.#events[index] as Set<ToolkitEvent>;
    return {
      setEvent: (e) => {
        events.add(e);
      },
      clearEvent: (e) => {
        events.delete(e);
      },
      isEventSet: (e) => events.has(e),
      allocateTimer: () => {
        const free = this.#timers.indexOf(undefined);
        if (free < 0) return undefined;
        this.#timers[free] = index;
        return free + 1;
      },
      releaseTimer: (id) => {
        if (this.#timers[id - 1] === index) this.#timers[id - 1] = undefined;
      },
    };
  }

  #store(index: number): PersistentStore {
    const id = (this.#setup.applets[index] as InstalledApplet).id;
    return {
      read: () => this.#state.appletData.get(id)?.slice() ?? new Uint8Array(0),
      write: (bytes) => {
        const current = this.#state.appletData.get(id);
        if (
          current !== undefined &&
          current.length === bytes.length &&
          current.every((b, i) => b === bytes[i])
        )
          return;
        this.#state.appletData.set(id, bytes.slice());
        this.#changed();
      },
    };
  }

  #proactiveHandler(): ProactiveHandler {
    let header: { type: number; qualifier: number; destination: DeviceIdentity } | undefined;
    let body: Uint8Array[] = [];
    // TS 102 223 §8.6: one command at a time, so every command can be number 1 (as the TS 102 384
    // vectors have it); the TERMINAL RESPONSE must echo number, type and qualifier.
    const nextNumber = () => 1;
    return {
      init(type, qualifier, destination) {
        header = { type, qualifier, destination };
        body = [];
      },
      appendTlv(tag, value) {
        body.push(encodeComprehensionTlv(tag & 0x7f, (tag & 0x80) !== 0, value));
      },
      *send() {
        const h = header ?? { type: 0, qualifier: 0, destination: 'terminal' as DeviceIdentity };
        const value = concatBytes([
          encodeComprehensionTlv(0x01, true, Uint8Array.of(nextNumber(), h.type, h.qualifier)),
          encodeComprehensionTlv(
            0x02,
            true,
            Uint8Array.of(DEVICE_IDENTITY.uicc, DEVICE_IDENTITY[h.destination]),
          ),
          ...body,
        ]);
        const response = yield { bytes: encodeBerTlv(TEMPLATE_TAG.PROACTIVE_COMMAND, value) };
        return new ResponseView(tlvMap(response.bytes) ?? new Map());
      },
    };
  }

  /** SET UP EVENT LIST for the union of the applets' event registrations, when it changed. */
  #queueEventList(): boolean {
    if (this.#profile === undefined || !profileSupports(this.#profile, 'SET_UP_EVENT_LIST')) return false;
    const codes: number[] = [];
    if (this.#events.some((e) => e.has(EVENT.EVENT_EVENT_DOWNLOAD_LOCATION_STATUS)))
      codes.push(EVENT_CODE.LOCATION_STATUS);
    if (this.#events.some((e) => e.has(EVENT.EVENT_EVENT_DOWNLOAD_DATA_AVAILABLE)))
      codes.push(EVENT_CODE.DATA_AVAILABLE);
    if (this.#events.some((e) => e.has(EVENT.EVENT_EVENT_DOWNLOAD_CHANNEL_STATUS)))
      codes.push(EVENT_CODE.CHANNEL_STATUS);
    const key = codes.join(',');
    // Nothing registered and nothing sent yet: no command (the terminal's default list is empty).
    if (key === (this.#eventListSent ?? '')) return false;
    this.#eventListSent = key;
    const handler = this.#proactiveHandler();
    this.#queue.push(function* () {
      handler.init(PRO_CMD.SET_UP_EVENT_LIST, 0, 'terminal');
      handler.appendTlv(0x99, Uint8Array.from(codes));
      yield* handler.send();
    });
    return true;
  }

  #envelopeView(
    tag: number,
    tlvs: Map<number, Uint8Array>,
    secured?: { data: Uint8Array; oa: string; kvn?: number | undefined },
  ): EnvelopeHandler {
    return {
      getEnvelopeTag: () => tag,
      findTlv: (t) => tlvs.get(tagOf(t))?.slice(),
      getSecuredData: () => secured?.data.slice(),
      getOriginatingAddress: () => secured?.oa,
      getKeyVersion: () => secured?.kvn,
    };
  }

  // --- SMS-PP data download and the OTA dispatcher (TS 31.111 §7.1.1, TS 102 225 §6) --------------

  #smsPpDownload(tlvs: Map<number, Uint8Array>): Reply {
    const tpdu = tlvs.get(0x0b);
    if (tpdu === undefined) return reply(SW.INCORRECT_DATA);
    const sms = decodeSmsDeliver(tpdu);
    if (!sms.ok) return reply(SW.INCORRECT_DATA);
    const { userData, originatingAddress, protocolIdentifier } = sms.value;
    const oa = originatingAddress.kind === 'digits' ? originatingAddress.digits : '';
    const header = userData.header;
    const formatted =
      protocolIdentifier === 0x7f &&
      header !== undefined &&
      header.some((e) => e.iei === IEI.COMMAND_PACKET || e.iei === IEI.CONCATENATION_8BIT);
    if (!formatted) {
      this.#trigger(
        EVENT.EVENT_UNFORMATTED_SMS_PP_ENV,
        this.#envelopeView(TEMPLATE_TAG.SMS_PP_DOWNLOAD, tlvs),
      );
      this.#advance();
      return reply(SW.OK);
    }
    const concat = concatenationOf(header);
    let segments: UserData[] = [userData];
    if (concat !== undefined) {
      const key = `${oa}/${concat.reference}/${concat.total}`;
      const held = this.#segments.get(key) ?? [];
      if (held.length >= MAX_SEGMENTS || concat.total > MAX_SEGMENTS) return reply(SW.INCORRECT_DATA);
      if (!this.#segments.has(key) && this.#segments.size >= MAX_PARTIAL_MESSAGES) {
        const oldest = this.#segments.keys().next().value;
        if (oldest !== undefined) this.#segments.delete(oldest);
      }
      held.push(userData);
      this.#segments.set(key, held);
      if (held.length < concat.total) return reply(SW.OK);
      this.#segments.delete(key);
      segments = held;
    }
    const packet = reassembleSecuredPacket(segments);
    if (!packet.ok || packet.value.identifier !== IEI.COMMAND_PACKET) return reply(SW.INCORRECT_DATA);
    return this.#otaCommand(packet.value.packet, oa, tlvs);
  }

  #otaCommand(packet: Uint8Array, oa: string, tlvs: Map<number, Uint8Array>): Reply {
    const { applets, keysets, rfmTar } = this.#setup;
    const sameTar = (a: Uint8Array, b: Uint8Array | undefined) =>
      b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
    const appletAt = (tar: Uint8Array) => applets.findIndex((a) => sameTar(tar, a.tar));
    const outcome = openCommand(packet, {
      keysets,
      counters: this.#state.counters,
      isKnownTar: (tar) => appletAt(tar) >= 0 || sameTar(tar, rfmTar),
      minimumSecurity: (tar) => applets[appletAt(tar)]?.minimumSecurity ?? DEFAULT_MINIMUM_SECURITY,
      changed: this.#changed,
    });
    if (!outcome.ok) return this.#por(outcome.header, outcome.status, outcome.counter, new Uint8Array(0), oa);
    const { header, counter, data } = outcome;
    let porData: Uint8Array = new Uint8Array(0);
    let held: Active | undefined;
    if (sameTar(header.tar, rfmTar)) {
      porData = runRemoteFileScript(new CardFileView(this.#files, this.#changed), data);
    } else {
      const index = appletAt(header.tar);
      if (this.#events[index]?.has(EVENT.EVENT_FORMATTED_SMS_PP_ENV)) {
        const posted: Uint8Array[] = [];
        const kvn = header.spi.integrity === 'none' && !header.spi.ciphering ? undefined : kvnOf(header);
        const view = this.#envelopeView(TEMPLATE_TAG.SMS_PP_DOWNLOAD, tlvs, { data, oa, kvn });
        let session: ToolkitSession | undefined;
        try {
          session = this.#process(index, EVENT.EVENT_FORMATTED_SMS_PP_ENV, view, (d) =>
            posted.push(d.slice()),
          );
        } catch {
          this.#faults++;
          session = undefined;
        }
        if (session !== undefined) {
          this.#resume(session, undefined);
          // TS 102 241: what the applet posted before its first proactive command is the envelope's
          // response (the PoR). The applet is held at that command and continues once the PoR is out.
          held = this.#active;
          this.#active = undefined;
        }
        porData = concatBytes(posted);
      }
    }
    return this.#por(header, 0x00, counter, porData, oa, held);
  }

  /** The PoR, when SPI2 asks for one: queued as SEND SHORT MESSAGE, or returned with the envelope. */
  #por(
    header: CommandHeader | undefined,
    status: number,
    counter: number | undefined,
    data: Uint8Array,
    oa: string,
    held?: Active,
  ): Reply {
    const por =
      header === undefined ? undefined : porUserData(header, status, counter ?? 0, data, this.#setup.keysets);
    // The applet's session, held at its first proactive command, goes after the PoR's SEND SHORT
    // MESSAGE: the platform hears the command was carried out before what the applet does next.
    const continueApplet = () => {
      if (held !== undefined) {
        const { command, session } = held;
        this.#queue.push(() => continueFrom({ bytes: command }, session));
      }
    };
    if (por === undefined || header === undefined) {
      continueApplet();
      this.#advance();
      return reply(SW.OK);
    }
    if (header.spi.porViaSubmit) {
      this.#queueSubmit(oa, por);
      continueApplet();
      this.#advance();
      return reply(SW.OK);
    }
    continueApplet();
    this.#advance();
    return reply(SW.OK, concatBytes(por));
  }

  #queueSubmit(destination: string, segments: Uint8Array[]): void {
    if (destination === '') return;
    const handler = this.#proactiveHandler();
    const reference = () => {
      this.#messageReference = (this.#messageReference + 1) & 0xff;
      return this.#messageReference;
    };
    this.#queue.push(function* () {
      for (const ud of segments) {
        const tpdu = encodeSubmitTpdu(destination, ud, reference());
        if (tpdu === undefined) return;
        handler.init(PRO_CMD.SEND_SHORT_MESSAGE, 0, 'network');
        handler.appendTlv(0x8b, tpdu);
        yield* handler.send();
      }
    });
  }

  #secureReport(installed: InstalledApplet, data: Uint8Array): Uint8Array[] | undefined {
    const next = this.#state.reportCounter + 1;
    const segments = secureReport(installed.tar, installed.reportKvn, this.#setup.keysets, next, data);
    if (segments === undefined) return undefined;
    this.#state.reportCounter = next;
    this.#changed();
    return segments;
  }
}
