// REPORT LOCAL INFO (tag 8A) at the card: the OTA command arrives as an ENVELOPE (SMS-PP DOWNLOAD),
// the card answers it with its PoR by SEND SHORT MESSAGE first, then the applet runs PROVIDE LOCAL
// INFORMATION (IMEI, location, access technology) and sends a secured report with what the terminal
// said. Threats: a poll that blocks a device or wears the card's memory (the report is
// informational: no strike, no write), a report the platform cannot verify, a stolen device that
// cannot be located once blocked.

import { describe, expect, it } from 'vitest';
import { profileWith } from '../../../src/card/toolkit/ts-102-223-constants.js';
import { MODEM_FACILITIES } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import {
  encodeCommands,
  LocalInfoTlv,
  ResultTlv,
  StateReportTlv,
} from '../../../src/lib/anti-theft-encoding.js';
import { concatBytes, decodeBerTlvList, encodeBerTlv } from '../../../src/lib/ber-tlv.js';
import { encodeComprehensionTlv } from '../../../src/lib/comprehension-tlv.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import { ImeiTlv, LocationInformationTlv } from '../../../src/lib/ts-102-223-tlv.js';
import { ResponseStatus } from '../../../src/lib/ts-102-225-secured-packet.js';
import { sendHex } from '../fixture.js';
import {
  appletState,
  cell,
  commandSms,
  type Device,
  device,
  IMEI,
  newCard,
  OTHER_IMEI,
  openSecured,
  PLATFORM,
  packetOfSubmits,
  persistent,
} from './fixture.js';

const HOME = cell(1);
const FAR = cell(0x777, { areaCode: 0x0999 });
const { accessTechnology: _home, ...HOME_CELL } = HOME;
const { accessTechnology: _far, ...FAR_CELL } = FAR;

function booted(): Device {
  const card = newCard();
  device(card, IMEI, HOME).modem.boot();
  const d = device(card, IMEI, HOME);
  d.modem.boot();
  return d;
}

const envelopeApdu = (tpdu: Uint8Array): string => {
  const env = encodeBerTlv(
    0xd1,
    concatBytes([
      encodeComprehensionTlv(0x02, true, Uint8Array.of(0x83, 0x81)),
      encodeComprehensionTlv(0x06, false, Uint8Array.of(0x91, 0x11, 0x11)),
      encodeComprehensionTlv(0x0b, true, tpdu),
    ]),
  );
  return `80C20000${toHex(Uint8Array.of(env.length))}${toHex(env)}`;
};

/** TERMINAL RESPONSE 'OK' to the command (number 1, type, qualifier) with extra objects. */
const tr = (type: number, qualifier: number, ...objects: Uint8Array[]): string => {
  const data = concatBytes([hex(`810301${toHex(Uint8Array.of(type, qualifier))}82028281830100`), ...objects]);
  return `80140000${toHex(Uint8Array.of(data.length))}${toHex(data)}`;
};

const fetchOf = (sw: string): string => {
  expect(sw).toMatch(/^91[0-9A-F]{2}$/);
  return `80120000${sw.slice(2)}`;
};

/** The SMS-SUBMIT TPDU inside a fetched SEND SHORT MESSAGE ('D0 … 81 03 01 13 00 … 8B L tpdu'). */
function submitOf(fetched: string): Uint8Array {
  const [data, sw] = fetched.split(' ');
  expect(sw).toBe('9000');
  const bytes = hex(data as string);
  expect(toHex(bytes.subarray(2, 7)).toUpperCase()).toBe('8103011300');
  const at = toHex(bytes)
    .toUpperCase()
    .indexOf('8B', 2 * 11);
  const tpdu = bytes.subarray(at / 2 + 2);
  if (bytes[at / 2 + 1] !== tpdu.length) throw new Error('8B is not the last object');
  return tpdu;
}

function opened(submits: Uint8Array[]) {
  const { packet, udh, destination } = packetOfSubmits(submits);
  const por = openSecured(packet, udh);
  const parts = decodeBerTlvList(por.data);
  if (!parts.ok) throw new Error(parts.error.message);
  return { por, parts: parts.value, destination };
}

