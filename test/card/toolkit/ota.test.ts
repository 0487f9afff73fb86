// Remote management at the card level, end to end: the platform-side helpers (src/lib) secure a
// command packet, it travels as SMS-DELIVER in an ENVELOPE (SMS-PP DOWNLOAD) through the modem, the
// card opens it with its key set and counter, dispatches it by TAR (the anti-theft applet, or RFM),
// and the PoR comes back by SEND SHORT MESSAGE (SPI2 b6) or in the envelope response; the platform
// opens and verifies it.

import { describe, expect, it } from 'vitest';
import { REFRESH } from '../../../src/card/toolkit/ts-102-223-constants.js';
import {
  type Command,
  encodeCommands,
  ResultTlv,
  StateReportTlv,
} from '../../../src/lib/anti-theft-encoding.js';
import { decodeBerTlvList } from '../../../src/lib/ber-tlv.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import { encodeEfImsi } from '../../../src/lib/identities.js';
import { decodeSpi, ResponseStatus } from '../../../src/lib/ts-102-225-secured-packet.js';
import { commandScript, decodeResponseScript } from '../../../src/lib/ts-102-226-remote-command.js';
import { IMSI } from '../fixture.js';
import {
  appletState,
  cell,
  commandSms,
  type Device,
  device,
  IMEI,
  KEYS,
  newCard,
  OTHER_IMEI,
  openSecured,
  packetOfReport,
  packetOfSubmits,
  persistent,
  QUARANTINE_IMSI,
  RFM_TAR,
  SPI_REPORT,
} from './fixture.js';

const HOME = cell(1);
const FAR = cell(0x777, { areaCode: 0x0999 });

function booted(): Device {
  const card = newCard();
  device(card, IMEI, HOME).modem.boot();
  const d = device(card, IMEI, HOME);
  d.modem.boot();
  return d;
}

/** Send commands as one secured packet; return the PoR, opened and verified, and its decoded parts. */
function remote(d: Device, commands: Command[], counter: number) {
  d.sms.length = 0;
  for (const tpdu of commandSms(encodeCommands(commands), counter)) {
    const r = d.modem.deliverSms(tpdu);
    expect(r.ok).toBe(true);
  }
  const { packet, udh } = packetOfSubmits(d.sms);
  const por = openSecured(packet, udh);
  const parts = decodeBerTlvList(por.data);
  if (!parts.ok) throw new Error(parts.error.message);
  const result = ResultTlv.fromTlv(parts.value[0] as never);
  const state = parts.value[1] === undefined ? undefined : StateReportTlv.fromTlv(parts.value[1]);
  return {
    por,
    result: result.ok ? result.value : undefined,
    state: state?.ok ? state.value : undefined,
  };
}

