// Issue 13 follow-up, regression: the PoR of a remote UNBLOCK (or BLOCK) with READ STATE reported the
// state from before the command took effect, because the applet posted the PoR first and only then
// unblocked. Threat to the operator: the platform shows a SIM as still blocked (or not yet blocked)
// after an applied command, and decides on a state the card is no longer in.
//
// Driven APDU by APDU after the PoR's ENVELOPE: the test is the terminal, so it can refuse REFRESH. It
// checks that the PoR reports the state the card is in once the command is done, that the applet's
// memory changes once and within the ENVELOPE (before the PoR leaves), and what a refused REFRESH
// leaves: the state the PoR reported, with the REFRESH asked again at the next location status event or
// remote command (docs/anti-theft.md, "Unblocking").

import { describe, expect, it } from 'vitest';
import { withState } from '../../../src/card/card-file.js';
import { encodeCommandApdu, parseResponseApdu } from '../../../src/card/iso-7816-4.js';
import { PRO_CMD } from '../../../src/card/toolkit/ts-102-223-constants.js';
import type { ServingCell } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import type { Uicc } from '../../../src/card/uicc.js';
import {
  type AntiTheftState,
  type Command,
  encodeCommands,
  ResultTlv,
  StateReportTlv,
} from '../../../src/lib/anti-theft-encoding.js';
import { concatBytes, decodeBerTlvList, encodeBerTlv } from '../../../src/lib/ber-tlv.js';
import { decodeComprehensionTlvList, encodeComprehensionTlv } from '../../../src/lib/comprehension-tlv.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import { decodeEfImsi } from '../../../src/lib/identities.js';
import { LocationInformationTlv } from '../../../src/lib/ts-102-223-tlv.js';
import { IMSI } from '../fixture.js';
import {
  antiTheftCardFile,
  appletState,
  cell,
  commandSms,
  device,
  IMEI,
  newCard,
  openSecured,
  PLATFORM,
  packetOfSubmits,
  QUARANTINE_IMSI,
} from './fixture.js';

const HOME = [cell(1), cell(2)];
const FAR = [cell(0x901, { areaCode: 0x0999 }), cell(0x902, { areaCode: 0x0999 }), cell(0x903)];

interface Step {
  readonly apdu: 'ENVELOPE' | 'FETCH' | 'TERMINAL RESPONSE';
  /** Type of the proactive command fetched or answered. */
  readonly type?: number;
  /** The applet's memory differs after this APDU. */
  readonly wrote: boolean;
}

const memory = (card: Uicc) =>
  toHex(card.snapshot().toolkit?.appletData.get('anti-theft') ?? new Uint8Array(0));

/**
 * Send one ENVELOPE and run the proactive session behind it as the terminal: every command answered
 * OK, except the types in `refuse`, answered '20 00' (terminal currently unable, no specific cause).
 */
