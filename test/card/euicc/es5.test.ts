// The eUICC's ES5 functions through the whole SMS path (SM-SR side from src/lib: ES5 APDUs, TS 102 226
// script, SCP80 for TAR 000001 → SMS-PP → modem → card → PoR by MO SMS), and through the terminal for
// the ECASD. Threats: an SM-SR command replayed or sent without SCP80 must change nothing; a profile
// whose POL1 forbids it must not be disabled or deleted; the enabled and fall-back profiles cannot be
// deleted; after EnableProfile the card really authenticates with the new profile's keys.

import { describe, expect, it } from 'vitest';
import { cardFromFile, parseCardFile, withState } from '../../../src/card/card-file.js';
import { LIFE_CYCLE, NOTIFICATION_TYPE } from '../../../src/card/euicc/euicc-state.js';
import {
  ECASD_AID,
  ISD_P_LOAD_FILE_AID,
  ISD_P_MODULE_AID,
  ISD_R_AID,
} from '../../../src/card/euicc/sgp-02-annex-h.js';
import type { Uicc } from '../../../src/card/uicc.js';
import { generateVector } from '../../../src/crypto/milenage.js';
import { hex, toHex } from '../../../src/lib/hex.js';
import {
  createIsdpApdu,
  decodeConfirmationResponse,
  decodeIsdpStatusList,
  deleteProfileApdu,
  disableProfileApdu,
  enableProfileApdu,
  getCardResourcesApdu,
  getEcasdCertificateApdu,
  getStatusApdu,
  notificationConfirmationApdu,
  setFallbackAttributeApdu,
  updateSmsrAddressingApdu,
} from '../../../src/lib/sgp-02-es5.js';
import { IMSI, KI, OPC } from '../fixture.js';
import { type Device, PLATFORM } from '../toolkit/fixture.js';
import {
  BOOTSTRAP,
  booted,
  cell,
  ECASD_CERT,
  EID,
  es5,
  euiccFile,
  euiccOf,
  moSms,
  newEuicc,
  SECOND,
  SECOND_PROFILE,
  THIRD,
  THIRD_PROFILE,
} from './fixture.js';

const create = (aid: string, memory?: number) =>
  createIsdpApdu({
    loadFileAid: ISD_P_LOAD_FILE_AID,
    moduleAid: ISD_P_MODULE_AID,
    isdpAid: aid,
    ...(memory === undefined ? {} : { memory }),
  });

const send = (card: Uicc, h: string) => toHex(card.transmit(hex(h))).toUpperCase();

/** UMTS AUTHENTICATE with a vector made from (ki, opc): RES must match the AuC's XRES. */
function authenticates(card: Uicc, ki: Uint8Array, opc: Uint8Array, sqn: number): boolean {
  const rand = hex('23553cbe9637a89d218ae64dae47bf35');
  const v = generateVector(ki, opc, rand, hex(sqn.toString(16).padStart(12, '0')), hex('8000'));
  send(card, '00A4040C07A0000000871002');
  const r = card.transmit(hex(`008800812210${toHex(rand)}10${toHex(v.autn)}00`));
  const sw = toHex(r.subarray(r.length - 2)).toUpperCase();
  if (sw !== '9000') return false;
  return toHex(r.subarray(2, 2 + (r[1] as number))) === toHex(v.res);
}

/** A device whose eUICC holds a second profile in ISD-P SECOND (created over ES5, installed by the hook). */
function withSecondProfile(): { d: Device; counter: number } {
  const d = booted();
  const r = es5(d, [create(SECOND, 8192)], 1);
  expect(r.answers).toEqual([{ data: '00', sw: '9000' }]);
  const installed = euiccOf(d.card).installProfile(SECOND, SECOND_PROFILE);
  expect(installed).toEqual({ ok: true, value: true });
  return { d, counter: 2 };
}

