// The anti-theft applet on the software card, driven by the modem through APDUs only: first boot
// registers the IMEI and the serving cell, later boots compare; an IMEI swap and a far cell block by
// swapping EF.IMSI to the quarantine IMSI + REFRESH, with an SCP80-secured alert SMS; reselection
// among registered cells never blocks; tolerance by strikes and by a time window.

import { describe, expect, it } from 'vitest';
import { Terminal } from '../../../src/card/terminal.js';
import { profileWith, REFRESH } from '../../../src/card/toolkit/ts-102-223-constants.js';
import { MODEM_FACILITIES, ToolkitModem } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import { AlertTlv } from '../../../src/lib/anti-theft-encoding.js';
import { IMSI } from '../fixture.js';
import {
  appletState,
  cell,
  device,
  IMEI,
  newCard,
  OTHER_IMEI,
  openSecured,
  PLATFORM,
  packetOfSubmits,
  QUARANTINE_IMSI,
} from './fixture.js';

const HOME = [cell(1), cell(2), cell(3)];
const FAR = cell(0x777, { areaCode: 0x0999 });

function alertOf(sms: readonly Uint8Array[]) {
  const { packet, udh, destination } = packetOfSubmits(sms);
  const opened = openSecured(packet, udh);
  const alert = AlertTlv.decode(opened.data);
  if (!alert.ok) throw new Error(alert.error.message);
  return { alert: alert.value, destination, counter: opened.counter, authenticated: opened.authenticated };
}

/** A card that learned HOME during its first boot and was armed by the second. */
function armedDevice() {
  const card = newCard();
  const first = device(card, IMEI, HOME[0]);
  expect(first.modem.boot()).toEqual({ ok: true, value: IMSI });
  first.modem.moveTo(HOME[1] as never);
  first.modem.moveTo(HOME[2] as never);
  first.modem.moveTo(HOME[0] as never);
  const d = device(card, IMEI, HOME[0]);
  expect(d.modem.boot().ok).toBe(true);
  expect(appletState(card)).toMatchObject({
    mode: 'armed',
    imeis: [IMEI],
    cells: HOME.map(({ accessTechnology: _, ...c }) => c),
  });
  return d;
}