function session(card: Uicc, envelope: Uint8Array, refuse: ReadonlySet<number> = new Set()) {
  const steps: Step[] = [];
  const sms: Uint8Array[] = [];
  let before = memory(card);
  const send = (apdu: Uint8Array, what: Step['apdu'], type?: number) => {
    const r = parseResponseApdu(card.transmit(apdu));
    if (!r.ok) throw new Error(r.error.message);
    const after = memory(card);
    steps.push({ apdu: what, ...(type === undefined ? {} : { type }), wrote: after !== before });
    before = after;
    return r.value;
  };
  let r = send(encodeCommandApdu({ cla: 0x80, ins: 0xc2, p1: 0, p2: 0, data: envelope, le: 0 }), 'ENVELOPE');
  expect(r.sw === 0x9000 || (r.sw & 0xff00) === 0x9100, `ENVELOPE answered ${r.sw.toString(16)}`).toBe(true);
  for (let i = 0; (r.sw & 0xff00) === 0x9100; i++) {
    expect(i).toBeLessThan(16);
    const fetched = send(encodeCommandApdu({ cla: 0x80, ins: 0x12, p1: 0, p2: 0, le: r.sw & 0xff }), 'FETCH');
    const body = fetched.data.subarray(fetched.data[1] === 0x81 ? 3 : 2);
    const tlvs = decodeComprehensionTlvList(body);
    if (!tlvs.ok) throw new Error(tlvs.error.message);
    const details = tlvs.value.find((t) => t.tag === 0x01)?.value as Uint8Array;
    const type = details[1] as number;
    steps[steps.length - 1] = { ...(steps.at(-1) as Step), type };
    if (type === PRO_CMD.SEND_SHORT_MESSAGE)
      sms.push(tlvs.value.find((t) => t.tag === 0x0b)?.value as Uint8Array);
    const result = refuse.has(type) ? Uint8Array.of(0x20, 0x00) : Uint8Array.of(0x00);
    const tr = concatBytes([
      encodeComprehensionTlv(0x01, true, details),
      encodeComprehensionTlv(0x02, true, Uint8Array.of(0x82, 0x81)),
      encodeComprehensionTlv(0x03, true, result),
    ]);
    r = send(encodeCommandApdu({ cla: 0x80, ins: 0x14, p1: 0, p2: 0, data: tr }), 'TERMINAL RESPONSE', type);
  }
  expect(r.sw).toBe(0x9000);
  const fetchedTypes = steps.filter((s) => s.apdu === 'FETCH').map((s) => s.type);
  return { steps, sms, fetchedTypes, writes: steps.filter((s) => s.wrote).map((s) => s.apdu) };
}

/** SMS-PP DOWNLOAD (TS 31.111 §7.1.1) of a one-segment command packet for the applet's TAR. */
function smsPp(commands: Command[], counter: number): Uint8Array {
  const [tpdu, more] = commandSms(encodeCommands(commands), counter);
  expect(more).toBeUndefined();
  return encodeBerTlv(
    0xd1,
    concatBytes([
      encodeComprehensionTlv(0x02, true, Uint8Array.of(0x83, 0x81)),
      encodeComprehensionTlv(0x06, false, Uint8Array.of(0x91, 0x11, 0x11)),
      encodeComprehensionTlv(0x0b, true, tpdu as Uint8Array),
    ]),
  );
}

/** EVENT DOWNLOAD location status, normal service on `c` (TS 102 223 §7.5.2). */
const locationStatus = (c: ServingCell): Uint8Array =>
  encodeBerTlv(
    0xd6,
    concatBytes([
      encodeComprehensionTlv(0x19, true, Uint8Array.of(0x03)),
      encodeComprehensionTlv(0x02, true, Uint8Array.of(0x82, 0x81)),
      encodeComprehensionTlv(0x1b, true, Uint8Array.of(0x00)),
      LocationInformationTlv.encode(c, false),
    ]),
  );

/** The PoR the card sent (the first SMS of the session), opened and verified like the platform does. */
function porOf(sms: readonly Uint8Array[]): { result: unknown; state: AntiTheftState | undefined } {
  const { packet, udh, destination } = packetOfSubmits([sms[0] as Uint8Array]);
  expect(destination).toBe(PLATFORM);
  const por = openSecured(packet, udh);
  expect(por).toMatchObject({ status: 0, authenticated: true });
  const parts = decodeBerTlvList(por.data);
  if (!parts.ok) throw new Error(parts.error.message);
  const result = ResultTlv.fromTlv(parts.value[0] as never);
  const state = parts.value[1] === undefined ? undefined : StateReportTlv.fromTlv(parts.value[1]);
  return { result: result.ok ? result.value : result.error, state: state?.ok ? state.value : undefined };
}

/** EF.IMSI as the card holds it. */
function efImsi(card: Uicc): string {
  const content = withState(antiTheftCardFile(), card).files?.['3F00/7FF0/6F07'];
  const decoded = decodeEfImsi(hex(content as string));
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.value;
}

