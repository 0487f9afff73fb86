// Issue 14 acceptance, end to end over RADIUS: a packet gateway (TestNas) attaches a SIM and reports
// usage in Accounting-Interim packets; when today's traffic crosses the handler's limit the engine
// slows the SIM down and the live session gets a CoA-Request with the new rate at the gateway's
// Dynamic Authorization Server; at the next UTC day (clock moved) the scheduled restore runs once and
// sends the CoA back to the standard rate. SQLite and PostgreSQL.

import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { getAttribute } from '../../../src/lib/radius/attributes.js';
import { RADIUS_CODES } from '../../../src/lib/radius/rfc-2865-packet.js';
import { type RunningRadius, startRadius } from '../../../src/servers/radius/index.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi } from '../../platform/aaa/fixture.js';
import { TestDynamicAuthorizationServer, TestNas } from './nas.js';

const SECRET = 'radius-eh-secret';
const MIB = 1_048_576;
const clock = new ManualClock(Date.UTC(2026, 8, 14, 15));
let api: TestApi;
let radius: RunningRadius;
let nas: TestNas;
let das: TestDynamicAuthorizationServer;

beforeAll(async () => {
  api = await startTestApi({ clock, config: { radiusDynamicAuthorizationTimeoutMs: 200 } });
  das = new TestDynamicAuthorizationServer(SECRET);
  const coaPort = await das.start();
  const created = await api.call({
    method: 'POST',
    url: '/v1/radius_clients',
    payload: { address: '127.0.0.1', secret: SECRET, name: 'pgw-eh', coaPort },
  });
  expect(created.statusCode, created.body).toBe(201);
  radius = await startRadius({
    platform: api.platform,
    logger: pino({ level: 'silent' }),
    metrics: new Registry(),
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

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not met in time');
}

const coas = (sessionId: string) =>
  das.seen.filter(
    (s) =>
      s.packet.code === RADIUS_CODES['CoA-Request'] &&
      (getAttribute(s.packet, 'Acct-Session-Id') as { ok: boolean; value?: unknown } | undefined)?.value ===
        sessionId,
  );

describe(`daily traffic → speed class and CoA over RADIUS (${testDialect})`, () => {
  it('slows the SIM when the day’s accounting crosses the limit, and restores it at 00:00 UTC', async () => {
    const sim = await createSim(api);
    const handler = await api.call({
      method: 'POST',
      url: '/v1/event_handlers',
      payload: {
        name: 'heavy user',
        status: 'active',
        targetSimId: sim.simId,
        ruleConfig: {
          type: 'SubscriberDailyTrafficRule',
          properties: { limitTotalTrafficMegaByte: '2', inactiveTimeoutDateConst: 'BEGINNING_OF_NEXT_DAY' },
        },
        actionConfigList: [
          {
            type: 'ChangeSpeedClassAction',
            properties: { speedClass: 's1.minimum', executionDateTimeConst: 'IMMEDIATELY' },
          },
          {
            type: 'ChangeSpeedClassAction',
            properties: { speedClass: 's1.standard', executionDateTimeConst: 'BEGINNING_OF_NEXT_DAY' },
          },
        ],
      },
    });
    expect(handler.statusCode, handler.body).toBe(201);

    const access = await nas.access(radius.authPort, [
      ['User-Name', sim.imsi],
      ['3GPP-IMSI', sim.imsi],
      ['Called-Station-Id', 'iot.example'],
      ['NAS-IP-Address', '127.0.0.1'],
    ]);
    expect(access?.packet.code).toBe(RADIUS_CODES['Access-Accept']);
    const ip = access && getAttribute(access.packet, 'Framed-IP-Address');
    if (!ip?.ok) throw new Error('no address');
    const accounting = (status: number, octets: number) =>
      nas.accounting(radius.acctPort, [
        ['Acct-Status-Type', status],
        ['Acct-Session-Id', 'eh-coa-1'],
        ['3GPP-IMSI', sim.imsi],
        ['Framed-IP-Address', ip.value],
        ['Called-Station-Id', 'iot.example'],
        ['Acct-Input-Octets', octets],
        ['Acct-Output-Octets', 0],
      ]);
    expect((await accounting(1, 0))?.packet.code).toBe(RADIUS_CODES['Accounting-Response']);
    expect((await accounting(3, MIB))?.packet.code).toBe(RADIUS_CODES['Accounting-Response']);
    await api.platform.aaa.drained();
    expect((await api.platform.events.tick()).firings).toBe(0);
    expect(coas('eh-coa-1')).toHaveLength(0);

    expect((await accounting(3, 3 * MIB))?.packet.code).toBe(RADIUS_CODES['Accounting-Response']);
    await api.platform.aaa.drained();
    expect((await api.platform.events.tick()).firings).toBe(1);
    expect((await api.platform.sims.get(api.operator.operatorId, sim.simId)).speedClass).toBe('s1.minimum');
    await until(() => coas('eh-coa-1').length === 1);
    const slow = coas('eh-coa-1')[0]!;
    expect(slow.authentic).toBe(true);
    expect(getAttribute(slow.packet, 'WISPr-Bandwidth-Max-Down')).toEqual({ ok: true, value: 32_000 });

    // More traffic the same day: no second firing, no second CoA.
    await accounting(3, 9 * MIB);
    await api.platform.aaa.drained();
    expect((await api.platform.events.tick()).firings).toBe(0);

    clock.set(Date.UTC(2026, 8, 15, 0, 0, 0));
    await api.platform.events.tick();
    await api.platform.events.tick();
    expect((await api.platform.sims.get(api.operator.operatorId, sim.simId)).speedClass).toBe('s1.standard');
    await until(() => coas('eh-coa-1').length === 2);
    expect(getAttribute(coas('eh-coa-1')[1]!.packet, 'WISPr-Bandwidth-Max-Down')).toEqual({
      ok: true,
      value: 512_000,
    });
    const runs = await api.db.store.db
      .selectFrom('event_action_runs')
      .select(['status', 'attempts'])
      .where('handler_id', '=', handler.json().handlerId)
      .orderBy('action_index')
      .execute();
    expect(runs).toEqual([
      { status: 'succeeded', attempts: 1 },
      { status: 'succeeded', attempts: 1 },
    ]);
  });
});
