// Issue 13 acceptance, end to end over real protocols: the platform with its GSUP and RADIUS
// listeners and its HTTP API on TCP, its OTA link bound over SMPP to the lab SMSC, and a simulated
// fleet whose cards carry the anti-theft applet (OTA keys provisioned on the platform). The
// simulator's SmsNetwork hands the platform's SIM data to the device's card as SMS-PP; what the card
// sends (PoRs, alerts) comes back as MO deliver_sm — from the quarantine IMSI once the card blocked. Every wait is on state (the API, the fleet, the card), bounded with a message.
//
// Threats: a SIM moved into another device, or a device taken away, keeping data service; normal
// reselection blocking a fixed device; an operator unable to bring a blocked SIM back remotely; forged
// or replayed OTA packets (or a forged alert) changing the card or the SIM's record. SQLite and
// PostgreSQL.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OtaKeySet } from '../../src/crypto/ts-102-225-scp80.js';
import { encodeCommands } from '../../src/lib/anti-theft-encoding.js';
import { hex } from '../../src/lib/hex.js';
import { encodeUserData, type UserData } from '../../src/lib/ts-23-040-sms-tpdu.js';
import { OtaInbound } from '../../src/platform/ota/ota-inbound.js';
import { OtaSmppLink } from '../../src/platform/ota/ota-smpp.js';
import { Fleet } from '../../src/simulator/fleet.js';
import type { Cell } from '../../src/simulator/packet-gateway.js';
import { SmsNetwork } from '../../src/simulator/sms-network.js';
import {
  appletState,
  type CommandOptions,
  commandUserData,
  persistent,
  TAR,
} from '../card/toolkit/fixture.js';
import {
  type AntiTheftSim,
  type CoreNetwork,
  connectOtaLink,
  createAntiTheftSim,
  LabNetwork,
  OTA_ACCOUNT,
  type OutcomeQueue,
  startCoreNetwork,
  waitFor,
} from '../helpers/anti-theft.js';
import { startTestApi, type TestApi } from '../helpers/app.js';
import { testDialect } from '../helpers/database.js';

const IMEI_A = '358408000000019';
const IMEI_B = '358408000000027';
const OTHER_IMEI = '359999000000013';
const home = (eci: number): Cell => ({ mcc: '001', mnc: '01', tac: 100, eci });
const far = (eci: number): Cell => ({ mcc: '001', mnc: '01', tac: 900, eci });
const A_CELLS = [home(0x1001), home(0x1002), home(0x1003)];
const B_CELLS = [home(0x2001), home(0x2002)];
/** A fleet cell as the applet registers it and the API shows it (TS 102 223 §8.19, E-UTRAN). */
const apiCell = (c: Cell) => ({
  mcc: c.mcc,
  mnc: c.mnc,
  areaCode: c.tac,
  cellIdentity: `${c.eci.toString(16).padStart(7, '0')}F`.toUpperCase(),
});
const INTRUDER = { systemId: 'intruder', password: 'intruder-secret', sourceAddr: '8170000666' };

type Json = Record<string, unknown> & { [k: string]: unknown };

let api: TestApi;
let base: string;
let core: CoreNetwork;
let network: LabNetwork;
let link: OtaSmppLink;
let outcomes: OutcomeQueue;
let fleet: Fleet;
let sms: SmsNetwork;
let a: AntiTheftSim;
let b: AntiTheftSim;
/** Every SIM data message the SMSC handed to a card, by MSISDN: what an attacker could record. */
const seen = new Map<string, Uint8Array[]>();

async function http(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${api.operator.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, json: text === '' ? {} : (JSON.parse(text) as Json) };
}

const get = async (path: string) => (await http('GET', path)).json;
const antiTheft = (sim: AntiTheftSim) => get(`/v1/sims/${sim.simId}/anti_theft`);
const events = async (sim: AntiTheftSim) =>
  (await get(`/v1/sims/${sim.simId}/events/anti_theft`)) as unknown as Array<{ event: string }>;
const refusals = async (sim: AntiTheftSim) =>
  (await get(`/v1/sims/${sim.simId}/events/refusals`)) as unknown as Array<Json>;
const sessionOf = async (sim: AntiTheftSim) =>
  (await get(`/v1/sims/${sim.simId}`)).sessionStatus as { online: boolean; imsi?: string } | null;

