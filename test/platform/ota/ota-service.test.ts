// The platform side of OTA (platform/ota) against the real software card with the anti-theft
// applet: key sets sealed at rest, command counters moved atomically, commands the card accepts,
// PoRs that settle the pending command, alerts that become SIM events. Runs on SQLite and
// PostgreSQL (SIMTRUST_TEST_DATABASE).

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { toHex } from '../../../src/lib/hex.js';
import {
  decodeUserData,
  encodeSmsDeliver,
  internationalAddress,
  simDataDownload,
} from '../../../src/lib/ts-23-040-sms-tpdu.js';
import { OtaService } from '../../../src/platform/ota/ota-service.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import {
  appletState,
  cell,
  type Device,
  device,
  IMEI,
  KIC,
  KID,
  newCard,
  OTHER_IMEI,
  packetOfSubmits,
  QUARANTINE_IMSI,
} from '../../card/toolkit/fixture.js';
import { provisionAntiTheft } from '../../helpers/anti-theft.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

let t: TestDatabase;
let ota: OtaService;
const clock = new ManualClock();
const OPERATOR = 'OP0000000001';

beforeAll(async () => {
  t = await openTestDatabase();
  ota = new OtaService(t.store, await KeyRing.open(t.store, randomBytes(32)), clock);
});
afterAll(() => t.cleanup());

let serial = 0;
/** A SIM provisioned with the fixture card's key set 1 and its anti-theft applet. */
async function provisionedSim(): Promise<string> {
  serial++;
  const simId = `8981000000000${String(serial).padStart(6, '0')}`;
  // Each SIM has its own quarantine identity; the card of the fixture writes QUARANTINE_IMSI.
  const quarantineImsi = serial === 1 ? QUARANTINE_IMSI : `0010199990${String(serial).padStart(5, '0')}`;
  await provisionAntiTheft(ota, t.store.db, OPERATOR, simId, quarantineImsi);
  return simId;
}

/** Transport as the SMSC would do it: each segment as an SMS-PP download to the card. */
function deliver(d: Device, userData: readonly Uint8Array[]): void {
  for (const ud of userData) {
    const parsed = decodeUserData(ud, true);
    if (!parsed.ok) throw new Error(parsed.error.message);
    const tpdu = encodeSmsDeliver(
      simDataDownload({
        originatingAddress: internationalAddress('8170000999'),
        serviceCentreTimeStamp: Uint8Array.of(0x62, 0x01, 0x21, 0x11, 0, 0, 0),
        userData: parsed.value,
      }),
    );
    if (!tpdu.ok) throw new Error(tpdu.error.message);
    const r = d.modem.deliverSms(tpdu.value);
    if (!r.ok) throw new Error(r.error.message);
  }
}

/** The secured packet the card sent (PoR or alert), taken out of the SMS-SUBMITs. */
function sentPacket(d: Device): Uint8Array {
  const tpdus = d.sms.splice(0);
  return packetOfSubmits(tpdus).packet;
}

const HOME = [cell(1), cell(2)];

function armedDevice(): Device {
  const card = newCard();
  const first = device(card, IMEI, HOME[0]);
  first.modem.boot();
  first.modem.moveTo(HOME[1] as never);
  const d = device(card, IMEI, HOME[0]);
  d.modem.boot();
  expect(appletState(card).mode).toBe('armed');
  return d;
}

const alertsOf = (simId: string) =>
  t.store.db.selectFrom('anti_theft_alerts').selectAll().where('sim_id', '=', simId).execute();

