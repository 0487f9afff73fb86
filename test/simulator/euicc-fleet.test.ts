// eUICC devices in the simulated fleet (issue 15), against the platform's real GSUP and RADIUS
// listeners. Each card is an eUICC made as `simtrust card new --euicc` makes it, holding profile A
// (enabled) and a second profile installed straight into an ISD-P (the SM-DP path is tested
// elsewhere). The SM-SR's side is played with the src/lib ES5 APDUs in a TS 102 226 script, SCP80 to
// the ISD-R TAR, delivered as SMS-PP through Fleet.deliverSms (what the lab SMSC does for simulate).
//
//   - EnableProfile(B): PoR 9000, REFRESH (UICC reset); the device sends Accounting-Stop for A, reads
//     EF.IMSI = B, authenticates B over GSUP with B's keys (now in the card), and opens a session
//     whose Access-Request/Start carry 3GPP-IMSI B; the card then notifies the change (type 02).
//   - EnableProfile(C) where the AuC does not know C: the attach is refused, the modem reports
//     limited service, the eUICC rolls back to the previous profile (SGP.02 §3.2.2) and REFRESHes, the
//     device attaches again with that profile at once (the retry timer is 120 s, far beyond the test),
//     and the rollback notification (type 03) goes out once attached.
//   - POL1 "disable not allowed" on the enabled profile: EnableProfile is refused (69E1) and the
//     device stays attached, no REFRESH.
//   - EnableProfile over HTTPS: the push SMS opens the ISD-R's SCP81 session through the fleet's BIP
//     relay (FleetOptions.bip) to the SM-SR's PSK-TLS listener; after the session the REFRESH comes
//     and the device attaches as B.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CardFile, cardFromFile, keysOf, withState } from '../../src/card/card-file.js';
import { LIFE_CYCLE, NOTIFICATION_TYPE } from '../../src/card/euicc/euicc-state.js';
import { newEuiccCardFile } from '../../src/card/euicc/issue.js';
import {
  ISD_P_LOAD_FILE_AID,
  ISD_P_MODULE_AID,
  ISD_R_AID,
  isdpAid,
} from '../../src/card/euicc/sgp-02-annex-h.js';
import type { Uicc } from '../../src/card/uicc.js';
import { AdminSessionTriggerTlv } from '../../src/lib/gp-amd-b-ram-over-http.js';
import { hex, toHex } from '../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../src/lib/identities.js';
import {
  createIsdpApdu,
  type DefaultNotification,
  enableProfileApdu,
  notificationConfirmationApdu,
} from '../../src/lib/sgp-02-es5.js';
import { commandScript, decodeResponseScript } from '../../src/lib/ts-102-226-remote-command.js';
import { adminSessionTrigger, RamOverHttpSessions } from '../../src/platform/esim/sm-sr/ram-over-http.js';
import { systemContext } from '../../src/platform/iam/principal.js';
import { type Scp81Listener, startScp81Listener } from '../../src/servers/esim/scp81-listener.js';
import { type SimulatedCard, simulatedCard, simulatedImei } from '../../src/simulator/cards.js';
import { Fleet, type FleetEvent } from '../../src/simulator/fleet.js';
import { es5, euiccOf, moSms, TAR } from '../card/euicc/fixture.js';
import {
  commandSms,
  type Device,
  device,
  KIC,
  KID,
  openSecured,
  PLATFORM,
  SPI_REPORT,
} from '../card/toolkit/fixture.js';
import { type CoreNetwork, startCoreNetwork, waitFor } from '../helpers/anti-theft.js';
import { startTestApi, type TestApi } from '../helpers/app.js';

interface Profile {
  readonly iccid: string;
  readonly imsi: string;
  readonly msisdn: string;
  readonly ki: Uint8Array;
  readonly opc: Uint8Array;
}

/** Profile `k` of card `n`: IMSI 00101 55 n k 000000…, random-looking but fixed keys. */
function profile(n: number, k: number): Profile {
  const tag = `${n}${k}`;
  return {
    iccid: iccidWithCheckDigit(`89440055${tag}00000000`),
    imsi: `0010155${tag}0000000`.slice(0, 15),
    msisdn: `8170055${tag}00`,
    ki: hex(`${tag}0102030405060708090a0b0c0d0e`.slice(0, 32).padEnd(32, '0')),
    opc: hex(`${tag}f1e2d3c4b5a69788796a5b4c3d2e`.slice(0, 32).padEnd(32, '0')),
  };
}