/** What READ STATE shows: the memory without the saved IMSI. */
function visible(card: Uicc): AntiTheftState {
  const { savedImsi: _, ...rest } = appletState(card);
  return rest;
}

/** Armed on HOME (learned at the first boot, armed at the second), in a session the modem opened. */
function armed(): Uicc {
  const card = newCard();
  const first = device(card, IMEI, HOME[0]);
  first.modem.boot();
  first.modem.moveTo(HOME[1] as ServingCell);
  device(card, IMEI, HOME[0]).modem.boot();
  expect(appletState(card)).toMatchObject({ mode: 'armed', strikes: 0 });
  return card;
}

/** Armed, then blocked by three unregistered cells (cell_not_registered). */
function blocked(): Uicc {
  const card = newCard();
  const first = device(card, IMEI, HOME[0]);
  first.modem.boot();
  first.modem.moveTo(HOME[1] as ServingCell);
  const d = device(card, IMEI, HOME[0]);
  d.modem.boot();
  for (const c of FAR) d.modem.moveTo(c);
  expect(appletState(card)).toMatchObject({ mode: 'blocked', reason: 'cell_not_registered' });
  expect(efImsi(card)).toBe(QUARANTINE_IMSI);
  return card;
}

const SMS = PRO_CMD.SEND_SHORT_MESSAGE;
const REFRESH = PRO_CMD.REFRESH;

