// Issue 15, acceptance "end to end on SQLite and PostgreSQL": the platform with its own SM-DP and
// SM-SR wired as `simtrust serve` wires them (startEsim, the OTA SMPP link with the SM-SR's ES5 SMS
// receiver, the SCP81 listener), the lab SMSC (real SMPP) between the platform and the simulated
// fleet, the platform's real RADIUS and GSUP listeners, and one device carrying an eUICC made as
// `simtrust card new --euicc` makes it (issueDemoEuicc), its EIS registered through the API.
//
//   1. the device attaches with profile A over GSUP and RADIUS (a session for A in the API);
//   2. the operator calls POST /v1/sims/{eid}/profiles {iccid: B, enable: true}; the operation ends
//      succeeded with its steps; CreateISDP, Enable and the notification confirmations went by SMS
//      (SCP80 packets the SMSC carried, opened here with the card's ISD-R keys), the key establishment
//      and SCP03t download over HTTPS (the push SMS, the device's BIP channel to the SCP81 listener);
//   3. the card REFRESHes, the device ends A's session and attaches as B (Accounting for B); the EIS
//      at the SM-SR, the inventory, the card and the notifications (the card's default notification
//      recorded and confirmed, HandleProfileEnabledNotification to the SM-DP, the operation) agree;
//   4. Disable, Enable, Delete through the API and AuditEIS on the operator's ES4 port each work and
//      agree with the card, the device following each profile switch.
//
// Threat: the platform claiming an outcome the card and the network never saw (an operation
// "succeeded" while the device still runs A, an inventory that disagrees with the EIS or the card, a
// notification left unconfirmed so the eUICC keeps resending it).

import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Euicc } from '../../src/card/euicc/euicc.js';
import { LIFE_CYCLE, NOTIFICATION_TYPE } from '../../src/card/euicc/euicc-state.js';
import { issueDemoEuicc } from '../../src/cli/demo-euicc.js';
import type { OtaKeySet } from '../../src/crypto/ts-102-225-scp80.js';
import { hex } from '../../src/lib/hex.js';
import { iccidWithCheckDigit } from '../../src/lib/identities.js';
import {
  concatenationOf,
  decodeUserData,
  reassembleSecuredPacket,
  type UserData,
} from '../../src/lib/ts-23-040-sms-tpdu.js';
import { openCommandPacket } from '../../src/lib/ts-102-225-secured-packet.js';
import { decodeCommandScript } from '../../src/lib/ts-102-226-remote-command.js';
import {
  AUDIT_OPERATION_TYPES,
  type AuditTrailRecord,
} from '../../src/platform/esim/es-soap/sgp-02-xml-types.js';
import { systemContext } from '../../src/platform/iam/principal.js';
import { startOtaLink } from '../../src/platform/ota/ota-runtime.js';
import type { KeptLink } from '../../src/platform/ota/ota-smpp.js';
import { mnoIdOf, type RunningEsim, startEsim } from '../../src/servers/esim/esim-runtime.js';
import { type SimDataMessage, Smsc } from '../../src/servers/smpp/smsc.js';
import { type SimulatedCard, simulatedCard, simulatedImei } from '../../src/simulator/cards.js';
import { Fleet, type FleetEvent } from '../../src/simulator/fleet.js';
import { SmsNetwork } from '../../src/simulator/sms-network.js';
import { type CoreNetwork, startCoreNetwork, waitFor } from '../helpers/anti-theft.js';
import { startTestApi, type TestApi } from '../helpers/app.js';
import { testDialect } from '../helpers/database.js';

const silent = pino({ level: 'silent' });
/** The platform's OTA number: where the eUICC sends its PoRs and notifications. */
const PLATFORM_NUMBER = '819000000777';
/** A procedure over SMS, HTTPS and a re-attach takes about a second; the CI machine is loaded. */
const SETTLE_MS = 45_000;
/** Per test: several procedures and re-attaches, each bounded by SETTLE_MS. */
const TEST_MS = 150_000;