/** Sends `method path` (202 with the pending command) and waits until its PoR settled it. */
async function overOta(sim: AntiTheftSim, method: string, path: string, body?: unknown): Promise<Json> {
  const r = await http(method, `/v1/sims/${sim.simId}/anti_theft${path}`, body);
  expect(r.status, JSON.stringify(r.json)).toBe(202);
  // PUT answers { desired, command }, POST …/unblock the command itself.
  const id = ((r.json.command ?? r.json) as { id?: number }).id;
  if (id === undefined) throw new Error(`no pending command in ${JSON.stringify(r.json)}`);
  await waitFor(
    `the PoR of OTA command ${id} (${method} …/anti_theft${path}) to settle it`,
    () => antiTheft(sim),
    (v) => (v.lastPor as { id?: number } | null)?.id === id,
  );
  // Read again: the view's queries are not one snapshot, so the read that first saw the settled
  // command may have read the reported state just before the settlement committed.
  return antiTheft(sim);
}

const attachedWith = (sim: AntiTheftSim, imsi: string) =>
  waitFor(
    `device of ${sim.imsi} attached with ${imsi}`,
    () => fleet.deviceState(sim.imsi),
    (d) => d.attached && d.imsi === imsi,
  );

beforeAll(async () => {
  api = await startTestApi();
  base = await api.app.listen({ host: '127.0.0.1', port: 0 });
  core = await startCoreNetwork(api.platform, api.operator.operatorId);
  a = await createAntiTheftSim(api.platform, api.operator.operatorId, 1, { learningSeconds: 0 });
  b = await createAntiTheftSim(api.platform, api.operator.operatorId, 2, { learningSeconds: 0 });
  network = await LabNetwork.start({ [INTRUDER.systemId]: INTRUDER.password });
  ({ link, outcomes } = await connectOtaLink(network, api.platform.store, api.platform.ota));
  api.platform.ota.useLink(link);

  // The simulator's radio side of SMS carries SIM data to the cards and their SMS back; the test
  // keeps a copy of what went to each card, as an attacker on the air interface could.
  sms = new SmsNetwork({
    systemId: OTA_ACCOUNT.systemId,
    subscribers: [a, b].map((sim) => ({ imsi: sim.imsi, msisdn: sim.msisdn })),
  });
  for (const sim of [a, b]) {
    seen.set(sim.msisdn, []);
    network.route(sim.msisdn, (_tpdu, m) => {
      seen.get(sim.msisdn)?.push(m.userData);
      sms.onSimData(m);
    });
  }
  fleet = await Fleet.open({
    devices: [
      { card: a.card, imei: IMEI_A, cell: A_CELLS[0] as Cell },
      { card: b.card, imei: IMEI_B, cell: B_CELLS[0] as Cell },
    ],
    ...core.fleet,
    // Long enough that the test would time out if a card's REFRESH (block, unblock) waited for it:
    // the device registers again at once with the identity it re-read.
    retrySeconds: 120,
    attachSpreadMs: 0,
    onCardSms: sms.onCardSms,
  });
  sms.connect(fleet, network.smsc);
  await core.admit(fleet);
  fleet.start();
});

afterAll(async () => {
  await fleet?.stop();
  sms?.close();
  api?.platform.ota.useLink(undefined);
  await link?.close();
  await network?.close();
  await core?.close();
  await api?.close();
});

