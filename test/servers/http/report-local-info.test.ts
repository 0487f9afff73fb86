// POST /v1/sims/{sim_id}/report_local_info (SORACOM reportSimLocalInfo) end to end: app.inject() →
// REPORT LOCAL INFO over the platform's SMPP link (TCP) → lab SMSC → SMS-PP into the real software
// card → PoR and the card's secured local information report back as deliver_sm, verified → the
// anti-theft view and the events show the IMEI and cell the terminal reported. Threats: a request
// silently lost without a link, a SIM without the applet that never answers, another operator
// polling a SIM, hostile sim_ids, a forged report injected at the SMSC moving the SIM on the map.
// SQLite and PostgreSQL.

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnCheckDigit } from '../../../src/lib/luhn.js';
import {
  decodeSmsSubmit,
  decodeUserData,
  encodeSmsDeliver,
  encodeUserData,
  internationalAddress,
  simDataDownload,
} from '../../../src/lib/ts-23-040-sms-tpdu.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { type InboundOutcome, OtaInbound } from '../../../src/platform/ota/ota-inbound.js';
import { OtaSmppLink } from '../../../src/platform/ota/ota-smpp.js';
import { type SimDataMessage, Smsc } from '../../../src/servers/smpp/smsc.js';
import { cell, type Device, device, IMEI, KIC, KID, newCard } from '../../card/toolkit/fixture.js';
import { testDialect } from '../../helpers/database.js';
import { startTestApi, type TestApi } from '../../platform/aaa/fixture.js';

const MSISDN = '819012340813';
const FAR = cell(0x777, { areaCode: 0x0999 });
let api: TestApi;
let smsc: Smsc;
let link: OtaSmppLink | undefined;
let current: Device;
let simId: string;
let bareSimId: string;
const delivered: number[] = [];
const outcomes: InboundOutcome[] = [];
const waiting: Array<(o: InboundOutcome) => void> = [];
const nextOutcome = () =>
  new Promise<InboundOutcome>((resolve) => {
    const ready = outcomes.shift();
    if (ready) resolve(ready);
    else waiting.push(resolve);
  });

/** The card's SMS-SUBMITs as MO SMS through the SMSC; `tamper` changes the user data first. */
function forwardCardSms(d: Device, tamper?: (ud: Uint8Array) => Uint8Array): void {
  for (const tpdu of d.sms.splice(0)) {
    const s = decodeSmsSubmit(tpdu);
    if (!s.ok) throw new Error(s.error.message);
    const ud = encodeUserData(s.value.userData);
    smsc.deliverMo('ota', {
      source: MSISDN,
      destination: '8170000999',
      protocolId: s.value.protocolIdentifier,
      dataCoding: s.value.dataCodingScheme,
      userData: tamper ? tamper(ud) : ud,
    });
  }
}

let tamperNext: ((ud: Uint8Array) => Uint8Array) | undefined;

function toCard(m: SimDataMessage): void {
  if (m.destination !== MSISDN) return;
  delivered.push(Date.now());
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
  // The PoR goes as it is; the report (second SMS) may be tampered with by the test.
  const [por, ...reports] = current.sms.splice(0);
  if (por) current.sms.push(por);
  forwardCardSms(current);
  current.sms.push(...reports);
  forwardCardSms(current, tamperNext);
}

async function newSim(msisdn: string, seed: number): Promise<string> {
  const body =
    `8981100${String(seed).padStart(2, '0')}${String(process.pid % 1_000_000_000).padStart(9, '0')}`.slice(
      0,
      18,
    );
  const view = await api.platform.sims.create(
    systemContext(api.operator.operatorId, 'Sim:createSim', 'test'),
    {
      iccid: body + luhnCheckDigit(body),
      imsi: `00101${String(seed).padStart(2, '0')}${String(process.pid).padStart(8, '0')}`.slice(0, 15),
      msisdn,
      ki: randomBytes(16).toString('hex'),
      opc: randomBytes(16).toString('hex'),
    },
  );
  return view.simId;
}

beforeAll(async () => {
  api = await startTestApi();
  simId = await newSim(MSISDN, 13);
  bareSimId = await newSim('819012340814', 14);
  await api.platform.ota.provision(
    api.platform.store.db,
    api.operator.operatorId,
    simId,
    [
      {
        kvn: 1,
        kicAlgorithm: 'aes-cbc',
        kic: Buffer.from(KIC, 'hex'),
        kidAlgorithm: 'aes-cmac',
        kid: Buffer.from(KID, 'hex'),
      },
    ],
    { kvn: 1, reportKvn: 1, quarantineImsi: '001019999000813' },
  );
  smsc = await Smsc.start({ accounts: { ota: 'ota-secret' }, onSimData: toCard });
  const card = newCard();
  device(card, IMEI, cell(1)).modem.boot();
  current = device(card, IMEI, cell(1));
  current.modem.boot();
  current.modem.moveTo(FAR);
  current.sms.length = 0;
});
afterAll(async () => {
  api.platform.ota.useLink(undefined);
  await link?.close();
  await smsc?.close();
  await api.close();
});

const reportLocalInfo = (id: string, token?: string) =>
  api.call({
    method: 'POST',
    url: `/v1/sims/${encodeURIComponent(id)}/report_local_info`,
    ...(token === undefined ? {} : { token }),
  });

