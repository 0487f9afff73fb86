// ES5 over SMS end to end: the SM-SR's SCP80 command packets (ISD-R key set from the EIS, counter from
// the store) go as SIM data download SMS into a booted device around the software eUICC; the card's
// PoRs and default notifications come back as MO SMS through OtaInbound (deliver_sm fields as the
// SMPP package hands them) into Es5Sms. Threats: a PoR or notification that does not verify under the
// eUICC's keys acting on a procedure; an eUICC's MO SMS reaching the anti-theft path or the reverse.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIFE_CYCLE } from '../../../../src/card/euicc/euicc-state.js';
import { isdpAid } from '../../../../src/card/euicc/sgp-02-annex-h.js';
import { hex } from '../../../../src/lib/hex.js';
import { encodeNotification } from '../../../../src/lib/sgp-02-es5.js';
import {
  decodeSmsSubmit,
  decodeUserData,
  encodeUserData,
  IEI,
  reassembleSecuredPacket,
} from '../../../../src/lib/ts-23-040-sms-tpdu.js';
import { secureCommandPacket } from '../../../../src/lib/ts-102-225-secured-packet.js';
import { Es5Sms, ISD_R_TAR } from '../../../../src/platform/esim/sm-sr/es5-sms.js';
import type { SmSr } from '../../../../src/platform/esim/sm-sr/sm-sr-service.js';
import { OtaInbound } from '../../../../src/platform/ota/ota-inbound.js';
import type { OtaService } from '../../../../src/platform/ota/ota-service.js';
import { GroupCommit } from '../../../../src/platform/store/group-commit.js';
import { booted, cell, type Device, euiccOf, SECOND_PROFILE } from '../../../card/euicc/fixture.js';
import { KIC, KID, simDataDeliver } from '../../../card/toolkit/fixture.js';
import { mutate, randomBytes, seededRandom } from '../../../helpers/fuzz.js';
import { type Bench, bench, EID, ICCID, MNO_ID, SMDP_ID, settle } from './fixture.js';

let b: Bench;
let d: Device;
let smsr: SmSr;
let sms: Es5Sms;
let inbound: OtaInbound;
/** The MSISDN the device's MO SMS come from (the enabled profile's). */
let sender = '817000000001';
const outcomes: unknown[] = [];
let n = 0;
const call = () => ({ functionCallIdentifier: `sms-${++n}` });

async function pump(): Promise<void> {
  while (d.sms.length > 0) {
    const tpdu = d.sms.shift() as Uint8Array;
    const s = decodeSmsSubmit(tpdu);
    if (!s.ok) throw new Error(s.error.message);
    outcomes.push(
      await inbound.deliverSm({
        esm_class: 0x40,
        protocol_id: 0x7f,
        data_coding: 0xf6,
        source_addr: sender,
        short_message: Buffer.from(encodeUserData(s.value.userData)),
      }),
    );
  }
}

beforeEach(async () => {
  b = await bench();
  d = booted(b.card);
  d.sms.length = 0;
  outcomes.length = 0;
  sender = '817000000001';
  sms = new Es5Sms({
    store: b.db.store,
    keyRing: b.keyRing,
    notifications: (eid, e1) => smsr.handleNotification(eid, e1),
    link: {
      async send(_destination, userData) {
        for (const ud of userData) {
          const decoded = decodeUserData(ud, true);
          if (!decoded.ok) throw new Error(decoded.error.message);
          const r = d.modem.deliverSms(simDataDeliver(decoded.value));
          if (!r.ok) throw new Error(r.error.message);
        }
        setImmediate(() => void pump());
      },
    },
  });
  smsr = b.restart(sms);
  inbound = new OtaInbound(b.db.store, {} as OtaService, Date.now, sms);
});
afterEach(() => b.db.cleanup());

const states = async () =>
  Object.fromEntries(
    ((await smsr.es4For(MNO_ID).getEIS({ ...call(), eid: EID })).eis?.profiles ?? []).map((p) => [
      p.iccid,
      p.state,
    ]),
  );

