// Sessions whose accounting went silent (issue 11). Threat: a session whose Stop (or Start) was lost
// stays online forever — the SIM shows online when it is not, and every CoA/Disconnect goes to the
// dead session as well, so a speed change sent two CoA-Requests. The sweep closes sessions silent
// for Acct-Interim-Interval × radiusStaleSessionMissedInterims (recording why), a speed change then
// reaches only the live session, and Accounting-On still ends a NAS's sessions at once.
// Over the real RADIUS listener with a NAS built from the codec; runs on SQLite and PostgreSQL.

import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/lib/clock.js';
import { getAttribute } from '../../../src/lib/radius/attributes.js';
import { RADIUS_CODES } from '../../../src/lib/radius/rfc-2865-packet.js';
import { STALE_SESSION_CAUSE } from '../../../src/platform/aaa/stale-sessions.js';
import { type RunningRadius, startRadius } from '../../../src/servers/radius/index.js';
import { testDialect } from '../../helpers/database.js';
import { createSim, startTestApi, type TestApi, type TestSim } from '../../platform/aaa/fixture.js';
import { TestDynamicAuthorizationServer, TestNas } from './nas.js';

const SECRET = 'stale-session-secret';
const INTERVAL_S = 300;
const MISSED = 3;
const SILENT_MS = INTERVAL_S * MISSED * 1000;

let api: TestApi;
let radius: RunningRadius;
let nas: TestNas;
let das: TestDynamicAuthorizationServer;
const clock = new ManualClock(Date.now());

beforeAll(async () => {
  api = await startTestApi({
    clock,
    config: {
      radiusDynamicAuthorizationTimeoutMs: 100,
      radiusInterimIntervalSeconds: INTERVAL_S,
      radiusStaleSessionMissedInterims: MISSED,
    },
  });
  das = new TestDynamicAuthorizationServer(SECRET);
  const coaPort = await das.start();
  const created = await api.call({
    method: 'POST',
    url: '/v1/radius_clients',
    payload: { address: '127.0.0.1', secret: SECRET, name: 'pgw-stale', coaPort },
  });
  expect(created.statusCode).toBe(201);
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
  nas?.close();
  das?.close();
  await radius?.close();
  await api?.close();
});

const IMEISV = '3534321910800007';

async function accounting(sim: TestSim, kind: 1 | 2 | 3 | 7, acctSessionId: string, ip?: string) {
  const answer = await nas.accounting(radius.acctPort, [
    ['Acct-Status-Type', kind],
    ['Acct-Session-Id', acctSessionId],
    ['3GPP-IMSI', sim.imsi],
    ['3GPP-IMEISV', IMEISV],
    ...(ip === undefined ? [] : ([['Framed-IP-Address', ip]] as const)),
    ['Called-Station-Id', 'iot.example'],
    ['NAS-IP-Address', '127.0.0.1'],
    // The NAS's clock is the test's clock (RFC 2869 §5.3).
    ['Event-Timestamp', Math.floor(clock.now() / 1000)],
  ]);
  expect(answer?.packet.code).toBe(RADIUS_CODES['Accounting-Response']);
}

/** Access-Request (packet gateway) then Accounting-Start; the Accept's Acct-Interim-Interval. */
async function attach(sim: TestSim, acctSessionId: string): Promise<number | undefined> {
  const answer = await nas.access(radius.authPort, [
    ['User-Name', sim.imsi],
    ['3GPP-IMSI', sim.imsi],
    ['3GPP-IMEISV', IMEISV],
    ['Called-Station-Id', 'iot.example'],
    ['NAS-IP-Address', '127.0.0.1'],
  ]);
  expect(answer?.packet.code).toBe(RADIUS_CODES['Access-Accept']);
  const ip = answer && getAttribute(answer.packet, 'Framed-IP-Address');
  if (!ip?.ok) throw new Error('no address');
  await accounting(sim, 1, acctSessionId, ip.value);
  const interval = answer && getAttribute(answer.packet, 'Acct-Interim-Interval');
  return interval?.ok ? interval.value : undefined;
}

const session = (acctSessionId: string) =>
  api.db.store.db
    .selectFrom('sim_sessions')
    .selectAll()
    .where('acct_session_id', '=', acctSessionId)
    .executeTakeFirstOrThrow();

const events = async (sessionId: string) =>
  (
    await api.db.store.db
      .selectFrom('sim_session_events')
      .select('event')
      .where('session_id', '=', sessionId)
      .orderBy('id')
      .execute()
  ).map((e) => e.event);

/** Closes what earlier tests left online, so each test counts only its own sessions. */
async function closeLeftovers(): Promise<void> {
  clock.advance(SILENT_MS + 1000);
  await api.platform.aaa.closeStaleSessions();
}

