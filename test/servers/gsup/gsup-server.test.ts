// The GSUP listener (src/servers/gsup) spoken to by the simulator's GSUP client over TCP: vectors the
// software card accepts, AUTS resynchronisation, UpdateLocation with InsertSubscriberData, PurgeMS,
// errors with osmo-hlr's causes, and a listener that survives garbage. Runs on SQLite and PostgreSQL.

import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { c2Sres, c3Kc } from '../../../src/crypto/gsm-milenage.js';
import {
  CN_DOMAIN,
  encodeGsup,
  GMM_CAUSE,
  GSUP_MESSAGE_TYPE,
  sendAuthInfoRequest,
} from '../../../src/lib/gsup/gsup.js';
import { decodeCcm, gsupFrame, gsupPayload, IPA_PROTO, IpaDeframer } from '../../../src/lib/gsup/ipa.js';
import { toHex } from '../../../src/lib/hex.js';
import { systemContext } from '../../../src/platform/iam/principal.js';
import { GsupServer } from '../../../src/servers/gsup/server.js';
import { GsupClient } from '../../../src/simulator/gsup-client.js';
import { type EapFixture, eapFixture, sqnOf } from '../radius/eap-fixture.js';

const silent = { info() {}, warn() {}, error() {}, debug() {} };