describe('OTA to the anti-theft applet', () => {
  it('READ STATE: the PoR comes back by SMS-SUBMIT, CC-verified and deciphered with the key set', () => {
    const d = booted();
    const { por, result, state } = remote(d, [{ op: 'readState' }], 1);
    expect(por).toMatchObject({ status: ResponseStatus.POR_OK, counter: 1, authenticated: true });
    expect(result).toEqual({ executed: 1, result: 'ok' });
    expect(state).toMatchObject({ mode: 'armed', imeis: [IMEI], strikes: 0 });
    expect(state?.savedImsi).toBeUndefined();
  });

  it('the PoR goes into the envelope response when SPI2 does not ask for SMS-SUBMIT', () => {
    const d = booted();
    const [tpdu] = commandSms(encodeCommands([{ op: 'readState' }]), 1, { spi: SPI_REPORT });
    const r = d.modem.deliverSms(tpdu as Uint8Array);
    if (!r.ok) throw new Error(r.error.message);
    expect(d.sms).toEqual([]);
    const { packet, udh } = packetOfReport(r.value);
    expect(toHex(udh)).toBe('027100');
    expect(openSecured(packet, udh)).toMatchObject({ status: 0, authenticated: true });
  });

  it('the operator adds a cell and unblocks: EF.IMSI is put back, REFRESH, and the new cell is accepted', () => {
    const d = booted();
    for (const c of [FAR, cell(0x778), cell(0x779)]) d.modem.moveTo(c);
    expect(d.modem.imsi).toBe(QUARANTINE_IMSI);
    d.refreshes.length = 0;
    // The device is now on cell 779: the operator registers it.
    const { result } = remote(d, [{ op: 'addCell', cell: cell(0x779) }, { op: 'unblock' }], 1);
    expect(result).toEqual({ executed: 2, result: 'ok' });
    expect(d.refreshes).toEqual([{ qualifier: REFRESH.NAA_INIT_FCN, imsi: IMSI }]);
    expect(d.modem.imsi).toBe(IMSI);
    expect(appletState(d.card)).toMatchObject({ mode: 'armed', reason: 'none', strikes: 0 });
    expect(appletState(d.card).savedImsi).toBeUndefined();
    // After the REFRESH the terminal registered again and reported cell 779: accepted.
    d.modem.moveTo(HOME);
    d.modem.moveTo(cell(0x779));
    d.modem.moveTo(HOME);
    expect(appletState(d.card)).toMatchObject({ mode: 'armed', strikes: 0 });
  });

  it('adds and removes IMEIs (a second device), reports a full list and unknown entries', () => {
    const d = booted();
    expect(remote(d, [{ op: 'addImei', imei: OTHER_IMEI }], 1).result).toEqual({ executed: 1, result: 'ok' });
    const other = d.moveCardTo(OTHER_IMEI, HOME);
    expect(other.modem.boot()).toEqual({ ok: true, value: IMSI });
    const full = remote(
      other,
      ['358408000000035', '358408000000043', '358408000000050'].map(
        (imei) => ({ op: 'addImei', imei }) as Command,
      ),
      2,
    );
    expect(full.result).toEqual({ executed: 3, result: 'list_full' });
    expect(appletState(d.card).imeis).toHaveLength(4);
    expect(remote(other, [{ op: 'removeImei', imei: '490154203237518' }], 3).result).toEqual({
      executed: 1,
      result: 'not_found',
    });
    expect(remote(other, [{ op: 'removeImei', imei: IMEI }], 4).result?.result).toBe('ok');
    expect(appletState(d.card).imeis).not.toContain(IMEI);
  });

  it('START LEARNING after a device replacement: the device in use and its cell are the registered ones', () => {
    const d = booted();
    const replaced = d.moveCardTo(OTHER_IMEI, FAR);
    replaced.modem.boot();
    expect(appletState(d.card).mode).toBe('blocked');
    remote(replaced, [{ op: 'startLearning' }, { op: 'unblock' }], 1);
    expect(appletState(d.card)).toMatchObject({ mode: 'learning', imeis: [OTHER_IMEI] });
    const next = d.moveCardTo(OTHER_IMEI, FAR);
    expect(next.modem.boot()).toEqual({ ok: true, value: IMSI });
    expect(appletState(d.card)).toMatchObject({ mode: 'armed', imeis: [OTHER_IMEI] });
  });

  it('BLOCK from the platform blocks at once and alerts; SET ALERT DESTINATION and SET TOLERANCE are kept', () => {
    const d = booted();
    remote(
      d,
      [
        { op: 'setAlertDestination', address: { ton: 1, npi: 1, number: '818000000' } },
        { op: 'setTolerance', tolerance: { strikes: 5, windowSeconds: 120 } },
      ],
      1,
    );
    d.sms.length = 0;
    for (const tpdu of commandSms(encodeCommands([{ op: 'block' }]), 2)) d.modem.deliverSms(tpdu);
    expect(appletState(d.card)).toMatchObject({
      mode: 'blocked',
      reason: 'remote_block',
      tolerance: { strikes: 5, windowSeconds: 120 },
      alertDestination: { number: '818000000' },
    });
    expect(d.modem.imsi).toBe(QUARANTINE_IMSI);
    // The PoR to the platform's address, the alert to the configured destination.
    expect(d.sms).toHaveLength(2);
  });

  it('a command longer than one SMS is reassembled from its concatenated segments', () => {
    const d = booted();
    const cells = Array.from({ length: 9 }, (_, i) => ({ op: 'addCell', cell: cell(0x100 + i) }) as Command);
    const data = encodeCommands([...cells, { op: 'readState' }]);
    const segments = commandSms(data, 1);
    expect(segments.length).toBeGreaterThan(1);
    // Delivered out of order.
    for (const tpdu of [...segments].reverse()) expect(d.modem.deliverSms(tpdu).ok).toBe(true);
    const { packet, udh } = packetOfSubmits(d.sms);
    const por = openSecured(packet, udh);
    expect(por.status).toBe(0);
    expect(appletState(d.card).cells).toHaveLength(10);
  });

  it('a malformed command sequence changes nothing and says which command failed', () => {
    const d = booted();
    const before = persistent(d.card);
    d.sms.length = 0;
    for (const tpdu of commandSms(hex('8000FF0100'), 1)) d.modem.deliverSms(tpdu);
    const por = openSecured(packetOfSubmits(d.sms).packet);
    expect(toHex(por.data)).toBe('90020201');
    // Only the counter moved (the packet itself was authentic).
    const after = JSON.parse(persistent(d.card));
    expect(after.toolkit.counters).toEqual({ '1': 1 });
    expect({ ...after, toolkit: { ...after.toolkit, counters: {} } }).toEqual({
      ...JSON.parse(before),
      toolkit: { ...JSON.parse(before).toolkit, counters: {} },
    });
  });
});