describe(`anti-theft end to end over GSUP, RADIUS, SMPP and the API on ${testDialect}`, () => {
  it('a) devices boot, register their IMEI and the cells they use (learning), arm at the next boot, attach', async () => {
    await attachedWith(a, a.imsi);
    await attachedWith(b, b.imsi);
    // Learning: every serving cell is registered.
    for (const c of A_CELLS.slice(1)) fleet.moveDevice(a.imsi, c);
    fleet.moveDevice(b.imsi, B_CELLS[1] as Cell);
    // Power cycle in the same device: learning ends, the IMEI still matches.
    await fleet.moveCardInto(a.imsi, IMEI_A);
    await fleet.moveCardInto(b.imsi, IMEI_B);
    await attachedWith(a, a.imsi);
    await attachedWith(b, b.imsi);

    // What the cards hold, as the platform reads it over OTA (PUT ends with READ STATE).
    for (const [sim, imei, cells] of [
      [a, IMEI_A, A_CELLS],
      [b, IMEI_B, B_CELLS],
    ] as const) {
      const view = await overOta(sim, 'PUT', '', { tolerance: { strikes: 3, windowSeconds: 0 } });
      expect(view.lastPor).toMatchObject({ status: 'applied' });
      expect(view.reported).toMatchObject({
        mode: 'armed',
        reason: 'none',
        imeis: [imei],
        cells: cells.map(apiCell),
      });
      expect(await sessionOf(sim)).toMatchObject({ online: true, imsi: sim.imsi });
    }
  });

  it('b) reselection back and forth among registered cells never blocks', async () => {
    for (const i of [1, 2, 0, 2, 1, 0, 1, 2, 0]) fleet.moveDevice(a.imsi, A_CELLS[i] as Cell);
    for (const i of [0, 1, 0, 1, 0]) fleet.moveDevice(b.imsi, B_CELLS[i] as Cell);
    expect(appletState(a.card.uicc)).toMatchObject({ mode: 'armed', strikes: 0 });
    expect(appletState(b.card.uicc)).toMatchObject({ mode: 'armed', strikes: 0 });
    expect(fleet.deviceState(a.imsi)).toMatchObject({ attached: true, imsi: a.imsi });
    expect(fleet.deviceState(b.imsi)).toMatchObject({ attached: true, imsi: b.imsi });
    expect(await events(a)).toEqual([]);
    expect(await events(b)).toEqual([]);
  });

  it('c) the SIM moved into another device blocks at boot: its quarantine attach is refused, the alert reaches the API', async () => {
    await fleet.moveCardInto(a.imsi, OTHER_IMEI);
    await waitFor(
      'the moved SIM refused by the HLR with its quarantine IMSI',
      () => fleet.deviceState(a.imsi),
      (d) => d.imsi === a.quarantineImsi && /GPRS-Not-Allowed/.test(d.lastRefusal ?? ''),
    );
    const view = await waitFor(
      'ANTITHEFT_IMEI_BLOCKED in GET …/anti_theft',
      () => antiTheft(a),
      (v) => v.lastAlert !== null,
    );
    expect(view.lastAlert).toMatchObject({ event: 'ANTITHEFT_IMEI_BLOCKED', imei: OTHER_IMEI });
    expect((await events(a)).map((e) => e.event)).toEqual(['ANTITHEFT_IMEI_BLOCKED']);
    expect((await refusals(a))[0]).toMatchObject({
      code: 'ANTI_THEFT_BLOCKED',
      imsi: a.quarantineImsi,
      access: 'gsup',
    });
    expect(await sessionOf(a)).toMatchObject({ online: false });
  });

  it('d) a device taken to unregistered far cells is blocked once the tolerance is spent', async () => {
    fleet.moveDevice(b.imsi, far(0x9001));
    fleet.moveDevice(b.imsi, far(0x9002));
    expect(appletState(b.card.uicc)).toMatchObject({ mode: 'armed', strikes: 2 });
    expect(fleet.deviceState(b.imsi)).toMatchObject({ attached: true, imsi: b.imsi });
    fleet.moveDevice(b.imsi, far(0x9003));
    await waitFor(
      'the stolen device refused with its quarantine IMSI',
      () => fleet.deviceState(b.imsi),
      (d) => d.imsi === b.quarantineImsi && !d.attached && /GPRS-Not-Allowed/.test(d.lastRefusal ?? ''),
    );
    const view = await waitFor(
      'ANTITHEFT_CELL_BLOCKED in GET …/anti_theft',
      () => antiTheft(b),
      (v) => v.lastAlert !== null,
    );
    expect(view.lastAlert).toMatchObject({ event: 'ANTITHEFT_CELL_BLOCKED', imei: IMEI_B });
    expect((await refusals(b))[0]).toMatchObject({ code: 'ANTI_THEFT_BLOCKED', imsi: b.quarantineImsi });
    await waitFor(
      'the session closed',
      () => sessionOf(b),
      (s) => s?.online === false,
    );
  });

  it('e) the operator adds the cell over OTA and unblocks; the device attaches again with its own IMSI', async () => {
    const cells = [...B_CELLS, far(0x9003)].map(apiCell);
    const configured = await overOta(b, 'PUT', '', { cells });
    expect(configured.lastPor).toMatchObject({ status: 'applied' });
    expect(configured.reported).toMatchObject({ mode: 'blocked', cells });
    const unblocked = await overOta(b, 'POST', '/unblock');
    expect(unblocked.lastPor).toMatchObject({ status: 'applied' });
    expect(unblocked.pendingCommands).toEqual([]);
    // The UNBLOCK PoR's own READ STATE is the state the card is in once it unblocked: armed again.
    expect(unblocked.reported).toMatchObject({ mode: 'armed', reason: 'none', strikes: 0, cells });
    await attachedWith(b, b.imsi);
    await waitFor(
      'GET /v1/sims/{id} online with the real IMSI',
      () => sessionOf(b),
      (s) => s?.online === true && s.imsi === b.imsi,
    );
    expect((await events(b)).map((e) => e.event)).toEqual(['ANTITHEFT_UNBLOCKED', 'ANTITHEFT_CELL_BLOCKED']);
  });

  it('f) refused and reported, nothing changed: replayed, wrong-MAC, wrong-key and unknown-TAR packets through the SMSC; a forged alert as MO', async () => {
    outcomes.drain();
    const intruder = await OtaSmppLink.connect(
      { url: network.smsc.url, ...INTRUDER },
      new OtaInbound(api.platform.store, api.platform.ota),
    );
    try {
      const card = () => {
        const p = JSON.parse(persistent(b.card.uicc, b.card.file)) as Json;
        return JSON.stringify({ files: p.files, toolkit: p.toolkit });
      };
      const before = { card: card(), view: await antiTheft(b), events: await events(b) };
      const recorded = seen.get(b.msisdn) ?? [];
      const lastSent = recorded[recorded.length - 1];
      if (lastSent === undefined) throw new Error('no OTA packet was sent to the card');
      /** One SMS of a fresh command (counter far ahead) that START LEARNING would be. */
      const packet = (o: CommandOptions) =>
        encodeUserData(
          commandUserData(encodeCommands([{ op: 'startLearning' }]), 1_000_000, o)[0] as UserData,
        );
      const foreign: OtaKeySet = {
        kic: { algorithm: 'aes-cbc', key: new Uint8Array(randomBytes(16)) },
        kid: { algorithm: 'aes-cmac', key: new Uint8Array(randomBytes(16)) },
      };
      for (const [what, userData, code] of [
        ['a replayed packet (same counter)', lastSent, 'OTA_POR_COUNTER_LOW'],
        ['a wrong MAC', packet({ corrupt: true }), 'OTA_NOT_AUTHENTIC'],
        ['a wrong key', packet({ keys: foreign }), 'OTA_NOT_AUTHENTIC'],
        ['an unknown TAR', packet({ tar: hex('C0FFEE') }), 'OTA_TAR_UNKNOWN'],
      ] as const) {
        await intruder.send(b.msisdn, [userData]);
        expect(await outcomes.next(`the card's PoR to ${what}`), what).toMatchObject({
          kind: 'refused',
          code,
        });
        expect(card(), what).toBe(before.card);
      }
      // An alert with a forged MAC, sent to the platform as if from the SIM.
      network.smsc.deliverMo('ota', {
        source: b.msisdn,
        destination: INTRUDER.sourceAddr,
        protocolId: 0x7f,
        dataCoding: 0xf6,
        userData: Uint8Array.of(0x02, 0x71, 0x00, 0x00, 0x2d, 0x12, ...TAR, ...randomBytes(40)),
      });
      expect(await outcomes.next('the forged alert to be judged')).toMatchObject({ kind: 'refused' });
      expect(await events(b)).toEqual(before.events);
      const after = await antiTheft(b);
      expect({ lastAlert: after.lastAlert, lastPor: after.lastPor, pending: after.pendingCommands }).toEqual({
        lastAlert: before.view.lastAlert,
        lastPor: before.view.lastPor,
        pending: before.view.pendingCommands,
      });
      expect(appletState(b.card.uicc)).toMatchObject({ mode: 'armed' });
      expect(fleet.deviceState(b.imsi)).toMatchObject({ attached: true, imsi: b.imsi });
    } finally {
      await intruder.close();
    }
  });
});
