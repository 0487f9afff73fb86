// The anti-theft toolkit applet (docs/anti-theft.md). It uses only the TS 102 241-shaped API of
// card/toolkit/ts-102-241-applet-api.ts, as a Java Card applet would:
//
//   EVENT_PROFILE_DOWNLOAD   every boot: PROVIDE LOCAL INFORMATION (IMEI), compare with the registered
//                            IMEIs (the first boot registers it), then PROVIDE LOCAL INFORMATION
//                            (location) and judge the serving cell
//   EVENT_EVENT_DOWNLOAD_LOCATION_STATUS  judge each serving cell the terminal reports
//   EVENT_TIMER_EXPIRATION   end of the learning period; end of the tolerance window
//   EVENT_FORMATTED_SMS_PP_ENV  remote commands at its TAR (src/lib/anti-theft-encoding.ts), answered in the PoR;
//                            REPORT LOCAL INFO then asks the terminal (PROVIDE LOCAL INFORMATION IMEI, location,
//                            access technology) and sends a secured report to the command's sender
//
// Blocking swaps EF.IMSI to the card's quarantine IMSI (kept to be put back), invalidates the
// location and key files, sends an SCP80-secured alert by SEND SHORT MESSAGE and issues REFRESH
// (NAA initialisation + file change notification), so the terminal re-reads EF.IMSI and attaches
// with an identity the platform admits for SMS only. OTA stays open whatever the state.
// Memory is written only when the state changes, once per change (the store ignores identical writes).
//
// A remote BLOCK or UNBLOCK completes its effect on memory (mode, reason, strikes, EF.IMSI and the saved
// IMSI, the location files) before the PoR is posted, so READ STATE in the same packet reports the state
// the card is in once the command is done; only the proactive part (alert SMS, REFRESH) follows the PoR.
// A REFRESH the terminal refuses leaves that state as it is (the PoR has already said so) and is owed:
// the applet asks again at the next location status event or remote command, and a power cycle makes
// the terminal read EF.IMSI anyway.

import {
  type AccessTechnology,
  AlertTlv,
  type AntiTheftState,
  type Cell,
  type Command,
  DEFAULT_TOLERANCE,
  decodeCommands,
  LocalInfoTlv,
  type Reason,
  type ResultCode,
  ResultTlv,
  StateMemoryTlv,
  StateReportTlv,
  sameCell,
  type Tolerance,
} from '../../../lib/anti-theft-encoding.js';
import { decodeEfImsi, encodeEfImsi, isImsi } from '../../../lib/identities.js';
import {
  AccessTechnologyTlv,
  FileListTlv,
  ImeiTlv,
  LocationInformationTlv,
  TimerValueTlv,
} from '../../../lib/ts-102-223-tlv.js';
import { encodeSubmitTpdu } from '../../toolkit/ts-23-040-submit.js';
import {
  EVENT,
  isSuccessfulResult,
  PLI,
  PRO_CMD,
  profileSupports,
  REFRESH,
  TIMER_OPERATION,
  type ToolkitEvent,
} from '../../toolkit/ts-102-223-constants.js';
import type {
  AppletClass,
  FileView,
  InstallParameters,
  PersistentStore,
  ProactiveCommand,
  ProactiveResponseHandler,
  TerminalResponseBytes,
  ToolkitApplet,
  ToolkitContext,
  ToolkitRegistry,
  ToolkitSession,
} from '../../toolkit/ts-102-241-applet-api.js';
import { SW } from '../../ts-102-221.js';

export const MAX_IMEIS = 4;
export const MAX_CELLS = 10;

export interface AntiTheftParameters {
  /** The IMSI the card switches to when it blocks; the platform admits it for SMS only. */
  readonly quarantineImsi: string;
  /** Where alerts go (international number); can be changed over OTA. */
  readonly alertDestination?: string;
  readonly tolerance?: Tolerance;
  /** Length of the learning period after the first boot (0: until the next boot only). */
  readonly learningSeconds?: number;
}