describe('ES5 over SMS (SCP80, TAR 000001)', () => {
  it('AuditEIS: GET STATUS in a secured packet, the PoR verified and matched by its counter', async () => {
    const r = await smsr.es4For(MNO_ID).auditEIS({ ...call(), eid: EID, iccids: [] });
    expect(r.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(r.eis?.profiles.map((p) => [p.iccid, p.state])).toEqual([[ICCID, 'Enabled']]);
    expect(outcomes).toContainEqual({ kind: 'esim', receipt: { kind: 'esim-por', eid: EID, counter: 1 } });
    const counter = await b.db.store.db
      .selectFrom('esim_sr_keysets')
      .select('counter')
      .where('eid', '=', EID)
      .executeTakeFirstOrThrow();
    expect(Number(counter.counter)).toBe(1);
  });

  it('download and enable: INSTALL, the REFRESH, the notification by MO SMS, its 3A08 confirmation', async () => {
    const es3 = smsr.es3For(SMDP_ID);
    const created = await es3.createISDP({
      ...call(),
      eid: EID,
      iccid: SECOND_PROFILE.identity.iccid,
      mnoId: MNO_ID,
      requiredMemory: 32_000,
    });
    expect(created.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(
      euiccOf(b.card)
        .snapshot()
        .isdps.find((i) => i.aid === created.isdPAid)?.state,
    ).toBe(LIFE_CYCLE.SELECTABLE);
    euiccOf(b.card).installProfile(created.isdPAid, SECOND_PROFILE);
    const done = await es3.profileDownloadCompleted({
      ...call(),
      eid: EID,
      iccid: SECOND_PROFILE.identity.iccid,
      subscriptionAddress: { imsi: SECOND_PROFILE.identity.imsi, msisdn: SECOND_PROFILE.identity.msisdn },
    });
    expect(done.functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');

    const enabling = es3.enableProfile({ ...call(), eid: EID, iccid: SECOND_PROFILE.identity.iccid });
    await settle(
      async () =>
        (
          await b.db.store.db
            .selectFrom('esim_sr_procedures')
            .select('step')
            .where('active_eid', '=', EID)
            .executeTakeFirst()
        )?.step === 'awaiting-notification',
    );
    expect(d.refreshes.length).toBe(1); // the card asked for the UICC reset
    sender = SECOND_PROFILE.identity.msisdn;
    d.modem.moveTo(cell(2));
    await pump();
    expect((await enabling).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    expect(
      outcomes.some((o) => (o as { receipt?: { kind?: string } }).receipt?.kind === 'esim-notification'),
    ).toBe(true);
    expect(euiccOf(b.card).snapshot().notifications).toEqual([]);
    expect(await states()).toEqual({ [ICCID]: 'Disabled', [SECOND_PROFILE.identity.iccid]: 'Enabled' });
  });

  it('a notification or PoR that does not verify changes nothing; other senders go to the anti-theft path', async () => {
    const e1 = encodeNotification({ eid: EID, type: 2, aid: isdpAid(0x11), seq: 9 });
    if (!e1.ok) throw new Error('encode');
    const forged = secureCommandPacket({
      spi: {
        integrity: 'cc',
        ciphering: true,
        counter: 'none',
        por: 'none',
        porIntegrity: 'none',
        porCiphered: false,
        porViaSubmit: false,
      },
      kic: 0x12,
      kid: 0x12,
      tar: hex(ISD_R_TAR),
      counter: 0,
      keys: {
        kic: { algorithm: 'aes-cbc', key: hex('ff'.repeat(16)) },
        kid: { algorithm: 'aes-cmac', key: hex('ee'.repeat(16)) },
      },
      data: e1.value,
    });
    if (!forged.ok) throw new Error('secure');
    const receipt = await sms.receive(sender, IEI.COMMAND_PACKET, forged.value);
    expect(receipt).toMatchObject({ kind: 'ignored' });
    expect(await states()).toEqual({ [ICCID]: 'Enabled' });
    expect(await sms.receive('819999999999', IEI.COMMAND_PACKET, forged.value)).toBeUndefined();
    const other = await inbound.deliverSm({
      esm_class: 0x40,
      protocol_id: 0x7f,
      data_coding: 0xf6,
      source_addr: '819999999999',
      short_message: Buffer.from(
        encodeUserData({
          header: [{ iei: IEI.COMMAND_PACKET, data: new Uint8Array(0) }],
          body: forged.value,
        }),
      ),
    });
    expect(other).toMatchObject({ kind: 'ignored', code: 'OTA_SMS_NOT_RESPONSE' });
  });

  it('with a group commit: the counter is reserved in it; a PoR from the number the command waits at opens with its keys, a forged or repeated one is ignored', async () => {
    const writer = new GroupCommit(b.db.store, { maxBatch: 16, concurrency: 1 });
    let porArrived: (packet: Uint8Array) => void = () => undefined;
    const por = new Promise<Uint8Array>((resolve) => {
      porArrived = resolve;
    });
    sms = new Es5Sms({
      store: b.db.store,
      keyRing: b.keyRing,
      writer,
      notifications: (eid, e1) => smsr.handleNotification(eid, e1),
      link: {
        async send(_destination, userData) {
          for (const ud of userData) {
            const decoded = decodeUserData(ud, true);
            if (!decoded.ok) throw new Error(decoded.error.message);
            const r = d.modem.deliverSms(simDataDeliver(decoded.value));
            if (!r.ok) throw new Error(r.error.message);
          }
          // The card's PoR is held here, to be handed to receive() by the test.
          const parts = d.sms.splice(0).map((tpdu) => {
            const submit = decodeSmsSubmit(tpdu);
            if (!submit.ok) throw new Error(submit.error.message);
            return submit.value.userData;
          });
          const packet = reassembleSecuredPacket(parts);
          if (!packet.ok) throw new Error(packet.error.message);
          porArrived(packet.value.packet);
        },
      },
    });
    smsr = b.restart(sms);
    const audit = smsr.es4For(MNO_ID).auditEIS({ ...call(), eid: EID, iccids: [] });
    const genuine = await por;
    const forged = genuine.slice();
    forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 0x01;
    expect(await sms.receive(sender, IEI.RESPONSE_PACKET, forged)).toMatchObject({ kind: 'ignored' });
    expect(await sms.receive(sender, IEI.RESPONSE_PACKET, genuine)).toEqual({
      kind: 'esim-por',
      eid: EID,
      counter: 1,
    });
    expect((await audit).functionExecutionStatus.status).toBe('EXECUTED_SUCCESS');
    // Answered once: the same PoR again answers nothing.
    expect(await sms.receive(sender, IEI.RESPONSE_PACKET, genuine)).toMatchObject({
      kind: 'ignored',
      code: 'ES5_POR_UNEXPECTED',
    });
    expect(writer.stats.operations).toBeGreaterThanOrEqual(1);
    const counter = await b.db.store.db
      .selectFrom('esim_sr_keysets')
      .select('counter')
      .where('eid', '=', EID)
      .where('kvn', '=', 1)
      .executeTakeFirstOrThrow();
    expect(Number(counter.counter)).toBe(1);
  });

  it('fuzz: mutated PoRs and notifications from an eUICC always give a receipt, never a throw, never an EIS change', async () => {
    // Seeds: a real PoR (from an audit) and a real notification packet of the card.
    const seeds: { identifier: number; packet: Uint8Array }[] = [];
    const capture = inbound;
    inbound = {
      deliverSm: async (pdu: Record<string, unknown>) => {
        const ud = decodeUserData(new Uint8Array(pdu.short_message as Buffer), true);
        if (ud.ok) {
          const iei = ud.value.header?.find(
            (e) => e.iei === IEI.COMMAND_PACKET || e.iei === IEI.RESPONSE_PACKET,
          )?.iei;
          if (iei !== undefined) seeds.push({ identifier: iei, packet: ud.value.body });
        }
        return capture.deliverSm(pdu);
      },
    } as never;
    await smsr.es4For(MNO_ID).auditEIS({ ...call(), eid: EID, iccids: [] });
    const e1 = encodeNotification({ eid: EID, type: 2, aid: isdpAid(0x10), seq: 3 });
    if (!e1.ok) throw new Error('encode');
    const genuine = secureCommandPacket({
      spi: {
        integrity: 'cc',
        ciphering: true,
        counter: 'none',
        por: 'none',
        porIntegrity: 'none',
        porCiphered: false,
        porViaSubmit: false,
      },
      kic: 0x12,
      kid: 0x12,
      tar: hex(ISD_R_TAR),
      counter: 0,
      keys: { kic: { algorithm: 'aes-cbc', key: hex(KIC) }, kid: { algorithm: 'aes-cmac', key: hex(KID) } },
      data: e1.value,
    });
    if (!genuine.ok) throw new Error('secure');
    seeds.push({ identifier: IEI.COMMAND_PACKET, packet: genuine.value });
    expect(seeds.some((x) => x.identifier === IEI.RESPONSE_PACKET)).toBe(true);
    const before = await states();
    const random = seededRandom(0x5e5e);
    for (let i = 0; i < 2000; i++) {
      const seed = seeds[i % seeds.length] as (typeof seeds)[number];
      const packet = i % 10 === 0 ? randomBytes(random, 120) : mutate(random, seed.packet);
      const identifier = i % 7 === 0 ? IEI.RESPONSE_PACKET : seed.identifier;
      const r = await sms.receive(sender, identifier, packet);
      if (r !== undefined) expect(['esim-por', 'esim-notification', 'ignored']).toContain(r.kind);
    }
    expect(await states()).toEqual(before);
  });
});