describe(`POST /v1/sims/{sim_id}/report_local_info on ${testDialect}`, () => {
  it('without an SMPP link: 503 that says what to configure, and nothing recorded', async () => {
    const r = await reportLocalInfo(simId);
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ code: 'ERR_OTA_UNAVAILABLE' });
    expect(r.json().message).toMatch(/otaSmppUrl/);
    const view = (await api.call({ method: 'GET', url: `/v1/sims/${simId}/anti_theft` })).json();
    expect(view.pendingCommands).toEqual([]);
    expect(view.localInfo).toBeNull();
    expect((await api.call({ method: 'GET', url: `/v1/sims/${simId}` })).json().localInfo).toBeNull();
  });

  it('the card reports its IMEI and cell: 202 with the SIM, then the verified report shows in the view and the events', async () => {
    link = await OtaSmppLink.connect(
      { url: smsc.url, systemId: 'ota', password: 'ota-secret', sourceAddr: '8170000999' },
      new OtaInbound(api.platform.store, api.platform.ota),
      (o) => {
        const w = waiting.shift();
        if (w) w(o);
        else outcomes.push(o);
      },
    );
    api.platform.ota.useLink(link);
    const r = await reportLocalInfo(simId);
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ simId, status: 'ready' });
    expect(r.json()).not.toHaveProperty('ki');
    // The PoR and the report are two MO SMS, verified concurrently: either may be settled first.
    const kinds = [(await nextOutcome()).kind, (await nextOutcome()).kind];
    expect(kinds.sort()).toEqual(['localInfo', 'por']);

    const view = (await api.call({ method: 'GET', url: `/v1/sims/${simId}/anti_theft` })).json();
    expect(view.lastPor).toMatchObject({ status: 'applied', commands: [{ op: 'reportLocalInfo' }] });
    expect(view.localInfo).toEqual({
      imei: IMEI,
      cell: { radioType: 'eutran', mcc: '440', mnc: '10', tac: 0x0999, eci: 0x777 },
      reportedTime: expect.any(Number),
    });
    // The SIM itself (GET /v1/sims/{sim_id}, SORACOM's localInfo) shows the same.
    const sim = (await api.call({ method: 'GET', url: `/v1/sims/${simId}` })).json();
    expect(sim.localInfo).toEqual(view.localInfo);
    const listed = (await api.call({ method: 'GET', url: '/v1/sims?limit=100' })).json();
    expect(listed.find((x: { simId: string }) => x.simId === simId).localInfo).toEqual(view.localInfo);
    expect(listed.find((x: { simId: string }) => x.simId === bareSimId).localInfo).toBeNull();
    const events = (await api.call({ method: 'GET', url: `/v1/sims/${simId}/events/anti_theft` })).json();
    expect(events).toEqual([
      {
        time: expect.any(Number),
        event: 'ANTITHEFT_LOCAL_INFO',
        reason: 'none',
        imei: IMEI,
        cell: { mcc: '440', mnc: '10', areaCode: 0x0999, cellIdentity: '0000777F' },
      },
    ]);
    const audit = await api.platform.store.db
      .selectFrom('audit_logs')
      .select(['operation_id', 'result'])
      .where('operation_id', '=', 'Sim:reportSimLocalInfo')
      .orderBy('at')
      .execute();
    // The 503 of the first test is audited as a failure, this one as a success.
    expect(audit).toEqual([
      { operation_id: 'Sim:reportSimLocalInfo', result: 'failure' },
      { operation_id: 'Sim:reportSimLocalInfo', result: 'success' },
    ]);
  });

  it('security: a report tampered with on the way (one byte) records nothing', async () => {
    const before = (await api.call({ method: 'GET', url: `/v1/sims/${simId}/anti_theft` })).json();
    current.modem.moveTo(cell(1));
    tamperNext = (ud) => {
      const forged = ud.slice();
      const at = forged.length - 3;
      forged[at] = (forged[at] as number) ^ 0x40;
      return forged;
    };
    try {
      expect((await reportLocalInfo(simId)).statusCode).toBe(202);
      const settled = [await nextOutcome(), await nextOutcome()];
      expect(settled.map((o) => o.kind).sort()).toEqual(['por', 'refused']);
      expect(settled.find((o) => o.kind === 'refused')).toMatchObject({ code: 'OTA_NOT_AUTHENTIC' });
    } finally {
      tamperNext = undefined;
    }
    const after = (await api.call({ method: 'GET', url: `/v1/sims/${simId}/anti_theft` })).json();
    expect(after.localInfo).toEqual(before.localInfo);
    const events = (await api.call({ method: 'GET', url: `/v1/sims/${simId}/events/anti_theft` })).json();
    expect(events).toHaveLength(1);
  });

  it('a SIM without the applet: 409 that says what is missing, and nothing sent', async () => {
    const sentBefore = delivered.length;
    const r = await reportLocalInfo(bareSimId);
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ code: 'ERR_ANTI_THEFT_NOT_PROVISIONED' });
    expect(r.json().message).toMatch(/provision the applet/);
    expect(delivered.length).toBe(sentBefore);
  });

  it('property: hostile sim_ids and another operator get 400 or 404, never 5xx, and nothing is sent', async () => {
    const other = await api.newOperator();
    const sentBefore = delivered.length;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 80 }), fc.constant(simId)), async (id) => {
        if (id === '') return;
        const r = await reportLocalInfo(id, other.token);
        expect([400, 404]).toContain(r.statusCode);
      }),
      { numRuns: 60 },
    );
    expect(delivered.length).toBe(sentBefore);
  });
});