const FILES_TO_REFRESH = ['3F007FFF6F07', '3F007FFF6F7E', '3F007FFF6F73', '3F007FFF6FE3'];

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function validate(p: InstallParameters): string | undefined {
  if (typeof p.quarantineImsi !== 'string' || !isImsi(p.quarantineImsi))
    return 'quarantineImsi: 6 to 15 digits';
  if (
    p.alertDestination !== undefined &&
    (typeof p.alertDestination !== 'string' || !/^\d{1,20}$/.test(p.alertDestination))
  )
    return 'alertDestination: 1 to 20 digits';
  const t = p.tolerance as Record<string, unknown> | undefined;
  if (
    t !== undefined &&
    (typeof t !== 'object' ||
      t === null ||
      !Number.isInteger(t.strikes) ||
      (t.strikes as number) < 1 ||
      (t.strikes as number) > 255 ||
      !Number.isInteger(t.windowSeconds) ||
      (t.windowSeconds as number) < 0 ||
      (t.windowSeconds as number) > 0xffff)
  )
    return 'tolerance: { strikes 1..255, windowSeconds 0..65535 }';
  if (
    p.learningSeconds !== undefined &&
    (!Number.isInteger(p.learningSeconds) ||
      (p.learningSeconds as number) < 0 ||
      (p.learningSeconds as number) > 86_399)
  )
    return 'learningSeconds: 0 to 86399';
  return undefined;
}

export class AntiTheftApplet implements ToolkitApplet {
  readonly #params: AntiTheftParameters;
  // Timer identifiers, allocated once at installation (TS 102 241 ToolkitRegistry.allocateTimer).
  #learningTimer: number | undefined;
  #windowTimer: number | undefined;
  // What the terminal last reported in this session (RAM, not memory).
  #imei: string | undefined;
  #cell: Cell | undefined;
  // EF.IMSI changed but the terminal refused the REFRESH: it still runs on the identity it read before.
  #refreshOwed = false;

  constructor(params: AntiTheftParameters) {
    this.#params = params;
  }

  install(registry: ToolkitRegistry, _store: PersistentStore): void {
    registry.setEvent(EVENT.EVENT_PROFILE_DOWNLOAD);
    registry.setEvent(EVENT.EVENT_EVENT_DOWNLOAD_LOCATION_STATUS);
    registry.setEvent(EVENT.EVENT_TIMER_EXPIRATION);
    registry.setEvent(EVENT.EVENT_FORMATTED_SMS_PP_ENV);
    this.#learningTimer = registry.allocateTimer();
    this.#windowTimer = registry.allocateTimer();
  }

  *processToolkit(event: ToolkitEvent, ctx: ToolkitContext): ToolkitSession {
    switch (event) {
      case EVENT.EVENT_PROFILE_DOWNLOAD:
        yield* this.#boot(ctx);
        return;
      case EVENT.EVENT_EVENT_DOWNLOAD_LOCATION_STATUS: {
        const status = ctx.envelope?.findTlv(0x1b);
        const location = ctx.envelope?.findTlv(0x13);
        if (status?.[0] !== 0x00 || location === undefined) return;
        const cell = LocationInformationTlv.codec.decode(location);
        if (!cell.ok) return;
        this.#cell = cell.value;
        const s = this.#load(ctx.store);
        if (s.mode === 'blocked' && s.pendingAlert !== undefined) {
          // Service is back (with the quarantine identity): send the alert that could not go out.
          if (yield* this.#alert(ctx, s.pendingAlert)) {
            const { pendingAlert: _sent, ...rest } = this.#load(ctx.store);
            this.#save(ctx.store, rest);
          }
        } else {
          yield* this.#judgeCell(ctx, cell.value);
        }
        if (this.#refreshOwed) yield* this.#refresh(ctx);
        return;
      }
      case EVENT.EVENT_TIMER_EXPIRATION:
        yield* this.#timerExpired(ctx);
        return;
      case EVENT.EVENT_FORMATTED_SMS_PP_ENV:
        yield* this.#remote(ctx);
        return;
      default:
        return;
    }
  }

  // --- memory ----------------------------------------------------------------------------------------

  #initial(): AntiTheftState {
    const destination = this.#params.alertDestination;
    return {
      mode: 'learning',
      reason: 'none',
      strikes: 0,
      tolerance: this.#params.tolerance ?? DEFAULT_TOLERANCE,
      imeis: [],
      cells: [],
      ...(destination === undefined ? {} : { alertDestination: { ton: 1, npi: 1, number: destination } }),
    };
  }