describe('remote file management (TS 102 226) at TAR B00000', () => {
  it('SELECT, READ BINARY and UPDATE BINARY run as a script and answer with R-APDUs', () => {
    const d = booted();
    const script = commandScript([
      hex('00A40804047FF06F07'),
      hex('00B0000009'),
      hex('00A40804047FF06F7B'),
      hex('00D600000362F210'),
      hex('00B0000003'),
    ]);
    for (const tpdu of commandSms(script, 1, { tar: RFM_TAR })) d.modem.deliverSms(tpdu);
    const por = openSecured(packetOfSubmits(d.sms).packet);
    const response = decodeResponseScript(por.data);
    if (!response.ok) throw new Error(response.error.message);
    const rApdus = response.value.items.filter((i) => i.type === 'r-apdu');
    expect(rApdus.map((r) => toHex(r.data) + toHex(r.statusWord))).toEqual([
      '9000',
      `${toHex(encodeEfImsi(IMSI))}9000`,
      '9000',
      '9000',
      '62f2109000',
    ]);
  });

  it('stops at the first failing command', () => {
    const d = booted();
    const script = commandScript([hex('00A40804022FE2'), hex('00D600000100'), hex('00B0000001')]);
    for (const tpdu of commandSms(script, 1, { tar: RFM_TAR })) d.modem.deliverSms(tpdu);
    const response = decodeResponseScript(openSecured(packetOfSubmits(d.sms).packet).data);
    if (!response.ok) throw new Error(response.error.message);
    expect(response.value.items.filter((i) => i.type === 'r-apdu').map((r) => toHex(r.statusWord))).toEqual([
      '9000',
      '6982',
    ]);
  });
});

// Threat: an attacker who can send SMS to the device (or replay a captured OTA SMS) tries to unblock a
// stolen device, change its registrations, or probe the card. Every refusal answers the TS 102 225
// status it calls for, and leaves the card's persistent state byte for byte as it was.
describe('refused OTA packets change nothing on the card', () => {
  function blocked(): Device {
    const d = booted();
    remote(d, [{ op: 'readState' }], 5);
    d.moveCardTo(OTHER_IMEI, HOME).modem.boot();
    expect(appletState(d.card).mode).toBe('blocked');
    return device(d.card, OTHER_IMEI, HOME);
  }

  /** Deliver, then read the PoR without security (refusals before authentication are unsecured). */
  function refused(d: Device, tpdus: Uint8Array[], secured = false) {
    const before = persistent(d.card);
    const version = d.card.version;
    d.sms.length = 0;
    for (const t of tpdus) d.modem.deliverSms(t);
    expect(persistent(d.card)).toBe(before);
    expect(d.card.version).toBe(version);
    expect(appletState(d.card).mode).toBe('blocked');
    const { packet } = packetOfSubmits(d.sms);
    if (secured) return openSecured(packet);
    return { status: packet[12] as number, tar: toHex(packet.subarray(3, 6)) };
  }

  const unblock = encodeCommands([{ op: 'unblock' }]);

  it('a replayed packet (same counter) gets CNTR low (02)', () => {
    const d = blocked();
    expect(refused(d, commandSms(unblock, 5), true)).toMatchObject({ status: ResponseStatus.COUNTER_LOW });
    expect(refused(d, commandSms(unblock, 4), true)).toMatchObject({ status: ResponseStatus.COUNTER_LOW });
  });

  it('a wrong MAC gets RC/CC/DS failed (01), unsecured', () => {
    const d = blocked();
    const [tpdu] = commandSms(unblock, 6);
    const forged = (tpdu as Uint8Array).slice();
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 0x01;
    expect(refused(d, [forged]).status).toBe(ResponseStatus.CHECKSUM_FAILED);
  });

  it('a wrong key (right index, other key) gets 01; an unknown key index gets 06', () => {
    const d = blocked();
    const other = {
      kic: { ...KEYS.kic, key: new Uint8Array(16).fill(7) },
      kid: { ...KEYS.kid, key: new Uint8Array(16).fill(9) },
    };
    expect(refused(d, commandSms(unblock, 6, { keys: other })).status).toBe(ResponseStatus.CHECKSUM_FAILED);
    expect(refused(d, commandSms(unblock, 6, { keys: other, kic: 0x22, kid: 0x22 })).status).toBe(
      ResponseStatus.UNIDENTIFIED_SECURITY_ERROR,
    );
  });

  it('an unknown TAR gets TAR unknown (09)', () => {
    const d = blocked();
    expect(refused(d, commandSms(unblock, 6, { tar: hex('ABCDEF') }))).toEqual({
      status: ResponseStatus.TAR_UNKNOWN,
      tar: 'abcdef',
    });
  });

  it('a packet below the minimum security level (no counter) gets 0A', () => {
    const d = blocked();
    const spi = decodeSpi(hex('0639'));
    if (!spi.ok) throw new Error('spi');
    expect(refused(d, commandSms(unblock, 6, { spi: spi.value })).status).toBe(
      ResponseStatus.INSUFFICIENT_SECURITY_LEVEL,
    );
  });

  it('the counter is stored only when it changes, and the next authentic packet still works', () => {
    const d = blocked();
    const before = persistent(d.card);
    expect(JSON.parse(before).toolkit.counters).toEqual({ '1': 5 });
    d.sms.length = 0;
    for (const t of commandSms(unblock, 9)) d.modem.deliverSms(t);
    expect(JSON.parse(persistent(d.card)).toolkit.counters).toEqual({ '1': 9 });
    expect(appletState(d.card).mode).toBe('armed');
  });
});