describe('REPORT LOCAL INFO on the card', () => {
  it('APDU by APDU: ENVELOPE → PoR by SEND SHORT MESSAGE → PLI IMEI, location, access technology → secured report', () => {
    const d = booted();
    const memory = appletState(d.card);
    const [tpdu] = commandSms(encodeCommands([{ op: 'reportLocalInfo' }]), 1);
    let sw = sendHex(d.card, envelopeApdu(tpdu as Uint8Array));

    // The PoR goes out first: the platform hears the command arrived before the terminal is asked.
    const porSubmit = submitOf(sendHex(d.card, fetchOf(sw)));
    sw = sendHex(d.card, tr(0x13, 0x00));
    const por = opened([porSubmit]);
    expect(por.destination).toBe(PLATFORM);
    expect(por.por).toMatchObject({ status: ResponseStatus.POR_OK, counter: 1, authenticated: true });
    expect(ResultTlv.fromTlv(por.parts[0] as never)).toEqual({
      ok: true,
      value: { executed: 1, result: 'ok' },
    });
    expect(por.parts).toHaveLength(1);

    // PROVIDE LOCAL INFORMATION 01 (IMEI), bytes as in mfa-stk.md B1.4.
    expect(sendHex(d.card, fetchOf(sw))).toBe('D009810301260182028182 9000');
    sw = sendHex(d.card, tr(0x26, 0x01, ImeiTlv.encode(IMEI)));
    // PROVIDE LOCAL INFORMATION 00 (location information).
    expect(sendHex(d.card, fetchOf(sw))).toBe('D009810301260082028182 9000');
    sw = sendHex(d.card, tr(0x26, 0x00, LocationInformationTlv.encode(FAR_CELL)));
    // PROVIDE LOCAL INFORMATION 06 (access technology): E-UTRAN.
    expect(sendHex(d.card, fetchOf(sw))).toBe('D009810301260682028182 9000');
    sw = sendHex(d.card, tr(0x26, 0x06, hex('BF0108')));
    // SEND SHORT MESSAGE: the report, secured under the report key set with the report counter.
    const reportSubmit = submitOf(sendHex(d.card, fetchOf(sw)));
    expect(sendHex(d.card, tr(0x13, 0x00))).toBe('9000');

    const report = opened([reportSubmit]);
    expect(report.destination).toBe(PLATFORM);
    expect(report.por).toMatchObject({ status: 0, authenticated: true });
    expect(report.parts).toHaveLength(1);
    expect(LocalInfoTlv.fromTlv(report.parts[0] as never)).toEqual({
      ok: true,
      value: { imei: IMEI, cell: FAR_CELL, accessTechnology: 'e_utran' },
    });
    // Informational: an unregistered cell in the answer adds no strike and writes nothing.
    expect(appletState(d.card)).toEqual(memory);
  });

  it('an armed device on an unregistered cell: the report shows it, strikes and memory stay as they were', () => {
    const d = booted();
    d.modem.moveTo(FAR);
    const before = appletState(d.card);
    expect(before).toMatchObject({ mode: 'armed', strikes: 1 });
    const file = persistent(d.card);
    for (const tpdu of commandSms(encodeCommands([{ op: 'reportLocalInfo' }]), 1)) d.modem.deliverSms(tpdu);
    expect(d.sms).toHaveLength(2);
    const [porSms, reportSms] = d.sms as [Uint8Array, Uint8Array];
    expect(ResultTlv.fromTlv(opened([porSms]).parts[0] as never)).toMatchObject({ value: { result: 'ok' } });
    expect(LocalInfoTlv.fromTlv(opened([reportSms]).parts[0] as never)).toEqual({
      ok: true,
      value: { imei: IMEI, cell: FAR_CELL, accessTechnology: 'e_utran' },
    });
    expect(appletState(d.card)).toEqual(before);
    // Only the OTA counter and the report counter moved.
    const changed = JSON.parse(persistent(d.card));
    const was = JSON.parse(file);
    expect(changed.files).toEqual(was.files);
    expect(changed.toolkit.appletData).toEqual(was.toolkit.appletData);
  });

  it('a blocked SIM in another device still reports where it is, with READ STATE in the same packet', () => {
    const d = booted();
    const thief = d.moveCardTo(OTHER_IMEI, FAR);
    thief.modem.boot();
    expect(appletState(d.card)).toMatchObject({ mode: 'blocked', reason: 'imei_mismatch' });
    thief.sms.length = 0;
    for (const tpdu of commandSms(encodeCommands([{ op: 'readState' }, { op: 'reportLocalInfo' }]), 1))
      thief.modem.deliverSms(tpdu);
    expect(thief.sms).toHaveLength(2);
    const [porSms, reportSms] = thief.sms as [Uint8Array, Uint8Array];
    const por = opened([porSms]);
    expect(StateReportTlv.fromTlv(por.parts[1] as never)).toMatchObject({ value: { mode: 'blocked' } });
    expect(LocalInfoTlv.fromTlv(opened([reportSms]).parts[0] as never)).toEqual({
      ok: true,
      value: { imei: OTHER_IMEI, cell: FAR_CELL, accessTechnology: 'e_utran' },
    });
  });

  it('limited service: the report has the IMEI and access technology and no cell', () => {
    const d = booted();
    d.modem.moveTo(HOME, 'limited_service');
    d.sms.length = 0;
    for (const tpdu of commandSms(encodeCommands([{ op: 'reportLocalInfo' }]), 1)) d.modem.deliverSms(tpdu);
    const [, reportSms] = d.sms as [Uint8Array, Uint8Array];
    expect(LocalInfoTlv.fromTlv(opened([reportSms]).parts[0] as never)).toEqual({
      ok: true,
      value: { imei: IMEI, accessTechnology: 'e_utran' },
    });
    expect(HOME_CELL.cellIdentity).toBe('0000001F');
  });

  it('a terminal without PROVIDE LOCAL INFORMATION gets the PoR and no report', () => {
    const card = newCard();
    const facilities = MODEM_FACILITIES.filter((f) => f !== 'PROVIDE_LOCAL_INFORMATION');
    const profile = toHex(profileWith(facilities));
    card.reset();
    let sw = sendHex(card, `80100000${toHex(Uint8Array.of(profile.length / 2))}${profile}`);
    // Serve the boot (SET UP EVENT LIST only: no PLI, no judgement).
    while (sw.startsWith('91')) {
      const fetched = sendHex(card, fetchOf(sw)).split(' ')[0] as string;
      const b = hex(fetched);
      sw = sendHex(card, tr(b[5] as number, b[6] as number));
    }
    const [tpdu] = commandSms(encodeCommands([{ op: 'reportLocalInfo' }]), 1);
    sw = sendHex(card, envelopeApdu(tpdu as Uint8Array));
    const porSubmit = submitOf(sendHex(card, fetchOf(sw)));
    expect(sendHex(card, tr(0x13, 0x00))).toBe('9000');
    expect(ResultTlv.fromTlv(opened([porSubmit]).parts[0] as never)).toMatchObject({
      value: { result: 'ok' },
    });
  });
});
