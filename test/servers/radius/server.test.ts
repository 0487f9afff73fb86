// The RADIUS server end to end over UDP, with a NAS built from the codec and the API through
// inject(). Threats: a datagram from an unknown source, with a wrong secret, forged or replayed
// (BlastRADIUS-style tampering without Message-Authenticator) being answered; a retransmission
// being counted twice; a suspended SIM keeping its data session; secrets leaking through the API.

import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAttribute, getAttributes } from '../../../src/lib/radius/attributes.js';
import { decryptMppeKey } from '../../../src/lib/radius/rfc-2548-mppe.js';
import { RADIUS_CODES } from '../../../src/lib/radius/rfc-2865-packet.js';
import { reassembleEapMessage } from '../../../src/lib/radius/rfc-3579-eap-message.js';
import type { EapHandler } from '../../../src/servers/radius/eap-handler.js';
import { type RunningRadius, startRadius } from '../../../src/servers/radius/index.js';
import { DynamicAuthorizationClient } from '../../../src/servers/radius/rfc-5176-dynamic-authorization.js';
import { RadiusServer } from '../../../src/servers/radius/server.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi, type TestSim } from '../../platform/aaa/fixture.js';
import { TestDynamicAuthorizationServer, TestNas } from './nas.js';

const SECRET = 'radius-test-secret';
const IMEISV = '3534321910800007';
const IMEI = '353432191080009';
const MSK = new Uint8Array(64).map((_, i) => i);

/** Stands in for the EAP methods: one challenge round, then success with a known MSK. */
const eapStub: EapHandler = {
  async handle(ctx) {
    if (ctx.state === undefined) {
      // A Request longer than one attribute, to see the server split EAP-Message (RFC 3579 §3.1).
      const big = new Uint8Array(600).fill(0xaa);
      big.set([1, 7, 600 >> 8, 600 & 0xff, 23]);
      return { code: 'challenge', eapMessage: big, state: Uint8Array.of(1, 2, 3) };
    }
    return {
      code: 'accept',
      eapMessage: Uint8Array.of(3, 8, 0, 4),
      msk: MSK,
      userName: `0${ctx.client.operatorId.length}`,
    };
  },
};

let api: TestApi;
let radius: RunningRadius;
let nas: TestNas;
let das: TestDynamicAuthorizationServer;
let metrics: Registry;

beforeAll(async () => {
  api = await startTestApi({ config: { radiusDynamicAuthorizationTimeoutMs: 100 } });
  das = new TestDynamicAuthorizationServer(SECRET);
  const coaPort = await das.start();
  const created = await api.call({
    method: 'POST',
    url: '/v1/radius_clients',
    payload: { address: '127.0.0.1', secret: SECRET, name: 'pgw-test', coaPort },
  });
  expect(created.statusCode).toBe(201);
  metrics = new Registry();
  radius = await startRadius({
    platform: api.platform,
    logger: pino({ level: 'silent' }),
    metrics,
    eapHandler: eapStub,
    host: '127.0.0.1',
    authPort: 0,
    acctPort: 0,
  });
  nas = await new TestNas(SECRET).start();
});
afterAll(async () => {
  nas.close();
  das.close();
  await radius.close();
  await api.close();
});

const gatewayRequest = (sim: TestSim, extra: Parameters<TestNas['access']>[1] = []) =>
  nas.access(radius.authPort, [
    ['User-Name', sim.imsi],
    ['3GPP-IMSI', sim.imsi],
    ['3GPP-IMEISV', IMEISV],
    ['3GPP-User-Location-Info', { type: 'TAI+ECGI', mcc: '001', mnc: '01', tac: 0x426d, eci: 0x13e02 }],
    ['3GPP-RAT-Type', 6],
    ['Called-Station-Id', 'iot.example'],
    ['NAS-IP-Address', '127.0.0.1'],
    ...extra,
  ]);

