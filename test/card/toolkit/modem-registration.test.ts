// ToolkitModem.registered: the network's answer to the terminal's registration, reported to the card
// as a LOCATION STATUS event (TS 102 223 §7.5.2) when it differs from what the card was last told
// since power on. Threats: an eUICC never learning that its new profile was refused (no rollback, the
// device stuck without service), or learning nothing after a REFRESH (UICC reset) because the modem
// thought it had already said "normal service" before the reset (no notification ever sent).

import { describe, expect, it } from 'vitest';
import { NOTIFICATION_TYPE } from '../../../src/card/euicc/euicc-state.js';
import { ISD_P_LOAD_FILE_AID, ISD_P_MODULE_AID } from '../../../src/card/euicc/sgp-02-annex-h.js';
import { Terminal } from '../../../src/card/terminal.js';
import { type ServiceState, ToolkitModem } from '../../../src/card/toolkit/ts-102-223-terminal.js';
import type { Uicc } from '../../../src/card/uicc.js';
import { createIsdpApdu, enableProfileApdu } from '../../../src/lib/sgp-02-es5.js';
import { es5, euiccOf, moSms, newEuicc, SECOND, SECOND_PROFILE } from '../euicc/fixture.js';
import { fixtureCard, IMSI } from '../fixture.js';
import { cell, type Device, IMEI } from './fixture.js';

/** A device around `card` whose terminal counts the LOCATION STATUS envelopes (ENVELOPE 'D6' … '19 01 03'). */
function counted(card: Uicc): Device & { locationEvents: ServiceState[] } {
  const sms: Uint8Array[] = [];
  const refreshes: { qualifier: number; imsi: string | undefined }[] = [];
  const locationEvents: ServiceState[] = [];
  card.reset();
  const modem = new ToolkitModem(
    new Terminal((apdu) => {
      if (apdu[1] === 0xc2 && apdu[5] === 0xd6) {
        // D6 L {99 01 03} {82 02 82 81} {9B 01 status} …
        const status = apdu[14] === 0x9b ? apdu[16] : undefined;
        locationEvents.push(
          status === 0 ? 'normal_service' : status === 1 ? 'limited_service' : 'no_service',
        );
      }
      return card.transmit(apdu);
    }),
    {
      imei: IMEI,
      cell: cell(1),
      reset: () => card.reset(),
      onSms: (tpdu) => sms.push(tpdu),
      onRefresh: (e) => refreshes.push({ qualifier: e.qualifier, imsi: e.imsi }),
    },
  );
  const booted = modem.boot();
  if (!booted.ok) throw new Error(booted.error.message);
  return { card, modem, sms, refreshes, locationEvents, moveCardTo: () => expect.fail('not here') };
}

describe('ToolkitModem.registered', () => {
  it('reports a registration once per service state, again after a power cycle', () => {
    const d = counted(newEuicc());
    expect(d.modem.registered('normal_service')).toEqual({ ok: true, value: true });
    expect(d.modem.registered('normal_service')).toEqual({ ok: true, value: true });
    expect(d.locationEvents).toEqual(['normal_service']);
    // The first attach ever: the eUICC declares itself (type 01) on that report.
    expect(moSms(d).notifications.map((n) => n.type)).toEqual([NOTIFICATION_TYPE.EUICC_DECLARATION]);
    d.modem.registered('limited_service');
    d.modem.registered('normal_service');
    expect(d.locationEvents).toEqual(['normal_service', 'limited_service', 'normal_service']);
    // A power cycle: the card has been told nothing since, the same state goes out again.
    d.card.reset();
    d.modem.boot();
    d.modem.registered('normal_service');
    expect(d.locationEvents).toHaveLength(4);
  });

  it('a card that asked for no location events (no toolkit) is sent none', () => {
    const d = counted(fixtureCard({ pin1Enabled: false }));
    expect(d.modem.registered('limited_service')).toEqual({ ok: true, value: true });
    expect(d.modem.registered('normal_service')).toEqual({ ok: true, value: true });
    expect(d.locationEvents).toEqual([]);
  });

  it('after EnableProfile the REFRESH clears what was reported: the new profile’s attach is reported and its notification sent', () => {
    const d = counted(newEuicc());
    d.modem.registered('normal_service');
    es5(
      d,
      [createIsdpApdu({ loadFileAid: ISD_P_LOAD_FILE_AID, moduleAid: ISD_P_MODULE_AID, isdpAid: SECOND })],
      1,
    );
    euiccOf(d.card).installProfile(SECOND, SECOND_PROFILE);
    es5(d, [enableProfileApdu(SECOND)], 2);
    expect(d.modem.imsi).toBe(SECOND_PROFILE.identity.imsi);
    d.sms.length = 0;
    d.modem.registered('normal_service');
    expect(moSms(d).notifications).toContainEqual(
      expect.objectContaining({ type: NOTIFICATION_TYPE.PROFILE_CHANGE_SUCCEEDED, aid: SECOND }),
    );
  });

  it('a refused attach of the new profile (limited service) makes the eUICC roll back and REFRESH', () => {
    const d = counted(newEuicc());
    d.modem.registered('normal_service');
    es5(
      d,
      [createIsdpApdu({ loadFileAid: ISD_P_LOAD_FILE_AID, moduleAid: ISD_P_MODULE_AID, isdpAid: SECOND })],
      1,
    );
    euiccOf(d.card).installProfile(SECOND, SECOND_PROFILE);
    es5(d, [enableProfileApdu(SECOND)], 2);
    d.modem.registered('limited_service');
    expect(d.refreshes.at(-1)).toEqual({ qualifier: 0x04, imsi: IMSI });
    expect(d.modem.imsi).toBe(IMSI);
    d.sms.length = 0;
    d.modem.registered('normal_service');
    expect(moSms(d).notifications.map((n) => n.type)).toContain(
      NOTIFICATION_TYPE.PROFILE_CHANGE_FAILED_ROLLBACK,
    );
  });
});