describe('GSUP listener', () => {
  let f: EapFixture;
  let server: GsupServer;
  let client: GsupClient;
  beforeAll(async () => {
    f = await eapFixture();
    server = await GsupServer.start({
      db: f.db.store.db,
      auc: f.platform.auc,
      host: '127.0.0.1',
      port: 0,
      logger: silent,
      insertTimeoutMs: 500,
    });
    client = await GsupClient.open({ host: '127.0.0.1', port: server.port, name: 'TEST-SGSN' });
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
    await f.close();
  });

  it('SendAuthInfo: five tuples the card accepts, with GSM SRES/Kc from c2/c3', async () => {
    const card = await f.card();
    const tuples = await client.sendAuthInfo(card.imsi);
    if (!tuples.ok) throw new Error(tuples.error.message);
    expect(tuples.value).toHaveLength(5);
    expect(card.terminal.selectUsim().ok).toBe(true);
    for (const t of tuples.value) {
      if (!t.rand || !t.autn) throw new Error('incomplete tuple');
      const r = card.terminal.authenticateUmts(t.rand, t.autn);
      if (!r.ok || r.value.kind !== 'success') throw new Error(`card refused: ${JSON.stringify(r)}`);
      expect(toHex(r.value.res)).toBe(toHex(t.res ?? new Uint8Array()));
      expect(toHex(r.value.ck)).toBe(toHex(t.ck ?? new Uint8Array()));
      expect(toHex(t.sres ?? new Uint8Array())).toBe(toHex(c2Sres(r.value.res)));
      expect(toHex(t.kc ?? new Uint8Array())).toBe(toHex(c3Kc(r.value.ck, r.value.ik)));
    }
    const two = await client.sendAuthInfo(card.imsi, { numVectors: 2 });
    expect(two.ok && two.value.length).toBe(2);
  });

  it('resynchronises from the AUTS of a card that is ahead (TS 33.102 §6.3.5)', async () => {
    const card = await f.card({ acceptedSqn: '000000100000' });
    expect(card.terminal.selectUsim().ok).toBe(true);
    const first = await client.sendAuthInfo(card.imsi, { numVectors: 1 });
    const t = first.ok ? first.value[0] : undefined;
    if (!t?.rand || !t.autn) throw new Error('no tuple');
    const r = card.terminal.authenticateUmts(t.rand, t.autn);
    if (!r.ok || r.value.kind !== 'sync_failure') throw new Error('the card should be ahead');
    const again = await client.sendAuthInfo(card.imsi, {
      numVectors: 1,
      resync: { auts: r.value.auts, rand: t.rand },
    });
    const n = again.ok ? again.value[0] : undefined;
    if (!n?.rand || !n.autn) throw new Error('no tuple after resync');
    const accepted = card.terminal.authenticateUmts(n.rand, n.autn);
    expect(accepted.ok && accepted.value.kind).toBe('success');
    expect(await sqnOf(f, card.imsi)).toBeGreaterThan(0x100000);
  });

  it('answers an unknown IMSI and a bad AUTS with "IMSI unknown in HLR", as osmo-hlr does', async () => {
    const card = await f.card();
    const bad = await client.sendAuthInfo(card.imsi, {
      resync: { auts: new Uint8Array(randomBytes(14)), rand: new Uint8Array(randomBytes(16)) },
    });
    expect(bad.ok ? 'ok' : bad.error.cause).toBe(GMM_CAUSE['IMSI-Unknown-In-HLR']);
    expect(server.stats.errors).toBeGreaterThan(0);
    const unknown = await client.sendAuthInfo('001019999999998');
    expect(unknown.ok ? 'ok' : unknown.error.cause).toBe(GMM_CAUSE['IMSI-Unknown-In-HLR']);
  });

  it('UpdateLocation (PS): InsertSubscriberData with MSISDN and a PDP context, then the Result', async () => {
    const card = await f.card({ msisdn: '819012345678' });
    const r = await client.updateLocation(card.imsi, CN_DOMAIN.PS);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value?.msisdn).toBe('819012345678');
    expect(r.value?.pdpInfo?.[0]).toMatchObject({ contextId: 1, apn: '*' });
    const purge = await client.purgeMs(card.imsi);
    expect(purge.ok).toBe(true);
  });

  it('refuses UpdateLocation of a suspended SIM ("GPRS services not allowed") and of an unknown IMSI', async () => {
    const card = await f.card();
    const ctx = systemContext(f.operatorId, 'Sim:activateSim', 'test');
    await f.platform.sims.transition(ctx, card.simId, 'activate');
    await f.platform.sims.transition(ctx, card.simId, 'suspend');
    const r = await client.updateLocation(card.imsi, CN_DOMAIN.PS);
    expect(r.ok ? 'ok' : r.error.cause).toBe(GMM_CAUSE['GPRS-Not-Allowed']);
    const unknown = await client.updateLocation('001019999999997');
    expect(unknown.ok ? 'ok' : unknown.error.cause).toBe(GMM_CAUSE['IMSI-Unknown-In-HLR']);
    const purge = await client.purgeMs('001019999999997');
    expect(purge.ok).toBe(false);
  });

  it('answers a request type it does not serve with "message type nonexistent"', async () => {
    const card = await f.card();
    const r = await client.request({
      type: GSUP_MESSAGE_TYPE['CheckIMEI-Request'],
      imsi: card.imsi,
      imei: '358240051111110',
    });
    expect(r).toMatchObject({
      type: GSUP_MESSAGE_TYPE['CheckIMEI-Error'],
      cause: GMM_CAUSE['Message-Type-Nonexistent'],
    });
  });

  it('asks the peer for its identity (ID_GET) and never sends ID_ACK, which libosmocore would echo forever', async () => {
    const socket = connect({ host: '127.0.0.1', port: server.port });
    const deframer = new IpaDeframer();
    const seen: string[] = [];
    socket.on('data', (d) => {
      for (const frame of deframer.push(new Uint8Array(d))) {
        if (frame.proto !== IPA_PROTO.CCM) continue;
        const ccm = decodeCcm(frame.payload);
        if (ccm.ok) seen.push(ccm.value.type);
      }
    });
    // An ID_ACK from the peer must not be echoed.
    socket.write(Uint8Array.of(0, 1, 0xfe, 0x06));
    await new Promise((r) => setTimeout(r, 200));
    socket.destroy();
    expect(seen).toEqual(['ID_GET']);
  });

  it('keeps serving while a peer sends garbage (threat: a broken or hostile core element stopping the HLR)', async () => {
    const dropped = server.stats.framesDropped;
    // One peer breaks the framing itself; it only harms its own connection.
    const noise = connect({ host: '127.0.0.1', port: server.port });
    await new Promise((r) => noise.once('connect', r));
    noise.write(randomBytes(5000));
    // Another sends well-framed frames whose content does not decode, then a valid request.
    const card = await f.card();
    const hostile = connect({ host: '127.0.0.1', port: server.port });
    await new Promise((r) => hostile.once('connect', r));
    const deframer = new IpaDeframer();
    const answered = new Promise<number>((resolve) => {
      hostile.on('data', (d) => {
        for (const frame of deframer.push(new Uint8Array(d))) {
          const body = gsupPayload(frame);
          if (body !== undefined) resolve(body[0] ?? 0);
        }
      });
    });
    for (let i = 0; i < 300; i++) {
      const bytes =
        i % 2 === 0 ? Uint8Array.of(0x08, 0x28, 0x01, 0x01) : new Uint8Array(randomBytes(1 + (i % 30)));
      const frame = gsupFrame(bytes);
      if (frame.ok) hostile.write(frame.value);
    }
    const request = encodeGsup(sendAuthInfoRequest(card.imsi, { numVectors: 1 }));
    const frame = request.ok ? gsupFrame(request.value) : undefined;
    if (!frame?.ok) throw new Error('encode');
    hostile.write(frame.value);
    expect(await answered).toBe(GSUP_MESSAGE_TYPE['SendAuthInfo-Result']);
    expect(server.stats.framesDropped).toBeGreaterThanOrEqual(dropped + 150);
    const r = await client.sendAuthInfo(card.imsi, { numVectors: 1 });
    expect(r.ok).toBe(true);
    noise.destroy();
    hostile.destroy();
  });
});