describe('anti-theft applet: boot, register, compare', () => {
  it('first boot registers the IMEI (PROVIDE LOCAL INFORMATION) and the serving cell, in learning mode', () => {
    const card = newCard();
    const d = device(card, IMEI, HOME[0]);
    expect(d.modem.boot()).toEqual({ ok: true, value: IMSI });
    const { accessTechnology: _, ...home } = HOME[0] as (typeof HOME)[0];
    expect(appletState(card)).toMatchObject({ mode: 'learning', imeis: [IMEI], cells: [home], strikes: 0 });
    expect(d.modem.eventList).toEqual([0x03]);
    expect(d.modem.timers.get(1)).toBe(3600);
    expect(d.sms).toEqual([]);
  });

  it('the next boot in the same device arms it; later boots write nothing', () => {
    const d = armedDevice();
    const version = d.card.version;
    const again = device(d.card, IMEI, HOME[1]);
    expect(again.modem.boot()).toEqual({ ok: true, value: IMSI });
    expect(d.card.version).toBe(version);
    expect(appletState(d.card).mode).toBe('armed');
  });

  it('the learning period ends when its timer expires', () => {
    const card = newCard();
    const d = device(card, IMEI, HOME[0]);
    d.modem.boot();
    d.modem.advance(3599);
    expect(appletState(card).mode).toBe('learning');
    d.modem.advance(1);
    expect(appletState(card).mode).toBe('armed');
  });

  it('a SIM moved into another device is blocked at boot: quarantine IMSI, REFRESH, secured alert', () => {
    const d = armedDevice();
    const thief = d.moveCardTo(OTHER_IMEI, HOME[0] as never);
    const booted = thief.modem.boot();
    expect(booted.ok).toBe(true);
    expect(thief.modem.imsi).toBe(QUARANTINE_IMSI);
    expect(thief.refreshes).toEqual([{ qualifier: REFRESH.NAA_INIT_FCN, imsi: QUARANTINE_IMSI }]);
    expect(appletState(d.card)).toMatchObject({ mode: 'blocked', reason: 'imei_mismatch' });
    const { alert, destination, authenticated } = alertOf(thief.sms);
    expect(destination).toBe(PLATFORM);
    expect(authenticated).toBe(true);
    expect(alert).toEqual({ reason: 'imei_mismatch', imei: OTHER_IMEI });
    // Location and keys are invalidated, so the terminal cannot resume the old registration.
    const files = d.card.snapshot().files;
    expect(Buffer.from(files.get('3F00/7FF0/6F7E') as Uint8Array).toString('hex')).toMatch(
      /^ffffffff.{12}01$/,
    );
    expect((files.get('3F00/7FF0/6F08') as Uint8Array)[0]).toBe(0x07);
    // Later boots stay blocked and send nothing more.
    const again = d.moveCardTo(OTHER_IMEI, HOME[0] as never);
    expect(again.modem.boot()).toEqual({ ok: true, value: QUARANTINE_IMSI });
    expect(again.sms).toEqual([]);
  });

  it('an alert that cannot go out at boot (no service yet) is sent once the terminal has service', () => {
    const d = armedDevice();
    const card = d.card;
    card.reset();
    const sms: Uint8Array[] = [];
    const thief = new ToolkitModem(new Terminal((apdu) => card.transmit(apdu)), {
      imei: OTHER_IMEI,
      cell: FAR,
      service: 'no_service',
      onSms: (tpdu) => sms.push(tpdu),
    });
    expect(thief.boot()).toEqual({ ok: true, value: QUARANTINE_IMSI });
    expect(sms).toEqual([]);
    expect(appletState(card)).toMatchObject({ mode: 'blocked', pendingAlert: 'imei_mismatch' });
    // Registered (with the quarantine identity, which may use SMS): the location event brings it out.
    thief.moveTo(FAR, 'normal_service');
    expect(alertOf(sms).alert).toMatchObject({ reason: 'imei_mismatch', imei: OTHER_IMEI });
    expect(appletState(card).pendingAlert).toBeUndefined();
    thief.moveTo(HOME[0] as never);
    expect(sms).toHaveLength(1);
  });

  it('a device taken to an unregistered cell is blocked after the tolerated strikes (3)', () => {
    const d = armedDevice();
    d.modem.moveTo(FAR);
    d.modem.moveTo(cell(0x778, { areaCode: 0x0999 }));
    expect(appletState(d.card)).toMatchObject({ mode: 'armed', strikes: 2 });
    d.modem.moveTo(cell(0x779, { areaCode: 0x0999 }));
    expect(appletState(d.card)).toMatchObject({ mode: 'blocked', reason: 'cell_not_registered' });
    expect(d.modem.imsi).toBe(QUARANTINE_IMSI);
    const { alert, counter } = alertOf(d.sms);
    expect(alert.reason).toBe('cell_not_registered');
    expect(alert.imei).toBe(IMEI);
    expect(alert.cell).toMatchObject({ areaCode: 0x0999, cellIdentity: '0000779F' });
    expect(counter).toBe(1);
  });

  it('reselection among registered cells never blocks and never writes', () => {
    const d = armedDevice();
    const version = d.card.version;
    for (let i = 0; i < 300; i++) {
      d.modem.moveTo(HOME[i % 3] as never);
      if (i % 7 === 0) d.modem.moveTo(HOME[(i + 1) % 3] as never, 'no_service');
    }
    expect(appletState(d.card)).toMatchObject({ mode: 'armed', strikes: 0 });
    expect(d.card.version).toBe(version);
    expect(d.sms).toEqual([]);
  });

  it('GERAN, UTRAN and E-UTRAN cells (7 and 9 octets) are registered as distinct cells', () => {
    const geran = {
      mcc: '001',
      mnc: '01',
      areaCode: 1,
      cellIdentity: '0001',
      accessTechnology: 'gsm',
    } as const;
    const utran = {
      mcc: '001',
      mnc: '01',
      areaCode: 1,
      cellIdentity: '00010002',
      accessTechnology: 'utran',
    } as const;
    const card = newCard();
    const first = device(card, IMEI, geran);
    first.modem.boot();
    first.modem.moveTo(utran);
    first.modem.moveTo(HOME[0] as never);
    expect(appletState(card).cells.map((c) => c.cellIdentity)).toEqual(['0001', '00010002', '0000001F']);
    const d = device(card, IMEI, utran);
    d.modem.boot();
    for (const c of [geran, HOME[0], utran, geran, utran]) d.modem.moveTo(c as never);
    expect(appletState(card)).toMatchObject({ mode: 'armed', strikes: 0 });
  });

  it('tolerance: unregistered cells interrupted by a registered one start counting again', () => {
    const d = armedDevice();
    for (let i = 0; i < 20; i++) {
      d.modem.moveTo(FAR);
      d.modem.moveTo(cell(0x800 + i));
      d.modem.moveTo(HOME[i % 3] as never);
    }
    expect(appletState(d.card)).toMatchObject({ mode: 'armed', strikes: 0 });
  });

  it('tolerance by time window: an unregistered cell for the whole window blocks', () => {
    const card = newCard({ tolerance: { strikes: 50, windowSeconds: 600 } });
    device(card, IMEI, HOME[0]).modem.boot();
    const d = device(card, IMEI, HOME[0]);
    d.modem.boot();
    d.modem.moveTo(FAR);
    expect(d.modem.timers.get(2)).toBe(600);
    d.modem.advance(599);
    expect(appletState(card).mode).toBe('armed');
    d.modem.advance(1);
    expect(appletState(card)).toMatchObject({ mode: 'blocked', reason: 'cell_not_registered' });
  });

  it('tolerance by time window: a power cycle on the unregistered cell starts the window again', () => {
    const card = newCard({ tolerance: { strikes: 50, windowSeconds: 600 } });
    device(card, IMEI, HOME[0]).modem.boot();
    device(card, IMEI, HOME[0]).modem.boot();
    const d = device(card, IMEI, HOME[0]);
    d.modem.boot();
    d.modem.moveTo(FAR);
    d.modem.advance(300);
    const rebooted = device(card, IMEI, FAR);
    rebooted.modem.boot();
    expect(rebooted.modem.timers.get(2)).toBe(600);
    rebooted.modem.advance(600);
    expect(appletState(card)).toMatchObject({ mode: 'blocked', reason: 'cell_not_registered' });
  });

  it('tolerance by time window: back on a registered cell before the window ends, nothing happens', () => {
    const card = newCard({ tolerance: { strikes: 50, windowSeconds: 600 } });
    device(card, IMEI, HOME[0]).modem.boot();
    const d = device(card, IMEI, HOME[0]);
    d.modem.boot();
    d.modem.moveTo(FAR);
    d.modem.moveTo(HOME[0] as never);
    d.modem.advance(600);
    expect(appletState(card)).toMatchObject({ mode: 'armed', strikes: 0 });
  });

  it('a terminal without PROVIDE LOCAL INFORMATION in its profile gets no checks, and nothing is written', () => {
    const card = newCard();
    card.reset();
    const modem = new ToolkitModem(new Terminal((apdu) => card.transmit(apdu)), {
      imei: IMEI,
      cell: HOME[0] as never,
      profile: profileWith(MODEM_FACILITIES.filter((f) => f !== 'PROVIDE_LOCAL_INFORMATION')),
    });
    expect(modem.boot()).toEqual({ ok: true, value: IMSI });
    expect(card.snapshot().toolkit?.appletData.size).toBe(0);
  });
});