describe('ECASD and ISD-R from the terminal', () => {
  it('SELECT ECASD, GET DATA 5A gives the EID (as pySim reads it) and BF30 the certificate', () => {
    const card = newEuicc();
    expect(send(card, `00A4040010${ECASD_AID}00`)).toBe(`6F148410${ECASD_AID}A5009000`);
    expect(send(card, '80CA005A00')).toBe(`5A10${EID}9000`);
    expect(send(card, '80CABF30045C027F2100')).toBe(
      `BF30${ECASD_CERT.length.toString(16).padStart(2, '0').toUpperCase()}${toHex(ECASD_CERT).toUpperCase()}9000`,
    );
    expect(send(card, '80CA006600')).toBe('6A88');
  });

  it('refuses ES5 management from the terminal: it only comes through SCP80/SCP81 (6982)', () => {
    const card = newEuicc();
    expect(send(card, `00A4040C10${ISD_R_AID}`)).toBe('9000');
    for (const apdu of [
      create(SECOND),
      enableProfileApdu(BOOTSTRAP),
      deleteProfileApdu(BOOTSTRAP),
      getStatusApdu(),
    ])
      expect(toHex(card.transmit(apdu)).toUpperCase()).toBe('6982');
    expect(
      euiccOf(card)
        .snapshot()
        .isdps.map((i) => i.aid),
    ).toEqual([BOOTSTRAP]);
  });

  it('leaves the UICC as it was: the USIM answers SELECT and AUTHENTICATE with the bootstrap keys', () => {
    const card = newEuicc();
    expect(authenticates(card, hex(KI), hex(OPC), 32)).toBe(true);
    expect(send(card, '80CA005A00')).toBe('6D00');
  });
});

