// OTA over real SMPP: the platform's ESME (platform/ota/ota-smpp.ts) binds to the lab SMSC
// (servers/smpp/smsc.ts) over TCP; command packets go out as submit_sm, the SMSC hands them to the
// device, whose modem delivers them to the real software card as SMS-PP; the card's PoR and alert
// come back as deliver_sm and are verified on arrival. Threat covered besides the flow: an MO SMS
// injected at the SMSC with a forged MAC creating an event. SQLite and PostgreSQL.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { OtaService } from '../../../src/platform/ota/ota-service.js';
import type { OtaSmppLink } from '../../../src/platform/ota/ota-smpp.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import type { Smsc } from '../../../src/servers/smpp/smsc.js';
import {
  appletState,
  cell,
  type Device,
  device,
  IMEI,
  newCard,
  OTHER_IMEI,
} from '../../card/toolkit/fixture.js';
import {
  connectOtaLink,
  insertOtaProfile,
  LabNetwork,
  OTA_ACCOUNT,
  type OutcomeQueue,
  provisionAntiTheft,
} from '../../helpers/anti-theft.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../helpers/database.js';

const OPERATOR = 'OP0000000001';
const SIM_ID = '8981000000000900025';
const MSISDN = '819012340025';
const PLATFORM = OTA_ACCOUNT.sourceAddr;

let t: TestDatabase;
let ota: OtaService;
let network: LabNetwork;
let smsc: Smsc;
let link: OtaSmppLink;
let outcomes: OutcomeQueue;
let current: Device;
const nextOutcome = () => outcomes.next();
/** What the card sent, as MO SMS from its MSISDN through the SMSC to the platform's ESME. */
const forwardCardSms = (d: Device) => network.forward(MSISDN, d);

beforeAll(async () => {
  t = await openTestDatabase();
  ota = new OtaService(t.store, await KeyRing.open(t.store, randomBytes(32)), new ManualClock());
  await insertOtaProfile(t.store.db, OPERATOR, SIM_ID, { imsi: '001019000000025', msisdn: MSISDN });
  await provisionAntiTheft(ota, t.store.db, OPERATOR, SIM_ID, '001019999000001');
  // The network side of the SMSC: SIM data for MSISDN goes to the current device's card as SMS-PP.
  network = await LabNetwork.start();
  network.routeDevice(MSISDN, () => current);
  smsc = network.smsc;
  ({ link, outcomes } = await connectOtaLink(network, t.store, ota));
});
afterAll(async () => {
  await link?.close();
  await network?.close();
  await t.cleanup();
});

describe(`OTA over SMPP on ${testDialect}`, () => {
  it('a command reaches the card through the SMSC; its PoR comes back as deliver_sm and settles it', async () => {
    const card = newCard();
    device(card, IMEI, cell(1)).modem.boot();
    current = device(card, IMEI, cell(1));
    current.modem.boot();
    expect(appletState(card).mode).toBe('armed');
    const added = { mcc: '440', mnc: '10', areaCode: 0x1a2b, cellIdentity: '0000009F' };
    const sent = await ota.sendAntiTheftCommands(
      OPERATOR,
      SIM_ID,
      [{ op: 'addCell', cell: added }, { op: 'readState' }],
      link,
    );
    expect(await nextOutcome()).toMatchObject({
      kind: 'por',
      commandId: sent.commandId,
      status: 'applied',
      state: { mode: 'armed' },
    });
    expect(appletState(card).cells).toContainEqual(added);

    // The SIM moved into another device: the alert comes back the same way.
    current = current.moveCardTo(OTHER_IMEI, cell(1));
    current.modem.boot();
    forwardCardSms(current);
    expect(await nextOutcome()).toMatchObject({ kind: 'alert', event: 'ANTITHEFT_IMEI_BLOCKED' });

    // Unblock over OTA: applied, and the event shows on the SIM.
    await ota.sendAntiTheftCommands(OPERATOR, SIM_ID, [{ op: 'unblock' }], link);
    expect(await nextOutcome()).toMatchObject({ kind: 'por', status: 'applied' });
    expect(appletState(card).mode).not.toBe('blocked');
    const events = await ota.events(OPERATOR, SIM_ID, 10);
    expect(events.map((e) => e.event)).toEqual(['ANTITHEFT_UNBLOCKED', 'ANTITHEFT_IMEI_BLOCKED']);
  });

  it('sends the segments of a long command back to back, without waiting for each submit_sm_resp', async () => {
    const card = newCard();
    current = device(card, IMEI, cell(1));
    current.modem.boot();
    // Enough cells and IMEIs that the secured packet needs several SMS.
    const imeis = ['358408000000035', '358408000000043', '358408000000050'];
    const cells = Array.from({ length: 8 }, (_, i) => ({
      mcc: '440',
      mnc: '10',
      areaCode: 0x2000 + i,
      cellIdentity: `000001${String(i).padStart(2, '0')}`,
    }));
    const before = smsc.submits;
    smsc.holdResponses(true);
    const sending = ota.sendAntiTheftCommands(
      OPERATOR,
      SIM_ID,
      [
        ...cells.map((cell) => ({ op: 'addCell' as const, cell })),
        ...imeis.map((imei) => ({ op: 'addImei' as const, imei })),
      ],
      link,
    );
    // With no response answered yet, a link that waits for each one would never send the second.
    while (smsc.submits < before + 2) await new Promise((resolve) => setImmediate(resolve));
    smsc.holdResponses(false);
    const sent = await sending;
    expect(sent.userData.length).toBeGreaterThanOrEqual(2);
    expect(smsc.submits - before).toBe(sent.userData.length);
    expect(await nextOutcome()).toMatchObject({ kind: 'por', commandId: sent.commandId, status: 'applied' });
    for (const c of cells) expect(appletState(card).cells).toContainEqual(c);
    for (const imei of imeis) expect(appletState(card).imeis).toContain(imei);
  });

  it('security: an MO SMS with a forged MAC injected at the SMSC creates no event', async () => {
    // Threat: anyone able to send an SMS to the platform's number claims to be the SIM's alert.
    const before = (await ota.events(OPERATOR, SIM_ID, 100)).length;
    const forged = Uint8Array.of(0x02, 0x71, 0x00, 0x00, 0x2d, 0x12, 0xc0, 0xa7, 0xc0, ...randomBytes(40));
    smsc.deliverMo('ota', {
      source: MSISDN,
      destination: PLATFORM,
      protocolId: 0x7f,
      dataCoding: 0xf6,
      userData: forged,
    });
    expect(await nextOutcome()).toMatchObject({ kind: 'refused' });
    expect(await ota.events(OPERATOR, SIM_ID, 100)).toHaveLength(before);
  });
});