describe('OTA key sets', () => {
  it('are sealed at rest: the row never holds KIc or KID in clear', async () => {
    const simId = await provisionedSim();
    const row = await t.store.db
      .selectFrom('ota_key_sets')
      .selectAll()
      .where('sim_id', '=', simId)
      .executeTakeFirstOrThrow();
    expect(row.secrets).toMatch(/^s1\./);
    expect(row.secrets.toLowerCase()).not.toContain(KIC);
    expect(row.secrets.toLowerCase()).not.toContain(KID);
    expect(JSON.stringify(row)).not.toContain(Buffer.from(KIC, 'hex').toString('base64'));
    expect(Number(row.counter)).toBe(0);
  });

  it('refuses a key that does not fit its algorithm and an applet without its key set', async () => {
    await expect(
      ota.provision(t.store.db, OPERATOR, 'X1', [
        {
          kvn: 1,
          kicAlgorithm: 'aes-cbc',
          kic: new Uint8Array(5),
          kidAlgorithm: 'aes-cmac',
          kid: new Uint8Array(16),
        },
      ]),
    ).rejects.toThrow(/KIc of key version 1/);
    await expect(
      ota.provision(t.store.db, OPERATOR, 'X2', [], {
        kvn: 2,
        reportKvn: 2,
        quarantineImsi: '001019999999999',
      }),
    ).rejects.toThrow(/no key set/);
  });

  it('hands out each command counter once, however many callers race', async () => {
    const simId = await provisionedSim();
    const sent = await Promise.all(
      Array.from({ length: 20 }, () => ota.secureAntiTheftCommands(OPERATOR, simId, [{ op: 'readState' }])),
    );
    expect(sent.map((s) => s.counter).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    const rows = await t.store.db
      .selectFrom('ota_commands')
      .select(['status'])
      .where('sim_id', '=', simId)
      .execute();
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.status === 'pending')).toBe(true);
  });

  it('refuses commands for a SIM of another operator', async () => {
    const simId = await provisionedSim();
    await expect(
      ota.secureAntiTheftCommands('OP0000000002', simId, [{ op: 'readState' }]),
    ).rejects.toMatchObject({
      code: 'ERR_ANTI_THEFT_NOT_PROVISIONED',
    });
  });
});

describe('commands and PoRs with the real card', () => {
  it('the card runs the command; the verified PoR settles it and reports the state', async () => {
    const simId = await provisionedSim();
    const d = armedDevice();
    const added = { mcc: '440', mnc: '10', areaCode: 0x1a2b, cellIdentity: '0000009F' };
    const sent = await ota.secureAntiTheftCommands(OPERATOR, simId, [
      { op: 'addCell', cell: added },
      { op: 'readState' },
    ]);
    deliver(d, sent.userData);
    expect(appletState(d.card).cells).toContainEqual(added);
    const por = sentPacket(d);
    const outcome = await ota.receive(simId, por);
    expect(outcome).toMatchObject({
      kind: 'por',
      commandId: sent.commandId,
      status: 'applied',
      porStatus: 0,
      result: { executed: 2, result: 'ok' },
      state: { mode: 'armed' },
    });
    const applet = await ota.antiTheftOf(OPERATOR, simId);
    expect(JSON.parse(applet?.reported ?? '{}').cells).toContainEqual(added);

    // Security (replayed PoR): the same PoR again settles nothing.
    expect(await ota.receive(simId, por)).toMatchObject({ kind: 'refused', code: 'OTA_POR_UNMATCHED' });
  });

  it('security: a replayed command packet is refused by the card and changes nothing', async () => {
    // Threat: an attacker records a command SMS and sends it again (same counter).
    const simId = await provisionedSim();
    const d = armedDevice();
    const sent = await ota.secureAntiTheftCommands(OPERATOR, simId, [{ op: 'block' }]);
    deliver(d, sent.userData);
    // The BLOCK's PoR and its alert (reason remote_block) go out as two SMS, the PoR first.
    const outcomes = [];
    for (const sms of d.sms.splice(0)) outcomes.push(await ota.receive(simId, packetOfSubmits([sms]).packet));
    expect(outcomes).toMatchObject([
      { kind: 'por', status: 'applied' },
      { kind: 'alert', event: 'ANTITHEFT_REMOTE_BLOCKED' },
    ]);
    const unblock = await ota.secureAntiTheftCommands(OPERATOR, simId, [{ op: 'unblock' }]);
    deliver(d, unblock.userData);
    expect(await ota.receive(simId, sentPacket(d))).toMatchObject({ kind: 'por', status: 'applied' });
    expect((await alertsOf(simId)).map((a) => a.event)).toEqual([
      'ANTITHEFT_REMOTE_BLOCKED',
      'ANTITHEFT_UNBLOCKED',
    ]);
    const before = appletState(d.card);
    deliver(d, sent.userData); // the BLOCK again, counter 1 < 2
    expect(appletState(d.card)).toEqual(before);
    // The card's CNTR-low PoR settles nothing on the platform either.
    expect(await ota.receive(simId, sentPacket(d))).toMatchObject({
      kind: 'refused',
      code: 'OTA_POR_COUNTER_LOW',
    });
    expect(await alertsOf(simId)).toHaveLength(2);
  });
});