describe('ES5 over SCP80 to the ISD-R TAR 000001', () => {
  it('CreateISDP: INSTALL [for install and make selectable] makes a SELECTABLE ISD-P; GET STATUS shows it', () => {
    const d = booted();
    const r = es5(d, [create(SECOND, 8192), getStatusApdu(SECOND)], 1);
    expect(r.por.status).toBe(0);
    expect(r.answers[0]).toEqual({ data: '00', sw: '9000' });
    const status = decodeIsdpStatusList(hex(r.answers[1]?.data ?? ''));
    expect(status).toEqual({
      ok: true,
      value: [
        {
          aid: SECOND,
          lifeCycle: LIFE_CYCLE.SELECTABLE,
          fallback: false,
          memoryGranted: 8192,
          memoryRemaining: 8192,
        },
      ],
    });
  });

  it('CreateISDP refusals: an AID taken, a wrong load file, more memory than is free', () => {
    const d = booted();
    const wrongElf = createIsdpApdu({ loadFileAid: ISD_R_AID, moduleAid: ISD_P_MODULE_AID, isdpAid: THIRD });
    expect(es5(d, [create(BOOTSTRAP)], 1).answers).toEqual([{ data: '', sw: '6985' }]);
    expect(es5(d, [wrongElf], 2).answers).toEqual([{ data: '', sw: '6A88' }]);
    expect(es5(d, [create(THIRD, 0x8000), create(SECOND, 0x8000)], 3).answers.map((a) => a.sw)).toEqual([
      '9000',
      '9000',
    ]);
    expect(es5(d, [create(isdp(0x20), 0xfffff)], 4).answers).toEqual([{ data: '', sw: '6A84' }]);
  });

  it('EnableProfile: 3A03 swaps the USIM, REFRESH (UICC reset) follows, the modem reads the new IMSI and AUTHENTICATE uses the new keys', () => {
    const { d, counter } = withSecondProfile();
    expect(d.modem.imsi).toBe(IMSI);
    const r = es5(d, [enableProfileApdu(SECOND)], counter);
    expect(r.answers).toEqual([{ data: '', sw: '9000' }]);
    expect(d.refreshes.at(-1)).toEqual({ qualifier: 0x04, imsi: SECOND_PROFILE.identity.imsi });
    expect(d.modem.imsi).toBe(SECOND_PROFILE.identity.imsi);
    expect(authenticates(d.card, SECOND_PROFILE.ki, SECOND_PROFILE.opc, 32)).toBe(true);
    expect(authenticates(d.card, hex(KI), hex(OPC), 64)).toBe(false);
    const s = euiccOf(d.card).snapshot();
    expect(s.isdps.map((i) => [i.aid, i.state])).toEqual([
      [BOOTSTRAP, LIFE_CYCLE.DISABLED],
      [SECOND, LIFE_CYCLE.ENABLED],
    ]);
  });

  it('the notification (E1, type 02) goes out by MO SMS once attached, again after each reset until 3A08 confirms it', () => {
    const { d, counter } = withSecondProfile();
    es5(d, [enableProfileApdu(SECOND)], counter);
    d.sms.length = 0;
    d.modem.moveTo(cell(2));
    const first = moSms(d).notifications;
    // The change (seq 1), then the eUICC declaration of this first attach ever (seq 2).
    expect(first).toEqual([
      { eid: EID, type: NOTIFICATION_TYPE.PROFILE_CHANGE_SUCCEEDED, aid: SECOND, seq: 1 },
      { eid: EID, type: NOTIFICATION_TYPE.EUICC_DECLARATION, aid: SECOND, seq: 2 },
    ]);
    // Not again on the next cell change of the same power cycle …
    d.sms.length = 0;
    d.modem.moveTo(cell(3));
    expect(moSms(d).notifications).toEqual([]);
    // … but again after a reset.
    d.card.reset();
    d.modem.boot();
    d.modem.moveTo(cell(4));
    expect(moSms(d).notifications.map((n) => n.seq)).toEqual(first.map((n) => n.seq));
    const answers = es5(
      d,
      first.map((n) => notificationConfirmationApdu(n.seq)),
      counter + 1,
    ).answers;
    expect(answers.map((a) => decodeConfirmationResponse(hex(a.data)))).toEqual(
      first.map(() => ({ ok: true, value: [] })),
    );
    expect(euiccOf(d.card).snapshot().notifications).toEqual([]);
    d.card.reset();
    d.modem.boot();
    d.modem.moveTo(cell(5));
    expect(moSms(d).notifications).toEqual([]);
    // A sequence number that is not pending: 6A88.
    expect(es5(d, [notificationConfirmationApdu(first[0]?.seq ?? 1)], counter + 2).answers).toEqual([
      { data: '', sw: '6A88' },
    ]);
  });

  it('DisableProfile: 3A04 enables the fall-back profile in its place', () => {
    const { d, counter } = withSecondProfile();
    es5(d, [enableProfileApdu(SECOND)], counter);
    // While the change waits for its confirmation, no other change is taken.
    expect(es5(d, [disableProfileApdu(SECOND)], counter + 1).answers).toEqual([{ data: '', sw: '6985' }]);
    d.modem.moveTo(cell(2));
    es5(
      d,
      moSms(d).notifications.map((n) => notificationConfirmationApdu(n.seq)),
      counter + 2,
    );
    const r = es5(d, [disableProfileApdu(SECOND)], counter + 3);
    expect(r.answers).toEqual([{ data: '', sw: '9000' }]);
    expect(d.modem.imsi).toBe(IMSI);
    expect(authenticates(d.card, hex(KI), hex(OPC), 96)).toBe(true);
    // The fall-back profile itself cannot be disabled (no other fall-back to take its place).
    expect(es5(d, [disableProfileApdu(BOOTSTRAP)], counter + 4).answers).toEqual([{ data: '', sw: '6985' }]);
  });

  it('POL1 "disable not allowed" of the enabled profile refuses Enable of another and Disable (69E1)', () => {
    const d = booted();
    es5(d, [create(SECOND), create(THIRD)], 1);
    const e = euiccOf(d.card);
    e.installProfile(SECOND, {
      ...SECOND_PROFILE,
      pol1: { disableNotAllowed: true, deleteNotAllowed: false, deleteWhenDisabled: false },
    });
    e.installProfile(THIRD, THIRD_PROFILE);
    expect(es5(d, [enableProfileApdu(SECOND)], 2).answers[0]?.sw).toBe('9000');
    d.modem.moveTo(cell(2));
    const pending = moSms(d).notifications;
    es5(
      d,
      pending.map((n) => notificationConfirmationApdu(n.seq)),
      3,
    );
    const before = JSON.stringify(withState(euiccFile(), d.card));
    expect(es5(d, [enableProfileApdu(THIRD)], 4).answers).toEqual([{ data: '', sw: '69E1' }]);
    expect(es5(d, [disableProfileApdu(SECOND)], 5).answers).toEqual([{ data: '', sw: '69E1' }]);
    expect(d.modem.imsi).toBe(SECOND_PROFILE.identity.imsi);
    // Nothing changed but the SCP80 counter.
    const after = JSON.parse(JSON.stringify(withState(euiccFile(), d.card)));
    const was = JSON.parse(before);
    expect({ ...after, toolkit: undefined }).toEqual({ ...was, toolkit: undefined });
  });

  it('DeleteProfile: refused for the enabled (6985), the fall-back (6985), POL1 "delete not allowed" (69E1) and unknown (6A88); a disabled profile goes', () => {
    const d = booted();
    es5(d, [create(SECOND), create(THIRD)], 1);
    const e = euiccOf(d.card);
    e.installProfile(SECOND, {
      ...SECOND_PROFILE,
      pol1: { disableNotAllowed: false, deleteNotAllowed: true, deleteWhenDisabled: false },
    });
    e.installProfile(THIRD, THIRD_PROFILE);
    const answers = es5(d, [deleteProfileApdu(BOOTSTRAP)], 2).answers;
    expect(answers).toEqual([{ data: '', sw: '6985' }]);
    expect(es5(d, [deleteProfileApdu(SECOND)], 3).answers).toEqual([{ data: '', sw: '69E1' }]);
    expect(es5(d, [deleteProfileApdu(isdp(0x40))], 4).answers).toEqual([{ data: '', sw: '6A88' }]);
    es5(d, [setFallbackAttributeApdu(THIRD)], 5);
    expect(es5(d, [deleteProfileApdu(THIRD)], 6).answers).toEqual([{ data: '', sw: '6985' }]);
    es5(d, [setFallbackAttributeApdu(BOOTSTRAP)], 7);
    expect(es5(d, [deleteProfileApdu(THIRD), getStatusApdu(THIRD)], 8).answers).toEqual([
      { data: '', sw: '9000' },
      { data: '', sw: '6A88' },
    ]);
    expect(e.snapshot().isdps.map((i) => i.aid)).toEqual([BOOTSTRAP, SECOND]);
  });

  it('POL1 "delete when disabled": the profile a confirmed change disabled is deleted, and the confirmation lists it', () => {
    const { d, counter } = withSecondProfile();
    const e = euiccOf(d.card);
    es5(d, [create(THIRD)], counter);
    e.installProfile(THIRD, {
      ...THIRD_PROFILE,
      pol1: { disableNotAllowed: false, deleteNotAllowed: false, deleteWhenDisabled: true },
    });
    es5(d, [enableProfileApdu(THIRD)], counter + 1);
    d.modem.moveTo(cell(2));
    let pending = moSms(d).notifications;
    es5(
      d,
      pending.map((n) => notificationConfirmationApdu(n.seq)),
      counter + 2,
    );
    es5(d, [enableProfileApdu(SECOND)], counter + 3);
    d.modem.moveTo(cell(3));
    pending = moSms(d).notifications;
    expect(pending.map((n) => [n.type, n.aid])).toEqual([
      [NOTIFICATION_TYPE.PROFILE_CHANGE_SUCCEEDED, SECOND],
    ]);
    const r = es5(d, [notificationConfirmationApdu(pending[0]?.seq ?? 0)], counter + 4);
    expect(decodeConfirmationResponse(hex(r.answers[0]?.data ?? ''))).toEqual({ ok: true, value: [THIRD] });
    expect(e.snapshot().isdps.map((i) => i.aid)).toEqual([BOOTSTRAP, SECOND]);
  });

  it('SetFallbackAttribute (3A05) moves the attribute; an ISD-P without a profile cannot take it', () => {
    const { d, counter } = withSecondProfile();
    es5(d, [create(THIRD)], counter);
    expect(es5(d, [setFallbackAttributeApdu(THIRD)], counter + 1).answers).toEqual([
      { data: '', sw: '6985' },
    ]);
    expect(es5(d, [setFallbackAttributeApdu(SECOND), getStatusApdu()], counter + 2).answers[1]?.sw).toBe(
      '9000',
    );
    const s = euiccOf(d.card).snapshot();
    expect(s.isdps.filter((i) => i.fallback).map((i) => i.aid)).toEqual([SECOND]);
  });

  it('AuditEIS: GET DATA BF30 (the ECASD certificate), FF21 (resources) and GET STATUS of every ISD-P', () => {
    const { d, counter } = withSecondProfile();
    const r = es5(d, [getEcasdCertificateApdu(), getCardResourcesApdu(), getStatusApdu()], counter);
    expect(r.answers[0]).toEqual({ data: `BF300C${toHex(ECASD_CERT).toUpperCase()}`, sw: '9000' });
    expect(r.answers[1]?.data.startsWith('FF21')).toBe(true);
    const status = decodeIsdpStatusList(hex(r.answers[2]?.data ?? ''));
    expect(status.ok && status.value.map((s) => [s.aid, s.lifeCycle, s.fallback])).toEqual([
      [BOOTSTRAP, LIFE_CYCLE.ENABLED, true],
      [SECOND, LIFE_CYCLE.DISABLED, false],
    ]);
  });

  it('UpdateSMSRAddressingParameters (3A07): notifications go to the new SM-SR address', () => {
    const { d, counter } = withSecondProfile();
    expect(es5(d, [updateSmsrAddressingApdu({ destination: '4912345678' })], counter).answers).toEqual([
      { data: '', sw: '9000' },
    ]);
    d.sms.length = 0;
    d.modem.moveTo(cell(2));
    expect(moSms(d).notifications.length).toBe(1);
    // TP-DA of the SMS-SUBMIT: 0A 91 94 21 43 65 87 (4912345678).
    expect(toHex(d.sms[0] ?? new Uint8Array(0)).toUpperCase()).toMatch(/^41..0A919421436587/);
    expect(es5(d, [updateSmsrAddressingApdu({ destination: PLATFORM })], counter + 1).answers[0]?.sw).toBe(
      '9000',
    );
  });

  it('a replayed packet (same counter) is refused by the SCP80 counter check and changes nothing', () => {
    const { d, counter } = withSecondProfile();
    es5(d, [create(THIRD)], counter);
    const before = euiccOf(d.card).snapshot();
    const replay = es5(d, [deleteProfileApdu(SECOND)], counter);
    expect(replay.por.status).toBe(0x02); // CNTR low
    expect(replay.answers).toEqual([]);
    expect(euiccOf(d.card).snapshot()).toEqual(before);
    expect(es5(d, [deleteProfileApdu(SECOND)], counter + 1).answers).toEqual([{ data: '', sw: '9000' }]);
  });

  it('a packet without ciphering is below the ISD-R minimum security level (PoR 0A)', () => {
    const { d, counter } = withSecondProfile();
    const spi = {
      integrity: 'cc',
      ciphering: false,
      counter: 'higher',
      por: 'always',
      porIntegrity: 'cc',
      porCiphered: true,
      porViaSubmit: true,
    } as const;
    const r = es5(d, [deleteProfileApdu(SECOND)], counter, { spi });
    expect(r.por.status).toBe(0x0a);
    expect(euiccOf(d.card).snapshot().isdps.length).toBe(2);
  });
});