async function attach(sim: TestSim, acctSessionId: string): Promise<string> {
  const answer = await gatewayRequest(sim);
  const ip = answer && getAttribute(answer.packet, 'Framed-IP-Address');
  if (!ip?.ok) throw new Error('no address');
  const start = await nas.accounting(radius.acctPort, [
    ['Acct-Status-Type', 1],
    ['Acct-Session-Id', acctSessionId],
    ['3GPP-IMSI', sim.imsi],
    ['3GPP-IMEISV', IMEISV],
    ['Framed-IP-Address', ip.value],
    ['Called-Station-Id', 'iot.example'],
    ['3GPP-User-Location-Info', { type: 'TAI+ECGI', mcc: '001', mnc: '01', tac: 0x426d, eci: 0x13e02 }],
  ]);
  expect(start?.packet.code).toBe(RADIUS_CODES['Accounting-Response']);
  return ip.value;
}

describe(`RADIUS server on ${testDialect}`, () => {
  it('packet gateway (TS 29.061 §16): Accept with Framed-IP-Address from the pool and the speed-class rate', async () => {
    const sim = await createSim(api);
    const answer = await gatewayRequest(sim);
    expect(answer?.packet.code).toBe(RADIUS_CODES['Access-Accept']);
    const ip = getAttribute(answer!.packet, 'Framed-IP-Address');
    expect(ip?.ok && ip.value).toMatch(/^127\.64\.\d+\.\d+$/);
    expect(getAttribute(answer!.packet, 'WISPr-Bandwidth-Max-Down')).toEqual({ ok: true, value: 512_000 });
    // The SIM became active with its first session; the same SIM gets the same address again.
    const view = await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}` });
    expect(view.json().status).toBe('active');
    const again = await gatewayRequest(sim);
    expect(getAttribute(again!.packet, 'Framed-IP-Address')).toEqual(ip);
  });

  it('rejects a SIM locked to another IMEI with Reply-Message, and the refusal is visible in the API', async () => {
    const sim = await createSim(api);
    const lock = await api.call({
      method: 'POST',
      url: `/v1/sims/${sim.simId}/set_imei_lock`,
      payload: { imei: '490154203237518' },
    });
    expect(lock.statusCode).toBe(200);
    const answer = await gatewayRequest(sim);
    expect(answer?.packet.code).toBe(RADIUS_CODES['Access-Reject']);
    expect(getAttribute(answer!.packet, 'Reply-Message')).toEqual({
      ok: true,
      value: 'SIM is IMEI-locked to another device',
    });
    const refusals = await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/events/refusals` });
    expect(refusals.json()).toEqual([
      expect.objectContaining({
        code: 'IMEI_MISMATCH',
        imei: IMEI,
        access: 'packet-gateway',
        nasAddress: '127.0.0.1',
      }),
    ]);
  });

  it('rejects unknown subscribers and requests without an IMSI', async () => {
    const unknown = await nas.access(radius.authPort, [['3GPP-IMSI', '001019999999999']]);
    expect(unknown?.packet.code).toBe(RADIUS_CODES['Access-Reject']);
    expect(getAttribute(unknown!.packet, 'Reply-Message')).toEqual({ ok: true, value: 'unknown subscriber' });
    const none = await nas.access(radius.authPort, [['User-Name', 'someone@example']]);
    expect(getAttribute(none!.packet, 'Reply-Message')).toEqual({ ok: true, value: 'no 3GPP-IMSI' });
  });

  it('accounting Start / Interim / Stop → sessionStatus, session events and usage through the API', async () => {
    const sim = await createSim(api);
    const ip = await attach(sim, 'acct-1');
    let view = (await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}` })).json();
    expect(view.sessionStatus).toMatchObject({
      online: true,
      imsi: sim.imsi,
      imei: IMEI,
      ueIpAddress: ip,
      apn: 'iot.example',
      cell: { radioType: 'eutran', mcc: '001', mnc: '01', tac: 0x426d, eci: 0x13e02 },
    });
    const interim = nas.build(
      RADIUS_CODES['Accounting-Request'],
      [
        ['Acct-Status-Type', 3],
        ['Acct-Session-Id', 'acct-1'],
        ['3GPP-IMSI', sim.imsi],
        ['Acct-Input-Octets', 1000],
        ['Acct-Output-Octets', 7],
        ['Acct-Output-Gigawords', 1],
        ['3GPP-User-Location-Info', { type: 'ECGI', mcc: '001', mnc: '01', eci: 0x999 }],
      ],
      false,
    );
    const first = await nas.send(radius.acctPort, interim);
    // A retransmission (same bytes): the cached answer, nothing recorded twice.
    const duplicatesBefore = radius.server.stats.duplicates;
    const second = await nas.send(radius.acctPort, interim);
    expect(Buffer.from(second!.raw).equals(Buffer.from(first!.raw))).toBe(true);
    expect(radius.server.stats.duplicates - duplicatesBefore).toBe(1);
    // The same totals in a new packet (the NAS repeats its Interim): still counted once.
    await nas.accounting(radius.acctPort, [
      ['Acct-Status-Type', 3],
      ['Acct-Session-Id', 'acct-1'],
      ['3GPP-IMSI', sim.imsi],
      ['Acct-Input-Octets', 1000],
      ['Acct-Output-Octets', 7],
      ['Acct-Output-Gigawords', 1],
    ]);
    await nas.accounting(radius.acctPort, [
      ['Acct-Status-Type', 2],
      ['Acct-Session-Id', 'acct-1'],
      ['3GPP-IMSI', sim.imsi],
      ['Acct-Input-Octets', 1500],
      ['Acct-Output-Octets', 7],
      ['Acct-Output-Gigawords', 1],
      ['Acct-Terminate-Cause', 1],
    ]);
    view = (await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}` })).json();
    expect(view.sessionStatus.online).toBe(false);
    expect(view.previousSession).toMatchObject({ imsi: sim.imsi, ueIpAddress: ip, cell: { eci: 0x999 } });
    const events = (await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/events/sessions` })).json();
    expect(events.map((e: { event: string }) => e.event)).toEqual(['Deleted', 'Modified', 'Created']);
    const now = Math.floor(Date.now() / 1000);
    const stats = await api.call({
      method: 'GET',
      url: `/v1/stats/air/sims/${sim.simId}?from=${now - 86400}&to=${now + 3600}&period=day`,
    });
    expect(stats.statusCode).toBe(200);
    expect(stats.json()[0].dataTrafficStatsMap['s1.standard']).toMatchObject({
      uploadByteSizeTotal: 1500,
      downloadByteSizeTotal: 2 ** 32 + 7,
    });
  });

  it('drops and counts: unknown source, wrong secret, missing Message-Authenticator, malformed, wrong port', async () => {
    const d = radius.server.stats.dropped;
    const before = { ...d };
    const stranger = await new TestNas(SECRET, '127.0.0.2').start();
    expect(
      await stranger.send(radius.authPort, stranger.build(RADIUS_CODES['Access-Request'], []), 300),
    ).toBeUndefined();
    stranger.close();
    const liar = await new TestNas('not-the-secret').start();
    expect(
      await liar.send(radius.authPort, liar.build(RADIUS_CODES['Access-Request'], []), 300),
    ).toBeUndefined();
    expect(
      await liar.send(
        radius.acctPort,
        liar.build(RADIUS_CODES['Accounting-Request'], [['Acct-Status-Type', 1]], false),
        300,
      ),
    ).toBeUndefined();
    liar.close();
    const bare = nas.build(RADIUS_CODES['Access-Request'], [['3GPP-IMSI', '001010000000001']], false);
    expect(await nas.send(radius.authPort, bare, 300)).toBeUndefined();
    const broken = nas.build(RADIUS_CODES['Access-Request'], []);
    broken[3] = 200; // Length beyond the datagram
    expect(await nas.send(radius.authPort, broken, 300)).toBeUndefined();
    expect(
      await nas.send(radius.acctPort, nas.build(RADIUS_CODES['Access-Request'], []), 300),
    ).toBeUndefined();
    expect(d.unknown_client - before.unknown_client).toBe(1);
    expect(d.bad_authenticator - before.bad_authenticator).toBe(2);
    expect(d.missing_message_authenticator - before.missing_message_authenticator).toBe(1);
    expect(d.malformed - before.malformed).toBe(1);
    expect(d.unexpected_code - before.unexpected_code).toBe(1);
    const text = await metrics.metrics();
    expect(text).toMatch(/simtrust_radius_dropped_total\{reason="unknown_client"\} [1-9]/);
  });

  it('answers Status-Server (RFC 5997) on both ports', async () => {
    const auth = await nas.send(radius.authPort, nas.build(RADIUS_CODES['Status-Server'], []));
    expect(auth?.packet.code).toBe(RADIUS_CODES['Access-Accept']);
    const acct = await nas.send(radius.acctPort, nas.build(RADIUS_CODES['Status-Server'], []));
    expect(acct?.packet.code).toBe(RADIUS_CODES['Accounting-Response']);
  });

  it('carries EAP (RFC 3579): fragments EAP-Message, keeps State, sends MS-MPPE keys that decrypt to the MSK', async () => {
    const first = await nas.access(radius.authPort, [['EAP-Message', Uint8Array.of(2, 1, 0, 6, 1, 0x41)]]);
    expect(first?.packet.code).toBe(RADIUS_CODES['Access-Challenge']);
    const eap = reassembleEapMessage(first!.packet);
    expect(eap.ok && eap.value?.length).toBe(600);
    const chunks = getAttributes(first!.packet, 'EAP-Message');
    expect(chunks.ok && chunks.value.map((c) => c.length)).toEqual([253, 253, 94]);
    const state = getAttribute(first!.packet, 'State');
    expect(state?.ok && Array.from(state.value)).toEqual([1, 2, 3]);
    const request = nas.build(RADIUS_CODES['Access-Request'], [
      ['EAP-Message', Uint8Array.of(2, 7, 0, 5, 23)],
      ['State', Uint8Array.of(1, 2, 3)],
    ]);
    const accept = await nas.send(radius.authPort, request);
    expect(accept?.packet.code).toBe(RADIUS_CODES['Access-Accept']);
    const requestAuthenticator = request.slice(4, 20);
    const recv = getAttribute(accept!.packet, 'MS-MPPE-Recv-Key');
    const send = getAttribute(accept!.packet, 'MS-MPPE-Send-Key');
    if (!recv?.ok || !send?.ok) throw new Error('no MPPE keys');
    const r = decryptMppeKey(recv.value, SECRET, requestAuthenticator);
    const s = decryptMppeKey(send.value, SECRET, requestAuthenticator);
    expect(r.ok && Array.from(r.value)).toEqual(Array.from(MSK.subarray(0, 32)));
    expect(s.ok && Array.from(s.value)).toEqual(Array.from(MSK.subarray(32, 64)));
    // EAP without Message-Authenticator is dropped even from a client that does not require it.
    const noMa = nas.build(
      RADIUS_CODES['Access-Request'],
      [['EAP-Message', Uint8Array.of(2, 1, 0, 5, 1)]],
      false,
    );
    expect(await nas.send(radius.authPort, noMa, 300)).toBeUndefined();
  });

  it('without EAP methods, an Access-Request carrying EAP-Message gets Access-Reject with EAP-Failure', async () => {
    const bare = await RadiusServer.start({
      platform: api.platform,
      logger: pino({ level: 'silent' }),
      host: '127.0.0.1',
      authPort: 0,
      acctPort: 0,
    });
    try {
      const answer = await nas.access(bare.port('auth'), [
        ['EAP-Message', Uint8Array.of(2, 9, 0, 6, 1, 0x41)],
      ]);
      expect(answer?.packet.code).toBe(RADIUS_CODES['Access-Reject']);
      const eap = reassembleEapMessage(answer!.packet);
      expect(eap.ok && Array.from(eap.value ?? [])).toEqual([4, 9, 0, 4]);
    } finally {
      await bare.close();
    }
  });

  it('suspending a SIM sends a Disconnect-Request to the NAS; the ACK ends the session and is recorded', async () => {
    const sim = await createSim(api);
    await attach(sim, 'dm-1');
    const suspended = await api.call({ method: 'POST', url: `/v1/sims/${sim.simId}/suspend` });
    expect(suspended.statusCode).toBe(200);
    await waitFor(async () => {
      const list = (
        await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/events/dynamic_authorization` })
      ).json();
      return list.length === 1 && list[0].status === 'ack';
    });
    const seen = das.seen.find(
      (s) =>
        s.packet.code === RADIUS_CODES['Disconnect-Request'] &&
        getAttribute(s.packet, 'Acct-Session-Id')?.ok &&
        (getAttribute(s.packet, 'Acct-Session-Id') as { value: string }).value === 'dm-1',
    );
    expect(seen?.authentic).toBe(true);
    expect(getAttribute(seen!.packet, 'User-Name')).toEqual({ ok: true, value: sim.imsi });
    expect(getAttribute(seen!.packet, 'Framed-IP-Address')?.ok).toBe(true);
    const list = (
      await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/events/dynamic_authorization` })
    ).json();
    expect(list[0]).toMatchObject({
      kind: 'disconnect',
      reason: 'Sim:suspendSim',
      status: 'ack',
      attempts: 1,
      errorCause: null,
    });
    const view = (await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}` })).json();
    expect(view.sessionStatus.online).toBe(false);
    // And the suspended SIM cannot come back.
    expect((await gatewayRequest(sim))?.packet.code).toBe(RADIUS_CODES['Access-Reject']);
  });

  it('changing the speed class sends a CoA-Request with the new rate', async () => {
    const sim = await createSim(api);
    await attach(sim, 'coa-1');
    const changed = await api.call({
      method: 'POST',
      url: `/v1/sims/${sim.simId}/update_speed_class`,
      payload: { speedClass: 's1.fast' },
    });
    expect(changed.statusCode).toBe(200);
    await waitFor(() => das.sessionIds(RADIUS_CODES['CoA-Request']).includes('coa-1'));
    const coa = das.seen.filter((s) => s.packet.code === RADIUS_CODES['CoA-Request']).at(-1)!;
    expect(coa.authentic).toBe(true);
    expect(getAttribute(coa.packet, 'WISPr-Bandwidth-Max-Up')).toEqual({ ok: true, value: 2_000_000 });
    expect(getAttribute(coa.packet, 'WISPr-Bandwidth-Max-Down')).toEqual({ ok: true, value: 2_000_000 });
    await waitFor(async () => {
      const list = (
        await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/events/dynamic_authorization` })
      ).json();
      return list[0]?.status === 'ack' && list[0]?.detail.speedClass === 's1.fast';
    });
  });

  it('delete_session disconnects; NAK (with Error-Cause) and silence (after retries) are recorded', async () => {
    const sim = await createSim(api);
    const none = await api.call({ method: 'POST', url: `/v1/sims/${sim.simId}/delete_session` });
    expect(none.statusCode).toBe(409);
    expect(none.json().code).toBe('ERR_NO_SESSION');
    await attach(sim, 'del-1');
    das.mode = 'nak';
    const nak = await api.call({ method: 'POST', url: `/v1/sims/${sim.simId}/delete_session` });
    expect(nak.statusCode).toBe(200);
    expect(nak.json().sessionStatus.online).toBe(true);
    das.mode = 'silent';
    const silent = await api.call({ method: 'POST', url: `/v1/sims/${sim.simId}/delete_session` });
    expect(silent.statusCode).toBe(200);
    das.mode = 'ack';
    const ok = await api.call({ method: 'POST', url: `/v1/sims/${sim.simId}/delete_session` });
    expect(ok.json().sessionStatus.online).toBe(false);
    const list = (
      await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/events/dynamic_authorization` })
    ).json();
    expect(
      list.map((r: { status: string; attempts: number; errorCause: number | null }) => [
        r.status,
        r.attempts,
        r.errorCause,
      ]),
    ).toEqual([
      ['ack', 1, null],
      ['timeout', 3, null],
      ['nak', 1, 503],
    ]);
    expect(das.sessionIds(RADIUS_CODES['Disconnect-Request']).filter((id) => id === 'del-1')).toHaveLength(5);
  });

  it('a Disconnect left pending by a crashed process is sent again at the next start', async () => {
    const sim = await createSim(api);
    await attach(sim, 'resume-1');
    const session = await api.db.store.db
      .selectFrom('sim_sessions')
      .select('session_id')
      .where('acct_session_id', '=', 'resume-1')
      .executeTakeFirstOrThrow();
    await api.db.store.db
      .insertInto('radius_dynamic_requests')
      .values({
        operator_id: api.operator.operatorId,
        sim_id: sim.simId,
        session_id: session.session_id,
        kind: 'disconnect',
        reason: 'Sim:suspendSim',
        nas_address: '127.0.0.1',
        detail: '{}',
        status: 'pending',
        attempts: 0,
        error_cause: null,
        created_at: Date.now() - 60_000,
        completed_at: null,
      })
      .execute();
    const restarted = await DynamicAuthorizationClient.start({
      platform: api.platform,
      clients: radius.server.clients,
      logger: pino({ level: 'silent' }),
      host: '127.0.0.1',
    });
    try {
      await waitFor(() => das.sessionIds(RADIUS_CODES['Disconnect-Request']).includes('resume-1'));
      await waitFor(async () => {
        const list = (
          await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}/events/dynamic_authorization` })
        ).json();
        return list.length === 2 && list[0].status === 'ack' && list[1].status === 'error';
      });
    } finally {
      await restarted.close();
      api.platform.aaa.attachSessionControl(radius.dynamicAuthorization);
    }
  });

  it('set_imei_lock with an empty IMEI locks to the IMEI of the current session', async () => {
    const sim = await createSim(api);
    await attach(sim, 'lock-1');
    const locked = await api.call({
      method: 'POST',
      url: `/v1/sims/${sim.simId}/set_imei_lock`,
      payload: { imei: '' },
    });
    expect(locked.statusCode).toBe(200);
    expect(locked.json().imeiLock).toEqual({ imei: IMEI, allowAnonymous: false });
  });
});

describe(`/v1/radius_clients on ${testDialect}`, () => {
  it('stores the secret sealed, never returns it, refuses bad input, and isolates operators', async () => {
    const secret = 'a-long-secret-value';
    const created = await api.call({
      method: 'POST',
      url: '/v1/radius_clients',
      payload: { address: '10.1.2.0/24', secret, coaPort: 3800, requireMessageAuthenticator: false },
    });
    expect(created.statusCode).toBe(201);
    expect(created.body).not.toContain(secret);
    const client = created.json();
    expect(client).toMatchObject({
      address: '10.1.2.0/24',
      name: '10.1.2.0/24',
      coaPort: 3800,
      requireMessageAuthenticator: false,
    });
    expect(Object.keys(client)).not.toContain('secret');
    const row = await api.db.store.db
      .selectFrom('radius_clients')
      .selectAll()
      .where('client_id', '=', client.clientId)
      .executeTakeFirstOrThrow();
    expect(row.secret).toMatch(/^s1\./);
    expect(row.secret).not.toContain(Buffer.from(secret).toString('base64').slice(0, 10));

    const list = await api.call({ method: 'GET', url: '/v1/radius_clients' });
    expect(list.body).not.toContain(secret);
    const updated = await api.call({
      method: 'PUT',
      url: `/v1/radius_clients/${client.clientId}`,
      payload: { secret: 'rotated-secret-value', name: 'ap-floor-2' },
    });
    expect(updated.json()).toMatchObject({ name: 'ap-floor-2' });
    const audit = await api.db.store.db.selectFrom('audit_logs').select('detail').execute();
    expect(audit.map((a) => a.detail).join()).not.toContain('rotated-secret-value');

    for (const payload of [
      { address: '10.1.2.0/24', secret },
      { address: '300.1.1.1', secret },
      { address: '10.9.9.9', secret: 'short' },
      { address: '10.9.9.9', secret, extra: 1 },
    ]) {
      const r = await api.call({ method: 'POST', url: '/v1/radius_clients', payload });
      expect([400, 409]).toContain(r.statusCode);
      expect(r.json().code).toMatch(/^ERR_/);
    }
    const other = await api.newOperator();
    expect(
      (await api.call({ method: 'GET', url: `/v1/radius_clients/${client.clientId}`, token: other.token }))
        .statusCode,
    ).toBe(404);
    expect(
      (await api.call({ method: 'DELETE', url: `/v1/radius_clients/${client.clientId}`, token: other.token }))
        .statusCode,
    ).toBe(404);
    expect((await api.call({ method: 'GET', url: '/v1/radius_clients', token: null })).statusCode).toBe(401);
    expect(
      (await api.call({ method: 'DELETE', url: `/v1/radius_clients/${client.clientId}` })).statusCode,
    ).toBe(204);
    expect((await api.call({ method: 'GET', url: `/v1/radius_clients/${client.clientId}` })).statusCode).toBe(
      404,
    );
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not met in time');
}