const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');
const newProfile = (tag: string) => ({
  iccid: iccidWithCheckDigit(`894400${tag}${digits(10)}`),
  imsi: `001010${tag}${digits(7)}`,
  msisdn: `8170${tag}${digits(6)}`,
  ki: randomBytes(16).toString('hex'),
  opc: randomBytes(16).toString('hex'),
});

type Step = { name: string; state: string; status?: { status: string } | null };
type Operation = {
  operationId: string;
  kind: string;
  status: string;
  result?: { status: string; message?: string } | null;
  steps: Step[];
};
type EuiccSim = {
  type: string;
  eid: string;
  activeProfileId: string | null;
  profiles: Record<string, { iccid: string; primaryImsi: string; state: string }>;
};
type SimView = { status: string; sessionStatus: { online: boolean; imei?: string } | null };

/** One ES5 message the SMSC carried to the card: the push, or the ISD-R commands of one script. */
interface Es5Sms {
  readonly kind: 'push' | 'script';
  /** Command names (CreateISDP, INSTALL-personalization, EnableProfile, …) of a script. */
  readonly commands: readonly string[];
  readonly destination: string;
}

/** The name of an ISD-R command by its INS (and STORE DATA by its DGI, SGP.02 §4.1.1). */
function commandName(apdu: Uint8Array): string {
  const ins = apdu[1];
  if (ins === 0xe6) return apdu[2] === 0x20 ? 'INSTALL-personalization' : 'CreateISDP';
  if (ins === 0xe4) return 'DeleteProfile';
  if (ins === 0xf2) return 'GetStatus';
  if (ins === 0xca) return 'GetData';
  if (ins === 0xe2) {
    const dgi = (((apdu[5] ?? 0) << 8) | (apdu[6] ?? 0)).toString(16).toUpperCase();
    const names: Record<string, string> = {
      '3A01': 'EstablishISDPKeySet:certificate',
      '3A02': 'EstablishISDPKeySet:keyAgreement',
      '3A03': 'EnableProfile',
      '3A04': 'DisableProfile',
      '3A08': 'NotificationConfirmation',
    };
    return names[dgi] ?? `STORE DATA ${dgi}`;
  }
  return `INS ${ins?.toString(16)}`;
}

/**
 * The MT SIM data the SMSC handed on, regrouped (concatenated SMS) and opened with the card's ISD-R
 * SCP80 key set, as the ISD-R itself opens them: what the SM-SR sent by SMS, command by command.
 */
function es5SmsOf(messages: readonly SimDataMessage[], keys: OtaKeySet): Es5Sms[] {
  const groups = new Map<string, { destination: string; parts: UserData[] }>();
  messages.forEach((m, i) => {
    const ud = decodeUserData(m.userData, true);
    if (!ud.ok) throw new Error(ud.error.message);
    const concat = concatenationOf(ud.value.header ?? []);
    const key = concat === undefined ? `single-${i}` : `concat-${m.destination}-${concat.reference}`;
    const g = groups.get(key) ?? { destination: m.destination, parts: [] };
    g.parts.push(ud.value);
    groups.set(key, g);
  });
  return [...groups.values()].map(({ destination, parts }) => {
    const packet = reassembleSecuredPacket(parts);
    if (!packet.ok) throw new Error(packet.error.message);
    const opened = openCommandPacket(packet.value.packet, {
      keysFor: () => keys,
      lastCounter: () => 0,
      minimumSecurity: () => ({ checksum: true, ciphering: true, counter: 'higher' }),
    });
    if (!opened.ok) throw new Error(`${opened.error.code}: ${opened.error.message}`);
    expect(Buffer.from(opened.value.header.tar).toString('hex')).toBe('000001'); // the ISD-R TAR
    const data = opened.value.data;
    // GP Amd B §3.7: the administration session triggering parameters (tag 81) — the push.
    if (data[0] === 0x81) return { kind: 'push', commands: [], destination };
    const script = decodeCommandScript(data);
    if (!script.ok) throw new Error(script.error.message);
    const commands = script.value.items.flatMap((x) => (x.type === 'c-apdu' ? [commandName(x.apdu)] : []));
    return { kind: 'script', commands, destination };
  });
}