describe('alerts', () => {
  it('an alert from the SIM moved into another device becomes ANTITHEFT_IMEI_BLOCKED', async () => {
    const simId = await provisionedSim();
    const d = armedDevice();
    const thief = d.moveCardTo(OTHER_IMEI, HOME[0] as never);
    thief.modem.boot();
    const alert = sentPacket(thief);
    expect(await ota.receive(simId, alert)).toMatchObject({
      kind: 'alert',
      event: 'ANTITHEFT_IMEI_BLOCKED',
      alert: { reason: 'imei_mismatch', imei: OTHER_IMEI },
    });
    const rows = await alertsOf(simId);
    expect(rows).toMatchObject([
      { event: 'ANTITHEFT_IMEI_BLOCKED', reason: 'imei_mismatch', imei: OTHER_IMEI },
    ]);

    // Security (replayed alert): the same alert again creates nothing.
    expect(await ota.receive(simId, alert)).toMatchObject({ kind: 'refused', code: 'OTA_REPLAY' });
    expect(await alertsOf(simId)).toHaveLength(1);
  });

  it('security: a forged alert (bad MAC, wrong key, other SIM) creates no event', async () => {
    // Threat: anyone can send an MO SMS claiming to be the SIM's alert; only a packet under the SIM's
    // own report key set may become an event.
    const simId = await provisionedSim();
    const other = await provisionedSim();
    const d = armedDevice();
    const thief = d.moveCardTo(OTHER_IMEI, HOME[0] as never);
    thief.modem.boot();
    const alert = sentPacket(thief);
    for (let i = 6; i < alert.length; i++) {
      const forged = alert.slice();
      forged[i] = (forged[i] as number) ^ 0x01;
      expect((await ota.receive(simId, forged)).kind).toBe('refused');
    }
    // The same genuine packet presented for a SIM whose keys are different is not authentic there.
    const otherKeys = 'OTHER';
    await ota.provision(
      t.store.db,
      OPERATOR,
      otherKeys,
      [
        {
          kvn: 1,
          kicAlgorithm: 'aes-cbc',
          kic: randomBytes(16),
          kidAlgorithm: 'aes-cmac',
          kid: randomBytes(16),
        },
      ],
      { kvn: 1, reportKvn: 1, quarantineImsi: '001019999888888' },
    );
    expect(await ota.receive(otherKeys, alert)).toMatchObject({ kind: 'refused', code: 'OTA_NOT_AUTHENTIC' });
    expect(await alertsOf(simId)).toHaveLength(0);
    expect(await alertsOf(otherKeys)).toHaveLength(0);
    expect(await ota.receive(simId, alert)).toMatchObject({ kind: 'alert' });
    expect(await alertsOf(other)).toHaveLength(0);
  });

  it('property: hostile SIM ids and packets never create an alert or settle a command', async () => {
    // Threat: request data (the sender's SIM id, the packet) becomes the lookup key of key sets and
    // commands; no value may reach another SIM's rows or throw.
    const simId = await provisionedSim();
    await ota.secureAntiTheftCommands(OPERATOR, simId, [{ op: 'readState' }]);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.constantFrom(simId, `${simId} `, simId.toUpperCase(), `${simId}%`, "' or 1=1 --", '%', '_'),
        ),
        fc.uint8Array({ maxLength: 200 }),
        async (id, packet) => {
          const tarred = Uint8Array.of(0x00, packet.length + 4, 0x0d, 0xc0, 0xa7, 0xc0, ...packet);
          expect((await ota.receive(id, packet)).kind).toBe('refused');
          expect((await ota.receive(id, tarred)).kind).toBe('refused');
        },
      ),
      { numRuns: 150 },
    );
    const commands = await t.store.db
      .selectFrom('ota_commands')
      .select('status')
      .where('sim_id', '=', simId)
      .execute();
    expect(commands).toEqual([{ status: 'pending' }]);
    const all = await t.store.db.selectFrom('anti_theft_alerts').select('sim_id').execute();
    expect(all.every((a) => a.sim_id !== simId)).toBe(true);
  });
});

describe('quarantine identity', () => {
  it('names the SIM whose applet blocks with that IMSI', async () => {
    const simId = await provisionedSim();
    const row = await ota.antiTheftOf(OPERATOR, simId);
    expect(await ota.quarantineOwner(row?.quarantine_imsi as string)).toEqual({
      simId,
      operatorId: OPERATOR,
    });
    expect(await ota.quarantineOwner('999999999999999')).toBeUndefined();
    expect(toHex(Buffer.from(row?.tar ?? '', 'hex')).toUpperCase()).toBe('C0A7C0');
  });
});