const SECOND = isdpAid(0x11);
const BOOTSTRAP = isdpAid(0x10);

/**
 * An eUICC card file with `a` enabled (bootstrap ISD-P) and `b` installed in ISD-P SECOND: the
 * ISD-P created over ES5 (counter 1), the profile by the on-card install hook; the ISD-R's SCP80 key
 * set 1 is the toolkit fixture's, so the test's SM-SR can reach it. Commands to the card start at
 * counter 2.
 */
function euiccCard(a: Profile, b: Profile, o: { aDisableNotAllowed?: boolean } = {}): CardFile {
  const { file } = newEuiccCardFile({
    imsi: a.imsi,
    iccid: a.iccid,
    msisdn: a.msisdn,
    ki: a.ki,
    opc: a.opc,
    pin1Enabled: false,
    ecasdCertificate: hex('7F2108930101420101F00100'),
    smsrAddress: PLATFORM,
  });
  const e = file.euicc;
  if (e === undefined) throw new Error('no euicc section');
  const withKeys: CardFile = {
    ...file,
    euicc: {
      ...e,
      isdr: {
        ...e.isdr,
        scp80: [{ ...(e.isdr.scp80[0] as (typeof e.isdr.scp80)[number]), kic: KIC, kid: KID }],
      },
      isdps: e.isdps.map((i) =>
        i.aid === BOOTSTRAP && o.aDisableNotAllowed === true
          ? { ...i, pol1: { ...i.pol1, disableNotAllowed: true } }
          : i,
      ),
    },
  };
  const d = device(cardFromFile(withKeys));
  const booted = d.modem.boot();
  if (!booted.ok) throw new Error(booted.error.message);
  const created = es5(
    d,
    [createIsdpApdu({ loadFileAid: ISD_P_LOAD_FILE_AID, moduleAid: ISD_P_MODULE_AID, isdpAid: SECOND })],
    1,
  );
  expect(created.answers).toEqual([{ data: '00', sw: '9000' }]);
  const installed = euiccOf(d.card).installProfile(SECOND, {
    identity: { iccid: b.iccid, imsi: b.imsi, msisdn: b.msisdn, mncLength: 2 },
    ki: b.ki,
    opc: b.opc,
  });
  expect(installed).toEqual({ ok: true, value: true });
  return withState(withKeys, d.card);
}

/** The SM-SR's answers from the PoRs among these MO SMS (R-APDUs as "data sw" hex). */
function porAnswers(pors: readonly Uint8Array[]): string[] {
  return pors.flatMap((packet) => {
    const por = openSecured(packet);
    const script = decodeResponseScript(por.data);
    if (!script.ok) throw new Error(script.error.message);
    return script.value.items.flatMap((i) =>
      i.type === 'r-apdu' ? [`${toHex(i.data).toUpperCase()} ${toHex(i.statusWord).toUpperCase()}`] : [],
    );
  });
}