/** An audit trail as (operation type, ICCID), ordered by date and, within one change, by type. */
const trailOf = (records: readonly AuditTrailRecord[] = []) =>
  [...records]
    .sort(
      (x, y) =>
        x.operationDate.getTime() - y.operationDate.getTime() ||
        x.operationType.localeCompare(y.operationType),
    )
    .map((r) => [r.operationType, r.iccid]);

describe(`eSIM end to end through the API, the SM-DP, the SM-SR, SMS and HTTPS to a device (${testDialect})`, () => {
  let api: TestApi;
  let esim: RunningEsim;
  let otaLink: KeptLink;
  let core: CoreNetwork;
  let smsc: Smsc;
  let network: SmsNetwork;
  let fleet: Fleet;
  let card: SimulatedCard;
  let eid: string;
  let isdrKeys: OtaKeySet;
  const A = newProfile('11');
  const B = newProfile('22');
  const events: FleetEvent[] = [];
  /** Every MT SIM data message the SMSC carried, in order. */
  const mt: SimDataMessage[] = [];
  /** BIP channels the device opened (OPEN CHANNEL: host and port). */
  const channels: { host: string; port: number }[] = [];

  const euicc = (): Euicc => {
    const e = card.uicc.euicc;
    if (e === undefined) throw new Error('not an eUICC');
    return e;
  };
  /** The card's ISD-Ps by ICCID: life cycle state. */
  const onCard = () =>
    Object.fromEntries(
      euicc()
        .snapshot()
        .isdps.filter((i) => i.profile !== undefined)
        .map((i) => [i.profile?.identity.iccid, i.state]),
    );
  const get = async <T>(url: string): Promise<T> => {
    const r = await api.call({ method: 'GET', url });
    expect(r.statusCode, r.body).toBe(200);
    return r.json() as T;
  };
  const sessions = (imsi: string) =>
    api.platform.store.db
      .selectFrom('sim_sessions')
      .select(['status', 'terminate_cause'])
      .where('imsi', '=', imsi)
      .orderBy('created_at')
      .execute();
  /** Waits until the operation ends and returns it. */
  const ended = (operationId: string) =>
    waitFor(
      `operation ${operationId} to end`,
      () => get<Operation>(`/v1/esim/operations/${operationId}`),
      (o) => o.status !== 'running',
      SETTLE_MS,
    );
  const call = async (method: 'POST' | 'DELETE', url: string, payload?: object) => {
    const r = await api.call({ method, url, ...(payload ? { payload } : {}) });
    expect(r.statusCode, r.body).toBe(202);
    return r.json() as Operation;
  };
  const attachedAs = (imsi: string, from: number) =>
    waitFor(
      `the device attached as ${imsi}`,
      () => events.slice(from),
      (e) => e.some((x) => x.kind === 'attached' && x.imsi === imsi),
      SETTLE_MS,
    );
  /**
   * The SM-SR has confirmed every default notification (the eUICC has none left to resend) and runs
   * no procedure on the eUICC: the confirmation's own procedure ends with its PoR, after the card
   * took the 3A08, and a request meanwhile would be refused as busy (8.1/3.7).
   */
  const quiet = () =>
    waitFor(
      'the card’s notifications confirmed and the SM-SR idle',
      async () => ({
        pending: euicc().snapshot().notifications.length,
        running: (
          await api.platform.store.db
            .selectFrom('esim_sr_procedures')
            .select('function')
            .where('active_eid', '=', eid)
            .execute()
        ).map((p) => p.function),
      }),
      (s) => s.pending === 0 && s.running.length === 0,
      SETTLE_MS,
    );
  /** The SM-SR's ES3 notifications to our SM-DP (its outbox rows: kind, ICCID, delivery state). */
  const toSmdp = () =>
    api.platform.store.db
      .selectFrom('esim_notification_outbox')
      .select(['kind', 'iccid', 'state'])
      .where('eid', '=', eid)
      .where('interface', '=', 'ES3')
      .where('sender_id', '=', esim.smsrId)
      .where('receiver_id', '=', esim.smdpId)
      .orderBy('id')
      .execute();
  const es4 = () => esim.smsr.es4For(mnoIdOf(api.operator.operatorId));
  const eisStates = async () => {
    const r = await es4().getEIS({ functionCallIdentifier: `get-${randomBytes(4).toString('hex')}`, eid });
    expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    return Object.fromEntries((r.eis?.profiles ?? []).map((p) => [p.iccid, p.state]));
  };
  const inventoryStates = async () => {
    const sim = await get<EuiccSim>(`/v1/sims/${eid}`);
    return Object.fromEntries(Object.values(sim.profiles).map((p) => [p.iccid, p.state]));
  };

  beforeAll(async () => {
    // The lab SMSC first: the platform's OTA link binds to it (as `npm start` does with its own).
    const password = randomBytes(12).toString('hex');
    smsc = await Smsc.start({
      host: '127.0.0.1',
      port: 0,
      accounts: { 'simtrust-ota': password },
      receipt: false,
      onSimData: (m) => {
        mt.push(m);
        network?.onSimData(m);
      },
    });
    api = await startTestApi({
      config: {
        otaSmppUrl: smsc.url,
        otaSmppSystemId: 'simtrust-ota',
        otaSmppPassword: password,
        otaSmppSourceAddr: PLATFORM_NUMBER,
      },
    });
    const operatorId = api.operator.operatorId;
    // `simtrust esim ci init` and the platform EUM (demo mode makes them in startEsim).
    await api.platform.esimPki.ensureDemo();
    // What `simtrust serve --esim-operator-id … --esim-scp81-port 0` starts, in that order.
    esim = await startEsim(api.platform, operatorId, silent, { scp81Port: 0 });
    otaLink = startOtaLink(api.platform, silent, esim.sms);
    core = await startCoreNetwork(api.platform, operatorId);

    // The inventory: profile A (the eUICC's bootstrap profile) and B (to download), Ki/OPc sealed.
    for (const p of [A, B])
      await api.platform.sims.create(systemContext(operatorId, 'Sim:createSim', 'test'), p);
    // The eUICC as `simtrust card new --euicc` makes it, its EIS signed by the EUM, registered through
    // the API at this deployment's SM-SR.
    const issued = await issueDemoEuicc(api.platform, {
      profile: A,
      smsrId: esim.smsrId,
      smsrAddress: PLATFORM_NUMBER,
      mnoId: mnoIdOf(operatorId),
    });
    eid = issued.eid;
    const scp80 = issued.file.euicc?.isdr.scp80[0];
    if (scp80 === undefined) throw new Error('no ISD-R SCP80 key set');
    isdrKeys = {
      kic: { algorithm: scp80.kicAlgorithm, key: hex(scp80.kic) },
      kid: { algorithm: scp80.kidAlgorithm, key: hex(scp80.kid) },
    };
    const reg = await api.call({
      method: 'POST',
      url: '/v1/esim/euiccs',
      payload: { registerEisRequest: issued.registerEisRequest, eumCertificate: issued.eumCertificate },
    });
    expect(reg.statusCode, reg.body).toBe(201);

    // The device: the eUICC in a simulated modem with BIP, SMS through the SMSC both ways.
    card = simulatedCard(issued.file);
    network = new SmsNetwork({
      systemId: 'simtrust-ota',
      subscribers: [
        { imsi: A.imsi, msisdn: A.msisdn },
        // Once B is enabled, SMS to B's MSISDN reach the same card.
        { imsi: B.imsi, msisdn: B.msisdn, card: A.imsi },
      ],
    });
    fleet = await Fleet.open({
      devices: [{ card, imei: simulatedImei(15), cell: { mcc: '001', mnc: '01', tac: 0x15, eci: 0x15a0 } }],
      ...core.fleet,
      retrySeconds: 120,
      attachSpreadMs: 0,
      onCardSms: network.onCardSms,
      bip: {
        allow: (host, port) => {
          channels.push({ host, port });
          return true;
        },
      },
      log: (e) => events.push(e),
    });
    network.connect(fleet, smsc);
    await core.admit(fleet);
    fleet.start();
  }, 120_000);

  afterAll(async () => {
    await fleet?.stop();
    network?.close();
    await otaLink?.close();
    await esim?.close();
    await api?.platform.esimOperations.drained();
    await core?.close();
    await smsc?.close();
    await api?.close();
  });

  it(
    'the eUICC runs profile A and the device is attached as IMSI A over RADIUS (a session in the API)',
    async () => {
      await attachedAs(A.imsi, 0);
      expect(fleet.deviceState(A.imsi)).toMatchObject({ imsi: A.imsi, attached: true });
      await waitFor(
        'A online in the API',
        () => get<SimView>(`/v1/sims/${A.iccid}`),
        (s) => s.sessionStatus?.online === true,
        SETTLE_MS,
      );
      expect(await sessions(A.imsi)).toEqual([{ status: 'online', terminate_cause: null }]);
      const sim = await get<EuiccSim>(`/v1/sims/${eid}`);
      expect(sim).toMatchObject({ type: 'euicc', eid, activeProfileId: A.iccid });
      expect(sim.profiles[A.iccid]).toMatchObject({ state: 'Enabled', primaryImsi: A.imsi });
      // The eUICC declared itself on its first attach (type 01, MO SMS); the SM-SR recorded and
      // confirmed it (3A08), so nothing of it crosses the download below.
      await waitFor(
        'the eUICC declaration at the SM-SR',
        () =>
          api.platform.store.db
            .selectFrom('esim_sr_notifications')
            .select('type')
            .where('eid', '=', eid)
            .execute(),
        (rows) => rows.some((r) => r.type === NOTIFICATION_TYPE.EUICC_DECLARATION),
        SETTLE_MS,
      );
      await quiet();
      expect(onCard()).toEqual({ [A.iccid]: LIFE_CYCLE.ENABLED });
    },
    TEST_MS,
  );

  it(
    'POST /v1/sims/{eid}/profiles {iccid: B, enable: true}: succeeded with its steps, the small commands by SMS, the download over HTTPS',
    async () => {
      const mark = { mt: mt.length, events: events.length };
      const started = await call('POST', `/v1/sims/${eid}/profiles`, {
        iccid: B.iccid,
        profileType: 'simtrust-usim',
        enable: true,
      });
      expect(started).toMatchObject({ kind: 'download', status: 'running' });
      const op = await ended(started.operationId);
      expect(op, JSON.stringify(op.steps)).toMatchObject({
        status: 'succeeded',
        result: { status: 'EXECUTED_SUCCESS' },
      });
      // The SM-DP's and the SM-SR's steps, as they reported them, each succeeded.
      const names = op.steps.map((s) => s.name);
      expect(names[0]).toBe('ES2.DownloadProfile');
      expect(names.at(-1)).toBe('ES4.GetEIS');
      for (const step of [
        'PrepareProfile',
        'GetEIS',
        'VerifyECASDCertificate',
        'CreateISDP',
        'EstablishISDPKeySet:certificate',
        'EstablishISDPKeySet:keyAgreement',
        'DownloadAndInstallation',
        'ProfileDownloadCompleted',
        'EnableProfile',
      ])
        expect(names, step).toContain(step);
      expect(op.steps.filter((s) => s.state !== 'succeeded')).toEqual([]);
      expect(names).not.toContain('DeleteISDP'); // no error sub-routine

      // Which bearer carried what. SMS (the SMSC's records, opened with the ISD-R's keys): the push,
      // CreateISDP, INSTALL [for personalization], GET STATUS, EnableProfile and the confirmation.
      const sms = es5SmsOf(mt.slice(mark.mt), isdrKeys);
      const bySms = sms.flatMap((s) => s.commands);
      expect(sms.filter((s) => s.kind === 'push').length).toBeGreaterThanOrEqual(1);
      expect(bySms).toEqual(
        expect.arrayContaining([
          'CreateISDP',
          'INSTALL-personalization',
          'EnableProfile',
          'NotificationConfirmation',
        ]),
      );
      // …and the key establishment never did: 3A01/3A02 and the SCP03t download (which SMS cannot
      // carry) went over HTTPS — the device opened its BIP channel to the SCP81 listener.
      expect(bySms).not.toContain('EstablishISDPKeySet:certificate');
      expect(bySms).not.toContain('EstablishISDPKeySet:keyAgreement');
      expect(channels.length).toBeGreaterThanOrEqual(1);
      expect(channels.every((c) => c.port === esim.scp81Port && c.host === '127.0.0.1')).toBe(true);
      // Commands before the switch went to A's number; after the REFRESH, to B's.
      expect(sms[0]?.destination).toBe(A.msisdn);
      const enableAt = sms.findIndex((s) => s.commands.includes('EnableProfile'));
      expect(sms.slice(0, enableAt + 1).every((s) => s.destination === A.msisdn)).toBe(true);
      expect(sms.slice(enableAt + 1).every((s) => s.destination === B.msisdn)).toBe(true);
      expect(card.uicc.toolkitFaults).toBe(0);
    },
    TEST_MS,
  );

  it(
    'the device is re-attached as IMSI B, and the EIS, the inventory, the card and the notifications all say so',
    async () => {
      // REFRESH (UICC reset): Accounting-Stop for A, the device reads EF.IMSI = B, authenticates with
      // B's keys (only the card's new USIM has them) and opens a session whose Accounting-Start names B.
      await attachedAs(B.imsi, 0);
      expect(events).toContainEqual({ kind: 'refreshed', imsi: B.imsi, previousImsi: A.imsi });
      expect(events).toContainEqual({ kind: 'detached', imsi: A.imsi, cause: 'User-Request' });
      expect(fleet.deviceState(A.imsi)).toMatchObject({ cardImsi: A.imsi, imsi: B.imsi, attached: true });
      expect(await sessions(A.imsi)).toEqual([{ status: 'offline', terminate_cause: 'User-Request' }]);
      expect(await sessions(B.imsi)).toEqual([{ status: 'online', terminate_cause: null }]);
      const simB = await waitFor(
        'B online in the API',
        () => get<SimView>(`/v1/sims/${B.iccid}`),
        (s) => s.sessionStatus?.online === true,
        SETTLE_MS,
      );
      expect(simB.sessionStatus?.imei).toBe(simulatedImei(15));
      expect((await get<SimView>(`/v1/sims/${A.iccid}`)).sessionStatus?.online).not.toBe(true);

      // The card: B's ISD-P enabled, A's disabled.
      expect(onCard()).toEqual({ [A.iccid]: LIFE_CYCLE.DISABLED, [B.iccid]: LIFE_CYCLE.ENABLED });
      // The EIS at the SM-SR (ES4 GetEIS; its audit trail is checked after the audit below).
      expect(await eisStates()).toEqual({ [A.iccid]: 'Disabled', [B.iccid]: 'Enabled' });
      // The inventory.
      const sim = await get<EuiccSim>(`/v1/sims/${eid}`);
      expect(sim.activeProfileId).toBe(B.iccid);
      expect(sim.profiles[B.iccid]).toMatchObject({ state: 'Enabled', primaryImsi: B.imsi });
      expect(sim.profiles[A.iccid]).toMatchObject({ state: 'Disabled', primaryImsi: A.imsi });
      // The notifications: the card's PROFILE_CHANGE_SUCCEEDED (type 02) for B's ISD-P reached the
      // SM-SR (recorded by sequence number) and was confirmed (3A08), so nothing is pending on the card.
      await quiet();
      const isdpB = euicc()
        .snapshot()
        .isdps.find((i) => i.profile?.identity.iccid === B.iccid)?.aid;
      const recorded = await api.platform.store.db
        .selectFrom('esim_sr_notifications')
        .select(['type', 'isdp_aid'])
        .where('eid', '=', eid)
        .orderBy('seq')
        .execute();
      expect(recorded.map((n) => n.type)).toEqual([
        NOTIFICATION_TYPE.EUICC_DECLARATION,
        NOTIFICATION_TYPE.PROFILE_CHANGE_SUCCEEDED,
      ]);
      expect(recorded[1]?.isdp_aid.toUpperCase()).toBe(isdpB?.toUpperCase());
      // The SM-SR's ES3 HandleProfileEnabledNotification for B, written with the EIS change and
      // delivered to the SM-DP that downloaded B (A came with the eUICC: no SM-DP of ours holds it).
      expect(
        await waitFor(
          'HandleProfileEnabledNotification delivered to the SM-DP',
          toSmdp,
          (n) => n.length > 0 && n.every((x) => x.state === 'delivered'),
          SETTLE_MS,
        ),
      ).toEqual([{ kind: 'enabled', iccid: B.iccid, state: 'delivered' }]);
      // …and the ES4 HandleProfileEnabled/DisabledNotification to the operator, which serve's wiring
      // delivers to the operator layer in this process (the inventory follows them).
      const toOperator = await waitFor(
        'the ES4 notifications delivered to the operator layer',
        () =>
          api.platform.store.db
            .selectFrom('esim_notification_outbox')
            .select(['kind', 'iccid', 'state'])
            .where('eid', '=', eid)
            .where('interface', '=', 'ES4')
            .where('receiver_id', '=', mnoIdOf(api.operator.operatorId))
            .orderBy('id')
            .execute(),
        (n) => n.length >= 2 && n.every((x) => x.state === 'delivered'),
        SETTLE_MS,
      );
      expect(toOperator.map((n) => [n.kind, n.iccid])).toEqual([
        ['enabled', B.iccid],
        ['disabled', A.iccid],
      ]);
      // The operator's record: the audit log of its request, beside the operation (above) whose
      // EnableProfile step the SM-SR ended only on the card's notification, and of each notification.
      const audit = await api.platform.store.db
        .selectFrom('audit_logs')
        .select(['operation_id'])
        .where('operator_id', '=', api.operator.operatorId)
        .execute();
      expect(audit.map((a) => a.operation_id)).toEqual(
        expect.arrayContaining([
          'Esim:downloadEsimProfile',
          'Esim:handleProfileEnabledNotification',
          'Esim:handleProfileDisabledNotification',
        ]),
      );
    },
    TEST_MS,
  );

  it(
    'Disable, Enable, Delete (API) and AuditEIS (ES4) each work and agree with the card',
    async () => {
      // Disable B: the fall-back profile A is enabled again, the device goes back to A.
      let from = events.length;
      let op = await ended((await call('POST', `/v1/sims/${eid}/profiles/${B.iccid}/disable`)).operationId);
      expect(op, JSON.stringify(op.steps)).toMatchObject({ status: 'succeeded', kind: 'disable' });
      expect(op.steps.map((s) => [s.name, s.state])).toEqual([
        ['ES4.DisableProfile', 'succeeded'],
        ['DisableProfile', 'succeeded'],
        ['ES4.GetEIS', 'succeeded'],
      ]);
      await attachedAs(A.imsi, from);
      expect(onCard()).toEqual({ [A.iccid]: LIFE_CYCLE.ENABLED, [B.iccid]: LIFE_CYCLE.DISABLED });
      expect(await eisStates()).toEqual({ [A.iccid]: 'Enabled', [B.iccid]: 'Disabled' });
      expect(await inventoryStates()).toEqual({ [A.iccid]: 'Enabled', [B.iccid]: 'Disabled' });
      await quiet();

      // Enable B again: the device attaches as B.
      from = events.length;
      op = await ended((await call('POST', `/v1/sims/${eid}/profiles/${B.iccid}/enable`)).operationId);
      expect(op, JSON.stringify(op.steps)).toMatchObject({ status: 'succeeded', kind: 'enable' });
      await attachedAs(B.imsi, from);
      expect(onCard()).toEqual({ [A.iccid]: LIFE_CYCLE.DISABLED, [B.iccid]: LIFE_CYCLE.ENABLED });
      expect(await eisStates()).toEqual({ [A.iccid]: 'Disabled', [B.iccid]: 'Enabled' });
      expect(await inventoryStates()).toEqual({ [A.iccid]: 'Disabled', [B.iccid]: 'Enabled' });
      await quiet();

      // Enable A (B disabled), then delete B: its ISD-P leaves the card, the EIS and the inventory.
      from = events.length;
      op = await ended((await call('POST', `/v1/sims/${eid}/profiles/${A.iccid}/enable`)).operationId);
      expect(op.status).toBe('succeeded');
      await attachedAs(A.imsi, from);
      await quiet();
      const mark = mt.length;
      op = await ended((await call('DELETE', `/v1/sims/${eid}/profiles/${B.iccid}`)).operationId);
      expect(op, JSON.stringify(op.steps)).toMatchObject({ status: 'succeeded', kind: 'delete' });
      expect(onCard()).toEqual({ [A.iccid]: LIFE_CYCLE.ENABLED });
      expect(await eisStates()).toEqual({ [A.iccid]: 'Enabled' });
      expect(await inventoryStates()).toEqual({ [A.iccid]: 'Enabled' });
      // The delete went by SMS to A's number (the enabled profile's).
      const deletes = es5SmsOf(mt.slice(mark), isdrKeys).filter((s) => s.commands.includes('DeleteProfile'));
      expect(deletes.map((s) => s.destination)).toEqual([A.msisdn]);
      // The SM-DP heard of each change of its profile B, every notification delivered.
      const heard = await waitFor(
        'the notifications delivered to the SM-DP',
        toSmdp,
        (n) => n.length > 0 && n.every((x) => x.state === 'delivered'),
        SETTLE_MS,
      );
      expect(heard.every((n) => n.iccid === B.iccid)).toBe(true);
      expect(heard.map((n) => n.kind).sort()).toEqual([
        'deleted', // Delete B
        'disabled', // Disable B
        'disabled', // Enable A
        'enabled', // the download with enable
        'enabled', // Enable B
      ]);

      // AuditEIS on the operator's ES4 port: GET STATUS on the card, the EIS follows it.
      const auditMark = mt.length;
      const audit = await es4().auditEIS({ functionCallIdentifier: 'audit-1', eid, iccids: [] });
      expect(audit.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
      expect(Object.fromEntries((audit.eis?.profiles ?? []).map((p) => [p.iccid, p.state]))).toEqual({
        [A.iccid]: 'Enabled',
      });
      expect(es5SmsOf(mt.slice(auditMark), isdrKeys).flatMap((s) => s.commands)).toContain('GetStatus');
      // The audit trail holds every operation on this eUICC, in order, each succeeded.
      // The EIS audit trail (SGP.02 Annex 1 codes), each party seeing its own records: the SM-DP's
      // CreateISDP and the enable of its download, the operator's switches, the delete and this audit.
      const T = AUDIT_OPERATION_TYPES;
      expect(trailOf(audit.eis?.auditTrail?.records)).toEqual([
        [T.EnableProfile, A.iccid],
        [T.DisableProfile, B.iccid],
        [T.EnableProfile, B.iccid],
        [T.DisableProfile, A.iccid],
        [T.EnableProfile, A.iccid],
        [T.DisableProfile, B.iccid],
        [T.DeleteProfile, B.iccid],
        [T.eUICCCapabilityAudit, undefined],
      ]);
      const atSmdp = await esim.smsr.es3For(esim.smdpId).getEIS({ functionCallIdentifier: 'get-dp', eid });
      expect(trailOf(atSmdp.eis?.auditTrail?.records)).toEqual([
        [T.CreateISDP, B.iccid],
        [T.EnableProfile, B.iccid],
        [T.DisableProfile, A.iccid],
      ]);
      expect(fleet.deviceState(A.imsi)).toMatchObject({ imsi: A.imsi, attached: true });
      expect(card.uicc.toolkitFaults).toBe(0);
    },
    TEST_MS,
  );
});
