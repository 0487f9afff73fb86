// GET /v1/sims/{sim_id}/anti_theft and /events/anti_theft through app.inject(), with the real
// software card producing the PoR and the alert. Threats: OTA key material in an answer, another
// operator reading a SIM's anti-theft state, a forged alert showing up as an event. SQLite and
// PostgreSQL.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeUserData,
  encodeSmsDeliver,
  internationalAddress,
  simDataDownload,
} from '../../../src/lib/ts-23-040-sms-tpdu.js';
import {
  appletState,
  cell,
  device,
  IMEI,
  KIC,
  KID,
  newCard,
  OTHER_IMEI,
  packetOfSubmits,
} from '../../card/toolkit/fixture.js';
import { provisionAntiTheft } from '../../helpers/anti-theft.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi } from '../../platform/aaa/fixture.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

async function provisioned(quarantineImsi: string) {
  const sim = await createSim(api);
  await provisionAntiTheft(
    api.platform.ota,
    api.platform.store.db,
    api.operator.operatorId,
    sim.simId,
    quarantineImsi,
  );
  return sim;
}

function armedDevice() {
  const card = newCard();
  device(card, IMEI, cell(1)).modem.boot();
  const d = device(card, IMEI, cell(1));
  d.modem.boot();
  expect(appletState(card).mode).toBe('armed');
  return d;
}

describe(`anti-theft API on ${testDialect}`, () => {
  it('shows the reported state, the last PoR, pending commands and the last alert; never a key', async () => {
    const sim = await provisioned('001019999100001');
    const d = armedDevice();
    const sent = await api.platform.ota.secureAntiTheftCommands(api.operator.operatorId, sim.simId, [
      { op: 'readState' },
    ]);
    // Delivered to the card as the transport would (SMS-PP download of each segment).
    for (const ud of sent.userData) {
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
      expect(d.modem.deliverSms(tpdu.value).ok).toBe(true);
    }
    const pending = await api.platform.ota.secureAntiTheftCommands(api.operator.operatorId, sim.simId, [
      { op: 'unblock' },
    ]);
    expect(await api.platform.ota.receive(sim.simId, packetOfSubmits(d.sms.splice(0)).packet)).toMatchObject({
      kind: 'por',
      status: 'applied',
    });
    const thief = d.moveCardTo(OTHER_IMEI, cell(1));
    thief.modem.boot();
    expect(
      await api.platform.ota.receive(sim.simId, packetOfSubmits(thief.sms.splice(0)).packet),
    ).toMatchObject({
      kind: 'alert',
    });

    const r = await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/anti_theft` });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({
      simId: sim.simId,
      tar: 'C0A7C0',
      kvn: 1,
      reportKvn: 1,
      quarantineImsi: '001019999100001',
      reported: { mode: 'armed', imeis: [IMEI] },
      lastAlert: { event: 'ANTITHEFT_IMEI_BLOCKED', reason: 'imei_mismatch', imei: OTHER_IMEI },
      lastPor: { id: sent.commandId, status: 'applied', porStatus: 0, result: { executed: 1, result: 'ok' } },
      pendingCommands: [{ id: pending.commandId, status: 'pending', commands: [{ op: 'unblock' }] }],
    });
    // No key material, sealed or clear, in the answer.
    expect(r.body.toLowerCase()).not.toContain(KIC);
    expect(r.body.toLowerCase()).not.toContain(KID);
    expect(r.body).not.toMatch(/s1\./);

    const events = await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/events/anti_theft` });
    expect(events.statusCode).toBe(200);
    expect(events.json()).toEqual([
      {
        time: expect.any(Number),
        event: 'ANTITHEFT_IMEI_BLOCKED',
        reason: 'imei_mismatch',
        imei: OTHER_IMEI,
        cell: null,
      },
    ]);
  });

  it('security: another operator gets 404; a SIM without the applet gets 409 saying what to do', async () => {
    // Threat: tenant isolation — one operator reading another's anti-theft state or events.
    const sim = await provisioned('001019999100002');
    const other = await api.newOperator();
    for (const url of [`/v1/sims/${sim.simId}/anti_theft`, `/v1/sims/${sim.simId}/events/anti_theft`]) {
      const r = await api.call({ method: 'GET', url, token: other.token });
      expect(r.statusCode).toBe(404);
    }
    const plain = await createSim(api);
    const r = await api.call({ method: 'GET', url: `/v1/sims/${plain.simId}/anti_theft` });
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ code: 'ERR_ANTI_THEFT_NOT_PROVISIONED' });
    expect(r.json().message).toMatch(/provision/);
  });
});