describe('eUICC devices in the simulated fleet', () => {
  let api: TestApi;
  let core: CoreNetwork;
  let fleet: Fleet;
  const events: FleetEvent[] = [];
  /** The cards' MO SMS by card (the IMSI the device used when it sent them). */
  const sms: { imsi: string; tpdu: Uint8Array }[] = [];
  const A1 = profile(1, 1);
  const B1 = profile(1, 2);
  const A2 = profile(2, 1);
  const C2 = profile(2, 2);
  const A3 = profile(3, 1);
  const B3 = profile(3, 2);
  const A4 = profile(4, 1);
  const B4 = profile(4, 2);
  const A5 = profile(5, 1);
  /** Another subscription (ICCID) with the same IMSI and keys: only the UICC reset tells it apart. */
  const A5bis = { ...profile(5, 2), imsi: A5.imsi, ki: A5.ki, opc: A5.opc };
  const sessionsHttps = new RamOverHttpSessions();
  let listener: Scp81Listener;
  let cards: SimulatedCard[];
  const uiccOf = (i: number): Uicc => {
    const c = cards[i];
    if (c === undefined) throw new Error(`no card ${i}`);
    return c.uicc;
  };

  /** The MO SMS sent since `from`: PoRs and the notifications opened with the ISD-R's keys. */
  const moSince = (from: number, imsis: readonly string[]) =>
    moSms({
      sms: sms.slice(from).flatMap((s) => (imsis.includes(s.imsi) ? [s.tpdu] : [])),
    } as unknown as Device);

  const sessions = () =>
    api.platform.store.db
      .selectFrom('sim_sessions')
      .select(['imsi', 'status', 'terminate_cause'])
      .orderBy('created_at')
      .execute();

  /** The SM-SR sends `apdus` to the card now holding `imsi` (SCP80, counter `counter`). */
  const sendEs5 = (imsi: string, apdus: readonly Uint8Array[], counter: number) => {
    for (const tpdu of commandSms(commandScript(apdus), counter, { tar: TAR }))
      expect(fleet.deliverSms(imsi, tpdu)).toBeDefined();
  };

  beforeAll(async () => {
    api = await startTestApi();
    core = await startCoreNetwork(api.platform, api.operator.operatorId);
    // The inventory knows A1, B1, A2, A3, B3; C2 is unknown to the AuC.
    for (const p of [A1, B1, A2, A3, B3, A4, B4, A5])
      await api.platform.sims.create(systemContext(api.operator.operatorId, 'Sim:createSim', 'test'), {
        iccid: p.iccid,
        imsi: p.imsi,
        msisdn: p.msisdn,
        ki: toHex(p.ki),
        opc: toHex(p.opc),
      });
    cards = [
      simulatedCard(euiccCard(A1, B1)),
      simulatedCard(euiccCard(A2, C2)),
      simulatedCard(euiccCard(A3, B3, { aDisableNotAllowed: true })),
      simulatedCard(euiccCard(A4, B4)),
      simulatedCard(euiccCard(A5, A5bis)),
    ];
    // The SM-SR's SCP81 listener, with the fourth card's ISD-R PSK (KVN 40) as its EIS would give it.
    const https = cards[3]?.file.euicc;
    listener = await startScp81Listener({
      sessions: sessionsHttps,
      psk: (id) =>
        id.eid === https?.eid && id.kvn === 0x40 ? hex(https.isdr.scp81[0]?.psk ?? '') : undefined,
    });
    // The card file holds A's keys at the top level: the profile the USIM runs now.
    expect(toHex(keysOf(cards[0]?.file as CardFile).ki)).toBe(toHex(A1.ki));
    fleet = await Fleet.open({
      devices: cards.map((card, i) => ({
        card,
        imei: simulatedImei(i + 1),
        cell: { mcc: '001', mnc: '01', tac: 200, eci: 0x3000 + i },
      })),
      ...core.fleet,
      retrySeconds: 120,
      attachSpreadMs: 0,
      bip: {},
      log: (e) => events.push(e),
      onCardSms: (imsi, tpdu) => sms.push({ imsi, tpdu }),
    });
    await core.admit(fleet);
    fleet.start();
    await waitFor(
      'the three devices attached with their profile A',
      () => events,
      (e) => [A1, A2, A3, A4, A5].every((p) => e.some((x) => x.kind === 'attached' && x.imsi === p.imsi)),
    );
  });

  afterAll(async () => {
    await fleet?.stop();
    await listener?.close();
    await core?.close();
    await api?.close();
  });

  it('attached as A over RADIUS; EnableProfile(B) ends with the device attached as B (Stop for A, session for B, type 02 notification)', async () => {
    expect(fleet.deviceState(A1.imsi)).toMatchObject({ imsi: A1.imsi, attached: true, blocked: false });
    expect((await sessions()).filter((s) => s.imsi === A1.imsi)).toEqual([
      { imsi: A1.imsi, status: 'online', terminate_cause: null },
    ]);
    const mark = sms.length;
    sendEs5(A1.imsi, [enableProfileApdu(SECOND)], 2);
    await waitFor(
      'the device attached as B',
      () => events,
      (e) => e.some((x) => x.kind === 'attached' && x.imsi === B1.imsi),
    );
    expect(events).toContainEqual({ kind: 'refreshed', imsi: B1.imsi, previousImsi: A1.imsi });
    expect(events).toContainEqual({ kind: 'detached', imsi: A1.imsi, cause: 'User-Request' });
    expect(fleet.deviceState(A1.imsi)).toMatchObject({
      cardImsi: A1.imsi,
      imsi: B1.imsi,
      attached: true,
      blocked: false,
    });
    // The platform's session table: A stopped by the device, B online (RADIUS Start with IMSI B).
    const rows = await sessions();
    expect(rows.filter((s) => s.imsi === A1.imsi)).toEqual([
      { imsi: A1.imsi, status: 'offline', terminate_cause: 'User-Request' },
    ]);
    expect(rows.filter((s) => s.imsi === B1.imsi)).toEqual([
      { imsi: B1.imsi, status: 'online', terminate_cause: null },
    ]);
    // The card really switched: its ISD-Ps and the USIM keys (AUTHENTICATE passed with B's keys: the
    // AuC only has B's Ki/OPc for IMSI B).
    expect(
      euiccOf(uiccOf(0))
        .snapshot()
        .isdps.map((i) => [i.aid, i.state]),
    ).toEqual([
      [BOOTSTRAP, LIFE_CYCLE.DISABLED],
      [SECOND, LIFE_CYCLE.ENABLED],
    ]);
    // The PoR (sent before the REFRESH, from A) and, once B is attached, the change notification.
    await waitFor(
      'the type 02 notification',
      () => moSince(mark, [A1.imsi, B1.imsi]).notifications,
      (n) => n.some((x) => x.type === NOTIFICATION_TYPE.PROFILE_CHANGE_SUCCEEDED),
    );
    const mo = moSince(mark, [A1.imsi, B1.imsi]);
    expect(porAnswers(mo.pors)).toEqual([' 9000']);
    expect(mo.notifications).toContainEqual(
      expect.objectContaining({ type: NOTIFICATION_TYPE.PROFILE_CHANGE_SUCCEEDED, aid: SECOND }),
    );
    // …sent by the device while it used B (the ISD-R speaks once the new profile has service).
    const from = sms.slice(mark).map((s) => s.imsi);
    expect(from.at(-1)).toBe(B1.imsi);
  });

  it('a profile the AuC does not know: attach refused, the eUICC rolls back to A, the device attaches as A at once, type 03 notification', async () => {
    const mark = sms.length;
    const before = events.length;
    sendEs5(A2.imsi, [enableProfileApdu(SECOND)], 2);
    await waitFor(
      'the device attached as A again after the rollback',
      () => events.slice(before),
      (e) => e.some((x) => x.kind === 'attached' && x.imsi === A2.imsi),
    );
    const seen = events.slice(before).filter((e) => 'imsi' in e && [A2.imsi, C2.imsi].includes(e.imsi));
    expect(seen.map((e) => [e.kind, 'imsi' in e ? e.imsi : ''])).toEqual([
      ['refreshed', C2.imsi],
      ['detached', A2.imsi],
      ['rejected', C2.imsi],
      ['refreshed', A2.imsi],
      ['attached', A2.imsi],
    ]);
    expect(seen).toContainEqual(expect.objectContaining({ kind: 'rejected', imsi: C2.imsi }));
    const refusal = seen.find((e) => e.kind === 'rejected');
    expect(refusal?.kind === 'rejected' && refusal.reason).toMatch(/^SendAuthInfo refused/);
    expect(fleet.deviceState(A2.imsi)).toMatchObject({
      imsi: A2.imsi,
      attached: true,
      lastRefusal: undefined,
    });
    expect(
      euiccOf(uiccOf(1))
        .snapshot()
        .isdps.map((i) => [i.aid, i.state]),
    ).toEqual([
      [BOOTSTRAP, LIFE_CYCLE.ENABLED],
      [SECOND, LIFE_CYCLE.DISABLED],
    ]);
    const rows = (await sessions()).filter((s) => s.imsi === A2.imsi);
    expect(rows).toEqual([
      { imsi: A2.imsi, status: 'offline', terminate_cause: 'User-Request' },
      { imsi: A2.imsi, status: 'online', terminate_cause: null },
    ]);
    expect((await sessions()).some((s) => s.imsi === C2.imsi)).toBe(false);
    await waitFor(
      'the rollback notification',
      () => moSince(mark, [A2.imsi, C2.imsi]).notifications,
      (n) => n.some((x) => x.type === NOTIFICATION_TYPE.PROFILE_CHANGE_FAILED_ROLLBACK),
    );
    const notifications: DefaultNotification[] = moSince(mark, [A2.imsi, C2.imsi]).notifications;
    expect(notifications.filter((n) => n.type !== NOTIFICATION_TYPE.EUICC_DECLARATION)).toEqual([
      expect.objectContaining({ type: NOTIFICATION_TYPE.PROFILE_CHANGE_FAILED_ROLLBACK, aid: BOOTSTRAP }),
    ]);
    // The SM-SR confirms them (3A08): nothing is left pending on the card.
    const seq = notifications.map((n) => n.seq);
    const confirmMark = sms.length;
    sendEs5(A2.imsi, seq.map(notificationConfirmationApdu), 3);
    expect(porAnswers(moSince(confirmMark, [A2.imsi]).pors).every((a) => a.endsWith('9000'))).toBe(true);
    expect(euiccOf(uiccOf(1)).snapshot().notifications).toEqual([]);
  });

  it('POL1 "disable not allowed" on the enabled profile: EnableProfile refused (69E1), the device stays attached as A', async () => {
    const mark = sms.length;
    const before = events.length;
    sendEs5(A3.imsi, [enableProfileApdu(SECOND)], 2);
    expect(porAnswers(moSince(mark, [A3.imsi]).pors)).toEqual([' 69E1']);
    expect(events.slice(before).filter((e) => 'imsi' in e && [A3.imsi, B3.imsi].includes(e.imsi))).toEqual(
      [],
    );
    expect(fleet.deviceState(A3.imsi)).toMatchObject({ imsi: A3.imsi, attached: true });
    expect((await sessions()).filter((s) => s.imsi === A3.imsi)).toEqual([
      { imsi: A3.imsi, status: 'online', terminate_cause: null },
    ]);
  });

  it('EnableProfile over HTTPS (push SMS, BIP channel from the simulator, PSK-TLS to the SM-SR): the session ends, REFRESH, attached as B', async () => {
    const eid = cards[3]?.file.euicc?.eid ?? '';
    const before = events.length;
    const enable = sessionsHttps.queue(eid, ISD_R_AID, [enableProfileApdu(SECOND)]);
    const trigger = adminSessionTrigger({
      eid,
      isdRAid: ISD_R_AID,
      kvn: 0x40,
      kid: 0x01,
      address: '127.0.0.1',
      port: listener.port,
      adminUri: sessionsHttps.adminUri,
    });
    for (const tpdu of commandSms(AdminSessionTriggerTlv.encode(trigger), 2, { tar: TAR, spi: SPI_REPORT }))
      expect(fleet.deliverSms(A4.imsi, tpdu)).toBeDefined();
    const done = await enable;
    expect(done.scriptStatus).toBe('ok');
    expect(done.responses.map((r) => r.sw)).toEqual([0x9000]);
    await waitFor(
      'the device attached as B after the HTTPS session',
      () => events.slice(before),
      (e) => e.some((x) => x.kind === 'attached' && x.imsi === B4.imsi),
    );
    expect(events.slice(before)).toContainEqual({ kind: 'refreshed', imsi: B4.imsi, previousImsi: A4.imsi });
    expect(fleet.deviceState(A4.imsi)).toMatchObject({ imsi: B4.imsi, attached: true });
    expect((await sessions()).filter((s) => s.imsi === B4.imsi)).toEqual([
      { imsi: B4.imsi, status: 'online', terminate_cause: null },
    ]);
    expect(uiccOf(3).toolkitFaults).toBe(0);
  });

  it('a REFRESH (UICC reset) ends the session even when EF.IMSI stays the same: Stop, then a new session', async () => {
    const before = events.length;
    sendEs5(A5.imsi, [enableProfileApdu(SECOND)], 2);
    await waitFor(
      'the device attached again',
      () => events.slice(before),
      (e) => e.some((x) => x.kind === 'attached' && x.imsi === A5.imsi),
    );
    const seen = events.slice(before).filter((e) => 'imsi' in e && e.imsi === A5.imsi);
    expect(seen.map((e) => e.kind)).toEqual(['detached', 'attached']);
    expect((await sessions()).filter((s) => s.imsi === A5.imsi)).toEqual([
      { imsi: A5.imsi, status: 'offline', terminate_cause: 'User-Request' },
      { imsi: A5.imsi, status: 'online', terminate_cause: null },
    ]);
    expect(
      euiccOf(uiccOf(4))
        .snapshot()
        .isdps.map((i) => [i.aid, i.state]),
    ).toEqual([
      [BOOTSTRAP, LIFE_CYCLE.DISABLED],
      [SECOND, LIFE_CYCLE.ENABLED],
    ]);
  });
});
