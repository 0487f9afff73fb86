// The applet API of the software card, shaped like the ETSI TS 102 241 UICC API (uicc.toolkit and
// uicc.access): an applet registers for events in its ToolkitRegistry, and the card calls its
// `processToolkit(event, context)` with a proactive handler, an envelope handler and an envelope
// response handler. Applets see only this module (and the pure codecs of src/lib): never the card's
// file map, keys or runtime, so an applet here reads like one that could run on a Java Card SIM.
//
// One deliberate difference: on a Java Card, ProactiveHandler.send() blocks the applet until the
// terminal has fetched the command and answered it. JavaScript cannot block, so `processToolkit` is a
// generator and sending is `yield* proactive.send()`: the card suspends the applet at the yield, answers
// the APDU in hand with '91XX', and resumes it with the TERMINAL RESPONSE — the same control flow.

import type { DeviceIdentity } from '../../lib/ts-102-223-tlv.js';
import type { ToolkitEvent } from './ts-102-223-constants.js';

/** What an applet's `processToolkit` returns: it yields proactive commands and receives their responses. */
export type ToolkitSession = Generator<ProactiveCommand, void, TerminalResponseBytes>;

/** A proactive command ready for FETCH ('D0' BER-TLV). */
export interface ProactiveCommand {
  readonly bytes: Uint8Array;
}

/** The TERMINAL RESPONSE data the card received for the command. */
export interface TerminalResponseBytes {
  readonly bytes: Uint8Array;
}

/** TS 102 241 §6.1 ViewHandler.findTLV / ProactiveResponseHandler: the decoded TERMINAL RESPONSE. */
export interface ProactiveResponseHandler {
  /** General result (TS 102 223 §8.12). */
  getGeneralResult(): number;
  getAdditionalInformation(): Uint8Array;
  /** The value of the first COMPREHENSION-TLV with this tag (CR flag ignored), or undefined. */
  findTlv(tag: number): Uint8Array | undefined;
}

/** TS 102 241 ProactiveHandler: build one proactive command, then `yield* send()`. */
export interface ProactiveHandler {
  /** Start a command: type (TS 102 223 §9.4), qualifier, destination device. */
  init(typeOfCommand: number, qualifier: number, destination: DeviceIdentity): void;
  /** Append a COMPREHENSION-TLV; `tag` carries the CR flag in b8 as in the Java API. */
  appendTlv(tag: number, value: Uint8Array): void;
  /** Send the command and wait for the terminal's answer. */
  send(): Generator<ProactiveCommand, ProactiveResponseHandler, TerminalResponseBytes>;
}

/** TS 102 241 EnvelopeHandler: the ENVELOPE that raised the event. */
export interface EnvelopeHandler {
  /** BER-TLV tag of the envelope ('D1' SMS-PP download, 'D6' event download, 'D7' timer expiration). */
  getEnvelopeTag(): number;
  findTlv(tag: number): Uint8Array | undefined;
  /** EVENT_FORMATTED_SMS_PP_ENV: the deciphered, verified secured data of the command packet. */
  getSecuredData(): Uint8Array | undefined;
  /** EVENT_FORMATTED_SMS_PP_ENV: the originating address of the command SMS (digits). */
  getOriginatingAddress(): string | undefined;
  /**
   * EVENT_FORMATTED_SMS_PP_ENV: the key set (KVN) that secured the command packet — its KID's, or its
   * KIc's without a CC (a Java Card applet reads the same from the packet header); undefined when the
   * packet was not secured.
   */
  getKeyVersion(): number | undefined;
}

/** TS 102 241 EnvelopeResponseHandler: additional response data, here the data of the PoR. */
export interface EnvelopeResponseHandler {
  post(data: Uint8Array): void;
}

/** TS 102 241 ToolkitRegistry: event registration and timers. */
export interface ToolkitRegistry {
  setEvent(event: ToolkitEvent): void;
  clearEvent(event: ToolkitEvent): void;
  isEventSet(event: ToolkitEvent): boolean;
  /** A timer identifier 1..8 for this applet, or undefined when all are in use. */
  allocateTimer(): number | undefined;
  releaseTimer(timerId: number): void;
}

/** TS 102 241 uicc.access.FileView (administrative access granted at installation). */
export interface FileView {
  /** Select by file id from the current DF ('3F00', '7FFF' = the USIM ADF, a child, the parent). */
  select(fid: string): number;
  readBinary(offset: number, length: number): { sw: number; data: Uint8Array };
  updateBinary(offset: number, data: Uint8Array): number;
  readRecord(record: number): { sw: number; data: Uint8Array };
  updateRecord(record: number, data: Uint8Array): number;
}

/**
 * The applet's persistent memory (its EEPROM object): the bytes survive resets and are saved in the
 * card file. `write` of the same bytes costs nothing; every real change is one write.
 */
export interface PersistentStore {
  read(): Uint8Array;
  write(bytes: Uint8Array): void;
}

/**
 * Secured reports (alerts) to the platform: the card wraps `data` in a TS 102 225 Response Packet
 * from the applet's TAR, with the card's report counter and the applet's report key set, and gives
 * back the SMS user data (UDH included), one element per SMS.
 */
export interface SecuredReporter {
  secure(data: Uint8Array): Uint8Array[] | undefined;
}

/** Everything processToolkit may use. The handlers are those of the event being processed. */
export interface ToolkitContext {
  readonly registry: ToolkitRegistry;
  readonly proactive: ProactiveHandler;
  /** Present for envelope-raised events. */
  readonly envelope: EnvelopeHandler | undefined;
  /** Present for EVENT_FORMATTED_SMS_PP_ENV: the data posted goes into the PoR. */
  readonly envelopeResponse: EnvelopeResponseHandler | undefined;
  /** TS 102 241 TerminalProfile.check(index) — the facility bits the terminal announced. */
  readonly terminalProfile: Uint8Array;
  readonly files: FileView;
  readonly store: PersistentStore;
  readonly reports: SecuredReporter;
}

/** Installation data given once (TS 102 226 §8.2.1.3 "install" parameters, here a JSON object). */
export type InstallParameters = Readonly<Record<string, unknown>>;

/** A toolkit applet. `install` registers its events; `processToolkit` handles one event. */
export interface ToolkitApplet {
  install(registry: ToolkitRegistry, store: PersistentStore): void;
  processToolkit(event: ToolkitEvent, context: ToolkitContext): ToolkitSession;
}

/** What the card needs to know about an applet class: its name and how to make an instance. */
export interface AppletClass {
  readonly name: string;
  /** A total check of the installation parameters (the card file loader reports the message). */
  validate(parameters: InstallParameters): string | undefined;
  create(parameters: InstallParameters): ToolkitApplet;
}
