// The platform's receive path for REPORT LOCAL INFO: the real card's secured report (A4) becomes the
// SIM's local information and an ANTITHEFT_LOCAL_INFO event, once. Threats: a forged report (any
// byte flipped, another SIM's keys) that would move a SIM's location on the map, and a replayed
// report that would put an old location back. SQLite and PostgreSQL (SIMTRUST_TEST_DATABASE).

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import {
  decodeUserData,
  encodeSmsDeliver,
  internationalAddress,
  simDataDownload,
} from '../../../src/lib/ts-23-040-sms-tpdu.js';
import { apiCell, loadLocalInfos } from '../../../src/platform/ota/local-info.js';
import { OtaService } from '../../../src/platform/ota/ota-service.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import {
  cell,
  type Device,
  device,
  IMEI,
  KIC,
  KID,
  newCard,
  packetOfSubmits,
} from '../../card/toolkit/fixture.js';
import { openTestDatabase, type TestDatabase } from '../../helpers/database.js';

let t: TestDatabase;
let ota: OtaService;
const clock = new ManualClock();
const OPERATOR = 'OP0000000013';
const FAR = cell(0x777, { areaCode: 0x0999 });

beforeAll(async () => {
  t = await openTestDatabase();
  ota = new OtaService(t.store, await KeyRing.open(t.store, randomBytes(32)), clock);
});
afterAll(() => t.cleanup());

let serial = 0;
async function provisionedSim(kic = KIC, kid = KID): Promise<string> {
  serial++;
  const simId = `8981013000000${String(serial).padStart(6, '0')}`;
  await ota.provision(
    t.store.db,
    OPERATOR,
    simId,
    [
      {
        kvn: 1,
        kicAlgorithm: 'aes-cbc',
        kic: Buffer.from(kic, 'hex'),
        kidAlgorithm: 'aes-cmac',
        kid: Buffer.from(kid, 'hex'),
      },
    ],
    { kvn: 1, reportKvn: 1, quarantineImsi: `0010199913${String(serial).padStart(5, '0')}` },
  );
  return simId;
}

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

/** The card asked over OTA: its PoR and its local information report, as secured packets. */
async function askCard(simId: string, d: Device): Promise<{ por: Uint8Array; report: Uint8Array }> {
  const sent = await ota.secureAntiTheftCommands(OPERATOR, simId, [{ op: 'reportLocalInfo' }]);
  d.sms.length = 0;
  deliver(d, sent.userData);
  expect(d.sms).toHaveLength(2);
  const [por, report] = d.sms.splice(0) as [Uint8Array, Uint8Array];
  return { por: packetOfSubmits([por]).packet, report: packetOfSubmits([report]).packet };
}

function bootedOn(servingCell = cell(1)): Device {
  const card = newCard();
  device(card, IMEI, servingCell).modem.boot();
  const d = device(card, IMEI, servingCell);
  d.modem.boot();
  d.modem.moveTo(FAR);
  return d;
}

const { accessTechnology: _at, ...FAR_CELL } = FAR;