describe(`sessions whose accounting went silent, on ${testDialect} (issue 11)`, () => {
  it('issue 11: a session whose Stop was lost is closed after the missed interims; a speed change then sends one CoA, to the live session', async () => {
    const sim = await createSim(api);
    // The Accept tells the NAS how often to report.
    expect(await attach(sim, 'lost-stop-1')).toBe(INTERVAL_S);
    // The device re-attaches; the Stop of the first session never arrives.
    clock.advance(SILENT_MS + 1000);
    await attach(sim, 'live-1');
    const online = await api.db.store.db
      .selectFrom('sim_sessions')
      .select('acct_session_id')
      .where('sim_id', '=', sim.simId)
      .where('status', '=', 'online')
      .execute();
    expect(online.map((s) => s.acct_session_id).sort()).toEqual(['live-1', 'lost-stop-1']);

    expect(await api.platform.aaa.closeStaleSessions()).toBe(1);
    const dead = await session('lost-stop-1');
    expect(dead).toMatchObject({ status: 'offline', terminate_cause: STALE_SESSION_CAUSE });
    expect(Number(dead.ended_at)).toBe(clock.now());
    expect(await events(dead.session_id)).toEqual(['Created', 'Deleted']);
    expect((await session('live-1')).status).toBe('online');
    // The API shows the live session.
    const view = (await api.call({ method: 'GET', url: `/v1/sims/${sim.simId}` })).json();
    expect(view.sessionStatus).toMatchObject({
      online: true,
      sessionId: (await session('live-1')).session_id,
    });

    const outcomes = await radius.dynamicAuthorization.changeRate(
      api.operator.operatorId,
      sim.simId,
      's1.fast',
      'test',
    );
    expect(outcomes.map((o) => [o.sessionId, o.status])).toEqual([
      [(await session('live-1')).session_id, 'ack'],
    ]);
    const coa = das.sessionIds(RADIUS_CODES['CoA-Request']);
    expect(coa.filter((id) => id === 'live-1')).toHaveLength(1);
    expect(coa).not.toContain('lost-stop-1');
    // Swept again: nothing more to close.
    expect(await api.platform.aaa.closeStaleSessions()).toBe(0);
  });

  it('issue 11: a session created by an Interim-Update (its Start lost) that then goes silent is closed, counted from its creation', async () => {
    await closeLeftovers();
    const sim = await createSim(api);
    await accounting(sim, 3, 'lost-start-1', '127.64.200.1');
    expect((await session('lost-start-1')).status).toBe('online');
    // Silent for one interval less than the limit: still online.
    clock.advance(SILENT_MS - INTERVAL_S * 1000);
    expect(await api.platform.aaa.closeStaleSessions()).toBe(0);
    clock.advance(INTERVAL_S * 1000 + 1);
    expect(await api.platform.aaa.closeStaleSessions()).toBe(1);
    expect((await session('lost-start-1')).terminate_cause).toBe(STALE_SESSION_CAUSE);
  });

  it('a session that keeps reporting is never closed; one closed as silent that reports again is online again', async () => {
    await closeLeftovers();
    const sim = await createSim(api);
    await attach(sim, 'chatty-1');
    for (let i = 0; i < 5; i++) {
      clock.advance(INTERVAL_S * 1000);
      await accounting(sim, 3, 'chatty-1');
      expect(await api.platform.aaa.closeStaleSessions()).toBe(0);
    }
    clock.advance(SILENT_MS + 1);
    expect(await api.platform.aaa.closeStaleSessions()).toBe(1);
    // It was only quiet: its next Interim-Update brings it back.
    await accounting(sim, 3, 'chatty-1');
    const back = await session('chatty-1');
    expect(back).toMatchObject({ status: 'online', ended_at: null, terminate_cause: null });
    expect(await events(back.session_id)).toEqual(['Created', 'Deleted', 'Created']);
    // And a late Stop records the real end of a session closed as silent.
    clock.advance(SILENT_MS + 1);
    expect(await api.platform.aaa.closeStaleSessions()).toBe(1);
    await accounting(sim, 2, 'chatty-1');
    const stopped = await session('chatty-1');
    expect(stopped.status).toBe('offline');
    expect(stopped.terminate_cause).not.toBe(STALE_SESSION_CAUSE);
    expect(await events(back.session_id)).toEqual(['Created', 'Deleted', 'Created', 'Deleted']);
  });

  it('Accounting-On still ends every session of the NAS at once (NAS-Reboot)', async () => {
    const sim = await createSim(api);
    await attach(sim, 'reboot-1');
    await accounting(sim, 7, '');
    expect(await session('reboot-1')).toMatchObject({ status: 'offline', terminate_cause: 'NAS-Reboot' });
  });

  it('closes in batches and every silent session once, however many there are', async () => {
    const sims = await Promise.all(Array.from({ length: 7 }, () => createSim(api)));
    for (const [i, sim] of sims.entries()) await accounting(sim, 3, `batch-${i}`, `127.64.201.${i + 1}`);
    clock.advance(SILENT_MS + 1);
    const { closeStaleSessions } = await import('../../../src/platform/aaa/stale-sessions.js');
    const [a, b] = await Promise.all([
      closeStaleSessions(api.db.store, { now: clock.now(), silentMs: SILENT_MS, batchRows: 2 }),
      closeStaleSessions(api.db.store, { now: clock.now(), silentMs: SILENT_MS, batchRows: 3 }),
    ]);
    expect(a + b).toBeGreaterThanOrEqual(7);
    for (const [i] of sims.entries()) {
      const s = await session(`batch-${i}`);
      expect(s.status).toBe('offline');
      expect((await events(s.session_id)).filter((e) => e === 'Deleted')).toHaveLength(1);
    }
  });
});