  /**
   * The state last decoded, keyed by the stored bytes it was decoded from: an envelope reads the
   * state several times and most envelopes change nothing, so comparing the bytes (a few dozen
   * octets) replaces the TLV decoding. States are immutable (every change builds a new one).
   */
  #decoded: { readonly bytes: Uint8Array; readonly state: AntiTheftState } | undefined;

  #load(store: PersistentStore): AntiTheftState {
    const bytes = store.read();
    if (bytes.length === 0) return this.#initial();
    const cached = this.#decoded;
    if (cached !== undefined && bytesEqual(cached.bytes, bytes)) return cached.state;
    const s = StateMemoryTlv.decode(bytes);
    if (!s.ok) return this.#initial();
    this.#decoded = { bytes, state: s.value };
    return s.value;
  }

  #save(store: PersistentStore, s: AntiTheftState): void {
    store.write(StateMemoryTlv.encode(s));
  }

  // --- boot and cells ---------------------------------------------------------------------------

  *#boot(ctx: ToolkitContext): ToolkitSession {
    this.#imei = undefined;
    this.#cell = undefined;
    // The terminal has just read EF.IMSI as it is now.
    this.#refreshOwed = false;
    if (!profileSupports(ctx.terminalProfile, 'PROVIDE_LOCAL_INFORMATION')) return;
    const answer = yield* this.#provideLocalInformation(ctx, PLI.IMEI);
    const imeiValue = answer?.findTlv(0x14);
    const imei = imeiValue === undefined ? undefined : ImeiTlv.codec.decode(imeiValue);
    if (!imei?.ok) return;
    this.#imei = imei.value;
    let s = this.#load(ctx.store);
    if (s.mode === 'blocked') return;
    if (s.imeis.length === 0) {
      s = { ...s, mode: 'learning', imeis: [imei.value], strikes: 0 };
      this.#save(ctx.store, s);
      yield* this.#startTimer(ctx, this.#learningTimer, this.#params.learningSeconds ?? 3600);
    } else {
      if (!s.imeis.includes(imei.value)) {
        yield* this.#block(ctx, s, 'imei_mismatch');
        return;
      }
      if (s.mode === 'learning') {
        s = { ...s, mode: 'armed' };
        this.#save(ctx.store, s);
      }
    }
    const location = yield* this.#provideLocalInformation(ctx, PLI.LOCATION_INFORMATION);
    const value = location?.findTlv(0x13);
    if (value === undefined) return; // no service yet: the location status event will bring the cell
    const cell = LocationInformationTlv.codec.decode(value);
    if (!cell.ok) return;
    this.#cell = cell.value;
    const strikesBefore = this.#load(ctx.store).strikes;
    yield* this.#judgeCell(ctx, cell.value);
    // Timers do not survive a power cycle: a window opened before it starts again, so restarting the
    // device on an unregistered cell does not escape it.
    const after = this.#load(ctx.store);
    if (after.mode === 'armed' && strikesBefore > 0 && after.strikes > 1 && after.tolerance.windowSeconds > 0)
      yield* this.#startTimer(ctx, this.#windowTimer, after.tolerance.windowSeconds);
  }

  *#judgeCell(ctx: ToolkitContext, cell: Cell): ToolkitSession {
    const s = this.#load(ctx.store);
    if (s.mode === 'blocked') return;
    const registered = s.cells.some((c) => sameCell(c, cell));
    if (s.mode === 'learning' || s.cells.length === 0) {
      // Learning, or armed without any cell yet (no service while learning): the cell is registered.
      const cells = registered || s.cells.length >= MAX_CELLS ? s.cells : [...s.cells, cell];
      this.#save(ctx.store, { ...s, cells, strikes: 0 });
      return;
    }
    if (registered) {
      if (s.strikes !== 0) this.#save(ctx.store, { ...s, strikes: 0 });
      return;
    }
    const strikes = Math.min(255, s.strikes + 1);
    if (strikes >= s.tolerance.strikes) {
      yield* this.#block(ctx, s, 'cell_not_registered');
      return;
    }
    this.#save(ctx.store, { ...s, strikes });
    if (strikes === 1 && s.tolerance.windowSeconds > 0)
      yield* this.#startTimer(ctx, this.#windowTimer, s.tolerance.windowSeconds);
  }

  *#timerExpired(ctx: ToolkitContext): ToolkitSession {
    const id = ctx.envelope?.findTlv(0x24)?.[0];
    const s = this.#load(ctx.store);
    if (id !== undefined && id === this.#learningTimer && s.mode === 'learning' && s.imeis.length > 0) {
      this.#save(ctx.store, { ...s, mode: 'armed' });
    } else if (id !== undefined && id === this.#windowTimer && s.mode === 'armed' && s.strikes > 0) {
      yield* this.#block(ctx, s, 'cell_not_registered');
    }
  }

  // --- remote management ---------------------------------------------------------------------------

  *#remote(ctx: ToolkitContext): ToolkitSession {
    const data = ctx.envelope?.getSecuredData();
    const post = (executed: number, result: ResultCode, state?: AntiTheftState) => {
      const parts = [ResultTlv.encode({ executed, result })];
      if (state !== undefined) {
        const { savedImsi: _saved, ...visible } = state;
        parts.push(StateReportTlv.encode(visible));
      }
      ctx.envelopeResponse?.post(Uint8Array.from(parts.flatMap((p) => [...p])));
    };
    if (data === undefined) return;
    const commands = decodeCommands(data);
    if (!commands.ok) {
      post(commands.error.index + 1, commands.error.result);
      return;
    }
    let s = this.#load(ctx.store);
    let action: 'block' | 'unblock' | undefined;
    let relearn = false;
    let report = false;
    let localInfo = false;
    let executed = 0;
    let result: ResultCode = 'ok';
    for (const c of commands.value) {
      executed++;
      const next = this.#apply(s, c);
      if (typeof next === 'string') {
        result = next;
        break;
      }
      s = next;
      if (c.op === 'readState') report = true;
      if (c.op === 'reportLocalInfo') localInfo = true;
      if (c.op === 'startLearning') relearn = true;
      if (c.op === 'block') action = 'block';
      if (c.op === 'unblock') action = 'unblock';
    }
    // BLOCK and UNBLOCK take effect in memory here, before the PoR, so that the state it reports is the
    // one the card is in once the command is done; one write for the whole packet.
    const blocks = action === 'block' && s.mode !== 'blocked';
    // START LEARNING with UNBLOCK (a legitimate device replacement): unblocked straight into learning.
    const unblocks = action === 'unblock' && s.mode === 'blocked';
    if (blocks) s = this.#blockedState(ctx, s, 'remote_block');
    if (unblocks) s = this.#unblockedState(ctx, s, relearn ? 'learning' : 'armed');
    this.#save(ctx.store, s);
    post(executed, result, report ? s : undefined);
    // The proactive part, after the PoR: the alert and the REFRESH that makes the terminal read EF.IMSI.
    if (blocks) yield* this.#announceBlock(ctx, 'remote_block');
    else if (unblocks || this.#refreshOwed) yield* this.#refresh(ctx);
    if (localInfo) yield* this.#reportLocalInfo(ctx, ctx.envelope?.getOriginatingAddress());
  }

  /**
   * REPORT LOCAL INFO: ask the terminal now (PROVIDE LOCAL INFORMATION 01 IMEI, 00 location, 06
   * access technology) and send what it said as a secured report to the command's sender. The report
   * is informational: it judges nothing and writes no memory. The IMEI was judged at this session's
   * boot and cannot change without a new one; every serving cell already reaches the applet as a
   * location status event and is judged there, so judging the polled cell again would count one cell
   * twice and let a poll by the operator add strikes (BLOCK exists for blocking on purpose).
   */
  *#reportLocalInfo(ctx: ToolkitContext, destination: string | undefined): ToolkitSession {
    if (
      destination === undefined ||
      destination === '' ||
      !profileSupports(ctx.terminalProfile, 'PROVIDE_LOCAL_INFORMATION') ||
      !profileSupports(ctx.terminalProfile, 'SEND_SHORT_MESSAGE')
    )
      return;
    const imeiValue = (yield* this.#provideLocalInformation(ctx, PLI.IMEI))?.findTlv(0x14);
    const imei = imeiValue === undefined ? undefined : ImeiTlv.codec.decode(imeiValue);
    const cellValue = (yield* this.#provideLocalInformation(ctx, PLI.LOCATION_INFORMATION))?.findTlv(0x13);
    const cell = cellValue === undefined ? undefined : LocationInformationTlv.codec.decode(cellValue);
    let technology: AccessTechnology | undefined;
    if (profileSupports(ctx.terminalProfile, 'PLI_ACCESS_TECHNOLOGY')) {
      const value = (yield* this.#provideLocalInformation(ctx, PLI.ACCESS_TECHNOLOGY))?.findTlv(0x3f);
      const decoded = value === undefined ? undefined : AccessTechnologyTlv.codec.decode(value);
      if (decoded?.ok) technology = decoded.value;
    }
    // RAM only: what the terminal reports now is what alerts and START LEARNING use next.
    if (imei?.ok) this.#imei = imei.value;
    if (cell?.ok) this.#cell = cell.value;
    yield* this.#sendReport(
      ctx,
      destination,
      LocalInfoTlv.encode({
        ...(imei?.ok ? { imei: imei.value } : {}),
        ...(cell?.ok ? { cell: cell.value } : {}),
        ...(technology === undefined ? {} : { accessTechnology: technology }),
      }),
    );
  }

  /** One command on the state; a result code when it cannot be carried out. */
  #apply(s: AntiTheftState, c: Command): AntiTheftState | ResultCode {
    switch (c.op) {
      case 'readState':
      case 'block':
      case 'unblock':
      case 'reportLocalInfo':
        return s;
      case 'addImei':
        if (s.imeis.includes(c.imei)) return s;
        return s.imeis.length >= MAX_IMEIS ? 'list_full' : { ...s, imeis: [...s.imeis, c.imei] };
      case 'removeImei':
        return s.imeis.includes(c.imei) ? { ...s, imeis: s.imeis.filter((i) => i !== c.imei) } : 'not_found';
      case 'addCell':
        if (s.cells.some((x) => sameCell(x, c.cell))) return s;
        return s.cells.length >= MAX_CELLS ? 'list_full' : { ...s, cells: [...s.cells, c.cell], strikes: 0 };
      case 'removeCell':
        return s.cells.some((x) => sameCell(x, c.cell))
          ? { ...s, cells: s.cells.filter((x) => !sameCell(x, c.cell)) }
          : 'not_found';
      case 'startLearning': {
        // After a legitimate device change: forget devices and cells; the device in use now (if it
        // reported itself this session) and its cell are the first ones learned.
        const learning: AntiTheftState = {
          ...s,
          mode: s.mode === 'blocked' ? 'blocked' : 'learning',
          strikes: 0,
          imeis: this.#imei === undefined ? [] : [this.#imei],
          cells: this.#cell === undefined ? [] : [this.#cell],
        };
        return learning;
      }
      case 'setAlertDestination':
        return { ...s, alertDestination: c.address };
      case 'setTolerance':
        return { ...s, tolerance: c.tolerance };
    }
  }

  // --- blocking --------------------------------------------------------------------------------------

  /** Block from state `s`: memory and files in one step (one write), then the alert and REFRESH. */
  *#block(ctx: ToolkitContext, s: AntiTheftState, reason: Reason): ToolkitSession {
    this.#save(ctx.store, this.#blockedState(ctx, s, reason));
    yield* this.#announceBlock(ctx, reason);
  }

  /**
   * The non-proactive part of blocking: EF.IMSI swapped to the quarantine IMSI (the card's own kept to
   * be put back), the location files invalidated. Returns the blocked state; the caller saves it.
   */
  #blockedState(ctx: ToolkitContext, s: AntiTheftState, reason: Reason): AntiTheftState {
    const quarantine = encodeEfImsi(this.#params.quarantineImsi);
    const current = readEf(ctx.files, '6F07', 9);
    const savedImsi =
      s.savedImsi ?? (current !== undefined && !bytesEqual(current, quarantine) ? current : undefined);
    updateEf(ctx.files, '6F07', 0, quarantine);
    invalidateLocation(ctx.files);
    return { ...s, mode: 'blocked', reason, strikes: 0, ...(savedImsi === undefined ? {} : { savedImsi }) };
  }

  /** The proactive part of blocking: the alert (kept as pending when it cannot go), then REFRESH. */
  *#announceBlock(ctx: ToolkitContext, reason: Reason): ToolkitSession {
    if (!(yield* this.#alert(ctx, reason)))
      this.#save(ctx.store, { ...this.#load(ctx.store), pendingAlert: reason });
    yield* this.#refresh(ctx);
  }

  /**
   * The non-proactive part of unblocking: the saved IMSI back into EF.IMSI, the location files
   * invalidated. Returns the unblocked state (armed, or learning); the caller saves it and refreshes.
   */
  #unblockedState(ctx: ToolkitContext, s: AntiTheftState, mode: 'armed' | 'learning'): AntiTheftState {
    if (s.savedImsi !== undefined && decodeEfImsi(s.savedImsi).ok)
      updateEf(ctx.files, '6F07', 0, s.savedImsi);
    invalidateLocation(ctx.files);
    const { savedImsi: _restored, pendingAlert: _moot, ...rest } = s;
    return { ...rest, mode, reason: 'none', strikes: 0 };
  }

  /** Send the alert; true when the terminal sent every SMS (or there is nowhere to send it). */
  *#alert(ctx: ToolkitContext, reason: Reason): Generator<ProactiveCommand, boolean, TerminalResponseBytes> {
    const s = this.#load(ctx.store);
    const destination = s.alertDestination;
    if (destination === undefined || !profileSupports(ctx.terminalProfile, 'SEND_SHORT_MESSAGE')) return true;
    return yield* this.#sendReport(
      ctx,
      destination.number,
      AlertTlv.encode({
        reason,
        ...(this.#imei === undefined ? {} : { imei: this.#imei }),
        ...(this.#cell === undefined ? {} : { cell: this.#cell }),
      }),
    );
  }

  /** A secured report (alert or local information) by SEND SHORT MESSAGE; true when every SMS went. */
  *#sendReport(
    ctx: ToolkitContext,
    destination: string,
    data: Uint8Array,
  ): Generator<ProactiveCommand, boolean, TerminalResponseBytes> {
    const segments = ctx.reports.secure(data);
    if (segments === undefined) return true;
    for (const [i, ud] of segments.entries()) {
      const tpdu = encodeSubmitTpdu(destination, ud, i);
      if (tpdu === undefined) return true;
      ctx.proactive.init(PRO_CMD.SEND_SHORT_MESSAGE, 0x00, 'network');
      ctx.proactive.appendTlv(0x8b, tpdu);
      const r = yield* ctx.proactive.send();
      if (!isSuccessfulResult(r.getGeneralResult())) return false;
    }
    return true;
  }

  /** REFRESH after EF.IMSI changed; refused by the terminal, it stays owed (RAM) and is asked again. */
  *#refresh(ctx: ToolkitContext): ToolkitSession {
    if (!profileSupports(ctx.terminalProfile, 'REFRESH')) return;
    ctx.proactive.init(PRO_CMD.REFRESH, REFRESH.NAA_INIT_FCN, 'terminal');
    ctx.proactive.appendTlv(0x92, FileListTlv.codec.encode(FILES_TO_REFRESH));
    const r = yield* ctx.proactive.send();
    this.#refreshOwed = !isSuccessfulResult(r.getGeneralResult());
  }

  // --- proactive helpers -----------------------------------------------------------------------------

  *#provideLocalInformation(
    ctx: ToolkitContext,
    qualifier: number,
  ): Generator<{ bytes: Uint8Array }, ProactiveResponseHandler | undefined, { bytes: Uint8Array }> {
    ctx.proactive.init(PRO_CMD.PROVIDE_LOCAL_INFORMATION, qualifier, 'terminal');
    const r = yield* ctx.proactive.send();
    return isSuccessfulResult(r.getGeneralResult()) ? r : undefined;
  }

  *#startTimer(ctx: ToolkitContext, timer: number | undefined, seconds: number): ToolkitSession {
    if (
      timer === undefined ||
      seconds <= 0 ||
      !profileSupports(ctx.terminalProfile, 'TIMER_MANAGEMENT_START_STOP')
    )
      return;
    ctx.proactive.init(PRO_CMD.TIMER_MANAGEMENT, TIMER_OPERATION.START, 'terminal');
    ctx.proactive.appendTlv(0xa4, Uint8Array.of(timer));
    ctx.proactive.appendTlv(0xa5, TimerValueTlv.codec.encode(seconds));
    yield* ctx.proactive.send();
  }
}

