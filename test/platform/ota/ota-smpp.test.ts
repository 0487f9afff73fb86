// OTA over real SMPP: the platform's ESME (platform/ota/ota-smpp.ts) binds to the lab SMSC
// (servers/smpp/smsc.ts) over TCP; command packets go out as submit_sm, the SMSC hands them to the
// device, whose modem delivers them to the real software card as SMS-PP; the card's PoR and alert
// come back as deliver_sm and are verified on arrival. Threat covered besides the flow: an MO SMS
// injected at the SMSC with a forged MAC creating an event. SQLite and PostgreSQL.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import {
  decodeSmsSubmit,
  decodeUserData,
  encodeSmsDeliver,
  encodeUserData,
  internationalAddress,
  simDataDownload,
} from '../../../src/lib/ts-23-040-sms-tpdu.js';
import type { InboundOutcome } from '../../../src/platform/ota/ota-inbound.js';
import { OtaInbound } from '../../../src/platform/ota/ota-inbound.js';
import { OtaService } from '../../../src/platform/ota/ota-service.js';
import { OtaSmppLink } from '../../../src/platform/ota/ota-smpp.js';
import { KeyRing } from '../../../src/platform/secrets/key-ring.js';
import { type SimDataMessage, Smsc } from '../../../src/servers/smpp/smsc.js';
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
} from '../../card/toolkit/fixture.js';
import { openTestDatabase, type TestDatabase, testDialect } from '../../helpers/database.js';

const OPERATOR = 'OP0000000001';
const SIM_ID = '8981000000000900025';
const MSISDN = '819012340025';
const PLATFORM = '8170000999';

let t: TestDatabase;
let ota: OtaService;
let smsc: Smsc;
let link: OtaSmppLink;
let current: Device;
const outcomes: InboundOutcome[] = [];
const waiting: Array<(o: InboundOutcome) => void> = [];

/** The next verified (or refused) MO message; the test's own timeout bounds the wait. */
const nextOutcome = () =>
  new Promise<InboundOutcome>((resolve) => {
    const ready = outcomes.shift();
    if (ready) resolve(ready);
    else waiting.push(resolve);
  });

/** What the card sent, as MO SMS from its MSISDN through the SMSC to the platform's ESME. */
function forwardCardSms(d: Device): void {
  for (const tpdu of d.sms.splice(0)) {
    const s = decodeSmsSubmit(tpdu);
    if (!s.ok) throw new Error(s.error.message);
    expect(
      smsc.deliverMo('ota', {
        source: MSISDN,
        destination: s.value.destinationAddress.kind === 'digits' ? s.value.destinationAddress.digits : '',
        protocolId: s.value.protocolIdentifier,
        dataCoding: s.value.dataCodingScheme,
        userData: encodeUserData(s.value.userData),
      }),
    ).toBe(true);
  }
}

/** The network side of the SMSC: SIM data for MSISDN goes to the current device's card as SMS-PP. */
function toCard(m: SimDataMessage): void {
  if (m.destination !== MSISDN) return;
  const ud = decodeUserData(m.userData, true);
  if (!ud.ok) throw new Error(ud.error.message);
  const tpdu = encodeSmsDeliver(
    simDataDownload({
      originatingAddress: internationalAddress(m.source),
      serviceCentreTimeStamp: Uint8Array.of(0x62, 0x01, 0x21, 0x11, 0, 0, 0),
      userData: ud.value,
    }),
  );
  if (!tpdu.ok) throw new Error(tpdu.error.message);
  current.modem.deliverSms(tpdu.value);
  forwardCardSms(current);
}

beforeAll(async () => {
  t = await openTestDatabase();
  ota = new OtaService(t.store, await KeyRing.open(t.store, randomBytes(32)), new ManualClock());
  await t.store.db
    .insertInto('sim_profiles')
    .values({
      iccid: SIM_ID,
      sim_id: SIM_ID,
      operator_id: OPERATOR,
      imsi: '001019000000025',
      msisdn: MSISDN,
      secrets: 'unused',
      amf: '8000',
      sqn: 0,
      ind_bits: 5,
      is_primary: 1,
      created_at: 0,
    })
    .execute();
  await ota.provision(
    t.store.db,
    OPERATOR,
    SIM_ID,
    [
      {
        kvn: 1,
        kicAlgorithm: 'aes-cbc',
        kic: Buffer.from(KIC, 'hex'),
        kidAlgorithm: 'aes-cmac',
        kid: Buffer.from(KID, 'hex'),
      },
    ],
    { kvn: 1, reportKvn: 1, quarantineImsi: '001019999000001' },
  );
  smsc = await Smsc.start({ accounts: { ota: 'ota-secret' }, onSimData: toCard });
  link = await OtaSmppLink.connect(
    { url: smsc.url, systemId: 'ota', password: 'ota-secret', sourceAddr: PLATFORM },
    new OtaInbound(t.store, ota),
    (o) => {
      const w = waiting.shift();
      if (w) w(o);
      else outcomes.push(o);
    },
  );
});
afterAll(async () => {
  await link?.close();
  await smsc?.close();
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