describe('connectivity fall-back and rollback (SGP.02 §3.2.2, §3.16)', () => {
  it('no service after an enable, before any attach: roll back to the previous profile, notify type 03', () => {
    const { d, counter } = withSecondProfile();
    es5(d, [enableProfileApdu(SECOND)], counter);
    expect(d.modem.imsi).toBe(SECOND_PROFILE.identity.imsi);
    d.sms.length = 0;
    d.modem.moveTo(cell(1), 'no_service');
    expect(d.modem.imsi).toBe(IMSI);
    expect(d.refreshes.at(-1)?.imsi).toBe(IMSI);
    d.modem.moveTo(cell(2));
    const n = moSms(d).notifications;
    expect(n.map((x) => [x.type, x.aid, x.seq])).toEqual([
      [NOTIFICATION_TYPE.PROFILE_CHANGE_FAILED_ROLLBACK, BOOTSTRAP, 2],
      [NOTIFICATION_TYPE.EUICC_DECLARATION, BOOTSTRAP, 3],
    ]);
    expect(euiccOf(d.card).snapshot().change).toBeUndefined();
  });

  it('once the new profile has attached, losing coverage is not a failure', () => {
    const { d, counter } = withSecondProfile();
    es5(d, [enableProfileApdu(SECOND)], counter);
    d.modem.moveTo(cell(2));
    d.modem.moveTo(cell(2), 'no_service');
    expect(d.modem.imsi).toBe(SECOND_PROFILE.identity.imsi);
  });

  it('when the rolled-back profile fails too, the fall-back profile takes over (type 05)', () => {
    const { d, counter } = withSecondProfile();
    es5(d, [create(THIRD)], counter);
    euiccOf(d.card).installProfile(THIRD, THIRD_PROFILE);
    es5(d, [enableProfileApdu(SECOND)], counter + 1);
    d.modem.moveTo(cell(2));
    es5(
      d,
      moSms(d).notifications.map((n) => notificationConfirmationApdu(n.seq)),
      counter + 2,
    );
    es5(d, [enableProfileApdu(THIRD)], counter + 3);
    expect(d.modem.imsi).toBe(THIRD_PROFILE.identity.imsi);
    d.modem.moveTo(cell(2), 'no_service');
    expect(d.modem.imsi).toBe(SECOND_PROFILE.identity.imsi);
    d.modem.moveTo(cell(2), 'limited_service');
    expect(d.modem.imsi).toBe(IMSI);
    d.sms.length = 0;
    d.modem.moveTo(cell(3));
    expect(moSms(d).notifications.map((n) => [n.type, n.aid])).toEqual([
      [NOTIFICATION_TYPE.PROFILE_CHANGE_FAILED_ROLLBACK, SECOND],
      [NOTIFICATION_TYPE.PROFILE_CHANGE_AFTER_FALLBACK, BOOTSTRAP],
    ]);
  });
});