describe('issue 13: the PoR of UNBLOCK and BLOCK reports the state the command leaves', () => {
  it('UNBLOCK + READ STATE: the PoR says armed, as the memory does; one write, before the PoR; then REFRESH', () => {
    const card = blocked();
    const s = session(card, smsPp([{ op: 'unblock' }, { op: 'readState' }], 1));
    expect(s.fetchedTypes).toEqual([SMS, REFRESH]);
    expect(s.writes).toEqual(['ENVELOPE']);
    const por = porOf(s.sms);
    expect(por.result).toEqual({ executed: 2, result: 'ok' });
    expect(por.state).toMatchObject({ mode: 'armed', reason: 'none', strikes: 0, cells: HOME.map(bare) });
    expect(por.state).toEqual(visible(card));
    expect(appletState(card).savedImsi).toBeUndefined();
    expect(efImsi(card)).toBe(IMSI);
  });

  it('READ STATE before UNBLOCK in the same packet reports the state once the whole packet is done', () => {
    const card = blocked();
    const por = porOf(session(card, smsPp([{ op: 'readState' }, { op: 'unblock' }], 1)).sms);
    expect(por.state).toMatchObject({ mode: 'armed', reason: 'none' });
  });

  it('START LEARNING + UNBLOCK + READ STATE: the PoR says learning', () => {
    const card = blocked();
    const s = session(card, smsPp([{ op: 'startLearning' }, { op: 'unblock' }, { op: 'readState' }], 1));
    expect(s.writes).toEqual(['ENVELOPE']);
    expect(porOf(s.sms).state).toMatchObject({ mode: 'learning', reason: 'none', strikes: 0 });
    expect(appletState(card)).toMatchObject({ mode: 'learning' });
    expect(efImsi(card)).toBe(IMSI);
  });

  it('BLOCK + READ STATE: the PoR says blocked (remote_block); one write, before the PoR; then alert and REFRESH', () => {
    const card = armed();
    const s = session(card, smsPp([{ op: 'block' }, { op: 'readState' }], 1));
    expect(s.fetchedTypes).toEqual([SMS, SMS, REFRESH]);
    expect(s.writes).toEqual(['ENVELOPE']);
    const por = porOf(s.sms);
    expect(por.state).toMatchObject({ mode: 'blocked', reason: 'remote_block', strikes: 0 });
    expect(por.state).toEqual(visible(card));
    expect(efImsi(card)).toBe(QUARANTINE_IMSI);
    // The card's own IMSI is kept to be put back, and never shown.
    expect(appletState(card).savedImsi).toBeDefined();
    expect(por.state?.savedImsi).toBeUndefined();
  });

  it('UNBLOCK on a card that is not blocked, and BLOCK on a blocked one, change nothing and write nothing', () => {
    const a = armed();
    const before = memory(a);
    const s = session(a, smsPp([{ op: 'unblock' }, { op: 'readState' }], 1));
    expect(s.fetchedTypes).toEqual([SMS]);
    expect(s.writes).toEqual([]);
    expect(memory(a)).toBe(before);
    const b = blocked();
    const t = session(b, smsPp([{ op: 'block' }, { op: 'readState' }], 1));
    expect(t.fetchedTypes).toEqual([SMS]);
    expect(t.writes).toEqual([]);
    expect(porOf(t.sms).state).toMatchObject({ mode: 'blocked', reason: 'cell_not_registered' });
  });

  it('a REFRESH refused after UNBLOCK leaves the reported state; it is asked again at the next location status event', () => {
    const card = blocked();
    const s = session(card, smsPp([{ op: 'unblock' }, { op: 'readState' }], 1), new Set([REFRESH]));
    expect(s.fetchedTypes).toEqual([SMS, REFRESH]);
    const reported = porOf(s.sms).state;
    expect(reported).toMatchObject({ mode: 'armed', reason: 'none' });
    // Consistent: memory and EF.IMSI are what the PoR said; nothing rolled back.
    expect(visible(card)).toEqual(reported);
    expect(efImsi(card)).toBe(IMSI);
    const settled = memory(card);
    // The next location status event (a registered cell): the REFRESH again; accepted this time.
    const next = session(card, locationStatus(HOME[1] as ServingCell));
    expect(next.fetchedTypes).toEqual([REFRESH]);
    expect(next.writes).toEqual([]);
    // Not owed any more.
    expect(session(card, locationStatus(HOME[0] as ServingCell)).fetchedTypes).toEqual([]);
    expect(memory(card)).toBe(settled);
  });

  it('a REFRESH refused after BLOCK leaves the card blocked, as reported; the next remote command asks again', () => {
    const card = armed();
    const s = session(card, smsPp([{ op: 'block' }, { op: 'readState' }], 1), new Set([REFRESH]));
    expect(s.fetchedTypes).toEqual([SMS, SMS, REFRESH]);
    const reported = porOf(s.sms).state;
    expect(reported).toMatchObject({ mode: 'blocked', reason: 'remote_block' });
    expect(visible(card)).toEqual(reported);
    expect(efImsi(card)).toBe(QUARANTINE_IMSI);
    // Refused again on READ STATE: still owed, and the state does not move.
    const again = session(card, smsPp([{ op: 'readState' }], 2), new Set([REFRESH]));
    expect(again.fetchedTypes).toEqual([SMS, REFRESH]);
    expect(porOf(again.sms).state).toEqual(reported);
    const third = session(card, smsPp([{ op: 'readState' }], 3));
    expect(third.fetchedTypes).toEqual([SMS, REFRESH]);
    expect(third.writes).toEqual([]);
    expect(session(card, smsPp([{ op: 'readState' }], 4)).fetchedTypes).toEqual([SMS]);
  });

  it('a power cycle after a refused REFRESH owes nothing: the terminal reads EF.IMSI at boot', () => {
    const card = blocked();
    session(card, smsPp([{ op: 'unblock' }], 1), new Set([REFRESH]));
    const d = device(card, IMEI, HOME[0]);
    expect(d.modem.boot()).toEqual({ ok: true, value: IMSI });
    d.modem.log.length = 0;
    d.modem.moveTo(HOME[1] as ServingCell);
    expect(d.modem.log.map((e) => e.typeOfCommand)).toEqual([]);
    expect(appletState(card)).toMatchObject({ mode: 'armed', strikes: 0 });
  });
});

function bare({ accessTechnology: _, ...c }: ServingCell) {
  return c;
}