function selectUsimEf(files: FileView, fid: string): boolean {
  return files.select('3F00') === SW.OK && files.select('7FFF') === SW.OK && files.select(fid) === SW.OK;
}

function readEf(files: FileView, fid: string, length: number): Uint8Array | undefined {
  if (!selectUsimEf(files, fid)) return undefined;
  const r = files.readBinary(0, length);
  return r.sw === SW.OK ? r.data : undefined;
}

function updateEf(files: FileView, fid: string, offset: number, data: Uint8Array): void {
  if (selectUsimEf(files, fid)) files.updateBinary(offset, data);
}

/**
 * mfa-stk.md B2 #2/#3: no TMSI/P-TMSI/GUTI, update status "not updated", no keys (KSI 7), so the
 * terminal cannot resume the old registration and must attach afresh with the IMSI now in EF.IMSI.
 */
function invalidateLocation(files: FileView): void {
  updateEf(files, '6F7E', 0, Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  updateEf(files, '6F7E', 10, Uint8Array.of(0x01));
  updateEf(files, '6F73', 0, new Uint8Array(7).fill(0xff));
  updateEf(files, '6F73', 13, Uint8Array.of(0x01));
  updateEf(files, '6FE3', 0, new Uint8Array(12).fill(0xff));
  updateEf(files, '6FE3', 17, Uint8Array.of(0x01));
  updateEf(files, '6F08', 0, Uint8Array.of(0x07));
  updateEf(files, '6F09', 0, Uint8Array.of(0x07));
}

export const ANTI_THEFT: AppletClass = {
  name: 'anti-theft',
  validate,
  create: (parameters) => new AntiTheftApplet(parameters as unknown as AntiTheftParameters),
};

/** The applet's default TAR (docs/anti-theft.md). */
export const ANTI_THEFT_TAR = 'C0A7C0';