describe(`REPORT LOCAL INFO received by the platform (${process.env.SIMTRUST_TEST_DATABASE ?? 'sqlite'})`, () => {
  it('the PoR settles the command; the report becomes the SIM’s local information and one event', async () => {
    const simId = await provisionedSim();
    const d = bootedOn();
    const { por, report } = await askCard(simId, d);
    expect(await ota.receive(simId, por)).toMatchObject({ kind: 'por', status: 'applied' });
    clock.set(1_700_000_000_000);
    expect(await ota.receive(simId, report)).toEqual({
      kind: 'localInfo',
      localInfo: { imei: IMEI, cell: FAR_CELL, accessTechnology: 'e_utran' },
    });
    const expected = {
      imei: IMEI,
      cell: { radioType: 'eutran', mcc: '440', mnc: '10', tac: 0x0999, eci: 0x777 },
      reportedTime: 1_700_000_000_000,
    };
    expect((await loadLocalInfos(t.store.db, [simId])).get(simId)).toEqual(expected);
    const view = await ota.view(OPERATOR, simId);
    expect(view?.localInfo).toEqual(expected);
    const events = await ota.events(OPERATOR, simId, 10);
    expect(events).toEqual([
      {
        time: 1_700_000_000_000,
        event: 'ANTITHEFT_LOCAL_INFO',
        reason: 'none',
        imei: IMEI,
        cell: expect.objectContaining(FAR_CELL),
      },
    ]);
    // A replay of the same report changes nothing.
    clock.set(1_700_000_100_000);
    expect(await ota.receive(simId, report)).toMatchObject({ kind: 'refused', code: 'OTA_REPLAY' });
    expect(await ota.events(OPERATOR, simId, 10)).toHaveLength(1);
    expect((await loadLocalInfos(t.store.db, [simId])).get(simId)?.reportedTime).toBe(1_700_000_000_000);
  });

  it('security: a forged report (any byte flipped, or under another SIM’s keys) records nothing', async () => {
    const simId = await provisionedSim();
    const d = bootedOn();
    const { report } = await askCard(simId, d);
    for (let i = 0; i < report.length; i++) {
      const forged = report.slice();
      forged[i] = (forged[i] as number) ^ 0x01;
      expect((await ota.receive(simId, forged)).kind, `byte ${i}`).toBe('refused');
    }
    // The same card's report presented for a SIM with other keys.
    const other = await provisionedSim(randomBytes(16).toString('hex'), randomBytes(16).toString('hex'));
    expect(await ota.receive(other, report)).toMatchObject({ kind: 'refused', code: 'OTA_NOT_AUTHENTIC' });
    expect(await ota.events(OPERATOR, simId, 10)).toEqual([]);
    expect(await ota.events(OPERATOR, other, 10)).toEqual([]);
    expect((await loadLocalInfos(t.store.db, [simId, other])).size).toBe(0);
    // The authentic one still counts afterwards: the forgeries did not move the report counter.
    expect(await ota.receive(simId, report)).toMatchObject({ kind: 'localInfo' });
  });

  it('the newest report wins per SIM; SIMs without one have none', async () => {
    const simId = await provisionedSim();
    const d = bootedOn();
    clock.set(1_700_000_200_000);
    expect(await ota.receive(simId, (await askCard(simId, d)).report)).toMatchObject({ kind: 'localInfo' });
    d.modem.moveTo(cell(1));
    clock.set(1_700_000_300_000);
    expect(await ota.receive(simId, (await askCard(simId, d)).report)).toMatchObject({ kind: 'localInfo' });
    const none = await provisionedSim();
    const infos = await loadLocalInfos(t.store.db, [simId, none]);
    expect(infos.get(simId)).toMatchObject({
      reportedTime: 1_700_000_300_000,
      cell: { tac: 0x1a2b, eci: 1 },
    });
    expect(infos.has(none)).toBe(false);
  });
});

describe('apiCell (TS 102 223 §8.19 → the API cell)', () => {
  it('GERAN: LAC and a 16-bit CI; E-UTRAN: TAC and 28-bit ECI; UTRAN: LAC and 28-bit CI', () => {
    expect(
      apiCell({ mcc: '001', mnc: '01', areaCode: 1, cellIdentity: '0001', accessTechnology: 'gsm' }),
    ).toEqual({
      radioType: 'geran',
      mcc: '001',
      mnc: '01',
      lac: 1,
      ci: 1,
    });
    expect(apiCell({ mcc: '440', mnc: '10', areaCode: 0x1a2b, cellIdentity: '0123456F' })).toEqual({
      mcc: '440',
      mnc: '10',
      tac: 0x1a2b,
      eci: 0x0123456,
    });
    expect(
      apiCell({ mcc: '440', mnc: '10', areaCode: 7, cellIdentity: '0123456F', accessTechnology: 'utran' }),
    ).toEqual({ radioType: 'utran', mcc: '440', mnc: '10', lac: 7, ci: 0x0123456 });
  });
});