describe('the card file keeps it all', () => {
  it('after an enable the top level is the enabled profile; the bootstrap profile is stored in its ISD-P', () => {
    const { d, counter } = withSecondProfile();
    es5(d, [enableProfileApdu(SECOND)], counter);
    const saved = withState(euiccFile(), d.card);
    expect(saved.imsi).toBe(SECOND_PROFILE.identity.imsi);
    expect(saved.ki).toBe(toHex(SECOND_PROFILE.ki));
    const stored = saved.euicc?.isdps.find((i) => i.aid === BOOTSTRAP)?.profile;
    expect(stored?.imsi).toBe(IMSI);
    expect(stored?.ki).toBe(KI);
    const reloaded = cardFromFile(JSON.parse(JSON.stringify(saved)));
    expect(JSON.stringify(withState(saved, reloaded))).toBe(JSON.stringify(saved));
    reloaded.reset();
    expect(authenticates(reloaded, SECOND_PROFILE.ki, SECOND_PROFILE.opc, 64)).toBe(true);
  });

  it('an applet cannot take the ISD-R TAR 000001 on an eUICC (it would receive the SM-SR commands)', () => {
    const file = euiccFile();
    const bad = {
      ...file,
      applets: [
        {
          name: 'anti-theft',
          tar: '000001',
          reportKvn: 1,
          parameters: { quarantineImsi: '001019999000001', alertDestination: PLATFORM },
        },
      ],
    };
    expect(parseCardFile(JSON.parse(JSON.stringify(bad)))).toMatchObject({
      ok: false,
      error: { code: 'CARD_FILE', message: expect.stringContaining('ISD-R') },
    });
  });

  it('a snapshot never holds a key', () => {
    const { d } = withSecondProfile();
    const s = d.card.snapshot().euicc;
    expect(
      s?.isdps.every(
        (i) => i.profile === undefined || (i.profile.ki.length === 0 && i.profile.opc.length === 0),
      ),
    ).toBe(true);
    expect(s?.scp80.every((k) => k.kic.length === 0 && k.kid.length === 0 && k.dek.length === 0)).toBe(true);
    expect(s?.ecasdPrivateKey.length).toBe(0);
  });
});

function isdp(n: number): string {
  return `A0000005591010FFFFFFFF89${n.toString(16).toUpperCase().padStart(6, '0')}00`;
}
